"""Stand-ins for WeChat's servers, for tests, examples and benchmarks.

`FakeWeChat` emulates both API hosts in memory (see its module for what
is faithful and what is simplified); `TokenServer` is the small token
endpoint the contention benchmark uses.
"""

from __future__ import annotations

from wechat_async.testing.fake import FakeClock, FakeWeChat, Faults
from wechat_async.testing.token_server import TokenServer

__all__ = ["FakeClock", "FakeWeChat", "Faults", "TokenServer"]
