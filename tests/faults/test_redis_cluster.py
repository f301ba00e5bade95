"""RedisTokenStore on a real 3-master Redis Cluster started on loopback.

The store's keys for one token share a hash tag, so its Lua scripts (fenced
save, release, delete_if) touch one slot. Keys of several tokens land on
different masters, and each still works; providers sharing the cluster fetch
once per token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio.cluster import RedisCluster

from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import AccessToken, RefreshSettings, StoredToken
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import RetryPolicy, Transport

from .servers import RedisProcess, redis_cluster

NODES = 3
PREFIX = "wa-fault-cluster"


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[RedisProcess]]:
    with redis_cluster(NODES) as servers:
        yield servers


@pytest_asyncio.fixture
async def cluster_client(cluster: list[RedisProcess]) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(host="127.0.0.1", port=cluster[0].port)
    try:
        await client.initialize()
        yield client
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_single_flight_across_providers_on_a_cluster(cluster_client: RedisCluster) -> None:
    fake = FakeWeChat(token_latency=0.2)
    store = RedisTokenStore(cluster_client, prefix=PREFIX + "-sf")
    settings = RefreshSettings(fetch_timeout=2, lock_ttl=3, wait_timeout=5, store_timeout=0.5)
    async with fake.client() as client:
        transport = Transport(client, hosts=fake.hosts(), retry=RetryPolicy.no_wait(1))
        providers = [
            AccessToken(
                fake.appid, fake.secret, transport=transport, store=store, settings=settings
            )
            for _ in range(5)
        ]
        tokens = await asyncio.wait_for(
            asyncio.gather(*(p.get() for p in providers for _ in range(20))), timeout=10
        )
    assert set(tokens) == {tokens[0]}
    assert fake.fetches["cgi-bin/token"] == 1
    stored = await store.load(providers[0].key)
    assert stored is not None
    assert stored.value == tokens[0]
    assert await cluster_client.exists(store.lock_key(providers[0].key)) == 0


@pytest.mark.asyncio
async def test_lua_scripts_work_for_keys_on_every_master(cluster_client: RedisCluster) -> None:
    store = RedisTokenStore(cluster_client, prefix=PREFIX + "-lua")
    keys = [f"tenant-{n}" for n in range(24)]
    owners = set()
    for key in keys:
        node = cluster_client.get_node_from_key(store.token_key(key))
        assert node is not None
        owners.add(node.name)
    assert len(owners) == NODES  # the keys really are spread over the masters
    for key in keys:
        assert cluster_client.keyslot(store.token_key(key)) == cluster_client.keyslot(
            store.lock_key(key)
        )
        token = StoredToken(f"T-{key}", time.time() + 600)
        lease = await store.acquire(key, 5)
        assert lease is not None
        assert await store.acquire(key, 5) is None  # held
        assert await store.save(key, token, lease)  # fenced save, lease held
        await store.release(key, lease)
        assert await store.save(key, token, lease) is False  # lease gone: fenced out
        loaded = await store.load(key)
        assert loaded is not None
        assert loaded.value == token.value
        other = await store.acquire(key, 5)
        assert other is not None
        await store.release(key, lease)  # a stale release leaves the new holder's lock
        assert await store.acquire(key, 5) is None
        await store.release(key, other)
        assert await store.delete_if(key, "not-the-token") is False
        assert await store.delete_if(key, token.value) is True
        assert await store.load(key) is None
