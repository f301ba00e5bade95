"""One worker process of token_contention.py, and the loopback wechatpy client it shares.

Run as ``python benchmarks/_contention_worker.py CONFIG_JSON``. The worker sets
up (imports, connects, sends one uncounted request to warm its HTTP stack, and for a
storm warms its token), prints ``{"ready": true}``,
then reads one JSON line ``{"start_at": epoch, "give_up_at": epoch}`` from stdin,
waits for ``start_at`` and lets every coroutine (wechat_async) or thread
(wechatpy) make its call at that instant. It prints one JSON report and exits.

CONFIG_JSON keys: ``sdk`` ("ours" or "wechatpy"), ``scenario`` ("cold" or
"storm"), ``base_url`` (the loopback token server), ``redis_url``, ``prefix``,
``concurrency`` (coroutines or threads) and ``deadline`` (epoch seconds after
which the process exits no matter what). End of stdin means the parent is gone:
the worker exits too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import redis
from redis.asyncio import Redis as AsyncRedis
from wechatpy import WeChatClient

from wechat_async.errors import WeChatError
from wechat_async.tokens import AccessToken
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import Hosts, RetryPolicy, Transport

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

APPID = "wx_bench"
SECRET = "bench-secret"
EXIT_PARENT_GONE = 2
EXIT_DEADLINE = 3


class GaveUpError(RuntimeError):
    """A wechatpy call was still re-fetching when the benchmark's budget ran out."""


class LoopbackWeChatClient(WeChatClient):  # type: ignore[misc]  # wechatpy is untyped
    """wechatpy's WeChatClient with both of its hard-coded URLs on the loopback server.

    API calls go to ``API_BASE_URL``; ``fetch_access_token`` has its own literal
    ``https://api.weixin.qq.com/cgi-bin/token``, so it is the one method
    overridden, with the same parameters. Past ``give_up_at`` (epoch seconds) a
    fetch raises GaveUpError instead, so a re-fetch storm cannot outlive the
    benchmark; before that the client behaves exactly like wechatpy's.
    """

    def __init__(
        self, base_url: str, *, session: object = None, give_up_at: float = float("inf")
    ) -> None:
        super().__init__(APPID, SECRET, session=session)
        self.API_BASE_URL = f"{base_url}/cgi-bin/"
        self.token_url = f"{base_url}/cgi-bin/token"
        self.give_up_at = give_up_at

    def fetch_access_token(self) -> dict[str, Any]:
        if time.time() > self.give_up_at:
            raise GaveUpError("still re-fetching when the benchmark's budget ran out")
        result: dict[str, Any] = self._fetch_access_token(
            url=self.token_url,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )
        return result


def redis_session(redis_url: str, prefix: str, *, threads: int = 1) -> object:
    """wechatpy's RedisStorage on a sync client for ``redis_url``.

    redis-py 8 caps a pool at 100 connections and raises past that; the pool
    is sized for ``threads`` so the peer is measured on its token handling,
    not on running out of Redis connections.
    """
    from wechatpy.session.redisstorage import RedisStorage  # noqa: PLC0415 - untyped peer

    client = redis.Redis.from_url(redis_url, max_connections=max(100, threads + 10))
    storage: object = RedisStorage(client, prefix=prefix)
    return storage


def announce(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def wait_for_go() -> tuple[float, float]:
    """Block until the parent sends the start instant; exit if it went away."""
    line = sys.stdin.readline()
    if not line:
        os._exit(EXIT_PARENT_GONE)
    go = json.loads(line)
    return float(go["start_at"]), float(go["give_up_at"])


# -- wechat_async ---------------------------------------------------------------------


async def run_ours(config: dict[str, Any]) -> dict[str, Any]:
    base = config["base_url"]
    client = AsyncRedis.from_url(config["redis_url"])
    await client.ping()
    hosts = Hosts(official=base, work=base, official_standby=())
    async with Transport(hosts=hosts, retry=RetryPolicy.no_wait()) as transport:
        provider = AccessToken(
            APPID,
            SECRET,
            transport=transport,
            store=RedisTokenStore(client, prefix=config["prefix"]),
        )
        if config["scenario"] == "storm":
            await provider.get()  # warm: the storm starts from a cached token
        else:
            await warm_http_stack(transport)
        gate = asyncio.Event()

        async def echo() -> str | None:
            await transport.request("GET", "cgi-bin/echo", token=provider)
            return None

        job: Callable[[], Awaitable[str | None]] = (
            provider.get if config["scenario"] == "cold" else echo
        )
        latencies: list[float] = []
        tokens: list[str] = []
        errors: list[str] = []

        async def timed() -> None:
            await gate.wait()
            try:
                token = await job()
            except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                errors.append(repr(exc))
                return
            latencies.append(time.time() - start_at)
            if token is not None:
                tokens.append(token)

        # Every caller exists and waits at the gate before the start instant, as
        # the peer's threads do, so the rows time the calls, not task creation.
        callers = [asyncio.create_task(timed()) for _ in range(config["concurrency"])]
        await asyncio.sleep(0)
        announce({"ready": True})
        start_at, _ = await asyncio.to_thread(wait_for_go)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        gate.set()
        await asyncio.gather(*callers)
    await client.aclose()
    return {"latencies": latencies, "tokens": sorted(set(tokens)), "errors": errors}


async def warm_http_stack(transport: Transport) -> None:
    """One uncounted request, so the start instant finds httpx imported and connected.

    Both SDKs' workers do this: the cold start measures a cold token in warm
    processes, not Python's lazy imports.
    """
    with contextlib.suppress(WeChatError):
        await transport.request("GET", "warmup")


# -- wechatpy -------------------------------------------------------------------------


def run_wechatpy(config: dict[str, Any]) -> dict[str, Any]:
    # urllib3 warns on every connection its 10-slot pool discards; that is the
    # peer's normal behaviour under this many threads, not news.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    client = LoopbackWeChatClient(
        config["base_url"],
        session=redis_session(config["redis_url"], config["prefix"], threads=config["concurrency"]),
    )
    storm = config["scenario"] == "storm"
    if storm:
        client.access_token  # noqa: B018 - warm: the parent already stored a token
    else:
        # The same uncounted warm-up request as ours: imports done, connection open.
        with contextlib.suppress(Exception):
            client._http.get(f"{config['base_url']}/warmup", timeout=5)  # noqa: SLF001
    gate = threading.Event()
    start_at = 0.0
    lock = threading.Lock()
    latencies: list[float] = []
    tokens: list[str] = []
    errors: list[str] = []

    def call() -> None:
        gate.wait()
        try:
            token = None if storm else str(client.access_token)
            if storm:
                client.get("echo")
        except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
            with lock:
                errors.append(f"{type(exc).__name__}({str(exc)[:160]!r})")
            return
        finished = time.time()
        with lock:
            latencies.append(finished - start_at)
            if token is not None:
                tokens.append(token)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(config["concurrency"])]
    for thread in threads:
        thread.start()
    announce({"ready": True})
    start_at, give_up_at = wait_for_go()
    client.give_up_at = give_up_at
    time.sleep(max(0.0, start_at - time.time()))
    gate.set()
    for thread in threads:
        thread.join(timeout=max(0.0, give_up_at + 5.0 - time.time()))
    with lock:
        unfinished = len(threads) - len(latencies) - len(errors)
        errors.extend(["unfinished at the deadline"] * unfinished)
        return {"latencies": latencies, "tokens": sorted(set(tokens)), "errors": errors}


def main() -> None:
    config = json.loads(sys.argv[1])
    watchdog = threading.Timer(
        max(0.0, config["deadline"] - time.time()), os._exit, [EXIT_DEADLINE]
    )
    watchdog.daemon = True
    watchdog.start()
    report = asyncio.run(run_ours(config)) if config["sdk"] == "ours" else run_wechatpy(config)
    announce(report)
    # Threads stuck in wechatpy (if any) must not keep the process alive.
    os._exit(0)


if __name__ == "__main__":
    main()
