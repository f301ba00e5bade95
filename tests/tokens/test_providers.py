"""The token providers through the real Transport, on mocked and emulated upstreams."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.tokens.fakes import FAST
from wechat_async.errors import (
    InvalidArgumentError,
    InvalidCredentialError,
    InvalidResponseError,
    InvalidTokenError,
    TokenUnavailableError,
)
from wechat_async.testing import TokenServer
from wechat_async.tokens import (
    AccessToken,
    MemoryTokenStore,
    StableAccessToken,
    StaticToken,
    TokenProvider,
    WorkAccessToken,
)
from wechat_async.transport import Host, Hosts, RetryPolicy, Transport

pytestmark = pytest.mark.asyncio

SECRET = "s3cr3t-app-secret-value"
CORP_SECRET = "c0rp-s3cr3t-value"
HOSTS = Hosts(official="https://official.test", work="https://work.test", official_standby=())


def transport_for(handler: Callable[[httpx.Request], httpx.Response]) -> Transport:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait())


def ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


async def test_access_token_fetch_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok({"access_token": "AT-1", "expires_in": 7200})

    provider = AccessToken("wx123", SECRET, transport=transport_for(handler), settings=FAST)
    assert await provider.get() == "AT-1"
    (request,) = seen
    assert request.method == "GET"
    assert request.url.host == "official.test"
    assert request.url.path == "/cgi-bin/token"
    assert dict(request.url.params) == {
        "grant_type": "client_credential",
        "appid": "wx123",
        "secret": SECRET,
    }


async def test_stable_token_fetch_shape() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.url.path == "/cgi-bin/stable_token"
        seen.append(json.loads(request.content))
        return ok({"access_token": "ST-1", "expires_in": 7200})

    provider = StableAccessToken("wx123", SECRET, transport=transport_for(handler), settings=FAST)
    assert await provider.get() == "ST-1"
    assert seen == [
        {
            "grant_type": "client_credential",
            "appid": "wx123",
            "secret": SECRET,
            "force_refresh": False,
        }
    ]


async def test_work_token_fetch_shape_and_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok({"errcode": 0, "errmsg": "ok", "access_token": "WT-1", "expires_in": 7200})

    provider = WorkAccessToken("ww1", CORP_SECRET, transport=transport_for(handler), settings=FAST)
    other = WorkAccessToken("ww1", "another-secret", transport=transport_for(handler))
    assert await provider.get() == "WT-1"
    assert seen[0].url.host == "work.test"
    assert seen[0].url.path == "/cgi-bin/gettoken"
    assert dict(seen[0].url.params) == {"corpid": "ww1", "corpsecret": CORP_SECRET}
    assert CORP_SECRET not in provider.key
    assert provider.key != other.key  # two apps of one corp never share a token
    assert CORP_SECRET not in repr(provider)


@pytest.mark.parametrize(
    "body",
    [
        {"expires_in": 7200},
        {"access_token": "", "expires_in": 7200},
        {"access_token": 5, "expires_in": 7200},
        {"access_token": "x"},
        {"access_token": "x", "expires_in": 0},
        {"access_token": "x", "expires_in": True},
        {"access_token": "x", "expires_in": "7200"},
    ],
)
async def test_malformed_token_replies(body: dict[str, Any]) -> None:
    provider = AccessToken(
        "wx1", SECRET, transport=transport_for(lambda _: ok(body)), settings=FAST
    )
    with pytest.raises(InvalidResponseError):
        await provider.get()


async def test_bad_secret_reaches_every_caller_once() -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return ok({"errcode": 40125, "errmsg": "invalid appsecret"})

    provider = AccessToken("wx1", SECRET, transport=transport_for(handler), settings=FAST)
    results = await asyncio.gather(*(provider.get() for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, InvalidCredentialError) for r in results)
    assert calls == 1
    assert all(SECRET not in str(r) for r in results)


async def test_stable_token_forces_refresh_only_after_a_confirmed_rejection() -> None:
    bodies: list[dict[str, Any]] = []
    current = {"token": "ST-1"}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if body["force_refresh"]:
            current["token"] = f"ST-{len(bodies)}"
        return ok({"access_token": current["token"], "expires_in": 7200})

    provider = StableAccessToken("wx1", SECRET, transport=transport_for(handler), settings=FAST)
    assert await provider.get() == "ST-1"
    await provider.invalidate("ST-1")
    fresh = await provider.get()
    assert fresh != "ST-1"
    assert [b["force_refresh"] for b in bodies] == [False, False, True]
    # A second rejection within 30 s may not force again: a clear error instead.
    await provider.invalidate(fresh)
    with pytest.raises(TokenUnavailableError, match="30s"):
        await provider.get()
    assert [b["force_refresh"] for b in bodies] == [False, False, True, False]


async def test_stable_token_normal_mode_is_enough_when_wechat_already_rotated() -> None:
    tokens = iter(["ST-1", "ST-2"])
    forced: list[bool] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forced.append(json.loads(request.content)["force_refresh"])
        return ok({"access_token": next(tokens), "expires_in": 7200})

    provider = StableAccessToken("wx1", SECRET, transport=transport_for(handler), settings=FAST)
    await provider.get()
    await provider.invalidate("ST-1")
    assert await provider.get() == "ST-2"
    assert forced == [False, False]


async def test_work_token_returned_again_after_rejection_is_accepted() -> None:
    # WeCom hands out the same token until it expires; the engine must not loop.
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return ok({"access_token": "WT-same", "expires_in": 7200})

    provider = WorkAccessToken("ww1", CORP_SECRET, transport=transport_for(handler), settings=FAST)
    assert await provider.get() == "WT-same"
    await provider.invalidate("WT-same")
    assert await provider.get() == "WT-same"
    assert await provider.get() == "WT-same"
    assert calls == 2


async def test_static_token() -> None:
    provider = StaticToken("fixed")
    assert isinstance(provider, TokenProvider)
    await provider.invalidate("fixed")
    assert await provider.get() == "fixed"
    assert "fixed" not in repr(provider)


async def emulated(server: TokenServer, store: MemoryTokenStore) -> tuple[Transport, AccessToken]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=server))
    transport = Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait())
    return transport, AccessToken("wx1", SECRET, transport=transport, store=store, settings=FAST)


async def test_rejected_token_is_refetched_once_for_a_crowd_of_calls() -> None:
    server = TokenServer()
    store = MemoryTokenStore()
    transport, provider = await emulated(server, store)
    await transport.request("GET", "cgi-bin/echo", token=provider)
    assert server.fetches == 1
    server.rotate()  # someone else fetched: our cached token is now rejected
    await asyncio.gather(
        *(transport.request("GET", "cgi-bin/echo", token=provider) for _ in range(200))
    )
    assert server.fetches == 2
    assert await provider.get() == server.current


async def test_a_token_that_stays_rejected_raises_instead_of_looping() -> None:
    counts = {"fetch": 0, "api": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            counts["fetch"] += 1
            return ok({"access_token": f"AT-{counts['fetch']}", "expires_in": 7200})
        counts["api"] += 1
        return ok({"errcode": 42001, "errmsg": "access_token expired"})

    provider = AccessToken("wx1", SECRET, transport=transport_for(handler), settings=FAST)
    with pytest.raises(InvalidTokenError):
        await provider._transport.request("GET", "cgi-bin/user/get", token=provider)
    assert counts == {"fetch": 2, "api": 2}  # one replacement token, one re-send, no loop


async def test_no_secret_in_any_log_record_or_error(caplog: pytest.LogCaptureFixture) -> None:
    tokens = iter(["AT-secret-1", "AT-secret-2", "AT-secret-3"])
    mode = {"api": "reject"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            return ok({"access_token": next(tokens), "expires_in": 7200})
        if request.url.path == "/cgi-bin/gettoken":
            return ok({"errcode": 40091, "errmsg": "secret is invalid"})
        if mode["api"] == "reject":
            mode["api"] = "fail"
            return ok({"errcode": 40001, "errmsg": "invalid credential"})
        if mode["api"] == "fail":
            mode["api"] = "ok"
            return httpx.Response(503, text=f"upstream trouble for {request.url}")
        return ok({"errcode": 0})

    transport = Transport(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        hosts=HOSTS,
        retry=RetryPolicy.no_wait(attempts=2),
    )
    provider = AccessToken("wx1", SECRET, transport=transport, settings=FAST)
    work = WorkAccessToken("ww1", CORP_SECRET, transport=transport, settings=FAST)
    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        await transport.request("GET", "cgi-bin/user/get", token=provider)
        try:
            await work.get()
        except InvalidCredentialError as exc:
            errors.append(exc)
        try:
            await transport.request("GET", "cgi-bin/media/get", host=Host.WORK, token=work)
        except InvalidCredentialError as exc:
            errors.append(exc)
    assert len(errors) == 2
    secrets = [SECRET, CORP_SECRET, "AT-secret-1", "AT-secret-2"]
    texts = [caplog.text, *(r.getMessage() for r in caplog.records)]
    for error in errors:
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [repr(provider), repr(work), repr(transport)]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert any("cgi-bin/token" in r.getMessage() for r in caplog.records)  # it did log


@pytest.mark.parametrize("provider", [AccessToken, StableAccessToken, WorkAccessToken])
@pytest.mark.parametrize(
    ("owner_id", "secret", "argument"),
    [("", SECRET, 0), ("  ", SECRET, 0), (None, SECRET, 0), ("wx1", "", 1), ("wx1", b"x", 1)],
)
async def test_an_unusable_id_or_secret_is_refused_when_built(
    provider: type[AccessToken | StableAccessToken | WorkAccessToken],
    owner_id: Any,
    secret: Any,
    argument: int,
) -> None:
    names = ("corp_id", "corp_secret") if provider is WorkAccessToken else ("appid", "secret")
    transport = transport_for(lambda _: httpx.Response(500))
    with pytest.raises(InvalidArgumentError) as caught:
        provider(owner_id, secret, transport=transport)
    assert caught.value.argument == names[argument]
    assert SECRET not in str(caught.value)
