"""Models of Official Account customer service (客服): messages, replies and session events.

Outgoing (``POST cgi-bin/message/custom/send``): `Text`, `Image`,
`Voice`, `Video`, `Music`, `News` (one
`NewsArticle`), `MpNews`, `MpNewsArticle`,
`WxCard`, `MiniProgramPage` and `MsgMenu` (with its
`MsgMenuItem`). Text, Image and Voice are the shared classes of
`wechat_async.messages` (re-exported here); the others carry the
Official Account's own payloads. Each class sets ``msgtype``; nobody types it by hand.

Replies: `KfInfo`, `KfOnlineInfo`, `KfSession`,
`KfSessionItem`, `WaitCaseList` (of `WaitCase`),
`MsgRecordPage` (of `MsgRecord`).

Callbacks: the session events WeChat pushes to the Official Account's
callback URL, keyed on ``Event``: `KfCreateSessionEvent`,
`KfCloseSessionEvent`, `KfSwitchSessionEvent`; any other
``Event`` becomes `UnknownKfSessionEvent` holding the raw dict.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import attrs

from wechat_async._models import converter, register_renamed, register_tagged_union
from wechat_async._validate import as_tuple, items_of, non_empty, omit_none
from wechat_async.messages import Image, OutgoingMessage, Text, Voice

__all__ = [
    "Image",
    "KfCloseSessionEvent",
    "KfCreateSessionEvent",
    "KfInfo",
    "KfOnlineInfo",
    "KfSession",
    "KfSessionEvent",
    "KfSessionItem",
    "KfSwitchSessionEvent",
    "MiniProgramPage",
    "MpNews",
    "MpNewsArticle",
    "MsgMenu",
    "MsgMenuItem",
    "MsgRecord",
    "MsgRecordPage",
    "Music",
    "News",
    "NewsArticle",
    "Text",
    "UnknownKfSessionEvent",
    "Video",
    "Voice",
    "WaitCase",
    "WaitCaseList",
    "WxCard",
]


# -- outgoing messages ------------------------------------------------------------


@attrs.frozen
class Video(OutgoingMessage):
    """A video, by media_id, with the media_id of its thumbnail and an optional caption.

    Raises:
        InvalidArgumentError: ``media_id`` or ``thumb_media_id`` is empty.
    """

    msgtype: ClassVar[str] = "video"
    media_id: str = attrs.field(validator=non_empty)
    thumb_media_id: str = attrs.field(validator=non_empty)
    title: str | None = None
    description: str | None = None


@attrs.frozen
class Music(OutgoingMessage):
    """A music message: the track's URLs and a thumbnail media_id.

    Raises:
        InvalidArgumentError: ``musicurl``, ``hqmusicurl`` or ``thumb_media_id`` is empty.
    """

    msgtype: ClassVar[str] = "music"
    musicurl: str = attrs.field(validator=non_empty)
    hqmusicurl: str = attrs.field(validator=non_empty)
    """High-quality link, preferred on Wi-Fi."""
    thumb_media_id: str = attrs.field(validator=non_empty)
    title: str | None = None
    description: str | None = None


@attrs.frozen
class NewsArticle:
    """The one article of a `News` message: opens ``url`` when tapped.

    Raises:
        InvalidArgumentError: ``title`` is empty.
    """

    title: str = attrs.field(validator=non_empty)
    description: str | None = None
    url: str | None = None
    picurl: str | None = None
    """JPG or PNG; 640×320 shows best as the large picture, 80×80 as the small one."""


_NEWS_ARTICLES: Final = 1


@attrs.frozen
class News(OutgoingMessage):
    """A news message (图文消息, opens an external link): exactly one article.

    WeChat takes one article per customer-service news message; more raise
    `InvalidArgumentError` here, before sending.

    Raises:
        InvalidArgumentError: ``articles`` is not a list of exactly one `NewsArticle`.
    """

    msgtype: ClassVar[str] = "news"
    articles: tuple[NewsArticle, ...] = attrs.field(
        converter=as_tuple,
        validator=items_of(NewsArticle, _NEWS_ARTICLES, _NEWS_ARTICLES, "article"),
    )

    def payload(self) -> dict[str, Any]:
        """``{"articles": [...]}``, each article without its unset fields."""
        return {"articles": [omit_none(converter.unstructure(a)) for a in self.articles]}


@attrs.frozen
class MpNews(OutgoingMessage):
    """A news message that opens an article page, by the media_id of a draft/material.

    Raises:
        InvalidArgumentError: ``media_id`` is empty.
    """

    msgtype: ClassVar[str] = "mpnews"
    media_id: str = attrs.field(validator=non_empty)


@attrs.frozen
class MpNewsArticle(OutgoingMessage):
    """A published article, by the article_id the publishing (发布) endpoints return.

    Raises:
        InvalidArgumentError: ``article_id`` is empty.
    """

    msgtype: ClassVar[str] = "mpnewsarticle"
    article_id: str = attrs.field(validator=non_empty)


@attrs.frozen
class WxCard(OutgoingMessage):
    """A card or coupon (卡券), by card_id.

    Raises:
        InvalidArgumentError: ``card_id`` is empty.
    """

    msgtype: ClassVar[str] = "wxcard"
    card_id: str = attrs.field(validator=non_empty)


@attrs.frozen
class MiniProgramPage(OutgoingMessage):
    """A Mini Program card; the Mini Program must be linked to the Official Account.

    Raises:
        InvalidArgumentError: ``title``, ``appid``, ``pagepath`` or ``thumb_media_id`` is empty.
    """

    msgtype: ClassVar[str] = "miniprogrampage"
    title: str = attrs.field(validator=non_empty)
    appid: str = attrs.field(validator=non_empty)
    pagepath: str = attrs.field(validator=non_empty)
    thumb_media_id: str = attrs.field(validator=non_empty)


@attrs.frozen
class MsgMenuItem:
    """One choice of a `MsgMenu`; a tap sends ``content`` back with this ``id``.

    Raises:
        InvalidArgumentError: ``id`` or ``content`` is empty.
    """

    id: str = attrs.field(validator=non_empty)
    content: str = attrs.field(validator=non_empty)


@attrs.frozen
class MsgMenu(OutgoingMessage):
    """A menu message (菜单消息): a head, items (``list`` on the wire), a tail.

    The customer's tap arrives as a text message carrying the item's id
    (``bizmsgmenuid``).

    Raises:
        InvalidArgumentError: ``items`` is not a non-empty list of `MsgMenuItem`.
    """

    msgtype: ClassVar[str] = "msgmenu"
    items: tuple[MsgMenuItem, ...] = attrs.field(
        converter=as_tuple, validator=items_of(MsgMenuItem, 1, None, "menu items")
    )
    head_content: str | None = None
    tail_content: str | None = None

    def payload(self) -> dict[str, Any]:
        """The ``msgmenu`` object; unset head or tail is left out."""
        body: dict[str, Any] = {}
        if self.head_content is not None:
            body["head_content"] = self.head_content
        body["list"] = [{"id": item.id, "content": item.content} for item in self.items]
        if self.tail_content is not None:
            body["tail_content"] = self.tail_content
        return body


# -- replies ----------------------------------------------------------------------


@attrs.frozen
class KfInfo:
    """One customer-service account (``cgi-bin/customservice/getkflist``).

    ``kf_wx`` is set once a WeChat user is bound; until then ``invite_wx``,
    ``invite_expire_time`` and ``invite_status`` (``waiting``, ``rejected``,
    ``expired``) describe the pending invitation. ``kf_id`` is a string: the
    docs show ``"1001"`` here and a number elsewhere, and a number is kept as
    its digits.
    """

    kf_account: str
    kf_nick: str = ""
    kf_id: str = ""
    kf_headimgurl: str = ""
    kf_wx: str | None = None
    invite_wx: str | None = None
    invite_expire_time: int | None = None
    invite_status: str | None = None


@attrs.frozen
class KfOnlineInfo:
    """One online account (``getonlinekflist``): status 1 is web online; its open sessions."""

    kf_account: str
    status: int = 0
    kf_id: str = ""
    accepted_case: int = 0


@attrs.frozen
class _KfList:
    kf_list: list[KfInfo] = attrs.Factory(list)


@attrs.frozen
class _KfOnlineList:
    kf_online_list: list[KfOnlineInfo] = attrs.Factory(list)


@attrs.frozen
class KfSession:
    """A customer's session (``kfsession/getsession``); ``kf_account`` is "" when there is none."""

    kf_account: str = ""
    createtime: int = 0


@attrs.frozen
class KfSessionItem:
    """One of an account's sessions (``kfsession/getsessionlist``)."""

    openid: str
    createtime: int = 0


@attrs.frozen
class _KfSessionList:
    sessionlist: list[KfSessionItem] = attrs.Factory(list)


@attrs.frozen
class WaitCase:
    """A customer waiting for a session; ``latest_time`` is their last message."""

    openid: str
    latest_time: int = 0


@attrs.frozen
class WaitCaseList:
    """``kfsession/getwaitcase``: ``count`` waiting in all, the first 100 by arrival."""

    count: int = 0
    waitcaselist: list[WaitCase] = attrs.Factory(list)


@attrs.frozen
class MsgRecord:
    """One chat record: ``opercode`` 2002 sent by the account, 2003 received by it.

    Images, voice and video show as the text ``[image]``, ``[voice]``, ``[video]``.
    """

    openid: str
    opercode: int
    text: str
    time: int
    worker: str


@attrs.frozen
class MsgRecordPage:
    """One page of ``customservice/msgrecord/getmsglist``.

    ``number`` records came back; the next page of the same time window
    starts at ``msgid``.
    """

    recordlist: list[MsgRecord] = attrs.Factory(list)
    number: int = 0
    msgid: int = 0


# -- callback events --------------------------------------------------------------


@attrs.frozen
class _KfEventBase:
    to_user_name: str = ""
    """The Official Account's original id (gh_…)."""
    from_user_name: str = ""
    """The customer's openid."""
    create_time: int = 0
    msg_type: str = "event"


@attrs.frozen
class KfCreateSessionEvent(_KfEventBase):
    """``kf_create_session``: ``kf_account`` took the customer into a session."""

    event: ClassVar[str] = "kf_create_session"
    kf_account: str = ""


@attrs.frozen
class KfCloseSessionEvent(_KfEventBase):
    """``kf_close_session``: ``kf_account`` closed the customer's session."""

    event: ClassVar[str] = "kf_close_session"
    kf_account: str = ""


@attrs.frozen
class KfSwitchSessionEvent(_KfEventBase):
    """``kf_switch_session``: the session moved from one account to another."""

    event: ClassVar[str] = "kf_switch_session"
    from_kf_account: str = ""
    to_kf_account: str = ""


@attrs.frozen
class UnknownKfSessionEvent:
    """Any other ``Event``; ``raw`` is the whole parsed callback."""

    raw: dict[str, Any]

    @property
    def event(self) -> str | None:
        """The ``Event`` WeChat sent, if any."""
        value = self.raw.get("Event")
        return value if isinstance(value, str) else None


KfSessionEvent = (
    KfCreateSessionEvent | KfCloseSessionEvent | KfSwitchSessionEvent | UnknownKfSessionEvent
)
"""A customer-service session event from the Official Account callback, keyed on ``Event``."""

_EVENT_TYPES: Final = (KfCreateSessionEvent, KfCloseSessionEvent, KfSwitchSessionEvent)


def _register_xml_names(cls: type[_KfEventBase], **own: str) -> None:
    """Structure ``cls`` from WeChat's XML element names (``ToUserName`` …)."""
    names = {
        "to_user_name": "ToUserName",
        "from_user_name": "FromUserName",
        "create_time": "CreateTime",
        "msg_type": "MsgType",
        **own,
    }
    register_renamed(cls, names)


_register_xml_names(KfCreateSessionEvent, kf_account="KfAccount")
_register_xml_names(KfCloseSessionEvent, kf_account="KfAccount")
_register_xml_names(
    KfSwitchSessionEvent, from_kf_account="FromKfAccount", to_kf_account="ToKfAccount"
)

register_tagged_union(
    KfSessionEvent,
    tag="Event",
    members={cls.event: cls for cls in _EVENT_TYPES},
    unknown=lambda raw: UnknownKfSessionEvent(raw=raw),
)
