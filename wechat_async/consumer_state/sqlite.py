"""SQLiteConsumerState: a `KfConsumer`'s state in one SQLite file, the durable embedded default.

Standard library ``sqlite3`` only. Every call runs on one thread of the state's
own (one connection, one writer), never on the event loop. The file is in WAL
mode, so a reader never waits for the writer; each commit is one transaction.

The lease lives in the file too (owner value and a wall-clock expiry), so
several processes of one host may share the file: exactly one of them pulls an
account at a time, and the others take over when it stops or dies. Keep the
file on a local disk: SQLite's locking is not reliable on network filesystems.

Tables: ``kf_cursor`` (open_kfid, cursor), ``kf_lease`` (open_kfid, owner,
expires_at), ``kf_mark`` (open_kfid, msgid, expires_at; emptied by each commit)
and ``kf_token`` (open_kfid, token, expires_at). The file is created readable
by its owner only: it holds the latest callback token of each account.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final, TypeVar

from wechat_async.consumer_state.base import DEFAULT_STATE_PATH, ConsumerStateUnavailableError
from wechat_async.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = ["SQLiteConsumerState"]

_T = TypeVar("_T")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS kf_cursor (
    open_kfid TEXT PRIMARY KEY, cursor TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kf_lease (
    open_kfid TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kf_mark (
    open_kfid TEXT NOT NULL, msgid TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (open_kfid, msgid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kf_token (
    open_kfid TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at REAL NOT NULL
) WITHOUT ROWID;
"""

_ACQUIRE: Final = """
INSERT INTO kf_lease (open_kfid, owner, expires_at) VALUES (?, ?, ?)
ON CONFLICT (open_kfid) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE kf_lease.expires_at <= ?
"""
_HOLDS: Final = "SELECT 1 FROM kf_lease WHERE open_kfid = ? AND owner = ? AND expires_at > ?"
_MARK: Final = """
INSERT INTO kf_mark (open_kfid, msgid, expires_at) VALUES (?, ?, ?)
ON CONFLICT (open_kfid, msgid) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)
"""


class SQLiteConsumerState:
    """Cursor, lease, marks and token in one SQLite file: survives restarts and crashes.

    The default state of a `KfConsumer` given neither ``state`` nor ``redis``
    (at `DEFAULT_STATE_PATH`, in the working directory). A process killed at
    any point loses nothing committed: marks and cursor are written before the
    calls that depend on them return. With ``synchronous=NORMAL`` a power cut
    (not a crash) may roll the file back by its last transactions: messages
    handled in that moment reach the handler again; none is skipped.

    The file and its thread are opened on first use and let go by `aclose`
    (a later call opens them again).
    """

    def __init__(
        self, path: str | os.PathLike[str] = DEFAULT_STATE_PATH, *, timeout: float = 5.0
    ) -> None:
        """Keep the state in ``path`` (relative to the working directory now, if relative).

        ``timeout`` is how long a write waits for another process's transaction on the file.

        Raises:
            ConfigurationError: ``path`` is not a non-empty path, or ``timeout`` is not positive.
        """
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise ConfigurationError("path must be a non-empty file path")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError("timeout must be a positive number of seconds")
        self.path: str = os.path.abspath(os.fspath(path))  # noqa: PTH100 - str in, str out
        """The absolute path of the file."""
        self._timeout = float(timeout)
        self._worker: _Worker | None = None

    def __repr__(self) -> str:
        """Show the file."""
        return f"SQLiteConsumerState(path={self.path!r})"

    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """Take the lease unless a live one is held (an upsert that keeps a live row).

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def acquire(db: sqlite3.Connection) -> bool:
            now = time.time()
            return db.execute(_ACQUIRE, (open_kfid, owner, now + ttl, now)).rowcount == 1

        return await self._run(acquire)

    async def extend(self, open_kfid: str, owner: str, ttl: float) -> bool:
        """Renew the lease while ``owner`` holds it and it has not lapsed.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def extend(db: sqlite3.Connection) -> bool:
            now = time.time()
            updated = db.execute(
                "UPDATE kf_lease SET expires_at = ? "
                "WHERE open_kfid = ? AND owner = ? AND expires_at > ?",
                (now + ttl, open_kfid, owner, now),
            )
            return updated.rowcount == 1

        return await self._run(extend)

    async def release(self, open_kfid: str, owner: str) -> None:
        """Delete the lease if ``owner`` holds it.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def release(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM kf_lease WHERE open_kfid = ? AND owner = ?", (open_kfid, owner))

        await self._run(release)

    async def load_cursor(self, open_kfid: str) -> str | None:
        """The committed cursor.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def load(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT cursor FROM kf_cursor WHERE open_kfid = ?", (open_kfid,)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(load)

    async def seen(self, open_kfid: str, owner: str, msgid: str) -> bool | None:
        """Check the lease and the mark in one read.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def seen(db: sqlite3.Connection) -> bool | None:
            holds, marked = db.execute(
                f"SELECT EXISTS({_HOLDS}), "  # noqa: S608 - a constant, no input
                "EXISTS(SELECT 1 FROM kf_mark WHERE open_kfid = ? AND msgid = ?)",
                (open_kfid, owner, time.time(), open_kfid, msgid),
            ).fetchone()
            return bool(marked) if holds else None

        return await self._run(seen)

    async def mark(self, open_kfid: str, msgid: str, ttl: float) -> None:
        """Upsert the mark, keeping the later expiry.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def mark(db: sqlite3.Connection) -> None:
            db.execute(_MARK, (open_kfid, msgid, time.time() + ttl))

        await self._run(mark)

    async def commit(self, open_kfid: str, owner: str, cursor: str, msgids: Sequence[str]) -> bool:
        """One transaction: check the lease, store the cursor, delete covered and expired marks.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """
        forget = [(open_kfid, msgid) for msgid in msgids]

        def commit(db: sqlite3.Connection) -> bool:
            now = time.time()
            with _transaction(db):
                if db.execute(_HOLDS, (open_kfid, owner, now)).fetchone() is None:
                    return False
                db.execute(
                    "INSERT INTO kf_cursor (open_kfid, cursor) VALUES (?, ?) "
                    "ON CONFLICT (open_kfid) DO UPDATE SET cursor = excluded.cursor",
                    (open_kfid, cursor),
                )
                db.executemany("DELETE FROM kf_mark WHERE open_kfid = ? AND msgid = ?", forget)
                db.execute(
                    "DELETE FROM kf_mark WHERE open_kfid = ? AND expires_at <= ?", (open_kfid, now)
                )
                return True

        return await self._run(commit)

    async def save_token(self, open_kfid: str, token: str, ttl: float) -> None:
        """Upsert the token with its expiry.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def save(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO kf_token (open_kfid, token, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (open_kfid) DO UPDATE "
                "SET token = excluded.token, expires_at = excluded.expires_at",
                (open_kfid, token, time.time() + ttl),
            )

        await self._run(save)

    async def load_token(self, open_kfid: str) -> str | None:
        """The token, while alive.

        Raises:
            ConsumerStateUnavailableError: the file could not be opened, read or written.
        """

        def load(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT token FROM kf_token WHERE open_kfid = ? AND expires_at > ?",
                (open_kfid, time.time()),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._run(load)

    async def aclose(self) -> None:
        """Close the connection and end the thread; the next call opens them again."""
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.close()

    async def _run(self, call: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._worker is None:
            self._worker = _Worker(self.path, self._timeout)
        try:
            return await self._worker.run(call)
        except (sqlite3.Error, OSError) as exc:
            raise ConsumerStateUnavailableError(f"SQLite file {self.path}: {exc}") from exc


class _Worker:
    """One thread and the one connection it owns; every statement runs there."""

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="wechat-async-sqlite")
        self._db: sqlite3.Connection | None = None

    async def run(self, call: Callable[[sqlite3.Connection], _T]) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, call)

    def _call(self, call: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._db is None:
            self._db = _open(self._path, self._timeout)
        return call(self._db)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=False)

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()


def _open(path: str, timeout: float) -> sqlite3.Connection:
    """Open (creating it owner-only if new) the file, in WAL mode, with the tables."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    # isolation_level=None: no implicit transactions; commit opens its own.
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # Durable across a process crash; only a power cut can lose the last transactions.
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        now = time.time()
        # Marks past their ttl that no commit covered (a lost lease's late ones) and dead tokens.
        db.execute("DELETE FROM kf_mark WHERE expires_at <= ?", (now,))
        db.execute("DELETE FROM kf_token WHERE expires_at <= ?", (now,))
    except BaseException:
        db.close()
        raise
    return db


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front: no deadlock upgrading a read to a write.
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
