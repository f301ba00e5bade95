"""WeCom Tag, User, AppChat and Media for FakeWeChat (``fake.wecom``).

A test seeds the directory with `FakeWeCom.add_user` (and, if it needs
empty departments, `FakeWeCom.add_department`), then calls the SDK's
``Tag``, ``User``, ``AppChat`` and ``Media`` services against the fake and
reads the state back (``tags``, ``users``, ``chats``, ``chat_messages``,
``media``).

What follows WeChat's documentation:

* Answer shapes of every endpoint, as on the WeCom pages (``tag/get`` with
  ``userlist``/``partylist``, ``addtagusers`` with a ``|``-joined
  ``invalidlist`` and a list ``invalidparty``, ``appchat/get`` under
  ``chat_info``, ``media/upload`` with ``type``, ``media_id`` and a string
  ``created_at``).
* ``addtagusers``/``deltagusers``: unknown ids come back as invalid; when
  every id is unknown the answer is 40070.
* ``tag/create`` picks the next id after the largest when none is given.
* ``appchat/create``: a name past 50 characters is cut; without ``owner`` one
  member becomes the owner.
* ``media/get`` answers the bytes with ``Content-Disposition`` and the
  uploaded Content-Type, or the JSON error 40007 for an unknown or expired
  media_id (temporary media lives 3 days of the fake clock).
* Errcodes, each as WeCom's global error-code table describes it
  (developer.work.weixin.qq.com/document/path/90313; see the comments at the
  ``E_*`` constants): 60111 unknown userid, 60003 unknown department, 40068
  unknown tagid, 40071 duplicate tag name, 40072 blank tag name or one over 32
  characters, 40070 every member invalid, 40073 unknown openid, 86003 unknown
  chat, 86006 fewer than 2 members in a new chat, 86215 chatid taken, 40005 a
  media ``type`` other than image/voice/video/file, 44001 an upload without a
  ``media`` file, 40007 bad media_id, 50100 a ``list_id`` cursor the fake did
  not hand out, 40058 any other bad parameter.

Simplified: one corp and one app with full visibility (no 60011 for
out-of-range members, any corp secret reaches every API); tags have no
creator app; ``list_id`` cursors are opaque counters that never expire; the
openid of a member is derived from the userid; group messages are recorded,
not delivered, and their per-member limits are not enforced; no size checks
on uploads beyond the fake keeping what it is sent.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from wechat_async.testing.fake import FakeError, FakeRequest, FakeResponse
from wechat_async.transport import Host

if TYPE_CHECKING:
    from wechat_async.testing.fake import FakeWeChat

__all__ = [
    "FakeWeCom",
    "MultipartFile",
    "StoredMedia",
    "WeComChat",
    "WeComTag",
    "WeComUser",
    "content_disposition",
    "install",
    "parse_multipart",
]

MEDIA_LIFE: Final = 3 * 86400
"""Temporary media expire three days after the upload."""
CHAT_NAME_MAX: Final = 50
CHAT_MEMBERS_MIN: Final = 2
TAGNAME_MAX: Final = 32

# WeCom's global error codes, developer.work.weixin.qq.com/document/path/90313
# (rows as crawled into xen0n/go-workwx errcodes/mod.go, and in
# binarywang/WxJava's WxCpErrorMsgEnum).
E_INVALID_PARAM: Final = 40058  # 不合法的参数 (the generic one)
E_MEDIA_TYPE: Final = 40005  # 不合法的type参数: the upload's ``type``, not the file's kind (40004)
E_MEDIA_ID: Final = 40007  # 不合法的media_id参数
E_MSGTYPE: Final = 40008  # 不合法的msgtype参数
E_MEDIA_EMPTY: Final = 44001  # 多媒体文件为空
E_TAGID: Final = 40068  # 不合法的标签ID
E_ALL_INVALID: Final = 40070  # 指定的标签范围结点全部无效
E_TAGNAME: Final = 40071  # 不合法的标签名字: 标签名字已经存在
E_TAGNAME_LENGTH: Final = 40072  # 不合法的标签名字长度: 不允许为空，最大32个字
E_OPENID: Final = 40073  # 不合法的openid: openid不存在
E_CURSOR: Final = 50100  # 分页查询的游标无效
E_DEPARTMENT: Final = 60003  # 部门ID不存在
E_USERID: Final = 60111  # UserID不存在
E_CHAT_NOT_FOUND: Final = 86003  # 参数 chatid 不存在
E_CHAT_MEMBER_COUNT: Final = 86006  # 群成员数过多或过少 (86004 is a bad chat name)
E_CHATID_TAKEN: Final = 86215  # 会话ID已经存在
_MEDIA_TYPES: Final = frozenset({"image", "voice", "video", "file"})
_OK: Final = {"errcode": 0, "errmsg": "ok"}


@dataclass
class WeComUser:
    """A member of the seeded directory."""

    userid: str
    name: str
    department: tuple[int, ...] = (1,)
    extra: dict[str, Any] = field(default_factory=dict)
    """Further ``user/get`` fields (position, mobile, status, …), answered as given."""

    @property
    def openid(self) -> str:
        """The openid ``convert_to_openid`` answers for this member."""
        return f"oFake_{self.userid}"


@dataclass
class WeComTag:
    """A tag with its members and departments."""

    tagid: int
    tagname: str
    users: list[str] = field(default_factory=list)
    parties: list[int] = field(default_factory=list)


@dataclass
class WeComChat:
    """An app group chat."""

    chatid: str
    name: str
    owner: str
    userlist: list[str]


@dataclass(frozen=True)
class StoredMedia:
    """One uploaded file."""

    media_id: str
    type: str
    filename: str
    content_type: str
    data: bytes
    created_at: float


@dataclass(frozen=True)
class MultipartFile:
    """One file part of a multipart/form-data body."""

    name: str
    filename: str
    content_type: str
    data: bytes


def parse_multipart(request: FakeRequest) -> dict[str, MultipartFile]:
    """The file parts of a multipart/form-data request, by field name.

    A body that is not multipart/form-data has no file parts: each upload
    route then answers its own "no file" code (44001 on WeCom, 41005 on the
    Official Account host), as WeChat does for a missing file.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return {}
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    parts: dict[str, MultipartFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        parts[name] = MultipartFile(
            name,
            part.get_filename() or "",
            part.get_content_type(),
            payload if isinstance(payload, bytes) else b"",
        )
    return parts


def content_disposition(filename: str) -> str:
    """An attachment header naming ``filename`` (RFC 5987 form when not ASCII)."""
    if filename.isascii() and '"' not in filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=UTF-8''{quote(filename)}"


class FakeWeCom:
    """WeCom's contacts, tags, group chats and media, readable and drivable from tests."""

    def __init__(self, fake: FakeWeChat) -> None:
        """Attach to ``fake``; the root department 1 exists from the start."""
        self._fake = fake
        self.users: dict[str, WeComUser] = {}
        self.departments: set[int] = {1}
        self.tags: dict[int, WeComTag] = {}
        self.chats: dict[str, WeComChat] = {}
        self.chat_messages: list[dict[str, Any]] = []
        """Every body ``appchat/send`` accepted, in order."""
        self.media: dict[str, StoredMedia] = {}
        self.images: dict[str, bytes] = {}
        """``uploadimg`` uploads, by the URL answered."""
        self._numbers = itertools.count(1)

    def __repr__(self) -> str:
        """Count the state only."""
        return f"FakeWeCom(users={len(self.users)}, tags={len(self.tags)}, chats={len(self.chats)})"

    # -- seeding -------------------------------------------------------------------------

    def add_department(self, department_id: int) -> None:
        """Make a department known (for tag partylists)."""
        self.departments.add(department_id)

    def add_user(
        self,
        userid: str,
        name: str,
        department: tuple[int, ...] = (1,),
        **extra: Any,  # noqa: ANN401 - any user/get field
    ) -> WeComUser:
        """Seed a member; ``extra`` holds further ``user/get`` fields (``position=...``)."""
        user = WeComUser(userid, name, tuple(department), dict(extra))
        self.users[userid] = user
        self.departments.update(user.department)
        return user

    # -- helpers -------------------------------------------------------------------------

    def _user(self, userid: object) -> WeComUser:
        user = self.users.get(userid) if isinstance(userid, str) else None
        if user is None:
            raise FakeError(E_USERID, "userid not found")
        return user

    def _tag(self, tagid: object) -> WeComTag:
        try:
            key = int(str(tagid))
        except ValueError:
            key = -1
        tag = self.tags.get(key)
        if tag is None:
            raise FakeError(E_TAGID, "invalid tagid")
        return tag

    def _chat(self, chatid: object) -> WeComChat:
        chat = self.chats.get(chatid) if isinstance(chatid, str) else None
        if chat is None:
            raise FakeError(E_CHAT_NOT_FOUND, "chat not found")
        return chat

    def _media(self, media_id: str) -> StoredMedia:
        stored = self.media.get(media_id)
        if stored is None or stored.created_at + MEDIA_LIFE <= self._fake.clock.now():
            raise FakeError(E_MEDIA_ID, "invalid media_id")
        return stored

    def _split_members(
        self, body: dict[str, Any]
    ) -> tuple[list[str], list[str], list[int], list[int]]:
        users = [u for u in body.get("userlist") or [] if isinstance(u, str)]
        parties = [p for p in body.get("partylist") or [] if isinstance(p, int)]
        good_users = [u for u in users if u in self.users]
        bad_users = [u for u in users if u not in self.users]
        good_parties = [p for p in parties if p in self.departments]
        bad_parties = [p for p in parties if p not in self.departments]
        if not good_users and not good_parties:
            raise FakeError(E_ALL_INVALID, "all list invalid")
        return good_users, bad_users, good_parties, bad_parties

    # -- routes --------------------------------------------------------------------------

    def register(self) -> None:  # noqa: C901, PLR0915 - one closure per endpoint
        """Register the Tag, User, AppChat and Media routes."""
        route = self._fake.route

        @route("POST", Host.WORK, "cgi-bin/tag/create")
        async def tag_create(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            name = _tagname(body.get("tagname"))
            if any(t.tagname == name for t in self.tags.values()):
                raise FakeError(E_TAGNAME, "UserTag Name Already Exist")
            tagid = body.get("tagid")
            if tagid is None:
                tagid = max(self.tags, default=0) + 1
            elif not isinstance(tagid, int) or tagid in self.tags:
                raise FakeError(E_TAGID, "invalid tagid")
            self.tags[tagid] = WeComTag(tagid, name)
            return {"errcode": 0, "errmsg": "created", "tagid": tagid}

        @route("POST", Host.WORK, "cgi-bin/tag/update")
        async def tag_update(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            tag = self._tag(body.get("tagid"))
            name = _tagname(body.get("tagname"))
            if any(t.tagname == name and t is not tag for t in self.tags.values()):
                raise FakeError(E_TAGNAME, "UserTag Name Already Exist")
            tag.tagname = name
            return {"errcode": 0, "errmsg": "updated"}

        @route("GET", Host.WORK, "cgi-bin/tag/delete")
        async def tag_delete(request: FakeRequest) -> dict[str, Any]:
            tag = self._tag(request.query.get("tagid"))
            del self.tags[tag.tagid]
            return {"errcode": 0, "errmsg": "deleted"}

        @route("GET", Host.WORK, "cgi-bin/tag/get")
        async def tag_get(request: FakeRequest) -> dict[str, Any]:
            tag = self._tag(request.query.get("tagid"))
            return {
                **_OK,
                "tagname": tag.tagname,
                "userlist": [
                    {"userid": u, "name": self.users[u].name} for u in tag.users if u in self.users
                ],
                "partylist": list(tag.parties),
            }

        @route("POST", Host.WORK, "cgi-bin/tag/addtagusers")
        async def tag_add(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            tag = self._tag(body.get("tagid"))
            users, bad_users, parties, bad_parties = self._split_members(body)
            tag.users.extend(u for u in dict.fromkeys(users) if u not in tag.users)
            tag.parties.extend(p for p in dict.fromkeys(parties) if p not in tag.parties)
            return _invalid_answer(bad_users, bad_parties)

        @route("POST", Host.WORK, "cgi-bin/tag/deltagusers")
        async def tag_del(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            tag = self._tag(body.get("tagid"))
            users, bad_users, parties, bad_parties = self._split_members(body)
            tag.users = [u for u in tag.users if u not in users]
            tag.parties = [p for p in tag.parties if p not in parties]
            return _invalid_answer(bad_users, bad_parties)

        @route("GET", Host.WORK, "cgi-bin/tag/list")
        async def tag_list(_: FakeRequest) -> dict[str, Any]:
            return {
                **_OK,
                "taglist": [{"tagid": t.tagid, "tagname": t.tagname} for t in self.tags.values()],
            }

        @route("GET", Host.WORK, "cgi-bin/user/get")
        async def user_get(request: FakeRequest) -> dict[str, Any]:
            user = self._user(request.query.get("userid"))
            return {
                **_OK,
                "userid": user.userid,
                "name": user.name,
                "department": list(user.department),
                "main_department": user.department[0] if user.department else None,
                "status": 1,
                **user.extra,
            }

        @route("POST", Host.WORK, "cgi-bin/user/list_id")
        async def user_list_id(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            limit = body.get("limit", 10_000)
            if not isinstance(limit, int) or not 1 <= limit <= 10_000:  # noqa: PLR2004
                raise FakeError(E_INVALID_PARAM, "invalid limit")
            cursor = body.get("cursor") or ""
            start = _cursor_offset(cursor)
            pairs = [
                {"userid": u.userid, "department": d}
                for u in self.users.values()
                for d in u.department
            ]
            page = pairs[start : start + limit]
            end = start + len(page)
            return {
                **_OK,
                "next_cursor": f"fakecursor{end}" if end < len(pairs) else "",
                "dept_user": page,
            }

        @route("GET", Host.WORK, "cgi-bin/user/simplelist")
        async def user_simplelist(request: FakeRequest) -> dict[str, Any]:
            try:
                department = int(request.query.get("department_id", ""))
            except ValueError as exc:
                raise FakeError(E_DEPARTMENT, "department not found") from exc
            if department not in self.departments:
                raise FakeError(E_DEPARTMENT, "department not found")
            return {
                **_OK,
                "userlist": [
                    {"userid": u.userid, "name": u.name, "department": list(u.department)}
                    for u in self.users.values()
                    if department in u.department
                ],
            }

        @route("POST", Host.WORK, "cgi-bin/user/convert_to_openid")
        async def to_openid(request: FakeRequest) -> dict[str, Any]:
            user = self._user(request.json().get("userid"))
            return {**_OK, "openid": user.openid}

        @route("POST", Host.WORK, "cgi-bin/user/convert_to_userid")
        async def to_userid(request: FakeRequest) -> dict[str, Any]:
            openid = request.json().get("openid")
            for user in self.users.values():
                if user.openid == openid:
                    return {**_OK, "userid": user.userid}
            raise FakeError(E_OPENID, "invalid openid")

        @route("POST", Host.WORK, "cgi-bin/appchat/create")
        async def chat_create(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            members = list(dict.fromkeys(body.get("userlist") or []))
            for member in members:
                self._user(member)
            if len(members) < CHAT_MEMBERS_MIN:
                raise FakeError(E_CHAT_MEMBER_COUNT, "invalid userlist size")
            owner = body.get("owner") or members[0]
            self._user(owner)
            chatid = body.get("chatid") or f"wrfake{next(self._numbers)}"
            if chatid in self.chats:
                raise FakeError(E_CHATID_TAKEN, "chatid already exists")
            name = str(body.get("name") or "")[:CHAT_NAME_MAX]
            self.chats[chatid] = WeComChat(chatid, name, owner, members)
            return {**_OK, "chatid": chatid}

        @route("POST", Host.WORK, "cgi-bin/appchat/update")
        async def chat_update(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            chat = self._chat(body.get("chatid"))
            added = list(body.get("add_user_list") or [])
            for member in added:
                self._user(member)
            if "owner" in body:
                chat.owner = self._user(body["owner"]).userid
            if "name" in body:
                chat.name = str(body["name"])[:CHAT_NAME_MAX]
            removed = set(body.get("del_user_list") or [])
            chat.userlist = [u for u in chat.userlist if u not in removed]
            chat.userlist.extend(u for u in added if u not in chat.userlist)
            return dict(_OK)

        @route("GET", Host.WORK, "cgi-bin/appchat/get")
        async def chat_get(request: FakeRequest) -> dict[str, Any]:
            chat = self._chat(request.query.get("chatid"))
            return {
                **_OK,
                "chat_info": {
                    "chatid": chat.chatid,
                    "name": chat.name,
                    "owner": chat.owner,
                    "userlist": list(chat.userlist),
                    "chat_type": 0,
                },
            }

        @route("POST", Host.WORK, "cgi-bin/appchat/send")
        async def chat_send(request: FakeRequest) -> dict[str, Any]:
            body = request.json()
            self._chat(body.get("chatid"))
            msgtype = body.get("msgtype")
            if not isinstance(msgtype, str) or msgtype not in body:
                raise FakeError(E_MSGTYPE, "invalid message type")
            for key in ("media_id",):
                media_id = body[msgtype].get(key) if isinstance(body[msgtype], dict) else None
                if media_id is not None:
                    self._media(media_id)
            self.chat_messages.append(body)
            return dict(_OK)

        @route("POST", Host.WORK, "cgi-bin/media/upload")
        async def media_upload(request: FakeRequest) -> dict[str, Any]:
            kind = request.query.get("type", "")
            if kind not in _MEDIA_TYPES:
                raise FakeError(E_MEDIA_TYPE, "invalid type")
            part = parse_multipart(request).get("media")
            if part is None:
                raise FakeError(E_MEDIA_EMPTY, "empty media data")
            now = self._fake.clock.now()
            media_id = f"3fake_media_{next(self._numbers)}"
            self.media[media_id] = StoredMedia(
                media_id, kind, part.filename, part.content_type, part.data, now
            )
            return {
                "errcode": 0,
                "errmsg": "",
                "type": kind,
                "media_id": media_id,
                "created_at": str(int(now)),
            }

        @route("POST", Host.WORK, "cgi-bin/media/uploadimg")
        async def media_uploadimg(request: FakeRequest) -> dict[str, Any]:
            part = parse_multipart(request).get("media")
            if part is None:
                raise FakeError(E_MEDIA_EMPTY, "empty media data")
            url = f"https://wework.qpic.cn/wwpic/fake{next(self._numbers)}/0"
            self.images[url] = part.data
            return {"errcode": 0, "errmsg": "", "url": url}

        @route("GET", Host.WORK, "cgi-bin/media/get")
        async def media_get(request: FakeRequest) -> FakeResponse:
            stored = self._media(request.query.get("media_id", ""))
            return FakeResponse(
                200,
                stored.data,
                (
                    ("content-type", stored.content_type),
                    ("content-disposition", content_disposition(stored.filename or "file")),
                ),
            )


def _cursor_offset(cursor: object) -> int:
    if cursor == "":
        return 0
    if isinstance(cursor, str) and cursor.startswith("fakecursor") and cursor[10:].isdigit():
        return int(cursor[10:])
    raise FakeError(E_CURSOR, "invalid cursor")


def _tagname(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > TAGNAME_MAX:
        raise FakeError(E_TAGNAME_LENGTH, "invalid tagname size")
    return name


def _invalid_answer(users: list[str], parties: list[int]) -> dict[str, Any]:
    answer: dict[str, Any] = dict(_OK)
    if users:
        answer["invalidlist"] = "|".join(users)
    if parties:
        answer["invalidparty"] = parties
    return answer


def install(fake: FakeWeChat) -> FakeWeCom:
    """Register this family's routes on ``fake`` and return its state."""
    wecom = FakeWeCom(fake)
    wecom.register()
    return wecom
