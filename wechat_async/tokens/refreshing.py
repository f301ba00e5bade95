"""The single-flight refresh engine that every fetching token provider builds on.

How ``get()`` finds a token, cheapest first:

1. The in-process copy (L1), trusted for ``l1_ttl`` seconds: no I/O at all.
   Past that, the copy is still served while it is usable, and one background
   task re-reads the store, so a token another process rotated is picked up
   without an upstream fetch and without making anyone wait.
2. Otherwise one task per provider (single-flight) obtains a token; every
   caller awaits it through ``asyncio.shield``, so cancelling one caller
   never cancels the fetch for the others. The task reads the store; finding
   nothing usable, it takes the store's lease (SET NX PX in Redis), reads the
   store again (another process may have just refreshed), and only then
   fetches upstream, writing the result through the lease-fenced save.
   Without the lease it polls the store with jittered backoff until the
   holder's token appears, or the lease lapses and it takes over, or
   ``wait_timeout`` ends in TokenUnavailableError.
3. Refresh ahead: once less than ``refresh_margin`` of life remains, one
   background task refreshes while everyone keeps using the current token.

When the next fetch is due is decided once, by the process that fetched the
token, and stored with it (`StoredToken.refresh_at` and ``use_until``), so
every process agrees. A token that arrives already inside the margin, or that
is the very token we had (``stable_token`` in normal mode and WeCom's
``gettoken`` hand out the current token while it lives), gets no refresh
ahead: asking again before it runs out would bring the same token back, once
per ``get()``. One that arrives with less than ``expiry_safety`` (plus
``min_token_use``) to live is used to its end rather than asked for again.

Every store call is bounded by ``store_timeout``: a store that stops answering
without refusing (a stopped Redis) counts as unavailable, like one that refuses.

``invalidate(T)`` deletes T from the store only if it is still T (a token
another process already rotated in stays), and concurrent calls for one T
collapse into one store round trip.

If the store is unreachable, tokens are kept process-locally (one warning is
logged) unless ``strict=True``, which raises TokenUnavailableError instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, TypeGuard, TypeVar

from wechat_async._validate import number, text
from wechat_async.errors import ConfigurationError, TokenUnavailableError
from wechat_async.observability import MetricsHook, emit
from wechat_async.tokens.store import (
    MemoryTokenStore,
    StoredToken,
    TokenStore,
    TokenStoreUnavailableError,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

__all__ = ["RefreshSettings", "RefreshingToken"]

log = logging.getLogger("wechat_async.tokens")

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    """Timing of a refreshing token provider; every wait is bounded by these.

    Raises:
        ConfigurationError: ``lock_ttl`` does not cover ``fetch_timeout`` plus the two store
            round trips made under the lease (``2 * store_timeout``), or ``wait_timeout``
            does not exceed ``lock_ttl``.
    """

    refresh_margin: float = 300.0
    """Refresh in the background once less than this many seconds of life remain."""
    expiry_safety: float = 30.0
    """Treat a token as expired this many seconds before WeChat does."""
    l1_ttl: float = 2.0
    """Serve the in-process copy without looking at the store for this long."""
    fetch_timeout: float = 15.0
    """Bound on one upstream fetch, retries included."""
    lock_ttl: float = 20.0
    """Life of the refresh lease; must cover the worst-case fetch and the store round trips
    made while holding it (``fetch_timeout + 2 * store_timeout``)."""
    store_timeout: float = 2.0
    """Bound on one store round trip; a store that does not answer in time counts as
    unavailable (the process keeps its tokens locally, or with ``strict`` raises)."""
    min_token_use: float = 5.0
    """A fetched token is handed out for at least this long (never past WeChat's expiry),
    so a short ``expires_in`` cannot turn into a fetch per call."""
    wait_timeout: float = 40.0
    """Bound on waiting for a token, including taking over a dead holder's lease."""
    poll_initial: float = 0.005
    poll_max: float = 0.025
    """Waiters re-read the store at most this far apart: a token saved by another
    process reaches them within it. A GET every 25 ms per waiting process is
    trivial load for Redis, and a coarser cap showed up directly in p99."""
    strict: bool = False
    """With the store unreachable, raise instead of keeping tokens process-locally."""
    background_retry: float = 5.0
    """After a failed background refresh, wait this long before the next try."""

    def __post_init__(self) -> None:
        """Refuse timings that could deadlock or never wait."""
        for field in fields(self):
            if field.name != "strict":
                # Only the bounds must be above zero; zero turns a margin or a pause off.
                positive = field.name in {
                    "fetch_timeout",
                    "lock_ttl",
                    "wait_timeout",
                    "store_timeout",
                }
                number(field.name, getattr(self, field.name), positive=positive)
        if self.lock_ttl < self.fetch_timeout + 2 * self.store_timeout:
            raise ConfigurationError(
                "lock_ttl must cover fetch_timeout plus two store round trips "
                f"(2 * store_timeout): {self.lock_ttl:g} < "
                f"{self.fetch_timeout:g} + 2 * {self.store_timeout:g}"
            )
        if self.wait_timeout <= self.lock_ttl:
            raise ConfigurationError("wait_timeout must exceed lock_ttl to allow a takeover")


DEFAULT_SETTINGS = RefreshSettings()
"""The settings a provider uses when given none (frozen, so one instance serves all)."""


class RefreshingToken(ABC):
    """Base of providers that fetch tokens upstream; subclasses implement ``_fetch``."""

    def __init__(
        self,
        *,
        key: str,
        store: TokenStore | None = None,
        settings: RefreshSettings | None = None,
        metrics: MetricsHook | None = None,
    ) -> None:
        """``key`` names the token in the store and must not contain a secret.

        Raises:
            InvalidArgumentError: ``key`` is not a non-empty str.
        """
        self.key = text("key", key)
        self._store: TokenStore = store if store is not None else MemoryTokenStore()
        self._fallback = MemoryTokenStore()
        self._settings = settings or DEFAULT_SETTINGS
        self._metrics = metrics
        self._l1: StoredToken | None = None
        self._l1_fresh_until = 0.0  # monotonic: serve L1 without a store read until then
        self._l1_usable_until = 0.0  # monotonic: never serve L1 after this
        self._refresh_after = 0.0  # monotonic: refresh ahead from then on
        self._inflight: asyncio.Task[StoredToken] | None = None
        self._invalidating: dict[str, asyncio.Task[None]] = {}
        self._last_invalidated: str | None = None
        self._background_not_before = 0.0
        self._store_down = False

    def __repr__(self) -> str:
        """Show the key only."""
        return f"{type(self).__name__}(key={self.key!r})"

    @abstractmethod
    async def _fetch(self) -> tuple[str, float]:
        """Fetch a new token upstream: ``(token, expires_in_seconds)``.

        Raises:
            APIError: the token endpoint refused, e.g. `InvalidCredentialError` for a wrong secret.
            TransportError: the token endpoint gave no usable answer.
        """

    # -- get -----------------------------------------------------------------------

    async def get(self) -> str:
        """Return a usable access token, fetching at most once across all callers.

        Raises:
            TokenUnavailableError: no token within ``wait_timeout``, a fetch over
                ``fetch_timeout``, or (with ``strict``) the store unreachable.
            APIError: the token endpoint refused, e.g. `InvalidCredentialError` for a wrong secret.
            TransportError: the token endpoint gave no usable answer.
        """
        l1 = self._l1
        if l1 is not None:
            now = time.monotonic()
            if now < self._l1_fresh_until:
                if now >= self._refresh_after:
                    self._start_background(refresh_ahead=True)
                return l1.value
            if now < self._l1_usable_until:
                # Still good: serve it, and let one task re-read the store.
                self._start_background(refresh_ahead=now >= self._refresh_after)
                return l1.value
        return (await self._shared()).value

    def _start_background(self, *, refresh_ahead: bool) -> None:
        if self._inflight is not None or time.monotonic() < self._background_not_before:
            return
        if refresh_ahead:
            emit(self._metrics, "token_refresh_ahead", log=log, key=self.key)
        task = self._launch(ahead=refresh_ahead)
        task.add_done_callback(self._after_background)

    def _after_background(self, task: asyncio.Task[StoredToken]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._background_not_before = time.monotonic() + self._settings.background_retry
            log.warning("background token refresh for %s failed: %r", self.key, exc)

    async def _shared(self) -> StoredToken:
        task = self._inflight if self._inflight is not None else self._launch(ahead=False)
        return await asyncio.shield(task)

    def _launch(self, *, ahead: bool) -> asyncio.Task[StoredToken]:
        task = asyncio.get_running_loop().create_task(self._obtain(ahead=ahead))
        self._inflight = task
        task.add_done_callback(self._clear_inflight)
        return task

    def _clear_inflight(self, task: asyncio.Task[StoredToken]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _obtain(self, *, ahead: bool) -> StoredToken:
        try:
            token = await self._obtain_from(self._store, ahead=ahead)
        except TokenStoreUnavailableError as exc:
            emit(self._metrics, "token_store_unavailable", log=log, key=self.key, error=repr(exc))
            if self._settings.strict:
                raise TokenUnavailableError(
                    f"token store unavailable for {self.key} (strict mode)"
                ) from exc
            if not self._store_down:
                self._store_down = True
                log.warning(
                    "token store unavailable for %s; keeping tokens in this process until it "
                    "returns (%r)",
                    self.key,
                    exc,
                )
            l1 = self._l1
            if self._usable(l1, ahead=ahead):
                # Keep the token this process holds: fetching one would rotate it for nothing.
                token = l1
            else:
                token = await self._obtain_from(self._fallback, ahead=ahead)
        else:
            if self._store_down:
                self._store_down = False
                log.info("token store reachable again for %s", self.key)
        self._set_l1(token)
        return token

    def _times(self, token: StoredToken) -> tuple[float, float]:
        """``(refresh_at, use_until)``: as stored with the token, else from our settings."""
        settings = self._settings
        refresh_at = token.refresh_at
        use_until = token.use_until
        if use_until is None:
            use_until = token.expires_at - settings.expiry_safety
        if refresh_at is None:
            refresh_at = token.expires_at - settings.refresh_margin
        return min(refresh_at, use_until), min(use_until, token.expires_at)

    def _usable(self, token: StoredToken | None, *, ahead: bool) -> TypeGuard[StoredToken]:
        """Whether ``token`` may be handed out; with ``ahead``, also not yet due for a refresh."""
        if token is None or token.value == self._last_invalidated:
            return False
        refresh_at, use_until = self._times(token)
        return time.time() < (refresh_at if ahead else use_until)

    def _schedule(self, value: str, expires_in: float, previous: str | None) -> StoredToken:
        """Decide, once for every process, when the token just fetched is to be replaced."""
        settings = self._settings
        now = time.time()
        expires_at = now + expires_in
        if expires_in - settings.expiry_safety >= settings.min_token_use:
            use_until = expires_at - settings.expiry_safety
        else:
            # WeChat handed out all it has: use it to the end rather than ask again at once
            # (and once per call) for the same short-lived token.
            use_until = expires_at
        if value == previous or expires_in <= settings.refresh_margin:
            # Asking before this token runs out brings the same token back: stable_token
            # in normal mode "有效期内重复调用该接口不会更新access_token" (WeChat's
            # getStableAccessToken page, developers.weixin.qq.com/doc/service/api/base/
            # api_getstableaccesstoken), and gettoken answers the current token while it
            # lives. So no refresh ahead: the next fetch is due when it stops being used.
            refresh_at = use_until
        else:
            refresh_at = expires_at - settings.refresh_margin
        return StoredToken(value, expires_at, refresh_at, use_until)

    async def _io(self, awaitable: Awaitable[_T]) -> _T:
        """One store round trip, bounded: a store that hangs counts as unavailable."""
        try:
            async with asyncio.timeout(self._settings.store_timeout):
                return await awaitable
        except TimeoutError as exc:
            raise TokenStoreUnavailableError(
                f"token store did not answer within {self._settings.store_timeout:g}s"
            ) from exc

    async def _obtain_from(self, store: TokenStore, *, ahead: bool) -> StoredToken:
        settings = self._settings
        token = await self._io(store.load(self.key))
        if self._usable(token, ahead=ahead):
            return token
        started = time.monotonic()
        deadline = started + settings.wait_timeout
        delay = settings.poll_initial
        waited = False
        while True:
            lease = await self._io(store.acquire(self.key, settings.lock_ttl))
            if lease is not None:
                try:
                    # Another process may have refreshed between our read and the lock.
                    token = await self._io(store.load(self.key))
                    if self._usable(token, ahead=ahead):
                        return token
                    previous = token or self._l1
                    token = await self._fetch_bounded(None if previous is None else previous.value)
                    # Held locally before the save: if the store dies now, it is not lost.
                    self._set_l1(token)
                    if not await self._io(store.save(self.key, token, lease)):
                        log.warning(
                            "refresh lease for %s lapsed during the fetch; the new token "
                            "was not shared (raise lock_ttl above the worst-case fetch)",
                            self.key,
                        )
                    return token
                finally:
                    with contextlib.suppress(TokenStoreUnavailableError):
                        await self._io(store.release(self.key, lease))
            if not waited:
                waited = True
                emit(self._metrics, "token_lock_wait", log=log, key=self.key)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TokenUnavailableError(
                    f"no token for {self.key} within {settings.wait_timeout:g}s: another "
                    "holder kept the refresh lease and published nothing"
                )
            await asyncio.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))  # noqa: S311
            delay = min(delay * 2, settings.poll_max)
            token = await self._io(store.load(self.key))
            if self._usable(token, ahead=ahead):
                emit(
                    self._metrics,
                    "token_lock_wait_done",
                    log=log,
                    key=self.key,
                    waited=time.monotonic() - started,
                )
                return token

    async def _fetch_bounded(self, previous: str | None) -> StoredToken:
        started = time.monotonic()
        ok = False
        try:
            async with asyncio.timeout(self._settings.fetch_timeout):
                value, expires_in = await self._fetch()
            ok = True
        except TimeoutError as exc:
            raise TokenUnavailableError(
                f"fetching {self.key} took longer than {self._settings.fetch_timeout:g}s"
            ) from exc
        finally:
            emit(
                self._metrics,
                "token_fetch",
                log=log,
                level=logging.INFO,
                key=self.key,
                ok=ok,
                duration=round(time.monotonic() - started, 4),
            )
        # Upstream has vouched for this value, even if it is one we invalidated
        # (WeCom hands out the same token until it expires).
        self._last_invalidated = None
        return self._schedule(value, expires_in, previous)

    def _set_l1(self, token: StoredToken) -> None:
        refresh_at, use_until = self._times(token)
        wall = time.time()
        now = time.monotonic()
        usable_for = use_until - wall
        self._l1 = token
        self._l1_usable_until = now + usable_for
        self._l1_fresh_until = now + min(self._settings.l1_ttl, usable_for)
        self._refresh_after = now + refresh_at - wall

    # -- invalidate -------------------------------------------------------------------

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is still current; concurrent calls share one round trip.

        Raises:
            TokenUnavailableError: with ``strict``, the store could not be reached.
        """
        l1 = self._l1
        if token == self._last_invalidated or (l1 is not None and l1.value != token):
            return  # already handled, or this process has moved on to a newer token
        task = self._invalidating.get(token)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._invalidate(token))
            self._invalidating[token] = task
            task.add_done_callback(lambda _: self._invalidating.pop(token, None))
        await asyncio.shield(task)

    async def _invalidate(self, token: str) -> None:
        self._last_invalidated = token
        if self._l1 is not None and self._l1.value == token:
            self._l1 = None
        removed = await self._fallback.delete_if(self.key, token)
        try:
            removed = await self._io(self._store.delete_if(self.key, token)) or removed
        except TokenStoreUnavailableError as exc:
            if self._settings.strict:
                raise TokenUnavailableError(f"token store unavailable for {self.key}") from exc
            log.warning("token store unavailable while invalidating %s (%r)", self.key, exc)
        emit(
            self._metrics,
            "token_invalidate",
            log=log,
            level=logging.INFO,
            key=self.key,
            removed=removed,
        )
