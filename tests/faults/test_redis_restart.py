"""Redis dies and comes back on the same port, during use and during a token fetch.

What "nothing lost" means here, for a non-strict provider:

* no caller ever gets an error: while Redis is down every call still gets a
  token the fake accepts, and exactly one warning says so;
* the token the process already holds is kept while Redis is down: no
  upstream fetch happens for the outage itself (a fetch would rotate a
  cgi-bin/token and cut every other process's copy to 5 minutes);
* a token fetched while Redis dies under the fetch is kept too, not fetched
  a second time;
* once Redis is back, tokens are shared through it again: the provider
  publishes one (single-flight) and a fresh provider with no local copy gets
  exactly that token with no upstream fetch. A Redis restarted without
  persistence has lost its keys, so publishing costs exactly one fetch; one
  restarted with its append-only file keeps the token and costs none.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import AccessToken, RefreshSettings
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import RetryPolicy, Transport

from .servers import RedisProcess, redis_processes

TOKEN_PATH = "cgi-bin/token"
API_PATH = "cgi-bin/customservice/getkflist"
L1_TTL = 0.05
SETTINGS = RefreshSettings(
    l1_ttl=L1_TTL, fetch_timeout=2, lock_ttl=3, wait_timeout=5, store_timeout=0.5
)
PERSISTENCE = {
    "volatile": (),
    "persistent": ("--appendonly", "yes", "--appendfsync", "always"),
}


class Rig:
    def __init__(self, server: RedisProcess, fake: FakeWeChat, transport: Transport) -> None:
        self.server = server
        self.fake = fake
        self.transport = transport
        # No client-side retries: a dead Redis must show at once, not after backoff.
        self.redis = Redis.from_url(
            server.url, socket_connect_timeout=0.3, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        self.store = RedisTokenStore(self.redis, prefix="wa-fault-restart")

    def provider(self) -> AccessToken:
        return AccessToken(
            self.fake.appid,
            self.fake.secret,
            transport=self.transport,
            store=self.store,
            settings=SETTINGS,
        )

    async def call(self, token: AccessToken) -> None:
        """A real API call the fake only answers with a live token."""
        await self.transport.request("GET", API_PATH, token=token)

    async def stored(self, key: str) -> str | None:
        try:
            token = await self.store.load(key)
        except Exception:  # noqa: BLE001 - a stale pooled connection right after the restart
            return None
        return None if token is None else token.value


@pytest.fixture(params=sorted(PERSISTENCE))
def redis_server(request: pytest.FixtureRequest) -> Iterator[tuple[RedisProcess, bool]]:
    with redis_processes(1, *PERSISTENCE[request.param]) as (server,):
        yield server, request.param == "persistent"


@pytest_asyncio.fixture
async def rig(redis_server: tuple[RedisProcess, bool]) -> AsyncIterator[Rig]:
    fake = FakeWeChat()
    async with fake.client() as client:
        transport = Transport(client, hosts=fake.hosts(), retry=RetryPolicy.no_wait(1))
        rig = Rig(redis_server[0], fake, transport)
        try:
            yield rig
        finally:
            await rig.redis.aclose()


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "wechat_async.tokens" and r.levelno >= logging.WARNING
    ]


async def until_shared(rig: Rig, provider: AccessToken) -> str:
    """Use ``provider`` until Redis holds its current token again; return that token."""
    deadline = time.monotonic() + 5
    while True:
        await rig.call(provider)
        await asyncio.sleep(L1_TTL)
        current = await provider.get()
        if await rig.stored(provider.key) == current:
            return current
        assert time.monotonic() < deadline, "the token was never shared again"


@pytest.mark.asyncio
async def test_redis_restart_during_use(
    rig: Rig, redis_server: tuple[RedisProcess, bool], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wechat_async.tokens")
    persistent = redis_server[1]
    first = rig.provider()
    token = await first.get()
    assert rig.fake.fetches[TOKEN_PATH] == 1
    assert await rig.provider().get() == token  # shared through Redis
    assert rig.fake.fetches[TOKEN_PATH] == 1

    rig.server.stop()
    for _ in range(10):  # past l1_ttl each time: every round tries Redis again
        await rig.call(first)
        assert await first.get() == token
        await asyncio.sleep(L1_TTL)
    assert rig.fake.fetches[TOKEN_PATH] == 1  # the outage itself fetched nothing
    assert len(outage_warnings(caplog)) == 1, outage_warnings(caplog)
    assert "token store unavailable" in outage_warnings(caplog)[0]

    rig.server.start()  # the same port, so the same client reconnects
    shared = await until_shared(rig, first)
    # Volatile Redis lost the token: one fetch publishes a new one. Persistent: none.
    assert rig.fake.fetches[TOKEN_PATH] == (1 if persistent else 2)
    assert (shared == token) is persistent
    assert any("reachable again" in r.getMessage() for r in caplog.records)

    # A provider with no local copy (a new process) gets it without a fetch.
    fresh = rig.provider()
    assert await fresh.get() == shared
    await rig.call(fresh)
    assert rig.fake.fetches[TOKEN_PATH] == (1 if persistent else 2)
    assert len(outage_warnings(caplog)) == 1


@pytest.mark.asyncio
async def test_redis_dies_during_the_fetch(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wechat_async.tokens")
    rig.fake.token_latency = 0.3
    first = rig.provider()
    pending = asyncio.create_task(first.get())
    deadline = time.monotonic() + 5
    while rig.fake.fetches[TOKEN_PATH] == 0:  # the lease is taken, the fetch under way
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    rig.server.stop()
    token = await asyncio.wait_for(pending, timeout=5)
    await rig.call(first)
    # The token fetched while Redis died is kept, not fetched again.
    assert rig.fake.fetches[TOKEN_PATH] == 1
    assert len(outage_warnings(caplog)) == 1, outage_warnings(caplog)

    rig.fake.token_latency = 0.0
    rig.server.start()
    # Redis never got the token (the fenced save failed), so sharing it again costs
    # one fetch whether or not Redis persists.
    shared = await until_shared(rig, first)
    assert rig.fake.fetches[TOKEN_PATH] == 2
    assert shared != token
    assert await rig.provider().get() == shared
    assert rig.fake.fetches[TOKEN_PATH] == 2
