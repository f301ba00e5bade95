"""The few ASGI chores the emulator's apps share: lifespan, request body, JSON answer."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["Receive", "Scope", "Send", "read_body", "send_bytes", "send_json", "serve_lifespan"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown: the apps hold no resources to open or close."""
    while (await receive())["type"] != "lifespan.shutdown":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


async def read_body(receive: Receive) -> bytes:
    """The whole request body, however many messages it arrives in."""
    body = bytearray()
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)


async def send_bytes(
    send: Send, status: int, payload: bytes, headers: list[tuple[str, str]]
) -> None:
    """Answer ``payload`` with ``status``; a content-length is added if missing."""
    if not any(name.lower() == "content-length" for name, _ in headers):
        headers = [*headers, ("content-length", str(len(payload)))]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def send_json(send: Send, status: int, answer: object) -> None:
    """Answer a JSON document as UTF-8, non-ASCII kept as is (as WeChat does)."""
    payload = json.dumps(answer, ensure_ascii=False).encode()
    await send_bytes(send, status, payload, [("content-type", "application/json; charset=utf-8")])
