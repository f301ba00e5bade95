"""Quickstart: a whole 微信客服 (Kf) conversation against the emulator, in a few seconds.

    python examples/quickstart.py                      # everything in this process
    python examples/quickstart.py --redis redis://127.0.0.1:6379/0   # tokens in Redis
    python examples/quickstart.py --base-url http://127.0.0.1:8000   # a running emulator

With no arguments, FakeWeChat runs in this process and nothing opens a
socket: the SDK calls it through ``httpx.ASGITransport``, and the emulator
delivers its callback straight to :func:`callback_handler` below, the same
code a web framework would call. The steps printed are the ones a real bot
goes through: WeChat verifies the callback URL; a customer writes; the
callback arrives and its signature is checked; ``sync_msg`` pulls the
message; the bot answers with ``send_msg``; the customer sees the answer.

``--base-url`` talks to another server, such as ``python -m
wechat_async.testing --port 8000``. WeChat pushes callbacks, and this script
opens no port to receive them, so that mode runs the SDK's side only: the
access token (fetched once, then served from the store), the Kf accounts,
and an account created through the emulator's ``/_fake/`` control path when
the server has one. ``examples/fastapi_kf_bot.py`` runs the whole
conversation over the network.

Exit code 0 when every step worked; 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from http import HTTPStatus
from typing import TYPE_CHECKING

import httpx

from wechat_async import (
    CryptoError,
    Hosts,
    InvalidSignatureError,
    KfCallbackMessage,
    MemoryTokenStore,
    MessageCrypto,
    Origin,
    RetryPolicy,
    Text,
    TokenStore,
    Transport,
    WeChatError,
    WeCom,
)
from wechat_async.testing import FakeWeChat
from wechat_async.wecom.kf_messages import TextMessage

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

# What you paste from the Kf admin page's callback settings (here: demo values).
CALLBACK_TOKEN = "QDG6eK"
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CALLBACK_URL = "http://bot.example/kf/callback"
CUSTOMER = "wm_quickstart_customer"


def step(number: int, text: str) -> None:
    """Print one step of the conversation."""
    print(f"[{number}] {text}", flush=True)


def callback_handler(
    wecom: WeCom, events: asyncio.Queue[KfCallbackMessage]
) -> Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]:
    """The bot's callback URL as a plain callable: what a FastAPI or aiohttp route does.

    GET answers WeChat's URL verification. POST verifies the signature,
    decrypts the event, queues it and answers "success" at once: WeChat
    gives a callback 5 seconds, so the work happens after the answer.
    """

    async def handle(request: httpx.Request) -> httpx.Response:
        query = request.url.params
        signature, timestamp, nonce = (
            query.get(k, "") for k in ("msg_signature", "timestamp", "nonce")
        )
        try:
            if request.method == "GET":
                echo = await wecom.kf.verify_url(
                    signature, timestamp, nonce, query.get("echostr", "")
                )
                return httpx.Response(200, text=echo)
            event = await wecom.kf.get_callback_message(
                await request.aread(), signature, timestamp, nonce
            )
        except InvalidSignatureError:
            return httpx.Response(403, text="bad signature")
        except CryptoError:
            return httpx.Response(400, text="malformed callback")
        events.put_nowait(event)
        return httpx.Response(200, text="success")

    return handle


async def conversation(store: TokenStore) -> None:
    """Play WeChat, a customer and the bot, in this process."""
    fake = FakeWeChat()
    crypto = MessageCrypto(CALLBACK_TOKEN, ENCODING_AES_KEY, receive_id=fake.corp_id)
    events: asyncio.Queue[KfCallbackMessage] = asyncio.Queue()
    async with (
        fake.transport() as transport,
        WeCom(
            fake.corp_id, fake.corp_secrets[0], transport=transport, store=store, crypto=crypto
        ) as wecom,
        httpx.AsyncClient(transport=httpx.MockTransport(callback_handler(wecom, events))) as to_bot,
    ):
        kf = wecom.kf

        # WeChat checks the URL when you save it: a signed, encrypted echostr.
        sealed = crypto.encrypt("echo-1700000000")
        params = {
            "msg_signature": sealed.msg_signature,
            "timestamp": sealed.timestamp,
            "nonce": sealed.nonce,
        }
        answer = await to_bot.get(CALLBACK_URL, params={**params, "echostr": sealed.encrypt})
        check(
            answer.status_code == HTTPStatus.OK and answer.text == "echo-1700000000",
            f"URL check: {answer}",
        )
        step(1, f"URL verification (GET): answered {answer.text!r}")

        open_kfid = fake.kf.add_account("小助手")  # done in the WeCom admin console
        accounts = await kf.account_list()
        check(any(a.open_kfid == open_kfid for a in accounts.account_list), "account not listed")
        fetched = fake.fetches["cgi-bin/gettoken"]
        step(2, f"Kf account {open_kfid} listed by account_list (access tokens fetched: {fetched})")

        fake.kf.register_callback(
            CALLBACK_URL, token=CALLBACK_TOKEN, encoding_aes_key=ENCODING_AES_KEY, client=to_bot
        )
        await fake.kf.customer_says(open_kfid, CUSTOMER, "你好，请问几点营业？")
        step(3, f"customer {CUSTOMER} wrote: 你好，请问几点营业？")

        event = await asyncio.wait_for(events.get(), timeout=5)
        step(4, f"callback arrived, signature verified: {event.event} for {event.open_kfid}")

        replied = 0
        async for page in kf.iter_sync_msg(token=event.token, open_kfid=event.open_kfid):
            for message in page.msg_list:
                # Customers' texts only: the bot's own replies are listed too.
                if not isinstance(message, TextMessage) or message.origin != Origin.CUSTOMER:
                    continue
                customer, said = message.external_userid or "", message.text.content
                step(5, f"sync_msg pulled {message.msgid} from {customer}: {said}")
                reply = Text(f"您好！我们每天 9:00-21:00 营业。（你说：{said}）")
                msgid = await kf.send_msg(customer, open_kfid, reply)
                step(6, f"bot replied with send_msg: msgid={msgid}")
                replied += 1
        check(replied == 1, f"expected one customer message, answered {replied}")

        sent = await fake.kf.wait_for_sent(1, timeout=5)
        step(7, f"customer sees: {sent[-1].body.get('content')}")

        forged = await to_bot.post(
            CALLBACK_URL, params={**params, "msg_signature": "0" * 40}, content=sealed.to_xml()
        )
        check(
            forged.status_code == HTTPStatus.FORBIDDEN,
            f"a forged callback was not refused: {forged}",
        )
        step(8, f"a callback with a forged signature is refused ({forged.status_code})")
        fetched = fake.fetches["cgi-bin/gettoken"]
        check(fetched == 1, f"expected one token fetch, saw {fetched}")
        step(
            9, f"done: one access token fetched for the whole conversation ({type(store).__name__})"
        )


async def remote(base_url: str, corp_id: str, corp_secret: str, store: TokenStore) -> None:
    """The SDK's side against a server at ``base_url`` (see the module docstring)."""
    base = base_url.rstrip("/")
    hosts = Hosts(official=base, work=base + "/qyapi", official_standby=())
    async with (
        Transport(hosts=hosts, retry=RetryPolicy(deadline=10.0)) as transport,
        WeCom(corp_id, corp_secret, transport=transport, store=store) as wecom,
    ):
        token = await wecom.token.get()
        step(1, f"access token fetched from {hosts.work} ({len(token)} characters)")
        again = await wecom.token.get()
        check(again == token, "a second get() should be served from the store")
        step(2, "a second get() is served from the store, without a fetch")
        async with httpx.AsyncClient(base_url=base, timeout=10) as control:
            created = await control.post("/_fake/kf/accounts", json={"name": "小助手"})
        if created.status_code == HTTPStatus.OK:
            step(3, f"Kf account created through the emulator: {created.json()['open_kfid']}")
        else:
            step(3, "no /_fake/ control path here: no account created")
        page = await wecom.kf.account_list()
        step(4, f"account_list: {[a.open_kfid for a in page.account_list]}")
        step(5, "done (the customer's side needs the in-process emulator: run without --base-url)")


def check(condition: bool, message: str) -> None:  # noqa: FBT001 - reads as an assertion
    """Stop with ``message`` unless ``condition`` holds."""
    if not condition:
        raise QuickstartError(message)


class QuickstartError(Exception):
    """A step did not give what it should."""


async def run(args: argparse.Namespace) -> None:
    """Pick the token store, then the mode."""
    store: TokenStore = MemoryTokenStore()
    redis = None
    if args.redis:
        from redis.asyncio import Redis  # noqa: PLC0415 - only this mode needs redis

        from wechat_async import RedisTokenStore  # noqa: PLC0415

        redis = Redis.from_url(args.redis)
        store = RedisTokenStore(redis, prefix=args.redis_prefix)
    try:
        if args.base_url:
            await remote(args.base_url, args.corp_id, args.corp_secret, store)
        else:
            await conversation(store)
    finally:
        if redis is not None:
            await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    """Run the quickstart; 0 on success, 1 with a message otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--redis", metavar="URL", help="keep tokens in Redis (RedisTokenStore)")
    parser.add_argument(
        "--redis-prefix", default="wechat_async_quickstart", help="Redis key prefix"
    )
    parser.add_argument("--base-url", metavar="URL", help="talk to this server instead")
    parser.add_argument("--corp-id", default="ww_fake_corp", help="with --base-url")
    parser.add_argument("--corp-secret", default="fake-corp-secret", help="with --base-url")
    args = parser.parse_args(argv)
    try:
        asyncio.run(asyncio.wait_for(run(args), timeout=30))
    except (QuickstartError, WeChatError, httpx.HTTPError, OSError, TimeoutError) as exc:
        print(f"quickstart failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
