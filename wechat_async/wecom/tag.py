"""WeCom contact tags (标签管理): create, rename, delete, list and tag members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from wechat_async._models import structure
from wechat_async._service import Service
from wechat_async.errors import InvalidArgumentError

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
    if isinstance(tagid, bool) or not isinstance(tagid, int) or tagid < 0:
        raise InvalidArgumentError("tagid", f"must be a non-negative int, got {tagid!r}")
    return tagid


def _check_tagname(tagname: object) -> str:
    if not isinstance(tagname, str) or not tagname.strip():
        raise InvalidArgumentError("tagname", "must be a non-empty string")
    if len(tagname) > _TAGNAME_MAX:
        raise InvalidArgumentError(
            "tagname", f"is {len(tagname)} characters; WeChat allows {_TAGNAME_MAX}"
        )
    return tagname


def _members_body(tagid: int, userlist: Iterable[str], partylist: Iterable[int]) -> dict[str, Any]:
    if isinstance(userlist, str):
        raise InvalidArgumentError("userlist", "must be a list of userids, not one string")
    users = list(userlist)
    parties = list(partylist)
    if not users and not parties:
        raise InvalidArgumentError("userlist", "userlist and partylist must not both be empty")
    if len(users) > _USERLIST_MAX:
        raise InvalidArgumentError(
            "userlist", f"has {len(users)} ids; WeChat takes {_USERLIST_MAX} per call"
        )
    if len(parties) > _PARTYLIST_MAX:
        raise InvalidArgumentError(
            "partylist", f"has {len(parties)} ids; WeChat takes {_PARTYLIST_MAX} per call"
        )
    if not all(isinstance(user, str) and user for user in users):
        raise InvalidArgumentError("userlist", "every userid must be a non-empty string")
    if not all(isinstance(p, int) and not isinstance(p, bool) for p in parties):
        raise InvalidArgumentError("partylist", "every department id must be an int")
    body: dict[str, Any] = {"tagid": _check_tagid(tagid)}
    if users:
        body["userlist"] = users
    if parties:
        body["partylist"] = parties
    return body


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
        """
        body: dict[str, Any] = {"tagname": _check_tagname(tagname)}
        if tagid is not None:
            body["tagid"] = _check_tagid(tagid)
        answer = await self._post(_CREATE, body)
        return structure(answer, _Created, _CREATE).tagid

    async def update(self, tagid: int, tagname: str) -> None:
        """POST cgi-bin/tag/update: rename a tag (only its creator app may)."""
        await self._post(
            _UPDATE, {"tagid": _check_tagid(tagid), "tagname": _check_tagname(tagname)}
        )

    async def delete(self, tagid: int) -> None:
        """GET cgi-bin/tag/delete: delete a tag (only its creator app may)."""
        await self._get(_DELETE, {"tagid": _check_tagid(tagid)})

    async def get(self, tagid: int) -> TagMembers:
        """GET cgi-bin/tag/get: a tag's name, members and departments.

        Only members within the app's visible range are listed.
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
        """
        answer = await self._post(_ADD_USERS, _members_body(tagid, userlist, partylist))
        return self._invalid(answer, _ADD_USERS)

    async def del_users(
        self, tagid: int, userlist: Iterable[str] = (), partylist: Iterable[int] = ()
    ) -> InvalidMembers:
        """POST cgi-bin/tag/deltagusers: remove members and departments from a tag.

        Same limits and result as :meth:`add_users`.
        """
        answer = await self._post(_DEL_USERS, _members_body(tagid, userlist, partylist))
        return self._invalid(answer, _DEL_USERS)

    async def list(self) -> tuple[TagInfo, ...]:
        """GET cgi-bin/tag/list: every tag the app can see."""
        answer = await self._get(_LIST)
        return structure(answer, _TagList, _LIST).taglist

    @staticmethod
    def _invalid(answer: dict[str, Any], path: str) -> InvalidMembers:
        raw = {
            "invalidlist": _split_bar(answer.get("invalidlist")),
            "invalidparty": _split_bar(answer.get("invalidparty")),
        }
        return structure(raw, InvalidMembers, path)
