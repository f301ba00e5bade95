"""WeCom contact tags (标签管理): create, rename, delete, list and tag members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from wechat_async._models import structure
from wechat_async._service import Service
from wechat_async._validate import integer, member_lists, text

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["InvalidMembers", "Tag", "TagInfo", "TagMembers", "TagUser"]

# path/90210: "标签名称，长度限制为32个字以内（汉字或英文字母）" — characters, not bytes.
_TAGNAME_MAX: Final = 32
# path/90214: "单次请求个数不超过1000" users, "不超过100" departments; deltagusers
# (path/90215) is taken to share them.
_USERLIST_MAX: Final = 1000
_PARTYLIST_MAX: Final = 100

_CREATE: Final = "cgi-bin/tag/create"
_UPDATE: Final = "cgi-bin/tag/update"
_DELETE: Final = "cgi-bin/tag/delete"
_GET: Final = "cgi-bin/tag/get"
_ADD_USERS: Final = "cgi-bin/tag/addtagusers"
_DEL_USERS: Final = "cgi-bin/tag/deltagusers"
_LIST: Final = "cgi-bin/tag/list"


@attrs.frozen
class TagUser:
    """A member of a tag; ``name`` is empty where the app may not read names."""

    userid: str
    name: str = ""


@attrs.frozen
class TagMembers:
    """The answer of ``cgi-bin/tag/get``: the tag's name, members and departments."""

    tagname: str = ""
    userlist: tuple[TagUser, ...] = ()
    partylist: tuple[int, ...] = ()


@attrs.frozen
class TagInfo:
    """One entry of ``cgi-bin/tag/list``."""

    tagid: int
    tagname: str = ""


@attrs.frozen
class InvalidMembers:
    """The members and departments WeChat refused in ``addtagusers`` / ``deltagusers``.

    Both are empty when every id was accepted. WeChat sends ``invalidlist``
    as one ``|``-separated string; here it is split.
    """

    invalidlist: tuple[str, ...] = ()
    invalidparty: tuple[int, ...] = ()


@attrs.frozen
class _Created:
    tagid: int


@attrs.frozen
class _TagList:
    taglist: tuple[TagInfo, ...] = ()


def _check_tagid(tagid: object) -> int:
    return integer("tagid", tagid, 0)


def _check_tagname(tagname: object) -> str:
    return text("tagname", tagname, max_chars=_TAGNAME_MAX, allow_blank=False)


def _members_body(tagid: int, userlist: Iterable[str], partylist: Iterable[int]) -> dict[str, Any]:
    lists = member_lists(
        userids=("userlist", userlist, _USERLIST_MAX),
        department_ids=("partylist", partylist, _PARTYLIST_MAX),
    )
    return {"tagid": _check_tagid(tagid), **lists}


def _split_bar(value: object) -> object:
    # The docs show "usr1|usr2|usr"; accept a JSON list too, in case WeChat changes.
    if isinstance(value, str):
        return [item for item in value.split("|") if item]
    return [] if value is None else value


class Tag(Service):
    """WeCom contact tags: ``cgi-bin/tag/*``."""

    async def create(self, tagname: str, tagid: int | None = None) -> int:
        """POST cgi-bin/tag/create: create a tag, return its tagid.

        ``tagname`` has at most 32 characters and must be unique; ``tagid``
        (a non-negative int) is chosen by WeChat when left out.

        Raises:
            InvalidArgumentError: ``tagname`` is blank or over 32 characters, or ``tagid``
                is not a non-negative integer.
            APIError: WeChat refused the call, e.g. 40071 for a tag name already in use.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body: dict[str, Any] = {"tagname": _check_tagname(tagname)}
        if tagid is not None:
            body["tagid"] = _check_tagid(tagid)
        answer = await self._post(_CREATE, body, idempotent=False)
        return structure(answer, _Created, _CREATE).tagid

    async def update(self, tagid: int, tagname: str) -> None:
        """POST cgi-bin/tag/update: rename a tag (only its creator app may).

        Raises:
            InvalidArgumentError: ``tagid`` is not a non-negative integer, or ``tagname``
                is blank or over 32 characters.
            APIError: WeChat refused the call, e.g. 40068 for an unknown tagid.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        await self._post(
            _UPDATE,
            {"tagid": _check_tagid(tagid), "tagname": _check_tagname(tagname)},
            idempotent=True,
        )

    async def delete(self, tagid: int) -> None:
        """GET cgi-bin/tag/delete: delete a tag (only its creator app may).

        Raises:
            InvalidArgumentError: ``tagid`` is not a non-negative integer.
            APIError: WeChat refused the call, e.g. 40068 for an unknown tagid.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        # A GET, so retried like any: a second delete changes nothing more, though
        # it may answer 40068 (may_have_taken_effect then tells the caller why).
        await self._get(_DELETE, {"tagid": _check_tagid(tagid)})

    async def get(self, tagid: int) -> TagMembers:
        """GET cgi-bin/tag/get: a tag's name, members and departments.

        Only members within the app's visible range are listed.

        Raises:
            InvalidArgumentError: ``tagid`` is not a non-negative integer.
            APIError: WeChat refused the call, e.g. 40068 for an unknown tagid.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._get(_GET, {"tagid": _check_tagid(tagid)})
        return structure(answer, TagMembers, _GET)

    async def add_users(
        self, tagid: int, userlist: Iterable[str] = (), partylist: Iterable[int] = ()
    ) -> InvalidMembers:
        """POST cgi-bin/tag/addtagusers: add members and departments to a tag.

        At most 1000 userids and 100 department ids per call, not both empty.
        Ids WeChat refuses come back in the result; if all are refused WeChat
        answers errcode 40070 instead.

        Raises:
            InvalidArgumentError: ``tagid`` is not a non-negative int, ``userlist`` is not
                up to 1000 non-empty strings, ``partylist`` not up to 100 ints, or both empty.
            APIError: WeChat refused the call, e.g. 40070 when every id given is invalid.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        # Membership is a set: adding or removing the same members again changes nothing.
        answer = await self._post(
            _ADD_USERS, _members_body(tagid, userlist, partylist), idempotent=True
        )
        return self._invalid(answer, _ADD_USERS)

    async def del_users(
        self, tagid: int, userlist: Iterable[str] = (), partylist: Iterable[int] = ()
    ) -> InvalidMembers:
        """POST cgi-bin/tag/deltagusers: remove members and departments from a tag.

        Same limits and result as `add_users`.

        Raises:
            InvalidArgumentError: ``tagid`` is not a non-negative int, ``userlist`` is not
                up to 1000 non-empty strings, ``partylist`` not up to 100 ints, or both empty.
            APIError: WeChat refused the call, e.g. 40070 when every id given is invalid.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._post(
            _DEL_USERS, _members_body(tagid, userlist, partylist), idempotent=True
        )
        return self._invalid(answer, _DEL_USERS)

    async def list(self) -> tuple[TagInfo, ...]:
        """GET cgi-bin/tag/list: every tag the app can see.

        Raises:
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        answer = await self._get(_LIST)
        return structure(answer, _TagList, _LIST).taglist

    @staticmethod
    def _invalid(answer: dict[str, Any], path: str) -> InvalidMembers:
        raw = {
            "invalidlist": _split_bar(answer.get("invalidlist")),
            "invalidparty": _split_bar(answer.get("invalidparty")),
        }
        return structure(raw, InvalidMembers, path)
