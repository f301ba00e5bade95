"""FakeWeChat's core: token endpoints, token checks, the clock, faults and routing."""

from __future__ import annotations

import httpx
import pytest

from wechat_async.errors import (
    HTTPStatusError,
    InvalidCredentialError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidTokenError,
    RateLimitError,
    RequestTimeoutError,
    SystemBusyError,
)
from wechat_async.testing.fake import FakeRequest, FakeWeChat
from wechat_async.tokens import (
    AccessToken,
    StableAccessToken,
    StaticToken,
    TokenProvider,
    WorkAccessToken,
)
from wechat_async.transport import Host, RetryPolicy, Transport

pytestmark = pytest.mark.asyncio


class Recording:
    """A token provider around another that records what it handed out and was told is bad."""

    def __init__(self, inner: TokenProvider) -> None:
        self.inner = inner
        self.handed: list[str] = []
        self.invalidated: list[str] = []

    async def get(self) -> str:
        token = await self.inner.get()
        self.handed.append(token)
        return token

    async def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        await self.inner.invalidate(token)


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


async def test_a_body_that_is_not_a_json_object_answers_each_hosts_code() -> None:
    fake = FakeWeChat()

    @fake.route("POST", Host.OFFICIAL, "cgi-bin/json", token_param=None)
    @fake.route("POST", Host.WORK, "cgi-bin/json", token_param=None)
    async def echo_json(request: FakeRequest) -> dict[str, object]:
        return {"errcode": 0, "errmsg": "ok", "body": request.json()}

    async with fake.client() as client:
        for body in (b"not json", b"[1, 2]"):
            official = await client.post("http://fake.wechat/cgi-bin/json", content=body)
            work = await client.post("http://fake.wechat/qyapi/cgi-bin/json", content=body)
            assert official.json()["errcode"] == 47001  # data format error
            assert work.json()["errcode"] == 40058  # WeCom's 40058: "json不合法" comes first


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
    provider = Recording(StaticToken("forged"))
    with pytest.raises(InvalidTokenError) as caught:
        await transport.request("GET", "cgi-bin/echo", token=provider)
    assert caught.value.errcode == 40001
    assert provider.invalidated == ["forged"]
    assert fake.calls["cgi-bin/echo"] == 2  # sent, invalidated, sent once more


async def test_token_check_answers_each_hosts_codes() -> None:
    fake = with_echo(FakeWeChat())
    args = {"corpid": fake.corp_id, "corpsecret": fake.corp_secrets[0]}
    work = str((await raw(fake, "qyapi/cgi-bin/gettoken", **args))["access_token"])
    official = str(
        (
            await raw(
                fake,
                "cgi-bin/token",
                grant_type="client_credential",
                appid=fake.appid,
                secret=fake.secret,
            )
        )["access_token"]
    )
    # No token: 41001 on both hosts.
    assert (await raw(fake, "cgi-bin/echo"))["errcode"] == 41001
    assert (await raw(fake, "cgi-bin/echo", access_token=""))["errcode"] == 41001
    assert (await raw(fake, "qyapi/cgi-bin/echo"))["errcode"] == 41001
    # A token the host did not issue: 40001 on the Official Account host, 40014 on WeCom.
    assert (await raw(fake, "cgi-bin/echo", access_token="nonsense"))["errcode"] == 40001
    assert (await raw(fake, "cgi-bin/echo", access_token=work))["errcode"] == 40001
    assert (await raw(fake, "qyapi/cgi-bin/echo", access_token="nonsense"))["errcode"] == 40014
    assert (await raw(fake, "qyapi/cgi-bin/echo", access_token=official))["errcode"] == 40014
    # Expired: 42001 on both.
    fake.clock.advance(7200)
    assert (await raw(fake, "cgi-bin/echo", access_token=official))["errcode"] == 42001
    assert (await raw(fake, "qyapi/cgi-bin/echo", access_token=work))["errcode"] == 42001


async def test_revoke_all_forgets_every_token() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    work = WorkAccessToken(fake.corp_id, fake.corp_secrets[0], transport=transport)
    classic = AccessToken(fake.appid, fake.secret, transport=transport)
    stable = StableAccessToken(fake.appid, fake.secret, transport=transport)
    old = [await work.get(), await classic.get(), await stable.get()]
    fake.tokens.revoke_all()
    assert (await raw(fake, "qyapi/cgi-bin/echo", access_token=old[0]))["errcode"] == 40014
    assert (await raw(fake, "cgi-bin/echo", access_token=old[1]))["errcode"] == 40001
    assert (await raw(fake, "cgi-bin/echo", access_token=old[2]))["errcode"] == 40001
    for provider, token in zip((work, classic, stable), old, strict=True):
        await provider.invalidate(token)
        fresh = await provider.get()
        assert fresh != token
    assert (await raw(fake, "qyapi/cgi-bin/echo", access_token=await work.get()))["errcode"] == 0


async def test_revoked_wecom_token_is_invalidated_and_sent_again_once() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    provider = Recording(WorkAccessToken(fake.corp_id, fake.corp_secrets[0], transport=transport))
    await transport.request("GET", "cgi-bin/echo", host=Host.WORK, token=provider)
    [stale] = provider.handed
    fake.tokens.revoke_all()  # WeCom now answers 40014 for the token the provider caches
    reply = await transport.request("GET", "cgi-bin/echo", host=Host.WORK, token=provider)
    assert reply["host"] == "work"
    assert provider.invalidated == [stale]  # exactly the token that was rejected
    assert provider.handed[1:] == [stale, provider.handed[-1]]
    assert provider.handed[-1] != stale
    assert fake.fetches["cgi-bin/gettoken"] == 2
    assert fake.calls["cgi-bin/echo"] == 3  # the first call, the rejected send, the re-send


async def test_persistent_40014_raises_after_exactly_one_resend() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    provider = Recording(StaticToken("not-from-this-corp"))
    with pytest.raises(InvalidTokenError) as caught:
        await transport.request("GET", "cgi-bin/echo", host=Host.WORK, token=provider)
    assert caught.value.errcode == 40014
    assert provider.invalidated == ["not-from-this-corp"]
    assert fake.calls["cgi-bin/echo"] == 2


async def test_expired_official_token_is_invalidated_and_sent_again_once() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    provider = Recording(AccessToken(fake.appid, fake.secret, transport=transport))
    await transport.request("GET", "cgi-bin/echo", token=provider)
    [first] = provider.handed
    # The provider still believes in its token (its own clock has not moved); WeChat's has.
    fake.clock.advance(7200)
    reply = await transport.request("GET", "cgi-bin/echo", token=provider)
    assert reply["host"] == "official"
    assert provider.invalidated == [first]
    assert provider.handed[-1] != first
    assert fake.fetches["cgi-bin/token"] == 2
    assert fake.calls["cgi-bin/echo"] == 3


async def test_missing_token_is_a_parameter_error_and_not_resent() -> None:
    fake = with_echo(FakeWeChat())
    transport = fake.transport()
    for host in (Host.OFFICIAL, Host.WORK):
        with pytest.raises(InvalidParameterError) as caught:
            await transport.request("GET", "cgi-bin/echo", host=host)
        assert caught.value.errcode == 41001
    assert fake.calls["cgi-bin/echo"] == 2  # once per host: nothing to invalidate or re-fetch


async def test_hosts() -> None:
    hosts = FakeWeChat().hosts("http://127.0.0.1:9000/")
    assert hosts.official == "http://127.0.0.1:9000"
    assert hosts.work == "http://127.0.0.1:9000/qyapi"
    assert isinstance(FakeWeChat().client(), httpx.AsyncClient)
