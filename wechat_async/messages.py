"""Outgoing message bodies that every sending endpoint shares (WeCom and Official Account).

Each class knows its ``msgtype``; a service puts ``{"msgtype": m.msgtype,
m.msgtype: m.payload()}`` into its request through `message_body`, so
the type is never set by hand, and an endpoint names the classes it takes.
Text, image and voice have one payload everywhere; types whose payload
differs by platform (video, news, ...) live beside their service.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from wechat_async._models import unstructure_omitting_none
from wechat_async._validate import non_empty
from wechat_async.errors import InvalidArgumentError

__all__ = ["Image", "OutgoingMessage", "Text", "Voice", "message_body"]


@attrs.frozen
class OutgoingMessage:
    """Base of every outgoing message; subclasses set ``msgtype``."""

    msgtype: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        """The object that goes under the ``msgtype`` key; unset fields are left out."""
        return unstructure_omitting_none(self)


def message_body(
    message: OutgoingMessage, allowed: tuple[type[OutgoingMessage], ...], endpoint: str
) -> dict[str, Any]:
    """``{"msgtype": …, <msgtype>: …}`` for ``message``, if ``endpoint`` takes its type.

    Raises:
        InvalidArgumentError: ``endpoint`` does not send messages of this type.
    """
    if not isinstance(message, allowed):
        names = ", ".join(sorted(cls.msgtype for cls in allowed))
        raise InvalidArgumentError(
            "message", f"{endpoint} sends {names}; got {type(message).__name__}"
        )
    return {"msgtype": message.msgtype, message.msgtype: message.payload()}


@attrs.frozen
class Text(OutgoingMessage):
    """A text message.

    Raises:
        InvalidArgumentError: ``content`` is not a non-empty str.
    """

    msgtype: ClassVar[str] = "text"
    content: str = attrs.field(validator=non_empty)


@attrs.frozen
class Image(OutgoingMessage):
    """An image, by the media_id that Media.upload returned.

    Raises:
        InvalidArgumentError: ``media_id`` is not a non-empty str.
    """

    msgtype: ClassVar[str] = "image"
    media_id: str = attrs.field(validator=non_empty)


@attrs.frozen
class Voice(OutgoingMessage):
    """A voice message (AMR), by media_id.

    Raises:
        InvalidArgumentError: ``media_id`` is not a non-empty str.
    """

    msgtype: ClassVar[str] = "voice"
    media_id: str = attrs.field(validator=non_empty)
