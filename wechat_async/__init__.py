"""wechat_async: an async-first Python SDK for WeChat, WeCom and Open Platform.

The crypto core and the errors load with the package; everything else loads on
first use, so a sync app that only verifies callbacks never imports asyncio or
httpx, only an app that uses ``RedisTokenStore`` or ``RedisConsumerState`` imports
redis, and only one that keeps a `KfConsumer`'s state in SQLite imports sqlite3.
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
    ReplayedMessageError,
    SignatureInputError,
    StaleTimestampError,
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
    PoolTimeoutError,
    RateLimitError,
    RequestTimeoutError,
    SystemBusyError,
    TokenUnavailableError,
    TransportError,
    WeChatError,
)

if TYPE_CHECKING:
    from wechat_async.consumer import Backoff, KfConsumer
    from wechat_async.consumer_state import (
        ConsumerState,
        ConsumerStateUnavailableError,
        MemoryConsumerState,
    )
    from wechat_async.consumer_state.redis import RedisConsumerState
    from wechat_async.consumer_state.sqlite import SQLiteConsumerState
    from wechat_async.observability import Event, MetricsHook
    from wechat_async.official_account import parse_kf_event
    from wechat_async.official_account.custom import Custom
    from wechat_async.open_platform.component import (
        AuthorizerAccessToken,
        Component,
        ComponentAccessToken,
    )
    from wechat_async.open_platform.component_models import AuthType
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
    from wechat_async.wecom.appchat import (
        AppChat,
        Markdown,
        MpNews,
        MpNewsArticle,
        News,
        NewsArticle,
        TextCard,
    )
    from wechat_async.wecom.client import WeCom
    from wechat_async.wecom.kf import Kf
    from wechat_async.wecom.kf_messages import (
        KfCallbackMessage,
        Link,
        Location,
        MenuClick,
        MenuMiniProgram,
        MenuText,
        MenuView,
        MiniProgram,
        MsgMenu,
        Origin,
        ServiceState,
        SyncMsgResult,
        UnknownKfEvent,
        UnknownKfMessage,
    )
    from wechat_async.wecom.media import Media, MediaDownload
    from wechat_async.wecom.messages import File, Image, Text, Video, Voice
    from wechat_async.wecom.tag import Tag
    from wechat_async.wecom.user import User

__version__ = "0.1.0.dev0"

__all__ = [
    "APIError",
    "AccessToken",
    "AppChat",
    "AuthType",
    "AuthorizerAccessToken",
    "Backoff",
    "Component",
    "ComponentAccessToken",
    "ConfigurationError",
    "ConnectError",
    "ConsumerState",
    "ConsumerStateUnavailableError",
    "CryptoError",
    "Custom",
    "DecodeBase64Error",
    "DecryptError",
    "EncryptError",
    "EncryptedMessage",
    "Event",
    "File",
    "ForbiddenXmlError",
    "HTTPStatusError",
    "Host",
    "Hosts",
    "IPNotAllowedError",
    "IllegalAesKeyError",
    "IllegalBufferError",
    "Image",
    "InvalidArgumentError",
    "InvalidCredentialError",
    "InvalidParameterError",
    "InvalidResponseError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "Kf",
    "KfCallbackMessage",
    "KfConsumer",
    "Link",
    "Location",
    "Markdown",
    "Media",
    "MediaDownload",
    "MemoryConsumerState",
    "MemoryTokenStore",
    "MenuClick",
    "MenuMiniProgram",
    "MenuText",
    "MenuView",
    "MessageCrypto",
    "MessageParseError",
    "MessageTooLargeError",
    "MetricsHook",
    "MiniProgram",
    "MpNews",
    "MpNewsArticle",
    "MsgMenu",
    "News",
    "NewsArticle",
    "Origin",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "RateLimitError",
    "ReceiveIdMismatchError",
    "RedisConsumerState",
    "RedisTokenStore",
    "RefreshSettings",
    "ReplayedMessageError",
    "RequestTimeoutError",
    "RetryPolicy",
    "SQLiteConsumerState",
    "ServiceState",
    "SignatureInputError",
    "StableAccessToken",
    "StaleTimestampError",
    "StaticToken",
    "SyncMsgResult",
    "SystemBusyError",
    "Tag",
    "Text",
    "TextCard",
    "TokenProvider",
    "TokenStore",
    "TokenStoreUnavailableError",
    "TokenUnavailableError",
    "Transport",
    "TransportError",
    "UnknownKfEvent",
    "UnknownKfMessage",
    "User",
    "Video",
    "Voice",
    "WeChatError",
    "WeCom",
    "WorkAccessToken",
    "__version__",
    "parse_kf_event",
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
    "Backoff": "wechat_async.consumer",
    "KfConsumer": "wechat_async.consumer",
    "ConsumerState": "wechat_async.consumer_state",
    "ConsumerStateUnavailableError": "wechat_async.consumer_state",
    "MemoryConsumerState": "wechat_async.consumer_state",
    "SQLiteConsumerState": "wechat_async.consumer_state.sqlite",
    "RedisConsumerState": "wechat_async.consumer_state.redis",
    "Custom": "wechat_async.official_account.custom",
    "parse_kf_event": "wechat_async.official_account",
    "Component": "wechat_async.open_platform.component",
    "ComponentAccessToken": "wechat_async.open_platform.component",
    "AuthorizerAccessToken": "wechat_async.open_platform.component",
    "AuthType": "wechat_async.open_platform.component_models",
    "WeCom": "wechat_async.wecom.client",
    "Kf": "wechat_async.wecom.kf",
    "Media": "wechat_async.wecom.media",
    "MediaDownload": "wechat_async.wecom.media",
    "Tag": "wechat_async.wecom.tag",
    "User": "wechat_async.wecom.user",
    "AppChat": "wechat_async.wecom.appchat",
    "Markdown": "wechat_async.wecom.appchat",
    "MpNews": "wechat_async.wecom.appchat",
    "MpNewsArticle": "wechat_async.wecom.appchat",
    "News": "wechat_async.wecom.appchat",
    "NewsArticle": "wechat_async.wecom.appchat",
    "TextCard": "wechat_async.wecom.appchat",
    "File": "wechat_async.wecom.messages",
    "Image": "wechat_async.wecom.messages",
    "Text": "wechat_async.wecom.messages",
    "Video": "wechat_async.wecom.messages",
    "Voice": "wechat_async.wecom.messages",
    "KfCallbackMessage": "wechat_async.wecom.kf_messages",
    "Link": "wechat_async.wecom.kf_messages",
    "Location": "wechat_async.wecom.kf_messages",
    "MenuClick": "wechat_async.wecom.kf_messages",
    "MenuMiniProgram": "wechat_async.wecom.kf_messages",
    "MenuText": "wechat_async.wecom.kf_messages",
    "MenuView": "wechat_async.wecom.kf_messages",
    "MiniProgram": "wechat_async.wecom.kf_messages",
    "MsgMenu": "wechat_async.wecom.kf_messages",
    "Origin": "wechat_async.wecom.kf_messages",
    "ServiceState": "wechat_async.wecom.kf_messages",
    "SyncMsgResult": "wechat_async.wecom.kf_messages",
    "UnknownKfEvent": "wechat_async.wecom.kf_messages",
    "UnknownKfMessage": "wechat_async.wecom.kf_messages",
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
