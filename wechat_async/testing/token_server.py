"""TokenServer: a small ASGI stand-in for WeChat's token endpoints.

It answers ``cgi-bin/token``, ``cgi-bin/stable_token`` and ``cgi-bin/gettoken``
after a set latency, counts every fetch, and serves one API path,
``cgi-bin/echo``, that accepts only the current token (40001 otherwise). That is
enough to measure single-flight refresh across processes. The full emulator
(FakeWeChat) builds on the same ideas.

Simplified on purpose: every fetch issues a new token and the previous one
stops working at once (WeChat keeps it for a 5-minute overlap), which makes a
second fetch visible as an error rather than hiding it.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any
from urllib.parse import parse_qs

from wechat_async.testing._asgi import Receive, Scope, Send, read_body, send_json, serve_lifespan

__all__ = ["TokenServer"]


_TOKEN_PATHS = frozenset({"/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/gettoken"})


class TokenServer:
    """ASGI app: token endpoints with latency and a fetch counter."""

    def __init__(self, *, latency: float = 0.0, expires_in: int = 7200) -> None:
        """Answer token fetches after ``latency`` seconds."""
        self.latency = latency
        self.expires_in = expires_in
        self.fetches = 0
        self.api_calls = 0
        self.rejected = 0
        self.current: str | None = None
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()  # uvicorn may run us on another thread than the test

    def rotate(self) -> str:
        """Issue a new token now, as a fetch by someone else would."""
        with self._lock:
            self.current = f"server-token-{next(self._numbers)}"
            return self.current

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request."""
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        await read_body(receive)
        path = scope["path"]
        query = parse_qs(scope.get("query_string", b"").decode())
        if path in _TOKEN_PATHS:
            with self._lock:
                self.fetches += 1
            await asyncio.sleep(self.latency)
            body: dict[str, Any] = {"access_token": self.rotate(), "expires_in": self.expires_in}
        elif path == "/cgi-bin/echo":
            with self._lock:
                self.api_calls += 1
                ok = query.get("access_token", [""])[0] == self.current
                self.rejected += not ok
            body = (
                {"errcode": 0, "errmsg": "ok"}
                if ok
                else {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            )
        else:
            body = {"errcode": 404, "errmsg": f"no such path {path}"}
        await send_json(send, 200, body)
