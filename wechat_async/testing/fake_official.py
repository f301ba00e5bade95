"""Official Account customer service and the Open Platform component for FakeWeChat.

Installed as ``fake.official``. Customer service (客服): a test seeds
followers (`FakeOfficial.add_follower`), accounts come and go through the
API, `FakeOfficial.set_online` and `FakeOfficial.accept_invite`
play the staff's side, and ``sent``/``typing``/``sessions``/``records`` are
read back. The component (第三方平台): `FakeOfficial.component`
configures it, `FakeOfficial.push_verify_ticket` plays WeChat's
10-minute ticket push, `FakeOfficial.authorize` plays an admin
scanning the authorization page; the SDK's ``Component`` does the rest.

What follows WeChat's documentation:

* ``message/custom/send``: an openid that does not follow the account
  answers 40003; a follower whose last interaction is 48 hours old or more
  answers 45015 ("response out of time limit or subscription is canceled").
* ``msgrecord/getmsglist``: a window over 24 hours answers 65417, an inverted
  one 65416; pages start at ``msgid`` 1 and each answer's ``msgid`` is where
  the next page starts; ``number`` is how many came back.
* ``kfsession/create`` needs an existing (65401), online (65415) account;
  a customer already with another account answers 65414; ``getsession``
  answers an empty ``kf_account`` when there is no session.
* ``api_component_token`` checks the component appid (61011), the secret
  (40125) and the ticket: only the latest pushed one is taken (61006
  otherwise), for 12 hours (61005 after). Its token travels as
  ``component_access_token`` and lasts 7200 s; pre-auth codes 1800 s,
  authorization codes 3600 s.
* ``api_query_auth``: an unknown, used or expired code answers 61010;
  ``api_authorizer_token`` with a stale refresh token answers 61023.
* The ticket push is WeChat's: the XML envelope ``<AppId>``/``<Encrypt>``,
  signed with ``msg_signature``, ``timestamp``, ``nonce`` and
  ``encrypt_type=aes`` in the query, encrypted with the component's
  token and EncodingAESKey.

Simplified: one Official Account's customer service is shared by the fake's
own appid and every authorizer (a token from either reaches the same
state); the typing 30-second rule, the 100-account cap, invitation
expiry and message rate limits are not enforced; errcodes 65401/65406/65413
come from WeChat's customer-service code table, 61003 (not authorized),
89250 (registration task not found) and 40097 (bad option) are the closest
documented codes; authorizer tokens share the fake's token pool; refresh
tokens stay the same unless ``rotate_refresh_tokens`` is set; fast
registration tasks never finish on their own (set ``registrations[...]``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import httpx

from wechat_async.crypto import MessageCrypto
from wechat_async.testing.fake import TOKEN_LIFE, FakeError, FakeRequest, IssuedToken
from wechat_async.testing.fake_wecom import parse_multipart
from wechat_async.transport import Host

if TYPE_CHECKING:
    from collections.abc import Callable

    from wechat_async.testing.fake import FakeWeChat, Handler

__all__ = [
    "AUTH_CODE_LIFE",
    "INTERACTION_WINDOW",
    "PRE_AUTH_CODE_LIFE",
    "RECORD_WINDOW",
    "TICKET_LIFE",
    "ComponentConfig",
    "FakeOfficial",
    "install",
]

INTERACTION_WINDOW: Final = 48 * 3600
"""Customer-service messages may go out this long after the follower's last action."""
RECORD_WINDOW: Final = 24 * 3600
TICKET_LIFE: Final = 12 * 3600
PRE_AUTH_CODE_LIFE: Final = 1800
AUTH_CODE_LIFE: Final = 3600
_WAIT_CASE_MAX: Final = 100
_OK: Final = {"errcode": 0, "errmsg": "ok"}
_OPTIONS: Final = ("location_report", "voice_recognize", "customer_service")


@dataclass
class ComponentConfig:
    """The configured component: credentials and the callback crypto."""

    appid: str
    secret: str
    crypto: MessageCrypto


@dataclass
class _Authorizer:
    appid: str
    refresh_token: str
    auth_time: int
    func_info: tuple[int, ...]
    options: dict[str, str] = field(default_factory=lambda: dict.fromkeys(_OPTIONS, "0"))


class FakeOfficial:
    """Customer service and component state, readable and drivable from tests."""

    def __init__(self, fake: FakeWeChat) -> None:
        """Attach to ``fake``; no followers, accounts or component yet."""
        self._fake = fake
        self._numbers = itertools.count(1)
        # customer service
        self.followers: dict[str, float] = {}
        """openid → the epoch of the follower's last interaction."""
        self.kf_accounts: dict[str, dict[str, Any]] = {}
        self.online: dict[str, int] = {}
        """kf_account → online status (1 web, 2 mobile, 3 both)."""
        self.sent: list[dict[str, Any]] = []
        """Every body ``message/custom/send`` accepted, in order."""
        self.typing: dict[str, bool] = {}
        self.sessions: dict[str, tuple[str, int]] = {}
        """openid → (kf_account, createtime)."""
        self.waiting: dict[str, int] = {}
        """openid → latest_time, for customers waiting for an account."""
        self.records: list[dict[str, Any]] = []
        self.head_images: dict[str, bytes] = {}
        # component
        self.config: ComponentConfig | None = None
        self.tickets: list[tuple[str, float]] = []
        self.push_replies: list[str] = []
        self.component_tokens: dict[str, IssuedToken] = {}
        self.pre_auth_codes: dict[str, float] = {}
        self.auth_codes: dict[str, tuple[str, float]] = {}
        self.authorizers: dict[str, _Authorizer] = {}
        self.rotate_refresh_tokens = False
        """When set, every api_authorizer_token answers a new refresh token."""
        self.registrations: dict[tuple[str, str, str], int] = {}
        """(name, legal_persona_wechat, legal_persona_name) → search errcode (89251 pending)."""

    def __repr__(self) -> str:
        """Count the state only."""
        return (
            f"FakeOfficial(followers={len(self.followers)}, kf_accounts={len(self.kf_accounts)}, "
            f"authorizers={len(self.authorizers)})"
        )

    # -- customer service: seeding and driving -------------------------------------------

    def add_follower(self, openid: str, *, last_interaction: float | None = None) -> None:
        """Seed a follower; their last interaction is now unless given (epoch seconds)."""
        self.followers[openid] = (
            self._fake.clock.now() if last_interaction is None else last_interaction
        )

    def interact(self, openid: str) -> None:
        """The follower messages the account: the 48 h window starts again."""
        self.add_follower(openid)

    def set_online(self, kf_account: str, status: int = 1) -> None:
        """Put an account online (1 web, 2 mobile, 3 both) or, with 0, offline."""
        if status:
            self.online[kf_account] = status
        else:
            self.online.pop(kf_account, None)

    def accept_invite(self, kf_account: str) -> None:
        """The invited WeChat user accepts: the account is bound to them.

        Raises:
            FakeError: ``kf_account`` is not an account of the fake (65401).
        """
        account = self._kf(kf_account)
        account["kf_wx"] = account.pop("invite_wx", "")
        account.pop("invite_expire_time", None)
        account.pop("invite_status", None)

    def add_waiting(self, openid: str, latest_time: int | None = None) -> None:
        """A customer is waiting for an account."""
        self.waiting[openid] = int(self._fake.clock.now()) if latest_time is None else latest_time

    def add_record(
        self,
        openid: str,
        text: str,
        *,
        time: int | None = None,
        opercode: int = 2002,
        worker: str = "",
    ) -> dict[str, Any]:
        """Seed a chat record (opercode 2002: the customer wrote, 2003: the account)."""
        record = {
            "openid": openid,
            "opercode": opercode,
            "text": text,
            "time": int(self._fake.clock.now()) if time is None else time,
            "worker": worker,
        }
        self.records.append(record)
        return record

    # -- component: driving ----------------------------------------------------------------

    def component(
        self,
        component_appid: str,
        component_appsecret: str,
        *,
        token: str,
        encoding_aes_key: str,
    ) -> ComponentConfig:
        """Configure the component: its credentials and the callback token and key.

        Raises:
            CryptoError: ``token`` or ``encoding_aes_key`` is unusable (see `MessageCrypto`).
        """
        self.config = ComponentConfig(
            component_appid,
            component_appsecret,
            MessageCrypto(token, encoding_aes_key, component_appid),
        )
        return self.config

    async def push_verify_ticket(self, url: str, client: httpx.AsyncClient | None = None) -> str:
        """POST a new component_verify_ticket to the authorization event URL; return it.

        The push is encrypted and signed as WeChat sends it. ``client`` (for
        an app in process: ``httpx.AsyncClient(transport=httpx.ASGITransport(app))``)
        is left open; without one a client is made and closed here. The
        app's reply text is appended to ``push_replies``.

        Raises:
            RuntimeError: the component was not configured with `component` first.
        """
        config = self._config()
        now = self._fake.clock.now()
        # WeChat's pushes are 10 minutes apart, so each CreateTime is later than
        # the last; two pushes of a test in one second get consecutive seconds
        # (a Component keeps only a ticket newer than the one it holds).
        created = int(now)
        if self.tickets:
            created = max(created, int(self.tickets[-1][1]) + 1)
        ticket = f"ticket@@@fake{next(self._numbers)}"
        self.tickets.append((ticket, created))
        plaintext = (
            f"<xml><AppId><![CDATA[{config.appid}]]></AppId>"
            f"<CreateTime>{created}</CreateTime>"
            "<InfoType><![CDATA[component_verify_ticket]]></InfoType>"
            f"<ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>"
        )
        sealed = config.crypto.encrypt(plaintext, timestamp=created)
        body = (
            f"<xml><AppId><![CDATA[{config.appid}]]></AppId>"
            f"<Encrypt><![CDATA[{sealed.encrypt}]]></Encrypt></xml>"
        )
        params = {
            "signature": "",
            "timestamp": sealed.timestamp,
            "nonce": sealed.nonce,
            "encrypt_type": "aes",
            "msg_signature": sealed.msg_signature,
        }
        owned = client is None
        http = httpx.AsyncClient() if client is None else client
        try:
            response = await http.post(
                url,
                params=params,
                content=body.encode(),
                headers={"content-type": "text/xml"},
            )
        finally:
            if owned:
                await http.aclose()
        self.push_replies.append(response.text)
        return ticket

    def authorize(self, authorizer_appid: str, *, func_info: tuple[int, ...] = (1, 2)) -> str:
        """An admin of ``authorizer_appid`` authorizes the component: the authorization code.

        (WeChat hands the code to the redirect URL and to the authorization
        event URL; here the test carries it to ``Component.query_auth``.)

        Raises:
            RuntimeError: the component was not configured with `component` first.
        """
        self._config()
        code = f"queryauthcode@@@fake{next(self._numbers)}"
        self.auth_codes[code] = (authorizer_appid, self._fake.clock.now() + AUTH_CODE_LIFE)
        self.authorizers.setdefault(
            authorizer_appid,
            _Authorizer(authorizer_appid, "", int(self._fake.clock.now()), func_info),
        ).func_info = func_info
        return code

    # -- helpers ---------------------------------------------------------------------------

    def _kf(self, kf_account: object) -> dict[str, Any]:
        account = self.kf_accounts.get(kf_account) if isinstance(kf_account, str) else None
        if account is None:
            raise FakeError(65401, "invalid kf_account")
        return account

    def _follower(self, openid: object) -> float:
        last = self.followers.get(openid) if isinstance(openid, str) else None
        if last is None:
            raise FakeError(40003, "invalid openid")
        return last

    def _config(self) -> ComponentConfig:
        if self.config is None:
            msg = "configure the component first: fake.official.component(...)"
            raise RuntimeError(msg)
        return self.config

    def _check_component_token(self, value: str | None) -> None:
        token = self.component_tokens.get(value or "")
        if token is None:
            raise FakeError(40001, "invalid credential, access_token is invalid or not latest")
        if token.expires_at <= self._fake.clock.now():
            raise FakeError(42001, "access_token expired")

    def _check_component_appid(self, body: dict[str, Any]) -> None:
        if self.config is None or body.get("component_appid") != self.config.appid:
            raise FakeError(61011, "invalid component")

    def _authorized(self, appid: object) -> _Authorizer:
        authorizer = self.authorizers.get(appid) if isinstance(appid, str) else None
        if authorizer is None or not authorizer.refresh_token:
            raise FakeError(61003, "component is not authorized by this account")
        return authorizer

    def _new_token(self, kind: str, life: float = TOKEN_LIFE) -> IssuedToken:
        return self._fake.tokens.new(kind, life)

    def _issue_authorizer_token(self) -> IssuedToken:
        token = self._new_token("AAT")
        self._fake.tokens.extra_official[token.value] = token
        return token

    # -- routes ----------------------------------------------------------------------------

    def register(self) -> None:
        """Register the customer-service and component routes."""
        self._register_accounts()
        self._register_messages()
        self._register_sessions()
        self._register_component()

    def _register_accounts(self) -> None:
        route = self._fake.route

        @route("POST", Host.OFFICIAL, "customservice/kfaccount/add")
        async def add(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            account = body.get("kf_account")
            if not isinstance(account, str) or "@" not in account:
                raise FakeError(65404, "invalid kf_account")
            if account in self.kf_accounts:
                raise FakeError(65406, "kf_account exsited")
            self.kf_accounts[account] = {
                "kf_account": account,
                "kf_nick": str(body.get("nickname", "")),
                "kf_id": str(1000 + len(self.kf_accounts) + 1),
                "kf_headimgurl": "",
            }
            return dict(_OK)

        @route("POST", Host.OFFICIAL, "customservice/kfaccount/update")
        async def update(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._kf(body.get("kf_account"))["kf_nick"] = str(body.get("nickname", ""))
            return dict(_OK)

        @route("POST", Host.OFFICIAL, "customservice/kfaccount/del")
        async def delete(request: FakeRequest) -> dict[str, Any]:
            account = self._kf(request.json().get("kf_account"))["kf_account"]
            del self.kf_accounts[account]
            self.online.pop(account, None)
            return dict(_OK)

        @route("GET", Host.OFFICIAL, "cgi-bin/customservice/getkflist")
        async def kf_list(_: FakeRequest) -> dict[str, Any]:
            return {"kf_list": [dict(a) for a in self.kf_accounts.values()]}

        @route("GET", Host.OFFICIAL, "cgi-bin/customservice/getonlinekflist")
        async def online_list(_: FakeRequest) -> dict[str, Any]:
            return {
                "kf_online_list": [
                    {
                        "kf_account": name,
                        "status": status,
                        "kf_id": self.kf_accounts[name]["kf_id"],
                        "accepted_case": sum(1 for kf, _ in self.sessions.values() if kf == name),
                    }
                    for name, status in self.online.items()
                    if name in self.kf_accounts
                ]
            }

        @route("POST", Host.OFFICIAL, "customservice/kfaccount/inviteworker")
        async def invite(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            account = self._kf(body.get("kf_account"))
            if account.get("kf_wx"):
                raise FakeError(65412, "kf_account already bound to a wechat user")
            if account.get("invite_wx"):
                raise FakeError(65411, "kf_account already has an invitation waiting")
            account["invite_wx"] = str(body.get("invite_wx", ""))
            account["invite_expire_time"] = int(self._fake.clock.now()) + 7 * 86400
            account["invite_status"] = "waiting"
            return dict(_OK)

        @route("POST", Host.OFFICIAL, "customservice/kfaccount/uploadheadimg")
        async def head_img(request: FakeRequest) -> dict[str, Any]:
            account = self._kf(request.query.get("kf_account"))
            part = parse_multipart(request).get("media")
            if part is None:  # the Official Account global return codes' 41005
                raise FakeError(41005, "media data missing")
            self.head_images[account["kf_account"]] = part.data
            account["kf_headimgurl"] = f"https://mmbiz.qpic.cn/mmbiz/fake{next(self._numbers)}/0"
            return dict(_OK)

    def _register_messages(self) -> None:
        route = self._fake.route

        @route("POST", Host.OFFICIAL, "cgi-bin/message/custom/send")
        async def send(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            last = self._follower(body.get("touser"))
            if self._fake.clock.now() - last >= INTERACTION_WINDOW:
                raise FakeError(45015, "response out of time limit or subscription is canceled")
            msgtype = body.get("msgtype")
            if not isinstance(msgtype, str) or msgtype not in body:
                raise FakeError(40008, "invalid message type")
            service = body.get("customservice")
            if isinstance(service, dict):
                self._kf(service.get("kf_account"))
            self.sent.append(body)
            return dict(_OK)

        @route("POST", Host.OFFICIAL, "cgi-bin/message/custom/typing")
        async def typing(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            openid = body.get("touser")
            self._follower(openid)
            command = body.get("command")
            if command not in {"Typing", "CancelTyping"}:
                raise FakeError(40097, "invalid args")
            self.typing[str(openid)] = command == "Typing"
            return dict(_OK)

        @route("POST", Host.OFFICIAL, "customservice/msgrecord/getmsglist")
        async def msg_list(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            values = [body.get(k) for k in ("starttime", "endtime", "msgid", "number")]
            ints = [v for v in values if isinstance(v, int)]
            if len(ints) != len(values):
                raise FakeError(65416, "invalid parameter")
            start, end, msgid, number = ints
            if end < start or msgid < 1 or not 1 <= number <= 10_000:  # noqa: PLR2004
                raise FakeError(65416, "invalid parameter")
            if end - start > RECORD_WINDOW:
                raise FakeError(65417, "time range exceeds the limit")
            window = sorted(
                (r for r in self.records if start <= r["time"] <= end), key=lambda r: r["time"]
            )
            page = window[msgid - 1 : msgid - 1 + number]
            return {
                "recordlist": [dict(r) for r in page],
                "number": len(page),
                "msgid": msgid + len(page),
            }

    def _register_sessions(self) -> None:
        route = self._fake.route

        @route("POST", Host.OFFICIAL, "customservice/kfsession/create")
        async def create(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            account = self._kf(body.get("kf_account"))["kf_account"]
            openid = body.get("openid")
            self._follower(openid)
            if account not in self.online:
                raise FakeError(65415, "kf_account is offline")
            current = self.sessions.get(str(openid))
            if current is not None and current[0] != account:
                raise FakeError(65414, "customer is being served by another kf_account")
            self.sessions[str(openid)] = (account, int(self._fake.clock.now()))
            self.waiting.pop(str(openid), None)
            return dict(_OK)

        @route("POST", Host.OFFICIAL, "customservice/kfsession/close")
        async def close(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            account = self._kf(body.get("kf_account"))["kf_account"]
            openid = str(body.get("openid"))
            current = self.sessions.get(openid)
            if current is None or current[0] != account:
                raise FakeError(65413, "no session for this customer")
            del self.sessions[openid]
            return dict(_OK)

        @route("GET", Host.OFFICIAL, "customservice/kfsession/getsession")
        async def get(request: FakeRequest) -> dict[str, Any]:
            openid = request.query.get("openid", "")
            self._follower(openid)
            account, created = self.sessions.get(openid, ("", 0))
            return {"kf_account": account, "createtime": created}

        @route("GET", Host.OFFICIAL, "customservice/kfsession/getsessionlist")
        async def session_list(request: FakeRequest) -> dict[str, Any]:
            account = self._kf(request.query.get("kf_account"))["kf_account"]
            return {
                "sessionlist": [
                    {"openid": openid, "createtime": created}
                    for openid, (kf, created) in self.sessions.items()
                    if kf == account
                ]
            }

        @route("GET", Host.OFFICIAL, "customservice/kfsession/getwaitcase")
        async def wait_case(_: FakeRequest) -> dict[str, Any]:
            ordered = sorted(self.waiting.items(), key=lambda item: item[1])
            return {
                "count": len(ordered),
                "waitcaselist": [
                    {"openid": openid, "latest_time": latest}
                    for openid, latest in ordered[:_WAIT_CASE_MAX]
                ],
            }

    def _register_component(self) -> None:  # noqa: C901, PLR0915 - one closure per endpoint
        route = self._fake.route
        self._fake.token_checker("component_access_token", self._check_component_token)

        def component_route(path: str) -> Callable[[Handler], Handler]:
            return route("POST", Host.OFFICIAL, path, token_param="component_access_token")  # noqa: S106

        @route("POST", Host.OFFICIAL, "cgi-bin/component/api_component_token", token_param=None)
        async def component_token(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._check_component_appid(body)
            config = self._config()
            if body.get("component_appsecret") != config.secret:
                raise FakeError(40125, "invalid appsecret")
            if not self.tickets or body.get("component_verify_ticket") != self.tickets[-1][0]:
                raise FakeError(61006, "component ticket is invalid")
            if self.tickets[-1][1] + TICKET_LIFE <= self._fake.clock.now():
                raise FakeError(61005, "component ticket is expired")
            token = self._new_token("CAT")
            self.component_tokens[token.value] = token
            return {"component_access_token": token.value, "expires_in": TOKEN_LIFE}

        @component_route("cgi-bin/component/api_create_preauthcode")
        async def pre_auth_code(request: FakeRequest) -> dict[str, Any]:
            self._check_component_appid(request.json())
            code = f"preauthcode@@@fake{next(self._numbers)}"
            self.pre_auth_codes[code] = self._fake.clock.now() + PRE_AUTH_CODE_LIFE
            return {"pre_auth_code": code, "expires_in": PRE_AUTH_CODE_LIFE}

        @component_route("cgi-bin/component/api_query_auth")
        async def query_auth(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._check_component_appid(body)
            grant = self.auth_codes.pop(str(body.get("authorization_code")), None)
            if grant is None or grant[1] <= self._fake.clock.now():
                raise FakeError(61010, "code is expired")
            authorizer = self.authorizers[grant[0]]
            authorizer.refresh_token = f"refreshtoken@@@fake{next(self._numbers)}"
            authorizer.auth_time = int(self._fake.clock.now())
            token = self._issue_authorizer_token()
            return {
                "authorization_info": {
                    "authorizer_appid": authorizer.appid,
                    "authorizer_access_token": token.value,
                    "expires_in": TOKEN_LIFE,
                    "authorizer_refresh_token": authorizer.refresh_token,
                    "func_info": _func_info(authorizer),
                }
            }

        @component_route("cgi-bin/component/api_authorizer_token")
        async def authorizer_token(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._check_component_appid(body)
            authorizer = self._authorized(body.get("authorizer_appid"))
            if body.get("authorizer_refresh_token") != authorizer.refresh_token:
                raise FakeError(61023, "refresh_token is invalid")
            if self.rotate_refresh_tokens:
                authorizer.refresh_token = f"refreshtoken@@@fake{next(self._numbers)}"
            token = self._issue_authorizer_token()
            return {
                "authorizer_access_token": token.value,
                "expires_in": TOKEN_LIFE,
                "authorizer_refresh_token": authorizer.refresh_token,
            }

        @component_route("cgi-bin/component/api_get_authorizer_info")
        async def authorizer_info(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._check_component_appid(body)
            authorizer = self._authorized(body.get("authorizer_appid"))
            return {
                "authorizer_info": {
                    "nick_name": f"Fake account {authorizer.appid}",
                    "head_img": "",
                    "service_type_info": {"id": 2},
                    "verify_type_info": {"id": 0},
                    "user_name": f"gh_{authorizer.appid[-10:]}",
                    "principal_name": "Fake Co., Ltd.",
                    "alias": "",
                    "qrcode_url": "",
                    "business_info": {
                        "open_pay": 0,
                        "open_shake": 0,
                        "open_scan": 0,
                        "open_card": 0,
                        "open_store": 0,
                    },
                    "signature": "",
                },
                "authorization_info": {
                    "authorizer_appid": authorizer.appid,
                    "authorizer_refresh_token": authorizer.refresh_token,
                    "func_info": _func_info(authorizer),
                },
            }

        @component_route("cgi-bin/component/api_get_authorizer_list")
        async def authorizer_list(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._check_component_appid(body)
            offset, count = body.get("offset", 0), body.get("count", 500)
            if not isinstance(offset, int) or not isinstance(count, int) or count > 500:  # noqa: PLR2004
                raise FakeError(40097, "invalid args")
            granted = [a for a in self.authorizers.values() if a.refresh_token]
            return {
                "total_count": len(granted),
                "list": [
                    {
                        "authorizer_appid": a.appid,
                        "refresh_token": a.refresh_token,
                        "auth_time": a.auth_time,
                    }
                    for a in granted[offset : offset + count]
                ],
            }

        @component_route("cgi-bin/component/api_get_authorizer_option")
        async def get_option(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._check_component_appid(body)
            authorizer = self._authorized(body.get("authorizer_appid"))
            name = body.get("option_name")
            if name not in authorizer.options:
                raise FakeError(40097, "invalid args")
            return {
                "authorizer_appid": authorizer.appid,
                "option_name": name,
                "option_value": authorizer.options[str(name)],
            }

        @component_route("cgi-bin/component/api_set_authorizer_option")
        async def set_option(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._check_component_appid(body)
            authorizer = self._authorized(body.get("authorizer_appid"))
            name, value = body.get("option_name"), body.get("option_value")
            if name not in authorizer.options or not isinstance(value, str):
                raise FakeError(40097, "invalid args")
            authorizer.options[str(name)] = value
            return dict(_OK)

        @component_route("cgi-bin/component/fastregisterweapp")
        async def fast_register(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            key = (
                str(body.get("name")),
                str(body.get("legal_persona_wechat")),
                str(body.get("legal_persona_name")),
            )
            action = request.query.get("action")
            if action == "create":
                self.registrations.setdefault(key, 89251)
                return dict(_OK)
            if action == "search":
                code = self.registrations.get(key)
                if code is None:
                    raise FakeError(89250, "task not found")
                if code:
                    raise FakeError(code, "task is being processed")
                return dict(_OK)
            raise FakeError(40097, "invalid args")


def _func_info(authorizer: _Authorizer) -> list[dict[str, Any]]:
    return [{"funcscope_category": {"id": scope}} for scope in authorizer.func_info]


def install(fake: FakeWeChat) -> FakeOfficial:
    """Register this family's routes on ``fake`` and return its state."""
    official = FakeOfficial(fake)
    official.register()
    return official
