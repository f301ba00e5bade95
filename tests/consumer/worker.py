"""A KfConsumer worker process for the SIGKILL test: ``python -m tests.consumer.worker``.

It polls one open_kfid of a FakeWeChat served at ``BASE_URL`` and, for each
message, pushes ``NAME:msgid`` to ``{PREFIX}:worker:started``, sleeps ``SLEEP``
seconds, then pushes the msgid to ``{PREFIX}:worker:handled``. It runs until killed.
"""

from __future__ import annotations

import asyncio
import os

from redis.asyncio import Redis

from wechat_async import Hosts, Transport, WeCom
from wechat_async.consumer import KfConsumer
from wechat_async.wecom.kf_messages import SyncedMessage


async def main() -> None:
    env = os.environ
    name, prefix, pause = env["NAME"], env["PREFIX"], float(env["SLEEP"])
    base = env["BASE_URL"].rstrip("/")
    redis = Redis.from_url(env["REDIS_URL"])
    transport = Transport(hosts=Hosts(official=base, work=base + "/qyapi", official_standby=()))
    kf = WeCom(env["CORP_ID"], env["CORP_SECRET"], transport=transport).kf

    async def handler(message: SyncedMessage) -> None:
        await redis.rpush(f"{prefix}:worker:started", f"{name}:{message.msgid}")
        await asyncio.sleep(pause)
        await redis.rpush(f"{prefix}:worker:handled", str(message.msgid))

    consumer = KfConsumer(
        kf,
        handler,
        redis=redis,
        prefix=prefix,
        lease_ttl=float(env["LEASE_TTL"]),
        limit=int(env["LIMIT"]),
        open_kfids=[env["OPEN_KFID"]],
        poll_interval=0.1,
    )
    async with consumer:
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
