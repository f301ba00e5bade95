"""Official Account customer service (客服) through the real Transport on an httpx.MockTransport."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.wecom.fake_qyapi import FakeQyapi, body, multipart, ok, query
from wechat_async.crypto import MessageParseError
from wechat_async.errors import (
    APIError,
    InvalidArgumentError,
    InvalidParameterError,
    InvalidResponseError,
    RateLimitError,
)
from wechat_async.official_account import Custom, parse_kf_event
from wechat_async.official_account.custom_messages import (
    Image,
    KfCloseSessionEvent,
    KfCreateSessionEvent,
    KfInfo,
    KfOnlineInfo,
    KfSession,
    KfSessionItem,
    KfSwitchSessionEvent,
    MiniProgramPage,
    MpNews,
    MpNewsArticle,
    MsgMenu,
    MsgMenuItem,
    MsgRecord,
    Music,
    News,
    NewsArticle,
    Text,
    UnknownKfSessionEvent,
    Video,
    Voice,
    WaitCase,
    WaitCaseList,
    WxCard,
)
from wechat_async.wecom.messages import File

OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
DAY = 86400
# 2016-06-01 00:00 and 2016-06-02 00:00 China time: the docs' getmsglist example.
JUNE_1 = 1464710400
JUNE_2 = 1464796800
CST = dt.timezone(dt.timedelta(hours=8))


def custom(fake: FakeQyapi) -> Custom:
    return fake.service(Custom)


def assert_call(request: httpx.Request, method: str, path: str, **params: str) -> None:
    assert request.method == method
    assert request.url.host == "official.test"
    assert request.url.path == "/" + path
    assert query(request) == {"access_token": "TOKEN", **params}


Call = Callable[[Custom], Awaitable[Any]]

# (id, call, path, the JSON body the docs show)
POST_CASES: list[tuple[str, Call, str, dict[str, Any]]] = [
    (
        "add_kf_account",
        lambda c: c.add_kf_account("test1@test", "客服1"),
        "customservice/kfaccount/add",
        {"kf_account": "test1@test", "nickname": "客服1"},
    ),
    (
        "update_kf_account",
        lambda c: c.update_kf_account("test1@test", "客服1"),
        "customservice/kfaccount/update",
        {"kf_account": "test1@test", "nickname": "客服1"},
    ),
    (
        "del_kf_account",
        lambda c: c.del_kf_account("test1@test"),
        "customservice/kfaccount/del",
        {"kf_account": "test1@test"},
    ),
    (
        "invite_worker",
        lambda c: c.invite_worker("test1@test", "test_kfwx"),
        "customservice/kfaccount/inviteworker",
        {"kf_account": "test1@test", "invite_wx": "test_kfwx"},
    ),
    (
        "create_kf_session",
        lambda c: c.create_kf_session("test1@test", "OPENID"),
        "customservice/kfsession/create",
        {"kf_account": "test1@test", "openid": "OPENID"},
    ),
    (
        "close_kf_session",
        lambda c: c.close_kf_session("test1@test", "OPENID"),
        "customservice/kfsession/close",
        {"kf_account": "test1@test", "openid": "OPENID"},
    ),
    (
        "typing",
        lambda c: c.typing("OPENID"),
        "cgi-bin/message/custom/typing",
        {"touser": "OPENID", "command": "Typing"},
    ),
    (
        "cancel_typing",
        lambda c: c.typing("OPENID", typing=False),
        "cgi-bin/message/custom/typing",
        {"touser": "OPENID", "command": "CancelTyping"},
    ),
]


@pytest.mark.parametrize(
    ("call", "path", "expected"),
    [case[1:] for case in POST_CASES],
    ids=[case[0] for case in POST_CASES],
)
@pytest.mark.asyncio
async def test_post_sends_the_documented_body(
    call: Call, path: str, expected: dict[str, Any]
) -> None:
    fake = FakeQyapi()
    fake.on("POST", path, OK)

    assert await call(custom(fake)) is None

    (request,) = fake.requests
    assert_call(request, "POST", path)
    assert body(request) == expected


SEND_CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("text", Text("Hello World"), {"text": {"content": "Hello World"}}),
    ("image", Image("MEDIA_ID"), {"image": {"media_id": "MEDIA_ID"}}),
    ("voice", Voice("MEDIA_ID"), {"voice": {"media_id": "MEDIA_ID"}}),
    (
        "video",
        Video("MEDIA_ID", "MEDIA_ID", title="TITLE", description="DESCRIPTION"),
        {
            "video": {
                "media_id": "MEDIA_ID",
                "thumb_media_id": "MEDIA_ID",
                "title": "TITLE",
                "description": "DESCRIPTION",
            }
        },
    ),
    (
        "music",
        Music(
            "MUSIC_URL",
            "HQ_MUSIC_URL",
            "THUMB_MEDIA_ID",
            title="MUSIC_TITLE",
            description="MUSIC_DESCRIPTION",
        ),
        {
            "music": {
                "title": "MUSIC_TITLE",
                "description": "MUSIC_DESCRIPTION",
                "musicurl": "MUSIC_URL",
                "hqmusicurl": "HQ_MUSIC_URL",
                "thumb_media_id": "THUMB_MEDIA_ID",
            }
        },
    ),
    (
        "news",
        News([NewsArticle("Happy Day", "Is Really A Happy Day", "URL", "PIC_URL")]),
        {
            "news": {
                "articles": [
                    {
                        "title": "Happy Day",
                        "description": "Is Really A Happy Day",
                        "url": "URL",
                        "picurl": "PIC_URL",
                    }
                ]
            }
        },
    ),
    (
        "news_unset_fields_left_out",
        News([NewsArticle("Happy Day", url="URL")]),
        {"news": {"articles": [{"title": "Happy Day", "url": "URL"}]}},
    ),
    ("mpnews", MpNews("MEDIA_ID"), {"mpnews": {"media_id": "MEDIA_ID"}}),
    (
        "mpnewsarticle",
        MpNewsArticle("ARTICLE_ID"),
        {"mpnewsarticle": {"article_id": "ARTICLE_ID"}},
    ),
    ("wxcard", WxCard("123dsdajkasd231jhksad"), {"wxcard": {"card_id": "123dsdajkasd231jhksad"}}),
    (
        "miniprogrampage",
        MiniProgramPage("title", "appid", "pagepath", "thumb_media_id"),
        {
            "miniprogrampage": {
                "title": "title",
                "appid": "appid",
                "pagepath": "pagepath",
                "thumb_media_id": "thumb_media_id",
            }
        },
    ),
    (
        "msgmenu",
        MsgMenu(
            [MsgMenuItem("101", "满意"), MsgMenuItem("102", "不满意")],
            head_content="您对本次服务是否满意呢? ",
            tail_content="欢迎再次光临",
        ),
        {
            "msgmenu": {
                "head_content": "您对本次服务是否满意呢? ",
                "list": [{"id": "101", "content": "满意"}, {"id": "102", "content": "不满意"}],
                "tail_content": "欢迎再次光临",
            }
        },
    ),
]


@pytest.mark.parametrize(
    ("message", "payload"), [case[1:] for case in SEND_CASES], ids=[c[0] for c in SEND_CASES]
)
@pytest.mark.asyncio
async def test_send_msg_by_kf_sets_msgtype_from_the_class(
    message: Any, payload: dict[str, Any]
) -> None:
    fake = FakeQyapi()
    fake.on("POST", "cgi-bin/message/custom/send", OK)

    await custom(fake).send_msg_by_kf("OPENID", message)

    (request,) = fake.requests
    assert_call(request, "POST", "cgi-bin/message/custom/send")
    assert body(request) == {"touser": "OPENID", "msgtype": message.msgtype, **payload}


@pytest.mark.asyncio
async def test_send_msg_by_kf_as_an_account_adds_customservice() -> None:
    fake = FakeQyapi()
    fake.on("POST", "cgi-bin/message/custom/send", OK)

    await custom(fake).send_msg_by_kf("OPENID", Text("Hello World"), kf_account="test1@kftest")

    assert body(fake.last) == {
        "touser": "OPENID",
        "msgtype": "text",
        "text": {"content": "Hello World"},
        "customservice": {"kf_account": "test1@kftest"},
    }


def test_news_takes_exactly_one_article() -> None:
    article = NewsArticle("t", url="u")
    with pytest.raises(InvalidArgumentError, match="exactly 1 article, got 2"):
        News([article, article])
    with pytest.raises(InvalidArgumentError, match="exactly 1 article, got 0"):
        News([])
    with pytest.raises(InvalidArgumentError, match="NewsArticle"):
        News(["not an article"])


def test_message_models_refuse_empty_fields() -> None:
    with pytest.raises(InvalidArgumentError, match="content"):
        Text("")
    with pytest.raises(InvalidArgumentError, match="thumb_media_id"):
        Video("MEDIA_ID", "")
    with pytest.raises(InvalidArgumentError, match="items"):
        MsgMenu([])
    with pytest.raises(InvalidArgumentError, match="id"):
        MsgMenuItem("", "满意")


@pytest.mark.asyncio
async def test_get_kf_list_parses_the_doc_sample() -> None:
    fake = FakeQyapi()
    head = "http://mmbiz.qpic.cn/mmbiz/4whpV1VZl2iccsvYbHvnphkyGtnvjfUS8Ym0GSaLic0FD3vN0V8PILcibEGb2fPfEOmw/0"
    fake.on(
        "GET",
        "cgi-bin/customservice/getkflist",
        {
            "kf_list": [
                {
                    "kf_account": "test1@test",
                    "kf_headimgurl": head,
                    "kf_id": "1001",
                    "kf_nick": "ntest1",
                    "kf_wx": "kfwx1",
                },
                {
                    "kf_account": "test3@test",
                    "kf_headimgurl": head,
                    "kf_id": 1003,
                    "kf_nick": "ntest3",
                    "invite_wx": "kfwx3",
                    "invite_expire_time": 123456789,
                    "invite_status": "waiting",
                    "a_field_wechat_added_later": True,
                },
            ]
        },
    )

    accounts = await custom(fake).get_kf_list()

    assert_call(fake.last, "GET", "cgi-bin/customservice/getkflist")
    assert accounts == [
        KfInfo("test1@test", "ntest1", "1001", head, kf_wx="kfwx1"),
        KfInfo(
            "test3@test",
            "ntest3",
            "1003",
            head,
            invite_wx="kfwx3",
            invite_expire_time=123456789,
            invite_status="waiting",
        ),
    ]


@pytest.mark.asyncio
async def test_get_kf_online_list() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "cgi-bin/customservice/getonlinekflist",
        {
            "kf_online_list": [
                {"kf_account": "test1@test", "status": 1, "kf_id": 1001, "accepted_case": 1},
                {"kf_account": "test2@test", "status": 1, "kf_id": 1002, "accepted_case": 2},
            ]
        },
    )

    online = await custom(fake).get_kf_online_list()

    assert_call(fake.last, "GET", "cgi-bin/customservice/getonlinekflist")
    assert online == [
        KfOnlineInfo("test1@test", 1, "1001", 1),
        KfOnlineInfo("test2@test", 1, "1002", 2),
    ]


@pytest.mark.asyncio
async def test_get_kf_session() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "customservice/kfsession/getsession",
        {"createtime": 123456789, "kf_account": "test1@test"},
    )

    session = await custom(fake).get_kf_session("OPENID")

    assert_call(fake.last, "GET", "customservice/kfsession/getsession", openid="OPENID")
    assert session == KfSession("test1@test", 123456789)


@pytest.mark.asyncio
async def test_get_kf_session_without_a_session() -> None:
    fake = FakeQyapi()
    fake.on("GET", "customservice/kfsession/getsession", {"createtime": 0, "kf_account": ""})

    assert await custom(fake).get_kf_session("OPENID") == KfSession("", 0)


@pytest.mark.asyncio
async def test_get_kf_session_list() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "customservice/kfsession/getsessionlist",
        {"sessionlist": [{"createtime": 123456789, "openid": "OPENID"}]},
    )

    sessions = await custom(fake).get_kf_session_list("test1@test")

    assert_call(fake.last, "GET", "customservice/kfsession/getsessionlist", kf_account="test1@test")
    assert sessions == [KfSessionItem("OPENID", 123456789)]


@pytest.mark.asyncio
async def test_get_wait_case_list() -> None:
    fake = FakeQyapi()
    fake.on(
        "GET",
        "customservice/kfsession/getwaitcase",
        {"count": 150, "waitcaselist": [{"latest_time": 123456789, "openid": "OPENID"}]},
    )

    waiting = await custom(fake).get_wait_case_list()

    assert_call(fake.last, "GET", "customservice/kfsession/getwaitcase")
    assert waiting == WaitCaseList(150, [WaitCase("OPENID", 123456789)])


# -- head image -------------------------------------------------------------------

UPLOAD = "customservice/kfaccount/uploadheadimg"


@pytest.mark.asyncio
async def test_set_head_img_url_streams_a_path(tmp_path: Path) -> None:
    path = tmp_path / "test.jpg"
    path.write_bytes(JPG)
    fake = FakeQyapi()
    fake.on("POST", UPLOAD, OK)

    await custom(fake).set_head_img_url("test1@test", path)

    (request,) = fake.requests
    assert_call(request, "POST", UPLOAD, kf_account="test1@test")
    assert multipart(request) == {"media": ("test.jpg", "image/jpeg", JPG)}


@pytest.mark.asyncio
async def test_set_head_img_url_from_bytes() -> None:
    fake = FakeQyapi()
    fake.on("POST", UPLOAD, OK)

    await custom(fake).set_head_img_url("test1@test", JPG, filename="avatar.jpg")

    assert_call(fake.last, "POST", UPLOAD, kf_account="test1@test")
    assert multipart(fake.last) == {"media": ("avatar.jpg", "image/jpeg", JPG)}


@pytest.mark.asyncio
async def test_set_head_img_url_from_a_file_object_leaves_it_open() -> None:
    fake = FakeQyapi()
    fake.on("POST", UPLOAD, OK)
    handle = io.BytesIO(JPG)

    await custom(fake).set_head_img_url("test1@test", handle, content_type="image/jpeg")

    assert not handle.closed
    assert multipart(fake.last) == {"media": ("upload", "image/jpeg", JPG)}


@pytest.mark.asyncio
async def test_set_head_img_url_refuses_more_than_5_mb_before_sending() -> None:
    fake = FakeQyapi()

    with pytest.raises(InvalidArgumentError, match="at most 5242880 bytes"):
        await custom(fake).set_head_img_url("test1@test", b"\x00" * (5 * 1024 * 1024 + 1))

    assert fake.requests == []


@pytest.mark.asyncio
async def test_set_head_img_url_refuses_a_text_file(tmp_path: Path) -> None:
    fake = FakeQyapi()
    path = tmp_path / "a.txt"
    path.write_text("x")

    with path.open() as handle, pytest.raises(InvalidArgumentError, match="file"):
        await custom(fake).set_head_img_url("test1@test", handle)  # type: ignore[arg-type]

    assert fake.requests == []


# -- chat records -----------------------------------------------------------------

RECORDS = [
    {
        "openid": "oDF3iY9WMaswOPWjCIp_f3Bnpljk",
        "opercode": 2002,
        "text": " 您好,客服test1为您服务。",
        "time": 1400563710,
        "worker": "test1@test",
    },
    {
        "openid": "oDF3iY9WMaswOPWjCIp_f3Bnpljk",
        "opercode": 2003,
        "text": "你好,有什么事情?",
        "time": 1400563731,
        "worker": "test1@test",
    },
]


@pytest.mark.asyncio
async def test_get_msg_list_sends_the_doc_example_and_parses_the_reply() -> None:
    fake = FakeQyapi()
    fake.on(
        "POST",
        "customservice/msgrecord/getmsglist",
        {"recordlist": RECORDS, "number": 2, "msgid": 20165267},
    )

    page = await custom(fake).get_msg_list(JUNE_1, JUNE_2)

    assert_call(fake.last, "POST", "customservice/msgrecord/getmsglist")
    assert body(fake.last) == {
        "starttime": JUNE_1,
        "endtime": JUNE_2,
        "msgid": 1,
        "number": 10000,
    }
    assert page.number == 2
    assert page.msgid == 20165267
    assert page.recordlist[0] == MsgRecord(
        "oDF3iY9WMaswOPWjCIp_f3Bnpljk", 2002, " 您好,客服test1为您服务。", 1400563710, "test1@test"
    )


@pytest.mark.asyncio
async def test_get_msg_list_takes_aware_datetimes() -> None:
    fake = FakeQyapi()
    fake.on("POST", "customservice/msgrecord/getmsglist", {"recordlist": [], "number": 0})

    await custom(fake).get_msg_list(
        dt.datetime(2016, 6, 1, tzinfo=CST),
        dt.datetime(2016, 6, 1, 16, 0, 0, 999_999, tzinfo=dt.UTC),
        msgid=7,
        number=50,
    )

    assert body(fake.last) == {"starttime": JUNE_1, "endtime": JUNE_2, "msgid": 7, "number": 50}


@pytest.mark.parametrize(
    ("start", "end", "kwargs", "match"),
    [
        (JUNE_1, JUNE_2 + 1, {}, "at most 24 hours"),
        (JUNE_2, JUNE_1, {}, "before start_time"),
        (dt.datetime(2016, 6, 1), JUNE_2, {}, "naive datetime"),  # noqa: DTZ001
        (JUNE_1, dt.datetime(2016, 6, 2), {}, "naive datetime"),  # noqa: DTZ001
        (True, JUNE_2, {}, "epoch seconds"),
        ("1464710400", JUNE_2, {}, "epoch seconds"),
        (-1, JUNE_2, {}, "start_time"),
        (JUNE_1, JUNE_2, {"number": 10001}, "number"),
        (JUNE_1, JUNE_2, {"number": 0}, "number"),
        (JUNE_1, JUNE_2, {"msgid": 0}, "msgid"),
    ],
)
@pytest.mark.asyncio
async def test_get_msg_list_refuses_bad_input_before_sending(
    start: Any, end: Any, kwargs: dict[str, Any], match: str
) -> None:
    fake = FakeQyapi()

    with pytest.raises(InvalidArgumentError, match=match):
        await custom(fake).get_msg_list(start, end, **kwargs)

    assert fake.requests == []


def record(n: int) -> dict[str, Any]:
    return {"openid": "o", "opercode": 2002, "text": f"#{n}", "time": JUNE_1 + n, "worker": "a@b"}


@pytest.mark.asyncio
async def test_iter_msg_list_windows_and_pages() -> None:
    fake = FakeQyapi()
    # Three windows: [s, s+1d], [s+1d+1, s+2d+1], [s+2d+2, end]. The first is
    # two pages of 2 and a short one; the second is empty; the third one page.
    fake.on(
        "POST",
        "customservice/msgrecord/getmsglist",
        {"recordlist": [record(1), record(2)], "number": 2, "msgid": 3},
        {"recordlist": [record(3), record(4)], "number": 2, "msgid": 5},
        {"recordlist": [record(5)], "number": 1, "msgid": 6},
        {"recordlist": [], "number": 0, "msgid": 1},
        {"recordlist": [record(9)], "number": 1, "msgid": 2},
    )
    end = JUNE_1 + 2 * DAY + 100

    texts = [r.text async for r in custom(fake).iter_msg_list(JUNE_1, end, number=2)]

    assert texts == ["#1", "#2", "#3", "#4", "#5", "#9"]
    sent = [body(request) for request in fake.requests]
    assert sent == [
        {"starttime": JUNE_1, "endtime": JUNE_1 + DAY, "msgid": 1, "number": 2},
        {"starttime": JUNE_1, "endtime": JUNE_1 + DAY, "msgid": 3, "number": 2},
        {"starttime": JUNE_1, "endtime": JUNE_1 + DAY, "msgid": 5, "number": 2},
        {"starttime": JUNE_1 + DAY + 1, "endtime": JUNE_1 + 2 * DAY + 1, "msgid": 1, "number": 2},
        {"starttime": JUNE_1 + 2 * DAY + 2, "endtime": end, "msgid": 1, "number": 2},
    ]
    for request in fake.requests:
        assert_call(request, "POST", "customservice/msgrecord/getmsglist")


@pytest.mark.asyncio
async def test_iter_msg_list_within_one_window_stops_on_a_short_page() -> None:
    fake = FakeQyapi()
    fake.on(
        "POST",
        "customservice/msgrecord/getmsglist",
        {"recordlist": RECORDS, "number": 2, "msgid": 20165267},
    )

    records = [r async for r in custom(fake).iter_msg_list(JUNE_1, JUNE_2)]

    assert len(records) == 2
    assert [body(r) for r in fake.requests] == [
        {"starttime": JUNE_1, "endtime": JUNE_2, "msgid": 1, "number": 10000}
    ]


@pytest.mark.asyncio
async def test_iter_msg_list_refuses_a_msgid_that_does_not_advance() -> None:
    fake = FakeQyapi()
    fake.on(
        "POST",
        "customservice/msgrecord/getmsglist",
        {"recordlist": [record(1)], "number": 1, "msgid": 1},
    )

    with pytest.raises(InvalidResponseError, match="did not advance"):
        _ = [r async for r in custom(fake).iter_msg_list(JUNE_1, JUNE_2, number=1)]

    assert len(fake.requests) == 1


@pytest.mark.asyncio
async def test_iter_msg_list_refuses_bad_input_before_sending() -> None:
    fake = FakeQyapi()

    with pytest.raises(InvalidArgumentError, match="naive"):
        _ = [r async for r in custom(fake).iter_msg_list(dt.datetime(2016, 6, 1), JUNE_2)]  # noqa: DTZ001
    with pytest.raises(InvalidArgumentError, match="number"):
        _ = [r async for r in custom(fake).iter_msg_list(JUNE_1, JUNE_2, number=10001)]

    assert fake.requests == []


# -- invalid input and errors -----------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.add_kf_account("test1", "客服1"), "kf_account"),
        (lambda c: c.add_kf_account("prefix_is_long@test", "客服1"), "kf_account"),
        (lambda c: c.add_kf_account("te-st@test", "客服1"), "kf_account"),
        (lambda c: c.add_kf_account("test1@" + "w" * 31, "客服1"), "kf_account"),
        (lambda c: c.add_kf_account("test1@test", "客" * 17), "nickname"),
        (lambda c: c.add_kf_account("test1@test", "  "), "nickname"),
        (lambda c: c.update_kf_account("test1", "客服1"), "kf_account"),
        (lambda c: c.del_kf_account("a@b@c"), "kf_account"),
        (lambda c: c.invite_worker("test1@test", ""), "invite_wx"),
        (lambda c: c.create_kf_session("test1@test", ""), "openid"),
        (lambda c: c.get_kf_session(""), "openid"),
        (lambda c: c.get_kf_session_list("nobody"), "kf_account"),
        (lambda c: c.typing("OPENID", typing="yes"), "typing"),
        (lambda c: c.typing(""), "touser"),
        (lambda c: c.send_msg_by_kf("", Text("hi")), "touser"),
        (lambda c: c.send_msg_by_kf("OPENID", File("MEDIA_ID")), "message"),
        (lambda c: c.send_msg_by_kf("OPENID", Text("hi"), kf_account="x"), "kf_account"),
        (lambda c: c.set_head_img_url("bad", JPG), "kf_account"),
        (lambda c: c.set_head_img_url("test1@test", b""), "file"),
    ],
)
@pytest.mark.asyncio
async def test_invalid_input_fails_before_any_request(call: Call, match: str) -> None:
    fake = FakeQyapi()

    with pytest.raises(InvalidArgumentError, match=match):
        await call(custom(fake))

    assert fake.requests == []


@pytest.mark.asyncio
async def test_a_16_character_nickname_is_accepted() -> None:
    fake = FakeQyapi()
    fake.on("POST", "customservice/kfaccount/add", OK)

    await custom(fake).add_kf_account("kf_2024_01@gh_wx_id-9", "客" * 16)

    assert body(fake.last) == {"kf_account": "kf_2024_01@gh_wx_id-9", "nickname": "客" * 16}


@pytest.mark.asyncio
async def test_errcode_maps_to_api_errors() -> None:
    fake = FakeQyapi()
    fake.on(
        "POST",
        "customservice/kfaccount/inviteworker",
        {"errcode": 65408, "errmsg": "you have already invited the wechat user"},
    )
    fake.on(
        "POST", "customservice/kfsession/create", {"errcode": 40003, "errmsg": "invalid openid"}
    )
    fake.on(
        "POST", "cgi-bin/message/custom/send", {"errcode": 45009, "errmsg": "reach max api daily"}
    )
    service = custom(fake)

    with pytest.raises(APIError) as invited:
        await service.invite_worker("test1@test", "test_kfwx")
    assert invited.value.errcode == 65408
    assert invited.value.path == "customservice/kfaccount/inviteworker"
    with pytest.raises(InvalidParameterError):
        await service.create_kf_session("test1@test", "OPENID")
    with pytest.raises(RateLimitError):
        await service.send_msg_by_kf("OPENID", Text("hi"))


@pytest.mark.asyncio
async def test_an_unexpected_reply_shape_raises_invalid_response() -> None:
    fake = FakeQyapi()
    fake.on("GET", "cgi-bin/customservice/getkflist", ok(kf_list=[{"kf_nick": "no account"}]))

    with pytest.raises(InvalidResponseError, match="getkflist"):
        await custom(fake).get_kf_list()


# -- callback events --------------------------------------------------------------


def event_xml(event: str, extra: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
        "<FromUserName><![CDATA[oDF3iY9WMaswOPWjCIp_f3Bnpljk]]></FromUserName>"
        "<CreateTime>1399197672</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )


def test_parse_kf_create_session() -> None:
    xml = event_xml("kf_create_session", "<KfAccount><![CDATA[test1@test]]></KfAccount>")

    assert parse_kf_event(xml.encode()) == KfCreateSessionEvent(
        to_user_name="gh_7f083739789a",
        from_user_name="oDF3iY9WMaswOPWjCIp_f3Bnpljk",
        create_time=1399197672,
        msg_type="event",
        kf_account="test1@test",
    )


def test_parse_kf_close_session() -> None:
    event = parse_kf_event(
        event_xml("kf_close_session", "<KfAccount><![CDATA[test1@test]]></KfAccount>")
    )

    assert isinstance(event, KfCloseSessionEvent)
    assert event.kf_account == "test1@test"
    assert event.event == "kf_close_session"


def test_parse_kf_switch_session() -> None:
    event = parse_kf_event(
        event_xml(
            "kf_switch_session",
            "<FromKfAccount><![CDATA[test1@test]]></FromKfAccount>"
            "<ToKfAccount><![CDATA[test2@test]]></ToKfAccount>",
        )
    )

    assert event == KfSwitchSessionEvent(
        to_user_name="gh_7f083739789a",
        from_user_name="oDF3iY9WMaswOPWjCIp_f3Bnpljk",
        create_time=1399197672,
        msg_type="event",
        from_kf_account="test1@test",
        to_kf_account="test2@test",
    )


def test_an_unknown_event_keeps_the_raw_dict() -> None:
    event = parse_kf_event(event_xml("subscribe", "<EventKey><![CDATA[]]></EventKey>"))

    assert isinstance(event, UnknownKfSessionEvent)
    assert event.event == "subscribe"
    assert event.raw["FromUserName"] == "oDF3iY9WMaswOPWjCIp_f3Bnpljk"


def test_malformed_event_xml_raises_message_parse_error() -> None:
    with pytest.raises(MessageParseError):
        parse_kf_event("<xml><Event>kf_create_session</xml>")
    with pytest.raises(MessageParseError):
        parse_kf_event(event_xml("kf_create_session", "").replace("1399197672", "yesterday"))
