"""Token promises at their edges: the last minutes of a token's life, odd expires_in, a hung store.

Each test drives the boundary where the promise used to break: FakeWeChat's
clock moved to just before a token's expiry, replies whose expires_in is not a
sane number, and a private redis-server stopped with SIGSTOP (it accepts
connections but never answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from tests.redis_server import throwaway_redis
from tests.tokens.fakes import FAST, CountingToken
from wechat_async.errors import (
    ConfigurationError,
    InvalidResponseError,
    TokenUnavailableError,
)
from wechat_async.testing import FakeWeChat
from wechat_async.testing.fake import TOKEN_LIFE
from wechat_async.tokens import (
    MemoryTokenStore,
    RedisTokenStore,
    RefreshSettings,
    StableAccessToken,
    WorkAccessToken,
)
from wechat_async.tokens.refreshing import RefreshingToken
from wechat_async.tokens.store import StoredToken, TokenStore
from wechat_async.transport import Host, Hosts, RetryPolicy, Transport

pytestmark = pytest.mark.asyncio

GETTOKEN = "cgi-bin/gettoken"
STABLE = "cgi-bin/stable_token"


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def make_store(
    store_kind: str, redis_client: Redis, redis_prefix: str
) -> Callable[[], TokenStore]:
    """Stores of one kind that share their tokens, as processes on one Redis would."""
    memory = MemoryTokenStore()

    def make() -> TokenStore:
        if store_kind == "memory":
            return memory
        return RedisTokenStore(redis_client, prefix=redis_prefix)

    return make


async def steady_gets(provider: RefreshingToken, seconds: float) -> set[str]:
    """Call get() as a busy app would for ``seconds``; return the tokens handed out."""
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.add(await provider.get())
        await asyncio.sleep(0.001)
    return seen


# -- 1. no refresh storm at the end of a token's life --------------------------------------


async def test_gettoken_200s_before_expiry_is_fetched_once_not_per_get(
    make_store: Callable[[], TokenStore],
) -> None:
    fake = FakeWeChat()
    secret = fake.corp_secrets[0]
    issued = fake.tokens.work(secret)
    fake.clock.advance(TOKEN_LIFE - 200)  # the token has 200 s left: inside the 300 s margin
    async with fake.transport() as transport:
        provider = WorkAccessToken(
            fake.corp_id, secret, transport=transport, store=make_store(), settings=FAST
        )
        seen = await steady_gets(provider, 2.0)
    assert seen == {issued.value}  # gettoken answers the live token; it is the one used
    assert fake.fetches[GETTOKEN] <= 2


async def test_processes_sharing_a_store_agree_on_the_next_refresh(
    make_store: Callable[[], TokenStore],
) -> None:
    fake = FakeWeChat()
    secret = fake.corp_secrets[0]
    fake.tokens.work(secret)
    fake.clock.advance(TOKEN_LIFE - 200)
    async with fake.transport() as transport:
        providers = [
            WorkAccessToken(
                fake.corp_id, secret, transport=transport, store=make_store(), settings=FAST
            )
            for _ in range(3)
        ]
        await asyncio.gather(*(steady_gets(provider, 2.0) for provider in providers))
    # One fetch decides when the next one is due, and the store tells the others.
    assert fake.fetches[GETTOKEN] <= 2


async def test_stable_token_with_a_wide_margin_is_not_refetched_per_get(
    make_store: Callable[[], TokenStore],
) -> None:
    fake = FakeWeChat()
    issued = fake.tokens.stable(force=False)
    # 500 s left: inside a 600 s margin, outside the 5 minutes in which WeChat renews.
    fake.clock.advance(TOKEN_LIFE - 500)
    settings = RefreshSettings(
        refresh_margin=600, fetch_timeout=2, lock_ttl=3, wait_timeout=6, store_timeout=0.5
    )
    async with fake.transport() as transport:
        provider = StableAccessToken(
            fake.appid, fake.secret, transport=transport, store=make_store(), settings=settings
        )
        seen = await steady_gets(provider, 2.0)
    assert seen == {issued.value}
    assert fake.fetches[STABLE] <= 2


async def test_expires_in_below_the_safety_margin_is_used_not_refetched_per_get(
    make_store: Callable[[], TokenStore],
) -> None:
    fake = FakeWeChat()
    secret = fake.corp_secrets[0]
    issued = fake.tokens.work(secret)
    fake.clock.advance(TOKEN_LIFE - 20)  # 20 s left: below the 30 s expiry_safety
    async with fake.transport() as transport:
        provider = WorkAccessToken(
            fake.corp_id, secret, transport=transport, store=make_store(), settings=FAST
        )
        seen = await steady_gets(provider, 2.0)
    assert seen == {issued.value}
    fake.tokens.check(Host.WORK, issued.value)  # still live at WeChat: using it was right
    assert fake.fetches[GETTOKEN] == 1


async def test_the_next_token_is_fetched_once_the_short_one_runs_out() -> None:
    provider = CountingToken(expires_in=1.5)  # WeChat's answer: 1.5 s to live
    assert await provider.get() == "tok-1"
    provider.expires_in = 7200.0
    await asyncio.sleep(1.6)
    assert await provider.get() == "tok-2"
    assert provider.fetches == 2


async def test_a_fresh_token_still_refreshes_ahead_once() -> None:
    """The storm fix must not turn refresh-ahead off for a token with a normal life."""
    provider = CountingToken(expires_in=300.4)  # due for refresh ahead in 0.4 s
    assert await provider.get() == "tok-1"
    provider.expires_in = 7200.0
    await asyncio.sleep(0.5)
    for _ in range(200):
        assert await provider.get() in {"tok-1", "tok-2"}
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert await provider.get() == "tok-2"
    assert provider.fetches == 2


async def test_the_same_token_handed_back_early_gets_no_refresh_ahead() -> None:
    provider = CountingToken(expires_in=300.3)  # due for refresh ahead in 0.3 s
    provider.repeat_value = "same"
    assert await provider.get() == "same"
    await asyncio.sleep(0.35)
    assert await provider.get() == "same"  # starts the refresh ahead
    await asyncio.sleep(0.01)
    assert provider.fetches == 2
    # It brought the same token back: asking again before it runs out is useless.
    again = provider._l1
    assert again is not None
    assert again.refresh_at == again.use_until
    assert again.use_until == pytest.approx(again.expires_at - FAST.expiry_safety)
    for _ in range(100):
        await provider.get()
        await asyncio.sleep(0)
    assert provider.fetches == 2


# -- 2. expires_in is validated -------------------------------------------------------------


HOSTS = Hosts(official="https://official.test", work="https://work.test", official_standby=())


@pytest.mark.parametrize(
    "expires_in",
    [
        b"Infinity",
        b"-Infinity",
        b"NaN",
        b"1e400",
        b"1" + b"0" * 400,
        b'"7200"',
        b"0",
        b"0.5",
        b"-7200",
        b"86401",
        b"true",
        b"null",
        b"[7200]",
    ],
)
async def test_an_insane_expires_in_is_an_invalid_response(
    expires_in: bytes, make_store: Callable[[], TokenStore]
) -> None:
    body = b'{"errcode":0,"errmsg":"ok","access_token":"WT-1","expires_in":' + expires_in + b"}"

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait(1)) as transport:
        provider = WorkAccessToken(
            "corp", "secret", transport=transport, store=make_store(), settings=FAST
        )
        with pytest.raises(InvalidResponseError) as info:
            await provider.get()
    assert "expires_in" in str(info.value) or "JSON" in str(info.value)
    await client.aclose()


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
async def test_replies_with_non_json_numbers_are_refused(constant: bytes) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"errcode":0,"total":' + constant + b"}")

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait(1)) as transport:
        with pytest.raises(InvalidResponseError, match="not JSON"):
            await transport.request("GET", "cgi-bin/anything", host=Host.WORK)
    await client.aclose()


async def test_deeply_nested_reply_is_an_invalid_response() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" * 200_000)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait(1)) as transport:
        with pytest.raises(InvalidResponseError):
            await transport.request("GET", "cgi-bin/anything", host=Host.WORK)
    await client.aclose()


async def test_a_damaged_stored_expiry_reads_as_no_token(
    redis_client: Redis, redis_prefix: str
) -> None:
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    provider = CountingToken(store=store)
    await redis_client.hset(
        store.token_key(provider.key), mapping={"value": "x", "expires_at": "inf"}
    )
    assert await store.load(provider.key) is None
    assert await provider.get() == "tok-1"  # replaced by a fetched token, not an error


# -- 5. every wait is bounded, including on a Redis that stops answering ---------------------


@pytest.fixture
def stopped_redis() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A private redis-server, with functions that SIGSTOP and SIGCONT it."""
    with throwaway_redis() as (url, process):

        def stop() -> None:
            os.kill(process.pid, signal.SIGSTOP)

        def resume() -> None:
            os.kill(process.pid, signal.SIGCONT)

        try:
            yield url, stop, resume
        finally:
            resume()


STORE_TIMEOUT = 0.3
HUNG = RefreshSettings(
    l1_ttl=0.05,
    fetch_timeout=1.0,
    lock_ttl=2.0,
    wait_timeout=3.0,
    store_timeout=STORE_TIMEOUT,
    poll_initial=0.01,
    poll_max=0.05,
)
SLACK = 1.0


@contextlib.asynccontextmanager
async def hung_client(url: str) -> AsyncIterator[Redis]:
    # No socket timeout on purpose: the bound must come from wechat_async, not the client.
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.aclose(), 2)


async def timed(awaitable: Any) -> tuple[Any, float]:
    started = time.monotonic()
    # The outer bound only keeps a regression from hanging the suite.
    result = await asyncio.wait_for(awaitable, 15)
    return result, time.monotonic() - started


async def test_cold_get_on_a_hung_redis_ends_with_a_process_local_token(
    stopped_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    url, stop, _ = stopped_redis
    async with hung_client(url) as client:
        await client.ping()  # a connection in the pool, as in a running app
        provider = CountingToken(store=RedisTokenStore(client, prefix="hung"), settings=HUNG)
        stop()
        token, took = await timed(provider.get())
    assert token == "tok-1"
    assert provider.fetches == 1
    assert took < HUNG.wait_timeout + SLACK


async def test_strict_get_on_a_hung_redis_raises_within_the_bound(
    stopped_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    url, stop, _ = stopped_redis
    strict = dataclasses.replace(HUNG, strict=True)
    async with hung_client(url) as client:
        await client.ping()
        provider = CountingToken(store=RedisTokenStore(client, prefix="hung"), settings=strict)
        stop()
        started = time.monotonic()
        with pytest.raises(TokenUnavailableError, match="unavailable"):
            await asyncio.wait_for(provider.get(), 15)
    assert time.monotonic() - started < STORE_TIMEOUT + SLACK
    assert provider.fetches == 0


async def test_a_redis_that_hangs_mid_life_keeps_serving_the_held_token(
    stopped_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    url, stop, resume = stopped_redis
    async with hung_client(url) as client:
        provider = CountingToken(store=RedisTokenStore(client, prefix="hung"), settings=HUNG)
        assert await provider.get() == "tok-1"
        stop()
        await asyncio.sleep(HUNG.l1_ttl * 2)  # the in-process copy wants a store re-read
        for _ in range(20):
            token, took = await timed(provider.get())
            assert token == "tok-1"
            assert took < 0.1  # served at once while the re-read waits in the background
        await asyncio.sleep(STORE_TIMEOUT + 0.2)
        # The token expires while Redis still hangs: the next one comes within the bound.
        now = time.time()
        provider._l1 = StoredToken("tok-1", now + 10, now - 1, now - 1)
        provider._l1_usable_until = 0.0
        provider.expires_in = 7200.0
        token, took = await timed(provider.get())
        assert token == "tok-2"
        assert took < HUNG.wait_timeout + SLACK
        resume()
    assert provider.fetches == 2


async def test_invalidate_on_a_hung_redis_returns_within_the_bound(
    stopped_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    url, stop, _ = stopped_redis
    async with hung_client(url) as client:
        provider = CountingToken(store=RedisTokenStore(client, prefix="hung"), settings=HUNG)
        token = await provider.get()
        stop()
        _, took = await timed(provider.invalidate(token))
    assert took < STORE_TIMEOUT + SLACK


@pytest.mark.parametrize(
    "options",
    [
        {"fetch_timeout": 15, "lock_ttl": 16, "store_timeout": 1},  # 15 + 2 > 16
        {"fetch_timeout": 1, "lock_ttl": 2, "wait_timeout": 3, "store_timeout": 0.6},
    ],
)
async def test_settings_refuse_a_lease_that_cannot_cover_the_store_round_trips(
    options: dict[str, float],
) -> None:
    with pytest.raises(ConfigurationError, match="store_timeout"):
        RefreshSettings(**options)  # type: ignore[arg-type]
