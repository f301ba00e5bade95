"""Models of the Open Platform component (第三方平台): authorization events and API replies.

Authorization events arrive, encrypted, at the component's authorization
event URL; once decrypted, each is keyed on ``InfoType``. A type this module
does not know comes back as `UnknownComponentEvent` holding the raw
dict. Event fields are snake_case renames of WeChat's ``AppId``,
``CreateTime``, ... (the fast-registration event spells its own fields in
snake_case already).

Tickets, authorization codes, pre-authorization codes, access tokens and
refresh tokens are credentials: every field that holds one is kept out of
the model's repr.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import attrs

from wechat_async._models import register_renamed, register_tagged_union

__all__ = [
    "AuthType",
    "AuthorizationInfo",
    "AuthorizedEvent",
    "AuthorizerInfo",
    "AuthorizerInfoResult",
    "AuthorizerList",
    "AuthorizerListItem",
    "AuthorizerOption",
    "BusinessInfo",
    "ComponentEvent",
    "ComponentVerifyTicketEvent",
    "ConfirmInfo",
    "FastRegisterEvent",
    "FastRegisterInfo",
    "FuncInfo",
    "FuncScopeCategory",
    "MiniProgramCategory",
    "MiniProgramInfo",
    "MiniProgramNetwork",
    "RegistrationStatus",
    "TypeInfo",
    "UnauthorizedEvent",
    "UnknownComponentEvent",
    "UpdateAuthorizedEvent",
]


class AuthType(enum.IntEnum):
    """Which accounts the authorization page lists (``auth_type`` of the auth URL)."""

    OFFICIAL_ACCOUNT = 1
    """Only Official Accounts."""
    MINI_PROGRAM = 2
    """Only Mini Programs."""
    BOTH = 3
    """Official Accounts and Mini Programs (WeChat's default when left out)."""


# -- authorization events (POST to the authorization event URL) -------------------


@attrs.frozen
class ComponentVerifyTicketEvent:
    """``component_verify_ticket``: WeChat's ticket, pushed every 10 minutes.

    ``Component.handle_callback`` stores it before returning this event,
    unless a ticket with a later ``create_time`` is stored already:
    ``superseded`` is then True and the stored ticket stays.
    """

    info_type: ClassVar[str] = "component_verify_ticket"
    app_id: str = ""
    create_time: int = 0
    component_verify_ticket: str = attrs.field(default="", repr=False)
    superseded: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class _AuthorizationGrant:
    """What ``authorized`` and ``updateauthorized`` both carry.

    ``superseded`` is True when ``Component.handle_callback`` already knew
    a later change of this account's authorization (a push with a later
    ``create_time``, or a `Component.query_auth` since): don't act on it.
    """

    app_id: str = ""
    create_time: int = 0
    authorizer_appid: str = ""
    authorization_code: str = attrs.field(default="", repr=False)
    authorization_code_expired_time: int = 0
    pre_auth_code: str = attrs.field(default="", repr=False)
    superseded: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class AuthorizedEvent(_AuthorizationGrant):
    """``authorized``: an account authorized the component.

    ``authorization_code`` goes to ``Component.query_auth`` (unless
    ``superseded``: the account's authorization changed after this push).
    """

    info_type: ClassVar[str] = "authorized"


@attrs.frozen
class UpdateAuthorizedEvent(_AuthorizationGrant):
    """``updateauthorized``: an account changed the permission sets it granted.

    ``superseded`` as for `AuthorizedEvent`.
    """

    info_type: ClassVar[str] = "updateauthorized"


@attrs.frozen
class UnauthorizedEvent:
    """``unauthorized``: an account withdrew its authorization; its refresh token is dead.

    ``Component.handle_callback`` forgets the account's tokens, unless the
    account authorized again (or another change came) after ``create_time``:
    ``superseded`` is then True and nothing is forgotten.
    """

    info_type: ClassVar[str] = "unauthorized"
    app_id: str = ""
    create_time: int = 0
    authorizer_appid: str = ""
    superseded: bool = attrs.field(default=False, kw_only=True)


@attrs.frozen
class FastRegisterInfo:
    """The ``info`` of a fast-registration event: what the task was created with."""

    name: str = ""
    code: str = ""
    code_type: int = 0
    legal_persona_wechat: str = ""
    legal_persona_name: str = ""
    component_phone: str = ""


@attrs.frozen
class FastRegisterEvent:
    """``notify_third_fasteregister``: the outcome of a fast-registration task.

    ``status`` 0 means the Mini Program ``appid`` was created and authorized to
    the component; ``auth_code`` then goes to ``Component.query_auth``.
    """

    info_type: ClassVar[str] = "notify_third_fasteregister"
    app_id: str = ""
    create_time: int = 0
    appid: str = ""
    status: int = 0
    auth_code: str = attrs.field(default="", repr=False)
    msg: str = ""
    info: FastRegisterInfo | None = None


@attrs.frozen
class UnknownComponentEvent:
    """An ``InfoType`` this SDK does not model yet; ``raw`` is the decrypted payload."""

    raw: dict[str, Any] = attrs.field(repr=False)

    @property
    def info_type(self) -> str | None:
        """The ``InfoType`` WeChat sent, if any."""
        value = self.raw.get("InfoType")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        """Name the type only: the payload may carry codes or tickets."""
        return f"UnknownComponentEvent(info_type={self.info_type!r})"


ComponentEvent = (
    ComponentVerifyTicketEvent
    | AuthorizedEvent
    | UpdateAuthorizedEvent
    | UnauthorizedEvent
    | FastRegisterEvent
    | UnknownComponentEvent
)
"""A decrypted authorization event, keyed on ``InfoType``."""

_COMMON: dict[str, str] = {"app_id": "AppId", "create_time": "CreateTime"}
_AUTH_CHANGE: dict[str, str] = {
    **_COMMON,
    "authorizer_appid": "AuthorizerAppid",
    "authorization_code": "AuthorizationCode",
    "authorization_code_expired_time": "AuthorizationCodeExpiredTime",
    "pre_auth_code": "PreAuthCode",
}
# "superseded" is Component's verdict, never WeChat's: it is not read from a push.
_OURS = ("superseded",)
register_renamed(
    ComponentVerifyTicketEvent,
    {**_COMMON, "component_verify_ticket": "ComponentVerifyTicket"},
    omit=_OURS,
)
register_renamed(AuthorizedEvent, _AUTH_CHANGE, omit=_OURS)
register_renamed(UpdateAuthorizedEvent, _AUTH_CHANGE, omit=_OURS)
register_renamed(UnauthorizedEvent, {**_COMMON, "authorizer_appid": "AuthorizerAppid"}, omit=_OURS)
register_renamed(FastRegisterEvent, _COMMON)

register_tagged_union(
    ComponentEvent,
    tag="InfoType",
    members={
        cls.info_type: cls
        for cls in (
            ComponentVerifyTicketEvent,
            AuthorizedEvent,
            UpdateAuthorizedEvent,
            UnauthorizedEvent,
            FastRegisterEvent,
        )
    },
    unknown=lambda raw: UnknownComponentEvent(raw=raw),
)


# -- API replies ---------------------------------------------------------------------


@attrs.frozen
class FuncScopeCategory:
    """One permission set (权限集) by id; ``name`` and ``desc`` when WeChat sends them."""

    id: int = 0
    type: int | None = None
    name: str | None = None
    desc: str | None = None


@attrs.frozen
class ConfirmInfo:
    """Whether a permission set still needs the account's confirmation (1 yes, 0 no)."""

    need_confirm: int = 0
    already_confirm: int = 0
    can_confirm: int = 0


@attrs.frozen
class FuncInfo:
    """One item of ``func_info``: a permission set the account granted."""

    funcscope_category: FuncScopeCategory = attrs.field(factory=FuncScopeCategory)
    confirm_info: ConfirmInfo | None = None


@attrs.frozen
class AuthorizationInfo:
    """``authorization_info``: the authorizer, its permission sets and (from query_auth) tokens.

    The token fields are empty where WeChat leaves them out (get_authorizer_info).
    """

    authorizer_appid: str = ""
    authorizer_access_token: str = attrs.field(default="", repr=False)
    expires_in: int = 0
    authorizer_refresh_token: str = attrs.field(default="", repr=False)
    func_info: tuple[FuncInfo, ...] = ()

    @property
    def func_ids(self) -> tuple[int, ...]:
        """The granted permission set ids, in WeChat's order."""
        return tuple(item.funcscope_category.id for item in self.func_info)


@attrs.frozen
class TypeInfo:
    """``service_type_info`` / ``verify_type_info``: an id and, sometimes, its name."""

    id: int = 0
    name: str | None = None


@attrs.frozen
class BusinessInfo:
    """Which features the account has switched on (1) or not (0)."""

    open_pay: int = 0
    open_shake: int = 0
    open_scan: int = 0
    open_card: int = 0
    open_store: int = 0


@attrs.frozen
class MiniProgramNetwork:
    """The Mini Program's configured domains (WeChat spells these keys in CamelCase)."""

    request_domain: tuple[str, ...] = ()
    ws_request_domain: tuple[str, ...] = ()
    upload_domain: tuple[str, ...] = ()
    download_domain: tuple[str, ...] = ()
    udp_domain: tuple[str, ...] = ()


@attrs.frozen
class MiniProgramCategory:
    """One configured category: first and second level."""

    first: str = ""
    second: str = ""


@attrs.frozen
class MiniProgramInfo:
    """``MiniProgramInfo``: present only when the authorizer is a Mini Program."""

    network: MiniProgramNetwork | None = None
    categories: tuple[MiniProgramCategory, ...] = ()
    visit_status: int = 0


@attrs.frozen
class AuthorizerInfo:
    """``authorizer_info``: the account's profile.

    ``service_type_info.id``: 0 subscription account, 1 upgraded old subscription
    account, 2 service account (Mini Programs: 0). ``verify_type_info.id``: -1
    unverified, 0 WeChat verified, others legacy verifications.
    ``account_status``: 1 normal, 14 closed, 16 banned, 18 warned, 19 frozen.
    """

    nick_name: str = ""
    head_img: str = ""
    service_type_info: TypeInfo | None = None
    verify_type_info: TypeInfo | None = None
    user_name: str = ""
    principal_name: str = ""
    alias: str = ""
    qrcode_url: str = ""
    business_info: BusinessInfo | None = None
    signature: str = ""
    account_status: int | None = None
    register_type: int | None = None
    mini_program_info: MiniProgramInfo | None = None

    @property
    def is_mini_program(self) -> bool:
        """Whether WeChat described a Mini Program (it sends ``MiniProgramInfo`` only then)."""
        return self.mini_program_info is not None


@attrs.frozen
class AuthorizerInfoResult:
    """``POST cgi-bin/component/api_get_authorizer_info``: profile and authorization."""

    authorizer_info: AuthorizerInfo = attrs.field(factory=AuthorizerInfo)
    authorization_info: AuthorizationInfo = attrs.field(factory=AuthorizationInfo)


@attrs.frozen
class AuthorizerListItem:
    """One authorized account: appid, refresh token (may be absent) and when it authorized."""

    authorizer_appid: str = ""
    refresh_token: str = attrs.field(default="", repr=False)
    auth_time: int = 0


@attrs.frozen
class AuthorizerList:
    """One page of ``POST cgi-bin/component/api_get_authorizer_list``."""

    total_count: int = 0
    list: tuple[AuthorizerListItem, ...] = ()


@attrs.frozen
class AuthorizerOption:
    """``POST cgi-bin/component/api_get_authorizer_option``: one option and its value."""

    authorizer_appid: str = ""
    option_name: str = ""
    option_value: str = ""


@attrs.frozen
class RegistrationStatus:
    """``fastregisterweapp?action=search``: where a fast-registration task stands.

    WeChat answers with an errcode: 0, or 89251 (waiting for the legal
    person's face verification), or 89252 (checking the legal person and the
    company). Any other code is raised as an error.
    """

    PENDING_CODES: ClassVar[frozenset[int]] = frozenset({89251, 89252})

    errcode: int = 0
    errmsg: str = ""

    @property
    def pending(self) -> bool:
        """Whether the task is still being checked."""
        return self.errcode in self.PENDING_CODES


register_renamed(AuthorizerInfo, {"mini_program_info": "MiniProgramInfo"})
register_renamed(
    MiniProgramNetwork,
    {
        "request_domain": "RequestDomain",
        "ws_request_domain": "WsRequestDomain",
        "upload_domain": "UploadDomain",
        "download_domain": "DownloadDomain",
        "udp_domain": "UDPDomain",
    },
)
