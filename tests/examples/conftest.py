"""Serving the examples and FakeWeChat on loopback for the example tests."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
import uvicorn
from aiohttp import web

from tests.redis_server import free_port
from wechat_async.testing import FakeWeChat

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# The examples import each other as scripts do (``from kf_consumer import ...``).
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

CALLBACK_TOKEN = "example-callback-token"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
START_TIMEOUT = 10.0
CALL_TIMEOUT = 10.0

_T = TypeVar("_T")


@dataclass(frozen=True)
class Served:
    """An ASGI app served by uvicorn on loopback, in a thread with its own event loop."""

    url: str
    loop: asyncio.AbstractEventLoop

    async def call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the server's loop (where its state lives) and await it here."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), CALL_TIMEOUT)


@contextlib.contextmanager
def serve_in_thread(app: Any, *, lifespan: Literal["on", "off"] = "off") -> Iterator[Served]:
    """Serve ``app`` on a free loopback port until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            assert thread.is_alive(), "server stopped while starting"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield Served(f"http://127.0.0.1:{port}", loop)
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)
        if not thread.is_alive():
            loop.close()


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bots keep their consumer's state in a file in the cwd: never in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fake_server() -> Iterator[tuple[FakeWeChat, Served]]:
    """FakeWeChat on its own loopback port."""
    fake = FakeWeChat()
    with serve_in_thread(fake) as served:
        yield fake, served


@contextlib.asynccontextmanager
async def aiohttp_site(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app on a free loopback port in this loop; yield its URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        port = free_port()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await asyncio.wait_for(runner.cleanup(), START_TIMEOUT)
