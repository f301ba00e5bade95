"""KfConsumer: pull 微信客服 messages with ``sync_msg`` and hand each one to a handler.

A ``kf_msg_or_event`` callback only says "something new is waiting"; the web
handler calls `KfConsumer.notify` (no I/O, returns at once) and answers
WeChat. A background task for that open_kfid (its stream) then pulls the
pages after the stored cursor and calls the handler for every message, in
order; it ends once the account is idle (see "Many accounts" below).

Delivery guarantees, in plain words:

* **At-least-once pull.** The cursor of an open_kfid advances only after the
  handler has finished (or dead-lettered) every message of a page, so no
  message is skipped: whatever was pulled and not committed is pulled again
  by the next holder.
* **Effectively-once to the handler, within ``dedup_window``.** The msgid of
  every message handled is remembered (a sorted set per open_kfid in Redis,
  scored by time). It is checked before the handler is called and marked
  right after it returns, so a page pulled twice does not reach the handler
  twice.
* **Order** within one open_kfid is kept: one task handles its messages one
  after another, and a failing message holds the stream until it succeeds or
  is dead-lettered. Different open_kfids run concurrently.
* **One puller per open_kfid.** A lease in Redis (``SET NX PX`` with a random
  owner value, renewed by Lua compare-and-extend every ``lease_ttl / 3``,
  released by compare-and-delete) lets exactly one worker pull an open_kfid;
  the cursor is written only while that lease is still ours (fenced). When a
  holder dies, another worker takes over within about ``lease_ttl``. A worker
  woken while another holds the lease waits for it, then pulls.
* **Failures.** A handler exception retries the same message after
  ``backoff(attempt)`` seconds; after ``max_attempts`` failures the message
  goes to ``dead_letter`` (logged if none is given), is marked handled, and
  the stream moves on. The attempt count lives in the process: a takeover
  starts counting again.

What happens on a crash (process killed) at each point:

* while pulling a page, or in the handler: nothing was marked or committed;
  the next holder pulls the page again and calls the handler for that message
  again (it never finished, so this is not a duplicate).
* after the handler returned, before the msgid was marked: the one window of a
  duplicate. The next holder calls the handler again for that one message;
  handlers that must never repeat an effect should be idempotent on msgid.
* after marking, before the cursor was committed: the next holder pulls the
  page again and skips every marked message (dedup).
* after the commit: nothing is repeated.

What happens when Redis fails:

* while Redis is unreachable, every stream logs ``consumer_error``, waits
  ``backoff`` and tries again; it resumes by itself once Redis answers. A
  handler that finished during the outage is not called again: its msgid is
  marked (retried with ``backoff``) once Redis is back.
* if Redis comes back with its data (an append-only file), nothing is lost,
  and nothing is repeated unless the outage outlasted ``lease_ttl`` and another
  worker took the open_kfid over before the msgid was marked.
* if Redis loses its data (restarted without persistence, or a failover to a
  replica that had not caught up), the cursor and the dedup set are gone: the
  next pull starts again from the oldest message WeChat still returns, so
  messages already handled reach the handler again. Nothing is skipped (the
  pull stays at-least-once), but a handler that must never repeat an effect
  has to be idempotent on msgid. Each message's first delivery stays in
  order; the replay may come after the message that was in flight.

A message older than ``dedup_window`` whose page was never committed would
reach the handler again; keep the window above the longest outage you plan to
survive (WeChat keeps sync_msg history for days; the default is three days).
Messages without a msgid cannot be deduplicated.

Without Redis the cursor, lease and dedup live in this process: it works for
one process and forgets everything on restart.

Many accounts:

* **A stream ends when its account is idle**: after a pull, it waits up to
  ``idle_timeout`` (2 s) for another callback, then ends; its task, wake-up
  event and callback token go with it, and the next `notify` starts a fresh
  one. Tasks and memory follow the accounts active at once, not every account
  ever notified. (With Redis the token stays in the state for the rest of its
  10 minutes, so a later pull still uses it; without Redis a pull after the
  stream ended goes without one until the next callback.)
* **At most ``max_active_streams`` (32) streams run at once.** An account
  woken beyond that waits in a queue (one dict entry, no task), oldest first;
  a stream gives its place up after each pull while others wait, and an idle
  stream at once. An account whose lease another worker holds is tried again
  after a pause of up to 200 ms without keeping a place meanwhile.
* **Redis work is bounded.** A stream runs its Redis commands (lease,
  cursor, token, dedup, commit) one at a time, and its lease renewal runs
  beside it without taking a place: at most ``max_active_streams`` data
  commands and as many renewals are in flight. The cap is lowered to half the
  client's connection pool (``max_connections``; per node for a Cluster), so
  a renewal never waits for a connection behind pulls and marks. Size the pool
  for ``2 x max_active_streams`` plus whatever else the app sends through the
  same client (its handler, a token store), or give the consumer a client of
  its own: renewals that fail for ``lease_ttl`` lose the lease.
* The handler runs inside the stream, so at most ``max_active_streams``
  handlers run at once; for slow handlers raise it, and the pool with it.

Redis keys of one open_kfid share a hash tag, so they live in one Cluster slot::

    {prefix}:{kf_consumer:<open_kfid>}:cursor   the committed next_cursor
    {prefix}:{kf_consumer:<open_kfid>}:lease    the puller's owner value, PX lease_ttl
    {prefix}:{kf_consumer:<open_kfid>}:done     zset msgid -> time handled, trimmed to the window
    {prefix}:{kf_consumer:<open_kfid>}:token    the latest callback token, PX its remaining life

Events (see `wechat_async.observability`), logged on ``wechat_async.consumer``:
``consumer_lease_acquired`` (open_kfid), ``consumer_lease_lost`` (open_kfid),
``consumer_page`` (open_kfid, handled, skipped, duration), ``consumer_commit``
(open_kfid, committed), ``consumer_retry`` (open_kfid, msgid, attempt, delay),
``consumer_dead_letter`` (open_kfid, msgid, attempts), ``consumer_error``
(open_kfid, error).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, Self

from wechat_async._validate import integer, number
from wechat_async.errors import APIError, ConfigurationError
from wechat_async.observability import MetricsHook, emit

if TYPE_CHECKING:
    from types import TracebackType

    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    from wechat_async.wecom.kf import Kf
    from wechat_async.wecom.kf_messages import SyncedMessage

__all__ = ["Backoff", "DeadLetter", "Handler", "KfConsumer"]

log = logging.getLogger("wechat_async.consumer")

Handler = Callable[["SyncedMessage"], Awaitable[None]]
"""Called once per message, in order within an open_kfid."""
DeadLetter = Callable[["SyncedMessage", BaseException], Awaitable[None]]
"""Called with a message and its last error after ``max_attempts`` failures."""

SYNC_TOKEN_LIFE: Final = 600.0
"""A callback's token lets sync_msg read for 10 minutes."""
_TOKEN_MARGIN: Final = 30.0
_E_INVALID_MSG_TOKEN: Final = 95007
_STOP_TIMEOUT: Final = 5.0

_LEASE_POLL_MAX: Final = 0.2
"""Longest pause between tries for a lease another worker holds (seconds)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter, capped: the wait before retry ``attempt``."""

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: bool = True

    def __call__(self, attempt: int) -> float:
        """Seconds to wait after failure number ``attempt`` (1-based)."""
        delay = min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay  # noqa: S311


# -- state: cursor, lease, dedup ---------------------------------------------------


class _State(Protocol):
    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool: ...
    async def extend(self, open_kfid: str, owner: str, ttl: float) -> bool: ...
    async def release(self, open_kfid: str, owner: str) -> None: ...
    async def load_cursor(self, open_kfid: str) -> str | None: ...
    async def commit_cursor(self, open_kfid: str, owner: str, cursor: str) -> bool: ...
    async def seen(self, open_kfid: str, msgid: str) -> bool: ...
    async def mark(self, open_kfid: str, msgid: str) -> None: ...
    async def save_token(self, open_kfid: str, token: str, ttl: float) -> None: ...
    async def load_token(self, open_kfid: str) -> str | None: ...


class _MemoryState:
    """One process: the per-open_kfid task is the lease; cursor and dedup in dicts."""

    def __init__(self, window: float) -> None:
        self._window = window
        self.cursors: dict[str, str] = {}
        self.done: dict[str, dict[str, float]] = {}

    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool:  # noqa: ARG002
        return True

    async def extend(self, open_kfid: str, owner: str, ttl: float) -> bool:  # noqa: ARG002
        return True

    async def release(self, open_kfid: str, owner: str) -> None:
        pass

    async def load_cursor(self, open_kfid: str) -> str | None:
        return self.cursors.get(open_kfid)

    async def commit_cursor(self, open_kfid: str, owner: str, cursor: str) -> bool:  # noqa: ARG002
        self.cursors[open_kfid] = cursor
        return True

    async def seen(self, open_kfid: str, msgid: str) -> bool:
        handled_at = self.done.get(open_kfid, {}).get(msgid)
        return handled_at is not None and handled_at > time.time() - self._window

    async def mark(self, open_kfid: str, msgid: str) -> None:
        now = time.time()
        done = self.done.setdefault(open_kfid, {})
        done[msgid] = now
        if len(done) % 1000 == 0:
            cutoff = now - self._window
            for key in [key for key, at in done.items() if at <= cutoff]:
                del done[key]

    async def save_token(self, open_kfid: str, token: str, ttl: float) -> None:
        pass

    async def load_token(self, open_kfid: str) -> str | None:  # noqa: ARG002
        return None


# Renew only while the lease still holds our owner value.
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
# Release by compare-and-delete: never drop a lease a later holder took.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Commit the cursor only while we hold the lease (fencing).
_COMMIT = """
if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[2])
return 1
"""
# Remember a handled msgid, forget those older than the window, expire the set with it.
_MARK = """
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[4])
return 1
"""


class _RedisState:
    """Cursor, lease and dedup in Redis (or Cluster: one hash tag per open_kfid)."""

    def __init__(self, redis: Redis | RedisCluster, prefix: str, window: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._window = window
        self._extend = redis.register_script(_EXTEND)
        self._release = redis.register_script(_RELEASE)
        self._commit = redis.register_script(_COMMIT)
        self._mark = redis.register_script(_MARK)

    def key(self, open_kfid: str, name: str) -> str:
        return f"{self._prefix}:{{kf_consumer:{open_kfid}}}:{name}"

    async def acquire(self, open_kfid: str, owner: str, ttl: float) -> bool:
        return bool(
            await self._redis.set(self.key(open_kfid, "lease"), owner, nx=True, px=_ms(ttl))
        )

    async def extend(self, open_kfid: str, owner: str, ttl: float) -> bool:
        keys = [self.key(open_kfid, "lease")]
        return bool(await self._extend(keys=keys, args=[owner, _ms(ttl)]))

    async def release(self, open_kfid: str, owner: str) -> None:
        await self._release(keys=[self.key(open_kfid, "lease")], args=[owner])

    async def load_cursor(self, open_kfid: str) -> str | None:
        return _text(await self._redis.get(self.key(open_kfid, "cursor")))

    async def commit_cursor(self, open_kfid: str, owner: str, cursor: str) -> bool:
        keys = [self.key(open_kfid, "cursor"), self.key(open_kfid, "lease")]
        return bool(await self._commit(keys=keys, args=[owner, cursor]))

    async def seen(self, open_kfid: str, msgid: str) -> bool:
        score = await self._redis.zscore(self.key(open_kfid, "done"), msgid)
        return score is not None and float(score) > time.time() - self._window

    async def mark(self, open_kfid: str, msgid: str) -> None:
        now = time.time()
        args: list[str | int] = [msgid, repr(now), repr(now - self._window), _ms(self._window)]
        await self._mark(keys=[self.key(open_kfid, "done")], args=args)

    async def save_token(self, open_kfid: str, token: str, ttl: float) -> None:
        await self._redis.set(self.key(open_kfid, "token"), token, px=_ms(ttl))

    async def load_token(self, open_kfid: str) -> str | None:
        return _text(await self._redis.get(self.key(open_kfid, "token")))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _text(value: Any) -> str | None:  # noqa: ANN401 - redis-py's replies are untyped
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class _LeaseLostError(Exception):
    """Our lease lapsed or was taken: stop pulling this open_kfid."""


class _LeaseBusyError(Exception):
    """Another worker holds the lease while other open_kfids wait for a stream: step aside."""


def _pool_size(redis: object) -> int | None:
    """The most connections ``redis`` opens (per node for a Cluster), if it says."""
    pool = getattr(redis, "connection_pool", None)  # redis.asyncio.Redis
    size = getattr(pool, "max_connections", None)
    if size is None:  # RedisCluster: every node gets a pool of this size
        kwargs = getattr(getattr(redis, "nodes_manager", None), "connection_kwargs", None)
        size = kwargs.get("max_connections") if isinstance(kwargs, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


# -- the consumer -------------------------------------------------------------------


class KfConsumer:
    """Pull each open_kfid's messages after a callback and call ``handler`` on each, in order.

    Use as ``async with KfConsumer(kf, handler, redis=redis) as consumer:``
    around the app's lifetime and call `notify` from the callback
    handler. ``open_kfids`` are also pulled every ``poll_interval`` seconds,
    without callbacks (WeChat rate-limits sync_msg without a token strictly).
    See the module docstring for the delivery guarantees.
    """

    def __init__(
        self,
        kf: Kf,
        handler: Handler,
        *,
        redis: Redis | RedisCluster | None = None,
        prefix: str = "wechat_async",
        lease_ttl: float = 15.0,
        dedup_window: float = 3 * 86400.0,
        max_attempts: int = 5,
        backoff: Callable[[int], float] = Backoff(),
        dead_letter: DeadLetter | None = None,
        limit: int = 1000,
        open_kfids: Iterable[str] = (),
        poll_interval: float = 60.0,
        max_active_streams: int = 32,
        idle_timeout: float = 2.0,
        metrics: MetricsHook | None = None,
    ) -> None:
        """Configure; nothing starts before ``async with``.

        At most ``max_active_streams`` open_kfids are pulled at once (never more
        than half of ``redis``'s connection pool: each holds one data command and
        one lease renewal at a time); the others wait their turn. A stream ends
        after ``idle_timeout`` seconds without a callback (0: at once).

        Raises:
            ConfigurationError: ``prefix`` is empty or holds a brace, a duration is not positive
                (``idle_timeout`` may be 0), ``max_attempts`` or ``max_active_streams`` is below 1,
                or ``limit`` is outside 1-1000.
        """
        if not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError("prefix must be non-empty and free of braces")
        number("lease_ttl", lease_ttl)
        number("dedup_window", dedup_window)
        number("poll_interval", poll_interval)
        number("idle_timeout", idle_timeout, positive=False)
        integer("max_attempts", max_attempts, 1)
        integer("max_active_streams", max_active_streams, 1)
        integer("limit", limit, 1, 1000)  # sync_msg's documented maximum
        self._kf = kf
        self._handler = handler
        self._state: _State = (
            _MemoryState(dedup_window)
            if redis is None
            else _RedisState(redis, prefix, dedup_window)
        )
        self._lease_ttl = lease_ttl
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._dead_letter = dead_letter
        self._limit = limit
        self.open_kfids: tuple[str, ...] = tuple(open_kfids)
        """Pulled every ``poll_interval`` seconds even without a callback."""
        self._poll_interval = poll_interval
        self._metrics = metrics
        # Half the pool: a stream's data commands run one at a time and its lease renewals
        # (never queued behind them) take the other half, so neither waits for a connection.
        pool = None if redis is None else _pool_size(redis)
        self._max_streams = (
            max_active_streams if pool is None else max(1, min(max_active_streams, pool // 2))
        )
        self._idle_timeout = idle_timeout
        self._tokens: dict[str, tuple[str, float]] = {}  # open_kfid -> (token, monotonic expiry)
        # Each open_kfid with work is in exactly one of: a stream (_wakes and _tasks, at most
        # _max_streams), _pending (woken, waiting for a stream; value: failures so far) or
        # _parked (its lease is held elsewhere; retried by a timer). Idle ones are nowhere.
        self._wakes: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pending: OrderedDict[str, int] = OrderedDict()
        self._parked: dict[str, asyncio.TimerHandle] = {}
        self._lingering: dict[str, asyncio.Timeout] = {}  # idle streams waiting for a callback
        self._poller: asyncio.Task[None] | None = None
        self._running = False

    @property
    def max_active_streams(self) -> int:
        """How many open_kfids are pulled at once at most: the setting, capped at half the pool."""
        return self._max_streams

    def __repr__(self) -> str:
        """Name the open_kfids being pulled."""
        return f"KfConsumer(open_kfids={sorted(self._wakes)!r})"

    # -- the callback side ---------------------------------------------------------------

    def notify(self, token: str | None, open_kfid: str) -> None:
        """A ``kf_msg_or_event`` callback arrived: remember its token and wake the puller.

        Awaits nothing, so the callback handler can answer WeChat at once.
        ``token`` (valid 10 minutes) is used for the next pulls of ``open_kfid``.
        """
        if not open_kfid:
            return
        if token:
            self._tokens[open_kfid] = (token, time.monotonic() + SYNC_TOKEN_LIFE - _TOKEN_MARGIN)
        self._wake(open_kfid)

    def _wake(self, open_kfid: str) -> None:
        wake = self._wakes.get(open_kfid)
        if wake is not None:  # its stream pulls again once the current pull is done
            wake.set()
            return
        parked = self._parked.pop(open_kfid, None)
        if parked is not None:
            parked.cancel()  # a callback: try the lease now rather than after the pause
        if self._running and not self._pending and len(self._tasks) < self._max_streams:
            self._start_stream(open_kfid, 0)
        elif open_kfid not in self._pending:
            self._pending[open_kfid] = 0
            if self._running and self._lingering:
                # An idle stream gives its place up now rather than after idle_timeout.
                _, linger = self._lingering.popitem()
                if not linger.expired():
                    linger.reschedule(asyncio.get_running_loop().time())

    def _start_stream(self, open_kfid: str, failures: int) -> None:
        wake = self._wakes[open_kfid] = asyncio.Event()
        wake.set()
        task = asyncio.get_running_loop().create_task(
            self._stream(open_kfid, wake, failures), name=f"kf-consumer-{open_kfid}"
        )
        self._tasks[open_kfid] = task

    def _start_pending(self) -> None:
        """Give the open_kfids waiting longest the streams free now."""
        while self._running and self._pending and len(self._tasks) < self._max_streams:
            open_kfid, failures = self._pending.popitem(last=False)
            self._start_stream(open_kfid, failures)

    def _forget(self, open_kfid: str, wake: asyncio.Event) -> None:
        """Drop the calling stream's entries (not those of a newer stream of the open_kfid)."""
        if self._wakes.get(open_kfid) is wake:
            del self._wakes[open_kfid]
        task = self._tasks.get(open_kfid)
        if task is not None and task is asyncio.current_task():
            del self._tasks[open_kfid]

    def _unpark(self, open_kfid: str) -> None:
        if self._parked.pop(open_kfid, None) is not None:
            self._wake(open_kfid)

    # -- lifetime ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Start pulling every open_kfid notified so far, and the poller."""
        self._running = True
        self._start_pending()
        if self.open_kfids:
            self._poller = asyncio.get_running_loop().create_task(
                self._poll(), name="kf-consumer-poll"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop every task; a lease held is released, an uncommitted page is pulled again."""
        await self.aclose()

    async def aclose(self) -> None:
        """Stop every task (what ``async with`` does on exit)."""
        self._running = False
        tasks = [*self._tasks.values(), *([self._poller] if self._poller else [])]
        self._tasks.clear()
        self._poller = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=_STOP_TIMEOUT)

    async def _poll(self) -> None:
        while True:
            for open_kfid in self.open_kfids:
                self._wake(open_kfid)
            await asyncio.sleep(self._poll_interval)

    # -- one open_kfid ---------------------------------------------------------------------

    async def _stream(self, open_kfid: str, wake: asyncio.Event, failures: int) -> None:
        """Pull ``open_kfid`` while callbacks keep coming; end when idle or others wait."""
        pulling = turn_taken = False
        try:
            while True:
                if self._running and not wake.is_set() and not self._pending and self._idle_timeout:
                    await self._linger(open_kfid, wake)
                # Nothing is awaited from this check to the return: a notify either came
                # before it (the wake is set: pull again) or finds no stream and starts one.
                # Stopping (aclose), a stream ends after its pull; a wake-up waits for a start.
                if not wake.is_set() or not self._running or (turn_taken and self._pending):
                    self._forget(open_kfid, wake)
                    if wake.is_set():  # more to pull, but others have waited longer
                        self._pending[open_kfid] = failures
                    else:
                        self._tokens.pop(open_kfid, None)  # with Redis it is in the state too
                    self._start_pending()
                    return
                wake.clear()
                pulling = turn_taken = True
                try:
                    await self._pull_with_lease(open_kfid, wake)
                    failures = 0
                except _LeaseBusyError:
                    self._forget(open_kfid, wake)
                    self._park(open_kfid)
                    self._start_pending()
                    return
                except Exception as exc:  # noqa: BLE001 - the stream must outlive any one failure
                    failures += 1
                    wake.set()  # try again after the pause
                    await self._pause_after(open_kfid, exc, failures)
                pulling = False
        except asyncio.CancelledError:
            self._forget(open_kfid, wake)
            if not self._running and (pulling or wake.is_set()):
                self._pending.setdefault(open_kfid, failures)  # pulled on the next start
            self._start_pending()
            raise

    async def _linger(self, open_kfid: str, wake: asyncio.Event) -> None:
        """Wait up to ``idle_timeout`` for a callback; `_wake` cuts it short if others queue."""
        try:
            async with asyncio.timeout(self._idle_timeout) as linger:
                self._lingering[open_kfid] = linger
                await wake.wait()
        except TimeoutError:
            pass
        finally:
            self._lingering.pop(open_kfid, None)

    def _park(self, open_kfid: str) -> None:
        """Try the lease again after a pause, without holding a stream meanwhile."""
        delay = min(self._lease_ttl / 3, _LEASE_POLL_MAX) * random.uniform(0.5, 1.0)  # noqa: S311
        loop = asyncio.get_running_loop()
        self._parked[open_kfid] = loop.call_later(delay, self._unpark, open_kfid)

    async def _pull_with_lease(self, open_kfid: str, wake: asyncio.Event) -> None:
        # The stream is this open_kfid's place among the _max_streams: every Redis command
        # below runs inside it, one at a time; only the lease renewal runs beside it.
        owner = secrets.token_hex(16)
        delay = min(0.05, self._lease_ttl / 10)
        while not await self._state.acquire(open_kfid, owner, self._lease_ttl):
            if self._pending:
                raise _LeaseBusyError(open_kfid)  # let a waiting open_kfid have the stream
            # Another worker pulls; once it releases (or its lease lapses) we pull
            # after it, so this wake-up is never lost.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            # Capped low: the holder learns of new messages only from its own
            # callbacks, so a waiter's message waits for this poll once the
            # holder lets go. A GET-sized round trip every 200 ms is cheap.
            delay = min(delay * 2, self._lease_ttl / 3, _LEASE_POLL_MAX)
        emit(self._metrics, "consumer_lease_acquired", log=log, open_kfid=open_kfid)
        pull = asyncio.get_running_loop().create_task(self._drain(open_kfid, owner, wake))
        renew = asyncio.get_running_loop().create_task(self._renew(open_kfid, owner, pull))
        try:
            await asyncio.wait([pull])
            if pull.cancelled():  # by _renew: the lease is gone
                raise _LeaseLostError(open_kfid)
            pull.result()
        finally:
            renew.cancel()
            pull.cancel()
            await asyncio.gather(renew, pull, return_exceptions=True)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_STOP_TIMEOUT):
                    await self._state.release(open_kfid, owner)

    async def _renew(self, open_kfid: str, owner: str, pull: asyncio.Task[None]) -> None:
        # Takes no stream's place: the streams are capped at half the pool, so a renewal
        # finds a connection free instead of queueing behind pulls and marks.
        this = asyncio.current_task()
        while True:
            # On Python 3.11 redis-py's asyncio.wait_for can swallow our cancel when a
            # reply lands at the same moment; the task would then renew forever.
            if this is not None and this.cancelling():
                raise asyncio.CancelledError
            await asyncio.sleep(self._lease_ttl / 3)
            try:
                held = await self._state.extend(open_kfid, owner, self._lease_ttl)
            except Exception as exc:  # noqa: BLE001 - retried until the lease would lapse
                log.warning("could not renew the lease of %s: %r", open_kfid, exc)
                continue
            if not held:
                emit(
                    self._metrics,
                    "consumer_lease_lost",
                    log=log,
                    level=logging.WARNING,
                    open_kfid=open_kfid,
                )
                pull.cancel()
                return

    def _token(self, open_kfid: str) -> str | None:
        held = self._tokens.get(open_kfid)
        if held is None:
            return None
        token, expires = held
        if time.monotonic() >= expires:
            del self._tokens[open_kfid]
            return None
        return token

    async def _shared_token(self, open_kfid: str) -> str | None:
        """Our callback's token, else one another worker received (shared through the state)."""
        token = self._token(open_kfid)
        if token is not None:
            ttl = self._tokens[open_kfid][1] - time.monotonic()
            await self._state.save_token(open_kfid, token, ttl)
            return token
        return await self._state.load_token(open_kfid)

    async def _drain(self, open_kfid: str, owner: str, wake: asyncio.Event) -> None:
        token = await self._shared_token(open_kfid)
        cursor = await self._state.load_cursor(open_kfid)
        while True:
            wake.clear()  # whatever arrives from here on is in the pages we are about to read
            try:
                page = await self._kf.sync_msg(
                    cursor=cursor, token=token, limit=self._limit, open_kfid=open_kfid
                )
            except APIError as exc:
                if token is None or exc.errcode != _E_INVALID_MSG_TOKEN:
                    raise
                self._tokens.pop(open_kfid, None)
                token = None  # expired: go on without (rate-limited, but not stuck)
                continue
            await self._handle_page(open_kfid, page.msg_list)
            if page.next_cursor and page.next_cursor != cursor:
                committed = await self._state.commit_cursor(open_kfid, owner, page.next_cursor)
                emit(
                    self._metrics,
                    "consumer_commit",
                    log=log,
                    open_kfid=open_kfid,
                    committed=committed,
                )
                if not committed:
                    raise _LeaseLostError(open_kfid)
                cursor = page.next_cursor
            elif page.has_more:
                raise APIError(
                    -1, "has_more is set but next_cursor did not advance", "cgi-bin/kf/sync_msg"
                )
            if not page.has_more:
                return

    async def _handle_page(self, open_kfid: str, messages: Iterable[SyncedMessage]) -> None:
        started = time.monotonic()
        handled = skipped = 0
        for message in messages:
            msgid = message.msgid or None
            if msgid is not None and await self._state.seen(open_kfid, msgid):
                skipped += 1
                continue
            await self._handle_one(open_kfid, message)
            if msgid is not None:
                await self._mark_handled(open_kfid, msgid)
            handled += 1
        emit(
            self._metrics,
            "consumer_page",
            log=log,
            open_kfid=open_kfid,
            handled=handled,
            skipped=skipped,
            duration=round(time.monotonic() - started, 4),
        )

    async def _mark_handled(self, open_kfid: str, msgid: str) -> None:
        """Remember a handled msgid, retrying while the state is unreachable.

        The handler has finished: giving up here would pull the page again and hand
        the message a second time, so a Redis outage is waited out instead.
        """
        failures = 0
        while True:
            try:
                await self._state.mark(open_kfid, msgid)
            except Exception as exc:  # noqa: BLE001 - retried until Redis answers
                failures += 1
                await self._pause_after(open_kfid, exc, failures)
            else:
                return

    async def _pause_after(self, open_kfid: str, exc: Exception, failures: int) -> None:
        """Report a failure of the stream's machinery and back off before the next try."""
        emit(
            self._metrics,
            "consumer_error",
            log=log,
            level=logging.WARNING,
            open_kfid=open_kfid,
            error=repr(exc),
        )
        await asyncio.sleep(self._backoff(failures))

    async def _handle_one(self, open_kfid: str, message: SyncedMessage) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._handler(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried
                if attempt >= self._max_attempts:
                    await self._give_up(open_kfid, message, exc, attempt)
                    return
                delay = self._backoff(attempt)
                emit(
                    self._metrics,
                    "consumer_retry",
                    log=log,
                    level=logging.WARNING,
                    open_kfid=open_kfid,
                    msgid=message.msgid,
                    attempt=attempt,
                    delay=round(delay, 3),
                    error=repr(exc),
                )
                await asyncio.sleep(delay)
            else:
                return

    async def _give_up(
        self, open_kfid: str, message: SyncedMessage, exc: Exception, attempts: int
    ) -> None:
        emit(
            self._metrics,
            "consumer_dead_letter",
            log=log,
            level=logging.ERROR,
            open_kfid=open_kfid,
            msgid=message.msgid,
            attempts=attempts,
        )
        if self._dead_letter is None:
            log.error(
                "message %s of %s failed %d times; dropped",
                message.msgid,
                open_kfid,
                attempts,
                exc_info=exc,
            )
            return
        try:
            await self._dead_letter(message, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the dead-letter hook failed on message %s; dropped", message.msgid)
