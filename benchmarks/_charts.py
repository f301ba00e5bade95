"""Charts and JSON records for the benchmarks (``--charts DIR``, default docs/benchmarks).

matplotlib is a bench-only dependency: it is imported inside the drawing
functions, so a benchmark run with ``--no-charts`` never loads it, and it
draws on the Agg backend (no display needed). Every run writes a JSON file
of its raw numbers next to its PNGs, with a description of the machine and
the exact command, so a chart can always be traced back to its run.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Mapping, Sequence

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_DIR",
    "add_chart_options",
    "chart_dir",
    "crypto_chart",
    "fetches_chart",
    "latency_cdf_chart",
    "machine",
    "percentiles",
    "write_json",
]

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"
OURS, PEER, FLOOR = "#1f77b4", "#ff7f0e", "#7f7f7f"  # wechat_async, wechatpy, raw floor
PACKAGES = ("wechat-async", "wechatpy", "cryptography", "redis", "httpx", "uvicorn")


# -- options and records --------------------------------------------------------------


def add_chart_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--charts",
        type=Path,
        default=DEFAULT_DIR,
        metavar="DIR",
        help="write PNG charts and a JSON record here (default: docs/benchmarks)",
    )
    group.add_argument("--no-charts", action="store_true", help="write no charts and no JSON")


def chart_dir(args: argparse.Namespace) -> Path | None:
    """The directory to write into (created), or None under ``--no-charts``."""
    if args.no_charts:
        return None
    directory: Path = args.charts
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _cpu_model() -> str:
    with Path("/proc/cpuinfo").open(encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine() -> dict[str, Any]:
    """Where and how this run happened: interpreter, CPU, OS, date, command, versions."""
    try:
        cpu = _cpu_model()
    except OSError:
        cpu = platform.processor()
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", *sys.argv]),
        "reproduce": "nox -s bench",
        "packages": versions,
    }


def write_json(directory: Path, name: str, record: Mapping[str, Any]) -> Path:
    path = directory / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def percentiles(values: Iterable[float], scale: float = 1.0) -> list[float]:
    """Nearest-rank p0, p1, ..., p100 of ``values`` times ``scale``; [] for no values."""
    ordered = sorted(values)
    if not ordered:
        return []
    ranks = [max(0, math.ceil(q / 100 * len(ordered)) - 1) for q in range(101)]
    return [round(ordered[rank] * scale, 3) for rank in ranks]


def _subtitle(info: Mapping[str, Any]) -> str:
    return f"{info['python']}, {info['cpu_count']} CPUs, {info['date'][:10]}"


# -- drawing --------------------------------------------------------------------------


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    import matplotlib as mpl  # noqa: PLC0415 - bench-only dependency, loaded on demand

    mpl.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure, figure.add_subplot()


def _save(figure: Figure, path: Path) -> Path:
    # No "Software" key: the PNG then changes only when the numbers do.
    figure.savefig(path, format="png", metadata={"Software": None})
    return path


def crypto_chart(
    directory: Path, rows: Mapping[str, float], info: Mapping[str, Any], message_bytes: int
) -> Path:
    """Horizontal bars, µs per op, one per row of the crypto benchmark (top row first)."""
    names = list(rows)
    values = [rows[name] for name in names]
    colors = [
        FLOOR if name.startswith("raw") else OURS if name.startswith("wechat_async") else PEER
        for name in names
    ]
    figure, axes = _figure(8, 3.6)
    bars = axes.barh(names, values, color=colors)
    axes.invert_yaxis()
    axes.bar_label(bars, labels=[f" {value:.1f} µs" for value in values], fontsize=9)
    axes.set_xlim(0, max(values) * 1.18)
    axes.set_xlabel("µs per operation (lower is better)")
    axes.set_title(f"Callback crypto, {message_bytes}-byte message\n{_subtitle(info)}", fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)
    return _save(figure, directory / "crypto.png")


def fetches_chart(
    directory: Path,
    sides: Mapping[str, tuple[int, int]],
    info: Mapping[str, Any],
    setting: str,
) -> Path:
    """Upstream token fetches at cold start and in the storm, per SDK, on a log scale.

    ``sides`` maps an SDK name to (cold fetches, storm re-fetches).
    """
    figure, axes = _figure(7, 4)
    scenarios = ["cold start\n(empty cache)", "invalid-token storm\n(token rotated)"]
    width = 0.8 / max(1, len(sides))
    highest = 1
    for index, (name, counts) in enumerate(sides.items()):
        positions = [x + (index - (len(sides) - 1) / 2) * width for x in range(len(scenarios))]
        color = OURS if name == "wechat_async" else PEER
        # A bar of 0 has no height on a log axis; its label still says 0.
        bars = axes.bar(positions, counts, width, label=name, color=color)
        axes.bar_label(bars, labels=[f"{count:,}" for count in counts], fontsize=9)
        highest = max(highest, *counts)
    axes.set_yscale("log")
    axes.set_ylim(0.5, highest * 4)
    axes.set_xticks(range(len(scenarios)), scenarios)
    axes.set_ylabel("upstream token fetches (log scale; 1 is ideal)")
    axes.set_title(f"Token fetches under contention, {setting}\n{_subtitle(info)}", fontsize=10)
    axes.legend()
    axes.grid(axis="y", alpha=0.3, which="both")
    axes.set_axisbelow(True)
    return _save(figure, directory / "token_fetches.png")


def latency_cdf_chart(
    directory: Path,
    latencies_ms: Mapping[str, Sequence[float]],
    info: Mapping[str, Any],
    setting: str,
    upstream_ms: float,
) -> Path:
    """Cumulative share of cold-start calls answered by each latency, per SDK."""
    figure, axes = _figure(9, 4)
    for name, values in latencies_ms.items():
        ordered = sorted(values)
        if not ordered:
            continue
        shares = [(rank + 1) / len(ordered) * 100 for rank in range(len(ordered))]
        color = OURS if name == "wechat_async" else PEER
        axes.step(
            ordered, shares, where="post", label=f"{name} ({len(ordered):,} calls)", color=color
        )
    axes.axvline(
        upstream_ms, color=FLOOR, linestyle=":", label=f"upstream latency {upstream_ms:g} ms"
    )
    axes.axvline(
        2 * upstream_ms,
        color=FLOOR,
        linestyle="--",
        label=f"2x upstream ({2 * upstream_ms:g} ms): p99 target",
    )
    axes.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, LogLocator  # noqa: PLC0415 - see _figure

    axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(FuncFormatter(lambda _value, _pos: ""))
    axes.set_ylim(0, 101)
    axes.set_xlabel("latency from the shared start instant to the token, ms (log scale)")
    axes.set_ylabel("calls answered, % (CDF)")
    axes.set_title(f"Cold-start latency per call, {setting}\n{_subtitle(info)}", fontsize=10)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    axes.grid(alpha=0.3, which="both")
    axes.set_axisbelow(True)
    return _save(figure, directory / "token_cold_latency.png")
