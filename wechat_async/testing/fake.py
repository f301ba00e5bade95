"""FakeWeChat: an in-memory ASGI stand-in for api.weixin.qq.com and qyapi.weixin.qq.com.

This module is the emulator's core: routing, the controllable clock, fault
injection and the access tokens. The endpoint families live beside it and
register their routes here (``fake_kf``, ``fake_wecom``, ``fake_official``).

Both hosts are served by one app. A path under ``/qyapi/`` is WeCom's
(qyapi.weixin.qq.com); any other path is the Official Account / Open Platform
host's (api.weixin.qq.com). `FakeWeChat.hosts` builds matching
`Hosts`, and `FakeWeChat.transport` a
ready `Transport` that talks to the app
in process, with no sockets.

What follows WeChat's documentation, and what is simplified:

* ``cgi-bin/token``: each fetch issues a new token; the previous one keeps
  working for 5 minutes (or until it expires, if sooner), as documented.
* ``cgi-bin/stable_token``: normal mode returns the current token while it
  has more than 5 minutes left, else a new one (the old one lives out its
  expiry); ``force_refresh`` issues a new token and ends the old one at once,
  at most 20 times a day and 30 s apart (a refusal returns the current
  token unchanged, as WeChat does).
* ``cgi-bin/gettoken``: the same token for one secret until it expires; a
  wrong corpsecret answers 40001 (WeCom's "invalid secret"), a wrong corpid
  40013. ``cgi-bin/token`` and ``stable_token`` answer 40125 for a wrong
  AppSecret and 40013 for a wrong appid.
* The token check, as each host's global code table has it: no
  ``access_token`` answers 41001 on both hosts; a token the host never issued
  (or one `TokenAuthority.revoke_all` took back) answers 40001 on the
  Official Account host ("invalid credential, access_token is invalid or not
  latest") and 40014 on WeCom ("invalid access_token"; WeCom's 40001 means a
  bad secret); an expired one answers 42001 on both. Tokens last 7200 s of
  the fake clock, which tests move with `FakeClock.advance`.
* Simplified: one appid and one corp per fake (the corp may have several
  app secrets), no IP whitelist, no daily quotas besides the forced refresh.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import httpx

from wechat_async.testing._asgi import (
    Receive,
    Scope,
    Send,
    read_body,
    send_bytes,
    send_json,
    serve_lifespan,
)
from wechat_async.transport import Host, Hosts, RetryPolicy, Transport

if TYPE_CHECKING:
    from wechat_async.observability import MetricsHook

__all__ = [
    "WORK_PREFIX",
    "FakeClock",
    "FakeError",
    "FakeRequest",
    "FakeResponse",
    "FakeWeChat",
    "Faults",
    "IssuedToken",
]

WORK_PREFIX: Final = "/qyapi"
"""Paths under this prefix are qyapi.weixin.qq.com's."""

TOKEN_LIFE: Final = 7200
OVERLAP: Final = 300
STABLE_RENEW_BEFORE: Final = 300
FORCE_PER_DAY: Final = 20
FORCE_INTERVAL: Final = 30.0


class FakeClock:
    """Wall-clock time that a test can move forward; expiries and windows use it."""

    def __init__(self) -> None:
        """Start at the real time."""
        self._offset = 0.0

    def now(self) -> float:
        """Epoch seconds, as the fake sees them."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's time forward."""
        self._offset += seconds


class FakeError(Exception):
    """Raised by a handler to answer ``{"errcode": ..., "errmsg": ...}``."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        """Answer with this code and message."""
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class FakeResponse:
    """A non-JSON answer: a status, a body and headers."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FakeRequest:
    """One request as a handler sees it: host, bare path, query and body."""

    method: str
    host: Host
    path: str
    query: Mapping[str, str]
    body: bytes
    headers: Mapping[str, str]

    def json(self) -> dict[str, Any]:
        """The JSON object body; anything else answers what the host answers.

        That is 47001 on the Official Account host ("data format error",
        解析JSON/XML内容错误) and 40058 on WeCom, whose table has no 47001 and
        lists "json不合法" first under 40058 (不合法的参数).

        Raises:
            FakeError: the body is not a JSON object (47001 or 40058).
        """
        code, message = (
            (40058, "invalid json") if self.host is Host.WORK else (47001, "data format error")
        )
        try:
            data = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise FakeError(code, message) from exc
        if not isinstance(data, dict):
            raise FakeError(code, message)
        return data


Handler = Callable[[FakeRequest], Awaitable[dict[str, Any] | FakeResponse]]


@dataclass
class _Fault:
    kind: str
    value: float | int
    remaining: int | None  # None: every call
    landed: bool = False  # answered after the handler ran


class Faults:
    """Failures a test switches on per API path (``"cgi-bin/kf/sync_msg"``).

    A fault answers in place of the route's handler, so the call does nothing.
    With ``landed=True`` the handler runs first and the fault only replaces
    its answer: the call took effect (a message was sent) but the client sees
    a 5xx, a late answer, -1 or garbage, as when WeChat acted and the answer
    was lost on the way back.
    """

    def __init__(self) -> None:
        """No faults."""
        self._faults: dict[str, list[_Fault]] = {}

    def _add(self, path: str, fault: _Fault) -> None:
        self._faults.setdefault(path.strip("/"), []).append(fault)

    def latency(self, path: str, seconds: float) -> None:
        """Delay every answer on ``path``."""
        self._add(path, _Fault("latency", seconds, None))

    def http_status(
        self, path: str, status: int = 500, *, times: int = 1, landed: bool = False
    ) -> None:
        """Answer the next ``times`` calls with an HTTP error status (after acting, if landed)."""
        self._add(path, _Fault("status", status, times, landed))

    def timeout(
        self, path: str, seconds: float = 60.0, *, times: int = 1, landed: bool = False
    ) -> None:
        """Hold the next ``times`` answers back for ``seconds`` (the client times out)."""
        self._add(path, _Fault("timeout", seconds, times, landed))

    def errcode(
        self, path: str, errcode: int = -1, *, times: int = 1, landed: bool = False
    ) -> None:
        """Answer the next ``times`` calls with ``errcode`` (-1: system busy)."""
        self._add(path, _Fault("errcode", errcode, times, landed))

    def rate_limit(self, path: str, *, times: int = 1) -> None:
        """Answer the next ``times`` calls with 45009 (api freq out of limit)."""
        self.errcode(path, 45009, times=times)

    def garbage(self, path: str, *, times: int = 1, landed: bool = False) -> None:
        """Answer the next ``times`` calls with a body that is not JSON."""
        self._add(path, _Fault("garbage", 0, times, landed))

    def clear(self) -> None:
        """Switch every fault off."""
        self._faults.clear()

    async def apply(
        self, path: str, *, landed: bool = False
    ) -> dict[str, Any] | FakeResponse | None:
        """Wait out latencies; return the answer of the first fault due, if any.

        ``landed=False`` (before the handler) applies latencies and the faults
        armed without ``landed``; ``landed=True`` (after it) those armed with it.
        """
        answer: dict[str, Any] | FakeResponse | None = None
        for fault in list(self._faults.get(path, ())):
            if fault.kind == "latency":
                if not landed:
                    await asyncio.sleep(float(fault.value))
                continue
            if answer is not None or fault.landed != landed:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults[path].remove(fault)
            if fault.kind == "status":
                answer = FakeResponse(int(fault.value), b"<html>upstream error</html>")
            elif fault.kind == "timeout":
                await asyncio.sleep(float(fault.value))
                answer = {"errcode": -1, "errmsg": "system error (late)"}
            elif fault.kind == "errcode":
                answer = {"errcode": int(fault.value), "errmsg": _ERRMSG.get(int(fault.value), "")}
            elif fault.kind == "garbage":
                answer = FakeResponse(
                    200, b"<html>not json</html>", (("content-type", "text/html"),)
                )
        return answer


# The token check's codes and messages. Official Account: the global return
# codes (developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html,
# and the same rows in developers.weixin.qq.com/doc/store/API/basics/commErrCode.html):
# 40001 "invalid credential, access_token is invalid or not latest", 41001
# "access_token missing", 42001 "access_token expired". WeCom: the global error
# codes (developer.work.weixin.qq.com/document/path/90313, crawled into
# xen0n/go-workwx errcodes/mod.go): 40001 "不合法的secret参数", 40014
# "不合法的access_token", 41001 "缺少access_token参数", 42001 "access_token已过期".
E_TOKEN_MISSING: Final = 41001
E_TOKEN_INVALID_OFFICIAL: Final = 40001
E_TOKEN_INVALID_WORK: Final = 40014
E_TOKEN_EXPIRED: Final = 42001

_ERRMSG: Final = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40014: "invalid access_token",
    41001: "access_token missing",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
}


@dataclass
class IssuedToken:
    """A token the fake handed out and the fake-clock time it stops working."""

    value: str
    expires_at: float


@dataclass
class _StableState:
    current: IssuedToken | None = None
    forced: deque[float] = field(default_factory=deque)


class TokenAuthority:
    """Issues and checks the fake's access tokens, per host."""

    def __init__(self, clock: FakeClock) -> None:
        """Nothing issued yet."""
        self._clock = clock
        self._numbers = itertools.count(1)
        self._official: dict[str, IssuedToken] = {}
        self._classic: IssuedToken | None = None
        self._stable = _StableState()
        self._work: dict[str, IssuedToken] = {}  # by secret
        self._work_valid: dict[str, IssuedToken] = {}
        self.extra_official: dict[str, IssuedToken] = {}  # authorizer tokens from the component

    def new(self, kind: str, life: float = TOKEN_LIFE) -> IssuedToken:
        """A fresh token named after ``kind``, live for ``life`` seconds of the fake clock."""
        return IssuedToken(f"FAKE_{kind}_{next(self._numbers)}", self._clock.now() + life)

    def classic(self) -> IssuedToken:
        """cgi-bin/token: a new token; the previous one keeps working for the overlap."""
        now = self._clock.now()
        if self._classic is not None:
            self._classic.expires_at = min(self._classic.expires_at, now + OVERLAP)
        token = self.new("AT")
        self._classic = token
        self._official[token.value] = token
        return token

    def stable(self, *, force: bool) -> IssuedToken:
        """cgi-bin/stable_token, in normal or force-refresh mode."""
        now = self._clock.now()
        state = self._stable
        current = state.current
        if force:
            while state.forced and now - state.forced[0] > 86400:  # noqa: PLR2004 - a day
                state.forced.popleft()
            allowed = len(state.forced) < FORCE_PER_DAY and (
                not state.forced or now - state.forced[-1] >= FORCE_INTERVAL
            )
            if allowed or current is None:
                if current is not None:
                    current.expires_at = now  # a forced refresh ends the old token at once
                state.forced.append(now)
                current = None
        elif current is not None and current.expires_at - now < STABLE_RENEW_BEFORE:
            current = None  # renewed 5 minutes early; the old one lives out its expiry
        if current is None:
            current = self.new("ST")
            state.current = current
            self._official[current.value] = current
        return current

    def work(self, secret: str) -> IssuedToken:
        """cgi-bin/gettoken: the same token for a secret until it expires."""
        token = self._work.get(secret)
        if token is None or token.expires_at <= self._clock.now():
            token = self.new("WT")
            self._work[secret] = token
            self._work_valid[token.value] = token
        return token

    def check(self, host: Host, value: str | None) -> None:
        """Raise what ``host`` answers for a missing, unknown or expired token.

        41001 without a token; 40001 (Official Account) or 40014 (WeCom) for a
        token the host did not issue or no longer knows; 42001 once expired.
        """
        if not value:
            raise FakeError(E_TOKEN_MISSING, _ERRMSG[E_TOKEN_MISSING])
        pool = self._work_valid if host is Host.WORK else {**self._official, **self.extra_official}
        token = pool.get(value)
        if token is None:
            code = E_TOKEN_INVALID_WORK if host is Host.WORK else E_TOKEN_INVALID_OFFICIAL
            raise FakeError(code, _ERRMSG[code])
        if token.expires_at <= self._clock.now():
            raise FakeError(E_TOKEN_EXPIRED, _ERRMSG[E_TOKEN_EXPIRED])

    def expire_all(self) -> None:
        """End every token now (as if two hours had passed for them): each answers 42001."""
        now = self._clock.now()
        for pool in (self._official, self._work_valid, self.extra_official):
            for token in pool.values():
                token.expires_at = min(token.expires_at, now)

    def revoke_all(self) -> None:
        """Forget every access token issued so far, as after a secret reset.

        Each answers as unknown from now on (40001 on the Official Account
        host, 40014 on WeCom), and the next fetch on any token endpoint
        issues a new one. The component's ``component_access_token`` is not
        touched.
        """
        for pool in (self._official, self._work_valid, self.extra_official, self._work):
            pool.clear()
        self._classic = None
        self._stable.current = None


@dataclass(frozen=True)
class _Route:
    handler: Handler
    token_param: str | None  # None: no token needed


class FakeWeChat:
    """An ASGI app emulating WeChat's two API hosts, with state a test can read and drive.

    ``appid``/``secret`` are the Official Account's; ``corp_id`` with any of
    ``corp_secrets`` gets WeCom tokens. ``token_latency`` delays every token
    fetch; ``fetches`` counts them by path. ``faults`` injects failures.
    """

    def __init__(
        self,
        *,
        appid: str = "wx_fake_appid",
        secret: str = "fake-app-secret",  # noqa: S107 - a fake's well-known credential
        corp_id: str = "ww_fake_corp",
        corp_secrets: tuple[str, ...] = ("fake-corp-secret",),
        token_latency: float = 0.0,
        clock: FakeClock | None = None,
    ) -> None:
        """Set up empty state; the endpoint families register their routes."""
        self.appid = appid
        self.secret = secret
        self.corp_id = corp_id
        self.corp_secrets = corp_secrets
        self.token_latency = token_latency
        self.clock = clock or FakeClock()
        self.faults = Faults()
        self.tokens = TokenAuthority(self.clock)
        self.fetches: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._routes: dict[tuple[str, Host, str], _Route] = {}
        self._register_token_routes()
        # The endpoint families; imported here because they build on this module.
        from wechat_async.testing import fake_kf, fake_official, fake_wecom  # noqa: PLC0415

        self.kf = fake_kf.install(self)
        self.wecom = fake_wecom.install(self)
        self.official = fake_official.install(self)

    def __repr__(self) -> str:
        """Name the fake's ids only."""
        return f"FakeWeChat(appid={self.appid!r}, corp_id={self.corp_id!r})"

    # -- wiring --------------------------------------------------------------------------

    def route(
        self,
        method: str,
        host: Host,
        path: str,
        *,
        token_param: str | None = "access_token",  # noqa: S107 - a parameter name
    ) -> Callable[[Handler], Handler]:
        """Register a handler for ``method host/path``; the token is checked first."""

        def register(handler: Handler) -> Handler:
            self._routes[(method.upper(), host, path.strip("/"))] = _Route(handler, token_param)
            return handler

        return register

    def hosts(self, base_url: str = "http://fake.wechat") -> Hosts:
        """Hosts that send both API families to this app at ``base_url``.

        Raises:
            ConfigurationError: ``base_url`` is not an http(s) URL without query or fragment.
        """
        base = base_url.rstrip("/")
        return Hosts(official=base, work=base + WORK_PREFIX, official_standby=())

    def client(self) -> httpx.AsyncClient:
        """An httpx client that calls this app in process (no sockets)."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self))

    def transport(self, *, metrics: MetricsHook | None = None, **retry: Any) -> Transport:  # noqa: ANN401
        """A Transport on `client`, retrying without pauses.

        Raises:
            ConfigurationError: a ``retry`` setting is out of range (see `RetryPolicy`).
        """
        return Transport(
            self.client(),
            hosts=self.hosts(),
            retry=RetryPolicy.no_wait(**retry),
            metrics=metrics,
        )

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request (and the lifespan protocol, trivially)."""
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        answer = await self.handle(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode(),
            await read_body(receive),
            {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])},
        )
        await _send(send, answer)

    async def handle(
        self, method: str, raw_path: str, query_string: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, Any] | FakeResponse:
        """Route one request and return its answer (the ASGI layer's inner half)."""
        host = Host.OFFICIAL
        path = raw_path
        if path == WORK_PREFIX or path.startswith(WORK_PREFIX + "/"):
            host = Host.WORK
            path = path[len(WORK_PREFIX) :]
        path = path.strip("/")
        query = {k: v[-1] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        route = self._routes.get((method.upper(), host, path))
        if route is None:
            return FakeResponse(404, b"not found", (("content-type", "text/plain"),))
        self.calls[path] += 1
        faulted = await self.faults.apply(path)
        if faulted is not None:
            return faulted
        request = FakeRequest(method.upper(), host, path, query, body, headers)
        answer: dict[str, Any] | FakeResponse
        try:
            if route.token_param is not None:
                self.check_token(host, route.token_param, query.get(route.token_param))
            answer = await route.handler(request)
        except FakeError as exc:
            answer = {"errcode": exc.errcode, "errmsg": exc.errmsg}
        replaced = await self.faults.apply(path, landed=True)
        return answer if replaced is None else replaced

    def check_token(self, host: Host, param: str, value: str | None) -> None:
        """Raise 41001/40001/40014/42001 unless ``value`` is a live token for ``host``.

        Families with their own tokens (the component) extend this by
        registering routes with their own ``token_param``.
        """
        checker = self._token_checkers.get(param)
        if checker is not None:
            checker(value)
            return
        self.tokens.check(host, value)

    def token_checker(self, param: str, checker: Callable[[str | None], None]) -> None:
        """Check routes whose token travels as ``param`` with ``checker`` (component tokens)."""
        self._token_checkers[param] = checker

    _token_checkers: dict[str, Callable[[str | None], None]]

    # -- tokens ------------------------------------------------------------------------------

    def _register_token_routes(self) -> None:
        self._token_checkers = {}

        @self.route("GET", Host.OFFICIAL, "cgi-bin/token", token_param=None)
        async def classic(request: FakeRequest) -> dict[str, Any]:
            await self._token_fetch("cgi-bin/token")
            if request.query.get("grant_type") != "client_credential":
                raise FakeError(40002, "invalid grant_type")
            self._check_app(request.query.get("appid"), request.query.get("secret"))
            token = self.tokens.classic()
            return {"access_token": token.value, "expires_in": TOKEN_LIFE}

        @self.route("POST", Host.OFFICIAL, "cgi-bin/stable_token", token_param=None)
        async def stable(request: FakeRequest) -> dict[str, Any]:
            await self._token_fetch("cgi-bin/stable_token")
            body = request.json()
            if body.get("grant_type") != "client_credential":
                raise FakeError(40002, "invalid grant_type")
            self._check_app(body.get("appid"), body.get("secret"))
            token = self.tokens.stable(force=bool(body.get("force_refresh", False)))
            return {
                "access_token": token.value,
                "expires_in": max(0, int(token.expires_at - self.clock.now())),
            }

        @self.route("GET", Host.WORK, "cgi-bin/gettoken", token_param=None)
        async def gettoken(request: FakeRequest) -> dict[str, Any]:
            await self._token_fetch("cgi-bin/gettoken")
            if request.query.get("corpid") != self.corp_id:
                raise FakeError(40013, "invalid corpid")
            secret = request.query.get("corpsecret", "")
            if secret not in self.corp_secrets:  # WeCom's 40001 is "不合法的secret参数"
                raise FakeError(40001, "invalid credential")
            token = self.tokens.work(secret)
            return {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": token.value,
                "expires_in": max(0, int(token.expires_at - self.clock.now())),
            }

    async def _token_fetch(self, path: str) -> None:
        self.fetches[path] += 1
        if self.token_latency:
            await asyncio.sleep(self.token_latency)

    def _check_app(self, appid: object, secret: object) -> None:
        if appid != self.appid:
            raise FakeError(40013, "invalid appid")
        if secret != self.secret:  # the 40125 of the getAccessToken page's error table
            raise FakeError(40125, "invalid appsecret")


async def _send(send: Send, answer: dict[str, Any] | FakeResponse) -> None:
    if isinstance(answer, FakeResponse):
        await send_bytes(send, answer.status, answer.body, list(answer.headers))
    else:
        await send_json(send, 200, answer)
