"""WeCom's outgoing message bodies (Kf, AppChat): the shared ones and WeCom's own.

Text, Image and Voice are `wechat_async.messages`'s, re-exported here;
Video and File carry WeCom's payloads. Endpoint-specific types live beside
their service (``kf_messages``, ``appchat``).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from wechat_async._validate import non_empty
from wechat_async.messages import Image, OutgoingMessage, Text, Voice, message_body

__all__ = ["File", "Image", "OutgoingMessage", "Text", "Video", "Voice", "message_body"]


@attrs.frozen
class Video(OutgoingMessage):
    """A video, by media_id; title and description where the endpoint shows them.

    Raises:
        InvalidArgumentError: ``media_id`` is not a non-empty string.
    """

    msgtype: ClassVar[str] = "video"
    media_id: str = attrs.field(validator=non_empty)
    title: str | None = None
    description: str | None = None


@attrs.frozen
class File(OutgoingMessage):
    """A file, by media_id.

    Raises:
        InvalidArgumentError: ``media_id`` is not a non-empty string.
    """

    msgtype: ClassVar[str] = "file"
    media_id: str = attrs.field(validator=non_empty)
