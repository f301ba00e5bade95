"""The one exception tree of wechat_async.

Every exception the SDK raises on purpose derives from :class:`WeChatError`, so
``except WeChatError`` catches all of them and nothing else::

    WeChatError
     └── CryptoError                 callback signing and encryption (wechat_async.crypto)
          ├── InvalidSignatureError          -40001
          ├── MessageParseError              -40002
          │    └── ForbiddenXmlError                 DOCTYPE / ENTITY declarations
          ├── SignatureInputError            -40003
          ├── IllegalAesKeyError             -40004
          ├── ReceiveIdMismatchError         -40005
          ├── EncryptError                   -40006
          ├── DecryptError                   -40007
          ├── IllegalBufferError             -40008
          │    └── MessageTooLargeError
          └── DecodeBase64Error              -40010

The crypto branch is defined in :mod:`wechat_async.crypto` (it stays importable
without the HTTP stack); its classes are re-exported from ``wechat_async``.

This module must stay free of I/O imports: :mod:`wechat_async.crypto` builds on it.
"""

from __future__ import annotations

__all__ = ["WeChatError"]


class WeChatError(Exception):
    """Base class of every exception that wechat_async raises on purpose."""
