"""Multipart file uploads shared by the services: a path, bytes or a binary file object.

A path is opened here and its file object handed to httpx, which reads it in
chunks (and rewinds it if the call is retried), so a large file is never held
in memory. Sizes are checked before sending whenever they can be told without
reading the file.
"""

from __future__ import annotations

import contextlib
import io
import mimetypes
import os
from typing import IO, TYPE_CHECKING, Final

from wechat_async._validate import header_safe
from wechat_async.errors import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from wechat_async.transport import FileContent

__all__ = ["MIB", "MediaSource", "check_size", "check_source", "media_part", "size_of"]

MediaSource = str | os.PathLike[str] | bytes | IO[bytes]
"""A file to upload: a path, its bytes, or a binary file object."""

MIB: Final = 1024 * 1024


def size_of(file: MediaSource) -> int | None:
    """The upload's size in bytes, or None when it cannot be told without reading."""
    if isinstance(file, bytes):
        return len(file)
    if isinstance(file, str | os.PathLike):
        return os.stat(file).st_size  # noqa: PTH116 - str and PathLike alike
    try:
        return os.fstat(file.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass
    # httpx rewinds a file object before sending it, so its whole length counts.
    try:
        position = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(position)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    return end


def check_source(file: object) -> None:
    """``file`` is a path, bytes or a binary file object, else InvalidArgumentError."""
    if isinstance(file, bytes | str | os.PathLike):
        return
    if not callable(getattr(file, "read", None)) or isinstance(file, io.TextIOBase):
        raise InvalidArgumentError(
            "file", "must be a path, bytes or a binary file object opened with 'rb'"
        )


def check_size(size: int | None, low: int, high: int, *, low_inclusive: bool) -> None:
    """A known ``size`` lies within WeChat's documented bounds; None passes."""
    if size is None:
        return
    too_small = size < low if low_inclusive else size <= low
    if too_small:
        bound = f"at least {low}" if low_inclusive else f"more than {low}"
        raise InvalidArgumentError("file", f"is {size} bytes; WeChat takes {bound} bytes")
    if size > high:
        raise InvalidArgumentError(
            "file", f"is {size} bytes; WeChat takes at most {high} bytes ({high // MIB} MB)"
        )


def _default_filename(file: MediaSource) -> str:
    if isinstance(file, str | os.PathLike):
        return os.path.basename(os.fspath(file))  # noqa: PTH119 - str and PathLike alike
    name = getattr(file, "name", None)
    if isinstance(name, str) and name:
        return os.path.basename(name)  # noqa: PTH119
    return "upload"


@contextlib.contextmanager
def media_part(
    file: MediaSource, filename: str | None, content_type: str | None
) -> Iterator[tuple[str, FileContent, str]]:
    """``(filename, content, content_type)`` for one multipart field, valid inside the block.

    A path is opened for the block and closed after; bytes and file objects
    are passed as they are (a file object is left open). ``filename``
    defaults to the path's or file object's name, else ``"upload"``; the
    content type is guessed from it. Both go into the part's headers, so a
    control character in either (CR/LF would add header lines of the caller's
    choosing) raises InvalidArgumentError before anything is sent.
    """
    if filename is not None:
        header_safe("filename", filename)
    if content_type is not None:
        header_safe("content_type", content_type, ascii_only=True)
    name = filename or _default_filename(file)
    ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if isinstance(file, str | os.PathLike):
        with open(file, "rb") as handle:  # noqa: PTH123 - httpx reads it in chunks
            yield name, handle, ctype
    else:
        yield name, file, ctype
