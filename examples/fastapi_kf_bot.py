"""A 微信客服 (Kf) bot on FastAPI: the callback URL, and a consumer that answers customers.

``GET /kf/callback`` answers WeChat's URL verification; ``POST /kf/callback``
verifies and decrypts the ``kf_msg_or_event`` callback, hands it to the
consumer (``kf_consumer.KfBot``) and answers ``success`` at once, well within
WeChat's 5 seconds. The consumer pulls the messages with ``sync_msg`` and
answers each customer text with ``send_msg``, once: its cursor and dedup marks
live in a SQLite file (``KF_STATE_PATH``, by default ``wechat_async_kf.sqlite3``
in the working directory), so a restart or a deploy repeats no answer.

Run it (the settings come from the environment, see ``kf_consumer.Settings``)::

    export WECOM_CORP_ID=ww... WECOM_KF_SECRET=... WECOM_KF_TOKEN=... WECOM_KF_AES_KEY=...
    export REDIS_URL=redis://127.0.0.1:6379/0   # optional: tokens shared with worker.py
    uvicorn fastapi_kf_bot:from_env --factory --app-dir examples --port 8080

Against the emulator instead of WeChat, start ``python -m wechat_async.testing
--port 8000 --kf-callback http://127.0.0.1:8080/kf/callback`` and use the
credentials it prints, with ``WECHAT_BASE_URL=http://127.0.0.1:8000``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from kf_consumer import Answer, KfBot, Settings, echo, wecom_from_settings

from wechat_async import CryptoError, InvalidSignatureError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from wechat_async import WeCom

__all__ = ["create_app", "from_env"]


def create_app(
    wecom: WeCom,
    *,
    path: str = "/kf/callback",
    answer: Answer = echo,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    state_path: str | None = None,
) -> FastAPI:
    """The bot's app: ``wecom`` must carry the Kf callback crypto.

    The consumer runs for the app's lifespan, its state in ``state_path`` (None:
    the default file); ``on_shutdown`` runs after it stops (closing ``wecom``,
    for one). ``app.state.bot`` is the :class:`KfBot`.
    """
    kf = wecom.kf
    bot = KfBot(kf, answer=answer, state_path=state_path)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            async with bot:
                yield
        finally:
            if on_shutdown is not None:
                await on_shutdown()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.bot = bot

    @app.get(path, response_class=PlainTextResponse)
    async def verify_url(msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """WeChat's URL verification: answer the decrypted echostr as plain text."""
        try:
            return await kf.verify_url(msg_signature, timestamp, nonce, echostr)
        except CryptoError as exc:
            raise _refusal(exc) from exc

    @app.post(path, response_class=PlainTextResponse)
    async def callback(request: Request, msg_signature: str, timestamp: str, nonce: str) -> str:
        """A kf_msg_or_event callback: verify, wake the consumer, answer at once."""
        body = await request.body()
        try:
            event = await kf.get_callback_message(body, msg_signature, timestamp, nonce)
        except CryptoError as exc:
            raise _refusal(exc) from exc
        bot.submit(event)
        return "success"

    return app


def _refusal(exc: CryptoError) -> HTTPException:
    # A bad signature is someone else's request; anything else is a malformed one.
    status = 403 if isinstance(exc, InvalidSignatureError) else 400
    return HTTPException(status, "callback refused")


def from_env() -> FastAPI:
    """The app configured from the environment (``uvicorn ... --factory``)."""
    settings = Settings.from_env()
    wecom, close = wecom_from_settings(settings)
    return create_app(wecom, on_shutdown=close, state_path=settings.state_path)


if __name__ == "__main__":
    import os

    import uvicorn

    uvicorn.run(from_env(), host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
