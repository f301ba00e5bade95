"""Shared pieces of the consumer tests: a Kf on FakeWeChat, bounded waits, a recording handler."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from wechat_async import Origin, Text, WeCom
from wechat_async.observability import Event
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import SyncedMessage, TextMessage

WAIT = 10.0


@contextlib.asynccontextmanager
async def kf_on(fake: FakeWeChat) -> AsyncIterator[Kf]:
    """A Kf calling ``fake`` in process."""
    transport = fake.transport()
    try:
        yield WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport).kf
    finally:
        await transport.aclose()


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> float:  # noqa: ASYNC109
    """Poll ``predicate`` until true; fail after ``timeout``; return the seconds waited."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - any predicate, bounded by the timeout
            await asyncio.sleep(0.01)
    return time.monotonic() - started


class Recorder:
    """A handler that records each msgid it saw, optionally pausing or failing."""

    def __init__(self, delay: float = 0.0) -> None:
        self.seen: list[str] = []
        self.delay = delay
        self.active = 0
        self.max_active = 0

    async def __call__(self, message: SyncedMessage) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.seen.append(str(message.msgid))
        finally:
            self.active -= 1


class Events:
    """A metrics hook keeping every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[Event]:
        return [event for event in self.events if event.name == name]


def msgids(fake: FakeWeChat, open_kfid: str) -> list[str]:
    """What sync_msg holds for ``open_kfid``, in order."""
    return [m["msgid"] for m in fake.kf.messages if m.get("open_kfid") == open_kfid]


def no_backoff(_: int) -> float:
    return 0.0


class Replier:
    """A handler answering each customer text with send_msg, like a bot; may keep "finishing".

    ``finishing`` seconds pass after the reply is sent and before the handler
    returns (writing to a database, say). ``finished`` counts the handlers that returned.
    """

    def __init__(self, kf: Kf, finishing: float = 0.0) -> None:
        self.kf = kf
        self.finishing = finishing
        self.finished = 0

    async def __call__(self, message: SyncedMessage) -> None:
        if isinstance(message, TextMessage) and message.origin == Origin.CUSTOMER:
            reply = Text(f"re: {message.text.content}")
            await self.kf.send_msg(message.external_userid or "", message.open_kfid or "", reply)
            await asyncio.sleep(self.finishing)
        self.finished += 1


def replies(fake: FakeWeChat) -> list[str]:
    """The text of every reply the customers got, in order."""
    return [str(sent.body["content"]) for sent in fake.kf.sent]


async def say(fake: FakeWeChat, open_kfid: str, count: int, start: int = 0) -> list[str]:
    """Customers send ``message {start}`` ... ; their msgids."""
    return [
        await fake.kf.customer_says(open_kfid, f"wm_{n % 3}", f"message {n}")
        for n in range(start, start + count)
    ]
