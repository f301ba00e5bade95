"""What the two Redis-backed stores share: the lease release script and TTLs in ms.

Imports nothing from redis itself, so `wechat_async.tokens.redis` and
`wechat_async.consumer_state.redis` stay the only modules that do.
"""

from __future__ import annotations

from typing import Final

__all__ = ["RELEASE_IF_OWNER", "px"]

RELEASE_IF_OWNER: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
"""Release by compare-and-delete: never drop a lock or lease that a later holder took."""


def px(seconds: float) -> int:
    """A TTL in whole milliseconds for PX / PEXPIRE, at least 1 (0 would mean no TTL)."""
    return max(1, int(seconds * 1000))
