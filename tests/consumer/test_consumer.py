"""KfConsumer against FakeWeChat in process: order, retries, cursor, lease, dedup."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from redis.asyncio import Redis

from tests.consumer.helpers import (
    Events,
    Recorder,
    kf_on,
    msgids,
    no_backoff,
    wait_until,
)
from wechat_async import WeCom
from wechat_async.consumer import Backoff, KfConsumer
from wechat_async.errors import ConfigurationError
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf_messages import SyncedMessage


async def say(fake: FakeWeChat, open_kfid: str, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        await fake.kf.customer_says(open_kfid, f"wm_{n % 3}", f"message {n}")


def state_key(prefix: str, open_kfid: str, name: str) -> str:
    return f"{prefix}:{{kf_consumer:{open_kfid}}}:{name}"


# -- the default state: SQLite in the working directory --------------------------------


@pytest.mark.asyncio
async def test_memory_mode_handles_every_message_once_in_order() -> None:
    fake = FakeWeChat()
    first, second = fake.kf.add_account("一"), fake.kf.add_account("二")
    handler = Recorder()
    async with kf_on(fake) as kf, KfConsumer(kf, handler, limit=2) as consumer:
        await say(fake, first, 5)
        await say(fake, second, 2)
        consumer.notify(fake.kf._issue_sync_token(), first)
        consumer.notify(None, second)
        await wait_until(lambda: len(handler.seen) == 7)
        await say(fake, first, 3, start=5)
        consumer.notify(fake.kf._issue_sync_token(), first)
        consumer.notify(fake.kf._issue_sync_token(), first)  # a second callback: no repeat
        await wait_until(lambda: len(handler.seen) == 10)
        await asyncio.sleep(0.05)
    assert [m for m in handler.seen if m in msgids(fake, first)] == msgids(fake, first)
    assert [m for m in handler.seen if m in msgids(fake, second)] == msgids(fake, second)
    assert len(handler.seen) == len(set(handler.seen)) == 10


@pytest.mark.asyncio
async def test_notify_before_start_is_pulled_on_start() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 3)
    handler = Recorder()
    async with kf_on(fake) as kf:
        consumer = KfConsumer(kf, handler)
        consumer.notify("", open_kfid)
        async with consumer:
            await wait_until(lambda: len(handler.seen) == 3)
    assert handler.seen == msgids(fake, open_kfid)


@pytest.mark.asyncio
async def test_an_expired_token_falls_back_to_pulling_without_one() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 2)
    handler = Recorder()
    async with kf_on(fake) as kf, KfConsumer(kf, handler) as consumer:
        consumer.notify("ENC_not_issued_by_the_fake", open_kfid)
        await wait_until(lambda: len(handler.seen) == 2)
    assert handler.seen == msgids(fake, open_kfid)


@pytest.mark.asyncio
async def test_polled_open_kfids_are_pulled_without_callbacks() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    handler = Recorder()
    async with (
        kf_on(fake) as kf,
        KfConsumer(kf, handler, open_kfids=[open_kfid], poll_interval=0.05),
    ):
        await say(fake, open_kfid, 2)
        await wait_until(lambda: len(handler.seen) == 2)
        await say(fake, open_kfid, 1, start=2)
        await wait_until(lambda: len(handler.seen) == 3)
    assert handler.seen == msgids(fake, open_kfid)


@pytest.mark.asyncio
async def test_failures_are_retried_then_dead_lettered_in_order() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 4)
    ids = msgids(fake, open_kfid)
    attempts: list[str] = []
    dead: list[tuple[str, str]] = []
    events = Events()

    async def handler(message: SyncedMessage) -> None:
        attempts.append(str(message.msgid))
        if message.msgid == ids[1]:
            raise RuntimeError("always")
        if message.msgid == ids[2] and attempts.count(ids[2]) < 3:
            raise RuntimeError("twice")

    async def dead_letter(message: SyncedMessage, exc: BaseException) -> None:
        dead.append((str(message.msgid), str(exc)))

    async with (
        kf_on(fake) as kf,
        KfConsumer(
            kf,
            handler,
            max_attempts=3,
            backoff=no_backoff,
            dead_letter=dead_letter,
            metrics=events,
        ) as consumer,
    ):
        consumer.notify(None, open_kfid)
        await wait_until(lambda: ids[3] in attempts)
        await asyncio.sleep(0.05)
    assert attempts == [ids[0], *[ids[1]] * 3, *[ids[2]] * 3, ids[3]]
    assert dead == [(ids[1], "always")]
    assert len(events.named("consumer_retry")) == 4
    assert [e.fields["msgid"] for e in events.named("consumer_dead_letter")] == [ids[1]]


@pytest.mark.asyncio
async def test_without_a_dead_letter_hook_the_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 2)
    ids = msgids(fake, open_kfid)
    handled: list[str] = []

    async def handler(message: SyncedMessage) -> None:
        if message.msgid == ids[0]:
            raise ValueError("bad message")
        handled.append(str(message.msgid))

    caplog.set_level(logging.ERROR, "wechat_async.consumer")
    async with (
        kf_on(fake) as kf,
        KfConsumer(kf, handler, max_attempts=2, backoff=no_backoff) as consumer,
    ):
        consumer.notify(None, open_kfid)
        await wait_until(lambda: handled == [ids[1]])
    assert any(ids[0] in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.asyncio
async def test_a_sync_msg_failure_is_retried_from_the_same_cursor() -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 3)
    fake.faults.errcode("cgi-bin/kf/sync_msg", -1, times=10)  # beyond the transport's retries
    handler = Recorder()
    async with (
        kf_on(fake) as kf,
        KfConsumer(kf, handler, backoff=Backoff(initial=0.01, jitter=False)) as consumer,
    ):
        consumer.notify(None, open_kfid)
        await wait_until(lambda: len(handler.seen) == 3)
    assert handler.seen == msgids(fake, open_kfid)


def test_bad_settings_are_refused() -> None:
    fake = FakeWeChat()
    service = WeCom(fake.corp_id, fake.corp_secrets[0], transport=fake.transport()).kf
    handler = Recorder()
    for bad in (
        {"max_attempts": 0},
        {"limit": 1001},
        {"limit": "10"},
        {"lease_ttl": 0},
        {"poll_interval": "60"},
        {"prefix": "a{b}"},
    ):
        with pytest.raises(ConfigurationError):
            KfConsumer(service, handler, **bad)


def test_backoff_grows_and_is_capped() -> None:
    backoff = Backoff(initial=1, maximum=5, jitter=False)
    assert [backoff(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]
    assert 0.25 <= Backoff()(1) <= 0.5


# -- Redis ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_cursor_is_kept_in_redis_and_resumed(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 3)
    first, second, events, before = Recorder(), Recorder(), Events(), Events()
    async with kf_on(fake) as kf:
        async with KfConsumer(
            kf, first, redis=redis_client, prefix=redis_prefix, metrics=before
        ) as consumer:
            consumer.notify(None, open_kfid)
            await wait_until(lambda: len(first.seen) == 3)
            await wait_until(lambda: bool(before.named("consumer_commit")))
        cursor = await redis_client.get(state_key(redis_prefix, open_kfid, "cursor"))
        assert cursor is not None
        assert await redis_client.get(state_key(redis_prefix, open_kfid, "lease")) is None
        await say(fake, open_kfid, 2, start=3)
        async with KfConsumer(
            kf, second, redis=redis_client, prefix=redis_prefix, metrics=events
        ) as consumer:
            consumer.notify(None, open_kfid)
            await wait_until(lambda: len(second.seen) == 2)
    assert first.seen + second.seen == msgids(fake, open_kfid)
    # The new instance started after the stored cursor: nothing needed deduplicating.
    assert sum(int(str(e.fields["skipped"])) for e in events.named("consumer_page")) == 0


@pytest.mark.asyncio
async def test_two_consumers_never_handle_the_same_message(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    handled: list[str] = []
    active = {"now": 0, "max": 0}

    async def handler(message: SyncedMessage) -> None:
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await asyncio.sleep(0.005)
        handled.append(str(message.msgid))
        active["now"] -= 1

    async with kf_on(fake) as kf:

        def make() -> KfConsumer:
            return KfConsumer(kf, handler, redis=redis_client, prefix=redis_prefix, limit=3)

        async with make() as a, make() as b:
            for n in range(12):
                await say(fake, open_kfid, 1, start=n)
                (a if n % 2 else b).notify(fake.kf._issue_sync_token(), open_kfid)
                (b if n % 3 else a).notify(None, open_kfid)
            await wait_until(lambda: len(handled) >= 12)
            await asyncio.sleep(0.1)
    assert handled == msgids(fake, open_kfid)
    assert active["max"] == 1


@pytest.mark.asyncio
async def test_another_consumer_takes_over_a_dead_holders_lease(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 4)
    ids = msgids(fake, open_kfid)
    stuck = asyncio.Event()
    by_a: list[str] = []

    async def hangs_on_the_second(message: SyncedMessage) -> None:
        if message.msgid == ids[1]:
            stuck.set()
            await asyncio.Event().wait()  # until cancelled
        by_a.append(str(message.msgid))

    b_handler = Recorder()
    ttl = 0.6
    async with kf_on(fake) as kf:
        a = KfConsumer(
            kf, hangs_on_the_second, redis=redis_client, prefix=redis_prefix, lease_ttl=ttl
        )
        async with (
            a,
            KfConsumer(kf, b_handler, redis=redis_client, prefix=redis_prefix, lease_ttl=ttl) as b,
        ):
            a.notify(None, open_kfid)
            async with asyncio.timeout(5):
                await stuck.wait()
            b.notify(None, open_kfid)
            await asyncio.sleep(ttl * 1.5)  # A renews: B must wait
            assert b_handler.seen == []
            lease = state_key(redis_prefix, open_kfid, "lease")
            assert await redis_client.get(lease) is not None

            async def dies_holding_the_lease(open_kfid: str, owner: str) -> None:
                pass

            a._state.release = dies_holding_the_lease  # type: ignore[method-assign]
            a._tasks[open_kfid].cancel()  # no renewal, no release: as if the process died
            waited = await wait_until(lambda: len(b_handler.seen) == 3)
    assert by_a == ids[:1]
    assert b_handler.seen == ids[1:]  # the first was marked by A: deduplicated
    assert waited < ttl + 1.5


@pytest.mark.asyncio
async def test_a_crash_before_the_commit_does_not_repeat_handled_messages(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 3)
    first, second, events = Recorder(), Recorder(), Events()
    async with kf_on(fake) as kf:
        crashing = KfConsumer(kf, first, redis=redis_client, prefix=redis_prefix)
        committed = asyncio.Event()

        async def crash_instead_of_committing(
            open_kfid: str,  # noqa: ARG001 - the signature it replaces
            owner: str,  # noqa: ARG001
            cursor: str,  # noqa: ARG001
            msgids: Sequence[str],  # noqa: ARG001
        ) -> bool:
            committed.set()
            await asyncio.Event().wait()  # killed here: never returns
            return True

        crashing._state.commit = crash_instead_of_committing  # type: ignore[method-assign]
        async with crashing:
            crashing.notify(None, open_kfid)
            async with asyncio.timeout(5):
                await committed.wait()
        assert await redis_client.get(state_key(redis_prefix, open_kfid, "cursor")) is None
        async with KfConsumer(
            kf, second, redis=redis_client, prefix=redis_prefix, metrics=events
        ) as consumer:
            consumer.notify(None, open_kfid)
            await wait_until(lambda: bool(events.named("consumer_commit")))
        assert await redis_client.get(state_key(redis_prefix, open_kfid, "cursor")) is not None
    assert first.seen == msgids(fake, open_kfid)
    assert second.seen == []
    assert [e.fields["skipped"] for e in events.named("consumer_page")] == [3]


@pytest.mark.asyncio
async def test_a_lost_lease_stops_the_pull_and_fences_the_commit(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 2)
    gate = asyncio.Event()
    events = Events()
    handled: list[str] = []

    async def slow(message: SyncedMessage) -> None:
        await gate.wait()
        handled.append(str(message.msgid))

    lease = state_key(redis_prefix, open_kfid, "lease")
    async with (
        kf_on(fake) as kf,
        KfConsumer(
            kf, slow, redis=redis_client, prefix=redis_prefix, lease_ttl=0.3, metrics=events
        ) as consumer,
    ):
        consumer.notify(None, open_kfid)
        await wait_until(lambda: bool(events.named("consumer_lease_acquired")))
        await redis_client.set(lease, "someone-else", px=60_000)  # taken from under us
        await wait_until(lambda: bool(events.named("consumer_lease_lost")))
        gate.set()
        await asyncio.sleep(0.2)
        assert await redis_client.get(state_key(redis_prefix, open_kfid, "cursor")) is None
        assert await redis_client.get(lease) == b"someone-else"  # never released by us
        await redis_client.delete(lease)
        await wait_until(lambda: len(handled) == 2)
    assert handled == msgids(fake, open_kfid)


@pytest.mark.asyncio
async def test_redis_keys_of_one_open_kfid_share_a_hash_tag(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    await say(fake, open_kfid, 1)
    handler = Recorder()
    async with (
        kf_on(fake) as kf,
        KfConsumer(kf, handler, redis=redis_client, prefix=redis_prefix) as consumer,
    ):
        consumer.notify(fake.kf._issue_sync_token(), open_kfid)
        await wait_until(lambda: len(handler.seen) == 1)
        await asyncio.sleep(0.05)
    keys = sorted([k.decode() async for k in redis_client.scan_iter(match=f"{redis_prefix}:*")])
    tag = f"{{kf_consumer:{open_kfid}}}"
    # The commit forgot the page's mark, and with it the (then empty) dedup set.
    assert keys == [f"{redis_prefix}:{tag}:{name}" for name in ("cursor", "token")]
