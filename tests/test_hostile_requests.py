"""Hostile input on the request side: our own errors before sending, bounded reads after.

* A multipart ``content_type`` or ``filename`` with CR/LF (or any control
  character) would become header lines of the caller's choosing in the part
  (httpx writes the content type as given): `InvalidArgumentError`, nothing sent.
* A control character in an API path made httpx raise its own ``InvalidURL``,
  outside our tree; a space was percent-encoded into a path WeChat does not
  have: `ConfigurationError`, nothing sent.
* An answer's body is read against ``max_response_size`` (``max_download_size``
  for the file `Transport.request_raw` buffers), from the Content-Length when
  there is one and chunk by chunk when not, so a 200 MB answer costs a few MB,
  not the 800 MB of RSS that reading, joining and decoding it whole did.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tests.wecom.fake_qyapi import HOSTS, FakeQyapi, multipart, ok
from wechat_async.errors import (
    ConfigurationError,
    HTTPStatusError,
    InvalidArgumentError,
    InvalidResponseError,
)
from wechat_async.official_account import Custom
from wechat_async.tokens import StaticToken
from wechat_async.transport import Host, Hosts, RetryPolicy, Transport
from wechat_async.wecom.media import Media

MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
UPLOADED = {"errcode": 0, "errmsg": "", "type": "image", "media_id": "m1", "created_at": "1"}

# -- multipart headers ----------------------------------------------------------------------

BAD_CONTENT_TYPES = [
    "image/png\r\nX-Injected: yes",
    "image/png\nX-Injected: yes",
    "image/png\r",
    "image/png\x00",
    "image/png\x7f",
    "image/png\x0b",
    "image/pñg",
]
BAD_FILENAMES = ["a\r\nX-Injected: yes.png", "a\n.png", "a\r.png", "a\x00.png", "a\x7f.png", 7]

Upload = Callable[[FakeQyapi, dict[str, object]], Awaitable[object]]


async def _media_upload(fake: FakeQyapi, kwargs: dict[str, object]) -> object:
    return await fake.service(Media).upload("image", PNG, **kwargs)  # type: ignore[arg-type]


async def _media_upload_image(fake: FakeQyapi, kwargs: dict[str, object]) -> object:
    return await fake.service(Media).upload_image(PNG, **kwargs)  # type: ignore[arg-type]


async def _set_head_img_url(fake: FakeQyapi, kwargs: dict[str, object]) -> object:
    await fake.service(Custom).set_head_img_url("kf1@test", PNG, **kwargs)  # type: ignore[arg-type]
    return None


UPLOADS: dict[str, Upload] = {
    "Media.upload": _media_upload,
    "Media.upload_image": _media_upload_image,
    "Custom.set_head_img_url": _set_head_img_url,
}


def _fake() -> FakeQyapi:
    fake = FakeQyapi()
    fake.on("POST", "cgi-bin/media/upload", UPLOADED)
    fake.on("POST", "cgi-bin/media/uploadimg", ok(url="https://p.qpic.cn/x"))
    fake.on("POST", "customservice/kfaccount/uploadheadimg", ok())
    return fake


@pytest.mark.asyncio
@pytest.mark.parametrize("upload", UPLOADS.values(), ids=UPLOADS.keys())
@pytest.mark.parametrize("content_type", BAD_CONTENT_TYPES)
async def test_content_type_with_control_characters_is_refused(
    upload: Upload, content_type: str
) -> None:
    fake = _fake()
    with pytest.raises(InvalidArgumentError, match="content_type") as info:
        await upload(fake, {"content_type": content_type})
    assert info.value.argument == "content_type"
    assert fake.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("upload", UPLOADS.values(), ids=UPLOADS.keys())
@pytest.mark.parametrize("filename", BAD_FILENAMES)
async def test_filename_with_control_characters_is_refused(
    upload: Upload, filename: object
) -> None:
    fake = _fake()
    with pytest.raises(InvalidArgumentError) as info:
        await upload(fake, {"filename": filename})
    assert info.value.argument == "filename"
    assert fake.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("upload", UPLOADS.values(), ids=UPLOADS.keys())
async def test_ordinary_content_type_and_filename_still_go_out(upload: Upload) -> None:
    fake = _fake()
    await upload(fake, {"filename": "头像 1.png", "content_type": "image/png"})
    assert multipart(fake.last) == {"media": ("头像 1.png", "image/png", PNG)}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "part",
    [
        ("a.png", PNG, "image/png\r\nX-Injected: yes"),
        ("a\r\nX-Injected: yes", PNG, "image/png"),
        ("a.png", PNG, "image/\x00png"),
    ],
    ids=["content-type", "filename", "nul"],
)
async def test_transport_refuses_unsafe_multipart_headers(
    part: tuple[str, bytes, str],
) -> None:
    fake = _fake()
    with pytest.raises(InvalidArgumentError, match="files"):
        await fake.transport().request("POST", "cgi-bin/media/upload", files={"media": part})
    assert fake.requests == []


# -- API paths ------------------------------------------------------------------------------

BAD_PATHS = [
    "cgi-bin/x\ny",
    "cgi-bin/x\r\nHost: evil",
    "cgi-bin/\x00x",
    "cgi-bin/x\x7f",
    "cgi-bin/x\ty",
    "cgi-bin/x y",
    "cgi-bin/é",
    "cgi-bin/x\u2028y",
    "cgi-bin/x\x85y",
]


async def _request(transport: Transport, path: str) -> object:
    return await transport.request("GET", path, token=StaticToken("TOKEN"))


async def _request_raw(transport: Transport, path: str) -> object:
    return await transport.request_raw("GET", path, host=Host.WORK)


async def _stream(transport: Transport, path: str) -> object:
    async with transport.stream("GET", path) as response:
        return response


@pytest.mark.asyncio
@pytest.mark.parametrize("send", [_request, _request_raw, _stream])
@pytest.mark.parametrize("path", BAD_PATHS)
async def test_path_with_control_characters_or_spaces_is_refused(
    send: Callable[[Transport, str], Awaitable[object]], path: str
) -> None:
    fake = FakeQyapi()
    with pytest.raises(ConfigurationError, match="path"):
        await send(fake.transport(), path)
    assert fake.requests == []


@pytest.mark.asyncio
async def test_surrounding_white_space_and_slashes_are_still_trimmed() -> None:
    fake = FakeQyapi()
    fake.on("GET", "cgi-bin/x", ok())
    await fake.transport().request("GET", " /cgi-bin/x\n")
    assert fake.last.url.path == "/cgi-bin/x"


@pytest.mark.asyncio
async def test_control_characters_in_params_are_percent_encoded() -> None:
    fake = FakeQyapi()
    fake.on("GET", "cgi-bin/x", ok())
    await fake.transport().request("GET", "cgi-bin/x", params={"a\r\nb": "v\r\n\x00\x7f"})
    assert fake.last.url.query == b"a%0D%0Ab=v%0D%0A%00%7F"


# -- response sizes: in process -----------------------------------------------------------


class LazyBody(httpx.AsyncByteStream):
    """``total`` bytes of a JSON object, made chunk by chunk as they are read."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total = total
        self.chunk = chunk
        self.produced = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head, tail = b'{"errcode":0,"pad":"', b'"}'
        yield head
        self.produced = len(head)
        while self.produced < self.total - len(tail):
            piece = min(self.chunk, self.total - len(tail) - self.produced)
            self.produced += piece
            yield b"a" * piece
        self.produced += len(tail)
        yield tail


def _lazy_transport(
    body: LazyBody,
    *,
    declare_length: bool,
    status: int = 200,
    content_type: str = "application/json",
    **settings: int,
) -> Transport:
    def handler(_: httpx.Request) -> httpx.Response:
        headers = {"content-type": content_type}
        if declare_length:
            headers["content-length"] = str(body.total)
        return httpx.Response(status, headers=headers, stream=body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait(attempts=1), **settings)  # type: ignore[arg-type]


@pytest.mark.asyncio
@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_json_answer_over_the_limit_is_refused_without_reading_it(
    declare_length: bool,
) -> None:
    body = LazyBody(64 * MIB)
    transport = _lazy_transport(body, declare_length=declare_length, max_response_size=MIB)
    with pytest.raises(InvalidResponseError, match="larger than"):
        await transport.request("GET", "cgi-bin/x")
    # With a Content-Length nothing is read; without, the limit and one chunk at most.
    assert body.produced <= (0 if declare_length else MIB + body.chunk + 64)


@pytest.mark.asyncio
@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_answer_at_the_limit_is_read(declare_length: bool) -> None:
    body = LazyBody(MIB)
    transport = _lazy_transport(body, declare_length=declare_length, max_response_size=MIB)
    answer = await transport.request("GET", "cgi-bin/x")
    assert len(answer["pad"]) == MIB - len('{"errcode":0,"pad":""}')


@pytest.mark.asyncio
async def test_the_limit_applies_to_the_decoded_body() -> None:
    # 20 MiB of JSON that gzip makes 20 KiB: the bound is on what is held, not what is sent.
    packed = gzip.compress(b'{"errcode":0,"pad":"' + b"a" * (20 * MIB) + b'"}')
    assert len(packed) < MIB

    def handler(_: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, content=packed)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    transport = Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait(attempts=1))
    with pytest.raises(InvalidResponseError, match="larger than"):
        await transport.request("GET", "cgi-bin/x")


@pytest.mark.asyncio
async def test_error_status_over_the_limit_reports_the_status() -> None:
    body = LazyBody(64 * MIB)
    transport = _lazy_transport(body, declare_length=False, status=502, max_response_size=MIB)
    with pytest.raises(HTTPStatusError) as info:
        await transport.request("GET", "cgi-bin/x")
    assert info.value.status_code == 502
    assert body.produced <= MIB + body.chunk + 64


@pytest.mark.asyncio
@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_request_raw_bounds_a_file_by_max_download_size(declare_length: bool) -> None:
    small = LazyBody(2 * MIB)
    raw = _lazy_transport(
        small,
        declare_length=declare_length,
        content_type="image/png",
        max_response_size=MIB,
        max_download_size=4 * MIB,
    )
    response = await raw.request_raw("GET", "cgi-bin/media/get")
    assert len(response.content) == 2 * MIB  # a file may pass max_response_size

    big = LazyBody(64 * MIB)
    raw = _lazy_transport(
        big, declare_length=declare_length, content_type="image/png", max_download_size=4 * MIB
    )
    with pytest.raises(InvalidResponseError, match="larger than"):
        await raw.request_raw("GET", "cgi-bin/media/get")
    assert big.produced <= 4 * MIB + big.chunk + 64


@pytest.mark.asyncio
async def test_request_raw_bounds_a_json_answer_by_max_response_size() -> None:
    body = LazyBody(8 * MIB)
    raw = _lazy_transport(body, declare_length=False, max_response_size=MIB)
    with pytest.raises(InvalidResponseError, match="larger than"):
        await raw.request_raw("GET", "cgi-bin/media/get")
    assert body.produced <= MIB + body.chunk + 64


@pytest.mark.asyncio
async def test_stream_bounds_a_json_answer_and_leaves_a_file_unread() -> None:
    body = LazyBody(8 * MIB)
    transport = _lazy_transport(body, declare_length=False, max_response_size=MIB)
    with pytest.raises(InvalidResponseError, match="larger than"):
        async with transport.stream("GET", "cgi-bin/media/get"):
            pass
    assert body.produced <= MIB + body.chunk + 64

    file = LazyBody(8 * MIB)
    transport = _lazy_transport(
        file, declare_length=True, content_type="video/mp4", max_response_size=MIB
    )
    async with transport.stream("GET", "cgi-bin/media/get") as response:
        assert file.produced == 0
        read = sum([len(chunk) async for chunk in response.aiter_bytes()])
    assert read == 8 * MIB  # the caller reads a download, chunk by chunk, unbounded


@pytest.mark.parametrize("setting", ["max_response_size", "max_download_size"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5, "8"])
def test_size_settings_must_be_positive_ints(setting: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        Transport(hosts=HOSTS, **{setting: value})  # type: ignore[arg-type]


# -- response sizes: a 200 MB answer over a real socket ------------------------------------

HUGE = 200 * MIB


class HugeAnswerServer:
    """Answers every request on 127.0.0.1 with a well-formed 200 MB JSON object, made as sent."""

    HEAD = b'{"errcode":0,"pad":"'
    TAIL = b'"}'
    PIECE = 256 * 1024

    def __init__(self, *, declare_length: bool) -> None:
        self.declare_length = declare_length
        self.sent = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(60):
                await reader.readuntil(b"\r\n\r\n")
                total = len(self.HEAD) + HUGE + len(self.TAIL)
                framing = (
                    f"content-length: {total}"
                    if self.declare_length
                    else "transfer-encoding: chunked"
                )
                head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{framing}\r\n\r\n"
                writer.write(head.encode())
                writer.write(self._frame(self.HEAD))
                piece = b"a" * self.PIECE
                while self.sent < HUGE:
                    writer.write(self._frame(piece))
                    self.sent += len(piece)
                    await writer.drain()
                writer.write(self._frame(self.TAIL))
                if not self.declare_length:
                    writer.write(b"0\r\n\r\n")
                await writer.drain()
        writer.close()

    def _frame(self, data: bytes) -> bytes:
        if self.declare_length:
            return data
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@pytest.mark.asyncio
@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "chunked"])
async def test_200_mb_answer_costs_a_few_mb(declare_length: bool) -> None:
    server = HugeAnswerServer(declare_length=declare_length)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    transport = Transport(
        hosts=Hosts(official=base, work=base, official_standby=()),
        retry=RetryPolicy.no_wait(attempts=1),
    )
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(InvalidResponseError, match="larger than"):
            await transport.request("GET", "cgi-bin/x", token=StaticToken("TOKEN"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await transport.aclose()
        listener.close()
        await listener.wait_closed()
    assert peak < 32 * MIB, f"{peak / MIB:.0f} MiB held"
    assert server.sent < 64 * MIB, f"{server.sent / MIB:.0f} MiB sent before the hang-up"
    assert time.perf_counter() - started < 20
