"""WeCom Kf (微信客服): accounts, servicers, messages, sessions, customers, statistics, knowledge.

Every method is one WeChat endpoint on qyapi.weixin.qq.com, named after the
Go SDK silenceper/wechat in snake_case; the API path opens its docstring.
Arguments WeChat would certainly reject (empty ids, documented length and
list limits) raise `InvalidArgumentError` before
anything is sent. Callbacks (``kf_msg_or_event``) need the ``crypto`` the
service was built with; the signature is always checked.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import cattrs

from wechat_async._models import converter, structure, unstructure_omitting_none
from wechat_async._service import Service
from wechat_async._validate import (
    integer,
    member_lists,
    omit_none,
    one_or_both,
    optional_text,
    str_list,
    text,
)
from wechat_async.callbacks import parse_json, parse_xml
from wechat_async.crypto import MessageParseError
from wechat_async.errors import ConfigurationError, InvalidArgumentError, InvalidResponseError
from wechat_async.wecom.kf_messages import (
    AccountInfo,
    AccountPage,
    CorpStatistics,
    CustomerBatch,
    IntentLink,
    KfCallbackMessage,
    KnowledgeGroupPage,
    KnowledgeIntentPage,
    Link,
    Location,
    MiniProgram,
    MsgMenu,
    ServicerList,
    ServicerResults,
    ServicerStatistics,
    ServiceState,
    ServiceStateInfo,
    SyncMsgResult,
    UpgradeGroupChat,
    UpgradeMember,
    UpgradeServiceConfig,
    UpgradeType,
)
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
    from wechat_async.crypto import MessageCrypto
    from wechat_async.tokens.base import TokenProvider
    from wechat_async.transport import Transport

__all__ = ["Kf"]

_T = TypeVar("_T")

SEND_MSG_TYPES: Final = (Text, Image, Voice, Video, File, Link, MiniProgram, MsgMenu, Location)
"""What ``cgi-bin/kf/send_msg`` takes."""
SEND_MSG_ON_EVENT_TYPES: Final = (Text, MsgMenu)
"""What ``cgi-bin/kf/send_msg_on_event`` takes."""
INTENT_ATTACHMENT_TYPES: Final = (Image, Video, IntentLink, MiniProgram)
"""What a knowledge-base answer may carry as attachments."""

_MAX_ACCOUNT_PAGE: Final = 100
_MAX_SERVICERS: Final = 100
_MAX_CUSTOMERS: Final = 100
_MAX_SYNC_LIMIT: Final = 1000
_MAX_KNOWLEDGE_LIMIT: Final = 1000
_MAX_STAT_SPAN: Final = 31 * 86400
_MSGID: Final = re.compile(r"[0-9A-Za-z_-]{1,32}")
_SCENE: Final = re.compile(r"[0-9A-Za-z_-]{0,32}")


# -- argument checks -------------------------------------------------------------


def _msgid(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or _MSGID.fullmatch(value) is None):
        raise InvalidArgumentError("msgid", "must be 1-32 characters of [0-9A-Za-z_-]")
    return value


def _text_length(message: OutgoingMessage) -> None:
    if isinstance(message, Text) and len(message.content.encode()) > 2048:  # noqa: PLR2004
        raise InvalidArgumentError("message", "text content must be at most 2048 bytes")


def _time_range(start_time: object, end_time: object) -> tuple[int, int]:
    start = integer("start_time", start_time, 0, 2**32 - 1)
    end = integer("end_time", end_time, 0, 2**32 - 1)
    if end < start:
        raise InvalidArgumentError("end_time", "must not be before start_time")
    if end - start > _MAX_STAT_SPAN:
        raise InvalidArgumentError("end_time", "the span may be at most 31 days")
    return start, end


def _first_byte(body: bytes | str) -> str:
    head = body.lstrip()[:1]
    return head.decode("ascii", "replace") if isinstance(head, bytes) else head


class Kf(Service):
    """WeCom Kf (微信客服), called with the Kf secret's access token.

    ``crypto`` (token, EncodingAESKey and corpid of the Kf callback settings)
    is needed only for `verify_url` and `get_callback_message`.
    """

    def __init__(
        self, transport: Transport, token: TokenProvider, crypto: MessageCrypto | None = None
    ) -> None:
        """Use ``transport`` and ``token`` for calls, ``crypto`` for callbacks."""
        super().__init__(transport, token)
        self._crypto = crypto

    async def _post_as(self, path: str, body: object, cls: type[_T], *, idempotent: bool) -> _T:
        return structure(await self._post(path, body, idempotent=idempotent), cls, path)

    # -- accounts ----------------------------------------------------------------

    async def account_add(self, name: str, media_id: str) -> str:
        """POST cgi-bin/kf/account/add: create a Kf account; returns its open_kfid.

        ``name`` at most 16 characters; ``media_id`` an avatar from Media.upload.

        Raises:
            InvalidArgumentError: ``name`` is empty or over 16 characters, or ``media_id`` is empty
                or over 128 bytes.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/account/add"
        body = {
            "name": text("name", name, max_chars=16),
            "media_id": text("media_id", media_id, max_bytes=128),
        }
        reply = await self._post(path, body, idempotent=False)
        open_kfid = reply.get("open_kfid")
        if not isinstance(open_kfid, str) or not open_kfid:
            raise InvalidResponseError("no open_kfid in the reply", path)
        return open_kfid

    async def account_del(self, open_kfid: str) -> None:
        """POST cgi-bin/kf/account/del: delete a Kf account.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        # A second delete changes nothing more; it may answer that the account is
        # gone, and may_have_taken_effect then tells the caller why.
        await self._post(
            "cgi-bin/kf/account/del", {"open_kfid": _open_kfid(open_kfid)}, idempotent=True
        )

    async def account_update(
        self, open_kfid: str, *, name: str | None = None, media_id: str | None = None
    ) -> None:
        """POST cgi-bin/kf/account/update: rename an account or change its avatar (one at least).

        Raises:
            InvalidArgumentError: neither ``name`` nor ``media_id`` is given, or ``open_kfid`` (64
                bytes), ``name`` (16 characters) or ``media_id`` (128 bytes) is empty or too long.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body: dict[str, Any] = {"open_kfid": _open_kfid(open_kfid)}
        one_or_both("name", name, "media_id", media_id)
        if name is not None:
            body["name"] = text("name", name, max_chars=16)
        if media_id is not None:
            body["media_id"] = text("media_id", media_id, max_bytes=128)
        await self._post("cgi-bin/kf/account/update", body, idempotent=True)

    async def account_list(self, offset: int = 0, limit: int = 100) -> AccountPage:
        """POST cgi-bin/kf/account/list: one page of accounts (``limit`` 1-100).

        Raises:
            InvalidArgumentError: ``offset`` is not an integer from 0 to 2**32 - 1, or ``limit`` is
                not from 1 to 100.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {
            "offset": integer("offset", offset, 0, 2**32 - 1),
            "limit": integer("limit", limit, 1, _MAX_ACCOUNT_PAGE),
        }
        return await self._post_as("cgi-bin/kf/account/list", body, AccountPage, idempotent=True)

    async def iter_accounts(self, *, page_size: int = 100) -> AsyncIterator[AccountInfo]:
        """POST cgi-bin/kf/account/list, page after page: every account.

        Stops at the first page shorter than ``page_size``, as the docs say.

        Raises:
            InvalidArgumentError: ``page_size`` is not an integer from 1 to 100 (checked when
                iteration starts).
            APIError: WeChat refused a page request.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        integer("page_size", page_size, 1, _MAX_ACCOUNT_PAGE)
        offset = 0
        while True:
            page = await self.account_list(offset, page_size)
            for account in page.account_list:
                yield account
            if len(page.account_list) < page_size:
                return
            offset += page_size

    async def add_contact_way(self, open_kfid: str, scene: str = "") -> str:
        """POST cgi-bin/kf/add_contact_way: the account's chat link; returns the url.

        ``scene`` (at most 32 of ``[0-9A-Za-z_-]``) comes back in enter_session.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, or ``scene`` is not at
                most 32 characters of ``[0-9A-Za-z_-]``.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/add_contact_way"
        if not isinstance(scene, str) or _SCENE.fullmatch(scene) is None:
            raise InvalidArgumentError("scene", "must be at most 32 characters of [0-9A-Za-z_-]")
        body: dict[str, Any] = {"open_kfid": _open_kfid(open_kfid)}
        if scene:
            body["scene"] = scene
        # WeChat does not promise the same url for the same scene: a create.
        reply = await self._post(path, body, idempotent=False)
        url = reply.get("url")
        if not isinstance(url, str) or not url:
            raise InvalidResponseError("no url in the reply", path)
        return url

    # -- servicers (接待人员) ------------------------------------------------------

    def _servicer_body(
        self, open_kfid: str, userid_list: Sequence[str], department_id_list: Sequence[int]
    ) -> dict[str, Any]:
        lists = member_lists(
            userids=("userid_list", userid_list, _MAX_SERVICERS),
            department_ids=("department_id_list", department_id_list, _MAX_SERVICERS),
        )
        return {"open_kfid": _open_kfid(open_kfid), **lists}

    async def receptionist_add(
        self,
        open_kfid: str,
        userid_list: Sequence[str] = (),
        department_id_list: Sequence[int] = (),
    ) -> ServicerResults:
        """POST cgi-bin/kf/servicer/add: add servicers (at most 100 users and 100 departments).

        Check ``.failed`` on the result: WeChat reports each entry separately.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, or both lists are empty,
                one holds over 100 items, or one has a blank userid or a non-int id.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = self._servicer_body(open_kfid, userid_list, department_id_list)
        # Adding a servicer twice leaves one servicer (a repeat reports the entry as failed).
        return await self._post_as(
            "cgi-bin/kf/servicer/add", body, ServicerResults, idempotent=True
        )

    async def receptionist_del(
        self,
        open_kfid: str,
        userid_list: Sequence[str] = (),
        department_id_list: Sequence[int] = (),
    ) -> ServicerResults:
        """POST cgi-bin/kf/servicer/del: remove servicers; per-entry results as for add.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, or both lists are empty,
                one holds over 100 items, or one has a blank userid or a non-int id.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = self._servicer_body(open_kfid, userid_list, department_id_list)
        return await self._post_as(
            "cgi-bin/kf/servicer/del", body, ServicerResults, idempotent=True
        )

    async def receptionist_list(self, open_kfid: str) -> ServicerList:
        """GET cgi-bin/kf/servicer/list: the account's servicers (users and departments).

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/servicer/list"
        reply = await self._get(path, {"open_kfid": _open_kfid(open_kfid)})
        return structure(reply, ServicerList, path)

    # -- messages ----------------------------------------------------------------

    async def sync_msg(
        self,
        *,
        cursor: str | None = None,
        token: str | None = None,
        limit: int = 1000,
        voice_format: int | None = None,
        open_kfid: str | None = None,
    ) -> SyncMsgResult:
        """POST cgi-bin/kf/sync_msg: read one page of messages and events.

        ``token`` comes from the callback (valid 10 minutes; without it the
        call is strictly rate-limited); ``cursor`` is the last ``next_cursor``.
        Unset optional fields are left out of the body.

        Raises:
            InvalidArgumentError: ``limit`` is not 1-1000, ``voice_format`` not 0 or 1, or
                ``cursor`` (64 bytes), ``token`` (128) or ``open_kfid`` (64) is empty or too long.
            APIError: WeChat refused the call, e.g. 45033 (`RateLimitError`) for too many calls at
                once.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body: dict[str, Any] = {"limit": integer("limit", limit, 1, _MAX_SYNC_LIMIT)}
        if cursor is not None:
            body["cursor"] = text("cursor", cursor, max_bytes=64)
        if token is not None:
            body["token"] = text("token", token, max_bytes=128)
        if voice_format is not None:
            body["voice_format"] = integer("voice_format", voice_format, 0, 1)
        if open_kfid is not None:
            body["open_kfid"] = _open_kfid(open_kfid)
        # A read: the cursor is the caller's, so asking again with it is safe.
        return await self._post_as("cgi-bin/kf/sync_msg", body, SyncMsgResult, idempotent=True)

    async def iter_sync_msg(
        self,
        *,
        cursor: str | None = None,
        token: str | None = None,
        limit: int = 1000,
        voice_format: int | None = None,
        open_kfid: str | None = None,
    ) -> AsyncIterator[SyncMsgResult]:
        """POST cgi-bin/kf/sync_msg until ``has_more`` is false, one page at a time.

        Pages, not messages, so the caller can store each ``next_cursor``
        once that page is handled.

        Raises:
            InvalidArgumentError: as for `sync_msg`: ``limit``, ``voice_format``, ``cursor``,
                ``token`` or ``open_kfid`` breaks its rule (checked by the first page request).
            APIError: WeChat refused a page request, e.g. 45033 (`RateLimitError`) for too many at
                once.
            InvalidResponseError: ``has_more`` is set but ``next_cursor`` did not advance.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        while True:
            page = await self.sync_msg(
                cursor=cursor,
                token=token,
                limit=limit,
                voice_format=voice_format,
                open_kfid=open_kfid,
            )
            yield page
            if not page.has_more:
                return
            if not page.next_cursor or page.next_cursor == cursor:
                # Asking again with the same cursor would loop forever.
                raise InvalidResponseError(
                    "has_more is set but next_cursor did not advance", "cgi-bin/kf/sync_msg"
                )
            cursor = page.next_cursor

    async def send_msg(
        self, touser: str, open_kfid: str, message: OutgoingMessage, *, msgid: str | None = None
    ) -> str:
        """POST cgi-bin/kf/send_msg: send to a customer; returns the msgid.

        Takes Text, Image, Voice, Video, File, Link, MiniProgram, MsgMenu and
        Location. A success does not mean delivery: watch msg_send_fail events.

        Raises:
            InvalidArgumentError: ``touser`` empty, ``open_kfid`` empty or over 64 bytes, ``msgid``
                not 1-32 of ``[0-9A-Za-z_-]``, ``message`` unlisted or text over 2048 bytes.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/send_msg"
        body: dict[str, Any] = {
            "touser": text("touser", touser),
            "open_kfid": _open_kfid(open_kfid),
        }
        if _msgid(msgid) is not None:
            body["msgid"] = msgid
        body.update(message_body(message, SEND_MSG_TYPES, path))
        _text_length(message)
        # Sent twice, the customer reads it twice. WeChat's docs do not say that a
        # repeated msgid is refused, so not even a msgid makes it safe to repeat.
        return _reply_msgid(await self._post(path, body, idempotent=False), path)

    async def send_msg_on_event(
        self, code: str, message: OutgoingMessage, *, msgid: str | None = None
    ) -> str:
        """POST cgi-bin/kf/send_msg_on_event: answer an event (welcome_code, msg_code).

        Only Text and MsgMenu; the code works once, within 20 seconds.

        Raises:
            InvalidArgumentError: ``code`` is empty, ``msgid`` is not 1-32 of ``[0-9A-Za-z_-]``, or
                ``message`` is not a Text or MsgMenu, or is a text over 2048 bytes.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/send_msg_on_event"
        body: dict[str, Any] = {"code": text("code", code)}
        if _msgid(msgid) is not None:
            body["msgid"] = msgid
        body.update(message_body(message, SEND_MSG_ON_EVENT_TYPES, path))
        _text_length(message)
        # The code works once: a repeat after the first landed is refused, and
        # the caller would see an error for a message the customer got.
        return _reply_msgid(await self._post(path, body, idempotent=False), path)

    # -- sessions ----------------------------------------------------------------

    async def service_state_get(self, open_kfid: str, external_userid: str) -> ServiceStateInfo:
        """POST cgi-bin/kf/service_state/get: the session state and, if 3, its servicer.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, or ``external_userid`` is
                empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {
            "open_kfid": _open_kfid(open_kfid),
            "external_userid": text("external_userid", external_userid),
        }
        return await self._post_as(
            "cgi-bin/kf/service_state/get", body, ServiceStateInfo, idempotent=True
        )

    async def service_state_trans(
        self,
        open_kfid: str,
        external_userid: str,
        service_state: ServiceState | int,
        servicer_userid: str | None = None,
    ) -> str:
        """POST cgi-bin/kf/service_state/trans: move a session; returns msg_code (may be "").

        ``servicer_userid`` is required for state 3. Use msg_code with
        `send_msg_on_event` for the reply or closing words.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, ``external_userid`` is
                empty, ``service_state`` not 0-4, or ``servicer_userid`` empty or (state 3) missing.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/service_state/trans"
        state = integer("service_state", service_state, 0, 4)
        body: dict[str, Any] = {
            "open_kfid": _open_kfid(open_kfid),
            "external_userid": text("external_userid", external_userid),
            "service_state": state,
        }
        if servicer_userid is not None:
            body["servicer_userid"] = text("servicer_userid", servicer_userid)
        elif state == ServiceState.SERVICER:
            raise InvalidArgumentError("servicer_userid", "is required for service_state 3")
        # A transition (with its msg_code), not a state to set: 3 -> 3 hands over again.
        reply = await self._post(path, body, idempotent=False)
        code = reply.get("msg_code", "")
        return code if isinstance(code, str) else ""

    # -- customers and upgrade service ----------------------------------------------

    async def customer_batch_get(
        self, external_userid_list: Sequence[str], *, need_enter_session_context: bool = False
    ) -> CustomerBatch:
        """POST cgi-bin/kf/customer/batchget: customers' profiles (1-100 ids a call).

        Raises:
            InvalidArgumentError: ``external_userid_list`` is empty, holds over 100 ids, or holds a
                blank id.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {
            "external_userid_list": str_list(
                "external_userid_list",
                external_userid_list,
                allow_empty=False,
                max_items=_MAX_CUSTOMERS,
            ),
            "need_enter_session_context": 1 if need_enter_session_context else 0,
        }
        return await self._post_as(
            "cgi-bin/kf/customer/batchget", body, CustomerBatch, idempotent=True
        )

    async def upgrade_service_config(self) -> UpgradeServiceConfig:
        """GET cgi-bin/kf/customer/get_upgrade_service_config: the members and groups set up.

        Raises:
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/customer/get_upgrade_service_config"
        return structure(await self._get(path), UpgradeServiceConfig, path)

    async def upgrade_service(
        self,
        open_kfid: str,
        external_userid: str,
        type: UpgradeType | int,  # noqa: A002 - WeChat's field name, fixed by the API
        member: UpgradeMember | None = None,
        groupchat: UpgradeGroupChat | None = None,
    ) -> None:
        """POST cgi-bin/kf/customer/upgrade_service: recommend a member (1) or group chat (2).

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, ``external_userid`` is
                empty, ``type`` is not 1 or 2, or its ``member`` / ``groupchat`` is missing.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        kind = integer("type", type, 1, 2)
        body: dict[str, Any] = {
            "open_kfid": _open_kfid(open_kfid),
            "external_userid": text("external_userid", external_userid),
            "type": kind,
        }
        if kind == UpgradeType.MEMBER:
            if not isinstance(member, UpgradeMember):
                raise InvalidArgumentError("member", "is required for type 1")
            body["member"] = unstructure_omitting_none(member)
        else:
            if not isinstance(groupchat, UpgradeGroupChat):
                raise InvalidArgumentError("groupchat", "is required for type 2")
            body["groupchat"] = unstructure_omitting_none(groupchat)
        # The customer is shown the recommendation: a repeat shows it again.
        await self._post("cgi-bin/kf/customer/upgrade_service", body, idempotent=False)

    async def upgrade_member_service(
        self, open_kfid: str, external_userid: str, userid: str, wording: str | None = None
    ) -> None:
        """POST cgi-bin/kf/customer/upgrade_service: recommend the member ``userid``.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, or ``external_userid`` or
                ``userid`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        await self.upgrade_service(
            open_kfid, external_userid, UpgradeType.MEMBER, member=UpgradeMember(userid, wording)
        )

    async def upgrade_group_chat_service(
        self, open_kfid: str, external_userid: str, chat_id: str, wording: str | None = None
    ) -> None:
        """POST cgi-bin/kf/customer/upgrade_service: recommend the group chat ``chat_id``.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, or ``external_userid`` or
                ``chat_id`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        await self.upgrade_service(
            open_kfid,
            external_userid,
            UpgradeType.GROUPCHAT,
            groupchat=UpgradeGroupChat(chat_id, wording),
        )

    async def upgrade_service_cancel(self, open_kfid: str, external_userid: str) -> None:
        """POST cgi-bin/kf/customer/cancel_upgrade_service: withdraw the recommendation.

        Raises:
            InvalidArgumentError: ``open_kfid`` is empty or over 64 bytes, or ``external_userid`` is
                empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {
            "open_kfid": _open_kfid(open_kfid),
            "external_userid": text("external_userid", external_userid),
        }
        # Withdrawn twice is withdrawn.
        await self._post("cgi-bin/kf/customer/cancel_upgrade_service", body, idempotent=True)

    # -- corp and statistics -------------------------------------------------------

    async def get_corp_qualification(self) -> bool:
        """GET cgi-bin/kf/get_corp_qualification: whether a Channels account is bound.

        Returns ``wechat_channels_binding``; it limits how many customers Kf may serve.

        Raises:
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/get_corp_qualification"
        reply = await self._get(path)
        binding = reply.get("wechat_channels_binding", False)
        if not isinstance(binding, bool):
            raise InvalidResponseError("wechat_channels_binding is not a boolean", path)
        return binding

    async def get_corp_statistic(
        self, start_time: int, end_time: int, open_kfid: str | None = None
    ) -> CorpStatistics:
        """POST cgi-bin/kf/get_corp_statistic: daily totals (midnight timestamps, ≤ 31 days).

        Raises:
            InvalidArgumentError: the times are not 0 to 2**32 - 1 with ``end_time`` 0-31 days
                later, or ``open_kfid`` is empty or over 64 bytes.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        start, end = _time_range(start_time, end_time)
        body: dict[str, Any] = {"start_time": start, "end_time": end}
        if open_kfid is not None:
            body["open_kfid"] = _open_kfid(open_kfid)
        return await self._post_as(
            "cgi-bin/kf/get_corp_statistic", body, CorpStatistics, idempotent=True
        )

    async def get_servicer_statistic(
        self,
        start_time: int,
        end_time: int,
        open_kfid: str | None = None,
        servicer_userid: str | None = None,
    ) -> ServicerStatistics:
        """POST cgi-bin/kf/get_servicer_statistic: daily figures per servicer, 31 days at most.

        Raises:
            InvalidArgumentError: the times are not 0 to 2**32 - 1 with ``end_time`` 0-31 days
                later, ``open_kfid`` is empty or over 64 bytes, or ``servicer_userid`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        start, end = _time_range(start_time, end_time)
        body: dict[str, Any] = {"start_time": start, "end_time": end}
        if open_kfid is not None:
            body["open_kfid"] = _open_kfid(open_kfid)
        if servicer_userid is not None:
            body["servicer_userid"] = text("servicer_userid", servicer_userid)
        return await self._post_as(
            "cgi-bin/kf/get_servicer_statistic", body, ServicerStatistics, idempotent=True
        )

    # -- knowledge base ------------------------------------------------------------

    async def add_knowledge_group(self, name: str) -> str:
        """POST cgi-bin/kf/knowledge/add_group: create a group (name ≤ 12 characters); its id.

        Raises:
            InvalidArgumentError: ``name`` is empty or over 12 characters.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/knowledge/add_group"
        reply = await self._post(path, {"name": text("name", name, max_chars=12)}, idempotent=False)
        group_id = reply.get("group_id")
        if not isinstance(group_id, str) or not group_id:
            raise InvalidResponseError("no group_id in the reply", path)
        return group_id

    async def del_knowledge_group(self, group_id: str) -> None:
        """POST cgi-bin/kf/knowledge/del_group: delete a group (not the default one).

        Raises:
            InvalidArgumentError: ``group_id`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        await self._post(
            "cgi-bin/kf/knowledge/del_group",
            {"group_id": text("group_id", group_id)},
            idempotent=True,
        )

    async def mod_knowledge_group(self, group_id: str, name: str) -> None:
        """POST cgi-bin/kf/knowledge/mod_group: rename a group (not the default one).

        Raises:
            InvalidArgumentError: ``group_id`` is empty, or ``name`` is empty or over 12 characters.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {"group_id": text("group_id", group_id), "name": text("name", name, max_chars=12)}
        await self._post("cgi-bin/kf/knowledge/mod_group", body, idempotent=True)

    async def list_knowledge_group(
        self, *, cursor: str | None = None, limit: int | None = None, group_id: str | None = None
    ) -> KnowledgeGroupPage:
        """POST cgi-bin/kf/knowledge/list_group: a page of groups (``limit`` ≤ 1000).

        Raises:
            InvalidArgumentError: ``cursor`` or ``group_id`` is empty, or ``limit`` is not from 1 to
                1000.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = _knowledge_page_body(cursor, limit, group_id=group_id)
        return await self._post_as(
            "cgi-bin/kf/knowledge/list_group", body, KnowledgeGroupPage, idempotent=True
        )

    async def add_knowledge_intent(
        self,
        group_id: str,
        question: str,
        answer: str,
        *,
        similar_questions: Sequence[str] = (),
        attachments: Sequence[OutgoingMessage] = (),
    ) -> str:
        """POST cgi-bin/kf/knowledge/add_intent: add a Q&A; returns its intent_id.

        ``attachments`` are Image, Video, IntentLink or MiniProgram.

        Raises:
            InvalidArgumentError: ``group_id``, ``question``, ``answer`` or a similar question is
                empty, or ``attachments`` is not a list of the types above.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/knowledge/add_intent"
        body = {
            "group_id": text("group_id", group_id),
            **_intent_body(question, answer, similar_questions, attachments, path),
        }
        reply = await self._post(path, body, idempotent=False)
        intent_id = reply.get("intent_id")
        if not isinstance(intent_id, str) or not intent_id:
            raise InvalidResponseError("no intent_id in the reply", path)
        return intent_id

    async def del_knowledge_intent(self, intent_id: str) -> None:
        """POST cgi-bin/kf/knowledge/del_intent: delete a Q&A.

        Raises:
            InvalidArgumentError: ``intent_id`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {"intent_id": text("intent_id", intent_id)}
        await self._post("cgi-bin/kf/knowledge/del_intent", body, idempotent=True)

    async def mod_knowledge_intent(
        self,
        intent_id: str,
        question: str,
        answer: str,
        *,
        similar_questions: Sequence[str] = (),
        attachments: Sequence[OutgoingMessage] = (),
    ) -> None:
        """POST cgi-bin/kf/knowledge/mod_intent: replace a Q&A's question, answer and extras.

        Raises:
            InvalidArgumentError: ``intent_id``, ``question``, ``answer`` or a similar question is
                empty, or ``attachments`` is not a list of Image, Video, IntentLink, MiniProgram.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/kf/knowledge/mod_intent"
        body = {
            "intent_id": text("intent_id", intent_id),
            **_intent_body(question, answer, similar_questions, attachments, path),
        }
        # Replaces the whole Q&A, so a repeat sets the same content.
        await self._post(path, body, idempotent=True)

    async def list_knowledge_intent(
        self,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        group_id: str | None = None,
        intent_id: str | None = None,
    ) -> KnowledgeIntentPage:
        """POST cgi-bin/kf/knowledge/list_intent: a page of Q&As (``limit`` ≤ 1000).

        Raises:
            InvalidArgumentError: ``cursor``, ``group_id`` or ``intent_id`` is empty, or ``limit``
                is not from 1 to 1000.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = _knowledge_page_body(cursor, limit, group_id=group_id, intent_id=intent_id)
        return await self._post_as(
            "cgi-bin/kf/knowledge/list_intent", body, KnowledgeIntentPage, idempotent=True
        )

    # -- callbacks -----------------------------------------------------------------

    def _require_crypto(self) -> MessageCrypto:
        if self._crypto is None:
            raise ConfigurationError(
                "Kf was built without crypto: pass MessageCrypto(token, encoding_aes_key, corpid) "
                "to handle callbacks"
            )
        return self._crypto

    async def verify_url(
        self, msg_signature: str, timestamp: str | int, nonce: str | int, echostr: str
    ) -> str:
        """GET `<callback URL>`: check WeChat's URL verification and return the echostr to answer.

        Raises:
            ConfigurationError: the service was built without ``crypto``.
            CryptoError: the check fails: `InvalidSignatureError` for a bad
                signature, `StaleTimestampError` outside ``max_age``, or a
                decryption error (see `MessageCrypto.verify_url`).
        """
        return self._require_crypto().verify_url(msg_signature, timestamp, nonce, echostr)

    async def get_callback_message(
        self, body: bytes | str, msg_signature: str, timestamp: str | int, nonce: str | int
    ) -> KfCallbackMessage:
        """POST `<callback URL>`: verify, decrypt and parse a ``kf_msg_or_event`` callback.

        XML and JSON envelopes are both accepted, told apart by the first
        non-space character; so is the decrypted payload. With
        ``MessageCrypto(..., max_age=...)`` a stale ``timestamp`` raises
        `StaleTimestampError` before decryption.

        Raises:
            ConfigurationError: the service was built without ``crypto``.
            CryptoError: the signature, timestamp or decryption check fails, or the body is
                unreadable (`MessageParseError`) or too large (`MessageTooLargeError`).
        """
        crypto = self._require_crypto()
        first = _first_byte(body) if isinstance(body, bytes | str) else ""
        if first == "<":
            plaintext = crypto.decrypt_xml(body, msg_signature, timestamp, nonce)
        elif first == "{":
            plaintext = crypto.decrypt_json(body, msg_signature, timestamp, nonce)
        else:
            raise MessageParseError("callback body is neither XML nor JSON")
        inner = _first_byte(plaintext)
        data = parse_json(plaintext) if inner == "{" else parse_xml(plaintext)
        return _callback_model(data)


def _callback_model(data: Mapping[str, Any]) -> KfCallbackMessage:
    try:
        return converter.structure(dict(data), KfCallbackMessage)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise MessageParseError("callback payload has an unexpected shape") from exc


def _open_kfid(value: object) -> str:
    return text("open_kfid", value, max_bytes=64)


def _knowledge_page_body(
    cursor: str | None, limit: int | None, **filters: str | None
) -> dict[str, Any]:
    """The body of list_group / list_intent: only what the caller set."""
    body = {
        "cursor": optional_text("cursor", cursor),
        "limit": None if limit is None else integer("limit", limit, 1, _MAX_KNOWLEDGE_LIMIT),
    }
    body.update((name, optional_text(name, value)) for name, value in filters.items())
    return omit_none(body)


def _reply_msgid(reply: Mapping[str, Any], path: str) -> str:
    msgid = reply.get("msgid")
    if not isinstance(msgid, str):
        raise InvalidResponseError("no msgid in the reply", path)
    return msgid


def _intent_body(
    question: str,
    answer: str,
    similar_questions: Sequence[str],
    attachments: object,
    path: str,
) -> dict[str, Any]:
    similar = str_list("similar_questions", similar_questions)
    if isinstance(attachments, str | bytes) or not isinstance(attachments, Sequence):
        raise InvalidArgumentError("attachments", "must be a list of messages")
    answer_body: dict[str, Any] = {"text": {"content": text("answer", answer)}}
    if attachments:
        answer_body["attachments"] = [
            message_body(item, INTENT_ATTACHMENT_TYPES, path) for item in attachments
        ]
    body: dict[str, Any] = {"question": {"text": {"content": text("question", question)}}}
    if similar:
        body["similar_questions"] = {"items": [{"text": {"content": q}} for q in similar]}
    body["answers"] = [answer_body]
    return body
