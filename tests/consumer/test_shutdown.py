"""Issue 13, item 2: leaving the consumer lets the running handler finish, marks it, releases.

The scenario of the issue: a handler has sent its reply and is still finishing
(a rolling deploy lands at that moment); a new consumer then starts on the same
state. The customer must get exactly one reply.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.consumer.helpers import Events, Replier, kf_on, replies, say, wait_until
from wechat_async import KfConsumer, MemoryConsumerState
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf import Kf

KINDS = ["sqlite", "redis"]


def state_of(kind: str, tmp_path: Path, redis: Redis, prefix: str) -> dict[str, Any]:
    if kind == "sqlite":
        return {"state_path": tmp_path / "kf.sqlite3"}
    return {"redis": redis, "prefix": prefix}


async def next_holder(kf: Kf, fake: FakeWeChat, open_kfid: str, **state: Any) -> Events:
    """A new consumer on the same state pulls once; its events."""
    events = Events()
    async with KfConsumer(kf, Replier(kf), metrics=events, **state) as consumer:
        consumer.notify(fake.kf._issue_sync_token(), open_kfid)
        await wait_until(lambda: bool(events.named("consumer_page")))
        await asyncio.sleep(0.1)  # a repeat would have been sent by now
    return events


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
async def test_closing_while_a_handler_finishes_sends_one_reply(
    kind: str, tmp_path: Path, redis_client: Redis, redis_prefix: str
) -> None:
    state = state_of(kind, tmp_path, redis_client, redis_prefix)
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 1)
    async with kf_on(fake) as kf:
        finishing = Replier(kf, finishing=0.5)
        async with KfConsumer(kf, finishing, **state) as consumer:
            consumer.notify(fake.kf._issue_sync_token(), open_kfid)
            await fake.kf.wait_for_sent(1)  # the reply is out; the handler is still busy
        assert finishing.finished == 1  # leaving waited for it
        events = await next_holder(kf, fake, open_kfid, **state)
    assert replies(fake) == ["re: message 0"]
    # Its page was complete: the cursor was committed, so the next holder pulled nothing.
    assert [(e.fields["handled"], e.fields["skipped"]) for e in events.named("consumer_page")] == [
        (0, 0)
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
async def test_closing_mid_page_starts_no_new_message(
    kind: str, tmp_path: Path, redis_client: Redis, redis_prefix: str
) -> None:
    state = state_of(kind, tmp_path, redis_client, redis_prefix)
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 3)
    async with kf_on(fake) as kf:
        finishing = Replier(kf, finishing=0.3)
        async with KfConsumer(kf, finishing, **state) as consumer:
            consumer.notify(fake.kf._issue_sync_token(), open_kfid)
            await fake.kf.wait_for_sent(1)
        assert finishing.finished == 1
        assert replies(fake) == ["re: message 0"]  # the rest waits for the next holder
        events = await next_holder(kf, fake, open_kfid, **state)
    assert replies(fake) == [f"re: message {n}" for n in range(3)]
    # The page was pulled again: the finished message was skipped by its mark.
    assert [(e.fields["handled"], e.fields["skipped"]) for e in events.named("consumer_page")] == [
        (2, 1)
    ]


@pytest.mark.asyncio
async def test_past_the_grace_the_handler_is_cancelled_and_handed_again(tmp_path: Path) -> None:
    state: dict[str, Any] = {"state_path": tmp_path / "kf.sqlite3"}
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 1)
    async with kf_on(fake) as kf:
        stuck = Replier(kf, finishing=60)
        consumer = KfConsumer(kf, stuck, shutdown_grace=0.2, **state)
        async with consumer:
            consumer.notify(fake.kf._issue_sync_token(), open_kfid)
            await fake.kf.wait_for_sent(1)
            leaving = time.monotonic()
        assert time.monotonic() - leaving < 2
        assert stuck.finished == 0  # cancelled: it never finished
        await next_holder(kf, fake, open_kfid, **state)
    # It did not finish, so it was not marked: the next holder hands it again (documented).
    assert replies(fake) == ["re: message 0"] * 2


@pytest.mark.asyncio
async def test_an_idle_consumer_closes_at_once(tmp_path: Path) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    events = Events()
    async with kf_on(fake) as kf:
        consumer = KfConsumer(kf, Replier(kf), state_path=tmp_path / "kf.sqlite3", metrics=events)
        async with consumer:
            consumer.notify(None, open_kfid)
            await wait_until(lambda: bool(events.named("consumer_page")))
            await asyncio.sleep(0.05)  # pulled (nothing), now waiting for the next callback
            leaving = time.monotonic()
        assert time.monotonic() - leaving < 0.5
        assert await consumer.state.acquire(open_kfid, "next", 10)  # the lease was released


class SlowToAnswerAcquire(MemoryConsumerState):
    """Takes the lease at once, but the answer takes long to come back."""

    def __init__(self) -> None:
        super().__init__()
        self.took = asyncio.Event()

    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool:
        took = await super().acquire(open_kfid, owner, ttl)
        if not self.took.is_set():  # the consumer's first try
            self.took.set()
            await asyncio.sleep(30)
        return took


@pytest.mark.asyncio
async def test_closing_while_the_lease_is_being_taken_lets_it_go() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    state = SlowToAnswerAcquire()
    async with kf_on(fake) as kf:
        consumer = KfConsumer(kf, Replier(kf), state=state)
        async with consumer:
            consumer.notify(None, open_kfid)
            async with asyncio.timeout(5):
                await state.took.wait()
    # Not held for lease_ttl (15 s) by a consumer that is gone: the next one pulls at once.
    assert await state.acquire(open_kfid, "next", 10) is True


class SlowRelease(MemoryConsumerState):
    """Releasing takes a while, as a round trip to a busy Redis does."""

    def __init__(self) -> None:
        super().__init__()
        self.releasing = asyncio.Event()

    async def release(self, open_kfid: str, owner: str) -> None:
        self.releasing.set()
        await asyncio.sleep(0.2)
        await super().release(open_kfid, owner)


@pytest.mark.asyncio
async def test_a_shutdown_that_lands_while_the_lease_is_released_still_releases_it() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 1)
    state = SlowRelease()
    async with kf_on(fake) as kf:
        consumer = KfConsumer(kf, Replier(kf), state=state, idle_timeout=0)
        async with consumer:
            consumer.notify(None, open_kfid)
            async with asyncio.timeout(5):
                await state.releasing.wait()  # the pull is done; its lease is being let go
        # Leaving cancelled the stream in the middle of that: the release still landed,
        # so the next holder does not wait lease_ttl for a lease nobody uses.
    assert await state.acquire(open_kfid, "next-holder", 15.0)
