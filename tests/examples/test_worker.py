"""The worker shares the web app's access token through Redis: one fetch between them."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys

import fastapi_kf_bot
import pytest
from kf_consumer import Settings, wecom_from_settings

from tests.examples.conftest import AES_KEY, CALLBACK_TOKEN, EXAMPLES, ROOT, Served, serve_in_thread
from wechat_async.testing import FakeWeChat

pytestmark = pytest.mark.asyncio


async def run_worker(env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "worker.py"),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.usefixtures("redis_client")  # deletes this test's keys afterwards
async def test_the_worker_uses_the_token_the_web_app_fetched(
    fake_server: tuple[FakeWeChat, Served], redis_url: str, redis_prefix: str
) -> None:
    fake, served = fake_server
    settings = Settings(
        corp_id=fake.corp_id,
        kf_secret=fake.corp_secrets[0],
        callback_token=CALLBACK_TOKEN,
        encoding_aes_key=AES_KEY,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        base_url=served.url,
    )
    wecom, close = wecom_from_settings(settings)
    app = fastapi_kf_bot.create_app(wecom, on_shutdown=close)
    with serve_in_thread(app, lifespan="on") as bot:
        fake.kf.register_callback(
            bot.url + "/kf/callback", token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY
        )
        open_kfid = fake.kf.add_account("客服")
        await served.call(fake.kf.customer_says(open_kfid, "wm_alice", "你好"))
        await served.call(fake.kf.wait_for_sent(1, timeout=5.0))
        assert fake.fetches["cgi-bin/gettoken"] == 1

        env = {
            "WECOM_CORP_ID": settings.corp_id,
            "WECOM_KF_SECRET": settings.kf_secret,
            "WECOM_KF_TOKEN": settings.callback_token,
            "WECOM_KF_AES_KEY": settings.encoding_aes_key,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": redis_prefix,
            "WECHAT_BASE_URL": served.url,
            "NOTIFY_OPEN_KFID": open_kfid,
            "NOTIFY_TOUSER": "wm_alice",
            "NOTIFY_TEXT": "您的订单已发货",
        }
        code, out, err = await run_worker(env)
    assert code == 0, err
    assert f"{open_kfid}  客服" in out
    assert "access tokens this worker fetched from WeChat: 0" in out
    assert fake.fetches["cgi-bin/gettoken"] == 1  # the app's one fetch served both processes
    assert [(s.touser, s.body["content"]) for s in fake.kf.sent] == [
        ("wm_alice", "你说：你好"),
        ("wm_alice", "您的订单已发货"),
    ]
    assert dataclasses.is_dataclass(fake.kf.sent[0])


async def test_the_worker_needs_redis() -> None:
    env = {
        "WECOM_CORP_ID": "ww",
        "WECOM_KF_SECRET": "s",
        "WECOM_KF_TOKEN": "t",
        "WECOM_KF_AES_KEY": AES_KEY,
        "REDIS_URL": "",
    }
    code, _, err = await run_worker(env)
    assert code != 0
    assert "REDIS_URL" in err
