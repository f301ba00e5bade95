"""WeChat's side of callback delivery in kf_throughput.py: a lean HTTP/1.1 client.

The fake posts every ``kf_msg_or_event`` callback through the httpx client it
is given. With httpx's default transport (httpcore's pool) that delivery cost
the emulator's process several times what serving sync_msg and send_msg did,
so the emulator, not the workers, capped the throughput. This transport plays
WeChat's delivery cheaply: persistent keep-alive connections per worker,
requests spread round-robin over the workers' ports (as a load balancer in
front of the replicas would), a response read by its Content-Length. It is
not part of what is measured: the workers' side is the real stack (uvicorn,
``Kf.get_callback_message``, ``KfConsumer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque

import httpx

__all__ = ["CallbackDelivery"]

_HEAD_LIMIT = 64 * 1024


class _StaleConnectionError(Exception):
    """A kept-alive connection was closed by the server before it answered anything."""


class CallbackDelivery(httpx.AsyncBaseTransport):
    """Deliver each request to the next ``(host, port)`` in turn, over kept-alive connections."""

    def __init__(self, targets: list[tuple[str, int]], *, timeout: float = 30.0) -> None:
        self._targets = itertools.cycle(targets)
        self._idle: dict[tuple[str, int], deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
        self._idle = {target: deque() for target in targets}
        self._timeout = timeout
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the next worker; a connection the server dropped is replaced once."""
        target = next(self._targets)
        head = _request_head(request)
        body = await request.aread()
        async with asyncio.timeout(self._timeout):
            while True:
                reused, (reader, writer) = await self._connection(target)
                try:
                    status, headers, content, keep = await _exchange(reader, writer, head, body)
                except _StaleConnectionError:
                    writer.close()
                    if reused:
                        continue  # the server closed it while idle: it never saw the request
                    raise httpx.RemoteProtocolError("the server closed a new connection") from None
                except BaseException:
                    writer.close()
                    raise
                break
        if keep and not self._closed:
            self._idle[target].append((reader, writer))
        else:
            writer.close()
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _connection(
        self, target: tuple[str, int]
    ) -> tuple[bool, tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        idle = self._idle[target]
        while idle:
            reader, writer = idle.pop()
            if not reader.at_eof() and not writer.is_closing():
                return True, (reader, writer)
            writer.close()
        return False, await asyncio.open_connection(*target)

    async def aclose(self) -> None:
        """Close every idle connection; those in use close when their request ends."""
        self._closed = True
        writers = [writer for idle in self._idle.values() for _, writer in idle]
        for idle in self._idle.values():
            idle.clear()
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _request_head(request: httpx.Request) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
    lines += [b"%s: %s" % (name, value) for name, value in request.headers.raw]
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
    """Write one request, read its answer: status, headers, body, and whether to keep the line."""
    writer.write(head + body)
    try:
        await writer.drain()
        answer = await reader.readuntil(b"\r\n\r\n")
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
            raise httpx.RemoteProtocolError("the answer was cut off") from exc
        raise _StaleConnectionError from exc
    except asyncio.LimitOverrunError as exc:
        raise httpx.RemoteProtocolError("the answer's head is too long") from exc
    if len(answer) > _HEAD_LIMIT:
        raise httpx.RemoteProtocolError("the answer's head is too long")
    status_line, *header_lines = answer[:-4].split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():  # noqa: PLR2004
        raise httpx.RemoteProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: list[tuple[bytes, bytes]] = []
    length = 0
    keep = parts[0] == b"HTTP/1.1"
    for line in header_lines:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        headers.append((name, value))
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise httpx.RemoteProtocolError("a chunked answer; the workers send Content-Length")
        elif name == b"connection":
            keep = value.lower() != b"close"
    try:
        content = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise httpx.RemoteProtocolError("the answer's body was cut off") from exc
    return int(parts[1]), headers, content, keep
