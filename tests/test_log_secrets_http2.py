"""No secret in any log over HTTP/2: hpack and h2 log header tuples, ``:path`` included.

With ``httpx.AsyncClient(http2=True)`` the request URL travels as the ``:path``
pseudo-header, and hpack logs every header it encodes or decodes at DEBUG on
its own loggers (``hpack.hpack``, ``hpack.table``), which the ``httpx``
logger's filter never sees. The whole call path runs here over real HTTP/2
and TLS on 127.0.0.1: a WeCom token fetch (``corpsecret`` in the query), an
Official Account token fetch (``secret``), and a service call with each token
(``access_token``), every logger at DEBUG.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.h2_loopback import client_context, serve_h2
from wechat_async.official_account.custom import Custom
from wechat_async.official_account.custom_messages import Text
from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import AccessToken
from wechat_async.transport import RetryPolicy, Transport, redact
from wechat_async.wecom.client import WeCom

CORP_SECRET = "h2-audit-corp-secret-41c9"
APP_SECRET = "h2-audit-app-secret-8e07"


@pytest.mark.asyncio
async def test_http2_call_path_logs_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeWeChat(secret=APP_SECRET, corp_secrets=(CORP_SECRET,))
    fake.official.add_follower("o_h2")
    versions: list[str] = []

    async def record_version(response: httpx.Response) -> None:
        versions.append(response.http_version)

    caplog.set_level(logging.DEBUG)
    async with (
        serve_h2(fake, tmp_path) as base_url,
        httpx.AsyncClient(
            http2=True,
            verify=client_context(tmp_path),
            event_hooks={"response": [record_version]},
        ) as client,
    ):
        transport = Transport(client, hosts=fake.hosts(base_url), retry=RetryPolicy.no_wait())
        wecom = WeCom(fake.corp_id, CORP_SECRET, transport=transport)
        await wecom.kf.account_list()
        oa_token = AccessToken(fake.appid, APP_SECRET, transport=transport)
        await Custom(transport, oa_token).send_msg_by_kf("o_h2", Text("hello over h2"))
        tokens = {await wecom.token.get(), await oa_token.get()}

    assert versions, "no call went out"
    assert set(versions) == {"HTTP/2"}
    loggers = {record.name for record in caplog.records}
    # The test is only worth something if hpack did log the headers.
    assert any(name.startswith("hpack") for name in loggers), loggers
    secrets = {CORP_SECRET, APP_SECRET, *tokens}
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        text = formatter.format(record)
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"{record.name} logged {leaked}: {text[:300]}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # hpack's records: header tuples as bytes reprs, the value ends at the quote.
        (
            "Adding b':path'=b'/cgi-bin/gettoken?corpid=ww1&corpsecret=S%2B1' to the header table",
            "Adding b':path'=b'/cgi-bin/gettoken?corpid=ww1&corpsecret=***' to the header table",
        ),
        (
            "Decoded (b':path', b'/cgi-bin/x?access_token=T0K'), total consumed 40 bytes",
            "Decoded (b':path', b'/cgi-bin/x?access_token=***'), total consumed 40 bytes",
        ),
        # A URL carried percent-encoded inside another URL's query value.
        (
            "https://a/b?redirect_uri=https%3A%2F%2Fc%2Fd%3Faccess_token%3DT0K%26x%3D1",
            "https://a/b?redirect_uri=https%3A%2F%2Fc%2Fd%3Faccess_token%3D***",
        ),
        (
            "u=https%3a%2f%2fc%2fd%3fx%3d1%26secret%3dS1",
            "u=https%3a%2f%2fc%2fd%3fx%3d1%26secret%3d***",
        ),
    ],
)
def test_redact_masks_bytes_reprs_and_percent_encoded_urls(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redaction_covers_every_logger_of_the_http_stack(caplog: pytest.LogCaptureFixture) -> None:
    # A child logger that exists when the Transport is built, whatever its name,
    # as a newer hpack or httpcore might add.
    newcomer = logging.getLogger("hpack.newcomer_for_test")
    Transport(httpx.AsyncClient())
    caplog.set_level(logging.DEBUG)
    for name in ("hpack.hpack", "hpack.table", "h2.connection", "httpcore.http2", newcomer.name):
        logging.getLogger(name).debug("header %s", b"/cgi-bin/x?access_token=T0K-LEAK")
    texts = [record.getMessage() for record in caplog.records]
    assert len(texts) == 5
    assert all("T0K-LEAK" not in text and "access_token=***" in text for text in texts), texts
