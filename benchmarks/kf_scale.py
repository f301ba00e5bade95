"""KfConsumer with many 微信客服 accounts: tasks, memory, Redis connections, errors and leases.

Run with ``python benchmarks/kf_scale.py`` (``--help`` for the knobs). One
process, one KfConsumer, the real Redis at ``--redis-url`` (a default
``redis.asyncio`` client, so redis-py's pool of 100 connections, unless
``--pool`` or ``--blocking-pool`` says otherwise) under a key prefix of this
run that is deleted at the end.

WeChat is an ``httpx.MockTransport`` in this process, not FakeWeChat: it
answers gettoken, sync_msg and send_msg from a few dicts, so the run measures
the consumer, not an emulator holding 100,000 accounts. Nothing leaves the
machine.

The run:

* burst: ``--accounts`` distinct open_kfids (default 100,000) are notified once
  each, with a callback token, as fast as the loop takes them. ``--active`` of
  them (default 1,000, spread over the burst) have a customer message waiting;
  the others answer an empty page.
* chatter: from the start to the end of the idle period, the active accounts
  keep getting messages, ``--rate`` per second in all, each with its callback.
  The handler answers every text with ``send_msg``.
* "before the idle period" is measured once every account has been pulled and
  every message of the burst answered; "after the idle period" ``--idle-period``
  seconds later (the consumer's ``idle_timeout`` is 2 s), chatter still going.
  Then the chatter stops and the last messages are waited for.

Rows, at the start, before and after the idle period: stream tasks alive (one
per open_kfid being pulled) and all asyncio tasks; the consumer's bookkeeping
entries (streams, wake-ups, tokens, queued and parked accounts); the RSS of
this process (current, and the peak so far); the Redis connections the
consumer's client holds (``CLIENT LIST``, by client name); errors (every
WARNING or worse the SDK logged, lease losses apart); leases lost; the keys
under the run's prefix and their ``MEMORY USAGE`` per account notified. Then
the peaks sampled during the run and the latency from a customer message to
its reply. Python rarely gives freed memory back to the OS, so the RSS after
the idle period shows the peak's arenas, not what is still in use.

Targets: no error, no lease lost, stream tasks after the idle period no more
than the active accounts, every message answered exactly once. No peer SDK has
a 微信客服 consumer (wechatpy 1.8.18 has no sync_msg): there is no comparable
row, and the output says so. The numbers go to kf_scale.json in ``--charts
DIR`` (default docs/benchmarks; ``--no-charts`` to skip), with the machine and
the command; this benchmark draws no chart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import random
import resource
import secrets
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from _charts import add_chart_options, chart_dir, machine, write_json
from _harness import BenchmarkError, Budget, redis_cleaned
from redis.asyncio import BlockingConnectionPool, Redis

from wechat_async import Hosts, Text, Transport, WeCom
from wechat_async.consumer import KfConsumer
from wechat_async.transport import RetryPolicy
from wechat_async.wecom.kf_messages import TextMessage

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from wechat_async.observability import Event
    from wechat_async.wecom.kf_messages import SyncedMessage

BASE = "http://wechat.invalid"  # answered by the MockTransport; nothing is sent
CLIENT_NAME = "kf-scale-bench"
REPLY_PREFIX = "re:"
SAMPLE = 0.25  # seconds between samples of the peaks
POLL = 0.05
STREAM = "kf-consumer-wk"  # the task name of a stream: kf-consumer-<open_kfid>
YIELD_EVERY = 1000  # notifies between turns of the loop during the burst
VERDICT = {True: "met", False: "MISSED"}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", None})  # None: a unix socket URL
PEER_LINE = "no peer SDK has a 微信客服 consumer (wechatpy 1.8.18: no sync_msg) — no comparable row"
JSON_HEADERS = {"content-type": "application/json"}


def kfid(index: int) -> str:
    """The open_kfid of account ``index``: 32 characters, as WeChat's are."""
    return f"wkbench{index:025d}"


def index_of(open_kfid: str) -> int:
    return int(open_kfid[7:])


# -- WeChat, in process ---------------------------------------------------------------


class MockKf:
    """gettoken, sync_msg and send_msg for ``accounts`` open_kfids, from a few dicts."""

    def __init__(self, accounts: int) -> None:
        self.pulled = bytearray(accounts)  # 1 once an account has been pulled
        self.messages: dict[str, list[dict[str, Any]]] = {}  # active accounts only
        self.sent_at: dict[str, float] = {}  # msgid -> monotonic time the customer sent it
        self.replies: Counter[str] = Counter()  # msgid -> replies received
        self.latencies: dict[str, float] = {}  # msgid -> seconds to the first reply
        self.sync_calls = 0
        self._numbers = 0

    def say(self, open_kfid: str) -> str:
        """A customer message for ``open_kfid``; its msgid."""
        self._numbers += 1
        msgid = f"msg{self._numbers}"
        self.messages.setdefault(open_kfid, []).append(
            {
                "msgid": msgid,
                "open_kfid": open_kfid,
                "external_userid": f"wm{self._numbers}",
                "send_time": int(time.time()),
                "origin": 3,
                "msgtype": "text",
                "text": {"content": msgid},
            }
        )
        self.sent_at[msgid] = time.monotonic()
        return msgid

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/cgi-bin/kf/sync_msg"):
            return self._json(self._sync_msg(json.loads(request.content)))
        if path.endswith("/cgi-bin/kf/send_msg"):
            body = json.loads(request.content)
            msgid = str(body["text"]["content"]).removeprefix(REPLY_PREFIX)
            self.replies[msgid] += 1
            if msgid in self.sent_at and msgid not in self.latencies:
                self.latencies[msgid] = time.monotonic() - self.sent_at[msgid]
            return self._json({"errcode": 0, "errmsg": "ok", "msgid": secrets.token_hex(8)})
        if path.endswith("/cgi-bin/gettoken"):
            return self._json(
                {"errcode": 0, "errmsg": "ok", "access_token": "AT", "expires_in": 7200}
            )
        return self._json({"errcode": 40001, "errmsg": f"unexpected path {path}"})

    def _sync_msg(self, body: dict[str, Any]) -> dict[str, Any]:
        self.sync_calls += 1
        open_kfid = str(body["open_kfid"])
        self.pulled[index_of(open_kfid)] = 1
        queue = self.messages.get(open_kfid, [])
        start = int(body.get("cursor") or 0)
        page = queue[start : start + int(body.get("limit", 1000))]
        end = start + len(page)
        return {
            "errcode": 0,
            "errmsg": "ok",
            "next_cursor": str(end) if end else "",
            "has_more": int(end < len(queue)),
            "msg_list": page,
        }

    @staticmethod
    def _json(payload: dict[str, Any]) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(payload).encode(), headers=JSON_HEADERS)


# -- what is measured -----------------------------------------------------------------


class Trouble(logging.Handler):
    """Every WARNING or worse the SDK logs; lease losses are counted apart."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.errors: Counter[str] = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "consumer_lease_lost" in text:
            return
        kind = text.split("error=", 1)[1][:60] if "error=" in text else text[:60]
        self.errors[kind] += 1
        if len(self.first) < 3:  # noqa: PLR2004
            self.first.append(text[:200])


@dataclass
class Snapshot:
    label: str
    streams: int
    idle_streams: int  # of those, streams of accounts that get no messages
    tasks: int
    bookkeeping: int
    rss_mb: float
    peak_rss_mb: float
    connections: int
    errors: int
    leases_lost: int
    keys: int
    bytes_per_account: float


@dataclass
class Peaks:
    streams: int = 0
    tasks: int = 0
    connections: int = 0
    bookkeeping: int = 0


@dataclass
class Run:
    snapshots: list[Snapshot] = field(default_factory=list)
    peaks: Peaks = field(default_factory=Peaks)
    burst_seconds: float = math.nan
    burst_drained_at: float = math.inf  # monotonic time every account had been pulled
    chatter_messages: int = 0
    max_active_streams: int = 0


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:  # noqa: PTH123
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def stream_tasks(active: frozenset[str] = frozenset(), *, idle_only: bool = False) -> int:
    """Stream tasks alive (named kf-consumer-<open_kfid>); with ``idle_only``, not of ``active``."""
    names = (task.get_name() for task in asyncio.all_tasks())
    kfids = [name.removeprefix("kf-consumer-") for name in names if name.startswith(STREAM)]
    return sum(1 for k in kfids if k not in active) if idle_only else len(kfids)


def bookkeeping(consumer: KfConsumer) -> int:
    """Entries the consumer keeps per open_kfid (private: this is its own benchmark)."""
    parts = (consumer._tasks, consumer._wakes, consumer._tokens, consumer._pending)  # noqa: SLF001
    return sum(len(part) for part in parts) + len(consumer._parked)  # noqa: SLF001


async def connections(admin: Redis) -> int:
    clients = await admin.client_list()
    return sum(1 for client in clients if client.get("name") == CLIENT_NAME)


async def redis_memory(admin: Redis, prefix: str) -> tuple[int, int]:
    """The keys under ``prefix`` and the bytes MEMORY USAGE gives for them."""
    keys = [key async for key in admin.scan_iter(match=f"{prefix}:*", count=1000)]
    total = 0
    for start in range(0, len(keys), 1000):
        pipe = admin.pipeline(transaction=False)
        for key in keys[start : start + 1000]:
            pipe.memory_usage(key)
        total += sum(int(size or 0) for size in await pipe.execute())
    return len(keys), total


# -- the run --------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, prefix: str, budget: Budget) -> None:
        self.args = args
        self.prefix = prefix
        self.budget = budget
        self.wechat = MockKf(args.accounts)
        self.trouble = Trouble()
        self.events: Counter[str] = Counter()
        self.run = Run()
        step = max(1, args.accounts // max(1, args.active))
        self.active = [kfid(n) for n in range(0, args.accounts, step)][: args.active]
        self.notified = 0

    def on_event(self, event: Event) -> None:
        self.events[event.name] += 1

    async def snapshot(self, label: str, consumer: KfConsumer, admin: Redis) -> Snapshot:
        keys, size = await redis_memory(admin, self.prefix)
        shot = Snapshot(
            label=label,
            streams=stream_tasks(),
            idle_streams=stream_tasks(frozenset(self.active), idle_only=True),
            tasks=len(asyncio.all_tasks()) - 1,  # not the one measuring
            bookkeeping=bookkeeping(consumer),
            rss_mb=rss_mb(),
            peak_rss_mb=peak_rss_mb(),
            connections=await connections(admin),
            errors=sum(self.trouble.errors.values()),
            leases_lost=self.events["consumer_lease_lost"],
            keys=keys,
            bytes_per_account=size / self.notified if self.notified else math.nan,
        )
        self.run.snapshots.append(shot)
        print(
            f"  {label}: {shot.streams:,} stream tasks, {shot.rss_mb:,.0f} MB RSS, "
            f"{shot.connections} Redis connections, {shot.errors} errors, "
            f"{shot.leases_lost} leases lost"
        )
        return shot

    async def sample(self, consumer: KfConsumer, admin: Redis) -> None:
        peaks = self.run.peaks
        while True:
            peaks.streams = max(peaks.streams, stream_tasks())
            peaks.tasks = max(peaks.tasks, len(asyncio.all_tasks()) - 1)
            peaks.bookkeeping = max(peaks.bookkeeping, bookkeeping(consumer))
            peaks.connections = max(peaks.connections, await connections(admin))
            await asyncio.sleep(SAMPLE)

    async def chatter(self, consumer: KfConsumer) -> None:
        """``--rate`` messages per second over the active accounts, each with its callback."""
        if self.args.rate <= 0 or not self.active:
            return
        choose = random.Random(7).choice
        began = time.monotonic()
        sent = 0
        while True:
            due = int((time.monotonic() - began) * self.args.rate)
            while sent < due:
                open_kfid = choose(self.active)
                self.wechat.say(open_kfid)
                consumer.notify(f"ENC{secrets.token_hex(20)}", open_kfid)
                sent += 1
                self.run.chatter_messages += 1
            await asyncio.sleep(0.01)

    async def wait(self, done: Callable[[], bool], what: str) -> None:
        while not done():
            if self.budget.ends - time.monotonic() <= 0:
                raise BenchmarkError(f"the run's --timeout was used up waiting for {what}")
            await asyncio.sleep(POLL)

    def replied(self) -> bool:
        return all(msgid in self.wechat.latencies for msgid in self.wechat.sent_at)

    def redis_client(self) -> tuple[Redis, BlockingConnectionPool | None]:
        """The consumer's client: redis-py's default pool unless --pool or --blocking-pool."""
        args = self.args
        if args.blocking_pool:
            pool = BlockingConnectionPool.from_url(
                args.redis_url, max_connections=args.pool or 50, timeout=20, client_name=CLIENT_NAME
            )
            return Redis(connection_pool=pool), pool
        extra = {"max_connections": args.pool} if args.pool else {}
        return Redis.from_url(args.redis_url, client_name=CLIENT_NAME, **extra), None

    async def main(self) -> Run:
        args = self.args
        redis, pool = self.redis_client()
        admin = Redis.from_url(args.redis_url)
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.wechat))
        hosts = Hosts(official=BASE, work=BASE, official_standby=())
        transport = Transport(http, hosts=hosts, retry=RetryPolicy.no_wait())
        wecom = WeCom("wwbenchcorp", "bench-secret", transport=transport)
        kf = wecom.kf

        async def reply(message: SyncedMessage) -> None:
            if args.handler_delay:
                await asyncio.sleep(args.handler_delay)
            if isinstance(message, TextMessage) and message.external_userid and message.open_kfid:
                text = Text(REPLY_PREFIX + message.msgid)
                await kf.send_msg(message.external_userid, message.open_kfid, text)

        logging.getLogger("wechat_async").addHandler(self.trouble)
        consumer = KfConsumer(
            kf,
            reply,
            redis=redis,
            prefix=self.prefix,
            lease_ttl=args.lease_ttl,
            metrics=self.on_event,
        )
        self.run.max_active_streams = consumer.max_active_streams
        try:
            await wecom.token.get()
            await redis.ping()
            async with consumer:
                await self.phases(consumer, admin)
        finally:
            logging.getLogger("wechat_async").removeHandler(self.trouble)
            await wecom.aclose()
            await transport.aclose()
            await http.aclose()
            await redis.aclose()
            if pool is not None:
                await pool.aclose()
            await admin.aclose()
        return self.run

    async def phases(self, consumer: KfConsumer, admin: Redis) -> None:
        """The burst, the snapshots around the idle period, the last messages."""
        args, wechat = self.args, self.wechat
        await self.snapshot("start", consumer, admin)
        sampler = asyncio.create_task(self.sample(consumer, admin))
        for open_kfid in self.active:
            wechat.say(open_kfid)
        chatter = asyncio.create_task(self.chatter(consumer))
        try:
            began = time.monotonic()
            for n in range(args.accounts):
                consumer.notify(f"ENC{n:040d}", kfid(n))
                self.notified += 1
                if n % YIELD_EVERY == YIELD_EVERY - 1:  # callbacks come over HTTP: the loop turns
                    await asyncio.sleep(0)
            first_messages = list(wechat.sent_at)
            await self.wait(lambda: 0 not in wechat.pulled, "every account to be pulled")
            await self.wait(
                lambda: all(m in wechat.latencies for m in first_messages),
                "the burst's messages to be answered",
            )
            self.run.burst_drained_at = time.monotonic()
            self.run.burst_seconds = self.run.burst_drained_at - began
            print(f"  burst: {args.accounts:,} accounts pulled in {self.run.burst_seconds:.1f}s")
            await self.snapshot("before the idle period", consumer, admin)
            await asyncio.sleep(min(args.idle_period, self.budget.left()))
            await self.snapshot("after the idle period", consumer, admin)
            chatter.cancel()
            await self.wait(self.replied, "the last messages to be answered")
            await asyncio.sleep(min(args.settle, self.budget.left()))  # a repeat would come now
        finally:
            for task in (sampler, chatter):
                task.cancel()
            await asyncio.gather(sampler, chatter, return_exceptions=True)


# -- report ---------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]  # nearest rank


def _num(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def print_table(run: Run) -> None:
    shots = run.snapshots
    rows: list[tuple[str, list[str]]] = [
        ("stream tasks alive", [f"{s.streams:,}" for s in shots]),
        ("  of silent accounts (no messages)", [f"{s.idle_streams:,}" for s in shots]),
        ("asyncio tasks (all)", [f"{s.tasks:,}" for s in shots]),
        ("consumer bookkeeping entries", [f"{s.bookkeeping:,}" for s in shots]),
        ("RSS MB", [_num(s.rss_mb, 1) for s in shots]),
        ("peak RSS MB so far", [_num(s.peak_rss_mb, 1) for s in shots]),
        ("Redis connections (consumer's client)", [str(s.connections) for s in shots]),
        ("errors (SDK warnings, lease losses apart)", [str(s.errors) for s in shots]),
        ("leases lost", [str(s.leases_lost) for s in shots]),
        ("Redis keys under the prefix", [f"{s.keys:,}" for s in shots]),
        ("Redis bytes per account notified", [_num(s.bytes_per_account) for s in shots]),
    ]
    heads = [s.label for s in shots]
    width = max(len(label) for label, _ in rows)
    col = max(12, *(len(h) for h in heads), *(len(v) for _, vs in rows for v in vs))
    print(f"  {'':<{width}}" + "".join(f"  {h:>{col}}" for h in heads))
    for label, values in rows:
        print(f"  {label:<{width}}" + "".join(f"  {v:>{col}}" for v in values))


def latencies(run: Run, bench: Bench) -> dict[str, list[float]]:
    """Seconds from message to reply: sent during the burst, and after it had drained."""
    wechat = bench.wechat
    during = [v for m, v in wechat.latencies.items() if wechat.sent_at[m] < run.burst_drained_at]
    after = [v for m, v in wechat.latencies.items() if wechat.sent_at[m] >= run.burst_drained_at]
    return {"during the burst": during, "after the burst": after}


def _latency_ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(_percentile(values, 50) * 1000, 1),
        "p99": round(_percentile(values, 99) * 1000, 1),
        "max": round(max(values) * 1000, 1),
    }


def print_run(run: Run, bench: Bench) -> None:
    peaks, wechat = run.peaks, bench.wechat
    print(
        f"  during the run (sampled every {SAMPLE:g}s): at most {peaks.streams:,} stream tasks "
        f"(max_active_streams {run.max_active_streams}), {peaks.tasks:,} asyncio tasks, "
        f"{peaks.bookkeeping:,} bookkeeping entries, {peaks.connections} Redis connections"
    )
    print(
        f"  messages: {len(wechat.sent_at):,} ({len(bench.active):,} waiting at the burst, "
        f"{run.chatter_messages:,} chatter), {len(wechat.latencies):,} answered"
    )
    for phase, values in latencies(run, bench).items():
        ms = _latency_ms(values)
        print(
            f"  latency message -> reply, {len(values):,} sent {phase}: "
            f"p50 {ms['p50']} ms, p99 {ms['p99']} ms, max {ms['max']} ms"
        )
    print(
        f"  sync_msg calls: {wechat.sync_calls:,}; lease acquisitions: "
        f"{bench.events['consumer_lease_acquired']:,}; events: "
        + ", ".join(f"{name} {count:,}" for name, count in sorted(bench.events.items()))
    )
    for line in bench.trouble.first:
        print(f"  first errors: {line}")
    if bench.trouble.errors:
        print(f"  error kinds: {dict(bench.trouble.errors.most_common(5))}")
    print(f"  {PEER_LINE}")


def targets(run: Run, bench: Bench) -> list[tuple[str, bool]]:
    after = run.snapshots[-1]
    wechat = bench.wechat
    twice = sum(1 for count in wechat.replies.values() if count > 1)
    missing = sum(1 for msgid in wechat.sent_at if wechat.replies[msgid] == 0)
    return [
        (f"0 errors (measured {after.errors})", after.errors == 0),
        (f"0 leases lost (measured {after.leases_lost})", after.leases_lost == 0),
        (
            (
                "stream tasks after the idle period <= active accounts "
                f"({after.streams:,} <= {len(bench.active):,})"
            ),
            after.streams <= len(bench.active),
        ),
        (
            f"after the idle period, 0 streams of silent accounts ({after.idle_streams:,})",
            after.idle_streams == 0,
        ),
        (
            f"every message answered exactly once ({missing} unanswered, {twice} twice)",
            missing == twice == 0,
        ),
    ]


def print_targets(verdicts: list[tuple[str, bool]]) -> bool:
    print("targets (wechat_async):")
    width = max(len(name) for name, _ in verdicts)
    for name, ok in verdicts:
        print(f"  {name:<{width}}  {VERDICT[ok]}")
    return all(ok for _, ok in verdicts)


def record(
    args: argparse.Namespace, run: Run, bench: Bench, verdicts: list[tuple[str, bool]]
) -> dict[str, Any]:
    return {
        "benchmark": "kf_scale",
        "machine": machine(),
        "settings": {
            "accounts": args.accounts,
            "active": args.active,
            "rate": args.rate,
            "idle_period": args.idle_period,
            "lease_ttl": args.lease_ttl,
            "handler_delay": args.handler_delay,
            "pool": args.pool,
            "blocking_pool": args.blocking_pool,
            "max_active_streams": run.max_active_streams,
            "idle_timeout": 2.0,
        },
        "peer": PEER_LINE,
        "snapshots": [
            {
                "label": s.label,
                "stream_tasks": s.streams,
                "stream_tasks_of_accounts_without_messages": s.idle_streams,
                "asyncio_tasks": s.tasks,
                "bookkeeping_entries": s.bookkeeping,
                "rss_mb": round(s.rss_mb, 1),
                "peak_rss_mb": round(s.peak_rss_mb, 1),
                "redis_connections": s.connections,
                "errors": s.errors,
                "leases_lost": s.leases_lost,
                "redis_keys": s.keys,
                "redis_bytes_per_account": (
                    None if math.isnan(s.bytes_per_account) else round(s.bytes_per_account, 1)
                ),
            }
            for s in run.snapshots
        ],
        "peaks": {
            "stream_tasks": run.peaks.streams,
            "asyncio_tasks": run.peaks.tasks,
            "bookkeeping_entries": run.peaks.bookkeeping,
            "redis_connections": run.peaks.connections,
        },
        "burst_seconds": round(run.burst_seconds, 2),
        "messages": len(bench.wechat.sent_at),
        "latency_ms": {
            phase: {"messages": len(values), **_latency_ms(values)}
            for phase, values in latencies(run, bench).items()
        },
        "sync_msg_calls": bench.wechat.sync_calls,
        "events": dict(bench.events),
        "error_kinds": dict(bench.trouble.errors),
        "targets": {name: VERDICT[ok] for name, ok in verdicts},
    }


# -- main -----------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)  # unwinds through every cleanup block


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100_000, help="open_kfids notified once")
    parser.add_argument("--active", type=int, default=1000, help="of which have messages")
    parser.add_argument("--rate", type=float, default=50.0, help="chatter messages/s in all")
    parser.add_argument("--idle-period", type=float, default=6.0, help="s between the snapshots")
    parser.add_argument("--settle", type=float, default=1.0, help="s to watch for late repeats")
    parser.add_argument("--lease-ttl", type=float, default=15.0, help="the consumer's lease_ttl")
    parser.add_argument("--handler-delay", type=float, default=0.0, help="s the handler waits")
    parser.add_argument("--pool", type=int, default=0, help="max_connections (0: redis-py's)")
    parser.add_argument(
        "--blocking-pool", action="store_true", help="a BlockingConnectionPool (default size 50)"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--timeout", type=float, default=240.0, help="bound on the whole run, s")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    add_chart_options(parser)
    args = parser.parse_args(argv)
    if args.accounts < 1 or not 0 <= args.active <= args.accounts:
        parser.error("accounts must be >= 1 and active from 0 to accounts")
    if min(args.rate, args.idle_period, args.settle, args.handler_delay, args.pool) < 0:
        parser.error("rate, idle period, settle, handler delay and pool must be >= 0")
    if args.lease_ttl <= 0:
        parser.error("lease ttl must be > 0")
    if urlsplit(args.redis_url).hostname not in LOOPBACK:
        parser.error("--redis-url must point at this machine (127.0.0.1, localhost or a socket)")

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    budget = Budget(args.timeout)
    prefix = f"bench-kf-scale-{secrets.token_hex(4)}"
    print(
        f"kf scale: {args.accounts:,} open_kfids notified once, {args.active:,} of them active "
        f"({args.rate:g} messages/s), idle period {args.idle_period:g}s, redis {args.redis_url}"
    )
    print(f"python {sys.version.split()[0]}")
    bench = Bench(args, prefix, budget)
    try:
        with redis_cleaned(args.redis_url, prefix):
            run = asyncio.run(bench.main())
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2
    print()
    print_table(run)
    print_run(run, bench)
    verdicts = targets(run, bench)
    ok = print_targets(verdicts)
    charts = chart_dir(args)
    if charts is not None:
        path = write_json(charts, "kf_scale", record(args, run, bench, verdicts))
        print(f"record: {path}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
