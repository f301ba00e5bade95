"""The protocol every `KfConsumer` state implements, and the error it raises when unreachable.

A state keeps, per open_kfid:

* the **cursor**: the ``next_cursor`` of the last page whose messages were all
  handled (or dead-lettered);
* the **lease**: which puller may pull the open_kfid now (a random owner value
  and an expiry), so that of all consumers sharing the state exactly one pulls it;
* the **marks**: the msgids handled since that cursor. A page pulled again
  (after a crash, a lost lease or a shutdown mid-page) skips its marked
  messages. A committed page is never pulled again, so the commit that moves
  the cursor past a page forgets that page's marks in the same atomic step;
  the set holds about one page per open_kfid. A mark no commit ever covers (a
  late mark by a holder whose lease was lost) is dropped once its own ``ttl``
  has passed, at the next commit, or with the whole set once no mark is younger;
* the latest **callback token**, so a puller can use a token another process received.

Every change of the cursor is fenced: it happens only while the caller's owner
value still holds the lease. Marks are not fenced: a mark records a handler
that did run, so keeping it can only prevent a repeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

from wechat_async.errors import WeChatError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["DEFAULT_STATE_PATH", "ConsumerState", "ConsumerStateUnavailableError"]

DEFAULT_STATE_PATH: Final = "wechat_async_kf.sqlite3"
"""The SQLite file a `KfConsumer` given neither ``state`` nor ``redis`` keeps its state in.

Relative, so it lands in the working directory of the process: next to the app
that owns it, one file per deployment, and the directory a container mounts
as a volume. Two apps started from one directory share it safely (the lease
lives in the file too).
"""


class ConsumerStateUnavailableError(WeChatError):
    """The consumer's state could not be reached (Redis down, the SQLite file locked or gone).

    The message names the store and its address (``Redis at 127.0.0.1:6379: ...``,
    ``SQLite file ...: ...``) and the underlying error's text; it never holds a password.
    """


class ConsumerState(Protocol):
    """Where a `KfConsumer` keeps cursor, lease, marks and token of each open_kfid.

    Implementations: `MemoryConsumerState` (this process, forgotten on exit),
    `SQLiteConsumerState` (a file; one host), `RedisConsumerState` (Redis or
    Redis Cluster; any number of hosts). Times are seconds. ``owner`` is a
    random value a puller draws per lease; every method is one atomic step.
    """

    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """Take the lease of ``open_kfid`` for ``ttl`` seconds unless a live one is held.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def extend(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """Renew the lease for ``ttl`` seconds only while ``owner`` still holds it; say if it did.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def release(self, open_kfid: str, owner: str) -> None:
        """Drop the lease if ``owner`` still holds it (never a lease a later holder took).

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def load_cursor(self, open_kfid: str) -> str | None:
        """The committed cursor of ``open_kfid``, or None before the first commit.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def seen(self, open_kfid: str, owner: str, msgid: str) -> bool | None:
        """Whether ``msgid`` is marked handled; None when ``owner`` no longer holds the lease.

        Checking the lease here, right before each handler call, keeps a puller
        whose lease lapsed from handling a message whose mark a newer holder's
        commit has already forgotten.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def mark(self, open_kfid: str, msgid: str, ttl: float) -> None:
        """Remember ``msgid`` as handled until a commit covers it, or ``ttl`` seconds at most.

        Marking again never shortens a mark's life, nor the life of the set,
        so consumers with different settings never cut each other's marks.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def commit(self, open_kfid: str, owner: str, cursor: str, msgids: Sequence[str]) -> bool:
        """Only while ``owner`` holds the lease: store ``cursor`` and forget marks; say if it did.

        In one atomic step: the cursor becomes ``cursor``, the marks of
        ``msgids`` (the messages of the pages before ``cursor``, handled or
        skipped) are forgotten, and so is every mark of ``open_kfid`` whose
        ``ttl`` has passed.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def save_token(self, open_kfid: str, token: str, ttl: float) -> None:
        """Keep the latest callback token of ``open_kfid`` for ``ttl`` seconds.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def load_token(self, open_kfid: str) -> str | None:
        """The callback token saved for ``open_kfid`` and still alive, or None.

        Raises:
            ConsumerStateUnavailableError: the state could not be reached.
        """
        ...

    async def aclose(self) -> None:
        """Let go of what the state opened itself (a file, a thread); never a caller's client."""
        ...
