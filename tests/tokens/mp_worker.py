"""One worker process of the multi-process token tests.

Run as ``python -m tests.tokens.mp_worker CONFIG_JSON``; prints one JSON line
with the tokens it saw. Each worker, once ready (imported, connected and, in
"storm" mode, warmed up), creates a file named after its pid in ``ready_dir``
and starts calling when the test creates ``ready_dir/go``, so all workers
start together however long the machine takes to get them ready.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from wechat_async.tokens import AccessToken
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import Hosts, RetryPolicy, Transport


async def run(config: dict[str, Any]) -> dict[str, Any]:
    base = config["base_url"]
    hosts = Hosts(official=base, work=base, official_standby=())
    redis = Redis.from_url(config["redis_url"], max_connections=config.get("max_connections", 50))
    async with Transport(hosts=hosts, retry=RetryPolicy.no_wait()) as transport:
        provider = AccessToken(
            "wx_mp_test",
            "mp-secret",
            transport=transport,
            store=RedisTokenStore(redis, prefix=config["prefix"]),
        )
        seen: list[str] = []
        if config["mode"] == "storm":
            await provider.get()  # warm: the storm starts from a cached, soon-bad token
        ready_dir = Path(config["ready_dir"])
        (ready_dir / str(os.getpid())).touch()
        deadline = time.monotonic() + 60
        while not (ready_dir / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("the test never said go")
            await asyncio.sleep(0.005)

        async def cold() -> None:
            seen.append(await provider.get())

        async def storm() -> None:
            await transport.request("GET", "cgi-bin/echo", token=provider)
            seen.append(await provider.get())

        job = cold if config["mode"] == "cold" else storm
        results = await asyncio.gather(
            *(job() for _ in range(config["concurrency"])), return_exceptions=True
        )
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
    await redis.aclose()
    return {"tokens": sorted(set(seen)), "calls": len(seen), "errors": errors}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1])))))
