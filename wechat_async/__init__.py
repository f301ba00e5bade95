"""wechat_async: an async-first Python SDK for WeChat, WeCom and Open Platform."""

from __future__ import annotations

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

__version__ = "0.1.0.dev0"

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
    "SignatureInputError",
    "WeChatError",
    "__version__",
]
