"""RedisConsumerState: a `KfConsumer`'s state in Redis or Redis Cluster, shared by every worker.

Besides ``wechat_async.tokens.redis``, the only module of wechat_async that imports redis.

The keys of one open_kfid share a hash tag, so each Lua script below touches
one slot and runs on Redis Cluster too::

    {prefix}:{kf_consumer:<open_kfid>}:cursor  the committed next_cursor
    {prefix}:{kf_consumer:<open_kfid>}:lease   the puller's owner value, PX lease_ttl
    {prefix}:{kf_consumer:<open_kfid>}:done    zset msgid -> when the mark expires (epoch
                                               seconds); emptied by each commit, so about a
                                               page at most; PX the longest mark's ttl
    {prefix}:{kf_consumer:<open_kfid>}:token   the latest callback token, PX its remaining life
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from wechat_async._redis_lua import RELEASE_IF_OWNER, px
from wechat_async._validate import redis_prefix
from wechat_async.consumer_state.base import ConsumerStateUnavailableError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

__all__ = ["RedisConsumerState"]

# Renew only while the lease still holds our owner value.
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
# Fenced dedup check: -1 once the lease is not ours, else whether the msgid is marked.
_SEEN = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('zscore', KEYS[2], ARGV[2]) then return 1 end
return 0
"""
# Mark: of two expiries of one mark the later wins, and the set's own expiry only
# ever grows, so a consumer with a shorter ttl never cuts another's marks short.
_MARK = """
local current = redis.call('zscore', KEYS[1], ARGV[1])
if not current or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
end
if redis.call('pttl', KEYS[1]) < tonumber(ARGV[3]) then redis.call('pexpire', KEYS[1], ARGV[3]) end
return 1
"""
# Commit, fenced by the lease: the cursor moves, and in the same step the marks it
# makes unnecessary (ARGV[4..]) and the marks whose own ttl has passed go.
_COMMIT = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[2])
for first = 4, #ARGV, 500 do
  redis.call('zrem', KEYS[3], unpack(ARGV, first, math.min(first + 499, #ARGV)))
end
redis.call('zremrangebyscore', KEYS[3], '-inf', ARGV[3])
return 1
"""


class RedisConsumerState:
    """Cursor, lease, marks and token in Redis or Redis Cluster: shared by any number of workers.

    The lease is ``SET NX PX`` with the puller's random owner value, renewed by
    a Lua compare-and-extend and released by compare-and-delete; cursor
    commits are fenced by it in the same script. Redis keeps the state as
    durably as it is configured to: with an append-only file a restart loses
    nothing; without persistence, or after a failover to a replica that had not
    caught up, cursor and marks are gone and messages reach the handler again.
    """

    def __init__(self, redis: Redis | RedisCluster, *, prefix: str = "wechat_async") -> None:
        """Use ``redis`` (its connection pool stays the caller's) under ``prefix``.

        Raises:
            ConfigurationError: ``prefix`` is empty or contains a brace (it would break the hash
                tag).
        """
        self._redis = redis
        self._prefix = redis_prefix(prefix)
        self._extend = redis.register_script(_EXTEND)
        self._release = redis.register_script(RELEASE_IF_OWNER)
        self._seen = redis.register_script(_SEEN)
        self._mark = redis.register_script(_MARK)
        self._commit = redis.register_script(_COMMIT)

    def __repr__(self) -> str:
        """Show where Redis is and the prefix; never a password."""
        return f"RedisConsumerState({_address(self._redis)}, prefix={self._prefix!r})"

    @property
    def redis(self) -> Redis | RedisCluster:
        """The client in use (its pool sizes how many accounts a `KfConsumer` pulls at once)."""
        return self._redis

    def key(self, open_kfid: str, name: str) -> str:
        """The Redis key ``name`` (cursor, lease, done, token) of ``open_kfid``."""
        return f"{self._prefix}:{{kf_consumer:{open_kfid}}}:{name}"

    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """SET NX PX on the lease key.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        lease = self.key(open_kfid, "lease")
        return bool(await self._call(self._redis.set(lease, owner, nx=True, px=px(ttl))))

    async def extend(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """Compare-and-extend the lease.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        keys = [self.key(open_kfid, "lease")]
        return bool(await self._call(self._extend(keys=keys, args=[owner, px(ttl)])))

    async def release(self, open_kfid: str, owner: str) -> None:
        """Compare-and-delete the lease.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        await self._call(self._release(keys=[self.key(open_kfid, "lease")], args=[owner]))

    async def load_cursor(self, open_kfid: str) -> str | None:
        """GET the cursor.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        return _text(await self._call(self._redis.get(self.key(open_kfid, "cursor"))))

    async def seen(self, open_kfid: str, owner: str, msgid: str) -> bool | None:
        """Check the lease and the mark in one script.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        keys = [self.key(open_kfid, "lease"), self.key(open_kfid, "done")]
        answer = int(await self._call(self._seen(keys=keys, args=[owner, msgid])))
        return None if answer < 0 else bool(answer)

    async def mark(self, open_kfid: str, msgid: str, ttl: float) -> None:
        """ZADD the mark with its expiry; extend (never shorten) the set's expiry.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        args: list[str | int] = [msgid, repr(time.time() + ttl), px(ttl)]
        await self._call(self._mark(keys=[self.key(open_kfid, "done")], args=args))

    async def commit(self, open_kfid: str, owner: str, cursor: str, msgids: Sequence[str]) -> bool:
        """Fenced SET of the cursor, ZREM of the covered marks and of the expired ones.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        keys = [
            self.key(open_kfid, "cursor"),
            self.key(open_kfid, "lease"),
            self.key(open_kfid, "done"),
        ]
        args = [owner, cursor, repr(time.time()), *msgids]
        return bool(await self._call(self._commit(keys=keys, args=args)))

    async def save_token(self, open_kfid: str, token: str, ttl: float) -> None:
        """SET the token with PX.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        await self._call(self._redis.set(self.key(open_kfid, "token"), token, px=px(ttl)))

    async def load_token(self, open_kfid: str) -> str | None:
        """GET the token.

        Raises:
            ConsumerStateUnavailableError: Redis could not be reached or answered with an error.
        """
        return _text(await self._call(self._redis.get(self.key(open_kfid, "token"))))

    async def aclose(self) -> None:
        """Nothing: the Redis client and its pool belong to the caller."""

    async def _call(self, call: Awaitable[Any]) -> Any:  # noqa: ANN401 - redis-py's replies are untyped
        try:
            return await call
        except (RedisError, OSError) as exc:
            # str(exc), unlike its repr, carries the address redis-py failed on.
            raise ConsumerStateUnavailableError(f"{_address(self._redis)}: {exc}") from exc


def _address(redis: Redis | RedisCluster) -> str:
    """Where ``redis`` points: host and port (or socket path), never a password."""
    kwargs = getattr(getattr(redis, "connection_pool", None), "connection_kwargs", None)
    if isinstance(kwargs, dict):
        if kwargs.get("path"):
            return f"Redis at {kwargs['path']}"
        return f"Redis at {kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    nodes = getattr(getattr(redis, "nodes_manager", None), "startup_nodes", None)
    if isinstance(nodes, dict) and nodes:
        return f"Redis Cluster at {', '.join(sorted(map(str, nodes)))}"
    return "Redis"


def _text(value: Any) -> str | None:  # noqa: ANN401 - redis-py's replies are untyped
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
