"""KfConsumer with many accounts: streams end when idle, Redis work stays inside the pool."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

from tests.consumer.helpers import Events, Recorder, kf_on, msgids, wait_until
from wechat_async import WeCom
from wechat_async.consumer import KfConsumer
from wechat_async.errors import ConfigurationError
from wechat_async.testing import FakeWeChat


def streams_alive() -> int:
    """Stream tasks of any consumer (the fake's open_kfids start with "wk")."""
    return sum(1 for task in asyncio.all_tasks() if task.get_name().startswith("kf-consumer-wk"))


def bookkeeping(consumer: KfConsumer) -> dict[str, int]:
    return {
        "tasks": len(consumer._tasks),
        "wakes": len(consumer._wakes),
        "tokens": len(consumer._tokens),
        "pending": len(consumer._pending),
        "parked": len(consumer._parked),
    }


class Peak:
    """Samples ``measure`` every few milliseconds; keeps the highest value."""

    def __init__(self, measure: Callable[[], int]) -> None:
        self.measure = measure
        self.value = 0

    async def run(self) -> None:
        while True:
            self.value = max(self.value, self.measure())
            await asyncio.sleep(0.002)


@pytest_asyncio.fixture
async def peak_streams() -> AsyncIterator[Peak]:
    peak = Peak(streams_alive)
    task = asyncio.get_running_loop().create_task(peak.run())
    try:
        yield peak
    finally:
        task.cancel()


@pytest.mark.asyncio
async def test_streams_of_idle_accounts_end_and_a_later_callback_starts_one(
    peak_streams: Peak,
) -> None:
    fake = FakeWeChat()
    kfids = [fake.kf.add_account() for _ in range(2000)]
    handler, events = Recorder(), Events()
    async with (
        kf_on(fake) as kf,
        KfConsumer(kf, handler, metrics=events) as c,  # idle_timeout 2 s, 32 streams
    ):
        for open_kfid in kfids:
            c.notify(fake.kf._issue_sync_token(), open_kfid)
        # Every account pulled once (an empty page each), then every stream gone.
        await wait_until(lambda: len(events.named("consumer_page")) == 2000, timeout=60)
        await wait_until(lambda: streams_alive() == 0)
        assert bookkeeping(c) == dict.fromkeys(bookkeeping(c), 0)
        assert 0 < peak_streams.value <= 32

        await fake.kf.customer_says(kfids[7], "wm_late", "after the idle period")
        c.notify(fake.kf._issue_sync_token(), kfids[7])
        await wait_until(lambda: len(handler.seen) == 1)
        await asyncio.sleep(0.3)  # a repeat would come now
        await wait_until(lambda: streams_alive() == 0)
    assert handler.seen == msgids(fake, kfids[7])
    assert not events.named("consumer_error")


@pytest.mark.asyncio
async def test_callbacks_racing_the_end_of_a_stream_are_never_lost() -> None:
    fake = FakeWeChat()
    kfids = [fake.kf.add_account() for _ in range(3)]
    handler = Recorder()
    chance = random.Random(13)  # noqa: S311 - a repeatable interleaving, not a secret
    ended: list[str] = []
    async with kf_on(fake) as kf, KfConsumer(kf, handler, idle_timeout=0) as consumer:

        def notify_when_done(open_kfid: str) -> Callable[[asyncio.Task[None]], None]:
            def done(_: asyncio.Task[None]) -> None:
                ended.append(open_kfid)
                consumer.notify(None, open_kfid)

            return done

        for n in range(150):
            open_kfid = kfids[n % 3]
            await fake.kf.customer_says(open_kfid, f"wm_{n}", f"message {n}")
            consumer.notify(None, open_kfid)
            task = consumer._tasks.get(open_kfid)
            if task is not None and n % 5 == 0:
                # A callback in the very loop step the stream ends in: a new stream pulls it.
                task.add_done_callback(notify_when_done(open_kfid))
            for _ in range(chance.randrange(4)):
                await asyncio.sleep(0)
        await wait_until(lambda: len(handler.seen) == 150)
        await asyncio.sleep(0.05)
        await wait_until(lambda: not consumer._tasks)
    for open_kfid in kfids:
        assert [m for m in handler.seen if m in msgids(fake, open_kfid)] == msgids(fake, open_kfid)
    assert len(handler.seen) == len(set(handler.seen)) == 150
    assert ended  # streams did end (and were started again) during the run


@pytest.mark.asyncio
async def test_an_idle_stream_gives_its_place_to_a_waiting_account() -> None:
    fake = FakeWeChat()
    first, second = fake.kf.add_account(), fake.kf.add_account()
    handler = Recorder()
    async with (
        kf_on(fake) as kf,
        KfConsumer(kf, handler, idle_timeout=30, max_active_streams=1) as consumer,
    ):
        consumer.notify(None, first)
        await wait_until(lambda: first in consumer._lingering)  # pulled, now idle
        await fake.kf.customer_says(second, "wm_x", "hello")
        consumer.notify(None, second)
        waited = await wait_until(lambda: len(handler.seen) == 1)
    assert waited < 5  # not after idle_timeout
    assert handler.seen == msgids(fake, second)


@pytest.mark.asyncio
async def test_polled_accounts_keep_being_pulled_after_their_streams_end() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    handler, events = Recorder(), Events()
    async with (
        kf_on(fake) as kf,
        KfConsumer(
            kf, handler, open_kfids=[open_kfid], poll_interval=0.1, idle_timeout=0, metrics=events
        ) as consumer,
    ):
        await wait_until(lambda: len(events.named("consumer_page")) >= 2)  # ended, restarted
        await wait_until(lambda: not consumer._tasks)
        await fake.kf.customer_says(open_kfid, "wm_x", "hello")
        await wait_until(lambda: len(handler.seen) == 1)
    assert handler.seen == msgids(fake, open_kfid)


# -- Redis: a small pool -------------------------------------------------------------


async def _delete_prefix(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)


@pytest.mark.asyncio
async def test_many_streams_stay_inside_a_small_connection_pool(
    redis_url: str, redis_prefix: str, peak_streams: Peak
) -> None:
    fake = FakeWeChat()
    kfids = [fake.kf.add_account() for _ in range(500)]
    for n, open_kfid in enumerate(kfids[:50]):
        await fake.kf.customer_says(open_kfid, f"wm_{n}", f"message {n}")
    handler, events = Recorder(), Events()
    client = Redis.from_url(redis_url, max_connections=10)  # raises past 10, never waits
    try:
        async with (
            kf_on(fake) as kf,
            KfConsumer(kf, handler, redis=client, prefix=redis_prefix, metrics=events) as consumer,
        ):
            for open_kfid in kfids:
                consumer.notify(fake.kf._issue_sync_token(), open_kfid)
            await wait_until(lambda: len(events.named("consumer_page")) >= 500, timeout=60)
            assert [e.fields["error"] for e in events.named("consumer_error")] == []
            assert events.named("consumer_lease_lost") == []
            assert peak_streams.value <= 5  # half of the 10 connections: the other half renews
            await wait_until(lambda: streams_alive() == 0)
            assert bookkeeping(consumer) == dict.fromkeys(bookkeeping(consumer), 0)
    finally:
        await _delete_prefix(client, redis_prefix)
        await client.aclose()
    assert sorted(handler.seen) == sorted(m for k in kfids[:50] for m in msgids(fake, k))


@pytest.mark.asyncio
async def test_renewals_never_queue_behind_data_work_on_a_busy_pool(
    redis_url: str, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    kfids = [fake.kf.add_account() for _ in range(400)]
    slow = kfids[:: len(kfids) // 8]  # 8 accounts whose handler outlasts the lease twice
    for n, open_kfid in enumerate(slow):
        await fake.kf.customer_says(open_kfid, f"wm_{n}", f"message {n}")
    handler, events = Recorder(delay=1.0), Events()
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=4, timeout=20)
    client = Redis(connection_pool=pool)  # waits for a connection: a queue forms
    try:
        async with (
            kf_on(fake) as kf,
            KfConsumer(
                kf,
                handler,
                redis=client,
                prefix=redis_prefix,
                lease_ttl=0.6,  # renewed every 0.2 s: a renewal that queues is late
                metrics=events,
            ) as consumer,
        ):
            for _ in range(3):  # three callbacks each: more data work to queue behind
                for open_kfid in kfids:
                    consumer.notify(None, open_kfid)
            await wait_until(lambda: len(handler.seen) >= len(slow), timeout=60)
            assert events.named("consumer_lease_lost") == []
            assert [e.fields["error"] for e in events.named("consumer_error")] == []
            await wait_until(lambda: streams_alive() == 0, timeout=30)
    finally:
        await _delete_prefix(client, redis_prefix)
        await client.aclose()
        await pool.aclose()  # a pool passed in is not the client's to close
    assert sorted(handler.seen) == sorted(m for k in slow for m in msgids(fake, k))


@pytest.mark.asyncio
async def test_a_renewal_that_swallows_its_cancel_does_not_hold_the_stream() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await fake.kf.customer_says(open_kfid, "wm_a", "first")
    handler = Recorder(delay=0.1)
    async with kf_on(fake) as kf, KfConsumer(kf, handler, lease_ttl=0.09) as consumer:
        swallowed: list[bool] = []

        async def swallowing_extend(open_kfid: str, owner: str, ttl: float) -> bool:  # noqa: ARG001
            # What asyncio.wait_for inside redis-py does on Python 3.11 when the reply and
            # the cancel land together: the cancel is lost, the reply returned.
            try:
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(True)
            return True

        consumer._state.extend = swallowing_extend  # type: ignore[method-assign]
        consumer.notify(None, open_kfid)
        await wait_until(lambda: len(handler.seen) == 1)
        await fake.kf.customer_says(open_kfid, "wm_a", "second")
        consumer.notify(None, open_kfid)
        await wait_until(lambda: len(handler.seen) == 2, timeout=5)
    assert handler.seen == msgids(fake, open_kfid)
    assert swallowed


def test_the_streams_are_capped_at_half_the_redis_pool() -> None:
    fake = FakeWeChat()
    kf = WeCom(fake.corp_id, fake.corp_secrets[0], transport=fake.transport()).kf
    handler = Recorder()
    assert KfConsumer(kf, handler).max_active_streams == 32
    assert KfConsumer(kf, handler, redis=Redis()).max_active_streams == 32  # pool of 100
    small = Redis(max_connections=10)
    assert KfConsumer(kf, handler, redis=small, max_active_streams=64).max_active_streams == 5
    tiny = Redis(connection_pool=BlockingConnectionPool(max_connections=1))
    assert KfConsumer(kf, handler, redis=tiny).max_active_streams == 1
    cluster = RedisCluster(host="127.0.0.1", port=7000, max_connections=20)  # a pool per node
    assert KfConsumer(kf, handler, redis=cluster).max_active_streams == 10
    for bad in ({"max_active_streams": 0}, {"idle_timeout": -1}, {"idle_timeout": "2"}):
        with pytest.raises(ConfigurationError):
            KfConsumer(kf, handler, **bad)
