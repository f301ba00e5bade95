"""Stand-ins for WeChat's servers, for tests, examples and benchmarks."""

from __future__ import annotations

from wechat_async.testing.token_server import TokenServer

__all__ = ["TokenServer"]
