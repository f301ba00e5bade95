"""The refresh engine in one process, on the memory store."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from tests.tokens.fakes import FAST, CountingToken
from wechat_async.errors import (
    ConfigurationError,
    InvalidArgumentError,
    TokenUnavailableError,
    WeChatError,
)
from wechat_async.observability import Event
from wechat_async.tokens import MemoryTokenStore, RefreshSettings, StoredToken
from wechat_async.tokens.store import Lease

pytestmark = pytest.mark.asyncio


async def test_concurrent_cold_gets_fetch_once() -> None:
    provider = CountingToken(latency=0.05)
    results = await asyncio.gather(*(provider.get() for _ in range(500)))
    assert set(results) == {"tok-1"}
    assert provider.fetches == 1


async def test_warm_get_does_not_fetch_or_touch_the_store() -> None:
    class CountingStore(MemoryTokenStore):
        loads = 0

        async def load(self, key: str) -> StoredToken | None:
            CountingStore.loads += 1
            return await super().load(key)

    provider = CountingToken(store=CountingStore())
    await provider.get()
    loads = CountingStore.loads
    for _ in range(1000):
        assert await provider.get() == "tok-1"
    assert CountingStore.loads == loads
    assert provider.fetches == 1


async def test_cancelling_one_waiter_does_not_cancel_the_fetch() -> None:
    provider = CountingToken(latency=0.1)
    first = asyncio.ensure_future(provider.get())
    second = asyncio.ensure_future(provider.get())
    await asyncio.sleep(0.02)
    first.cancel()
    assert await second == "tok-1"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert provider.fetches == 1


async def test_fetch_failure_reaches_every_waiter_and_next_get_retries() -> None:
    provider = CountingToken(latency=0.01)
    provider.fail_with = WeChatError("upstream said no")
    results = await asyncio.gather(*(provider.get() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, WeChatError) for r in results)
    assert provider.fetches == 1
    provider.fail_with = None
    assert await provider.get() == "tok-1"


async def test_fetch_timeout_is_bounded() -> None:
    settings = RefreshSettings(
        fetch_timeout=0.05, lock_ttl=1.0, wait_timeout=2.0, store_timeout=0.2
    )
    provider = CountingToken(latency=5.0, settings=settings)
    started = time.monotonic()
    with pytest.raises(TokenUnavailableError):
        await provider.get()
    assert time.monotonic() - started < 3.0  # bounded by fetch_timeout, not the 5 s fetch


async def test_invalidate_deletes_only_the_named_token() -> None:
    store = MemoryTokenStore()
    provider = CountingToken(store=store)
    assert await provider.get() == "tok-1"
    await provider.invalidate("tok-unknown-and-old")
    assert await provider.get() == "tok-1"
    assert provider.fetches == 1
    await provider.invalidate("tok-1")
    assert await store.load(provider.key) is None
    assert await provider.get() == "tok-2"
    assert provider.fetches == 2


async def test_invalidate_keeps_a_token_another_process_rotated_in() -> None:
    store = MemoryTokenStore()
    ours = CountingToken(store=store, prefix="ours")
    theirs = CountingToken(store=store, prefix="theirs")
    assert await ours.get() == "ours-1"
    # The other process learns ours-1 is bad first and rotates.
    await theirs.invalidate("ours-1")
    assert await theirs.get() == "theirs-1"
    # Our late invalidate of the same old token must not delete theirs-1.
    await ours.invalidate("ours-1")
    assert await ours.get() == "theirs-1"
    assert ours.fetches == 1


async def test_invalidation_storm_collapses() -> None:
    class CountingStore(MemoryTokenStore):
        deletes = 0

        async def delete_if(self, key: str, value: str) -> bool:
            CountingStore.deletes += 1
            await asyncio.sleep(0.01)
            return await super().delete_if(key, value)

    provider = CountingToken(store=CountingStore(), latency=0.02)
    old = await provider.get()

    async def call() -> str:
        await provider.invalidate(old)
        return await provider.get()

    results = await asyncio.gather(*(call() for _ in range(300)))
    assert set(results) == {"tok-2"}
    assert CountingStore.deletes == 1
    assert provider.fetches == 2
    # A straggler with the old token costs nothing either.
    await provider.invalidate(old)
    assert CountingStore.deletes == 1


async def test_refresh_ahead_serves_current_token_and_refreshes_once() -> None:
    provider = CountingToken(latency=0.05, expires_in=300.5)  # due for a refresh in 0.5 s
    assert await provider.get() == "tok-1"
    provider.expires_in = 7200.0
    await asyncio.sleep(0.6)
    results = await asyncio.gather(*(provider.get() for _ in range(100)))
    assert set(results) == {"tok-1"}  # nobody blocked on the refresh
    await asyncio.sleep(0.15)
    assert provider.fetches == 2
    assert await provider.get() == "tok-2"


async def test_expired_l1_is_never_served() -> None:
    provider = CountingToken(expires_in=31.0)  # usable for about one second
    assert await provider.get() == "tok-1"
    provider._l1_usable_until = 0.0
    provider._l1_fresh_until = 0.0
    await provider._store.delete_if(provider.key, "tok-1")
    assert await provider.get() == "tok-2"


async def test_rotation_by_another_process_is_picked_up_without_fetching() -> None:
    store = MemoryTokenStore()
    ours = CountingToken(store=store, prefix="ours")
    assert await ours.get() == "ours-1"
    lease = await store.acquire(ours.key, 5)
    assert lease is not None
    await store.save(ours.key, StoredToken("rotated", time.time() + 7200), lease)
    await store.release(ours.key, lease)
    ours._l1_fresh_until = 0.0  # the L1 copy has aged past l1_ttl
    assert await ours.get() == "ours-1"  # served while a background re-read runs
    await asyncio.sleep(0.01)
    assert await ours.get() == "rotated"
    assert ours.fetches == 1


async def test_waiter_takes_over_when_the_lock_holder_dies() -> None:
    store = MemoryTokenStore()
    settings = RefreshSettings(
        fetch_timeout=0.1,
        lock_ttl=0.3,
        wait_timeout=2.0,
        poll_initial=0.01,
        poll_max=0.05,
        store_timeout=0.05,
    )
    provider = CountingToken(store=store, settings=settings)
    dead = await store.acquire(provider.key, settings.lock_ttl)  # a holder that never returns
    assert dead is not None
    started = time.monotonic()
    assert await provider.get() == "tok-1"
    assert 0.25 < time.monotonic() - started < 3.0  # waited for the TTL, then took over
    assert provider.fetches == 1
    assert not await store.save(provider.key, StoredToken("late", time.time() + 7200), dead)


async def test_wait_is_bounded_when_the_holder_keeps_the_lock() -> None:
    class StuckStore(MemoryTokenStore):
        async def acquire(self, key: str, ttl: float) -> Lease | None:  # noqa: ARG002
            return None

    settings = RefreshSettings(
        fetch_timeout=0.05, lock_ttl=0.1, wait_timeout=0.3, store_timeout=0.025
    )
    provider = CountingToken(store=StuckStore(), settings=settings)
    with pytest.raises(TokenUnavailableError, match="within"):
        await provider.get()
    assert provider.fetches == 0


async def test_settings_refuse_a_lock_shorter_than_the_fetch() -> None:
    with pytest.raises(ConfigurationError):
        RefreshSettings(fetch_timeout=10, lock_ttl=5)
    with pytest.raises(ConfigurationError):
        RefreshSettings(fetch_timeout=1, lock_ttl=5, wait_timeout=5)


async def test_events_reach_the_metrics_hook_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    events: list[Event] = []
    provider = CountingToken()
    provider._metrics = events.append
    with caplog.at_level(logging.DEBUG, logger="wechat_async"):
        token = await provider.get()
        await provider.invalidate(token)
        await provider.get()
    names = [e.name for e in events]
    assert names.count("token_fetch") == 2
    assert "token_invalidate" in names
    assert all(token not in repr(e) for e in events)
    assert all(
        "tok-2" not in r.getMessage() and token not in r.getMessage() for r in caplog.records
    )


async def test_repr_hides_tokens() -> None:
    provider = CountingToken()
    await provider.get()
    assert "tok-1" not in repr(provider)
    assert "tok-1" not in repr(provider._l1)


async def test_default_settings_are_consistent() -> None:
    settings = RefreshSettings()
    assert settings.lock_ttl >= settings.fetch_timeout
    assert settings.wait_timeout > settings.lock_ttl
    assert FAST.lock_ttl >= FAST.fetch_timeout


async def test_memory_store_secrets() -> None:
    store = MemoryTokenStore()
    assert await store.get_secret("k") is None
    await store.set_secret("k", "v1")
    assert await store.get_secret("k") == "v1"
    await store.set_secret("k", "v2", ttl=0.05)
    assert await store.get_secret("k") == "v2"
    await asyncio.sleep(0.1)
    assert await store.get_secret("k") is None


async def test_memory_store_delete_secret() -> None:
    store = MemoryTokenStore()
    await store.set_secret("k", "v")
    await store.delete_secret("k")
    assert await store.get_secret("k") is None
    await store.delete_secret("k")


@pytest.mark.parametrize("key", ["", None, 7])
async def test_a_provider_needs_a_key(key: object) -> None:
    with pytest.raises(InvalidArgumentError, match="key"):
        CountingToken(key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [{"lock_ttl": "20"}, {"fetch_timeout": 0}, {"poll_max": -1}, {"l1_ttl": float("inf")}],
)
async def test_settings_refuse_values_that_are_not_durations(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(options))):
        RefreshSettings(**options)  # type: ignore[arg-type]
