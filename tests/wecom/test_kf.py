"""Kf (微信客服) through the real Transport on an httpx.MockTransport."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.wecom import kf_samples
from wechat_async.crypto import InvalidSignatureError, MessageCrypto, MessageParseError
from wechat_async.errors import (
    APIError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidResponseError,
    RateLimitError,
)
from wechat_async.tokens import StaticToken
from wechat_async.transport import Hosts, RetryPolicy, Transport
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import (
    BusinessCardMessage,
    ChannelsMessage,
    ChannelsShopOrderMessage,
    ChannelsShopProductMessage,
    EnterSessionEvent,
    EventMessage,
    FileMessage,
    ImageMessage,
    IntentLink,
    KfCallbackMessage,
    Link,
    LinkMessage,
    Location,
    LocationMessage,
    MenuClick,
    MenuMiniProgram,
    MenuText,
    MenuView,
    MergedMessage,
    MiniProgram,
    MiniProgramMessage,
    MsgMenu,
    MsgMenuMessage,
    MsgSendFailEvent,
    NoteMessage,
    Origin,
    RejectCustomerMsgSwitchChangeEvent,
    ServicerRecallMsgEvent,
    ServicerStatusChangeEvent,
    ServiceState,
    SessionStatusChangeEvent,
    TextMessage,
    UnknownKfEvent,
    UnknownKfMessage,
    UpgradeGroupChat,
    UpgradeMember,
    UserRecallMsgEvent,
    VideoMessage,
    VoiceMessage,
)
from wechat_async.wecom.messages import File, Image, Text, Video, Voice

HOSTS = Hosts(official="https://official.test", work="https://work.test", official_standby=())
OK: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
CORPID = "ww12345678910"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")


class FakeWeChat:
    """Answers each request with the next queued reply (the last one repeats)."""

    def __init__(self, *replies: dict[str, Any]) -> None:
        self.replies = list(replies) or [OK]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return httpx.Response(200, json=reply)

    @property
    def request(self) -> httpx.Request:
        (only,) = self.requests
        return only

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def make_kf(fake: FakeWeChat, crypto: MessageCrypto | None = None) -> Kf:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    transport = Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait())
    return Kf(transport, StaticToken("TOKEN"), crypto)


def assert_call(request: httpx.Request, method: str, path: str, **params: str) -> None:
    assert request.method == method
    assert request.url.host == "work.test"
    assert request.url.path == "/" + path
    assert dict(request.url.params) == {"access_token": "TOKEN", **params}


Call = Callable[[Kf], Awaitable[Any]]

# (call, path, the body WeChat's docs show, reply, what the call returns)
POST_CASES: list[tuple[str, Call, str, dict[str, Any], dict[str, Any], Any]] = [
    (
        "account_add",
        lambda kf: kf.account_add(
            "新建的客服账号", "294DpAog3YA5b9rTK4PjjfRfYLO0L5qpDHAJIzhhQ2jAEWjb9i661Q4lk8oFnPtmj"
        ),
        "cgi-bin/kf/account/add",
        {
            "name": "新建的客服账号",
            "media_id": "294DpAog3YA5b9rTK4PjjfRfYLO0L5qpDHAJIzhhQ2jAEWjb9i661Q4lk8oFnPtmj",
        },
        {**OK, "open_kfid": "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"},
        "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw",
    ),
    (
        "account_del",
        lambda kf: kf.account_del("wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"),
        "cgi-bin/kf/account/del",
        {"open_kfid": "wkAJ2GCAAAZSfhHCt7IFSvLKtMPxyJTw"},
        OK,
        None,
    ),
    (
        "account_update_name",
        lambda kf: kf.account_update("wk1", name="修改后的客服名"),
        "cgi-bin/kf/account/update",
        {"open_kfid": "wk1", "name": "修改后的客服名"},
        OK,
        None,
    ),
    (
        "account_update_both",
        lambda kf: kf.account_update("wk1", name="n", media_id="MEDIA"),
        "cgi-bin/kf/account/update",
        {"open_kfid": "wk1", "name": "n", "media_id": "MEDIA"},
        OK,
        None,
    ),
    (
        "add_contact_way",
        lambda kf: kf.add_contact_way("OPEN_KFID", "12345"),
        "cgi-bin/kf/add_contact_way",
        {"open_kfid": "OPEN_KFID", "scene": "12345"},
        {**OK, "url": "https://work.weixin.qq.com/kf/kfcbf8f8d07ac7215f?enc_scene=ENCGFSDF567DF"},
        "https://work.weixin.qq.com/kf/kfcbf8f8d07ac7215f?enc_scene=ENCGFSDF567DF",
    ),
    (
        "add_contact_way_no_scene",
        lambda kf: kf.add_contact_way("OPEN_KFID"),
        "cgi-bin/kf/add_contact_way",
        {"open_kfid": "OPEN_KFID"},
        {**OK, "url": "https://work.weixin.qq.com/kf/x"},
        "https://work.weixin.qq.com/kf/x",
    ),
    (
        "send_msg_text",
        lambda kf: kf.send_msg(
            "EXTERNAL_USERID", "OPEN_KFID", Text("你购买的物品已发货"), msgid="MSGID"
        ),
        "cgi-bin/kf/send_msg",
        {
            "touser": "EXTERNAL_USERID",
            "open_kfid": "OPEN_KFID",
            "msgid": "MSGID",
            "msgtype": "text",
            "text": {"content": "你购买的物品已发货"},
        },
        {**OK, "msgid": "MSGID"},
        "MSGID",
    ),
    (
        "send_msg_on_event",
        lambda kf: kf.send_msg_on_event("CODE", Text("欢迎咨询")),
        "cgi-bin/kf/send_msg_on_event",
        {"code": "CODE", "msgtype": "text", "text": {"content": "欢迎咨询"}},
        {**OK, "msgid": "AUTO"},
        "AUTO",
    ),
    (
        "service_state_trans",
        lambda kf: kf.service_state_trans("wk1", "wm1", ServiceState.SERVICER, "zhangsan"),
        "cgi-bin/kf/service_state/trans",
        {
            "open_kfid": "wk1",
            "external_userid": "wm1",
            "service_state": 3,
            "servicer_userid": "zhangsan",
        },
        {**OK, "msg_code": "MSG_CODE"},
        "MSG_CODE",
    ),
    (
        "service_state_trans_no_code",
        lambda kf: kf.service_state_trans("wk1", "wm1", 2),
        "cgi-bin/kf/service_state/trans",
        {"open_kfid": "wk1", "external_userid": "wm1", "service_state": 2},
        OK,
        "",
    ),
    (
        "upgrade_member_service",
        lambda kf: kf.upgrade_member_service(
            "kfxxxxxxxxxxxxxx", "wmxxxxxxxxxxxxxxxxxx", "zhangsan", "你好"
        ),
        "cgi-bin/kf/customer/upgrade_service",
        {
            "open_kfid": "kfxxxxxxxxxxxxxx",
            "external_userid": "wmxxxxxxxxxxxxxxxxxx",
            "type": 1,
            "member": {"userid": "zhangsan", "wording": "你好"},
        },
        OK,
        None,
    ),
    (
        "upgrade_group_chat_service",
        lambda kf: kf.upgrade_group_chat_service("wk1", "wm1", "wraaaaaaaaaaaaaaaa"),
        "cgi-bin/kf/customer/upgrade_service",
        {
            "open_kfid": "wk1",
            "external_userid": "wm1",
            "type": 2,
            "groupchat": {"chat_id": "wraaaaaaaaaaaaaaaa"},
        },
        OK,
        None,
    ),
    (
        "upgrade_service_cancel",
        lambda kf: kf.upgrade_service_cancel("wk1", "wm1"),
        "cgi-bin/kf/customer/cancel_upgrade_service",
        {"open_kfid": "wk1", "external_userid": "wm1"},
        OK,
        None,
    ),
    (
        "add_knowledge_group",
        lambda kf: kf.add_knowledge_group("分组名"),
        "cgi-bin/kf/knowledge/add_group",
        {"name": "分组名"},
        {**OK, "group_id": "GROUP_ID"},
        "GROUP_ID",
    ),
    (
        "del_knowledge_group",
        lambda kf: kf.del_knowledge_group("GROUP_ID"),
        "cgi-bin/kf/knowledge/del_group",
        {"group_id": "GROUP_ID"},
        OK,
        None,
    ),
    (
        "mod_knowledge_group",
        lambda kf: kf.mod_knowledge_group("GROUP_ID", "分组名"),
        "cgi-bin/kf/knowledge/mod_group",
        {"group_id": "GROUP_ID", "name": "分组名"},
        OK,
        None,
    ),
    (
        "add_knowledge_intent",
        lambda kf: kf.add_knowledge_intent(
            "GROUP_ID",
            "主问题",
            "问题的回复",
            similar_questions=["相似问题1", "相似问题2"],
            attachments=[Image("MEDIA_ID"), IntentLink("标题", "https://x.test", picurl="P")],
        ),
        "cgi-bin/kf/knowledge/add_intent",
        {
            "group_id": "GROUP_ID",
            "question": {"text": {"content": "主问题"}},
            "similar_questions": {
                "items": [{"text": {"content": "相似问题1"}}, {"text": {"content": "相似问题2"}}]
            },
            "answers": [
                {
                    "text": {"content": "问题的回复"},
                    "attachments": [
                        {"msgtype": "image", "image": {"media_id": "MEDIA_ID"}},
                        {
                            "msgtype": "link",
                            "link": {"title": "标题", "url": "https://x.test", "picurl": "P"},
                        },
                    ],
                }
            ],
        },
        {**OK, "intent_id": "INTENT_ID"},
        "INTENT_ID",
    ),
    (
        "del_knowledge_intent",
        lambda kf: kf.del_knowledge_intent("INTENT_ID"),
        "cgi-bin/kf/knowledge/del_intent",
        {"intent_id": "INTENT_ID"},
        OK,
        None,
    ),
    (
        "mod_knowledge_intent",
        lambda kf: kf.mod_knowledge_intent("INTENT_ID", "主问题", "回复"),
        "cgi-bin/kf/knowledge/mod_intent",
        {
            "intent_id": "INTENT_ID",
            "question": {"text": {"content": "主问题"}},
            "answers": [{"text": {"content": "回复"}}],
        },
        OK,
        None,
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("call", "path", "body", "reply", "expected"),
    [case[1:] for case in POST_CASES],
    ids=[case[0] for case in POST_CASES],
)
async def test_post_endpoints(
    call: Call, path: str, body: dict[str, Any], reply: dict[str, Any], expected: Any
) -> None:
    fake = FakeWeChat(reply)
    assert await call(make_kf(fake)) == expected
    assert_call(fake.request, "POST", path)
    assert fake.body() == body


@pytest.mark.asyncio
async def test_account_list_page() -> None:
    fake = FakeWeChat(kf_samples.ACCOUNT_LIST)
    page = await make_kf(fake).account_list(0, 100)
    assert_call(fake.request, "POST", "cgi-bin/kf/account/list")
    assert fake.body() == {"offset": 0, "limit": 100}
    (account,) = page.account_list
    assert account.open_kfid == "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q"
    assert account.name == "咨询客服"
    assert account.manage_privilege is True


@pytest.mark.asyncio
async def test_iter_accounts_pages_until_a_short_page() -> None:
    def page(start: int, count: int) -> dict[str, Any]:
        return {**OK, "account_list": [{"open_kfid": f"wk{start + i}"} for i in range(count)]}

    fake = FakeWeChat(page(0, 2), page(2, 2), page(4, 1))
    ids = [a.open_kfid async for a in make_kf(fake).iter_accounts(page_size=2)]
    assert ids == ["wk0", "wk1", "wk2", "wk3", "wk4"]
    assert [fake.body(i) for i in range(3)] == [
        {"offset": 0, "limit": 2},
        {"offset": 2, "limit": 2},
        {"offset": 4, "limit": 2},
    ]


@pytest.mark.asyncio
async def test_iter_accounts_stops_on_an_empty_page() -> None:
    full = {**OK, "account_list": [{"open_kfid": "a"}, {"open_kfid": "b"}]}
    fake = FakeWeChat(full, {**OK, "account_list": []})
    assert [a.open_kfid async for a in make_kf(fake).iter_accounts(page_size=2)] == ["a", "b"]
    assert len(fake.requests) == 2


@pytest.mark.asyncio
async def test_receptionist_add_reports_each_entry() -> None:
    fake = FakeWeChat(kf_samples.SERVICER_RESULTS)
    result = await make_kf(fake).receptionist_add(
        "kfxxxxxxxxxxxxxx", ["zhangsan", "lisi"], department_id_list=[2, 4]
    )
    assert_call(fake.request, "POST", "cgi-bin/kf/servicer/add")
    assert fake.body() == {
        "open_kfid": "kfxxxxxxxxxxxxxx",
        "userid_list": ["zhangsan", "lisi"],
        "department_id_list": [2, 4],
    }
    assert [r.userid or r.department_id for r in result.result_list] == [
        "zhangsan",
        "lisi",
        2,
        3,
    ]
    (failed,) = result.failed
    assert (failed.userid, failed.errcode) == ("lisi", 60111)


@pytest.mark.asyncio
async def test_receptionist_del_with_departments_only() -> None:
    fake = FakeWeChat(kf_samples.SERVICER_RESULTS)
    await make_kf(fake).receptionist_del("wk1", department_id_list=[2])
    assert_call(fake.request, "POST", "cgi-bin/kf/servicer/del")
    assert fake.body() == {"open_kfid": "wk1", "department_id_list": [2]}


@pytest.mark.asyncio
async def test_receptionist_list() -> None:
    fake = FakeWeChat(kf_samples.SERVICER_LIST)
    result = await make_kf(fake).receptionist_list("XXX")
    assert_call(fake.request, "GET", "cgi-bin/kf/servicer/list", open_kfid="XXX")
    assert [(s.userid, s.department_id, s.status) for s in result.servicer_list] == [
        ("zhangsan", None, 0),
        ("lisi", None, 1),
        (None, 2, None),
        (None, 3, None),
    ]
    assert result.servicer_list[1].stop_type == 1


@pytest.mark.asyncio
async def test_sync_msg_body_omits_unset_fields() -> None:
    fake = FakeWeChat({**OK, "next_cursor": "", "has_more": 0, "msg_list": []})
    await make_kf(fake).sync_msg()
    assert_call(fake.request, "POST", "cgi-bin/kf/sync_msg")
    assert fake.body() == {"limit": 1000}


@pytest.mark.asyncio
async def test_sync_msg_full_body_and_every_message_type() -> None:
    fake = FakeWeChat(kf_samples.SYNC_MSG)
    result = await make_kf(fake).sync_msg(
        cursor="4gw7MepFLfgF2VC5npN",
        token="ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
        limit=1000,
        voice_format=0,
        open_kfid="wkxxxxxx",
    )
    assert fake.body() == {
        "cursor": "4gw7MepFLfgF2VC5npN",
        "token": "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
        "limit": 1000,
        "voice_format": 0,
        "open_kfid": "wkxxxxxx",
    }
    assert result.next_cursor == "4gw7MepFLfgF2VC5npN"
    assert result.has_more is False
    expected_types = [
        TextMessage,
        ImageMessage,
        VoiceMessage,
        VideoMessage,
        FileMessage,
        LocationMessage,
        LinkMessage,
        BusinessCardMessage,
        MiniProgramMessage,
        MsgMenuMessage,
        ChannelsShopProductMessage,
        ChannelsShopOrderMessage,
        MergedMessage,
        ChannelsMessage,
        NoteMessage,
        *[EventMessage] * 7,
    ]
    assert [type(m) for m in result.msg_list] == expected_types
    messages = result.msg_list
    text = messages[0]
    assert isinstance(text, TextMessage)
    assert (text.text.content, text.text.menu_id, text.origin) == ("你好", "101", Origin.CUSTOMER)
    assert text.external_userid == "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw"
    location = messages[5]
    assert isinstance(location, LocationMessage)
    assert location.location.latitude == pytest.approx(23.1060218811035)
    menu = messages[9]
    assert isinstance(menu, MsgMenuMessage)
    assert menu.origin is Origin.SERVICER
    assert menu.servicer_userid == "zhangsan"
    assert menu.msgmenu.list[0] == {"type": "click", "click": {"id": "101", "content": "满意"}}
    product = messages[10]
    assert isinstance(product, ChannelsShopProductMessage)
    assert product.channels_shop_product.sales_price == "100"
    order = messages[11]
    assert isinstance(order, ChannelsShopOrderMessage)
    assert order.channels_shop_order.state == "已完成"
    merged = messages[12]
    assert isinstance(merged, MergedMessage)
    assert merged.merged_msg.item[0].sender_name == "张三"
    channels = messages[13]
    assert isinstance(channels, ChannelsMessage)
    assert channels.channels.sub_type == 1


@pytest.mark.asyncio
async def test_sync_msg_every_event_type() -> None:
    messages = (await make_kf(FakeWeChat(kf_samples.SYNC_MSG)).sync_msg()).msg_list
    first_event = messages[15]
    assert isinstance(first_event, EventMessage)
    assert first_event.origin is Origin.SYSTEM
    events = [m.event for m in messages if isinstance(m, EventMessage)]
    assert [type(e) for e in events] == [
        EnterSessionEvent,
        MsgSendFailEvent,
        ServicerStatusChangeEvent,
        SessionStatusChangeEvent,
        UserRecallMsgEvent,
        ServicerRecallMsgEvent,
        RejectCustomerMsgSwitchChangeEvent,
    ]
    enter = events[0]
    assert isinstance(enter, EnterSessionEvent)
    assert (enter.welcome_code, enter.scene, enter.scene_param) == ("aaaaaa", "123", "abc")
    assert enter.wechat_channels is not None
    assert enter.wechat_channels.nickname == "进入会话的视频号名称"
    fail = events[1]
    assert isinstance(fail, MsgSendFailEvent)
    assert (fail.fail_msgid, fail.fail_type) == ("FAIL_MSGID", 4)
    status = events[2]
    assert isinstance(status, ServicerStatusChangeEvent)
    assert status.open_kfid is None  # event items may lack open_kfid
    assert (status.servicer_userid, status.status, status.stop_type) == ("SERVICER_USERID", 2, 1)
    session = events[3]
    assert isinstance(session, SessionStatusChangeEvent)
    assert (session.change_type, session.msg_code) == (1, "MSG_CODE")
    reject = events[6]
    assert isinstance(reject, RejectCustomerMsgSwitchChangeEvent)
    assert reject.reject_switch == 1


@pytest.mark.asyncio
async def test_unknown_msgtype_event_and_origin_are_kept() -> None:
    reply = {
        **OK,
        "next_cursor": "c",
        "has_more": 0,
        "msg_list": [
            {"msgid": "1", "origin": 3, "msgtype": "meeting", "meeting": {"meetingid": "M"}},
            {"msgid": "2", "origin": 4, "msgtype": "event", "event": {"event_type": "brand_new"}},
            {"msgid": "3", "origin": 7, "msgtype": "text", "text": {"content": "x"}, "new": 1},
        ],
    }
    fake = FakeWeChat(reply)
    meeting, event, text = (await make_kf(fake).sync_msg()).msg_list
    assert isinstance(meeting, UnknownKfMessage)
    assert meeting.msgtype == "meeting"
    assert meeting.msgid == "1"
    assert meeting.raw["meeting"] == {"meetingid": "M"}
    assert isinstance(event, EventMessage)
    assert isinstance(event.event, UnknownKfEvent)
    assert event.event.event_type == "brand_new"
    assert isinstance(text, TextMessage)
    assert text.origin == 7


@pytest.mark.asyncio
async def test_iter_sync_msg_follows_next_cursor() -> None:
    def page(cursor: str, has_more: int, msgid: str) -> dict[str, Any]:
        item = {"msgid": msgid, "origin": 3, "msgtype": "text", "text": {"content": msgid}}
        return {**OK, "next_cursor": cursor, "has_more": has_more, "msg_list": [item]}

    fake = FakeWeChat(
        page("c1", 1, "a"), {**OK, "next_cursor": "c2", "has_more": 1}, page("c3", 0, "b")
    )
    kf = make_kf(fake)
    pages = [p async for p in kf.iter_sync_msg(token="TOK", open_kfid="wk1")]
    assert [p.next_cursor for p in pages] == ["c1", "c2", "c3"]
    assert [len(p.msg_list) for p in pages] == [1, 0, 1]
    assert [fake.body(i) for i in range(3)] == [
        {"limit": 1000, "token": "TOK", "open_kfid": "wk1"},
        {"limit": 1000, "cursor": "c1", "token": "TOK", "open_kfid": "wk1"},
        {"limit": 1000, "cursor": "c2", "token": "TOK", "open_kfid": "wk1"},
    ]


@pytest.mark.asyncio
async def test_iter_sync_msg_refuses_a_cursor_that_does_not_advance() -> None:
    fake = FakeWeChat({**OK, "next_cursor": "same", "has_more": 1, "msg_list": []})
    with pytest.raises(InvalidResponseError):
        async for _ in make_kf(fake).iter_sync_msg(cursor="same"):
            pass
    assert len(fake.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("message", "payload"),
    [
        (Image("MEDIA_ID"), {"msgtype": "image", "image": {"media_id": "MEDIA_ID"}}),
        (Voice("MEDIA_ID"), {"msgtype": "voice", "voice": {"media_id": "MEDIA_ID"}}),
        (Video("MEDIA_ID"), {"msgtype": "video", "video": {"media_id": "MEDIA_ID"}}),
        (File("MEDIA_ID"), {"msgtype": "file", "file": {"media_id": "MEDIA_ID"}}),
        (
            Link("企业如何增长?", "https://work.weixin.qq.com", "MEDIA_ID", desc="企业增长"),
            {
                "msgtype": "link",
                "link": {
                    "title": "企业如何增长?",
                    "url": "https://work.weixin.qq.com",
                    "thumb_media_id": "MEDIA_ID",
                    "desc": "企业增长",
                },
            },
        ),
        (
            MiniProgram("APPID", "MEDIA_ID", "PAGE_PATH", title="欢迎报名夏令营"),
            {
                "msgtype": "miniprogram",
                "miniprogram": {
                    "appid": "APPID",
                    "thumb_media_id": "MEDIA_ID",
                    "pagepath": "PAGE_PATH",
                    "title": "欢迎报名夏令营",
                },
            },
        ),
        (
            MsgMenu(
                [
                    MenuClick("101", "满意"),
                    MenuView("https://work.weixin.qq.com", "点击跳转到自助查询页面"),
                    MenuMiniProgram(
                        "wx123123123123123", "pages/index?userid=zhangsan", "打开小程序"
                    ),
                    MenuText("纯文本", no_newline=0),
                ],
                head_content="您对本次服务是否满意呢? ",
                tail_content="欢迎再次光临",
            ),
            {
                "msgtype": "msgmenu",
                "msgmenu": {
                    "head_content": "您对本次服务是否满意呢? ",
                    "list": [
                        {"type": "click", "click": {"id": "101", "content": "满意"}},
                        {
                            "type": "view",
                            "view": {
                                "url": "https://work.weixin.qq.com",
                                "content": "点击跳转到自助查询页面",
                            },
                        },
                        {
                            "type": "miniprogram",
                            "miniprogram": {
                                "appid": "wx123123123123123",
                                "pagepath": "pages/index?userid=zhangsan",
                                "content": "打开小程序",
                            },
                        },
                        {"type": "text", "text": {"content": "纯文本", "no_newline": 0}},
                    ],
                    "tail_content": "欢迎再次光临",
                },
            },
        ),
        (
            Location(
                23.106021881103501, 113.32454681396499, name="广州国际媒体港", address="滨江东路"
            ),
            {
                "msgtype": "location",
                "location": {
                    "latitude": 23.106021881103501,
                    "longitude": 113.32454681396499,
                    "name": "广州国际媒体港",
                    "address": "滨江东路",
                },
            },
        ),
    ],
    ids=["image", "voice", "video", "file", "link", "miniprogram", "msgmenu", "location"],
)
async def test_send_msg_types(message: Any, payload: dict[str, Any]) -> None:
    fake = FakeWeChat({**OK, "msgid": "MSG_ID"})
    assert await make_kf(fake).send_msg("EXTERNAL_USERID", "OPEN_KFID", message) == "MSG_ID"
    assert_call(fake.request, "POST", "cgi-bin/kf/send_msg")
    assert fake.body() == {"touser": "EXTERNAL_USERID", "open_kfid": "OPEN_KFID", **payload}


@pytest.mark.asyncio
async def test_send_msg_on_event_menu() -> None:
    fake = FakeWeChat({**OK, "msgid": "M"})
    menu = MsgMenu([MenuClick("1", "好")], head_content="请评价")
    await make_kf(fake).send_msg_on_event("CODE", menu, msgid="my-id_1")
    assert fake.body() == {
        "code": "CODE",
        "msgid": "my-id_1",
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": "请评价",
            "list": [{"type": "click", "click": {"id": "1", "content": "好"}}],
        },
    }


@pytest.mark.asyncio
async def test_service_state_get() -> None:
    fake = FakeWeChat({**OK, "service_state": 3, "servicer_userid": "zhangsan"})
    info = await make_kf(fake).service_state_get("wkxxxxxxxxxxxxxxxxxx", "wmxxxxxxxxxxxxxxxxxx")
    assert_call(fake.request, "POST", "cgi-bin/kf/service_state/get")
    assert fake.body() == {
        "open_kfid": "wkxxxxxxxxxxxxxxxxxx",
        "external_userid": "wmxxxxxxxxxxxxxxxxxx",
    }
    assert info.service_state is ServiceState.SERVICER
    assert info.servicer_userid == "zhangsan"


def test_service_state_values() -> None:
    assert [int(s) for s in ServiceState] == [0, 1, 2, 3, 4]
    assert [int(o) for o in Origin] == [3, 4, 5]


@pytest.mark.asyncio
async def test_customer_batch_get() -> None:
    fake = FakeWeChat(kf_samples.CUSTOMER_BATCH)
    result = await make_kf(fake).customer_batch_get(
        ["wmxxxxxxxxxxxxxxxxxxxxxx", "zhangsan"], need_enter_session_context=True
    )
    assert_call(fake.request, "POST", "cgi-bin/kf/customer/batchget")
    assert fake.body() == {
        "external_userid_list": ["wmxxxxxxxxxxxxxxxxxxxxxx", "zhangsan"],
        "need_enter_session_context": 1,
    }
    (customer,) = result.customer_list
    assert (customer.nickname, customer.gender, customer.unionid) == (
        "张三",
        1,
        "oxasdaosaosdasdasdasd",
    )
    assert customer.enter_session_context is not None
    assert customer.enter_session_context.scene_param == "abc"
    assert result.invalid_external_userid == ("zhangsan",)


@pytest.mark.asyncio
async def test_upgrade_service_config() -> None:
    fake = FakeWeChat(kf_samples.UPGRADE_SERVICE_CONFIG)
    config = await make_kf(fake).upgrade_service_config()
    assert_call(fake.request, "GET", "cgi-bin/kf/customer/get_upgrade_service_config")
    assert config.member_range.userid_list == ("zhangsan", "lisi")
    assert config.member_range.department_id_list == (2, 3)
    assert config.groupchat_range.chat_id_list == ("wraaaaaaaaaaaaaaaa", "wrbbbbbbbbbbbbbbb")


@pytest.mark.asyncio
async def test_upgrade_service_generic() -> None:
    fake = FakeWeChat(OK)
    await make_kf(fake).upgrade_service("wk1", "wm1", 1, member=UpgradeMember("zhangsan"))
    assert fake.body() == {
        "open_kfid": "wk1",
        "external_userid": "wm1",
        "type": 1,
        "member": {"userid": "zhangsan"},
    }


@pytest.mark.asyncio
async def test_get_corp_qualification() -> None:
    fake = FakeWeChat({**OK, "wechat_channels_binding": True})
    assert await make_kf(fake).get_corp_qualification() is True
    assert_call(fake.request, "GET", "cgi-bin/kf/get_corp_qualification")


@pytest.mark.asyncio
async def test_get_corp_statistic() -> None:
    fake = FakeWeChat(kf_samples.CORP_STATISTIC)
    stats = await make_kf(fake).get_corp_statistic(1645545600, 1645632000, open_kfid="OPEN_KFID")
    assert_call(fake.request, "POST", "cgi-bin/kf/get_corp_statistic")
    assert fake.body() == {
        "open_kfid": "OPEN_KFID",
        "start_time": 1645545600,
        "end_time": 1645632000,
    }
    first, second = stats.statistic_list
    assert first.stat_time == 1645545600
    assert first.statistic.customer_msg_cnt == 6
    assert first.statistic.ai_transfer_rate == 1.0
    assert second.statistic.customer_cnt == 0


@pytest.mark.asyncio
async def test_get_servicer_statistic() -> None:
    fake = FakeWeChat(kf_samples.SERVICER_STATISTIC)
    stats = await make_kf(fake).get_servicer_statistic(
        1645545600, 1645632000, open_kfid="OPEN_KFID", servicer_userid="zhangsan"
    )
    assert_call(fake.request, "POST", "cgi-bin/kf/get_servicer_statistic")
    assert fake.body() == {
        "open_kfid": "OPEN_KFID",
        "servicer_userid": "zhangsan",
        "start_time": 1645545600,
        "end_time": 1645632000,
    }
    assert stats.statistic_list[0].statistic.first_reply_average_sec == 5.0


@pytest.mark.asyncio
async def test_list_knowledge_group() -> None:
    fake = FakeWeChat(kf_samples.KNOWLEDGE_GROUPS)
    page = await make_kf(fake).list_knowledge_group(cursor="CURSOR", limit=100, group_id="GROUP_ID")
    assert_call(fake.request, "POST", "cgi-bin/kf/knowledge/list_group")
    assert fake.body() == {"cursor": "CURSOR", "limit": 100, "group_id": "GROUP_ID"}
    assert page.has_more is True
    assert [(g.group_id, g.is_default) for g in page.group_list] == [
        ("GROUP_ID", True),
        ("GROUP_ID2", False),
    ]


@pytest.mark.asyncio
async def test_list_knowledge_intent() -> None:
    fake = FakeWeChat(kf_samples.KNOWLEDGE_INTENTS)
    page = await make_kf(fake).list_knowledge_intent(limit=100)
    assert_call(fake.request, "POST", "cgi-bin/kf/knowledge/list_intent")
    assert fake.body() == {"limit": 100}
    (intent,) = page.intent_list
    assert intent.question.text.content == "主问题"
    assert [q.text.content for q in intent.similar_questions.items] == ["相似问题1", "相似问题2"]
    assert intent.answers[0].attachments[0]["msgtype"] == "image"


# -- errors ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_kf_errcodes_raise_api_error() -> None:
    fake = FakeWeChat({"errcode": 95000, "errmsg": "invalid open_kfid"})
    with pytest.raises(APIError) as info:
        await make_kf(fake).account_del("wk-wrong")
    assert type(info.value) is APIError
    assert info.value.errcode == 95000
    assert info.value.path == "cgi-bin/kf/account/del"


@pytest.mark.asyncio
async def test_send_limit_errcode() -> None:
    fake = FakeWeChat({"errcode": 95001, "errmsg": "send msg count limit"})
    with pytest.raises(APIError) as info:
        await make_kf(fake).send_msg("wm1", "wk1", Text("hi"))
    assert info.value.errcode == 95001


@pytest.mark.asyncio
async def test_sync_msg_concurrency_limit() -> None:
    fake = FakeWeChat({"errcode": 45033, "errmsg": "api concurrent out of limit"})
    with pytest.raises(RateLimitError):
        await make_kf(fake).sync_msg(token="T")


@pytest.mark.asyncio
async def test_missing_field_in_reply() -> None:
    fake = FakeWeChat(OK)
    with pytest.raises(InvalidResponseError):
        await make_kf(fake).account_add("name", "media")


# -- invalid input never reaches WeChat ----------------------------------------------

INVALID_CALLS: list[tuple[str, Call]] = [
    ("empty name", lambda kf: kf.account_add("", "m")),
    ("long name", lambda kf: kf.account_add("x" * 17, "m")),
    ("long media_id", lambda kf: kf.account_add("n", "m" * 129)),
    ("empty open_kfid", lambda kf: kf.account_del("")),
    ("long open_kfid", lambda kf: kf.account_del("w" * 65)),
    ("update nothing", lambda kf: kf.account_update("wk1")),
    ("list limit 0", lambda kf: kf.account_list(limit=0)),
    ("list limit 101", lambda kf: kf.account_list(limit=101)),
    ("negative offset", lambda kf: kf.account_list(offset=-1)),
    ("bad scene", lambda kf: kf.add_contact_way("wk1", "bad scene!")),
    ("long scene", lambda kf: kf.add_contact_way("wk1", "s" * 33)),
    ("no servicers", lambda kf: kf.receptionist_add("wk1")),
    ("no servicers del", lambda kf: kf.receptionist_del("wk1", [], [])),
    ("101 users", lambda kf: kf.receptionist_add("wk1", [f"u{i}" for i in range(101)])),
    ("101 departments", lambda kf: kf.receptionist_add("wk1", department_id_list=list(range(101)))),
    ("str as list", lambda kf: kf.receptionist_add("wk1", "zhangsan")),
    ("sync limit 1001", lambda kf: kf.sync_msg(limit=1001)),
    ("empty sync open_kfid", lambda kf: kf.sync_msg(open_kfid="")),
    ("long cursor", lambda kf: kf.sync_msg(cursor="c" * 65)),
    ("long token", lambda kf: kf.sync_msg(token="t" * 129)),
    ("voice_format 2", lambda kf: kf.sync_msg(voice_format=2)),
    ("long text", lambda kf: kf.send_msg("wm1", "wk1", Text("字" * 683))),
    ("bad msgid", lambda kf: kf.send_msg("wm1", "wk1", Text("hi"), msgid="no spaces")),
    ("long msgid", lambda kf: kf.send_msg("wm1", "wk1", Text("hi"), msgid="m" * 33)),
    ("empty touser", lambda kf: kf.send_msg("", "wk1", Text("hi"))),
    ("link on event", lambda kf: kf.send_msg_on_event("C", Link("t", "https://x", "m"))),
    ("image on event", lambda kf: kf.send_msg_on_event("C", Image("m"))),
    ("empty code", lambda kf: kf.send_msg_on_event("", Text("hi"))),
    ("state 5", lambda kf: kf.service_state_trans("wk1", "wm1", 5)),
    ("state 3 alone", lambda kf: kf.service_state_trans("wk1", "wm1", 3)),
    ("no customers", lambda kf: kf.customer_batch_get([])),
    ("101 customers", lambda kf: kf.customer_batch_get([f"wm{i}" for i in range(101)])),
    ("type 3", lambda kf: kf.upgrade_service("wk1", "wm1", 3)),
    ("type 1 no member", lambda kf: kf.upgrade_service("wk1", "wm1", 1)),
    (
        "type 2 with member",
        lambda kf: kf.upgrade_service("wk1", "wm1", 2, member=UpgradeMember("u")),
    ),
    ("end before start", lambda kf: kf.get_corp_statistic(1645632000, 1645545600)),
    ("span too long", lambda kf: kf.get_servicer_statistic(0, 32 * 86400)),
    ("long group name", lambda kf: kf.add_knowledge_group("x" * 13)),
    ("knowledge limit", lambda kf: kf.list_knowledge_group(limit=1001)),
    ("text attachment", lambda kf: kf.add_knowledge_intent("g", "q", "a", attachments=[Text("x")])),
    ("empty answer", lambda kf: kf.mod_knowledge_intent("i", "q", "")),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("call", [c[1] for c in INVALID_CALLS], ids=[c[0] for c in INVALID_CALLS])
async def test_invalid_input_fails_before_any_request(call: Call) -> None:
    fake = FakeWeChat(OK)
    with pytest.raises(InvalidArgumentError):
        await call(make_kf(fake))
    assert fake.requests == []


def test_group_chat_needs_a_chat_id() -> None:
    with pytest.raises(InvalidArgumentError):
        UpgradeGroupChat("")


@pytest.mark.parametrize(
    "build",
    [
        lambda: MsgMenu([MenuClick(str(i), "x") for i in range(11)]),
        lambda: MsgMenu([MenuClick("", "x")]),
        lambda: MsgMenu([MenuClick("i" * 65, "x")]),
        lambda: MsgMenu([MenuView("https://x", "c" * 1025)]),
        lambda: MsgMenu([MenuMiniProgram("a" * 33, "p", "c")]),
        lambda: MsgMenu(["not an item"]),
        lambda: MsgMenu([], head_content="h" * 1025),
        lambda: Link("t", "https://x/" + "u" * 2048, "m"),
        lambda: Link("", "https://x", "m"),
        lambda: MiniProgram("", "m", "p"),
        lambda: Location(91, 0),
        lambda: Location(0, -181),
        lambda: MenuText(""),
    ],
)
def test_invalid_outgoing_messages(build: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgumentError):
        build()


# -- callbacks ------------------------------------------------------------------------


def crypto() -> MessageCrypto:
    return MessageCrypto("callback-token", AES_KEY, CORPID)


def xml_envelope(encrypt: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORPID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>"
    )


EXPECTED_CALLBACK = KfCallbackMessage(
    to_user_name="ww12345678910",
    create_time=1348831860,
    msg_type="event",
    event="kf_msg_or_event",
    token="ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
    open_kfid="wkxxxxxxx",
)


@pytest.mark.asyncio
async def test_verify_url() -> None:
    sealed = crypto().encrypt("1616140317555161061", timestamp="1700000000", nonce="n1")
    kf = make_kf(FakeWeChat(), crypto())
    echo = await kf.verify_url(sealed.msg_signature, sealed.timestamp, sealed.nonce, sealed.encrypt)
    assert echo == "1616140317555161061"
    with pytest.raises(InvalidSignatureError):
        await kf.verify_url("0" * 40, sealed.timestamp, sealed.nonce, sealed.encrypt)


@pytest.mark.asyncio
async def test_xml_callback() -> None:
    sealed = crypto().encrypt(kf_samples.CALLBACK_XML, timestamp="1700000000", nonce="n1")
    kf = make_kf(FakeWeChat(), crypto())
    body = ("\n  " + xml_envelope(sealed.encrypt)).encode()
    message = await kf.get_callback_message(
        body, sealed.msg_signature, sealed.timestamp, sealed.nonce
    )
    assert message == EXPECTED_CALLBACK
    assert message.token
    assert message.token not in repr(message)  # the sync token pulls messages: keep it out of logs


@pytest.mark.asyncio
async def test_json_callback_with_json_payload() -> None:
    payload = json.dumps(
        {
            "ToUserName": "ww12345678910",
            "CreateTime": 1348831860,
            "MsgType": "event",
            "Event": "kf_msg_or_event",
            "Token": "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR",
            "OpenKfId": "wkxxxxxxx",
        }
    )
    sealed = crypto().encrypt(payload, timestamp="1700000000", nonce="n2")
    kf = make_kf(FakeWeChat(), crypto())
    body = json.dumps({"ToUserName": CORPID, "Encrypt": sealed.encrypt, "AgentID": ""})
    message = await kf.get_callback_message(
        body, sealed.msg_signature, sealed.timestamp, sealed.nonce
    )
    assert message == EXPECTED_CALLBACK


@pytest.mark.asyncio
@pytest.mark.parametrize("form", ["xml", "json"])
async def test_tampered_callback_is_refused(form: str) -> None:
    sealed = crypto().encrypt(kf_samples.CALLBACK_XML, timestamp="1700000000", nonce="n1")
    kf = make_kf(FakeWeChat(), crypto())
    body = (
        xml_envelope(sealed.encrypt) if form == "xml" else json.dumps({"Encrypt": sealed.encrypt})
    )
    with pytest.raises(InvalidSignatureError):
        await kf.get_callback_message(body, sealed.msg_signature, "1700000001", sealed.nonce)
    other = MessageCrypto("another-token", AES_KEY, CORPID)
    forged = other.encrypt(kf_samples.CALLBACK_XML, timestamp="1700000000", nonce="n1")
    with pytest.raises(InvalidSignatureError):
        await kf.get_callback_message(
            xml_envelope(forged.encrypt), forged.msg_signature, forged.timestamp, forged.nonce
        )


@pytest.mark.asyncio
async def test_callback_body_of_unknown_format() -> None:
    kf = make_kf(FakeWeChat(), crypto())
    with pytest.raises(MessageParseError):
        await kf.get_callback_message(b"encrypt=abc", "sig", "1", "n")


@pytest.mark.asyncio
async def test_callbacks_need_crypto() -> None:
    kf = make_kf(FakeWeChat())
    with pytest.raises(ConfigurationError, match="crypto"):
        await kf.verify_url("s", "1", "n", "e")
    with pytest.raises(ConfigurationError, match="crypto"):
        await kf.get_callback_message("<xml/>", "s", "1", "n")
