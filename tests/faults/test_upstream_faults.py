"""FakeWeChat faults on real SDK call paths and on the token endpoint.

Each case pins three things: how many times the fake was called (``fake.calls``
counts every request that reached a route, faulted or not), which exception
class the caller gets, and how often the call took effect. A fault answers
*before* the route's handler runs (the send was never recorded) unless armed
with ``landed=True``: then the handler runs and only its answer is lost, as when
WeChat delivered a message and the gateway answered 502.

A message send is not idempotent: after a 5xx, -1 or a timeout it is never sent
again (the client cannot tell whether it landed), and the error says so with
``may_have_taken_effect``. Reads are retried as before.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from wechat_async.errors import (
    HTTPStatusError,
    InvalidResponseError,
    RateLimitError,
    RequestTimeoutError,
    SystemBusyError,
    TokenUnavailableError,
)
from wechat_async.testing.fake import FakeWeChat
from wechat_async.tokens import RefreshSettings, WorkAccessToken
from wechat_async.transport import RetryPolicy, Transport
from wechat_async.wecom import WeCom
from wechat_async.wecom.messages import Text

from .servers import serve

SEND = "cgi-bin/kf/send_msg"
SYNC = "cgi-bin/kf/sync_msg"
TAGS = "cgi-bin/tag/list"
GETTOKEN = "cgi-bin/gettoken"
ATTEMPTS = 3


@pytest_asyncio.fixture
async def fake_wecom() -> AsyncIterator[tuple[FakeWeChat, WeCom]]:
    fake = FakeWeChat()
    async with fake.client() as client:
        transport = Transport(
            client, hosts=fake.hosts(), retry=RetryPolicy.no_wait(ATTEMPTS, deadline=5.0)
        )
        yield fake, WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport)


async def customer_waiting(fake: FakeWeChat) -> tuple[str, str]:
    """An account and a customer who just wrote, so send_msg is allowed."""
    open_kfid = fake.kf.add_account()
    customer = fake.kf.add_customer("wm_fault_customer")
    await fake.kf.customer_says(open_kfid, customer, "hello")
    return open_kfid, customer


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("landed", [True, False], ids=["delivered", "dropped"])
async def test_send_after_a_5xx_is_not_sent_again(
    fake_wecom: tuple[FakeWeChat, WeCom], status: int, *, landed: bool
) -> None:
    fake, wecom = fake_wecom
    open_kfid, customer = await customer_waiting(fake)
    fake.faults.http_status(SEND, status, times=10, landed=landed)
    with pytest.raises(HTTPStatusError) as caught:
        await wecom.kf.send_msg(customer, open_kfid, Text("at most once"))
    assert caught.value.status_code == status
    # The client cannot tell the two apart, so both say the send may have landed.
    assert caught.value.may_have_taken_effect
    assert fake.calls[SEND] == 1
    assert len(fake.kf.sent) == (1 if landed else 0)


@pytest.mark.asyncio
async def test_reads_are_still_retried_after_5xx_and_give_up_after_the_attempts(
    fake_wecom: tuple[FakeWeChat, WeCom],
) -> None:
    fake, wecom = fake_wecom
    fake.faults.http_status(TAGS, 502, times=ATTEMPTS - 1)
    assert await wecom.tag.list() == ()
    assert fake.calls[TAGS] == ATTEMPTS

    fake.faults.http_status(TAGS, 503, times=10)
    with pytest.raises(HTTPStatusError) as caught:
        await wecom.tag.list()
    assert caught.value.status_code == 503
    assert fake.calls[TAGS] == 2 * ATTEMPTS
    # The fault is still armed for 7 more calls; clearing it lets the read through.
    fake.faults.clear()
    assert await wecom.tag.list() == ()


@pytest.mark.asyncio
async def test_system_busy_is_retried_and_then_raised(
    fake_wecom: tuple[FakeWeChat, WeCom],
) -> None:
    fake, wecom = fake_wecom
    fake.faults.errcode(SYNC, -1, times=1)
    page = await wecom.kf.sync_msg()
    assert page.msg_list == ()
    assert fake.calls[SYNC] == 2

    fake.faults.errcode(SYNC, -1, times=ATTEMPTS)
    with pytest.raises(SystemBusyError) as caught:
        await wecom.kf.sync_msg()
    assert caught.value.errcode == -1
    assert fake.calls[SYNC] == 2 + ATTEMPTS


@pytest.mark.asyncio
async def test_send_after_system_busy_is_not_sent_again_unless_the_caller_says_so(
    fake_wecom: tuple[FakeWeChat, WeCom],
) -> None:
    fake, wecom = fake_wecom
    open_kfid, customer = await customer_waiting(fake)
    fake.faults.errcode(SEND, -1, times=2)
    with pytest.raises(SystemBusyError) as caught:
        await wecom.kf.send_msg(customer, open_kfid, Text("busy"))
    assert caught.value.may_have_taken_effect  # -1 does not prove nothing happened
    assert fake.calls[SEND] == 1
    assert fake.kf.sent == []

    # This caller accepts a possible duplicate for this one send: retried past the -1.
    with wecom.transport.assume_idempotent():
        await wecom.kf.send_msg(customer, open_kfid, Text("once"))
    assert fake.calls[SEND] == 3
    assert len(fake.kf.sent) == 1


@pytest.mark.asyncio
async def test_rate_limit_is_not_retried(fake_wecom: tuple[FakeWeChat, WeCom]) -> None:
    fake, wecom = fake_wecom
    fake.faults.rate_limit(TAGS, times=1)
    with pytest.raises(RateLimitError) as caught:
        await wecom.tag.list()
    assert caught.value.errcode == 45009
    assert fake.calls[TAGS] == 1  # the same request would get 45009 again
    assert await wecom.tag.list() == ()
    assert fake.calls[TAGS] == 2


@pytest.mark.asyncio
async def test_garbage_body_is_not_retried(fake_wecom: tuple[FakeWeChat, WeCom]) -> None:
    fake, wecom = fake_wecom
    fake.faults.garbage(TAGS, times=1)
    with pytest.raises(InvalidResponseError, match="not JSON"):
        await wecom.tag.list()
    assert fake.calls[TAGS] == 1
    assert await wecom.tag.list() == ()


@pytest.mark.asyncio
async def test_an_answer_held_back_past_the_deadline_times_out_in_time() -> None:
    fake = FakeWeChat()
    async with fake.client() as client:
        transport = Transport(
            client, hosts=fake.hosts(), retry=RetryPolicy.no_wait(ATTEMPTS, deadline=0.5)
        )
        wecom = WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport)
        await wecom.token.get()  # the token fetch is not what is measured
        fake.faults.timeout(TAGS, 30.0, times=ATTEMPTS)
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError, match="deadline"):
            await wecom.tag.list()
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 2.0
    # The first send used the whole deadline: no time was left for a second one.
    assert fake.calls[TAGS] == 1


@pytest.mark.asyncio
async def test_a_send_whose_answer_is_late_lands_once_and_says_so() -> None:
    """Over real sockets: WeChat delivers, the answer misses the per-send timeout."""
    fake = FakeWeChat()
    with serve(fake) as base_url:
        async with Transport(
            hosts=fake.hosts(base_url),
            retry=RetryPolicy.no_wait(ATTEMPTS, deadline=10.0),
            timeout=0.3,
        ) as transport:
            wecom = WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport)
            open_kfid, customer = await customer_waiting(fake)
            fake.faults.timeout(SEND, 1.0, times=ATTEMPTS, landed=True)
            started = time.monotonic()
            with pytest.raises(RequestTimeoutError) as caught:
                await wecom.kf.send_msg(customer, open_kfid, Text("late but once"))
            elapsed = time.monotonic() - started
            assert caught.value.may_have_taken_effect
            assert fake.calls[SEND] == 1
            assert len(fake.kf.sent) == 1  # the customer got it once, not three times
            assert 0.2 < elapsed < 1.0  # one per-send timeout, no retries

            fake.faults.timeout(TAGS, 1.0, times=ATTEMPTS)
            with pytest.raises(RequestTimeoutError):
                await wecom.tag.list()
            assert fake.calls[TAGS] == ATTEMPTS


@pytest.mark.asyncio
async def test_a_policy_that_opts_in_repeats_a_late_send() -> None:
    """What retry_non_idempotent=True costs: each retry of a landed send is another message."""
    fake = FakeWeChat()
    with serve(fake) as base_url:
        async with Transport(
            hosts=fake.hosts(base_url),
            retry=RetryPolicy.no_wait(ATTEMPTS, deadline=10.0, retry_non_idempotent=True),
            timeout=0.3,
        ) as transport:
            wecom = WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport)
            open_kfid, customer = await customer_waiting(fake)
            fake.faults.timeout(SEND, 1.0, times=ATTEMPTS - 1, landed=True)
            await wecom.kf.send_msg(customer, open_kfid, Text("three times"))
            assert fake.calls[SEND] == ATTEMPTS
            assert len(fake.kf.sent) == ATTEMPTS


# -- the token endpoint ---------------------------------------------------------------


def provider(fake: FakeWeChat, transport: Transport, **settings: float) -> WorkAccessToken:
    return WorkAccessToken(
        fake.corp_id,
        fake.corp_secrets[0],
        transport=transport,
        settings=RefreshSettings(**settings),  # type: ignore[arg-type]
    )


@pytest.mark.asyncio
async def test_token_endpoint_5xx_then_success_fetches_one_token() -> None:
    fake = FakeWeChat()
    async with fake.client() as client:
        transport = Transport(client, hosts=fake.hosts(), retry=RetryPolicy.no_wait(ATTEMPTS))
        wecom = WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport)
        fake.faults.http_status(GETTOKEN, 502, times=ATTEMPTS - 1)
        assert await wecom.tag.list() == ()
    assert fake.calls[GETTOKEN] == ATTEMPTS
    assert fake.fetches[GETTOKEN] == 1  # the handler ran once: one token issued
    assert fake.calls[TAGS] == 1


@pytest.mark.asyncio
async def test_a_send_whose_token_fetch_failed_never_left(
    fake_wecom: tuple[FakeWeChat, WeCom],
) -> None:
    fake, wecom = fake_wecom
    open_kfid, customer = await customer_waiting(fake)
    fake.faults.http_status(GETTOKEN, 502, times=ATTEMPTS)
    with pytest.raises(HTTPStatusError) as caught:
        await wecom.kf.send_msg(customer, open_kfid, Text("not yet"))
    assert caught.value.path == GETTOKEN
    # The 502 came from the token endpoint; the send itself was never made.
    assert not caught.value.may_have_taken_effect
    assert not getattr(caught.value, "__notes__", [])
    assert fake.calls[SEND] == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("arm", "error", "calls"),
    [
        (lambda f: f.faults.errcode(GETTOKEN, -1, times=ATTEMPTS), SystemBusyError, ATTEMPTS),
        (lambda f: f.faults.http_status(GETTOKEN, 500, times=ATTEMPTS), HTTPStatusError, ATTEMPTS),
        (lambda f: f.faults.rate_limit(GETTOKEN), RateLimitError, 1),
        (lambda f: f.faults.garbage(GETTOKEN), InvalidResponseError, 1),
    ],
    ids=["busy", "5xx", "45009", "garbage"],
)
async def test_token_endpoint_faults_surface_and_leave_nothing_stuck(
    arm: object, error: type[Exception], calls: int
) -> None:
    fake = FakeWeChat()
    async with fake.client() as client:
        transport = Transport(client, hosts=fake.hosts(), retry=RetryPolicy.no_wait(ATTEMPTS))
        wecom = WeCom(fake.corp_id, fake.corp_secrets[0], transport=transport)
        arm(fake)  # type: ignore[operator]
        with pytest.raises(error):
            await wecom.tag.list()
        assert fake.calls[GETTOKEN] == calls
        assert fake.calls[TAGS] == 0  # no API call went out without a token
        assert fake.fetches[GETTOKEN] == 0
        # The failed fetch left no in-flight task or lease behind: the next call fetches.
        assert await wecom.tag.list() == ()
    assert fake.fetches[GETTOKEN] == 1
    assert fake.calls[GETTOKEN] == calls + 1


@pytest.mark.asyncio
async def test_token_endpoint_slower_than_fetch_timeout_is_bounded() -> None:
    fake = FakeWeChat()
    async with fake.client() as client:
        transport = Transport(client, hosts=fake.hosts(), retry=RetryPolicy.no_wait(ATTEMPTS))
        token = provider(
            fake, transport, fetch_timeout=0.3, lock_ttl=0.5, wait_timeout=1.0, store_timeout=0.1
        )
        fake.faults.timeout(GETTOKEN, 30.0, times=1)
        started = time.monotonic()
        with pytest.raises(TokenUnavailableError, match="longer than"):
            await token.get()
        assert time.monotonic() - started < 1.5
        assert fake.calls[GETTOKEN] == 1
        assert await token.get() == fake.tokens.work(fake.corp_secrets[0]).value
    assert fake.fetches[GETTOKEN] == 1
