"""微信客服 throughput and the SDK's CPU per message: callback -> KfConsumer -> handler -> send_msg.

Run with ``python benchmarks/kf_throughput.py`` (``--help`` for the knobs).
Everything talks to 127.0.0.1 only.

Processes. This process plays WeChat: FakeWeChat under uvicorn on a thread of
its own, and the driver, which plays ``--messages`` customers (one
external_userid per message, so WeChat's 5-replies-per-message budget never
matters) with ``fake.kf.customer_says``, spread at random over the accounts,
at most ``--concurrency`` callbacks in flight, paced to ``--rate`` messages per
second (0: as fast as the callbacks are answered). The fake delivers each
callback through benchmarks/_callbacks.py, round-robin over the workers' ports,
as a load balancer in front of the replicas would. Each worker is a process of
its own (benchmarks/_kf_worker.py): a callback receiver under uvicorn
(``Kf.get_callback_message``, ``KfConsumer.notify``, ``success``) and a
KfConsumer whose handler answers each text with ``send_msg``. The workers share
one Redis under a key prefix of this run, deleted at the end.

One run per account count (``--accounts``) and worker count (``--workers``).
Every worker is woken for every account and the consumer's per-open_kfid lease
decides who pulls: one worker at a time per open_kfid, by design, so N workers
can pull in parallel only over at least N accounts.

Rows, per run: replies per second end to end (first customer message to last
reply), p50/p99/max latency from the customer message (its callback about to
be sent) to the reply (send_msg received at the fake), both on the fake's
clock; how long callbacks took to be answered; the check that every message
got exactly one reply. Queueing counts: at ``--rate 0`` the driver outruns the
consumers and latency grows with the backlog. Then the CPU figures, which carry
across machines where the wall-clock ones do not:

* worker CPU per message: the CPU time of the worker processes over the run
  (each reads its own ``time.process_time`` before and after) per message
  replied to. The driver and the emulator run in this process, so that is the
  consumer's side only: the callback served over HTTP, its parse
  (``get_callback_message``), ``sync_msg``, the lease and dedup round trips to
  Redis, ``send_msg``.
* of which serving callbacks over HTTP: before each run every worker is sent
  ``--calibration`` no-op callbacks, answered ``success`` without the SDK; the
  CPU they cost, per callback, times the callbacks of the run is uvicorn's,
  h11's and asyncio's share, not the SDK's.
* SDK CPU per message: the first minus the second.
* replies per worker-CPU-second: the messages over the workers' CPU seconds.
* emulator+driver CPU per message: this process's CPU over the messages.

Beside each ratio of N workers to one: the worker CPU per message over one
worker's, and the share of the messages the busiest worker handled, which
bounds the scaling however many cores there are (a worker holding an
open_kfid tends to keep it while its messages keep coming).

Targets: for every run, every message replied to exactly once, no callback
refused or failed, every callback answered within WeChat's 5 s, and with
several workers every worker handled some messages; the SDK's CPU per message
under 1 ms in every run; 4 workers on 4 accounts at least 1.8x one worker. That
last one needs a core for each worker and one for this process: with fewer
cores (``os.cpu_count()`` is printed), or when this process used most of a
core (the emulator then caps the throughput), it says "not judged" and why,
and the measured ratio is printed with that caveat.

wechatpy (1.8.18) has no 微信客服 (cgi-bin/kf/sync_msg, send_msg) API and no
consumer, so there is no peer row; the output says so. The numbers go to
kf_throughput.json in ``--charts DIR`` (default docs/benchmarks; ``--no-charts``
to skip), with the machine and the command; this benchmark draws no chart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import uvicorn
from _callbacks import CallbackDelivery
from _charts import add_chart_options, chart_dir, machine, write_json
from _harness import BenchmarkError, Budget, Worker, redis_cleaned, spawned
from _kf_worker import NOOP_PATH, REPLY_PREFIX, loopback_socket

from wechat_async.testing import FakeWeChat

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator
    from types import FrameType

    from wechat_async.testing.fake_kf import SentKfMessage

_T = TypeVar("_T")

WORKER = Path(__file__).with_name("_kf_worker.py")
CALLBACK_TOKEN = "bench-kf-callback-token"
AES_KEY = "YmVuY2gta2YtZW5jb2RpbmctYWVzLWtleS0wMTIzNDU"  # 43 characters
CALLBACK_LIMIT = 5.0  # WeChat wants a callback answered within 5 s
SETUP_TIMEOUT = 60.0  # seconds for a worker to import, connect and listen
ANSWER_TIMEOUT = 10.0  # seconds for a worker to say how much CPU it has used
POLL = 0.05
WARM_UP = 20  # no-op callbacks per worker before the calibration is measured
SDK_CPU_TARGET_MS = 1.0  # the SDK's CPU per message, at most
SCALING_TARGET = 1.8  # SCALING_WORKERS workers on SCALING_ACCOUNTS accounts vs one worker
SCALING_WORKERS = 4
SCALING_ACCOUNTS = 4
SATURATED = 0.9  # share of a core at which this process (emulator + driver) caps the run
VERDICT = {True: "met", False: "MISSED"}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", None})  # None: a unix socket URL
PEER_LINE = "wechatpy: no 微信客服 sync_msg/consumer API (1.8.18) — no comparable row"
# What a no-op callback carries: a query and an envelope the size of a real one.
NOOP_QUERY = f"?msg_signature={'0' * 40}&timestamp=1700000000&nonce=1234567890"
NOOP_BODY = b"<xml><ToUserName><![CDATA[ww]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>"


# -- the fake, on a thread with its own loop -------------------------------------------


@dataclass(frozen=True)
class Served:
    url: str
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Coroutine[Any, Any, _T], timeout: float) -> _T:
        """Run ``coro`` on the server's loop (where the fake's state lives); wait for it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise BenchmarkError("the run's --timeout was used up") from None


@contextlib.contextmanager
def serving(app: FakeWeChat) -> Iterator[Served]:
    """Serve ``app`` under uvicorn on a loopback port, on a thread; yield its URL and loop."""
    sock = loopback_socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", lifespan="off", backlog=4096
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(server.serve(sockets=[sock]),),
        name="fake-wechat",
        daemon=True,
    )
    thread.start()
    started = time.monotonic()
    while not server.started:
        if not thread.is_alive() or time.monotonic() - started > 10:  # noqa: PLR2004
            raise BenchmarkError("FakeWeChat did not start")
        time.sleep(0.01)
    try:
        yield Served(f"http://127.0.0.1:{port}", loop)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()
        sock.close()


# -- driving the customers ------------------------------------------------------------


@dataclass
class Drive:
    """What the driver did: per customer, when the message was sent, and the callbacks."""

    sent_at: dict[str, float]  # external_userid -> fake clock when the callback was about to go
    texts: dict[str, str]  # external_userid -> what the customer said
    accounts: list[str]
    callback_seconds: list[float] = field(default_factory=list)
    callback_errors: list[str] = field(default_factory=list)


async def drive(
    fake: FakeWeChat,
    targets: list[tuple[str, int]],
    *,
    tag: str,
    messages: int,
    accounts: int,
    concurrency: int,
    rate: float,
) -> Drive:
    """Play ``messages`` customers, one message each, over ``accounts`` open_kfids."""
    kfids = [fake.kf.add_account(f"bench-{tag}-{n}") for n in range(accounts)]
    run = Drive({}, {}, kfids)
    client = httpx.AsyncClient(transport=CallbackDelivery(targets))
    fake.kf.register_callback(
        "http://kf-workers/kf/callback",
        token=CALLBACK_TOKEN,
        encoding_aes_key=AES_KEY,
        client=client,
    )
    slots = asyncio.Semaphore(concurrency)
    # Accounts at random, not index % accounts: with round-robin callbacks that would
    # pin every account to one worker and hide the lease hand-offs.
    choose = random.Random(messages).randrange

    async def one(index: int, kfid: str) -> None:
        userid = f"wm_{tag}_{index}"
        text = f"m{index}"
        run.texts[userid] = text
        started = time.monotonic()
        run.sent_at[userid] = fake.clock.now()
        try:
            await fake.kf.customer_says(kfid, userid, text)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
            run.callback_errors.append(repr(exc)[:200])
        else:
            run.callback_seconds.append(time.monotonic() - started)
        finally:
            slots.release()

    tasks: set[asyncio.Task[None]] = set()
    began = time.monotonic()
    try:
        for index in range(messages):
            if rate > 0:
                await asyncio.sleep(max(0.0, began + index / rate - time.monotonic()))
            await slots.acquire()
            task = asyncio.create_task(one(index, kfids[choose(accounts)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*tasks)
    finally:
        await client.aclose()
    return run


async def noop_callbacks(targets: list[tuple[str, int]], *, count: int, concurrency: int) -> None:
    """Post ``count`` no-op callbacks, round-robin over the workers, ``concurrency`` at a time."""
    delivery = CallbackDelivery(targets)
    slots = asyncio.Semaphore(concurrency)
    body = NOOP_BODY % (b"A" * 512)  # the base64 of a ~380-byte sealed event, as the fake sends
    url = f"http://kf-workers{NOOP_PATH}{NOOP_QUERY}"
    headers = {"content-type": "text/xml; charset=utf-8"}

    async def one() -> None:
        async with slots:
            request = httpx.Request("POST", url, content=body, headers=headers)
            response = await delivery.handle_async_request(request)
        if response.status_code != 200:  # noqa: PLR2004
            raise BenchmarkError(f"a no-op callback was answered {response.status_code}")

    try:
        await asyncio.gather(*(one() for _ in range(count)))
    finally:
        await delivery.aclose()


async def replies(
    fake: FakeWeChat, run: Drive, *, wait: float, settle: float
) -> list[SentKfMessage]:
    """Wait (up to ``wait`` s) until every customer has a reply, then ``settle`` s more."""
    kfids = set(run.accounts)
    ends = time.monotonic() + wait

    def ours() -> list[SentKfMessage]:
        return [sent for sent in fake.kf.sent if sent.open_kfid in kfids]

    while time.monotonic() < ends:
        if {sent.touser for sent in ours()} >= run.sent_at.keys():
            break
        await asyncio.sleep(POLL)
    await asyncio.sleep(settle)  # a duplicate would come now
    return ours()


# -- one run --------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]  # nearest rank


@dataclass
class Run:
    workers: int
    accounts: int
    driven: int
    replied: int  # customers with a right reply
    callback_errors: list[str]
    callback_seconds: list[float]
    latencies: list[float]
    lost: int
    twice: int
    unexpected: int
    throughput: float
    reports: list[dict[str, Any]]
    worker_cpu: list[float]  # CPU seconds of each worker over the run
    noop_cpu: float  # CPU seconds a worker spent per no-op callback (the HTTP server's share)
    fake_cpu: float  # CPU seconds of this process (the fake and the driver) over the run
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.workers} worker{'s' if self.workers > 1 else ''} x {self.accounts} accounts"

    def event(self, name: str) -> int:
        return sum(int(report["events"].get(name, 0)) for report in self.reports)

    @property
    def exactly_once(self) -> bool:
        return self.lost == self.twice == self.unexpected == 0 and not self.callback_errors

    @property
    def callbacks(self) -> int:
        return sum(int(report["callbacks"]) for report in self.reports)

    def _per_message(self, seconds: float) -> float:
        return seconds / self.replied if self.replied else math.nan

    @property
    def worker_ms(self) -> float:
        """Worker CPU per message replied to, ms: HTTP server and SDK."""
        return self._per_message(sum(self.worker_cpu)) * 1000

    @property
    def server_ms(self) -> float:
        """The HTTP server's share of ``worker_ms``, from the no-op callbacks."""
        return self._per_message(self.noop_cpu * self.callbacks) * 1000

    @property
    def sdk_ms(self) -> float:
        return self.worker_ms - self.server_ms

    @property
    def per_cpu_second(self) -> float:
        """Replies per CPU second of the workers."""
        total = sum(self.worker_cpu)
        return self.replied / total if total > 0 else math.nan

    @property
    def fake_ms(self) -> float:
        return self.fake_cpu / self.driven * 1000 if self.driven else math.nan

    @property
    def fake_share(self) -> float:
        """Share of one core this process used: near 1, it capped the run."""
        return self.fake_cpu / self.seconds

    @property
    def worker_share(self) -> float:
        return sum(self.worker_cpu) / self.seconds


def cpu_seconds(workers: list[Worker], budget: Budget) -> list[float]:
    """Each worker's own process_time so far, asked over its stdin."""
    for worker in workers:
        worker.send({"cpu": True})
    return [float(worker.receive(budget.left(ANSWER_TIMEOUT))["cpu"]) for worker in workers]


def _elapsed(before: list[float], after: list[float]) -> list[float]:
    return [end - start for start, end in zip(before, after, strict=True)]


def run_workers(
    count: int,
    accounts: int,
    *,
    served: Served,
    fake: FakeWeChat,
    args: argparse.Namespace,
    prefix: str,
    budget: Budget,
) -> Run:
    """Start ``count`` workers, drive the customers, wait for the replies, stop the workers."""
    tag = f"w{count}a{accounts}"
    config = {
        "base_url": served.url,
        "redis_url": args.redis_url,
        "prefix": f"{prefix}-{tag}",
        "corp_id": fake.corp_id,
        "corp_secret": fake.corp_secrets[0],
        "callback_token": CALLBACK_TOKEN,
        "encoding_aes_key": AES_KEY,
        "deadline": budget.epoch_end,
    }
    with spawned(WORKER, [config] * count) as workers:
        targets: list[tuple[str, int]] = []
        for worker in workers:
            ready = worker.receive(budget.left(SETUP_TIMEOUT))
            url = urlsplit(ready["url"])
            assert url.hostname is not None
            assert url.port is not None
            targets.append((url.hostname, url.port))
        # A few first: a worker's first requests pay one-off costs (imports, buffers).
        served.call(
            noop_callbacks(targets, count=WARM_UP * count, concurrency=args.concurrency),
            budget.left(),
        )
        before = cpu_seconds(workers, budget)
        noops = args.calibration * count
        served.call(
            noop_callbacks(targets, count=noops, concurrency=args.concurrency), budget.left()
        )
        started = cpu_seconds(workers, budget)
        noop_cpu = sum(_elapsed(before, started)) / noops
        wall, cpu = time.monotonic(), time.process_time()
        run = served.call(
            drive(
                fake,
                targets,
                tag=tag,
                messages=args.messages,
                accounts=accounts,
                concurrency=args.concurrency,
                rate=args.rate,
            ),
            budget.left(),
        )
        sent = served.call(
            replies(fake, run, wait=budget.left() - args.settle - 1, settle=args.settle),
            budget.left(),
        )
        seconds = time.monotonic() - wall
        fake_cpu = time.process_time() - cpu
        worker_cpu = _elapsed(started, cpu_seconds(workers, budget))
        for worker in workers:
            worker.send({"stop": True})
        reports = [worker.receive(budget.left()) for worker in workers]
    counts: dict[str, int] = {}
    latencies: list[float] = []
    unexpected = 0
    for reply in sent:
        expected = run.texts.get(reply.touser)
        if expected is None or reply.body.get("content") != REPLY_PREFIX + expected:
            unexpected += 1
            continue
        counts[reply.touser] = counts.get(reply.touser, 0) + 1
        if counts[reply.touser] == 1:
            latencies.append(reply.time - run.sent_at[reply.touser])
    first = min(run.sent_at.values(), default=0.0)
    last = max((reply.time for reply in sent), default=first)
    return Run(
        workers=count,
        accounts=accounts,
        driven=len(run.sent_at),
        replied=len(counts),
        callback_errors=run.callback_errors,
        callback_seconds=run.callback_seconds,
        latencies=latencies,
        lost=sum(1 for userid in run.sent_at if userid not in counts),
        twice=sum(1 for n in counts.values() if n > 1),
        unexpected=unexpected,
        throughput=len(counts) / (last - first) if last > first else math.nan,
        reports=reports,
        worker_cpu=worker_cpu,
        noop_cpu=noop_cpu,
        fake_cpu=fake_cpu,
        seconds=seconds,
    )


# -- report ---------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:,.1f}"


def _cpu_ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.2f}"


def _split(run: Run) -> str:
    return "/".join(str(report["handled"]) for report in run.reports)


def _failed(run: Run) -> int:
    return len(run.callback_errors) + sum(int(report["refused"]) for report in run.reports)


def _repeated(run: Run) -> int:
    return sum(int(report["handled_twice"]) for report in run.reports)


def _trouble(run: Run) -> str:
    return f"{run.event('consumer_retry')} / {run.event('consumer_error')}"


def usable_cores() -> int:
    """Cores this process may run on (its affinity), else ``os.cpu_count()``."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def print_table(runs: list[Run]) -> None:
    rows: list[tuple[str, list[str]]] = [
        ("messages driven", [f"{r.driven:,}" for r in runs]),
        ("replies per second (end to end)", [f"{r.throughput:,.0f}" for r in runs]),
        ("latency p50 ms (message -> reply)", [_ms(_percentile(r.latencies, 50)) for r in runs]),
        ("latency p99 ms", [_ms(_percentile(r.latencies, 99)) for r in runs]),
        ("latency max ms", [_ms(max(r.latencies, default=math.nan)) for r in runs]),
        ("callback answered p50 ms", [_ms(_percentile(r.callback_seconds, 50)) for r in runs]),
        ("callback answered p99 ms", [_ms(_percentile(r.callback_seconds, 99)) for r in runs]),
        ("callbacks failed or refused", [str(_failed(r)) for r in runs]),
        ("messages without a reply", [str(r.lost) for r in runs]),
        ("messages replied to twice or more", [str(r.twice) for r in runs]),
        ("unexpected replies", [str(r.unexpected) for r in runs]),
        ("handler calls repeated (dedup)", [str(_repeated(r)) for r in runs]),
        ("messages handled per worker", [_split(r) for r in runs]),
        ("lease acquisitions", [str(r.event("consumer_lease_acquired")) for r in runs]),
        ("sync_msg pages handled", [str(r.event("consumer_page")) for r in runs]),
        ("consumer retries / errors", [_trouble(r) for r in runs]),
        ("worker CPU ms per message", [_cpu_ms(r.worker_ms) for r in runs]),
        ("  of which serving callbacks (HTTP)", [_cpu_ms(r.server_ms) for r in runs]),
        ("  SDK CPU ms per message", [_cpu_ms(r.sdk_ms) for r in runs]),
        ("replies per worker-CPU-second", [f"{r.per_cpu_second:,.0f}" for r in runs]),
        ("workers' CPU, % of a core (sum)", [f"{r.worker_share * 100:.0f}" for r in runs]),
        ("emulator+driver CPU ms per message", [_cpu_ms(r.fake_ms) for r in runs]),
        ("emulator+driver CPU, % of a core", [f"{r.fake_share * 100:.0f}" for r in runs]),
    ]
    heads = [
        [f"{r.workers} worker{'s' if r.workers > 1 else ''}" for r in runs],
        [f"{r.accounts} accounts" for r in runs],
    ]
    width = max(len(label) for label, _ in rows)
    col = max(12, *(len(h) for hs in heads for h in hs), *(len(v) for _, vs in rows for v in vs))
    for line in heads:
        print(f"  {'':<{width}}" + "".join(f"  {h:>{col}}" for h in line))
    for label, values in rows:
        print(f"  {label:<{width}}" + "".join(f"  {v:>{col}}" for v in values))


@dataclass(frozen=True)
class Scaling:
    """A run of several workers beside the one-worker run on the same accounts."""

    workers: int
    accounts: int
    speed: float  # replies per second, over one worker's
    cpu: float  # worker CPU per message, over one worker's
    busiest: float  # share of the messages the busiest worker handled

    @property
    def bound(self) -> float:
        """The most the lease split allows: the busiest worker handles this share alone."""
        return 1 / self.busiest if self.busiest > 0 else math.nan


def scaling(runs: list[Run]) -> list[Scaling]:
    ones = {r.accounts: r for r in runs if r.workers == 1}
    rows: list[Scaling] = []
    for run in runs:
        one = ones.get(run.accounts)
        if run.workers > 1 and one is not None and one.throughput > 0:
            handled = [int(report["handled"]) for report in run.reports]
            rows.append(
                Scaling(
                    run.workers,
                    run.accounts,
                    run.throughput / one.throughput,
                    run.worker_ms / one.worker_ms if one.worker_ms > 0 else math.nan,
                    max(handled) / sum(handled) if sum(handled) else math.nan,
                )
            )
    return rows


def print_scaling(runs: list[Run], cores: int) -> None:
    rows = scaling(runs)
    if rows:
        print("scaling, vs one worker on the same accounts:")
    for row in rows:
        print(
            f"  {row.workers} workers x {row.accounts} accounts: {row.speed:.2f}x the replies "
            f"per second, {row.cpu:.2f}x the worker CPU per message; the busiest worker "
            f"handled {row.busiest * 100:.0f}% of the messages (at most {row.bound:.2f}x "
            "with a core each)"
        )
    most = max(r.workers for r in runs)
    need = most + 1
    print(
        f"  cores: os.cpu_count() = {os.cpu_count()}, {cores} usable by this run; "
        f"{most} worker(s) and this process (emulator + driver) need {need}"
    )
    if cores < need:
        print(
            f"  caveat: on {cores} cores the workers, the emulator, the driver and Redis share "
            "the CPUs: the replies per second and the scaling are this machine's, not the "
            "SDK's; the CPU figures per message carry over"
        )


def _scaling_verdict(runs: list[Run], cores: int) -> tuple[str, str] | None:
    """The scaling target's name and verdict, or None when its two runs were not made."""
    by_key = {(r.workers, r.accounts): r for r in runs}
    one = by_key.get((1, SCALING_ACCOUNTS))
    many = by_key.get((SCALING_WORKERS, SCALING_ACCOUNTS))
    if one is None or many is None:
        return None
    ratio = many.throughput / one.throughput if one.throughput > 0 else math.nan
    name = (
        f"{SCALING_WORKERS} workers >= {SCALING_TARGET:g}x one worker on "
        f"{SCALING_ACCOUNTS} accounts (measured {ratio:.2f}x)"
    )
    need = SCALING_WORKERS + 1
    if cores < need:
        why = f"{cores} cores; needs {need}: {SCALING_WORKERS} workers + emulator/driver"
        return name, f"not judged: {why}"
    saturated = max(one.fake_share, many.fake_share)
    if saturated >= SATURATED:
        return name, f"not judged: emulator+driver at {saturated * 100:.0f}% of a core caps it"
    return name, VERDICT[ratio >= SCALING_TARGET]


def targets(runs: list[Run], cores: int) -> list[tuple[str, str]]:
    """Every target's name and verdict: met, MISSED, or not judged (with the reason)."""
    verdicts: list[tuple[str, str]] = []
    for run in runs:
        slowest = max(run.callback_seconds, default=0.0)
        verdicts += [
            (f"{run.name}: every message replied to exactly once", VERDICT[run.exactly_once]),
            (f"{run.name}: no callback failed or refused", VERDICT[_failed(run) == 0]),
            (
                f"{run.name}: every callback answered within {CALLBACK_LIMIT:g} s",
                VERDICT[slowest <= CALLBACK_LIMIT],
            ),
        ]
        if run.workers > 1:
            shared = all(report["handled"] > 0 for report in run.reports)
            verdicts.append((f"{run.name}: every worker handled messages", VERDICT[shared]))
    worst = max(runs, key=lambda r: -math.inf if math.isnan(r.sdk_ms) else r.sdk_ms)
    name = (
        f"SDK CPU per message < {SDK_CPU_TARGET_MS:g} ms in every run "
        f"(most: {worst.sdk_ms:.2f} ms, {worst.name})"
    )
    verdicts.append((name, VERDICT[worst.sdk_ms < SDK_CPU_TARGET_MS]))
    scaled = _scaling_verdict(runs, cores)
    if scaled is not None:
        verdicts.append(scaled)
    return verdicts


def print_targets(verdicts: list[tuple[str, str]]) -> bool:
    print("targets (wechat_async):")
    width = max(len(name) for name, _ in verdicts)
    for name, verdict in verdicts:
        print(f"  {name:<{width}}  {verdict}")
    return all(verdict != VERDICT[False] for _, verdict in verdicts)


def _rounded(value: float, digits: int = 3) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def record(
    args: argparse.Namespace, runs: list[Run], cores: int, verdicts: list[tuple[str, str]]
) -> dict[str, Any]:
    """The JSON record of the run: machine, settings, every row, ratios and verdicts."""
    return {
        "benchmark": "kf_throughput",
        "machine": machine(),
        "cores_usable": cores,
        "settings": {
            "messages": args.messages,
            "workers": args.workers,
            "accounts": args.accounts,
            "concurrency": args.concurrency,
            "rate": args.rate,
            "settle": args.settle,
            "calibration": args.calibration,
        },
        "peer": PEER_LINE,
        "runs": [
            {
                "workers": r.workers,
                "accounts": r.accounts,
                "messages_driven": r.driven,
                "replied": r.replied,
                "replies_per_second": _rounded(r.throughput, 1),
                "latency_ms": {
                    "p50": _rounded(_percentile(r.latencies, 50) * 1000, 1),
                    "p99": _rounded(_percentile(r.latencies, 99) * 1000, 1),
                    "max": _rounded(max(r.latencies, default=math.nan) * 1000, 1),
                },
                "callback_answered_ms": {
                    "p50": _rounded(_percentile(r.callback_seconds, 50) * 1000, 1),
                    "p99": _rounded(_percentile(r.callback_seconds, 99) * 1000, 1),
                },
                "callbacks_failed": _failed(r),
                "without_reply": r.lost,
                "replied_twice": r.twice,
                "unexpected_replies": r.unexpected,
                "handled_per_worker": [report["handled"] for report in r.reports],
                "lease_acquisitions": r.event("consumer_lease_acquired"),
                "pages": r.event("consumer_page"),
                "worker_cpu_seconds": [round(seconds, 3) for seconds in r.worker_cpu],
                "worker_cpu_ms_per_message": _rounded(r.worker_ms),
                "http_server_cpu_ms_per_message": _rounded(r.server_ms),
                "sdk_cpu_ms_per_message": _rounded(r.sdk_ms),
                "replies_per_worker_cpu_second": _rounded(r.per_cpu_second, 1),
                "emulator_driver_cpu_ms_per_message": _rounded(r.fake_ms),
                "emulator_driver_core_share": _rounded(r.fake_share),
                "seconds": round(r.seconds, 2),
            }
            for r in runs
        ],
        "scaling": [
            {
                "workers": row.workers,
                "accounts": row.accounts,
                "replies_per_second_vs_one_worker": _rounded(row.speed),
                "worker_cpu_per_message_vs_one_worker": _rounded(row.cpu),
                "busiest_worker_share": _rounded(row.busiest),
            }
            for row in scaling(runs)
        ],
        "targets": dict(verdicts),
    }


# -- main -----------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)  # unwinds through every cleanup block


def measure(args: argparse.Namespace, fake: FakeWeChat, served: Served, budget: Budget) -> int:
    prefix = f"bench-kf-{secrets.token_hex(4)}"
    runs: list[Run] = []
    with redis_cleaned(args.redis_url, prefix):
        for accounts in args.accounts:
            for count in args.workers:
                run = run_workers(
                    count,
                    accounts,
                    served=served,
                    fake=fake,
                    args=args,
                    prefix=prefix,
                    budget=budget,
                )
                print(f"  {run.name}: {run.driven:,} messages, {run.seconds:.1f}s")
                for error in run.callback_errors[:3]:
                    print(f"    callback error: {error}")
                runs.append(run)
    cores = usable_cores()
    print()
    print_table(runs)
    print(f"  {PEER_LINE}")
    print_scaling(runs, cores)
    verdicts = targets(runs, cores)
    ok = print_targets(verdicts)
    charts = chart_dir(args)
    if charts is not None:
        path = write_json(charts, "kf_throughput", record(args, runs, cores, verdicts))
        print(f"record: {path}")
    return 0 if ok or not args.check else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000, help="customer messages per run")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 4], help="worker counts, one run each"
    )
    parser.add_argument(
        "--accounts",
        type=int,
        nargs="+",
        default=[4, 8],
        help="open_kfids the messages go to; one set of runs each",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="callbacks in flight at most")
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s; 0: as fast as can be")
    parser.add_argument("--settle", type=float, default=1.0, help="s to watch for late duplicates")
    parser.add_argument(
        "--calibration",
        type=int,
        default=300,
        help="no-op callbacks per worker before each run, to measure the HTTP server's share",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--timeout", type=float, default=300.0, help="bound on the whole run, s")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    add_chart_options(parser)
    args = parser.parse_args(argv)
    sizes = [args.messages, args.concurrency, args.calibration, *args.accounts, *args.workers]
    if min(sizes) < 1:
        parser.error("messages, accounts, concurrency, calibration and workers must be >= 1")
    if args.rate < 0 or args.settle < 0:
        parser.error("rate and settle must be >= 0")
    if urlsplit(args.redis_url).hostname not in LOOPBACK:
        parser.error("--redis-url must point at this machine (127.0.0.1, localhost or a socket)")

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    budget = Budget(args.timeout)
    fake = FakeWeChat()
    pace = f"{args.rate:g}/s" if args.rate else "as fast as callbacks are answered"
    print(
        f"kf throughput: {args.messages:,} messages per run, workers {args.workers}, "
        f"accounts {args.accounts}, {args.concurrency} callbacks in flight, {pace}, "
        f"redis {args.redis_url}"
    )
    print(
        "  this process: the emulator and the driver; each worker a process of its own. "
        "Callbacks go round-robin over the workers' ports; the per-open_kfid lease lets "
        "one worker pull an account at a time"
    )
    print(f"python {sys.version.split()[0]}, os.cpu_count() = {os.cpu_count()}")
    try:
        with serving(fake) as served:
            return measure(args, fake, served, budget)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
