"""Two KfConsumers share a real 3-master Redis Cluster and several open_kfids.

Each open_kfid's keys (cursor, lease, dedup, token) share a hash tag, so the
consumer's Lua scripts touch one slot; the open_kfids are chosen so their keys
land on every master. Both consumers are woken for every open_kfid, while
messages keep arriving. What must hold:

* every message reaches the handler exactly once, in order per open_kfid;
* at no moment do two handlers run for one open_kfid (the lease is exclusive,
  across consumers as well as within one);
* once idle, each open_kfid's cursor is committed past its last message, its
  dedup set is empty (each commit forgot its pages' marks), its lease is released;
* at least two masters really hold consumer keys (checked on the nodes).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from tests.consumer.helpers import Events, kf_on, msgids, wait_until
from wechat_async.consumer import Backoff, KfConsumer
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import SyncedMessage

from .servers import RedisProcess, redis_cluster

NODES = 3
PREFIX = "wa-fault-consumer-cluster"
ACCOUNTS = 6
ROUNDS = 3
PER_ROUND = 3  # messages per open_kfid per round
LIMIT = 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[RedisProcess]]:
    with redis_cluster(NODES) as servers:
        yield servers


@pytest_asyncio.fixture
async def clients(cluster: list[RedisProcess]) -> AsyncIterator[list[RedisCluster]]:
    """One RedisCluster client per consumer, as two processes would have."""
    made = [RedisCluster(host="127.0.0.1", port=cluster[n].port) for n in range(2)]
    try:
        for client in made:
            await client.initialize()
        yield made
    finally:
        for client in made:
            await client.aclose()


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def key(open_kfid: str, name: str) -> str:
    return f"{PREFIX}:{{kf_consumer:{open_kfid}}}:{name}"


class Handler:
    """Records (consumer, msgid) and how many handlers run at once per open_kfid."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []  # consumer, open_kfid, msgid
        self.active: defaultdict[str, int] = defaultdict(int)
        self.overlaps: list[str] = []

    def for_consumer(self, name: str) -> Handler.Bound:
        return Handler.Bound(self, name)

    class Bound:
        def __init__(self, shared: Handler, name: str) -> None:
            self.shared = shared
            self.name = name

        async def __call__(self, message: SyncedMessage) -> None:
            open_kfid = str(getattr(message, "open_kfid", ""))
            shared = self.shared
            shared.active[open_kfid] += 1
            if shared.active[open_kfid] > 1:
                shared.overlaps.append(open_kfid)
            try:
                await asyncio.sleep(0.002)  # long enough for the other consumer to interleave
                shared.seen.append((self.name, open_kfid, str(message.msgid)))
            finally:
                shared.active[open_kfid] -= 1


def accounts_on_every_master(fake: FakeWeChat, client: RedisCluster) -> list[str]:
    """At least ``ACCOUNTS`` open_kfids whose keys, together, land on every master."""
    accounts: list[str] = []
    masters: set[str] = set()
    while len(accounts) < ACCOUNTS or len(masters) < NODES:
        assert len(accounts) < 100, "random open_kfids never covered every master"
        open_kfid = fake.kf.add_account(f"客服{len(accounts)}")
        node = client.get_node_from_key(key(open_kfid, "cursor"))
        assert node is not None
        masters.add(node.name)
        accounts.append(open_kfid)
    return accounts


async def assert_committed(kf: Kf, client: RedisCluster, accounts: list[str]) -> None:
    """Cursors committed past every message; dedup sets emptied; leases gone."""
    for open_kfid in accounts:
        cursor = await client.get(key(open_kfid, "cursor"))
        assert cursor is not None
        rest = await kf.sync_msg(cursor=text(cursor), open_kfid=open_kfid, limit=1000)
        assert list(rest.msg_list) == []
        assert not rest.has_more
        # Each commit forgot the marks of the pages it covered: none is left.
        assert await client.exists(key(open_kfid, "done")) == 0
        assert await client.get(key(open_kfid, "lease")) is None


@pytest.mark.asyncio
async def test_two_consumers_share_a_cluster(
    cluster: list[RedisProcess], clients: list[RedisCluster]
) -> None:
    fake = FakeWeChat()
    accounts = accounts_on_every_master(fake, clients[0])
    for open_kfid in accounts:
        names = ("cursor", "lease", "done", "token")
        assert len({clients[0].keyslot(key(open_kfid, name)) for name in names}) == 1
    handler = Handler()
    events = [Events(), Events()]
    async with kf_on(fake) as kf:
        consumers = [
            KfConsumer(
                kf,
                handler.for_consumer(name),
                redis=client,
                prefix=PREFIX,
                limit=LIMIT,
                lease_ttl=2.0,
                backoff=Backoff(initial=0.05, maximum=0.2),
                metrics=hook,
            )
            for name, client, hook in zip("AB", clients, events, strict=True)
        ]
        async with consumers[0], consumers[1]:
            for round_ in range(ROUNDS):
                for n in range(PER_ROUND):
                    for open_kfid in accounts:
                        await fake.kf.customer_says(open_kfid, f"wm_{n}", f"r{round_} m{n}")
                for open_kfid in accounts:
                    token = fake.kf._issue_sync_token()
                    for consumer in consumers:  # both workers receive the callback
                        consumer.notify(token, open_kfid)
                await asyncio.sleep(0.02)  # the next round arrives mid-pull
            total = len(accounts) * ROUNDS * PER_ROUND
            await wait_until(lambda: len(handler.seen) >= total)
            for open_kfid in accounts:

                async def released(open_kfid: str = open_kfid) -> bool:
                    return await clients[0].get(key(open_kfid, "lease")) is None

                async with asyncio.timeout(10):
                    while not await released():  # noqa: ASYNC110 - a Redis read, bounded
                        await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # nothing more arrives late
            for consumer in consumers:
                assert not [t for t in consumer._tasks.values() if t.done()]

        # Exactly once, in order per open_kfid; never two handlers at once for one.
        assert len(handler.seen) == total
        assert handler.overlaps == []
        for open_kfid in accounts:
            assert [m for _, k, m in handler.seen if k == open_kfid] == msgids(fake, open_kfid)
        assert not [e for hook in events for e in hook.named("consumer_error")]

        await assert_committed(kf, clients[1], accounts)

    # The keys really are spread: at least two masters hold consumer keys.
    holders = 0
    for server in cluster:
        node = Redis(host="127.0.0.1", port=server.port)
        try:
            found = [k async for k in node.scan_iter(match=f"{PREFIX}:*", count=1000)]
        finally:
            await node.aclose()
        holders += bool(found)
    assert holders >= 2
    print({name: sum(1 for c, _, _ in handler.seen if c == name) for name in "AB"})
