"""fake.official: Custom (customer service) and the Open Platform component against FakeWeChat."""

from __future__ import annotations

import base64

import httpx
import pytest

from wechat_async.crypto import MessageCrypto
from wechat_async.errors import APIError
from wechat_async.official_account.custom import Custom
from wechat_async.official_account.custom_messages import Text
from wechat_async.open_platform.component import Component
from wechat_async.open_platform.component_models import ComponentVerifyTicketEvent
from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import AccessToken
from wechat_async.transport import Transport

KF = "kf2001@gh_fake"
DAY = 86400
COMPONENT_APPID = "wx304925fbea25bcbe"
COMPONENT_SECRET = "fake-component-secret"
CALLBACK_TOKEN = "component-callback-token"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
AUTHORIZER = "wxf8b4f85f3a794e77"


def custom_setup() -> tuple[FakeWeChat, Custom]:
    fake = FakeWeChat()
    transport = fake.transport()
    return fake, Custom(transport, AccessToken(fake.appid, fake.secret, transport=transport))


async def api_error(awaitable: object) -> int:
    with pytest.raises(APIError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value.errcode


@pytest.mark.asyncio
async def test_kf_accounts_round_trip() -> None:
    fake, custom = custom_setup()
    await custom.add_kf_account(KF, "小客服")
    await custom.update_kf_account(KF, "大客服")
    [info] = await custom.get_kf_list()
    assert (info.kf_account, info.kf_nick) == (KF, "大客服")
    await custom.invite_worker(KF, "staff_wx")
    [invited] = await custom.get_kf_list()
    assert (invited.invite_wx, invited.invite_status) == ("staff_wx", "waiting")
    fake.official.accept_invite(KF)
    assert (await custom.get_kf_list())[0].kf_wx == "staff_wx"
    await custom.set_head_img_url(KF, b"\xff\xd8 jpeg bytes", filename="head.jpg")
    assert fake.official.head_images[KF] == b"\xff\xd8 jpeg bytes"
    assert (await custom.get_kf_list())[0].kf_headimgurl
    assert await custom.get_kf_online_list() == []
    fake.official.set_online(KF, 2)
    [online] = await custom.get_kf_online_list()
    assert (online.kf_account, online.status) == (KF, 2)
    assert await api_error(custom.add_kf_account(KF, "again")) == 65406
    await custom.del_kf_account(KF)
    assert await custom.get_kf_list() == []
    assert await api_error(custom.del_kf_account(KF)) == 65401


@pytest.mark.asyncio
async def test_head_image_upload_without_a_file_is_41005() -> None:
    # The Official Account's 41005 (media data missing), with or without a multipart body.
    fake, custom = custom_setup()
    await custom.add_kf_account(KF, "小客服")
    transport = fake.transport()
    token = AccessToken(fake.appid, fake.secret, transport=transport)
    path, params = "customservice/kfaccount/uploadheadimg", {"kf_account": KF}
    no_part = transport.request(
        "POST", path, token=token, params=params, files={"other": ("a.jpg", b"x")}
    )
    assert await api_error(no_part) == 41005
    not_multipart = transport.request("POST", path, token=token, params=params, json={"m": 1})
    assert await api_error(not_multipart) == 41005
    assert fake.official.head_images == {}


@pytest.mark.asyncio
async def test_send_and_typing_honour_the_48_hour_window() -> None:
    fake, custom = custom_setup()
    await custom.add_kf_account(KF, "客服")
    fake.official.add_follower("o_follower")
    await custom.send_msg_by_kf("o_follower", Text("你好"), kf_account=KF)
    await custom.typing("o_follower")
    assert fake.official.sent == [
        {
            "touser": "o_follower",
            "msgtype": "text",
            "text": {"content": "你好"},
            "customservice": {"kf_account": KF},
        }
    ]
    assert fake.official.typing == {"o_follower": True}
    assert await api_error(custom.send_msg_by_kf("o_stranger", Text("x"))) == 40003
    fake.clock.advance(48 * 3600)
    assert await api_error(custom.send_msg_by_kf("o_follower", Text("late"))) == 45015
    fake.official.interact("o_follower")
    await custom.send_msg_by_kf("o_follower", Text("again"))
    assert len(fake.official.sent) == 2


@pytest.mark.asyncio
async def test_sessions_round_trip() -> None:
    fake, custom = custom_setup()
    await custom.add_kf_account(KF, "客服")
    await custom.add_kf_account("kf2002@gh_fake", "客服二")
    fake.official.add_follower("o_1")
    fake.official.add_waiting("o_1")
    assert (await custom.get_wait_case_list()).count == 1
    assert await api_error(custom.create_kf_session(KF, "o_1")) == 65415
    fake.official.set_online(KF)
    fake.official.set_online("kf2002@gh_fake")
    await custom.create_kf_session(KF, "o_1")
    assert (await custom.get_kf_session("o_1")).kf_account == KF
    assert [s.openid for s in await custom.get_kf_session_list(KF)] == ["o_1"]
    assert (await custom.get_wait_case_list()).count == 0
    assert await api_error(custom.create_kf_session("kf2002@gh_fake", "o_1")) == 65414
    await custom.close_kf_session(KF, "o_1")
    assert (await custom.get_kf_session("o_1")).kf_account == ""
    assert await api_error(custom.close_kf_session(KF, "o_1")) == 65413


@pytest.mark.asyncio
async def test_msg_records_windows_and_paging() -> None:
    fake, custom = custom_setup()
    base = 1_700_000_000
    for i in range(5):
        fake.official.add_record("o_1", f"msg {i}", time=base + i * 3600, worker=KF)
    fake.official.add_record("o_1", "next day", time=base + DAY + 10)
    page = await custom.get_msg_list(base, base + 3 * 3600, number=2)
    assert [r.text for r in page.recordlist] == ["msg 0", "msg 1"]
    assert (page.number, page.msgid) == (2, 3)
    rest = await custom.get_msg_list(base, base + 3 * 3600, msgid=page.msgid, number=2)
    assert [r.text for r in rest.recordlist] == ["msg 2", "msg 3"]
    everything = [r.text async for r in custom.iter_msg_list(base, base + 2 * DAY, number=2)]
    assert everything == ["msg 0", "msg 1", "msg 2", "msg 3", "msg 4", "next day"]
    # The SDK refuses a window over 24 h itself; the fake answers 65417 to a raw call.
    transport = fake.transport()
    token = AccessToken(fake.appid, fake.secret, transport=transport)
    body = {"starttime": base, "endtime": base + DAY + 1, "msgid": 1, "number": 10}
    with pytest.raises(APIError) as caught:
        await transport.request(
            "POST", "customservice/msgrecord/getmsglist", token=token, json=body
        )
    assert caught.value.errcode == 65417


def callback_client(component: Component) -> httpx.AsyncClient:
    """The app's authorization event URL, in process: hands each push to handle_callback."""

    async def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        event = await component.handle_callback(
            request.content, params["msg_signature"], params["timestamp"], params["nonce"]
        )
        assert isinstance(event, ComponentVerifyTicketEvent)
        return httpx.Response(200, text="success")

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def component_setup() -> tuple[FakeWeChat, Transport, Component]:
    fake = FakeWeChat()
    fake.official.component(
        COMPONENT_APPID, COMPONENT_SECRET, token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY
    )
    transport = fake.transport()
    crypto = MessageCrypto(CALLBACK_TOKEN, AES_KEY, COMPONENT_APPID)
    return fake, transport, Component(transport, COMPONENT_APPID, COMPONENT_SECRET, crypto=crypto)


@pytest.mark.asyncio
async def test_component_end_to_end() -> None:
    fake, transport, component = component_setup()
    async with callback_client(component) as client:
        ticket = await fake.official.push_verify_ticket("https://app.test/auth-event", client)
    assert fake.official.push_replies == ["success"]
    assert ticket == fake.official.tickets[-1][0]
    assert (await component.create_pre_auth_code()).startswith("preauthcode@@@")
    code = fake.official.authorize(AUTHORIZER)
    info = await component.query_auth(code)
    assert info.authorizer_appid == AUTHORIZER
    assert [f.funcscope_category.id for f in info.func_info] == [1, 2]
    # The authorizer's token reaches the Official Account APIs.
    fake.official.add_follower("o_customer")
    custom = Custom(transport, component.authorizer_token(AUTHORIZER))
    await custom.send_msg_by_kf("o_customer", Text("hi from the component"))
    assert fake.official.sent[-1]["text"] == {"content": "hi from the component"}
    # A refused token is fetched anew with the refresh token, which may rotate.
    fake.official.rotate_refresh_tokens = True
    provider = component.authorizer_token(AUTHORIZER)
    for _ in range(2):
        old_refresh = fake.official.authorizers[AUTHORIZER].refresh_token
        await provider.invalidate(await provider.get())
        fresh = await provider.get()
        assert fresh in fake.tokens.extra_official
        assert fake.official.authorizers[AUTHORIZER].refresh_token != old_refresh
    await custom.typing("o_customer")
    assert await api_error(component.query_auth(code)) == 61010


@pytest.mark.asyncio
async def test_ticket_pushes_in_one_second_are_each_newer() -> None:
    fake, _, component = component_setup()
    events: list[ComponentVerifyTicketEvent] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        event = await component.handle_callback(
            request.content, params["msg_signature"], params["timestamp"], params["nonce"]
        )
        assert isinstance(event, ComponentVerifyTicketEvent)
        events.append(event)
        return httpx.Response(200, text="success")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        for _ in range(3):
            await fake.official.push_verify_ticket("https://app.test/auth-event", client)
    # WeChat's pushes are minutes apart; the fake's, back to back, still carry later
    # CreateTimes, so the Component keeps each as the newest, as it would WeChat's.
    assert events[0].create_time < events[1].create_time < events[2].create_time
    assert not any(event.superseded for event in events)
    assert (
        await component.store.get_secret(f"component_verify_ticket:{COMPONENT_APPID}")
        == (fake.official.tickets[-1][0])
    )
    assert (await component.create_pre_auth_code()).startswith("preauthcode@@@")


@pytest.mark.asyncio
async def test_component_management_endpoints() -> None:
    fake, _, component = component_setup()
    async with callback_client(component) as client:
        await fake.official.push_verify_ticket("https://app.test/auth-event", client)
    await component.query_auth(fake.official.authorize(AUTHORIZER))
    result = await component.get_authorizer_info(AUTHORIZER)
    assert result.authorization_info.authorizer_appid == AUTHORIZER
    page = await component.get_authorizer_list()
    assert (page.total_count, [i.authorizer_appid for i in page.list]) == (1, [AUTHORIZER])
    await component.set_authorizer_option(AUTHORIZER, "voice_recognize", 1)
    option = await component.get_authorizer_option(AUTHORIZER, "voice_recognize")
    assert option.option_value == "1"
    assert await api_error(component.get_authorizer_info("wx_never_authorized")) == 61003
    await component.register_mini_program("Shop", "1" * 18, 1, "legal_wx", "张三")
    status = await component.get_registration_status("Shop", "legal_wx", "张三")
    assert status.errcode == 89251
    fake.official.registrations["Shop", "legal_wx", "张三"] = 0
    assert (await component.get_registration_status("Shop", "legal_wx", "张三")).errcode == 0
    assert await api_error(component.get_registration_status("Nope", "x", "y")) == 89250


@pytest.mark.asyncio
async def test_component_token_checks_the_ticket_and_secret() -> None:
    fake, transport, component = component_setup()
    async with callback_client(component) as client:
        await fake.official.push_verify_ticket("https://app.test/auth-event", client)
    body = {
        "component_appid": COMPONENT_APPID,
        "component_appsecret": COMPONENT_SECRET,
        "component_verify_ticket": "stale-ticket",
    }
    path = "cgi-bin/component/api_component_token"
    with pytest.raises(APIError) as stale:
        await transport.request("POST", path, json=body)
    assert stale.value.errcode == 61006
    with pytest.raises(APIError) as secret:
        await transport.request(
            "POST",
            path,
            json={
                **body,
                "component_appsecret": "wrong",
                "component_verify_ticket": fake.official.tickets[-1][0],
            },
        )
    assert secret.value.errcode == 40125
    fake.clock.advance(12 * 3600)
    with pytest.raises(APIError) as expired:
        await transport.request(
            "POST", path, json={**body, "component_verify_ticket": fake.official.tickets[-1][0]}
        )
    assert expired.value.errcode == 61005
