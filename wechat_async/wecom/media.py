"""WeCom media (素材管理): upload temporary media and images, download media.

Uploads stream from disk: a path is opened and its file object handed to
httpx, which reads it in chunks (and rewinds it if the call is retried), so a
large file is never held in memory. Downloads stream too::

    async with media.get(media_id) as download:
        async for chunk in download.iter_bytes():
            sink.write(chunk)
"""

from __future__ import annotations

import contextlib
import email.message
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs
import httpx

from wechat_async._models import structure
from wechat_async._service import Service
from wechat_async._upload import MIB, MediaSource, check_size, check_source, media_part, size_of
from wechat_async._validate import text
from wechat_async.errors import InvalidArgumentError, RequestTimeoutError, TransportError
from wechat_async.transport import redact

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = ["Media", "MediaDownload", "MediaSource", "MediaType"]

MediaType = Literal["image", "voice", "video", "file"]
"""What ``cgi-bin/media/upload`` takes as ``type``."""

# Documented limits (path/90253): every file must be larger than 5 bytes.
_UPLOAD_MIN_EXCLUSIVE: Final = 5
_UPLOAD_MAX: Final = {
    "image": 10 * MIB,
    "voice": 2 * MIB,
    "video": 10 * MIB,
    "file": 20 * MIB,
}
# path/90256: "图片文件大小应在 5B ~ 2MB 之间".
_IMAGE_MIN: Final = 5
_IMAGE_MAX: Final = 2 * MIB

_UPLOAD: Final = "cgi-bin/media/upload"
_UPLOADIMG: Final = "cgi-bin/media/uploadimg"
_GET: Final = "cgi-bin/media/get"


@attrs.frozen
class _UploadedMedia:
    media_id: str


@attrs.frozen
class _UploadedImage:
    url: str


class MediaDownload:
    """A media file being downloaded from ``cgi-bin/media/get``.

    Valid only inside the ``async with`` block of `Media.get`.
    """

    __slots__ = ("_response",)

    def __init__(self, response: httpx.Response) -> None:
        """Wrap a streamed response whose errcode has already been checked."""
        self._response = response

    @property
    def filename(self) -> str | None:
        """The file name from Content-Disposition, if WeChat sent one."""
        header = self._response.headers.get("content-disposition")
        if not header:
            return None
        # email.message handles quoting and RFC 2231 (filename*=UTF-8'') for us.
        message = email.message.Message()
        message["content-disposition"] = header
        return message.get_filename()

    @property
    def content_type(self) -> str:
        """The Content-Type WeChat sent (``image/jpeg``, ``voice/amr``, …)."""
        return str(self._response.headers.get("content-type", "application/octet-stream"))

    @property
    def content_length(self) -> int | None:
        """The size in bytes from Content-Length, if sent."""
        value = self._response.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    async def iter_bytes(self, chunk_size: int | None = 64 * 1024) -> AsyncIterator[bytes]:
        """Yield the file's bytes as they arrive.

        Raises:
            RequestTimeoutError: reading the body timed out.
            TransportError: reading the body failed, e.g. the connection broke off.
        """
        with _body_errors():
            async for chunk in self._response.aiter_bytes(chunk_size):
                yield chunk

    async def read(self) -> bytes:
        """Read the whole file into memory.

        Raises:
            RequestTimeoutError: reading the body timed out.
            TransportError: reading the body failed, e.g. the connection broke off.
        """
        with _body_errors():
            return await self._response.aread()

    def __repr__(self) -> str:  # noqa: D105
        return (
            f"MediaDownload(filename={self.filename!r}, content_type={self.content_type!r}, "
            f"content_length={self.content_length!r})"
        )


@contextlib.contextmanager
def _body_errors() -> Iterator[None]:
    # The transport maps errors up to the headers; the body is read later, here.
    try:
        yield
    except httpx.TimeoutException as exc:
        raise RequestTimeoutError(
            f"reading the download timed out: {redact(str(exc))}", _GET
        ) from exc
    except httpx.HTTPError as exc:
        raise TransportError(f"reading the download failed: {redact(str(exc))}", _GET) from exc


class Media(Service):
    """WeCom media: ``cgi-bin/media/upload``, ``uploadimg`` and ``get``."""

    async def upload(
        self,
        type: MediaType,  # noqa: A002 - WeChat's parameter name
        file: MediaSource,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """POST cgi-bin/media/upload: upload temporary media, return its media_id.

        ``file`` is a path (opened and streamed), bytes, or a binary file
        object (streamed; left open). WeChat shows ``filename`` as the file's
        name; it defaults to the path's or file object's name, else
        ``"upload"``, so pass one with the right extension for bytes.
        Documented limits, checked before sending when the size is known:
        more than 5 bytes; image 10 MB, voice 2 MB (AMR), video 10 MB (MP4),
        file 20 MB. The media_id is valid for three days.

        Raises:
            InvalidArgumentError: ``type`` is not image, voice, video or file; ``file`` is not
                a path, bytes or binary file object; its known size is outside the limits; or
                ``filename`` or ``content_type`` holds a control character (CR, LF, ...).
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        if type not in _UPLOAD_MAX:
            raise InvalidArgumentError(
                "type", f"must be one of {', '.join(_UPLOAD_MAX)}; got {type!r}"
            )
        check_source(file)
        check_size(size_of(file), _UPLOAD_MIN_EXCLUSIVE, _UPLOAD_MAX[type], low_inclusive=False)
        # Each upload makes a new media_id: a create, so not sent again after it may have landed.
        body = await self._post_file(
            _UPLOAD, file, filename, content_type, params={"type": type}, idempotent=False
        )
        return structure(body, _UploadedMedia, _UPLOAD).media_id

    async def upload_image(
        self,
        file: MediaSource,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """POST cgi-bin/media/uploadimg: upload a JPG/PNG image, return its permanent URL.

        The URL is for images inside mpnews bodies and similar WeCom pages.
        Documented limit: 5 B to 2 MB; WeChat also caps uploads per day and
        month.

        Raises:
            InvalidArgumentError: ``file`` is not a path, bytes or binary file object, its
                known size is under 5 bytes or over 2 MB, or ``filename`` or ``content_type``
                holds a control character (CR, LF, ...).
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        check_source(file)
        check_size(size_of(file), _IMAGE_MIN, _IMAGE_MAX, low_inclusive=True)
        # Each upload stores another permanent image.
        body = await self._post_file(_UPLOADIMG, file, filename, content_type, idempotent=False)
        return structure(body, _UploadedImage, _UPLOADIMG).url

    @contextlib.asynccontextmanager
    async def get(self, media_id: str) -> AsyncIterator[MediaDownload]:
        """GET cgi-bin/media/get: download temporary media, streamed.

        Use as ``async with media.get(media_id) as download:``. An unknown
        or expired media_id raises its `APIError`
        on entering the block. WeChat serves files over 20 MB only in Range
        chunks (errcode 830002), which this method does not request.

        Raises:
            InvalidArgumentError: ``media_id`` is not a non-empty string.
            APIError: WeChat refused the call on entering the block, e.g. 40007 for an
                invalid or expired media_id, 830002 for a file over 20 MB.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        params = {"media_id": text("media_id", media_id)}
        async with self._stream(_GET, params) as response:
            yield MediaDownload(response)

    async def _post_file(
        self,
        path: str,
        file: MediaSource,
        filename: str | None,
        content_type: str | None,
        *,
        idempotent: bool,
        params: dict[str, str | int] | None = None,
    ) -> dict[str, Any]:
        with media_part(file, filename, content_type) as part:
            return await self._post(
                path, params=params, files={"media": part}, idempotent=idempotent
            )
