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
SMALL_WORDS = frozenset("a an and as at but by for from in into of off on or per than the to via vs with".split())

DESCRIPTIONS = {
    Style.TITLE_CASE: 'Title Case words separated by single spaces ("Order Completed")',
    Style.SNAKE_CASE: 'snake_case ("order_completed")',
    Style.CAMEL_CASE: 'camelCase ("orderCompleted")',
    Style.PASCAL_CASE: 'PascalCase ("OrderCompleted")',
    Style.KEBAB_CASE: 'kebab-case ("order-completed")',
    Style.ANY: "any name",
}


def _kind(ch: str) -> str:
    """u: upper-case letter, l: lower-case or caseless letter (so any script works), d: digit."""
    if ch.isdigit():
        return "d"
    return "u" if ch.isupper() else "l"


def split_words(name: str) -> list[str]:
    """Split ``"orderCompleted"``, ``"Order Completed"``, ``"order_completed"``, ``"HTTPStatus"``
    into words. Letters of any script count; everything that is not a letter or digit separates."""
    words: list[str] = []
    cur = ""
    prev = ""
    for ch in name:
        if not ch.isalnum():
            if cur:
                words.append(cur)
            cur, prev = "", ""
            continue
        kind = _kind(ch)
        if cur and ((kind == "u" and prev == "l") or (kind == "d") != (prev == "d")):
            words.append(cur)
            cur = ""
        elif cur and kind == "l" and prev == "u" and len(cur) > 1 and all(_kind(c) == "u" for c in cur):
            words.append(cur[:-1])  # "HTTPStatus": the last capital starts the next word
            cur = cur[-1]
        cur += ch
        prev = kind
    if cur:
        words.append(cur)
    return words


def _title_word(word: str) -> bool:
    """ "Order", "API", "2", "Sign-In", "Über", "注文": a capitalised word, an acronym, or a number."""
    for part in word.split("-"):
        if not part or not part.isalnum():
            return False
        first, rest = part[0], part[1:]
        if first.isalpha() and first.islower():
            return False
        if rest and not (all(not c.isupper() for c in rest) or all(not c.islower() for c in rest)):
            return False  # "OrderCompleted" is PascalCase, not a Title Case word
    return True


def _joined(name: str, sep: str) -> bool:
    parts = name.split(sep) if sep else [name]
    return all(p and p.isalnum() and not any(c.isupper() for c in p) for p in parts) and name[0].isalpha()


def matches(name: str, style: Style | str) -> bool:
    style = Style(style)
    if not name:
        return False
    if style is Style.ANY:
        return True
    if style is Style.TITLE_CASE:
        words = name.split(" ")
        return all(words) and all((i > 0 and w in SMALL_WORDS) or _title_word(w) for i, w in enumerate(words))
    if style is Style.SNAKE_CASE:
        return _joined(name, "_")
    if style is Style.KEBAB_CASE:
        return _joined(name, "-")
    if not name.isalnum():
        return False
    if style is Style.CAMEL_CASE:
        return name[0].isalpha() and not name[0].isupper()
    return name[0].isupper()  # PASCAL_CASE


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
