"""Identifiers of one message, as the identity configuration says: read, normalised, filtered.

A value is an identifier only if it is a string (or a number, normalised to its decimal text when
``numbers: normalize``), not longer than ``max_length``, and not blocked. Everything else is counted
by reason (:class:`ExtractStats`): the event itself is always kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cdp_cli.identity.config import IdentityConfig, IdType
from cdp_cli.jsonpath import json_type

_MISSING = object()
BLOCKED_SAMPLES = 1000  # distinct blocked values remembered for the summary (all are counted)
EXAMPLES = 20  # located examples of values that are not identifiers
CACHE_MAX = 1_000_000  # memoised raw values (cleared when full: memory stays bounded)


@dataclass
class ExtractStats:
    messages: int = 0
    without_identifiers: int = 0
    blocked: Counter = field(default_factory=Counter)  # type -> values blocked
    blocked_values: Counter = field(default_factory=Counter)  # (type, rule) -> count: the placeholder or "regex ..."
    wrong_type: Counter = field(default_factory=Counter)  # type -> values of a JSON type that is not an identifier
    too_long: Counter = field(default_factory=Counter)  # type -> values over max_length
    numbers: Counter = field(default_factory=Counter)  # type -> numbers normalised to text
    external_accounts: int = 0  # context.externalIds with collection 'accounts' (not people)
    examples: list = field(default_factory=list)  # (reason, type, file, line): the first few, to find them

    def example(self, reason: str, type_name: str, where: tuple[str, int]) -> None:
        if len(self.examples) < EXAMPLES:
            self.examples.append((reason, type_name, where[0], where[1]))

    def merge(self, other: ExtractStats) -> None:
        self.messages += other.messages
        self.without_identifiers += other.without_identifiers
        for name in ("blocked", "wrong_type", "too_long", "numbers"):
            getattr(self, name).update(getattr(other, name))
        for k, v in other.blocked_values.items():
            if k in self.blocked_values or len(self.blocked_values) < BLOCKED_SAMPLES:
                self.blocked_values[k] += v
        self.external_accounts += other.external_accounts
        self.examples = (self.examples + other.examples)[:EXAMPLES]

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "without_identifiers": self.without_identifiers,
            "blocked": dict(sorted(self.blocked.items())),
            "wrong_type": dict(sorted(self.wrong_type.items())),
            "too_long": dict(sorted(self.too_long.items())),
            "numbers_normalized": dict(sorted(self.numbers.items())),
            "external_accounts_ignored": self.external_accounts,
            "examples": [{"reason": r, "type": t, "file": f, "line": n} for r, t, f, n in self.examples],
            "top_blocked_values": [
                {"type": t, "blocked_by": v, "count": n} for (t, v), n in self.blocked_values.most_common(10)
            ],
        }


@dataclass(frozen=True, slots=True)
class _Blocked:
    rule: str


def _get(msg: Any, parts: tuple[str, ...]) -> Any:
    node = msg
    for p in parts:
        if type(node) is not dict:
            return _MISSING
        node = node.get(p, _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


class Extractor:
    """Compiled once from an :class:`IdentityConfig`; :meth:`extract` is called per message."""

    def __init__(self, config: IdentityConfig) -> None:
        self.config = config
        self.types: list[IdType] = list(config.types)
        self.index: dict[str, int] = {t.name: i for i, t in enumerate(self.types)}
        self.stats = ExtractStats()
        self._reads = [(i, p.parts, p.when) for i, t in enumerate(self.types) for p in t.paths]
        self._blocked_exact = config.blocked_exact
        self._blocked_regex = config.blocked_regex
        self._numbers = config.numbers == "normalize"
        self._max = config.max_length
        self.where: tuple[str, int] = ("", 0)  # the message being read, for located examples
        self._cache: dict[tuple[int, str], str | _Blocked] = {}  # (type, raw string) -> identifier, or why blocked
        self._reader = _compile(self._reads)
        self._has_alias_prev = config.alias == "link"

    def type_index(self, name: str) -> int | None:
        """The index of a type, adding a ``context.externalIds`` type the first time it is seen."""
        i = self.index.get(name)
        if i is None and self.config.external_ids:
            i = len(self.types)
            self.types.append(self.config.external_type(name))
            self.index[name] = i
        return i

    def _norm(self, i: int, value: Any) -> str | None:
        """:meth:`normalize` by type index, memoised for strings (ids repeat on every event of a person)."""
        if type(value) is str:
            key = (i, value)
            try:
                hit = self._cache[key]
            except KeyError:
                pass
            else:
                if type(hit) is _Blocked:  # blocked: still counted every time
                    self._count_blocked(self.types[i], hit.rule)
                    return None
                return hit  # type: ignore[return-value]
            v = self.normalize(self.types[i], value)
            memo = v if v is not None else self._last_blocked
            if memo is not None:
                if len(self._cache) >= CACHE_MAX:
                    self._cache.clear()
                self._cache[key] = memo
            return v
        return self.normalize(self.types[i], value)

    def _count_blocked(self, t: IdType, rule: str) -> None:
        self.stats.blocked[t.name] += 1
        key = (t.name, rule)
        if key in self.stats.blocked_values or len(self.stats.blocked_values) < BLOCKED_SAMPLES:
            self.stats.blocked_values[key] += 1

    def normalize(self, t: IdType, value: Any) -> str | None:
        """The identifier ``value`` stands for, or None (counted by reason)."""
        self._last_blocked: _Blocked | None = None
        if type(value) is str:
            v = value.strip() if t.trim else value
        elif type(value) is int or (type(value) is float and value.is_integer()):
            if not self._numbers:
                self.stats.wrong_type[t.name] += 1
                self.stats.example("a number (numbers: reject)", t.name, self.where)
                return None
            v = str(int(value))
            self.stats.numbers[t.name] += 1
        else:
            if value is not None:
                self.stats.wrong_type[t.name] += 1
                self.stats.example(f"{json_type(value)} is not an identifier", t.name, self.where)
            return None
        if t.lowercase:
            v = v.lower()
        if len(v) > self._max:
            self.stats.too_long[t.name] += 1
            self.stats.example(f"longer than {self._max} characters", t.name, self.where)
            return None
        folded = v.casefold()
        rule = None
        if folded in self._blocked_exact or folded in t.blocked_exact:
            rule = folded  # one of the configured placeholder values
        else:
            for r in (*self._blocked_regex, *t.blocked_regex):
                if r.search(v):
                    rule = f"regex {r.pattern}"  # the pattern, never the value (it may be personal data)
                    break
        if rule is not None:
            self._count_blocked(t, rule)
            self._last_blocked = _Blocked(rule)
            return None
        return v

    def extract(self, msg: dict[str, Any]) -> list[tuple[int, str]]:
        """``[(type index, value), ...]`` without duplicates, in configuration order."""
        self.stats.messages += 1
        out: list[tuple[int, str]] = []
        types = self.types
        self._reader(msg, out, self._norm)
        if self.config.external_ids:
            self._external(msg, out)
        if not any(types[i].match for i, _ in out) and not (msg.get("type") == "alias" and msg.get("previousId")):
            self.stats.without_identifiers += 1
        return out

    def _external(self, msg: dict[str, Any], out: list[tuple[int, str]]) -> None:
        ctx = msg.get("context")
        ext = ctx.get("externalIds") if type(ctx) is dict else None
        if type(ext) is not list:
            return
        for item in ext:
            if type(item) is not dict:
                continue
            name = item.get("type")
            if type(name) is not str or not name or len(name) > 64 or not name.isprintable():
                continue
            collection = item.get("collection")
            if collection not in (None, "users"):
                self.stats.external_accounts += 1
                continue
            i = self.type_index(name)
            if i is None:
                continue
            v = self.normalize(self.types[i], item.get("id"))
            if v is not None and (i, v) not in out:
                out.append((i, v))

    def previous_id(self, msg: dict[str, Any]) -> str | None:
        """An alias call's ``previousId``, normalised like a user id (None when not linking aliases)."""
        if self.config.alias != "link" or msg.get("type") != "alias":
            return None
        i = self.index.get("user_id")
        t = self.types[i] if i is not None else IdType("user_id", [])
        return self.normalize(t, msg.get("previousId"))


def _compile(reads: list[tuple[int, tuple[str, ...], tuple]]):
    """Generate one Python function that reads every configured path, walking shared prefixes once
    (``context`` is looked up once, not once per path). Conditions (``when``) are checked only when
    the value is there."""
    trie: dict = {}
    for n, (i, parts, when) in enumerate(reads):
        node = trie
        for p in parts[:-1]:
            node = node.setdefault(("k", p), {})
        node.setdefault(("v", parts[-1]), []).append((i, when, n))
    consts: dict[str, Any] = {"_get": _get, "_matches": _matches, "_MISSING": _MISSING}
    lines = ["def _extract(msg, out, norm):"]
    counter = [0]

    def emit(node: dict, var: str, depth: int) -> None:
        pad = "    " * depth
        for key, child in node.items():
            kind, name = key
            if kind == "v":
                lines.append(f"{pad}v = {var}.get({name!r})")
                lines.append(f"{pad}if v is not None:")
                for i, when, n in child:
                    cond = ""
                    if when:
                        consts[f"W{n}"] = when
                        cond = f"all(_matches(_get(msg, p), w) for p, w in W{n}) and "
                    lines.append(f"{pad}    if {cond}True:")
                    lines.append(f"{pad}        r = norm({i}, v)")
                    lines.append(f"{pad}        if r is not None and ({i}, r) not in out:")
                    lines.append(f"{pad}            out.append(({i}, r))")
            else:
                counter[0] += 1
                sub = f"n{counter[0]}"
                lines.append(f"{pad}{sub} = {var}.get({name!r})")
                lines.append(f"{pad}if type({sub}) is dict:")
                emit(child, sub, depth + 1)
                lines.append(f"{pad}    pass")

    emit(trie, "msg", 1)
    lines.append("    return out")
    code = "\n".join(lines)
    exec(compile(code, "<cdp identity paths>", "exec"), consts)
    return consts["_extract"]


def _matches(found: Any, want: Any) -> bool:
    if found is _MISSING:
        return False
    if isinstance(want, str) and isinstance(found, str):
        return found.casefold() == want.casefold()
    return found == want
