"""Issue 13, item 6: clear errors from the consumer.

* ``notify`` refuses what no callback carries, as every Kf method does.
* A Redis outage is logged once, naming Redis and its address (redis-py's
  text, not its shortened repr), and its end once; not a line per retry.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests.consumer.helpers import Events, Recorder, kf_on, say, wait_until
from tests.faults.servers import RedisProcess, redis_processes
from wechat_async import InvalidArgumentError, KfConsumer, MemoryConsumerState, WeCom
from wechat_async.consumer import Backoff
from wechat_async.errors import ConfigurationError
from wechat_async.testing import FakeWeChat


def test_notify_refuses_an_empty_or_wrong_argument() -> None:
    fake = FakeWeChat()
    kf = WeCom(fake.corp_id, fake.corp_secrets[0], transport=fake.transport()).kf
    consumer = KfConsumer(kf, Recorder(), state=MemoryConsumerState())
    for token, open_kfid in (("ENC_token", ""), (None, ""), ("ENC", None), ("ENC", 7), (7, "wk")):
        with pytest.raises(InvalidArgumentError):
            consumer.notify(token, open_kfid)  # type: ignore[arg-type]
    consumer.notify("", "wk_ok")  # a callback without a token: fine
    consumer.notify(None, "wk_ok")


def test_only_one_place_for_the_state() -> None:
    fake = FakeWeChat()
    kf = WeCom(fake.corp_id, fake.corp_secrets[0], transport=fake.transport()).kf
    redis = Redis()  # never connects: the arguments are refused first
    memory = MemoryConsumerState()
    for state in (
        {"state": memory, "redis": redis},
        {"state": memory, "state_path": "kf.sqlite3"},
        {"redis": redis, "state_path": "kf.sqlite3"},
        {"state": redis},  # not a ConsumerState
        {"state_path": ""},
        {"shutdown_grace": -1},
    ):
        with pytest.raises(ConfigurationError):
            KfConsumer(kf, Recorder(), **state)
    KfConsumer(kf, Recorder(), shutdown_grace=0, state=memory)


@pytest_asyncio.fixture
async def redis_server() -> AsyncIterator[RedisProcess]:
    with redis_processes(1) as (server,):
        yield server


@pytest.mark.asyncio
async def test_a_redis_outage_is_logged_once_naming_redis_and_its_address(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wechat_async.consumer")
    client = Redis.from_url(
        redis_server.url,
        socket_connect_timeout=0.3,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    handler, events = Recorder(), Events()
    try:
        async with (
            kf_on(fake) as kf,
            KfConsumer(
                kf,
                handler,
                redis=client,
                prefix="wa-test-outage",
                backoff=Backoff(initial=0.02, maximum=0.05),
                metrics=events,
            ) as consumer,
        ):
            ids = await say(fake, open_kfid, 1)
            consumer.notify(fake.kf._issue_sync_token(), open_kfid)
            await wait_until(lambda: handler.seen == ids)
            caplog.clear()

            redis_server.stop()
            ids += await say(fake, open_kfid, 1, start=1)
            consumer.notify(fake.kf._issue_sync_token(), open_kfid)
            await wait_until(lambda: len(events.named("consumer_error")) >= 10)
            during = list(caplog.records)

            redis_server.start()  # the same port, without the data: message 0 comes again
            await wait_until(lambda: ids[1] in handler.seen)
    finally:
        await client.aclose()

    ours = [r for r in caplog.records if r.name == "wechat_async.consumer"]
    warnings = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    [warning] = warnings
    assert f"Redis at 127.0.0.1:{redis_server.port}" in warning
    # redis-py's own text ("Connection closed by server.", "Error 111 connecting to ..."),
    # not its repr; the address comes first, as not every text of redis-py holds it.
    assert "Connection" in warning
    assert "Error(" not in warning
    back = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    assert len(back) == 1
    assert "reaches its state again" in back[0]
    assert f"127.0.0.1:{redis_server.port}" in back[0]
    # Each retry is still an event (for metrics), logged at DEBUG only.
    retries = [r for r in during if "consumer_error" in r.getMessage()]
    assert len(retries) >= 10
    assert {r.levelno for r in retries} == {logging.DEBUG}


@pytest.mark.asyncio
async def test_a_redis_that_stops_answering_is_an_outage_within_state_timeout(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGSTOP: connections are accepted, nothing answers, and the client has no timeout."""
    caplog.set_level(logging.DEBUG, logger="wechat_async.consumer")
    assert redis_server.process is not None
    pid = redis_server.process.pid
    client = Redis.from_url(redis_server.url)  # no socket timeout: the bound must be ours
    fake = FakeWeChat()
    open_kfid = fake.kf.add_account()
    handler = Recorder()
    try:
        async with (
            kf_on(fake) as kf,
            KfConsumer(
                kf,
                handler,
                redis=client,
                prefix="wa-test-hung",
                state_timeout=0.3,
                shutdown_grace=0.5,
                backoff=Backoff(initial=0.02, maximum=0.05),
            ) as consumer,
        ):
            ids = await say(fake, open_kfid, 1)
            os.kill(pid, signal.SIGSTOP)
            try:
                consumer.notify(fake.kf._issue_sync_token(), open_kfid)
                await wait_until(
                    lambda: any(r.levelno >= logging.WARNING for r in caplog.records),
                    timeout=3,
                )
                assert handler.seen == []
            finally:
                os.kill(pid, signal.SIGCONT)
            await wait_until(lambda: handler.seen == ids, timeout=10)
            closing = time.monotonic()
        assert time.monotonic() - closing < 5
    finally:
        await client.aclose()

    ours = [r for r in caplog.records if r.name == "wechat_async.consumer"]
    [warning] = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
    assert f"127.0.0.1:{redis_server.port}" in warning
    assert "did not answer within 0.3s" in warning
    assert any("reaches its state again" in r.getMessage() for r in ours)
    assert handler.seen == ids  # handled once, after Redis answered again
