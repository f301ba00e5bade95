"""WeCom members (成员管理): read a member, list ids, convert userid and openid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from wechat_async._models import structure
from wechat_async._service import Service
from wechat_async._validate import integer, text
from wechat_async.errors import InvalidResponseError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["DeptUser", "SimpleUser", "User", "UserIdPage", "UserInfo"]

# path/96067: list_id "limit … 取值范围 1 ~ 10000".
_LIST_ID_LIMIT_MAX: Final = 10_000

_GET: Final = "cgi-bin/user/get"
_LIST_ID: Final = "cgi-bin/user/list_id"
_SIMPLELIST: Final = "cgi-bin/user/simplelist"
_TO_OPENID: Final = "cgi-bin/user/convert_to_openid"
_TO_USERID: Final = "cgi-bin/user/convert_to_userid"


@attrs.frozen
class UserInfo:
    """The answer of ``cgi-bin/user/get``.

    Which fields WeChat fills depends on the app: since 2022 most apps no
    longer get mobile, email, avatar, gender or address, and third-party apps
    get no real name. Everything but ``userid`` is therefore optional.
    ``gender`` is "0" (unknown), "1" (male) or "2" (female); ``status`` is 1
    active, 2 disabled, 4 not yet active, 5 left the company.
    """

    userid: str
    name: str | None = None
    department: tuple[int, ...] = ()
    order: tuple[int, ...] = ()
    position: str | None = None
    mobile: str | None = None
    gender: str | None = None
    email: str | None = None
    biz_mail: str | None = None
    is_leader_in_dept: tuple[int, ...] = ()
    direct_leader: tuple[str, ...] = ()
    avatar: str | None = None
    thumb_avatar: str | None = None
    telephone: str | None = None
    alias: str | None = None
    address: str | None = None
    open_userid: str | None = None
    main_department: int | None = None
    status: int | None = None
    qr_code: str | None = None
    external_position: str | None = None
    extattr: dict[str, Any] | None = None
    """Custom attributes, as WeChat sends them (``{"attrs": [...]}``)."""
    external_profile: dict[str, Any] | None = None
    """The member's public profile, as WeChat sends it."""


@attrs.frozen
class DeptUser:
    """One member-department pair from ``cgi-bin/user/list_id``.

    A member in several departments appears once per department. Self-built
    apps get ``userid``; third-party apps get ``open_userid`` instead.
    """

    department: int
    userid: str | None = None
    open_userid: str | None = None


@attrs.frozen
class UserIdPage:
    """One page of ``cgi-bin/user/list_id``; an empty ``next_cursor`` means the last."""

    dept_user: tuple[DeptUser, ...] = ()
    next_cursor: str = ""


@attrs.frozen
class SimpleUser:
    """One member from ``cgi-bin/user/simplelist``."""

    userid: str
    name: str | None = None
    department: tuple[int, ...] = ()
    open_userid: str | None = None


@attrs.frozen
class _SimpleList:
    userlist: tuple[SimpleUser, ...] = ()


@attrs.frozen
class _OpenId:
    openid: str


@attrs.frozen
class _UserId:
    userid: str


class User(Service):
    """WeCom members: ``cgi-bin/user/*``."""

    async def get(self, userid: str) -> UserInfo:
        """GET cgi-bin/user/get: read one member.

        Raises:
            InvalidArgumentError: ``userid`` is not a non-empty string.
            APIError: WeChat refused the call, e.g. 60111 for a userid not in the contacts.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._get(_GET, {"userid": text("userid", userid)})
        return structure(answer, UserInfo, _GET)

    async def list_id(self, cursor: str | None = None, limit: int | None = None) -> UserIdPage:
        """POST cgi-bin/user/list_id: one page of userids with their departments.

        Pass the previous page's ``next_cursor`` as ``cursor``; ``limit`` is
        1 to 10000. WeChat only answers this for the contacts-sync secret.

        Raises:
            InvalidArgumentError: ``cursor`` is given but not a non-empty string, or
                ``limit`` is given but not an integer from 1 to 10000.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body: dict[str, Any] = {}
        if cursor is not None:
            body["cursor"] = text("cursor", cursor)
        if limit is not None:
            body["limit"] = integer("limit", limit, 1, _LIST_ID_LIMIT_MAX)
        answer = await self._post(_LIST_ID, body, idempotent=True)
        return structure(answer, UserIdPage, _LIST_ID)

    async def iter_ids(self, limit: int = _LIST_ID_LIMIT_MAX) -> AsyncIterator[DeptUser]:
        """POST cgi-bin/user/list_id, page after page: every member-department pair.

        Raises:
            InvalidArgumentError: ``limit`` is not an integer from 1 to 10000 (raised on
                the first iteration, before any request).
            APIError: WeChat refused a page request.
            TransportError: no usable answer came back, or (as `InvalidResponseError`) a
                page's ``next_cursor`` repeated the previous one.
            TokenUnavailableError: no access token could be had in time.
        """
        integer("limit", limit, 1, _LIST_ID_LIMIT_MAX)
        cursor: str | None = None
        while True:
            page = await self.list_id(cursor, limit)
            for entry in page.dept_user:
                yield entry
            if not page.next_cursor:
                return
            if page.next_cursor == cursor:
                # A cursor that does not move would page forever.
                raise InvalidResponseError("next_cursor did not advance", _LIST_ID)
            cursor = page.next_cursor

    async def simple_list(self, department_id: int) -> tuple[SimpleUser, ...]:
        """GET cgi-bin/user/simplelist: the members directly in one department.

        WeChat dropped ``fetch_child`` (path/90200, 2022): to cover
        sub-departments, list them and call this for each.

        Raises:
            InvalidArgumentError: ``department_id`` is not an integer of at least 1.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._get(
            _SIMPLELIST, {"department_id": integer("department_id", department_id, 1)}
        )
        return structure(answer, _SimpleList, _SIMPLELIST).userlist

    async def convert_to_openid(self, userid: str) -> str:
        """POST cgi-bin/user/convert_to_openid: a member's openid, for WeChat Pay.

        Raises:
            InvalidArgumentError: ``userid`` is not a non-empty string.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._post(_TO_OPENID, {"userid": text("userid", userid)}, idempotent=True)
        return structure(answer, _OpenId, _TO_OPENID).openid

    async def convert_to_userid(self, openid: str) -> str:
        """POST cgi-bin/user/convert_to_userid: the member behind a WeChat Pay openid.

        Raises:
            InvalidArgumentError: ``openid`` is not a non-empty string.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._post(_TO_USERID, {"openid": text("openid", openid)}, idempotent=True)
        return structure(answer, _UserId, _TO_USERID).userid
