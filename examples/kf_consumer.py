"""The Kf bot's consumer, shared by the FastAPI and aiohttp examples, and their settings.

A ``kf_msg_or_event`` callback only says "something new is waiting". WeChat
wants the callback answered within 5 seconds, so the web handler verifies it,
hands it to :meth:`KfBot.submit` (no I/O) and answers ``success`` at once; a
``KfConsumer`` then pulls the messages with ``sync_msg`` in the background and
the bot replies to each customer text.

The consumer keeps each account's cursor and the msgids it handled in a
SQLite file (``KF_STATE_PATH``, by default ``wechat_async_kf.sqlite3`` in the
working directory): a restarted bot answers each message once, and a
deploy that stops it while it answers lets that answer finish first. Several
bot processes on one host may share the file; across hosts, give the
``KfConsumer`` ``redis=`` instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from wechat_async import Hosts, KfConsumer, MessageCrypto, Origin, Text, Transport, WeCom
from wechat_async.wecom.kf_messages import TextMessage

if TYPE_CHECKING:
    from types import TracebackType

    from wechat_async import Kf, KfCallbackMessage, MetricsHook
    from wechat_async.wecom.kf_messages import SyncedMessage
    from wechat_async.wecom.messages import OutgoingMessage

__all__ = ["Answer", "KfBot", "Settings", "echo", "wecom_from_settings"]

logger = logging.getLogger("examples.kf_bot")

Answer = Callable[[TextMessage], Awaitable["OutgoingMessage | None"]]
"""What the bot says to a customer's text; ``None`` says nothing."""


async def echo(message: TextMessage) -> OutgoingMessage | None:
    """The default answer: repeat what the customer said."""
    return Text(f"你说：{message.text.content}")


class KfBot:
    """Answer every customer text, once, through a ``KfConsumer``.

    Use as ``async with bot:`` around the web app's lifetime; call
    :meth:`submit` from the callback handler.
    """

    def __init__(
        self,
        kf: Kf,
        *,
        answer: Answer = echo,
        state_path: str | os.PathLike[str] | None = None,
    ) -> None:
        """Answer with ``answer``; the consumer's state is in ``state_path`` (None: the default)."""
        self._kf = kf
        self._answer = answer
        self.consumer = KfConsumer(kf, self._reply, state_path=state_path)
        """Pulls each account's new messages and hands them to the bot, once each."""

    def submit(self, event: KfCallbackMessage) -> None:
        """Wake the consumer for the event's account; never waits: the handler answers at once."""
        if event.open_kfid:
            self.consumer.notify(event.token, event.open_kfid)

    async def _reply(self, message: SyncedMessage) -> None:
        # Only customers' texts: our own replies come back through sync_msg too.
        if not isinstance(message, TextMessage) or message.origin != Origin.CUSTOMER:
            return
        if not message.external_userid or not message.open_kfid:
            return
        try:
            reply = await self._answer(message)
            if reply is not None:
                await self._kf.send_msg(message.external_userid, message.open_kfid, reply)
        except Exception:
            # At most once: a failed reply is logged, never sent again (the consumer
            # would retry a handler that raises, and a send that may have landed must not
            # be repeated).
            logger.exception("could not answer message %s", message.msgid)

    async def __aenter__(self) -> Self:
        """Start the consumer."""
        await self.consumer.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the consumer: an answer being sent finishes first (within a few seconds)."""
        await self.consumer.aclose()


# -- settings shared by the examples ---------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the examples read from the environment.

    ``WECOM_CORP_ID``, ``WECOM_KF_SECRET``, ``WECOM_KF_TOKEN`` and
    ``WECOM_KF_AES_KEY`` (the Kf callback settings) are required;
    ``REDIS_URL`` shares tokens between processes under ``REDIS_PREFIX``;
    ``WECHAT_BASE_URL`` sends every call to an emulator such as
    ``python -m wechat_async.testing`` instead of WeChat; ``KF_STATE_PATH``
    moves the consumer's SQLite file.
    """

    corp_id: str
    kf_secret: str
    callback_token: str
    encoding_aes_key: str
    redis_url: str | None = None
    redis_prefix: str = "wechat_async"
    base_url: str | None = None
    state_path: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Read the settings; a missing required variable raises ``SystemExit``."""
        required = ("WECOM_CORP_ID", "WECOM_KF_SECRET", "WECOM_KF_TOKEN", "WECOM_KF_AES_KEY")
        missing = [name for name in required if not os.environ.get(name)]
        if missing:
            raise SystemExit(f"set the environment variables {', '.join(missing)}")
        return cls(
            corp_id=os.environ["WECOM_CORP_ID"],
            kf_secret=os.environ["WECOM_KF_SECRET"],
            callback_token=os.environ["WECOM_KF_TOKEN"],
            encoding_aes_key=os.environ["WECOM_KF_AES_KEY"],
            redis_url=os.environ.get("REDIS_URL") or None,
            redis_prefix=os.environ.get("REDIS_PREFIX") or "wechat_async",
            base_url=os.environ.get("WECHAT_BASE_URL") or None,
            state_path=os.environ.get("KF_STATE_PATH") or None,
        )


def wecom_from_settings(
    settings: Settings, *, metrics: MetricsHook | None = None
) -> tuple[WeCom, Callable[[], Awaitable[None]]]:
    """A ``WeCom`` for the Kf secret with callback crypto, and the coroutine that closes it.

    With ``REDIS_URL`` its tokens live in Redis under ``REDIS_PREFIX``, shared
    with every process that uses the same pair. Close it with ``await close()``.
    """
    stack = contextlib.AsyncExitStack()
    redis = None
    if settings.redis_url is not None:
        from redis.asyncio import Redis  # noqa: PLC0415 - only apps with Redis load redis

        redis = Redis.from_url(settings.redis_url)
        stack.push_async_callback(redis.aclose)
    transport = None
    if settings.base_url is not None:
        base = settings.base_url.rstrip("/")
        transport = Transport(
            hosts=Hosts(official=base, work=base + "/qyapi", official_standby=()), metrics=metrics
        )
        stack.push_async_callback(transport.aclose)
    wecom = WeCom(
        settings.corp_id,
        settings.kf_secret,
        transport=transport,
        redis=redis,
        redis_prefix=settings.redis_prefix,
        crypto=MessageCrypto(
            settings.callback_token, settings.encoding_aes_key, receive_id=settings.corp_id
        ),
        metrics=metrics,
    )
    stack.push_async_callback(wecom.aclose)
    return wecom, stack.aclose
