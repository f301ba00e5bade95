"""Replayed Open Platform pushes change nothing: freshness, replay marks, CreateTime order.

A push captured with its correct signature can be sent again later. Three
checks stand in its way, each tested here on its own edge: the freshness
window (a stale signed timestamp), the replay mark (the same msg_signature and
nonce twice, across workers sharing a Redis) and the CreateTime order (a push
re-sealed with a fresh nonce and timestamp, as if the mark were lost, still
changes nothing that a newer push or a later authorization has changed).
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest
from redis.asyncio import Redis

import wechat_async.open_platform.component as component_module
from tests.open_platform.fake_open import (
    AUTHORIZER_APPID,
    COMPONENT_APPID,
    COMPONENT_SECRET,
    FakeOpenPlatform,
    crypto,
    envelope,
    ticket_xml,
)
from tests.tokens.fakes import FAST
from wechat_async import ReplayedMessageError, StaleTimestampError
from wechat_async.crypto import CryptoError, SignatureInputError
from wechat_async.errors import InvalidArgumentError
from wechat_async.open_platform import (
    AuthorizedEvent,
    Component,
    ComponentVerifyTicketEvent,
    UnauthorizedEvent,
    UpdateAuthorizedEvent,
)
from wechat_async.open_platform.component import DEFAULT_PUSH_MAX_AGE
from wechat_async.tokens import MemoryTokenStore, TokenStore, TokenStoreUnavailableError
from wechat_async.tokens.redis import RedisTokenStore

pytestmark = pytest.mark.asyncio

T0 = 1_800_000_000
TICKET_KEY = f"component_verify_ticket:{COMPONENT_APPID}"
REFRESH_KEY = f"authorizer_refresh_token:{COMPONENT_APPID}:{AUTHORIZER_APPID}"


class Clock:
    """This machine's clock as Component reads it, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


CLOCK = Clock(T0)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    CLOCK.now = T0
    monkeypatch.setattr(component_module, "time", types.SimpleNamespace(time=CLOCK.time))
    return CLOCK


def push(
    plaintext: str, *, nonce: str = "n0nce", at: int | None = None
) -> tuple[str, str, str, str]:
    """Sealed as WeChat does, signed at ``at`` (default: the test's now)."""
    return envelope(plaintext, timestamp=int(CLOCK.now) if at is None else at, nonce=nonce)


def make_component(
    fake: FakeOpenPlatform, store: TokenStore | None = None, **options: Any
) -> Component:
    # crypto() has no max_age of its own: every freshness verdict here is Component's.
    return Component(
        fake.transport(),
        COMPONENT_APPID,
        COMPONENT_SECRET,
        store=store,
        crypto=crypto(),
        settings=FAST,
        **options,
    )


def grant_xml(info_type: str, create_time: int) -> str:
    return (
        f"<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>{create_time}</CreateTime>"
        f"<InfoType>{info_type}</InfoType><AuthorizerAppid>{AUTHORIZER_APPID}</AuthorizerAppid>"
        "<AuthorizationCode>queryauthcode@@@xyz</AuthorizationCode>"
        f"<AuthorizationCodeExpiredTime>{create_time + 3600}</AuthorizationCodeExpiredTime>"
        "<PreAuthCode>preauthcode@@@abc</PreAuthCode></xml>"
    )


def unauthorized_xml(create_time: int) -> str:
    return (
        f"<xml><AppId>{COMPONENT_APPID}</AppId><CreateTime>{create_time}</CreateTime>"
        f"<InfoType>unauthorized</InfoType><AuthorizerAppid>{AUTHORIZER_APPID}</AuthorizerAppid>"
        "</xml>"
    )


def authorization(refresh_token: str, access_token: str) -> dict[str, Any]:
    return {
        "authorization_info": {
            "authorizer_appid": AUTHORIZER_APPID,
            "authorizer_access_token": access_token,
            "expires_in": 7200,
            "authorizer_refresh_token": refresh_token,
        }
    }


# -- freshness: on by default, 300 s ------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, 301, -86400], ids=["just-old", "just-ahead", "a-day-old"])
async def test_stale_push_is_refused_by_default(offset: int) -> None:
    component = make_component(FakeOpenPlatform())
    sealed = push(ticket_xml("ticket@@@old", create_time=T0 + offset), at=T0 + offset)
    with pytest.raises(StaleTimestampError) as caught:
        await component.handle_callback(*sealed)
    assert caught.value.code == -40100
    assert await component.store.get_secret(TICKET_KEY) is None
    assert component.max_age == DEFAULT_PUSH_MAX_AGE == 300


@pytest.mark.parametrize("offset", [-300, 300, 0])
async def test_push_inside_the_window_is_accepted(offset: int) -> None:
    component = make_component(FakeOpenPlatform())
    sealed = push(ticket_xml("ticket@@@fresh", create_time=T0 + offset), at=T0 + offset)
    event = await component.handle_callback(*sealed)
    assert isinstance(event, ComponentVerifyTicketEvent)
    assert await component.store.get_secret(TICKET_KEY) == "ticket@@@fresh"


async def test_window_is_configurable_and_can_be_turned_off() -> None:
    sealed = push(ticket_xml("ticket@@@a", create_time=T0 - 120), at=T0 - 120)
    with pytest.raises(StaleTimestampError):
        await make_component(FakeOpenPlatform(), max_age=60).handle_callback(*sealed)
    unchecked = make_component(FakeOpenPlatform(), max_age=None)
    assert unchecked.max_age is None
    year_old = push(ticket_xml("ticket@@@b", create_time=T0 - 86400 * 365), at=1)
    await unchecked.handle_callback(*year_old)
    assert await unchecked.store.get_secret(TICKET_KEY) == "ticket@@@b"


async def test_signed_timestamp_that_is_not_digits_is_refused() -> None:
    component = make_component(FakeOpenPlatform())
    body, _, _, nonce = push(ticket_xml("ticket@@@odd", create_time=T0))
    # Signed over "+<now>": int() would read it as now, the window does not.
    encrypt = body.split("<![CDATA[")[2].split("]]>")[0]
    odd = f"+{T0}"
    with pytest.raises(SignatureInputError):
        await component.handle_callback(body, crypto().sign(odd, nonce, encrypt), odd, nonce)
    assert await component.store.get_secret(TICKET_KEY) is None


@pytest.mark.parametrize("max_age", [0, -1, float("inf"), float("nan"), "300", True])
async def test_unusable_window_is_refused(max_age: object) -> None:
    with pytest.raises(InvalidArgumentError, match="max_age"):
        make_component(FakeOpenPlatform(), max_age=max_age)


# -- replays: each (msg_signature, nonce) is accepted once --------------------------------


async def test_the_same_push_twice_is_refused() -> None:
    component = make_component(FakeOpenPlatform())
    unauthorized = push(unauthorized_xml(T0), at=T0)
    await component.handle_callback(*unauthorized)
    # The authorization is granted again; the captured withdrawal is sent again.
    CLOCK.now = T0 + 200
    await component.store.set_secret(REFRESH_KEY, "refresh-2")
    with pytest.raises(ReplayedMessageError) as caught:
        await component.handle_callback(*unauthorized)
    assert caught.value.code == -40101
    assert isinstance(caught.value, CryptoError)
    assert await component.store.get_secret(REFRESH_KEY) == "refresh-2"


async def test_push_is_remembered_until_it_would_be_stale() -> None:
    store = MemoryTokenStore()
    component = make_component(FakeOpenPlatform(), store)
    ticket = push(ticket_xml("ticket@@@1", create_time=T0), at=T0)
    remembered: list[float] = []
    original = store.claim

    async def claim(key: str, ttl: float) -> bool:
        remembered.append(ttl)
        return await original(key, ttl)

    store.claim = claim  # type: ignore[method-assign]
    await component.handle_callback(*ticket)
    # Fresh until T0 + 300 by this clock: remembered that long (and a second of slack).
    assert remembered == [301]


async def test_replay_across_workers_sharing_redis(redis_client: Redis, redis_prefix: str) -> None:
    fake = FakeOpenPlatform()
    workers = [
        make_component(fake, RedisTokenStore(redis_client, prefix=redis_prefix)) for _ in range(2)
    ]
    sealed = push(ticket_xml("ticket@@@shared", create_time=T0), at=T0)
    results = await asyncio.gather(
        *(worker.handle_callback(*sealed) for worker in workers), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, ComponentVerifyTicketEvent)]
    refused = [r for r in results if isinstance(r, ReplayedMessageError)]
    assert (len(accepted), len(refused)) == (1, 1)
    # And later, one by one, on either worker.
    for worker in workers:
        with pytest.raises(ReplayedMessageError):
            await worker.handle_callback(*sealed)
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    assert await store.get_secret(TICKET_KEY) == "ticket@@@shared"


async def test_many_deliveries_of_one_push_act_once() -> None:
    store = MemoryTokenStore()
    workers = [make_component(FakeOpenPlatform(), store) for _ in range(5)]
    sealed = push(unauthorized_xml(T0), at=T0)
    results = await asyncio.gather(
        *(w.handle_callback(*sealed) for w in workers for _ in range(4)), return_exceptions=True
    )
    assert sum(isinstance(r, UnauthorizedEvent) for r in results) == 1
    assert sum(isinstance(r, ReplayedMessageError) for r in results) == 19


async def test_a_push_that_failed_can_be_retried() -> None:
    class FlakyStore(MemoryTokenStore):
        failures = 1

        async def set_secret_if_newer(
            self, key: str, value: str | None, version: int, ttl: float | None = None
        ) -> bool:
            if self.failures:
                self.failures -= 1
                raise TokenStoreUnavailableError("down")
            return await super().set_secret_if_newer(key, value, version, ttl)

    component = make_component(FakeOpenPlatform(), FlakyStore())
    sealed = push(ticket_xml("ticket@@@retried", create_time=T0), at=T0)
    with pytest.raises(TokenStoreUnavailableError):
        await component.handle_callback(*sealed)
    # WeChat sends the same push again: its mark was given back, so it is stored now.
    await component.handle_callback(*sealed)
    assert await component.store.get_secret(TICKET_KEY) == "ticket@@@retried"
    with pytest.raises(ReplayedMessageError):
        await component.handle_callback(*sealed)


# -- order: a ticket is stored only if newer ----------------------------------------------


async def test_older_ticket_push_does_not_replace_a_newer_one() -> None:
    fake = FakeOpenPlatform()
    component = make_component(fake)
    older = ticket_xml("ticket@@@A", create_time=T0 - 600)
    await component.handle_callback(*push(ticket_xml("ticket@@@B", create_time=T0)))
    # The captured push of ticket A, sealed again with a fresh nonce and timestamp: the
    # replay mark does not know it, the CreateTime order does.
    event = await component.handle_callback(*push(older, at=T0, nonce="fresh"))
    assert await component.store.get_secret(TICKET_KEY) == "ticket@@@B"
    assert isinstance(event, ComponentVerifyTicketEvent)
    assert event.superseded
    await component.token.get()
    assert fake.tickets_seen == ["ticket@@@B"]
    newer = await component.handle_callback(
        *push(ticket_xml("ticket@@@C", create_time=T0 + 600), nonce="later")
    )
    assert isinstance(newer, ComponentVerifyTicketEvent)
    assert not newer.superseded
    assert await component.store.get_secret(TICKET_KEY) == "ticket@@@C"


async def test_ticket_order_holds_across_workers_on_redis(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeOpenPlatform()
    workers = [
        make_component(fake, RedisTokenStore(redis_client, prefix=redis_prefix)) for _ in range(4)
    ]
    pushes = [
        push(ticket_xml(f"ticket@@@{n}", create_time=T0 - 600 * n), nonce=f"n{n}") for n in range(8)
    ]
    # The newest first, then the older ones all at once on every worker: a plain
    # last-writer-wins store would end on one of those.
    await workers[0].handle_callback(*pushes[0])
    events = await asyncio.gather(
        *(workers[n % 4].handle_callback(*sealed) for n, sealed in enumerate(pushes) if n)
    )
    store = RedisTokenStore(redis_client, prefix=redis_prefix)
    assert await store.get_secret(TICKET_KEY) == "ticket@@@0"
    assert all(isinstance(e, ComponentVerifyTicketEvent) and e.superseded for e in events)
    ttl_ms = await redis_client.pttl(store.secret_key(TICKET_KEY))
    assert 12 * 3600 * 1000 - 60_000 < ttl_ms <= 12 * 3600 * 1000


# -- order: unauthorized / authorized / updateauthorized ----------------------------------


async def test_replayed_unauthorized_after_reauthorization_keeps_the_refresh_token() -> None:
    fake = FakeOpenPlatform()
    fake.on(
        "cgi-bin/component/api_query_auth",
        authorization("refresh-1", "AAT-1"),
        authorization("refresh-2", "AAT-2"),
    )
    component = make_component(fake)
    await component.store.set_secret(TICKET_KEY, "ticket")
    await component.query_auth("code-1")
    # t1: the account withdraws; the push is captured on its way.
    CLOCK.now = T0 + 10
    captured = unauthorized_xml(T0 + 10)
    withdrawn = await component.handle_callback(*push(captured, at=T0 + 10))
    assert await component.store.get_secret(REFRESH_KEY) is None
    # t2: the account authorizes again.
    CLOCK.now = T0 + 20
    await component.query_auth("code-2")
    assert await component.store.get_secret(REFRESH_KEY) == "refresh-2"
    # The t1 push again, re-sealed with a fresh nonce and timestamp so that the
    # replay mark cannot catch it: the order check alone keeps the new grant.
    replayed = await component.handle_callback(*push(captured, at=T0 + 20, nonce="another"))
    assert await component.store.get_secret(REFRESH_KEY) == "refresh-2"
    assert await component.authorizer_token(AUTHORIZER_APPID).get() == "AAT-2"
    assert fake.counts["/cgi-bin/component/api_authorizer_token"] == 0
    assert isinstance(withdrawn, UnauthorizedEvent)
    assert not withdrawn.superseded
    assert isinstance(replayed, UnauthorizedEvent)
    assert replayed.superseded


async def test_replayed_unauthorized_on_redis_across_workers(
    redis_client: Redis, redis_prefix: str
) -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/api_query_auth", authorization("refresh-2", "AAT-2"))
    first, second = (
        make_component(fake, RedisTokenStore(redis_client, prefix=redis_prefix)) for _ in range(2)
    )
    captured = unauthorized_xml(T0)
    await first.handle_callback(*push(captured, at=T0))
    CLOCK.now = T0 + 30
    await first.store.set_secret(TICKET_KEY, "ticket")
    await first.query_auth("code-2")
    await second.handle_callback(*push(captured, at=T0 + 30, nonce="another"))
    assert await second.store.get_secret(REFRESH_KEY) == "refresh-2"


async def test_unauthorized_older_than_an_accepted_grant_forgets_nothing() -> None:
    component = make_component(FakeOpenPlatform())
    await component.store.set_secret(REFRESH_KEY, "refresh-1")
    update = await component.handle_callback(*push(grant_xml("updateauthorized", T0)))
    # An unauthorized stamped before the grant, arriving after it (late, or replayed).
    late = await component.handle_callback(*push(unauthorized_xml(T0 - 5), nonce="late"))
    assert await component.store.get_secret(REFRESH_KEY) == "refresh-1"
    assert isinstance(update, UpdateAuthorizedEvent)
    assert not update.superseded
    assert isinstance(late, UnauthorizedEvent)
    assert late.superseded


@pytest.mark.parametrize("info_type", ["authorized", "updateauthorized"])
async def test_grant_older_than_the_account_state_is_superseded(info_type: str) -> None:
    fake = FakeOpenPlatform()
    fake.on("cgi-bin/component/api_query_auth", authorization("refresh-1", "AAT-1"))
    component = make_component(fake)
    await component.handle_callback(*push(unauthorized_xml(T0), nonce="withdrawn"))
    # A grant from before the withdrawal, re-sealed so the replay mark cannot catch it:
    # the caller must not act on it (query_auth its code).
    old = await component.handle_callback(*push(grant_xml(info_type, T0 - 60), nonce="a"))
    assert isinstance(old, AuthorizedEvent | UpdateAuthorizedEvent)
    assert old.superseded
    # A grant after the withdrawal is current; it does not touch the refresh token.
    new = await component.handle_callback(*push(grant_xml(info_type, T0 + 60), nonce="b"))
    assert isinstance(new, AuthorizedEvent | UpdateAuthorizedEvent)
    assert not new.superseded
    # query_auth happens now: a grant push stamped before it is old news.
    CLOCK.now = T0 + 120
    await component.store.set_secret(TICKET_KEY, "ticket")
    await component.query_auth("code")
    again = await component.handle_callback(*push(grant_xml(info_type, T0 + 90), nonce="c"))
    assert isinstance(again, AuthorizedEvent | UpdateAuthorizedEvent)
    assert again.superseded
    # Nor does an old grant pull the account's state back: an unauthorized stamped
    # between it and query_auth, re-sealed, still forgets nothing.
    await component.handle_callback(*push(unauthorized_xml(T0 + 100), nonce="d"))
    assert await component.store.get_secret(REFRESH_KEY) == "refresh-1"
