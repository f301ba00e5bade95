"""What the benchmarks' parent processes share: a time budget, Redis cleanup, workers.

Each benchmark runs worker processes (a script of its own) that announce
themselves on stdout with JSON lines and are told what to do on stdin; the
parent keeps every run inside its ``--timeout`` and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import redis

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["BenchmarkError", "Budget", "Worker", "redis_cleaned", "spawned"]


class BenchmarkError(RuntimeError):
    """The benchmark itself failed: a worker died or the time budget ran out."""


class Budget:
    """The overall time limit of a run, in monotonic and in epoch seconds."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.epoch_end = time.time() + seconds

    def left(self, cap: float = math.inf) -> float:
        remaining = self.ends - time.monotonic()
        if remaining <= 0:
            raise BenchmarkError("the run's --timeout was used up")
        return min(remaining, cap)


@contextlib.contextmanager
def redis_cleaned(url: str, prefix: str) -> Iterator[None]:
    """Check Redis answers; on the way out delete every key under ``prefix``."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    client.ping()
    try:
        yield
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@dataclass
class Worker:
    process: subprocess.Popen[str]
    stderr: IO[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    def pump(self) -> None:
        """Forward stdout lines to ``lines`` (None at end of output); runs on a thread."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchmarkError(f"worker {self.process.pid} sent nothing in time") from None
        if line is None:
            self.process.wait(timeout=5)
            self.stderr.seek(0)
            tail = self.stderr.read()[-2000:]
            raise BenchmarkError(
                f"worker {self.process.pid} exited with {self.process.returncode}:\n{tail}"
            )
        message: dict[str, Any] = json.loads(line)
        return message

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def close_input(self) -> None:
        """End the worker's stdin: a worker that is waiting or still running exits."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()


@contextlib.contextmanager
def spawned(script: Path, configs: list[dict[str, Any]]) -> Iterator[list[Worker]]:
    """Start ``script`` once per config; on the way out every one has exited or been killed.

    After a clean run the workers exit by themselves (they get a short grace
    period); after a failure, a timeout or Ctrl-C they are killed at once.
    """
    workers: list[Worker] = []
    clean = False
    try:
        for config in configs:
            stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed below
            try:
                process = subprocess.Popen(  # noqa: S603 - our own worker script
                    [sys.executable, str(script), json.dumps(config)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                )
            except BaseException:
                stderr.close()
                raise
            worker = Worker(process, stderr)
            workers.append(worker)
            threading.Thread(target=worker.pump, daemon=True).start()
        yield workers
        clean = True
    finally:
        for worker in workers:
            worker.close_input()
        grace_ends = time.monotonic() + (5.0 if clean else 0.0)
        for worker in workers:
            try:
                worker.process.wait(timeout=max(0.0, grace_ends - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.stderr.close()
