"""MemoryConsumerState: a `KfConsumer`'s state in this process's memory, forgotten on exit."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MemoryConsumerState"]


class MemoryConsumerState:
    """Cursor, lease, marks and token in dicts: **everything is forgotten when the process ends**.

    An explicit opt-in. After a restart the cursor is gone, so every message
    WeChat still returns for an account (days of them) reaches the handler
    again. Fit for tests and for bots whose handler may repeat itself; use
    `SQLiteConsumerState` (the default) or `RedisConsumerState` otherwise.
    One instance may be shared by several consumers of one event loop; the
    lease then keeps them from pulling one account at once.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._cursors: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # owner, monotonic expiry
        self._marks: dict[str, dict[str, float]] = {}  # msgid -> monotonic expiry
        self._tokens: dict[str, tuple[str, float]] = {}

    def __repr__(self) -> str:
        """Count the accounts; show no token."""
        return f"MemoryConsumerState(accounts={len(self._cursors)})"

    def _holds(self, open_kfid: str, owner: str) -> bool:
        held = self._leases.get(open_kfid)
        return held is not None and held[0] == owner and held[1] > time.monotonic()

    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """Take the lease unless a live one is held."""
        now = time.monotonic()
        held = self._leases.get(open_kfid)
        if held is not None and held[1] > now:
            return False
        self._leases[open_kfid] = (owner, now + ttl)
        return True

    async def extend(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """Renew the lease while ``owner`` holds it."""
        if not self._holds(open_kfid, owner):
            return False
        self._leases[open_kfid] = (owner, time.monotonic() + ttl)
        return True

    async def release(self, open_kfid: str, owner: str) -> None:
        """Drop the lease if ``owner`` holds it."""
        held = self._leases.get(open_kfid)
        if held is not None and held[0] == owner:
            del self._leases[open_kfid]

    async def load_cursor(self, open_kfid: str) -> str | None:
        """The committed cursor."""
        return self._cursors.get(open_kfid)

    async def seen(self, open_kfid: str, owner: str, msgid: str) -> bool | None:
        """Whether ``msgid`` is marked; None without the lease."""
        if not self._holds(open_kfid, owner):
            return None
        return msgid in self._marks.get(open_kfid, {})

    async def mark(self, open_kfid: str, msgid: str, ttl: float) -> None:
        """Mark ``msgid``; a later expiry already there is kept."""
        marks = self._marks.setdefault(open_kfid, {})
        marks[msgid] = max(marks.get(msgid, 0.0), time.monotonic() + ttl)

    async def commit(self, open_kfid: str, owner: str, cursor: str, msgids: Sequence[str]) -> bool:
        """Fenced: store the cursor, forget the covered and the expired marks."""
        if not self._holds(open_kfid, owner):
            return False
        self._cursors[open_kfid] = cursor
        marks = self._marks.get(open_kfid)
        if marks is not None:
            for msgid in msgids:
                marks.pop(msgid, None)
            now = time.monotonic()
            for msgid in [m for m, expires in marks.items() if expires <= now]:
                del marks[msgid]
            if not marks:
                del self._marks[open_kfid]
        return True

    async def save_token(self, open_kfid: str, token: str, ttl: float) -> None:
        """Keep the token for ``ttl`` seconds."""
        self._tokens[open_kfid] = (token, time.monotonic() + ttl)

    async def load_token(self, open_kfid: str) -> str | None:
        """The token, while alive."""
        held = self._tokens.get(open_kfid)
        if held is None or held[1] <= time.monotonic():
            self._tokens.pop(open_kfid, None)
            return None
        return held[0]

    async def aclose(self) -> None:
        """Nothing to let go of; the state stays usable."""
