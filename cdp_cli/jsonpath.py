"""JSON helpers shared by every finding that points inside a document or message: JSON-path
rendering and JSON type names."""

from __future__ import annotations

import re
from typing import Any, Iterable

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parts: Iterable[str | int]) -> str:
    """Render ``("events", "Order Completed", "properties", 0)`` as ``$.events['Order Completed'].properties[0]``."""
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENT.match(part):
            out.append(f".{part}")
        else:
            escaped = part.replace("\\", "\\\\").replace("'", "\\'")
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
