"""A KfConsumer's Redis is killed mid-consumption and started again on the same port.

The consumer runs in process against FakeWeChat, on a redis-server of its own.
Redis is killed once between two pages (right after a cursor commit) and once
while the handler runs, then restarted, either without persistence or with an
append-only file (``appendfsync always``). Messages keep arriving, with
callbacks, while Redis is down.

What "nothing lost once Redis is back" means here:

* every message sent (before or during the outage) reaches the handler at
  least once, and the per-open_kfid order holds;
* the consumer's task never dies: each failure is a ``consumer_error`` event,
  it waits ``backoff`` and tries again, and it carries on once Redis answers;
  the outage is logged once as a WARNING naming Redis and its address, and
  its end once at INFO;
* with the append-only file Redis keeps cursor and dedup marks, so every message
  reaches the handler exactly once, in order; this includes the message whose
  handler was running when Redis died (its msgid is marked once Redis is back,
  not handed again);
* without persistence the cursor and the dedup marks are gone (see the module
  docstring of :mod:`wechat_async.consumer`): the next pull starts from the
  oldest message again, so a message may reach the handler twice, but only one
  the handler had already finished before Redis came back, never more than
  twice, and in order the second time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests.consumer.helpers import Events, kf_on, msgids, wait_until
from wechat_async.consumer import Backoff, KfConsumer
from wechat_async.observability import Event
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import SyncedMessage

from .servers import RedisProcess, redis_processes

PREFIX = "wa-fault-consumer"
LIMIT = 2  # messages per page: several pages, several commits
LEASE_TTL = 1.0
BACKOFF = Backoff(initial=0.05, maximum=0.2)
PERSISTENCE = {
    "volatile": (),
    "aof": ("--appendonly", "yes", "--appendfsync", "always"),
}


@pytest.fixture(params=sorted(PERSISTENCE))
def redis_server(request: pytest.FixtureRequest) -> Iterator[tuple[RedisProcess, bool]]:
    with redis_processes(1, *PERSISTENCE[request.param]) as (server,):
        yield server, request.param == "aof"


@pytest_asyncio.fixture
async def redis_client(redis_server: tuple[RedisProcess, bool]) -> AsyncIterator[Redis]:
    # No client-side retries: a dead Redis shows at once and the consumer's own backoff runs.
    client = Redis.from_url(
        redis_server[0].url,
        socket_connect_timeout=0.3,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        yield client
    finally:
        await client.aclose()


class Handler:
    """Records each msgid the handler finished; can pause once on one msgid."""

    def __init__(self, pause_on: str | None = None) -> None:
        self.seen: list[str] = []
        self.pause_on = pause_on
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, message: SyncedMessage) -> None:
        msgid = str(message.msgid)
        if msgid == self.pause_on and not self.entered.is_set():
            self.entered.set()
            async with asyncio.timeout(10):
                await self.release.wait()
        self.seen.append(msgid)


class KillOnFirstCommit(Events):
    """A metrics hook that kills Redis right after the first cursor commit."""

    def __init__(self, kill: Callable[[], None]) -> None:
        super().__init__()
        self.kill = kill
        self.killed = False

    def __call__(self, event: Event) -> None:
        super().__call__(event)
        if event.name == "consumer_commit" and not self.killed:
            self.killed = True
            self.kill()  # between pages: the next Redis call is the next page's dedup check


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def key(open_kfid: str, name: str) -> str:
    return f"{PREFIX}:{{kf_consumer:{open_kfid}}}:{name}"


async def say(fake: FakeWeChat, open_kfid: str, count: int) -> None:
    for n in range(count):
        await fake.kf.customer_says(open_kfid, f"wm_{n % 2}", f"message {n}")


def consumer_on(redis: Redis, kf: Kf, handler: Handler, events: Events) -> KfConsumer:
    return KfConsumer(
        kf,
        handler,
        redis=redis,
        prefix=PREFIX,
        limit=LIMIT,
        lease_ttl=LEASE_TTL,
        backoff=BACKOFF,
        metrics=events,
    )


async def ride_out_the_outage(
    consumer: KfConsumer,
    fake: FakeWeChat,
    open_kfid: str,
    handler: Handler,
    events: Events,
) -> None:
    """While Redis is down: messages and callbacks keep coming, the consumer keeps trying."""
    handled = list(handler.seen)
    errors = len(events.named("consumer_error"))
    await say(fake, open_kfid, 3)
    consumer.notify(fake.kf._issue_sync_token(), open_kfid)
    # Several failures, each followed by a backoff and another try: the task lives on.
    await wait_until(lambda: len(events.named("consumer_error")) >= errors + 3)
    task = consumer._tasks[open_kfid]
    assert not task.done(), task
    assert handler.seen == handled  # nothing is handled without Redis


async def settle(
    redis: Redis,
    kf: Kf,
    open_kfid: str,
    handler: Handler,
    expected: int | None,
) -> None:
    """Wait until the handler saw ``expected`` messages (if given) and Redis caught up.

    Caught up: a cursor committed past every message (so no mark is left: each
    commit forgets the marks of the pages it covers), the lease released.
    """
    if expected is not None:
        await wait_until(lambda: len(handler.seen) >= expected)
    end = await kf.sync_msg(open_kfid=open_kfid, limit=1000)
    while end.has_more:
        end = await kf.sync_msg(cursor=end.next_cursor, open_kfid=open_kfid, limit=1000)

    async def caught_up() -> None:
        while True:
            try:
                done = await redis.exists(key(open_kfid, "done"))
                cursor = await redis.get(key(open_kfid, "cursor"))
                lease = await redis.get(key(open_kfid, "lease"))
            except Exception:  # noqa: BLE001 - a pooled connection to the old process
                done, cursor, lease = 1, None, b"?"
            if not done and cursor is not None and text(cursor) == end.next_cursor and not lease:
                return
            await asyncio.sleep(0.02)

    async with asyncio.timeout(10):
        await caught_up()
    handled = len(handler.seen)
    await asyncio.sleep(0.1)  # nothing more arrives late
    assert len(handler.seen) == handled
    if expected is not None:
        assert handled == expected


def assert_lost_data_repeats_only_finished_messages(
    seen: list[str], before_restart: list[str], ids: list[str]
) -> None:
    """Without persistence: at least once; a repeat only of what was finished before the restart."""
    counts = Counter(seen)
    assert set(counts) == set(ids)  # at least once
    assert max(counts.values()) <= 2
    assert {m for m, n in counts.items() if n == 2} <= set(before_restart)
    # First deliveries keep WeChat's order; the replay after the data loss is in
    # order too, though the message in flight at the outage may land before it.
    assert list(dict.fromkeys(seen)) == ids
    order = {m: n for n, m in enumerate(ids)}
    repeats = [m for i, m in enumerate(seen) if m in seen[:i]]
    assert [order[m] for m in repeats] == sorted(order[m] for m in repeats)


def outage_logged(caplog: pytest.LogCaptureFixture, server: RedisProcess) -> bool:
    """One WARNING names Redis and its address for the whole outage; one INFO ends it."""
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "wechat_async.consumer" and r.levelno == logging.WARNING
    ]
    outage = [m for m in warnings if f"Redis at 127.0.0.1:{server.port}" in m]
    back = [
        r
        for r in caplog.records
        if r.name == "wechat_async.consumer"
        and r.levelno == logging.INFO
        and "reaches its state again" in r.getMessage()
    ]
    return len(outage) == 1 and len(back) == 1


@pytest.mark.asyncio
async def test_redis_killed_between_pages(
    redis_server: tuple[RedisProcess, bool],
    redis_client: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wechat_async.consumer")
    server, persistent = redis_server
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 6)  # three pages
    first_page = msgids(fake, open_kfid)[:LIMIT]
    handler = Handler()
    events = KillOnFirstCommit(server.stop)
    async with kf_on(fake) as kf, consumer_on(redis_client, kf, handler, events) as consumer:
        consumer.notify(fake.kf._issue_sync_token(), open_kfid)
        await wait_until(lambda: events.killed)
        await ride_out_the_outage(consumer, fake, open_kfid, handler, events)
        assert handler.seen == first_page  # the committed page, and nothing since
        before_restart = list(handler.seen)

        server.start()  # the same port: the same client reconnects
        ids = msgids(fake, open_kfid)
        await settle(
            redis_client,
            kf,
            open_kfid,
            handler,
            len(ids) if persistent else len(before_restart) + len(ids),
        )
        assert not consumer._tasks[open_kfid].done()
    if persistent:
        assert handler.seen == ids  # exactly once, in order: cursor and dedup survived
    else:
        # The cursor is gone: the pull starts over and every message is handed again.
        assert handler.seen == before_restart + ids
        assert_lost_data_repeats_only_finished_messages(handler.seen, before_restart, ids)
    assert outage_logged(caplog, server)


@pytest.mark.asyncio
async def test_redis_killed_during_a_handler(
    redis_server: tuple[RedisProcess, bool],
    redis_client: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="wechat_async.consumer")
    server, persistent = redis_server
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 6)
    in_flight = msgids(fake, open_kfid)[LIMIT]  # the first message of the second page
    handler = Handler(pause_on=in_flight)
    events = Events()
    async with kf_on(fake) as kf, consumer_on(redis_client, kf, handler, events) as consumer:
        consumer.notify(fake.kf._issue_sync_token(), open_kfid)
        async with asyncio.timeout(10):
            await handler.entered.wait()
        server.stop()
        handler.release.set()  # the handler finishes while Redis is down
        await wait_until(lambda: in_flight in handler.seen)
        await ride_out_the_outage(consumer, fake, open_kfid, handler, events)
        before_restart = list(handler.seen)

        server.start()
        ids = msgids(fake, open_kfid)
        await settle(redis_client, kf, open_kfid, handler, len(ids) if persistent else None)
        assert not consumer._tasks[open_kfid].done()
    if persistent:
        # Exactly once, in order; the in-flight message was marked, not handed again.
        assert handler.seen == ids
    else:
        assert_lost_data_repeats_only_finished_messages(handler.seen, before_restart, ids)
    assert outage_logged(caplog, server)
