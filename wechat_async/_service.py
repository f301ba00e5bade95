"""The base of every service: a transport, a token provider and a host.

Each endpoint says here, once, whether it is idempotent: `Service._get` calls
are, and `Service._post` takes no default, so no POST endpoint can be added
without deciding whether sending it twice is harmless. The transport retries a
call that is not idempotent only when it provably never left (see
`wechat_async.transport`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

from wechat_async.transport import Host

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import httpx

    from wechat_async.tokens.base import TokenProvider
    from wechat_async.transport import Files, Transport

__all__ = ["Service"]


class Service:
    """A group of WeChat endpoints sharing one transport, token provider and host.

    Services never build an HTTP client or read a token store: both arrive here.
    """

    host: ClassVar[Host] = Host.WORK

    def __init__(self, transport: Transport, token: TokenProvider) -> None:
        """Use ``transport`` for every call and ``token`` for its access_token."""
        self._transport = transport
        self._token = token

    def __repr__(self) -> str:
        """Name the service and its provider (which hides its own secrets)."""
        return f"{type(self).__name__}(token={self._token!r})"

    async def _get(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> dict[str, Any]:
        """GET ``path`` with the service's token; what every service method raises.

        Idempotent: WeChat's GET endpoints read, or (tag/delete) delete, which
        a second time changes nothing more. The transport's
        `ConfigurationError` cannot happen here: the path and host are the
        service's own constants.

        Raises:
            APIError: WeChat answered with a non-zero errcode.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        return await self._transport.request(
            "GET", path, host=self.host, token=self._token, params=params, idempotent=True
        )

    async def _post(
        self,
        path: str,
        body: object = None,
        *,
        idempotent: bool,
        params: Mapping[str, str | int] | None = None,
        files: Files | None = None,
    ) -> dict[str, Any]:
        """POST ``body`` (or ``files``) to ``path``; raises what `_get` raises.

        ``idempotent`` (no default, on purpose) is True when a second identical
        send changes nothing beyond what the first did: reads, absolute
        updates, deletes, adding to or removing from a set. Sends, creates and
        one-time codes are False.

        Raises:
            APIError: WeChat answered with a non-zero errcode.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        return await self._transport.request(
            "POST",
            path,
            host=self.host,
            token=self._token,
            params=params,
            json=body if files is None else None,
            files=files,
            idempotent=idempotent,
        )

    @contextlib.asynccontextmanager
    async def _stream(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """GET ``path`` and yield the response with its body unread (downloads).

        Raises:
            APIError: WeChat answered with a non-zero errcode.
            TransportError: no usable answer came back.
            TokenUnavailableError: no access token could be had in time.
        """
        async with self._transport.stream(
            "GET", path, host=self.host, token=self._token, params=params, idempotent=True
        ) as response:
            yield response
