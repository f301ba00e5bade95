"""Media: multipart uploads from paths, bytes and file objects; streamed downloads."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.wecom.fake_qyapi import FakeQyapi, multipart, query
from wechat_async.errors import (
    APIError,
    HTTPStatusError,
    InvalidArgumentError,
    RateLimitError,
    RequestTimeoutError,
)
from wechat_async.tokens import StaticToken
from wechat_async.wecom.media import Media

pytestmark = pytest.mark.asyncio

MIB = 1024 * 1024
# Answer samples from path/90253 and path/90256.
UPLOADED = {
    "errcode": 0,
    "errmsg": "",
    "type": "image",
    "media_id": "1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0",
    "created_at": "1380000000",
}
IMAGE_URL = (
    "http://p.qpic.cn/pic_wework/3474110808/7a7c8471673ff0f178f63447935d35a5c1247a7f31d9c060/0"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def fake() -> FakeQyapi:
    fake = FakeQyapi()
    fake.on("POST", "cgi-bin/media/upload", UPLOADED)
    fake.on("POST", "cgi-bin/media/uploadimg", {"errcode": 0, "errmsg": "", "url": IMAGE_URL})
    return fake


async def test_upload_path_streams_the_file_as_the_media_field(
    fake: FakeQyapi, tmp_path: Path
) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(PNG)

    media_id = await fake.service(Media).upload("image", path)

    assert media_id == UPLOADED["media_id"]
    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.path == "/cgi-bin/media/upload"
    assert query(request) == {"type": "image", "access_token": "TOKEN"}
    assert multipart(request) == {"media": ("photo.png", "image/png", PNG)}


async def test_upload_str_path(fake: FakeQyapi, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"mytext")

    await fake.service(Media).upload("file", str(path))

    assert multipart(fake.last) == {"media": ("notes.txt", "text/plain", b"mytext")}


async def test_upload_bytes_with_a_filename(fake: FakeQyapi) -> None:
    await fake.service(Media).upload("image", PNG, filename="logo.png")

    assert multipart(fake.last) == {"media": ("logo.png", "image/png", PNG)}


async def test_upload_bytes_without_a_filename(fake: FakeQyapi) -> None:
    await fake.service(Media).upload("file", b"mytext")

    assert multipart(fake.last) == {"media": ("upload", "application/octet-stream", b"mytext")}


async def test_upload_file_object_uses_its_name_and_stays_open(
    fake: FakeQyapi, tmp_path: Path
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" * 4)

    with path.open("rb") as handle:
        await fake.service(Media).upload("video", handle)
        assert not handle.closed

    assert multipart(fake.last) == {"media": ("clip.mp4", "video/mp4", path.read_bytes())}


async def test_upload_in_memory_file_object_with_explicit_type(fake: FakeQyapi) -> None:
    voice = io.BytesIO(b"#!AMR\n" + b"\x3c" * 32)

    await fake.service(Media).upload("voice", voice, filename="hello.amr", content_type="audio/amr")

    assert multipart(fake.last) == {"media": ("hello.amr", "audio/amr", voice.getvalue())}


async def test_an_upload_is_not_sent_again_after_a_502(tmp_path: Path) -> None:
    fake = FakeQyapi()
    fake.on("POST", "cgi-bin/media/upload", httpx.Response(502), UPLOADED)
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7 " + b"x" * 100)

    with pytest.raises(HTTPStatusError) as caught:
        await fake.service(Media).upload("file", path)

    assert caught.value.may_have_taken_effect  # a media_id may exist that we never saw
    assert len(fake.requests) == 1


async def test_a_retried_upload_sends_the_whole_file_again(tmp_path: Path) -> None:
    fake = FakeQyapi()
    fake.on("POST", "cgi-bin/media/upload", httpx.Response(502), UPLOADED)
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.7 " + b"x" * 100)
    transport = fake.transport()

    with transport.assume_idempotent():  # a stray temporary media_id is fine here
        uploaded = await Media(transport, StaticToken("TOKEN")).upload("file", path)

    assert uploaded == UPLOADED["media_id"]

    assert len(fake.requests) == 2
    for request in fake.requests:
        assert multipart(request)["media"][2] == path.read_bytes()


async def test_upload_image_returns_the_url(fake: FakeQyapi, tmp_path: Path) -> None:
    path = tmp_path / "banner.jpg"
    path.write_bytes(b"\xff\xd8\xff" + b"\x00" * 40)

    url = await fake.service(Media).upload_image(path)

    assert url == IMAGE_URL
    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.path == "/cgi-bin/media/uploadimg"
    assert query(request) == {"access_token": "TOKEN"}
    assert multipart(request) == {"media": ("banner.jpg", "image/jpeg", path.read_bytes())}


async def test_upload_errcode_is_mapped(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/media/upload", {"errcode": 45009, "errmsg": "api freq out of limit"})

    with pytest.raises(RateLimitError) as caught:
        await fake.service(Media).upload("file", b"mytext")

    assert caught.value.errcode == 45009
    assert caught.value.path == "cgi-bin/media/upload"


@pytest.mark.parametrize(
    ("media_type", "content", "argument"),
    [
        ("thumb", b"mytext", "type"),
        ("file", b"12345", "file"),  # WeChat wants more than 5 bytes
        ("voice", b"\x00" * (2 * MIB + 1), "file"),
        ("image", b"\x00" * (10 * MIB + 1), "file"),
    ],
)
async def test_upload_rejects_before_sending(
    fake: FakeQyapi, media_type: str, content: bytes, argument: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        await fake.service(Media).upload(media_type, content)  # type: ignore[arg-type]

    assert caught.value.argument == argument
    assert fake.requests == []


async def test_upload_checks_the_size_of_a_path_without_reading_it(
    fake: FakeQyapi, tmp_path: Path
) -> None:
    path = tmp_path / "huge.bin"
    with path.open("wb") as handle:
        handle.truncate(20 * MIB + 1)  # sparse: no 20 MB written to disk

    with pytest.raises(InvalidArgumentError, match="at most 20971520 bytes"):
        await fake.service(Media).upload("file", path)

    assert fake.requests == []


async def test_upload_checks_the_size_of_a_file_object(fake: FakeQyapi) -> None:
    with pytest.raises(InvalidArgumentError):
        await fake.service(Media).upload("video", io.BytesIO(b"\x00" * (10 * MIB + 1)))

    assert fake.requests == []


async def test_upload_rejects_a_text_file_object(fake: FakeQyapi) -> None:
    with pytest.raises(InvalidArgumentError, match="binary file object"):
        await fake.service(Media).upload("file", io.StringIO("mytext"))  # type: ignore[arg-type]

    assert fake.requests == []


async def test_upload_image_size_limits(fake: FakeQyapi) -> None:
    media = fake.service(Media)
    with pytest.raises(InvalidArgumentError):
        await media.upload_image(b"\xff\xd8")
    with pytest.raises(InvalidArgumentError):
        await media.upload_image(b"\x00" * (2 * MIB + 1), filename="big.png")

    assert fake.requests == []


class Chunks:
    """A response body that notes how far the client has read."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.served = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.served += 1
            yield chunk


async def test_get_streams_the_file() -> None:
    body = Chunks(b"\xff\xd8\xff", b"\x00" * 1000, b"\xff\xd9")
    fake = FakeQyapi()
    fake.on(
        "GET",
        "cgi-bin/media/get",
        httpx.Response(
            200,
            headers={
                "Content-Type": "image/jpeg",
                "Content-disposition": 'attachment; filename="MEDIA_ID.jpg"',
                "Content-Length": "1005",
            },
            content=body,
        ),
    )

    received = bytearray()
    async with fake.service(Media).get("MEDIA_ID") as download:
        assert body.served == 0  # nothing read before the caller asks
        assert download.filename == "MEDIA_ID.jpg"
        assert download.content_type == "image/jpeg"
        assert download.content_length == 1005
        async for chunk in download.iter_bytes():
            received += chunk

    assert received == b"\xff\xd8\xff" + b"\x00" * 1000 + b"\xff\xd9"
    assert body.served == 3
    assert download._response.is_closed  # the connection goes back with the block
    (request,) = fake.requests
    assert request.method == "GET"
    assert request.url.path == "/cgi-bin/media/get"
    assert query(request) == {"media_id": "MEDIA_ID", "access_token": "TOKEN"}


async def test_get_reads_whole_file_and_utf8_filenames() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "cgi-bin/media/get",
        httpx.Response(
            200,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": "attachment; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf",
            },
            content=b"%PDF-1.7",
        ),
    )

    async with fake.service(Media).get("MEDIA_ID") as download:
        assert download.filename == "报告.pdf"
        assert await download.read() == b"%PDF-1.7"


async def test_get_error_answer_raises_on_entry() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "cgi-bin/media/get",
        httpx.Response(200, json={"errcode": 40007, "errmsg": "invalid media_id"}),
    )

    with pytest.raises(APIError) as caught:
        async with fake.service(Media).get("EXPIRED"):
            pytest.fail("the block must not run")

    assert caught.value.errcode == 40007
    assert caught.value.path == "cgi-bin/media/get"


async def test_get_retries_a_server_error_before_streaming() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "cgi-bin/media/get",
        httpx.Response(503, text="busy"),
        httpx.Response(200, headers={"Content-Type": "voice/amr"}, content=b"#!AMR\n"),
    )

    async with fake.service(Media).get("MEDIA_ID") as download:
        assert await download.read() == b"#!AMR\n"

    assert len(fake.requests) == 2


async def test_get_rejects_an_empty_media_id() -> None:
    fake = FakeQyapi()

    with pytest.raises(InvalidArgumentError):
        async with fake.service(Media).get(""):
            pytest.fail("the block must not run")

    assert fake.requests == []


class Broken:
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"first"
        raise httpx.ReadTimeout("timed out")


async def test_a_failure_while_reading_is_a_transport_error() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "cgi-bin/media/get",
        httpx.Response(200, headers={"Content-Type": "video/mp4"}, content=Broken()),
    )

    chunks: list[bytes] = []

    async def consume() -> None:
        async with fake.service(Media).get("MEDIA_ID") as download:
            chunks.extend([chunk async for chunk in download.iter_bytes(chunk_size=None)])

    with pytest.raises(RequestTimeoutError) as caught:
        await consume()

    assert chunks == []  # the comprehension never completed
    assert caught.value.path == "cgi-bin/media/get"
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
