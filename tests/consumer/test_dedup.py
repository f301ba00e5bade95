"""Issue 13, item 3: dedup marks live until the commit that makes them unnecessary.

* Workers with different settings share one Redis: none may cut another's
  marks short, so a handover mid-page repeats nothing.
* The marks of a page go with the commit that moves past it: Redis holds about
  a page per account, however many messages went through.
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from tests.consumer.helpers import kf_on, msgids, say, wait_until
from wechat_async import KfConsumer
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf_messages import SyncedMessage


def state_key(prefix: str, open_kfid: str, name: str) -> str:
    return f"{prefix}:{{kf_consumer:{open_kfid}}}:{name}"


@pytest.mark.asyncio
async def test_workers_with_different_dedup_windows_hand_over_without_a_repeat(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    ids = await say(fake, open_kfid, 4)  # one page
    stuck = asyncio.Event()
    handled: list[tuple[str, str]] = []

    async def worker_a(message: SyncedMessage) -> None:
        if message.msgid == ids[2]:
            stuck.set()
            await asyncio.Event().wait()  # until cancelled: it never finishes
        handled.append(("A", str(message.msgid)))

    async def worker_b(message: SyncedMessage) -> None:
        handled.append(("B", str(message.msgid)))

    ttl = 0.5
    async with kf_on(fake) as kf:
        a = KfConsumer(
            kf, worker_a, redis=redis_client, prefix=redis_prefix, lease_ttl=ttl
        )  # the default window: three days
        b = KfConsumer(
            kf, worker_b, redis=redis_client, prefix=redis_prefix, lease_ttl=ttl, dedup_window=0.05
        )
        async with a, b:
            a.notify(None, open_kfid)
            async with asyncio.timeout(5):
                await stuck.wait()  # A handled and marked ids[0] and ids[1]; ids[2] hangs

            async def dies_holding_the_lease(open_kfid: str, owner: str) -> None:
                pass

            a._state.release = dies_holding_the_lease  # type: ignore[method-assign]
            a._tasks[open_kfid].cancel()  # no renewal, no release: as if A's process died
            b.notify(None, open_kfid)  # B takes over once the lease lapses
            await wait_until(lambda: len(handled) >= 4)
            await asyncio.sleep(0.2)  # a repeat would show by now
    assert handled == [("A", ids[0]), ("A", ids[1]), ("B", ids[2]), ("B", ids[3])]


async def memory_usage(redis: Redis, prefix: str) -> dict[str, int]:
    """MEMORY USAGE of every key under ``prefix``, by key name."""
    sizes = {}
    async for key in redis.scan_iter(match=f"{prefix}:*"):
        name = key.decode() if isinstance(key, bytes) else str(key)
        sizes[name.rsplit(":", 1)[-1]] = int(await redis.memory_usage(key) or 0)
    return sizes


@pytest.mark.asyncio
async def test_redis_memory_per_account_stays_flat_over_10000_messages(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    limit = 500
    handled = 0
    largest_set = 0
    done = state_key(redis_prefix, open_kfid, "done")
    lease = state_key(redis_prefix, open_kfid, "lease")

    async def handler(_: SyncedMessage) -> None:
        nonlocal handled
        handled += 1

    async def watch_the_set() -> None:
        nonlocal largest_set
        while True:
            largest_set = max(largest_set, int(await redis_client.zcard(done)))
            await asyncio.sleep(0.002)

    usage: dict[int, dict[str, int]] = {}
    watcher = asyncio.create_task(watch_the_set())
    try:
        async with (
            kf_on(fake) as kf,
            KfConsumer(kf, handler, redis=redis_client, prefix=redis_prefix, limit=limit) as c,
        ):
            for total in (1_000, 10_000):
                await say(fake, open_kfid, total - len(msgids(fake, open_kfid)))
                c.notify(fake.kf._issue_sync_token(), open_kfid)
                await wait_until(lambda: handled == total, timeout=120)  # noqa: B023
                async with asyncio.timeout(10):
                    while await redis_client.exists(lease):  # noqa: ASYNC110 - a Redis read
                        await asyncio.sleep(0.01)
                usage[total] = await memory_usage(redis_client, redis_prefix)
    finally:
        watcher.cancel()
    print({total: sum(sizes.values()) for total, sizes in usage.items()}, largest_set)
    assert handled == 10_000
    # What is left after the pages are committed: the cursor and the callback token.
    assert set(usage[10_000]) == {"cursor", "token"}
    assert sum(usage[10_000].values()) <= sum(usage[1_000].values()) + 16
    assert sum(usage[10_000].values()) < 1024
    assert 0 < largest_set <= limit  # never more than the page being handled
