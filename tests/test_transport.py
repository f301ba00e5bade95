from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from wechat_async.errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    HTTPStatusError,
    InvalidCredentialError,
    InvalidParameterError,
    InvalidResponseError,
    InvalidTokenError,
    IPNotAllowedError,
    PermissionDeniedError,
    PoolTimeoutError,
    RateLimitError,
    RequestTimeoutError,
    SystemBusyError,
    TransportError,
    WeChatError,
)
from wechat_async.transport import (
    SENSITIVE_PARAMS,
    Host,
    Hosts,
    RetryPolicy,
    Transport,
    redact,
)

if TYPE_CHECKING:
    from wechat_async.observability import Event

HOSTS = Hosts(
    official="https://official.test",
    work="https://work.test",
    official_standby=("https://standby1.test", "https://standby2.test"),
)

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class FakeToken:
    """Hands out tokens in order; invalidate(t) moves on only if t is the current one."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.index = 0
        self.gets = 0
        self.invalidated: list[str] = []

    async def get(self) -> str:
        self.gets += 1
        return self.tokens[self.index]

    async def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        if token == self.tokens[self.index] and self.index + 1 < len(self.tokens):
            self.index += 1


class Recorder:
    """A MockTransport handler that records each request and delegates to ``respond``."""

    def __init__(self, respond: Handler) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.respond(request)
        if isinstance(response, httpx.Response):
            return response
        return await response

    @property
    def hosts(self) -> list[str]:
        return [f"{r.url.scheme}://{r.url.host}" for r in self.requests]


def ok(body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", **(body or {})})


def wechat_error(errcode: int, errmsg: str = "error") -> httpx.Response:
    return httpx.Response(200, json={"errcode": errcode, "errmsg": errmsg})


@asynccontextmanager
async def transport_for(
    respond: Handler, **options: Any
) -> AsyncIterator[tuple[Transport, Recorder]]:
    recorder = Recorder(respond)
    options.setdefault("hosts", HOSTS)
    options.setdefault("retry", RetryPolicy.no_wait())
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        yield Transport(client, **options), recorder


# --- request building ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_json_body_is_utf8_without_escapes() -> None:
    async with transport_for(lambda _: ok()) as (transport, recorder):
        await transport.request(
            "POST", "cgi-bin/kf/send_msg", host=Host.WORK, json={"text": {"content": "你好 👋"}}
        )
    (request,) = recorder.requests
    assert request.content == '{"text":{"content":"你好 👋"}}'.encode()
    assert b"\\u" not in request.content
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.method == "POST"
    assert str(request.url) == "https://work.test/cgi-bin/kf/send_msg"


@pytest.mark.asyncio
async def test_token_and_params_go_into_the_query() -> None:
    token = FakeToken("TOKEN-1")
    async with transport_for(lambda _: ok({"user": "x"})) as (transport, recorder):
        body = await transport.request(
            "GET", "/cgi-bin/user/get", token=token, params={"openid": "o1", "lang": "zh_CN"}
        )
    assert body == {"errcode": 0, "errmsg": "ok", "user": "x"}
    (request,) = recorder.requests
    assert request.url.path == "/cgi-bin/user/get"
    assert dict(request.url.params) == {"openid": "o1", "lang": "zh_CN", "access_token": "TOKEN-1"}
    assert token.gets == 1
    assert token.invalidated == []


@pytest.mark.asyncio
async def test_token_param_can_be_renamed() -> None:
    token = FakeToken("COMPONENT-TOKEN")
    async with transport_for(lambda _: ok()) as (transport, recorder):
        await transport.request(
            "POST",
            "cgi-bin/component/api_create_preauthcode",
            token=token,
            token_param="component_access_token",
            json={"component_appid": "wx1"},
        )
    assert recorder.requests[0].url.params["component_access_token"] == "COMPONENT-TOKEN"
    assert "access_token" not in recorder.requests[0].url.params


@pytest.mark.asyncio
async def test_body_without_errcode_is_returned() -> None:
    async with transport_for(lambda _: httpx.Response(200, json={"ip_list": ["1.2.3.4"]})) as (
        transport,
        _,
    ):
        assert await transport.request("GET", "cgi-bin/get_api_domain_ip") == {
            "ip_list": ["1.2.3.4"]
        }


@pytest.mark.asyncio
async def test_files_are_sent_as_multipart() -> None:
    async with transport_for(lambda _: ok({"media_id": "m1"})) as (transport, recorder):
        body = await transport.request(
            "POST",
            "cgi-bin/media/upload",
            host=Host.WORK,
            params={"type": "image"},
            files={"media": ("a.png", b"\x89PNG...", "image/png")},
        )
    assert body["media_id"] == "m1"
    request = recorder.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b"\x89PNG..." in request.content


@pytest.mark.parametrize(
    "path", ["cgi-bin/user/get?access_token=x", "https://api.weixin.qq.com/cgi-bin/x", "", "/"]
)
@pytest.mark.asyncio
async def test_path_must_be_a_bare_api_path(path: str) -> None:
    async with transport_for(lambda _: ok()) as (transport, recorder):
        with pytest.raises(ConfigurationError, match="path"):
            await transport.request("GET", path)
    assert recorder.requests == []


@pytest.mark.asyncio
async def test_conflicting_arguments_are_refused() -> None:
    async with transport_for(lambda _: ok()) as (transport, _):
        with pytest.raises(ConfigurationError, match="access_token"):
            await transport.request(
                "GET", "cgi-bin/x", token=FakeToken("T"), params={"access_token": "other"}
            )
        with pytest.raises(ConfigurationError, match="json"):
            await transport.request("POST", "cgi-bin/x", json={}, data={"a": "b"})


# --- response mapping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("errcode", "expected"),
    [
        (40014, InvalidTokenError),
        (40013, InvalidCredentialError),
        (48001, PermissionDeniedError),
        (60020, IPNotAllowedError),
        (45009, RateLimitError),
        (-1, SystemBusyError),
        (47001, InvalidParameterError),
        (95001, APIError),
    ],
)
@pytest.mark.asyncio
async def test_errcode_is_raised_as_its_class(errcode: int, expected: type[APIError]) -> None:
    async with transport_for(lambda _: wechat_error(errcode, "nope")) as (transport, _):
        with pytest.raises(expected) as caught:
            await transport.request("POST", "cgi-bin/kf/send_msg", host=Host.WORK, json={})
    assert type(caught.value) is expected
    assert caught.value.errcode == errcode
    assert caught.value.path == "cgi-bin/kf/send_msg"
    assert str(caught.value) == f"[{errcode}] nope (cgi-bin/kf/send_msg)"


@pytest.mark.asyncio
async def test_body_that_is_not_json() -> None:
    respond = lambda _: httpx.Response(200, content=b"<html>gateway</html>")  # noqa: E731
    async with transport_for(respond) as (transport, recorder):
        with pytest.raises(InvalidResponseError) as caught:
            await transport.request("GET", "cgi-bin/x")
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "content",
    [b"[1, 2]", b'"text"', b'{"errcode": "40001"}', b'{"errcode": true}', b"\xff\xfe\x00"],
)
@pytest.mark.asyncio
async def test_body_that_is_not_a_usable_object(content: bytes) -> None:
    async with transport_for(lambda _: httpx.Response(200, content=content)) as (transport, _):
        with pytest.raises(InvalidResponseError):
            await transport.request("GET", "cgi-bin/x")


@pytest.mark.asyncio
async def test_5xx_is_retried_then_raised() -> None:
    async with transport_for(lambda _: httpx.Response(502, text="bad gateway")) as (t, recorder):
        with pytest.raises(HTTPStatusError) as caught:
            await t.request("GET", "cgi-bin/x")
    assert caught.value.status_code == 502
    assert caught.value.path == "cgi-bin/x"
    assert len(recorder.requests) == 3


@pytest.mark.asyncio
async def test_4xx_is_not_retried() -> None:
    async with transport_for(lambda _: httpx.Response(404)) as (transport, recorder):
        with pytest.raises(HTTPStatusError) as caught:
            await transport.request("GET", "cgi-bin/x")
    assert caught.value.status_code == 404
    assert len(recorder.requests) == 1


def raiser(exc_type: type[httpx.TransportError]) -> Handler:
    def respond(request: httpx.Request) -> httpx.Response:
        raise exc_type("it failed", request=request)

    return respond


@pytest.mark.parametrize(
    ("httpx_error", "expected", "sends"),
    [
        (httpx.ConnectError, ConnectError, 3),
        (httpx.ConnectTimeout, ConnectError, 3),
        (httpx.ReadTimeout, RequestTimeoutError, 3),
        (httpx.WriteTimeout, RequestTimeoutError, 3),
        (httpx.PoolTimeout, PoolTimeoutError, 3),
        (httpx.RemoteProtocolError, TransportError, 1),
        (httpx.ReadError, TransportError, 1),
    ],
)
@pytest.mark.asyncio
async def test_httpx_errors_are_mapped_with_their_cause(
    httpx_error: type[httpx.TransportError], expected: type[TransportError], sends: int
) -> None:
    async with transport_for(raiser(httpx_error)) as (transport, recorder):
        with pytest.raises(TransportError) as caught:
            await transport.request("GET", "cgi-bin/x")
    assert type(caught.value) is expected
    assert type(caught.value.__cause__) is httpx_error
    assert caught.value.path == "cgi-bin/x"
    assert "it failed" in str(caught.value)
    assert len(recorder.requests) == sends


# --- retries ---------------------------------------------------------------------------


def sequence(*responses: httpx.Response | type[httpx.TransportError]) -> Handler:
    """Answer each request with the next item: a response, or an httpx error to raise."""
    pending = list(responses)

    def respond(request: httpx.Request) -> httpx.Response:
        item = pending.pop(0)
        if isinstance(item, httpx.Response):
            return item
        raise item("scripted failure", request=request)

    return respond


@pytest.mark.asyncio
async def test_transient_failures_are_retried_until_success() -> None:
    events: list[Event] = []
    respond = sequence(httpx.ReadTimeout, wechat_error(-1, "system error"), ok({"n": 1}))
    async with transport_for(respond, metrics=events.append) as (transport, recorder):
        assert (await transport.request("GET", "cgi-bin/x"))["n"] == 1
    assert len(recorder.requests) == 3
    assert events[-1].fields["attempts"] == 3
    assert events[-1].fields["errcode"] == 0


@pytest.mark.asyncio
async def test_other_errcodes_are_not_retried() -> None:
    async with transport_for(lambda _: wechat_error(40013, "invalid appid")) as (t, recorder):
        with pytest.raises(InvalidCredentialError):
            await t.request("GET", "cgi-bin/x")
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_attempts_bound_the_sends() -> None:
    retry = RetryPolicy.no_wait(attempts=5)
    async with transport_for(lambda _: wechat_error(-1), retry=retry) as (transport, recorder):
        with pytest.raises(SystemBusyError):
            await transport.request("GET", "cgi-bin/x")
    assert len(recorder.requests) == 5


@pytest.mark.asyncio
async def test_pauses_follow_the_policy() -> None:
    pauses: list[float] = []

    class Recorded(RetryPolicy):
        def delay(self, retry: int) -> float:
            pauses.append(retry)
            return 0.0

    retry = Recorded(attempts=4)
    async with transport_for(lambda _: httpx.Response(503), retry=retry) as (transport, _):
        with pytest.raises(HTTPStatusError):
            await transport.request("GET", "cgi-bin/x")
    assert pauses == [1, 2, 3]


@pytest.mark.asyncio
async def test_should_retry_can_be_overridden() -> None:
    class RetryRateLimits(RetryPolicy):
        def should_retry(self, error: WeChatError, *, idempotent: bool = True) -> bool:
            if isinstance(error, RateLimitError):
                return idempotent  # refused at the door: but only reads, to be sure
            return super().should_retry(error, idempotent=idempotent)

    retry = RetryRateLimits(attempts=2, base_delay=0, max_delay=0)
    respond = sequence(wechat_error(45011), ok(), wechat_error(45011), ok())
    async with transport_for(respond, retry=retry) as (t, recorder):
        await t.request("GET", "cgi-bin/x")
        assert len(recorder.requests) == 2
        with pytest.raises(RateLimitError):
            await t.request("POST", "cgi-bin/x", json={})
        assert len(recorder.requests) == 3


@pytest.mark.asyncio
async def test_an_override_from_before_idempotent_existed_still_works_and_stays_safe() -> None:
    class RetryRateLimits(RetryPolicy):
        def should_retry(self, error: WeChatError) -> bool:  # type: ignore[override]
            return isinstance(error, RateLimitError) or RetryPolicy.should_retry(self, error)

    retry = RetryRateLimits(attempts=2, base_delay=0, max_delay=0)
    respond = sequence(wechat_error(45011), ok(), httpx.Response(502), ok())
    async with transport_for(respond, retry=retry) as (t, recorder):
        await t.request("GET", "cgi-bin/x")
        assert len(recorder.requests) == 2
        # The old override says yes to a 502; the send is not idempotent, so it is not repeated.
        with pytest.raises(HTTPStatusError):
            await t.request("POST", "cgi-bin/kf/send_msg", json={})
        assert len(recorder.requests) == 3


@pytest.mark.asyncio
async def test_deadline_stops_pauses_that_would_overrun_it() -> None:
    retry = RetryPolicy(attempts=5, base_delay=10.0, max_delay=10.0, deadline=1.0, jitter="equal")
    async with transport_for(lambda _: httpx.Response(500), retry=retry) as (transport, recorder):
        started = time.monotonic()
        with pytest.raises(HTTPStatusError):
            await transport.request("GET", "cgi-bin/x")
    assert time.monotonic() - started < 0.5
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_deadline_bounds_a_slow_send() -> None:
    async def respond(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return ok()

    retry = RetryPolicy.no_wait(attempts=3, deadline=0.2)
    async with transport_for(respond, retry=retry) as (transport, recorder):
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError, match="deadline"):
            await transport.request("GET", "cgi-bin/x")
    assert time.monotonic() - started < 1.0
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_real_pauses_are_taken() -> None:
    retry = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.05, jitter="equal")
    async with transport_for(lambda _: wechat_error(-1), retry=retry) as (transport, _):
        started = time.monotonic()
        with pytest.raises(SystemBusyError):
            await transport.request("GET", "cgi-bin/x")
    assert time.monotonic() - started >= 0.05  # two pauses of at least 0.025s each


def test_delay_is_capped_exponential_with_jitter() -> None:
    full = RetryPolicy(base_delay=0.2, max_delay=1.0)
    equal = RetryPolicy(base_delay=0.2, max_delay=1.0, jitter="equal")
    for retry, ceiling in [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (50, 1.0), (5000, 1.0)]:
        for _ in range(50):
            assert 0 <= full.delay(retry) <= ceiling
            assert ceiling / 2 <= equal.delay(retry) <= ceiling
    assert RetryPolicy.no_wait().delay(3) == 0


def test_should_retry_decisions() -> None:
    policy = RetryPolicy()
    assert policy.should_retry(ConnectError("x", "p"))
    assert policy.should_retry(RequestTimeoutError("x", "p"))
    assert policy.should_retry(HTTPStatusError(500, "p"))
    assert policy.should_retry(HTTPStatusError(503, "p"))
    assert policy.should_retry(SystemBusyError(-1, "system error", "p"))
    assert not policy.should_retry(HTTPStatusError(429, "p"))
    assert not policy.should_retry(HTTPStatusError(404, "p"))
    assert not policy.should_retry(InvalidResponseError("x", "p"))
    assert not policy.should_retry(TransportError("x", "p"))
    assert not policy.should_retry(InvalidCredentialError(40013, "invalid appid", "p"))
    assert not policy.should_retry(RateLimitError(45009, "quota", "p"))
    assert not policy.should_retry(InvalidTokenError(40001, "invalid credential", "p"))


def test_should_retry_decisions_for_calls_that_are_not_idempotent() -> None:
    policy = RetryPolicy()
    # Proved unsent: retried for any call.
    assert policy.should_retry(ConnectError("x", "p"), idempotent=False)
    assert policy.should_retry(PoolTimeoutError("x", "p"), idempotent=False)
    # WeChat may have acted: not repeated.
    assert not policy.should_retry(RequestTimeoutError("x", "p"), idempotent=False)
    assert not policy.should_retry(HTTPStatusError(502, "p"), idempotent=False)
    assert not policy.should_retry(SystemBusyError(-1, "system error", "p"), idempotent=False)
    # Opted in: as for idempotent calls.
    opted = RetryPolicy(retry_non_idempotent=True)
    assert opted.should_retry(RequestTimeoutError("x", "p"), idempotent=False)
    assert opted.should_retry(HTTPStatusError(502, "p"), idempotent=False)
    assert opted.should_retry(SystemBusyError(-1, "system error", "p"), idempotent=False)
    assert not opted.should_retry(HTTPStatusError(404, "p"), idempotent=False)
    assert not opted.should_retry(RateLimitError(45009, "quota", "p"), idempotent=False)


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"base_delay": -1},
        {"max_delay": -1},
        {"deadline": 0},
        {"jitter": "none"},
        {"base_delay": "0.2"},
        {"deadline": float("nan")},
        {"attempts": True},
        {"retry_non_idempotent": 1},
    ],
)
def test_policy_rejects_nonsense(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RetryPolicy(**options)
    assert isinstance(caught.value, ValueError)


# --- calls that are not idempotent -----------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected", "sends", "landed"),
    [
        (httpx.ConnectError, ConnectError, 3, False),
        (httpx.ConnectTimeout, ConnectError, 3, False),
        (httpx.PoolTimeout, PoolTimeoutError, 3, False),
        (httpx.ReadTimeout, RequestTimeoutError, 1, True),
        (httpx.WriteTimeout, RequestTimeoutError, 1, True),
        (httpx.RemoteProtocolError, TransportError, 1, True),
        (httpx.ReadError, TransportError, 1, True),
        (httpx.Response(502), HTTPStatusError, 1, True),
        (httpx.Response(503), HTTPStatusError, 1, True),
        (httpx.Response(404), HTTPStatusError, 1, False),
        (wechat_error(-1), SystemBusyError, 1, True),
        (wechat_error(45009), RateLimitError, 1, False),
        (httpx.Response(200, text="<html>"), InvalidResponseError, 1, True),
    ],
)
@pytest.mark.asyncio
async def test_a_post_is_sent_again_only_when_it_provably_never_left(
    failure: httpx.Response | type[httpx.TransportError],
    expected: type[WeChatError],
    sends: int,
    landed: bool,
) -> None:
    respond = sequence(*[failure] * 3)
    async with transport_for(respond) as (transport, recorder):
        with pytest.raises(WeChatError) as caught:
            await transport.request("POST", "cgi-bin/kf/send_msg", host=Host.WORK, json={})
    assert type(caught.value) is expected
    assert len(recorder.requests) == sends
    assert caught.value.may_have_taken_effect is landed
    notes = getattr(caught.value, "__notes__", [])
    assert any("cgi-bin/kf/send_msg may have taken effect" in n for n in notes) is landed


@pytest.mark.asyncio
async def test_the_flag_covers_every_send_of_a_call() -> None:
    # An idempotent call timed out (it may have landed), then could not even connect.
    respond = sequence(httpx.ReadTimeout, httpx.ConnectError, httpx.ConnectError)
    async with transport_for(respond) as (transport, recorder):
        with pytest.raises(ConnectError) as caught:
            await transport.request("GET", "cgi-bin/tag/delete")
    assert len(recorder.requests) == 3
    assert caught.value.may_have_taken_effect
    assert not getattr(caught.value, "__notes__", [])  # idempotent: nothing to warn about


@pytest.mark.asyncio
async def test_an_errcode_after_a_landed_send_keeps_the_flag() -> None:
    respond = sequence(httpx.Response(502), wechat_error(40068, "invalid tagid"))
    async with transport_for(respond) as (transport, _):
        with pytest.raises(APIError) as caught:
            await transport.request("GET", "cgi-bin/tag/delete")
    assert caught.value.errcode == 40068
    assert caught.value.may_have_taken_effect  # the first delete may have done it


@pytest.mark.asyncio
async def test_a_rejected_token_is_resent_for_any_call() -> None:
    token = FakeToken("OLD", "NEW")
    respond = sequence(wechat_error(42001, "access_token expired"), ok({"msgid": "m"}))
    async with transport_for(respond) as (transport, recorder):
        reply = await transport.request("POST", "cgi-bin/kf/send_msg", token=token, json={})
    assert reply["msgid"] == "m"
    assert [r.url.params["access_token"] for r in recorder.requests] == ["OLD", "NEW"]


@pytest.mark.asyncio
async def test_assume_idempotent_covers_its_block_and_its_transport_only() -> None:
    respond = sequence(*[httpx.Response(502)] * 2, ok(), *[httpx.Response(502)] * 2)
    async with (
        transport_for(respond) as (transport, recorder),
        transport_for(lambda _: httpx.Response(502)) as (other, other_recorder),
    ):
        with transport.assume_idempotent():
            await transport.request("POST", "cgi-bin/kf/send_msg", json={})
            assert len(recorder.requests) == 3
            with pytest.raises(HTTPStatusError):
                await other.request("POST", "cgi-bin/kf/send_msg", json={})
            assert len(other_recorder.requests) == 1
        with pytest.raises(HTTPStatusError):
            await transport.request("POST", "cgi-bin/kf/send_msg", json={})
        assert len(recorder.requests) == 4


@pytest.mark.asyncio
async def test_assume_idempotent_reaches_tasks_started_in_the_block() -> None:
    respond = sequence(httpx.Response(502), ok())
    async with transport_for(respond) as (transport, recorder):
        with transport.assume_idempotent():
            task = asyncio.create_task(transport.request("POST", "cgi-bin/x", json={}))
        await task
    assert len(recorder.requests) == 2


@pytest.mark.asyncio
async def test_a_get_can_be_declared_not_idempotent() -> None:
    async with transport_for(lambda _: httpx.Response(502)) as (transport, recorder):
        with pytest.raises(HTTPStatusError):
            await transport.request("GET", "cgi-bin/x", idempotent=False)
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_idempotent_must_be_a_bool() -> None:
    async with transport_for(lambda _: ok()) as (transport, recorder):
        with pytest.raises(ConfigurationError, match="idempotent"):
            await transport.request("POST", "cgi-bin/x", idempotent="yes")  # type: ignore[arg-type]
    assert recorder.requests == []


# --- failover --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_failover_moves_to_the_next_standby_on_connect_errors() -> None:
    respond = sequence(httpx.ConnectError, httpx.ConnectTimeout, ok())
    async with transport_for(respond, failover=True) as (transport, recorder):
        await transport.request("GET", "cgi-bin/x", token=FakeToken("T"))
    assert recorder.hosts == [
        "https://official.test",
        "https://standby1.test",
        "https://standby2.test",
    ]
    assert {r.url.path for r in recorder.requests} == {"/cgi-bin/x"}
    assert {r.url.params["access_token"] for r in recorder.requests} == {"T"}


@pytest.mark.asyncio
async def test_failover_wraps_around_the_standby_list() -> None:
    retry = RetryPolicy.no_wait(attempts=5)
    async with transport_for(raiser(httpx.ConnectError), failover=True, retry=retry) as (t, rec):
        with pytest.raises(ConnectError):
            await t.request("GET", "cgi-bin/x")
    assert rec.hosts == [
        "https://official.test",
        "https://standby1.test",
        "https://standby2.test",
        "https://official.test",
        "https://standby1.test",
    ]


@pytest.mark.asyncio
async def test_timeouts_and_5xx_stay_on_the_same_host() -> None:
    respond = sequence(httpx.ReadTimeout, httpx.Response(502), ok())
    async with transport_for(respond, failover=True) as (transport, recorder):
        await transport.request("GET", "cgi-bin/x")
    assert recorder.hosts == ["https://official.test"] * 3


@pytest.mark.asyncio
async def test_no_failover_unless_enabled() -> None:
    async with transport_for(raiser(httpx.ConnectError)) as (transport, recorder):
        with pytest.raises(ConnectError):
            await transport.request("GET", "cgi-bin/x")
    assert recorder.hosts == ["https://official.test"] * 3


@pytest.mark.asyncio
async def test_work_host_has_no_standby() -> None:
    async with transport_for(raiser(httpx.ConnectError), failover=True) as (transport, recorder):
        with pytest.raises(ConnectError):
            await transport.request("GET", "cgi-bin/kf/sync_msg", host=Host.WORK)
    assert recorder.hosts == ["https://work.test"] * 3


def test_default_hosts_are_wechats() -> None:
    hosts = Hosts()
    assert hosts.official == "https://api.weixin.qq.com"
    assert hosts.work == "https://qyapi.weixin.qq.com"
    assert hosts.official_standby == (
        "https://api2.weixin.qq.com",
        "https://sh.api.weixin.qq.com",
        "https://sz.api.weixin.qq.com",
        "https://hk.api.weixin.qq.com",
    )
    assert hosts.base_urls(Host.OFFICIAL, failover=False) == ("https://api.weixin.qq.com",)
    assert hosts.base_urls(Host.WORK, failover=True) == ("https://qyapi.weixin.qq.com",)
    assert len(hosts.base_urls(Host.OFFICIAL, failover=True)) == 5


@pytest.mark.parametrize("url", ["api.weixin.qq.com", "ftp://x", "https://x/?a=1"])
def test_hosts_reject_unusable_base_urls(url: str) -> None:
    with pytest.raises(ConfigurationError, match="base URL"):
        Hosts(official=url)


# --- invalid token ---------------------------------------------------------------------


def reject_tokens(*rejected: str) -> Handler:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.params["access_token"] in rejected:
            return wechat_error(40001, "invalid credential, access_token is invalid or not latest")
        return ok()

    return respond


@pytest.mark.asyncio
async def test_rejected_token_is_invalidated_and_the_call_sent_once_more() -> None:
    token = FakeToken("OLD", "NEW")
    events: list[Event] = []
    async with transport_for(reject_tokens("OLD"), metrics=events.append) as (t, recorder):
        assert await t.request("GET", "cgi-bin/user/get", token=token) == {
            "errcode": 0,
            "errmsg": "ok",
        }
    assert [r.url.params["access_token"] for r in recorder.requests] == ["OLD", "NEW"]
    assert token.invalidated == ["OLD"]
    assert token.gets == 2
    assert events[-1].fields["attempts"] == 2


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
@pytest.mark.asyncio
async def test_a_second_rejection_is_raised_without_looping(errcode: int) -> None:
    token = FakeToken("OLD", "NEW", "NEWER")
    async with transport_for(lambda _: wechat_error(errcode)) as (transport, recorder):
        with pytest.raises(InvalidTokenError) as caught:
            await transport.request("GET", "cgi-bin/user/get", token=token)
    assert caught.value.errcode == errcode
    assert [r.url.params["access_token"] for r in recorder.requests] == ["OLD", "NEW"]
    assert token.invalidated == ["OLD"]
    # Raised outside the first rejection's handler: the traceback is one error, not two.
    assert caught.value.__context__ is None


@pytest.mark.asyncio
async def test_the_token_resend_does_not_use_up_transient_attempts() -> None:
    token = FakeToken("OLD", "NEW")
    respond = sequence(httpx.Response(503), wechat_error(42001), httpx.Response(503), ok())
    retry = RetryPolicy.no_wait(attempts=2)
    async with transport_for(respond, retry=retry) as (transport, recorder):
        await transport.request("GET", "cgi-bin/x", token=token)
    assert [r.url.params["access_token"] for r in recorder.requests] == [
        "OLD",
        "OLD",
        "NEW",
        "NEW",
    ]


@pytest.mark.asyncio
async def test_without_a_provider_an_invalid_token_is_just_raised() -> None:
    async with transport_for(lambda _: wechat_error(40014)) as (transport, recorder):
        with pytest.raises(InvalidTokenError):
            await transport.request("GET", "cgi-bin/x", params={"access_token": "given"})
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_other_errors_do_not_invalidate_the_token() -> None:
    token = FakeToken("T")
    async with transport_for(lambda _: wechat_error(48001)) as (transport, _):
        with pytest.raises(PermissionDeniedError):
            await transport.request("GET", "cgi-bin/x", token=token)
    assert token.invalidated == []


def test_fake_token_satisfies_the_protocol() -> None:
    # Imported here: the transport itself needs wechat_async.tokens only for type hints.
    from wechat_async.tokens.base import TokenProvider  # noqa: PLC0415

    assert isinstance(FakeToken("T"), TokenProvider)


# --- raw responses ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_request_raw_returns_binary_content() -> None:
    image = httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})
    async with transport_for(lambda _: image) as (transport, recorder):
        response = await transport.request_raw(
            "GET",
            "cgi-bin/media/get",
            host=Host.WORK,
            token=FakeToken("T"),
            params={"media_id": "m"},
        )
    assert response.content == b"\x89PNG"
    assert recorder.requests[0].url.params["media_id"] == "m"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "text/plain"])
@pytest.mark.asyncio
async def test_request_raw_raises_a_json_errcode(content_type: str) -> None:
    answer = httpx.Response(
        200,
        content=b'{"errcode":40007,"errmsg":"invalid media_id"}',
        headers={"content-type": content_type},
    )
    async with transport_for(lambda _: answer) as (transport, _):
        with pytest.raises(APIError) as caught:
            await transport.request_raw("GET", "cgi-bin/media/get", host=Host.WORK)
    assert caught.value.errcode == 40007


@pytest.mark.asyncio
async def test_request_raw_keeps_plain_text_that_is_not_an_errcode() -> None:
    answer = httpx.Response(200, content=b"hello", headers={"content-type": "text/plain"})
    async with transport_for(lambda _: answer) as (transport, _):
        response = await transport.request_raw("GET", "cgi-bin/media/get")
    assert response.text == "hello"


# --- lifecycle -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_context_manager_closes_its_own_client() -> None:
    async with Transport() as transport:
        client = transport._client
        assert not client.is_closed
    assert client.is_closed


@pytest.mark.asyncio
async def test_context_manager_leaves_an_injected_client_open() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: ok())) as client:
        async with Transport(client, hosts=HOSTS) as transport:
            await transport.request("GET", "cgi-bin/x")
        assert not client.is_closed
        await transport.aclose()
        assert not client.is_closed
        assert (await client.get("https://official.test/cgi-bin/x")).status_code == 200


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        Transport(httpx.AsyncClient(), timeout=0)


# --- observability ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_metrics_hook_receives_api_call_events(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wechat_async.transport")
    events: list[Event] = []
    respond = sequence(ok(), wechat_error(48001), httpx.ConnectError)
    retry = RetryPolicy.no_wait(attempts=1)
    async with transport_for(respond, metrics=events.append, retry=retry) as (transport, _):
        await transport.request("GET", "cgi-bin/a")
        with pytest.raises(PermissionDeniedError):
            await transport.request("GET", "/cgi-bin/b")
        with pytest.raises(ConnectError):
            await transport.request("GET", "cgi-bin/c")
    assert [e.name for e in events] == ["api_call"] * 3
    fields = [dict(e.fields) for e in events]
    for entry in fields:
        assert isinstance(entry.pop("duration"), float)
    assert fields == [
        {"path": "cgi-bin/a", "errcode": 0, "attempts": 1, "error": None},
        {"path": "cgi-bin/b", "errcode": 48001, "attempts": 1, "error": "PermissionDeniedError"},
        {"path": "cgi-bin/c", "errcode": None, "attempts": 1, "error": "ConnectError"},
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "wechat_async.transport"]
    assert any(m.startswith("api_call path='cgi-bin/a' errcode=0") for m in logged)


@pytest.mark.asyncio
async def test_a_failing_metrics_hook_does_not_break_the_call() -> None:
    def broken(_: Event) -> None:
        raise RuntimeError

    async with transport_for(lambda _: ok(), metrics=broken) as (transport, _):
        assert (await transport.request("GET", "cgi-bin/x"))["errcode"] == 0


# --- secrets ---------------------------------------------------------------------------

OLD_TOKEN = "OLDTOKEN-7f3c9a1e"
NEW_TOKEN = "NEWTOKEN-52b8d0f4"
APP_SECRET = "APPSECRET-c41e9b77"
CORP_SECRET = "CORPSECRET-0d6a2f38"
COMPONENT_SECRET = "COMPSECRET-9e1b5c02"
SECRETS = (OLD_TOKEN, NEW_TOKEN, APP_SECRET, CORP_SECRET, COMPONENT_SECRET)


CANNED = {
    "cgi-bin/gettoken": (200, {"errcode": 40001, "errmsg": "invalid credential"}),
    "cgi-bin/component/api_component_token": (200, {"errcode": 40001, "errmsg": "bad"}),
    "cgi-bin/token": (200, {"errcode": 40125, "errmsg": "invalid appsecret"}),
    "cgi-bin/denied": (200, {"errcode": 48001, "errmsg": "api unauthorized"}),
}
FAILURES: dict[str, type[httpx.TransportError]] = {
    "cgi-bin/slow": httpx.ReadTimeout,
    "cgi-bin/down": httpx.ConnectError,
    "cgi-bin/broken": httpx.RemoteProtocolError,
}


def leaky(request: httpx.Request) -> httpx.Response:
    """Fail in every way there is, putting the full URL into every httpx error message."""
    url = str(request.url)
    path = request.url.path.removeprefix("/")
    if request.url.params.get("access_token") == OLD_TOKEN:
        return wechat_error(40001, "invalid credential, access_token is invalid or not latest")
    if path in CANNED:
        status, body = CANNED[path]
        return httpx.Response(status, json=body)
    if path in FAILURES:
        raise FAILURES[path](f"{path} failed for {url}", request=request)
    if path == "cgi-bin/busy":
        return httpx.Response(503, text=f"upstream failed for {url}")
    if path == "cgi-bin/garbage":
        return httpx.Response(200, text=f"not json {url}")
    return ok()


async def serve_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    body = b'{"errcode":0,"errmsg":"ok"}'
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.asyncio
async def test_no_secret_reaches_logs_exceptions_or_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "wechat_async"):
        caplog.set_level(logging.DEBUG, logger=name)
    raised: list[BaseException] = []

    async def expect_failure(call: Awaitable[object]) -> None:
        try:
            await call
        except WeChatError as exc:
            raised.append(exc)
        else:
            pytest.fail("the call should have failed")

    retry = RetryPolicy.no_wait(attempts=2)
    async with transport_for(leaky, retry=retry, failover=True) as (transport, recorder):
        token = FakeToken(OLD_TOKEN, NEW_TOKEN)
        await transport.request("GET", "cgi-bin/user/get", token=token)
        assert token.invalidated == [OLD_TOKEN]
        for path in ("busy", "slow", "down", "broken", "garbage", "denied"):
            await expect_failure(
                transport.request("GET", f"cgi-bin/{path}", token=FakeToken(NEW_TOKEN))
            )
        await expect_failure(
            transport.request(
                "GET", "cgi-bin/gettoken", params={"corpid": "ww1", "corpsecret": CORP_SECRET}
            )
        )
        await expect_failure(
            transport.request(
                "GET",
                "cgi-bin/token",
                params={"grant_type": "client_credential", "appid": "wx1", "secret": APP_SECRET},
            )
        )
        await expect_failure(
            transport.request(
                "POST",
                "cgi-bin/component/api_component_token",
                params={"component_appsecret": COMPONENT_SECRET},
                json={"component_appid": "wx1"},
            )
        )
        await expect_failure(transport.request("GET", "cgi-bin/stale", token=FakeToken(OLD_TOKEN)))
    # The scenario really put the secrets on the wire.
    sent = " ".join(str(r.url) for r in recorder.requests)
    assert all(secret in sent for secret in SECRETS)

    # The real stack as well: httpcore's own logging and exception texts.
    server = await asyncio.start_server(serve_json, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        real_hosts = Hosts(
            official=f"http://127.0.0.1:{port}", work=f"http://127.0.0.1:{closed_port()}"
        )
        async with Transport(hosts=real_hosts, retry=RetryPolicy.no_wait(attempts=2)) as real:
            await real.request("GET", "cgi-bin/user/get", token=FakeToken(NEW_TOKEN))
            await expect_failure(
                real.request(
                    "GET", "cgi-bin/kf/sync_msg", host=Host.WORK, token=FakeToken(NEW_TOKEN)
                )
            )
    assert any(r.name.startswith("httpcore") for r in caplog.records)

    assert len(raised) == 11
    assert any(isinstance(e, ConnectError) for e in raised)
    assert any(isinstance(e, RequestTimeoutError) for e in raised)
    assert any(isinstance(e, HTTPStatusError) for e in raised)
    assert any(isinstance(e, InvalidTokenError) for e in raised)

    formatter = logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s")
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(formatter.format(record))
        texts.append(record.getMessage())
        texts.append(repr(record.__dict__))
    for exc in raised:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        cause = exc.__cause__
        while cause is not None:
            texts += [str(cause), repr(cause)]
            cause = cause.__cause__ or cause.__context__
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, text

    # httpx did log the URLs, masked.
    assert any("access_token=***" in r.getMessage() for r in caplog.records if r.name == "httpx")
    assert any("corpsecret=***" in r.getMessage() for r in caplog.records if r.name == "httpx")


def test_redact_masks_only_sensitive_parameters() -> None:
    url = (
        "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1"
        "&secret=S3CR3T&access_token=T0K%2FEN&openid=o1&my_secret=keep"
        "&component_appsecret=C1&authorizer_refresh_token=R1"
    )
    assert redact(url) == (
        "https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=wx1"
        "&secret=***&access_token=***&openid=o1&my_secret=keep"
        "&component_appsecret=***&authorizer_refresh_token=***"
    )
    assert redact('GET https://x/y?ACCESS_TOKEN=abc "HTTP/1.1 200 OK"') == (
        'GET https://x/y?ACCESS_TOKEN=*** "HTTP/1.1 200 OK"'
    )
    assert redact("invalid credential, access_token is invalid") == (
        "invalid credential, access_token is invalid"
    )
    assert {"access_token", "secret", "corpsecret", "component_appsecret"} <= SENSITIVE_PARAMS


def test_log_filter_is_installed_once() -> None:
    Transport(httpx.AsyncClient())
    Transport(httpx.AsyncClient())
    filters = logging.getLogger("httpx").filters
    assert sum(type(f).__name__ == "_RedactSecrets" for f in filters) == 1


@pytest.mark.asyncio
async def test_max_in_flight_caps_concurrent_sends() -> None:
    in_flight = 0
    peak = 0

    async def handler(_: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={"errcode": 0})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    transport = Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait(), max_in_flight=5)
    await asyncio.gather(*(transport.request("GET", "cgi-bin/x") for _ in range(40)))
    assert peak == 5


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_max_in_flight_must_be_a_positive_int(value: object) -> None:
    with pytest.raises(ConfigurationError):
        Transport(hosts=HOSTS, max_in_flight=value)  # type: ignore[arg-type]
