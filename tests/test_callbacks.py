"""Decrypted payloads into dicts: shapes, and refusal of hostile or broken input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wechat_async.callbacks import MAX_DEPTH, parse_json, parse_xml
from wechat_async.crypto import CryptoError, ForbiddenXmlError, MessageParseError


def test_flat_message() -> None:
    body = (
        "<xml><ToUserName><![CDATA[ww1]]></ToUserName><CreateTime>1700000000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        "<Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>"
        "<OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId></xml>"
    )
    assert parse_xml(body) == {
        "ToUserName": "ww1",
        "CreateTime": "1700000000",
        "MsgType": "event",
        "Event": "kf_msg_or_event",
        "Token": "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
        "OpenKfId": "wkxxxxxxx",
    }


def test_nested_and_repeated_elements() -> None:
    body = (
        b"<xml><Articles><item><Title>a</Title></item><item><Title>b</Title></item></Articles>"
        b"<One><item><Title>c</Title></item></One><Empty></Empty></xml>"
    )
    assert parse_xml(body) == {
        "Articles": {"item": [{"Title": "a"}, {"Title": "b"}]},
        "One": {"item": {"Title": "c"}},
        "Empty": "",
    }


def test_entities_and_unicode() -> None:
    assert parse_xml("<xml><Content>a &amp; b 你好</Content></xml>") == {"Content": "a & b 你好"}


@pytest.mark.parametrize(
    "body",
    [
        '<!DOCTYPE xml [<!ENTITY x "y">]><xml><A>&x;</A></xml>',
        '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
    ],
)
def test_dtd_is_refused(body: str) -> None:
    with pytest.raises(ForbiddenXmlError):
        parse_xml(body)


@pytest.mark.parametrize(
    "body", ["", "<xml>", "<xml><A></B></xml>", b"<xml>\xff</xml>", "\udc80", "<xml/><xml/>"]
)
def test_malformed_xml(body: str | bytes) -> None:
    with pytest.raises(MessageParseError):
        parse_xml(body)


def test_depth_is_bounded() -> None:
    deep = "<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1)
    with pytest.raises(MessageParseError, match="nested"):
        parse_xml(deep)
    ok = "<a>" * MAX_DEPTH + "</a>" * MAX_DEPTH
    assert parse_xml(ok) is not None


@pytest.mark.parametrize("body", ["", "[]", "1", "{", "[" * 100_000, b"\xff"])
def test_malformed_json(body: str | bytes) -> None:
    with pytest.raises(MessageParseError):
        parse_json(body)


def test_json_object() -> None:
    assert parse_json('{"msgtype": "text"}') == {"msgtype": "text"}


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_arbitrary_input_raises_only_crypto_errors(body: bytes | str) -> None:
    for parse in (parse_xml, parse_json):
        with contextlib.suppress(CryptoError):
            parse(body)
