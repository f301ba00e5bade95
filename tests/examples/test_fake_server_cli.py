"""``python -m wechat_async.testing``: FakeWeChat over HTTP, with its control paths."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from tests.examples.conftest import ROOT
from tests.redis_server import free_port
from wechat_async import Hosts, RetryPolicy, Text, Transport, WeCom
from wechat_async.testing import __main__ as cli


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[str, list[str]]]:
    """The emulator as a child process with one Kf account; its base URL and banner."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wechat_async.testing",
        "--port",
        str(port),
        "--kf-account",
        "客服",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or not banner[-1].startswith("  See the replies"):
            line = await asyncio.wait_for(process.stdout.readline(), 10)
            assert line, f"the emulator exited: {banner}"
            banner.append(line.decode().rstrip("\n"))
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(500):
                try:
                    await client.get(base + "/_fake/kf/sent")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
        yield base, banner
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.mark.asyncio
async def test_the_served_emulator_answers_the_sdk_and_plays_the_customer(
    served: tuple[str, list[str]],
) -> None:
    base, banner = served
    assert banner[0] == f"FakeWeChat on {base}"
    assert f'work="{base}/qyapi"' in banner[1]
    assert "corp_id=ww_fake_corp corp_secret=fake-corp-secret" in banner[3]
    open_kfid = next(line.split("=", 1)[1] for line in banner if "open_kfid=" in line)
    hosts = Hosts(official=base, work=base + "/qyapi", official_standby=())
    async with (
        Transport(hosts=hosts, retry=RetryPolicy.no_wait()) as transport,
        WeCom("ww_fake_corp", "fake-corp-secret", transport=transport) as wecom,
        httpx.AsyncClient(base_url=base, timeout=5) as control,
    ):
        accounts = await wecom.kf.account_list()
        assert [a.open_kfid for a in accounts.account_list] == [open_kfid]
        said = await control.post(
            "/_fake/kf/customer_says",
            json={"open_kfid": open_kfid, "external_userid": "wm_me", "text": "你好"},
        )
        assert said.status_code == 200
        page = await wecom.kf.sync_msg(open_kfid=open_kfid)
        assert [m.msgid for m in page.msg_list] == [said.json()["msgid"]]
        await wecom.kf.send_msg("wm_me", open_kfid, Text("您好"))
        sent = (await control.get("/_fake/kf/sent")).json()["sent"]
        bad = await control.post("/_fake/kf/customer_says", json={"text": "x"})
        unknown = await control.get("/_fake/nothing")
    assert [(s["touser"], s["body"]) for s in sent] == [("wm_me", {"content": "您好"})]
    assert bad.status_code == 400
    assert unknown.status_code == 404


def test_without_uvicorn_it_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert cli.main(["--port", "8000"]) == 2
    assert "pip install 'wechat-async[testing]'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--kf-callback", "http://127.0.0.1:9/cb", "--kf-aes-key", "too-short"], "43"),
        (["--kf-callback", "http://127.0.0.1:9/cb", "--kf-token", ""], "token"),
    ],
)
def test_unusable_arguments_are_reported_without_a_traceback(
    arguments: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--port", "9", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m wechat_async.testing: ")
    assert complaint in err
    assert "too-short" not in err  # the key itself is never echoed
