"""The models of ``audiences.yaml``: audiences whose ``where`` is a condition tree.

::

    audiences:
      - key: loyal_pro
        where:
          all:
            - {performed: Order Completed, at_least: 3, within: 30d}
            - {trait: plan, op: "=", value: pro}
            - not: {performed: Coupon Applied, within: 7d}

A node is ``all: [...]``, ``any: [...]``, ``not: NODE``, ``any_user`` / ``all_users`` / ``no_user:
NODE`` (account audiences), or a leaf: ``performed`` (or ``page`` / ``screen``), ``trait``,
``audience``, ``funnel``. Leaves are :class:`~cdp_cli.definitions.Definition` s (unknown keys, types
and operators with "did you mean"); the tree, references, cycles and levels are checked here, every
problem at once with FILE:LINE:COL. Semantics: ``docs/audiences.md``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from cdp_cli.definitions import Definition, field, given, invalid
from cdp_cli.traits.definitions import (
    OPS,
    Between,
    Condition,
    PropertyPath,
    Window,
    parse_window,
)

KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TRAIT_OPS = (*OPS, "within_last", "before_last")
RELATIVE_OPS = frozenset({"within_last", "before_last"})
GROUPS = ("all", "any")
WRAPPERS = ("any_user", "all_users", "no_user")
LEAVES = ("performed", "page", "screen", "trait", "audience", "funnel")
NODE_KEYS = (*GROUPS, "not", *WRAPPERS, *LEAVES)


class Performed(Definition):
    """``{performed: EVENT, at_least: N, within: 30d, where: [...]}`` (default: at least once)."""

    performed: str | None = None
    page: str | None = None
    screen: str | None = None
    at_least: int | None = field(None, ge=0)
    at_most: int | None = field(None, ge=0)
    exactly: int | None = field(None, ge=0)
    within: Window | None = None
    between: Between | None = None
    where: list[Condition] = field(default_factory=list)

    def check(self) -> None:
        chosen = [k for k in ("performed", "page", "screen") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise invalid("give exactly one of performed: EVENT, page: NAME or screen: NAME", chosen[-1])
        if not getattr(self, chosen[0]).strip():
            raise invalid(f'{chosen[0]} must name an event (or be "*")', chosen[0])
        counts = [k for k in ("at_least", "at_most", "exactly") if getattr(self, k) is not None]
        if len(counts) > 1:
            raise invalid(f"give one of at_least, at_most or exactly, not {' and '.join(counts)}", counts[1])
        if self.within is not None and self.between is not None:
            raise invalid("give within: or between:, not both", "between")

    @property
    def kind(self) -> str:
        return "track" if self.performed is not None else "page" if self.page is not None else "screen"

    @property
    def selected(self) -> str:
        return self.performed or self.page or self.screen or ""

    @property
    def key(self) -> str:
        return "performed" if self.performed is not None else "page" if self.page is not None else "screen"

    def bounds(self) -> tuple[str, int]:
        """The count test: (``>=``, N), (``<=``, N) or (``=``, N)."""
        if self.at_most is not None:
            return "<=", self.at_most
        if self.exactly is not None:
            return "=", self.exactly
        return ">=", 1 if self.at_least is None else self.at_least


class TraitCondition(Definition):
    """``{trait: plan, op: "=", value: pro}``; ``within_last`` / ``before_last`` take a window."""

    trait: PropertyPath
    op: Literal[TRAIT_OPS]  # type: ignore[valid-type]
    value: Any = None

    def check(self) -> None:
        if self.op in RELATIVE_OPS:
            if "value" not in given(self):
                raise invalid(f"op {self.op!r} needs a value such as 30d", "op")
            try:
                parse_window(self.value)
            except ValueError as e:
                raise invalid(f"op {self.op!r}: {e}", "value") from None
            return
        self.filter().check()

    def filter(self) -> Condition:
        """The trait as a filter over a JSON object of the profile's traits."""
        cond = Condition(property=self.trait, op=self.op, value=self.value)
        cond.__dict__["_given"] = frozenset({"property", "op"} | ({"value"} & given(self)))
        return cond

    def window(self) -> timedelta:
        return parse_window(self.value)


class AudienceRef(Definition):
    audience: str


class Funnel(Definition):
    """``{funnel: [A, B], within: 1d}``: an A followed by a B within 1d; ``then_not: true``: an A NOT
    followed by a B within 1d."""

    funnel: list[str] = field(min_items=2, message="funnel must be a list of two event names, [A, B]")
    within: Window
    then_not: bool = False

    def check(self) -> None:
        if len(self.funnel) != 2:
            raise invalid("funnel must be a list of two event names, [A, B] (longer funnels: not yet)", "funnel")
        for i, name in enumerate(self.funnel):
            if not name.strip():
                raise invalid("an event name is empty", "funnel", i)


@dataclass
class Node:
    """A node of a condition tree: ``kind`` one of :data:`NODE_KEYS` (``performed`` for page/screen
    too), ``children`` for groups, not and wrappers, ``leaf`` the definition of a leaf, ``path`` where
    it is in the file."""

    kind: str
    path: tuple
    children: list[Node]
    leaf: Any = None

    def walk(self) -> list[Node]:
        out = [self]
        for c in self.children:
            out += c.walk()
        return out

    def describe(self) -> str:
        """The node in words, for explain."""
        leaf = self.leaf
        if self.kind in GROUPS or self.kind == "not" or self.kind in WRAPPERS:
            return self.kind
        if self.kind == "performed":
            op, n = leaf.bounds()
            words = {">=": "at least", "<=": "at most", "=": "exactly"}[op]
            text = f"{leaf.key} {leaf.selected!r} {words} {n}"
            if leaf.within is not None:
                text += f" within {_hours(leaf.within)}"
            if leaf.between is not None:
                text += f" between {leaf.between[0].isoformat()} and {leaf.between[1].isoformat()}"
            if leaf.where:
                text += " where " + " and ".join(_cond(c) for c in leaf.where)
            return text
        if self.kind == "trait":
            if leaf.op in ("exists", "not_exists"):
                return f"trait {leaf.trait} {leaf.op}"
            return f"trait {leaf.trait} {leaf.op} {leaf.value!r}"
        if self.kind == "audience":
            return f"in audience {leaf.audience}"
        a, b = leaf.funnel
        then = "NOT followed by" if leaf.then_not else "followed by"
        return f"funnel: {a!r} {then} {b!r} within {_hours(leaf.within)}"


def _cond(c: Condition) -> str:
    return f"{c.property} {c.op}" + ("" if c.op in ("exists", "not_exists") else f" {c.value!r}")


def _hours(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours % 168 == 0:
        return f"{hours // 168}w"
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


class Audience(Definition):
    not_a_mapping = "an audience is a mapping such as {key: loyal, where: {performed: Order Completed}}"

    key: str
    description: str | None = None
    where: Any
    level: Literal["user", "account"] = "user"
    include_anonymous: bool = False
    lookback: Window | None = None

    def check(self) -> None:
        if not KEY.match(self.key):
            raise invalid(
                f"key {self.key!r} must be snake_case (a lower-case letter, then letters, digits or _; "
                "at most 63 characters): it names a file",
                "key",
            )
        if self.key == "changes":
            raise invalid("key 'changes' is reserved (changes.parquet)", "key")


class AudiencesFile(Definition):
    not_a_mapping = "an audiences file is a mapping with audiences: [a list of audiences]"

    version: Literal[1] = 1
    audiences: list[Audience] = field(min_items=1)

    def check(self) -> None:
        seen: dict[str, int] = {}
        for i, a in enumerate(self.audiences):
            if a.key in seen:
                raise invalid(f"key {a.key!r} is used twice (first by audiences[{seen[a.key]}])", "audiences", i, "key")
            seen[a.key] = i


# --- the condition tree -----------------------------------------------------------------------------
Problems = list[tuple[tuple, str, bool]]  # path, message, at the key


def parse_tree(value: Any, path: tuple, problems: Problems, located: Any) -> Node | None:
    """The condition tree at ``path`` (None when it has problems, which go to ``problems``; a leaf's
    own problems, already located by :func:`cdp_cli.definitions.parse_definition`, go to ``located``)."""
    from cdp_cli.definitions import parse_definition
    from cdp_cli.errors import ConfigError

    if not isinstance(value, dict) or not value:
        problems.append(
            (path, "a condition is a mapping: all:, any:, not:, or a leaf such as {performed: EVENT}", False)
        )
        return None
    keys = [k for k in value if k in NODE_KEYS]
    composite = [k for k in keys if k in (*GROUPS, "not", *WRAPPERS)]
    if composite:
        k = composite[0]
        extra = [x for x in value if x != k]
        if extra:
            problems.append((path + (extra[0],), f"{k}: stands alone in its mapping; move {extra[0]!r} into it", True))
            return None
        if k in GROUPS:
            items = value[k]
            if not isinstance(items, list) or not items:
                problems.append((path + (k,), f"{k} must be a non-empty list of conditions", False))
                return None
            kids = [parse_tree(v, path + (k, i), problems, located) for i, v in enumerate(items)]
            return None if any(c is None for c in kids) else Node(k, path, [c for c in kids if c is not None])
        child = parse_tree(value[k], path + (k,), problems, located)
        return None if child is None else Node(k, path, [child])
    leaf_keys = [k for k in keys if k in LEAVES]
    if not leaf_keys:
        first = next(iter(value))
        close = difflib.get_close_matches(str(first), NODE_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(
            (path + (first,), f"unknown condition {first!r}; a condition is one of {', '.join(NODE_KEYS)}{hint}", True)
        )
        return None
    k = leaf_keys[0]
    kind = "performed" if k in ("performed", "page", "screen") else k
    model = {"performed": Performed, "trait": TraitCondition, "audience": AudienceRef, "funnel": Funnel}[kind]
    try:
        leaf = parse_definition(value, model, located.file, lambda p, key: located.where(path + tuple(p), key))
    except ConfigError as e:
        located.problems += list(getattr(e, "problems", [str(e)]))
        return None
    node = Node(kind, path, [], leaf)
    if kind == "audience":
        located.refs.append(node)
    return node


def check_tree(node: Node, level: str, problems: Problems, *, inside_wrapper: bool = False) -> None:
    """Levels: an account audience's conditions are wrappers (any_user, all_users, no_user) combined
    with all/any/not; a user audience has no wrappers; wrappers do not nest."""
    if node.kind in WRAPPERS:
        if level != "account":
            problems.append((node.path, f"{node.kind}: is for account audiences (level: account)", False))
        elif inside_wrapper:
            problems.append((node.path, f"{node.kind}: cannot be inside another user wrapper", False))
        for c in node.children:
            check_tree(c, level, problems, inside_wrapper=True)
        return
    if level == "account" and not inside_wrapper and node.kind not in (*GROUPS, "not"):
        problems.append(
            (
                node.path,
                "an account audience's conditions are wrapped in any_user:, all_users: or no_user: "
                "(e.g. {any_user: {performed: Order Completed}})",
                False,
            )
        )
        return
    for c in node.children:
        check_tree(c, level, problems, inside_wrapper=inside_wrapper)


def references(node: Node) -> list[Node]:
    return [n for n in node.walk() if n.kind == "audience"]
