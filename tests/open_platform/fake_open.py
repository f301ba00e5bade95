"""A small fake of the Open Platform component endpoints on httpx.MockTransport.

It behaves like WeChat where the tests need behaviour (tokens are issued,
checked and rotated; authorization codes map to accounts; refresh tokens
rotate) and answers scripted replies where a test needs a particular one.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections import Counter, deque
from typing import Any

import httpx

from wechat_async.crypto import MessageCrypto
from wechat_async.transport import Hosts, RetryPolicy, Transport

HOSTS = Hosts(official="https://official.test", work="https://work.test", official_standby=())
COMPONENT_APPID = "wx304925fbea25bcbe"
COMPONENT_SECRET = "c0mp0nent-app-s3cret-value"
AUTHORIZER_APPID = "wxf8b4f85f3a794e77"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
CALLBACK_TOKEN = "component-callback-token"

Answer = httpx.Response | dict[str, Any]


def crypto(receive_id: str = COMPONENT_APPID) -> MessageCrypto:
    return MessageCrypto(CALLBACK_TOKEN, AES_KEY, receive_id)


def envelope(
    plaintext: str, *, timestamp: str | int | None = None, nonce: str = "n0nce"
) -> tuple[str, str, str, str]:
    """Seal ``plaintext`` as WeChat does: (body, msg_signature, timestamp, nonce).

    The timestamp defaults to now, inside Component's freshness window.
    """
    signed_at = int(time.time()) if timestamp is None else timestamp
    sealed = crypto().encrypt(plaintext, timestamp=signed_at, nonce=nonce)
    body = (
        f"<xml><AppId><![CDATA[{COMPONENT_APPID}]]></AppId>"
        f"<Encrypt><![CDATA[{sealed.encrypt}]]></Encrypt></xml>"
    )
    return body, sealed.msg_signature, sealed.timestamp, sealed.nonce


def ticket_xml(ticket: str, appid: str = COMPONENT_APPID, *, create_time: int = 1413192605) -> str:
    return (
        f"<xml><AppId>{appid}</AppId><CreateTime>{create_time}</CreateTime>"
        "<InfoType>component_verify_ticket</InfoType>"
        f"<ComponentVerifyTicket>{ticket}</ComponentVerifyTicket></xml>"
    )


class FakeOpenPlatform:
    """Answers api.weixin.qq.com's component endpoints; counts and records every request."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.requests: list[httpx.Request] = []
        self.counts: Counter[str] = Counter()
        self.scripted: dict[str, deque[Answer]] = {}
        self.component_tokens: set[str] = set()
        self.auth_codes: dict[str, str] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.tickets_seen: list[str] = []
        self._numbers = itertools.count(1)

    def on(self, path: str, *answers: Answer) -> None:
        """Script the answers of ``path`` (the last one repeats)."""
        self.scripted["/" + path.lstrip("/")] = deque(answers)

    def transport(self) -> Transport:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait())

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    def last(self, path: str) -> httpx.Request:
        return [r for r in self.requests if r.url.path == "/" + path][-1]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        path = request.url.path
        self.counts[path] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        answers = self.scripted.get(path)
        if answers:
            answer = answers.popleft() if len(answers) > 1 else answers[0]
            return (
                answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)
            )
        handler = getattr(self, "_" + path.rsplit("/", 1)[-1], None)
        if handler is None:
            return httpx.Response(404, json={"unexpected": path})
        if path != "/cgi-bin/component/api_component_token":
            token = request.url.params.get("component_access_token")
            if token not in self.component_tokens:
                return httpx.Response(200, json={"errcode": 40001, "errmsg": "invalid credential"})
        body = json.loads(request.content)
        return httpx.Response(200, json=handler(body))

    # -- default behaviour per endpoint -------------------------------------------------

    def _api_component_token(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("component_appsecret") != COMPONENT_SECRET:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        self.tickets_seen.append(body["component_verify_ticket"])
        token = f"CAT-{next(self._numbers)}"
        self.component_tokens.add(token)
        return {"component_access_token": token, "expires_in": 7200}

    def _api_create_preauthcode(self, body: dict[str, Any]) -> dict[str, Any]:
        assert body == {"component_appid": COMPONENT_APPID}
        code = f"preauthcode@@@{next(self._numbers)}"
        # The admin authorizes: WeChat redirects with an authorization code.
        self.auth_codes[f"queryauthcode@@@{code}"] = AUTHORIZER_APPID
        return {"pre_auth_code": code, "expires_in": 1800}

    def _api_query_auth(self, body: dict[str, Any]) -> dict[str, Any]:
        appid = self.auth_codes.pop(body["authorization_code"], None)
        if appid is None:
            return {"errcode": 61010, "errmsg": "code is expired"}
        refresh = f"refreshtoken@@@{next(self._numbers)}"
        self.refresh_tokens[appid] = refresh
        return {
            "authorization_info": {
                "authorizer_appid": appid,
                "authorizer_access_token": f"AAT-{next(self._numbers)}",
                "expires_in": 7200,
                "authorizer_refresh_token": refresh,
                "func_info": [{"funcscope_category": {"id": 1}}],
            }
        }

    def _api_authorizer_token(self, body: dict[str, Any]) -> dict[str, Any]:
        appid = body["authorizer_appid"]
        if self.refresh_tokens.get(appid) != body["authorizer_refresh_token"]:
            return {"errcode": 61023, "errmsg": "refresh_token is invalid"}
        rotated = f"refreshtoken@@@{next(self._numbers)}"
        self.refresh_tokens[appid] = rotated
        return {
            "authorizer_access_token": f"AAT-{next(self._numbers)}",
            "expires_in": 7200,
            "authorizer_refresh_token": rotated,
        }
