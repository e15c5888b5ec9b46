"""JSON helpers shared by every finding that points inside a document or message: JSON-path
rendering and JSON type names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters that would break a report line (or a CI log command): controls, DEL, C1, line separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters shown as ``\\uXXXX``: names and keys come from event data, and a
    newline in one must not start a new line (or a ``::error`` command) in a report."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_path(parts: Iterable[str | int]) -> str:
    """Render ``("events", "Order Completed", "properties", 0)`` as ``$.events['Order Completed'].properties[0]``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENT.fullmatch(part):
            out.append(f".{part}")
        else:
            escaped = printable(part.replace("\\", "\\\\").replace("'", "\\'"))
            out.append(f"['{escaped}']")
    return "".join(out)


def json_type(value: Any, *, integers: bool = False) -> str:
    """The JSON type of a parsed value: null, boolean, number (integer when ``integers``), string,
    array, object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer" if integers else "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def with_article(word: str) -> str:
    """``an array``, ``a string``; ``null`` stays bare."""
    return word if word == "null" else ("an " if word[:1] in "aeiou" else "a ") + word
