"""Official Account customer service (客服): accounts, messages, sessions, chat records.

Every method is one WeChat endpoint on api.weixin.qq.com, named after the Go
SDK silenceper/wechat in snake_case; the API path opens its docstring.
Arguments WeChat would certainly reject (a malformed ``kf_account``, a
nickname over 16 characters, a record window over 24 hours, a news message
with more than one article) raise
`InvalidArgumentError` before anything is sent.

Times for the chat records are epoch seconds or *aware* datetimes. A naive
datetime is refused rather than guessed at: read as local time it would shift
with the server's time zone, read as UTC it would silently be eight hours off
for a caller thinking in China time.

The session events that arrive on the Official Account callback
(``kf_create_session``, ``kf_close_session``, ``kf_switch_session``) are
parsed from the decrypted XML by `parse_kf_event`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, ClassVar, Final

import cattrs

from wechat_async._models import converter, structure
from wechat_async._service import Service
from wechat_async._upload import MIB, MediaSource, check_size, check_source, media_part, size_of
from wechat_async._validate import integer, text
from wechat_async.callbacks import parse_xml
from wechat_async.crypto import MessageParseError
from wechat_async.errors import InvalidArgumentError, InvalidResponseError
from wechat_async.messages import OutgoingMessage, message_body
from wechat_async.official_account.custom_messages import (
    Image,
    KfInfo,
    KfOnlineInfo,
    KfSession,
    KfSessionEvent,
    KfSessionItem,
    MiniProgramPage,
    MpNews,
    MpNewsArticle,
    MsgMenu,
    MsgRecord,
    MsgRecordPage,
    Music,
    News,
    Text,
    Video,
    Voice,
    WaitCaseList,
    WxCard,
    _KfList,
    _KfOnlineList,
    _KfSessionList,
)
from wechat_async.transport import Host

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

__all__ = ["SEND_MSG_TYPES", "Custom", "TimeArg", "parse_kf_event"]

TimeArg = dt.datetime | int
"""A moment: epoch seconds, or a timezone-aware datetime (naive ones are refused)."""

SEND_MSG_TYPES: Final = (
    Text,
    Image,
    Voice,
    Video,
    Music,
    News,
    MpNews,
    MpNewsArticle,
    WxCard,
    MiniProgramPage,
    MsgMenu,
)
"""What ``cgi-bin/message/custom/send`` takes."""

MAX_RECORD_WINDOW: Final = 24 * 3600
"""``getmsglist`` answers for at most 24 hours per call (65417 otherwise)."""
MAX_RECORDS_PER_CALL: Final = 10_000

# "帐号前缀@公众号微信号": the prefix is at most 10 letters, digits or underscores and the
# suffix (the account's WeChat ID) at most 30 characters. New accounts must match
# exactly; calls about existing ones only need the prefix@suffix shape.
_NEW_KF_ACCOUNT: Final = re.compile(r"[A-Za-z0-9_]{1,10}@[^@\s]{1,30}")
_KF_ACCOUNT: Final = re.compile(r"[^@\s]+@[^@\s]+")
_MAX_NICKNAME: Final = 16
# customservice/kfaccount/uploadheadimg: "文件大小为5M以内".
_HEAD_IMG_MAX: Final = 5 * MIB
_MAX_EPOCH: Final = 2**32 - 1

_GETMSGLIST: Final = "customservice/msgrecord/getmsglist"


def _kf_account(value: object, *, new: bool = False) -> str:
    pattern = _NEW_KF_ACCOUNT if new else _KF_ACCOUNT
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        rule = (
            "prefix of at most 10 letters, digits or _, '@', the account's WeChat ID (≤ 30)"
            if new
            else "'prefix@WeChat ID'"
        )
        raise InvalidArgumentError("kf_account", f"must be the full account: {rule}")
    return value


def _epoch(argument: str, value: object) -> int:
    """Epoch seconds from an int or an aware datetime (sub-second parts are dropped)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgumentError(
                argument,
                "is a naive datetime; pass an aware one (e.g. tzinfo=ZoneInfo('Asia/Shanghai'))"
                " or epoch seconds",
            )
        value = int(value.timestamp() // 1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(argument, "must be epoch seconds or an aware datetime")
    return integer(argument, value, 0, _MAX_EPOCH)


def _time_range(start_time: object, end_time: object) -> tuple[int, int]:
    start = _epoch("start_time", start_time)
    end = _epoch("end_time", end_time)
    if end < start:
        raise InvalidArgumentError("end_time", "must not be before start_time")
    return start, end


class Custom(Service):
    """Official Account customer service (客服), called with the account's access token."""

    host: ClassVar[Host] = Host.OFFICIAL

    # -- accounts ----------------------------------------------------------------

    async def add_kf_account(self, kf_account: str, nickname: str) -> None:
        """POST customservice/kfaccount/add: create a customer-service account.

        ``kf_account`` is ``prefix@wechat_id`` (prefix ≤ 10 of letters, digits
        and ``_``; the account's WeChat ID ≤ 30 characters); ``nickname`` at
        most 16 characters. An account holds at most 100 of them, and needs a
        WeChat ID set first.

        Raises:
            InvalidArgumentError: ``kf_account`` is not ``prefix@wechat_id`` (prefix ≤ 10 of
                ``[A-Za-z0-9_]``, WeChat ID ≤ 30), or ``nickname`` is blank or over 16 characters.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {
            "kf_account": _kf_account(kf_account, new=True),
            "nickname": text("nickname", nickname, max_chars=_MAX_NICKNAME, allow_blank=False),
        }
        await self._post("customservice/kfaccount/add", body, idempotent=False)

    async def update_kf_account(self, kf_account: str, nickname: str) -> None:
        """POST customservice/kfaccount/update: rename an account (nickname ≤ 16 characters).

        Raises:
            InvalidArgumentError: ``kf_account`` is not of the form ``prefix@wechat_id``, or
                ``nickname`` is blank or over 16 characters.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {
            "kf_account": _kf_account(kf_account),
            "nickname": text("nickname", nickname, max_chars=_MAX_NICKNAME, allow_blank=False),
        }
        await self._post("customservice/kfaccount/update", body, idempotent=True)

    async def del_kf_account(self, kf_account: str) -> None:
        """POST customservice/kfaccount/del: delete an account.

        Raises:
            InvalidArgumentError: ``kf_account`` is not of the form ``prefix@wechat_id``.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        # A second delete changes nothing more (it may answer that the account is gone).
        await self._post(
            "customservice/kfaccount/del",
            {"kf_account": _kf_account(kf_account)},
            idempotent=True,
        )

    async def get_kf_list(self) -> list[KfInfo]:
        """GET cgi-bin/customservice/getkflist: every account, bound or invited.

        Raises:
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/customservice/getkflist"
        return structure(await self._get(path), _KfList, path).kf_list

    async def get_kf_online_list(self) -> list[KfOnlineInfo]:
        """GET cgi-bin/customservice/getonlinekflist: the accounts online now.

        Raises:
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/customservice/getonlinekflist"
        return structure(await self._get(path), _KfOnlineList, path).kf_online_list

    async def invite_worker(self, kf_account: str, invite_wx: str) -> None:
        """POST customservice/kfaccount/inviteworker: invite a WeChat user to bind the account.

        The invitee confirms in WeChat; the invitation shows in
        `get_kf_list` until then.

        Raises:
            InvalidArgumentError: ``kf_account`` is not of the form ``prefix@wechat_id``, or
                ``invite_wx`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {"kf_account": _kf_account(kf_account), "invite_wx": text("invite_wx", invite_wx)}
        # The WeChat user receives an invitation: a repeat sends another.
        await self._post("customservice/kfaccount/inviteworker", body, idempotent=False)

    async def set_head_img_url(
        self,
        kf_account: str,
        file: MediaSource,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> None:
        """POST customservice/kfaccount/uploadheadimg: upload the account's avatar.

        ``file`` is a path (opened and streamed), bytes, or a binary file
        object (streamed; left open), sent as the multipart field ``media``.
        Documented: at most 5 MB (checked when the size is known); JPG, 640×640
        shows best. ``filename`` defaults to the path's or file's name, else
        ``"upload"``: pass one ending in ``.jpg`` for bytes.

        Raises:
            InvalidArgumentError: ``kf_account`` is not of the form ``prefix@wechat_id``, ``file``
                is not a path, bytes or binary file object, its known size is 0 or over 5 MB, or
                ``filename`` or ``content_type`` holds a control character (CR, LF, ...).
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "customservice/kfaccount/uploadheadimg"
        params = {"kf_account": _kf_account(kf_account)}
        check_source(file)
        check_size(size_of(file), 1, _HEAD_IMG_MAX, low_inclusive=True)
        with media_part(file, filename, content_type) as part:
            # Sets the avatar: uploading the same image again sets the same one.
            await self._post(path, params=params, files={"media": part}, idempotent=True)

    # -- messages ----------------------------------------------------------------

    async def send_msg_by_kf(
        self, touser: str, message: OutgoingMessage, *, kf_account: str | None = None
    ) -> None:
        """POST cgi-bin/message/custom/send: send a customer-service message to ``touser``.

        Takes the classes of `custom_messages`:
        Text, Image, Voice, Video, Music, News, MpNews, MpNewsArticle, WxCard,
        MiniProgramPage and MsgMenu. With ``kf_account`` the message shows
        that account's nickname and avatar; without, it comes from the
        Official Account itself. WeChat allows it only within a window after
        the customer's last action (48 hours after a message).

        Raises:
            InvalidArgumentError: ``touser`` is empty, ``message`` is not one of
                `SEND_MSG_TYPES`, or ``kf_account`` is not of the form ``prefix@wechat_id``.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/message/custom/send"
        body: dict[str, Any] = {"touser": text("touser", touser)}
        body.update(message_body(message, SEND_MSG_TYPES, path))
        if kf_account is not None:
            body["customservice"] = {"kf_account": _kf_account(kf_account)}
        # Sent twice, the follower reads it twice.
        await self._post(path, body, idempotent=False)

    async def typing(self, touser: str, typing: bool = True) -> None:  # noqa: FBT001, FBT002
        """POST cgi-bin/message/custom/typing: show (or, with False, cancel) "typing…".

        WeChat needs a message exchange with the customer in the last 30
        seconds, and refuses a second ``Typing`` while one is showing (45081).

        Raises:
            InvalidArgumentError: ``touser`` is empty or ``typing`` is not a bool.
            APIError: WeChat refused the call, e.g. 45081 while a ``Typing`` is already showing.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        if not isinstance(typing, bool):
            raise InvalidArgumentError("typing", "must be True (Typing) or False (CancelTyping)")
        body = {"touser": text("touser", touser), "command": "Typing" if typing else "CancelTyping"}
        # A status shown for 15 s; showing (or cancelling) it again leaves it as set.
        await self._post("cgi-bin/message/custom/typing", body, idempotent=True)

    # -- sessions ----------------------------------------------------------------

    async def create_kf_session(self, kf_account: str, openid: str) -> None:
        """POST customservice/kfsession/create: put the customer in a session with the account.

        The account must be bound to a WeChat user and online.

        Raises:
            InvalidArgumentError: ``kf_account`` is not of the form ``prefix@wechat_id``, or
                ``openid`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {"kf_account": _kf_account(kf_account), "openid": text("openid", openid)}
        # Starting a session is an event the account's servicer sees, and a
        # repeat after the first landed fails for a session that exists.
        await self._post("customservice/kfsession/create", body, idempotent=False)

    async def close_kf_session(self, kf_account: str, openid: str) -> None:
        """POST customservice/kfsession/close: end the customer's session with the account.

        Raises:
            InvalidArgumentError: ``kf_account`` is not of the form ``prefix@wechat_id``, or
                ``openid`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {"kf_account": _kf_account(kf_account), "openid": text("openid", openid)}
        # Like a delete: closing again changes nothing more.
        await self._post("customservice/kfsession/close", body, idempotent=True)

    async def get_kf_session(self, openid: str) -> KfSession:
        """GET customservice/kfsession/getsession: the customer's session, if any.

        ``kf_account`` is empty when the customer is in no session.

        Raises:
            InvalidArgumentError: ``openid`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "customservice/kfsession/getsession"
        reply = await self._get(path, {"openid": text("openid", openid)})
        return structure(reply, KfSession, path)

    async def get_kf_session_list(self, kf_account: str) -> list[KfSessionItem]:
        """GET customservice/kfsession/getsessionlist: the account's open sessions.

        Raises:
            InvalidArgumentError: ``kf_account`` is not of the form ``prefix@wechat_id``.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "customservice/kfsession/getsessionlist"
        reply = await self._get(path, {"kf_account": _kf_account(kf_account)})
        return structure(reply, _KfSessionList, path).sessionlist

    async def get_wait_case_list(self) -> WaitCaseList:
        """GET customservice/kfsession/getwaitcase: customers waiting (count, first 100).

        Raises:
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "customservice/kfsession/getwaitcase"
        return structure(await self._get(path), WaitCaseList, path)

    # -- chat records ------------------------------------------------------------

    async def get_msg_list(
        self, start_time: TimeArg, end_time: TimeArg, msgid: int = 1, number: int = 10_000
    ) -> MsgRecordPage:
        """POST customservice/msgrecord/getmsglist: one page of chat records.

        ``start_time`` and ``end_time`` are epoch seconds or aware datetimes,
        at most 24 hours apart; ``msgid`` starts at 1 and ``number`` is 1 to
        10000. For longer ranges and all pages use `iter_msg_list`.

        Raises:
            InvalidArgumentError: a time is neither epoch seconds nor an aware datetime, the window
                is reversed or over 24 hours, ``msgid`` is below 1, or ``number`` is not 1 to 10000.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        start, end = _time_range(start_time, end_time)
        if end - start > MAX_RECORD_WINDOW:
            raise InvalidArgumentError(
                "end_time", "the window may be at most 24 hours; use iter_msg_list for more"
            )
        body = {
            "starttime": start,
            "endtime": end,
            "msgid": integer("msgid", msgid, 1),
            "number": integer("number", number, 1, MAX_RECORDS_PER_CALL),
        }
        return structure(
            await self._post(_GETMSGLIST, body, idempotent=True), MsgRecordPage, _GETMSGLIST
        )

    async def iter_msg_list(
        self, start_time: TimeArg, end_time: TimeArg, *, number: int = 10_000
    ) -> AsyncIterator[MsgRecord]:
        """POST customservice/msgrecord/getmsglist, window by window and page by page.

        Any range: it is cut into windows of at most 24 hours, both ends
        inclusive, each starting one second after the previous one ended so
        no second is asked for twice. Within a window the first page starts at
        msgid 1 and each next page at the ``msgid`` the previous one returned;
        a page with fewer than ``number`` records ends the window.

        Raises:
            InvalidArgumentError: a time is neither epoch seconds nor an aware datetime, the range
                ends before it starts, or ``number`` is not 1 to 10000.
            APIError: WeChat refused a page request.
            InvalidResponseError: a full page came back without advancing ``msgid``.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        start, end = _time_range(start_time, end_time)
        integer("number", number, 1, MAX_RECORDS_PER_CALL)
        window_start = start
        while window_start <= end:
            window_end = min(window_start + MAX_RECORD_WINDOW, end)
            msgid = 1
            while True:
                page = await self.get_msg_list(window_start, window_end, msgid, number)
                for record in page.recordlist:
                    yield record
                if len(page.recordlist) < number:
                    break
                if page.msgid <= msgid:
                    # Asking again from the same msgid would loop forever.
                    raise InvalidResponseError(
                        "a full page came back but msgid did not advance", _GETMSGLIST
                    )
                msgid = page.msgid
            window_start = window_end + 1


def parse_kf_event(xml: bytes | str) -> KfSessionEvent:
    """A customer-service session event from the decrypted callback XML.

    ``kf_create_session``, ``kf_close_session`` and ``kf_switch_session``
    become their models; any other ``Event`` an
    `UnknownKfSessionEvent`.
    Malformed XML raises `MessageParseError`.

    Raises:
        MessageParseError: the XML is malformed, nested over 32 levels deep or declares a
            DOCTYPE or entity, or a known event has a field of the wrong type.
        MessageTooLargeError: ``xml`` is over 2**20 bytes (characters, for a str).
    """
    return _event_model(parse_xml(xml))


def _event_model(data: Mapping[str, Any]) -> KfSessionEvent:
    try:
        return converter.structure(dict(data), KfSessionEvent)  # type: ignore[arg-type]
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise MessageParseError("callback payload has an unexpected shape") from exc
