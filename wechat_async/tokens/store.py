"""Where tokens live: the store protocol and the embedded in-memory store.

A store keeps, per key, one token with its expiry and one lease (the refresh
lock). Every write of a token is fenced by the lease that was taken for it, so a
process whose lease lapsed mid-fetch can never overwrite a newer token.

It also keeps the credentials tokens are made from where WeChat hands them out
only once: Open Platform's component_verify_ticket and authorizer refresh
tokens (``get_secret`` / ``set_secret``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from wechat_async.errors import WeChatError

__all__ = ["Lease", "MemoryTokenStore", "StoredToken", "TokenStore", "TokenStoreUnavailableError"]


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token, when WeChat expires it, and when its fetcher decided to replace it.

    All three times are wall-clock epoch seconds. ``refresh_at`` (refresh ahead
    from then on) and ``use_until`` (never hand it out after) are decided once,
    by the process that fetched the token, and travel with it through the
    store, so every process agrees on when the next fetch is due. None means
    "derive from the reader's own `RefreshSettings`" (a token stored without
    them).
    """

    value: str
    expires_at: float
    refresh_at: float | None = None
    use_until: float | None = None

    def __repr__(self) -> str:
        """Never show the token itself."""
        return (
            f"StoredToken(value=<redacted>, expires_at={self.expires_at!r}, "
            f"refresh_at={self.refresh_at!r}, use_until={self.use_until!r})"
        )

    def remaining(self, now: float | None = None) -> float:
        """Seconds of life left."""
        return self.expires_at - (time.time() if now is None else now)


@dataclass(frozen=True, slots=True)
class Lease:
    """Proof of holding a key's refresh lock: a unique owner value."""

    owner: str

    @classmethod
    def new(cls) -> Lease:
        """A lease with a fresh random owner value."""
        return cls(secrets.token_hex(16))


class TokenStoreUnavailableError(WeChatError):
    """The store could not be reached (for example, Redis is down)."""


class TokenStore(Protocol):
    """The operations a token provider needs; every one is a single round trip."""

    async def load(self, key: str) -> StoredToken | None:
        """Return the stored token for ``key``, or None.

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def acquire(self, key: str, ttl: float) -> Lease | None:
        """Take the refresh lock for ``ttl`` seconds; None while someone else holds it.

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def save(self, key: str, token: StoredToken, lease: Lease) -> bool:
        """Store ``token`` only while ``lease`` still holds the lock; say whether it did.

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def release(self, key: str, lease: Lease) -> None:
        """Drop the lock if ``lease`` still holds it.

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def delete_if(self, key: str, value: str) -> bool:
        """Delete the token only if it is still ``value``; say whether it did.

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def get_secret(self, key: str) -> str | None:
        """Return a stored credential that is not itself a token (a ticket, a refresh token).

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def set_secret(self, key: str, value: str, ttl: float | None = None) -> None:
        """Store a credential for ``ttl`` seconds (None: until replaced).

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def delete_secret(self, key: str) -> None:
        """Forget a credential that is known to be dead (an authorization withdrawn).

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def claim(self, key: str, ttl: float) -> bool:
        """Set ``key`` for ``ttl`` seconds unless it is set; say whether this call set it.

        Atomic: of any number of concurrent claims, in every process sharing
        the store, exactly one wins. The mark lives where credentials do, so
        ``delete_secret(key)`` gives it up early. Open Platform pushes use it
        to accept each (msg_signature, nonce) once.

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...

    async def set_secret_if_newer(
        self, key: str, value: str | None, version: int, ttl: float | None = None
    ) -> bool:
        """Store ``value`` only if ``version`` is above the last one stored; say whether it did.

        Atomic compare-and-set. ``value`` None forgets the credential instead.
        The version outlives the credential (its TTL, its deletion), so an
        older write that arrives later is still refused; `set_secret` leaves
        the version alone. Open Platform pushes use it with their CreateTime.

        Raises:
            TokenStoreUnavailableError: the store could not be reached.
        """
        ...


class MemoryTokenStore:
    """The embedded default: tokens in this process's memory, shared by its providers."""

    def __init__(self) -> None:
        """Start empty."""
        self._tokens: dict[str, StoredToken] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        self._secrets: dict[str, tuple[str, float | None]] = {}
        self._versions: dict[str, int] = {}

    def __repr__(self) -> str:
        """Count keys; show no tokens."""
        return f"MemoryTokenStore(keys={len(self._tokens)})"

    async def load(self, key: str) -> StoredToken | None:
        """Return the stored token for ``key``, dropping it once expired."""
        token = self._tokens.get(key)
        if token is not None and token.remaining() <= 0:
            del self._tokens[key]
            return None
        return token

    async def acquire(self, key: str, ttl: float) -> Lease | None:
        """Take the lock unless a live lease holds it."""
        held = self._locks.get(key)
        now = time.monotonic()
        if held is not None and held[1] > now:
            return None
        lease = Lease.new()
        self._locks[key] = (lease.owner, now + ttl)
        return lease

    def _holds(self, key: str, lease: Lease) -> bool:
        held = self._locks.get(key)
        return held is not None and held[0] == lease.owner and held[1] > time.monotonic()

    async def save(self, key: str, token: StoredToken, lease: Lease) -> bool:
        """Store ``token`` if ``lease`` still holds the lock."""
        if not self._holds(key, lease):
            return False
        self._tokens[key] = token
        return True

    async def release(self, key: str, lease: Lease) -> None:
        """Drop the lock if it is still ours."""
        if self._holds(key, lease):
            del self._locks[key]

    async def delete_if(self, key: str, value: str) -> bool:
        """Delete the token if it is still ``value``."""
        token = self._tokens.get(key)
        if token is not None and token.value == value:
            del self._tokens[key]
            return True
        return False

    async def get_secret(self, key: str) -> str | None:
        """Return the credential unless it has expired."""
        held = self._secrets.get(key)
        if held is None:
            return None
        value, expires = held
        if expires is not None and expires <= time.monotonic():
            del self._secrets[key]
            return None
        return value

    async def set_secret(self, key: str, value: str, ttl: float | None = None) -> None:
        """Store the credential, replacing any previous one."""
        self._secrets[key] = (value, None if ttl is None else time.monotonic() + ttl)

    async def delete_secret(self, key: str) -> None:
        """Forget the credential."""
        self._secrets.pop(key, None)

    async def claim(self, key: str, ttl: float) -> bool:
        """Set ``key`` for ``ttl`` seconds unless a live value holds it (no await: atomic)."""
        held = self._secrets.get(key)
        now = time.monotonic()
        if held is not None and (held[1] is None or held[1] > now):
            return False
        self._secrets[key] = ("1", now + ttl)
        return True

    async def set_secret_if_newer(
        self, key: str, value: str | None, version: int, ttl: float | None = None
    ) -> bool:
        """Store (or, for None, forget) the credential if ``version`` is the newest yet."""
        current = self._versions.get(key)
        if current is not None and current >= version:
            return False
        self._versions[key] = version
        if value is None:
            self._secrets.pop(key, None)
        else:
            self._secrets[key] = (value, None if ttl is None else time.monotonic() + ttl)
        return True
