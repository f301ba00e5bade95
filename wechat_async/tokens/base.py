"""The token-provider protocol that the transport and the services depend on."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["TokenProvider"]


@runtime_checkable
class TokenProvider(Protocol):
    """Anything that hands out an access token and can be told one is bad."""

    async def get(self) -> str:
        """Return a valid access token, fetching one if none is cached.

        Raises:
            TokenUnavailableError: no token could be had within the bounded wait.
            APIError: the token endpoint refused, e.g. `InvalidCredentialError`
                for a wrong secret.
            TransportError: the token endpoint gave no usable answer.
        """
        ...

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` if it is still the cached one; a newer token is kept.

        Raises:
            TokenUnavailableError: a strict provider could not reach its store.
        """
        ...
