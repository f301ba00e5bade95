"""AppChat: request shapes and answers from path/90245, 98913, 98914, 90248; input checks."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import pytest

from tests.wecom.fake_qyapi import FakeQyapi, body, ok, query
from wechat_async.errors import InvalidArgumentError, PermissionDeniedError
from wechat_async.wecom.appchat import (
    AppChat,
    ChatInfo,
    Markdown,
    MpNews,
    MpNewsArticle,
    News,
    NewsArticle,
    TextCard,
)
from wechat_async.wecom.messages import File, Image, OutgoingMessage, Text, Video, Voice

pytestmark = pytest.mark.asyncio

MPNEWS_CONTENT = "3月24日20:30-21:30 \n办公区将关闭照明一小时，请各部门同事相互转告"


@pytest.fixture
def fake() -> FakeQyapi:
    fake = FakeQyapi()
    fake.on("POST", "cgi-bin/appchat/send", ok())
    return fake


async def test_create(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/appchat/create", ok(chatid="CHATID"))

    chatid = await fake.service(AppChat).create(
        "NAME", "userid1", ["userid1", "userid2", "userid3"], chatid="CHATID"
    )

    assert chatid == "CHATID"
    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.path == "/cgi-bin/appchat/create"
    assert query(request) == {"access_token": "TOKEN"}
    assert body(request) == {
        "name": "NAME",
        "owner": "userid1",
        "userlist": ["userid1", "userid2", "userid3"],
        "chatid": "CHATID",
    }


async def test_create_leaves_optional_fields_to_wechat(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/appchat/create", ok(chatid="wrAbc123"))

    assert await fake.service(AppChat).create(None, None, ("a", "b")) == "wrAbc123"

    assert body(fake.last) == {"userlist": ["a", "b"]}


async def test_update_sends_only_what_changes(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/appchat/update", ok())
    chats = fake.service(AppChat)

    await chats.update(
        "CHATID",
        name="NAME",
        owner="userid2",
        add_user_list=["userid1", "userid2", "userid3"],
        del_user_list=["userid3", "userid4"],
    )
    await chats.update("CHATID", del_user_list=["userid4"])

    first, second = fake.requests
    assert first.method == "POST"
    assert first.url.path == "/cgi-bin/appchat/update"
    assert query(first) == {"access_token": "TOKEN"}
    assert body(first) == {
        "chatid": "CHATID",
        "name": "NAME",
        "owner": "userid2",
        "add_user_list": ["userid1", "userid2", "userid3"],
        "del_user_list": ["userid3", "userid4"],
    }
    assert body(second) == {"chatid": "CHATID", "del_user_list": ["userid4"]}


async def test_get(fake: FakeQyapi) -> None:
    fake.on(
        "GET",
        "cgi-bin/appchat/get",
        ok(
            chat_info={
                "chatid": "CHATID",
                "name": "NAME",
                "owner": "userid2",
                "userlist": ["userid1", "userid2", "userid3"],
                "chat_type": 0,
                "added_later": "ignored",
            }
        ),
    )

    info = await fake.service(AppChat).get("CHATID")

    assert info == ChatInfo(
        chatid="CHATID",
        name="NAME",
        owner="userid2",
        userlist=("userid1", "userid2", "userid3"),
        chat_type=0,
    )
    assert fake.last.method == "GET"
    assert fake.last.url.path == "/cgi-bin/appchat/get"
    assert query(fake.last) == {"chatid": "CHATID", "access_token": "TOKEN"}


@pytest.mark.parametrize(
    ("message", "msgtype", "payload"),
    [
        (
            Text("你的快递已到\n请携带工卡前往邮件中心领取"),
            "text",
            {"content": "你的快递已到\n请携带工卡前往邮件中心领取"},
        ),
        (Image("MEDIAID"), "image", {"media_id": "MEDIAID"}),
        (Voice("MEDIA_ID"), "voice", {"media_id": "MEDIA_ID"}),
        (
            Video("MEDIA_ID", title="Title", description="Description"),
            "video",
            {"media_id": "MEDIA_ID", "title": "Title", "description": "Description"},
        ),
        (
            File("1Yv-zXfHjSjU-7LH-GwtYqDGS-zz6w22KmWAT5COgP7o"),
            "file",
            {"media_id": "1Yv-zXfHjSjU-7LH-GwtYqDGS-zz6w22KmWAT5COgP7o"},
        ),
        (
            TextCard(
                title="领奖通知",
                description='<div class="gray">2016年9月26日</div>',
                url="URL",
                btntxt="更多",
            ),
            "textcard",
            {
                "title": "领奖通知",
                "description": '<div class="gray">2016年9月26日</div>',
                "url": "URL",
                "btntxt": "更多",
            },
        ),
        (
            TextCard(title="T", description="D", url="https://example.com"),
            "textcard",
            {"title": "T", "description": "D", "url": "https://example.com"},
        ),
        (
            News(
                [
                    NewsArticle(
                        title="中秋节礼品领取",
                        description="今年中秋节公司有豪礼相送",
                        url="URL",
                        picurl="http://res.mail.qq.com/node/ww/wwopenmng/images/independent/doc/test_pic_msg1.png",
                    ),
                    NewsArticle(title="Second", url="https://example.com/2"),
                ]
            ),
            "news",
            {
                "articles": [
                    {
                        "title": "中秋节礼品领取",
                        "description": "今年中秋节公司有豪礼相送",
                        "url": "URL",
                        "picurl": "http://res.mail.qq.com/node/ww/wwopenmng/images/independent/doc/test_pic_msg1.png",
                    },
                    {"title": "Second", "url": "https://example.com/2"},
                ]
            },
        ),
        (
            MpNews(
                [
                    MpNewsArticle(
                        title="地球一小时",
                        thumb_media_id="biz_get(image)",
                        author="Author",
                        content_source_url="https://work.weixin.qq.com",
                        content=MPNEWS_CONTENT,
                        digest="3月24日20:30-21:30 \n办公区将关闭照明一小时",
                    )
                ]
            ),
            "mpnews",
            {
                "articles": [
                    {
                        "title": "地球一小时",
                        "thumb_media_id": "biz_get(image)",
                        "content": MPNEWS_CONTENT,
                        "author": "Author",
                        "content_source_url": "https://work.weixin.qq.com",
                        "digest": "3月24日20:30-21:30 \n办公区将关闭照明一小时",
                    }
                ]
            },
        ),
        (
            Markdown("您的会议室已经预定，稍后会同步到`邮箱`\n>**事项详情**"),
            "markdown",
            {"content": "您的会议室已经预定，稍后会同步到`邮箱`\n>**事项详情**"},
        ),
    ],
)
async def test_send_each_message_type(
    fake: FakeQyapi, message: OutgoingMessage, msgtype: str, payload: dict[str, Any]
) -> None:
    await fake.service(AppChat).send("CHATID", message)

    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.path == "/cgi-bin/appchat/send"
    assert query(request) == {"access_token": "TOKEN"}
    assert body(request) == {"chatid": "CHATID", "msgtype": msgtype, msgtype: payload, "safe": 0}


async def test_send_safe_is_sent_as_one(fake: FakeQyapi) -> None:
    await fake.service(AppChat).send("CHATID", Text("secret"), safe=True)

    assert body(fake.last)["safe"] == 1


async def test_shortcuts(fake: FakeQyapi) -> None:
    chats = fake.service(AppChat)

    await chats.send_text("CHATID", "hello")
    await chats.send_image("CHATID", "MEDIAID", safe=True)
    await chats.send_voice("CHATID", "VOICEID")

    assert [body(request) for request in fake.requests] == [
        {"chatid": "CHATID", "msgtype": "text", "text": {"content": "hello"}, "safe": 0},
        {"chatid": "CHATID", "msgtype": "image", "image": {"media_id": "MEDIAID"}, "safe": 1},
        {"chatid": "CHATID", "msgtype": "voice", "voice": {"media_id": "VOICEID"}, "safe": 0},
    ]


async def test_errcode_is_mapped(fake: FakeQyapi) -> None:
    fake.on(
        "POST",
        "cgi-bin/appchat/create",
        {"errcode": 60011, "errmsg": "no privilege to access/modify contact/party/agent"},
    )

    with pytest.raises(PermissionDeniedError) as caught:
        await fake.service(AppChat).create("n", "a", ["a", "b"])

    assert caught.value.errcode == 60011
    assert caught.value.path == "cgi-bin/appchat/create"


@pytest.mark.parametrize(
    ("userlist", "chatid"),
    [
        (["solo"], None),
        (["same", "same"], None),
        ([f"u{i}" for i in range(2001)], None),
        ("ab", None),
        (["a", ""], None),
        (["a", "b"], "x" * 33),
        (["a", "b"], "has-dash"),
        (["a", "b"], ""),
    ],
)
async def test_create_rejects_before_sending(
    fake: FakeQyapi, userlist: list[str], chatid: str | None
) -> None:
    with pytest.raises(InvalidArgumentError):
        await fake.service(AppChat).create("n", None, userlist, chatid)

    assert fake.requests == []


async def test_create_takes_2000_members(fake: FakeQyapi) -> None:
    fake.on("POST", "cgi-bin/appchat/create", ok(chatid="c"))

    await fake.service(AppChat).create(None, None, [f"u{i}" for i in range(2000)], "A" * 32)

    assert len(body(fake.last)["userlist"]) == 2000


async def test_other_inputs_rejected_before_sending(fake: FakeQyapi) -> None:
    @attrs.frozen
    class Card(OutgoingMessage):
        msgtype: ClassVar[str] = "miniprogram_notice"

    chats = fake.service(AppChat)
    with pytest.raises(InvalidArgumentError, match="appchat/send"):
        await chats.send("CHATID", Card())
    with pytest.raises(InvalidArgumentError):
        await chats.send("", Text("hi"))
    with pytest.raises(InvalidArgumentError):
        await chats.update("CHATID", add_user_list="zhangsan")
    with pytest.raises(InvalidArgumentError):
        await chats.update("CHATID", name="")
    with pytest.raises(InvalidArgumentError):
        await chats.get("")

    assert fake.requests == []


@pytest.mark.parametrize("count", [0, 9])
async def test_news_takes_one_to_eight_articles(count: int) -> None:
    with pytest.raises(InvalidArgumentError):
        News([NewsArticle(title="t", url="u")] * count)
    with pytest.raises(InvalidArgumentError):
        MpNews([MpNewsArticle(title="t", thumb_media_id="m", content="c")] * count)


async def test_group_messages_need_their_required_fields() -> None:
    with pytest.raises(InvalidArgumentError):
        TextCard(title="", description="d", url="u")
    with pytest.raises(InvalidArgumentError):
        NewsArticle(title="t", url="")
    with pytest.raises(InvalidArgumentError):
        MpNewsArticle(title="t", thumb_media_id="", content="c")
    with pytest.raises(InvalidArgumentError):
        Markdown("")
    assert len(News([NewsArticle(title="t", url="u")] * 8).articles) == 8


@pytest.mark.parametrize(
    "articles",
    [
        5,
        "title",
        [{"title": "t", "url": "u"}],
        [MpNewsArticle(title="t", thumb_media_id="m", content="c")],
    ],
)
async def test_news_refuses_what_is_not_a_list_of_its_articles(articles: object) -> None:
    with pytest.raises(InvalidArgumentError, match="must be a list of NewsArticle") as caught:
        News(articles)
    assert caught.value.argument == "articles"
    with pytest.raises(InvalidArgumentError, match="must be a list of MpNewsArticle"):
        MpNews([NewsArticle(title="t", url="u")])
