"""WeCom: every WeCom service built from one corp id and app secret."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Self

from wechat_async.tokens.providers import WorkAccessToken
from wechat_async.transport import Transport
from wechat_async.wecom.appchat import AppChat
from wechat_async.wecom.kf import Kf
from wechat_async.wecom.media import Media
from wechat_async.wecom.tag import Tag
from wechat_async.wecom.user import User

if TYPE_CHECKING:
    from types import TracebackType

    from redis.asyncio import Redis
    from redis.asyncio.cluster import RedisCluster

    from wechat_async.crypto import MessageCrypto
    from wechat_async.observability import MetricsHook
    from wechat_async.tokens.refreshing import RefreshSettings
    from wechat_async.tokens.store import TokenStore

__all__ = ["WeCom"]


class WeCom:
    """The WeCom services for one app: ``wecom.kf``, ``.media``, ``.tag``, ``.user``, ``.appchat``.

    WeCom issues one secret per app, and an access token only reaches the APIs
    its app may call: build one ``WeCom`` per secret (the 微信客服 secret for
    Kf, the contacts secret for User and Tag, an app's secret for AppChat).
    With ``redis``, tokens are shared by every process that uses the same
    Redis and prefix; otherwise they live in this process. A transport passed
    in is shared and left open; one made here is closed by `aclose`.

    Raises:
        InvalidArgumentError: ``corp_id`` or ``corp_secret`` is empty or only white space.
        ConfigurationError: ``redis`` is given with a ``redis_prefix`` that is empty or
            holds ``{`` or ``}``.
    """

    def __init__(
        self,
        corp_id: str,
        corp_secret: str,
        *,
        transport: Transport | None = None,
        redis: Redis | RedisCluster | None = None,
        redis_prefix: str = "wechat_async",
        store: TokenStore | None = None,
        crypto: MessageCrypto | None = None,
        settings: RefreshSettings | None = None,
        metrics: MetricsHook | None = None,
    ) -> None:
        """Build the token provider now; each service on first use."""
        if redis is not None and store is None:
            # Imported here so that apps without Redis never load redis.
            from wechat_async.tokens.redis import RedisTokenStore  # noqa: PLC0415

            store = RedisTokenStore(redis, prefix=redis_prefix)
        self._owns_transport = transport is None
        self.transport = Transport(metrics=metrics) if transport is None else transport
        self.token = WorkAccessToken(
            corp_id,
            corp_secret,
            transport=self.transport,
            store=store,
            settings=settings,
            metrics=metrics,
        )
        self.crypto = crypto

    def __repr__(self) -> str:
        """Show the token provider, which hides the secret."""
        return f"WeCom(token={self.token!r})"

    @functools.cached_property
    def kf(self) -> Kf:
        """微信客服 (cgi-bin/kf/*), with callbacks when ``crypto`` was given."""
        return Kf(self.transport, self.token, self.crypto)

    @functools.cached_property
    def media(self) -> Media:
        """Temporary media (cgi-bin/media/*)."""
        return Media(self.transport, self.token)

    @functools.cached_property
    def tag(self) -> Tag:
        """Tags (cgi-bin/tag/*)."""
        return Tag(self.transport, self.token)

    @functools.cached_property
    def user(self) -> User:
        """Members (cgi-bin/user/*)."""
        return User(self.transport, self.token)

    @functools.cached_property
    def appchat(self) -> AppChat:
        """App group chats (cgi-bin/appchat/*)."""
        return AppChat(self.transport, self.token)

    async def aclose(self) -> None:
        """Close the transport if this facade made it."""
        if self._owns_transport:
            await self.transport.aclose()

    async def __aenter__(self) -> Self:  # noqa: D105
        return self

    async def __aexit__(  # noqa: D105
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
