"""The one exception tree of wechat_async.

Every exception the SDK raises on purpose derives from `WeChatError`, so
``except WeChatError`` catches all of them and nothing else::

    WeChatError
     ├── APIError                    WeChat answered with errcode != 0: .errcode .errmsg .path
     │    ├── InvalidTokenError              40001 40014 42001 42009
     │    ├── InvalidCredentialError         40013 40091 40125 40243 (+ 40001 from token endpoints)
     │    ├── PermissionDeniedError          48001 60011 61007
     │    │    └── IPNotAllowedError                 40164 60020 61004
     │    ├── RateLimitError                 45009 45011 45033
     │    ├── SystemBusyError                -1
     │    └── InvalidParameterError          40003 40004 40005 40033 40035 41001 44001 44002 47001
     ├── TransportError              no usable answer came back for the request
     │    ├── ConnectError                   refused, DNS or TLS failure, connect timeout (not sent)
     │    ├── RequestTimeoutError            sent, but no answer in time (or deadline spent)
     │    │    └── PoolTimeoutError                  no connection or send slot came free (not sent)
     │    ├── HTTPStatusError                a non-2xx status: .status_code
     │    └── InvalidResponseError           the body is not a JSON object
     ├── TokenUnavailableError       no access token within the bounded wait
     ├── ConfigurationError          unusable settings or arguments (also a ValueError)
     │    └── InvalidArgumentError           an argument WeChat would certainly reject
     └── CryptoError                 callback signing and encryption (wechat_async.crypto)
          ├── InvalidSignatureError          -40001
          ├── MessageParseError              -40002
          │    └── ForbiddenXmlError                 DOCTYPE / ENTITY declarations
          ├── SignatureInputError            -40003
          ├── IllegalAesKeyError             -40004
          ├── ReceiveIdMismatchError         -40005
          ├── EncryptError                   -40006
          ├── DecryptError                   -40007
          ├── IllegalBufferError             -40008
          │    └── MessageTooLargeError
          ├── DecodeBase64Error              -40010
          ├── StaleTimestampError            -40100  (ours) outside MessageCrypto's max_age
          └── ReplayedMessageError           -40101  (ours) a push accepted once already

Official Accounts (api.weixin.qq.com) and WeCom (qyapi.weixin.qq.com) share
most global codes; where they differ the class covers both meanings:

* 40001 is "invalid credential": on the Official Account host a stale or
  wrong access token on an ordinary call, and a wrong AppSecret at a token
  endpoint; on WeCom only a wrong corpsecret (WeCom answers 40014 for a bad
  access token). So `api_error_for` maps it to `InvalidCredentialError` for
  the token endpoints and to `InvalidTokenError` everywhere else.
* 41001 ("access_token missing") is an `InvalidParameterError`, not an
  `InvalidTokenError`: the transport always sends its provider's token, so it
  means a call made without a token provider (or one handing out an empty
  string); fetching another token from the same setup would not help.
* 40091 is WeCom's "secret from another corp" and Open Platform's "invalid
  component ticket": either way the inputs for getting a token are wrong.
* 42009 is WeCom's expired suite_access_token.
* 45033 is WeCom's concurrency limit (kf/sync_msg answers it under load).

Any other errcode is raised as a plain `APIError`.

Every error carries ``may_have_taken_effect``: True when the request may have
reached WeChat and been acted on although the call failed. It is False for
`ConnectError`, `PoolTimeoutError` and everything raised before sending; True
for a timeout after sending, an HTTP 5xx, an unreadable body, any other
transport failure and errcode -1 (`SystemBusyError`: WeChat answered, and a
busy answer does not prove nothing happened). Any other errcode is False:
WeChat refused the request. The transport sets it for the whole call, so it
is also True when an earlier send of a retried call may have landed. A call
that is not idempotent (a message send, a create) is never sent again after a
failure that leaves the flag True, unless the caller opts in; see
`wechat_async.transport`.

The crypto branch is defined in `wechat_async.crypto` (it stays importable
without the HTTP stack); its classes are re-exported from ``wechat_async``.

Messages and reprs carry API paths, codes and status numbers, never a query
string, so no access token or secret can reach a log through an exception.

This module must stay free of I/O imports: `wechat_async.crypto` builds on it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar, Final

__all__ = [
    "APIError",
    "ConfigurationError",
    "ConnectError",
    "HTTPStatusError",
    "IPNotAllowedError",
    "InvalidArgumentError",
    "InvalidCredentialError",
    "InvalidParameterError",
    "InvalidResponseError",
    "InvalidTokenError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "RateLimitError",
    "RequestTimeoutError",
    "SystemBusyError",
    "TokenUnavailableError",
    "TransportError",
    "WeChatError",
    "api_error_for",
]


class WeChatError(Exception):
    """Base class of every exception that wechat_async raises on purpose.

    ``may_have_taken_effect`` is True when the failed call may nonetheless
    have been carried out by WeChat (see the module docs); test it before
    repeating a message send or a create.
    """

    may_have_taken_effect: bool = False


def _bare_path(path: str) -> str:
    # The query string is where WeChat wants access_token and secret; cut it off
    # whatever a caller passed, so an exception can never carry it.
    return path.split("?", 1)[0].split("#", 1)[0].lstrip("/")


class APIError(WeChatError):
    """WeChat answered a call with a non-zero ``errcode``.

    ``path`` is the API path (``cgi-bin/kf/send_msg``) without host or query.
    Subclasses list the codes they stand for in ``codes``.
    """

    codes: ClassVar[frozenset[int]] = frozenset()

    def __init__(self, errcode: int, errmsg: str, path: str) -> None:  # noqa: D107
        path = _bare_path(path)
        super().__init__(errcode, errmsg, path)
        self.errcode = errcode
        self.errmsg = errmsg
        self.path = path

    def __str__(self) -> str:  # noqa: D105
        return f"[{self.errcode}] {self.errmsg} ({self.path})"

    def __repr__(self) -> str:  # noqa: D105
        return (
            f"{type(self).__name__}(errcode={self.errcode!r}, errmsg={self.errmsg!r}, "
            f"path={self.path!r})"
        )


class InvalidTokenError(APIError):
    """The access token was rejected: invalid, expired or superseded by a newer one."""

    codes = frozenset({40001, 40014, 42001, 42009})


class InvalidCredentialError(APIError):
    """The appid / corpid, secret or component ticket used to get a token is wrong."""

    codes = frozenset({40013, 40091, 40125, 40243})


class PermissionDeniedError(APIError):
    """The account or app may not call this API or touch this member, party or tag."""

    codes = frozenset({48001, 60011, 61007})


class IPNotAllowedError(PermissionDeniedError):
    """The calling IP is not on the account's IP whitelist."""

    codes = frozenset({40164, 60020, 61004})


class RateLimitError(APIError):
    """A daily quota, a per-minute frequency or a concurrency limit was hit.

    Not retried: a daily quota lasts until midnight, and the minute limits
    need a longer pause than a request's retry budget.
    """

    codes = frozenset({45009, 45011, 45033})


class SystemBusyError(APIError):
    """WeChat is busy (-1); worth retrying after a short pause.

    The request reached WeChat, and -1 is a catch-all "system error" that does
    not prove it was dropped, so ``may_have_taken_effect`` is True and only
    idempotent calls are retried after it by default.
    """

    codes = frozenset({-1})
    may_have_taken_effect = True


class InvalidParameterError(APIError):
    """An argument was rejected: bad openid / userid, bad characters, empty or malformed body.

    Also a missing access token (41001) and an upload's bad media type (40004,
    40005) or missing file (44001).
    """

    codes = frozenset({40003, 40004, 40005, 40033, 40035, 41001, 44001, 44002, 47001})


def _build_registry(*classes: type[APIError]) -> MappingProxyType[int, type[APIError]]:
    registry: dict[int, type[APIError]] = {}
    for cls in classes:
        for code in cls.codes:
            if code in registry:
                msg = f"errcode {code} is claimed by {registry[code].__name__} and {cls.__name__}"
                raise RuntimeError(msg)
            registry[code] = cls
    return MappingProxyType(registry)


_REGISTRY: Final = _build_registry(
    InvalidTokenError,
    InvalidCredentialError,
    PermissionDeniedError,
    IPNotAllowedError,
    RateLimitError,
    SystemBusyError,
    InvalidParameterError,
)

# At these paths no access token is sent, so 40001 can only mean a wrong secret.
_TOKEN_ENDPOINTS: Final = frozenset(
    {
        "cgi-bin/token",
        "cgi-bin/stable_token",
        "cgi-bin/gettoken",
        "cgi-bin/component/api_component_token",
        "cgi-bin/service/get_suite_token",
        "cgi-bin/service/get_provider_token",
    }
)


def api_error_for(errcode: int, errmsg: str, path: str) -> APIError:
    """Build the most specific `APIError` for ``errcode`` returned by ``path``.

    The class comes from one registry built from the subclasses' ``codes``; the
    only exception is 40001 at a token endpoint, which means a wrong secret and
    is an `InvalidCredentialError`.
    """
    if errcode == 40001 and _bare_path(path) in _TOKEN_ENDPOINTS:  # noqa: PLR2004
        return InvalidCredentialError(errcode, errmsg, path)
    return _REGISTRY.get(errcode, APIError)(errcode, errmsg, path)


class TransportError(WeChatError):
    """No usable answer came back: the request failed below the WeChat protocol.

    Raised ``from`` the underlying httpx or JSON exception, whose message has had
    every secret query value masked. ``may_have_taken_effect`` is True unless the
    subclass or the transport knows the request was never sent; pass it to
    override the class's default.
    """

    may_have_taken_effect = True

    def __init__(  # noqa: D107
        self, message: str, path: str = "", *, may_have_taken_effect: bool | None = None
    ) -> None:
        path = _bare_path(path)
        super().__init__(message, path)
        self.message = message
        self.path = path
        if may_have_taken_effect is not None:
            self.may_have_taken_effect = may_have_taken_effect

    def __str__(self) -> str:  # noqa: D105
        return f"{self.message} ({self.path})" if self.path else self.message

    def __repr__(self) -> str:  # noqa: D105
        return f"{type(self).__name__}({self.message!r}, path={self.path!r})"


class ConnectError(TransportError):
    """No connection: refused, DNS or TLS failure, or the connect timed out.

    The request never reached WeChat, so a retry cannot duplicate its effect:
    every call is retried after it.
    """

    may_have_taken_effect = False


class RequestTimeoutError(TransportError):
    """The request was sent but no answer arrived in time, or the call's deadline ran out.

    WeChat may have acted on the request, so a call that is not idempotent (a
    message send) is not retried after it unless the caller opts in.
    """


class PoolTimeoutError(RequestTimeoutError):
    """No connection in the pool, or no send slot of the transport, came free in time.

    The request was never sent, so every call is retried after it (while the
    deadline lasts). A `RequestTimeoutError`, as it was before it had a class
    of its own.
    """

    may_have_taken_effect = False


class HTTPStatusError(TransportError):
    """The server answered with a non-2xx HTTP status; 5xx are retried for idempotent calls.

    A 5xx (a gateway's 502 included) may come after WeChat acted on the
    request, so ``may_have_taken_effect`` is True for it; a 4xx is a refusal.
    """

    def __init__(self, status_code: int, path: str = "") -> None:  # noqa: D107
        super().__init__(
            f"HTTP {status_code}",
            path,
            may_have_taken_effect=status_code >= 500,  # noqa: PLR2004
        )
        self.status_code = status_code
        self.args = (status_code, self.path)

    def __repr__(self) -> str:  # noqa: D105
        return f"{type(self).__name__}({self.status_code!r}, path={self.path!r})"


class InvalidResponseError(TransportError):
    """The body is not JSON, or not a JSON object, or its errcode is not an integer."""


class ConfigurationError(WeChatError, ValueError):
    """Settings or arguments that cannot work: a bad base URL, retry policy, lock timing, API path.

    Raised before anything is sent. It is also a `ValueError`, which is
    what it would be outside the SDK's tree.
    """


class InvalidArgumentError(ConfigurationError):
    """An argument WeChat would reject for sure: caught before any request is sent.

    For example an empty user list, a name over the documented length, or a
    message type the endpoint does not take. ``.argument`` names the argument.
    """

    def __init__(self, argument: str, problem: str) -> None:  # noqa: D107
        super().__init__(f"{argument}: {problem}")
        self.argument = argument

    def __reduce__(self) -> tuple[object, ...]:  # noqa: D105
        return (type(self), (self.argument, str(self).split(": ", 1)[1]))


class TokenUnavailableError(WeChatError):
    """No access token could be obtained within the bounded wait.

    Raised by the token providers when the fetch failed or another holder of
    the refresh lock did not produce a token in time; the call was not sent.
    """
