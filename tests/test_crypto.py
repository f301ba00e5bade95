"""MessageCrypto: Tencent's known answers, every error kind, and hostile XML."""

from __future__ import annotations

import base64
import json
import sys

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.crypto_vectors import (
    JAVA_APPID,
    JAVA_ENCRYPTED,
    JAVA_ENCRYPTED2,
    JAVA_KEY,
    JAVA_RANDOM,
    JAVA_REPLY,
    JAVA_REPLY2,
    JAVA_TOKEN,
    OA_APPID,
    OA_BODY,
    OA_ENCRYPT,
    OA_KEY,
    OA_NONCE,
    OA_PLAINTEXT,
    OA_SIGNATURE,
    OA_TIMESTAMP,
    OA_TOKEN,
    WECOM_CORPID,
    WECOM_KEY,
    WECOM_MSG_BODY,
    WECOM_MSG_ENCRYPT,
    WECOM_MSG_NONCE,
    WECOM_MSG_PLAINTEXT,
    WECOM_MSG_SIGNATURE,
    WECOM_MSG_TIMESTAMP,
    WECOM_TOKEN,
    WECOM_VERIFY_ECHOSTR,
    WECOM_VERIFY_NONCE,
    WECOM_VERIFY_REPLY,
    WECOM_VERIFY_SIGNATURE,
    WECOM_VERIFY_TIMESTAMP,
)
from wechat_async.crypto import (
    CryptoError,
    DecodeBase64Error,
    DecryptError,
    EncryptedMessage,
    EncryptError,
    ForbiddenXmlError,
    IllegalAesKeyError,
    IllegalBufferError,
    InvalidSignatureError,
    MessageCrypto,
    MessageParseError,
    MessageTooLargeError,
    ReceiveIdMismatchError,
    SignatureInputError,
)
from wechat_async.errors import WeChatError

TS = "1700000000"
NONCE = "abc123"


@pytest.fixture
def wecom() -> MessageCrypto:
    return MessageCrypto(WECOM_TOKEN, WECOM_KEY, WECOM_CORPID)


def seal_raw(crypto_key: str, plaintext: bytes) -> str:
    """Encrypt an arbitrary (already padded) buffer with the key, bypassing our framing."""
    key = base64.b64decode(crypto_key + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()


def pkcs7(data: bytes) -> bytes:
    pad = 32 - len(data) % 32
    return data + bytes([pad]) * pad


def frame(message: bytes, receive_id: bytes, *, length: int | None = None) -> bytes:
    size = len(message) if length is None else length
    return b"R" * 16 + size.to_bytes(4, "big") + message + receive_id


# -- known answers --------------------------------------------------------------


def test_wecom_sample_url_verification(wecom: MessageCrypto) -> None:
    reply = wecom.verify_url(
        WECOM_VERIFY_SIGNATURE, WECOM_VERIFY_TIMESTAMP, WECOM_VERIFY_NONCE, WECOM_VERIFY_ECHOSTR
    )
    assert reply == WECOM_VERIFY_REPLY


def test_wecom_sample_message(wecom: MessageCrypto) -> None:
    plaintext = wecom.decrypt_xml(
        WECOM_MSG_BODY, WECOM_MSG_SIGNATURE, WECOM_MSG_TIMESTAMP, WECOM_MSG_NONCE
    )
    assert plaintext == WECOM_MSG_PLAINTEXT


def test_wecom_sample_message_as_bytes_and_int_timestamp(wecom: MessageCrypto) -> None:
    plaintext = wecom.decrypt_xml(
        WECOM_MSG_BODY.encode(), WECOM_MSG_SIGNATURE, int(WECOM_MSG_TIMESTAMP), WECOM_MSG_NONCE
    )
    assert plaintext == WECOM_MSG_PLAINTEXT


def test_official_account_sample_message() -> None:
    crypto = MessageCrypto(OA_TOKEN, OA_KEY, OA_APPID)
    assert crypto.decrypt_xml(OA_BODY, OA_SIGNATURE, OA_TIMESTAMP, OA_NONCE) == OA_PLAINTEXT
    assert crypto.decrypt(OA_ENCRYPT, OA_SIGNATURE, OA_TIMESTAMP, OA_NONCE) == OA_PLAINTEXT


@pytest.mark.parametrize(
    ("token", "timestamp", "nonce", "encrypt", "signature"),
    [
        (OA_TOKEN, OA_TIMESTAMP, OA_NONCE, OA_ENCRYPT, OA_SIGNATURE),
        (WECOM_TOKEN, WECOM_MSG_TIMESTAMP, WECOM_MSG_NONCE, WECOM_MSG_ENCRYPT, WECOM_MSG_SIGNATURE),
        (
            WECOM_TOKEN,
            WECOM_VERIFY_TIMESTAMP,
            WECOM_VERIFY_NONCE,
            WECOM_VERIFY_ECHOSTR,
            WECOM_VERIFY_SIGNATURE,
        ),
    ],
)
def test_sign_matches_published_signatures(
    token: str, timestamp: str, nonce: str, encrypt: str, signature: str
) -> None:
    crypto = MessageCrypto(token, OA_KEY, None)
    assert crypto.sign(timestamp, nonce, encrypt) == signature


@pytest.mark.parametrize(
    ("reply", "expected"), [(JAVA_REPLY, JAVA_ENCRYPTED), (JAVA_REPLY2, JAVA_ENCRYPTED2)]
)
def test_encrypt_matches_tencent_sample_with_fixed_random(reply: str, expected: str) -> None:
    crypto = MessageCrypto(JAVA_TOKEN, JAVA_KEY, JAVA_APPID)
    sealed = crypto.encrypt(
        reply, timestamp="1409304348", nonce="xxxxxx", random_prefix=JAVA_RANDOM
    )
    assert sealed.encrypt == expected
    assert sealed.msg_signature == crypto.sign("1409304348", "xxxxxx", expected)
    assert crypto.decrypt(expected, sealed.msg_signature, "1409304348", "xxxxxx") == reply.encode()


@pytest.mark.parametrize("key", [OA_KEY, WECOM_KEY])
def test_non_canonical_keys_are_accepted(key: str) -> None:
    # Both published keys end in a character whose low bits are not zero: a
    # canonical encoder would never produce them.
    canonical = base64.b64encode(base64.b64decode(key + "="))[:43].decode()
    assert canonical != key
    MessageCrypto("t", key, None)


# -- round trips and envelopes -------------------------------------------------


def test_encrypt_defaults_are_fresh_and_verifiable(wecom: MessageCrypto) -> None:
    first = wecom.encrypt("hi")
    second = wecom.encrypt("hi")
    assert first.encrypt != second.encrypt  # random prefix differs
    assert first.nonce != second.nonce
    assert first.timestamp.isdigit()
    assert wecom.decrypt(first.encrypt, first.msg_signature, first.timestamp, first.nonce) == b"hi"


def test_xml_reply_envelope_round_trips(wecom: MessageCrypto) -> None:
    sealed = wecom.encrypt("<xml><Content>回复</Content></xml>", timestamp=TS, nonce=NONCE)
    xml = sealed.to_xml()
    assert f"<TimeStamp>{TS}</TimeStamp>" in xml
    assert f"<MsgSignature><![CDATA[{sealed.msg_signature}]]></MsgSignature>" in xml
    plaintext = wecom.decrypt_xml(xml, sealed.msg_signature, TS, NONCE)
    assert plaintext.decode() == "<xml><Content>回复</Content></xml>"


def test_json_reply_envelope_round_trips(wecom: MessageCrypto) -> None:
    sealed = wecom.encrypt(b'{"msgtype":"text"}', timestamp=TS, nonce=NONCE)
    document = json.loads(sealed.to_json())
    assert document == {
        "encrypt": sealed.encrypt,
        "msgsignature": sealed.msg_signature,
        "timestamp": TS,
        "nonce": NONCE,
    }
    assert wecom.decrypt_json(sealed.to_json(), sealed.msg_signature, TS, NONCE) == (
        b'{"msgtype":"text"}'
    )


def test_json_envelope_with_capitalised_key(wecom: MessageCrypto) -> None:
    sealed = wecom.encrypt("x", timestamp=TS, nonce=NONCE)
    body = json.dumps({"ToUserName": "gh_1", "Encrypt": sealed.encrypt}).encode()
    assert wecom.decrypt_json(body, sealed.msg_signature, TS, NONCE) == b"x"


def test_receive_id_none_skips_the_check() -> None:
    sender = MessageCrypto("tok", OA_KEY, "some-other-id")
    receiver = MessageCrypto("tok", OA_KEY, None)
    sealed = sender.encrypt("bot", timestamp=TS, nonce=NONCE)
    assert receiver.decrypt(sealed.encrypt, sealed.msg_signature, TS, NONCE) == b"bot"


def test_empty_receive_id_for_wecom_bots() -> None:
    crypto = MessageCrypto("tok", OA_KEY, "")
    sealed = crypto.encrypt("bot", timestamp=TS, nonce=NONCE)
    assert crypto.decrypt(sealed.encrypt, sealed.msg_signature, TS, NONCE) == b"bot"
    with pytest.raises(ReceiveIdMismatchError):
        MessageCrypto("tok", OA_KEY, "ww1").decrypt(sealed.encrypt, sealed.msg_signature, TS, NONCE)


def test_xml_envelope_with_declaration_comment_and_entities_uses_full_parser(
    wecom: MessageCrypto,
) -> None:
    sealed = wecom.encrypt("deep", timestamp=TS, nonce=NONCE)
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!-- from WeChat -->'
        "<xml><ToUserName>a &amp; b</ToUserName><Nested><A>1</A></Nested>"
        f"<Encrypt>{sealed.encrypt}</Encrypt></xml>"
    )
    assert wecom.decrypt_xml(body, sealed.msg_signature, TS, NONCE) == b"deep"


# -- the error tree --------------------------------------------------------------


def test_every_error_is_a_crypto_error_with_tencent_code() -> None:
    expected = {
        InvalidSignatureError: -40001,
        MessageParseError: -40002,
        ForbiddenXmlError: -40002,
        SignatureInputError: -40003,
        IllegalAesKeyError: -40004,
        ReceiveIdMismatchError: -40005,
        EncryptError: -40006,
        DecryptError: -40007,
        IllegalBufferError: -40008,
        MessageTooLargeError: -40008,
        DecodeBase64Error: -40010,
    }
    for cls, code in expected.items():
        assert issubclass(cls, CryptoError)
        assert issubclass(cls, WeChatError)
        assert cls.code == code
        assert cls.__name__ in (sys.modules["wechat_async.crypto"].__doc__ or "")
    assert str(InvalidSignatureError("nope")) == "[-40001] nope"


@pytest.mark.parametrize(
    "key",
    [
        "",
        OA_KEY[:42],
        OA_KEY + "A",
        OA_KEY[:42] + "!",
        OA_KEY[:42] + "=",
        "中" * 43,
        None,
        b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    ],
)
def test_bad_keys_raise_at_construction(key: object) -> None:
    with pytest.raises(IllegalAesKeyError):
        MessageCrypto("t", key, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["", None, 5, "\ud800"])
def test_bad_tokens_raise_at_construction(token: object) -> None:
    with pytest.raises(SignatureInputError):
        MessageCrypto(token, OA_KEY, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "signature",
    [
        WECOM_MSG_SIGNATURE.upper(),
        WECOM_MSG_SIGNATURE[:-1] + "0",
        "",
        "签名",
        None,
        b"0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    ],
)
def test_bad_signature(wecom: MessageCrypto, signature: object) -> None:
    with pytest.raises(InvalidSignatureError):
        wecom.decrypt_xml(WECOM_MSG_BODY, signature, WECOM_MSG_TIMESTAMP, WECOM_MSG_NONCE)  # type: ignore[arg-type]


def test_signature_covers_timestamp_and_nonce(wecom: MessageCrypto) -> None:
    with pytest.raises(InvalidSignatureError):
        wecom.decrypt_xml(WECOM_MSG_BODY, WECOM_MSG_SIGNATURE, "1476422780", WECOM_MSG_NONCE)
    with pytest.raises(InvalidSignatureError):
        wecom.decrypt_xml(WECOM_MSG_BODY, WECOM_MSG_SIGNATURE, WECOM_MSG_TIMESTAMP, "1")


@pytest.mark.parametrize("value", [None, 1.5, True, b"123", "\udcff", [1]])
def test_bad_timestamp_or_nonce(wecom: MessageCrypto, value: object) -> None:
    with pytest.raises(SignatureInputError):
        wecom.decrypt_xml(WECOM_MSG_BODY, WECOM_MSG_SIGNATURE, value, WECOM_MSG_NONCE)  # type: ignore[arg-type]
    with pytest.raises(SignatureInputError):
        wecom.decrypt_xml(WECOM_MSG_BODY, WECOM_MSG_SIGNATURE, WECOM_MSG_TIMESTAMP, value)  # type: ignore[arg-type]
    with pytest.raises(SignatureInputError):
        wecom.sign(value, "1", "x")  # type: ignore[arg-type]


def signed(crypto: MessageCrypto, encrypt: str) -> tuple[str, str, str, str]:
    return encrypt, crypto.sign(TS, NONCE, encrypt), TS, NONCE


@pytest.mark.parametrize(
    "encrypt",
    ["not base64!", "QUJD=", "QUJDRA", "=QUJD", "QUJD\nRA==", "QUJD RA=="],
)
def test_bad_base64(wecom: MessageCrypto, encrypt: str) -> None:
    with pytest.raises(DecodeBase64Error):
        wecom.decrypt(*signed(wecom, encrypt))


@pytest.mark.parametrize("size", [0, 16, 31, 33, 48])
def test_ciphertext_not_whole_32_byte_blocks(wecom: MessageCrypto, size: int) -> None:
    encrypt = base64.b64encode(b"\x01" * size).decode()
    with pytest.raises(DecryptError):
        wecom.decrypt(*signed(wecom, encrypt))


@pytest.mark.parametrize(
    "padded",
    [
        b"A" * 31 + b"\x00",  # pad byte zero
        b"A" * 31 + b"\x21",  # pad byte 33: longer than a block
        b"A" * 30 + b"\x01\x02",  # pad bytes disagree
        b"A" * 28 + b"\x03\x04\x04\x04",
        b"A" * 63 + b"\x40",  # 64 > 32, even though the buffer is that long
    ],
)
def test_bad_padding(wecom: MessageCrypto, padded: bytes) -> None:
    with pytest.raises(DecryptError):
        wecom.decrypt(*signed(wecom, seal_raw(WECOM_KEY, padded)))


def test_buffer_shorter_than_header(wecom: MessageCrypto) -> None:
    with pytest.raises(IllegalBufferError):
        wecom.decrypt(*signed(wecom, seal_raw(WECOM_KEY, pkcs7(b"R" * 19))))


def test_length_field_past_the_end(wecom: MessageCrypto) -> None:
    buffer = frame(b"hello", WECOM_CORPID.encode(), length=5 + len(WECOM_CORPID) + 1)
    with pytest.raises(IllegalBufferError):
        wecom.decrypt(*signed(wecom, seal_raw(WECOM_KEY, pkcs7(buffer))))


def test_length_field_at_exact_end_means_empty_receive_id(wecom: MessageCrypto) -> None:
    buffer = frame(b"hello" + WECOM_CORPID.encode(), b"")
    with pytest.raises(ReceiveIdMismatchError):
        wecom.decrypt(*signed(wecom, seal_raw(WECOM_KEY, pkcs7(buffer))))
    lenient = MessageCrypto(WECOM_TOKEN, WECOM_KEY, None)
    encrypt = seal_raw(WECOM_KEY, pkcs7(buffer))
    assert lenient.decrypt(*signed(lenient, encrypt)) == b"hello" + WECOM_CORPID.encode()


def test_receive_id_mismatch_names_both_ids(wecom: MessageCrypto) -> None:
    buffer = frame(b"hello", b"wx_intruder")
    with pytest.raises(ReceiveIdMismatchError) as info:
        wecom.decrypt(*signed(wecom, seal_raw(WECOM_KEY, pkcs7(buffer))))
    assert "wx_intruder" in str(info.value)
    assert WECOM_CORPID in str(info.value)


def test_verify_url_rejects_bad_utf8(wecom: MessageCrypto) -> None:
    buffer = frame(b"\xff\xfe", WECOM_CORPID.encode())
    encrypt = seal_raw(WECOM_KEY, pkcs7(buffer))
    with pytest.raises(IllegalBufferError):
        wecom.verify_url(wecom.sign(TS, NONCE, encrypt), TS, NONCE, encrypt)


def test_wrong_key_fails_cleanly() -> None:
    sender = MessageCrypto("tok", OA_KEY, "wx1")
    receiver = MessageCrypto("tok", WECOM_KEY, "wx1")
    sealed = sender.encrypt("x" * 100, timestamp=TS, nonce=NONCE)
    with pytest.raises((DecryptError, IllegalBufferError, ReceiveIdMismatchError)):
        receiver.decrypt(sealed.encrypt, sealed.msg_signature, TS, NONCE)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<xml>",
        "<xml><ToUserName>a</ToUserName></xml>",
        "<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>",
        "<xml><Encrypt><b>x</b></Encrypt></xml>",
        "<xml><Inner><Encrypt>x</Encrypt></Inner></xml>",
        "<xml><Encrypt>&undefined;</Encrypt></xml>",
        "not xml at all",
        b"<xml><Encrypt>\xff</Encrypt></xml>",
        "<xml><Encrypt>a</Encrypt></xml><xml/>",
        None,
        123,
        "\udc80",
    ],
)
def test_malformed_xml_envelopes(wecom: MessageCrypto, body: object) -> None:
    with pytest.raises(MessageParseError):
        wecom.decrypt_xml(body, "sig", TS, NONCE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        "[]",
        '"Encrypt"',
        "{}",
        '{"Encrypt": 5}',
        '{"Encrypt": null}',
        '{"Encrypt": ["a"]}',
        '{"Encrypt": "a", "encrypt": "b"}',
        "[" * 100_000,
        "1" * 5000,
        b"\xff\xfe\x00",
        b'{"Encrypt": "\xff"}',
        None,
        {"Encrypt": "x"},
    ],
)
def test_malformed_json_envelopes(wecom: MessageCrypto, body: object) -> None:
    with pytest.raises(MessageParseError):
        wecom.decrypt_json(body, "sig", TS, NONCE)  # type: ignore[arg-type]


@pytest.mark.parametrize("encrypt", [None, 5, b"abc", "\udcff"])
def test_decrypt_wrong_types(wecom: MessageCrypto, encrypt: object) -> None:
    with pytest.raises(CryptoError):
        wecom.decrypt(encrypt, "sig", TS, NONCE)  # type: ignore[arg-type]


# -- hostile XML -------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]><xml><Encrypt>&lol9;</Encrypt></xml>"
)
XXE_FILE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><Encrypt>&xxe;</Encrypt></xml>"
)
XXE_PARAMETER = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
    "<xml><Encrypt>a</Encrypt></xml>"
)
EXTERNAL_DTD = '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml><Encrypt>a</Encrypt></xml>'
BARE_DOCTYPE = "<!DOCTYPE xml><xml><Encrypt>a</Encrypt></xml>"


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, XXE_FILE, XXE_PARAMETER, EXTERNAL_DTD, BARE_DOCTYPE]
)
def test_dtds_are_refused_before_anything_expands(wecom: MessageCrypto, body: str) -> None:
    with pytest.raises(ForbiddenXmlError):
        wecom.decrypt_xml(body, "sig", TS, NONCE)


def test_forbidden_xml_is_caught_before_the_signature(wecom: MessageCrypto) -> None:
    # Even a correctly signed Encrypt inside a DOCTYPE'd document is refused.
    sealed = wecom.encrypt("x", timestamp=TS, nonce=NONCE)
    body = f"<!DOCTYPE xml><xml><Encrypt>{sealed.encrypt}</Encrypt></xml>"
    with pytest.raises(ForbiddenXmlError):
        wecom.decrypt_xml(body, sealed.msg_signature, TS, NONCE)


# -- size bounds ---------------------------------------------------------------------


def test_oversize_envelope_is_refused_before_parsing() -> None:
    crypto = MessageCrypto("tok", OA_KEY, None, max_message_size=1024)
    body = "<xml><Encrypt>" + "A" * 200_000 + "</Encrypt></xml>"
    with pytest.raises(MessageTooLargeError):
        crypto.decrypt_xml(body, "sig", TS, NONCE)
    with pytest.raises(MessageTooLargeError):
        crypto.decrypt("A" * 10_000, "sig", TS, NONCE)


def test_length_field_over_max_message_size() -> None:
    big = MessageCrypto("tok", OA_KEY, None)
    small = MessageCrypto("tok", OA_KEY, None, max_message_size=100)
    sealed = big.encrypt(b"x" * 101, timestamp=TS, nonce=NONCE)
    with pytest.raises(MessageTooLargeError):
        small.decrypt(sealed.encrypt, sealed.msg_signature, TS, NONCE)
    exact = big.encrypt(b"x" * 100, timestamp=TS, nonce=NONCE)
    assert small.decrypt(exact.encrypt, exact.msg_signature, TS, NONCE) == b"x" * 100
    with pytest.raises(MessageTooLargeError):
        small.encrypt(b"x" * 101)


@pytest.mark.parametrize("size", [0, -1, True, "10"])
def test_bad_max_message_size(size: object) -> None:
    with pytest.raises(IllegalBufferError):
        MessageCrypto("tok", OA_KEY, None, max_message_size=size)  # type: ignore[arg-type]


# -- encryption inputs -------------------------------------------------------------


@pytest.mark.parametrize("prefix", [b"short", b"x" * 17, "a" * 16, bytearray(16)])
def test_bad_random_prefix(wecom: MessageCrypto, prefix: object) -> None:
    with pytest.raises(EncryptError):
        wecom.encrypt("x", random_prefix=prefix)  # type: ignore[arg-type]


@pytest.mark.parametrize("plaintext", [None, 5, "\udcff"])
def test_bad_plaintext(wecom: MessageCrypto, plaintext: object) -> None:
    with pytest.raises(EncryptError):
        wecom.encrypt(plaintext)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["", "a]]>b", "<x>", "a b", "x" * 129, 1.0, True])
def test_reply_parameters_must_be_plain(wecom: MessageCrypto, value: object) -> None:
    with pytest.raises(SignatureInputError):
        wecom.encrypt("x", nonce=value)  # type: ignore[arg-type]
    with pytest.raises(SignatureInputError):
        wecom.encrypt("x", timestamp=value)  # type: ignore[arg-type]


def test_encrypt_accepts_int_timestamp_and_buffers(wecom: MessageCrypto) -> None:
    sealed = wecom.encrypt(bytearray(b"buf"), timestamp=1700000000, nonce="n-1_2.3")
    assert sealed.timestamp == "1700000000"
    assert wecom.decrypt(sealed.encrypt, sealed.msg_signature, 1700000000, "n-1_2.3") == b"buf"
    assert isinstance(sealed, EncryptedMessage)


# -- secrets and purity ---------------------------------------------------------------


def test_repr_shows_no_secrets(wecom: MessageCrypto) -> None:
    text = repr(wecom)
    assert WECOM_TOKEN not in text
    assert WECOM_KEY not in text
    assert WECOM_CORPID in text


def test_errors_carry_no_secrets(wecom: MessageCrypto) -> None:
    for call in (
        lambda: wecom.decrypt_xml(WECOM_MSG_BODY, "bad", WECOM_MSG_TIMESTAMP, WECOM_MSG_NONCE),
        lambda: MessageCrypto(WECOM_TOKEN, WECOM_KEY[:42], None),
    ):
        with pytest.raises(CryptoError) as info:
            call()
        assert WECOM_TOKEN not in str(info.value)
        assert WECOM_KEY[:40] not in str(info.value)
