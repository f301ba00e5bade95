"""Access-token providers: classic, stable and WeCom tokens, and a static one."""

from __future__ import annotations

import hashlib
import time
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Final

from wechat_async._validate import text
from wechat_async.errors import InvalidResponseError, TokenUnavailableError
from wechat_async.tokens.refreshing import RefreshingToken, RefreshSettings
from wechat_async.transport import Host

if TYPE_CHECKING:
    from wechat_async.observability import MetricsHook
    from wechat_async.tokens.store import TokenStore
    from wechat_async.transport import Transport

__all__ = ["AccessToken", "StableAccessToken", "StaticToken", "WorkAccessToken"]


def secret_fingerprint(secret: str) -> str:
    """A short one-way tag that tells secrets apart in cache keys without storing them."""
    return hashlib.sha256(b"wechat_async/secret\x00" + secret.encode()).hexdigest()[:16]


def parse_token_reply(
    reply: dict[str, Any], path: str, *, field: str = "access_token"
) -> tuple[str, float]:
    """Read the token (``field``, ``access_token`` by default) and ``expires_in`` from a reply.

    Open Platform endpoints name the token ``component_access_token`` or
    ``authorizer_access_token``.
    """
    token = reply.get(field)
    if not isinstance(token, str) or not token:
        raise InvalidResponseError(f"{path} answered without {field}")
    return token, parse_expires_in(reply.get("expires_in"), path)


MIN_EXPIRES_IN: Final = 1.0
MAX_EXPIRES_IN: Final = 86_400.0
"""The ``expires_in`` a token reply may carry, in seconds. WeChat's tokens live two
hours ("目前是7200秒之内的值"); a day is room to spare, and anything outside the range
is a broken or hostile answer, not a token to schedule by."""


def parse_expires_in(value: object, path: str) -> float:
    """Check a reply's ``expires_in``: a finite number of seconds within a sane range.

    Raises:
        InvalidResponseError: missing, not a number (a string, a bool), NaN or infinite,
            or outside `MIN_EXPIRES_IN` .. `MAX_EXPIRES_IN`.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "missing" if value is None else f"a {type(value).__name__}"
        raise InvalidResponseError(f"expires_in is {kind}, not a number of seconds", path)
    # Compare before converting: float(10**400) would raise OverflowError.
    if not MIN_EXPIRES_IN <= value <= MAX_EXPIRES_IN:  # False for NaN as well
        raise InvalidResponseError(
            f"expires_in is outside {MIN_EXPIRES_IN:g}..{MAX_EXPIRES_IN:g} seconds", path
        )
    return float(value)


class StaticToken:
    """A token that comes from elsewhere (a central token service); never refreshed."""

    def __init__(self, token: str) -> None:
        """Serve ``token`` as is."""
        self._token = token

    def __repr__(self) -> str:
        """Never show the token."""
        return "StaticToken(<redacted>)"

    async def get(self) -> str:
        """Return the token."""
        return self._token

    async def invalidate(self, token: str) -> None:
        """Nothing to refresh: the owner of the token must replace it."""


class _SecretToken(RefreshingToken):
    """A provider that fetches with an id and a secret through the transport."""

    _kind: ClassVar[str]
    # What the caller knows the two arguments as, for error messages.
    _argument_names: ClassVar[tuple[str, str]] = ("appid", "secret")

    def __init__(
        self,
        owner_id: str,
        secret: str,
        *,
        transport: Transport,
        store: TokenStore | None = None,
        settings: RefreshSettings | None = None,
        metrics: MetricsHook | None = None,
    ) -> None:
        """The cache key holds the id and a fingerprint of the secret, never the secret.

        Raises:
            InvalidArgumentError: the id or the secret is not a non-empty str.
        """
        id_name, secret_name = self._argument_names
        text(id_name, owner_id, allow_blank=False)
        text(secret_name, secret, allow_blank=False)
        super().__init__(
            key=f"{self._kind}:{owner_id}:{secret_fingerprint(secret)}",
            store=store,
            settings=settings,
            metrics=metrics,
        )
        self._owner_id = owner_id
        self._secret = secret
        self._transport = transport


class _OfficialAccountToken(_SecretToken):
    """A token of one Official Account (or Mini Program), known by its appid."""

    _kind: ClassVar[str]

    @property
    def appid(self) -> str:
        """The account's appid."""
        return self._owner_id


class AccessToken(_OfficialAccountToken):
    """Official Account token from ``GET cgi-bin/token`` (each fetch rotates it).

    ``AccessToken(appid, secret, transport=..., store=...)``: fetch through the
    transport, share through the store (memory by default).

    Raises:
        InvalidArgumentError: ``appid`` or ``secret`` is not a non-empty str.
    """

    _kind = "access_token"

    async def _fetch(self) -> tuple[str, float]:
        reply = await self._transport.request(
            "GET",
            "cgi-bin/token",
            host=Host.OFFICIAL,
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
        )
        return parse_token_reply(reply, "cgi-bin/token")


class StableAccessToken(_OfficialAccountToken):
    """Official Account token from ``POST cgi-bin/stable_token``.

    Normal mode returns the same token while it is valid, so concurrent fetchers
    never rotate each other's token. Force-refresh mode is used only when a
    token we invalidated (WeChat said 40001/42001 for it) comes back again, and
    only within WeChat's limits: 20 forced refreshes a day, 30 s apart.
    """

    _kind = "stable_token"
    FORCE_PER_DAY = 20
    FORCE_INTERVAL = 30.0

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        transport: Transport,
        store: TokenStore | None = None,
        settings: RefreshSettings | None = None,
        metrics: MetricsHook | None = None,
    ) -> None:
        """Fetch through ``transport``; share through ``store`` (memory by default).

        Raises:
            InvalidArgumentError: ``appid`` or ``secret`` is not a non-empty str.
        """
        super().__init__(
            appid, secret, transport=transport, store=store, settings=settings, metrics=metrics
        )
        self._forced: deque[float] = deque()

    async def _fetch(self) -> tuple[str, float]:
        rejected = self._last_invalidated
        token, expires_in = await self._fetch_mode(force=False)
        if rejected is None or token != rejected:
            return token, expires_in
        self._claim_force_refresh()
        return await self._fetch_mode(force=True)

    def _claim_force_refresh(self) -> None:
        now = time.monotonic()
        while self._forced and now - self._forced[0] > 86_400:  # noqa: PLR2004 - one day
            self._forced.popleft()
        if self._forced and now - self._forced[-1] < self.FORCE_INTERVAL:
            raise TokenUnavailableError(
                f"stable_token for {self.appid} was rejected, and the last forced refresh "
                f"was under {self.FORCE_INTERVAL:g}s ago"
            )
        if len(self._forced) >= self.FORCE_PER_DAY:
            raise TokenUnavailableError(
                f"stable_token for {self.appid} was rejected, and today's "
                f"{self.FORCE_PER_DAY} forced refreshes are used up"
            )
        self._forced.append(now)

    async def _fetch_mode(self, *, force: bool) -> tuple[str, float]:
        reply = await self._transport.request(
            "POST",
            "cgi-bin/stable_token",
            host=Host.OFFICIAL,
            json={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self._secret,
                "force_refresh": force,
            },
            # Normal mode hands out the current token, so it may be sent again;
            # a forced refresh rotates the token and counts against a daily limit.
            idempotent=not force,
        )
        return parse_token_reply(reply, "cgi-bin/stable_token")


class WorkAccessToken(_SecretToken):
    """WeCom token from ``GET cgi-bin/gettoken`` for one corp and one app secret.

    ``WorkAccessToken(corp_id, corp_secret, transport=..., store=...)``; two apps
    of one corp have different secrets and so never share a cached token.

    Raises:
        InvalidArgumentError: ``corp_id`` or ``corp_secret`` is not a non-empty str.
    """

    _kind = "work_token"
    _argument_names = ("corp_id", "corp_secret")

    @property
    def corp_id(self) -> str:
        """The WeCom corp id."""
        return self._owner_id

    async def _fetch(self) -> tuple[str, float]:
        reply = await self._transport.request(
            "GET",
            "cgi-bin/gettoken",
            host=Host.WORK,
            params={"corpid": self.corp_id, "corpsecret": self._secret},
        )
        return parse_token_reply(reply, "cgi-bin/gettoken")
