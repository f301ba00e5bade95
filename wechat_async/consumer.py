"""KfConsumer: pull 微信客服 messages with ``sync_msg`` and hand each one to a handler.

A ``kf_msg_or_event`` callback only says "something new is waiting"; the web
handler calls `KfConsumer.notify` (no I/O, returns at once) and answers
WeChat. A background task for that open_kfid (its stream) then pulls the
pages after the stored cursor and calls the handler for every message, in
order; it ends once the account is idle (see "Many accounts" below).

Where the state lives (cursor, lease, dedup marks, the latest callback token;
see `wechat_async.consumer_state`):

* **by default, a SQLite file**: `SQLiteConsumerState` at
  ``wechat_async_kf.sqlite3`` in the working directory (``state_path=`` moves
  it). It survives restarts and crashes; the processes of one host may share it.
* ``redis=``: `RedisConsumerState`, shared by any number of workers, as
  durable as the Redis is configured to be.
* ``state=MemoryConsumerState()``: this process only, **forgotten on
  restart**, when every message WeChat still returns (days of them) reaches
  the handler again. An explicit opt-in, for tests and handlers that may repeat.
* ``state=`` anything else that implements `ConsumerState`.

Delivery guarantees, in plain words:

* **At-least-once pull.** The cursor of an open_kfid advances only after the
  handler has finished (or dead-lettered) every message of a page, so no
  message is skipped: whatever was pulled and not committed is pulled again
  by the next holder.
* **Effectively-once to the handler.** The msgid of every message handled is
  marked right after the handler returns, and checked before the handler is
  called, so a page pulled again (after a crash, a takeover, a shutdown
  mid-page) does not reach the handler twice. A committed page is never
  pulled again, so the commit that moves the cursor past a page forgets that
  page's marks in the same atomic step: the marks hold about one page per
  account. A mark no commit covers lives ``dedup_window`` at most; marking
  never shortens a mark, so consumers with different settings never cut
  each other's.
* **Order** within one open_kfid is kept: one task handles its messages one
  after another, and a failing message holds the stream until it succeeds or
  is dead-lettered. Different open_kfids run concurrently.
* **One puller per open_kfid.** A lease in the state (an owner value drawn
  per pull and an expiry; ``SET NX PX`` in Redis, renewed by compare-and-extend
  every ``lease_ttl / 3``, released by compare-and-delete) lets exactly one
  worker pull an open_kfid. The cursor is written only while that lease is
  still ours, and the dedup check before each message checks it too, so a
  puller whose lease lapsed stops before calling the handler again. When a
  holder dies, another worker takes over within about ``lease_ttl``. A worker
  woken while another holds the lease waits for it, then pulls.
* **Failures.** A handler exception retries the same message after
  ``backoff(attempt)`` seconds; after ``max_attempts`` failures the message
  goes to ``dead_letter`` (logged if none is given), is marked handled, and
  the stream moves on. A ``CancelledError`` the handler raises itself (say,
  a sub-task it awaited was cancelled) is such a failure too, and a failure
  of the ``dead_letter`` hook (its own ``CancelledError`` included) is
  logged and the message dropped. Only the consumer cancels a handler, when
  it stops (``aclose()``) or loses the lease; that ends the pull without a
  retry or a dead letter, whatever the handler raises then: the message was
  not handled, so the next pull brings it again. The attempt count lives in
  the process: a takeover starts counting again. A message whose fields
  have an unexpected shape does not fail its page: ``sync_msg`` hands it
  over as ``UnknownKfMessage`` (raw dict, ``reason``), so one odd item never
  stops a stream.
* **Graceful shutdown.** Leaving ``async with`` (or `KfConsumer.aclose`)
  stops pulling and starts no new message. A handler that is running gets
  ``shutdown_grace`` seconds to return; its msgid is then marked (even if the
  grace ends while marking), the cursor committed if it was the last message
  of its page, and the lease released. A handler still running after the
  grace is cancelled: it did not finish, so the next holder hands its
  message to the handler again.

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

With `MemoryConsumerState` a crash or a restart forgets everything, and the
points above do not apply: every message is pulled and handled again.

What happens when the state fails (Redis down, the SQLite file unwritable):

* every stream waits ``backoff`` and tries again, and resumes by itself once
  the state answers. The outage is logged once, as a WARNING naming the store
  and its address, and its end once, at INFO; each retry is a
  ``consumer_error`` event logged at DEBUG. A handler that finished during the
  outage is not called again: its msgid is marked (retried with ``backoff``)
  once the state is back.
* if Redis comes back with its data (an append-only file), nothing is lost,
  and nothing is repeated unless the outage outlasted ``lease_ttl`` and another
  worker took the open_kfid over before the msgid was marked.
* if Redis loses its data (restarted without persistence, or a failover to a
  replica that had not caught up), the cursor and the marks are gone: the
  next pull starts again from the oldest message WeChat still returns, so
  messages already handled reach the handler again. Nothing is skipped (the
  pull stays at-least-once), but a handler that must never repeat an effect
  has to be idempotent on msgid. Each message's first delivery stays in
  order; the replay may come after the message that was in flight.

A mark lives until the commit that covers it, or ``dedup_window`` at most: a
page left uncommitted longer than that (an outage of days) may hand its
handled messages again, so keep the window above the longest outage you plan
to survive (the default is three days). Messages without a msgid cannot be
deduplicated.

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
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from wechat_async._validate import integer, number, redis_prefix, text
from wechat_async.consumer_state.base import (
    DEFAULT_STATE_PATH,
    ConsumerState,
    ConsumerStateUnavailableError,
)
from wechat_async.errors import APIError, ConfigurationError, InvalidArgumentError
from wechat_async.observability import MetricsHook, emit

if TYPE_CHECKING:
    import os
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
"""How long shutdown waits for what it cannot cut short: a lease release, a mark landing."""

_LEASE_POLL_MAX: Final = 0.2
"""Longest pause between tries for a lease another worker holds (seconds)."""

_STATE_METHODS: Final = (
    "acquire",
    "extend",
    "release",
    "load_cursor",
    "seen",
    "mark",
    "commit",
    "save_token",
    "load_token",
    "aclose",
)

_T = TypeVar("_T")


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


async def _through_cancellation(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end even if the caller is cancelled meanwhile.

    The cancellation then waits up to ``_STOP_TIMEOUT`` for ``work`` (cancelled
    past that) and is raised after it: for the last writes a stream owes its
    state, a mark or a lease release, which cut short would repeat a message or
    hold an account for ``lease_ttl``.
    """
    task = asyncio.get_running_loop().create_task(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        done, _ = await asyncio.wait({task}, timeout=_STOP_TIMEOUT)
        if not done:
            task.cancel()
        raise


class _LeaseLostError(Exception):
    """Our lease lapsed or was taken: stop pulling this open_kfid."""


def _pick_state(
    state: ConsumerState | None,
    state_path: str | os.PathLike[str] | None,
    redis: Redis | RedisCluster | None,
    prefix: str,
) -> tuple[ConsumerState, bool]:
    """The state the consumer uses, and whether the consumer made it (and so closes it)."""
    given = [
        name
        for name, value in (("state", state), ("redis", redis), ("state_path", state_path))
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigurationError(f"pass one of state, redis and state_path, not {given}")
    if state is not None:
        if not all(callable(getattr(state, name, None)) for name in _STATE_METHODS):
            raise ConfigurationError("state must implement ConsumerState")
        return state, False
    if redis is not None:
        # Only an app that passes redis= loads redis.
        from wechat_async.consumer_state.redis import RedisConsumerState  # noqa: PLC0415

        return RedisConsumerState(redis, prefix=prefix), True
    from wechat_async.consumer_state.sqlite import SQLiteConsumerState  # noqa: PLC0415 - sqlite3

    return SQLiteConsumerState(DEFAULT_STATE_PATH if state_path is None else state_path), True


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

    Use as ``async with KfConsumer(kf, handler) as consumer:`` around the app's
    lifetime and call `notify` from the callback handler. ``open_kfids`` are
    also pulled every ``poll_interval`` seconds, without callbacks (WeChat
    rate-limits sync_msg without a token strictly). See the module docstring
    for the delivery guarantees of each state.
    """

    def __init__(
        self,
        kf: Kf,
        handler: Handler,
        *,
        state: ConsumerState | None = None,
        state_path: str | os.PathLike[str] | None = None,
        redis: Redis | RedisCluster | None = None,
        prefix: str = "wechat_async",
        lease_ttl: float = 15.0,
        dedup_window: float = 3 * 86400.0,
        shutdown_grace: float = 5.0,
        max_attempts: int = 5,
        backoff: Callable[[int], float] = Backoff(),
        dead_letter: DeadLetter | None = None,
        limit: int = 1000,
        open_kfids: Iterable[str] = (),
        poll_interval: float = 60.0,
        max_active_streams: int = 32,
        idle_timeout: float = 2.0,
        state_timeout: float = 5.0,
        metrics: MetricsHook | None = None,
    ) -> None:
        """Configure; nothing starts (and no file is opened) before ``async with``.

        Pass at most one of ``state`` (any `ConsumerState`, yours to close),
        ``redis`` (a `RedisConsumerState` under ``prefix``) and ``state_path``
        (a `SQLiteConsumerState` there). With none, the state is the SQLite
        file ``wechat_async_kf.sqlite3`` in the working directory: durable
        across restarts, shareable by the processes of one host. For a state
        forgotten on restart, pass ``state=MemoryConsumerState()``.

        ``dedup_window`` is the longest a mark lives when no commit covers it;
        ``shutdown_grace`` how long leaving lets a running handler finish (0:
        cancel it at once); ``state_timeout`` the longest one call to the state
        may take before the state counts as unreachable (logged once, retried).

        At most ``max_active_streams`` open_kfids are pulled at once (never more
        than half of ``redis``'s connection pool: each holds one data command and
        one lease renewal at a time); the others wait their turn. A stream ends
        after ``idle_timeout`` seconds without a callback (0: at once).

        Raises:
            ConfigurationError: more than one of ``state``, ``redis`` and ``state_path`` is
                given, ``state`` lacks a `ConsumerState` method, ``state_path`` is not a path,
                ``prefix`` is empty or holds a brace, a duration is not positive
                (``shutdown_grace`` and ``idle_timeout`` may be 0), ``max_attempts`` or
                ``max_active_streams`` is below 1, or ``limit`` is outside 1-1000.
        """
        redis_prefix(prefix)
        number("lease_ttl", lease_ttl)
        number("dedup_window", dedup_window)
        number("shutdown_grace", shutdown_grace, positive=False)
        number("poll_interval", poll_interval)
        number("idle_timeout", idle_timeout, positive=False)
        number("state_timeout", state_timeout)
        integer("max_attempts", max_attempts, 1)
        integer("max_active_streams", max_active_streams, 1)
        integer("limit", limit, 1, 1000)  # sync_msg's documented maximum
        self._kf = kf
        self._handler = handler
        self._state, self._owns_state = _pick_state(state, state_path, redis, prefix)
        self._lease_ttl = lease_ttl
        self._dedup_window = dedup_window
        self._shutdown_grace = shutdown_grace
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
        client = redis if redis is not None else getattr(self._state, "redis", None)
        pool = None if client is None else _pool_size(client)
        self._max_streams = (
            max_active_streams if pool is None else max(1, min(max_active_streams, pool // 2))
        )
        self._idle_timeout = idle_timeout
        self._state_timeout = state_timeout
        self._tokens: dict[str, tuple[str, float]] = {}  # open_kfid -> (token, monotonic expiry)
        # Each open_kfid with work is in exactly one of: a stream (_wakes and _tasks, at most
        # _max_streams), _pending (woken, waiting for a stream; value: failures so far) or
        # _parked (its lease is held elsewhere; retried by a timer). Idle ones are nowhere.
        self._wakes: dict[str, asyncio.Event] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._busy: set[str] = set()  # open_kfids whose handler runs (or whose mark is landing)
        self._pending: OrderedDict[str, int] = OrderedDict()
        self._parked: dict[str, asyncio.TimerHandle] = {}
        self._lingering: dict[str, asyncio.Timeout] = {}  # idle streams waiting for a callback
        self._poller: asyncio.Task[None] | None = None
        self._running = False
        self._closing = asyncio.Event()  # set by aclose: finish what runs, start nothing
        self._state_down = False

    @property
    def max_active_streams(self) -> int:
        """How many open_kfids are pulled at once at most: the setting, capped at half the pool."""
        return self._max_streams

    def __repr__(self) -> str:
        """Name the state and the open_kfids being pulled."""
        return f"KfConsumer(state={self._state!r}, open_kfids={sorted(self._wakes)!r})"

    @property
    def state(self) -> ConsumerState:
        """Where cursor, lease, marks and token live."""
        return self._state

    # -- the callback side ---------------------------------------------------------------

    def notify(self, token: str | None, open_kfid: str) -> None:
        """A ``kf_msg_or_event`` callback arrived: remember its token and wake the puller.

        Awaits nothing, so the callback handler can answer WeChat at once.
        ``token`` (valid 10 minutes; None or "" when the callback had none) is
        used for the next pulls of ``open_kfid``.

        Raises:
            InvalidArgumentError: ``open_kfid`` is not a non-empty string, or ``token`` is
                neither a string nor None.
        """
        text("open_kfid", open_kfid)
        if token is not None and not isinstance(token, str):
            raise InvalidArgumentError(
                "token", f"must be a string or None, got {type(token).__name__}"
            )
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
        self._closing.clear()
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
        """Shut down gracefully: see `aclose`."""
        await self.aclose()

    async def aclose(self) -> None:
        """Stop pulling, let running handlers finish within ``shutdown_grace``, release, return.

        No page is pulled and no message started from now on. A handler that
        is running gets ``shutdown_grace`` seconds to return; then its msgid is
        marked, the cursor committed if its page is complete, and the lease
        released. A handler still running after the grace is cancelled; its
        message reaches the handler again through the next holder. The state
        is closed if the consumer made it (not a ``state=`` passed in).
        """
        self._running = False
        self._closing.set()
        for open_kfid, retry in self._parked.items():  # pulled on the next start instead
            retry.cancel()
            self._pending.setdefault(open_kfid, 0)
        self._parked.clear()
        streams = dict(self._tasks)
        self._tasks.clear()
        waiting = set(streams.values())
        if self._poller is not None:
            self._poller.cancel()
            waiting.add(self._poller)
            self._poller = None
        for open_kfid, task in streams.items():
            if open_kfid not in self._busy:
                task.cancel()  # between messages: whatever it was doing, the next holder redoes
        try:
            if waiting:
                _, late = await asyncio.wait(waiting, timeout=self._shutdown_grace)
                for task in late:
                    task.cancel()  # the grace is over: the handler did not finish
                if late:
                    await asyncio.wait(late, timeout=_STOP_TIMEOUT)
        except asyncio.CancelledError:
            for task in waiting:  # leaving was cut short: leave nothing running behind
                task.cancel()
            raise
        if self._owns_state:
            try:
                await self._state.aclose()
            except Exception:
                log.exception("closing the consumer's state failed")

    async def _poll(self) -> None:
        while True:
            for open_kfid in self.open_kfids:
                self._wake(open_kfid)
            await asyncio.sleep(self._poll_interval)

    async def _io(self, call: Awaitable[_T]) -> _T:
        """One state call, bounded by ``state_timeout``; outages logged at start and end only.

        A store that stops answering without refusing (a stopped Redis, a partition)
        counts as unavailable once the deadline passes, like one that refuses.
        """
        try:
            try:
                async with asyncio.timeout(self._state_timeout):
                    result = await call
            except TimeoutError as exc:
                raise ConsumerStateUnavailableError(
                    f"{self._state!r} did not answer within {self._state_timeout:g}s"
                ) from exc
        except ConsumerStateUnavailableError as exc:
            if not self._state_down:
                self._state_down = True
                log.warning(
                    "KfConsumer cannot reach its state (%s); every account waits and retries "
                    "until it answers",
                    exc,
                )
            raise
        if self._state_down:
            self._state_down = False
            log.info("KfConsumer reaches its state again: %r", self._state)
        return result

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
        try:
            while not await self._io(self._state.acquire(open_kfid, owner, self._lease_ttl)):
                if self._pending:
                    raise _LeaseBusyError(open_kfid)  # let a waiting open_kfid have the stream
                # Another worker pulls; once it releases (or its lease lapses) we pull
                # after it, so this wake-up is never lost.
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
                # Capped low: the holder learns of new messages only from its own
                # callbacks, so a waiter's message waits for this poll once the
                # holder lets go. A GET-sized round trip every 200 ms is cheap.
                delay = min(delay * 2, self._lease_ttl / 3, _LEASE_POLL_MAX)
        except asyncio.CancelledError:
            # Cancelled (by shutdown) while an acquire may have landed: let it go, or the
            # next holder would wait lease_ttl for a lease nobody uses.
            await self._release(open_kfid, owner)
            raise
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
            await self._release(open_kfid, owner)

    async def _release(self, open_kfid: str, owner: str) -> None:
        """Compare-and-delete the lease, even through a cancellation (shielded, bounded).

        Releasing is what a stream does last, often while `aclose` cancels it: cut
        short, the lease would stay and the next holder wait ``lease_ttl`` for it.
        """
        await _through_cancellation(self._release_now(open_kfid, owner))

    async def _release_now(self, open_kfid: str, owner: str) -> None:
        # A failure leaves the lease to lapse by itself.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_STOP_TIMEOUT):
                await self._io(self._state.release(open_kfid, owner))

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
                held = await self._io(self._state.extend(open_kfid, owner, self._lease_ttl))
            except Exception as exc:  # noqa: BLE001 - retried until the lease would lapse
                # An unreachable state is logged once by _io; anything else each time.
                level = (
                    logging.DEBUG
                    if isinstance(exc, ConsumerStateUnavailableError)
                    else logging.WARNING
                )
                log.log(level, "could not renew the lease of %s: %s", open_kfid, exc)
                continue
            if not held:
                self._lease_lost(open_kfid)
                pull.cancel()
                return

    def _lease_lost(self, open_kfid: str) -> None:
        emit(
            self._metrics,
            "consumer_lease_lost",
            log=log,
            level=logging.WARNING,
            open_kfid=open_kfid,
        )

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
            await self._io(self._state.save_token(open_kfid, token, ttl))
            return token
        return await self._io(self._state.load_token(open_kfid))

    async def _drain(self, open_kfid: str, owner: str, wake: asyncio.Event) -> None:
        token = await self._shared_token(open_kfid)
        cursor = await self._io(self._state.load_cursor(open_kfid))
        covered: list[str] = []  # the msgids the next commit moves past: their marks go with it
        while not self._closing.is_set():
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
            if not await self._handle_page(open_kfid, owner, page.msg_list):
                return  # shutting down mid-page: the next holder skips what is marked
            covered.extend(str(message.msgid) for message in page.msg_list if message.msgid)
            if page.next_cursor and page.next_cursor != cursor:
                committed = await self._io(
                    self._state.commit(open_kfid, owner, page.next_cursor, covered)
                )
                emit(
                    self._metrics,
                    "consumer_commit",
                    log=log,
                    open_kfid=open_kfid,
                    committed=committed,
                )
                if not committed:
                    raise _LeaseLostError(open_kfid)
                covered = []
                cursor = page.next_cursor
            elif page.has_more:
                raise APIError(
                    -1, "has_more is set but next_cursor did not advance", "cgi-bin/kf/sync_msg"
                )
            if not page.has_more:
                return

    async def _handle_page(
        self, open_kfid: str, owner: str, messages: Iterable[SyncedMessage]
    ) -> bool:
        """Hand each new message of a page to the handler; False if shutdown stopped it midway."""
        started = time.monotonic()
        handled = skipped = 0
        complete = True
        for message in messages:
            if self._closing.is_set():
                complete = False
                break
            msgid = str(message.msgid) if message.msgid else None
            if msgid is not None:
                seen = await self._io(self._state.seen(open_kfid, owner, msgid))
                if seen is None:
                    self._lease_lost(open_kfid)
                    raise _LeaseLostError(open_kfid)
                if seen:
                    skipped += 1
                    continue
            # Shutdown lets this finish within its grace instead of cancelling it.
            self._busy.add(open_kfid)
            try:
                await self._handle_one(open_kfid, message)
                if msgid is not None:
                    await self._mark_handled(open_kfid, msgid)
            finally:
                self._busy.discard(open_kfid)
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
        return complete

    async def _mark_handled(self, open_kfid: str, msgid: str) -> None:
        """Remember a handled msgid, even through a cancellation (shielded, bounded).

        The handler has finished: without the mark the next holder would hand
        the message again. So a cancellation (the shutdown grace is over, the
        lease was lost) waits up to ``_STOP_TIMEOUT`` for the mark to land.
        """
        await _through_cancellation(self._mark(open_kfid, msgid))

    async def _mark(self, open_kfid: str, msgid: str) -> None:
        """Mark, retrying while the state is unreachable: an outage is waited out."""
        failures = 0
        while True:
            try:
                await self._io(self._state.mark(open_kfid, msgid, self._dedup_window))
            except Exception as exc:  # noqa: BLE001 - retried until the state answers
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
            # An outage of the state is logged once by _io, not once per retry.
            level=logging.DEBUG
            if isinstance(exc, ConsumerStateUnavailableError)
            else logging.WARNING,
            open_kfid=open_kfid,
            error=repr(exc),
        )
        await asyncio.sleep(self._backoff(failures))

    async def _handle_one(self, open_kfid: str, message: SyncedMessage) -> None:
        attempt = 0
        while True:
            attempt += 1
            error: BaseException
            try:
                await self._handler(message)
            except asyncio.CancelledError as exc:
                if self._stopping():
                    raise
                # Raised by the handler itself (say, a sub-task it awaited was
                # cancelled), not by us: a failure like any other. Letting it
                # through would end the pull as if stopped, and the next pull
                # would bring the same message back, for ever.
                error = exc
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried
                error = exc
            else:
                return
            if self._stopping():
                # We were stopped while the handler ran and it turned the
                # cancellation into another error: stop, do not retry (the
                # message was not handled, so the next pull brings it again).
                raise asyncio.CancelledError
            if attempt >= self._max_attempts:
                await self._give_up(open_kfid, message, error, attempt)
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
                error=repr(error),
            )
            await asyncio.sleep(delay)

    @staticmethod
    def _stopping() -> bool:
        """Whether this task was asked to stop: cancelled by us, not by a handler's own error."""
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0

    async def _give_up(
        self, open_kfid: str, message: SyncedMessage, exc: BaseException, attempts: int
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
            if self._stopping():
                raise
            # The hook's own CancelledError: like any hook failure, not a stop.
            log.exception("the dead-letter hook failed on message %s; dropped", message.msgid)
        except Exception:
            log.exception("the dead-letter hook failed on message %s; dropped", message.msgid)
