r"""Transport: the one place where wechat_async talks HTTP to WeChat.

Services build a call from the WeChat API path and plain arguments; the
`Transport` does the rest:

* picks the base URL (`Host` ``OFFICIAL`` or ``WORK``, see `Hosts`)
  and, with ``failover=True``, moves an Official Accounts call to the next
  standby domain when it cannot connect;
* adds ``access_token`` from a `TokenProvider`;
* encodes JSON bodies as UTF-8 without ``\uXXXX`` escapes (WeChat would show
  the escapes literally);
* maps the answer: a JSON object with ``errcode != 0`` becomes the matching
  `APIError`, and HTTP trouble a
  `TransportError` raised from the httpx exception;
* retries connect errors, timeouts, HTTP 5xx and errcode -1 under a
  `RetryPolicy` (attempts, capped exponential backoff with jitter, an
  overall deadline), but sends a call that is not idempotent again only when
  it provably never left (see below);
* on a rejected token, invalidates exactly that token and sends once more with
  a fresh one;
* reports each call as an ``api_call`` event (`wechat_async.observability`).

Whether a call is idempotent is decided where it is defined: every service
method states it, and a raw `Transport.request` counts GET as idempotent and
anything else as not, unless told with ``idempotent=``. A call that is not
idempotent (a message send, a create, a one-time code exchange) is retried
after a `ConnectError` or a `PoolTimeoutError` only: after a timeout, a 5xx,
errcode -1 or any other failure WeChat may have acted on it, and a second send
could deliver a message twice. The error raised then has
``may_have_taken_effect`` set and a note saying so. Opt back in for every call
with ``RetryPolicy(retry_non_idempotent=True)``, or for the calls in one block
with `Transport.assume_idempotent`.

Secrets never leave through logs or exceptions. WeChat wants the access token
and the app secret in the query string, httpx logs every request URL at INFO
on the ``httpx`` logger, and over HTTP/2 hpack logs the ``:path`` header at
DEBUG on its own, so a filter on every logger of httpx's stack (httpx,
httpcore, h11, h2, hpack and their children) masks the values of
`SENSITIVE_PARAMS` before any handler sees the record. Our own log lines
and exceptions name the API path only, and the httpx exception that becomes an
error's ``__cause__`` has its message masked the same way first, so a printed
traceback shows no secret either.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import inspect
import json as _json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Final, Literal, Self, TypeVar

import httpx

from wechat_async._validate import header_safe, integer, number
from wechat_async.errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    HTTPStatusError,
    InvalidResponseError,
    InvalidTokenError,
    PoolTimeoutError,
    RequestTimeoutError,
    SystemBusyError,
    TransportError,
    WeChatError,
    api_error_for,
)
from wechat_async.observability import MetricsHook, emit

if TYPE_CHECKING:
    from types import TracebackType

    from wechat_async.tokens.base import TokenProvider

__all__ = [
    "SENSITIVE_PARAMS",
    "FileContent",
    "Files",
    "Host",
    "Hosts",
    "RetryPolicy",
    "Transport",
    "redact",
]

_log = logging.getLogger("wechat_async.transport")

_ACCESS_TOKEN: Final = "access_token"  # noqa: S105 - a query parameter name, not a secret

_T = TypeVar("_T")

FileContent = bytes | IO[bytes]
"""The bytes of an uploaded file, or a binary file object to read them from."""

Files = Mapping[
    str, FileContent | tuple[str | None, FileContent] | tuple[str | None, FileContent, str | None]
]
"""Multipart files: field name to content, ``(filename, content)`` or
``(filename, content, content_type)``, as httpx takes them."""

_MIB: Final = 1024 * 1024

SENSITIVE_PARAMS: Final = frozenset(
    {
        "access_token",
        "appsecret",
        "auth_code",
        "authorizer_access_token",
        "authorizer_refresh_token",
        "component_access_token",
        "component_appsecret",
        "component_verify_ticket",
        "corpsecret",
        "permanent_code",
        "pre_auth_code",
        "provider_access_token",
        "provider_secret",
        "refresh_token",
        "secret",
        "suite_access_token",
        "suite_secret",
        "suite_ticket",
    }
)
"""Query parameters whose values `redact` masks: tokens, secrets, tickets, codes."""

# A name only counts at the start of a parameter (after ?, &, ; or a non-word
# character, or after a percent-encoded & or ? when a URL rides inside another
# URL's query value), so "openid=" or "my_secret=" are left alone. The "=" may
# be percent-encoded for the same reason. The value runs to the next separator
# or quoting character that can end a URL in a message, which also ends it
# inside a bytes repr such as hpack's b'/cgi-bin/gettoken?...&corpsecret=...'.
_SENSITIVE_RE: Final = re.compile(
    r"(?:(?<![\w-])|(?<=%26)|(?<=%3f))("
    + "|".join(sorted(SENSITIVE_PARAMS, key=len, reverse=True))
    + r")(=|%3d)[^&;#\s\"'<>]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """Mask the value of every `SENSITIVE_PARAMS` query parameter in ``text``."""
    return _SENSITIVE_RE.sub(r"\1\2***", text)


class _RedactSecrets(logging.Filter):
    """Rewrites a record's message with secrets masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the handler's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            # Freeze the formatted text: a handler or a structured formatter
            # that read record.args would otherwise see the httpx.URL itself.
            record.msg = cleaned
            record.args = None
        return True


_REDACT_FILTER: Final = _RedactSecrets()

# Every package of httpx's stack that logs. httpx logs the full URL ("HTTP
# Request: GET https://...?access_token=..."); over HTTP/2 the URL is the
# ":path" header, which hpack logs at DEBUG as it encodes, decodes and evicts
# headers (hpack.hpack, hpack.table); httpcore logs connection and stream
# events; h11 and h2 log nothing today but sit on the same path.
_HTTP_LOGGER_ROOTS: Final = ("httpx", "httpcore", "h11", "h2", "hpack")

# A logger's filters only see records created on that exact logger, not on its
# children, so every logger known to print is named; getLogger hands these same
# objects to the libraries whenever they are imported, before or after us.
_HTTP_LOGGERS: Final = (
    *_HTTP_LOGGER_ROOTS,
    "httpcore.connection",
    "httpcore.connection_pool",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "h2.connection",
    "h2.stream",
    "hpack.hpack",
    "hpack.table",
)


def _install_log_redaction() -> None:
    # Children that a later version of one of these packages adds are picked
    # up too, as long as they exist when a Transport is built.
    names = set(_HTTP_LOGGERS)
    names.update(
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name.partition(".")[0] in _HTTP_LOGGER_ROOTS
    )
    for name in sorted(names):
        logger = logging.getLogger(name)
        if _REDACT_FILTER not in logger.filters:
            logger.addFilter(_REDACT_FILTER)


def _scrub(exc: BaseException) -> BaseException:
    """Mask secrets in the messages along ``exc``'s cause/context chain; returns ``exc``.

    httpx puts URLs into some messages (unsupported protocol, invalid URL, and
    any transport may), and a traceback prints every message in the chain.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            text = str(current)
        except Exception:  # noqa: BLE001 - an unprintable message cannot leak either
            text = ""
        cleaned = redact(text)
        if cleaned != text:
            current.args = (cleaned,)
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            current.__notes__ = [redact(str(note)) for note in notes]
        current = current.__cause__ or current.__context__
    return exc


def _describe(exc: BaseException) -> str:
    text = redact(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Host(enum.Enum):
    """Which WeChat API family a call goes to."""

    OFFICIAL = "official"
    """api.weixin.qq.com: Official Accounts, Mini Programs, Open Platform."""
    WORK = "work"
    """qyapi.weixin.qq.com: WeCom (企业微信), including 微信客服."""


_OFFICIAL_STANDBY: Final = (
    "https://api2.weixin.qq.com",
    "https://sh.api.weixin.qq.com",
    "https://sz.api.weixin.qq.com",
    "https://hk.api.weixin.qq.com",
)


@dataclass(frozen=True, slots=True)
class Hosts:
    """Base URLs for each `Host`; tests and the emulator pass their own.

    ``official_standby`` are WeChat's documented alternative entry points for
    api.weixin.qq.com, in failover order: the general disaster-recovery domain
    (api2), then Shanghai, Shenzhen and Hong Kong. WeCom has none.

    Raises:
        ConfigurationError: a base URL does not start with https:// or http://, or carries a query
            or fragment.
    """

    official: str = "https://api.weixin.qq.com"
    work: str = "https://qyapi.weixin.qq.com"
    official_standby: tuple[str, ...] = _OFFICIAL_STANDBY

    def __post_init__(self) -> None:  # noqa: D105
        for url in (self.official, self.work, *self.official_standby):
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise ConfigurationError(
                    f"base URL must start with https:// or http://, got {url!r}"
                )
            if "?" in url or "#" in url:
                raise ConfigurationError(
                    f"base URL must not carry a query or fragment, got {url!r}"
                )

    def base_urls(self, host: Host, *, failover: bool) -> tuple[str, ...]:
        """Return the base URLs a call to ``host`` may use, the primary first."""
        if host is Host.WORK:
            return (self.work,)
        if failover:
            return (self.official, *self.official_standby)
        return (self.official,)


_rng = random.SystemRandom()


def _transient(error: WeChatError) -> bool:
    if isinstance(error, ConnectError | RequestTimeoutError | SystemBusyError):
        return True
    return isinstance(error, HTTPStatusError) and error.status_code >= 500  # noqa: PLR2004


def _may_repeat(policy: RetryPolicy, error: WeChatError, *, idempotent: bool) -> bool:
    """The rule for calls that are not idempotent: sent again only if it provably never left."""
    return idempotent or policy.retry_non_idempotent or not error.may_have_taken_effect


def _takes_idempotent(should_retry: Callable[..., bool]) -> bool:
    """Whether a (possibly overridden) should_retry accepts the ``idempotent`` keyword."""
    try:
        parameters = inspect.signature(should_retry).parameters.values()
    except (TypeError, ValueError):  # no signature to read: assume the current one
        return True
    return any(
        p.name == "idempotent" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
    )


# The transports whose calls the caller declared idempotent in the current
# context (Transport.assume_idempotent); a tuple, compared by identity.
_ASSUMED_IDEMPOTENT: Final[contextvars.ContextVar[tuple[Transport, ...]]] = contextvars.ContextVar(
    "wechat_async_assumed_idempotent", default=()
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to wait before sending a failed call again.

    ``attempts`` counts every send of one call, the first included. The pause
    before the n-th retry is drawn below ``min(max_delay, base_delay * 2**(n-1))``:
    anywhere from zero with ``"full"`` jitter, from half of it with ``"equal"``.
    ``deadline`` bounds the whole call in seconds, sends and pauses together:
    a pause that would end past it is not taken, and a send gets only the time
    that is left. When a call runs out of attempts or time, its last error is
    raised.

    A call that is not idempotent is sent again only after a failure that
    proves it never left (``error.may_have_taken_effect`` is False: a
    `ConnectError` or a `PoolTimeoutError`). ``retry_non_idempotent=True``
    lifts that rule for every call through the transport: a timed-out or
    answered-with-5xx message send is then sent again and may reach the
    customer twice.

    Subclass and override `should_retry` or `delay` to change the
    decision or the backoff; `no_wait` makes every pause zero for tests.

    Raises:
        ConfigurationError: ``attempts`` is below 1, a delay is negative, ``deadline`` is not
            positive, ``jitter`` is not "full" or "equal", or ``retry_non_idempotent`` is not
            a bool.
    """

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 5.0
    deadline: float = 30.0
    jitter: Literal["full", "equal"] = "full"
    retry_non_idempotent: bool = False

    def __post_init__(self) -> None:  # noqa: D105
        integer("attempts", self.attempts, 1)
        number("base_delay", self.base_delay, positive=False)
        number("max_delay", self.max_delay, positive=False)
        number("deadline", self.deadline)
        if self.jitter not in {"full", "equal"}:
            raise ConfigurationError(f"jitter must be 'full' or 'equal', got {self.jitter!r}")
        if not isinstance(self.retry_non_idempotent, bool):
            raise ConfigurationError(
                f"retry_non_idempotent must be a bool, got {self.retry_non_idempotent!r}"
            )

    @classmethod
    def no_wait(
        cls, attempts: int = 3, *, deadline: float = 30.0, retry_non_idempotent: bool = False
    ) -> Self:
        """Return a policy that retries like the default but never pauses (for tests)."""
        return cls(
            attempts=attempts,
            base_delay=0.0,
            max_delay=0.0,
            deadline=deadline,
            retry_non_idempotent=retry_non_idempotent,
        )

    def should_retry(self, error: WeChatError, *, idempotent: bool = True) -> bool:
        """Whether a send that failed with ``error`` is worth repeating.

        Only a failure the same request could escape next time qualifies:
        connect errors, timeouts, HTTP 5xx and errcode -1 (system busy); never
        another errcode, which the same request would get again. For a call
        that is not ``idempotent`` the failure must also prove the request
        never left (``error.may_have_taken_effect`` is False), unless
        ``retry_non_idempotent`` is set.

        An override written before ``idempotent`` existed (``should_retry(self,
        error)``) still works: the transport then applies the rule for calls
        that are not idempotent itself, after the override said yes.
        """
        return _transient(error) and _may_repeat(self, error, idempotent=idempotent)

    def delay(self, retry: int) -> float:
        """Seconds to pause before retry number ``retry`` (1 before the second send)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(retry - 1, 64))
        if self.jitter == "equal":
            return ceiling / 2 + _rng.uniform(0, ceiling / 2)
        return _rng.uniform(0, ceiling)


@dataclass(slots=True)
class _Call:
    path: str
    started: float
    deadline: float
    attempts: int = 0
    # Whether some send of this call may have reached WeChat and taken effect.
    maybe_sent: bool = False

    def remaining(self) -> float:
        return self.deadline - (time.monotonic() - self.started)


@dataclass(frozen=True, slots=True)
class _Outgoing:
    method: str
    base_urls: tuple[str, ...]
    content: bytes | None
    headers: Mapping[str, str] | None
    files: Files | None
    data: Mapping[str, str] | None
    idempotent: bool
    # A streamed answer is handed back with its body unread (media downloads);
    # only a JSON or text one, which can only be an error, is read here.
    stream: bool = False
    # request_raw and stream: a binary answer is a file, bounded by
    # max_download_size (request_raw) or not read here at all (stream).
    download: bool = False


# WeChat's API paths are ASCII words and slashes. A control character would
# make httpx raise its own InvalidURL, outside our tree; a space or a non-ASCII
# letter would be percent-encoded into a path WeChat does not have.
_PATH_CHARS: Final = re.compile(r"[\x21-\x7e]+")


def _api_path(path: str) -> str:
    if not isinstance(path, str) or "?" in path or "#" in path or "://" in path:
        raise ConfigurationError(
            f"path must be a bare WeChat API path like 'cgi-bin/kf/send_msg', got {path!r}; "
            "pass query values in params"
        )
    bare = path.strip().lstrip("/")
    if not bare:
        raise ConfigurationError("path must not be empty")
    if _PATH_CHARS.fullmatch(bare) is None:
        raise ConfigurationError(
            f"path must be printable ASCII without spaces or control characters, got {path[:100]!r}"
        )
    return bare


def _check_files(files: Files) -> None:
    # httpx writes a part's content type into its headers as given (a filename
    # it percent-encodes), so CR/LF there would add header lines of their own.
    for field, value in files.items():
        if isinstance(value, tuple):
            if value[0] is not None:
                header_safe(f"files[{field!r}] filename", value[0])
            if len(value) > 2 and value[2] is not None:  # noqa: PLR2004 - (name, content, type)
                header_safe(f"files[{field!r}] content type", value[2], ascii_only=True)


def _settle_effect(error: WeChatError, call: _Call, *, idempotent: bool) -> None:
    """Make ``error`` speak for every send of the call, and say so where it matters.

    Set, not combined: an error from the token fetch (a 5xx at gettoken) carries
    that fetch's flag, but this call never left.
    """
    error.may_have_taken_effect = call.maybe_sent
    if call.maybe_sent and not idempotent:
        error.add_note(
            f"{call.path} may have taken effect although it failed "
            "(may_have_taken_effect is True); it is not idempotent: check before sending it again"
        )


def _check_status(response: httpx.Response, path: str) -> None:
    if not response.is_success:
        raise HTTPStatusError(response.status_code, path)


def _refuse_constant(name: str) -> object:
    # Python's json accepts NaN and Infinity, which JSON does not have; a reply
    # carrying them is broken, and a NaN or infinite number must not reach our code.
    raise ValueError(f"{name} is not JSON")


def _loads(content: bytes) -> object:
    """Parse strict JSON; ValueError for NaN, Infinity and nesting too deep for the parser.

    A number too large for a float (``1e400``) is valid JSON and becomes infinity
    here; the field that holds it is checked where it is used (``expires_in``
    is), so one odd item cannot fail a whole page of others.
    """
    try:
        return _json.loads(content, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def _decode_object(response: httpx.Response, path: str) -> dict[str, Any]:
    try:
        body = _loads(response.content)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        content_type = response.headers.get("content-type", "no content-type")
        raise InvalidResponseError(
            f"body is not JSON ({content_type}, {len(response.content)} bytes)", path
        ) from exc
    if not isinstance(body, dict):
        raise InvalidResponseError(f"body is a JSON {type(body).__name__}, not an object", path)
    return body


def _raise_for_errcode(body: Mapping[str, Any], path: str) -> None:
    errcode = body.get("errcode", 0)
    if isinstance(errcode, bool) or not isinstance(errcode, int):
        raise InvalidResponseError(f"errcode is not an integer: {type(errcode).__name__}", path)
    if errcode != 0:
        raise api_error_for(errcode, str(body.get("errmsg", "")), path)


def _parse_json(response: httpx.Response, path: str) -> dict[str, Any]:
    _check_status(response, path)
    body = _decode_object(response, path)
    _raise_for_errcode(body, path)
    return body


def _parse_raw(response: httpx.Response, path: str) -> httpx.Response:
    _check_status(response, path)
    # Download endpoints (media/get) answer a failure with a small JSON object
    # instead of the file; the content type tells the two apart.
    if _is_textual(response):
        try:
            body = _loads(response.content)
        except ValueError:
            return response
        if isinstance(body, dict) and "errcode" in body:
            _raise_for_errcode(body, path)
    return response


def _is_textual(response: httpx.Response) -> bool:
    """Whether the answer has WeChat's error shape (JSON or text) rather than a file's."""
    content_type = response.headers.get("content-type", "").lower()
    return "json" in content_type or content_type.startswith("text/plain")


async def _read_bounded(response: httpx.Response, limit: int, path: str) -> None:
    """Read the body into ``response.content``, but never more than ``limit`` bytes.

    A declared Content-Length over the limit is refused before reading; a
    body without one (chunked) is refused at the first chunk that passes it,
    so at most ``limit`` bytes and one chunk are ever held. The connection is
    then closed. A 2xx answer over the limit raises InvalidResponseError; any
    other is left unread, as its status is the error the caller reports.
    """
    declared = response.headers.get("content-length", "").lstrip("0")
    # More digits than the limit has is over it, and not worth int() (which
    # refuses strings of thousands of digits with a ValueError).
    over = (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > len(str(limit)) or int(declared) > limit)
    )
    chunks: list[bytes] = []
    if not over:
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                over = True
                break
            chunks.append(chunk)
    if over:
        await response.aclose()
        if response.is_success:
            raise InvalidResponseError(
                f"body is larger than the {limit}-byte limit (max_response_size / "
                "max_download_size)",
                path,
            )
        return
    # What Response.aread() itself does with what it read; aread() has no limit.
    response._content = b"".join(chunks)  # noqa: SLF001


class Transport:
    """Sends WeChat API calls: hosts, JSON, retries, errcode mapping, tokens, redaction.

    ``client`` is an `httpx.AsyncClient` to share (tests inject one built
    on `httpx.MockTransport`); without one the transport makes its own
    and `aclose` closes it. An injected client is never closed here.
    ``timeout`` (seconds) applies to each send, on an injected client too.
    ``failover=True`` lets `Host.OFFICIAL` calls that cannot connect move
    on to the standby domains. ``metrics`` receives every ``api_call`` event.
    ``max_in_flight`` caps concurrent sends (keep it at most the client's
    connection limit, 100 by default): excess calls wait their turn here,
    within their deadline, instead of piling up in httpcore's pool queue,
    whose bookkeeping grows quadratically with its length and ends in
    PoolTimeouts under a burst.

    Bodies are read in chunks against a bound, never whole on trust: an
    answer to `request`, and any JSON or text answer, may hold at most
    ``max_response_size`` bytes (8 MiB by default; WeChat's largest JSON
    answers, member lists of big corps, stay well below); the file that
    `request_raw` reads into memory at most ``max_download_size`` (64 MiB).
    A larger 2xx answer raises `InvalidResponseError` as soon as its
    Content-Length, or its bytes so far, pass the bound. `stream` hands a
    download over unread, for the caller to read chunk by chunk.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        hosts: Hosts | None = None,
        retry: RetryPolicy | None = None,
        failover: bool = False,
        timeout: float = 10.0,
        metrics: MetricsHook | None = None,
        max_in_flight: int = 100,
        max_response_size: int = 8 * _MIB,
        max_download_size: int = 64 * _MIB,
    ) -> None:
        """Set up the transport; nothing is sent until the first call.

        Raises:
            ConfigurationError: ``timeout`` is not positive, or ``max_in_flight``,
                ``max_response_size`` or ``max_download_size`` is not an int of at least 1.
        """
        number("timeout", timeout)
        integer("max_in_flight", max_in_flight, 1)
        self._max_response_size = integer("max_response_size", max_response_size, 1)
        self._max_download_size = integer("max_download_size", max_download_size, 1)
        self._in_flight = asyncio.Semaphore(max_in_flight)
        _install_log_redaction()
        self._owns_client = client is None
        self._client = httpx.AsyncClient(timeout=timeout) if client is None else client
        self._hosts = Hosts() if hosts is None else hosts
        self._retry = RetryPolicy() if retry is None else retry
        self._retry_takes_idempotent = _takes_idempotent(self._retry.should_retry)
        self._failover = failover
        self._timeout = timeout
        self._metrics = metrics

    @property
    def hosts(self) -> Hosts:
        """The base URLs in use."""
        return self._hosts

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in use."""
        return self._retry

    @contextlib.contextmanager
    def assume_idempotent(self) -> Iterator[None]:
        """Treat every call through this transport inside the block as idempotent.

        For the one send the caller knows is safe to repeat (for example
        because a duplicate does no harm to them), the per-call counterpart
        of ``RetryPolicy(retry_non_idempotent=True)``::

            with wecom.transport.assume_idempotent():
                await wecom.kf.send_msg(customer, open_kfid, Text("..."))

        Such a call is then retried after a timeout, a 5xx or errcode -1 like
        any read, and may take effect twice. The setting lives in a context
        variable: it covers tasks started inside the block and nothing
        outside it, and only calls through this transport.
        """
        reset = _ASSUMED_IDEMPOTENT.set((*_ASSUMED_IDEMPOTENT.get(), self))
        try:
            yield
        finally:
            _ASSUMED_IDEMPOTENT.reset(reset)

    def _is_idempotent(self, method: str, *, idempotent: bool | None) -> bool:
        if idempotent is not None and not isinstance(idempotent, bool):
            raise ConfigurationError(f"idempotent must be a bool or None, got {idempotent!r}")
        if idempotent is None:
            idempotent = method == "GET"
        return idempotent or any(t is self for t in _ASSUMED_IDEMPOTENT.get())

    async def __aenter__(self) -> Self:  # noqa: D105
        return self

    async def __aexit__(  # noqa: D105
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this transport created it; an injected one stays open."""
        if self._owns_client:
            await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        host: Host = Host.OFFICIAL,
        token: TokenProvider | None = None,
        token_param: str = _ACCESS_TOKEN,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        files: Files | None = None,
        data: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Call a WeChat API and return its JSON object.

        ``path`` is the WeChat API path as the docs write it, without host or
        query: ``"cgi-bin/kf/send_msg"``. With ``token``, ``await token.get()``
        is sent as ``token_param`` (``access_token``; Open Platform calls use
        ``component_access_token``). ``json`` is sent as UTF-8 JSON; ``files``
        and ``data`` as a multipart or form body.

        A rejected token is invalidated and the call sent once more with a
        fresh one; that re-send has its own attempts but shares the call's
        deadline. Retries follow the transport's `RetryPolicy`.
        ``idempotent`` says whether sending the call twice is harmless; None
        (the default) counts GET as idempotent and every other method as not,
        so a POST is sent again only when it provably never left. Pass True
        for a POST that only reads, False for a GET that changes something.

        Raises:
            ConfigurationError: ``host`` is not a `Host`, ``path`` carries a
                host or query or is not printable ASCII (a control character,
                a space), ``json`` is given with ``files``/``data``, a
                ``files`` filename or content type holds a control character
                (`InvalidArgumentError`), or ``idempotent`` is not a bool or None.
            APIError: WeChat answered with a non-zero errcode; the subclass
                names the kind (`InvalidTokenError` after the one re-send,
                `RateLimitError`, ...).
            TransportError: no usable answer came back: `ConnectError`,
                `RequestTimeoutError` (also when the deadline is spent;
                `PoolTimeoutError` when the call never got to be sent),
                `HTTPStatusError`, or `InvalidResponseError` for a body that
                is not a JSON object or is larger than ``max_response_size``.
                ``may_have_taken_effect`` tells whether WeChat may have acted
                on the call all the same.
            TokenUnavailableError: ``token`` could not hand out a token in time.
        """
        return await self._call(
            method,
            path,
            host=host,
            token=token,
            token_param=token_param,
            params=params,
            json=json,
            files=files,
            data=data,
            idempotent=idempotent,
            parse=_parse_json,
        )

    async def request_raw(
        self,
        method: str,
        path: str,
        *,
        host: Host = Host.OFFICIAL,
        token: TokenProvider | None = None,
        token_param: str = _ACCESS_TOKEN,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        files: Files | None = None,
        data: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Like `request`, but return the read response for binary downloads (media/get).

        A JSON or text answer carrying a non-zero errcode still raises its
        `APIError`.

        Raises:
            ConfigurationError: as for `request`.
            APIError: the answer is JSON with a non-zero errcode.
            TransportError: no usable answer came back; `InvalidResponseError` when the file is
                larger than ``max_download_size`` (a JSON or text answer than
                ``max_response_size``).
            TokenUnavailableError: ``token`` could not hand out a token in time.
        """
        return await self._call(
            method,
            path,
            host=host,
            token=token,
            token_param=token_param,
            params=params,
            json=json,
            files=files,
            data=data,
            idempotent=idempotent,
            parse=_parse_raw,
            download=True,
        )

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        host: Host = Host.OFFICIAL,
        token: TokenProvider | None = None,
        token_param: str = _ACCESS_TOKEN,
        params: Mapping[str, str | int] | None = None,
        json: object = None,
        idempotent: bool | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Like `request_raw`, but yield the response with its body still unread.

        For large downloads (media/get): read it with ``aiter_bytes()`` inside the
        ``async with`` block; the connection is released when the block ends.
        Retries, token refresh, redaction and errcode mapping are those of
        `request` and cover the call up to the response headers; a JSON or
        text answer (WeChat's error shape) is read, up to ``max_response_size``,
        and mapped before the yield; a file is never read here, so no size
        bound applies to it. The call's deadline does not limit reading the
        body; the per-read ``timeout`` does.

        Raises:
            ConfigurationError: as for `request`.
            APIError: the answer is JSON with a non-zero errcode.
            TransportError: no usable answer came back before the yield.
            TokenUnavailableError: ``token`` could not hand out a token in time.
        """
        response = await self._call(
            method,
            path,
            host=host,
            token=token,
            token_param=token_param,
            params=params,
            json=json,
            files=None,
            data=None,
            idempotent=idempotent,
            parse=_parse_raw,
            stream=True,
            download=True,
        )
        try:
            yield response
        finally:
            await response.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        host: Host,
        token: TokenProvider | None,
        token_param: str,
        params: Mapping[str, str | int] | None,
        json: object,
        files: Files | None,
        data: Mapping[str, str] | None,
        idempotent: bool | None,
        parse: Callable[[httpx.Response, str], _T],
        stream: bool = False,
        download: bool = False,
    ) -> _T:
        path = _api_path(path)
        if not isinstance(host, Host):
            raise ConfigurationError(f"host must be a Host, got {host!r}")
        method = method.upper()
        idempotent = self._is_idempotent(method, idempotent=idempotent)
        if json is not None and (files is not None or data is not None):
            raise ConfigurationError("send either json or files/data, not both")
        if files is not None:
            _check_files(files)
        query: dict[str, str | int] = dict(params or {})
        if token is not None and token_param in query:
            raise ConfigurationError(
                f"{token_param} comes from the token provider; leave it out of params"
            )
        content: bytes | None = None
        headers: dict[str, str] | None = None
        if json is not None:
            content = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers = {"Content-Type": "application/json; charset=utf-8"}
        outgoing = _Outgoing(
            method=method,
            base_urls=self._hosts.base_urls(host, failover=self._failover),
            content=content,
            headers=headers,
            files=files,
            data=data,
            idempotent=idempotent,
            stream=stream,
            download=download,
        )
        call = _Call(path=path, started=time.monotonic(), deadline=self._retry.deadline)
        errcode: int | None = None
        error: str | None = None
        try:
            if token is None:
                result = await self._send_with_retries(outgoing, query, call, parse)
            else:
                result = await self._send_with_token(
                    outgoing,
                    query=query,
                    token=token,
                    token_param=token_param,
                    call=call,
                    parse=parse,
                )
        except WeChatError as exc:
            if isinstance(exc, APIError):
                errcode = exc.errcode
            error = type(exc).__name__
            _settle_effect(exc, call, idempotent=idempotent)
            raise
        except BaseException as exc:
            error = type(exc).__name__
            raise
        else:
            errcode = 0
            return result
        finally:
            emit(
                self._metrics,
                "api_call",
                log=_log,
                path=path,
                errcode=errcode,
                attempts=call.attempts,
                duration=time.monotonic() - call.started,
                error=error,
            )

    async def _send_with_token(
        self,
        outgoing: _Outgoing,
        *,
        query: dict[str, str | int],
        token: TokenProvider,
        token_param: str,
        call: _Call,
        parse: Callable[[httpx.Response, str], _T],
    ) -> _T:
        sent = await token.get()
        try:
            result = await self._send_with_retries(
                outgoing, {**query, token_param: sent}, call, parse
            )
        except InvalidTokenError as exc:
            rejected = exc
        else:
            return result
        # Outside the except block, so a second rejection is not chained to the first.
        # Only the token actually sent is invalidated: a newer one that another
        # task already stored stays, and this is the single re-send, never a loop.
        await token.invalidate(sent)
        if call.remaining() <= 0:
            raise rejected
        _log.debug(
            "%s: token rejected (errcode %s), sending once more", call.path, rejected.errcode
        )
        fresh = await token.get()
        return await self._send_with_retries(outgoing, {**query, token_param: fresh}, call, parse)

    async def _send_with_retries(
        self,
        outgoing: _Outgoing,
        query: Mapping[str, str | int],
        call: _Call,
        parse: Callable[[httpx.Response, str], _T],
    ) -> _T:
        policy = self._retry
        base_index = 0
        attempt = 0
        while True:
            attempt += 1
            call.attempts += 1
            base_url = outgoing.base_urls[base_index % len(outgoing.base_urls)]
            try:
                response = await self._send_once(outgoing, base_url, query, call)
                try:
                    return parse(response, call.path)
                except BaseException:
                    # A streamed response holds its connection until closed.
                    await response.aclose()
                    raise
            except WeChatError as exc:
                call.maybe_sent = call.maybe_sent or exc.may_have_taken_effect
                if attempt >= policy.attempts or not self._may_resend(exc, outgoing):
                    raise
                pause = max(0.0, policy.delay(attempt))
                if pause >= call.remaining():
                    raise
                # Only a failed connect moves to a standby domain: the request
                # never left, so the switch is safe for any call, and it is the
                # case WeChat's docs give the standby domains for. A timeout or
                # a 5xx means the domain answers; those stay put.
                if isinstance(exc, ConnectError) and len(outgoing.base_urls) > 1:
                    base_index += 1
                    _log.info(
                        "%s: cannot connect to %s, failing over to %s",
                        call.path,
                        base_url,
                        outgoing.base_urls[base_index % len(outgoing.base_urls)],
                    )
                _log.debug(
                    "%s: %s on attempt %d of %d, retrying in %.3fs",
                    call.path,
                    type(exc).__name__,
                    attempt,
                    policy.attempts,
                    pause,
                )
            await asyncio.sleep(pause)

    def _may_resend(self, error: WeChatError, outgoing: _Outgoing) -> bool:
        policy = self._retry
        if self._retry_takes_idempotent:
            return policy.should_retry(error, idempotent=outgoing.idempotent)
        # An override from before the keyword existed judges the failure; the
        # rule for calls that are not idempotent still holds around it.
        return policy.should_retry(error) and _may_repeat(
            policy, error, idempotent=outgoing.idempotent
        )

    async def _send_once(
        self,
        outgoing: _Outgoing,
        base_url: str,
        query: Mapping[str, str | int],
        call: _Call,
    ) -> httpx.Response:
        remaining = call.remaining()
        if remaining <= 0:
            raise RequestTimeoutError(
                f"deadline of {self._retry.deadline}s spent", call.path, may_have_taken_effect=False
            )
        url = f"{base_url.rstrip('/')}/{call.path}"
        # Until a send slot is taken nothing has left, so a deadline spent
        # waiting for one is a PoolTimeoutError, safe to retry for any call.
        in_slot = False
        try:
            async with asyncio.timeout(remaining), self._in_flight:
                in_slot = True
                return await self._send_and_read(outgoing, url, query, call.path)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ConnectError(
                f"cannot connect to {base_url}: {_describe(exc)}", call.path
            ) from _scrub(exc)
        except httpx.PoolTimeout as exc:
            raise PoolTimeoutError(
                f"no free connection to {base_url} within {self._timeout}s: {_describe(exc)}",
                call.path,
            ) from _scrub(exc)
        except httpx.TimeoutException as exc:
            raise RequestTimeoutError(
                f"no answer from {base_url} within {self._timeout}s: {_describe(exc)}", call.path
            ) from _scrub(exc)
        except TimeoutError as exc:
            if not in_slot:
                raise PoolTimeoutError(
                    f"deadline of {self._retry.deadline}s spent waiting for a send slot "
                    "(max_in_flight)",
                    call.path,
                ) from exc
            raise RequestTimeoutError(
                f"deadline of {self._retry.deadline}s spent waiting for {base_url}", call.path
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(
                f"request to {base_url} failed: {_describe(exc)}", call.path
            ) from _scrub(exc)

    async def _send_and_read(
        self, outgoing: _Outgoing, url: str, query: Mapping[str, str | int], path: str
    ) -> httpx.Response:
        request = self._client.build_request(
            outgoing.method,
            url,
            params=query,
            content=outgoing.content,
            headers=outgoing.headers,
            files=outgoing.files,
            data=outgoing.data,
            timeout=self._timeout,
        )
        # Always sent as a stream, so that no body is read without a bound.
        response = await self._client.send(request, stream=True)
        try:
            file = outgoing.download and response.is_success and not _is_textual(response)
            if file and outgoing.stream:
                return response  # a download the caller reads chunk by chunk
            limit = self._max_download_size if file else self._max_response_size
            await _read_bounded(response, limit, path)
        except BaseException:
            await response.aclose()
            raise
        return response
