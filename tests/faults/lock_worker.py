"""A worker process that takes the refresh lease and fetches; the test SIGKILLs it mid-fetch.

Run as ``python -m tests.faults.lock_worker CONFIG_JSON``. It prints one line,
``fetching``, once its provider has started (the test watches the fake and
Redis for the fetch and the lease itself), then waits on ``get()``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from redis.asyncio import Redis

from wechat_async.tokens import AccessToken, RefreshSettings
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import Hosts, RetryPolicy, Transport


async def run(config: dict[str, Any]) -> None:
    base = config["base_url"]
    hosts = Hosts(official=base, work=base + "/qyapi", official_standby=())
    redis = Redis.from_url(config["redis_url"])
    async with Transport(hosts=hosts, retry=RetryPolicy.no_wait(1), timeout=30) as transport:
        provider = AccessToken(
            config["appid"],
            config["secret"],
            transport=transport,
            store=RedisTokenStore(redis, prefix=config["prefix"]),
            settings=RefreshSettings(**config["settings"]),
        )
        print("fetching", flush=True)
        print(await provider.get(), flush=True)  # never reached: killed first
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(run(json.loads(sys.argv[1])))
