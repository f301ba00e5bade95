"""Shared test configuration."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings
from redis.asyncio import Redis

from tests.redis_server import answers, configured_url, throwaway_redis

# "ci" keeps the suite quick; "fuzz" (nox -s fuzz, later) runs many more cases.
settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile(
    "fuzz", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: the configured one, else a throwaway redis-server, else skip (fail in CI)."""
    url = configured_url()
    if answers(url):
        yield url
        return
    with contextlib.ExitStack() as stack:
        try:
            url, _ = stack.enter_context(throwaway_redis())
        except (FileNotFoundError, RuntimeError) as exc:
            reason = f"NO REDIS for tests: {url} does not answer and {exc}"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        yield url


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix of this test's own."""
    return f"wa-test-{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture
async def redis_client(redis_url: str, redis_prefix: str) -> AsyncIterator[Redis]:
    """A client on the test Redis; every key under this test's prefix is deleted after."""
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{redis_prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


# -- the whole run's secrets audit ------------------------------------------------------
#
# Every log record of the test session, at every level, is checked as it is
# emitted: a query value of a sensitive parameter that is not masked, or a
# credential the emulator hands out, must never reach a handler. Offenders fail
# the session at its end (the per-flow audit in test_secrets_audit.py also
# covers exception texts and reprs).

_SENSITIVE_QUERY = re.compile(
    r"(?<![\w-])(access_token|secret|corpsecret|component_appsecret|refresh_token|"
    r"authorizer_refresh_token|component_verify_ticket|component_access_token)"
    r"=(?!\*\*\*)[^&\s'\"<>]+",
    re.IGNORECASE,
)
_FAKE_CREDENTIALS = re.compile(
    r"fake-app-secret|fake-corp-secret|FAKE_(?:AT|ST|WT|AAT|CAT)_\d+|ticket@@@fake\d+"
)


class _SecretsAudit(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.offenders: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format cannot leak either
            return
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + str(record.exc_info[1])
        if _SENSITIVE_QUERY.search(text) or _FAKE_CREDENTIALS.search(text):
            self.offenders.append(f"{record.name}: {text[:300]}")


_AUDIT = _SecretsAudit()


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001 - pytest's hook signature
    root = logging.getLogger()
    root.addHandler(_AUDIT)
    # Let every record through to the audit; handlers keep their own levels.
    root.setLevel(logging.DEBUG)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:  # noqa: ARG001
    if _AUDIT.offenders:
        lines = "\n  ".join(dict.fromkeys(_AUDIT.offenders))
        print(f"\nSECRETS AUDIT: {len(_AUDIT.offenders)} log records carry secrets:\n  {lines}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
