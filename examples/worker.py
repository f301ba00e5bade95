"""A plain asyncio worker that shares the Kf bot's access token through Redis.

The web app (``fastapi_kf_bot.py`` or ``aiohttp_callback.py``) and this worker
build their ``WeCom`` with the same ``REDIS_URL`` and ``REDIS_PREFIX``, so they
use one access token: whichever process needs it first fetches it, every
other one reads it from Redis. The worker lists the Kf accounts and, when
asked, sends one scheduled message; it then says how many tokens it fetched
from WeChat itself (0 when the web app fetched one already).

Run it with the bot's settings (see ``kf_consumer.Settings``)::

    export REDIS_URL=redis://127.0.0.1:6379/0      # required here
    python examples/worker.py
    # and to send a message: NOTIFY_OPEN_KFID=wk... NOTIFY_TOUSER=wm... NOTIFY_TEXT=...
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass

from kf_consumer import Settings, wecom_from_settings

from wechat_async import Event, Text, WeChatError

__all__ = ["Notification", "run"]


@dataclass(frozen=True)
class Notification:
    """One message to send: to ``touser`` from the account ``open_kfid``."""

    open_kfid: str
    touser: str
    text: str


async def run(settings: Settings, notification: Notification | None = None) -> int:
    """Do the worker's job once; returns how many tokens it fetched from WeChat."""
    fetched = 0

    def count_fetches(event: Event) -> None:
        nonlocal fetched
        if event.name == "token_fetch":
            fetched += 1

    wecom, close = wecom_from_settings(settings, metrics=count_fetches)
    try:
        accounts = [account async for account in wecom.kf.iter_accounts()]
        print(f"Kf accounts: {len(accounts)}")
        for account in accounts:
            print(f"  {account.open_kfid}  {account.name}")
        if notification is not None:
            msgid = await wecom.kf.send_msg(
                notification.touser, notification.open_kfid, Text(notification.text)
            )
            print(f"sent to {notification.touser}: msgid={msgid}")
    finally:
        await close()
    print(f"access tokens this worker fetched from WeChat: {fetched}")
    return fetched


def main() -> int:
    """Run once from the environment; exit code 1 on a WeChat error."""
    settings = Settings.from_env()
    if settings.redis_url is None:
        raise SystemExit("set REDIS_URL: the worker shares its token with the web app there")
    notification = None
    if os.environ.get("NOTIFY_OPEN_KFID") and os.environ.get("NOTIFY_TOUSER"):
        notification = Notification(
            os.environ["NOTIFY_OPEN_KFID"],
            os.environ["NOTIFY_TOUSER"],
            os.environ.get("NOTIFY_TEXT") or "您好，这是一条定时消息",
        )
    try:
        asyncio.run(run(settings, notification))
    except WeChatError as exc:
        print(f"worker failed: {exc!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
