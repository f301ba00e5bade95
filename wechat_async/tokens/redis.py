"""RedisTokenStore: tokens shared by every process that uses one Redis (or cluster).

This is the only module of wechat_async that imports redis.

Keys of one token share a hash tag, so the Lua scripts below touch one slot and
run on Redis Cluster too::

    {prefix}:{<key>}:token   hash {value, expires_at, refresh_at, use_until},
                             expiring with the token
    {prefix}:{<key>}:lock    the refresh lock, SET NX PX with a random owner
    {prefix}:{<key>}:secret  a ticket or refresh token (get_secret / set_secret), or
                             the mark of a claim
    {prefix}:{<key>}:version the version set_secret_if_newer last stored, kept
                             after the secret expires or is deleted
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from wechat_async._redis_lua import RELEASE_IF_OWNER, px
from wechat_async._validate import redis_prefix
from wechat_async.tokens.store import Lease, StoredToken, TokenStoreUnavailableError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["RedisTokenStore"]

# Write the token only while our owner value still holds the lock (fencing).
_SAVE = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('del', KEYS[1])
redis.call('hset', KEYS[1], 'value', ARGV[2], 'expires_at', ARGV[3])
if ARGV[5] ~= '' then redis.call('hset', KEYS[1], 'refresh_at', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('hset', KEYS[1], 'use_until', ARGV[6]) end
redis.call('pexpire', KEYS[1], ARGV[4])
return 1
"""
# Invalidate by compare-and-delete: a token another process already replaced stays.
_DELETE_IF = """
if redis.call('hget', KEYS[1], 'value') == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Compare-and-set on the version, then write (ARGV[2] 'set') or forget ('del') the
# credential; the version has no expiry, so a write older than a deletion stays refused.
_SET_IF_NEWER = """
local current = redis.call('get', KEYS[2])
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('set', KEYS[2], ARGV[1])
if ARGV[2] == 'del' then
  redis.call('del', KEYS[1])
elseif ARGV[4] == '' then
  redis.call('set', KEYS[1], ARGV[3])
else
  redis.call('set', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1
"""


class RedisTokenStore:
    """Token store on ``redis.asyncio.Redis`` or ``RedisCluster``, shared across processes."""

    def __init__(self, redis: Redis | RedisCluster, *, prefix: str = "wechat_async") -> None:
        """Use ``redis`` (its connection pool is the caller's) under ``prefix``.

        Raises:
            ConfigurationError: ``prefix`` is empty or contains a brace (it would break the hash
                tag).
        """
        self._redis = redis
        self._prefix = redis_prefix(prefix)
        self._save = redis.register_script(_SAVE)
        self._release = redis.register_script(RELEASE_IF_OWNER)
        self._delete_if = redis.register_script(_DELETE_IF)
        self._set_if_newer = redis.register_script(_SET_IF_NEWER)

    def __repr__(self) -> str:
        """Show the prefix only."""
        return f"RedisTokenStore(prefix={self._prefix!r})"

    def token_key(self, key: str) -> str:
        """The Redis key holding the token for ``key``."""
        return f"{self._prefix}:{{{key}}}:token"

    def lock_key(self, key: str) -> str:
        """The Redis key holding the refresh lock for ``key``."""
        return f"{self._prefix}:{{{key}}}:lock"

    async def load(self, key: str) -> StoredToken | None:
        """Read the token hash in one round trip.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        raw = await self._call(
            self._redis.hmget(
                self.token_key(key), ["value", "expires_at", "refresh_at", "use_until"]
            )
        )
        value, expires_at, refresh_at, use_until = raw
        if value is None or expires_at is None:
            return None
        times = [_epoch(expires_at), _epoch(refresh_at), _epoch(use_until)]
        if times[0] is None:
            # Not written by us (or damaged): as good as absent, so a fresh token replaces it.
            return None
        return StoredToken(_text(value), times[0], times[1], times[2])

    async def acquire(self, key: str, ttl: float) -> Lease | None:
        """SET NX PX with a random owner value.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        lease = Lease.new()
        ok = await self._call(self._redis.set(self.lock_key(key), lease.owner, nx=True, px=px(ttl)))
        return lease if ok else None

    async def save(self, key: str, token: StoredToken, lease: Lease) -> bool:
        """Fenced write: only while the lock still holds ``lease``'s owner value.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        ttl_ms = px(token.expires_at - time.time())
        result = await self._call(
            self._save(
                keys=[self.token_key(key), self.lock_key(key)],
                args=[
                    lease.owner,
                    token.value,
                    repr(token.expires_at),
                    ttl_ms,
                    "" if token.refresh_at is None else repr(token.refresh_at),
                    "" if token.use_until is None else repr(token.use_until),
                ],
            )
        )
        return bool(result)

    async def release(self, key: str, lease: Lease) -> None:
        """Compare-and-delete the lock.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        await self._call(self._release(keys=[self.lock_key(key)], args=[lease.owner]))

    async def delete_if(self, key: str, value: str) -> bool:
        """Compare-and-delete the token.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        result = await self._call(self._delete_if(keys=[self.token_key(key)], args=[value]))
        return bool(result)

    def secret_key(self, key: str) -> str:
        """The Redis key holding the credential for ``key``."""
        return f"{self._prefix}:{{{key}}}:secret"

    async def get_secret(self, key: str) -> str | None:
        """GET the credential.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        value = await self._call(self._redis.get(self.secret_key(key)))
        return None if value is None else _text(value)

    async def set_secret(self, key: str, value: str, ttl: float | None = None) -> None:
        """SET the credential, with PX when ``ttl`` is given.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        ttl_px = None if ttl is None else px(ttl)
        await self._call(self._redis.set(self.secret_key(key), value, px=ttl_px))

    async def delete_secret(self, key: str) -> None:
        """DEL the credential.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        await self._call(self._redis.delete(self.secret_key(key)))

    async def claim(self, key: str, ttl: float) -> bool:
        """SET NX PX on the credential's key.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        return bool(
            await self._call(self._redis.set(self.secret_key(key), "1", nx=True, px=px(ttl)))
        )

    def version_key(self, key: str) -> str:
        """The Redis key holding the version `set_secret_if_newer` last stored for ``key``."""
        return f"{self._prefix}:{{{key}}}:version"

    async def set_secret_if_newer(
        self, key: str, value: str | None, version: int, ttl: float | None = None
    ) -> bool:
        """Compare-and-set the version and write or delete the credential, in one script.

        Raises:
            TokenStoreUnavailableError: Redis could not be reached or answered with an error.
        """
        ttl_px = "" if ttl is None else str(px(ttl))
        result = await self._call(
            self._set_if_newer(
                keys=[self.secret_key(key), self.version_key(key)],
                args=[str(version), "del" if value is None else "set", value or "", ttl_px],
            )
        )
        return bool(result)

    @staticmethod
    async def _call(awaitable: Any) -> Any:  # noqa: ANN401 - redis-py's replies are untyped
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            # The message names the error class only; the cause keeps the detail.
            raise TokenStoreUnavailableError(f"Redis unavailable ({type(exc).__name__})") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _epoch(value: bytes | str | None) -> float | None:
    """A stored time, or None when absent or not a finite number."""
    if value is None:
        return None
    try:
        number = float(_text(value))
    except (UnicodeDecodeError, ValueError):
        return None
    return number if math.isfinite(number) else None
