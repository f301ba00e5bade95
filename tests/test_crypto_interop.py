"""Interoperability with the peer SDK wechatpy: each side opens what the other seals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.crypto_vectors import (
    OA_KEY,
    WECOM_CORPID,
    WECOM_KEY,
    WECOM_TOKEN,
    WECOM_VERIFY_ECHOSTR,
    WECOM_VERIFY_NONCE,
    WECOM_VERIFY_REPLY,
    WECOM_VERIFY_SIGNATURE,
    WECOM_VERIFY_TIMESTAMP,
)
from wechat_async.crypto import InvalidSignatureError, MessageCrypto

wechatpy_crypto = pytest.importorskip("wechatpy.crypto")
wechatpy_enterprise = pytest.importorskip("wechatpy.enterprise.crypto")

APPID = "wx2c2769f8efd9abc2"
TOKEN = "interop"
messages = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=800
)


@given(
    message=messages,
    timestamp=st.integers(1, 2**31),
    nonce=st.from_regex(r"[0-9a-z]{1,20}", fullmatch=True),
)
def test_wechatpy_decrypts_what_we_encrypt(message: str, timestamp: int, nonce: str) -> None:
    ours = MessageCrypto(TOKEN, OA_KEY, APPID)
    theirs = wechatpy_crypto.WeChatCrypto(TOKEN, OA_KEY, APPID)
    sealed = ours.encrypt(message, timestamp=timestamp, nonce=nonce)
    opened = theirs.decrypt_message(sealed.to_xml(), sealed.msg_signature, sealed.timestamp, nonce)
    assert opened == message


@given(
    message=messages,
    timestamp=st.integers(1, 2**31),
    nonce=st.from_regex(r"[0-9a-z]{1,20}", fullmatch=True),
)
def test_we_decrypt_what_wechatpy_encrypts(message: str, timestamp: int, nonce: str) -> None:
    ours = MessageCrypto(TOKEN, OA_KEY, APPID)
    theirs = wechatpy_crypto.WeChatCrypto(TOKEN, OA_KEY, APPID)
    envelope = theirs.encrypt_message(message, nonce, str(timestamp))
    # wechatpy's envelope carries its own signature; read it back the way an app would.
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert ours.decrypt_xml(envelope, signature, timestamp, nonce) == message.encode()


def test_wecom_url_verification_agrees_with_wechatpy() -> None:
    ours = MessageCrypto(WECOM_TOKEN, WECOM_KEY, WECOM_CORPID)
    theirs = wechatpy_enterprise.WeChatCrypto(WECOM_TOKEN, WECOM_KEY, WECOM_CORPID)
    args = (
        WECOM_VERIFY_SIGNATURE,
        WECOM_VERIFY_TIMESTAMP,
        WECOM_VERIFY_NONCE,
        WECOM_VERIFY_ECHOSTR,
    )
    assert ours.verify_url(*args) == theirs.check_signature(*args) == WECOM_VERIFY_REPLY


def test_wecom_messages_cross_both_ways() -> None:
    ours = MessageCrypto(WECOM_TOKEN, WECOM_KEY, WECOM_CORPID)
    theirs = wechatpy_enterprise.WeChatCrypto(WECOM_TOKEN, WECOM_KEY, WECOM_CORPID)
    sealed = ours.encrypt("<xml><Content>企业微信</Content></xml>", timestamp=1, nonce="n1")
    assert theirs.decrypt_message(sealed.to_xml(), sealed.msg_signature, "1", "n1") == (
        "<xml><Content>企业微信</Content></xml>"
    )
    envelope = theirs.encrypt_message("<xml>back</xml>", "n2", "2")
    signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert ours.decrypt_xml(envelope, signature, "2", "n2") == b"<xml>back</xml>"
    with pytest.raises(InvalidSignatureError):
        ours.decrypt_xml(envelope, signature, "3", "n2")
