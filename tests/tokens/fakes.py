"""A provider whose upstream is a counter, for testing the refresh engine alone."""

from __future__ import annotations

import asyncio
import itertools

from wechat_async.tokens.refreshing import RefreshingToken, RefreshSettings
from wechat_async.tokens.store import TokenStore

FAST = RefreshSettings(
    refresh_margin=300.0,
    expiry_safety=30.0,
    l1_ttl=2.0,
    fetch_timeout=2.0,
    lock_ttl=3.0,
    store_timeout=0.5,
    wait_timeout=6.0,
    poll_initial=0.005,
    poll_max=0.05,
    background_retry=0.0,
)


class CountingToken(RefreshingToken):
    """Hands out tok-1, tok-2, ... after ``latency`` seconds, counting fetches."""

    def __init__(
        self,
        *,
        key: str = "test:key",
        store: TokenStore | None = None,
        settings: RefreshSettings = FAST,
        latency: float = 0.0,
        expires_in: float = 7200.0,
        prefix: str = "tok",
    ) -> None:
        super().__init__(key=key, store=store, settings=settings)
        self.latency = latency
        self.expires_in = expires_in
        self.fetches = 0
        self.fail_with: BaseException | None = None
        self.repeat_value: str | None = None
        self._numbers = itertools.count(1)
        self._prefix = prefix

    async def _fetch(self) -> tuple[str, float]:
        self.fetches += 1
        await asyncio.sleep(self.latency)
        if self.fail_with is not None:
            raise self.fail_with
        if self.repeat_value is not None:
            return self.repeat_value, self.expires_in
        return f"{self._prefix}-{next(self._numbers)}", self.expires_in
