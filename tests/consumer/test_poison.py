"""Poison input cannot stop a stream: odd items, and handlers that raise CancelledError."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.consumer.helpers import kf_on, msgids, no_backoff, wait_until
from wechat_async.consumer import KfConsumer
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf_messages import SyncedMessage, TextMessage, UnknownKfMessage

# Long enough for a loaded machine, short enough that a stuck stream fails fast.
BOUND = 5.0


async def say(fake: FakeWeChat, open_kfid: str, *texts: str) -> None:
    for text in texts:
        await fake.kf.customer_says(open_kfid, "wm_poison", text)


@pytest.mark.asyncio
async def test_a_handler_raising_cancelled_error_itself_is_dead_lettered() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, "one", "two", "three")
    ids = msgids(fake, open_kfid)
    attempts: list[str] = []
    dead: list[tuple[str, type[BaseException]]] = []

    async def handler(message: SyncedMessage) -> None:
        attempts.append(str(message.msgid))
        if message.msgid == ids[1]:
            # As when a sub-task the handler awaits is cancelled: nobody cancelled the consumer.
            raise asyncio.CancelledError

    async def dead_letter(message: SyncedMessage, exc: BaseException) -> None:
        dead.append((str(message.msgid), type(exc)))

    async with (
        kf_on(fake) as kf,
        KfConsumer(
            kf, handler, max_attempts=3, backoff=no_backoff, dead_letter=dead_letter
        ) as consumer,
    ):
        consumer.notify(None, open_kfid)
        await wait_until(lambda: ids[2] in attempts, timeout=BOUND)
        await asyncio.sleep(0.05)
    assert attempts == [ids[0], ids[1], ids[1], ids[1], ids[2]]
    assert dead == [(ids[1], asyncio.CancelledError)]


@pytest.mark.asyncio
async def test_a_dead_letter_hook_raising_cancelled_error_does_not_stop_the_stream() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, "one", "two")
    ids = msgids(fake, open_kfid)
    attempts: list[str] = []

    async def handler(message: SyncedMessage) -> None:
        attempts.append(str(message.msgid))
        if message.msgid == ids[0]:
            raise RuntimeError("always")

    async def dead_letter(message: SyncedMessage, exc: BaseException) -> None:  # noqa: ARG001
        raise asyncio.CancelledError

    async with (
        kf_on(fake) as kf,
        KfConsumer(
            kf, handler, max_attempts=2, backoff=no_backoff, dead_letter=dead_letter
        ) as consumer,
    ):
        consumer.notify(None, open_kfid)
        await wait_until(lambda: ids[1] in attempts, timeout=BOUND)
        await asyncio.sleep(0.05)
    assert attempts == [ids[0], ids[0], ids[1]]  # given up once, never pulled again


GRACE = 0.2


@pytest.mark.asyncio
@pytest.mark.parametrize("on_cancel", ["propagates", "raises another error"])
async def test_aclose_during_a_handler_stops_promptly(on_cancel: str) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, "one", "two")
    started = asyncio.Event()
    calls: list[str] = []
    dead: list[str] = []

    async def handler(message: SyncedMessage) -> None:
        calls.append(str(message.msgid))
        if started.is_set():
            return  # only the first call hangs: a retry after the stop must not hang the test
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if on_cancel == "raises another error":
                raise RuntimeError("cleanup failed") from None
            raise

    async def dead_letter(message: SyncedMessage, exc: BaseException) -> None:  # noqa: ARG001
        dead.append(str(message.msgid))

    async with kf_on(fake) as kf:
        consumer = KfConsumer(
            kf, handler, backoff=no_backoff, dead_letter=dead_letter, shutdown_grace=GRACE
        )
        async with consumer:
            consumer.notify(None, open_kfid)
            async with asyncio.timeout(BOUND):
                await started.wait()
            tasks = list(consumer._tasks.values())
            closing = time.monotonic()
            await consumer.aclose()
            took = time.monotonic() - closing
    # The handler gets its grace to finish, then is cancelled; no retry after that.
    assert GRACE <= took < GRACE + 1.0
    assert all(task.done() for task in tasks)
    assert calls == msgids(fake, open_kfid)[:1]  # a stop is neither a retry nor a dead letter
    assert dead == []


@pytest.mark.asyncio
async def test_an_item_of_an_unexpected_shape_reaches_the_handler_and_the_stream_goes_on() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, "before")
    odd = await fake.kf.customer_sends(
        open_kfid,
        "wm_poison",
        "channels_shop_order",
        {"order_id": "3700000000000000", "product_titles": ["商品标题1", "商品标题2"]},
    )
    await say(fake, open_kfid, "after")
    seen: list[SyncedMessage] = []

    async def handler(message: SyncedMessage) -> None:
        seen.append(message)

    async with kf_on(fake) as kf, KfConsumer(kf, handler) as consumer:
        consumer.notify(None, open_kfid)
        await wait_until(lambda: len(seen) == 3, timeout=BOUND)
        await say(fake, open_kfid, "later")
        consumer.notify(None, open_kfid)
        await wait_until(lambda: len(seen) == 4, timeout=BOUND)
    assert [m.msgid for m in seen] == msgids(fake, open_kfid)
    before, kept, after, later = seen
    assert isinstance(kept, UnknownKfMessage)
    assert kept.msgid == odd
    assert kept.raw["channels_shop_order"]["product_titles"] == ["商品标题1", "商品标题2"]
    assert kept.reason == "channels_shop_order.product_titles: TypeError"
    assert all(isinstance(m, TextMessage) for m in (before, after, later))
