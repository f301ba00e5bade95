"""Hostile arguments on the request side get our own errors, before anything is sent.

* A multipart ``content_type`` or ``filename`` with CR/LF (or any control
  character) would become header lines of the caller's choosing in the part
  (httpx writes the content type as given): `InvalidArgumentError`.
* A control character in an API path made httpx raise its own ``InvalidURL``,
  outside our tree; a space was percent-encoded into a path WeChat does not
  have: `ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.wecom.fake_qyapi import FakeQyapi, multipart, ok
from wechat_async.errors import (
    ConfigurationError,
    InvalidArgumentError,
)
from wechat_async.official_account import Custom
from wechat_async.tokens import StaticToken
from wechat_async.transport import Host, Transport
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
