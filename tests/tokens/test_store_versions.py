"""TokenStore.claim and set_secret_if_newer, alike on the memory store and a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from wechat_async.tokens import MemoryTokenStore, TokenStore, TokenStoreUnavailableError
from wechat_async.tokens.redis import RedisTokenStore

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> TokenStore:
    if request.param == "memory":
        return MemoryTokenStore()
    client: Redis = request.getfixturevalue("redis_client")
    return RedisTokenStore(client, prefix=request.getfixturevalue("redis_prefix"))


async def test_claim_is_won_once_until_it_lapses(store: TokenStore) -> None:
    assert await store.claim("push:1", 0.2)
    assert not await store.claim("push:1", 0.2)
    assert await store.claim("push:2", 0.2)  # another key is another claim
    await asyncio.sleep(0.3)
    assert await store.claim("push:1", 5)


async def test_claim_is_given_up_with_delete_secret(store: TokenStore) -> None:
    assert await store.claim("push:1", 60)
    await store.delete_secret("push:1")
    assert await store.claim("push:1", 60)


async def test_claim_refuses_a_key_that_holds_a_credential(store: TokenStore) -> None:
    await store.set_secret("held", "value")
    assert not await store.claim("held", 60)
    assert await store.get_secret("held") == "value"


async def test_of_concurrent_claims_exactly_one_wins(store: TokenStore) -> None:
    results = await asyncio.gather(*(store.claim("push:race", 60) for _ in range(50)))
    assert results.count(True) == 1


async def test_set_secret_if_newer_keeps_the_newest(store: TokenStore) -> None:
    assert await store.set_secret_if_newer("ticket", "B", 200)
    assert not await store.set_secret_if_newer("ticket", "A", 100)  # older
    assert not await store.set_secret_if_newer("ticket", "B2", 200)  # not newer
    assert await store.get_secret("ticket") == "B"
    assert await store.set_secret_if_newer("ticket", "C", 300)
    assert await store.get_secret("ticket") == "C"


async def test_forgetting_keeps_the_version(store: TokenStore) -> None:
    assert await store.set_secret_if_newer("refresh", "R1", 100)
    assert await store.set_secret_if_newer("refresh", None, 200)
    assert await store.get_secret("refresh") is None
    # A write older than the deletion stays refused though nothing is stored.
    assert not await store.set_secret_if_newer("refresh", "R0", 150)
    assert await store.get_secret("refresh") is None
    assert await store.set_secret_if_newer("refresh", "R2", 250)
    assert await store.get_secret("refresh") == "R2"


async def test_the_version_outlives_the_ttl(store: TokenStore) -> None:
    assert await store.set_secret_if_newer("ticket", "B", 200, ttl=0.1)
    await asyncio.sleep(0.2)
    assert await store.get_secret("ticket") is None
    assert not await store.set_secret_if_newer("ticket", "A", 100, ttl=60)
    assert await store.get_secret("ticket") is None


async def test_set_secret_leaves_the_version_alone(store: TokenStore) -> None:
    assert await store.set_secret_if_newer("refresh", "R1", 100)
    await store.set_secret("refresh", "rotated")
    assert await store.get_secret("refresh") == "rotated"
    assert not await store.set_secret_if_newer("refresh", None, 100)
    assert await store.get_secret("refresh") == "rotated"


async def test_concurrent_versioned_writes_end_on_the_newest(store: TokenStore) -> None:
    versions = list(range(40, 0, -1))
    results = await asyncio.gather(
        *(store.set_secret_if_newer("ticket", f"t{v}", v) for v in versions)
    )
    assert await store.get_secret("ticket") == "t40"
    assert results[0]


async def test_redis_ttl_and_slot(redis_client: Redis, redis_prefix: str) -> None:
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    assert await store.set_secret_if_newer("ticket:c1", "T", 1, ttl=60)
    assert 0 < await redis_client.pttl(store.secret_key("ticket:c1")) <= 60_000
    assert await redis_client.pttl(store.version_key("ticket:c1")) == -1  # kept
    assert await store.set_secret_if_newer("refresh:c1:wx", "R", 1)
    assert await redis_client.pttl(store.secret_key("refresh:c1:wx")) == -1
    assert await store.claim("push:1", 2)
    assert 0 < await redis_client.pttl(store.secret_key("push:1")) <= 2000
    # One slot per key: the script runs on Redis Cluster too.
    assert key_slot(store.version_key("k").encode()) == key_slot(store.secret_key("k").encode())


async def test_unreachable_redis_raises_store_unavailable() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisTokenStore(client, prefix="down")
    try:
        with pytest.raises(TokenStoreUnavailableError):
            await store.claim("push:1", 60)
        with pytest.raises(TokenStoreUnavailableError):
            await store.set_secret_if_newer("ticket", "T", 1)
    finally:
        await client.aclose()
