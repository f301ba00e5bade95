"""WXBizMsgCrypt: sign, verify, encrypt and decrypt WeChat callback messages.

Pure code: only the standard library and ``cryptography``. No asyncio, no HTTP,
no Redis, no I/O, so sync code and any framework can use it.

The scheme, as WeChat, WeCom and Open Platform use it for every callback:

* ``msg_signature = sha1("".join(sorted([token, timestamp, nonce, encrypt])))``
* ``encrypt = base64(AES-256-CBC(key, iv=key[:16], PKCS#7 to 32-byte blocks,
  random(16) || len(msg) as 4 bytes big-endian || msg || receive_id))``
* ``key = base64decode(EncodingAESKey + "=")``: the 43-character key from the
  admin console, whose last character is often not canonical base64.

Exception tree (every class carries Tencent's WXBizMsgCrypt code as ``.code``)::

    WeChatError                      (wechat_async.errors)
     └── CryptoError
          ├── InvalidSignatureError          -40001  msg_signature does not match
          ├── MessageParseError              -40002  XML/JSON envelope unreadable
          │    └── ForbiddenXmlError                 DOCTYPE / ENTITY present
          ├── SignatureInputError            -40003  timestamp/nonce unusable
          ├── IllegalAesKeyError             -40004  EncodingAESKey malformed
          ├── ReceiveIdMismatchError         -40005  appid / corpid differs
          ├── EncryptError                   -40006  plaintext cannot be sealed
          ├── DecryptError                   -40007  block length or padding bad
          ├── IllegalBufferError             -40008  length field or UTF-8 bad
          │    └── MessageTooLargeError              over max_message_size
          ├── DecodeBase64Error              -40010  Encrypt is not base64
          ├── StaleTimestampError            -40100  outside the max_age window (ours)
          └── ReplayedMessageError           -40101  already accepted once (ours)

-40100 and -40101 are this SDK's own codes, outside Tencent's -40001..-40011
range: the reference WXBizMsgCrypt has no freshness or replay check.
`ReplayedMessageError` comes from the callers that remember what they accepted
(``Component.handle_callback``), never from `MessageCrypto` itself.

The signature is checked (in constant time) before anything is decrypted, so
a caller without the token learns nothing about the padding or the layout.

Freshness (``max_age``, off by default): after the signature and before any
base64 or AES work, a signed timestamp older than ``max_age`` seconds, or more
than ``max_age`` seconds ahead of this machine's clock, raises
StaleTimestampError; with a window set, a signed timestamp that is not decimal
digits raises SignatureInputError. The order is deliberate: the timestamp is
authenticated only by the signature, so judging it earlier would judge a
value anyone can forge, and every forged or tampered request keeps getting the
one answer (InvalidSignatureError) whatever its timestamp. A
StaleTimestampError therefore always means a genuinely signed message that is
old (a replay, or a retry after a long outage) or a skewed clock. The window
bounds replays; it does not make them impossible inside the window (dedupe on
MsgId / nonce for that).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import Final
from xml.parsers import expat

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wechat_async.errors import WeChatError

__all__ = [
    "CryptoError",
    "DecodeBase64Error",
    "DecryptError",
    "EncryptError",
    "EncryptedMessage",
    "ForbiddenXmlError",
    "IllegalAesKeyError",
    "IllegalBufferError",
    "InvalidSignatureError",
    "MessageCrypto",
    "MessageParseError",
    "MessageTooLargeError",
    "ReceiveIdMismatchError",
    "ReplayedMessageError",
    "SignatureInputError",
    "StaleTimestampError",
]


class CryptoError(WeChatError):
    """A callback could not be verified, decrypted, parsed or encrypted."""

    code: int = -40000

    def __init__(self, message: str) -> None:  # noqa: D107
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # noqa: D105
        return f"[{self.code}] {self.message}"


class InvalidSignatureError(CryptoError):
    """msg_signature does not match the token, timestamp, nonce and ciphertext."""

    code = -40001


class MessageParseError(CryptoError):
    """The XML or JSON envelope is malformed or has no usable Encrypt field."""

    code = -40002


class ForbiddenXmlError(MessageParseError):
    """The XML carries a DOCTYPE or entity declaration (XXE, billion laughs)."""


class SignatureInputError(CryptoError):
    """A timestamp, nonce or token cannot take part in a signature."""

    code = -40003


class IllegalAesKeyError(CryptoError):
    """The EncodingAESKey is not 43 base64 characters decoding to 32 bytes."""

    code = -40004


class ReceiveIdMismatchError(CryptoError):
    """The decrypted receive id is not this appid, corpid or suite_id."""

    code = -40005


class EncryptError(CryptoError):
    """The plaintext or the random prefix cannot be encrypted."""

    code = -40006


class DecryptError(CryptoError):
    """The ciphertext is not whole 32-byte blocks, or its PKCS#7 padding is invalid."""

    code = -40007


class IllegalBufferError(CryptoError):
    """The decrypted buffer's length field or text does not hold together."""

    code = -40008


class MessageTooLargeError(IllegalBufferError):
    """The envelope or message exceeds ``max_message_size``."""


class DecodeBase64Error(CryptoError):
    """The Encrypt field or echostr is not valid base64."""

    code = -40010


class StaleTimestampError(CryptoError):
    """A correctly signed timestamp lies outside the ``max_age`` window (replay or skew).

    -40100 is this SDK's code, not Tencent's. Also raised at construction
    for a ``max_age`` that is not a positive, finite number of seconds.
    """

    code = -40100


class ReplayedMessageError(CryptoError):
    """A correctly signed message whose (msg_signature, nonce) was accepted already.

    Raised by ``Component.handle_callback`` for a push it has seen inside the
    freshness window: a replay, or WeChat retrying a push whose first answer
    it did not get. Either way it was handled once; answer ``success``.
    -40101 is this SDK's code, not Tencent's.
    """

    code = -40101


_BLOCK: Final = 32  # WeChat pads to 32-byte blocks, not to AES's 16.
_RANDOM_LEN: Final = 16
_HEADER_LEN: Final = _RANDOM_LEN + 4
_DEFAULT_MAX_MESSAGE: Final = 1 << 20
# Whatever surrounds Encrypt in an envelope (ToUserName, AgentID, ...) is small.
_ENVELOPE_SLACK: Final = 64 * 1024
_NONCE_ALPHABET: Final = string.ascii_letters + string.digits
_SAFE_TOKEN: Final = re.compile(r"[0-9A-Za-z_.\-]{1,128}")
# A signed timestamp the freshness window can judge: ASCII decimal digits only
# (int() would also take signs, spaces, underscores and non-ASCII digits).
_DIGITS: Final = re.compile(rb"[0-9]{1,20}")

# The envelope as WeChat sends it: a flat <xml> root whose children hold plain
# ASCII text or one CDATA section, exactly one of them Encrypt in CDATA.
# _fast_encrypt finds Encrypt with two substring searches and checks what
# stands before and after it with two small regular expressions: well under a
# microsecond, a tenth of what expat needs. It accepts only documents that
# expat reads the same way (a property test holds the two to one answer);
# anything else (an XML declaration, comments, entities, nesting, non-ASCII, a
# DOCTYPE) goes to the full parser, _encrypt_from_xml.
_XML_SPACE: Final = rb"[ \t\r\n]*"
_PLAIN: Final = rb"[^<&\]\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]*"
_CDATA_TEXT: Final = rb"[^\]\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]*"
_FAST_CHILDREN: Final = (
    rb"(?:" + _XML_SPACE + rb"<(?!Encrypt>)(?P<name>[A-Za-z_][A-Za-z0-9_]*)>"
    rb"(?:<!\[CDATA\[" + _CDATA_TEXT + rb"\]\]>|" + _PLAIN + rb")</(?P=name)>)*"
)
_FAST_HEAD: Final = re.compile(_XML_SPACE + rb"<xml>" + _FAST_CHILDREN + _XML_SPACE)
_FAST_TAIL: Final = re.compile(_FAST_CHILDREN + _XML_SPACE + rb"</xml>" + _XML_SPACE)
_ENCRYPT_OPEN: Final = b"<Encrypt><![CDATA["
_ENCRYPT_CLOSE: Final = b"]]></Encrypt>"


def _fast_encrypt(body: bytes) -> bytes | None:
    """Return Encrypt from an envelope of WeChat's usual shape, else None."""
    start = body.find(_ENCRYPT_OPEN)
    if start < 0:
        return None
    begin = start + len(_ENCRYPT_OPEN)
    # The first "]" must open "]]></Encrypt>": base64 has none, and a
    # one-byte search runs at memchr speed where the whole needle would not.
    stop = body.find(b"]", begin)
    if stop < 0 or not body.startswith(_ENCRYPT_CLOSE, stop):
        return None
    encrypt = body[begin:stop]
    if _FAST_HEAD.fullmatch(body, 0, start) is None:
        return None
    if _FAST_TAIL.fullmatch(body, stop + len(_ENCRYPT_CLOSE)) is None:
        return None
    return encrypt


@dataclass(frozen=True, slots=True)
class EncryptedMessage:
    """A sealed reply: ciphertext plus the signature parameters WeChat needs."""

    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str

    def to_xml(self) -> str:
        """Render the passive-reply XML envelope (Official Account, WeCom, Kf)."""
        return (
            f"<xml><Encrypt><![CDATA[{self.encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{self.msg_signature}]]></MsgSignature>"
            f"<TimeStamp>{self.timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{self.nonce}]]></Nonce></xml>"
        )

    def to_json(self) -> str:
        """Render the JSON reply envelope (WeCom JSON callbacks, e.g. smart bots)."""
        return json.dumps(
            {
                "encrypt": self.encrypt,
                "msgsignature": self.msg_signature,
                "timestamp": self.timestamp,
                "nonce": self.nonce,
            },
            ensure_ascii=False,
        )


def _decode_aes_key(encoding_aes_key: str) -> bytes:
    if not isinstance(encoding_aes_key, str):
        raise IllegalAesKeyError("EncodingAESKey must be a str of 43 characters")
    if len(encoding_aes_key) != 43:  # noqa: PLR2004 - the console's fixed length
        raise IllegalAesKeyError(
            f"EncodingAESKey must be 43 characters, got {len(encoding_aes_key)}"
        )
    try:
        # Non-strict on purpose: real keys often end in a character whose two
        # low bits are not zero, which strict decoding would refuse. The
        # alphabet is checked separately so nothing else is silently skipped.
        if not encoding_aes_key.isascii() or not _is_base64_alphabet(encoding_aes_key):
            raise IllegalAesKeyError("EncodingAESKey holds characters outside base64")
        key = binascii.a2b_base64(encoding_aes_key + "=")
    except binascii.Error as exc:
        raise IllegalAesKeyError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:  # noqa: PLR2004 - AES-256
        raise IllegalAesKeyError("EncodingAESKey does not decode to 32 bytes")
    return key


_BASE64_CHARS: Final = frozenset(string.ascii_letters + string.digits + "+/")


def _is_base64_alphabet(text: str) -> bool:
    return all(c in _BASE64_CHARS for c in text)


def _text_param(value: object, name: str) -> bytes:
    """Turn a timestamp or nonce (str or int) into the bytes that get signed."""
    try:
        if type(value) is str:  # the hot path: query parameters arrive as str
            return value.encode()
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value).encode()
    except UnicodeEncodeError as exc:
        raise SignatureInputError(f"{name} is not encodable as UTF-8") from exc
    raise SignatureInputError(f"{name} must be a str or int, got {type(value).__name__}")


def check_freshness(
    timestamp: object, max_age: float, *, now: float | None = None, what: str = "timestamp"
) -> int:
    """Judge a signed timestamp against a window of ``max_age`` seconds around ``now``.

    Returns the timestamp as an int. ``now`` is ``time.time()`` unless given. Call
    it only once the signature has vouched for the timestamp (a str or an int).

    Raises:
        SignatureInputError: ``timestamp`` is not a str or int of decimal digits.
        StaleTimestampError: ``timestamp`` is older than ``max_age``, or further ahead.
    """
    if type(timestamp) is int:
        value = timestamp
    else:
        raw = _text_param(timestamp, "timestamp")
        if _DIGITS.fullmatch(raw) is None:
            raise SignatureInputError("timestamp is not a decimal number of seconds")
        value = int(raw)
    if now is None:
        now = time.time()
    # int against float compares exactly, with no overflow for huge values.
    if now - max_age <= value <= now + max_age:
        return value
    # Integer arithmetic: a hostile 400-digit int must not overflow a float.
    skew = value - int(now)
    shown = f"{abs(skew)} s" if abs(skew) < 10**12 else "far"
    where = "old" if skew < 0 else "ahead of this clock"
    raise StaleTimestampError(f"{what} is {shown} {where}, outside max_age={max_age:g} s")


class MessageCrypto:
    """Verify, decrypt and encrypt WeChat callbacks (the WXBizMsgCrypt scheme).

    ``receive_id`` is the appid (Official Account, Open Platform), the corpid
    (WeCom, Kf) or a suite_id; ``None`` skips the check, as some WeCom bot
    callbacks carry an empty one. ``max_message_size`` bounds the decrypted
    message in bytes; larger envelopes are refused before any work is done.

    ``max_age`` (seconds; ``None``, the default, checks nothing) is the
    freshness window: a correctly signed timestamp older than ``max_age``, or
    more than ``max_age`` ahead of ``time.time()``, raises
    `StaleTimestampError` before anything is decrypted. 300 suits
    production (WeChat retries a callback within seconds); keep the clock
    in sync (NTP).
    """

    __slots__ = ("_cipher", "_max_age", "_max_encrypt", "_max_message", "_receive_id", "_token")

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        receive_id: str | None,
        *,
        max_message_size: int = _DEFAULT_MAX_MESSAGE,
        max_age: float | None = None,
    ) -> None:
        """Check the key at once: a bad EncodingAESKey raises IllegalAesKeyError.

        Raises:
            SignatureInputError: ``token`` is empty or not a str.
            IllegalAesKeyError: ``encoding_aes_key`` is not 43 base64 characters.
            ReceiveIdMismatchError: ``receive_id`` is neither a str nor None.
            IllegalBufferError: ``max_message_size`` is not a positive int.
            StaleTimestampError: ``max_age`` is not positive and finite.
        """
        if not isinstance(token, str) or not token:
            raise SignatureInputError("token must be a non-empty str")
        try:
            self._token = token.encode()
        except UnicodeEncodeError as exc:
            raise SignatureInputError("token is not encodable as UTF-8") from exc
        key = _decode_aes_key(encoding_aes_key)
        if receive_id is not None and not isinstance(receive_id, str):
            raise ReceiveIdMismatchError("receive_id must be a str or None")
        if isinstance(max_message_size, bool) or not isinstance(max_message_size, int):
            raise IllegalBufferError("max_message_size must be an int")
        if max_message_size <= 0:
            raise IllegalBufferError("max_message_size must be positive")
        self._max_age = _max_age(max_age)
        self._receive_id: bytes | None = None if receive_id is None else receive_id.encode()
        # The IV is fixed (the key's first 16 bytes), so one Cipher serves every
        # message; each call still gets its own encryptor or decryptor context.
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
        self._max_message = max_message_size
        # Ciphertext of the largest message we accept, as base64, plus slack
        # for the receive id and padding.
        self._max_encrypt = (max_message_size + _HEADER_LEN + 1024 + _BLOCK) * 4 // 3 + 4

    def __repr__(self) -> str:
        """Show the receive id (and the window, if set) only: token and key are secrets."""
        receive_id = None if self._receive_id is None else self._receive_id.decode()
        if self._max_age is None:
            return f"MessageCrypto(receive_id={receive_id!r})"
        return f"MessageCrypto(receive_id={receive_id!r}, max_age={self._max_age!r})"

    @property
    def max_age(self) -> float | None:
        """The freshness window in seconds, or None when timestamps are not checked."""
        return self._max_age

    # -- signing ---------------------------------------------------------------

    def sign(self, timestamp: str | int, nonce: str | int, encrypt: str) -> str:
        """SHA1 hex digest over token, timestamp, nonce and encrypt, sorted.

        Raises:
            SignatureInputError: an argument is not text (``timestamp`` and ``nonce`` may be ints).
        """
        if not isinstance(encrypt, str):
            raise SignatureInputError(f"encrypt must be a str, got {type(encrypt).__name__}")
        try:
            encrypt_bytes = encrypt.encode()
        except UnicodeEncodeError as exc:
            raise SignatureInputError("encrypt is not encodable as UTF-8") from exc
        return self._sign(
            _text_param(timestamp, "timestamp"), _text_param(nonce, "nonce"), encrypt_bytes
        )

    def _sign(self, timestamp: bytes, nonce: bytes, encrypt: bytes) -> str:
        # Sorting UTF-8 bytes orders them exactly as sorting the str would.
        parts = sorted((self._token, timestamp, nonce, encrypt))
        return hashlib.sha1(b"".join(parts)).hexdigest()  # noqa: S324 - WeChat's scheme

    def _check_signature(
        self, msg_signature: object, timestamp: object, nonce: object, encrypt: bytes
    ) -> None:
        expected = self._sign(
            _text_param(timestamp, "timestamp"), _text_param(nonce, "nonce"), encrypt
        )
        if not isinstance(msg_signature, str):
            raise InvalidSignatureError("msg_signature must be a str")
        try:
            ok = hmac.compare_digest(expected, msg_signature)
        except TypeError:  # non-ASCII str: it cannot be a hex digest
            ok = False
        if not ok:
            raise InvalidSignatureError("msg_signature does not match")

    def _check_fresh(self, timestamp: object) -> None:
        """Judge a timestamp the signature has just vouched for against ``max_age``."""
        if self._max_age is not None:
            check_freshness(timestamp, self._max_age)

    # -- decryption ------------------------------------------------------------

    def verify_url(
        self, msg_signature: str, timestamp: str | int, nonce: str | int, echostr: str
    ) -> str:
        """Check a WeCom/Kf URL-verification request and return the echostr to answer.

        WeChat sends ``GET ?msg_signature=&timestamp=&nonce=&echostr=`` when a
        callback URL is saved; the endpoint must answer with the decrypted text.

        Raises:
            InvalidSignatureError: ``msg_signature`` does not match (checked first, in constant
                time).
            StaleTimestampError: the signed timestamp is outside ``max_age``.
            SignatureInputError: ``timestamp`` or ``nonce`` is neither a str nor an int.
            DecodeBase64Error: the ciphertext is not a str of valid base64.
            DecryptError: the ciphertext is not whole AES blocks or its padding is invalid.
            IllegalBufferError: the decrypted length field is malformed; `MessageTooLargeError`
                when the message exceeds ``max_message_size``.
            ReceiveIdMismatchError: the message was sealed for another receive id.
        """
        return self._decode_text(self.decrypt(echostr, msg_signature, timestamp, nonce))

    def decrypt(
        self, encrypt: str, msg_signature: str, timestamp: str | int, nonce: str | int
    ) -> bytes:
        """Verify the signature over ``encrypt`` and return the decrypted message.

        Raises:
            InvalidSignatureError: ``msg_signature`` does not match (checked first, in constant
                time).
            StaleTimestampError: the signed timestamp is outside ``max_age``.
            SignatureInputError: ``timestamp`` or ``nonce`` is neither a str nor an int.
            DecodeBase64Error: the ciphertext is not a str of valid base64.
            DecryptError: the ciphertext is not whole AES blocks or its padding is invalid.
            IllegalBufferError: the decrypted length field is malformed; `MessageTooLargeError`
                when the message exceeds ``max_message_size``.
            ReceiveIdMismatchError: the message was sealed for another receive id.
        """
        if not isinstance(encrypt, str):
            raise DecodeBase64Error(f"encrypt must be a str, got {type(encrypt).__name__}")
        try:
            encrypt_bytes = encrypt.encode()
        except UnicodeEncodeError as exc:
            raise DecodeBase64Error("encrypt is not encodable as UTF-8") from exc
        return self._open(encrypt_bytes, msg_signature, timestamp, nonce)

    def decrypt_xml(
        self, body: bytes | str, msg_signature: str, timestamp: str | int, nonce: str | int
    ) -> bytes:
        """Decrypt the ``<xml><Encrypt>…</Encrypt>…</xml>`` envelope of a POSTed callback.

        Raises:
            MessageParseError: the body is not bytes or text, is not UTF-8 (declares another
                encoding, or is UTF-16), or carries no single Encrypt field; `ForbiddenXmlError`
                for a DOCTYPE or ENTITY declaration.
            MessageTooLargeError: the envelope is larger than the message bound allows.
            InvalidSignatureError: ``msg_signature`` does not match (checked first, in constant
                time).
            StaleTimestampError: the signed timestamp is outside ``max_age``.
            SignatureInputError: ``timestamp`` or ``nonce`` is neither a str nor an int.
            DecodeBase64Error: the ciphertext is not a str of valid base64.
            DecryptError: the ciphertext is not whole AES blocks or its padding is invalid.
            IllegalBufferError: the decrypted length field is malformed; `MessageTooLargeError`
                when the message exceeds ``max_message_size``.
            ReceiveIdMismatchError: the message was sealed for another receive id.
        """
        data = self._envelope_bytes(body)
        encrypt = _fast_encrypt(data)
        if encrypt is None:
            encrypt = _encrypt_from_xml(data)
        return self._open(encrypt, msg_signature, timestamp, nonce)

    def decrypt_json(
        self, body: bytes | str, msg_signature: str, timestamp: str | int, nonce: str | int
    ) -> bytes:
        """Decrypt the ``{"Encrypt": …}`` envelope (``"encrypt"`` in WeCom bot callbacks).

        Raises:
            MessageParseError: the body is not a JSON object with one string Encrypt field.
            MessageTooLargeError: the envelope is larger than the message bound allows.
            InvalidSignatureError: ``msg_signature`` does not match (checked first, in constant
                time).
            StaleTimestampError: the signed timestamp is outside ``max_age``.
            SignatureInputError: ``timestamp`` or ``nonce`` is neither a str nor an int.
            DecodeBase64Error: the ciphertext is not a str of valid base64.
            DecryptError: the ciphertext is not whole AES blocks or its padding is invalid.
            IllegalBufferError: the decrypted length field is malformed; `MessageTooLargeError`
                when the message exceeds ``max_message_size``.
            ReceiveIdMismatchError: the message was sealed for another receive id.
        """
        data = self._envelope_bytes(body)
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise MessageParseError("body is not valid JSON") from exc
        if not isinstance(document, dict):
            raise MessageParseError("JSON body is not an object")
        present = [k for k in ("Encrypt", "encrypt") if k in document]
        if len(present) != 1:
            raise MessageParseError(
                "JSON body has no Encrypt field"
                if not present
                else "JSON body has two Encrypt fields"
            )
        encrypt = document[present[0]]
        if not isinstance(encrypt, str):
            raise MessageParseError(f"Encrypt must be a string, got {type(encrypt).__name__}")
        try:
            encrypt_bytes = encrypt.encode()
        except UnicodeEncodeError as exc:
            raise DecodeBase64Error("Encrypt is not encodable as UTF-8") from exc
        return self._open(encrypt_bytes, msg_signature, timestamp, nonce)

    def _envelope_bytes(self, body: object) -> bytes:
        if isinstance(body, str):
            try:
                body = body.encode()
            except UnicodeEncodeError as exc:
                raise MessageParseError("body is not encodable as UTF-8") from exc
        elif isinstance(body, bytearray | memoryview):
            body = bytes(body)
        elif not isinstance(body, bytes):
            raise MessageParseError(f"body must be bytes or str, got {type(body).__name__}")
        if len(body) > self._max_encrypt + _ENVELOPE_SLACK:
            raise MessageTooLargeError(f"envelope of {len(body)} bytes exceeds the limit")
        return body

    def _open(
        self, encrypt: bytes, msg_signature: object, timestamp: object, nonce: object
    ) -> bytes:
        if len(encrypt) > self._max_encrypt:
            raise MessageTooLargeError(f"Encrypt of {len(encrypt)} characters exceeds the limit")
        self._check_signature(msg_signature, timestamp, nonce, encrypt)
        self._check_fresh(timestamp)
        try:
            # strict_mode refuses stray characters but lets a stray "=" through.
            if len(encrypt) % 4:
                raise binascii.Error("length is not a multiple of 4")  # noqa: TRY301
            ciphertext = binascii.a2b_base64(encrypt, strict_mode=True)
        except binascii.Error as exc:
            raise DecodeBase64Error("Encrypt is not valid base64") from exc
        size = len(ciphertext)
        if size == 0 or size % _BLOCK:
            raise DecryptError(f"ciphertext of {size} bytes is not whole 32-byte blocks")
        decryptor = self._cipher.decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        pad = padded[-1]
        if not 0 < pad <= _BLOCK or padded[-pad:] != bytes((pad,)) * pad:
            raise DecryptError("PKCS#7 padding is invalid")
        end = size - pad
        if end < _HEADER_LEN:
            raise IllegalBufferError("decrypted buffer is shorter than its header")
        length = int.from_bytes(padded[_RANDOM_LEN:_HEADER_LEN], "big")
        if length > end - _HEADER_LEN:
            raise IllegalBufferError("length field runs past the end of the buffer")
        if length > self._max_message:
            raise MessageTooLargeError(f"message of {length} bytes exceeds max_message_size")
        msg_end = _HEADER_LEN + length
        if self._receive_id is not None:
            received = padded[msg_end:end]
            if received != self._receive_id:
                raise ReceiveIdMismatchError(
                    f"message is for receive id {_show(received)}, "
                    f"expected {_show(self._receive_id)}"
                )
        return padded[_HEADER_LEN:msg_end]

    @staticmethod
    def _decode_text(message: bytes) -> str:
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise IllegalBufferError("decrypted message is not valid UTF-8") from exc

    # -- encryption ------------------------------------------------------------

    def encrypt(
        self,
        plaintext: str | bytes | bytearray | memoryview,
        *,
        timestamp: str | int | None = None,
        nonce: str | None = None,
        random_prefix: bytes | None = None,
    ) -> EncryptedMessage:
        """Seal a reply; timestamp, nonce and the 16 random bytes default to fresh values.

        Pass ``random_prefix`` (16 bytes) only for deterministic tests: by
        default it comes from the OS's secure random source.

        Raises:
            EncryptError: ``plaintext`` is not bytes or text, or ``random_prefix`` is not 16 bytes.
            MessageTooLargeError: ``plaintext`` exceeds ``max_message_size``.
            SignatureInputError: ``timestamp`` or ``nonce`` is neither a str nor an int.
        """
        if isinstance(plaintext, str):
            try:
                message = plaintext.encode()
            except UnicodeEncodeError as exc:
                raise EncryptError("plaintext is not encodable as UTF-8") from exc
        elif isinstance(plaintext, bytes | bytearray | memoryview):
            message = bytes(plaintext)
        else:
            raise EncryptError(f"plaintext must be bytes or str, got {type(plaintext).__name__}")
        if len(message) > self._max_message:
            raise MessageTooLargeError(f"message of {len(message)} bytes exceeds max_message_size")
        if random_prefix is None:
            random_prefix = secrets.token_bytes(_RANDOM_LEN)
        elif not isinstance(random_prefix, bytes) or len(random_prefix) != _RANDOM_LEN:
            raise EncryptError("random_prefix must be exactly 16 bytes")
        ts = str(int(time.time())) if timestamp is None else _reply_param(timestamp, "timestamp")
        nc = (
            "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(16))
            if nonce is None
            else _reply_param(nonce, "nonce")
        )
        body = b"".join(
            (random_prefix, len(message).to_bytes(4, "big"), message, self._receive_id or b"")
        )
        pad = _BLOCK - len(body) % _BLOCK
        encryptor = self._cipher.encryptor()
        sealed = encryptor.update(body + bytes((pad,)) * pad) + encryptor.finalize()
        encrypt = binascii.b2a_base64(sealed, newline=False)
        signature = self._sign(ts.encode(), nc.encode(), encrypt)
        return EncryptedMessage(
            encrypt=encrypt.decode(), msg_signature=signature, timestamp=ts, nonce=nc
        )


def _max_age(value: object) -> float | None:
    """Validate the freshness window: None, or a positive finite number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StaleTimestampError(
            f"max_age must be a number of seconds or None, got {type(value).__name__}"
        )
    if not 0 < value < float("inf"):  # also refuses NaN
        raise StaleTimestampError("max_age must be positive and finite")
    return float(value)


def _reply_param(value: object, name: str) -> str:
    """Validate a timestamp or nonce that goes into a reply envelope verbatim."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SignatureInputError(f"{name} must be a str or int, got {type(value).__name__}")
    text = str(value)
    # It is written into XML and JSON unescaped, so only plain characters.
    if _SAFE_TOKEN.fullmatch(text) is None:
        raise SignatureInputError(f"{name} must be 1-128 characters of [0-9A-Za-z_.-]")
    return text


def _show(value: bytes) -> str:
    """Render an untrusted receive id for an error message, short and printable."""
    return repr(value[:64].decode("utf-8", "replace"))


class _Found:
    """Mutable state of one XML envelope parse."""

    __slots__ = ("capturing", "depth", "encrypt", "parts")

    def __init__(self) -> None:
        self.depth = 0
        self.capturing = False
        self.encrypt: bytes | None = None
        self.parts: list[str] = []


def _forbid_dtd(*_: object) -> None:
    raise ForbiddenXmlError("DOCTYPE and ENTITY declarations are not allowed")


# WeChat sends UTF-8 only. Any other declared encoding would otherwise reach
# Python's codec lookup from inside expat and come out as a LookupError or
# ValueError ("x-nope", "utf-7", "gbk", "mbcs", ...), or silently decode the
# body some other way ("latin-1").
_UTF8_NAMES: Final = frozenset({"utf-8", "utf8"})
# A UTF-16 byte order mark, or a NUL byte in the first two (UTF-16 "<" without
# one), makes expat decode UTF-16 whatever encoding it was told.
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")


def _utf8_only(_version: str, encoding: str | None, _standalone: int) -> None:
    if encoding is not None and encoding.lower() not in _UTF8_NAMES:
        raise MessageParseError(f"XML declares encoding {encoding[:40]!r}; only UTF-8 is accepted")


def hardened_expat() -> expat.XMLParserType:
    """An expat parser that raises ForbiddenXmlError at the first DTD construct.

    The DOCTYPE handler fires before any internal subset is read, so no entity
    is ever declared, let alone expanded (XXE, billion laughs). The input is
    read as UTF-8 whatever the XML declaration says, and a declaration naming
    another encoding raises MessageParseError.
    """
    # Told the encoding up front, expat never asks Python for the declared one.
    parser = expat.ParserCreate("UTF-8")
    parser.XmlDeclHandler = _utf8_only
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _forbid_dtd
    parser.EntityDeclHandler = _forbid_dtd
    parser.UnparsedEntityDeclHandler = _forbid_dtd
    parser.NotationDeclHandler = _forbid_dtd
    parser.buffer_text = True
    return parser


def parse_hardened(parser: expat.XMLParserType, body: bytes) -> None:
    """Feed the whole of ``body`` to a parser from `hardened_expat`."""
    if body.startswith(_UTF16_BOMS) or b"\x00" in body[:2]:
        raise MessageParseError("body is UTF-16 or UTF-32, not UTF-8")
    try:
        parser.Parse(body, True)  # noqa: FBT003 - expat takes isfinal positionally
    except expat.ExpatError as exc:
        raise MessageParseError(f"body is not well-formed XML: {exc}") from exc
    except RecursionError as exc:  # handlers of deeply nested input
        raise MessageParseError("XML is nested too deeply") from exc


def _encrypt_from_xml(body: bytes) -> bytes:
    """Parse an envelope with expat, refusing DTDs, and return the Encrypt text.

    Encrypt must be a direct child of the root, appear once and hold text only.
    """
    parser = hardened_expat()
    found = _Found()

    def start(name: str, _attrs: object) -> None:
        found.depth += 1
        if found.capturing:
            raise MessageParseError("Encrypt must hold text only")
        if found.depth == 2 and name == "Encrypt":  # noqa: PLR2004 - a child of the root
            if found.encrypt is not None:
                raise MessageParseError("envelope has more than one Encrypt element")
            found.capturing = True

    def end(_name: str) -> None:
        if found.capturing:
            found.capturing = False
            found.encrypt = "".join(found.parts).encode()
        found.depth -= 1

    def text(data: str) -> None:
        if found.capturing:
            found.parts.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parse_hardened(parser, body)
    if found.encrypt is None:
        raise MessageParseError("envelope has no Encrypt element")
    return found.encrypt
