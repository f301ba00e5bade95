"""The one cattrs converter that turns WeChat's JSON into frozen attrs models.

Rules every model follows (see the services for examples):

* ``@attrs.frozen`` (frozen and slotted), field names as WeChat spells them;
* every field that WeChat may leave out has a default, and unknown fields are
  ignored, because WeChat adds fields often;
* a family of messages or events keyed on one field (``msgtype``, ``event``)
  is a tagged union registered with `register_tagged_union`; a tag we do
  not know comes back as that family's ``Unknown…`` model holding the raw
  dict, never as a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import cattrs
from cattrs.errors import AttributeValidationNote, IterableValidationNote
from cattrs.gen import make_dict_structure_fn, override

from wechat_async._validate import omit_none
from wechat_async.errors import InvalidResponseError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

    import attrs

__all__ = [
    "converter",
    "describe_failure",
    "register_renamed",
    "register_tagged_union",
    "structure",
    "unstructure_omitting_none",
]

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=False)
"""Structures responses into models; extra keys are ignored on purpose."""


def _structure_str(value: object, _: object) -> str:
    # cattrs would str() anything; an object or list where text belongs is a
    # malformed payload, not a string to invent from its repr.
    if isinstance(value, dict | list):
        raise TypeError(f"expected text, got a JSON {type(value).__name__}")
    return str(value)


converter.register_structure_hook(str, _structure_str)


def structure(data: object, cls: type[T], path: str) -> T:
    """Build ``cls`` from a response, naming the API ``path`` if the shape is wrong."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        raise InvalidResponseError(
            f"unexpected response shape for {getattr(cls, '__name__', repr(cls))}: {_summary(exc)}",
            path,
        ) from exc


def _summary(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        causes = "; ".join(repr(e) for e in exc.exceptions[:3])
        return f"{exc.message}: {causes}"
    return repr(exc)


def describe_failure(exc: BaseException, *, limit: int = 3) -> str:
    """Where structuring failed and how, without the values: ``"text.content: TypeError"``.

    The messages of the underlying errors are left out on purpose: Python puts
    the offending value into them (``invalid literal for int(): '…'``), and in a
    synced message that value is the customer's text.
    """
    found = list(_failures(exc, ""))
    shown = "; ".join(found[:limit])
    return shown if len(found) <= limit else f"{shown}; +{len(found) - limit} more"


def _failures(exc: BaseException, path: str) -> Iterator[str]:
    if isinstance(exc, cattrs.BaseValidationError):
        for sub in exc.exceptions:
            yield from _failures(sub, path + _step(sub))
    else:
        yield f"{path.removeprefix('.') or '(top level)'}: {type(exc).__name__}"


def _step(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return f".{note.name}"  # our attribute name, never WeChat's data
        if isinstance(note, IterableValidationNote):
            # A mapping key comes from the payload: shown as a placeholder.
            return f"[{note.index}]" if isinstance(note.index, int) else "[…]"
    return ""


def register_tagged_union(
    union: Any,  # noqa: ANN401 - a typing Union object
    *,
    tag: str,
    members: Mapping[str, type[Any]],
    unknown: Callable[[dict[str, Any]], Any],
) -> None:
    """Structure ``union`` by ``data[tag]``; an unknown tag goes to ``unknown(raw)``."""

    def hook(data: Any, _: Any) -> Any:  # noqa: ANN401 - cattrs hook signature
        if not isinstance(data, dict):
            raise TypeError(f"expected an object, got {type(data).__name__}")
        key = data.get(tag)
        # A tag that is not text (a list, an object) is unknown, not a crash.
        member = members.get(key) if isinstance(key, str) else None
        if member is None:
            return unknown(data)
        return converter.structure(data, member)

    converter.register_structure_hook(union, hook)


def register_renamed(cls: type[Any], names: Mapping[str, str], *, omit: Iterable[str] = ()) -> None:
    """Structure ``cls`` from a payload whose keys WeChat spells otherwise.

    ``names`` maps our field names to WeChat's keys (``{"to_user_name":
    "ToUserName"}``): callback XML uses CamelCase element names. Fields in
    ``omit`` are ours, never read from the payload (they keep their default).
    """
    overrides: dict[str, Any] = {field: override(rename=key) for field, key in names.items()}
    overrides.update((field, override(omit=True)) for field in omit)
    converter.register_structure_hook(cls, make_dict_structure_fn(cls, converter, **overrides))


def unstructure_omitting_none(instance: attrs.AttrsInstance) -> dict[str, Any]:
    """Unstructure an attrs instance, leaving out top-level fields that are None.

    WeChat rejects some optional fields when they are sent empty, so request
    bodies carry only what the caller set (see `omit_none`).
    """
    return omit_none(converter.unstructure(instance))
