"""wechat_async: an async-first Python SDK for WeChat, WeCom and Open Platform.

The crypto core and the errors load with the package; everything else loads on
first use, so a sync app that only verifies callbacks never imports asyncio or
httpx, and only an app that uses ``RedisTokenStore`` imports redis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
from wechat_async.errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    HTTPStatusError,
    InvalidArgumentError,
    InvalidCredentialError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidTokenError,
    IPNotAllowedError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    SystemBusyError,
    TokenUnavailableError,
    TransportError,
    WeChatError,
)

if TYPE_CHECKING:
    from wechat_async.observability import Event, MetricsHook
    from wechat_async.tokens import (
        AccessToken,
        MemoryTokenStore,
        RefreshSettings,
        StableAccessToken,
        StaticToken,
        TokenProvider,
        TokenStore,
        TokenStoreUnavailableError,
        WorkAccessToken,
    )
    from wechat_async.tokens.redis import RedisTokenStore
    from wechat_async.transport import Host, Hosts, RetryPolicy, Transport

__version__ = "0.1.0.dev0"

__all__ = [
    "APIError",
    "AccessToken",
    "ConfigurationError",
    "ConnectError",
    "CryptoError",
    "DecodeBase64Error",
    "DecryptError",
    "EncryptError",
    "EncryptedMessage",
    "Event",
    "ForbiddenXmlError",
    "HTTPStatusError",
    "Host",
    "Hosts",
    "IPNotAllowedError",
    "IllegalAesKeyError",
    "IllegalBufferError",
    "InvalidArgumentError",
    "InvalidCredentialError",
    "InvalidParameterError",
    "InvalidResponseError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "MemoryTokenStore",
    "MessageCrypto",
    "MessageParseError",
    "MessageTooLargeError",
    "MetricsHook",
    "PermissionDeniedError",
    "RateLimitError",
    "ReceiveIdMismatchError",
    "RedisTokenStore",
    "RefreshSettings",
    "RequestTimeoutError",
    "RetryPolicy",
    "SignatureInputError",
    "StableAccessToken",
    "StaticToken",
    "SystemBusyError",
    "TokenProvider",
    "TokenStore",
    "TokenStoreUnavailableError",
    "TokenUnavailableError",
    "Transport",
    "TransportError",
    "WeChatError",
    "WorkAccessToken",
    "__version__",
]


# Names that load their module on first access (PEP 562).
_LAZY: dict[str, str] = {
    "Event": "wechat_async.observability",
    "MetricsHook": "wechat_async.observability",
    "AccessToken": "wechat_async.tokens",
    "MemoryTokenStore": "wechat_async.tokens",
    "RefreshSettings": "wechat_async.tokens",
    "StableAccessToken": "wechat_async.tokens",
    "StaticToken": "wechat_async.tokens",
    "TokenProvider": "wechat_async.tokens",
    "TokenStore": "wechat_async.tokens",
    "TokenStoreUnavailableError": "wechat_async.tokens",
    "WorkAccessToken": "wechat_async.tokens",
    "RedisTokenStore": "wechat_async.tokens.redis",
    "Host": "wechat_async.transport",
    "Hosts": "wechat_async.transport",
    "RetryPolicy": "wechat_async.transport",
    "Transport": "wechat_async.transport",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 - module attribute hook
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
