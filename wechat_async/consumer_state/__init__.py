"""Where a `KfConsumer` keeps cursor, lease, dedup marks and callback token.

One small protocol, `ConsumerState`, and three implementations:

| state | survives | shared by |
| --- | --- | --- |
| `MemoryConsumerState` | nothing: forgotten when the process exits | consumers of one process |
| `SQLiteConsumerState` (default) | restarts and crashes (one file) | the processes of one host |
| `RedisConsumerState` | what the Redis persists | every worker on that Redis |

``SQLiteConsumerState`` (which loads sqlite3) and ``RedisConsumerState``
(which loads redis) are imported lazily: an app loads only the one it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wechat_async.consumer_state.base import (
    DEFAULT_STATE_PATH,
    ConsumerState,
    ConsumerStateUnavailableError,
)
from wechat_async.consumer_state.memory import MemoryConsumerState

if TYPE_CHECKING:
    from wechat_async.consumer_state.redis import RedisConsumerState
    from wechat_async.consumer_state.sqlite import SQLiteConsumerState

__all__ = [
    "DEFAULT_STATE_PATH",
    "ConsumerState",
    "ConsumerStateUnavailableError",
    "MemoryConsumerState",
    "RedisConsumerState",
    "SQLiteConsumerState",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - module attribute hook
    if name == "SQLiteConsumerState":
        from wechat_async.consumer_state.sqlite import SQLiteConsumerState  # noqa: PLC0415 - lazy

        return SQLiteConsumerState
    if name == "RedisConsumerState":
        from wechat_async.consumer_state.redis import RedisConsumerState  # noqa: PLC0415 - lazy

        return RedisConsumerState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
