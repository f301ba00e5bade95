"""FakeKf: the SDK's Kf service round-trips against the fake, and the fake keeps WeChat's rules."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from wechat_async.crypto import MessageCrypto
from wechat_async.errors import APIError
from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import WorkAccessToken
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.kf_messages import (
    EnterSessionEvent,
    EventMessage,
    KfCallbackMessage,
    MenuClick,
    MsgMenu,
    ServiceState,
    TextMessage,
    UpgradeType,
)
from wechat_async.wecom.messages import Image, Text

TOKEN = "kfcallbacktoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def make_kf(fake: FakeWeChat) -> Kf:
    transport = fake.transport()
    provider = WorkAccessToken(fake.corp_id, fake.corp_secrets[0], transport=transport)
    return Kf(transport, provider, MessageCrypto(TOKEN, AES_KEY, fake.corp_id))


async def errcode_of(call: Any) -> int:
    with pytest.raises(APIError) as caught:
        await call
    return caught.value.errcode


class Receiver:
    """A tiny ASGI app that hands each callback to the SDK, which verifies and decrypts it."""

    def __init__(self, kf: Kf) -> None:
        self.kf = kf
        self.received: list[KfCallbackMessage] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = httpx.QueryParams(scope["query_string"].decode())
        callback = await self.kf.get_callback_message(
            body, query["msg_signature"], query["timestamp"], query["nonce"]
        )
        self.received.append(callback)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"success"})


def with_receiver(fake: FakeWeChat, kf: Kf) -> Receiver:
    receiver = Receiver(kf)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver))
    fake.kf.register_callback(
        "http://app.test/kf", token=TOKEN, encoding_aes_key=AES_KEY, client=client
    )
    return receiver


@pytest.mark.asyncio
async def test_accounts_round_trip() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    first = await kf.account_add("售前", "MEDIA")
    second = fake.kf.add_account("售后")
    assert first.startswith("wk")
    assert first != second
    await kf.account_update(first, name="售前咨询")
    page = await kf.account_list(0, 100)
    assert [(a.open_kfid, a.name) for a in page.account_list] == [
        (first, "售前咨询"),
        (second, "售后"),
    ]
    assert [a.open_kfid async for a in kf.iter_accounts(page_size=1)] == [first, second]
    url = await kf.add_contact_way(first, "scene_1")
    assert first in url
    assert "scene_1" in url
    await kf.account_del(second)
    assert await errcode_of(kf.account_del(second)) == 95004
    assert [a.open_kfid for a in (await kf.account_list()).account_list] == [first]


@pytest.mark.asyncio
async def test_servicers_round_trip() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    fake.kf.unknown_userids.add("ghost")
    added = await kf.receptionist_add(kfid, ["zhangsan", "ghost"], [2])
    assert [(r.userid, r.errcode) for r in added.failed] == [("ghost", 60111)]
    again = await kf.receptionist_add(kfid, ["zhangsan"])
    assert again.result_list[0].errmsg == "ignored"
    listed = await kf.receptionist_list(kfid)
    assert [(s.userid, s.department_id, s.status) for s in listed.servicer_list] == [
        ("zhangsan", None, 0),
        (None, 2, None),
    ]
    removed = await kf.receptionist_del(kfid, ["zhangsan"], [2])
    assert not removed.failed
    assert (await kf.receptionist_list(kfid)).servicer_list == ()


@pytest.mark.asyncio
async def test_customer_says_calls_back_and_sync_msg_reads_it() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    receiver = with_receiver(fake, kf)
    kfid = fake.kf.add_account()
    msgid = await fake.kf.customer_says(kfid, "wm_alice", "你好")
    assert len(fake.kf.callback_responses) == 1
    assert fake.kf.callback_responses[0].status_code == 200
    [callback] = receiver.received
    assert callback.to_user_name == fake.corp_id
    assert callback.msg_type == "event"
    assert callback.event == "kf_msg_or_event"
    assert callback.open_kfid == kfid
    page = await kf.sync_msg(token=callback.token, open_kfid=kfid)
    assert not page.has_more
    [message] = page.msg_list
    assert isinstance(message, TextMessage)
    assert (message.msgid, message.text.content, message.external_userid) == (
        msgid,
        "你好",
        "wm_alice",
    )
    later = await kf.sync_msg(token=callback.token, cursor=page.next_cursor)
    assert later.msg_list == ()


@pytest.mark.asyncio
async def test_sync_msg_pages_with_has_more_and_filters_by_account() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    first, second = fake.kf.add_account(), fake.kf.add_account()
    for index in range(5):
        await fake.kf.customer_says(first, "wm_a", f"m{index}")
        await fake.kf.customer_says(second, "wm_b", f"other{index}")
    page = await kf.sync_msg(limit=2, open_kfid=first)
    assert page.has_more
    assert [m.text.content for m in page.msg_list if isinstance(m, TextMessage)] == ["m0", "m1"]
    pages = [p async for p in kf.iter_sync_msg(cursor=page.next_cursor, limit=2, open_kfid=first)]
    assert [len(p.msg_list) for p in pages] == [2, 1]
    assert not pages[-1].has_more
    everything = await kf.sync_msg()
    assert len(everything.msg_list) == 10
    # WeCom's table: 50100 分页查询的游标无效 (40058 is the generic bad parameter).
    assert await errcode_of(kf.sync_msg(cursor="not-a-cursor")) == 50100


@pytest.mark.asyncio
async def test_sync_msg_refuses_unknown_and_expired_tokens() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    receiver = with_receiver(fake, kf)
    kfid = fake.kf.add_account()
    await fake.kf.customer_says(kfid, "wm_alice", "hi")
    token = receiver.received[0].token
    assert await errcode_of(kf.sync_msg(token="made-up")) == 95007
    fake.clock.advance(599)
    assert len((await kf.sync_msg(token=token)).msg_list) == 1
    fake.clock.advance(2)
    assert await errcode_of(kf.sync_msg(token=token)) == 95007


@pytest.mark.asyncio
async def test_send_msg_budget_is_five_per_customer_message() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    await fake.kf.customer_says(kfid, "wm_alice", "hi")
    ids = [await kf.send_msg("wm_alice", kfid, Text(f"r{i}")) for i in range(5)]
    assert len(set(ids)) == 5
    assert await errcode_of(kf.send_msg("wm_alice", kfid, Text("sixth"))) == 95001
    await fake.kf.customer_says(kfid, "wm_alice", "again")
    await kf.send_msg("wm_alice", kfid, Image("MEDIA_ID"))
    sent = await fake.kf.wait_for_sent(6)
    assert [(s.msgtype, s.body) for s in sent[-2:]] == [
        ("text", {"content": "r4"}),
        ("image", {"media_id": "MEDIA_ID"}),
    ]
    assert sent[0].touser == "wm_alice"
    assert sent[0].open_kfid == kfid
    assert sent[0].msgid == ids[0]


@pytest.mark.asyncio
async def test_send_msg_closes_48_hours_after_the_customer_spoke() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    fake.kf.add_customer("wm_quiet")
    assert await errcode_of(kf.send_msg("wm_quiet", kfid, Text("hello?"))) == 95013
    await fake.kf.customer_says(kfid, "wm_quiet", "hi")
    fake.clock.advance(48 * 3600 - 10)
    await kf.send_msg("wm_quiet", kfid, Text("just in time"))
    fake.clock.advance(20)
    assert await errcode_of(kf.send_msg("wm_quiet", kfid, Text("too late"))) == 95013


@pytest.mark.asyncio
async def test_send_msg_to_an_unknown_customer_is_40096() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    # WeCom's table: 40096 不合法的外部联系人userid (its 40003 is an invalid UserID).
    assert await errcode_of(kf.send_msg("wm_nobody", kfid, Text("hello?"))) == 40096
    assert await errcode_of(kf.send_msg("wm_nobody", "wk_nothing", Text("x"))) == 95004
    assert fake.kf.sent == []


@pytest.mark.asyncio
async def test_send_msg_msgid_is_honoured_once() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    await fake.kf.customer_says(kfid, "wm_alice", "hi")
    assert await kf.send_msg("wm_alice", kfid, Text("a"), msgid="mine_1") == "mine_1"
    assert await errcode_of(kf.send_msg("wm_alice", kfid, Text("b"), msgid="mine_1")) == 40058
    assert len(fake.kf.sent) == 1


@pytest.mark.asyncio
async def test_service_state_transitions() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    fake.kf.add_servicer(kfid, "zhangsan")
    fake.kf.add_servicer(kfid, "resting", status=1)
    assert (await kf.service_state_get(kfid, "wm_alice")).service_state is ServiceState.ENDED
    assert await errcode_of(kf.service_state_trans(kfid, "wm_alice", 1)) == 95016
    await fake.kf.customer_says(kfid, "wm_alice", "hi")
    assert (await kf.service_state_get(kfid, "wm_alice")).service_state is ServiceState.UNTREATED
    assert await kf.service_state_trans(kfid, "wm_alice", ServiceState.SMART_ASSISTANT) == ""
    assert await kf.service_state_trans(kfid, "wm_alice", ServiceState.POOL) != ""
    assert await errcode_of(kf.service_state_trans(kfid, "wm_alice", 1)) == 95016
    assert await errcode_of(kf.service_state_trans(kfid, "wm_alice", 3, "resting")) == 95014
    assert await errcode_of(kf.service_state_trans(kfid, "wm_alice", 3, "nobody")) == 95014
    await kf.service_state_trans(kfid, "wm_alice", 3, "zhangsan")
    info = await kf.service_state_get(kfid, "wm_alice")
    assert (info.service_state, info.servicer_userid) == (ServiceState.SERVICER, "zhangsan")
    assert await errcode_of(kf.send_msg("wm_alice", kfid, Text("bot"))) == 95018
    assert await errcode_of(kf.service_state_trans(kfid, "wm_alice", 2)) == 95016
    end_code = await kf.service_state_trans(kfid, "wm_alice", ServiceState.ENDED)
    await kf.send_msg_on_event(end_code, Text("再见"))
    assert await errcode_of(kf.service_state_trans(kfid, "wm_alice", 0)) == 95016
    await fake.kf.customer_says(kfid, "wm_alice", "back again")
    assert (await kf.service_state_get(kfid, "wm_alice")).service_state is ServiceState.UNTREATED


@pytest.mark.asyncio
async def test_first_api_reply_moves_the_session_to_the_assistant() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    await fake.kf.customer_says(kfid, "wm_alice", "hi")
    await kf.send_msg("wm_alice", kfid, Text("hello"))
    state = await kf.service_state_get(kfid, "wm_alice")
    assert state.service_state is ServiceState.SMART_ASSISTANT


@pytest.mark.asyncio
async def test_enter_session_welcome_code_works_once_within_20_seconds() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    receiver = with_receiver(fake, kf)
    kfid = fake.kf.add_account()
    code = await fake.kf.customer_enters_session(kfid, "wm_new", scene="ad", scene_param="x")
    page = await kf.sync_msg(token=receiver.received[0].token)
    [item] = page.msg_list
    assert isinstance(item, EventMessage)
    assert isinstance(item.event, EnterSessionEvent)
    assert (item.event.welcome_code, item.event.scene) == (code, "ad")
    menu = MsgMenu([MenuClick("1", "满意")], head_content="欢迎")
    await kf.send_msg_on_event(code, menu)
    assert fake.kf.sent[0].msgtype == "msgmenu"
    assert fake.kf.sent[0].touser == "wm_new"
    assert await errcode_of(kf.send_msg_on_event(code, Text("again"))) == 40058
    late = await fake.kf.customer_enters_session(kfid, "wm_new", welcome_code="WELCOME_2")
    assert late == "WELCOME_2"
    fake.clock.advance(21)
    assert await errcode_of(kf.send_msg_on_event(late, Text("late"))) == 40058


@pytest.mark.asyncio
async def test_customer_sends_other_kinds() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    await fake.kf.customer_sends(kfid, "wm_alice", "image", {"media_id": "IMG"})
    [item] = (await kf.sync_msg()).msg_list
    assert getattr(item, "image").media_id == "IMG"  # noqa: B009


@pytest.mark.asyncio
async def test_customers_and_upgrade_service() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    fake.kf.add_customer("wm_alice", nickname="Alice", gender=2, unionid="UNION")
    await fake.kf.customer_enters_session(kfid, "wm_alice", scene="s1")
    batch = await kf.customer_batch_get(["wm_alice", "wm_ghost"], need_enter_session_context=True)
    [alice] = batch.customer_list
    assert (alice.nickname, alice.gender, alice.unionid) == ("Alice", 2, "UNION")
    assert alice.enter_session_context is not None
    assert alice.enter_session_context.scene == "s1"
    assert batch.invalid_external_userid == ("wm_ghost",)
    fake.kf.upgrade_members.append("lisi")
    fake.kf.upgrade_groupchats.append("wrCHAT")
    config = await kf.upgrade_service_config()
    assert config.member_range.userid_list == ("lisi",)
    assert config.groupchat_range.chat_id_list == ("wrCHAT",)
    await kf.upgrade_member_service(kfid, "wm_alice", "lisi", "找他")
    assert fake.kf.upgrades[(kfid, "wm_alice")] == {
        "type": UpgradeType.MEMBER,
        "userid": "lisi",
        "wording": "找他",
    }
    await kf.upgrade_group_chat_service(kfid, "wm_alice", "wrCHAT")
    assert fake.kf.upgrades[(kfid, "wm_alice")]["chat_id"] == "wrCHAT"
    await kf.upgrade_service_cancel(kfid, "wm_alice")
    assert fake.kf.upgrades == {}


@pytest.mark.asyncio
async def test_corp_and_statistics() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    assert await kf.get_corp_qualification() is False
    fake.kf.wechat_channels_binding = True
    assert await kf.get_corp_qualification() is True
    now = int(fake.clock.now())
    day = now - now % 86400
    await fake.kf.customer_says(kfid, "wm_alice", "hi")
    corp = await kf.get_corp_statistic(day, day + 86400, kfid)
    assert [d.statistic.customer_msg_cnt for d in corp.statistic_list] == [1, 0]
    servicer = await kf.get_servicer_statistic(day, day, kfid, "zhangsan")
    assert [d.stat_time for d in servicer.statistic_list] == [day]


@pytest.mark.asyncio
async def test_knowledge_base_round_trip() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    [default] = (await kf.list_knowledge_group()).group_list
    assert default.is_default
    assert await errcode_of(kf.del_knowledge_group(default.group_id)) == 40058
    group_id = await kf.add_knowledge_group("售后")
    await kf.mod_knowledge_group(group_id, "售后问题")
    page = await kf.list_knowledge_group(limit=1)
    assert page.has_more
    rest = await kf.list_knowledge_group(cursor=page.next_cursor)
    assert [(g.name, g.is_default) for g in rest.group_list] == [("售后问题", False)]
    assert await errcode_of(kf.list_knowledge_group(cursor="bogus")) == 50100
    intent_id = await kf.add_knowledge_intent(
        group_id, "怎么退货", "七天内可退", similar_questions=["退货流程"]
    )
    await kf.mod_knowledge_intent(intent_id, "如何退货", "七天无理由")
    [intent] = (await kf.list_knowledge_intent(group_id=group_id)).intent_list
    assert intent.question.text.content == "如何退货"
    assert intent.answers[0].text.content == "七天无理由"
    await kf.del_knowledge_intent(intent_id)
    assert (await kf.list_knowledge_intent()).intent_list == ()
    await kf.del_knowledge_group(group_id)
    assert len((await kf.list_knowledge_group()).group_list) == 1


@pytest.mark.asyncio
async def test_wait_for_sent_wakes_on_a_send() -> None:
    fake = FakeWeChat()
    kf = make_kf(fake)
    kfid = fake.kf.add_account()
    await fake.kf.customer_says(kfid, "wm_alice", "hi")
    waiting = asyncio.create_task(fake.kf.wait_for_sent(1, timeout=2.0))
    await asyncio.sleep(0)
    await kf.send_msg("wm_alice", kfid, Text("answer"))
    [sent] = await waiting
    assert sent.body == {"content": "answer"}


@pytest.mark.asyncio
async def test_wait_for_sent_times_out() -> None:
    fake = FakeWeChat()
    with pytest.raises(TimeoutError):
        await fake.kf.wait_for_sent(1, timeout=0.05)


@pytest.mark.asyncio
async def test_a_failing_callback_is_reported() -> None:
    async def refuse(_scope: Any, _receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 500, "headers": []})
        await send({"type": "http.response.body", "body": b"no"})

    fake = FakeWeChat()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=refuse))
    fake.kf.register_callback(
        "http://app.test/kf", token=TOKEN, encoding_aes_key=AES_KEY, client=client
    )
    kfid = fake.kf.add_account()
    with pytest.raises(AssertionError, match="500"):
        await fake.kf.customer_says(kfid, "wm_alice", "hi")
    assert fake.kf.callback_responses[0].status_code == 500
