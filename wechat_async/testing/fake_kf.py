"""微信客服 (cgi-bin/kf/*) for FakeWeChat: in-memory accounts, sessions and messages.

Every endpoint `Kf` calls is served, on the WeCom
host with the WeCom access token. A test drives the customer's side through
`FakeKf` (``fake.kf``): `FakeKf.customer_says`,
`FakeKf.customer_sends` and `FakeKf.customer_enters_session`
queue what ``sync_msg`` reads and POST the encrypted, signed
``kf_msg_or_event`` callback to the URL given to `FakeKf.register_callback`;
what the app sends lands in `FakeKf.sent` (see `FakeKf.wait_for_sent`).

What follows WeChat's documentation:

* The callback: an XML envelope (``ToUserName``, ``Encrypt``, ``AgentID``) with
  ``msg_signature``/``timestamp``/``nonce`` in the query, sealed with
  WXBizMsgCrypt for the corp id; the payload carries ``ToUserName`` (corp id),
  ``CreateTime``, ``MsgType=event``, ``Event=kf_msg_or_event``, ``Token`` and
  ``OpenKfId``. The token lets ``sync_msg`` read for 10 minutes.
* ``sync_msg``: ``cursor`` continues after ``next_cursor``; ``limit`` (≤ 1000)
  may return fewer items, with ``has_more``; ``open_kfid`` filters. Only what
  the customer sent (origin 3) and system events (origin 4) are listed.
* Session states 0-4 and the transitions ``service_state/trans`` allows:
  0 → 1/2/3/4, 1 → 1/2/3/4, 2 → 2/3/4, 3 → 3/4, nothing from 4 (95016); a
  new customer message opens a session at 0 again. State 3 needs a servicer
  of the account who is receiving (95014 otherwise). ``msg_code`` is returned
  when moving to 2, 3 or 4.
* ``send_msg``: only while the session is 0 or 1 (95018 otherwise), within
  48 hours of the customer's last message (95013 after), and at most 5
  messages per customer message (95001); each customer message renews the
  budget. A first API reply moves a session from 0 to 1.
* ``send_msg_on_event``: the welcome_code of an enter_session event, or a
  ``msg_code``, works once within 20 seconds.
* Error codes as in WeCom's global error-code table
  (developer.work.weixin.qq.com/document/path/90313; see the ``E_*``
  constants): 95001, 95004 (unknown open_kfid: "open_kfid不存在"), 95007
  (invalid msg token), 95013, 95014, 95016, 95018, 40096 (unknown
  external_userid), 60111 (unknown userid), 50100 (a cursor the fake did not
  hand out: "分页查询的游标无效") and 40058 ("不合法的参数") for other bad
  parameters.

What is simplified:

* ``sync_msg`` without a token is not rate-limited (WeChat limits it strictly);
  use ``fake.faults.rate_limit("cgi-bin/kf/sync_msg")`` to test that path. A
  token is valid for any account of the corp.
* The table has no code of its own for a repeated msgid, an unknown or used
  event code or a change to the default knowledge group: they answer the
  generic 40058.
* Any userid may become a servicer unless listed in
  `FakeKf.unknown_userids` (60111 for that entry); departments are
  accepted as given. Statistics are zeros except the customer message count.
  Upgrade service is recorded, not checked against its configuration.
* Callbacks are sent one at a time and not retried; with no URL registered
  the messages are only queued for ``sync_msg``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import httpx

from wechat_async.crypto import MessageCrypto
from wechat_async.testing.fake import FakeError, FakeRequest
from wechat_async.transport import Host

if TYPE_CHECKING:
    from wechat_async.testing.fake import FakeWeChat

__all__ = ["FakeKf", "SentKfMessage", "install"]

SYNC_TOKEN_LIFE: Final = 600.0
"""A callback's Token lets sync_msg read for 10 minutes."""
SESSION_WINDOW: Final = 48 * 3600.0
"""send_msg works within 48 hours of the customer's last message."""
REPLY_BUDGET: Final = 5
"""Messages the corp may send per customer message."""
EVENT_CODE_LIFE: Final = 20.0
"""welcome_code / msg_code last 20 seconds, for one use."""
MAX_SYNC_LIMIT: Final = 1000

# WeCom's global error codes, developer.work.weixin.qq.com/document/path/90313
# (rows as crawled into xen0n/go-workwx errcodes/mod.go).
E_REPLY_LIMIT: Final = 95001  # 发送客服消息次数限制
E_UNKNOWN_KFID: Final = 95004  # open_kfid不存在
E_MSG_TOKEN: Final = 95007  # 不合法的msgtoken
E_SESSION_ENDED: Final = 95013  # 会话已经结束
E_NOT_SERVICER: Final = 95014  # 用户不是接待人员
E_TRANSITION: Final = 95016  # 不允许这种状态转移
E_SESSION_STATE: Final = 95018  # 发送客服消息时当前会话状态不允许发送
E_MSGTYPE: Final = 40008  # 不合法的msgtype参数
E_INVALID_PARAM: Final = 40058  # 不合法的参数 (the generic one)
E_EXTERNAL_USERID: Final = 40096  # 不合法的外部联系人userid
E_CURSOR: Final = 50100  # 分页查询的游标无效
E_USER_NOT_FOUND: Final = 60111  # UserID不存在

_ALLOWED: Final[dict[int, frozenset[int]]] = {
    0: frozenset({1, 2, 3, 4}),
    1: frozenset({1, 2, 3, 4}),
    2: frozenset({2, 3, 4}),
    3: frozenset({3, 4}),
    4: frozenset(),
}
_API_SENDABLE: Final = frozenset({0, 1})
_ID_ALPHABET: Final = string.ascii_letters + string.digits + "_-"
_WORK = Host.WORK


def _random_id(prefix: str, length: int = 30) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class SentKfMessage:
    """One message the app sent with send_msg or send_msg_on_event (``time`` on the fake clock)."""

    touser: str
    open_kfid: str
    msgtype: str
    body: dict[str, Any]
    msgid: str
    time: float


@dataclass
class _Account:
    name: str
    media_id: str
    servicers: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # status, stop
    departments: list[int] = field(default_factory=list)


@dataclass
class _Session:
    state: int = 4
    servicer: str | None = None
    last_customer_message: float | None = None
    budget: int = 0


@dataclass
class _Customer:
    nickname: str
    avatar: str = ""
    gender: int = 0
    unionid: str | None = None
    context: dict[str, Any] | None = None


@dataclass
class _EventCode:
    expires_at: float
    open_kfid: str
    external_userid: str


class FakeKf:
    """State of 微信客服, readable and drivable from tests (``fake.kf``)."""

    def __init__(self, fake: FakeWeChat) -> None:
        """Attach to ``fake``, with no accounts and the default knowledge group."""
        self._fake = fake
        self.accounts: dict[str, _Account] = {}
        self.sessions: dict[tuple[str, str], _Session] = {}
        self.customers: dict[str, _Customer] = {}
        self.messages: list[dict[str, Any]] = []
        """What sync_msg reads, in order; a cursor is a position in this list."""
        self.sent: list[SentKfMessage] = []
        self.callback_responses: list[httpx.Response] = []
        self.unknown_userids: set[str] = set()
        self.upgrade_members: list[str] = []
        self.upgrade_departments: list[int] = []
        self.upgrade_groupchats: list[str] = []
        self.upgrades: dict[tuple[str, str], dict[str, Any]] = {}
        self.wechat_channels_binding = False
        self.knowledge_groups: dict[str, tuple[str, bool]] = {
            _random_id("kg", 20): ("默认分组", True)
        }
        self.knowledge_intents: dict[str, dict[str, Any]] = {}
        self._sync_tokens: dict[str, float] = {}
        self._event_codes: dict[str, _EventCode] = {}
        self._msgids: set[str] = set()
        self._numbers = itertools.count(1)
        self._sent_waiters: set[asyncio.Event] = set()  # made per wait: no loop is bound early
        self._callback_url: str | None = None
        self._crypto: MessageCrypto | None = None
        self._client: httpx.AsyncClient | None = None

    # -- driving API -------------------------------------------------------------------

    def register_callback(
        self,
        url: str,
        *,
        token: str,
        encoding_aes_key: str,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """Send kf_msg_or_event callbacks to ``url``, sealed for the fake's corp id.

        Without ``client`` each callback goes over real HTTP on a fresh client.

        Raises:
            CryptoError: ``token`` or ``encoding_aes_key`` is unusable (see `MessageCrypto`).
        """
        self._callback_url = url
        self._crypto = MessageCrypto(token, encoding_aes_key, self._fake.corp_id)
        self._client = client

    def add_account(self, name: str = "客服", media_id: str = "FAKE_AVATAR_MEDIA") -> str:
        """Create a Kf account as account/add does; returns its open_kfid."""
        open_kfid = _random_id("wk")
        self.accounts[open_kfid] = _Account(name, media_id)
        return open_kfid

    def add_customer(
        self,
        external_userid: str | None = None,
        *,
        nickname: str = "微信用户",
        avatar: str = "",
        gender: int = 0,
        unionid: str | None = None,
    ) -> str:
        """Register (or update) a WeChat customer; returns the external_userid."""
        userid = external_userid or _random_id("wm")
        self.customers[userid] = _Customer(nickname, avatar, gender, unionid)
        return userid

    def add_servicer(self, open_kfid: str, userid: str, *, status: int = 0) -> None:
        """Make ``userid`` a servicer of the account (status 0 receiving, 1 stopped).

        Raises:
            FakeError: ``open_kfid`` is not an account of the fake.
        """
        self._account(open_kfid).servicers[userid] = (status, None if status == 0 else 1)

    def session(self, open_kfid: str, external_userid: str) -> _Session:
        """The session of a customer with an account (state 4 if none yet)."""
        return self.sessions.setdefault((open_kfid, external_userid), _Session())

    async def customer_says(self, open_kfid: str, external_userid: str, text: str) -> str:
        """The customer sends ``text``: queue it, renew the reply budget, call back; its msgid.

        Raises:
            FakeError: ``open_kfid`` is not an account of the fake.
            AssertionError: the app's callback URL answered with a status other than 200.
            CryptoError: the callback cannot be sealed (a message larger than the crypto's
                ``max_message_size``).
        """
        return await self.customer_sends(open_kfid, external_userid, "text", {"content": text})

    async def customer_sends(
        self, open_kfid: str, external_userid: str, msgtype: str, body: dict[str, Any]
    ) -> str:
        """The customer sends a message of ``msgtype`` (body as sync_msg shows it); its msgid.

        Raises:
            FakeError: ``open_kfid`` is not an account of the fake.
            AssertionError: the app's callback URL answered with a status other than 200.
            CryptoError: the callback cannot be sealed (a message larger than the crypto's
                ``max_message_size``).
        """
        self._account(open_kfid)
        if external_userid not in self.customers:
            self.add_customer(external_userid)
        now = self._fake.clock.now()
        session = self.session(open_kfid, external_userid)
        last = session.last_customer_message
        if session.state == 4 or last is None or now - last > SESSION_WINDOW:  # noqa: PLR2004
            session.state, session.servicer = 0, None
        session.last_customer_message = now
        session.budget = REPLY_BUDGET
        msgid = self._new_msgid()
        self.messages.append(
            {
                "msgid": msgid,
                "open_kfid": open_kfid,
                "external_userid": external_userid,
                "send_time": int(now),
                "origin": 3,
                "msgtype": msgtype,
                msgtype: dict(body),
            }
        )
        await self._call_back(open_kfid)
        return msgid

    async def customer_enters_session(
        self,
        open_kfid: str,
        external_userid: str,
        scene: str = "",
        welcome_code: str | None = None,
        *,
        scene_param: str = "",
    ) -> str:
        """The customer opens the chat: an enter_session event and a callback; the welcome_code.

        Raises:
            FakeError: ``open_kfid`` is not an account of the fake.
            AssertionError: the app's callback URL answered with a status other than 200.
            CryptoError: the callback cannot be sealed (a message larger than the crypto's
                ``max_message_size``).
        """
        self._account(open_kfid)
        if external_userid not in self.customers:
            self.add_customer(external_userid)
        now = self._fake.clock.now()
        code = welcome_code or _random_id("wc", 24)
        self._event_codes[code] = _EventCode(now + EVENT_CODE_LIFE, open_kfid, external_userid)
        self.customers[external_userid].context = {"scene": scene, "scene_param": scene_param}
        self.messages.append(
            {
                "msgid": self._new_msgid(),
                "send_time": int(now),
                "origin": 4,
                "msgtype": "event",
                "event": {
                    "event_type": "enter_session",
                    "open_kfid": open_kfid,
                    "external_userid": external_userid,
                    "scene": scene,
                    "scene_param": scene_param,
                    "welcome_code": code,
                },
            }
        )
        await self._call_back(open_kfid)
        return code

    async def wait_for_sent(self, count: int = 1, timeout: float = 5.0) -> list[SentKfMessage]:  # noqa: ASYNC109 - the agreed driving API
        """Wait until at least ``count`` messages were sent; raise TimeoutError otherwise.

        Raises:
            TimeoutError: fewer than ``count`` replies arrived within ``timeout`` seconds.
        """
        changed = asyncio.Event()
        self._sent_waiters.add(changed)
        try:
            async with asyncio.timeout(timeout):
                while len(self.sent) < count:
                    changed.clear()
                    await changed.wait()
        except TimeoutError:
            msg = f"{len(self.sent)} Kf message(s) sent within {timeout} s, expected {count}"
            raise TimeoutError(msg) from None
        finally:
            self._sent_waiters.discard(changed)
        return list(self.sent)

    # -- internals ---------------------------------------------------------------------

    def _account(self, open_kfid: object) -> _Account:
        account = self.accounts.get(open_kfid) if isinstance(open_kfid, str) else None
        if account is None:
            raise FakeError(E_UNKNOWN_KFID, "invalid open_kfid")
        return account

    def _new_msgid(self) -> str:
        msgid = f"fake_msgid_{next(self._numbers)}_{secrets.token_hex(4)}"
        self._msgids.add(msgid)
        return msgid

    def _issue_sync_token(self) -> str:
        token = _random_id("ENC", 40)
        self._sync_tokens[token] = self._fake.clock.now() + SYNC_TOKEN_LIFE
        return token

    def check_sync_token(self, token: str) -> None:
        """Raise 95007 unless ``token`` came from a callback less than 10 minutes ago.

        Raises:
            FakeError: the token is not one a callback handed out (95007, as WeChat answers).
        """
        expires_at = self._sync_tokens.get(token)
        if expires_at is None or expires_at <= self._fake.clock.now():
            raise FakeError(E_MSG_TOKEN, "invalid msg token")

    async def _call_back(self, open_kfid: str) -> None:
        if self._callback_url is None or self._crypto is None:
            return
        now = int(self._fake.clock.now())
        payload = (
            f"<xml><ToUserName><![CDATA[{self._fake.corp_id}]]></ToUserName>"
            f"<CreateTime>{now}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType>"
            "<Event><![CDATA[kf_msg_or_event]]></Event>"
            f"<Token><![CDATA[{self._issue_sync_token()}]]></Token>"
            f"<OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
        )
        sealed = self._crypto.encrypt(payload, timestamp=now)
        envelope = (
            f"<xml><ToUserName><![CDATA[{self._fake.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed.encrypt}]]></Encrypt>"
            "<AgentID><![CDATA[]]></AgentID></xml>"
        )
        query = urlencode(
            {
                "msg_signature": sealed.msg_signature,
                "timestamp": sealed.timestamp,
                "nonce": sealed.nonce,
            }
        )
        url = self._callback_url + ("&" if "?" in self._callback_url else "?") + query
        headers = {"content-type": "text/xml; charset=utf-8"}
        if self._client is not None:
            response = await self._client.post(url, content=envelope.encode(), headers=headers)
        else:
            async with httpx.AsyncClient() as client:
                response = await client.post(url, content=envelope.encode(), headers=headers)
        await response.aread()
        self.callback_responses.append(response)
        if response.status_code != 200:  # noqa: PLR2004
            msg = f"the Kf callback at {self._callback_url} answered {response.status_code}"
            raise AssertionError(msg)

    def _record_sent(self, touser: str, open_kfid: str, body: dict[str, Any]) -> str:
        msgtype = body.get("msgtype")
        if not isinstance(msgtype, str) or not isinstance(body.get(msgtype), dict):
            raise FakeError(E_MSGTYPE, "invalid message type")
        msgid = body.get("msgid")
        if msgid is None:
            msgid = self._new_msgid()
        elif not isinstance(msgid, str) or msgid in self._msgids:
            raise FakeError(E_INVALID_PARAM, "invalid msgid: already used")
        self._msgids.add(msgid)
        self.sent.append(
            SentKfMessage(
                touser, open_kfid, msgtype, dict(body[msgtype]), msgid, self._fake.clock.now()
            )
        )
        for waiter in self._sent_waiters:
            waiter.set()
        return msgid

    def _take_event_code(self, code: object) -> _EventCode:
        entry = self._event_codes.pop(code, None) if isinstance(code, str) else None
        if entry is None or entry.expires_at <= self._fake.clock.now():
            raise FakeError(E_INVALID_PARAM, "invalid code: unknown, used or expired")
        return entry

    # -- endpoints ---------------------------------------------------------------------

    def register(self) -> None:
        """Register this family's routes on the emulator it was built for."""
        routes: list[tuple[str, str, Any]] = [
            ("POST", "account/add", self._account_add),
            ("POST", "account/del", self._account_del),
            ("POST", "account/update", self._account_update),
            ("POST", "account/list", self._account_list),
            ("POST", "add_contact_way", self._add_contact_way),
            ("POST", "servicer/add", self._servicer_add),
            ("POST", "servicer/del", self._servicer_del),
            ("GET", "servicer/list", self._servicer_list),
            ("POST", "sync_msg", self._sync_msg),
            ("POST", "send_msg", self._send_msg),
            ("POST", "send_msg_on_event", self._send_msg_on_event),
            ("POST", "service_state/get", self._service_state_get),
            ("POST", "service_state/trans", self._service_state_trans),
            ("POST", "customer/batchget", self._customer_batchget),
            ("GET", "customer/get_upgrade_service_config", self._upgrade_service_config),
            ("POST", "customer/upgrade_service", self._upgrade_service),
            ("POST", "customer/cancel_upgrade_service", self._cancel_upgrade_service),
            ("GET", "get_corp_qualification", self._corp_qualification),
            ("POST", "get_corp_statistic", self._corp_statistic),
            ("POST", "get_servicer_statistic", self._servicer_statistic),
            ("POST", "knowledge/add_group", self._add_group),
            ("POST", "knowledge/del_group", self._del_group),
            ("POST", "knowledge/mod_group", self._mod_group),
            ("POST", "knowledge/list_group", self._list_group),
            ("POST", "knowledge/add_intent", self._add_intent),
            ("POST", "knowledge/del_intent", self._del_intent),
            ("POST", "knowledge/mod_intent", self._mod_intent),
            ("POST", "knowledge/list_intent", self._list_intent),
        ]
        for method, path, handler in routes:
            self._fake.route(method, _WORK, f"cgi-bin/kf/{path}")(handler)

    async def _account_add(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/account/add."""
        body = request.json()
        name, media_id = body.get("name"), body.get("media_id")
        if not isinstance(name, str) or not name or not isinstance(media_id, str) or not media_id:
            raise FakeError(E_INVALID_PARAM, "name and media_id are required")
        return _ok(open_kfid=self.add_account(name, media_id))

    async def _account_del(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/account/del."""
        open_kfid = request.json().get("open_kfid")
        self._account(open_kfid)
        del self.accounts[str(open_kfid)]
        return _ok()

    async def _account_update(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/account/update."""
        body = request.json()
        account = self._account(body.get("open_kfid"))
        if isinstance(body.get("name"), str):
            account.name = body["name"]
        if isinstance(body.get("media_id"), str):
            account.media_id = body["media_id"]
        return _ok()

    async def _account_list(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/account/list."""
        body = request.json()
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 100))
        items = list(self.accounts.items())[offset : offset + limit]
        return _ok(
            account_list=[
                {
                    "open_kfid": kfid,
                    "name": account.name,
                    "avatar": f"https://wework.qpic.cn/fake/{account.media_id}/0",
                    "manage_privilege": True,
                }
                for kfid, account in items
            ]
        )

    async def _add_contact_way(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/add_contact_way."""
        body = request.json()
        open_kfid = body.get("open_kfid")
        self._account(open_kfid)
        url = f"https://work.weixin.qq.com/kfid/{open_kfid}"
        if body.get("scene"):
            url += f"?enc_scene={body['scene']}"
        return _ok(url=url)

    async def _servicer_add(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/servicer/add: per-entry results, "ignored" if already there."""
        body = request.json()
        account = self._account(body.get("open_kfid"))
        results: list[dict[str, Any]] = []
        for userid in body.get("userid_list", []):
            if userid in self.unknown_userids:
                results.append(
                    _entry(userid=userid, errcode=E_USER_NOT_FOUND, errmsg="userid not found")
                )
            elif userid in account.servicers:
                results.append(_entry(userid=userid, errmsg="ignored"))
            else:
                account.servicers[userid] = (0, None)
                results.append(_entry(userid=userid))
        for dept in body.get("department_id_list", []):
            if dept in account.departments:
                results.append(_entry(department_id=dept, errmsg="ignored"))
            else:
                account.departments.append(dept)
                results.append(_entry(department_id=dept))
        return _ok(result_list=results)

    async def _servicer_del(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/servicer/del: per-entry results, "ignored" if not there."""
        body = request.json()
        account = self._account(body.get("open_kfid"))
        results: list[dict[str, Any]] = []
        for userid in body.get("userid_list", []):
            found = account.servicers.pop(userid, None) is not None
            results.append(_entry(userid=userid, errmsg="success" if found else "ignored"))
        for dept in body.get("department_id_list", []):
            found = dept in account.departments
            if found:
                account.departments.remove(dept)
            results.append(_entry(department_id=dept, errmsg="success" if found else "ignored"))
        return _ok(result_list=results)

    async def _servicer_list(self, request: FakeRequest) -> dict[str, Any]:
        """GET cgi-bin/kf/servicer/list."""
        account = self._account(request.query.get("open_kfid"))
        servicers: list[dict[str, Any]] = []
        for userid, (status, stop_type) in account.servicers.items():
            entry: dict[str, Any] = {"userid": userid, "status": status}
            if stop_type is not None:
                entry["stop_type"] = stop_type
            servicers.append(entry)
        servicers.extend({"department_id": dept} for dept in account.departments)
        return _ok(servicer_list=servicers)

    async def _sync_msg(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/sync_msg: a page after ``cursor``, filtered by ``open_kfid``."""
        body = request.json()
        token = body.get("token")
        if token:
            self.check_sync_token(str(token))
        limit = body.get("limit", MAX_SYNC_LIMIT)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SYNC_LIMIT:
            raise FakeError(E_INVALID_PARAM, "invalid limit")
        start = _decode_cursor(body.get("cursor"), len(self.messages))
        open_kfid = body.get("open_kfid")
        if open_kfid is not None:
            self._account(open_kfid)
        page: list[dict[str, Any]] = []
        position = start
        while position < len(self.messages) and len(page) < limit:
            item = self.messages[position]
            position += 1
            if open_kfid is None or _kfid_of(item) == open_kfid:
                page.append(item)
        has_more = any(
            open_kfid is None or _kfid_of(item) == open_kfid for item in self.messages[position:]
        )
        return _ok(next_cursor=_encode_cursor(position), has_more=int(has_more), msg_list=page)

    async def _send_msg(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/send_msg: the session rules, then record the message."""
        body = request.json()
        open_kfid = body.get("open_kfid")
        self._account(open_kfid)
        touser = body.get("touser")
        if not isinstance(touser, str) or touser not in self.customers:
            raise FakeError(E_EXTERNAL_USERID, "invalid external_userid")
        session = self.session(str(open_kfid), touser)
        last = session.last_customer_message
        if last is None or self._fake.clock.now() - last > SESSION_WINDOW:
            raise FakeError(E_SESSION_ENDED, "conversation end")
        if session.state not in _API_SENDABLE:
            raise FakeError(E_SESSION_STATE, "send msg session status invalid")
        if session.budget <= 0:
            raise FakeError(E_REPLY_LIMIT, "send msg count limit")
        msgid = self._record_sent(touser, str(open_kfid), body)
        session.budget -= 1
        if session.state == 0:
            session.state = 1
        return _ok(msgid=msgid)

    async def _send_msg_on_event(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/send_msg_on_event: a live welcome_code or msg_code, once."""
        body = request.json()
        entry = self._take_event_code(body.get("code"))
        msgid = self._record_sent(entry.external_userid, entry.open_kfid, body)
        return _ok(msgid=msgid)

    async def _service_state_get(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/service_state/get."""
        body = request.json()
        self._account(body.get("open_kfid"))
        session = self.session(str(body["open_kfid"]), str(body.get("external_userid", "")))
        reply = _ok(service_state=session.state)
        if session.state == 3 and session.servicer:  # noqa: PLR2004
            reply["servicer_userid"] = session.servicer
        return reply

    async def _service_state_trans(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/service_state/trans: the allowed transitions only."""
        body = request.json()
        open_kfid = body.get("open_kfid")
        account = self._account(open_kfid)
        external_userid = str(body.get("external_userid", ""))
        session = self.session(str(open_kfid), external_userid)
        target = body.get("service_state")
        if not isinstance(target, int) or target not in _ALLOWED:
            raise FakeError(E_INVALID_PARAM, "invalid service_state")
        if target not in _ALLOWED[session.state]:
            raise FakeError(E_TRANSITION, "service state transition not allowed")
        servicer = body.get("servicer_userid")
        if target == 3:  # noqa: PLR2004
            status = account.servicers.get(servicer) if isinstance(servicer, str) else None
            if status is None or status[0] != 0:
                raise FakeError(E_NOT_SERVICER, "servicer_userid is not a receiving servicer")
        session.state = target
        session.servicer = servicer if target == 3 else None  # noqa: PLR2004
        code = ""
        if target in {2, 3, 4}:
            code = _random_id("mc", 24)
            self._event_codes[code] = _EventCode(
                self._fake.clock.now() + EVENT_CODE_LIFE, str(open_kfid), external_userid
            )
        return _ok(msg_code=code)

    async def _customer_batchget(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/customer/batchget."""
        body = request.json()
        with_context = bool(body.get("need_enter_session_context"))
        found: list[dict[str, Any]] = []
        invalid: list[str] = []
        for userid in body.get("external_userid_list", []):
            customer = self.customers.get(userid)
            if customer is None:
                invalid.append(userid)
                continue
            entry: dict[str, Any] = {
                "external_userid": userid,
                "nickname": customer.nickname,
                "avatar": customer.avatar,
                "gender": customer.gender,
            }
            if customer.unionid is not None:
                entry["unionid"] = customer.unionid
            if with_context and customer.context is not None:
                entry["enter_session_context"] = dict(customer.context)
            found.append(entry)
        return _ok(customer_list=found, invalid_external_userid=invalid)

    async def _upgrade_service_config(self, _: FakeRequest) -> dict[str, Any]:
        """GET cgi-bin/kf/customer/get_upgrade_service_config."""
        return _ok(
            member_range={
                "userid_list": list(self.upgrade_members),
                "department_id_list": list(self.upgrade_departments),
            },
            groupchat_range={"chat_id_list": list(self.upgrade_groupchats)},
        )

    async def _upgrade_service(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/customer/upgrade_service: recorded in `upgrades`."""
        body = request.json()
        self._account(body.get("open_kfid"))
        kind = body.get("type")
        detail = body.get("member") if kind == 1 else body.get("groupchat")
        if kind not in {1, 2} or not isinstance(detail, dict):
            raise FakeError(E_INVALID_PARAM, "invalid type")
        key = (str(body["open_kfid"]), str(body.get("external_userid", "")))
        self.upgrades[key] = {"type": kind, **detail}
        return _ok()

    async def _cancel_upgrade_service(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/customer/cancel_upgrade_service."""
        body = request.json()
        self._account(body.get("open_kfid"))
        self.upgrades.pop((str(body["open_kfid"]), str(body.get("external_userid", ""))), None)
        return _ok()

    async def _corp_qualification(self, _: FakeRequest) -> dict[str, Any]:
        """GET cgi-bin/kf/get_corp_qualification."""
        return _ok(wechat_channels_binding=self.wechat_channels_binding)

    def _days(self, body: dict[str, Any]) -> list[tuple[int, int]]:
        start, end = body.get("start_time"), body.get("end_time")
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            raise FakeError(E_INVALID_PARAM, "invalid start_time or end_time")
        open_kfid = body.get("open_kfid")
        if open_kfid is not None:
            self._account(open_kfid)
        days = []
        for day in range(start, end + 1, 86400):
            count = sum(
                1
                for item in self.messages
                if item.get("origin") == 3  # noqa: PLR2004
                and day <= item["send_time"] < day + 86400
                and (open_kfid is None or item.get("open_kfid") == open_kfid)
            )
            days.append((day, count))
        return days

    async def _corp_statistic(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/get_corp_statistic: zeros but the customer message count."""
        days = self._days(request.json())
        return _ok(
            statistic_list=[
                {"stat_time": day, "statistic": {"customer_msg_cnt": count}} for day, count in days
            ]
        )

    async def _servicer_statistic(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/get_servicer_statistic: zeros."""
        days = self._days(request.json())
        return _ok(statistic_list=[{"stat_time": day, "statistic": {}} for day, _ in days])

    # -- knowledge base ----------------------------------------------------------------

    def _group(self, group_id: object, *, editable: bool = False) -> str:
        if not isinstance(group_id, str) or group_id not in self.knowledge_groups:
            raise FakeError(E_INVALID_PARAM, "invalid group_id")
        if editable and self.knowledge_groups[group_id][1]:
            raise FakeError(E_INVALID_PARAM, "the default group cannot be changed")
        return group_id

    async def _add_group(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/add_group."""
        name = request.json().get("name")
        if not isinstance(name, str) or not name:
            raise FakeError(E_INVALID_PARAM, "name is required")
        group_id = _random_id("kg", 20)
        self.knowledge_groups[group_id] = (name, False)
        return _ok(group_id=group_id)

    async def _del_group(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/del_group: its intents go too."""
        group_id = self._group(request.json().get("group_id"), editable=True)
        del self.knowledge_groups[group_id]
        for intent_id in [
            k for k, v in self.knowledge_intents.items() if v["group_id"] == group_id
        ]:
            del self.knowledge_intents[intent_id]
        return _ok()

    async def _mod_group(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/mod_group."""
        body = request.json()
        group_id = self._group(body.get("group_id"), editable=True)
        self.knowledge_groups[group_id] = (str(body.get("name", "")), False)
        return _ok()

    async def _list_group(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/list_group."""
        body = request.json()
        groups = [
            {"group_id": gid, "name": name, "is_default": int(default)}
            for gid, (name, default) in self.knowledge_groups.items()
            if body.get("group_id") in {None, gid}
        ]
        return _paged(body, groups, "group_list")

    async def _add_intent(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/add_intent."""
        body = request.json()
        group_id = self._group(body.get("group_id"))
        intent_id = _random_id("ki", 20)
        self.knowledge_intents[intent_id] = _intent(intent_id, group_id, body)
        return _ok(intent_id=intent_id)

    async def _del_intent(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/del_intent."""
        intent_id = str(request.json().get("intent_id", ""))
        if self.knowledge_intents.pop(intent_id, None) is None:
            raise FakeError(E_INVALID_PARAM, "invalid intent_id")
        return _ok()

    async def _mod_intent(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/mod_intent."""
        body = request.json()
        intent_id = body.get("intent_id")
        current = self.knowledge_intents.get(intent_id) if isinstance(intent_id, str) else None
        if current is None:
            raise FakeError(E_INVALID_PARAM, "invalid intent_id")
        self.knowledge_intents[str(intent_id)] = _intent(str(intent_id), current["group_id"], body)
        return _ok()

    async def _list_intent(self, request: FakeRequest) -> dict[str, Any]:
        """POST cgi-bin/kf/knowledge/list_intent."""
        body = request.json()
        intents = [
            intent
            for intent in self.knowledge_intents.values()
            if body.get("group_id") in {None, intent["group_id"]}
            and body.get("intent_id") in {None, intent["intent_id"]}
        ]
        return _paged(body, intents, "intent_list")


def _ok(**fields: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"errcode": 0, "errmsg": "ok", **fields}


def _entry(*, errcode: int = 0, errmsg: str = "success", **key: object) -> dict[str, Any]:
    return {**key, "errcode": errcode, "errmsg": errmsg}


def _kfid_of(item: dict[str, Any]) -> object:
    return item.get("open_kfid") or item.get("event", {}).get("open_kfid")


def _encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"kfpos:{position}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: object, end: int) -> int:
    if cursor in {None, ""}:
        return 0
    try:
        text = base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)).decode()
        prefix, _, number = text.partition(":")
        position = int(number)
    except ValueError:
        position = -1
        prefix = ""
    if prefix != "kfpos" or not 0 <= position <= end:
        raise FakeError(E_CURSOR, "invalid cursor")
    return position


def _paged(body: dict[str, Any], items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    start = _decode_cursor(body.get("cursor"), len(items))
    limit = body.get("limit", MAX_SYNC_LIMIT)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_SYNC_LIMIT:
        raise FakeError(E_INVALID_PARAM, "invalid limit")
    end = min(start + limit, len(items))
    return _ok(
        next_cursor=_encode_cursor(end), has_more=int(end < len(items)), **{key: items[start:end]}
    )


def _intent(intent_id: str, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
    intent: dict[str, Any] = {
        "group_id": group_id,
        "intent_id": intent_id,
        "question": body.get("question", {}),
    }
    if "similar_questions" in body:
        intent["similar_questions"] = body["similar_questions"]
    intent["answers"] = body.get("answers", [])
    return intent


def install(fake: FakeWeChat) -> FakeKf:
    """Register this family's routes on ``fake`` and return its state."""
    kf = FakeKf(fake)
    kf.register()
    return kf
