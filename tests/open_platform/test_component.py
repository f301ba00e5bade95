"""The Open Platform component through the real Transport on a fake api.weixin.qq.com."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from tests.open_platform.fake_open import (
    AUTHORIZER_APPID,
    COMPONENT_APPID,
    COMPONENT_SECRET,
    FakeOpenPlatform,
    crypto,
    envelope,
    ticket_xml,
)
from tests.tokens.fakes import FAST
from wechat_async.crypto import InvalidSignatureError, MessageParseError
from wechat_async.errors import (
    APIError,
    InvalidArgumentError,
    InvalidCredentialError,
    InvalidResponseError,
    IPNotAllowedError,
    TokenUnavailableError,
)
from wechat_async.open_platform import (
    AuthorizationInfo,
    AuthorizedEvent,
    AuthorizerAccessToken,
    AuthorizerInfoResult,
    AuthorizerList,
    AuthorizerOption,
    AuthType,
    Component,
    ComponentAccessToken,
    ComponentVerifyTicketEvent,
    FastRegisterEvent,
    RegistrationStatus,
    UnauthorizedEvent,
    UnknownComponentEvent,
    UpdateAuthorizedEvent,
)
from wechat_async.open_platform.component import TICKET_TTL
from wechat_async.open_platform.component_models import FastRegisterInfo
from wechat_async.tokens import MemoryTokenStore, TokenStore
from wechat_async.tokens.redis import RedisTokenStore

TICKET = "ticket@@@1ZwhUW_Xn4cAW7mMVhqvkUe5NjcNmXXbE6HK6UmFb2Eg"
TICKET_KEY = f"component_verify_ticket:{COMPONENT_APPID}"
REFRESH_KEY = f"authorizer_refresh_token:{COMPONENT_APPID}:{AUTHORIZER_APPID}"
AUTHORIZATION_KEY = f"authorization:{COMPONENT_APPID}:{AUTHORIZER_APPID}"


class RecordingStore(MemoryTokenStore):
    """A memory store that remembers every credential it wrote (None: forgot) and its TTL.

    Claims (the marks of pushes accepted) are kept apart, in ``claims``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secret_writes: list[tuple[str, str | None, float | None]] = []
        self.claims: list[str] = []

    async def set_secret(self, key: str, value: str, ttl: float | None = None) -> None:
        self.secret_writes.append((key, value, ttl))
        await super().set_secret(key, value, ttl)

    async def set_secret_if_newer(
        self, key: str, value: str | None, version: int, ttl: float | None = None
    ) -> bool:
        written = await super().set_secret_if_newer(key, value, version, ttl)
        if written:
            self.secret_writes.append((key, value, ttl))
        return written

    async def claim(self, key: str, ttl: float) -> bool:
        self.claims.append(key)
        return await super().claim(key, ttl)


def make_component(fake: FakeOpenPlatform, store: TokenStore | None = None) -> Component:
    return Component(
        fake.transport(),
        COMPONENT_APPID,
        COMPONENT_SECRET,
        store=store,
        crypto=crypto(),
        settings=FAST,
    )


async def ready_component(fake: FakeOpenPlatform, store: TokenStore | None = None) -> Component:
    """A component whose store already holds a ticket, as after the first push."""
    component = make_component(fake, store)
    await component.store.set_secret(TICKET_KEY, TICKET, TICKET_TTL)
    return component


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


# -- the component token ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_component_token_fetch_shape() -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    assert await component.token.get() == "CAT-1"
    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.host == "official.test"
    assert request.url.path == "/cgi-bin/component/api_component_token"
    assert query(request) == {}
    assert json.loads(request.content) == {
        "component_appid": COMPONENT_APPID,
        "component_appsecret": COMPONENT_SECRET,
        "component_verify_ticket": TICKET,
    }
    # Cached: no second fetch.
    assert await component.token.get() == "CAT-1"
    assert len(fake.requests) == 1


@pytest.mark.asyncio
async def test_keys_and_reprs_hold_no_secret() -> None:
    component = make_component(FakeOpenPlatform())
    other = Component(
        FakeOpenPlatform().transport(),
        COMPONENT_APPID,
        "another-secret",
        crypto=crypto(),
    )
    assert COMPONENT_SECRET not in component.token.key
    assert COMPONENT_APPID in component.token.key
    assert component.token.key != other.token.key
    for thing in (component, component.token, component.authorizer_token(AUTHORIZER_APPID)):
        assert COMPONENT_SECRET not in repr(thing)
    assert component.authorizer_token(AUTHORIZER_APPID) is component.authorizer_token(
        AUTHORIZER_APPID
    )


@pytest.mark.asyncio
async def test_no_ticket_yet_is_a_clear_error_and_sends_nothing() -> None:
    fake = FakeOpenPlatform()
    component = make_component(fake)
    with pytest.raises(TokenUnavailableError, match="every 10 minutes") as caught:
        await component.token.get()
    assert "handle_callback" in str(caught.value)
    with pytest.raises(TokenUnavailableError, match="component_verify_ticket"):
        await component.create_pre_auth_code()
    assert fake.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("errcode", "errmsg", "error"),
    [
        (
            40001,
            "invalid credential, access_token is invalid or not latest",
            InvalidCredentialError,
        ),
        (40125, "invalid appsecret", InvalidCredentialError),
        (61004, "access clientip is not registered", IPNotAllowedError),
    ],
)
async def test_token_endpoint_errors(errcode: int, errmsg: str, error: type[APIError]) -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/api_component_token", {"errcode": errcode, "errmsg": errmsg})
    component = await ready_component(fake)
    results = await asyncio.gather(
        *(component.token.get() for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, error) for r in results)
    assert fake.counts["/cgi-bin/component/api_component_token"] == 1
    for result in results:
        assert isinstance(result, APIError)
        assert result.errcode == errcode
        assert result.path == "cgi-bin/component/api_component_token"
        assert COMPONENT_SECRET not in str(result)
        assert TICKET not in str(result)
        assert TICKET not in repr(result)


@pytest.mark.asyncio
async def test_failed_token_fetch_reaches_the_caller_of_a_component_call() -> None:
    fake = FakeOpenPlatform()
    fake.on(
        "cgi-bin/component/api_component_token",
        {"errcode": 61004, "errmsg": "access clientip is not registered"},
    )
    component = await ready_component(fake)
    with pytest.raises(IPNotAllowedError):
        await component.create_pre_auth_code()
    assert fake.counts["/cgi-bin/component/api_create_preauthcode"] == 0


@pytest.mark.asyncio
async def test_ip_not_allowed_on_a_component_call() -> None:
    fake = FakeOpenPlatform()
    fake.on(
        "cgi-bin/component/api_create_preauthcode",
        {"errcode": 61004, "errmsg": "access clientip is not registered"},
    )
    component = await ready_component(fake)
    with pytest.raises(IPNotAllowedError) as caught:
        await component.create_pre_auth_code()
    assert caught.value.path == "cgi-bin/component/api_create_preauthcode"


@pytest.mark.asyncio
async def test_malformed_component_token_reply() -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/api_component_token", {"access_token": "x", "expires_in": 7200})
    component = await ready_component(fake)
    with pytest.raises(InvalidResponseError, match="component_access_token"):
        await component.token.get()


@pytest.mark.asyncio
async def test_rejected_component_token_is_refreshed_once() -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    assert await component.token.get() == "CAT-1"
    fake.component_tokens.clear()  # WeChat no longer accepts CAT-1
    code = await component.create_pre_auth_code()
    assert code.startswith("preauthcode@@@")
    assert fake.counts["/cgi-bin/component/api_component_token"] == 2
    assert fake.counts["/cgi-bin/component/api_create_preauthcode"] == 2
    assert query(fake.requests[-1]) == {"component_access_token": "CAT-2"}


@pytest.mark.asyncio
async def test_secrets_stay_out_of_httpx_logs(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    with caplog.at_level(logging.DEBUG):
        await component.create_pre_auth_code()
    assert "api_create_preauthcode" in caplog.text
    for secret in ("CAT-1", COMPONENT_SECRET, TICKET):
        assert secret not in caplog.text


# -- one call per endpoint: method, path, query, body, parsed reply ---------------------

Call = Callable[[Component], Awaitable[Any]]

GET_AUTHORIZER_INFO_REPLY: dict[str, Any] = {
    "authorizer_info": {
        "nick_name": "微信SDK Demo Special",
        "head_img": "http://wx.qlogo.cn/mmopen/GPy",
        "service_type_info": {"id": 2},
        "verify_type_info": {"id": 0},
        "user_name": "gh_eb5e3a772040",
        "principal_name": "腾讯计算机系统有限公司",
        "business_info": {
            "open_store": 0,
            "open_scan": 0,
            "open_pay": 0,
            "open_card": 0,
            "open_shake": 0,
        },
        "alias": "paytest01",
        "qrcode_url": "URL",
        "account_status": 1,
    },
    "authorization_info": {
        "authorizer_appid": "wxf8b4f85f3a794e77",
        "func_info": [{"funcscope_category": {"id": 1}}, {"funcscope_category": {"id": 2}}],
    },
}

MINI_PROGRAM_INFO_REPLY: dict[str, Any] = {
    "authorizer_info": {
        "nick_name": "找呀找呀找盲盒",
        "service_type_info": {"id": 0},
        "verify_type_info": {"id": -1},
        "user_name": "gh_3dacad47dc6b",
        "signature": "时间的水缓缓流去",
        "MiniProgramInfo": {
            "network": {
                "RequestDomain": ["https://www.qq.com", "https://www.qq.com"],
                "WsRequestDomain": ["wss://www.qq.com"],
                "UploadDomain": ["https://www.qq.com"],
                "DownloadDomain": ["https://www.qq.com"],
                "BizDomain": [],
            },
            "categories": [
                {"first": "资讯", "second": "文娱"},
                {"first": "工具", "second": "天气"},
            ],
            "visit_status": 0,
        },
        "register_type": 0,
        "basic_config": {"is_phone_configured": True, "is_email_configured": True},
    },
    "authorization_info": {
        "authorizer_appid": "wxf8b4f85f3a794e77",
        "func_info": [{"funcscope_category": {"id": 17}}, {"funcscope_category": {"id": 18}}],
    },
}

# (id, call, path, extra query, the body WeChat's docs show, doc reply, check of the result)
CASES: list[tuple[str, Call, str, dict[str, str], dict[str, Any], dict[str, Any], Any]] = [
    (
        "create_pre_auth_code",
        lambda c: c.create_pre_auth_code(),
        "cgi-bin/component/api_create_preauthcode",
        {},
        {"component_appid": COMPONENT_APPID},
        {
            "pre_auth_code": "Cx_Dk6qiBE0Dmx4EmlT3oRfArPvwSQ-oa3NL_fwHM7VI08r52wazoZX2Rhpz1dEw",
            "expires_in": 600,
        },
        "Cx_Dk6qiBE0Dmx4EmlT3oRfArPvwSQ-oa3NL_fwHM7VI08r52wazoZX2Rhpz1dEw",
    ),
    (
        "get_authorizer_info",
        lambda c: c.get_authorizer_info("wxf8b4f85f3a794e77"),
        "cgi-bin/component/api_get_authorizer_info",
        {},
        {"component_appid": COMPONENT_APPID, "authorizer_appid": "wxf8b4f85f3a794e77"},
        GET_AUTHORIZER_INFO_REPLY,
        lambda r: (
            isinstance(r, AuthorizerInfoResult)
            and r.authorizer_info.nick_name == "微信SDK Demo Special"
            and r.authorizer_info.service_type_info is not None
            and r.authorizer_info.service_type_info.id == 2
            and r.authorizer_info.user_name == "gh_eb5e3a772040"
            and r.authorizer_info.business_info is not None
            and r.authorizer_info.business_info.open_pay == 0
            and r.authorizer_info.account_status == 1
            and not r.authorizer_info.is_mini_program
            and r.authorization_info.authorizer_appid == "wxf8b4f85f3a794e77"
            and r.authorization_info.func_ids == (1, 2)
        ),
    ),
    (
        "get_authorizer_info_mini_program",
        lambda c: c.get_authorizer_info("wxf8b4f85f3a794e77"),
        "cgi-bin/component/api_get_authorizer_info",
        {},
        {"component_appid": COMPONENT_APPID, "authorizer_appid": "wxf8b4f85f3a794e77"},
        MINI_PROGRAM_INFO_REPLY,
        lambda r: (
            r.authorizer_info.is_mini_program
            and r.authorizer_info.verify_type_info.id == -1
            and r.authorizer_info.mini_program_info.network.request_domain
            == ("https://www.qq.com", "https://www.qq.com")
            and r.authorizer_info.mini_program_info.categories[1].second == "天气"
            and r.authorization_info.func_ids == (17, 18)
        ),
    ),
    (
        "get_authorizer_list",
        lambda c: c.get_authorizer_list(0, 100),
        "cgi-bin/component/api_get_authorizer_list",
        {},
        {"component_appid": COMPONENT_APPID, "offset": 0, "count": 100},
        {
            "total_count": 33,
            "list": [
                {
                    "authorizer_appid": "authorizer_appid_1",
                    "refresh_token": "refresh_token_1",
                    "auth_time": 1558000607,
                },
                {
                    "authorizer_appid": "authorizer_appid_2",
                    "refresh_token": "refresh_token_2",
                    "auth_time": 1558000607,
                },
            ],
        },
        lambda r: (
            isinstance(r, AuthorizerList)
            and r.total_count == 33
            and [i.authorizer_appid for i in r.list] == ["authorizer_appid_1", "authorizer_appid_2"]
            and r.list[0].refresh_token == "refresh_token_1"
            and r.list[0].auth_time == 1558000607
            and "refresh_token_1" not in repr(r)
        ),
    ),
    (
        "get_authorizer_option",
        lambda c: c.get_authorizer_option("wx7bc5ba58cabd00f4", "voice_recognize"),
        "cgi-bin/component/api_get_authorizer_option",
        {},
        {
            "component_appid": COMPONENT_APPID,
            "authorizer_appid": "wx7bc5ba58cabd00f4",
            "option_name": "voice_recognize",
        },
        {
            "authorizer_appid": "wx7bc5ba58cabd00f4",
            "option_name": "voice_recognize",
            "option_value": "1",
        },
        AuthorizerOption("wx7bc5ba58cabd00f4", "voice_recognize", "1"),
    ),
    (
        "set_authorizer_option",
        lambda c: c.set_authorizer_option("wx7bc5ba58cabd00f4", "location_report", 2),
        "cgi-bin/component/api_set_authorizer_option",
        {},
        {
            "component_appid": COMPONENT_APPID,
            "authorizer_appid": "wx7bc5ba58cabd00f4",
            "option_name": "location_report",
            "option_value": "2",
        },
        {"errcode": 0, "errmsg": "ok"},
        None,
    ),
    (
        "register_mini_program",
        lambda c: c.register_mini_program(
            "tencent",
            "91440300708461136T",
            1,
            "pony_wechat",
            "candy",
            component_phone="1234567",
        ),
        "cgi-bin/component/fastregisterweapp",
        {"action": "create"},
        {
            "name": "tencent",
            "code": "91440300708461136T",
            "code_type": 1,
            "legal_persona_wechat": "pony_wechat",
            "legal_persona_name": "candy",
            "component_phone": "1234567",
        },
        {"errcode": 0, "errmsg": "OK"},
        None,
    ),
    (
        "register_mini_program_without_phone",
        lambda c: c.register_mini_program("tencent", "12345678-9", 2, "123", "candy"),
        "cgi-bin/component/fastregisterweapp",
        {"action": "create"},
        {
            "name": "tencent",
            "code": "12345678-9",
            "code_type": 2,
            "legal_persona_wechat": "123",
            "legal_persona_name": "candy",
        },
        {"errcode": 0, "errmsg": "OK"},
        None,
    ),
    (
        "get_registration_status",
        lambda c: c.get_registration_status("tencent", "123", "pony"),
        "cgi-bin/component/fastregisterweapp",
        {"action": "search"},
        {"name": "tencent", "legal_persona_wechat": "123", "legal_persona_name": "pony"},
        {"errcode": 0, "errmsg": "OK"},
        RegistrationStatus(0, "OK"),
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("call", "path", "params", "body", "reply", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_call_shape(
    call: Call,
    path: str,
    params: dict[str, str],
    body: dict[str, Any],
    reply: dict[str, Any],
    expected: Any,
) -> None:
    fake = FakeOpenPlatform()
    fake.on(path, reply)
    component = await ready_component(fake)
    result = await call(component)
    request = fake.last(path)
    assert request.method == "POST"
    assert request.url.host == "official.test"
    assert query(request) == {"component_access_token": "CAT-1", **params}
    assert request.headers["content-type"].startswith("application/json")
    assert json.loads(request.content) == body
    if callable(expected):
        assert expected(result)
    else:
        assert result == expected


@pytest.mark.asyncio
async def test_query_auth_shape_stores_refresh_token_and_seeds_the_access_token() -> None:
    fake = FakeOpenPlatform()
    doc_reply = {
        "authorization_info": {
            "authorizer_appid": "wxf8b4f85f3a794e77",
            "authorizer_access_token": (
                "QXjUqNqfYVH0yBE1iI_7vuN_9gQbpjfK7hYwJ3P7xOa88a89-Aga5x1NMYJyB8G2yKt1KCl0nPC3W9"
                "GJzw0Zzq_dBxc8pxIGUNi_bFes0qM"
            ),
            "expires_in": 7200,
            "authorizer_refresh_token": "dTo-YCXPL4llX-u1W1pPpnp8Hgm4wpJtlR6iV0doKdY",
            "func_info": [
                {"funcscope_category": {"id": 1}},
                {"funcscope_category": {"id": 2}},
                {"funcscope_category": {"id": 3}},
            ],
        }
    }
    fake.on("cgi-bin/component/api_query_auth", doc_reply)
    store = RecordingStore()
    component = await ready_component(fake, store)
    info = await component.query_auth("auth_code_value")
    request = fake.last("cgi-bin/component/api_query_auth")
    assert query(request) == {"component_access_token": "CAT-1"}
    assert json.loads(request.content) == {
        "component_appid": COMPONENT_APPID,
        "authorization_code": "auth_code_value",
    }
    assert isinstance(info, AuthorizationInfo)
    assert info.authorizer_appid == "wxf8b4f85f3a794e77"
    assert info.expires_in == 7200
    assert info.func_ids == (1, 2, 3)
    assert "dTo-YCXPL4llX" not in repr(info)
    assert "QXjUqNqf" not in repr(info)
    assert (REFRESH_KEY, "dTo-YCXPL4llX-u1W1pPpnp8Hgm4wpJtlR6iV0doKdY", None) in store.secret_writes
    # The seeded token serves the account without a fetch.
    provider = component.authorizer_token(AUTHORIZER_APPID)
    assert await provider.get() == doc_reply["authorization_info"]["authorizer_access_token"]
    assert fake.counts["/cgi-bin/component/api_authorizer_token"] == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("expires_in", [10**400, 0, -7200, 86_401])
async def test_query_auth_with_an_insane_expires_in_keeps_the_refresh_token(
    expires_in: int, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeOpenPlatform()
    fake.on(
        "cgi-bin/component/api_query_auth",
        {
            "authorization_info": {
                "authorizer_appid": AUTHORIZER_APPID,
                "authorizer_access_token": "AAT-odd",
                "expires_in": expires_in,
                "authorizer_refresh_token": "refresh-kept",
            }
        },
    )
    component = await ready_component(fake)
    with caplog.at_level(logging.WARNING, logger="wechat_async.open_platform"):
        info = await component.query_auth("auth_code_value")
    assert info.authorizer_appid == AUTHORIZER_APPID
    assert "expires_in" in caplog.text
    # The code is spent, so what it bought is kept: the refresh token, not the odd token.
    assert await component._store.get_secret(REFRESH_KEY) == "refresh-kept"
    fake.on(
        "cgi-bin/component/api_authorizer_token",
        {
            "authorizer_access_token": "AAT-fetched",
            "expires_in": 7200,
            "authorizer_refresh_token": "refresh-kept",
        },
    )
    assert await component.authorizer_token(AUTHORIZER_APPID).get() == "AAT-fetched"


@pytest.mark.asyncio
async def test_query_auth_with_a_used_code_raises() -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    with pytest.raises(APIError) as caught:
        await component.query_auth("queryauthcode@@@unknown")
    assert caught.value.errcode == 61010


@pytest.mark.asyncio
async def test_query_auth_without_authorization_info() -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/api_query_auth", {"errcode": 0, "errmsg": "ok"})
    component = await ready_component(fake)
    with pytest.raises(InvalidResponseError, match="authorization_info"):
        await component.query_auth("code")


@pytest.mark.asyncio
async def test_create_pre_auth_code_without_code() -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/api_create_preauthcode", {"expires_in": 1800})
    component = await ready_component(fake)
    with pytest.raises(InvalidResponseError, match="pre_auth_code"):
        await component.create_pre_auth_code()


@pytest.mark.asyncio
async def test_iter_authorizers_pages_until_total_count() -> None:
    fake = FakeOpenPlatform()
    items = [
        {"authorizer_appid": f"wxapp{i}", "refresh_token": f"rt{i}", "auth_time": 1558000607 + i}
        for i in range(5)
    ]
    fake.on(
        "cgi-bin/component/api_get_authorizer_list",
        {"total_count": 5, "list": items[0:2]},
        {"total_count": 5, "list": items[2:4]},
        {"total_count": 5, "list": items[4:]},
    )
    component = await ready_component(fake)
    seen = [item.authorizer_appid async for item in component.iter_authorizers(page_size=2)]
    assert seen == [f"wxapp{i}" for i in range(5)]
    pages = [
        json.loads(r.content)
        for r in fake.requests
        if r.url.path == "/cgi-bin/component/api_get_authorizer_list"
    ]
    assert [(p["offset"], p["count"]) for p in pages] == [(0, 2), (2, 2), (4, 2)]


@pytest.mark.asyncio
async def test_iter_authorizers_stops_at_an_exactly_full_last_page() -> None:
    fake = FakeOpenPlatform()
    items = [{"authorizer_appid": f"wxapp{i}", "auth_time": 1} for i in range(4)]
    fake.on(
        "cgi-bin/component/api_get_authorizer_list",
        {"total_count": 4, "list": items[0:2]},
        {"total_count": 4, "list": items[2:4]},
    )
    component = await ready_component(fake)
    seen = [item.authorizer_appid async for item in component.iter_authorizers(page_size=2)]
    assert len(seen) == 4
    assert fake.counts["/cgi-bin/component/api_get_authorizer_list"] == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("errcode", [89251, 89252])
async def test_registration_status_still_checking(errcode: int) -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/fastregisterweapp", {"errcode": errcode, "errmsg": "checking"})
    component = await ready_component(fake)
    status = await component.get_registration_status("tencent", "123", "pony")
    assert status == RegistrationStatus(errcode, "checking")
    assert status.pending


@pytest.mark.asyncio
async def test_registration_status_failure_is_raised() -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/fastregisterweapp", {"errcode": 89250, "errmsg": "task not found"})
    component = await ready_component(fake)
    with pytest.raises(APIError) as caught:
        await component.get_registration_status("tencent", "123", "pony")
    assert caught.value.errcode == 89250


@pytest.mark.asyncio
async def test_register_mini_program_failure_is_raised() -> None:
    fake = FakeOpenPlatform()
    fake.on(
        "cgi-bin/component/fastregisterweapp",
        {"errcode": 89249, "errmsg": "task running"},
    )
    component = await ready_component(fake)
    with pytest.raises(APIError) as caught:
        await component.register_mini_program("tencent", "91440300708461136T", 1, "w", "n")
    assert caught.value.errcode == 89249


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda c: c.get_authorizer_list(count=501), "count"),
        (lambda c: c.get_authorizer_list(count=0), "count"),
        (lambda c: c.get_authorizer_list(offset=-1), "offset"),
        (lambda c: c.get_authorizer_list(count=True), "count"),
        (lambda c: c.get_authorizer_info(""), "authorizer_appid"),
        (lambda c: c.get_authorizer_info("wx 1"), "authorizer_appid"),
        (lambda c: c.get_authorizer_option("wx1", ""), "option_name"),
        (lambda c: c.set_authorizer_option("wx1", "voice_recognize", ""), "option_value"),
        (lambda c: c.query_auth(""), "authorization_code"),
        (lambda c: c.register_mini_program("t", "123", 1, "w", "n"), "code"),
        (lambda c: c.register_mini_program("t", "1" * 18, 4, "w", "n"), "code_type"),
        (lambda c: c.register_mini_program(" ", "1" * 18, 1, "w", "n"), "name"),
        (lambda c: c.register_mini_program("t", "1" * 14, 3, "w", "n"), "code"),
        (lambda c: c.register_mini_program("t", "1" * 18, 1, "", "n"), "legal_persona_wechat"),
        (lambda c: c.get_registration_status("t", "w", ""), "legal_persona_name"),
    ],
)
async def test_invalid_arguments_are_refused_before_sending(call: Call, argument: str) -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    with pytest.raises(InvalidArgumentError) as caught:
        await call(component)
    assert caught.value.argument == argument
    assert fake.requests == []


@pytest.mark.asyncio
async def test_iter_authorizers_checks_page_size() -> None:
    component = await ready_component(FakeOpenPlatform())
    with pytest.raises(InvalidArgumentError):
        [item async for item in component.iter_authorizers(page_size=501)]


def test_constructor_checks_ids() -> None:
    transport = FakeOpenPlatform().transport()
    with pytest.raises(InvalidArgumentError) as caught:
        Component(transport, "", COMPONENT_SECRET, crypto=crypto())
    assert caught.value.argument == "component_appid"
    with pytest.raises(InvalidArgumentError) as caught:
        Component(transport, COMPONENT_APPID, "", crypto=crypto())
    assert caught.value.argument == "component_appsecret"


@pytest.mark.parametrize(
    ("appid", "secret", "argument"),
    [
        ("bad appid!", COMPONENT_SECRET, "component_appid"),
        (COMPONENT_APPID, 7, "component_appsecret"),
    ],
)
def test_the_component_token_checks_its_ids_too(appid: str, secret: Any, argument: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        ComponentAccessToken(appid, secret, transport=FakeOpenPlatform().transport())
    assert caught.value.argument == argument


# -- the authorization URL ----------------------------------------------------------------


def test_pc_auth_url() -> None:
    component = make_component(FakeOpenPlatform())
    url = component.auth_url(
        "preauthcode@@@abc", "https://example.com/wechat/callback?shop=1&x=y", auth_type=3
    )
    assert url == (
        "https://mp.weixin.qq.com/cgi-bin/componentloginpage"
        f"?component_appid={COMPONENT_APPID}"
        "&pre_auth_code=preauthcode%40%40%40abc"
        "&redirect_uri=https%3A%2F%2Fexample.com%2Fwechat%2Fcallback%3Fshop%3D1%26x%3Dy"
        "&auth_type=3"
    )
    parts = urlsplit(url)
    assert dict(parse_qsl(parts.query))["redirect_uri"] == (
        "https://example.com/wechat/callback?shop=1&x=y"
    )


def test_mobile_auth_url() -> None:
    component = make_component(FakeOpenPlatform())
    url = component.auth_url(
        "preauthcode@@@abc",
        "https://example.com/cb",
        auth_type=AuthType.MINI_PROGRAM,
        biz_appid="wx1b41b60e8064b9f0",
        mobile=True,
    )
    assert url == (
        "https://open.weixin.qq.com/wxaopen/safe/bindcomponent"
        "?action=bindcomponent&no_scan=1"
        f"&component_appid={COMPONENT_APPID}"
        "&pre_auth_code=preauthcode%40%40%40abc"
        "&redirect_uri=https%3A%2F%2Fexample.com%2Fcb"
        "&auth_type=2&biz_appid=wx1b41b60e8064b9f0"
        "#wechat_redirect"
    )


def test_auth_url_leaves_out_unset_options() -> None:
    component = make_component(FakeOpenPlatform())
    url = component.auth_url("code", "http://example.com/cb")
    assert dict(parse_qsl(urlsplit(url).query)) == {
        "component_appid": COMPONENT_APPID,
        "pre_auth_code": "code",
        "redirect_uri": "http://example.com/cb",
    }


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"pre_auth_code": "", "redirect_uri": "https://e.com"}, "pre_auth_code"),
        ({"pre_auth_code": "c", "redirect_uri": "example.com/cb"}, "redirect_uri"),
        ({"pre_auth_code": "c", "redirect_uri": "https://e.com/a b"}, "redirect_uri"),
        ({"pre_auth_code": "c", "redirect_uri": "https://e.com", "auth_type": 0}, "auth_type"),
        ({"pre_auth_code": "c", "redirect_uri": "https://e.com", "biz_appid": ""}, "biz_appid"),
    ],
)
def test_auth_url_checks_arguments(kwargs: dict[str, Any], argument: str) -> None:
    component = make_component(FakeOpenPlatform())
    with pytest.raises(InvalidArgumentError) as caught:
        component.auth_url(**kwargs)
    assert caught.value.argument == argument


# -- the authorization event URL ----------------------------------------------------------

AUTHORIZED_XML = (
    f"<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>1413192760</CreateTime>"
    "<InfoType>authorized</InfoType><AuthorizerAppid>wxf8b4f85f3a794e77</AuthorizerAppid>"
    "<AuthorizationCode>queryauthcode@@@xyz</AuthorizationCode>"
    "<AuthorizationCodeExpiredTime>1413196360</AuthorizationCodeExpiredTime>"
    "<PreAuthCode>preauthcode@@@abc</PreAuthCode></xml>"
)
UPDATE_AUTHORIZED_XML = AUTHORIZED_XML.replace(">authorized<", ">updateauthorized<")
UNAUTHORIZED_XML = (
    f"<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>1413192760</CreateTime>"
    "<InfoType>unauthorized</InfoType><AuthorizerAppid>wxf8b4f85f3a794e77</AuthorizerAppid></xml>"
)
FAST_REGISTER_XML = (
    f"<xml><AppId><![CDATA[{COMPONENT_APPID}]]></AppId><CreateTime>1535442403</CreateTime>"
    "<InfoType><![CDATA[notify_third_fasteregister]]></InfoType>"
    "<appid>wx1e8cd2dad279e29f</appid><status>0</status>"
    "<auth_code>queryauthcode@@@NT__q35RW3vOC8D8</auth_code><msg>OK</msg>"
    "<info><name><![CDATA[tencent]]></name><code><![CDATA[1234]]></code>"
    "<code_type>1</code_type><legal_persona_wechat><![CDATA[1234]]></legal_persona_wechat>"
    "<legal_persona_name><![CDATA[candy]]></legal_persona_name>"
    "<component_phone><![CDATA[]]></component_phone></info></xml>"
)
UNKNOWN_XML = (
    f"<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>1700000000</CreateTime>"
    "<InfoType>notify_something_new</InfoType><Detail>x</Detail><Empty></Empty></xml>"
)

EVENT_CASES: list[tuple[str, str, Any]] = [
    (
        "component_verify_ticket",
        ticket_xml(TICKET),
        ComponentVerifyTicketEvent(COMPONENT_APPID, 1413192605, TICKET),
    ),
    (
        "authorized",
        AUTHORIZED_XML,
        AuthorizedEvent(
            COMPONENT_APPID,
            1413192760,
            "wxf8b4f85f3a794e77",
            "queryauthcode@@@xyz",
            1413196360,
            "preauthcode@@@abc",
        ),
    ),
    (
        "updateauthorized",
        UPDATE_AUTHORIZED_XML,
        UpdateAuthorizedEvent(
            COMPONENT_APPID,
            1413192760,
            "wxf8b4f85f3a794e77",
            "queryauthcode@@@xyz",
            1413196360,
            "preauthcode@@@abc",
        ),
    ),
    (
        "unauthorized",
        UNAUTHORIZED_XML,
        UnauthorizedEvent(COMPONENT_APPID, 1413192760, "wxf8b4f85f3a794e77"),
    ),
    (
        "notify_third_fasteregister",
        FAST_REGISTER_XML,
        FastRegisterEvent(
            COMPONENT_APPID,
            1535442403,
            "wx1e8cd2dad279e29f",
            0,
            "queryauthcode@@@NT__q35RW3vOC8D8",
            "OK",
            FastRegisterInfo("tencent", "1234", 1, "1234", "candy", ""),
        ),
    ),
    (
        "unknown",
        UNKNOWN_XML,
        UnknownComponentEvent(
            raw={
                "AppId": COMPONENT_APPID,
                "CreateTime": "1700000000",
                "InfoType": "notify_something_new",
                "Detail": "x",
                "Empty": "",
            }
        ),
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("plaintext", "expected"),
    [case[1:] for case in EVENT_CASES],
    ids=[case[0] for case in EVENT_CASES],
)
async def test_callback_events(plaintext: str, expected: Any) -> None:
    store = RecordingStore()
    component = make_component(FakeOpenPlatform(), store)
    event = await component.handle_callback(*envelope(plaintext))
    assert event == expected
    for secret in (TICKET, "queryauthcode@@@", "preauthcode@@@"):
        assert secret not in repr(event)
    if isinstance(event, ComponentVerifyTicketEvent):
        assert store.secret_writes == [(TICKET_KEY, TICKET, TICKET_TTL)]
        assert TICKET_TTL == 12 * 3600
    elif isinstance(event, AuthorizedEvent | UpdateAuthorizedEvent):
        # The account's authorization changed as of CreateTime; no credential is touched.
        assert store.secret_writes == [(AUTHORIZATION_KEY, event.info_type, None)]
    elif isinstance(event, UnauthorizedEvent):
        assert store.secret_writes == [
            (AUTHORIZATION_KEY, "unauthorized", None),
            (REFRESH_KEY, None, None),
        ]
    else:
        assert store.secret_writes == []
    assert len(store.claims) == 1
    if isinstance(event, UnknownComponentEvent):
        assert event.info_type == "notify_something_new"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "plaintext", [case[1] for case in EVENT_CASES], ids=[case[0] for case in EVENT_CASES]
)
async def test_tampered_callbacks_are_refused(plaintext: str) -> None:
    store = RecordingStore()
    component = make_component(FakeOpenPlatform(), store)
    body, signature, timestamp, nonce = envelope(plaintext)
    with pytest.raises(InvalidSignatureError):
        await component.handle_callback(body, signature, "1700000001", nonce)
    with pytest.raises(InvalidSignatureError):
        await component.handle_callback(body, "0" * 40, timestamp, nonce)
    # One character of the ciphertext changed: the signature no longer matches.
    at = body.index("<![CDATA[", body.index("<Encrypt>")) + len("<![CDATA[") + 5
    forged = body[:at] + ("B" if body[at] == "A" else "A") + body[at + 1 :]
    with pytest.raises(InvalidSignatureError):
        await component.handle_callback(forged, signature, timestamp, nonce)
    assert store.secret_writes == []
    assert await store.get_secret(TICKET_KEY) is None


@pytest.mark.asyncio
async def test_ticket_push_replaces_the_previous_ticket() -> None:
    fake = FakeOpenPlatform()
    component = make_component(fake)
    await component.handle_callback(*envelope(ticket_xml("ticket@@@first", create_time=1000)))
    # WeChat pushes a new ticket every 10 minutes.
    await component.handle_callback(*envelope(ticket_xml("ticket@@@second", create_time=1600)))
    assert await component.store.get_secret(TICKET_KEY) == "ticket@@@second"
    await component.token.get()
    assert fake.tickets_seen == ["ticket@@@second"]


@pytest.mark.asyncio
async def test_ticket_push_without_a_ticket_is_refused() -> None:
    store = RecordingStore()
    component = make_component(FakeOpenPlatform(), store)
    with pytest.raises(MessageParseError):
        await component.handle_callback(*envelope(ticket_xml("")))
    assert store.secret_writes == []


@pytest.mark.asyncio
async def test_callback_for_another_component_is_refused() -> None:
    from wechat_async.crypto import ReceiveIdMismatchError  # noqa: PLC0415

    other = crypto("wxanothercomponent")
    sealed = other.encrypt(ticket_xml(TICKET), timestamp="1700000000", nonce="n")
    body = f"<xml><Encrypt><![CDATA[{sealed.encrypt}]]></Encrypt></xml>"
    component = make_component(FakeOpenPlatform())
    with pytest.raises(ReceiveIdMismatchError):
        await component.handle_callback(body, sealed.msg_signature, sealed.timestamp, "n")
    assert await component.store.get_secret(TICKET_KEY) is None


# -- authorizer tokens ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_authorizer_token_without_refresh_token() -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    provider = AuthorizerAccessToken(component, AUTHORIZER_APPID)
    with pytest.raises(TokenUnavailableError, match="authorize first") as caught:
        await provider.get()
    assert "query_auth" in str(caught.value)
    assert fake.requests == []


@pytest.mark.asyncio
async def test_authorizer_token_fetch_shape_and_rotation() -> None:
    fake = FakeOpenPlatform()
    store = RecordingStore()
    component = await ready_component(fake, store)
    await store.set_secret(REFRESH_KEY, "refresh_token_value")
    fake.refresh_tokens[AUTHORIZER_APPID] = "refresh_token_value"
    fake.on(
        "cgi-bin/component/api_authorizer_token",
        {
            "authorizer_access_token": "some-access-token",
            "expires_in": 7200,
            "authorizer_refresh_token": "refresh_token_value_2",
        },
    )
    provider = AuthorizerAccessToken(component, AUTHORIZER_APPID)
    assert await provider.get() == "some-access-token"
    request = fake.last("cgi-bin/component/api_authorizer_token")
    assert request.method == "POST"
    assert query(request) == {"component_access_token": "CAT-1"}
    assert json.loads(request.content) == {
        "component_appid": COMPONENT_APPID,
        "authorizer_appid": AUTHORIZER_APPID,
        "authorizer_refresh_token": "refresh_token_value",
    }
    assert await store.get_secret(REFRESH_KEY) == "refresh_token_value_2"
    assert "refresh_token_value" not in repr(provider)
    assert COMPONENT_APPID in provider.key
    assert AUTHORIZER_APPID in provider.key


@pytest.mark.asyncio
async def test_authorizer_token_keeps_refresh_token_when_reply_has_none() -> None:
    fake = FakeOpenPlatform()
    store = RecordingStore()
    component = await ready_component(fake, store)
    await store.set_secret(REFRESH_KEY, "refresh_token_value")
    fake.on(
        "cgi-bin/component/api_authorizer_token",
        {"authorizer_access_token": "some-access-token", "expires_in": 7200},
    )
    assert await component.authorizer_token(AUTHORIZER_APPID).get() == "some-access-token"
    assert [w for w in store.secret_writes if w[0] == REFRESH_KEY] == [
        (REFRESH_KEY, "refresh_token_value", None)
    ]


@pytest.mark.asyncio
async def test_authorizer_token_failure_is_raised() -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    await component.store.set_secret(REFRESH_KEY, "stale-refresh-token")
    fake.refresh_tokens[AUTHORIZER_APPID] = "current-refresh-token"
    with pytest.raises(APIError) as caught:
        await component.authorizer_token(AUTHORIZER_APPID).get()
    assert caught.value.errcode == 61023
    assert "stale-refresh-token" not in str(caught.value)


@pytest.mark.asyncio
async def test_authorizer_token_is_an_ordinary_access_token_provider() -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    code = await component.create_pre_auth_code()
    await component.query_auth(f"queryauthcode@@@{code}")
    provider = component.authorizer_token(AUTHORIZER_APPID)
    seeded = await provider.get()
    fake.on("cgi-bin/message/custom/send", {"errcode": 0, "errmsg": "ok"})
    transport = fake.transport()
    await transport.request(
        "POST",
        "cgi-bin/message/custom/send",
        token=provider,
        json={"touser": "OPENID", "msgtype": "text", "text": {"content": "hi"}},
    )
    assert query(fake.last("cgi-bin/message/custom/send")) == {"access_token": seeded}


@pytest.mark.asyncio
async def test_rejected_authorizer_token_is_refreshed_through_api_authorizer_token() -> None:
    fake = FakeOpenPlatform()
    component = await ready_component(fake)
    code = await component.create_pre_auth_code()
    await component.query_auth(f"queryauthcode@@@{code}")
    provider = component.authorizer_token(AUTHORIZER_APPID)
    seeded = await provider.get()
    fake.on(
        "cgi-bin/message/custom/send",
        {"errcode": 40001, "errmsg": "invalid credential"},
        {"errcode": 0, "errmsg": "ok"},
    )
    await fake.transport().request(
        "POST", "cgi-bin/message/custom/send", token=provider, json={"touser": "x"}
    )
    assert fake.counts["/cgi-bin/component/api_authorizer_token"] == 1
    fresh = query(fake.last("cgi-bin/message/custom/send"))["access_token"]
    assert fresh != seeded
    assert await component.store.get_secret(REFRESH_KEY) == fake.refresh_tokens[AUTHORIZER_APPID]


# -- end to end on a real Redis -------------------------------------------------------------


@pytest.mark.asyncio
async def test_verify_ticket_flow_on_redis(redis_client: Redis, redis_prefix: str) -> None:
    fake = FakeOpenPlatform(latency=0.02)
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    component = make_component(fake, store)

    # 1. The ticket push arrives and is stored in Redis, with its 12-hour life.
    event = await component.handle_callback(*envelope(ticket_xml(TICKET)))
    assert isinstance(event, ComponentVerifyTicketEvent)
    assert await store.get_secret(TICKET_KEY) == TICKET
    ttl_ms = await redis_client.pttl(store.secret_key(TICKET_KEY))
    assert 12 * 3600 * 1000 - 60_000 < ttl_ms <= 12 * 3600 * 1000
    assert COMPONENT_SECRET.encode() not in b"".join(
        [key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")]
    )

    # 2. 200 concurrent callers, each through a Component of its own sharing the
    #    Redis store (as separate workers would): one upstream fetch.
    components = [component] + [make_component(fake, store) for _ in range(9)]
    tokens = await asyncio.gather(*(components[i % 10].token.get() for i in range(200)))
    assert set(tokens) == {"CAT-1"}
    assert fake.counts["/cgi-bin/component/api_component_token"] == 1
    assert fake.tickets_seen == [TICKET]

    # 3. Pre-authorization code, then the admin authorizes and we query the code.
    pre_auth_code = await component.create_pre_auth_code()
    assert component.auth_url(pre_auth_code, "https://example.com/cb").startswith(
        "https://mp.weixin.qq.com/cgi-bin/componentloginpage?"
    )
    info = await component.query_auth(f"queryauthcode@@@{pre_auth_code}")
    assert info.authorizer_appid == AUTHORIZER_APPID
    first_refresh = fake.refresh_tokens[AUTHORIZER_APPID]
    assert await store.get_secret(REFRESH_KEY) == first_refresh

    # 4. The seeded token serves at once; once it is gone, the authorizer token is
    #    refreshed through api_authorizer_token (once, under concurrency) and the
    #    rotated refresh token lands in Redis.
    provider = AuthorizerAccessToken(components[3], AUTHORIZER_APPID)
    assert await provider.get() == info.authorizer_access_token
    assert fake.counts["/cgi-bin/component/api_authorizer_token"] == 0
    await provider.invalidate(info.authorizer_access_token)
    fresh = await asyncio.gather(
        *(AuthorizerAccessToken(c, AUTHORIZER_APPID).get() for c in components for _ in range(5))
    )
    assert len(set(fresh)) == 1
    assert fresh[0] != info.authorizer_access_token
    assert fake.counts["/cgi-bin/component/api_authorizer_token"] == 1
    request = fake.last("cgi-bin/component/api_authorizer_token")
    assert query(request) == {"component_access_token": "CAT-1"}
    assert json.loads(request.content)["authorizer_refresh_token"] == first_refresh
    stored = await store.get_secret(REFRESH_KEY)
    assert stored == fake.refresh_tokens[AUTHORIZER_APPID]
    assert stored != first_refresh
    # Still one component token for the whole flow.
    assert fake.counts["/cgi-bin/component/api_component_token"] == 1


@pytest.mark.asyncio
async def test_unauthorized_event_forgets_the_authorizers_tokens() -> None:
    fake = FakeOpenPlatform()
    fake.on(
        "cgi-bin/component/api_query_auth",
        {
            "authorization_info": {
                "authorizer_appid": AUTHORIZER_APPID,
                "authorizer_access_token": "AAT-seeded",
                "expires_in": 7200,
                "authorizer_refresh_token": "refresh-1",
            }
        },
    )
    store = RecordingStore()
    component = await ready_component(fake, store)
    await component.query_auth("code")
    provider = component.authorizer_token(AUTHORIZER_APPID)
    assert await provider.get() == "AAT-seeded"
    # Withdrawn after the authorization (a push stamped before it would be superseded).
    withdrawn = UNAUTHORIZED_XML.replace("1413192760", str(int(time.time()) + 1))
    event = await component.handle_callback(*envelope(withdrawn))
    assert isinstance(event, UnauthorizedEvent)
    assert not event.superseded
    assert await store.get_secret(REFRESH_KEY) is None
    assert await store.load(provider.key) is None
    # A fresh provider for that account now says plainly that it must be authorized again.
    with pytest.raises(TokenUnavailableError, match="query_auth"):
        await component.authorizer_token(AUTHORIZER_APPID).get()
    assert fake.counts["/cgi-bin/component/api_authorizer_token"] == 0
