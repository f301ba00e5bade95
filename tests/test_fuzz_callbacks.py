"""Fuzz every callback entry point and the typed callback models: only WeChatError, never a hang.

tests/test_crypto_properties.py fuzzes MessageCrypto's own arguments and
ciphertexts. Here the fuzzing goes further in: genuinely signed and encrypted
envelopes around arbitrary payloads (so the hostile bytes reach the payload
parsers and the typed models behind ``Kf.get_callback_message`` and
``Component.handle_callback``), ``parse_kf_event``, and the Kf ``sync_msg``
message union through the shared converter with arbitrary dicts. Each example
must return a model or raise a :class:`~wechat_async.errors.WeChatError`
subclass; anything else (TypeError, AttributeError, RecursionError, ...) is a
bug. A single ``sync_msg`` item must not even raise that: an odd one is kept as
``UnknownKfMessage``. ``deadline`` turns a hang into a failure.

Profiles (tests/conftest.py): "ci" by default; ``HYPOTHESIS_PROFILE=fuzz`` for
the long run (``nox -s fuzz``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import types
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar
from xml.sax.saxutils import escape

import attrs
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import wechat_async.crypto as crypto_module
import wechat_async.open_platform.component as component_module
from wechat_async import _models
from wechat_async.callbacks import parse_json, parse_xml
from wechat_async.crypto import MessageCrypto
from wechat_async.errors import InvalidResponseError, WeChatError
from wechat_async.official_account import custom_messages, parse_kf_event
from wechat_async.open_platform import Component, component_models
from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import StaticToken
from wechat_async.wecom import kf_messages
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import KfCallbackMessage, SyncMsgResult

T = TypeVar("T")

TOKEN = "fuzz-callback-token"
AES_KEY = base64.b64encode(bytes(range(7, 39))).decode().rstrip("=")
CORPID = "ww_fuzz_corp"
COMPONENT_APPID = "wx_fuzz_component"
NOW = 1_800_000_000
NONCE = "fuzz"

# Generous: a hang fails the example, a slow CI machine does not.
no_hang = settings(
    deadline=timedelta(seconds=5),
    # frozen_clock is the same for every example; nothing to reset between them.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

KF_CRYPTO = MessageCrypto(TOKEN, AES_KEY, CORPID, max_age=300)
COMPONENT_CRYPTO = MessageCrypto(TOKEN, AES_KEY, COMPONENT_APPID, max_age=300)
KF = Kf(FakeWeChat().transport(), StaticToken("ACCESS"), KF_CRYPTO)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def component() -> Component:
    # A fresh store per example: a stored ticket must not leak between examples.
    return Component(
        FakeWeChat().transport(), COMPONENT_APPID, "component-secret", crypto=COMPONENT_CRYPTO
    )


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = types.SimpleNamespace(time=lambda: float(NOW))
    monkeypatch.setattr(crypto_module, "time", frozen)
    monkeypatch.setattr(component_module, "time", frozen)  # Component's own window


# -- strategies ------------------------------------------------------------------------


def _field_names(*modules: types.ModuleType) -> list[str]:
    names: set[str] = set()
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value):
                names.update(f.name for f in attrs.fields(value))
    return sorted(names)


WECHAT_XML_NAMES = [
    "ToUserName", "FromUserName", "CreateTime", "MsgType", "Event", "Token", "OpenKfId",
    "KfAccount", "FromKfAccount", "ToKfAccount", "AppId", "InfoType", "ComponentVerifyTicket",
    "AuthorizerAppid", "AuthorizationCode", "AuthorizationCodeExpiredTime", "PreAuthCode",
    "info", "appid", "status", "auth_code", "msg", "name", "code", "code_type", "Item", "Encrypt",
]  # fmt: skip
TAGS = [
    "kf_msg_or_event", "kf_create_session", "kf_close_session", "kf_switch_session", "event",
    "component_verify_ticket", "authorized", "updateauthorized", "unauthorized",
    "notify_third_fasteregister", "text",
]  # fmt: skip
ODD_TEXT = [
    "", "0", "-1", "1e3", "1.5", "٣", " 7 ", "99999999999999999999999999999", "true", "null",
    "{}", "[]", "\u2028", "é", "]]>", "<", "&amp;",
]  # fmt: skip
JSON_KEYS = sorted(
    set(_field_names(kf_messages, component_models, custom_messages))
    | {"msgtype", "event_type", "msg_list", "next_cursor", "has_more", "ToUserName", "Token"}
)
MSGTYPES = sorted(
    {
        tag
        for cls in vars(kf_messages).values()
        if isinstance(cls, type)
        for tag in (getattr(cls, "msgtype", None), getattr(cls, "event_type", None))
        if isinstance(tag, str)
    }
)

xml_names = st.one_of(
    st.sampled_from(WECHAT_XML_NAMES),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,12}", fullmatch=True),
)
plain_text = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.sampled_from(TAGS),
    st.integers().map(str),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40),
)
xml_tree: st.SearchStrategy[Any] = st.recursive(
    plain_text,
    lambda children: st.one_of(
        st.dictionaries(xml_names, children, max_size=6),
        st.lists(children, min_size=2, max_size=3),
    ),
    max_leaves=25,
)


def render(name: str, value: Any, cdata: bool) -> str:
    if isinstance(value, dict):
        return f"<{name}>" + "".join(render(k, v, cdata) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        return "".join(render(name, v, cdata) for v in value)
    if cdata and "]]>" not in value:
        return f"<{name}><![CDATA[{value}]]></{name}>"
    return f"<{name}>{escape(value)}</{name}>"


xml_documents = st.builds(
    lambda children, cdata: render("xml", children, cdata),
    st.dictionaries(xml_names, xml_tree, max_size=10),
    st.booleans(),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from(ODD_TEXT),
    st.sampled_from(MSGTYPES),
    st.text(max_size=20),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(JSON_KEYS), st.text(max_size=8)), children, max_size=6
        ),
    ),
    max_leaves=30,
)
json_objects = st.dictionaries(
    st.one_of(st.sampled_from(JSON_KEYS), st.text(max_size=8)), json_values, max_size=8
)
synced_items = st.one_of(
    json_values,
    st.builds(
        lambda msgtype, rest: {**rest, "msgtype": msgtype},
        st.sampled_from(MSGTYPES),
        json_objects,
    ),
    st.builds(
        lambda event_type, rest: {
            **rest,
            "msgtype": "event",
            "event": {"event_type": event_type, **rest},
        },
        st.sampled_from(MSGTYPES),
        json_objects,
    ),
)
payloads = st.one_of(
    xml_documents,
    st.builds(lambda d: json.dumps(d, allow_nan=True), json_objects),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)
timestamps = st.one_of(
    st.integers(NOW - 400, NOW + 400),
    st.integers(NOW - 400, NOW + 400).map(str),
    st.integers(),
    st.sampled_from(ODD_TEXT),
)


def seal(crypto: MessageCrypto, plaintext: str, timestamp: str | int) -> tuple[str, str, str]:
    """A genuine envelope around ``plaintext``: (Encrypt, msg_signature, timestamp)."""
    sealed = crypto.encrypt(plaintext, timestamp=NOW, nonce=NONCE)
    # Re-sign over the fuzzed timestamp, so the signature holds whatever it is.
    return sealed.encrypt, crypto.sign(timestamp, NONCE, sealed.encrypt), str(timestamp)


COMPONENT_EVENTS = (
    component_models.ComponentVerifyTicketEvent,
    component_models.AuthorizedEvent,
    component_models.UpdateAuthorizedEvent,
    component_models.UnauthorizedEvent,
    component_models.FastRegisterEvent,
    component_models.UnknownComponentEvent,
)


def xml_body(encrypt: str, to: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )


# -- genuine envelopes, arbitrary payloads -------------------------------------------------


@no_hang
@given(plaintext=payloads, timestamp=timestamps, form=st.sampled_from(["xml", "json"]))
@example(plaintext="<xml><CreateTime><a>1</a></CreateTime></xml>", timestamp=NOW, form="xml")
@example(plaintext='{"CreateTime": [1]}', timestamp=NOW, form="json")
@example(plaintext='{"CreateTime": 1e999}', timestamp=NOW, form="json")
@example(plaintext='{"CreateTime": "1e3"}', timestamp=NOW, form="json")
def test_kf_callback_with_arbitrary_payload(
    plaintext: str, timestamp: str | int, form: str
) -> None:
    encrypt, signature, ts = seal(KF_CRYPTO, plaintext, timestamp)
    body = xml_body(encrypt, CORPID) if form == "xml" else json.dumps({"Encrypt": encrypt})
    try:
        message = run(KF.get_callback_message(body, signature, ts, NONCE))
    except WeChatError:
        return
    assert isinstance(message, KfCallbackMessage)
    assert isinstance(message.create_time, int)
    assert isinstance(message.token, str)


@no_hang
@given(plaintext=payloads, timestamp=timestamps)
@example(plaintext="<xml><InfoType>component_verify_ticket</InfoType></xml>", timestamp=NOW)
@example(
    plaintext="<xml><InfoType>unauthorized</InfoType><AuthorizerAppid><a>x</a></AuthorizerAppid></xml>",
    timestamp=NOW,
)
@example(
    plaintext="<xml><InfoType>notify_third_fasteregister</InfoType><info>x</info></xml>",
    timestamp=NOW,
)
def test_component_callback_with_arbitrary_payload(plaintext: str, timestamp: str | int) -> None:
    encrypt, signature, ts = seal(COMPONENT_CRYPTO, plaintext, timestamp)
    body = xml_body(encrypt, COMPONENT_APPID)
    try:
        event = run(component().handle_callback(body, signature, ts, NONCE))
    except WeChatError:
        return
    assert isinstance(event, COMPONENT_EVENTS)
    repr(event)


@no_hang
@given(echostr_plain=st.text(max_size=100), timestamp=timestamps)
def test_kf_verify_url_with_arbitrary_echo(echostr_plain: str, timestamp: str | int) -> None:
    try:
        encrypt, signature, ts = seal(KF_CRYPTO, echostr_plain, timestamp)
    except WeChatError:  # a lone surrogate cannot be sealed
        return
    try:
        echo = run(KF.verify_url(signature, ts, NONCE, encrypt))
    except WeChatError:
        return
    assert echo == echostr_plain


# -- arbitrary arguments at the doors ----------------------------------------------------

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=60),
    st.binary(max_size=60),
    xml_documents,
    st.lists(st.integers(), max_size=2),
)


@no_hang
@given(body=anything, signature=anything, timestamp=anything, nonce=anything, echostr=anything)
def test_kf_and_component_with_arbitrary_arguments(
    body: object, signature: object, timestamp: object, nonce: object, echostr: object
) -> None:
    calls: list[Callable[[], Coroutine[Any, Any, object]]] = [
        lambda: KF.get_callback_message(body, signature, timestamp, nonce),  # type: ignore[arg-type]
        lambda: KF.verify_url(signature, timestamp, nonce, echostr),  # type: ignore[arg-type]
        lambda: component().handle_callback(body, signature, timestamp, nonce),  # type: ignore[arg-type]
    ]
    for call in calls:
        with contextlib.suppress(WeChatError):
            run(call())


# -- the payload parsers and models directly --------------------------------------------------


@no_hang
@given(document=st.one_of(xml_documents, st.text(max_size=300), st.binary(max_size=300)))
@example(document="<xml><Event>kf_switch_session</Event><CreateTime>x</CreateTime></xml>")
@example(document="<xml><Event><a>kf_create_session</a></Event></xml>")
def test_parse_kf_event_and_parse_xml(document: str | bytes) -> None:
    try:
        event = parse_kf_event(document)
    except WeChatError:
        pass
    else:
        repr(event)
    with contextlib.suppress(WeChatError):
        assert isinstance(parse_xml(document), dict)


# An XML declaration with any encoding name: the codecs Python knows (each a different
# failure inside expat), names expat's grammar allows, and anything at all.
encoding_names = st.one_of(
    st.sampled_from(
        ["utf-8", "UTF8", "utf-7", "utf-16", "utf-32", "gbk", "big5", "mbcs", "latin-1", "idna"]
    ),
    st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,30}", fullmatch=True),
    st.text(max_size=30),
)
declared_documents = st.builds(
    lambda encoding, quote, document: (
        f"<?xml version={quote}1.0{quote} encoding={quote}{encoding}{quote}?>{document}"
    ),
    encoding_names,
    st.sampled_from(['"', "'"]),
    st.one_of(xml_documents, st.just("<xml><Encrypt>QUJD</Encrypt></xml>")),
)


@no_hang
@given(document=declared_documents, as_bytes=st.booleans())
@example(document='<?xml version="1.0" encoding="x-nope"?><xml/>', as_bytes=True)
@example(document='<?xml version="1.0" encoding="utf-7"?><xml/>', as_bytes=False)
def test_any_declared_encoding_is_utf8_or_our_error(document: str, as_bytes: bool) -> None:
    body: str | bytes = document.encode() if as_bytes else document
    for parse in (
        parse_xml,
        parse_kf_event,
        lambda b: KF_CRYPTO.decrypt_xml(b, "0" * 40, NOW, NONCE),
    ):
        with contextlib.suppress(WeChatError):
            parse(body)
    with contextlib.suppress(WeChatError):
        run(KF.get_callback_message(body, "0" * 40, NOW, NONCE))
    encrypt, signature, ts = seal(KF_CRYPTO, document, NOW)
    with contextlib.suppress(WeChatError):
        run(KF.get_callback_message(xml_body(encrypt, CORPID), signature, ts, NONCE))


@no_hang
@given(document=st.one_of(st.builds(json.dumps, json_values), st.text(max_size=200)))
def test_parse_json(document: str) -> None:
    with contextlib.suppress(WeChatError):
        assert isinstance(parse_json(document), dict)


@no_hang
@given(msg_list=st.lists(synced_items, max_size=5), page=json_objects)
@example(msg_list=[{"msgtype": "text", "text": None}], page={})
@example(msg_list=[{"msgtype": "event", "event": []}], page={})
@example(msg_list=[{"msgtype": "location", "location": {"latitude": "nan"}}], page={})
def test_sync_msg_union_through_the_shared_converter(
    msg_list: list[Any], page: dict[str, Any]
) -> None:
    reply = {**page, "msg_list": msg_list}
    try:
        result = _models.structure(reply, SyncMsgResult, "cgi-bin/kf/sync_msg")
    except InvalidResponseError:
        pass
    else:
        assert isinstance(result, SyncMsgResult)
        repr(result)
    for item in msg_list:  # each item alone, as the one message of a page: never a failure
        alone = _models.structure({"msg_list": [item]}, SyncMsgResult, "cgi-bin/kf/sync_msg")
        assert len(alone.msg_list) == 1
