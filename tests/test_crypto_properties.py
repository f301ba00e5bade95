"""Property tests: round trips, hostile input of every shape, and the XML fast path."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import TYPE_CHECKING

from hypothesis import example, given
from hypothesis import strategies as st

from tests.crypto_vectors import OA_KEY, WECOM_KEY
from tests.test_crypto import NONCE, TS, seal_raw
from wechat_async.crypto import (
    CryptoError,
    MessageCrypto,
    MessageParseError,
    _encrypt_from_xml,
    _fast_encrypt,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CRYPTO = MessageCrypto("token", OA_KEY, "wx_receiver")
LENIENT = MessageCrypto("token", OA_KEY, None)

receive_ids = st.text(st.characters(codec="utf-8"), max_size=40)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(),
    st.lists(st.integers(), max_size=3),
)


@given(
    message=st.binary(max_size=4096),
    receive_id=receive_ids,
    prefix=st.binary(min_size=16, max_size=16),
    timestamp=st.integers(min_value=0, max_value=2**40),
    nonce=st.from_regex(r"[0-9A-Za-z_.\-]{1,32}", fullmatch=True),
    key=st.sampled_from([OA_KEY, WECOM_KEY]),
)
def test_round_trip_every_envelope(
    message: bytes, receive_id: str, prefix: bytes, timestamp: int, nonce: str, key: str
) -> None:
    crypto = MessageCrypto("tok", key, receive_id)
    sealed = crypto.encrypt(message, timestamp=timestamp, nonce=nonce, random_prefix=prefix)
    args = (sealed.msg_signature, sealed.timestamp, sealed.nonce)
    assert crypto.decrypt(sealed.encrypt, *args) == message
    assert crypto.decrypt_xml(sealed.to_xml(), *args) == message
    assert crypto.decrypt_json(sealed.to_json(), *args) == message
    assert len(base64.b64decode(sealed.encrypt)) % 32 == 0


@given(text=st.text(max_size=2000))
def test_round_trip_text(text: str) -> None:
    sealed = CRYPTO.encrypt(text, timestamp=TS, nonce=NONCE)
    assert CRYPTO.decrypt(sealed.encrypt, sealed.msg_signature, TS, NONCE).decode() == text


@given(body=anything, signature=anything, timestamp=anything, nonce=anything)
@example(
    body="<xml><Encrypt>" + "A" * 64 + "</Encrypt></xml>", signature="x", timestamp="1", nonce="1"
)
def test_arbitrary_arguments_raise_only_crypto_errors(
    body: object, signature: object, timestamp: object, nonce: object
) -> None:
    calls: list[Callable[..., object]] = [CRYPTO.decrypt_xml, CRYPTO.decrypt_json, CRYPTO.decrypt]
    for call in calls:
        with contextlib.suppress(CryptoError):
            call(body, signature, timestamp, nonce)
    with contextlib.suppress(CryptoError):
        CRYPTO.verify_url(signature, timestamp, nonce, body)  # type: ignore[arg-type]


@given(ciphertext=st.binary(max_size=512))
def test_signed_garbage_ciphertext_raises_only_crypto_errors(ciphertext: bytes) -> None:
    # A correct signature over garbage: every check after the signature runs.
    encrypt = base64.b64encode(ciphertext).decode()
    with contextlib.suppress(CryptoError):
        LENIENT.decrypt(encrypt, LENIENT.sign(TS, NONCE, encrypt), TS, NONCE)


@given(plaintext=st.binary(min_size=1, max_size=256).map(lambda b: b + b"\x00" * (-len(b) % 32)))
def test_garbage_plaintext_under_the_right_key_raises_only_crypto_errors(plaintext: bytes) -> None:
    # Decrypts cleanly, so padding, length field and receive id see hostile bytes.
    encrypt = seal_raw(OA_KEY, plaintext)
    for crypto in (CRYPTO, LENIENT):
        try:
            result = crypto.verify_url(crypto.sign(TS, NONCE, encrypt), TS, NONCE, encrypt)
        except CryptoError:
            continue
        assert isinstance(result, str)


@given(data=st.data())
def test_any_single_byte_change_to_a_sealed_envelope_is_caught(data: st.DataObject) -> None:
    sealed = CRYPTO.encrypt("payload", timestamp=TS, nonce=NONCE)
    body = bytearray(sealed.to_xml().encode())
    start = body.index(b"CDATA[") + 6
    index = data.draw(st.integers(min_value=start, max_value=start + len(sealed.encrypt) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != body[index])
    )
    body[index] = replacement
    try:
        CRYPTO.decrypt_xml(bytes(body), sealed.msg_signature, TS, NONCE)
    except CryptoError:
        return
    raise AssertionError("a tampered ciphertext was accepted")


@given(body=st.binary(max_size=400) | st.text(max_size=400))
def test_arbitrary_json_bodies(body: bytes | str) -> None:
    with contextlib.suppress(CryptoError):
        CRYPTO.decrypt_json(body, "sig", TS, NONCE)


@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.sampled_from(["Encrypt", "encrypt", "x"]), children, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_arbitrary_json_documents(document: object) -> None:
    try:
        CRYPTO.decrypt_json(json.dumps(document), "sig", TS, NONCE)
    except MessageParseError:
        pass
    except CryptoError:
        assert isinstance(document, dict)


# -- the XML fast path never disagrees with the full parser --------------------------

names = st.sampled_from(["ToUserName", "AgentID", "x", "_a1", "MsgType", "Encrypt"])
contents = st.one_of(
    st.from_regex(r"[A-Za-z0-9+/=]{0,16}", fullmatch=True),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x7F), max_size=12),
    st.text(max_size=6),
    st.sampled_from(["a]b", "]]>", "&amp;", "&#65;", "<", "QUJD", "==", "\t\n", "\x00"]),
)
spaces = st.sampled_from(["", " ", "\n", "\r\n", "\t", "\x0b", "\x0c"])
children = st.tuples(names, contents, st.booleans(), spaces)


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    before = draw(st.lists(children, max_size=3))
    after = draw(st.lists(children, max_size=3))
    encrypt = ("Encrypt", draw(contents), draw(st.booleans()), draw(spaces))
    parts = [draw(spaces), "<xml>"]
    for name, content, cdata, space in [*before, encrypt, *after]:
        inner = f"<![CDATA[{content}]]>" if cdata else content
        parts.append(f"{space}<{name}>{inner}</{name}>")
    parts += [draw(spaces), "</xml>", draw(spaces)]
    return "".join(parts).encode("utf-8", "surrogatepass")


@given(body=envelopes())
@example(body=b"<xml><Encrypt><![CDATA[QUJD]]></Encrypt></xml>")
@example(body=b"<xml><A>1</A><Encrypt><![CDATA[QUJD]]></Encrypt><AgentID>1</AgentID></xml>")
@example(body=b"<xml><Encrypt><![CDATA[QU]]></Encrypt><Encrypt><![CDATA[QUJD]]></Encrypt></xml>")
@example(
    body=b"<xml><A><![CDATA[<Encrypt><![CDATA[QUJD]]></A><Encrypt><![CDATA[QQ==]]></Encrypt></xml>"
)
def test_fast_path_agrees_with_expat(body: bytes) -> None:
    fast = _fast_encrypt(body)
    if fast is None:
        return  # the full parser alone decides; nothing to compare
    try:
        slow = _encrypt_from_xml(body)
    except MessageParseError:
        slow = None
    if fast == slow:
        return
    # They may differ only where neither is base64, so neither can decrypt:
    # expat refuses control characters and turns CR into LF inside CDATA.
    assert not _is_base64(fast)
    assert slow is None or not _is_base64(slow)


def _is_base64(value: bytes) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True
