"""Several OS processes, one Redis, one token server on loopback: one fetch per refresh."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.redis_server import free_port
from wechat_async.testing import TokenServer

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
CONCURRENCY = 50


@pytest.fixture
def token_server() -> Iterator[tuple[TokenServer, str]]:
    app = TokenServer(latency=0.1)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "token server did not start"
        time.sleep(0.01)
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run_workers(
    base_url: str,
    redis_url: str,
    prefix: str,
    mode: str,
    ready_dir: Path,
    when_ready: Callable[[], object] = lambda: None,
) -> list[dict[str, object]]:
    """Start the workers; once every one is ready, call ``when_ready`` and let them go."""
    config = {
        "base_url": base_url,
        "redis_url": redis_url,
        "prefix": prefix,
        "mode": mode,
        "concurrency": CONCURRENCY,
        "ready_dir": str(ready_dir),
    }
    processes = [
        subprocess.Popen(  # noqa: S603 - our own worker module
            [sys.executable, "-m", "tests.tokens.mp_worker", json.dumps(config)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    deadline = time.monotonic() + 60
    while len(list(ready_dir.iterdir())) < PROCESSES:
        assert time.monotonic() < deadline, "workers did not get ready"
        assert all(p.poll() is None for p in processes), "a worker died while getting ready"
        time.sleep(0.01)
    when_ready()
    (ready_dir / "go").touch()
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return reports


@pytest.mark.usefixtures("redis_client")
def test_cold_start_across_processes_fetches_once(
    token_server: tuple[TokenServer, str], redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    app, base_url = token_server
    reports = run_workers(base_url, redis_url, redis_prefix, "cold", tmp_path)
    assert all(not r["errors"] for r in reports), reports
    assert sum(r["calls"] for r in reports) == PROCESSES * CONCURRENCY  # type: ignore[misc]
    tokens = {t for r in reports for t in r["tokens"]}  # type: ignore[attr-defined]
    assert tokens == {app.current}
    assert app.fetches == 1


@pytest.mark.usefixtures("redis_client")
def test_invalid_token_storm_across_processes_refetches_once(
    token_server: tuple[TokenServer, str], redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    app, base_url = token_server
    # Every worker warms up (one fetch in all), then the token is rotated under them.
    reports = run_workers(base_url, redis_url, redis_prefix, "storm", tmp_path, app.rotate)
    assert all(not r["errors"] for r in reports), reports
    tokens = {t for r in reports for t in r["tokens"]}  # type: ignore[attr-defined]
    assert tokens == {app.current}
    assert app.fetches == 2  # the warm-up fetch and exactly one re-fetch
    assert app.rejected >= 1
