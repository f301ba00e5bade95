"""Token providers and the stores they share tokens through.

``RedisTokenStore`` is imported lazily: only an app that uses it loads redis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wechat_async.tokens.base import TokenProvider
from wechat_async.tokens.providers import (
    AccessToken,
    StableAccessToken,
    StaticToken,
    WorkAccessToken,
)
from wechat_async.tokens.refreshing import RefreshingToken, RefreshSettings
from wechat_async.tokens.store import (
    Lease,
    MemoryTokenStore,
    StoredToken,
    TokenStore,
    TokenStoreUnavailableError,
)

if TYPE_CHECKING:
    from wechat_async.tokens.redis import RedisTokenStore

__all__ = [
    "AccessToken",
    "Lease",
    "MemoryTokenStore",
    "RedisTokenStore",
    "RefreshSettings",
    "RefreshingToken",
    "StableAccessToken",
    "StaticToken",
    "StoredToken",
    "TokenProvider",
    "TokenStore",
    "TokenStoreUnavailableError",
    "WorkAccessToken",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - module attribute hook
    if name == "RedisTokenStore":
        from wechat_async.tokens.redis import RedisTokenStore  # noqa: PLC0415 - lazy on purpose

        return RedisTokenStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
