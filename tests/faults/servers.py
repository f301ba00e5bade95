"""Loopback servers for the fault tests: a FakeWeChat over uvicorn, redis-server processes.

Everything here binds 127.0.0.1 on a free port and is stopped in a ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn

from tests.redis_server import answers, free_port

ROOT = Path(__file__).resolve().parents[2]


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, so at most 55535."""
    while True:
        port = free_port()
        if port > 55535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def need_binaries(*names: str) -> None:
    """Skip loudly when a binary is missing; fail instead in CI (as conftest does for Redis)."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        reason = f"NO {' / '.join(missing)} on PATH: fault test cannot run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a loopback port; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn died on start"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class RedisProcess:
    """One redis-server on a fixed loopback port that a test may stop and start again."""

    def __init__(self, workdir: str, port: int | None = None, *extra: str) -> None:
        self.port = free_port() if port is None else port
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = workdir
        self._extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(  # noqa: S603 - a fixed binary with fixed arguments
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._workdir,
                *self._extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not answers(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()  # an abrupt stop, as a crash or an OOM kill would be
        process.wait(timeout=10)


@contextlib.contextmanager
def redis_processes(count: int, *extra: str, cluster: bool = False) -> Iterator[list[RedisProcess]]:
    """``count`` started redis-servers on free ports, each in its own directory; all stopped."""
    need_binaries("redis-server")
    with tempfile.TemporaryDirectory() as workdir:
        servers = []
        try:
            for index in range(count):
                path = Path(workdir, str(index))
                path.mkdir()
                port = cluster_port() if cluster else None
                server = RedisProcess(str(path), port, *extra)
                servers.append(server)
                server.start()
            yield servers
        finally:
            for server in servers:
                server.stop()


def cluster_ready(port: int, expected: int) -> bool:
    """``cluster info`` says ok and every node knows all ``expected`` masters."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
    try:
        info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
    except redis.RedisError:
        return False
    finally:
        client.close()
    if isinstance(info, dict):  # redis-py parses CLUSTER INFO into a dict
        fields = {str(k): str(v) for k, v in info.items()}
    else:
        text = info.decode() if isinstance(info, bytes) else str(info)
        fields = dict(
            line.split(":", 1) for line in text.replace("\r", "").splitlines() if ":" in line
        )
    return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(
        expected
    )


@contextlib.contextmanager
def redis_cluster(nodes: int = 3) -> Iterator[list[RedisProcess]]:
    """A local cluster of ``nodes`` masters, no replicas, ready (``cluster_state:ok``)."""
    need_binaries("redis-server", "redis-cli")  # skips loudly; fails under CI=true
    cli = shutil.which("redis-cli")
    assert cli is not None
    with redis_processes(
        nodes, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", cluster=True
    ) as servers:
        subprocess.run(  # noqa: S603 - a fixed binary with fixed arguments
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{s.port}" for s in servers),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + 20
        while not all(cluster_ready(s.port, nodes) for s in servers):
            assert time.monotonic() < deadline, "the cluster never reported ok"
            time.sleep(0.1)
        yield servers
