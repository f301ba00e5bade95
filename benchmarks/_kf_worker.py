"""One worker process of kf_throughput.py: a callback receiver and a KfConsumer.

Run as ``python benchmarks/_kf_worker.py CONFIG_JSON``. The worker serves a
minimal ASGI callback receiver under uvicorn on a loopback port of its own:
each POST is verified and decrypted with ``Kf.get_callback_message`` and handed
to ``KfConsumer.notify``, then answered ``success``. The consumer (state in the
shared Redis under ``prefix``) replies to every customer text with ``send_msg``.

The same receiver answers ``success`` on ``/kf/noop`` without calling the SDK
at all: the parent posts callbacks there first to measure what serving one
callback over HTTP (uvicorn, h11, asyncio) costs this process, so that share
can be told apart from the SDK's.

Protocol: once its token is fetched and the receiver listens, the worker prints
``{"ready": true, "url": ...}``. It then reads JSON lines from stdin:
``{"cpu": true}`` answers ``{"cpu": <process CPU seconds so far>}``; any other
line stops it cleanly and it prints one JSON report (messages handled,
consumer events, CPU seconds) and exits. End of stdin means the parent is
gone: the worker exits at once. Past ``deadline`` (epoch seconds) it exits no
matter what.

CONFIG_JSON keys: ``base_url`` (FakeWeChat), ``redis_url``, ``prefix``,
``corp_id``, ``corp_secret``, ``callback_token``, ``encoding_aes_key``, ``deadline``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import uvicorn
from redis.asyncio import Redis as AsyncRedis

from wechat_async import CryptoError, Hosts, MessageCrypto, Text, Transport, WeCom
from wechat_async.consumer import KfConsumer
from wechat_async.wecom.kf_messages import Origin, TextMessage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from wechat_async.observability import Event
    from wechat_async.wecom.kf import Kf
    from wechat_async.wecom.kf_messages import SyncedMessage

    Scope = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
    Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

EXIT_PARENT_GONE = 2
EXIT_DEADLINE = 3
REPLY_PREFIX = "re:"
CALLBACK_PATH = "/kf/callback"
NOOP_PATH = "/kf/noop"


def loopback_socket() -> socket.socket:
    """A TCP socket to bind and hand to uvicorn, so the port cannot be taken meanwhile.

    The protocol must be given: asyncio sets TCP_NODELAY only on sockets whose
    ``proto`` is IPPROTO_TCP, and accepted ones inherit it. With a bare
    ``socket.socket()`` every answer sent in two writes waits out a delayed ACK
    (about 40 ms on Linux).
    """
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)


def announce(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Receiver:
    """The callback URL: verify, decrypt, ``notify``, answer ``success`` at once."""

    def __init__(self, kf: Kf, consumer: KfConsumer) -> None:
        self.kf = kf
        self.consumer = consumer
        self.callbacks = 0
        self.refused = 0
        self.noops = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        if scope["path"] == NOOP_PATH:
            self.noops += 1
            await _answer(send, 200, b"success")
            return
        query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
        try:
            event = await self.kf.get_callback_message(
                bytes(body), query["msg_signature"], query["timestamp"], query["nonce"]
            )
        except (CryptoError, KeyError):
            self.refused += 1
            await _answer(send, 400, b"callback refused")
            return
        self.callbacks += 1
        self.consumer.notify(event.token or None, event.open_kfid)
        await _answer(send, 200, b"success")


async def run(config: dict[str, Any]) -> dict[str, Any]:
    redis = AsyncRedis.from_url(config["redis_url"])
    await redis.ping()
    base = config["base_url"].rstrip("/")
    transport = Transport(hosts=Hosts(official=base, work=base + "/qyapi", official_standby=()))
    wecom = WeCom(
        config["corp_id"],
        config["corp_secret"],
        transport=transport,
        redis=redis,
        redis_prefix=config["prefix"],
        crypto=MessageCrypto(
            config["callback_token"], config["encoding_aes_key"], receive_id=config["corp_id"]
        ),
    )
    kf = wecom.kf
    handled: Counter[str] = Counter()  # msgid -> times the handler was called
    events: Counter[str] = Counter()

    def on_event(event: Event) -> None:
        if event.name.startswith("consumer_"):
            events[event.name] += 1

    async def reply(message: SyncedMessage) -> None:
        if (
            not isinstance(message, TextMessage)
            or message.origin != Origin.CUSTOMER
            or not message.external_userid
            or not message.open_kfid
        ):
            events["ignored"] += 1
            return
        handled[message.msgid] += 1
        text = Text(REPLY_PREFIX + message.text.content)
        await kf.send_msg(message.external_userid, message.open_kfid, text)

    consumer = KfConsumer(kf, reply, redis=redis, prefix=config["prefix"], metrics=on_event)
    receiver = Receiver(kf, consumer)
    await wecom.token.get()  # warm: the token is in Redis and the connection is open
    sock = loopback_socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            receiver, host="127.0.0.1", port=port, log_level="error", lifespan="off", backlog=4096
        )
    )
    cpu_started = time.process_time()
    async with consumer:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError("the callback receiver stopped while starting")
            await asyncio.sleep(0.01)
        announce({"ready": True, "url": f"http://127.0.0.1:{port}{CALLBACK_PATH}"})
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                os._exit(EXIT_PARENT_GONE)
            if not json.loads(line).get("cpu"):
                break
            announce({"cpu": time.process_time()})
        server.should_exit = True
        await serving
    cpu = time.process_time() - cpu_started
    await wecom.aclose()
    await transport.aclose()
    await redis.aclose()
    return {
        "handled": sum(handled.values()),
        "handled_twice": sum(1 for count in handled.values() if count > 1),
        "callbacks": receiver.callbacks,
        "refused": receiver.refused,
        "noops": receiver.noops,
        "events": dict(events),
        "cpu": cpu,
    }


def main() -> None:
    config = json.loads(sys.argv[1])
    watchdog = threading.Timer(
        max(0.0, config["deadline"] - time.time()), os._exit, [EXIT_DEADLINE]
    )
    watchdog.daemon = True
    watchdog.start()
    announce(asyncio.run(run(config)))
    os._exit(0)


if __name__ == "__main__":
    main()
