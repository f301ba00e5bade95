"""RedisTokenStore against a real Redis: scripts, fencing, sharing and outages."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from tests.redis_server import throwaway_redis
from tests.tokens.fakes import FAST, CountingToken
from wechat_async.errors import TokenUnavailableError
from wechat_async.tokens import RefreshSettings, StoredToken, TokenStoreUnavailableError
from wechat_async.tokens.redis import RedisTokenStore

pytestmark = pytest.mark.asyncio


@pytest.fixture
def store(redis_client: Redis, redis_prefix: str) -> RedisTokenStore:
    return RedisTokenStore(redis_client, prefix=redis_prefix)


async def test_round_trip_and_expiry(store: RedisTokenStore, redis_client: Redis) -> None:
    assert await store.load("k") is None
    lease = await store.acquire("k", 5)
    assert lease is not None
    expires_at = time.time() + 7200
    assert await store.save("k", StoredToken("T1", expires_at), lease)
    loaded = await store.load("k")
    assert loaded is not None
    assert loaded.value == "T1"
    assert loaded.expires_at == pytest.approx(expires_at)
    ttl = await redis_client.pttl(store.token_key("k"))
    assert 7_100_000 < ttl <= 7_200_000


async def test_lock_is_exclusive_and_released_by_owner_only(store: RedisTokenStore) -> None:
    first = await store.acquire("k", 5)
    assert first is not None
    assert await store.acquire("k", 5) is None
    stranger = type(first).new()
    await store.release("k", stranger)
    assert await store.acquire("k", 5) is None
    await store.release("k", first)
    assert await store.acquire("k", 5) is not None


async def test_save_is_fenced_by_the_lease(store: RedisTokenStore) -> None:
    old = await store.acquire("k", 0.05)
    assert old is not None
    await asyncio.sleep(0.1)  # the lease lapses mid-"fetch"
    new = await store.acquire("k", 5)
    assert new is not None
    assert await store.save("k", StoredToken("fresh", time.time() + 7200), new)
    assert not await store.save("k", StoredToken("stale", time.time() + 7200), old)
    loaded = await store.load("k")
    assert loaded is not None
    assert loaded.value == "fresh"


async def test_delete_if_compares(store: RedisTokenStore) -> None:
    lease = await store.acquire("k", 5)
    assert lease is not None
    await store.save("k", StoredToken("T1", time.time() + 100), lease)
    assert not await store.delete_if("k", "T0")
    assert await store.load("k") is not None
    assert await store.delete_if("k", "T1")
    assert await store.load("k") is None


async def test_keys_of_one_token_share_a_cluster_slot(store: RedisTokenStore) -> None:
    for key in ("work_token:ww1:abcd", "access_token:wx1:ef01", "a"):
        assert key_slot(store.token_key(key).encode()) == key_slot(store.lock_key(key).encode())


@pytest.mark.usefixtures("redis_client")  # deletes this test's keys afterwards
async def test_providers_in_many_processes_fetch_once(redis_url: str, redis_prefix: str) -> None:
    # Eight "processes": separate providers, each with its own client and L1.
    clients = [Redis.from_url(redis_url, max_connections=20) for _ in range(8)]
    providers = [
        CountingToken(store=RedisTokenStore(c, prefix=redis_prefix), latency=0.1, prefix=f"p{i}")
        for i, c in enumerate(clients)
    ]
    try:
        results = await asyncio.gather(*(p.get() for p in providers for _ in range(100)))
        assert len(set(results)) == 1
        assert sum(p.fetches for p in providers) == 1
    finally:
        for client in clients:
            await client.aclose()


@pytest.mark.usefixtures("redis_client")
async def test_invalidation_storm_makes_one_round_trip_and_one_fetch(
    redis_url: str, redis_prefix: str
) -> None:
    client = Redis.from_url(redis_url, max_connections=4)
    store = RedisTokenStore(client, prefix=redis_prefix)
    calls = 0
    original = store.delete_if

    async def counted(key: str, value: str) -> bool:
        nonlocal calls
        calls += 1
        return await original(key, value)

    store.delete_if = counted  # type: ignore[method-assign]
    provider = CountingToken(store=store, latency=0.05)
    try:
        old = await provider.get()

        async def storm() -> str:
            await provider.invalidate(old)
            return await provider.get()

        # A pool of four connections survives four hundred concurrent invalidations.
        results = await asyncio.gather(*(storm() for _ in range(400)))
        assert set(results) == {"tok-2"}
        assert calls == 1
        assert provider.fetches == 2
    finally:
        await client.aclose()


async def test_a_dead_lock_holder_is_taken_over_after_its_ttl(store: RedisTokenStore) -> None:
    settings = RefreshSettings(
        fetch_timeout=0.2,
        lock_ttl=0.4,
        wait_timeout=3.0,
        poll_initial=0.01,
        poll_max=0.05,
        store_timeout=0.1,
    )
    provider = CountingToken(store=store, settings=settings)
    dead = await store.acquire(provider.key, settings.lock_ttl)  # its process was killed
    assert dead is not None
    started = time.monotonic()
    assert await provider.get() == "tok-1"
    assert time.monotonic() - started >= 0.3  # nobody fetched while the lock was live
    assert provider.fetches == 1
    # The dead holder's late write, were it to wake up, is fenced off.
    assert not await store.save(provider.key, StoredToken("zombie", time.time() + 7200), dead)
    loaded = await store.load(provider.key)
    assert loaded is not None
    assert loaded.value == "tok-1"


async def test_unreachable_redis_falls_back_locally_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    provider = CountingToken(store=RedisTokenStore(client, prefix="down"))
    try:
        with caplog.at_level(logging.WARNING, logger="wechat_async"):
            assert await provider.get() == "tok-1"
            await provider.invalidate("tok-1")
            assert await provider.get() == "tok-2"
        warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert len([r for r in warnings if "keeping tokens" in r.getMessage()]) == 1
    finally:
        await client.aclose()


async def test_unreachable_redis_in_strict_mode_raises() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    settings = RefreshSettings(
        fetch_timeout=FAST.fetch_timeout,
        lock_ttl=FAST.lock_ttl,
        wait_timeout=FAST.wait_timeout,
        store_timeout=FAST.store_timeout,
        strict=True,
    )
    provider = CountingToken(store=RedisTokenStore(client, prefix="down"), settings=settings)
    try:
        with pytest.raises(TokenUnavailableError) as info:
            await provider.get()
        assert isinstance(info.value.__cause__, TokenStoreUnavailableError)
        assert provider.fetches == 0
    finally:
        await client.aclose()


async def test_redis_going_down_mid_use_is_survived() -> None:
    with throwaway_redis() as (url, process):
        client = Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=0.3)
        provider = CountingToken(store=RedisTokenStore(client, prefix="restart"))
        try:
            assert await provider.get() == "tok-1"
            process.terminate()
            process.wait(timeout=10)
            await provider.invalidate("tok-1")
            assert await provider.get() == "tok-2"  # kept locally while Redis is down
        finally:
            await client.aclose()


async def test_secrets_round_trip_and_expire(store: RedisTokenStore, redis_client: Redis) -> None:
    assert await store.get_secret("ticket:c1") is None
    await store.set_secret("ticket:c1", "ticket-1", ttl=60)
    assert await store.get_secret("ticket:c1") == "ticket-1"
    assert 0 < await redis_client.pttl(store.secret_key("ticket:c1")) <= 60_000
    await store.set_secret("refresh:c1:wx1", "refresh-1")
    assert await redis_client.pttl(store.secret_key("refresh:c1:wx1")) == -1  # no expiry
    await store.set_secret("ticket:c1", "ticket-2", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await store.get_secret("ticket:c1") is None
    assert key_slot(store.secret_key("k").encode()) == key_slot(store.token_key("k").encode())


async def test_delete_secret(store: RedisTokenStore) -> None:
    await store.set_secret("refresh:c1:wx1", "refresh-1")
    await store.delete_secret("refresh:c1:wx1")
    assert await store.get_secret("refresh:c1:wx1") is None
    await store.delete_secret("refresh:c1:wx1")  # deleting nothing is fine
