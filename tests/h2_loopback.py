"""FakeWeChat over real HTTP/2 with TLS on 127.0.0.1, for tests of the h2/hpack code path.

httpx speaks HTTP/2 only over a real connection (not over MockTransport or
ASGITransport), and uvicorn speaks HTTP/1.1 only, so this small server does
the HTTP/2 framing itself with the ``h2`` package (the one httpx uses) and
hands each request to `FakeWeChat.handle`. TLS uses a throwaway self-signed
certificate with ALPN ``h2``, so a client built as
``httpx.AsyncClient(http2=True, verify=context)`` negotiates HTTP/2 exactly as it
would with WeChat.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wechat_async.testing.fake import FakeResponse, FakeWeChat

__all__ = ["client_context", "serve_h2"]

_LOOPBACK = "127.0.0.1"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """Write a certificate for 127.0.0.1 and its key; return their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _LOOPBACK)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(_LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "h2-loopback.pem"
    key_path = directory / "h2-loopback.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def client_context(directory: Path) -> ssl.SSLContext:
    """An SSL context that trusts the certificate `serve_h2` uses in ``directory``."""
    return ssl.create_default_context(cafile=directory / "h2-loopback.pem")


async def _answer(fake: FakeWeChat, headers: dict[bytes, bytes], body: bytes) -> FakeResponse:
    target = headers[b":path"].decode()
    path, _, query = target.partition("?")
    answer = await fake.handle(
        headers[b":method"].decode(),
        path,
        query,
        body,
        {k.decode(): v.decode() for k, v in headers.items() if not k.startswith(b":")},
    )
    if isinstance(answer, FakeResponse):
        return answer
    payload = json.dumps(answer, ensure_ascii=False).encode()
    return FakeResponse(200, payload, (("content-type", "application/json; charset=utf-8"),))


async def _serve_connection(
    fake: FakeWeChat, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    connection = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    connection.initiate_connection()
    writer.write(connection.data_to_send())
    requests: dict[int, tuple[dict[bytes, bytes], bytearray]] = {}
    try:
        while data := await reader.read(65536):
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RequestReceived) and event.stream_id is not None:
                    headers = {bytes(k): bytes(v) for k, v in event.headers or []}
                    requests[event.stream_id] = (headers, bytearray())
                elif isinstance(event, h2.events.DataReceived) and event.stream_id is not None:
                    requests[event.stream_id][1].extend(event.data or b"")
                    connection.acknowledge_received_data(
                        event.flow_controlled_length or 0, event.stream_id
                    )
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id is not None:
                    headers, body = requests.pop(event.stream_id)
                    answer = await _answer(fake, headers, bytes(body))
                    connection.send_headers(
                        event.stream_id,
                        [
                            (":status", str(answer.status)),
                            ("content-length", str(len(answer.body))),
                            *((name.lower(), value) for name, value in answer.headers),
                        ],
                    )
                    # FakeWeChat's answers are far below the 64 KiB initial window.
                    connection.send_data(event.stream_id, answer.body, end_stream=True)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            writer.write(connection.data_to_send())
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        return
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def serve_h2(fake: FakeWeChat, directory: Path) -> AsyncIterator[str]:
    """Serve ``fake`` over HTTP/2 and TLS on 127.0.0.1; yield its base URL."""
    cert_path, key_path = _self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    context.set_alpn_protocols(["h2"])
    connections: set[asyncio.Task[object]] = set()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.add(task)
        try:
            await _serve_connection(fake, reader, writer)
        finally:
            connections.discard(task)

    server = await asyncio.start_server(accept, _LOOPBACK, 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"https://{_LOOPBACK}:{port}"
    finally:
        server.close()
        # The client has closed its connections by now (it is left first), so
        # each handler sees the end of its stream and returns on its own.
        if connections:
            _, stuck = await asyncio.wait(set(connections), timeout=5)
            for task in stuck:
                task.cancel()
        await server.wait_closed()
