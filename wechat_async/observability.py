"""Log events and the metrics hook shared by the transport and the token providers.

Everything goes to the ``wechat_async`` logger (children: ``wechat_async.transport``,
``wechat_async.tokens``). An app that feeds its own metrics passes a
`MetricsHook`; it receives every `Event` synchronously, so it must
be quick. Events carry no secrets: paths, errcodes, counts and durations only.

Event names: ``api_call`` (path, errcode, attempts, duration), ``token_fetch``
(key, duration, ok), ``token_refresh_ahead`` (key), ``token_invalidate``
(key, removed), ``token_lock_wait`` (key, waited), ``token_store_unavailable``
(key, error).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Event", "MetricsHook", "emit", "logger"]

logger = logging.getLogger("wechat_async")


@dataclass(frozen=True, slots=True)
class Event:
    """One observable thing the SDK did: a name and secret-free fields."""

    name: str
    fields: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


MetricsHook = Callable[[Event], None]


def emit(
    hook: MetricsHook | None,
    name: str,
    *,
    log: logging.Logger = logger,
    level: int = logging.DEBUG,
    **fields: object,
) -> None:
    """Log an event and hand it to the hook; a failing hook is logged, never raised."""
    if log.isEnabledFor(level):
        detail = " ".join(f"{key}={value!r}" for key, value in fields.items())
        log.log(level, "%s %s", name, detail)
    if hook is not None:
        try:
            hook(Event(name, MappingProxyType(dict(fields))))
        except Exception:
            log.exception("metrics hook failed on %s", name)
