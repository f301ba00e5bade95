"""The quickstart as a reader runs it: ``python examples/quickstart.py``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.examples.conftest import EXAMPLES, ROOT
from tests.redis_server import free_port

STEPS = [
    "[1] URL verification (GET): answered 'echo-",
    "[2] Kf account ",
    "[3] customer wm_quickstart_customer wrote: ",
    "[4] callback arrived, signature verified: kf_msg_or_event",
    "[5] sync_msg pulled ",
    "[6] bot replied with send_msg: msgid=",
    "[7] customer sees: 您好！",
    "[8] a callback with a forged signature is refused (403)",
    "[9] done: one access token fetched for the whole conversation",
]


def quickstart(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own example
        [sys.executable, str(EXAMPLES / "quickstart.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_steps(stdout: str) -> None:
    lines = stdout.splitlines()
    assert len(lines) == len(STEPS), stdout
    for line, expected in zip(lines, STEPS, strict=True):
        assert line.startswith(expected), (line, expected)


def test_the_quickstart_plays_a_whole_conversation() -> None:
    result = quickstart()
    assert result.returncode == 0, result.stderr
    assert_steps(result.stdout)
    assert "(MemoryTokenStore)" in result.stdout


@pytest.mark.usefixtures("redis_client")
def test_the_quickstart_keeps_tokens_in_redis(redis_url: str, redis_prefix: str) -> None:
    result = quickstart("--redis", redis_url, "--redis-prefix", redis_prefix)
    assert result.returncode == 0, result.stderr
    assert_steps(result.stdout)
    assert "(RedisTokenStore)" in result.stdout


def test_the_quickstart_fails_clearly_without_a_server() -> None:
    result = quickstart("--base-url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.startswith("quickstart failed: ConnectError")
