"""FakeWeChat's core: token endpoints, token checks, the clock, faults and routing."""

from __future__ import annotations

import httpx
import pytest

from wechat_async.errors import (
    HTTPStatusError,
    InvalidCredentialError,
    InvalidResponseError,
    InvalidTokenError,
    RateLimitError,
    RequestTimeoutError,
    SystemBusyError,
)
from wechat_async.testing.fake import FakeRequest, FakeWeChat
from wechat_async.tokens import AccessToken, StableAccessToken, StaticToken, WorkAccessToken
from wechat_async.transport import Host, RetryPolicy, Transport

pytestmark = pytest.mark.asyncio


def with_echo(fake: FakeWeChat) -> FakeWeChat:
    """Add one token-checked path per host, as the endpoint families do."""

    @fake.route("GET", Host.OFFICIAL, "cgi-bin/echo")
    async def official(_: FakeRequest) -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok", "host": "official"}

    @fake.route("GET", Host.WORK, "cgi-bin/echo")
    async def work(_: FakeRequest) -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok", "host": "work"}

    return fake


async def raw(fake: FakeWeChat, path: str, **params: str) -> dict[str, object]:
    async with fake.client() as client:
        response = await client.get(f"http://fake.wechat/{path}", params=params)
        return dict(response.json())


async def test_classic_token_rotates_with_a_five_minute_overlap() -> None:
    fake = with_echo(FakeWeChat())
    first = await raw(
        fake, "cgi-bin/token", grant_type="client_credential", appid=fake.appid, secret=fake.secret
    )
    second = await raw(
        fake, "cgi-bin/token", grant_type="client_credential", appid=fake.appid, secret=fake.secret
    )
    assert first["access_token"] != second["access_token"]
    assert first["expires_in"] == 7200
    ok = await raw(fake, "cgi-bin/echo", access_token=str(first["access_token"]))
    assert ok["errcode"] == 0  # still inside the overlap
    fake.clock.advance(301)
    late = await raw(fake, "cgi-bin/echo", access_token=str(first["access_token"]))
    assert late["errcode"] == 42001
    assert (await raw(fake, "cgi-bin/echo", access_token=str(second["access_token"])))[
        "errcode"
    ] == 0
    assert (await raw(fake, "cgi-bin/echo", access_token="nonsense"))["errcode"] == 40001
    assert fake.fetches["cgi-bin/token"] == 2


async def test_tokens_expire_on_the_fake_clock() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    provider = WorkAccessToken(fake.corp_id, fake.corp_secrets[0], transport=transport)
    reply = await transport.request("GET", "cgi-bin/echo", host=Host.WORK, token=provider)
    assert reply["host"] == "work"
    token = await provider.get()
    fake.clock.advance(7201)
    assert (await raw(fake, "qyapi/cgi-bin/echo", access_token=token))["errcode"] == 42001


async def test_gettoken_returns_the_same_token_while_valid() -> None:
    fake = FakeWeChat()
    args = {"corpid": fake.corp_id, "corpsecret": fake.corp_secrets[0]}
    first = await raw(fake, "qyapi/cgi-bin/gettoken", **args)
    second = await raw(fake, "qyapi/cgi-bin/gettoken", **args)
    assert first["access_token"] == second["access_token"]
    fake.clock.advance(7200)
    third = await raw(fake, "qyapi/cgi-bin/gettoken", **args)
    assert third["access_token"] != first["access_token"]
    bad = await raw(fake, "qyapi/cgi-bin/gettoken", corpid=fake.corp_id, corpsecret="wrong")
    assert bad["errcode"] == 40001


async def test_stable_token_normal_force_and_limits() -> None:
    fake = with_echo(FakeWeChat())

    async def stable(force: bool) -> str:
        async with fake.client() as client:
            response = await client.post(
                "http://fake.wechat/cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": fake.appid,
                    "secret": fake.secret,
                    "force_refresh": force,
                },
            )
            return str(response.json()["access_token"])

    first = await stable(False)
    assert await stable(False) == first
    forced = await stable(True)
    assert forced != first
    assert (await raw(fake, "cgi-bin/echo", access_token=first))["errcode"] == 42001
    assert await stable(True) == forced  # under 30 s since the last forced refresh: unchanged
    fake.clock.advance(31)
    assert await stable(True) != forced
    fake.clock.advance(7200 - 299)  # under 5 minutes left: normal mode renews
    renewed = await stable(False)
    assert renewed != forced


async def test_providers_round_trip_and_bad_credentials() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    for provider in (
        AccessToken(fake.appid, fake.secret, transport=transport),
        StableAccessToken(fake.appid, fake.secret, transport=transport),
    ):
        assert (await transport.request("GET", "cgi-bin/echo", token=provider))[
            "host"
        ] == "official"
    with pytest.raises(InvalidCredentialError):
        await AccessToken(fake.appid, "wrong", transport=transport).get()
    with pytest.raises(InvalidCredentialError):
        await WorkAccessToken(fake.corp_id, "wrong", transport=transport).get()


async def test_rotation_by_someone_else_is_recovered_once() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    provider = AccessToken(fake.appid, fake.secret, transport=transport)
    await transport.request("GET", "cgi-bin/echo", token=provider)
    fake.tokens.expire_all()
    await transport.request("GET", "cgi-bin/echo", token=provider)
    assert fake.fetches["cgi-bin/token"] == 2


async def test_faults() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport(attempts=1)
    provider = AccessToken(fake.appid, fake.secret, transport=transport)
    fake.faults.errcode("cgi-bin/echo", -1)
    with pytest.raises(SystemBusyError):
        await transport.request("GET", "cgi-bin/echo", token=provider)
    fake.faults.rate_limit("cgi-bin/echo")
    with pytest.raises(RateLimitError):
        await transport.request("GET", "cgi-bin/echo", token=provider)
    fake.faults.http_status("cgi-bin/echo", 502)
    with pytest.raises(HTTPStatusError):
        await transport.request("GET", "cgi-bin/echo", token=provider)
    fake.faults.garbage("cgi-bin/echo")
    with pytest.raises(InvalidResponseError):
        await transport.request("GET", "cgi-bin/echo", token=provider)
    assert (await transport.request("GET", "cgi-bin/echo", token=provider))["errcode"] == 0
    # Retries absorb a transient fault.
    retrying = fake.transport(attempts=3)
    fake.faults.http_status("cgi-bin/echo", 503, times=2)
    assert (await retrying.request("GET", "cgi-bin/echo", token=provider))["errcode"] == 0


async def test_a_landed_fault_runs_the_handler_and_replaces_its_answer() -> None:
    fake = FakeWeChat()
    handled: list[str] = []

    @fake.route("POST", Host.WORK, "cgi-bin/act", token_param=None)
    async def act(request: FakeRequest) -> dict[str, object]:
        handled.append(request.path)
        return {"errcode": 0, "errmsg": "ok"}

    async with fake.client() as client:
        url = "http://fake.wechat/qyapi/cgi-bin/act"
        fake.faults.http_status("cgi-bin/act", 502)
        assert (await client.post(url, json={})).status_code == 502
        assert handled == []  # an ordinary fault answers instead of the handler
        fake.faults.http_status("cgi-bin/act", 502, landed=True)
        fake.faults.errcode("cgi-bin/act", -1, landed=True)
        assert (await client.post(url, json={})).status_code == 502
        assert (await client.post(url, json={})).json()["errcode"] == -1
        assert handled == ["cgi-bin/act", "cgi-bin/act"]  # the handler ran both times
        assert (await client.post(url, json={})).json()["errcode"] == 0
    assert fake.calls["cgi-bin/act"] == 4


async def test_timeout_fault_trips_the_deadline() -> None:
    fake = with_echo(FakeWeChat())
    # In process there is no socket to time out: the call's deadline does it.
    transport = Transport(
        fake.client(), hosts=fake.hosts(), retry=RetryPolicy.no_wait(attempts=1, deadline=0.2)
    )
    fake.faults.timeout("cgi-bin/echo", 1.0)
    provider = AccessToken(fake.appid, fake.secret, transport=transport)
    with pytest.raises(RequestTimeoutError):
        await transport.request("GET", "cgi-bin/echo", token=provider)


async def test_unknown_path_is_404() -> None:
    fake = FakeWeChat()
    async with fake.client() as client:
        response = await client.get("http://fake.wechat/cgi-bin/nothing")
    assert response.status_code == 404


async def test_token_latency_and_counter() -> None:
    fake = FakeWeChat(token_latency=0.01)
    provider = AccessToken(fake.appid, fake.secret, transport=fake.transport())
    await provider.get()
    assert fake.fetches["cgi-bin/token"] == 1


async def test_invalid_token_raises_after_one_retry() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    with pytest.raises(InvalidTokenError):
        await transport.request("GET", "cgi-bin/echo", token=StaticToken("forged"))


async def test_hosts() -> None:
    hosts = FakeWeChat().hosts("http://127.0.0.1:9000/")
    assert hosts.official == "http://127.0.0.1:9000"
    assert hosts.work == "http://127.0.0.1:9000/qyapi"
    assert isinstance(FakeWeChat().client(), httpx.AsyncClient)
