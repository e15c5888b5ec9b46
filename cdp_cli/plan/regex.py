"""Is a JSON Schema ``pattern`` usable everywhere a plan is enforced?

JSON Schema patterns are ECMA-262 regular expressions (ajv, Segment Protocols and RudderStack use
JavaScript engines); cdp runs them with Python's ``re``. A plan pattern must mean the same in both,
so we accept only the common subset and name the feature that breaks it. Known, accepted
difference: ``\\d`` and ``\\w`` match non-ASCII digits and letters in Python but not in ECMA-262
without the ``u`` flag; write ``[0-9]`` where that matters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PatternProblem:
    kind: str  # "invalid": does not compile; "non-portable": a feature ECMA-262 and Python do not share
    offset: int  # 0-based offset inside the pattern
    message: str


_GROUP_FEATURES = [
    ("(?P<", "Python-only named group '(?P<name>...)'; ECMA-262 writes '(?<name>...)', which Python rejects: use a plain group"),
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
                return PatternProblem("non-portable", i, f"Unicode property escape '\\{nxt}{{...}}' is not supported by Python's re; use a character class")
            if nxt == "c" and i + 2 < n and pattern[i + 2].isalpha():
                return PatternProblem("non-portable", i, "control escape '\\cX' is ECMA-only; use '\\xNN'")
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            i += 1
            continue
        if c == "[":
            in_class = True
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":  # ']' first in a class is a literal in Python, an empty class in ECMA
                return PatternProblem("non-portable", i, "']' first in a character class means different things in ECMA-262 and Python; escape it as '\\]'")
            continue
        if c == "(":
            for prefix, msg in _GROUP_FEATURES:
                if pattern.startswith(prefix, i):
                    return PatternProblem("non-portable", i, msg)
            if _INLINE_FLAGS.match(pattern, i):
                return PatternProblem("non-portable", i, "inline flags such as '(?i)' are not ECMA-262; spell cases out ('[Aa]') instead")
            if _ECMA_NAMED.match(pattern, i):
                return PatternProblem("non-portable", i, "named group '(?<name>...)' is not accepted by Python's re; use a plain group")
        if c in "*+?}" and i + 1 < n and pattern[i + 1] == "+":
            # escapes were consumed in pairs above, so this quantifier is unescaped
            return PatternProblem("non-portable", i, "possessive quantifier ('*+', '++', '?+', '}+') is not ECMA-262")
        if c == "{" and _OPEN_LOWER_BOUND.match(pattern, i):
            return PatternProblem("non-portable", i, "'{,n}' means {0,n} in Python but literal text in ECMA-262 (an error with the u flag); write '{0,n}'")
        i += 1
    try:
        re.compile(pattern)
    except re.error as e:
        pos = e.pos if e.pos is not None else 0
        return PatternProblem("invalid", pos, f"does not compile: {e.msg} at position {pos}")
    return None
