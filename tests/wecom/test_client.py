"""The WeCom facade: one token provider and transport behind every service."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis

from wechat_async import WeCom
from wechat_async.crypto import MessageCrypto
from wechat_async.tokens.redis import RedisTokenStore
from wechat_async.transport import Hosts, RetryPolicy, Transport
from wechat_async.wecom import AppChat, Kf, Media, Tag, User

pytestmark = pytest.mark.asyncio

SECRET = "corp-secret-value-123"
HOSTS = Hosts(official="https://official.test", work="https://work.test", official_standby=())


def mock_transport(fetches: list[str]) -> Transport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/gettoken":
            fetches.append(request.url.params["corpid"])
            return httpx.Response(200, json={"access_token": "WT", "expires_in": 7200})
        assert request.url.params["access_token"] == "WT"
        return httpx.Response(200, json={"errcode": 0, "taglist": []})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Transport(client, hosts=HOSTS, retry=RetryPolicy.no_wait())


async def test_services_share_one_token_and_transport() -> None:
    fetches: list[str] = []
    transport = mock_transport(fetches)
    crypto = MessageCrypto("tok", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "ww1")
    wecom = WeCom("ww1", SECRET, transport=transport, crypto=crypto)
    assert isinstance(wecom.kf, Kf)
    assert isinstance(wecom.media, Media)
    assert isinstance(wecom.tag, Tag)
    assert isinstance(wecom.user, User)
    assert isinstance(wecom.appchat, AppChat)
    assert wecom.tag is wecom.tag  # built once
    assert await wecom.tag.list() == ()
    assert await wecom.tag.list() == ()
    assert fetches == ["ww1"]
    assert SECRET not in repr(wecom)
    assert SECRET not in repr(wecom.kf)


async def test_injected_transport_stays_open_own_one_is_closed() -> None:
    transport = mock_transport([])
    async with WeCom("ww1", SECRET, transport=transport) as wecom:
        assert wecom.transport is transport
    assert await WeCom("ww1", SECRET, transport=transport).tag.list() == ()
    own = WeCom("ww1", SECRET)
    await own.aclose()
    with pytest.raises(RuntimeError):
        await own.transport._client.get("https://work.test/")


async def test_redis_shares_the_token(redis_client: Redis, redis_prefix: str) -> None:
    fetches: list[str] = []
    first = WeCom(
        "ww1",
        SECRET,
        transport=mock_transport(fetches),
        redis=redis_client,
        redis_prefix=redis_prefix,
    )
    second = WeCom(
        "ww1",
        SECRET,
        transport=mock_transport(fetches),
        redis=redis_client,
        redis_prefix=redis_prefix,
    )
    await first.tag.list()
    await second.tag.list()
    assert fetches == ["ww1"]  # the second facade found the token in Redis
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    stored = await store.load(first.token.key)
    assert stored is not None
    assert stored.value == "WT"
