"""Naming styles for events, properties and traits: check a name, and say what it should be.

Used by ``cdp plan validate`` (the plan's own conventions) and by event linting.
"""

from __future__ import annotations

import re
from enum import Enum


class Style(str, Enum):
    TITLE_CASE = "title_case"  # "Order Completed", "Product Added to Wishlist"
    SNAKE_CASE = "snake_case"  # "order_completed"
    CAMEL_CASE = "camel_case"  # "orderCompleted"
    PASCAL_CASE = "pascal_case"  # "OrderCompleted"
    KEBAB_CASE = "kebab_case"  # "order-completed"
    ANY = "any"


#: Words that stay lower case inside a Title Case name (never as its first word).
SMALL_WORDS = frozenset(
    "a an and as at but by for from in into of off on or per than the to via vs with".split()
)

_PATTERNS = {
    Style.SNAKE_CASE: re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"),
    Style.CAMEL_CASE: re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*$"),
    Style.PASCAL_CASE: re.compile(r"^(?:[A-Z][a-z0-9]*)+$"),
    Style.KEBAB_CASE: re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"),
}
_TITLE_WORD = re.compile(r"^(?:[A-Z0-9][A-Za-z0-9]*)(?:-[A-Z0-9][A-Za-z0-9]*)*$")
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

DESCRIPTIONS = {
    Style.TITLE_CASE: 'Title Case words separated by single spaces ("Order Completed")',
    Style.SNAKE_CASE: 'snake_case ("order_completed")',
    Style.CAMEL_CASE: 'camelCase ("orderCompleted")',
    Style.PASCAL_CASE: 'PascalCase ("OrderCompleted")',
    Style.KEBAB_CASE: 'kebab-case ("order-completed")',
    Style.ANY: "any name",
}


def split_words(name: str) -> list[str]:
    """Split ``"orderCompleted"``, ``"Order Completed"``, ``"order_completed"`` into words."""
    return _WORDS.findall(name)


def matches(name: str, style: Style | str) -> bool:
    style = Style(style)
    if style is Style.ANY:
        return True
    if style is Style.TITLE_CASE:
        words = name.split(" ")
        if not words or any(w == "" for w in words):
            return False
        for i, word in enumerate(words):
            if i > 0 and word in SMALL_WORDS:
                continue
            if not _TITLE_WORD.match(word):
                return False
        return True
    return bool(_PATTERNS[style].match(name))


def convert(name: str, style: Style | str) -> str:
    """Best-effort rename of ``name`` into ``style`` (used in fix suggestions)."""
    style = Style(style)
    words = split_words(name)
    if not words or style is Style.ANY:
        return name
    lower = [w.lower() for w in words]
    if style is Style.SNAKE_CASE:
        return "_".join(lower)
    if style is Style.KEBAB_CASE:
        return "-".join(lower)
    if style is Style.CAMEL_CASE:
        return lower[0] + "".join(w.capitalize() for w in lower[1:])
    if style is Style.PASCAL_CASE:
        return "".join(w.capitalize() for w in lower)
    out = []
    for i, w in enumerate(words):
        if i > 0 and w.lower() in SMALL_WORDS:
            out.append(w.lower())
        elif w.isupper() and len(w) > 1:
            out.append(w)  # keep acronyms: "API Key Created"
        else:
            out.append(w[:1].upper() + w[1:].lower())
    return " ".join(out)


def normalize(name: str) -> str:
    """The key under which names that differ only in case, spacing or separators collide."""
    return re.sub(r"[\W_]", "", name.casefold())
