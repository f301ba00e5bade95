"""WeCom app group chats (应用发送消息到群聊会话): create, update, read, send.

Only self-built apps whose visible range is the root department may call
these, and only for chats the app created itself.

``send`` takes the shared message classes (`Text`,
``Image``, ``Voice``, ``Video``, ``File``) and the group-only ones defined
here: `TextCard`, `News`, `MpNews` and `Markdown`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from wechat_async._models import structure, unstructure_omitting_none
from wechat_async._service import Service
from wechat_async._validate import (
    as_tuple,
    items_of,
    non_empty,
    omit_none,
    optional_text,
    str_list,
    text,
)
from wechat_async.errors import InvalidArgumentError
from wechat_async.wecom.messages import (
    File,
    Image,
    OutgoingMessage,
    Text,
    Video,
    Voice,
    message_body,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "AppChat",
    "ChatInfo",
    "Markdown",
    "MpNews",
    "MpNewsArticle",
    "News",
    "NewsArticle",
    "TextCard",
]

# path/90245: "群成员id列表。至少2人，至多2000人".
_MEMBERS_MIN: Final = 2
_MEMBERS_MAX: Final = 2000
# path/90245: chatid "最长32个字符。只允许字符0-9及字母a-zA-Z".
_CHATID_RE: Final = re.compile(r"[0-9A-Za-z]{1,32}")
# path/90248: "一个图文消息支持1到8条图文", for news and mpnews alike.
_ARTICLES_MAX: Final = 8

_CREATE: Final = "cgi-bin/appchat/create"
_UPDATE: Final = "cgi-bin/appchat/update"
_GET: Final = "cgi-bin/appchat/get"
_SEND: Final = "cgi-bin/appchat/send"


@attrs.frozen
class TextCard(OutgoingMessage):
    """A text card: title, description and a link; WeChat labels the button "详情" by default.

    Raises:
        InvalidArgumentError: ``title``, ``description`` or ``url`` is not a non-empty string.
    """

    msgtype: ClassVar[str] = "textcard"
    title: str = attrs.field(validator=non_empty)
    description: str = attrs.field(validator=non_empty)
    url: str = attrs.field(validator=non_empty)
    btntxt: str | None = None


@attrs.frozen
class NewsArticle:
    """One article of a `News` message; ``picurl`` is a JPG or PNG link.

    Raises:
        InvalidArgumentError: ``title`` or ``url`` is not a non-empty string.
    """

    title: str = attrs.field(validator=non_empty)
    url: str = attrs.field(validator=non_empty)
    description: str | None = None
    picurl: str | None = None


@attrs.frozen
class News(OutgoingMessage):
    """A news message: 1 to 8 linked articles.

    Raises:
        InvalidArgumentError: ``articles`` is not a list of `NewsArticle`, or holds fewer than 1
            or more than 8.
    """

    msgtype: ClassVar[str] = "news"
    articles: tuple[NewsArticle, ...] = attrs.field(
        converter=as_tuple, validator=items_of(NewsArticle, 1, _ARTICLES_MAX, "articles")
    )

    def payload(self) -> dict[str, Any]:  # noqa: D102 - see OutgoingMessage
        return {"articles": [unstructure_omitting_none(a) for a in self.articles]}


@attrs.frozen
class MpNewsArticle:
    """One article of an `MpNews` message, stored by WeCom; ``content`` may hold HTML.

    Raises:
        InvalidArgumentError: ``title``, ``thumb_media_id`` or ``content`` is not a
            non-empty string.
    """

    title: str = attrs.field(validator=non_empty)
    thumb_media_id: str = attrs.field(validator=non_empty)
    content: str = attrs.field(validator=non_empty)
    author: str | None = None
    content_source_url: str | None = None
    digest: str | None = None


@attrs.frozen
class MpNews(OutgoingMessage):
    """An mpnews message: 1 to 8 articles whose bodies WeCom hosts.

    Raises:
        InvalidArgumentError: ``articles`` is not a list of `MpNewsArticle`, or holds fewer than 1
            or more than 8.
    """

    msgtype: ClassVar[str] = "mpnews"
    articles: tuple[MpNewsArticle, ...] = attrs.field(
        converter=as_tuple, validator=items_of(MpNewsArticle, 1, _ARTICLES_MAX, "articles")
    )

    def payload(self) -> dict[str, Any]:  # noqa: D102 - see OutgoingMessage
        return {"articles": [unstructure_omitting_none(a) for a in self.articles]}


@attrs.frozen
class Markdown(OutgoingMessage):
    """A markdown message (WeCom's markdown subset).

    Raises:
        InvalidArgumentError: ``content`` is not a non-empty string.
    """

    msgtype: ClassVar[str] = "markdown"
    content: str = attrs.field(validator=non_empty)


_SENDABLE: Final[tuple[type[OutgoingMessage], ...]] = (
    Text,
    Image,
    Voice,
    Video,
    File,
    TextCard,
    News,
    MpNews,
    Markdown,
)


@attrs.frozen
class ChatInfo:
    """A group chat from ``cgi-bin/appchat/get``; ``chat_type`` 0 is ordinary, 1 a class chat."""

    chatid: str
    name: str = ""
    owner: str = ""
    userlist: tuple[str, ...] = ()
    chat_type: int = 0


@attrs.frozen
class _Created:
    chatid: str


@attrs.frozen
class _Got:
    chat_info: ChatInfo


def _name_and_owner(name: str | None, owner: str | None) -> dict[str, Any]:
    # Both optional: None leaves them to WeChat, so they are not sent at all.
    return omit_none({"name": optional_text("name", name), "owner": optional_text("owner", owner)})


class AppChat(Service):
    """WeCom app group chats: ``cgi-bin/appchat/*``."""

    async def create(
        self,
        name: str | None,
        owner: str | None,
        userlist: Iterable[str],
        chatid: str | None = None,
    ) -> str:
        """POST cgi-bin/appchat/create: create a group chat, return its chatid.

        ``userlist`` holds 2 to 2000 distinct members. ``name`` (cut by WeChat
        past 50 characters) and ``owner`` are optional: pass None to leave
        them to WeChat, which then picks an owner from ``userlist``.
        ``chatid``, if given, is 1 to 32 letters and digits. A new chat shows
        up in WeCom only once a message has been sent to it.

        Raises:
            InvalidArgumentError: ``userlist`` is not 2 to 2000 distinct non-empty strings,
                ``name``/``owner`` is empty, or ``chatid`` is not 1 to 32 letters and digits.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        members = str_list("userlist", userlist)
        distinct = len(set(members))
        if not _MEMBERS_MIN <= distinct <= _MEMBERS_MAX:
            raise InvalidArgumentError(
                "userlist",
                f"has {distinct} distinct members; WeChat takes {_MEMBERS_MIN} to {_MEMBERS_MAX}",
            )
        body = _name_and_owner(name, owner)
        body["userlist"] = members
        if chatid is not None:
            if not isinstance(chatid, str) or not _CHATID_RE.fullmatch(chatid):
                raise InvalidArgumentError(
                    "chatid", "must be 1 to 32 characters, only 0-9, a-z and A-Z"
                )
            body["chatid"] = chatid
        answer = await self._post(_CREATE, body, idempotent=False)
        return structure(answer, _Created, _CREATE).chatid

    async def update(
        self,
        chatid: str,
        *,
        name: str | None = None,
        owner: str | None = None,
        add_user_list: Iterable[str] = (),
        del_user_list: Iterable[str] = (),
    ) -> None:
        """POST cgi-bin/appchat/update: rename, change owner, add or remove members.

        Only what is given is sent; a chat holds at most 2000 members.

        Raises:
            InvalidArgumentError: ``chatid`` is not a non-empty string, ``name`` or ``owner``
                is an empty string, or a user list is not a list of non-empty strings.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {"chatid": text("chatid", chatid), **_name_and_owner(name, owner)}
        if added := str_list("add_user_list", add_user_list):
            body["add_user_list"] = added
        if removed := str_list("del_user_list", del_user_list):
            body["del_user_list"] = removed
        # Sets the name and owner and adds or removes members: a repeat changes nothing more.
        await self._post(_UPDATE, body, idempotent=True)

    async def get(self, chatid: str) -> ChatInfo:
        """GET cgi-bin/appchat/get: a group chat's name, owner and members.

        Raises:
            InvalidArgumentError: ``chatid`` is not a non-empty string.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._get(_GET, {"chatid": text("chatid", chatid)})
        return structure(answer, _Got, _GET).chat_info

    async def send(self, chatid: str, message: OutgoingMessage, *, safe: bool = False) -> None:
        """POST cgi-bin/appchat/send: send a message to a group chat the app created.

        ``message`` is a Text, Image, Voice, Video, File, TextCard, News,
        MpNews or Markdown. ``safe=True`` marks it confidential (sent as
        ``"safe": 1``). Past WeChat's per-member limits (200 a minute, 10000
        a day from one app) messages are dropped without an error.

        Raises:
            InvalidArgumentError: ``chatid`` is not a non-empty string, or ``message`` is
                not one of the types listed above.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body: dict[str, Any] = {"chatid": text("chatid", chatid)}
        body.update(message_body(message, _SENDABLE, "appchat/send"))
        body["safe"] = 1 if safe else 0
        await self._post(_SEND, body, idempotent=False)

    async def send_text(self, chatid: str, content: str, *, safe: bool = False) -> None:
        """POST cgi-bin/appchat/send: send a text message.

        Raises:
            InvalidArgumentError: ``chatid`` or ``content`` is not a non-empty string.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        await self.send(chatid, Text(content), safe=safe)

    async def send_image(self, chatid: str, media_id: str, *, safe: bool = False) -> None:
        """POST cgi-bin/appchat/send: send an image uploaded with Media.upload.

        Raises:
            InvalidArgumentError: ``chatid`` or ``media_id`` is not a non-empty string.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        await self.send(chatid, Image(media_id), safe=safe)

    async def send_voice(self, chatid: str, media_id: str) -> None:
        """POST cgi-bin/appchat/send: send an AMR voice message uploaded with Media.upload.

        Raises:
            InvalidArgumentError: ``chatid`` or ``media_id`` is not a non-empty string.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        await self.send(chatid, Voice(media_id))
