"""Nothing that is not idempotent is sent again after it may have reached WeChat.

The first half runs real service methods against a loopback HTTP server on
127.0.0.1 that counts every request reaching it and answers as a test scripts:
late (past the per-send timeout), with a 502, or holding the only pooled
connection; a closed port stands for a refused connect. The second half is a
table of every endpoint of every service, each driven against a 502: an
idempotent one is retried, any other is sent once. A service method missing
from the table fails the test, so no endpoint goes unclassified.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import pytest

from tests.redis_server import free_port
from wechat_async import Text
from wechat_async._service import Service
from wechat_async.crypto import MessageCrypto
from wechat_async.errors import (
    ConnectError,
    HTTPStatusError,
    PoolTimeoutError,
    RequestTimeoutError,
)
from wechat_async.observability import Event
from wechat_async.official_account import Custom
from wechat_async.open_platform import Component
from wechat_async.tokens import MemoryTokenStore, StaticToken
from wechat_async.transport import Host, Hosts, RetryPolicy, Transport
from wechat_async.wecom import AppChat, Kf, Media, Tag, User
from wechat_async.wecom.kf_messages import UpgradeMember

SEND = "cgi-bin/kf/send_msg"
ACCOUNTS = "cgi-bin/kf/account/list"
TAGS = "cgi-bin/tag/list"
MEDIA = "cgi-bin/media/get"
CUSTOM_SEND = "cgi-bin/message/custom/send"
ATTEMPTS = 3
# Per send, connect included; generous so a loaded machine never times out a loopback
# connect, and every late answer below comes well after it.
TIMEOUT = 1.0

OK_BODIES: dict[str, dict[str, Any]] = {
    SEND: {"msgid": "MSG_1"},
    ACCOUNTS: {"account_list": []},
    TAGS: {"taglist": []},
}


# -- a loopback WeChat ------------------------------------------------------------------


@dataclass(frozen=True)
class Late:
    """Read the request, then answer only after ``seconds`` (the client has given up)."""

    seconds: float = 5.0


@dataclass(frozen=True)
class Status:
    """Answer with this HTTP status."""

    code: int


@dataclass(frozen=True)
class Hold:
    """Send the headers of a download, then hold the rest: the connection stays busy."""


Behaviour = Late | Status | Hold


@dataclass
class Loopback:
    """A bare HTTP/1.1 server on 127.0.0.1 that records each request's path.

    ``script[path]`` lists how to answer the next requests to ``path``, one
    entry each; once it is used up, or for other paths, the answer is an ok
    JSON body.
    """

    script: dict[str, list[Behaviour]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    base_url: str = ""
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, path: str) -> int:
        return self.seen.count(path)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        # Handlers end on their own (no cancel: asyncio would log it as an error):
        # held and late answers stop waiting, idle connections see EOF.
        assert self._server is not None
        self._server.close()
        self._closing.set()
        for writer in list(self._writers):
            writer.close()
        await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 5)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                _, target, _ = line.decode("latin-1").split(" ", 2)
                length = 0
                while (header := await reader.readline()) not in {b"\r\n", b"\n", b""}:
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                path = urlsplit(target).path.strip("/")
                self.seen.append(path)
                await self._answer(path, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> None:
        pending = self.script.get(path)
        behaviour = pending.pop(0) if pending else None
        if isinstance(behaviour, Status):
            writer.write(_response(behaviour.code, b"bad gateway", "text/html"))
        elif isinstance(behaviour, Hold):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 10\r\n\r\n"
            )
            await writer.drain()
            await self._closing.wait()
            return
        else:
            if isinstance(behaviour, Late):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), behaviour.seconds)
            body = {"errcode": 0, "errmsg": "ok", **OK_BODIES.get(path, {})}
            writer.write(_response(200, json.dumps(body).encode(), "application/json"))
        await writer.drain()


def _response(status: int, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@asynccontextmanager
async def wechat(
    *, standby: str | None = None, client: httpx.AsyncClient | None = None, **options: Any
) -> AsyncIterator[tuple[Loopback, Transport, list[Event]]]:
    """A loopback server and a transport to it; the whole run bounded to seconds."""
    events: list[Event] = []
    retry = options.pop("retry", RetryPolicy.no_wait(ATTEMPTS, deadline=5.0))
    async with asyncio.timeout(10), Loopback() as server:
        primary = server.base_url
        if standby is not None:  # the primary is a closed port, the standby this server
            primary = standby
        hosts = Hosts(official=primary, work=primary, official_standby=(server.base_url,))
        async with Transport(
            client, hosts=hosts, retry=retry, timeout=TIMEOUT, metrics=events.append, **options
        ) as transport:
            yield server, transport, events


def closed_port() -> str:
    return f"http://127.0.0.1:{free_port()}"


def kf(transport: Transport) -> Kf:
    return Kf(transport, StaticToken("TOKEN"))


# -- ambiguous failures: sent once, flagged ---------------------------------------------


@pytest.mark.asyncio
async def test_a_send_answered_late_reaches_wechat_once_and_says_it_may_have_landed() -> None:
    async with wechat() as (server, transport, events):
        server.script[SEND] = [Late()] * ATTEMPTS
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            await kf(transport).send_msg("wm_customer", "wk_account", Text("hello"))
        elapsed = time.monotonic() - started

    assert server.count(SEND) == 1
    assert caught.value.may_have_taken_effect
    assert any("may have taken effect" in note for note in caught.value.__notes__)
    assert events[-1].fields["attempts"] == 1
    assert elapsed < 2 * TIMEOUT + 0.5  # one per-send timeout, no second send


@pytest.mark.asyncio
async def test_a_send_answered_with_502_reaches_wechat_once_and_says_it_may_have_landed() -> None:
    async with wechat() as (server, transport, _):
        server.script[SEND] = [Status(502)] * ATTEMPTS
        with pytest.raises(HTTPStatusError) as caught:
            await kf(transport).send_msg("wm_customer", "wk_account", Text("hello"))

    assert server.count(SEND) == 1
    assert caught.value.status_code == 502
    assert caught.value.may_have_taken_effect


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", [Late(), Status(502)], ids=["late", "502"])
@pytest.mark.parametrize(
    ("path", "call"),
    [
        (TAGS, lambda t: Tag(t, StaticToken("TOKEN")).list()),  # a GET
        (ACCOUNTS, lambda t: kf(t).account_list()),  # a POST that only reads
    ],
    ids=["tag.list", "kf.account_list"],
)
async def test_idempotent_calls_are_still_retried_under_the_same_faults(
    fault: Behaviour, path: str, call: Callable[[Transport], Awaitable[object]]
) -> None:
    async with wechat() as (server, transport, events):
        server.script[path] = [fault] * (ATTEMPTS - 1)
        await call(transport)  # the third send gets the ok answer

    assert server.count(path) == ATTEMPTS
    assert events[-1].fields["attempts"] == ATTEMPTS
    assert events[-1].fields["errcode"] == 0


# -- failures that prove nothing was sent: retried for every call ---------------------


@pytest.mark.asyncio
async def test_a_refused_connect_is_retried_for_a_send() -> None:
    async with wechat(standby=closed_port()) as (server, transport, events):
        with pytest.raises(ConnectError) as caught:
            await kf(transport).send_msg("wm_customer", "wk_account", Text("hello"))

    assert not caught.value.may_have_taken_effect
    assert not getattr(caught.value, "__notes__", [])
    assert events[-1].fields["attempts"] == ATTEMPTS
    assert server.seen == []


@pytest.mark.asyncio
async def test_a_send_fails_over_to_the_standby_when_the_primary_refuses() -> None:
    async with wechat(standby=closed_port(), failover=True) as (server, transport, events):
        custom = Custom(transport, StaticToken("TOKEN"))
        await custom.send_msg_by_kf("o_follower", Text("hello"))

    assert server.seen == [CUSTOM_SEND]  # sent once, on the standby
    assert events[-1].fields["attempts"] == 2


@pytest.mark.asyncio
async def test_a_send_waiting_for_a_pooled_connection_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wechat_async.transport")
    async with (
        httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as client,
        wechat(client=client) as (server, transport, events),
    ):
        server.script[MEDIA] = [Hold()]
        media = Media(transport, StaticToken("TOKEN"))
        async with media.get("MEDIA_ID"):  # the pool's only connection is now busy
            send = asyncio.create_task(
                kf(transport).send_msg("wm_customer", "wk_account", Text("hello"))
            )
            await asyncio.sleep(TIMEOUT * 1.5)  # the first send timed out in the pool
        # Leaving the block frees the connection: the retry gets it.
        assert await send == "MSG_1"

    assert "PoolTimeoutError on attempt 1" in caplog.text
    assert server.count(SEND) == 1
    assert events[-1].fields["attempts"] == 2


@pytest.mark.asyncio
async def test_a_deadline_spent_waiting_for_a_send_slot_means_not_sent() -> None:
    retry = RetryPolicy.no_wait(ATTEMPTS, deadline=0.3)
    async with (
        wechat(retry=retry, max_in_flight=1) as (server, transport, _),
        transport._in_flight,  # another call holds the only slot
    ):
        with pytest.raises(PoolTimeoutError) as caught:
            await kf(transport).send_msg("wm_customer", "wk_account", Text("hello"))

    assert isinstance(caught.value, RequestTimeoutError)
    assert not caught.value.may_have_taken_effect
    assert server.seen == []


# -- opting in ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_policy_can_opt_back_in() -> None:
    retry = RetryPolicy.no_wait(ATTEMPTS, deadline=5.0, retry_non_idempotent=True)
    async with wechat(retry=retry) as (server, transport, _):
        server.script[SEND] = [Late(), Status(502)]
        assert await kf(transport).send_msg("wm_customer", "wk_account", Text("hi")) == "MSG_1"

    assert server.count(SEND) == ATTEMPTS  # a landed send would have reached them 3 times


@pytest.mark.asyncio
async def test_a_caller_can_opt_in_for_the_calls_of_one_block() -> None:
    async with wechat() as (server, transport, _):
        server.script[SEND] = [Late(), Status(502)]
        with transport.assume_idempotent():
            assert await kf(transport).send_msg("wm", "wk", Text("hi")) == "MSG_1"
        assert server.count(SEND) == ATTEMPTS
        # Outside the block the rule holds again.
        server.script[SEND] = [Status(502)] * ATTEMPTS
        with pytest.raises(HTTPStatusError):
            await kf(transport).send_msg("wm", "wk", Text("again"))
        assert server.count(SEND) == ATTEMPTS + 1


@pytest.mark.asyncio
async def test_a_raw_call_says_whether_it_is_idempotent() -> None:
    async with wechat() as (server, transport, _):
        server.script[SEND] = [Status(502)] * ATTEMPTS
        with pytest.raises(HTTPStatusError):  # a POST is not idempotent by default
            await transport.request("POST", SEND, host=Host.WORK, json={})
        assert server.count(SEND) == 1
        # Two 502s left, then the ok answer.
        await transport.request("POST", SEND, host=Host.WORK, json={}, idempotent=True)
        assert server.count(SEND) == ATTEMPTS + 1


# -- every endpoint is classified -----------------------------------------------------

ServiceCall = Callable[[Any], Awaitable[object]]


def first(iterator: AsyncIterator[object]) -> Awaitable[object]:
    return anext(iterator)


async def download(media: Media) -> None:
    async with media.get("MEDIA_ID") as response:
        await response.read()


JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
APPID = "wx0123456789abcdef"

# Service method -> (the path it calls, how to call it, whether it is idempotent).
ENDPOINTS: dict[str, tuple[str, ServiceCall, bool]] = {
    # -- Kf, 微信客服
    "Kf.account_add": ("cgi-bin/kf/account/add", lambda s: s.account_add("n", "m"), False),
    "Kf.account_del": ("cgi-bin/kf/account/del", lambda s: s.account_del("wk"), True),
    "Kf.account_update": (
        "cgi-bin/kf/account/update",
        lambda s: s.account_update("wk", name="n"),
        True,
    ),
    "Kf.account_list": ("cgi-bin/kf/account/list", lambda s: s.account_list(), True),
    "Kf.iter_accounts": ("cgi-bin/kf/account/list", lambda s: first(s.iter_accounts()), True),
    "Kf.add_contact_way": ("cgi-bin/kf/add_contact_way", lambda s: s.add_contact_way("wk"), False),
    "Kf.receptionist_add": (
        "cgi-bin/kf/servicer/add",
        lambda s: s.receptionist_add("wk", ["u"]),
        True,
    ),
    "Kf.receptionist_del": (
        "cgi-bin/kf/servicer/del",
        lambda s: s.receptionist_del("wk", ["u"]),
        True,
    ),
    "Kf.receptionist_list": ("cgi-bin/kf/servicer/list", lambda s: s.receptionist_list("wk"), True),
    "Kf.sync_msg": ("cgi-bin/kf/sync_msg", lambda s: s.sync_msg(), True),
    "Kf.iter_sync_msg": ("cgi-bin/kf/sync_msg", lambda s: first(s.iter_sync_msg()), True),
    "Kf.send_msg": ("cgi-bin/kf/send_msg", lambda s: s.send_msg("wm", "wk", Text("x")), False),
    "Kf.send_msg_on_event": (
        "cgi-bin/kf/send_msg_on_event",
        lambda s: s.send_msg_on_event("CODE", Text("x")),
        False,
    ),
    "Kf.service_state_get": (
        "cgi-bin/kf/service_state/get",
        lambda s: s.service_state_get("wk", "wm"),
        True,
    ),
    "Kf.service_state_trans": (
        "cgi-bin/kf/service_state/trans",
        lambda s: s.service_state_trans("wk", "wm", 2),
        False,
    ),
    "Kf.customer_batch_get": (
        "cgi-bin/kf/customer/batchget",
        lambda s: s.customer_batch_get(["wm"]),
        True,
    ),
    "Kf.upgrade_service_config": (
        "cgi-bin/kf/customer/get_upgrade_service_config",
        lambda s: s.upgrade_service_config(),
        True,
    ),
    "Kf.upgrade_service": (
        "cgi-bin/kf/customer/upgrade_service",
        lambda s: s.upgrade_service("wk", "wm", 1, member=UpgradeMember("u")),
        False,
    ),
    "Kf.upgrade_member_service": (
        "cgi-bin/kf/customer/upgrade_service",
        lambda s: s.upgrade_member_service("wk", "wm", "u"),
        False,
    ),
    "Kf.upgrade_group_chat_service": (
        "cgi-bin/kf/customer/upgrade_service",
        lambda s: s.upgrade_group_chat_service("wk", "wm", "wr"),
        False,
    ),
    "Kf.upgrade_service_cancel": (
        "cgi-bin/kf/customer/cancel_upgrade_service",
        lambda s: s.upgrade_service_cancel("wk", "wm"),
        True,
    ),
    "Kf.get_corp_qualification": (
        "cgi-bin/kf/get_corp_qualification",
        lambda s: s.get_corp_qualification(),
        True,
    ),
    "Kf.get_corp_statistic": (
        "cgi-bin/kf/get_corp_statistic",
        lambda s: s.get_corp_statistic(0, 86400),
        True,
    ),
    "Kf.get_servicer_statistic": (
        "cgi-bin/kf/get_servicer_statistic",
        lambda s: s.get_servicer_statistic(0, 86400),
        True,
    ),
    "Kf.add_knowledge_group": (
        "cgi-bin/kf/knowledge/add_group",
        lambda s: s.add_knowledge_group("g"),
        False,
    ),
    "Kf.del_knowledge_group": (
        "cgi-bin/kf/knowledge/del_group",
        lambda s: s.del_knowledge_group("g"),
        True,
    ),
    "Kf.mod_knowledge_group": (
        "cgi-bin/kf/knowledge/mod_group",
        lambda s: s.mod_knowledge_group("g", "n"),
        True,
    ),
    "Kf.list_knowledge_group": (
        "cgi-bin/kf/knowledge/list_group",
        lambda s: s.list_knowledge_group(),
        True,
    ),
    "Kf.add_knowledge_intent": (
        "cgi-bin/kf/knowledge/add_intent",
        lambda s: s.add_knowledge_intent("g", "q", "a"),
        False,
    ),
    "Kf.del_knowledge_intent": (
        "cgi-bin/kf/knowledge/del_intent",
        lambda s: s.del_knowledge_intent("i"),
        True,
    ),
    "Kf.mod_knowledge_intent": (
        "cgi-bin/kf/knowledge/mod_intent",
        lambda s: s.mod_knowledge_intent("i", "q", "a"),
        True,
    ),
    "Kf.list_knowledge_intent": (
        "cgi-bin/kf/knowledge/list_intent",
        lambda s: s.list_knowledge_intent(),
        True,
    ),
    # -- Media
    "Media.upload": ("cgi-bin/media/upload", lambda s: s.upload("image", JPG), False),
    "Media.upload_image": ("cgi-bin/media/uploadimg", lambda s: s.upload_image(JPG), False),
    "Media.get": ("cgi-bin/media/get", download, True),
    # -- Tag
    "Tag.create": ("cgi-bin/tag/create", lambda s: s.create("t"), False),
    "Tag.update": ("cgi-bin/tag/update", lambda s: s.update(1, "t"), True),
    "Tag.delete": ("cgi-bin/tag/delete", lambda s: s.delete(1), True),
    "Tag.get": ("cgi-bin/tag/get", lambda s: s.get(1), True),
    "Tag.add_users": ("cgi-bin/tag/addtagusers", lambda s: s.add_users(1, ["u"]), True),
    "Tag.del_users": ("cgi-bin/tag/deltagusers", lambda s: s.del_users(1, ["u"]), True),
    "Tag.list": ("cgi-bin/tag/list", lambda s: s.list(), True),
    # -- User
    "User.get": ("cgi-bin/user/get", lambda s: s.get("u"), True),
    "User.list_id": ("cgi-bin/user/list_id", lambda s: s.list_id(), True),
    "User.iter_ids": ("cgi-bin/user/list_id", lambda s: first(s.iter_ids()), True),
    "User.simple_list": ("cgi-bin/user/simplelist", lambda s: s.simple_list(1), True),
    "User.convert_to_openid": (
        "cgi-bin/user/convert_to_openid",
        lambda s: s.convert_to_openid("u"),
        True,
    ),
    "User.convert_to_userid": (
        "cgi-bin/user/convert_to_userid",
        lambda s: s.convert_to_userid("o"),
        True,
    ),
    # -- AppChat
    "AppChat.create": ("cgi-bin/appchat/create", lambda s: s.create("n", "a", ["a", "b"]), False),
    "AppChat.update": ("cgi-bin/appchat/update", lambda s: s.update("wr", name="n"), True),
    "AppChat.get": ("cgi-bin/appchat/get", lambda s: s.get("wr"), True),
    "AppChat.send": ("cgi-bin/appchat/send", lambda s: s.send("wr", Text("x")), False),
    "AppChat.send_text": ("cgi-bin/appchat/send", lambda s: s.send_text("wr", "x"), False),
    "AppChat.send_image": ("cgi-bin/appchat/send", lambda s: s.send_image("wr", "m"), False),
    "AppChat.send_voice": ("cgi-bin/appchat/send", lambda s: s.send_voice("wr", "m"), False),
    # -- Custom: Official Account customer service
    "Custom.add_kf_account": (
        "customservice/kfaccount/add",
        lambda s: s.add_kf_account("kf1@test", "n"),
        False,
    ),
    "Custom.update_kf_account": (
        "customservice/kfaccount/update",
        lambda s: s.update_kf_account("kf1@test", "n"),
        True,
    ),
    "Custom.del_kf_account": (
        "customservice/kfaccount/del",
        lambda s: s.del_kf_account("kf1@test"),
        True,
    ),
    "Custom.get_kf_list": ("cgi-bin/customservice/getkflist", lambda s: s.get_kf_list(), True),
    "Custom.get_kf_online_list": (
        "cgi-bin/customservice/getonlinekflist",
        lambda s: s.get_kf_online_list(),
        True,
    ),
    "Custom.invite_worker": (
        "customservice/kfaccount/inviteworker",
        lambda s: s.invite_worker("kf1@test", "wx_user"),
        False,
    ),
    "Custom.set_head_img_url": (
        "customservice/kfaccount/uploadheadimg",
        lambda s: s.set_head_img_url("kf1@test", JPG, filename="a.jpg"),
        True,
    ),
    "Custom.send_msg_by_kf": (
        "cgi-bin/message/custom/send",
        lambda s: s.send_msg_by_kf("o", Text("x")),
        False,
    ),
    "Custom.typing": ("cgi-bin/message/custom/typing", lambda s: s.typing("o"), True),
    "Custom.create_kf_session": (
        "customservice/kfsession/create",
        lambda s: s.create_kf_session("kf1@test", "o"),
        False,
    ),
    "Custom.close_kf_session": (
        "customservice/kfsession/close",
        lambda s: s.close_kf_session("kf1@test", "o"),
        True,
    ),
    "Custom.get_kf_session": (
        "customservice/kfsession/getsession",
        lambda s: s.get_kf_session("o"),
        True,
    ),
    "Custom.get_kf_session_list": (
        "customservice/kfsession/getsessionlist",
        lambda s: s.get_kf_session_list("kf1@test"),
        True,
    ),
    "Custom.get_wait_case_list": (
        "customservice/kfsession/getwaitcase",
        lambda s: s.get_wait_case_list(),
        True,
    ),
    "Custom.get_msg_list": (
        "customservice/msgrecord/getmsglist",
        lambda s: s.get_msg_list(1464710400, 1464796800),
        True,
    ),
    "Custom.iter_msg_list": (
        "customservice/msgrecord/getmsglist",
        lambda s: first(s.iter_msg_list(1464710400, 1464796800)),
        True,
    ),
    # -- Component: Open Platform
    "Component.request": (
        "cgi-bin/component/anything",
        lambda s: s.request("cgi-bin/component/anything", {}),
        False,
    ),
    "Component.create_pre_auth_code": (
        "cgi-bin/component/api_create_preauthcode",
        lambda s: s.create_pre_auth_code(),
        True,
    ),
    "Component.query_auth": (
        "cgi-bin/component/api_query_auth",
        lambda s: s.query_auth("CODE"),
        False,
    ),
    "Component.get_authorizer_info": (
        "cgi-bin/component/api_get_authorizer_info",
        lambda s: s.get_authorizer_info(APPID),
        True,
    ),
    "Component.get_authorizer_list": (
        "cgi-bin/component/api_get_authorizer_list",
        lambda s: s.get_authorizer_list(),
        True,
    ),
    "Component.iter_authorizers": (
        "cgi-bin/component/api_get_authorizer_list",
        lambda s: first(s.iter_authorizers()),
        True,
    ),
    "Component.get_authorizer_option": (
        "cgi-bin/component/api_get_authorizer_option",
        lambda s: s.get_authorizer_option(APPID, "voice_recognize"),
        True,
    ),
    "Component.set_authorizer_option": (
        "cgi-bin/component/api_set_authorizer_option",
        lambda s: s.set_authorizer_option(APPID, "voice_recognize", 1),
        True,
    ),
    "Component.register_mini_program": (
        "cgi-bin/component/fastregisterweapp",
        lambda s: s.register_mini_program("n", "1" * 18, 1, "wx", "name"),
        False,
    ),
    "Component.get_registration_status": (
        "cgi-bin/component/fastregisterweapp",
        lambda s: s.get_registration_status("n", "wx", "name"),
        True,
    ),
}

# Public methods that never call WeChat.
OFFLINE = {
    "Kf.verify_url",
    "Kf.get_callback_message",
    "Component.handle_callback",
    "Component.auth_url",
    "Component.authorizer_token",
}


def all_subclasses(cls: type[Service]) -> Iterator[type[Service]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def public_methods(cls: type) -> set[str]:
    return {
        f"{cls.__name__}.{name}"
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }


def test_every_service_method_is_classified() -> None:
    services = {cls for cls in all_subclasses(Service) if cls.__module__.startswith("wechat_async")}
    assert {cls.__name__ for cls in services} >= {"Kf", "Media", "Tag", "User", "AppChat"}
    found: set[str] = set()
    for cls in (*services, Component):
        found |= public_methods(cls)
    assert found - ENDPOINTS.keys() - OFFLINE == set(), "new endpoints need a row in ENDPOINTS"
    assert ENDPOINTS.keys() - found == set(), "ENDPOINTS names methods that no longer exist"


COMPONENT_TOKEN = "cgi-bin/component/api_component_token"


async def make_service(name: str, transport: Transport) -> Any:
    cls_name = name.split(".", 1)[0]
    if cls_name == "Component":
        store = MemoryTokenStore()
        await store.set_secret(f"component_verify_ticket:{APPID}", "TICKET")
        crypto = MessageCrypto("token", "a" * 43, APPID)
        return Component(transport, APPID, "secret", store=store, crypto=crypto)
    classes: dict[str, type[Service]] = {
        cls.__name__: cls for cls in (Kf, Media, Tag, User, AppChat, Custom)
    }
    return classes[cls_name](transport, StaticToken("TOKEN"))


@pytest.mark.asyncio
@pytest.mark.parametrize("name", sorted(ENDPOINTS))
async def test_each_endpoint_is_retried_after_a_502_only_if_idempotent(name: str) -> None:
    path, call, idempotent = ENDPOINTS[name]
    seen: Counter[str] = Counter()

    async def answer(request: httpx.Request) -> httpx.Response:
        await request.aread()
        seen[request.url.path.strip("/")] += 1
        if request.url.path.endswith(COMPONENT_TOKEN):
            return httpx.Response(200, json={"component_access_token": "CAT", "expires_in": 7200})
        return httpx.Response(502, text="bad gateway")

    hosts = Hosts(official="https://api.test", work="https://qyapi.test", official_standby=())
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        transport = Transport(client, hosts=hosts, retry=RetryPolicy.no_wait(ATTEMPTS))
        service = await make_service(name, transport)
        with pytest.raises(HTTPStatusError) as caught:
            await call(service)

    assert set(seen) - {COMPONENT_TOKEN} == {path}
    assert seen[path] == (ATTEMPTS if idempotent else 1)
    assert caught.value.may_have_taken_effect


def test_the_table_covers_both_kinds() -> None:
    kinds = Counter(idempotent for _, _, idempotent in ENDPOINTS.values())
    assert kinds[True] > 0
    assert kinds[False] > 0
