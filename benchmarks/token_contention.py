"""Token contention: many processes, one Redis, one slow token server; wechat_async beside wechatpy.

Run with ``python benchmarks/token_contention.py`` (``--help`` for the knobs).
Everything talks to 127.0.0.1 only: a TokenServer (wechat_async.testing) runs
under uvicorn on a thread of this process, with ``--latency`` per token fetch,
and counts every fetch. Worker processes (benchmarks/_contention_worker.py)
share the token through the Redis at ``--redis-url``, under a key prefix of
this run that is deleted at the end.

Scenarios, each run for wechat_async and then for wechatpy:

* cold start: P processes x C callers ask for a token at one wall-clock
  instant with an empty cache. Rows: upstream fetches, distinct tokens seen,
  p50/p99 latency from the instant to the answer. The processes are warm
  (both SDKs' workers import, connect and send one uncounted request first,
  and their callers wait at a gate), so this times a cold token, not
  Python's lazy imports or task creation.
* invalid-token storm: every process holds the cached token, the server
  rotates it (so it is rejected with 40001), then all callers make one API call
  at one instant. Rows: re-fetches during the storm, calls that failed.
* warm hot path: median µs per token read on a warm client in this process.

Targets, for wechat_async: one fetch and one distinct token at cold
start; one re-fetch in the storm; no failed call in either; cold p99 within 2x
the upstream latency; a warm ``get()`` within 2 µs.

The run also writes token_fetches.png, token_cold_latency.png and
token_contention.json to ``--charts DIR`` (default docs/benchmarks;
``--no-charts`` to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import secrets
import signal
import socket
import statistics
import sys
import threading
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import uvicorn
from _charts import (
    add_chart_options,
    chart_dir,
    fetches_chart,
    latency_cdf_chart,
    machine,
    percentiles,
    write_json,
)
from _contention_worker import APPID, SECRET, LoopbackWeChatClient, redis_session
from _harness import BenchmarkError, Budget, redis_cleaned, spawned
from redis.asyncio import Redis as AsyncRedis

from wechat_async.testing import TokenServer
from wechat_async.tokens import AccessToken
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import Hosts, RetryPolicy, Transport

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

WORKER = Path(__file__).with_name("_contention_worker.py")
P99_TARGET = 2.0  # cold-start p99 may be at most this many upstream latencies
WARM_TARGET_US = 2.0  # and a warm get() at most this many µs
PEER_STORM_BUDGET = 20.0  # seconds a wechatpy storm may run before its fetches give up
SETUP_TIMEOUT = 60.0  # seconds for a worker to import, connect and warm up
GO_DELAY = 0.25  # seconds between sending the start instant and reaching it
VERDICT = {True: "met", False: "MISSED"}
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", None})  # None: a unix socket URL


# -- the token server -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(app: TokenServer) -> Iterator[str]:
    """Run ``app`` under uvicorn on a loopback port in a thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", lifespan="off", backlog=4096
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="token-server", daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        if not thread.is_alive() or time.monotonic() - started > 10:  # noqa: PLR2004
            raise BenchmarkError("the token server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# -- worker processes -----------------------------------------------------------------


@dataclass
class Phase:
    """What one scenario did, summed over its workers."""

    fetches: int
    rejected: int
    tokens: set[str]
    latencies: list[float]
    errors: list[str]

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(0, math.ceil(q / 100 * len(ordered)) - 1)  # nearest rank
        return ordered[rank] * 1000


def run_phase(
    app: TokenServer,
    common: dict[str, Any],
    *,
    scenario: str,
    processes: int,
    budget: Budget,
    before_go: Callable[[], object] | None = None,
) -> Phase:
    """Start the workers, wait until all are ready, give them one instant, collect reports."""
    config = {**common, "scenario": scenario, "deadline": budget.epoch_end}
    with spawned(WORKER, [config] * processes) as workers:
        for worker in workers:
            assert worker.receive(budget.left(SETUP_TIMEOUT)) == {"ready": True}
        if before_go is not None:
            before_go()
        fetches, rejected = app.fetches, app.rejected
        start_at = time.time() + GO_DELAY
        for worker in workers:
            worker.send({"start_at": start_at, "give_up_at": start_at + PEER_STORM_BUDGET})
        reports = [worker.receive(budget.left()) for worker in workers]
    return Phase(
        fetches=app.fetches - fetches,
        rejected=app.rejected - rejected,
        tokens={token for report in reports for token in report["tokens"]},
        latencies=[latency for report in reports for latency in report["latencies"]],
        errors=[error for report in reports for error in report["errors"]],
    )


# -- warm hot path --------------------------------------------------------------------


async def ours_warm_us(base: str, redis_url: str, prefix: str, *, number: int) -> float:
    """Median µs per ``await provider.get()`` on a warm provider backed by Redis."""
    client = AsyncRedis.from_url(redis_url)
    hosts = Hosts(official=base, work=base, official_standby=())
    async with Transport(hosts=hosts, retry=RetryPolicy.no_wait()) as transport:
        provider = AccessToken(
            APPID, SECRET, transport=transport, store=RedisTokenStore(client, prefix=prefix)
        )
        get = provider.get
        await get()
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(number):
                await get()
            runs.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)  # let a background store re-read run, as an app would
    await client.aclose()
    return statistics.median(runs) / number * 1e6


def wechatpy_warm_us(base: str, session: object, *, number: int) -> float:
    """Median µs per ``client.access_token`` on a client that fetched its own token."""
    client = LoopbackWeChatClient(base, session=session)
    client.fetch_access_token()  # sets expires_at, so the full expiry check runs
    runs = timeit.repeat(lambda: client.access_token, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


# -- report ---------------------------------------------------------------------------


@dataclass
class Side:
    cold: Phase
    storm: Phase
    warm_us: float
    warm_memory_us: float = math.nan


def _fmt(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _ratio(peer: float, ours: float) -> str:
    if math.isnan(peer) or math.isnan(ours) or ours <= 0:
        return ""
    return f"{peer / ours:,.1f}x"


def print_table(ours: Side, peer: Side | None, latency: float) -> None:
    nan = math.nan
    upstream_ms = latency * 1000

    def values(side: Side | None) -> list[float]:
        if side is None:
            return [nan] * 14
        return [
            side.cold.fetches,
            len(side.cold.tokens),
            len(side.cold.errors),
            side.cold.percentile_ms(50),
            side.cold.percentile_ms(99),
            side.cold.percentile_ms(99) / upstream_ms,
            side.storm.fetches,
            side.storm.rejected,
            len(side.storm.errors),
            len(side.storm.latencies),
            side.storm.percentile_ms(50),
            side.storm.percentile_ms(99),
            side.warm_us,
            side.warm_memory_us,
        ]

    labels = [
        ("cold: upstream fetches", 0, True),
        ("cold: distinct tokens", 0, True),
        ("cold: errors", 0, False),
        ("cold: p50 latency ms", 1, True),
        ("cold: p99 latency ms", 1, True),
        ("cold: p99 / upstream latency", 2, False),
        ("storm: re-fetches", 0, True),
        ("storm: 40001 answers", 0, True),
        ("storm: errors", 0, False),
        # Percentiles below are over the answered calls only: read them with this count.
        ("storm: calls answered", 0, False),
        ("storm: p50 latency ms (answered)", 1, True),
        ("storm: p99 latency ms (answered)", 1, True),
        ("warm get µs/op (Redis store)", 2, True),
        ("warm get µs/op (wechatpy MemoryStorage)", 2, False),
    ]
    ours_values, peer_values = values(ours), values(peer)
    width = max(len(label) for label, _, _ in labels)
    print(f"  {'':<{width}}  {'wechat_async':>12}  {'wechatpy':>12}  {'wechatpy/ours':>13}")
    for (label, digits, ratio), mine, theirs in zip(labels, ours_values, peer_values, strict=True):
        shown = _ratio(theirs, mine) if ratio else ""
        mine_text, theirs_text = _fmt(mine, digits), _fmt(theirs, digits)
        print(f"  {label:<{width}}  {mine_text:>12}  {theirs_text:>12}  {shown:>13}")


def print_targets(ours: Side, latency: float) -> bool:
    p99 = ours.cold.percentile_ms(99)
    limit = P99_TARGET * latency * 1000
    targets = [
        ("cold start: exactly 1 upstream fetch", ours.cold.fetches == 1),
        ("cold start: exactly 1 distinct token", len(ours.cold.tokens) == 1),
        ("storm: exactly 1 re-fetch", ours.storm.fetches == 1),
        ("every call succeeded (cold start and storm)", not ours.cold.errors + ours.storm.errors),
        (f"cold p99 <= {P99_TARGET:g}x upstream latency ({limit:.0f} ms)", p99 <= limit),
        (f"warm get <= {WARM_TARGET_US:g} µs/op median", ours.warm_us <= WARM_TARGET_US),
    ]
    print("targets (wechat_async):")
    width = max(len(name) for name, _ in targets)
    for name, ok in targets:
        print(f"  {name:<{width}}  {VERDICT[ok]}")
    return all(ok for _, ok in targets)


def print_errors(name: str, side: Side) -> None:
    for scenario, phase in (("cold", side.cold), ("storm", side.storm)):
        if phase.errors:
            kinds: dict[str, int] = {}
            for error in phase.errors:
                kind = error.split("(", 1)[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            print(f"  {name} {scenario} errors: {kinds}; first: {phase.errors[0][:160]}")


def _phase_record(phase: Phase, *, tokens: bool) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for error in phase.errors:
        kind = error.split("(", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return {
        "upstream_fetches": phase.fetches,
        "answers_40001": phase.rejected,
        # Only cold-start callers return the token itself; storm callers make an API call.
        **({"distinct_tokens": len(phase.tokens)} if tokens else {}),
        "calls_answered": len(phase.latencies),
        "errors": len(phase.errors),
        "error_kinds": kinds,
        "latency_ms_p50": round(phase.percentile_ms(50), 3) if phase.latencies else None,
        "latency_ms_p99": round(phase.percentile_ms(99), 3) if phase.latencies else None,
        # Nearest-rank p0, p1, ..., p100 of the answered calls: enough to redraw the CDF.
        "latency_ms_percentiles": percentiles(phase.latencies, scale=1000),
    }


def write_charts(directory: Path, args: argparse.Namespace, ours: Side, peer: Side | None) -> None:
    """token_contention.json with every number of the table, and the two charts."""
    info = machine()
    sides = {"wechat_async": ours} if peer is None else {"wechat_async": ours, "wechatpy": peer}
    record = {
        "benchmark": "token_contention",
        "machine": info,
        "settings": {
            "processes": args.processes,
            "concurrency": args.concurrency,
            "peer_threads": args.peer_threads,
            "upstream_latency_s": args.latency,
        },
        "results": {
            name: {
                "cold": _phase_record(side.cold, tokens=True),
                "storm": _phase_record(side.storm, tokens=False),
                "warm_get_us": round(side.warm_us, 3),
                "warm_get_us_memory_storage": (
                    None if math.isnan(side.warm_memory_us) else round(side.warm_memory_us, 3)
                ),
            }
            for name, side in sides.items()
        },
    }
    write_json(directory, "token_contention", record)
    setting = f"{args.processes} processes x {args.concurrency} callers"
    if peer is not None and args.peer_threads != args.concurrency:
        setting += f" (wechatpy: {args.peer_threads} threads)"
    fetches = fetches_chart(
        directory,
        {name: (side.cold.fetches, side.storm.fetches) for name, side in sides.items()},
        info,
        setting,
    )
    latency = latency_cdf_chart(
        directory,
        {name: [value * 1000 for value in side.cold.latencies] for name, side in sides.items()},
        info,
        setting,
        upstream_ms=args.latency * 1000,
    )
    print(f"charts: {fetches}, {latency.name} and token_contention.json")


# -- main -----------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)  # unwinds through every cleanup block


def run_side(
    sdk: str,
    *,
    app: TokenServer,
    base: str,
    args: argparse.Namespace,
    prefix: str,
    budget: Budget,
) -> tuple[Phase, Phase]:
    """Cold start, then the storm, for one SDK; each with its own fresh key prefix."""
    callers = args.concurrency if sdk == "ours" else args.peer_threads
    common = {"sdk": sdk, "base_url": base, "redis_url": args.redis_url, "concurrency": callers}
    unit = "coroutines" if sdk == "ours" else "threads"
    name = "wechat_async" if sdk == "ours" else "wechatpy"

    started = time.monotonic()
    cold = run_phase(
        app,
        {**common, "prefix": f"{prefix}-{sdk}-cold"},
        scenario="cold",
        processes=args.processes,
        budget=budget,
    )
    print(
        f"  {name} cold start: {args.processes} processes x {callers} {unit}, "
        f"{time.monotonic() - started:.1f}s"
    )

    storm_prefix = f"{prefix}-{sdk}-storm"
    if sdk == "wechatpy":
        # One token stored up front, as one earlier fetch would have left it:
        # each worker's warm-up then reads it instead of racing to fetch.
        session = redis_session(args.redis_url, storm_prefix)
        LoopbackWeChatClient(base, session=session).access_token  # noqa: B018
    started = time.monotonic()
    storm = run_phase(
        app,
        {**common, "prefix": storm_prefix},
        scenario="storm",
        processes=args.processes,
        budget=budget,
        before_go=app.rotate,  # every cached token is now rejected with 40001
    )
    print(
        f"  {name} invalid-token storm: {args.processes} processes x {callers} {unit}, "
        f"{time.monotonic() - started:.1f}s"
    )
    return cold, storm


def measure(args: argparse.Namespace, app: TokenServer, base: str, budget: Budget) -> int:
    prefix = f"bench-contention-{secrets.token_hex(4)}"
    with redis_cleaned(args.redis_url, prefix):
        # The hot paths first, on a quiet machine; then the contention scenarios.
        ours_warm = asyncio.run(
            ours_warm_us(base, args.redis_url, f"{prefix}-ours-warm", number=100_000)
        )
        print(f"  wechat_async warm get: {ours_warm:.2f} µs/op")
        peer_warm = peer_warm_memory = math.nan
        if not args.skip_peer:
            session = redis_session(args.redis_url, f"{prefix}-wechatpy-warm")
            peer_warm = wechatpy_warm_us(base, session, number=2_000)
            peer_warm_memory = wechatpy_warm_us(base, None, number=100_000)
            print(
                f"  wechatpy warm access_token: {peer_warm:.2f} µs/op (RedisStorage), "
                f"{peer_warm_memory:.2f} µs/op (MemoryStorage)"
            )
        cold, storm = run_side("ours", app=app, base=base, args=args, prefix=prefix, budget=budget)
        ours = Side(cold, storm, ours_warm)
        peer: Side | None = None
        if not args.skip_peer:
            cold, storm = run_side(
                "wechatpy", app=app, base=base, args=args, prefix=prefix, budget=budget
            )
            peer = Side(cold, storm, peer_warm, peer_warm_memory)
    print()
    print_table(ours, peer, args.latency)
    print_errors("wechat_async", ours)
    if peer is not None:
        print_errors("wechatpy", peer)
    ok = print_targets(ours, args.latency)
    charts = chart_dir(args)
    if charts is not None:
        write_charts(charts, args, ours, peer)
    return 0 if ok or not args.check else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=8, help="worker processes (P)")
    parser.add_argument("--concurrency", type=int, default=500, help="callers per process (C)")
    parser.add_argument(
        "--peer-threads", type=int, default=None, help="wechatpy threads per process (default C)"
    )
    parser.add_argument("--latency", type=float, default=0.1, help="token fetch latency, s")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--timeout", type=float, default=170.0, help="bound on the whole run, s")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--skip-peer", action="store_true", help="measure wechat_async only")
    add_chart_options(parser)
    args = parser.parse_args(argv)
    if args.peer_threads is None:
        args.peer_threads = args.concurrency
    if min(args.processes, args.concurrency, args.peer_threads) < 1 or args.latency < 0:
        parser.error("processes, concurrency and threads must be >= 1; latency >= 0")
    if urlsplit(args.redis_url).hostname not in LOOPBACK:
        parser.error("--redis-url must point at this machine (127.0.0.1, localhost or a socket)")

    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    budget = Budget(args.timeout)
    app = TokenServer(latency=args.latency)
    print(
        f"token contention: {args.processes} processes x {args.concurrency} callers, "
        f"upstream latency {args.latency * 1000:.0f} ms, redis {args.redis_url}"
    )
    print(f"python {sys.version.split()[0]}")
    try:
        with serving(app) as base:
            return measure(args, app, base, budget)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
