"""Open Platform component (第三方平台): tickets, component and authorizer tokens, authorization.

How the credentials chain together, all kept in one `TokenStore`::

    component_verify_ticket   pushed by WeChat every 10 minutes to the authorization
                              event URL; handle_callback stores it (valid 12 hours)
      └─ component_access_token   api_component_token, from appid + secret + ticket
           ├─ pre_auth_code  →  auth_url  →  the account's admin authorizes
           └─ api_query_auth(authorization_code)
                └─ authorizer_refresh_token   kept until replaced (losing it means
                     │                        asking the account to authorize again)
                     └─ authorizer_access_token   api_authorizer_token; an ordinary
                                                  access_token for any service

Pushes to the authorization event URL change nothing when replayed. A
push is judged, after its signature, by:

* freshness: a signed timestamp more than ``max_age`` (300 s) away from
  this machine's clock raises StaleTimestampError;
* replay: each (msg_signature, nonce) is accepted once; the mark is a
  `TokenStore.claim` held for the window, so workers sharing a store share
  it, and a second delivery raises ReplayedMessageError;
* order: what a push changes carries its ``CreateTime`` as a version
  (`TokenStore.set_secret_if_newer`), so a ticket older than the stored one
  is not stored, and an ``unauthorized`` older than the account's latest
  authorization (``authorized`` / ``updateauthorized`` pushes, and
  `Component.query_auth`, stamped with this machine's clock) forgets
  nothing. Such a push comes back with ``superseded=True``.

Both token providers are `RefreshingToken`
subclasses, so each token is fetched once across every task and every process
that shares the store. Store keys carry appids and a fingerprint of the
secret, never a secret; tickets, codes and tokens stay out of reprs, logs and
error messages.

Component endpoints take ``component_access_token`` in the query (the
classic documentation's name; WeChat's newer pages call the same parameter
``access_token``). Every method is one endpoint on api.weixin.qq.com, and its
docstring opens with the API path.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import quote, urlencode

import attrs
import cattrs

from wechat_async._models import converter, structure
from wechat_async._validate import integer, number, optional_text, text
from wechat_async.callbacks import parse_xml
from wechat_async.crypto import (
    MessageParseError,
    ReplayedMessageError,
    check_freshness,
)
from wechat_async.errors import (
    APIError,
    InvalidArgumentError,
    InvalidResponseError,
    TokenUnavailableError,
)
from wechat_async.open_platform.component_models import (
    AuthorizationInfo,
    AuthorizedEvent,
    AuthorizerInfoResult,
    AuthorizerList,
    AuthorizerListItem,
    AuthorizerOption,
    AuthType,
    ComponentEvent,
    ComponentVerifyTicketEvent,
    RegistrationStatus,
    UnauthorizedEvent,
    UnknownComponentEvent,
    UpdateAuthorizedEvent,
)
from wechat_async.tokens.providers import (
    parse_expires_in,
    parse_token_reply,
    secret_fingerprint,
)
from wechat_async.tokens.refreshing import DEFAULT_SETTINGS, RefreshingToken, RefreshSettings
from wechat_async.tokens.store import (
    MemoryTokenStore,
    StoredToken,
    TokenStore,
    TokenStoreUnavailableError,
)
from wechat_async.transport import Host

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from wechat_async.crypto import MessageCrypto
    from wechat_async.observability import MetricsHook
    from wechat_async.transport import Transport

__all__ = [
    "DEFAULT_PUSH_MAX_AGE",
    "H5_AUTH_URL",
    "PC_AUTH_URL",
    "TICKET_TTL",
    "AuthorizerAccessToken",
    "Component",
    "ComponentAccessToken",
]

log = logging.getLogger("wechat_async.open_platform")

TICKET_TTL: Final = 12 * 3600.0
"""Seconds a component_verify_ticket stays valid (12 hours, per WeChat's docs)."""

DEFAULT_PUSH_MAX_AGE: Final = 300.0
"""Seconds a push's signed timestamp may differ from this machine's clock (`Component`)."""

PC_AUTH_URL: Final = "https://mp.weixin.qq.com/cgi-bin/componentloginpage"
"""The PC authorization page: the admin scans a QR code."""
H5_AUTH_URL: Final = "https://open.weixin.qq.com/wxaopen/safe/bindcomponent"
"""The mobile (H5) authorization page, opened inside WeChat."""

_COMPONENT_TOKEN_PARAM: Final = "component_access_token"  # noqa: S105 - a parameter name
_MAX_AUTHORIZER_PAGE: Final = 500
_APPID: Final = re.compile(r"[0-9A-Za-z_-]{1,64}")
_REDIRECT: Final = re.compile(r"https?://\S+", re.IGNORECASE)
# Documented lengths of the company code per code_type; type 2 (organization
# code, "xxxxxxxx-x") is left to WeChat.
_CODE_LENGTHS: Final = {1: 18, 3: 15}


def _appid(argument: str, value: object) -> str:
    if not isinstance(value, str) or _APPID.fullmatch(value) is None:
        raise InvalidArgumentError(argument, "must be an appid: 1-64 characters of [0-9A-Za-z_-]")
    return value


def _ticket_key(component_appid: str) -> str:
    return f"component_verify_ticket:{component_appid}"


def _refresh_key(component_appid: str, authorizer_appid: str) -> str:
    return f"authorizer_refresh_token:{component_appid}:{authorizer_appid}"


def _authorizer_token_key(component_appid: str, authorizer_appid: str) -> str:
    return f"authorizer_token:{component_appid}:{authorizer_appid}"


def _authorization_key(component_appid: str, authorizer_appid: str) -> str:
    # Versioned by the CreateTime of the account's latest authorization change;
    # holds the InfoType (or "query_auth") that made it.
    return f"authorization:{component_appid}:{authorizer_appid}"


def _push_key(component_appid: str, msg_signature: str, nonce: str | int) -> str:
    # Hashed: a fixed length and no character that could break a Redis hash tag.
    digest = hashlib.sha256(f"{msg_signature}\n{nonce}".encode()).hexdigest()[:32]
    return f"component_push:{component_appid}:{digest}"


async def _read_secret(store: TokenStore, key: str, what: str) -> str | None:
    try:
        return await store.get_secret(key)
    except TokenStoreUnavailableError as exc:
        raise TokenUnavailableError(f"cannot read the {what}: the token store is down") from exc


class ComponentAccessToken(RefreshingToken):
    """The component_access_token from ``POST cgi-bin/component/api_component_token``.

    Fetched with the component's appid, secret and the latest
    component_verify_ticket from the store; until WeChat has pushed a ticket
    (every 10 minutes, to the authorization event URL) and
    `Component.handle_callback` has stored it, `get` raises
    TokenUnavailableError. Valid 2 hours; refreshed ahead like every token.
    """

    PATH: Final = "cgi-bin/component/api_component_token"

    def __init__(
        self,
        component_appid: str,
        component_appsecret: str,
        *,
        transport: Transport,
        store: TokenStore | None = None,
        settings: RefreshSettings | None = None,
        metrics: MetricsHook | None = None,
    ) -> None:
        """The store key holds the appid and a fingerprint of the secret, never the secret.

        Raises:
            InvalidArgumentError: ``component_appid`` is not an appid (1 to 64 characters
                of ``[0-9A-Za-z_-]``), or ``component_appsecret`` is empty.
        """
        _appid("component_appid", component_appid)
        text("component_appsecret", component_appsecret)
        store = store if store is not None else MemoryTokenStore()
        super().__init__(
            key=f"component_token:{component_appid}:{secret_fingerprint(component_appsecret)}",
            store=store,
            settings=settings,
            metrics=metrics,
        )
        self._appid = component_appid
        self._secret = component_appsecret
        self._transport = transport
        self._secrets = store

    @property
    def component_appid(self) -> str:
        """The component's appid."""
        return self._appid

    async def _fetch(self) -> tuple[str, float]:
        ticket = await _read_secret(
            self._secrets, _ticket_key(self._appid), "component_verify_ticket"
        )
        if not ticket:
            raise TokenUnavailableError(
                f"no component_verify_ticket for {self._appid} yet: WeChat pushes one every "
                "10 minutes to the authorization event URL; pass those pushes to "
                "Component.handle_callback, which stores it"
            )
        reply = await self._transport.request(
            "POST",
            self.PATH,
            host=Host.OFFICIAL,
            json={
                "component_appid": self._appid,
                "component_appsecret": self._secret,
                "component_verify_ticket": ticket,
            },
            idempotent=True,  # a token fetch: a lost reply only leaves a token unused
        )
        return parse_token_reply(reply, self.PATH, field="component_access_token")


class AuthorizerAccessToken(RefreshingToken):
    """An authorized account's access token from ``POST cgi-bin/component/api_authorizer_token``.

    A normal token provider sending ``access_token``, so any service works
    with it: ``Custom(transport, AuthorizerAccessToken(component, appid))``.
    Fetching takes the authorizer_refresh_token that `Component.query_auth`
    stored; a new refresh token in the reply replaces it in the store. Uses
    the component's transport, store, settings and metrics.
    """

    PATH: Final = "cgi-bin/component/api_authorizer_token"

    def __init__(self, component: Component, authorizer_appid: str) -> None:
        """Fetch through ``component``'s token for the account ``authorizer_appid``.

        Raises:
            InvalidArgumentError: ``authorizer_appid`` is not an appid (1 to 64 characters
                of ``[0-9A-Za-z_-]``).
        """
        _appid("authorizer_appid", authorizer_appid)
        super().__init__(
            key=_authorizer_token_key(component.component_appid, authorizer_appid),
            store=component.store,
            settings=component.settings,
            metrics=component.metrics,
        )
        self._component = component
        self._authorizer_appid = authorizer_appid

    @property
    def authorizer_appid(self) -> str:
        """The authorized account's appid."""
        return self._authorizer_appid

    @property
    def component(self) -> Component:
        """The component this account authorized."""
        return self._component

    async def _fetch(self) -> tuple[str, float]:
        component = self._component
        refresh_key = _refresh_key(component.component_appid, self._authorizer_appid)
        store = component.store
        refresh_token = await _read_secret(store, refresh_key, "authorizer_refresh_token")
        if not refresh_token:
            raise TokenUnavailableError(
                f"no authorizer_refresh_token stored for {self._authorizer_appid}: authorize "
                "first (Component.query_auth stores it)"
            )
        reply = await component.request(
            self.PATH,
            {
                "component_appid": component.component_appid,
                "authorizer_appid": self._authorizer_appid,
                "authorizer_refresh_token": refresh_token,
            },
            idempotent=True,  # a token fetch, as above
        )
        token = parse_token_reply(reply, self.PATH, field="authorizer_access_token")
        rotated = reply.get("authorizer_refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh_token:
            # Losing a refresh token means asking the account to authorize again,
            # so a failure to keep it is raised, not logged.
            await store.set_secret(refresh_key, rotated)
        return token


class Component:
    """An Open Platform third-party platform (component): its tokens, callbacks and calls.

    ``crypto`` is the component's MessageCrypto (message token, EncodingAESKey
    and the component appid as receive id). ``store`` (memory by default)
    keeps the ticket, the component token, authorizer tokens and refresh
    tokens, and remembers the pushes accepted; share a RedisTokenStore
    between processes.

    ``max_age`` (seconds, `DEFAULT_PUSH_MAX_AGE` = 300) is the freshness
    window of `handle_callback`, checked whatever ``crypto.max_age`` says:
    a push whose signed timestamp is further than that from this machine's
    clock is refused, and each accepted push is remembered as long as it
    could be replayed inside it. ``None`` turns the freshness check off
    (pushes are then remembered for 300 s); the CreateTime order still holds.
    Keep the clock in sync (NTP).
    """

    def __init__(
        self,
        transport: Transport,
        component_appid: str,
        component_appsecret: str,
        *,
        store: TokenStore | None = None,
        crypto: MessageCrypto,
        settings: RefreshSettings | None = None,
        metrics: MetricsHook | None = None,
        max_age: float | None = DEFAULT_PUSH_MAX_AGE,
    ) -> None:
        """Check the ids; nothing is sent until the first call.

        Raises:
            InvalidArgumentError: ``component_appid`` is not an appid (1 to 64 characters
                of ``[0-9A-Za-z_-]``), ``component_appsecret`` is empty, or ``max_age`` is
                neither None nor a positive number of seconds.
        """
        self._max_age = None if max_age is None else number("max_age", max_age)
        self._store: TokenStore = store if store is not None else MemoryTokenStore()
        # The token provider checks the appid and the secret, for both of them.
        self._token = ComponentAccessToken(
            component_appid,
            component_appsecret,
            transport=transport,
            store=self._store,
            settings=settings,
            metrics=metrics,
        )
        self._appid = self._token.component_appid
        self._transport = transport
        self._crypto = crypto
        self._settings = settings
        self._metrics = metrics
        self._authorizers: dict[str, AuthorizerAccessToken] = {}

    def __repr__(self) -> str:
        """Show the appid only."""
        return f"Component(component_appid={self._appid!r})"

    @property
    def max_age(self) -> float | None:
        """The freshness window of pushes in seconds, or None when it is not checked."""
        return self._max_age

    @property
    def component_appid(self) -> str:
        """The component's appid."""
        return self._appid

    @property
    def token(self) -> ComponentAccessToken:
        """The component_access_token provider."""
        return self._token

    @property
    def store(self) -> TokenStore:
        """The store of tickets, tokens and refresh tokens."""
        return self._store

    @property
    def settings(self) -> RefreshSettings | None:
        """The refresh settings the token providers use (None: the defaults)."""
        return self._settings

    @property
    def metrics(self) -> MetricsHook | None:
        """The metrics hook the token providers report to."""
        return self._metrics

    def authorizer_token(self, authorizer_appid: str) -> AuthorizerAccessToken:
        """The (cached) `AuthorizerAccessToken` of one authorized account.

        Raises:
            InvalidArgumentError: ``authorizer_appid`` is not an appid (1 to 64 characters
                of ``[0-9A-Za-z_-]``).
        """
        provider = self._authorizers.get(authorizer_appid)
        if provider is None:
            provider = AuthorizerAccessToken(self, authorizer_appid)
            self._authorizers[authorizer_appid] = provider
        return provider

    async def request(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        params: Mapping[str, str | int] | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """POST ``body`` to a component endpoint with component_access_token in the query.

        ``path`` is a bare API path such as ``cgi-bin/component/api_query_auth``;
        query values go in ``params``. The token needs a stored
        component_verify_ticket (see `ComponentAccessToken`). The call is not
        idempotent unless ``idempotent=True`` says so (see `Transport.request`).

        Raises:
            ConfigurationError: ``path`` carries a host or a query, or ``idempotent`` is not a
                bool or None.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        return await self._transport.request(
            "POST",
            path,
            host=Host.OFFICIAL,
            token=self._token,
            token_param=_COMPONENT_TOKEN_PARAM,
            params=params,
            json=dict(body),
            idempotent=idempotent,
        )

    async def _post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        idempotent: bool,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        """`request` for this module's own endpoints, whose paths are constants.

        ``idempotent`` has no default: each endpoint states it.

        Raises:
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        return await self.request(path, body, params=params, idempotent=idempotent)

    # -- the authorization event URL ---------------------------------------------------

    async def handle_callback(
        self, body: bytes | str, msg_signature: str, timestamp: str | int, nonce: str | int
    ) -> ComponentEvent:
        """POST `<authorization event URL>`: verify, decrypt and type an authorization event.

        A ``component_verify_ticket`` is stored (for 12 hours) before this
        returns, so the next component token fetch uses it; an
        ``unauthorized`` push forgets the account's tokens. Answer WeChat
        with the plain text ``success`` (for a ReplayedMessageError too: the
        push was handled once already).

        Nothing is stored for a push that is stale (outside ``max_age``) or
        replayed (its msg_signature and nonce accepted before, by any worker
        sharing the store). A push older (by ``CreateTime``) than what it
        would change (a newer ticket, a later authorization of the account)
        changes nothing and comes back with ``superseded=True``.

        Raises:
            InvalidSignatureError: ``msg_signature`` does not match; nothing is stored.
            StaleTimestampError: the signed ``timestamp`` is further than ``max_age`` (or the
                crypto's ``max_age``) from this machine's clock.
            ReplayedMessageError: this msg_signature and nonce were accepted already.
            MessageTooLargeError: the body or the decrypted event is larger than allowed.
            MessageParseError: the envelope or the event XML is malformed or has an unexpected
                shape, or a ticket push carries no ticket.
            CryptoError: the ciphertext does not decrypt (bad base64 or padding, a malformed
                buffer, another receive id), or ``timestamp`` or ``nonce`` is not a str or int
                (or, with ``max_age``, ``timestamp`` is not decimal digits).
            TokenStoreUnavailableError: the store could not be reached to remember the push,
                keep the ticket or forget a withdrawn authorizer's tokens.
        """
        plaintext = self._crypto.decrypt_xml(body, msg_signature, timestamp, nonce)
        # Judged only now that the signature vouches for it (see wechat_async.crypto).
        ttl = self._replay_ttl(timestamp)
        event = _event_model(parse_xml(plaintext))
        if isinstance(event, ComponentVerifyTicketEvent) and not event.component_verify_ticket:
            raise MessageParseError("component_verify_ticket push without a ticket")
        # Claimed before acting, so that of two deliveries racing in two workers
        # only one acts; given back if acting fails, so WeChat's retry can act.
        claim = _push_key(self._appid, msg_signature, nonce)
        if not await self._store.claim(claim, ttl):
            raise ReplayedMessageError(
                "this push was accepted already (a replay, or WeChat retrying it)"
            )
        try:
            return await self._apply(event)
        except BaseException:
            with contextlib.suppress(TokenStoreUnavailableError):
                await self._store.delete_secret(claim)
            raise

    def _replay_ttl(self, timestamp: str | int) -> float:
        """Check the signed timestamp against the window; how long to remember the push.

        Raises:
            SignatureInputError: ``timestamp`` is not decimal digits.
            StaleTimestampError: ``timestamp`` lies outside the window.
        """
        window = self._max_age
        if window is None:
            return DEFAULT_PUSH_MAX_AGE
        now = time.time()
        signed = check_freshness(timestamp, window, now=now, what="push timestamp")
        # Refused from signed + window on; a second of slack for rounding.
        return max(1.0, signed + window - now + 1)

    async def _apply(self, event: ComponentEvent) -> ComponentEvent:
        """Make the changes a push asks for, unless something newer made them already."""
        store = self._store
        if isinstance(event, ComponentVerifyTicketEvent):
            stored = await store.set_secret_if_newer(
                _ticket_key(self._appid),
                event.component_verify_ticket,
                event.create_time,
                TICKET_TTL,
            )
            if not stored:
                log.info("a component_verify_ticket older than the stored one was ignored")
                return attrs.evolve(event, superseded=True)
            log.debug("stored a component_verify_ticket for %s", self._appid)
        elif isinstance(event, AuthorizedEvent | UpdateAuthorizedEvent) and event.authorizer_appid:
            key = _authorization_key(self._appid, event.authorizer_appid)
            if not await store.set_secret_if_newer(key, event.info_type, event.create_time):
                return attrs.evolve(event, superseded=True)
        elif isinstance(event, UnauthorizedEvent) and event.authorizer_appid:
            key = _authorization_key(self._appid, event.authorizer_appid)
            if not await store.set_secret_if_newer(key, event.info_type, event.create_time):
                log.info(
                    "an unauthorized push for %s older than its latest authorization was ignored",
                    event.authorizer_appid,
                )
                return attrs.evolve(event, superseded=True)
            await self._forget_authorizer(event.authorizer_appid, event.create_time)
        return event

    async def _forget_authorizer(self, appid: str, create_time: int) -> None:
        # The authorization is gone, and with it the refresh token: keeping
        # either would only turn the next call into a confusing API error. The
        # refresh token carries its own version, so a query_auth that stored a
        # newer one between the check above and this line keeps it.
        forgotten = await self._store.set_secret_if_newer(
            _refresh_key(self._appid, appid), None, create_time
        )
        if not forgotten:
            return
        token_key = _authorizer_token_key(self._appid, appid)
        stored = await self._store.load(token_key)
        if stored is not None:
            await self._store.delete_if(token_key, stored.value)
        provider = self._authorizers.pop(appid, None)
        if provider is not None and stored is not None:
            await provider.invalidate(stored.value)
        log.info("authorizer %s withdrew its authorization; its tokens are forgotten", appid)

    # -- authorization -------------------------------------------------------------------

    async def create_pre_auth_code(self) -> str:
        """POST cgi-bin/component/api_create_preauthcode: a pre_auth_code for `auth_url`.

        Each code serves one authorization; it expires after ``expires_in``
        seconds (the docs say 1800; their sample shows 600).

        Raises:
            APIError: WeChat refused the call.
            InvalidResponseError: the reply holds no ``pre_auth_code``.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/component/api_create_preauthcode"
        # Like a token fetch: a code whose reply was lost is never used, and expires.
        reply = await self._post(path, {"component_appid": self._appid}, idempotent=True)
        code = reply.get("pre_auth_code")
        if not isinstance(code, str) or not code:
            raise InvalidResponseError("no pre_auth_code in the reply", path)
        return code

    def auth_url(
        self,
        pre_auth_code: str,
        redirect_uri: str,
        *,
        auth_type: AuthType | int | None = None,
        biz_appid: str | None = None,
        mobile: bool = False,
    ) -> str:
        """GET mp.weixin.qq.com/cgi-bin/componentloginpage (or the H5 page): the authorization URL.

        The PC page shows a QR code for the admin to scan; ``mobile=True``
        builds the link that opens inside WeChat
        (open.weixin.qq.com/wxaopen/safe/bindcomponent). After authorizing,
        WeChat redirects to ``redirect_uri?auth_code=...&expires_in=...``;
        its domain must be the component's authorization-page domain.
        ``auth_type`` limits the accounts listed (`AuthType`);
        ``biz_appid`` names the one account that may authorize and wins over
        ``auth_type``.

        Raises:
            InvalidArgumentError: ``pre_auth_code`` is empty, ``redirect_uri`` is not an
                http(s):// URL, ``auth_type`` is below 1, or ``biz_appid`` is not an appid.
        """
        params: dict[str, str] = {}
        if mobile:
            params.update(action="bindcomponent", no_scan="1")
        params["component_appid"] = self._appid
        params["pre_auth_code"] = text("pre_auth_code", pre_auth_code)
        if not isinstance(redirect_uri, str) or _REDIRECT.fullmatch(redirect_uri) is None:
            raise InvalidArgumentError("redirect_uri", "must be an http(s):// URL")
        params["redirect_uri"] = redirect_uri
        if auth_type is not None:
            params["auth_type"] = str(integer("auth_type", auth_type, 1))
        if biz_appid is not None:
            params["biz_appid"] = _appid("biz_appid", biz_appid)
        query = urlencode(params, quote_via=quote, safe="")
        if mobile:
            return f"{H5_AUTH_URL}?{query}#wechat_redirect"
        return f"{PC_AUTH_URL}?{query}"

    async def query_auth(self, authorization_code: str) -> AuthorizationInfo:
        """POST cgi-bin/component/api_query_auth: exchange an authorization code.

        Stores the account's authorizer_refresh_token (until replaced) and
        seeds its access token into the store, so
        `authorizer_token` needs no fetch for the next two hours.

        Raises:
            InvalidArgumentError: ``authorization_code`` is empty, or the reply's
                ``authorizer_appid`` is not an appid (1 to 64 characters of ``[0-9A-Za-z_-]``).
            APIError: WeChat refused the call.
            InvalidResponseError: the reply holds no ``authorization_info`` with an
                ``authorizer_appid``.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
            TokenStoreUnavailableError: the store could not be reached to keep the
                authorizer's tokens.
        """
        path = "cgi-bin/component/api_query_auth"
        body = {
            "component_appid": self._appid,
            "authorization_code": text("authorization_code", authorization_code),
        }
        # The authorization code works once: a repeat after the first landed is
        # refused. The refresh token can still be read with get_authorizer_info.
        reply = await self._post(path, body, idempotent=False)
        raw = reply.get("authorization_info")
        if not isinstance(raw, dict):
            raise InvalidResponseError("no authorization_info in the reply", path)
        info = structure(raw, AuthorizationInfo, path)
        if not info.authorizer_appid:
            raise InvalidResponseError("authorization_info without authorizer_appid", path)
        appid = _appid("authorizer_appid", info.authorizer_appid)
        # The account is authorized as of now: an unauthorized push stamped
        # earlier, arriving late or replayed, must not forget what this stores.
        now = int(time.time())
        await self._store.set_secret_if_newer(
            _authorization_key(self._appid, appid), "query_auth", now
        )
        if info.authorizer_refresh_token:
            refresh_key = _refresh_key(self._appid, appid)
            token = info.authorizer_refresh_token
            # WeChat just issued it, so it is kept even if a push stamped later
            # (by a clock ahead of ours) holds a higher version.
            if not await self._store.set_secret_if_newer(refresh_key, token, now):
                await self._store.set_secret(refresh_key, token)
        if info.authorizer_access_token:
            try:
                expires_in = parse_expires_in(info.expires_in, path)
            except InvalidResponseError as exc:
                # The one-time code is spent and the refresh token is kept; the access
                # token is simply fetched with it when first needed.
                log.warning("%s: not keeping the authorizer access token (%s)", path, exc)
            else:
                await self._seed(
                    _authorizer_token_key(self._appid, appid),
                    StoredToken(info.authorizer_access_token, time.time() + expires_in),
                )
        return info

    async def _seed(self, key: str, token: StoredToken) -> None:
        # Through the lease like any refresh: if a fetch holds it, that fetch
        # will publish a token of its own, and this one is simply not needed.
        lease = await self._store.acquire(key, (self._settings or DEFAULT_SETTINGS).lock_ttl)
        if lease is None:
            return
        try:
            await self._store.save(key, token, lease)
        finally:
            await self._store.release(key, lease)

    async def get_authorizer_info(self, authorizer_appid: str) -> AuthorizerInfoResult:
        """POST cgi-bin/component/api_get_authorizer_info: an account's profile and grants.

        Raises:
            InvalidArgumentError: ``authorizer_appid`` is not an appid (1 to 64 characters
                of ``[0-9A-Za-z_-]``).
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/component/api_get_authorizer_info"
        body = {
            "component_appid": self._appid,
            "authorizer_appid": _appid("authorizer_appid", authorizer_appid),
        }
        return structure(await self._post(path, body, idempotent=True), AuthorizerInfoResult, path)

    async def get_authorizer_list(self, offset: int = 0, count: int = 500) -> AuthorizerList:
        """POST cgi-bin/component/api_get_authorizer_list: one page of accounts (count ≤ 500).

        Raises:
            InvalidArgumentError: ``offset`` is negative or ``count`` is not 1 to 500.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/component/api_get_authorizer_list"
        body = {
            "component_appid": self._appid,
            "offset": integer("offset", offset, 0, 2**31 - 1),
            "count": integer("count", count, 1, _MAX_AUTHORIZER_PAGE),
        }
        return structure(await self._post(path, body, idempotent=True), AuthorizerList, path)

    async def iter_authorizers(self, *, page_size: int = 500) -> AsyncIterator[AuthorizerListItem]:
        """POST cgi-bin/component/api_get_authorizer_list, page after page: every account.

        Stops at ``total_count``, or at a page shorter than ``page_size``.

        Raises:
            InvalidArgumentError: ``page_size`` is not 1 to 500.
            APIError: WeChat refused a page request.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        integer("page_size", page_size, 1, _MAX_AUTHORIZER_PAGE)
        offset = 0
        while True:
            page = await self.get_authorizer_list(offset, page_size)
            for item in page.list:
                yield item
            offset += len(page.list)
            if len(page.list) < page_size or offset >= page.total_count:
                return

    async def get_authorizer_option(
        self, authorizer_appid: str, option_name: str
    ) -> AuthorizerOption:
        """POST cgi-bin/component/api_get_authorizer_option: one option of an account.

        Options: ``location_report`` (0 off, 1 on entering a chat, 2 every
        5 s), ``voice_recognize`` (0/1), ``customer_service`` (0/1).

        Raises:
            InvalidArgumentError: ``authorizer_appid`` is not an appid or ``option_name`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        path = "cgi-bin/component/api_get_authorizer_option"
        body = {
            "component_appid": self._appid,
            "authorizer_appid": _appid("authorizer_appid", authorizer_appid),
            "option_name": text("option_name", option_name),
        }
        return structure(await self._post(path, body, idempotent=True), AuthorizerOption, path)

    async def set_authorizer_option(
        self, authorizer_appid: str, option_name: str, option_value: str | int
    ) -> None:
        """POST cgi-bin/component/api_set_authorizer_option: set one option of an account.

        Raises:
            InvalidArgumentError: ``authorizer_appid`` is not an appid, or ``option_name`` or
                ``option_value`` is empty (an int is sent as its digits, a bool is refused).
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        if isinstance(option_value, int) and not isinstance(option_value, bool):
            option_value = str(option_value)
        body = {
            "component_appid": self._appid,
            "authorizer_appid": _appid("authorizer_appid", authorizer_appid),
            "option_name": text("option_name", option_name),
            "option_value": text("option_value", option_value),
        }
        await self._post("cgi-bin/component/api_set_authorizer_option", body, idempotent=True)

    # -- fast registration of Mini Programs ------------------------------------------------

    async def register_mini_program(
        self,
        name: str,
        code: str,
        code_type: int,
        legal_persona_wechat: str,
        legal_persona_name: str,
        *,
        component_phone: str | None = None,
    ) -> None:
        """POST cgi-bin/component/fastregisterweapp?action=create: register a company Mini Program.

        ``code_type``: 1 unified social credit code (18 characters), 2
        organization code, 3 business licence number (15 characters). The
        legal person confirms in WeChat; the outcome arrives as a
        `FastRegisterEvent`.

        Raises:
            InvalidArgumentError: ``code_type`` is not 1 to 3, ``code`` has the wrong length for
                it, or ``name``, ``code``, a legal person field or ``component_phone`` is empty.
            APIError: WeChat refused the call.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        kind = integer("code_type", code_type, 1, 3)
        checked_code = text("code", code, allow_blank=False)
        length = _CODE_LENGTHS.get(kind)
        if length is not None and len(checked_code) != length:
            raise InvalidArgumentError("code", f"must be {length} characters for code_type {kind}")
        body: dict[str, Any] = {
            "name": text("name", name, allow_blank=False),
            "code": checked_code,
            "code_type": kind,
            "legal_persona_wechat": text("legal_persona_wechat", legal_persona_wechat),
            "legal_persona_name": text("legal_persona_name", legal_persona_name),
        }
        phone = optional_text("component_phone", component_phone)
        if phone is not None:
            body["component_phone"] = phone
        # Starts a registration task and asks the legal person to confirm in WeChat.
        await self._post(
            "cgi-bin/component/fastregisterweapp",
            body,
            params={"action": "create"},
            idempotent=False,
        )

    async def get_registration_status(
        self, name: str, legal_persona_wechat: str, legal_persona_name: str
    ) -> RegistrationStatus:
        """POST cgi-bin/component/fastregisterweapp?action=search: a registration task's state.

        Returns the status for 0 and the two "still checking" codes (89251,
        89252); every other errcode (89250 task not found, ...) is raised.

        Raises:
            InvalidArgumentError: ``name``, ``legal_persona_wechat`` or ``legal_persona_name``
                is empty.
            APIError: WeChat refused the call, e.g. 89250 when no such task exists.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        body = {
            "name": text("name", name, allow_blank=False),
            "legal_persona_wechat": text("legal_persona_wechat", legal_persona_wechat),
            "legal_persona_name": text("legal_persona_name", legal_persona_name),
        }
        try:
            reply = await self._post(
                "cgi-bin/component/fastregisterweapp",
                body,
                params={"action": "search"},
                idempotent=True,
            )
        except APIError as exc:
            if exc.errcode in RegistrationStatus.PENDING_CODES:
                return RegistrationStatus(exc.errcode, exc.errmsg)
            raise
        errmsg = reply.get("errmsg", "ok")
        return RegistrationStatus(0, errmsg if isinstance(errmsg, str) else "ok")


def _drop_blank(data: Mapping[str, Any]) -> dict[str, Any]:
    """XML leaves that are empty become absent, so a numeric field takes its default."""
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if value == "":
            continue
        cleaned[key] = _drop_blank(value) if isinstance(value, dict) else value
    return cleaned


def _event_model(data: Mapping[str, Any]) -> ComponentEvent:
    try:
        event = cast(
            "ComponentEvent",
            converter.structure(_drop_blank(data), ComponentEvent),  # type: ignore[arg-type]
        )
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise MessageParseError("authorization event has an unexpected shape") from exc
    if isinstance(event, UnknownComponentEvent):
        return UnknownComponentEvent(raw=dict(data))  # as WeChat sent it, blanks included
    return event
