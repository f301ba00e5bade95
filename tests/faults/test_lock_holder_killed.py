"""The process holding the refresh lease dies (SIGKILL) mid-fetch: others take over in time.

Timeline, with the fake answering token fetches after LATENCY seconds:

* t0: the worker process takes the lease (lock_ttl = WORKER_LOCK_TTL) and its
  GET cgi-bin/token reaches the fake (``fake.fetches`` == 1); it is SIGKILLed.
  Its lease stays in Redis (nobody releases it) until the TTL lapses.
* Survivors in this process find no token, see the lease and poll; the one
  whose acquire succeeds after the lapse fetches (``fake.fetches`` == 2). The
  rest wait for it, as does any provider that arrives later.
* The killed fetch is still served by the fake (its handler was already
  running; uvicorn does not cancel it when the client socket goes away), so
  the fake issues two tokens; the killed worker's never reaches anyone.

So "exactly one completed fetch is used": two fetches started, every
provider holds the token of the takeover fetch, Redis holds it, and no third
fetch happens.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from redis.asyncio import Redis

from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import AccessToken, RefreshSettings
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import Host, RetryPolicy, Transport

from .servers import ROOT, serve

LATENCY = 3.0
WORKER_LOCK_TTL = 1.0
TOKEN_PATH = "cgi-bin/token"


async def wait_until(predicate: object, timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_killed_lease_holder_is_taken_over_after_the_lease_lapses(
    redis_url: str, redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeWeChat(token_latency=LATENCY)
    with serve(fake) as base_url:
        worker_settings = {
            # The lease covers the fetch and two store round trips.
            "fetch_timeout": WORKER_LOCK_TTL - 0.2,
            "lock_ttl": WORKER_LOCK_TTL,
            "wait_timeout": WORKER_LOCK_TTL * 2,
            "store_timeout": 0.1,
        }
        config = {
            "base_url": base_url,
            "redis_url": redis_url,
            "prefix": redis_prefix,
            "appid": fake.appid,
            "secret": fake.secret,
            "settings": worker_settings,
        }
        async with Transport(
            hosts=fake.hosts(base_url), retry=RetryPolicy.no_wait(1), timeout=30
        ) as transport:
            store = RedisTokenStore(redis_client, prefix=redis_prefix)
            settings = RefreshSettings(
                fetch_timeout=LATENCY + 2, lock_ttl=LATENCY + 3, wait_timeout=15, store_timeout=0.5
            )

            def survivor() -> AccessToken:
                return AccessToken(
                    fake.appid, fake.secret, transport=transport, store=store, settings=settings
                )

            first = survivor()
            lock_key = store.lock_key(first.key)
            worker = subprocess.Popen(  # noqa: S603, ASYNC220 - our own worker; killed by pid below
                [sys.executable, "-m", "tests.faults.lock_worker", json.dumps(config)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            try:

                async def fetching() -> bool:
                    assert worker.poll() is None, worker.communicate()[1].decode()
                    return fake.fetches[TOKEN_PATH] == 1

                async def lease_held() -> bool:
                    return int(await redis_client.pttl(lock_key)) > 0

                await wait_until(fetching, 15, "the worker's fetch")
                await wait_until(lease_held, 1, "the worker's lease")
                os.kill(worker.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                worker.wait(timeout=10)
            finally:
                if worker.poll() is None:
                    worker.kill()
                worker.communicate(timeout=10)
            assert worker.returncode == -signal.SIGKILL
            orphan_ttl = int(await redis_client.pttl(lock_key)) / 1000
            assert 0 < orphan_ttl <= WORKER_LOCK_TTL  # nobody released the dead holder's lease

            # Two survivor providers (two "processes" sharing Redis) ask at once.
            second = survivor()
            tokens = await asyncio.wait_for(
                asyncio.gather(first.get(), second.get(), first.get()), timeout=15
            )
            took = time.monotonic() - killed_at
            assert len(set(tokens)) == 1, tokens
            token = tokens[0]
            # They waited for the lapse, then for one full fetch, and no more.
            assert orphan_ttl + LATENCY - 0.2 < took < orphan_ttl + LATENCY + 3

            assert fake.fetches[TOKEN_PATH] == 2  # the killed fetch and the takeover
            fake.tokens.check(Host.OFFICIAL, token)  # live at the fake
            stored = await store.load(first.key)
            assert stored is not None
            assert stored.value == token
            assert int(await redis_client.exists(lock_key)) == 0  # the takeover released

            # A provider that arrives later reuses it: no third fetch.
            assert await survivor().get() == token
            assert fake.fetches[TOKEN_PATH] == 2
