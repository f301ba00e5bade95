"""The Kf bot's consumer, shared by the FastAPI and aiohttp examples, and their settings.

A ``kf_msg_or_event`` callback only says "something new is waiting". WeChat
wants the callback answered within 5 seconds, so the web handler verifies it,
hands it to :meth:`KfBot.submit` and answers ``success`` at once; one
background task then pulls the messages with ``sync_msg`` and replies.

One task means the callbacks of an account are handled one after another, so
two callbacks never pull the same page twice. The cursor of each account is
kept in memory here: a real bot stores it (Redis, a database) once a page is
handled, or it sees the last days' messages again after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from wechat_async import Hosts, MessageCrypto, Origin, Text, Transport, WeCom
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
    """Pull new Kf messages after each callback and answer every customer text.

    Use as ``async with bot:`` around the web app's lifetime; call
    :meth:`submit` from the callback handler.
    """

    def __init__(self, kf: Kf, *, answer: Answer = echo, max_pending: int = 1000) -> None:
        """Answer with ``answer``; keep at most ``max_pending`` callbacks waiting."""
        self._kf = kf
        self._answer = answer
        self._queue: asyncio.Queue[KfCallbackMessage] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None
        self.cursors: dict[str, str] = {}
        """The last ``next_cursor`` handled, per open_kfid."""

    def submit(self, event: KfCallbackMessage) -> bool:
        """Queue a verified callback; never waits, so the handler answers at once.

        A full queue drops the event: the messages stay in ``sync_msg`` and the
        next callback of that account pulls them.
        """
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            logger.warning("callback queue full; dropped an event for %s", event.open_kfid)
            return False
        return True

    async def join(self) -> None:
        """Wait until every queued callback has been handled."""
        await self._queue.join()

    async def handle(self, event: KfCallbackMessage) -> int:
        """Pull everything new for the event's account and answer it; returns replies sent."""
        if not event.open_kfid:
            return 0
        replies = 0
        pages = self._kf.iter_sync_msg(
            cursor=self.cursors.get(event.open_kfid),
            token=event.token or None,
            open_kfid=event.open_kfid,
        )
        async for page in pages:
            for message in page.msg_list:
                replies += await self._reply(message, event.open_kfid)
            if page.next_cursor:
                self.cursors[event.open_kfid] = page.next_cursor
        return replies

    async def _reply(self, message: SyncedMessage, open_kfid: str) -> int:
        # Only customers' texts: our own replies come back through sync_msg too.
        if not isinstance(message, TextMessage) or message.origin != Origin.CUSTOMER:
            return 0
        if not message.external_userid:
            return 0
        try:
            reply = await self._answer(message)
            if reply is None:
                return 0
            await self._kf.send_msg(message.external_userid, message.open_kfid or open_kfid, reply)
        except Exception:
            # At most once: a failed reply is logged, never retried with the whole page.
            logger.exception("could not answer message %s", message.msgid)
            return 0
        return 1

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self.handle(event)
            except Exception:
                logger.exception("sync_msg failed for %s", event.open_kfid)
            finally:
                self._queue.task_done()

    async def __aenter__(self) -> Self:
        """Start the consumer task."""
        self._task = asyncio.create_task(self._run(), name="kf-bot-consumer")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the consumer task; callbacks still queued are left to sync_msg."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


# -- settings shared by the examples ---------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the examples read from the environment.

    ``WECOM_CORP_ID``, ``WECOM_KF_SECRET``, ``WECOM_KF_TOKEN`` and
    ``WECOM_KF_AES_KEY`` (the Kf callback settings) are required;
    ``REDIS_URL`` shares tokens between processes under ``REDIS_PREFIX``;
    ``WECHAT_BASE_URL`` sends every call to an emulator such as
    ``python -m wechat_async.testing`` instead of WeChat.
    """

    corp_id: str
    kf_secret: str
    callback_token: str
    encoding_aes_key: str
    redis_url: str | None = None
    redis_prefix: str = "wechat_async"
    base_url: str | None = None

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
