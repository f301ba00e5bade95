"""The 微信客服 (Kf) callback URL on aiohttp, with the same consumer as the FastAPI example.

``GET /kf/callback`` answers WeChat's URL verification; ``POST /kf/callback``
verifies the ``kf_msg_or_event`` callback, hands it to ``kf_consumer.KfBot``
and answers ``success`` at once. The consumer pulls the messages with
``sync_msg`` and answers each customer text with ``send_msg``, once (its state
is a SQLite file, see ``kf_consumer``).

Run it (settings from the environment, see ``kf_consumer.Settings``)::

    export WECOM_CORP_ID=ww... WECOM_KF_SECRET=... WECOM_KF_TOKEN=... WECOM_KF_AES_KEY=...
    python examples/aiohttp_callback.py            # PORT=8080 by default
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from kf_consumer import Answer, KfBot, Settings, echo, wecom_from_settings

from wechat_async import CryptoError, InvalidSignatureError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from wechat_async import WeCom

__all__ = ["BOT", "create_app", "from_env"]

BOT = web.AppKey("bot", KfBot)
"""``app[BOT]`` is the app's consumer."""

_PARAMS = ("msg_signature", "timestamp", "nonce")


def create_app(
    wecom: WeCom,
    *,
    path: str = "/kf/callback",
    answer: Answer = echo,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    state_path: str | None = None,
) -> web.Application:
    """The callback app: ``wecom`` must carry the Kf callback crypto.

    The consumer runs while the app runs, its state in ``state_path`` (None: the
    default file); ``on_shutdown`` runs after it stops.
    """
    kf = wecom.kf
    bot = KfBot(kf, answer=answer, state_path=state_path)

    async def run_bot(_: web.Application) -> AsyncIterator[None]:
        try:
            async with bot:
                yield
        finally:
            if on_shutdown is not None:
                await on_shutdown()

    async def verify_url(request: web.Request) -> web.Response:
        """WeChat's URL verification: answer the decrypted echostr as plain text."""
        signature, timestamp, nonce = _query(request)
        echostr = request.query.get("echostr")
        if echostr is None:
            raise web.HTTPBadRequest(text="echostr missing")
        try:
            echo_text = await kf.verify_url(signature, timestamp, nonce, echostr)
        except CryptoError as exc:
            raise _refusal(exc) from exc
        return web.Response(text=echo_text)

    async def callback(request: web.Request) -> web.Response:
        """A kf_msg_or_event callback: verify, wake the consumer, answer at once."""
        signature, timestamp, nonce = _query(request)
        body = await request.read()
        try:
            event = await kf.get_callback_message(body, signature, timestamp, nonce)
        except CryptoError as exc:
            raise _refusal(exc) from exc
        bot.submit(event)
        return web.Response(text="success")

    app = web.Application(client_max_size=1024 * 1024)
    app[BOT] = bot
    app.cleanup_ctx.append(run_bot)
    app.router.add_get(path, verify_url)
    app.router.add_post(path, callback)
    return app


def _query(request: web.Request) -> tuple[str, str, str]:
    values = [request.query.get(name) for name in _PARAMS]
    if any(value is None for value in values):
        raise web.HTTPBadRequest(text="msg_signature, timestamp and nonce are required")
    signature, timestamp, nonce = (str(value) for value in values)
    return signature, timestamp, nonce


def _refusal(exc: CryptoError) -> web.HTTPException:
    # A bad signature is someone else's request; anything else is a malformed one.
    if isinstance(exc, InvalidSignatureError):
        return web.HTTPForbidden(text="callback refused")
    return web.HTTPBadRequest(text="callback refused")


def from_env() -> web.Application:
    """The app configured from the environment."""
    settings = Settings.from_env()
    wecom, close = wecom_from_settings(settings)
    return create_app(wecom, on_shutdown=close, state_path=settings.state_path)


if __name__ == "__main__":
    import os

    web.run_app(from_env(), host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
