"""Secrets audit: an end-to-end flow logged at DEBUG leaks no secret anywhere.

One representative run against FakeWeChat: Official Account, WeCom and
component / authorizer tokens; API calls; failures (wrong secrets, HTTP 500,
garbage bodies, errcodes, expired tokens); callbacks good and bad. Every
logger is captured at DEBUG (root, httpx, httpcore, wechat_async), every
exception is kept, every SDK object's repr is taken; then no known secret
(app / corp / component secrets, every access token the fake issued, refresh
tokens, tickets, authorization codes, AES keys, callback tokens, the Kf sync
token) may appear in any log record, exception str / repr / traceback, or repr.
"""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Awaitable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest

from wechat_async.crypto import MessageCrypto
from wechat_async.errors import WeChatError
from wechat_async.official_account.custom import Custom
from wechat_async.official_account.custom_messages import Text
from wechat_async.open_platform.component import Component
from wechat_async.testing.fake import FakeWeChat, IssuedToken
from wechat_async.tokens import AccessToken, StableAccessToken
from wechat_async.wecom.client import WeCom

COMPONENT_APPID = "wx_audit_component"
COMPONENT_SECRET = "audit-component-secret-5f1e"
COMPONENT_CALLBACK_TOKEN = "audit-component-callback-token"
COMPONENT_AES_KEY = base64.b64encode(bytes(range(40, 72))).decode().rstrip("=")
KF_CALLBACK_TOKEN = "audit-kf-callback-token"
KF_AES_KEY = base64.b64encode(bytes(range(80, 112))).decode().rstrip("=")
KF_SYNC_TOKEN = "ENC_audit_kf_sync_token_9c2d"
WRONG_SECRETS = ("audit-wrong-app-secret", "audit-wrong-corp-secret")
AUTHORIZER = "wx_audit_authorizer"
LOGGERS = ("", "httpx", "httpcore", "wechat_async")


class Capture(logging.Handler):
    """Keeps every record, formatted with its traceback, plus its raw msg and args."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(f"{record.msg!s} {record.args!r}")


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class Flow:
    """What the run leaves behind: exceptions and objects to inspect."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.objects: list[object] = []
        self.secrets: set[str] = set()  # one-time codes the fake forgets once used

    async def expect_error(self, awaitable: Awaitable[object]) -> BaseException:
        try:
            await awaitable
        except WeChatError as exc:
            self.errors.append(exc)
            return exc
        pytest.fail("the call should have failed")

    def keep(self, *objects: object) -> None:
        self.objects.extend(objects)


def issued_tokens(fake: FakeWeChat) -> set[str]:
    """Every access token the fake handed out, read from fake.tokens and the component state."""
    found: set[str] = set()
    for value in vars(fake.tokens).values():
        items: list[Any] = []
        if isinstance(value, dict):
            items = list(value.values())
        elif isinstance(value, IssuedToken):
            items = [value]
        elif hasattr(value, "current"):  # the stable-token state
            items = [value.current]
        found.update(item.value for item in items if isinstance(item, IssuedToken))
    found.update(fake.official.component_tokens)
    return found


def kf_callback_xml() -> str:
    return (
        "<xml><ToUserName><![CDATA[ww_fake_corp]]></ToUserName><CreateTime>1</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{KF_SYNC_TOKEN}]]></Token><OpenKfId><![CDATA[wk1]]></OpenKfId></xml>"
    )


async def run_flow(fake: FakeWeChat, flow: Flow) -> None:  # noqa: PLR0915 - one long story
    transport = fake.transport()
    flow.keep(transport)

    # -- Official Account: classic and stable tokens, calls, failures ---------------------
    oa_token = AccessToken(fake.appid, fake.secret, transport=transport)
    stable = StableAccessToken(fake.appid, fake.secret, transport=transport)
    custom = Custom(transport, oa_token)
    flow.keep(oa_token, stable, custom)
    fake.official.add_follower("o_audit")
    await custom.send_msg_by_kf("o_audit", Text("hello"))
    await stable.get()
    fake.tokens.expire_all()  # the cached tokens turn invalid: 42001, refresh, retry
    await custom.send_msg_by_kf("o_audit", Text("again"))
    await stable.invalidate(await stable.get())
    await stable.get()
    bad_oa = AccessToken(fake.appid, WRONG_SECRETS[0], transport=transport)
    flow.keep(bad_oa)
    await flow.expect_error(bad_oa.get())
    await flow.expect_error(Custom(transport, bad_oa).send_msg_by_kf("o_audit", Text("x")))
    fake.faults.http_status("cgi-bin/message/custom/send", 500, times=10)
    await flow.expect_error(custom.send_msg_by_kf("o_audit", Text("x")))
    fake.faults.clear()
    fake.faults.garbage("cgi-bin/message/custom/send", times=10)
    await flow.expect_error(custom.send_msg_by_kf("o_audit", Text("x")))
    fake.faults.clear()
    fake.faults.errcode("cgi-bin/message/custom/send", 40001, times=10)
    await flow.expect_error(custom.send_msg_by_kf("o_audit", Text("x")))
    fake.faults.clear()
    await flow.expect_error(custom.send_msg_by_kf("o_not_a_follower", Text("x")))

    # -- WeCom Kf: token, calls, failures, callbacks ---------------------------------------
    kf_crypto = MessageCrypto(KF_CALLBACK_TOKEN, KF_AES_KEY, fake.corp_id, max_age=300)
    wecom = WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport, crypto=kf_crypto)
    flow.keep(wecom, wecom.token, wecom.kf, kf_crypto)
    await wecom.kf.account_list()
    fake.tokens.expire_all()
    await wecom.kf.account_list()
    fake.faults.http_status("cgi-bin/kf/account/list", 502, times=10)
    await flow.expect_error(wecom.kf.account_list())
    fake.faults.clear()
    bad_wecom = WeCom(fake.corp_id, WRONG_SECRETS[1], transport=transport)
    flow.keep(bad_wecom, bad_wecom.token)
    await flow.expect_error(bad_wecom.kf.account_list())
    sealed = kf_crypto.encrypt(kf_callback_xml())
    body = f"<xml><Encrypt><![CDATA[{sealed.encrypt}]]></Encrypt></xml>"
    message = await wecom.kf.get_callback_message(
        body, sealed.msg_signature, sealed.timestamp, sealed.nonce
    )
    assert message.token == KF_SYNC_TOKEN
    flow.keep(message, sealed)
    await flow.expect_error(
        wecom.kf.get_callback_message(body, "0" * 40, sealed.timestamp, sealed.nonce)
    )
    old = kf_crypto.encrypt(kf_callback_xml(), timestamp=1)
    await flow.expect_error(
        wecom.kf.get_callback_message(
            f"<xml><Encrypt>{old.encrypt}</Encrypt></xml>", old.msg_signature, "1", old.nonce
        )
    )
    other = MessageCrypto(KF_CALLBACK_TOKEN, KF_AES_KEY, "ww_other").encrypt(kf_callback_xml())
    await flow.expect_error(
        wecom.kf.get_callback_message(
            f"<xml><Encrypt>{other.encrypt}</Encrypt></xml>",
            other.msg_signature,
            other.timestamp,
            other.nonce,
        )
    )
    await flow.expect_error(wecom.kf.verify_url("0" * 40, sealed.timestamp, "n", sealed.encrypt))

    # -- the component and an authorizer -----------------------------------------------------
    fake.official.component(
        COMPONENT_APPID,
        COMPONENT_SECRET,
        token=COMPONENT_CALLBACK_TOKEN,
        encoding_aes_key=COMPONENT_AES_KEY,
    )
    component_crypto = MessageCrypto(
        COMPONENT_CALLBACK_TOKEN, COMPONENT_AES_KEY, COMPONENT_APPID, max_age=300
    )
    component = Component(transport, COMPONENT_APPID, COMPONENT_SECRET, crypto=component_crypto)
    flow.keep(component, component.token, component.store, component_crypto)
    await flow.expect_error(component.create_pre_auth_code())  # no ticket yet

    async def event_url(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        event = await component.handle_callback(
            request.content, params["msg_signature"], params["timestamp"], params["nonce"]
        )
        flow.keep(event)
        return httpx.Response(200, text="success")

    async with httpx.AsyncClient(transport=httpx.MockTransport(event_url)) as client:
        await fake.official.push_verify_ticket("https://app.test/auth-event", client)
    await flow.expect_error(
        component.handle_callback(
            f"<xml><Encrypt>{sealed.encrypt}</Encrypt></xml>",
            sealed.msg_signature,
            sealed.timestamp,
            sealed.nonce,
        )
    )
    pre_auth = await component.create_pre_auth_code()
    component.auth_url(pre_auth, "https://app.test/back")  # carries the code by design
    code = fake.official.authorize(AUTHORIZER)
    flow.secrets.update((pre_auth, code))
    info = await component.query_auth(code)
    flow.keep(info)
    await flow.expect_error(component.query_auth(code))  # used: 61010
    authorizer = component.authorizer_token(AUTHORIZER)
    flow.keep(authorizer)
    fake.official.rotate_refresh_tokens = True
    await authorizer.invalidate(await authorizer.get())
    fake.official.add_follower("o_authorized")
    await Custom(transport, authorizer).send_msg_by_kf("o_authorized", Text("hi"))
    flow.keep(await component.get_authorizer_info(AUTHORIZER))
    fake.tokens.expire_all()
    await Custom(transport, authorizer).send_msg_by_kf("o_authorized", Text("hi again"))
    await flow.expect_error(component.get_authorizer_info("wx_never_authorized"))
    await transport.aclose()


def known_secrets(fake: FakeWeChat, flow: Flow) -> set[str]:
    secrets = {
        *flow.secrets,
        fake.secret,
        *fake.corp_secrets,
        *WRONG_SECRETS,
        COMPONENT_SECRET,
        COMPONENT_CALLBACK_TOKEN,
        COMPONENT_AES_KEY,
        KF_CALLBACK_TOKEN,
        KF_AES_KEY,
        KF_SYNC_TOKEN,
        *issued_tokens(fake),
        *(ticket for ticket, _ in fake.official.tickets),
        *fake.official.auth_codes,
        *fake.official.pre_auth_codes,
        *(a.refresh_token for a in fake.official.authorizers.values() if a.refresh_token),
    }
    # As they would appear in a URL, too.
    return {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s))}


def find_leaks(places: dict[str, list[str]], secrets: set[str]) -> list[tuple[str, str, str]]:
    return [
        (where, secret, text[:300])
        for where, texts in places.items()
        for text in texts
        for secret in secrets
        if secret in text
    ]


def exception_texts(exc: BaseException) -> list[str]:
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


@pytest.mark.asyncio
async def test_no_secret_reaches_logs_exceptions_or_reprs(capture: Capture) -> None:
    fake = FakeWeChat()
    flow = Flow()
    await run_flow(fake, flow)

    secrets = known_secrets(fake, flow)
    # The run did what it claims: tokens of every kind were issued and logs were written.
    assert {s[:7] for s in issued_tokens(fake)} >= {"FAKE_AT", "FAKE_ST", "FAKE_WT"}
    assert any(a.refresh_token for a in fake.official.authorizers.values())
    assert fake.official.component_tokens
    assert fake.official.tickets
    assert len(flow.errors) >= 15
    assert any("HTTP Request" in text for text in capture.texts)  # httpx was heard

    places: dict[str, list[str]] = {
        "log record": capture.texts,
        "exception": [t for exc in flow.errors for t in exception_texts(exc)],
        "repr": [repr(obj) for obj in flow.objects],
    }
    # The detector itself works: a planted leak is found.
    planted = f"GET /x?grant=1&key={quote(next(iter(flow.secrets)), safe='')}"
    assert find_leaks({"planted": [planted]}, secrets)
    leaks = find_leaks(places, secrets)
    assert not leaks, "\n".join(f"{w}: {s!r} in {t!r}" for w, s, t in leaks)
