"""Models of WeCom Kf (微信客服): outgoing message types and the messages ``sync_msg`` reads.

Outgoing: `Link`, `MiniProgram`, `MsgMenu` (with its items
`MenuClick`, `MenuView`, `MenuMiniProgram`,
`MenuText`) and `Location`, beside the shared ``Text``, ``Image``,
``Voice``, ``Video`` and ``File`` of `wechat_async.wecom.messages`.

Incoming (``POST cgi-bin/kf/sync_msg``): every item of ``msg_list`` becomes one
`SyncedMessage`, keyed on ``msgtype``; an ``event`` item carries a
`KfEvent`, keyed on ``event.event_type``. A type this module does not
know comes back as `UnknownKfMessage` / `UnknownKfEvent` holding
the raw dict, so a new WeChat message type never breaks a sync loop.
Each item is parsed on its own: one of a known type whose fields have an
unexpected shape (an object where text belongs, a list for a number, an
``event`` that is not an object) comes back as `UnknownKfMessage` too,
with the raw dict and a ``reason`` naming the fields (never their values),
and a warning is logged on ``wechat_async.wecom``; the rest of the page
parses as usual. Only a page whose ``msg_list`` is not a list (or whose
``next_cursor`` / ``has_more`` are unusable) is refused as a whole.

Also here: the ``kf_msg_or_event`` callback (`KfCallbackMessage`) and
the response models of the other Kf endpoints.
"""

from __future__ import annotations

import enum
import logging
import re
from typing import Any, ClassVar, Final, Self

import attrs
from cattrs.gen import make_dict_structure_fn, override

from wechat_async._models import (
    converter,
    describe_failure,
    register_renamed,
    register_tagged_union,
    unstructure_omitting_none,
)
from wechat_async._validate import as_tuple, items_of, max_bytes, non_empty
from wechat_async.errors import InvalidArgumentError
from wechat_async.wecom.messages import OutgoingMessage

__all__ = [
    "AccountInfo",
    "AccountPage",
    "BusinessCardBody",
    "BusinessCardMessage",
    "ChannelsBody",
    "ChannelsMessage",
    "ChannelsShopOrderBody",
    "ChannelsShopOrderMessage",
    "ChannelsShopProductBody",
    "ChannelsShopProductMessage",
    "CorpStatistic",
    "CorpStatisticDay",
    "CorpStatistics",
    "Customer",
    "CustomerBatch",
    "EnterSessionContext",
    "EnterSessionEvent",
    "EventMessage",
    "FileMessage",
    "GroupChatRange",
    "ImageMessage",
    "IntentAnswer",
    "IntentLink",
    "IntentQuestion",
    "IntentSimilarQuestions",
    "IntentText",
    "KfCallbackMessage",
    "KfEvent",
    "KnowledgeGroup",
    "KnowledgeGroupPage",
    "KnowledgeIntent",
    "KnowledgeIntentPage",
    "Link",
    "LinkBody",
    "LinkMessage",
    "Location",
    "LocationBody",
    "LocationMessage",
    "MediaBody",
    "MemberRange",
    "MenuClick",
    "MenuItem",
    "MenuMiniProgram",
    "MenuText",
    "MenuView",
    "MergedBody",
    "MergedItem",
    "MergedMessage",
    "MiniProgram",
    "MiniProgramBody",
    "MiniProgramMessage",
    "MsgMenu",
    "MsgMenuBody",
    "MsgMenuMessage",
    "MsgSendFailEvent",
    "NoteMessage",
    "Origin",
    "RejectCustomerMsgSwitchChangeEvent",
    "ServiceState",
    "ServiceStateInfo",
    "Servicer",
    "ServicerList",
    "ServicerRecallMsgEvent",
    "ServicerResult",
    "ServicerResults",
    "ServicerStatistic",
    "ServicerStatisticDay",
    "ServicerStatistics",
    "ServicerStatusChangeEvent",
    "SessionStatusChangeEvent",
    "SyncMsgResult",
    "SyncedMessage",
    "TextBody",
    "TextMessage",
    "UnknownKfEvent",
    "UnknownKfMessage",
    "UpgradeGroupChat",
    "UpgradeMember",
    "UpgradeServiceConfig",
    "UpgradeType",
    "UserRecallMsgEvent",
    "VideoMessage",
    "VoiceMessage",
    "WechatChannels",
]


# -- enums ----------------------------------------------------------------------


class _OpenIntEnum(enum.IntEnum):
    """An IntEnum that keeps a value WeChat adds later instead of failing on it."""

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, int) and not isinstance(value, bool):
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            return member
        return None


class Origin(_OpenIntEnum):
    """Who produced a synced message (``origin`` in ``cgi-bin/kf/sync_msg``)."""

    CUSTOMER = 3
    """Sent by the WeChat customer."""
    SYSTEM = 4
    """An event pushed by the system."""
    SERVICER = 5
    """Sent by a servicer from the WeCom client."""


class ServiceState(_OpenIntEnum):
    """Session state (``cgi-bin/kf/service_state/get`` and ``/trans``)."""

    UNTREATED = 0
    """New session, not handled yet."""
    SMART_ASSISTANT = 1
    """Handled by the smart assistant (API replies)."""
    POOL = 2
    """Waiting in the pool for a servicer."""
    SERVICER = 3
    """Handled by a human servicer."""
    ENDED = 4
    """Ended, or not started."""


class UpgradeType(enum.IntEnum):
    """What ``cgi-bin/kf/customer/upgrade_service`` recommends."""

    MEMBER = 1
    """A dedicated member (专员)."""
    GROUPCHAT = 2
    """A customer group chat."""


# -- outgoing ---------------------------------------------------------------------


@attrs.frozen
class Link(OutgoingMessage):
    """A link card (图文链接) for ``cgi-bin/kf/send_msg``; WeChat truncates title and desc.

    Raises:
        InvalidArgumentError: ``title``, ``url`` or ``thumb_media_id`` is empty, or ``url`` is over
            2048 bytes.
    """

    msgtype: ClassVar[str] = "link"
    title: str = attrs.field(validator=non_empty)
    url: str = attrs.field(validator=[non_empty, max_bytes(2048)])
    thumb_media_id: str = attrs.field(validator=non_empty)
    desc: str | None = None


@attrs.frozen
class MiniProgram(OutgoingMessage):
    """A Mini Program card for ``cgi-bin/kf/send_msg``; the app must be linked to the corp.

    Raises:
        InvalidArgumentError: ``appid``, ``thumb_media_id`` or ``pagepath`` is empty.
    """

    msgtype: ClassVar[str] = "miniprogram"
    appid: str = attrs.field(validator=non_empty)
    thumb_media_id: str = attrs.field(validator=non_empty)
    pagepath: str = attrs.field(validator=non_empty)
    title: str | None = None


@attrs.frozen
class MenuClick:
    """A menu item that replies: the customer's tap comes back as text with ``menu_id``.

    Raises:
        InvalidArgumentError: ``id`` is empty or over 64 bytes, or ``content`` is empty or over 128
            bytes.
    """

    type: ClassVar[str] = "click"
    id: str = attrs.field(validator=[non_empty, max_bytes(64)])
    content: str = attrs.field(validator=[non_empty, max_bytes(128)])


@attrs.frozen
class MenuView:
    """A menu item that opens a URL.

    Raises:
        InvalidArgumentError: ``url`` is empty or over 2048 bytes, or ``content`` is empty or over
            1024 bytes.
    """

    type: ClassVar[str] = "view"
    url: str = attrs.field(validator=[non_empty, max_bytes(2048)])
    content: str = attrs.field(validator=[non_empty, max_bytes(1024)])


@attrs.frozen
class MenuMiniProgram:
    """A menu item that opens a Mini Program page.

    Raises:
        InvalidArgumentError: ``appid`` is empty or over 32 bytes, or ``pagepath`` or ``content`` is
            empty or over 1024 bytes.
    """

    type: ClassVar[str] = "miniprogram"
    appid: str = attrs.field(validator=[non_empty, max_bytes(32)])
    pagepath: str = attrs.field(validator=[non_empty, max_bytes(1024)])
    content: str = attrs.field(validator=[non_empty, max_bytes(1024)])


@attrs.frozen
class MenuText:
    """Plain text between menu items; ``no_newline=1`` keeps it on the previous line.

    Raises:
        InvalidArgumentError: ``content`` is empty.
    """

    type: ClassVar[str] = "text"
    content: str = attrs.field(validator=non_empty)
    no_newline: int | None = None


MenuItem = MenuClick | MenuView | MenuMiniProgram | MenuText
"""One entry of a `MsgMenu`."""

_MENU_ITEM_TYPES: tuple[type[MenuItem], ...] = (MenuClick, MenuView, MenuMiniProgram, MenuText)
_MAX_MENU_ITEMS = 10


@attrs.frozen
class MsgMenu(OutgoingMessage):
    """A menu message (``msgmenu``): a head, up to 10 items (``list`` on the wire), a tail.

    Raises:
        InvalidArgumentError: ``items`` is not a list or tuple of menu items or holds over 10, or
            ``head_content`` or ``tail_content`` is over 1024 bytes.
    """

    msgtype: ClassVar[str] = "msgmenu"
    items: tuple[MenuItem, ...] = attrs.field(
        converter=as_tuple, validator=items_of(_MENU_ITEM_TYPES, 0, _MAX_MENU_ITEMS, "menu items")
    )
    head_content: str | None = attrs.field(default=None, validator=max_bytes(1024))
    tail_content: str | None = attrs.field(default=None, validator=max_bytes(1024))

    def payload(self) -> dict[str, Any]:
        """The ``msgmenu`` object, each item as ``{"type": t, t: {...}}``."""
        body: dict[str, Any] = {}
        if self.head_content is not None:
            body["head_content"] = self.head_content
        body["list"] = [
            {"type": item.type, item.type: unstructure_omitting_none(item)} for item in self.items
        ]
        if self.tail_content is not None:
            body["tail_content"] = self.tail_content
        return body


def _number_between(low: float, high: float) -> Any:  # noqa: ANN401 - an attrs validator
    def check(_: object, attribute: attrs.Attribute[float], value: float) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise InvalidArgumentError(attribute.name, f"must be a number from {low} to {high}")

    return check


@attrs.frozen
class Location(OutgoingMessage):
    """A location for ``cgi-bin/kf/send_msg``.

    Raises:
        InvalidArgumentError: ``latitude`` is not a number from -90 to 90, or ``longitude`` is not
            from -180 to 180.
    """

    msgtype: ClassVar[str] = "location"
    latitude: float = attrs.field(validator=_number_between(-90, 90))
    longitude: float = attrs.field(validator=_number_between(-180, 180))
    name: str | None = None
    address: str | None = None


@attrs.frozen
class IntentLink(OutgoingMessage):
    """A link attachment of a knowledge-base answer (``cgi-bin/kf/knowledge/add_intent``).

    Raises:
        InvalidArgumentError: ``title`` or ``url`` is empty.
    """

    msgtype: ClassVar[str] = "link"
    title: str = attrs.field(validator=non_empty)
    url: str = attrs.field(validator=non_empty)
    picurl: str | None = None
    desc: str | None = None


@attrs.frozen
class UpgradeMember:
    """The member recommended by ``cgi-bin/kf/customer/upgrade_service`` (type 1).

    Raises:
        InvalidArgumentError: ``userid`` is empty.
    """

    userid: str = attrs.field(validator=non_empty)
    wording: str | None = None


@attrs.frozen
class UpgradeGroupChat:
    """The group chat recommended by ``cgi-bin/kf/customer/upgrade_service`` (type 2).

    Raises:
        InvalidArgumentError: ``chat_id`` is empty.
    """

    chat_id: str = attrs.field(validator=non_empty)
    wording: str | None = None


# -- synced messages (cgi-bin/kf/sync_msg) ---------------------------------------


@attrs.frozen
class _Synced:
    """Fields every ``msg_list`` item has; event items lack open_kfid and external_userid."""

    msgid: str = ""
    send_time: int = 0
    origin: Origin = Origin.CUSTOMER
    open_kfid: str | None = None
    external_userid: str | None = None
    servicer_userid: str | None = None


@attrs.frozen
class TextBody:
    """``text``: the content, and ``menu_id`` when it answers a menu tap."""

    content: str = ""
    menu_id: str | None = None


@attrs.frozen
class MediaBody:
    """``image`` / ``voice`` / ``video`` / ``file``: a media_id for ``cgi-bin/media/get``."""

    media_id: str = ""


@attrs.frozen
class TextMessage(_Synced):
    """A text message; ``text.menu_id`` is set when the customer tapped a menu item."""

    msgtype: ClassVar[str] = "text"
    text: TextBody = attrs.field(factory=TextBody)


@attrs.frozen
class ImageMessage(_Synced):
    """An image."""

    msgtype: ClassVar[str] = "image"
    image: MediaBody = attrs.field(factory=MediaBody)


@attrs.frozen
class VoiceMessage(_Synced):
    """A voice message (AMR, or Silk with ``voice_format=1``)."""

    msgtype: ClassVar[str] = "voice"
    voice: MediaBody = attrs.field(factory=MediaBody)


@attrs.frozen
class VideoMessage(_Synced):
    """A video."""

    msgtype: ClassVar[str] = "video"
    video: MediaBody = attrs.field(factory=MediaBody)


@attrs.frozen
class FileMessage(_Synced):
    """A file."""

    msgtype: ClassVar[str] = "file"
    file: MediaBody = attrs.field(factory=MediaBody)


@attrs.frozen
class LocationBody:
    """``location``."""

    latitude: float = 0.0
    longitude: float = 0.0
    name: str = ""
    address: str = ""


@attrs.frozen
class LocationMessage(_Synced):
    """A location."""

    msgtype: ClassVar[str] = "location"
    location: LocationBody = attrs.field(factory=LocationBody)


@attrs.frozen
class LinkBody:
    """``link``."""

    title: str = ""
    desc: str = ""
    url: str = ""
    pic_url: str = ""


@attrs.frozen
class LinkMessage(_Synced):
    """A link."""

    msgtype: ClassVar[str] = "link"
    link: LinkBody = attrs.field(factory=LinkBody)


@attrs.frozen
class BusinessCardBody:
    """``business_card``: the userid on the card."""

    userid: str = ""


@attrs.frozen
class BusinessCardMessage(_Synced):
    """A business card."""

    msgtype: ClassVar[str] = "business_card"
    business_card: BusinessCardBody = attrs.field(factory=BusinessCardBody)


@attrs.frozen
class MiniProgramBody:
    """``miniprogram``."""

    appid: str = ""
    title: str = ""
    thumb_media_id: str = ""
    pagepath: str = ""


@attrs.frozen
class MiniProgramMessage(_Synced):
    """A Mini Program card."""

    msgtype: ClassVar[str] = "miniprogram"
    miniprogram: MiniProgramBody = attrs.field(factory=MiniProgramBody)


@attrs.frozen
class MsgMenuBody:
    """``msgmenu``: items stay raw dicts (``{"type": …, <type>: {...}}``)."""

    head_content: str = ""
    list: tuple[dict[str, Any], ...] = ()
    tail_content: str = ""


@attrs.frozen
class MsgMenuMessage(_Synced):
    """A menu message (sent by a servicer from the client)."""

    msgtype: ClassVar[str] = "msgmenu"
    msgmenu: MsgMenuBody = attrs.field(factory=MsgMenuBody)


@attrs.frozen
class ChannelsShopProductBody:
    """``channels_shop_product``: a Channels shop product."""

    product_id: str = ""
    head_image: str = ""
    title: str = ""
    sales_price: str = ""
    shop_nickname: str = ""
    shop_head_image: str = ""


@attrs.frozen
class ChannelsShopProductMessage(_Synced):
    """A Channels shop product (视频号商品)."""

    msgtype: ClassVar[str] = "channels_shop_product"
    channels_shop_product: ChannelsShopProductBody = attrs.field(factory=ChannelsShopProductBody)


@attrs.frozen
class ChannelsShopOrderBody:
    """``channels_shop_order``: a Channels shop order."""

    order_id: str = ""
    product_titles: str = ""
    price_wording: str = ""
    state: str = ""
    image_url: str = ""
    shop_nickname: str = ""


@attrs.frozen
class ChannelsShopOrderMessage(_Synced):
    """A Channels shop order (视频号订单)."""

    msgtype: ClassVar[str] = "channels_shop_order"
    channels_shop_order: ChannelsShopOrderBody = attrs.field(factory=ChannelsShopOrderBody)


@attrs.frozen
class MergedItem:
    """One message of a forwarded chat record; ``msg_content`` is its JSON text."""

    send_time: int = 0
    msgtype: str = ""
    sender_name: str = ""
    msg_content: str = ""


@attrs.frozen
class MergedBody:
    """``merged_msg``."""

    title: str = ""
    item: tuple[MergedItem, ...] = ()


@attrs.frozen
class MergedMessage(_Synced):
    """A forwarded chat record (聊天记录)."""

    msgtype: ClassVar[str] = "merged_msg"
    merged_msg: MergedBody = attrs.field(factory=MergedBody)


@attrs.frozen
class ChannelsBody:
    """``channels``: a Channels post, live or account."""

    sub_type: int = 0
    nickname: str = ""
    title: str = ""


@attrs.frozen
class ChannelsMessage(_Synced):
    """A Channels (视频号) share."""

    msgtype: ClassVar[str] = "channels"
    channels: ChannelsBody = attrs.field(factory=ChannelsBody)


@attrs.frozen
class NoteMessage(_Synced):
    """A note (笔记); WeChat sends no content for it."""

    msgtype: ClassVar[str] = "note"


# -- events -----------------------------------------------------------------------


@attrs.frozen
class WechatChannels:
    """The Channels account a session was entered from."""

    nickname: str = ""
    shop_nickname: str = ""
    scene: int = 0


@attrs.frozen
class EnterSessionEvent:
    """``enter_session``: a customer opened the chat; ``welcome_code`` allows a welcome."""

    event_type: ClassVar[str] = "enter_session"
    open_kfid: str | None = None
    external_userid: str | None = None
    scene: str = ""
    scene_param: str = ""
    welcome_code: str | None = None
    wechat_channels: WechatChannels | None = None


@attrs.frozen
class MsgSendFailEvent:
    """``msg_send_fail``: a message from ``send_msg`` was not delivered (``fail_type``)."""

    event_type: ClassVar[str] = "msg_send_fail"
    open_kfid: str | None = None
    external_userid: str | None = None
    fail_msgid: str = ""
    fail_type: int = 0


@attrs.frozen
class ServicerStatusChangeEvent:
    """``servicer_status_change``: a servicer started (1) or stopped (2) receiving."""

    event_type: ClassVar[str] = "servicer_status_change"
    open_kfid: str | None = None
    servicer_userid: str = ""
    status: int = 0
    stop_type: int | None = None


@attrs.frozen
class SessionStatusChangeEvent:
    """``session_status_change``: a session was taken, transferred, ended or re-entered."""

    event_type: ClassVar[str] = "session_status_change"
    open_kfid: str | None = None
    external_userid: str | None = None
    change_type: int = 0
    old_servicer_userid: str | None = None
    new_servicer_userid: str | None = None
    msg_code: str | None = None


@attrs.frozen
class UserRecallMsgEvent:
    """``user_recall_msg``: the customer recalled a message."""

    event_type: ClassVar[str] = "user_recall_msg"
    open_kfid: str | None = None
    external_userid: str | None = None
    recall_msgid: str = ""


@attrs.frozen
class ServicerRecallMsgEvent:
    """``servicer_recall_msg``: a servicer recalled a message."""

    event_type: ClassVar[str] = "servicer_recall_msg"
    open_kfid: str | None = None
    external_userid: str | None = None
    recall_msgid: str = ""
    servicer_userid: str | None = None


@attrs.frozen
class RejectCustomerMsgSwitchChangeEvent:
    """``reject_customer_msg_switch_change``: a servicer turned rejecting a customer on/off."""

    event_type: ClassVar[str] = "reject_customer_msg_switch_change"
    open_kfid: str | None = None
    external_userid: str | None = None
    servicer_userid: str | None = None
    reject_switch: int = 0


@attrs.frozen
class UnknownKfEvent:
    """An event type this SDK does not model yet; ``raw`` is the ``event`` object."""

    raw: dict[str, Any]

    @property
    def event_type(self) -> str | None:
        """The ``event_type`` WeChat sent, if any."""
        value = self.raw.get("event_type")
        return value if isinstance(value, str) else None


KfEvent = (
    EnterSessionEvent
    | MsgSendFailEvent
    | ServicerStatusChangeEvent
    | SessionStatusChangeEvent
    | UserRecallMsgEvent
    | ServicerRecallMsgEvent
    | RejectCustomerMsgSwitchChangeEvent
    | UnknownKfEvent
)
"""The ``event`` of an `EventMessage`, keyed on ``event_type``."""


def _unknown_event() -> UnknownKfEvent:
    return UnknownKfEvent(raw={})


@attrs.frozen
class EventMessage(_Synced):
    """A system event (``origin`` 4); ``event`` is typed by its ``event_type``."""

    msgtype: ClassVar[str] = "event"
    event: KfEvent = attrs.field(factory=_unknown_event)


@attrs.frozen
class UnknownKfMessage:
    """A ``msg_list`` item this SDK could not type; ``raw`` is the item as WeChat sent it.

    ``reason`` is None for a msgtype this SDK does not model yet (e.g.
    meeting, schedule). Otherwise the item has a known msgtype but fields of
    an unexpected shape, and ``reason`` names them and the error, never their
    values (``"channels_shop_order.product_titles: TypeError"``); an item
    that is not a JSON object at all has an empty ``raw``.
    """

    raw: dict[str, Any]
    reason: str | None = None

    @property
    def msgtype(self) -> str | None:
        """The ``msgtype`` WeChat sent, if any."""
        value = self.raw.get("msgtype")
        return value if isinstance(value, str) else None

    @property
    def msgid(self) -> str | None:
        """The item's ``msgid`` if it is text or an integer (as text), else None."""
        value = self.raw.get("msgid")
        if isinstance(value, int) and not isinstance(value, bool):
            # What a typed message would hold for it: the same dedup key either way.
            return str(value)
        return value if isinstance(value, str) else None


SyncedMessage = (
    TextMessage
    | ImageMessage
    | VoiceMessage
    | VideoMessage
    | FileMessage
    | LocationMessage
    | LinkMessage
    | BusinessCardMessage
    | MiniProgramMessage
    | MsgMenuMessage
    | ChannelsShopProductMessage
    | ChannelsShopOrderMessage
    | MergedMessage
    | ChannelsMessage
    | NoteMessage
    | EventMessage
    | UnknownKfMessage
)
"""One item of ``msg_list`` from ``cgi-bin/kf/sync_msg``, keyed on ``msgtype``."""

_SYNCED_TYPES: tuple[type[Any], ...] = (
    TextMessage,
    ImageMessage,
    VoiceMessage,
    VideoMessage,
    FileMessage,
    LocationMessage,
    LinkMessage,
    BusinessCardMessage,
    MiniProgramMessage,
    MsgMenuMessage,
    ChannelsShopProductMessage,
    ChannelsShopOrderMessage,
    MergedMessage,
    ChannelsMessage,
    NoteMessage,
    EventMessage,
)
_EVENT_TYPES: tuple[type[Any], ...] = (
    EnterSessionEvent,
    MsgSendFailEvent,
    ServicerStatusChangeEvent,
    SessionStatusChangeEvent,
    UserRecallMsgEvent,
    ServicerRecallMsgEvent,
    RejectCustomerMsgSwitchChangeEvent,
)

register_tagged_union(
    SyncedMessage,
    tag="msgtype",
    members={cls.msgtype: cls for cls in _SYNCED_TYPES},
    unknown=lambda raw: UnknownKfMessage(raw=raw),
)
register_tagged_union(
    KfEvent,
    tag="event_type",
    members={cls.event_type: cls for cls in _EVENT_TYPES},
    unknown=lambda raw: UnknownKfEvent(raw=raw),
)


@attrs.frozen
class SyncMsgResult:
    """One page of ``POST cgi-bin/kf/sync_msg``; store ``next_cursor`` after handling it.

    ``has_more`` may be true while ``msg_list`` is empty: keep pulling. An
    item that does not parse is an `UnknownKfMessage` in its place.
    """

    next_cursor: str = ""
    has_more: bool = False
    msg_list: tuple[SyncedMessage, ...] = ()


_log = logging.getLogger("wechat_async.wecom")
_LOGGED_ID_CHARS: Final = 64


def _structure_msg_list(value: object, _: object) -> tuple[SyncedMessage, ...]:
    # A msg_list that is not a list is a broken page, refused whole (cattrs
    # would iterate a string or an object's keys into items otherwise).
    if not isinstance(value, list):
        raise TypeError(f"expected a JSON list, got {_json_kind(value)}")
    return tuple(_synced_item(item) for item in value)


def _synced_item(item: object) -> SyncedMessage:
    """Type one item; an odd one becomes `UnknownKfMessage` instead of failing the page.

    Failing the page would fail it on every pull (WeChat returns the same item
    again), stopping the account's stream for good.
    """
    if not isinstance(item, dict):
        return _unparsed({}, f"the item is {_json_kind(item)}, not an object")
    msgid = item.get("msgid", "")
    if isinstance(msgid, bool) or not isinstance(msgid, str | int):
        # The converter would make text of it ("None", "True"): a made-up key
        # under which the consumer would skip every other such item as seen.
        return _unparsed(item, f"msgid: {_json_kind(msgid)}, not text")
    try:
        message: SyncedMessage = converter.structure(item, SyncedMessage)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - whatever one item breaks, the page goes on
        return _unparsed(item, describe_failure(exc))
    return message


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "a value"


def _unparsed(raw: dict[str, Any], reason: str) -> UnknownKfMessage:
    message = UnknownKfMessage(raw=raw, reason=reason)
    # The msgid and msgtype say which item; its content is the customer's, never logged.
    _log.warning(
        "sync_msg item msgid=%r msgtype=%r kept as UnknownKfMessage: %s",
        _loggable_id(message.msgid),
        _loggable_id(message.msgtype),
        reason,
    )
    return message


# WeChat's msgids and msgtypes are short ASCII tokens; anything else in those
# fields is odd input that may carry the customer's text, so it is not logged.
_ID_SHAPE: Final = re.compile(rf"[A-Za-z0-9_\-=+/.]{{1,{_LOGGED_ID_CHARS}}}")


def _loggable_id(value: str | None) -> str | None:
    if not value:
        return None
    return value if _ID_SHAPE.fullmatch(value) else "<not an id>"


converter.register_structure_hook(
    SyncMsgResult,
    make_dict_structure_fn(
        SyncMsgResult, converter, msg_list=override(struct_hook=_structure_msg_list)
    ),
)


# -- the kf_msg_or_event callback ------------------------------------------------


@attrs.frozen
class KfCallbackMessage:
    """The ``kf_msg_or_event`` callback: new messages wait in ``sync_msg``.

    Pass ``token`` (valid for 10 minutes) and ``open_kfid`` to ``Kf.sync_msg``.
    Fields are WeChat's ``ToUserName``, ``CreateTime``, ``MsgType``, ``Event``,
    ``Token`` and ``OpenKfId``.
    """

    to_user_name: str = ""
    create_time: int = 0
    msg_type: str = ""
    event: str = ""
    # Lets anyone holding it pull this account's messages for 10 minutes: kept out of reprs.
    token: str = attrs.field(default="", repr=False)
    open_kfid: str = ""


register_renamed(
    KfCallbackMessage,
    {
        "to_user_name": "ToUserName",
        "create_time": "CreateTime",
        "msg_type": "MsgType",
        "event": "Event",
        "token": "Token",
        "open_kfid": "OpenKfId",
    },
)


# -- responses of the other endpoints -------------------------------------------


@attrs.frozen
class AccountInfo:
    """A Kf account (``cgi-bin/kf/account/list``)."""

    open_kfid: str
    name: str = ""
    avatar: str = ""
    manage_privilege: bool | None = None


@attrs.frozen
class AccountPage:
    """A page of ``POST cgi-bin/kf/account/list``; shorter than ``limit`` means the last."""

    account_list: tuple[AccountInfo, ...] = ()


@attrs.frozen
class ServicerResult:
    """The outcome for one userid or department of ``cgi-bin/kf/servicer/add|del``."""

    userid: str | None = None
    department_id: int | None = None
    errcode: int = 0
    errmsg: str = ""

    @property
    def ok(self) -> bool:
        """Whether this entry succeeded (errcode 0, which includes "ignored")."""
        return self.errcode == 0


@attrs.frozen
class ServicerResults:
    """``result_list`` of ``cgi-bin/kf/servicer/add|del``: partial failures show here."""

    result_list: tuple[ServicerResult, ...] = ()

    @property
    def failed(self) -> tuple[ServicerResult, ...]:
        """The entries whose errcode is not 0."""
        return tuple(r for r in self.result_list if not r.ok)


@attrs.frozen
class Servicer:
    """A servicer (a user, with status 0 receiving / 1 stopped) or a department."""

    userid: str | None = None
    department_id: int | None = None
    status: int | None = None
    stop_type: int | None = None


@attrs.frozen
class ServicerList:
    """``servicer_list`` of ``GET cgi-bin/kf/servicer/list``."""

    servicer_list: tuple[Servicer, ...] = ()


@attrs.frozen
class ServiceStateInfo:
    """``POST cgi-bin/kf/service_state/get``: the state, and the servicer when it is 3."""

    service_state: ServiceState
    servicer_userid: str | None = None


@attrs.frozen
class EnterSessionContext:
    """The customer's last entry into the session within 48 hours."""

    scene: str = ""
    scene_param: str = ""
    wechat_channels: WechatChannels | None = None


@attrs.frozen
class Customer:
    """A WeChat customer (``cgi-bin/kf/customer/batchget``)."""

    external_userid: str
    nickname: str = ""
    avatar: str = ""
    gender: int = 0
    unionid: str | None = None
    enter_session_context: EnterSessionContext | None = None


@attrs.frozen
class CustomerBatch:
    """``POST cgi-bin/kf/customer/batchget``: the customers and the ids WeChat rejected."""

    customer_list: tuple[Customer, ...] = ()
    invalid_external_userid: tuple[str, ...] = ()


@attrs.frozen
class MemberRange:
    """The members configured for upgrade service."""

    userid_list: tuple[str, ...] = ()
    department_id_list: tuple[int, ...] = ()


@attrs.frozen
class GroupChatRange:
    """The group chats configured for upgrade service."""

    chat_id_list: tuple[str, ...] = ()


@attrs.frozen
class UpgradeServiceConfig:
    """``GET cgi-bin/kf/customer/get_upgrade_service_config``."""

    member_range: MemberRange = attrs.field(factory=MemberRange)
    groupchat_range: GroupChatRange = attrs.field(factory=GroupChatRange)


@attrs.frozen
class CorpStatistic:
    """One day of ``cgi-bin/kf/get_corp_statistic``."""

    session_cnt: int = 0
    customer_cnt: int = 0
    customer_msg_cnt: int = 0
    upgrade_service_customer_cnt: int = 0
    ai_session_reply_cnt: int = 0
    ai_transfer_rate: float = 0.0
    ai_knowledge_hit_rate: float = 0.0
    msg_rejected_customer_cnt: int = 0


@attrs.frozen
class CorpStatisticDay:
    """A day (``stat_time``, midnight) and its statistic."""

    stat_time: int
    statistic: CorpStatistic = attrs.field(factory=CorpStatistic)


@attrs.frozen
class CorpStatistics:
    """``POST cgi-bin/kf/get_corp_statistic``."""

    statistic_list: tuple[CorpStatisticDay, ...] = ()


@attrs.frozen
class ServicerStatistic:
    """One day of ``cgi-bin/kf/get_servicer_statistic``."""

    session_cnt: int = 0
    customer_cnt: int = 0
    customer_msg_cnt: int = 0
    reply_rate: float = 0.0
    first_reply_average_sec: float = 0.0
    satisfaction_investgate_cnt: int = 0
    satisfaction_participation_rate: float = 0.0
    satisfied_rate: float = 0.0
    middling_rate: float = 0.0
    dissatisfied_rate: float = 0.0
    upgrade_service_customer_cnt: int = 0
    upgrade_service_member_invite_cnt: int = 0
    upgrade_service_member_customer_cnt: int = 0
    upgrade_service_groupchat_invite_cnt: int = 0
    upgrade_service_groupchat_customer_cnt: int = 0
    msg_rejected_customer_cnt: int = 0


@attrs.frozen
class ServicerStatisticDay:
    """A day (``stat_time``, midnight) and its statistic."""

    stat_time: int
    statistic: ServicerStatistic = attrs.field(factory=ServicerStatistic)


@attrs.frozen
class ServicerStatistics:
    """``POST cgi-bin/kf/get_servicer_statistic``."""

    statistic_list: tuple[ServicerStatisticDay, ...] = ()


@attrs.frozen
class KnowledgeGroup:
    """A knowledge-base group (``cgi-bin/kf/knowledge/list_group``)."""

    group_id: str
    name: str = ""
    is_default: bool = False


@attrs.frozen
class KnowledgeGroupPage:
    """A page of ``POST cgi-bin/kf/knowledge/list_group``."""

    next_cursor: str = ""
    has_more: bool = False
    group_list: tuple[KnowledgeGroup, ...] = ()


@attrs.frozen
class IntentText:
    """``{"content": …}`` inside a question or answer."""

    content: str = ""


@attrs.frozen
class IntentQuestion:
    """A question: ``{"text": {"content": …}}``."""

    text: IntentText = attrs.field(factory=IntentText)


@attrs.frozen
class IntentSimilarQuestions:
    """``similar_questions``: ``{"items": [question, …]}``."""

    items: tuple[IntentQuestion, ...] = ()


@attrs.frozen
class IntentAnswer:
    """An answer; ``attachments`` stay raw dicts keyed by their ``msgtype``."""

    text: IntentText = attrs.field(factory=IntentText)
    attachments: tuple[dict[str, Any], ...] = ()


@attrs.frozen
class KnowledgeIntent:
    """A knowledge-base Q&A (``cgi-bin/kf/knowledge/list_intent``)."""

    intent_id: str
    group_id: str = ""
    question: IntentQuestion = attrs.field(factory=IntentQuestion)
    similar_questions: IntentSimilarQuestions = attrs.field(factory=IntentSimilarQuestions)
    answers: tuple[IntentAnswer, ...] = ()


@attrs.frozen
class KnowledgeIntentPage:
    """A page of ``POST cgi-bin/kf/knowledge/list_intent``."""

    next_cursor: str = ""
    has_more: bool = False
    intent_list: tuple[KnowledgeIntent, ...] = ()
