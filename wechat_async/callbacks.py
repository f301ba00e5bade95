"""Decrypted callback payloads (XML or JSON) into plain dicts: pure, no I/O.

Services turn these dicts into their typed callback models. Parsing refuses
DTDs and entity declarations exactly as the envelope parser does, reads UTF-8
only (WeChat sends nothing else; an XML declaration naming another encoding is
refused), and every malformed input raises `MessageParseError`.
"""

from __future__ import annotations

import json
from typing import Any

from wechat_async.crypto import (
    MessageParseError,
    MessageTooLargeError,
    hardened_expat,
    parse_hardened,
)

__all__ = ["MAX_DEPTH", "MAX_SIZE", "parse_json", "parse_xml"]

MAX_DEPTH = 32
"""Deeper nesting than this is refused: WeChat's payloads are a few levels deep."""

MAX_SIZE = 1 << 20
"""Larger payloads are refused before parsing: behind MessageCrypto they are
bounded already, but a plaintext-mode endpoint may hand raw bodies here."""


def _bounded(body: bytes | str) -> bytes | str:
    if not isinstance(body, bytes | str):
        raise MessageParseError(f"body must be bytes or str, got {type(body).__name__}")
    if len(body) > MAX_SIZE:
        raise MessageTooLargeError(f"payload of {len(body)} units exceeds {MAX_SIZE}")
    return body


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """Parse ``<xml>…</xml>`` into a dict of the root's children.

    A leaf element becomes its text (CDATA or not); an element with children
    becomes a dict; an element name seen twice among siblings becomes a list
    (``<Item>`` in news articles). Attributes are ignored: WeChat sends none.

    Raises:
        MessageParseError: the body is not well-formed XML, is not UTF-8 (declares another
            encoding, or is UTF-16), nests deeper than `MAX_DEPTH`, or declares a DTD or entity
            (`ForbiddenXmlError`).
        MessageTooLargeError: the body is longer than `MAX_SIZE`.
    """
    _bounded(body)
    try:
        data = body.encode() if isinstance(body, str) else body
    except UnicodeEncodeError as exc:
        raise MessageParseError("body is not encodable as UTF-8") from exc
    if not isinstance(data, bytes):
        raise MessageParseError(f"body must be bytes or str, got {type(body).__name__}")
    parser = hardened_expat()
    # Each open element: its name, its children and its text parts.
    stack: list[tuple[str, dict[str, Any], list[str]]] = []
    root: dict[str, Any] = {}

    def start(name: str, _attrs: object) -> None:
        if len(stack) >= MAX_DEPTH:
            raise MessageParseError(f"XML is nested more than {MAX_DEPTH} levels deep")
        stack.append((name, {}, []))

    def end(_name: str) -> None:
        name, children, parts = stack.pop()
        value: Any = children or "".join(parts)
        if not stack:
            root.update(children)
            return
        siblings = stack[-1][1]
        if name in siblings:
            existing = siblings[name]
            if isinstance(existing, list):
                existing.append(value)
            else:
                siblings[name] = [existing, value]
        else:
            siblings[name] = value

    def text(chunk: str) -> None:
        if stack:
            stack[-1][2].append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parse_hardened(parser, data)
    return root


def parse_json(body: bytes | str) -> dict[str, Any]:
    """Parse a JSON callback payload that must be an object.

    Raises:
        MessageParseError: the body is not a JSON object.
        MessageTooLargeError: the body is longer than `MAX_SIZE`.
    """
    try:
        document = json.loads(_bounded(body))
    except (ValueError, RecursionError) as exc:
        raise MessageParseError("body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise MessageParseError("JSON payload is not an object")
    return document
