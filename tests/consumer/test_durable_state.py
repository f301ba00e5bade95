"""Issue 13, item 1: without Redis the consumer's state survives a restart (a SQLite file).

A bot restarted on the same file answers each customer message exactly once,
including the messages that arrived while it was down. Forgetting everything
on restart is an explicit opt-in (`MemoryConsumerState`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.consumer.helpers import Events, Replier, kf_on, replies, say, wait_until
from wechat_async import KfConsumer, MemoryConsumerState, SQLiteConsumerState
from wechat_async.testing import FakeWeChat


async def run_bot_until_answered(
    fake: FakeWeChat, open_kfid: str, expected: int, **state: Any
) -> Events:
    """Start a consumer, wake it with a callback, wait for ``expected`` replies, stop it."""
    events = Events()
    async with kf_on(fake) as kf, KfConsumer(kf, Replier(kf), metrics=events, **state) as bot:
        bot.notify(fake.kf._issue_sync_token(), open_kfid)
        await wait_until(lambda: len(fake.kf.sent) >= expected)
        await wait_until(lambda: bool(events.named("consumer_page")))
        await asyncio.sleep(0.1)  # a repeat would have been sent by now
    return events


@pytest.mark.asyncio
@pytest.mark.parametrize("where", ["default", "state_path"])
async def test_a_restarted_bot_answers_each_message_once(where: str, tmp_path: Path) -> None:
    # The consumer tests run in tmp_path: the default file lands there.
    state = {} if where == "default" else {"state_path": tmp_path / "bot.sqlite3"}
    file = tmp_path / ("wechat_async_kf.sqlite3" if where == "default" else "bot.sqlite3")
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 3)
    await run_bot_until_answered(fake, open_kfid, 3, **state)
    assert file.exists()
    await say(fake, open_kfid, 2, start=3)  # while the bot is down
    events = await run_bot_until_answered(fake, open_kfid, 5, **state)
    # The restarted bot resumed after the committed cursor: it did not even see the old ones.
    assert sum(int(str(e.fields["skipped"])) for e in events.named("consumer_page")) == 0
    await run_bot_until_answered(fake, open_kfid, 5, **state)  # and once more, with nothing new
    assert replies(fake) == [f"re: message {n}" for n in range(5)]


@pytest.mark.asyncio
async def test_a_state_passed_in_is_the_callers_to_close(tmp_path: Path) -> None:
    state = SQLiteConsumerState(tmp_path / "shared.sqlite3")
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 2)
    await run_bot_until_answered(fake, open_kfid, 2, state=state)
    await say(fake, open_kfid, 1, start=2)
    await run_bot_until_answered(fake, open_kfid, 3, state=state)
    assert await state.load_cursor(open_kfid) is not None
    await state.aclose()
    assert replies(fake) == [f"re: message {n}" for n in range(3)]


@pytest.mark.asyncio
async def test_the_memory_state_is_the_explicit_way_to_forget_on_restart() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 2)
    await run_bot_until_answered(fake, open_kfid, 2, state=MemoryConsumerState())
    await run_bot_until_answered(fake, open_kfid, 4, state=MemoryConsumerState())
    assert replies(fake) == ["re: message 0", "re: message 1"] * 2
