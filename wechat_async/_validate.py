"""The argument checks every service shares, so each rule is written once.

Each check returns the value it was given (typed) or raises
`InvalidArgumentError` naming the argument, before
anything is sent. ``argument`` is the caller-facing name WeChat also uses.
Endpoint-specific rules (id alphabets, documented limits) stay in their
service module and are expressed through these helpers.

``bool`` is never taken for an integer, and a bare ``str`` or ``bytes`` is
never taken for a list: both are what a caller passes by mistake.

`non_empty` and `max_bytes` are the same checks as attrs
validators, for the fields of outgoing message models.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from wechat_async.errors import InvalidArgumentError

if TYPE_CHECKING:
    import attrs

__all__ = [
    "as_tuple",
    "header_safe",
    "int_list",
    "integer",
    "items_of",
    "max_bytes",
    "member_lists",
    "non_empty",
    "number",
    "omit_none",
    "one_or_both",
    "optional_text",
    "redis_prefix",
    "str_list",
    "text",
]


def redis_prefix(value: object) -> str:
    """A Redis key prefix: a non-empty string without braces.

    A brace would break the hash tag that keeps each account's or token's keys in one
    Cluster slot.
    """
    if not isinstance(value, str) or not value or "{" in value or "}" in value:
        raise InvalidArgumentError("prefix", "must be a non-empty string free of braces")
    return value


def text(
    argument: str,
    value: object,
    *,
    max_chars: int | None = None,
    max_bytes: int | None = None,
    allow_blank: bool = True,
) -> str:
    """A non-empty string, at most ``max_chars`` characters and ``max_bytes`` UTF-8 bytes.

    ``allow_blank=False`` also refuses a string of only white space.
    """
    if not isinstance(value, str) or not (value if allow_blank else value.strip()):
        raise InvalidArgumentError(argument, "must be a non-empty string")
    if max_chars is not None and len(value) > max_chars:
        raise InvalidArgumentError(argument, f"must be at most {max_chars} characters")
    if max_bytes is not None:
        _check_bytes(argument, value, max_bytes)
    return value


def optional_text(
    argument: str, value: object, *, max_chars: int | None = None, max_bytes: int | None = None
) -> str | None:
    """None, or a string that passes `text` with the same limits."""
    if value is None:
        return None
    return text(argument, value, max_chars=max_chars, max_bytes=max_bytes)


# C0 controls and DEL: CR and LF would end a header line and start a new one.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def header_safe(argument: str, value: object, *, ascii_only: bool = False) -> str:
    """A string that can stand in an HTTP header: no control character (CR, LF, NUL, DEL).

    ``ascii_only`` also refuses non-ASCII (a MIME type is ASCII by definition).
    """
    if not isinstance(value, str):
        raise InvalidArgumentError(argument, f"must be a string, got {type(value).__name__}")
    if _CONTROL.search(value) is not None:
        raise InvalidArgumentError(argument, "must not hold control characters (CR, LF, NUL...)")
    if ascii_only and not value.isascii():
        raise InvalidArgumentError(argument, "must be ASCII")
    return value


def integer(argument: str, value: object, low: int, high: int | None = None) -> int:
    """An ``int`` (not a ``bool``) from ``low`` to ``high`` inclusive; no upper bound if None."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"of at least {low}" if high is None else f"from {low} to {high}"
        raise InvalidArgumentError(argument, f"must be an integer {bounds}, got {value!r}")
    return value


def number(argument: str, value: object, *, positive: bool = True) -> float:
    """An int or float (not a bool), finite, above zero (or at least zero with ``positive=False``).

    For durations and timeouts in settings, where a str would otherwise fail
    later with a TypeError from a comparison.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        wanted = "a positive" if positive else "a non-negative"
        raise InvalidArgumentError(argument, f"must be {wanted} number of seconds, got {value!r}")
    return value


def str_list(
    argument: str, value: object, *, allow_empty: bool = True, max_items: int | None = None
) -> list[str]:
    """A list of non-empty strings, from any iterable but a bare ``str`` or ``bytes``.

    ``allow_empty=False`` refuses an empty list; ``max_items`` caps its length.
    """
    items = _items(argument, value, "strings", allow_empty=allow_empty, max_items=max_items)
    if not all(isinstance(item, str) and item for item in items):
        raise InvalidArgumentError(argument, "every item must be a non-empty string")
    return items


def int_list(argument: str, value: object, *, max_items: int | None = None) -> list[int]:
    """A list (maybe empty) of ``int`` (not ``bool``), at most ``max_items`` long."""
    items = _items(argument, value, "integers", allow_empty=True, max_items=max_items)
    if not all(isinstance(item, int) and not isinstance(item, bool) for item in items):
        raise InvalidArgumentError(argument, "every item must be an integer")
    return items


def member_lists(
    *, userids: tuple[str, object, int], department_ids: tuple[str, object, int]
) -> dict[str, list[Any]]:
    """A user list and a department list, each ``(argument, value, max_items)``, not both empty.

    Returns the body part: each list under its argument name, left out when empty.
    """
    users_name, users, max_users = userids
    departments_name, departments, max_departments = department_ids
    checked: dict[str, list[Any]] = {
        users_name: str_list(users_name, users, max_items=max_users),
        departments_name: int_list(departments_name, departments, max_items=max_departments),
    }
    one_or_both(users_name, checked[users_name], departments_name, checked[departments_name])
    return {name: items for name, items in checked.items() if items}


def one_or_both(first: str, first_value: object, second: str, second_value: object) -> None:
    """At least one of two arguments is set: not None and not an empty list or tuple.

    For endpoints that take either of two things (or both) but not neither;
    the error names ``first``.
    """
    if _unset(first_value) and _unset(second_value):
        raise InvalidArgumentError(first, f"pass {first}, {second} or both")


def omit_none(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` without the keys whose value is None.

    WeChat rejects some optional fields when they are sent empty, so request
    bodies carry only what the caller set.
    """
    return {key: value for key, value in raw.items() if value is not None}


def non_empty(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Attrs validator: the field holds a non-empty string (see `text`)."""
    text(attribute.name, value)


def as_tuple(value: object) -> object:
    """Attrs converter: a list becomes a tuple (frozen models keep tuples); all else stays."""
    return tuple(value) if isinstance(value, list) else value


def items_of(
    kinds: type | tuple[type, ...], low: int, high: int | None, noun: str
) -> Callable[[object, attrs.Attribute[Any], object], None]:
    """Attrs validator: a tuple of ``low`` to ``high`` (None: any number) instances of ``kinds``.

    ``noun`` names the items in the message ("articles", "menu items"); use it
    after `as_tuple`, so a list is accepted and anything else is refused here.
    """
    names = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))

    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, tuple) or not all(isinstance(item, kinds) for item in value):
            raise InvalidArgumentError(attribute.name, f"must be a list of {names}")
        if len(value) < low or (high is not None and len(value) > high):
            wanted = (
                f"at least {low}"
                if high is None
                else f"exactly {low}"
                if low == high
                else f"{low} to {high}"
            )
            raise InvalidArgumentError(attribute.name, f"takes {wanted} {noun}, got {len(value)}")

    return check


def max_bytes(limit: int) -> Callable[[object, attrs.Attribute[Any], str | None], None]:
    """Attrs validator: the field, unless None, is at most ``limit`` UTF-8 bytes."""

    def check(_: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is not None:
            _check_bytes(attribute.name, value, limit)

    return check


def _unset(value: object) -> bool:
    return value is None or (isinstance(value, list | tuple) and not value)


def _check_bytes(argument: str, value: str, limit: int) -> None:
    if len(value.encode()) > limit:
        raise InvalidArgumentError(argument, f"must be at most {limit} bytes")


def _items(
    argument: str, value: object, kind: str, *, allow_empty: bool, max_items: int | None
) -> list[Any]:
    # A bare string is iterable too; taking it as a list of letters helps nobody.
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidArgumentError(argument, f"must be a list of {kind}")
    items = list(value)
    if not items and not allow_empty:
        raise InvalidArgumentError(argument, "must not be empty")
    if max_items is not None and len(items) > max_items:
        raise InvalidArgumentError(argument, f"holds at most {max_items} items; split the call")
    return items
