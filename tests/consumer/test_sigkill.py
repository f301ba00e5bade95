"""The headline fault: a worker killed with SIGKILL mid-batch; another takes over.

FakeWeChat is served by uvicorn on loopback, the workers are separate
processes on the real Redis. Every message must be handled, none twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.examples.conftest import ROOT, Served, serve_in_thread
from wechat_async.testing import FakeWeChat

MESSAGES = 10
LEASE_TTL = 1.0


@pytest.fixture
def served_fake() -> Iterator[tuple[FakeWeChat, Served]]:
    fake = FakeWeChat()
    with serve_in_thread(fake) as served:
        yield fake, served


class Workers:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    async def start(self, name: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.consumer.worker",
            cwd=ROOT,
            env={**os.environ, **self.env, "NAME": name},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.processes[name] = process
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line.strip() == b"ready"
        return process

    async def stop_all(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.kill()
            await asyncio.wait_for(process.wait(), 10)


@pytest_asyncio.fixture
async def workers(
    served_fake: tuple[FakeWeChat, Served], redis_url: str, redis_prefix: str
) -> AsyncIterator[Workers]:
    fake, served = served_fake
    env = {
        "BASE_URL": served.url,
        "REDIS_URL": redis_url,
        "PREFIX": redis_prefix,
        "CORP_ID": fake.corp_id,
        "CORP_SECRET": fake.corp_secrets[0],
        "SLEEP": "0.4",
        "LIMIT": "3",
        "LEASE_TTL": str(LEASE_TTL),
    }
    pool = Workers(env)
    try:
        yield pool
    finally:
        await pool.stop_all()


def _text(entry: bytes | str) -> str:
    return entry.decode() if isinstance(entry, bytes) else entry


async def say_all(fake: FakeWeChat, open_kfid: str) -> list[str]:
    return [await fake.kf.customer_says(open_kfid, "wm_alice", f"#{n}") for n in range(MESSAGES)]


@pytest.mark.asyncio
async def test_sigkill_mid_batch_hands_over_without_loss_or_duplicates(
    served_fake: tuple[FakeWeChat, Served],
    workers: Workers,
    redis_client: Redis,
    redis_prefix: str,
) -> None:
    fake, served = served_fake
    open_kfid = fake.kf.add_account()
    workers.env["OPEN_KFID"] = open_kfid
    sent = await served.call(say_all(fake, open_kfid))
    started_key = f"{redis_prefix}:worker:started"
    handled_key = f"{redis_prefix}:worker:handled"

    async def started() -> list[str]:
        return [_text(entry) for entry in await redis_client.lrange(started_key, 0, -1)]

    async def handled() -> list[str]:
        return [_text(entry) for entry in await redis_client.lrange(handled_key, 0, -1)]

    a = await workers.start("A")
    async with asyncio.timeout(20):
        while not await started():  # noqa: ASYNC110 - another process writes the list
            await asyncio.sleep(0.02)
    await workers.start("B")  # polls too, but A holds the lease
    # A has handled and marked 1-3 (page one, committed) and sleeps in the handler of 4.
    async with asyncio.timeout(20):
        while len(await started()) < 4:  # noqa: ASYNC110 - another process writes the list
            await asyncio.sleep(0.01)
    a.send_signal(signal.SIGKILL)
    await asyncio.wait_for(a.wait(), 10)
    before_kill = await started()
    assert all(entry.startswith("A:") for entry in before_kill)
    assert await handled() == sent[:3]

    async with asyncio.timeout(30):
        while len(await handled()) < MESSAGES:  # noqa: ASYNC110 - another process writes the list
            await asyncio.sleep(0.05)
    await asyncio.sleep(LEASE_TTL)  # anything repeated would show up by now
    assert await handled() == sent  # all of them, in order, none twice
    by_b = [entry[2:] for entry in await started() if entry.startswith("B:")]
    assert by_b == sent[3:]  # B resumed at the committed cursor, with the interrupted one
