"""Shared test configuration."""

from __future__ import annotations

import contextlib
import os
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
