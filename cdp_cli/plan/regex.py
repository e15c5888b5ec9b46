"""Is a JSON Schema ``pattern`` usable everywhere a plan is enforced?

JSON Schema patterns are ECMA-262 regular expressions (ajv, Segment Protocols and RudderStack use
JavaScript engines); cdp runs them with Python's ``re``. A plan pattern must mean the same in both,
so we accept only the common subset and name the feature that breaks it. Known, accepted
difference: ``\\d`` and ``\\w`` match non-ASCII digits and letters in Python but not in ECMA-262
without the ``u`` flag; write ``[0-9]`` where that matters. And ``$`` also matches before a final
newline in Python (``"USD\\n"`` passes ``^[A-Z]{3}$``) but not in ECMA-262.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PatternProblem:
    kind: str  # "invalid": does not compile; "non-portable": a feature ECMA-262 and Python do not share
    offset: int  # 0-based offset inside the pattern
    message: str


_GROUP_FEATURES = [
    (
        "(?P<",
        "Python-only named group '(?P<name>...)'; "
        "ECMA-262 writes '(?<name>...)', which Python rejects: use a plain group",
    ),
    ("(?P=", "Python-only named back-reference '(?P=name)'; use a numbered back-reference"),
    ("(?P>", "Python-only group call '(?P>name)'"),
    ("(?#", "Python-only comment group '(?#...)'"),
    ("(?>", "atomic group '(?>...)' is not ECMA-262"),
    ("(?(", "conditional group '(?(1)...)' is not ECMA-262"),
]
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]+[:)]")
_ECMA_NAMED = re.compile(r"\(\?<[A-Za-z_$]")
_OPEN_LOWER_BOUND = re.compile(r"\{,[0-9]+\}")


def check_pattern(pattern: str) -> PatternProblem | None:
    """Return the first problem with ``pattern``, or None when it is portable and valid."""
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "AZz" and not in_class:
                hint = {"A": "'^'", "Z": "'$'", "z": "'$'"}[nxt]
                return PatternProblem("non-portable", i, f"'\\{nxt}' is Python-only (not ECMA-262); use {hint}")
            if nxt in "pP" and i + 2 < n and pattern[i + 2] == "{":
                return PatternProblem(
                    "non-portable",
                    i,
                    f"Unicode property escape '\\{nxt}{{...}}' is not supported by Python's re; use a character class",
                )
            if nxt == "c" and i + 2 < n and pattern[i + 2].isalpha():
                return PatternProblem("non-portable", i, "control escape '\\cX' is ECMA-only; use '\\xNN'")
            if nxt == "U":
                return PatternProblem(
                    "non-portable",
                    i,
                    "'\\UXXXXXXXX' is Python-only (ECMA-262 reads a literal 'U'); write the character itself",
                )
            if nxt == "u" and i + 2 < n and pattern[i + 2] == "{":
                return PatternProblem(
                    "non-portable",
                    i,
                    "'\\u{...}' needs ECMA-262's u flag and is not Python; write the character itself or '\\uXXXX'",
                )
            if nxt == "N" and i + 2 < n and pattern[i + 2] == "{":
                return PatternProblem(
                    "non-portable", i, "named character escape '\\N{...}' is Python-only; write the character itself"
                )
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[" and i + 1 < n and pattern[i + 1] in ":=.":
                return PatternProblem(
                    "non-portable",
                    i,
                    "POSIX class '[:alpha:]' inside a character class is not ECMA-262 "
                    "(and Python reads it literally); write the characters out ('[A-Za-z]')",
                )
            elif pattern.startswith(("&&", "--", "~~", "||"), i):
                return PatternProblem(
                    "non-portable",
                    i,
                    f"'{pattern[i : i + 2]}' in a character class is a set operation in some engines "
                    "and literal in others; reorder or escape it",
                )
            i += 1
            continue
        if c == "[":
            in_class = True
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":  # ']' first in a class is a literal in Python, an empty class in ECMA
                return PatternProblem(
                    "non-portable",
                    i,
                    "']' first in a character class means different things in ECMA-262 and Python; escape it as '\\]'",
                )
            continue
        if c == "(":
            for prefix, msg in _GROUP_FEATURES:
                if pattern.startswith(prefix, i):
                    return PatternProblem("non-portable", i, msg)
            if _INLINE_FLAGS.match(pattern, i):
                return PatternProblem(
                    "non-portable", i, "inline flags such as '(?i)' are not ECMA-262; spell cases out ('[Aa]') instead"
                )
            if _ECMA_NAMED.match(pattern, i):
                return PatternProblem(
                    "non-portable", i, "named group '(?<name>...)' is not accepted by Python's re; use a plain group"
                )
        if c in "*+?}" and i + 1 < n and pattern[i + 1] == "+":
            # escapes were consumed in pairs above, so this quantifier is unescaped
            return PatternProblem("non-portable", i, "possessive quantifier ('*+', '++', '?+', '}+') is not ECMA-262")
        if c == "{" and _OPEN_LOWER_BOUND.match(pattern, i):
            return PatternProblem(
                "non-portable",
                i,
                "'{,n}' means {0,n} in Python but literal text in ECMA-262 (an error with the u flag); write '{0,n}'",
            )
        i += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            re.compile(pattern)
        except re.error as e:
            pos = e.pos if e.pos is not None else 0
            if "look-behind requires fixed-width" in e.msg:
                return PatternProblem(
                    "non-portable",
                    pos,
                    "variable-width look-behind is ECMA-262 but Python's re rejects it; use a fixed-width look-behind",
                )
            return PatternProblem("invalid", pos, f"does not compile: {e.msg} at position {pos}")
    for w in caught:
        if issubclass(w.category, FutureWarning):
            return PatternProblem(
                "non-portable",
                0,
                f"engines disagree on this pattern ({w.message}); escape the characters or write them out",
            )
    return None
