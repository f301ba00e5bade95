"""Hostile callbacks through every entry point: each refused with the right error, quickly.

The entry points: ``MessageCrypto.decrypt_xml`` / ``decrypt_json`` /
``verify_url``, ``Kf.get_callback_message`` (XML and JSON) / ``Kf.verify_url``,
``Component.handle_callback``, and the payload parsers ``parse_kf_event``,
``callbacks.parse_xml`` / ``parse_json``. tests/test_crypto.py covers the
MessageCrypto primitives one by one; here every attack goes through every
door, including the freshness window (``max_age``) and hostile *decrypted*
payloads behind a valid signature.
"""

from __future__ import annotations

import base64
import json
import time
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

import wechat_async.crypto as crypto_module
import wechat_async.open_platform.component as component_module
from tests.test_crypto import BARE_DOCTYPE, BILLION_LAUGHS, XXE_FILE, XXE_PARAMETER
from wechat_async.callbacks import MAX_DEPTH, MAX_SIZE, parse_json, parse_xml
from wechat_async.crypto import (
    CryptoError,
    DecodeBase64Error,
    EncryptedMessage,
    ForbiddenXmlError,
    InvalidSignatureError,
    MessageCrypto,
    MessageParseError,
    MessageTooLargeError,
    ReceiveIdMismatchError,
    SignatureInputError,
    StaleTimestampError,
)
from wechat_async.errors import WeChatError
from wechat_async.official_account import parse_kf_event
from wechat_async.open_platform import (
    Component,
    ComponentVerifyTicketEvent,
    UnknownComponentEvent,
)
from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import StaticToken
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import KfCallbackMessage

TOKEN = "hostile-callback-token"
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
CORPID = "ww_hostile_corp"
COMPONENT_APPID = "wx_hostile_component"
NOW = 1_800_000_000
MAX_AGE = 300
NONCE = "n0nce"

KF_PLAINTEXT = (
    f"<xml><ToUserName><![CDATA[{CORPID}]]></ToUserName><CreateTime>{NOW}</CreateTime>"
    "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
    "<Token><![CDATA[SYNC_TOKEN_SECRET]]></Token><OpenKfId><![CDATA[wk_1]]></OpenKfId></xml>"
)
TICKET = "ticket@@@hostile"
TICKET_PLAINTEXT = (
    f"<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>{NOW}</CreateTime>"
    "<InfoType>component_verify_ticket</InfoType>"
    f"<ComponentVerifyTicket>{TICKET}</ComponentVerifyTicket></xml>"
)
TICKET_KEY = f"component_verify_ticket:{COMPONENT_APPID}"
ECHO = "1616140317555161061"

Call = Callable[[str, str, str | int, str | int], Awaitable[object]]
"""(body, msg_signature, timestamp, nonce) -> the entry point's result."""


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """MessageCrypto and Component see time.time() == NOW, so window edges are exact."""
    frozen = types.SimpleNamespace(time=lambda: float(NOW))
    monkeypatch.setattr(crypto_module, "time", frozen)
    monkeypatch.setattr(component_module, "time", frozen)  # Component's own window


def crypto(receive_id: str | None, *, max_age: float | None = MAX_AGE) -> MessageCrypto:
    return MessageCrypto(TOKEN, AES_KEY, receive_id, max_age=max_age)


def xml_envelope(encrypt: str, to: str = CORPID) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    )


def json_envelope(encrypt: str) -> str:
    return json.dumps({"ToUserName": CORPID, "Encrypt": encrypt, "AgentID": ""})


@dataclass(frozen=True)
class Door:
    """One callback entry point: how to wrap a sealed message for it, and how to call it."""

    name: str
    receive_id: str
    plaintext: str
    wrap: Callable[[str], str]  # Encrypt -> the body (or echostr) this door takes
    call: Callable[[MessageCrypto], Call]
    xml: bool  # does the outer body go through an XML parser?


def _sync(method: Callable[..., object]) -> Call:
    async def call(body: str, sig: str, ts: str | int, nonce: str | int) -> object:
        return method(body, sig, ts, nonce)

    return call


def _kf(c: MessageCrypto) -> Kf:
    return Kf(FakeWeChat().transport(), StaticToken("ACCESS"), c)


def _component(c: MessageCrypto) -> Component:
    # Component's own window follows the crypto's, so each door is judged alike.
    return Component(
        FakeWeChat().transport(), COMPONENT_APPID, "component-secret", crypto=c, max_age=c.max_age
    )


def _verify_url(c: MessageCrypto) -> Call:
    async def call(body: str, sig: str, ts: str | int, nonce: str | int) -> object:
        return c.verify_url(sig, ts, nonce, body)

    return call


def _kf_verify_url(c: MessageCrypto) -> Call:
    kf = _kf(c)

    async def call(body: str, sig: str, ts: str | int, nonce: str | int) -> object:
        return await kf.verify_url(sig, ts, nonce, body)

    return call


def _identity(encrypt: str) -> str:
    return encrypt


DOORS = [
    Door("decrypt_xml", CORPID, KF_PLAINTEXT, xml_envelope, lambda c: _sync(c.decrypt_xml), True),
    Door(
        "decrypt_json", CORPID, KF_PLAINTEXT, json_envelope, lambda c: _sync(c.decrypt_json), False
    ),
    Door("verify_url", CORPID, ECHO, _identity, _verify_url, False),
    Door(
        "kf.get_callback_message/xml",
        CORPID,
        KF_PLAINTEXT,
        xml_envelope,
        lambda c: _kf(c).get_callback_message,
        True,
    ),
    Door(
        "kf.get_callback_message/json",
        CORPID,
        KF_PLAINTEXT,
        json_envelope,
        lambda c: _kf(c).get_callback_message,
        False,
    ),
    Door("kf.verify_url", CORPID, ECHO, _identity, _kf_verify_url, False),
    Door(
        "component.handle_callback",
        COMPONENT_APPID,
        TICKET_PLAINTEXT,
        lambda e: xml_envelope(e, COMPONENT_APPID),
        lambda c: _component(c).handle_callback,
        True,
    ),
]
XML_DOORS = [d for d in DOORS if d.xml]
ids = [d.name for d in DOORS]
xml_ids = [d.name for d in XML_DOORS]


def seal(
    door: Door, *, timestamp: str | int = NOW, plaintext: str | None = None
) -> EncryptedMessage:
    return crypto(door.receive_id).encrypt(
        door.plaintext if plaintext is None else plaintext, timestamp=timestamp, nonce=NONCE
    )


async def deliver(
    door: Door,
    sealed: EncryptedMessage,
    *,
    via: MessageCrypto | None = None,
    timestamp: str | int | None = None,
    signature: str | None = None,
) -> object:
    call = door.call(crypto(door.receive_id) if via is None else via)
    return await call(
        door.wrap(sealed.encrypt),
        sealed.msg_signature if signature is None else signature,
        sealed.timestamp if timestamp is None else timestamp,
        sealed.nonce,
    )


def check_result(door: Door, result: object) -> None:
    if door.plaintext == ECHO:
        assert result == ECHO
    elif door.name.startswith("kf."):
        assert isinstance(result, KfCallbackMessage)
        assert result.open_kfid == "wk_1"
    elif door.name.startswith("component."):
        assert isinstance(result, ComponentVerifyTicketEvent)
    else:
        assert result == door.plaintext.encode()


# -- the doors open for a genuine, fresh message ---------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
@pytest.mark.parametrize("offset", [0, -MAX_AGE, MAX_AGE, -1, 1])
async def test_fresh_message_is_accepted_at_the_window_edges(door: Door, offset: int) -> None:
    sealed = seal(door, timestamp=NOW + offset)
    check_result(door, await deliver(door, sealed))


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
async def test_int_timestamp_is_judged_like_its_text(door: Door) -> None:
    sealed = seal(door)
    check_result(door, await deliver(door, sealed, timestamp=NOW))
    old = seal(door, timestamp=NOW - MAX_AGE - 1)
    with pytest.raises(StaleTimestampError):
        await deliver(door, old, timestamp=NOW - MAX_AGE - 1)


# -- tampered signatures and parameters ------------------------------------------------


def _flip(signature: str) -> str:
    return ("1" if signature[0] == "0" else "0") + signature[1:]


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
@pytest.mark.parametrize(
    "tamper",
    [_flip, str.upper, lambda s: s[:-1], lambda _: "", lambda s: s + "0", lambda _: "é" * 40],
    ids=["flipped", "upper", "short", "empty", "long", "non-ascii"],
)
async def test_tampered_signature(door: Door, tamper: Callable[[str], str]) -> None:
    sealed = seal(door)
    with pytest.raises(InvalidSignatureError):
        await deliver(door, sealed, signature=tamper(sealed.msg_signature))


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
async def test_signature_binds_timestamp_nonce_and_ciphertext(door: Door) -> None:
    sealed = seal(door)
    with pytest.raises(InvalidSignatureError):
        await deliver(door, sealed, timestamp=NOW + 1)  # fresh, but not what was signed
    call = door.call(crypto(door.receive_id))
    with pytest.raises(InvalidSignatureError):
        await call(door.wrap(sealed.encrypt), sealed.msg_signature, sealed.timestamp, "other")
    other = seal(door, plaintext=door.plaintext.replace("1", "2", 1))
    with pytest.raises(InvalidSignatureError):  # a signature lifted from another message
        await call(door.wrap(other.encrypt), sealed.msg_signature, sealed.timestamp, NONCE)


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
async def test_message_sealed_with_another_token(door: Door) -> None:
    forged = MessageCrypto("attacker-token", AES_KEY, door.receive_id).encrypt(
        door.plaintext, timestamp=NOW, nonce=NONCE
    )
    with pytest.raises(InvalidSignatureError):
        await deliver(door, forged)


# -- the freshness window ----------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
@pytest.mark.parametrize(
    "timestamp",
    [NOW - MAX_AGE - 1, NOW - 86400 * 365, 0, NOW + MAX_AGE + 1, NOW + 86400, 10**19],
    ids=["just-old", "a-year-old", "epoch", "just-ahead", "a-day-ahead", "far-future"],
)
async def test_replayed_or_far_future_timestamp(door: Door, timestamp: int) -> None:
    sealed = seal(door, timestamp=timestamp)
    with pytest.raises(StaleTimestampError) as info:
        await deliver(door, sealed)
    assert info.value.code == -40100
    assert isinstance(info.value, CryptoError)
    assert TOKEN not in str(info.value)


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
async def test_stale_and_forged_is_a_signature_error(door: Door) -> None:
    # The signature comes first: a forgery is InvalidSignatureError whatever its timestamp.
    sealed = seal(door, timestamp=NOW - 10 * MAX_AGE)
    with pytest.raises(InvalidSignatureError):
        await deliver(door, sealed, signature=_flip(sealed.msg_signature))


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
async def test_without_a_window_old_messages_still_open(door: Door) -> None:
    sealed = seal(door, timestamp=1_000_000_000)
    check_result(door, await deliver(door, sealed, via=crypto(door.receive_id, max_age=None)))


def test_stale_is_judged_before_any_decryption() -> None:
    # Correctly signed garbage: without a window it fails at base64; with one, stale wins.
    c = crypto(CORPID)
    garbage = "!!not base64!!"
    old = str(NOW - MAX_AGE - 1)
    signature = c.sign(old, NONCE, garbage)
    with pytest.raises(StaleTimestampError):
        c.decrypt(garbage, signature, old, NONCE)
    with pytest.raises(DecodeBase64Error):
        crypto(CORPID, max_age=None).decrypt(garbage, signature, old, NONCE)


@pytest.mark.parametrize(
    "timestamp",
    [
        "",
        "17e8",
        "+1800000000",
        " 1800000000",
        "1800000000 ",
        "1_800_000_000",
        "١٨٠٠",
        "0x6b49d200",
    ],
)
def test_signed_timestamp_that_is_not_digits(timestamp: str) -> None:
    c = crypto(CORPID)
    sealed = crypto(CORPID, max_age=None).encrypt("x", nonce=NONCE, timestamp="1")
    # Re-sign the same ciphertext over the odd timestamp: only the timestamp is odd.
    signature = c.sign(timestamp, NONCE, sealed.encrypt)
    with pytest.raises(SignatureInputError):
        c.decrypt(sealed.encrypt, signature, timestamp, NONCE)
    # Without a window nothing reads the timestamp beyond the signature.
    lenient = crypto(CORPID, max_age=None)
    assert lenient.decrypt(sealed.encrypt, signature, timestamp, NONCE) == b"x"


@pytest.mark.parametrize("timestamp", [-(10**400), 10**400, -1])
def test_huge_or_negative_int_timestamps_are_stale_not_overflow(timestamp: int) -> None:
    c = crypto(CORPID)
    sealed = c.encrypt("x", nonce=NONCE, timestamp="1")
    signature = c.sign(timestamp, NONCE, sealed.encrypt)
    with pytest.raises(StaleTimestampError, match=r"far|old"):
        c.decrypt(sealed.encrypt, signature, timestamp, NONCE)


@pytest.mark.parametrize("max_age", [0, -1, float("nan"), float("inf"), True, "300", [300]])
def test_bad_max_age(max_age: object) -> None:
    with pytest.raises(StaleTimestampError):
        MessageCrypto(TOKEN, AES_KEY, CORPID, max_age=max_age)  # type: ignore[arg-type]


def test_max_age_is_visible_and_not_secret() -> None:
    c = MessageCrypto(TOKEN, AES_KEY, CORPID, max_age=120)
    assert c.max_age == 120.0
    assert "max_age=120.0" in repr(c)
    assert TOKEN not in repr(c)
    assert MessageCrypto(TOKEN, AES_KEY, CORPID).max_age is None


def test_window_uses_the_real_clock_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto_module, "time", time)
    c = crypto(CORPID)
    fresh = c.encrypt("x", nonce=NONCE)  # the default timestamp is now
    assert c.decrypt(fresh.encrypt, fresh.msg_signature, fresh.timestamp, NONCE) == b"x"
    old = c.encrypt("x", nonce=NONCE, timestamp=int(time.time()) - 3600)
    with pytest.raises(StaleTimestampError):
        c.decrypt(old.encrypt, old.msg_signature, old.timestamp, NONCE)


@pytest.mark.asyncio
async def test_stale_ticket_push_stores_nothing() -> None:
    component = _component(crypto(COMPONENT_APPID))
    door = DOORS[-1]
    sealed = seal(door, timestamp=NOW - MAX_AGE - 1)
    with pytest.raises(StaleTimestampError):
        await component.handle_callback(
            door.wrap(sealed.encrypt), sealed.msg_signature, sealed.timestamp, sealed.nonce
        )
    assert await component.store.get_secret(TICKET_KEY) is None
    fresh = seal(door)
    await component.handle_callback(
        door.wrap(fresh.encrypt), fresh.msg_signature, fresh.timestamp, fresh.nonce
    )
    assert await component.store.get_secret(TICKET_KEY) == TICKET


# -- wrong receive ids ---------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
@pytest.mark.parametrize("other", ["ww_another_corp", "", "wx_hostile_component\x00", "é" * 100])
async def test_message_for_another_receive_id(door: Door, other: str) -> None:
    # Same token and key (a shared secret between two apps), another appid / corpid.
    if other == door.receive_id:
        pytest.skip("same id")
    sealed = crypto(other).encrypt(door.plaintext, timestamp=NOW, nonce=NONCE)
    with pytest.raises(ReceiveIdMismatchError) as info:
        await deliver(door, sealed)
    assert len(str(info.value)) < 400  # the untrusted id is shown truncated


# -- XXE, billion laughs, deep nesting --------------------------------------------------

HOSTILE_XML = {
    "billion-laughs": BILLION_LAUGHS,
    "xxe-file": XXE_FILE,
    "xxe-parameter": XXE_PARAMETER,
    "bare-doctype": BARE_DOCTYPE,
    "quadratic-blowup": (
        '<!DOCTYPE xml [<!ENTITY a "'
        + "x" * 50_000
        + '">]><xml><Encrypt>'
        + "&a;" * 20_000
        + "</Encrypt></xml>"
    ),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("door", XML_DOORS, ids=xml_ids)
@pytest.mark.parametrize("body", HOSTILE_XML.values(), ids=HOSTILE_XML.keys())
async def test_hostile_xml_envelope(door: Door, body: str) -> None:
    call = door.call(crypto(door.receive_id))
    started = time.perf_counter()
    with pytest.raises(ForbiddenXmlError):
        await call(body, "0" * 40, NOW, NONCE)
    assert time.perf_counter() - started < 1.0  # refused, not expanded


@pytest.mark.parametrize("body", HOSTILE_XML.values(), ids=HOSTILE_XML.keys())
@pytest.mark.parametrize(
    "parse", [parse_xml, parse_kf_event], ids=["callbacks.parse_xml", "parse_kf_event"]
)
def test_hostile_xml_payload_parsers(parse: Callable[[str | bytes], object], body: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ForbiddenXmlError):
        parse(body)
    with pytest.raises(ForbiddenXmlError):
        parse(body.encode())
    assert time.perf_counter() - started < 1.0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "door",
    [d for d in DOORS if d.plaintext != ECHO],
    ids=[d.name for d in DOORS if d.plaintext != ECHO],
)
@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE_FILE], ids=["billion-laughs", "xxe"])
async def test_hostile_xml_inside_a_genuine_message(door: Door, payload: str) -> None:
    # Signed and encrypted with the real token and key (a leaked key, a compromised relay):
    # the decrypted payload is parsed just as warily as the envelope.
    sealed = seal(door, plaintext=payload)
    started = time.perf_counter()
    if door.name.startswith(("kf.", "component.")):
        with pytest.raises(ForbiddenXmlError):
            await deliver(door, sealed)
    else:  # the raw crypto layer hands back bytes; parsing them is the caller's step
        plaintext = await deliver(door, sealed)
        assert isinstance(plaintext, bytes)
        with pytest.raises(ForbiddenXmlError):
            parse_xml(plaintext)
    assert time.perf_counter() - started < 1.0


@pytest.mark.asyncio
@pytest.mark.parametrize("door", XML_DOORS, ids=xml_ids)
async def test_deeply_nested_envelope(door: Door) -> None:
    body = "<xml>" + "<a>" * 200_000 + "</a>" * 200_000 + "</xml>"
    started = time.perf_counter()
    with pytest.raises(MessageParseError):
        await door.call(crypto(door.receive_id))(body, "0" * 40, NOW, NONCE)
    assert time.perf_counter() - started < 5.0


def test_deeply_nested_payloads_are_bounded() -> None:
    with pytest.raises(MessageParseError, match="nested"):
        parse_xml("<xml>" + "<a>" * MAX_DEPTH + "</a>" * MAX_DEPTH + "</xml>")
    with pytest.raises(MessageParseError):
        parse_kf_event("<xml>" + "<a>" * 100_000 + "</a>" * 100_000 + "</xml>")
    for deep in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        with pytest.raises(MessageParseError):
            parse_json(deep)


def test_oversize_plaintext_payloads_are_refused_before_parsing() -> None:
    big = "<xml><Content>" + "x" * MAX_SIZE + "</Content></xml>"
    for parse in (parse_xml, parse_kf_event):
        with pytest.raises(MessageTooLargeError):
            parse(big)
    with pytest.raises(MessageTooLargeError):
        parse_json('{"a": "' + "x" * MAX_SIZE + '"}')


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["xml", "json"])
async def test_deeply_nested_json_inside_a_genuine_kf_message(form: str) -> None:
    door = next(d for d in DOORS if d.name == f"kf.get_callback_message/{form}")
    sealed = seal(door, plaintext="{" + '"a":[' * 50_000 + "]" * 50_000 + "}")
    with pytest.raises(MessageParseError):
        await deliver(door, sealed)


@pytest.mark.asyncio
async def test_wrong_shape_inside_a_genuine_message() -> None:
    payload = "<xml><CreateTime><a>1</a><a>2</a></CreateTime><InfoType>x</InfoType></xml>"
    kf_door = next(d for d in DOORS if d.name == "kf.get_callback_message/xml")
    with pytest.raises(MessageParseError, match="unexpected shape"):
        await deliver(kf_door, seal(kf_door, plaintext=payload))
    component_door = DOORS[-1]
    event = await deliver(component_door, seal(component_door, plaintext=payload))
    assert isinstance(event, UnknownComponentEvent)
    assert event.raw == {"CreateTime": {"a": ["1", "2"]}, "InfoType": "x"}


# -- encodings other than UTF-8 -------------------------------------------------------------
#
# WeChat sends UTF-8 only. A declared encoding used to reach Python's codec lookup from
# inside expat: LookupError ("x-nope", "mbcs" off Windows, a huge name), ValueError
# ("utf-7", "gbk", "utf-32": multi-byte codecs expat cannot use), all outside our error
# tree, so a web app answered 500; "latin-1" silently decoded the body another way.

ODD_ENCODINGS = [
    "x-nope",
    "utf-7",
    "UTF-7",
    "gbk",
    "gb2312",
    "utf-32",
    "utf-16",
    "mbcs",
    "latin-1",
    "ISO-8859-1",
    "us-ascii",
    "cp037",
    "idna",
    "rot13",
    "",
    "E" * 100_000,
]


def declared(encoding: str, document: str) -> str:
    return f'<?xml version="1.0" encoding="{encoding}"?>{document}'


def _short(encoding: str) -> str:
    return encoding if len(encoding) < 20 else f"{encoding[:5]}...x{len(encoding)}"


@pytest.mark.asyncio
@pytest.mark.parametrize("door", XML_DOORS, ids=xml_ids)
@pytest.mark.parametrize("encoding", ODD_ENCODINGS, ids=_short)
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
async def test_envelope_declaring_another_encoding(
    door: Door, encoding: str, as_bytes: bool
) -> None:
    # Unauthenticated: the envelope is read before the signature can be checked.
    body = declared(encoding, door.wrap(seal(door).encrypt))
    call = door.call(crypto(door.receive_id))
    with pytest.raises(MessageParseError) as info:
        await call(body.encode() if as_bytes else body, "0" * 40, NOW, NONCE)  # type: ignore[arg-type]
    assert len(str(info.value)) < 200  # a huge encoding name is not echoed whole


@pytest.mark.asyncio
@pytest.mark.parametrize("door", XML_DOORS, ids=xml_ids)
@pytest.mark.parametrize("encoding", ["UTF-8", "utf-8", "utf8", "Utf-8"])
async def test_envelope_declaring_utf8_opens(door: Door, encoding: str) -> None:
    sealed = seal(door)
    call = door.call(crypto(door.receive_id))
    body = declared(encoding, door.wrap(sealed.encrypt))
    check_result(door, await call(body, sealed.msg_signature, sealed.timestamp, sealed.nonce))


@pytest.mark.parametrize("encoding", ODD_ENCODINGS, ids=_short)
@pytest.mark.parametrize(
    "parse", [parse_xml, parse_kf_event], ids=["callbacks.parse_xml", "parse_kf_event"]
)
def test_payload_declaring_another_encoding(
    parse: Callable[[str | bytes], object], encoding: str
) -> None:
    document = declared(encoding, KF_PLAINTEXT)
    for body in (document, document.encode()):
        with pytest.raises(MessageParseError):
            parse(body)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "door",
    [d for d in DOORS if d.plaintext != ECHO],
    ids=[d.name for d in DOORS if d.plaintext != ECHO],
)
@pytest.mark.parametrize("encoding", ["x-nope", "utf-7", "gbk", "utf-32", "mbcs", "latin-1"])
async def test_genuine_message_declaring_another_encoding(door: Door, encoding: str) -> None:
    sealed = seal(door, plaintext=declared(encoding, door.plaintext))
    if door.name.startswith(("kf.", "component.")):
        with pytest.raises(MessageParseError):
            await deliver(door, sealed)
    else:  # the raw crypto layer hands back bytes; parsing them is the caller's step
        plaintext = await deliver(door, sealed)
        assert isinstance(plaintext, bytes)
        with pytest.raises(MessageParseError):
            parse_xml(plaintext)


UTF16_DOCUMENTS = {
    "utf-16-bom": KF_PLAINTEXT.encode("utf-16"),
    "utf-16-be-bom": b"\xfe\xff" + KF_PLAINTEXT.encode("utf-16-be"),
    "utf-16-le": KF_PLAINTEXT.encode("utf-16-le"),
    "utf-16-be": KF_PLAINTEXT.encode("utf-16-be"),
    "utf-16-le-space": " ".encode("utf-16-le") + KF_PLAINTEXT.encode("utf-16-le"),
    "utf-32-bom": KF_PLAINTEXT.encode("utf-32"),
    "utf-32-be": KF_PLAINTEXT.encode("utf-32-be"),
}


@pytest.mark.parametrize("body", UTF16_DOCUMENTS.values(), ids=UTF16_DOCUMENTS.keys())
@pytest.mark.parametrize(
    "parse", [parse_xml, parse_kf_event], ids=["callbacks.parse_xml", "parse_kf_event"]
)
def test_utf16_and_utf32_payloads_are_refused(
    parse: Callable[[str | bytes], object], body: bytes
) -> None:
    # expat would read UTF-16 (with a byte order mark, or from a NUL next to "<") whatever
    # it was told; WeChat never sends it.
    with pytest.raises(MessageParseError):
        parse(body)


@pytest.mark.asyncio
@pytest.mark.parametrize("door", XML_DOORS, ids=xml_ids)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
async def test_utf16_envelope_is_refused(door: Door, encoding: str) -> None:
    sealed = seal(door)
    body = door.wrap(sealed.encrypt).encode(encoding)
    call = door.call(crypto(door.receive_id))
    with pytest.raises(MessageParseError):
        await call(body, sealed.msg_signature, sealed.timestamp, sealed.nonce)  # type: ignore[arg-type]


def test_utf8_byte_order_mark_is_fine() -> None:
    assert parse_xml(b"\xef\xbb\xbf" + KF_PLAINTEXT.encode())["OpenKfId"] == "wk_1"
    assert parse_xml("\ufeff" + KF_PLAINTEXT)["OpenKfId"] == "wk_1"


# -- oversize bodies ------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
async def test_oversize_body_is_refused_before_any_work(door: Door) -> None:
    small = MessageCrypto(TOKEN, AES_KEY, door.receive_id, max_message_size=4096, max_age=MAX_AGE)
    huge = "A" * 4_000_000
    started = time.perf_counter()
    with pytest.raises(MessageTooLargeError):
        await door.call(small)(door.wrap(huge), "0" * 40, NOW, NONCE)
    assert time.perf_counter() - started < 1.0


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
async def test_oversize_message_inside_a_genuine_envelope(door: Door) -> None:
    # Sealed by a sender with a larger limit: the length field is over this side's limit.
    sealed = crypto(door.receive_id).encrypt("x" * 5000, timestamp=NOW, nonce=NONCE)
    small = MessageCrypto(TOKEN, AES_KEY, door.receive_id, max_message_size=4096)
    with pytest.raises(MessageTooLargeError):
        await deliver(door, sealed, via=small)


@pytest.mark.asyncio
@pytest.mark.parametrize("door", DOORS, ids=ids)
@pytest.mark.parametrize("body", [b"", "", "   ", "\x00", "\ud800", "<", "{", "null"])
async def test_junk_bodies(door: Door, body: str | bytes) -> None:
    call = door.call(crypto(door.receive_id))
    with pytest.raises(CryptoError) as info:
        await call(body, "0" * 40, NOW, NONCE)  # type: ignore[arg-type]
    assert isinstance(info.value, WeChatError)
