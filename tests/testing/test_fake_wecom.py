"""fake.wecom: the SDK's Tag, User, AppChat and Media services against FakeWeChat."""

from __future__ import annotations

import pytest

from wechat_async.errors import APIError, InvalidParameterError
from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import WorkAccessToken
from wechat_async.transport import Host, Transport
from wechat_async.wecom.appchat import AppChat, Markdown
from wechat_async.wecom.media import Media
from wechat_async.wecom.messages import Image
from wechat_async.wecom.tag import InvalidMembers, Tag, TagInfo, TagUser
from wechat_async.wecom.user import DeptUser, User


def setup() -> tuple[FakeWeChat, Transport, WorkAccessToken]:
    fake = FakeWeChat()
    fake.wecom.add_user("zhangsan", "张三", (1, 2), position="engineer")
    fake.wecom.add_user("lisi", "李四", (2,))
    fake.wecom.add_user("wangwu", "王五")
    transport = fake.transport()
    token = WorkAccessToken(fake.corp_id, fake.corp_secrets[0], transport=transport)
    return fake, transport, token


@pytest.mark.asyncio
async def test_tag_round_trip() -> None:
    fake, transport, token = setup()
    tag = Tag(transport, token)
    first = await tag.create("研发")
    assert first == 1
    assert await tag.create("产品", tagid=10) == 10
    await tag.update(first, "研发中心")
    assert await tag.list() == (TagInfo(1, "研发中心"), TagInfo(10, "产品"))
    added = await tag.add_users(first, ["zhangsan", "nobody", "ghost"], [2, 99])
    assert added == InvalidMembers(invalidlist=("nobody", "ghost"), invalidparty=(99,))
    members = await tag.get(first)
    assert members.tagname == "研发中心"
    assert members.userlist == (TagUser("zhangsan", "张三"),)
    assert members.partylist == (2,)
    assert await tag.del_users(first, ["zhangsan"]) == InvalidMembers()
    assert (await tag.get(first)).userlist == ()
    await tag.delete(10)
    assert list(fake.wecom.tags) == [1]


@pytest.mark.asyncio
async def test_tag_errors() -> None:
    _, transport, token = setup()
    tag = Tag(transport, token)
    tagid = await tag.create("研发")
    with pytest.raises(APIError) as unknown:
        await tag.get(404)
    assert unknown.value.errcode == 40068
    with pytest.raises(APIError) as duplicate:
        await tag.create("研发")
    assert duplicate.value.errcode == 40071
    with pytest.raises(APIError) as all_invalid:
        await tag.add_users(tagid, ["nobody"])
    assert all_invalid.value.errcode == 40070


@pytest.mark.asyncio
@pytest.mark.parametrize("tagname", ["", "标" * 33, None])
async def test_tag_name_blank_or_too_long_is_40072(tagname: str | None) -> None:
    # Past the SDK's own check: the fake answers as WeCom does (40072 不合法的标签名字长度,
    # "不允许为空，最大长度限制为32个字"; 40071 is a name that already exists).
    fake, transport, token = setup()
    tag = Tag(transport, token)
    tagid = await tag.create("研发")
    for path, body in (
        ("cgi-bin/tag/create", {"tagname": tagname}),
        ("cgi-bin/tag/update", {"tagid": tagid, "tagname": tagname}),
    ):
        with pytest.raises(APIError) as caught:
            await transport.request("POST", path, host=Host.WORK, token=token, json=body)
        assert caught.value.errcode == 40072
    assert [t.tagname for t in fake.wecom.tags.values()] == ["研发"]
    assert await tag.create("标" * 32) == tagid + 1


@pytest.mark.asyncio
async def test_user_round_trip() -> None:
    _, transport, token = setup()
    user = User(transport, token)
    info = await user.get("zhangsan")
    assert (info.userid, info.name, info.department, info.position) == (
        "zhangsan",
        "张三",
        (1, 2),
        "engineer",
    )
    page = await user.list_id(limit=2)
    assert page.dept_user == (DeptUser(1, "zhangsan"), DeptUser(2, "zhangsan"))
    assert page.next_cursor
    everything = [entry async for entry in user.iter_ids(limit=3)]
    assert [(e.userid, e.department) for e in everything] == [
        ("zhangsan", 1),
        ("zhangsan", 2),
        ("lisi", 2),
        ("wangwu", 1),
    ]
    assert [u.userid for u in await user.simple_list(2)] == ["zhangsan", "lisi"]
    openid = await user.convert_to_openid("lisi")
    assert await user.convert_to_userid(openid) == "lisi"


@pytest.mark.asyncio
async def test_user_errors() -> None:
    _, transport, token = setup()
    user = User(transport, token)
    with pytest.raises(APIError) as unknown:
        await user.get("nobody")
    assert unknown.value.errcode == 60111
    with pytest.raises(APIError) as no_dept:
        await user.simple_list(77)
    assert no_dept.value.errcode == 60003
    with pytest.raises(APIError) as openid:
        await user.convert_to_userid("o-unknown")
    assert openid.value.errcode == 40073  # WeCom's 40003 is an invalid UserID
    with pytest.raises(APIError) as cursor:
        await user.list_id(cursor="not-handed-out")
    assert cursor.value.errcode == 50100  # 分页查询的游标无效


@pytest.mark.asyncio
async def test_appchat_round_trip() -> None:
    fake, transport, token = setup()
    chat = AppChat(transport, token)
    chatid = await chat.create("项目群", None, ["zhangsan", "lisi"])
    info = await chat.get(chatid)
    assert (info.name, info.owner, info.userlist) == ("项目群", "zhangsan", ("zhangsan", "lisi"))
    await chat.update(chatid, name="新名字", owner="lisi", add_user_list=["wangwu"])
    await chat.update(chatid, del_user_list=["zhangsan"])
    info = await chat.get(chatid)
    assert (info.name, info.owner, info.userlist) == ("新名字", "lisi", ("lisi", "wangwu"))
    await chat.send_text(chatid, "hello", safe=True)
    await chat.send(chatid, Markdown("**hi**"))
    assert [m["msgtype"] for m in fake.wecom.chat_messages] == ["text", "markdown"]
    assert fake.wecom.chat_messages[0]["text"] == {"content": "hello"}
    assert fake.wecom.chat_messages[0]["safe"] == 1
    named = await chat.create(None, "wangwu", ["wangwu", "lisi"], chatid="CHAT42")
    assert named == "CHAT42"
    assert fake.wecom.chats["CHAT42"].owner == "wangwu"


@pytest.mark.asyncio
async def test_appchat_errors() -> None:
    _, transport, token = setup()
    chat = AppChat(transport, token)
    with pytest.raises(APIError) as unknown:
        await chat.get("nochat")
    assert unknown.value.errcode == 86003
    with pytest.raises(APIError) as send:
        await chat.send_text("nochat", "x")
    assert send.value.errcode == 86003
    with pytest.raises(APIError) as member:
        await chat.create("群", None, ["zhangsan", "nobody"])
    assert member.value.errcode == 60111


@pytest.mark.asyncio
@pytest.mark.parametrize("userlist", [["zhangsan"], ["zhangsan", "zhangsan"], []])
async def test_appchat_create_with_under_two_members_is_86006(userlist: list[str]) -> None:
    # Past the SDK's own check (it refuses fewer than 2 distinct members): WeCom answers
    # 86006 群成员数过多或过少; 86004 would be a bad chat name.
    fake, transport, token = setup()
    with pytest.raises(APIError) as caught:
        await transport.request(
            "POST",
            "cgi-bin/appchat/create",
            host=Host.WORK,
            token=token,
            json={"name": "群", "userlist": userlist},
        )
    assert caught.value.errcode == 86006
    assert fake.wecom.chats == {}


@pytest.mark.asyncio
async def test_media_round_trip() -> None:
    fake, transport, token = setup()
    media = Media(transport, token)
    data = b"\x89PNG fake image bytes"
    media_id = await media.upload("image", data, filename="图.png", content_type="image/png")
    assert fake.wecom.media[media_id].data == data
    async with media.get(media_id) as download:
        assert download.filename == "图.png"
        assert download.content_type == "image/png"
        assert await download.read() == data
    url = await media.upload_image(data, filename="a.png")
    assert fake.wecom.images[url] == data
    await AppChat(transport, token).create("群", None, ["zhangsan", "lisi"], chatid="C1")
    await AppChat(transport, token).send("C1", Image(media_id))
    assert fake.wecom.chat_messages[-1]["image"] == {"media_id": media_id}


@pytest.mark.asyncio
async def test_media_upload_with_a_bad_type_is_40005() -> None:
    # WeCom: 40005 不合法的type参数 (the query's type); 40004 is a file the type does not take.
    fake, transport, token = setup()
    with pytest.raises(InvalidParameterError) as caught:
        await transport.request(
            "POST",
            "cgi-bin/media/upload",
            host=Host.WORK,
            token=token,
            params={"type": "doc"},
            files={"media": ("a.txt", b"body")},
        )
    assert caught.value.errcode == 40005
    assert fake.wecom.media == {}


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["cgi-bin/media/upload", "cgi-bin/media/uploadimg"])
async def test_media_upload_without_a_file_is_44001(path: str) -> None:
    # WeCom: 44001 多媒体文件为空 ("确认header和body的内容正确"), whether the multipart body
    # lacks the ``media`` part or the body is not multipart at all.
    fake, transport, token = setup()
    params = {"type": "file"} if path.endswith("upload") else None
    with pytest.raises(InvalidParameterError) as no_part:
        await transport.request(
            "POST",
            path,
            host=Host.WORK,
            token=token,
            params=params,
            files={"other": ("a.txt", b"body")},
        )
    assert no_part.value.errcode == 44001
    with pytest.raises(InvalidParameterError) as not_multipart:
        await transport.request(
            "POST", path, host=Host.WORK, token=token, params=params, json={"media": "x"}
        )
    assert not_multipart.value.errcode == 44001
    assert fake.wecom.media == {}
    assert fake.wecom.images == {}


@pytest.mark.asyncio
async def test_media_unknown_or_expired_id() -> None:
    fake, transport, token = setup()
    media = Media(transport, token)
    with pytest.raises(APIError) as unknown:
        async with media.get("nope"):
            pass
    assert unknown.value.errcode == 40007
    media_id = await media.upload("file", b"some file body", filename="a.txt")
    fake.clock.advance(3 * 86400)
    await token.get()  # expired with the clock; fetched anew
    with pytest.raises(APIError) as expired:
        async with media.get(media_id):
            pass
    assert expired.value.errcode == 40007
