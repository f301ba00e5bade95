"""微信客服 throughput: callback -> KfConsumer -> handler -> send_msg, with 1 and with N workers.

Run with ``python benchmarks/kf_throughput.py`` (``--help`` for the knobs).
Everything talks to 127.0.0.1 only. FakeWeChat runs under uvicorn on a thread
of this process; so does the driver, which plays ``--messages`` customers
(one external_userid per message, so WeChat's 5-replies-per-message budget
never matters) with ``fake.kf.customer_says``, spread over ``--accounts``
open_kfids, at most ``--concurrency`` callbacks in flight, paced to ``--rate``
messages per second (0: as fast as the callbacks are answered).

Worker processes (benchmarks/_kf_worker.py) each serve a callback receiver on
a loopback port of their own (``Kf.get_callback_message``, then
``KfConsumer.notify``, then ``success``) and run a KfConsumer whose handler
answers each text with ``send_msg``; they share one Redis under a key prefix of
this run, deleted at the end.

Routing: the fake posts callbacks to one URL, so its callback client spreads
them round-robin over the workers' ports, as a load balancer in front of the
replicas would (no extra hop). Each worker is thus woken for every account,
and the consumer's per-open_kfid lease decides who pulls: one worker at a time
per open_kfid, by design. That is why the messages go to several accounts:
with one open_kfid, N workers could not pull in parallel.

Rows, per worker count: replies per second end to end (first customer message
to last reply), p50/p99/max latency from the customer message (its callback
about to be sent) to the reply (send_msg received at the fake), both on the
fake's clock; how long callbacks took to be answered; and the check that every
message got exactly one reply. Queueing counts: at ``--rate 0`` the driver
outruns the consumers and latency grows with the backlog.

Targets, for every worker count: every message replied to exactly once, no
callback refused or failed, every callback answered within WeChat's 5 s, and
with several workers every worker handled some messages.

wechatpy (1.8.18) has no 微信客服 (cgi-bin/kf/sync_msg, send_msg) API and no
consumer, so there is no peer row; the output says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
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
from _harness import BenchmarkError, Budget, redis_cleaned, spawned
from _kf_worker import REPLY_PREFIX, loopback_socket

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
POLL = 0.05
VERDICT = {True: "met", False: "MISSED"}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", None})  # None: a unix socket URL
PEER_LINE = "wechatpy: no 微信客服 sync_msg/consumer API (1.8.18) — no comparable row"


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


class RoundRobin(httpx.AsyncBaseTransport):
    """The fake's callback client: each POST goes to the next worker's port in turn."""

    def __init__(self, targets: list[tuple[str, int]], connections: int) -> None:
        self._targets = itertools.cycle(targets)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._inner = httpx.AsyncHTTPTransport(limits=limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host, port = next(self._targets)
        request.url = request.url.copy_with(host=host, port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- worker processes -----------------------------------------------------------------


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
    client = httpx.AsyncClient(
        transport=RoundRobin(targets, concurrency), timeout=httpx.Timeout(30.0)
    )
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
    driven: int
    callback_errors: list[str]
    callback_seconds: list[float]
    latencies: list[float]
    lost: int
    twice: int
    unexpected: int
    throughput: float
    reports: list[dict[str, Any]]
    fake_cpu: float  # share of one core this process used (the fake and the driver)
    seconds: float

    def event(self, name: str) -> int:
        return sum(int(report["events"].get(name, 0)) for report in self.reports)

    @property
    def exactly_once(self) -> bool:
        return self.lost == self.twice == self.unexpected == 0 and not self.callback_errors


def run_workers(
    count: int,
    *,
    served: Served,
    fake: FakeWeChat,
    args: argparse.Namespace,
    prefix: str,
    budget: Budget,
) -> Run:
    """Start ``count`` workers, drive the customers, wait for the replies, stop the workers."""
    config = {
        "base_url": served.url,
        "redis_url": args.redis_url,
        "prefix": f"{prefix}-w{count}",
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
        wall, cpu = time.monotonic(), time.process_time()
        run = served.call(
            drive(
                fake,
                targets,
                tag=f"w{count}",
                messages=args.messages,
                accounts=args.accounts,
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
        fake_cpu = (time.process_time() - cpu) / seconds
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
        driven=len(run.sent_at),
        callback_errors=run.callback_errors,
        callback_seconds=run.callback_seconds,
        latencies=latencies,
        lost=sum(1 for userid in run.sent_at if userid not in counts),
        twice=sum(1 for n in counts.values() if n > 1),
        unexpected=unexpected,
        throughput=len(counts) / (last - first) if last > first else math.nan,
        reports=reports,
        fake_cpu=fake_cpu,
        seconds=seconds,
    )


# -- report ---------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:,.1f}"


def _split(run: Run) -> str:
    return "/".join(str(report["handled"]) for report in run.reports)


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
        ("fake+driver process CPU, % of a core", [f"{r.fake_cpu * 100:.0f}" for r in runs]),
        ("workers' CPU, % of a core (sum)", [f"{_worker_cpu(r) * 100:.0f}" for r in runs]),
    ]
    heads = [f"{r.workers} worker{'s' if r.workers > 1 else ''}" for r in runs]
    width = max(len(label) for label, _ in rows)
    col = max(12, *(len(h) for h in heads), *(len(v) for _, vs in rows for v in vs))
    print(f"  {'':<{width}}" + "".join(f"  {h:>{col}}" for h in heads))
    for label, values in rows:
        print(f"  {label:<{width}}" + "".join(f"  {v:>{col}}" for v in values))
    if len(runs) > 1 and runs[0].throughput > 0:
        scaled = ", ".join(
            f"{r.workers} workers {r.throughput / runs[0].throughput:.2f}x" for r in runs[1:]
        )
        print(f"  throughput vs {runs[0].workers} worker(s): {scaled}")


def _failed(run: Run) -> int:
    return len(run.callback_errors) + sum(int(report["refused"]) for report in run.reports)


def _repeated(run: Run) -> int:
    return sum(int(report["handled_twice"]) for report in run.reports)


def _trouble(run: Run) -> str:
    return f"{run.event('consumer_retry')} / {run.event('consumer_error')}"


def _worker_cpu(run: Run) -> float:
    return sum(float(report["cpu"]) for report in run.reports) / run.seconds


def print_targets(runs: list[Run]) -> bool:
    targets: list[tuple[str, bool]] = []
    for run in runs:
        name = f"{run.workers} worker{'s' if run.workers > 1 else ''}"
        slowest = max(run.callback_seconds, default=0.0)
        targets += [
            (f"{name}: every message replied to exactly once", run.exactly_once),
            (f"{name}: no callback failed or refused", _failed(run) == 0),
            (
                f"{name}: every callback answered within {CALLBACK_LIMIT:g} s",
                slowest <= CALLBACK_LIMIT,
            ),
        ]
        if run.workers > 1:
            shared = all(report["handled"] > 0 for report in run.reports)
            targets.append((f"{name}: every worker handled messages", shared))
    print("targets (wechat_async):")
    width = max(len(name) for name, _ in targets)
    for name, ok in targets:
        print(f"  {name:<{width}}  {VERDICT[ok]}")
    return all(ok for _, ok in targets)


# -- main -----------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)  # unwinds through every cleanup block


def measure(args: argparse.Namespace, fake: FakeWeChat, served: Served, budget: Budget) -> int:
    prefix = f"bench-kf-{secrets.token_hex(4)}"
    runs: list[Run] = []
    with redis_cleaned(args.redis_url, prefix):
        for count in args.workers:
            run = run_workers(
                count, served=served, fake=fake, args=args, prefix=prefix, budget=budget
            )
            print(
                f"  {count} worker(s): {run.driven:,} messages over {args.accounts} accounts, "
                f"{run.seconds:.1f}s"
            )
            for error in run.callback_errors[:3]:
                print(f"    callback error: {error}")
            runs.append(run)
    print()
    print_table(runs)
    print(f"  {PEER_LINE}")
    ok = print_targets(runs)
    return 0 if ok or not args.check else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000, help="customer messages per run")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 4], help="worker counts, one run each"
    )
    parser.add_argument("--accounts", type=int, default=8, help="open_kfids the messages go to")
    parser.add_argument("--concurrency", type=int, default=32, help="callbacks in flight at most")
    parser.add_argument("--rate", type=float, default=0.0, help="messages/s; 0: as fast as can be")
    parser.add_argument("--settle", type=float, default=1.0, help="s to watch for late duplicates")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--timeout", type=float, default=150.0, help="bound on the whole run, s")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if min(args.messages, args.accounts, args.concurrency, *args.workers) < 1:
        parser.error("messages, accounts, concurrency and workers must be >= 1")
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
        f"{args.accounts} accounts, {args.concurrency} callbacks in flight, {pace}, "
        f"redis {args.redis_url}"
    )
    print(
        "  callbacks go round-robin over the workers' ports; the per-open_kfid lease "
        "lets one worker pull an account at a time"
    )
    print(f"python {sys.version.split()[0]}")
    try:
        with serving(fake) as served:
            return measure(args, fake, served, budget)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
