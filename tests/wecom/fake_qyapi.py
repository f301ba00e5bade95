"""A scripted qyapi.weixin.qq.com on httpx.MockTransport for the WeCom service tests."""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections import deque
from typing import Any, TypeVar

import httpx

from wechat_async._service import Service
from wechat_async.tokens import StaticToken
from wechat_async.transport import Hosts, RetryPolicy, Transport

HOSTS = Hosts(official="https://official.test", work="https://work.test", official_standby=())

S = TypeVar("S", bound=Service)

Answer = httpx.Response | dict[str, Any]


class FakeQyapi:
    """Answers scripted per (method, path); records every request it sees.

    A route's answers are served in order, the last one repeating.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._routes: dict[tuple[str, str], deque[Answer]] = {}

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self._routes[(method, "/" + path.lstrip("/"))] = deque(answers)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answers = self._routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, json={"unexpected": request.url.path})
        answer = answers.popleft() if len(answers) > 1 else answers[0]
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def transport(self) -> Transport:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self._handle))
        return Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait())

    def service(self, cls: type[S]) -> S:
        return cls(self.transport(), StaticToken("TOKEN"))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def ok(**fields: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **fields}


def multipart(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """The parts of a multipart body: field name to (filename, content type, bytes)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    parts: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts[name] = (part.get_filename(), part.get_content_type(), payload)
    return parts
