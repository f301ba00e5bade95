"""The FastAPI and aiohttp Kf bots over real HTTP on loopback, FakeWeChat on its own port."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp_callback
import fastapi_kf_bot
import httpx
import pytest
from kf_consumer import Settings, wecom_from_settings

from tests.examples.conftest import (
    AES_KEY,
    CALLBACK_TOKEN,
    Served,
    aiohttp_site,
    serve_in_thread,
)
from wechat_async import MessageCrypto, WeCom
from wechat_async.testing import FakeWeChat

pytestmark = pytest.mark.asyncio

FRAMEWORKS = ["fastapi", "aiohttp"]


def settings(fake: FakeWeChat, served: Served) -> Settings:
    return Settings(
        corp_id=fake.corp_id,
        kf_secret=fake.corp_secrets[0],
        callback_token=CALLBACK_TOKEN,
        encoding_aes_key=AES_KEY,
        base_url=served.url,
    )


@contextlib.asynccontextmanager
async def bot(
    framework: str, wecom: WeCom, close: Callable[[], Awaitable[None]]
) -> AsyncIterator[str]:
    """Serve the framework's bot on loopback; yield its callback URL."""
    if framework == "fastapi":
        app = fastapi_kf_bot.create_app(wecom, on_shutdown=close)
        with serve_in_thread(app, lifespan="on") as served:
            yield served.url + "/kf/callback"
    else:
        async with aiohttp_site(aiohttp_callback.create_app(wecom, on_shutdown=close)) as url:
            yield url + "/kf/callback"


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_the_bot_answers_each_customer_text(
    framework: str, fake_server: tuple[FakeWeChat, Served]
) -> None:
    fake, served = fake_server
    wecom, close = wecom_from_settings(settings(fake, served))
    async with bot(framework, wecom, close) as callback_url:
        fake.kf.register_callback(callback_url, token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY)
        open_kfid = fake.kf.add_account("客服")
        started = time.monotonic()
        await served.call(fake.kf.customer_says(open_kfid, "wm_alice", "你好"))
        assert time.monotonic() - started < 5  # answered well within WeChat's limit
        await served.call(fake.kf.customer_says(open_kfid, "wm_bob", "在吗"))
        sent = await served.call(fake.kf.wait_for_sent(2, timeout=5.0))
    replies = {(s.touser, s.open_kfid, s.msgtype, s.body["content"]) for s in sent}
    assert replies == {
        ("wm_alice", open_kfid, "text", "你说：你好"),
        ("wm_bob", open_kfid, "text", "你说：在吗"),
    }
    assert [(r.status_code, r.text) for r in fake.kf.callback_responses] == [(200, "success")] * 2
    assert fake.fetches["cgi-bin/gettoken"] == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_url_verification_and_forged_signatures(
    framework: str, fake_server: tuple[FakeWeChat, Served]
) -> None:
    fake, served = fake_server
    wecom, close = wecom_from_settings(settings(fake, served))
    crypto = MessageCrypto(CALLBACK_TOKEN, AES_KEY, receive_id=fake.corp_id)
    sealed = crypto.encrypt("echo-4242")
    query = {"msg_signature": sealed.msg_signature, "timestamp": sealed.timestamp}
    query["nonce"] = sealed.nonce
    forged = {**query, "msg_signature": "0" * 40}
    event = crypto.encrypt(
        "<xml><ToUserName>ww_fake_corp</ToUserName><MsgType>event</MsgType>"
        "<Event>kf_msg_or_event</Event><Token>T</Token><OpenKfId>wk1</OpenKfId></xml>"
    )
    event_query = {"msg_signature": "0" * 40, "timestamp": event.timestamp, "nonce": event.nonce}
    async with bot(framework, wecom, close) as url, httpx.AsyncClient(timeout=5) as client:
        verified = await client.get(url, params={**query, "echostr": sealed.encrypt})
        refused_get = await client.get(url, params={**forged, "echostr": sealed.encrypt})
        refused_post = await client.post(url, params=event_query, content=event.to_xml())
        missing = await client.post(url, content=event.to_xml())
    assert (verified.status_code, verified.text) == (200, "echo-4242")
    assert verified.headers["content-type"].startswith("text/plain")
    assert refused_get.status_code == 403
    assert refused_post.status_code == 403
    assert 400 <= missing.status_code < 500
    assert fake.calls["cgi-bin/kf/sync_msg"] == 0


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_restarted_bot_answers_nothing_twice(
    framework: str, fake_server: tuple[FakeWeChat, Served]
) -> None:
    fake, served = fake_server
    open_kfid = fake.kf.add_account("客服")
    for n, text in enumerate(("你好", "还在吗")):
        wecom, close = wecom_from_settings(settings(fake, served))
        async with bot(framework, wecom, close) as callback_url:
            fake.kf.register_callback(callback_url, token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY)
            await served.call(fake.kf.customer_says(open_kfid, "wm_alice", text))
            await served.call(fake.kf.wait_for_sent(n + 1, timeout=5.0))
            await asyncio.sleep(0.2)  # a repeat would have been sent by now
    # The consumer's state (a SQLite file in the working directory) survived the restart.
    assert [s.body["content"] for s in fake.kf.sent] == ["你说：你好", "你说：还在吗"]
