"""``cdp plan diff OLD NEW``: what changed between two versions of a tracking plan, and whom it breaks.

Every change gets a stable rule id (``PROPERTY_REMOVED``, ``TYPE_NARROWED``, ...), the definition it
is in (kind, name, version), a property path (``properties.products[].price``), the old and new
fragments, the place in the NEW plan (the OLD one for removals) and two verdicts, each ``breaking``,
``warning`` or ``safe`` (the table in /work/shared/notes/plan-formats.md, "Breaking changes"):

- **producer**: could a message that passed the OLD plan fail the NEW one?
- **consumer**: could a reader of messages that passed the NEW plan receive data it never saw under OLD?

What is compared: the plan model with ``ref``s expanded, walked with the compiler's own rules (the
same :class:`~cdp_cli.plan.compiler.Resolver`, ``required: true`` flags joined to ``required`` lists,
the plan-wide ``additionalProperties`` default applied to bodies, ``common`` properties accepted in
every track/page/screen), not the compiled JSON Schemas. Three reasons: (1) every keyword keeps its
:class:`~cdp_cli.plan.model.Origin`, so a tightened ``maxLength`` inherited through ``ref`` points at
the line of the shared definition where it was changed, which compiled schemas cannot say; (2) the
compiled schemas merge ``common`` into every message, so one common change would be reported once per
event; here it is reported once, as kind ``common``; (3) the model keeps events, versions, pages and
settings apart, which the version rules (which version a message falls back to) need.

OLD and NEW are plan files or directories, or ``REV:PATH`` read from git (:mod:`cdp_cli.plan.gitrev`).
A directory holding several plans is paired plan by plan (by plan name, else by folder).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

from cdp_cli.errors import PlanError, UsageError
from cdp_cli.findings import Finding, Level
from cdp_cli.jsonpath import printable
from cdp_cli.plan import format as fmt
from cdp_cli.plan.compiler import Resolver, object_schema, to_schema
from cdp_cli.plan.model import Body, Origin, Plan, Prop
from cdp_cli.results import Table, plural
from cdp_cli.rules.codes import (
    CONFORMANCE_UNKNOWN_EVENT_VERSION,
    PLAN_DIFF_ANNOTATION_CHANGED,
    PLAN_DIFF_BOUND_ADDED,
    PLAN_DIFF_BOUND_RELAXED,
    PLAN_DIFF_BOUND_REMOVED,
    PLAN_DIFF_BOUND_TIGHTENED,
    PLAN_DIFF_BRANCH_ADDED,
    PLAN_DIFF_BRANCH_REMOVED,
    PLAN_DIFF_CONSTRAINT_ADDED,
    PLAN_DIFF_CONSTRAINT_CHANGED,
    PLAN_DIFF_CONSTRAINT_REMOVED,
    PLAN_DIFF_DEFINITION_ADDED,
    PLAN_DIFF_DEFINITION_REMOVED,
    PLAN_DIFF_DEPRECATION_CHANGED,
    PLAN_DIFF_DESCRIPTION_CHANGED,
    PLAN_DIFF_ENUM_ADDED,
    PLAN_DIFF_ENUM_REMOVED,
    PLAN_DIFF_ENUM_VALUE_ADDED,
    PLAN_DIFF_ENUM_VALUE_REMOVED,
    PLAN_DIFF_EVENT_ADDED,
    PLAN_DIFF_EVENT_REMOVED,
    PLAN_DIFF_EVENT_VERSION_ADDED,
    PLAN_DIFF_EVENT_VERSION_REMOVED,
    PLAN_DIFF_FORMAT_ADDED,
    PLAN_DIFF_FORMAT_CHANGED,
    PLAN_DIFF_FORMAT_REMOVED,
    PLAN_DIFF_LABELS_CHANGED,
    PLAN_DIFF_OBJECT_CLOSED,
    PLAN_DIFF_OBJECT_OPENED,
    PLAN_DIFF_OPTIONAL_PROPERTY_ADDED,
    PLAN_DIFF_OWNER_CHANGED,
    PLAN_DIFF_PATTERN_ADDED,
    PLAN_DIFF_PATTERN_CHANGED,
    PLAN_DIFF_PATTERN_REMOVED,
    PLAN_DIFF_PII_CHANGED,
    PLAN_DIFF_PROPERTY_BECAME_OPTIONAL,
    PLAN_DIFF_PROPERTY_BECAME_REQUIRED,
    PLAN_DIFF_PROPERTY_REMOVED,
    PLAN_DIFF_REQUIRED_PROPERTY_ADDED,
    PLAN_DIFF_TYPE_CHANGED,
    PLAN_DIFF_TYPE_NARROWED,
    PLAN_DIFF_TYPE_WIDENED,
    PLAN_DIFF_UNPLANNED_EVENTS_ALLOWED,
    PLAN_DIFF_UNPLANNED_EVENTS_BLOCKED,
)

# --- verdicts and policies ------------------------------------------------------------------------


class Verdict(str, Enum):
    """How a change affects one side: ``breaking`` (messages or readers can fail), ``warning`` (they
    might), ``safe``."""

    SAFE = "safe"
    WARNING = "warning"
    BREAKING = "breaking"

    @property
    def rank(self) -> int:
        return _RANK[self.value]


_RANK = {"safe": 0, "warning": 1, "breaking": 2}
SAFE, WARNING, BREAKING = Verdict.SAFE, Verdict.WARNING, Verdict.BREAKING


def _worst(*verdicts: Verdict) -> Verdict:
    return max(verdicts, key=lambda v: v.rank, default=SAFE)


class FailOn(str, Enum):
    """Which changes fail the diff (exit 1): ``breaking`` ones, ``warning`` and breaking ones, or never."""

    BREAKING = "breaking"
    WARNING = "warning"
    NEVER = "never"


class Side(str, Enum):
    """Whose verdicts decide: the producers' (senders of messages), the consumers' (readers), or both."""

    PRODUCER = "producer"
    CONSUMER = "consumer"
    BOTH = "both"


def _coerce(enum: type[Enum], value: Any, what: str) -> Any:
    try:
        return enum(value.value if isinstance(value, Enum) else value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in enum)
        raise UsageError(f"{what} {value!r} is not one of {choices}") from None


# --- rules ----------------------------------------------------------------------------------------
def _catalog(code: str) -> Any:
    from cdp_cli.rules import get_rule

    return get_rule(code)


@dataclass(frozen=True, slots=True)
class DiffRule:
    """One kind of plan change: a stable id, its code (``PD…``) and the default verdicts; its text
    comes from the rule catalog. Where a verdict depends on the plan (an open or closed object, a plan that
    blocks unplanned events), the defaults are the common case and the summary says when it differs."""

    id: str
    code: str
    producer: Verdict
    consumer: Verdict
    #: the worst verdict the rule gives in any plan (when it is worse than the defaults)
    worst: Verdict | None = None

    @property
    def summary(self) -> str:
        return _catalog(self.code).summary

    @property
    def why(self) -> str:
        return _catalog(self.code).why

    @property
    def bad(self) -> str:
        return _catalog(self.code).bad

    @property
    def good(self) -> str:
        return _catalog(self.code).good

    @property
    def name(self) -> str:
        """The dotted rule name, as the catalog spells rule names: ``plan-diff.property-removed``."""
        return "plan-diff." + self.id.lower().replace("_", "-")

    @property
    def level(self) -> Level:
        """The catalog level: error when the change can break someone in some plan, warning, or info.
        (A finding's own level comes from its verdicts for the chosen side.)"""
        worst = _worst(self.producer, self.consumer, *([self.worst] if self.worst else []))
        return {BREAKING: Level.ERROR, WARNING: Level.WARNING}.get(worst, Level.INFO)


# Each kind of change with its code and default verdicts; its words (summary, why, examples) are the
# rule catalog's (cdp_cli/rules/plan_diff_rules.py), the one place `cdp rules` and docs/rules.md read.
_RULE_LIST: tuple[DiffRule, ...] = (
    # --- definitions ---------------------------------------------------------------------------
    DiffRule("EVENT_ADDED", PLAN_DIFF_EVENT_ADDED, SAFE, SAFE, worst=WARNING),
    DiffRule("EVENT_REMOVED", PLAN_DIFF_EVENT_REMOVED, WARNING, BREAKING),
    DiffRule("EVENT_VERSION_ADDED", PLAN_DIFF_EVENT_VERSION_ADDED, SAFE, WARNING, worst=BREAKING),
    DiffRule("EVENT_VERSION_REMOVED", PLAN_DIFF_EVENT_VERSION_REMOVED, WARNING, WARNING, worst=BREAKING),
    DiffRule("DEFINITION_ADDED", PLAN_DIFF_DEFINITION_ADDED, SAFE, SAFE, worst=BREAKING),
    DiffRule("DEFINITION_REMOVED", PLAN_DIFF_DEFINITION_REMOVED, WARNING, BREAKING),
    DiffRule("UNPLANNED_EVENTS_BLOCKED", PLAN_DIFF_UNPLANNED_EVENTS_BLOCKED, BREAKING, SAFE),
    DiffRule("UNPLANNED_EVENTS_ALLOWED", PLAN_DIFF_UNPLANNED_EVENTS_ALLOWED, SAFE, WARNING),
    # --- properties ----------------------------------------------------------------------------
    DiffRule("OPTIONAL_PROPERTY_ADDED", PLAN_DIFF_OPTIONAL_PROPERTY_ADDED, WARNING, SAFE),
    DiffRule("REQUIRED_PROPERTY_ADDED", PLAN_DIFF_REQUIRED_PROPERTY_ADDED, BREAKING, SAFE),
    DiffRule("PROPERTY_REMOVED", PLAN_DIFF_PROPERTY_REMOVED, SAFE, WARNING, worst=BREAKING),
    DiffRule("PROPERTY_BECAME_REQUIRED", PLAN_DIFF_PROPERTY_BECAME_REQUIRED, BREAKING, SAFE),
    DiffRule("PROPERTY_BECAME_OPTIONAL", PLAN_DIFF_PROPERTY_BECAME_OPTIONAL, SAFE, WARNING),
    DiffRule("OBJECT_CLOSED", PLAN_DIFF_OBJECT_CLOSED, BREAKING, SAFE),
    DiffRule("OBJECT_OPENED", PLAN_DIFF_OBJECT_OPENED, SAFE, WARNING),
    # --- types and values ----------------------------------------------------------------------
    DiffRule("TYPE_CHANGED", PLAN_DIFF_TYPE_CHANGED, BREAKING, BREAKING),
    DiffRule("TYPE_NARROWED", PLAN_DIFF_TYPE_NARROWED, BREAKING, SAFE),
    DiffRule("TYPE_WIDENED", PLAN_DIFF_TYPE_WIDENED, SAFE, WARNING),
    DiffRule("ENUM_ADDED", PLAN_DIFF_ENUM_ADDED, BREAKING, SAFE),
    DiffRule("ENUM_REMOVED", PLAN_DIFF_ENUM_REMOVED, SAFE, WARNING),
    DiffRule("ENUM_VALUE_ADDED", PLAN_DIFF_ENUM_VALUE_ADDED, SAFE, WARNING),
    DiffRule("ENUM_VALUE_REMOVED", PLAN_DIFF_ENUM_VALUE_REMOVED, BREAKING, SAFE),
    DiffRule("PATTERN_ADDED", PLAN_DIFF_PATTERN_ADDED, BREAKING, SAFE),
    DiffRule("PATTERN_CHANGED", PLAN_DIFF_PATTERN_CHANGED, BREAKING, SAFE),
    DiffRule("PATTERN_REMOVED", PLAN_DIFF_PATTERN_REMOVED, SAFE, WARNING),
    DiffRule("FORMAT_ADDED", PLAN_DIFF_FORMAT_ADDED, BREAKING, SAFE),
    DiffRule("FORMAT_CHANGED", PLAN_DIFF_FORMAT_CHANGED, BREAKING, SAFE),
    DiffRule("FORMAT_REMOVED", PLAN_DIFF_FORMAT_REMOVED, SAFE, WARNING),
    DiffRule("BOUND_ADDED", PLAN_DIFF_BOUND_ADDED, BREAKING, SAFE),
    DiffRule("BOUND_TIGHTENED", PLAN_DIFF_BOUND_TIGHTENED, BREAKING, SAFE),
    DiffRule("BOUND_RELAXED", PLAN_DIFF_BOUND_RELAXED, SAFE, WARNING),
    DiffRule("BOUND_REMOVED", PLAN_DIFF_BOUND_REMOVED, SAFE, WARNING),
    DiffRule("CONSTRAINT_ADDED", PLAN_DIFF_CONSTRAINT_ADDED, BREAKING, SAFE),
    DiffRule("CONSTRAINT_REMOVED", PLAN_DIFF_CONSTRAINT_REMOVED, SAFE, WARNING),
    DiffRule("CONSTRAINT_CHANGED", PLAN_DIFF_CONSTRAINT_CHANGED, BREAKING, WARNING),
    DiffRule("BRANCH_ADDED", PLAN_DIFF_BRANCH_ADDED, SAFE, WARNING),
    DiffRule("BRANCH_REMOVED", PLAN_DIFF_BRANCH_REMOVED, BREAKING, SAFE),
    # --- information ---------------------------------------------------------------------------
    DiffRule("DESCRIPTION_CHANGED", PLAN_DIFF_DESCRIPTION_CHANGED, SAFE, SAFE),
    DiffRule("OWNER_CHANGED", PLAN_DIFF_OWNER_CHANGED, SAFE, SAFE),
    DiffRule("LABELS_CHANGED", PLAN_DIFF_LABELS_CHANGED, SAFE, SAFE),
    DiffRule("ANNOTATION_CHANGED", PLAN_DIFF_ANNOTATION_CHANGED, SAFE, SAFE),
    DiffRule("DEPRECATION_CHANGED", PLAN_DIFF_DEPRECATION_CHANGED, SAFE, SAFE),
    DiffRule("PII_CHANGED", PLAN_DIFF_PII_CHANGED, SAFE, WARNING),
)

RULES: dict[str, DiffRule] = {r.id: r for r in _RULE_LIST}

#: The order of definition kinds in reports.
KINDS = ("plan", "common", "event", "identify", "group", "page", "screen")

# --- changes and results ----------------------------------------------------------------------------


class _Absent:
    """A fragment that is not there (distinct from a JSON null)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True)
class Change:
    """One change between two plans. ``file``/``line``/``column`` point into the NEW plan, or into the
    OLD one (``side == "old"``) for what NEW no longer has; ``file`` is the path the file has in the
    working tree even when the plan was read from git, so annotations land on it."""

    rule: str
    kind: str  #: plan, common, event, identify, group, page, screen
    name: str | None
    version: int | None
    path: str  #: the property path (``properties.products[].price``); "" for the definition itself
    producer: Verdict
    consumer: Verdict
    detail: str  #: what changed, without the definition and path
    file: str
    line: int
    column: int
    side: str = "new"
    old: Any = ABSENT
    new: Any = ABSENT
    plan: str = ""

    @property
    def code(self) -> str:
        return RULES[self.rule].code

    @property
    def definition(self) -> str:
        """``event 'Order Completed' v2``, ``identify``, ``page 'Home'``."""
        text = self.kind if self.name is None else f"{self.kind} '{self.name}'"
        return printable(text + (f" v{self.version}" if self.version is not None else ""))

    @property
    def message(self) -> str:
        where = self.definition + (f" {printable(self.path)}" if self.path else "")
        return f"{where}: {self.detail}"

    def severity(self, side: Side | str = Side.PRODUCER) -> Verdict:
        side = Side(side)
        if side is Side.PRODUCER:
            return self.producer
        if side is Side.CONSUMER:
            return self.consumer
        return _worst(self.producer, self.consumer)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "code": self.code,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "path": self.path,
            "producer": self.producer.value,
            "consumer": self.consumer.value,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "side": self.side,
        }
        if self.plan:
            data["plan"] = self.plan
        if self.old is not ABSENT:
            data["old"] = self.old
        if self.new is not ABSENT:
            data["new"] = self.new
        return data


@dataclass(frozen=True, slots=True)
class VersionBump:
    """A suggestion: an event whose versions ``versions`` changed in a way that breaks producers should
    keep them as they were and carry the change (of the latest of them) in a new version ``suggested``."""

    event: str
    versions: tuple[int, ...]
    suggested: int
    rules: tuple[str, ...]
    file: str
    line: int
    column: int
    snippet: str  #: the ``versions:`` entries to write, as YAML
    plan: str = ""

    @property
    def changed(self) -> str:
        """``version 1``, ``versions 1, 2``."""
        return f"version{'s' if len(self.versions) > 1 else ''} {', '.join(map(str, self.versions))}"

    @property
    def message(self) -> str:
        them = "them" if len(self.versions) > 1 else "it"
        return (
            f"event '{printable(self.event)}': the change to {self.changed} breaks producers; keep {them} as "
            f"before and add version {self.suggested} with the change (producers opt in with "
            f"context.protocols.event_version {self.suggested})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "versions": list(self.versions),
            "suggested_version": self.suggested,
            "rules": list(self.rules),
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "snippet": self.snippet,
            **({"plan": self.plan} if self.plan else {}),
        }


_MARK = {BREAKING: "❌ breaking", WARNING: "⚠️ warning", SAFE: "✅ safe"}
_LEVEL = {BREAKING: Level.ERROR, WARNING: Level.WARNING, SAFE: Level.INFO}


@dataclass
class DiffResult:
    """What ``cdp plan diff`` returns (follows :class:`cdp_cli.results.Result`)."""

    old: str
    new: str
    changes: list[Change] = field(default_factory=list)
    bumps: list[VersionBump] = field(default_factory=list)
    fail_on: FailOn = FailOn.BREAKING
    side: Side = Side.PRODUCER
    #: (OLD plan, NEW plan) display names of each compared pair ("" where one side has no such plan)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    compared_files: list[str] = field(default_factory=list)
    command: str = "plan diff"

    # the Result protocol ------------------------------------------------------------------------
    @property
    def files(self) -> list[str]:
        return list(self.compared_files)

    def severity(self, change: Change) -> Verdict:
        return change.severity(self.side)

    def ordered(self) -> list[Change]:
        """The changes, worst first (for the chosen side), then as found."""
        return sorted(self.changes, key=lambda c: (-self.severity(c).rank, -_worst(c.producer, c.consumer).rank))

    def counts(self, side: Side | str) -> dict[str, int]:
        out = {v.value: 0 for v in (BREAKING, WARNING, SAFE)}
        for c in self.changes:
            out[c.severity(side).value] += 1
        return out

    def failed(self, strict: bool = False) -> bool:
        """Breaking changes fail (``fail_on=breaking``), warnings too with ``fail_on=warning`` or
        ``strict``; ``fail_on=never`` never fails. Verdicts are read for ``side``."""
        if self.fail_on is FailOn.NEVER:
            return False
        worst = WARNING if (self.fail_on is FailOn.WARNING or strict) else BREAKING
        return any(self.severity(c).rank >= worst.rank for c in self.changes)

    @property
    def findings(self) -> list[Finding]:
        """One finding per change (changes at the same place with the same detail, such as a shared
        definition used by several events, are one finding naming them all), levelled by ``side``:
        breaking is an error, warning a warning, safe an info."""
        out = []
        for members in _grouped(self.changes):
            first = members[0]
            rule = RULES[first.rule]
            out.append(
                Finding(
                    code=rule.code,
                    rule=rule.name,
                    level=_LEVEL[_worst(*(self.severity(m) for m in members))],
                    file=first.file,
                    line=first.line,
                    column=first.column,
                    message=first.message + _also(members, printable),
                    path=first.path,
                    extra={
                        "change": first.rule,
                        "producer": _worst(*(m.producer for m in members)).value,
                        "consumer": _worst(*(m.consumer for m in members)).value,
                        "kind": first.kind,
                        "name": first.name,
                        "version": first.version,
                        "side": first.side,
                    },
                )
            )
        out.sort(key=Finding.sort_key)
        return out

    def _whose(self) -> str:
        return {Side.PRODUCER: "producers", Side.CONSUMER: "consumers", Side.BOTH: "producers and consumers"}[self.side]

    def verdict(self) -> str:
        if not self.changes:
            return f"no changes between {self.old} and {self.new}"
        n = self.counts(self.side)
        text = (
            f"{plural(len(self.changes), 'change')}: {n['breaking']:,} breaking, "
            f"{plural(n['warning'], 'warning')}, {n['safe']:,} safe for {self._whose()}"
        )
        if self.bumps:
            text += f"; {plural(len(self.bumps), 'event')} {'needs' if len(self.bumps) == 1 else 'need'} a new version"
        return text

    def summary(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "side": self.side.value,
            "fail_on": self.fail_on.value,
            "failed": self.failed(),
            "changes": len(self.changes),
            "producer": self.counts(Side.PRODUCER),
            "consumer": self.counts(Side.CONSUMER),
            "plans": [{"old": o, "new": n} for o, n in self.pairs],
            "version_bumps": [b.to_dict() for b in self.bumps],
            "changes_detail": [c.to_dict() for c in self.ordered()],
        }

    def tables(self) -> list[Table]:
        rows = [
            [
                c.producer.value,
                c.consumer.value,
                c.rule,
                c.definition,
                printable(c.path),
                c.location + (" (old)" if c.side == "old" else ""),
            ]
            for c in self.ordered()
        ]
        tables = [  # what changed is in the findings; the table is the overview
            Table(
                f"Changes from {printable(self.old)} to {printable(self.new)}",
                ["producer", "consumer", "rule", "definition", "path", "location"],
                rows,
            )
        ]
        if self.bumps:
            tables.append(
                Table(
                    "Suggested version bumps",
                    ["event", "changed", "add version", "because", "location"],
                    [
                        [printable(b.event), b.changed, b.suggested, ", ".join(b.rules), f"{b.file}:{b.line}"]
                        for b in self.bumps
                    ],
                    frozenset({2}),
                )
            )
        return tables

    # a pull-request comment -------------------------------------------------------------------
    def markdown(self, *, max_rows: int = 50) -> str:
        """A compact Markdown report for a pull-request comment: a headline, the changes that are not
        safe for both sides (worst first, at most ``max_rows``), the safe ones folded away, and the
        suggested version bumps."""
        n = self.counts(self.side)
        status = "fails" if self.failed() else "passes"
        lines = [
            f"### Tracking plan diff: {n['breaking']:,} breaking, {plural(n['warning'], 'warning')} "
            f"for {self._whose()}",
            "",
            f"{_md_code(self.old)} → {_md_code(self.new)}: {plural(len(self.changes), 'change')}; the check "
            f"{status} (fail on {self.fail_on.value}, {self.side.value} side).",
        ]
        if not self.changes:
            return "\n".join(lines) + "\n"
        groups = _grouped(self.ordered())
        loud = [g for g in groups if any(_worst(c.producer, c.consumer) is not SAFE for c in g)]
        quiet = [g for g in groups if all(_worst(c.producer, c.consumer) is SAFE for c in g)]
        header = ["| producer | consumer | change | where |", "| --- | --- | --- | --- |"]
        if loud:
            lines += ["", *header, *(_md_row(g) for g in loud[:max_rows])]
            if len(loud) > max_rows:
                lines.append(f"\n… and {len(loud) - max_rows:,} more (see the job log)")
        if quiet:
            count = sum(len(g) for g in quiet)
            lines += ["", f"<details><summary>{plural(count, 'safe change')}</summary>", "", *header]
            lines += [_md_row(g) for g in quiet[:max_rows]]
            if len(quiet) > max_rows:
                lines.append(f"\n… and {len(quiet) - max_rows:,} more")
            lines += ["", "</details>"]
        if self.bumps:
            lines += ["", "**Suggested version bumps**", ""]
            for b in self.bumps:
                at = _md_code(f"{b.file}:{b.line}")
                lines.append(
                    f"- event {_md_code(b.event)}: keep {b.changed} as before and add version "
                    f"{b.suggested} with the change ({_md_text(', '.join(b.rules))}) at {at}"
                )
            lines += ["", "<details><summary>versions to write</summary>", ""]
            for b in self.bumps:
                lines += ["```yaml", b.snippet.rstrip("\n").replace("```", "'''"), "```"]
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", printable(text)).replace("\n", " ")


def _md_code(text: str) -> str:
    text = printable(text).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _grouped(changes: list[Change]) -> list[list[Change]]:
    """Changes at the same place with the same detail (a shared definition used by several events),
    together, in the order of their first member."""
    groups: dict[tuple, list[Change]] = {}
    for c in changes:
        groups.setdefault((c.rule, c.file, c.line, c.column, c.detail, c.side), []).append(c)
    return list(groups.values())


def _also(members: list[Change], show: Callable[[str], str], limit: int = 3) -> str:
    """`` (also event 'B' v1 properties.x, ... and 4 more)`` for a group of changes."""
    if len(members) < 2:
        return ""
    others = [show(m.definition + (f" {m.path}" if m.path else "")) for m in members[1 : limit + 1]]
    more = f" and {len(members) - 1 - limit:,} more" if len(members) > limit + 1 else ""
    return f" (also {', '.join(others)}{more})"


def _md_row(members: list[Change]) -> str:
    c = members[0]
    producer = _worst(*(m.producer for m in members))
    consumer = _worst(*(m.consumer for m in members))
    what = _md_code(c.definition + (f" {c.path}" if c.path else ""))
    where = f"{c.file}:{c.line}" if c.line else c.file
    old = " (old)" if c.side == "old" else ""
    change = f"{_md_code(c.rule)} {what}: {_md_text(c.detail)}{_also(members, _md_code)}"
    return f"| {_MARK[producer]} | {_MARK[consumer]} | {change} | {_md_code(where)}{old} |"


# --- values ---------------------------------------------------------------------------------------


def _norm(value: Any) -> Any:
    """JSON equality: 1 == 1.0, true != 1, object key order ignored."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _key(value: Any) -> str:
    return json.dumps(_norm(value), sort_keys=True, ensure_ascii=False, default=str)


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _values(values: list[Any]) -> str:
    shown = ", ".join(_show(v, 40) for v in values[:8])
    return shown + (f" and {len(values) - 8} more" if len(values) > 8 else "")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_IDENT = re.compile(r"[A-Za-z0-9_$-]+")


def _seg(name: str) -> str:
    if _IDENT.fullmatch(name):
        return "." + name
    return "['" + name.replace("\\", "\\\\").replace("'", "\\'") + "']"


def _types(view: dict[str, Any]) -> list[str] | None:
    if "type" not in view:
        return None
    t = view["type"]
    if t is None:
        return ["null"]
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return ["null" if x is None else x for x in t if x is None or isinstance(x, str)]
    return None


def _covers(types: list[str], t: str) -> bool:
    return t in types or (t == "integer" and "number" in types)


def _within(small: list[str], big: list[str]) -> bool:
    return all(_covers(big, t) for t in small)


def _allowed(view: dict[str, Any]) -> list[Any] | None:
    """The values an ``enum`` and/or ``const`` allow, or None for any value."""
    allowed = list(view["enum"]) if isinstance(view.get("enum"), list) else None
    if "const" in view:
        const = view["const"]
        if allowed is None or any(_key(v) == _key(const) for v in allowed):
            allowed = [const]
        else:
            allowed = []
    return allowed


_TRIVIAL_PATTERNS = frozenset(("", ".*", "^.*", ".*$", "^.*$", "(.*)", "^(.*)$", "[\\s\\S]*", "^[\\s\\S]*$"))
#: (old, new) formats where every string of the old format is in the new one
_WIDER_FORMATS = frozenset(
    (
        ("email", "idn-email"),
        ("hostname", "idn-hostname"),
        ("uri", "iri"),
        ("uri", "uri-reference"),
        ("uri", "iri-reference"),
        ("iri", "iri-reference"),
        ("uri-reference", "iri-reference"),
    )
)
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_ANNOTATIONS = ("title", "default", "examples")


def _pii(view: dict[str, Any]) -> str | None:
    value = view.get("pii")
    if value is False:
        return "none"
    return value if isinstance(value, str) else None


def _raw(origin: Origin | None) -> Any:
    """The data written at ``origin`` (None when it is not there)."""
    if origin is None:
        return None
    node: Any = origin.doc.data
    for part in origin.path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


# --- the walk ---------------------------------------------------------------------------------------


class _Node:
    """One property definition with its top-level ``ref`` expanded (as the compiler expands it), and
    where each of its keywords is written."""

    __slots__ = ("chain", "local", "origin", "resolver", "stack", "view")

    def __init__(
        self,
        spec: dict[str, Any],
        origin: Origin | None,
        resolver: Resolver | None,
        stack: tuple[str, ...] = (),
    ) -> None:
        self.local = spec
        self.origin = origin
        self.resolver = resolver
        self.chain: list[Prop] = []
        self.view = spec
        self.stack = stack
        ref = spec.get("ref")
        if resolver is not None and isinstance(ref, str):
            if ref in stack:  # a reference cycle: expands to nothing, as in the compiler
                self.view = {}
            else:
                names = resolver.chain(spec)
                self.chain = [resolver.shared[n] for n in names]
                self.view = resolver.merged(spec)
                self.stack = stack + tuple(names)

    @classmethod
    def empty(cls) -> _Node:
        return cls({}, None, None)

    def where(self, key: str) -> Origin | None:
        """Where ``key`` is written: here, or in the shared definition it is inherited from."""
        if key in self.local and self.origin is not None:
            return self.origin.child(key)
        for prop in self.chain:
            if key in prop.spec:
                return prop.origin.child(key)
        return self.origin

    def _make(self, value: Any, origin: Origin | None) -> _Node:
        if value is True or value is None:
            value = {}
        elif value is False:
            value = {"not": {}}
        return _Node(value if isinstance(value, dict) else {}, origin, self.resolver, self.stack)

    def sub(self, key: str) -> _Node | None:
        if key not in self.view or (key == "additionalProperties" and not isinstance(self.view[key], dict)):
            return None
        return self._make(self.view[key], self.where(key))

    def subs(self, key: str) -> list[_Node] | None:
        value = self.view.get(key)
        if not isinstance(value, list):
            return None
        at = self.where(key)
        return [self._make(v, at.child(i) if at is not None else None) for i, v in enumerate(value)]

    def is_object(self) -> bool:
        v = self.view
        return "properties" in v or "additionalProperties" in v or isinstance(v.get("required"), list)

    def as_object(self) -> _Obj:
        children: dict[str, _Node] = {}
        props = self.view.get("properties")
        at = self.where("properties")
        if isinstance(props, dict):
            for name, spec in props.items():
                child_at = at.child(name) if at is not None else None
                children[name] = _Node(spec if isinstance(spec, dict) else {}, child_at, self.resolver, self.stack)
        required = list(self.view["required"]) if isinstance(self.view.get("required"), list) else []
        required += [n for n, c in children.items() if c.view.get("required") is True]
        ap = self.view.get("additionalProperties")
        return _Obj(
            children=children,
            required=list(dict.fromkeys(r for r in required if isinstance(r, str))),
            open=ap is not False,
            extra=self.sub("additionalProperties"),
            origin=self.origin,
            open_at=self.where("additionalProperties"),
            required_at=self.where("required"),
        )


@dataclass
class _Obj:
    """An object's shape: its properties, which are required, and whether other names pass
    (``open``; None when it differs between the messages it applies to, as for common properties)."""

    children: dict[str, _Node]
    required: list[str]
    open: bool | None
    extra: _Node | None = None
    origin: Origin | None = None
    open_at: Origin | None = None
    required_at: Origin | None = None


@dataclass
class _PlanSide:
    """One loaded plan, with how to show its files."""

    plan: Plan
    label: Callable[[str], str]  #: a loaded file -> the path to report (the working-tree path)
    key: str  #: what pairs it with a plan of the other side
    resolver: Resolver = field(init=False)

    def __post_init__(self) -> None:
        self.resolver = Resolver(self.plan.shared)

    def shown_name(self) -> str:
        """The plan's name, else its root as the user knows it ("" for a side that has no such plan)."""
        return (self.plan.name or self.label(self.plan.root)) if self.plan.files else ""

    def settings_origin(self) -> Origin | None:
        """Where ``settings`` is written (the model keeps no origin for it: read the files again)."""
        docs = {}
        for body in self.plan.bodies():
            docs[body.origin.file] = body.origin.doc
        for event in self.plan.events.values():
            docs[event.origin.file] = event.origin.doc
        for prop in self.plan.shared.values():
            docs[prop.origin.file] = prop.origin.doc
        for doc in docs.values():
            if isinstance(doc.data, dict) and "settings" in doc.data:
                return Origin(doc, ("settings",))
        from cdp_cli.yamlsrc import load_yaml

        for file in self.plan.files:
            if file in docs:
                continue
            doc, _ = load_yaml(Path(file), display=file)
            if doc is not None and isinstance(doc.data, dict) and "settings" in doc.data:
                return Origin(doc, ("settings",))
        return None


def _empty_side(key: str) -> _PlanSide:
    return _PlanSide(Plan(root=key), lambda f: f, key)


class _Differ:
    """Compares one OLD plan with one NEW plan and collects :class:`Change` records."""

    def __init__(self, old: _PlanSide, new: _PlanSide) -> None:
        self.old = old
        self.new = new
        self.changes: list[Change] = []
        self.bumps: list[VersionBump] = []
        self.subject: tuple[str, str | None, int | None] = ("plan", None, None)
        self._settings: dict[str, Origin | None] = {}
        self.plan_name = new.plan.name or old.plan.name or ""

    # recording --------------------------------------------------------------------------------
    def emit(
        self,
        rule: str,
        path: str,
        detail: str,
        at: Origin | None,
        *,
        side: str = "new",
        old: Any = ABSENT,
        new: Any = ABSENT,
        producer: Verdict | None = None,
        consumer: Verdict | None = None,
    ) -> None:
        spec = RULES[rule]
        plan_side = self.new if side == "new" else self.old
        if at is not None:
            line, column = at.position(key=True)
            file = plan_side.label(at.file)
        else:
            files = plan_side.plan.files or [plan_side.plan.root]
            file, line, column = plan_side.label(files[0]), 0, 0
        kind, name, version = self.subject
        self.changes.append(
            Change(
                rule=rule,
                kind=kind,
                name=name,
                version=version,
                path=path,
                producer=producer or spec.producer,
                consumer=consumer or spec.consumer,
                detail=detail,
                file=file,
                line=line,
                column=column,
                side=side,
                old=old,
                new=new,
                plan=self.plan_name,
            )
        )

    @contextmanager
    def scratch(self) -> Iterator[list[Change]]:
        """Collect changes aside (to weigh a sub-schema or a fallback version) instead of reporting them."""
        saved, self.changes = self.changes, []
        bucket = self.changes
        try:
            yield bucket
        finally:
            self.changes = saved

    def settings_at(self, side: str) -> Origin | None:
        if side not in self._settings:
            self._settings[side] = (self.new if side == "new" else self.old).settings_origin()
        return self._settings[side]

    # plans ------------------------------------------------------------------------------------
    def run(self) -> None:
        o, n = self.old.plan, self.new.plan
        self.subject = ("plan", None, None)
        if o.settings.allow_unplanned_events != n.settings.allow_unplanned_events:
            side = "new" if self.settings_at("new") is not None else "old"  # NEW may rely on the default
            at = self.settings_at(side)
            loc = at.child("allow_unplanned_events") if at is not None else None
            if n.settings.allow_unplanned_events:
                self.emit(
                    "UNPLANNED_EVENTS_ALLOWED",
                    "",
                    "unplanned events are now allowed: any event name passes",
                    loc,
                    side=side,
                    old=False,
                    new=True,
                )
            else:
                self.emit(
                    "UNPLANNED_EVENTS_BLOCKED",
                    "",
                    "unplanned events are now blocked: events the plan does not list fail",
                    loc,
                    side=side,
                    old=True,
                    new=False,
                )
        self.common()
        self.events()
        for kind in ("identify", "group"):
            self.single(kind, getattr(o, kind), getattr(n, kind))
        self.named("page", o.pages, n.pages)
        self.named("screen", o.screens, n.screens)

    def _common_open(self, plan: Plan) -> bool | None:
        """Whether common properties sit in open objects: True, False, or None when some track, page or
        screen bodies are open and others closed."""
        default = plan.settings.additional_properties
        seen = {
            b.additional_properties if b.additional_properties is not None else default
            for b in plan.bodies()
            if b.kind in ("track", "page", "screen")
        }
        if not seen:
            return default
        return seen.pop() if len(seen) == 1 else None

    def common(self) -> None:
        o, n = self.old.plan.common, self.new.plan.common
        if o is None and n is None:
            return
        self.subject = ("common", None, None)
        self.presence(o, n, "common")
        self.descriptions(o, n)
        for fld in ("context", "properties"):
            oo = self.obj(o, fld, self.old, open_=True if fld == "context" else self._common_open(self.old.plan))
            no = self.obj(n, fld, self.new, open_=True if fld == "context" else self._common_open(self.new.plan))
            self.object(oo, no, fld)

    def presence(self, o: Body | None, n: Body | None, what: str) -> None:
        if o is None and n is not None:
            self.emit("DEFINITION_ADDED", "", f"{what} definition added", n.origin)
        elif n is None and o is not None:
            self.emit(
                "DEFINITION_REMOVED",
                "",
                f"{what} definition removed: its rules no longer apply",
                o.origin,
                side="old",
                producer=SAFE,
                consumer=WARNING,
            )

    def single(self, kind: str, o: Body | None, n: Body | None) -> None:
        if o is None and n is None:
            return
        self.subject = (kind, None, None)
        self.presence(o, n, kind)
        if o is not None and n is not None:
            self.metadata(o.origin, n.origin)
            self.descriptions(o, n)
        self.body(o, n)

    def named(self, kind: str, old: dict[str, Body], new: dict[str, Body]) -> None:
        blocked_new = not self.new.plan.settings.allow_unplanned_events
        first_ones = not old and blocked_new  # the first pages (screens) make every other name unplanned
        for name in list(dict.fromkeys([*old, *new])):
            o, n = old.get(name), new.get(name)
            self.subject = (kind, name, None)
            if o is None and n is not None:
                producer = SAFE
                detail = f"{kind} added"
                if first_ones:
                    first_ones = False
                    producer = BREAKING
                    detail += f": the plan listed no {kind}s, so every other {kind} name is now unplanned"
                elif self.old.plan.settings.allow_unplanned_events:
                    producer = WARNING
                    detail += f" (unplanned {kind}s were allowed: what producers send is now checked)"
                self.emit("DEFINITION_ADDED", "", detail, n.origin, producer=producer, new=self.fragment(n, self.new))
                continue
            if n is None and o is not None:
                blocked = blocked_new and bool(new)
                detail = f"{kind} removed" + (
                    f": the plan blocks unplanned {kind}s, so producers still sending it now fail" if blocked else ""
                )
                self.emit(
                    "DEFINITION_REMOVED",
                    "",
                    detail,
                    o.origin,
                    side="old",
                    producer=BREAKING if blocked else WARNING,
                    old=self.fragment(o, self.old),
                )
                continue
            assert o is not None and n is not None
            self.metadata(o.origin, n.origin)
            self.descriptions(o, n)
            self.body(o, n)

    def fragment(self, body: Body, side: _PlanSide) -> dict[str, Any]:
        """A body's main object as JSON Schema (refs expanded), for the old/new fragments."""
        add = body.additional_properties
        if add is None:
            add = side.plan.settings.additional_properties
        return object_schema(body.props, body.required, add, side.resolver)

    # events -----------------------------------------------------------------------------------
    def events(self) -> None:
        old, new = self.old.plan.events, self.new.plan.events
        added = [k for k in new if k not in old]
        blocked = not self.new.plan.settings.allow_unplanned_events
        for name in list(dict.fromkeys([*old, *new])):
            oe, ne = old.get(name), new.get(name)
            self.subject = ("event", name, None)
            if oe is None and ne is not None:
                was_open = self.old.plan.settings.allow_unplanned_events
                self.emit(
                    "EVENT_ADDED",
                    "",
                    "event added"
                    + (
                        " (unplanned events were allowed: what producers already send is now checked)"
                        if was_open
                        else ""
                    ),
                    ne.origin,
                    producer=WARNING if was_open else SAFE,
                    new={str(v): self.fragment(b, self.new) for v, b in sorted(ne.versions.items())},
                )
                continue
            if ne is None and oe is not None:
                hint = ""
                close = difflib.get_close_matches(name, added, n=1, cutoff=0.75)
                if close:
                    hint = f" (renamed to '{printable(close[0])}'? names are exact: a rename is a removal)"
                self.emit(
                    "EVENT_REMOVED",
                    "",
                    "event removed"
                    + (
                        ": the plan blocks unplanned events, so producers still sending it now fail"
                        if blocked
                        else ": producers still sending it are no longer checked"
                    )
                    + hint,
                    oe.origin,
                    side="old",
                    producer=BREAKING if blocked else WARNING,
                    old={str(v): self.fragment(b, self.old) for v, b in sorted(oe.versions.items())},
                )
                continue
            assert oe is not None and ne is not None
            self.metadata(oe.origin, ne.origin, owner=(oe.owner, ne.owner), labels=(oe.labels, ne.labels))
            if oe.description != ne.description:
                self.emit(
                    "DESCRIPTION_CHANGED",
                    "",
                    _changed("description", oe.description, ne.description),
                    ne.origin.child("description"),
                    old=oe.description if oe.description is not None else ABSENT,
                    new=ne.description if ne.description is not None else ABSENT,
                )
            if oe.deprecated != ne.deprecated:
                self.emit(
                    "DEPRECATION_CHANGED",
                    "",
                    "event marked deprecated" if ne.deprecated else "event no longer deprecated",
                    ne.origin.child("deprecated"),
                    old=oe.deprecated,
                    new=ne.deprecated,
                )
            self.versions(name, oe.versions, ne.versions, ne.origin, (oe.description, ne.description))

    def versions(
        self,
        name: str,
        old: dict[int, Body],
        new: dict[int, Body],
        event_at: Origin,
        event_descriptions: tuple[str | None, str | None],
    ) -> None:
        broken: dict[int, tuple[Body, Body]] = {}  # versions changed in ways that break producers
        rules: set[str] = set()
        for version in sorted(set(old) | set(new)):
            o, n = old.get(version), new.get(version)
            self.subject = ("event", name, version)
            if o is None and n is not None:
                producer, consumer, note = SAFE, WARNING, ""
                if old and version < min(old):  # messages without a version now fall back to this one
                    producer, consumer = self.weigh(old[min(old)], n)
                    note = f"; messages without a version are now checked against it instead of version {min(old)}"
                    consumer = _worst(consumer, WARNING)
                self.emit(
                    "EVENT_VERSION_ADDED",
                    "",
                    f"version {version} added{note}",
                    n.origin,
                    producer=producer,
                    consumer=consumer,
                    new=self.fragment(n, self.new),
                )
            elif n is None and o is not None:
                fallback = min(new)
                producer, consumer = self.weigh(o, new[fallback])
                self.emit(
                    "EVENT_VERSION_REMOVED",
                    "",
                    f"version {version} removed: messages sending it get {CONFORMANCE_UNKNOWN_EVENT_VERSION} and "
                    f"are checked against version {fallback}"
                    + (", which rejects messages it accepted" if producer is BREAKING else ""),
                    o.origin,
                    side="old",
                    producer=_worst(producer, WARNING),
                    consumer=_worst(consumer, WARNING),
                    old=self.fragment(o, self.old),
                )
            else:
                assert o is not None and n is not None
                start = len(self.changes)
                if (o.description, n.description) != event_descriptions:  # not just the event's, inherited
                    self.descriptions(o, n)
                self.body(o, n)
                breaking = {c.rule for c in self.changes[start:] if c.producer is BREAKING}
                if breaking:
                    broken[version] = (o, n)
                    rules |= breaking
        if broken:
            self.bump(name, broken, sorted(rules), event_at)

    def weigh(self, o: Body, n: Body) -> tuple[Verdict, Verdict]:
        """The worst verdicts of the differences between two bodies (nothing reported)."""
        subject = self.subject
        with self.scratch() as found:
            self.body(o, n)
        self.subject = subject
        return _worst(*(c.producer for c in found)), _worst(*(c.consumer for c in found))

    def bump(self, name: str, broken: dict[int, tuple[Body, Body]], rules: list[str], event_at: Origin) -> None:
        """Suggest the ``versions:`` entries for an event whose versions ``broken`` (OLD and NEW bodies)
        changed in ways that break producers: the changed versions as they were, and a new version with
        the NEW definition of the latest of them."""
        import yaml

        all_versions = set(self.old.plan.events[name].versions) | set(self.new.plan.events[name].versions)
        suggested = max(all_versions) + 1
        entries: dict[int, Any] = {}
        inlined: dict[str, None] = {}
        for v, (o, _) in sorted(broken.items()):
            entries[v], names = self.restore(o)
            inlined.update(dict.fromkeys(names))
        entries[suggested] = _version_body(broken[max(broken)][1])
        notes = [f"# {printable(name)}: {'versions' if len(broken) > 1 else 'version'} "]
        notes[0] += f"{', '.join(map(str, sorted(broken)))} as before, version {suggested} with the change."
        if inlined:
            notes.append(
                f"# The old definitions of {', '.join(map(printable, inlined))} are written out in full: "
                "their shared definitions changed."
            )
        if not _is_version_key(broken[max(broken)][1].origin):
            notes.append("# Move the event's properties, required and additionalProperties into these versions.")
        entry = {"events": {name: {"versions": entries}}}
        # flow style for the leaves ({ref: sku}), long descriptions kept on one line
        written = yaml.safe_dump(entry, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None)
        snippet = "\n".join(notes) + "\n" + written
        line, column = event_at.position(key=True)
        self.bumps.append(
            VersionBump(
                event=name,
                versions=tuple(sorted(broken)),
                suggested=suggested,
                rules=tuple(rules),
                file=self.new.label(event_at.file),
                line=line,
                column=column,
                snippet=snippet,
                plan=self.plan_name,
            )
        )

    def restore(self, o: Body) -> tuple[dict[str, Any], list[str]]:
        """An OLD version body written so that it means under the NEW plan what it meant under OLD:
        properties whose shared definitions changed are written out in full, and the OLD
        additionalProperties is spelt out when the plan's default changed. Returns the body and the
        names written out."""
        body = _version_body(o)
        inlined = []
        props = body.get("properties")
        if isinstance(props, dict):
            props = dict(props)
            for pname, spec in props.items():
                if isinstance(spec, dict):
                    before = _expand(spec, self.old.resolver)
                    if _key(before) != _key(_expand(spec, self.new.resolver)):
                        props[pname] = before
                        inlined.append(pname)
            body["properties"] = props
        add = o.additional_properties
        add = self.old.plan.settings.additional_properties if add is None else add
        if "additionalProperties" not in body and add != self.new.plan.settings.additional_properties:
            body["additionalProperties"] = add
        return body, inlined

    # bodies -----------------------------------------------------------------------------------
    def metadata(
        self,
        o_at: Origin,
        n_at: Origin,
        *,
        owner: tuple[Any, Any] | None = None,
        labels: tuple[Any, Any] | None = None,
    ) -> None:
        o_raw, n_raw = _raw(o_at), _raw(n_at)
        o_raw = o_raw if isinstance(o_raw, dict) else {}
        n_raw = n_raw if isinstance(n_raw, dict) else {}
        owner = owner or (o_raw.get("owner"), n_raw.get("owner"))
        labels = labels or (o_raw.get("labels") or [], n_raw.get("labels") or [])
        if owner[0] != owner[1]:
            self.emit(
                "OWNER_CHANGED",
                "",
                _changed("owner", owner[0], owner[1]),
                n_at.child("owner"),
                old=owner[0] if owner[0] is not None else ABSENT,
                new=owner[1] if owner[1] is not None else ABSENT,
            )
        if list(labels[0]) != list(labels[1]):
            gone = [x for x in labels[0] if x not in labels[1]]
            came = [x for x in labels[1] if x not in labels[0]]
            parts = ([f"added {_values(came)}"] if came else []) + ([f"removed {_values(gone)}"] if gone else [])
            self.emit(
                "LABELS_CHANGED",
                "",
                "labels " + ("; ".join(parts) if parts else "reordered"),
                n_at.child("labels"),
                old=list(labels[0]),
                new=list(labels[1]),
            )

    def descriptions(self, o: Body | None, n: Body | None) -> None:
        if o is None or n is None or o.description == n.description:
            return
        od, nd = o.description, n.description
        self.emit(
            "DESCRIPTION_CHANGED",
            "",
            _changed("description", od, nd),
            n.origin.child("description"),
            old=od if od is not None else ABSENT,
            new=nd if nd is not None else ABSENT,
        )

    def obj(self, body: Body | None, fld: str, side: _PlanSide, *, open_: bool | None = None) -> _Obj:
        """The object of a body's field (``properties``, ``traits``, ``context``)."""
        if body is None:
            return _Obj({}, [], True)
        props = body.fields.get(fld, {})
        children = {name: _Node(p.spec, p.origin, side.resolver) for name, p in props.items()}
        required = list(body.required) if fld == body.main_field else []
        required += [name for name, c in children.items() if c.view.get("required") is True]
        open_at: Origin | None = body.origin.child("additionalProperties")
        if open_ is None and body.kind != "common":
            if body.additional_properties is not None:
                open_ = body.additional_properties
            else:  # the plan's default decides: point at it (only the NEW side's place is ever shown)
                open_ = side.plan.settings.additional_properties
                settings = self.settings_at("new") if side is self.new else None
                open_at = settings.child("additionalProperties") if settings is not None else body.origin
        return _Obj(
            children=children,
            required=list(dict.fromkeys(required)),
            open=open_,
            origin=body.origin.child(fld),
            open_at=open_at,
            required_at=body.origin.child("required"),
        )

    def body(self, o: Body | None, n: Body | None) -> None:
        either = n if n is not None else o
        kind = either.kind if either is not None else "track"
        fld = {"identify": "traits", "group": "traits"}.get(kind, "properties")
        common = self.new.plan.common
        keep = (
            frozenset(common.fields.get("properties", {})) if common and kind in ("track", "page", "screen") else None
        )
        self.object(self.obj(o, fld, self.old), self.obj(n, fld, self.new), fld, also_allowed=keep or frozenset())

    # objects ----------------------------------------------------------------------------------
    def object(self, o: _Obj, n: _Obj, path: str, *, also_allowed: frozenset[str] = frozenset()) -> None:
        names = list(dict.fromkeys([*o.children, *n.children, *o.required, *n.required]))
        for name in names:
            oc, nc = o.children.get(name), n.children.get(name)
            oreq, nreq = name in o.required, name in n.required
            p = path + _seg(name)
            if oc is None and nc is None:
                if nreq and not oreq:
                    self.emit("PROPERTY_BECAME_REQUIRED", p, "now required", n.required_at, old=False, new=True)
                elif oreq and not nreq:
                    self.emit("PROPERTY_BECAME_OPTIONAL", p, "no longer required", n.required_at, old=True, new=False)
                continue
            if oc is None and nc is not None:
                fragment = to_schema(nc.local, nc.resolver)
                if nreq and not oreq:
                    self.emit("REQUIRED_PROPERTY_ADDED", p, "required property added", nc.origin, new=fragment)
                else:
                    open_ = o.open is not False
                    self.emit(
                        "OPTIONAL_PROPERTY_ADDED",
                        p,
                        "optional property added"
                        + (
                            " to an open object: producers may already send it with another shape"
                            if open_
                            else " to a closed object"
                        ),
                        nc.origin,
                        producer=WARNING if open_ else SAFE,
                        new=fragment,
                    )
                continue
            if nc is None and oc is not None:
                fragment = to_schema(oc.local, oc.resolver)
                closed = n.open is not True and name not in also_allowed
                detail = "property removed" + (
                    " from a closed object: producers still sending it now fail" if closed else ""
                )
                if oreq:
                    detail += "; it was required, so readers counted on it"
                self.emit(
                    "PROPERTY_REMOVED",
                    p,
                    detail,
                    oc.origin,
                    side="old",
                    producer=BREAKING if closed else SAFE,
                    consumer=BREAKING if oreq else WARNING,
                    old=fragment,
                )
                continue
            assert oc is not None and nc is not None
            if nreq and not oreq:
                at = nc.where("required") if nc.view.get("required") is True else n.required_at
                self.emit("PROPERTY_BECAME_REQUIRED", p, "optional property is now required", at, old=False, new=True)
            elif oreq and not nreq:
                at = nc.where("required") if "required" in nc.view else nc.origin
                self.emit("PROPERTY_BECAME_OPTIONAL", p, "required property is now optional", at, old=True, new=False)
            self.node(oc, nc, p)
        if o.open is not False and n.open is False:
            self.emit(
                "OBJECT_CLOSED",
                path,
                "object closed (additionalProperties: false): properties it does not list now fail",
                n.open_at,
                old=True if o.open else "mixed",
                new=False,
            )
        elif o.open is False and n.open is not False:
            self.emit(
                "OBJECT_OPENED",
                path,
                "object opened: it now accepts properties it does not list",
                n.open_at,
                old=False,
                new=True if n.open else "mixed",
            )
        if o.open is not False and n.open is not False:
            self.wrapped(o.extra, n.extra, path + ".*", "the schema of unlisted properties", n.open_at or n.origin)

    # property definitions ---------------------------------------------------------------------
    def node(self, o: _Node, n: _Node, path: str) -> None:
        self.types(o, n, path)
        self.enums(o, n, path)
        self.pattern(o, n, path)
        self.format(o, n, path)
        self.bounds(o, n, path)
        if o.is_object() or n.is_object():
            self.object(o.as_object(), n.as_object(), path)
        self.items(o, n, path)
        self.wrapped(o.sub("contains"), n.sub("contains"), path + ".contains", "contains", n.where("contains"))
        self.positions(o, n, path)
        for key in ("allOf", "anyOf", "oneOf"):
            self.alternatives(key, o, n, path)
        self.negation(o, n, path)
        self.dependent(o, n, path)
        self.annotations(o, n, path)

    def items(self, o: _Node, n: _Node, path: str) -> None:
        """``items``: a schema for every item (after ``prefixItems``), or ``false``: no more items."""
        o_none, n_none = o.view.get("items") is False, n.view.get("items") is False
        if o_none == n_none and not o_none:
            self.wrapped(o.sub("items"), n.sub("items"), path + "[]", "the items schema", n.where("items"))
        elif n_none and not o_none:
            self.emit(
                "CONSTRAINT_ADDED",
                path + "[]",
                "items: false added: no items allowed beyond prefixItems",
                n.where("items"),
                old=o.view.get("items", ABSENT),
                new=False,
            )
        elif o_none and not n_none:
            self.emit(
                "CONSTRAINT_REMOVED",
                path + "[]",
                "items: false removed: items beyond prefixItems allowed",
                n.where("items"),
                old=False,
                new=n.view.get("items", ABSENT),
            )

    def types(self, o: _Node, n: _Node, path: str) -> None:
        ot, nt = _types(o.view), _types(n.view)
        if ot is None and nt is None:
            return
        at = n.where("type")
        if ot is None:
            self.emit("TYPE_NARROWED", path, f"type {_show_types(nt)} added", at, new=n.view.get("type"))
            return
        if nt is None:
            self.emit("TYPE_WIDENED", path, f"type {_show_types(ot)} removed: any type passes", at, old=o.view["type"])
            return
        narrower, wider = _within(nt, ot), _within(ot, nt)
        if narrower and wider:
            return
        detail = f"type {_show_types(ot)} → {_show_types(nt)}"
        old, new = o.view["type"], n.view["type"]
        if narrower:
            self.emit("TYPE_NARROWED", path, detail, at, old=old, new=new)
        elif wider:
            self.emit("TYPE_WIDENED", path, detail, at, old=old, new=new)
        else:
            overlap = any(_covers(ot, t) or _covers(nt, u) for t in nt for u in ot)
            self.emit("TYPE_CHANGED", path, detail, at, old=old, new=new, consumer=WARNING if overlap else BREAKING)

    def enums(self, o: _Node, n: _Node, path: str) -> None:
        oa, na = _allowed(o.view), _allowed(n.view)
        if oa is None and na is None:
            return
        at = n.where("enum") if "enum" in n.view else n.where("const")
        word = "const" if "const" in n.view and "enum" not in n.view else "enum"
        if oa is None:
            self.emit("ENUM_ADDED", path, f"{word} added: only {_values(na or [])} pass", at, new=na)
            return
        if na is None:
            self.emit("ENUM_REMOVED", path, f"enum {_values(oa)} removed: any value passes", at, old=oa)
            return
        okeys, nkeys = {_key(v) for v in oa}, {_key(v) for v in na}
        gone = [v for v in oa if _key(v) not in nkeys]
        came = [v for v in na if _key(v) not in okeys]
        if gone:
            self.emit("ENUM_VALUE_REMOVED", path, f"{word} values removed: {_values(gone)}", at, old=oa, new=na)
        if came:
            self.emit("ENUM_VALUE_ADDED", path, f"{word} values added: {_values(came)}", at, old=oa, new=na)

    def pattern(self, o: _Node, n: _Node, path: str) -> None:
        op, np_ = o.view.get("pattern"), n.view.get("pattern")
        op = None if not isinstance(op, str) or op in _TRIVIAL_PATTERNS else op
        np_ = None if not isinstance(np_, str) or np_ in _TRIVIAL_PATTERNS else np_
        if op == np_:
            return
        at = n.where("pattern")
        if op is None:
            self.emit("PATTERN_ADDED", path, f"pattern {_show(np_)} added", at, new=np_)
        elif np_ is None:
            how = "relaxed to match everything" if "pattern" in n.view else "removed"
            self.emit(
                "PATTERN_REMOVED", path, f"pattern {_show(op)} {how}", at, old=op, new=n.view.get("pattern", ABSENT)
            )
        else:
            self.emit("PATTERN_CHANGED", path, f"pattern {_show(op)} → {_show(np_)}", at, old=op, new=np_)

    def format(self, o: _Node, n: _Node, path: str) -> None:
        of, nf = o.view.get("format"), n.view.get("format")
        if of == nf:
            return
        at = n.where("format")
        if of is None:
            self.emit("FORMAT_ADDED", path, f"format {_show(nf)} added", at, new=nf)
        elif nf is None:
            self.emit("FORMAT_REMOVED", path, f"format {_show(of)} removed", at, old=of)
        elif (of, nf) in _WIDER_FORMATS:
            self.emit(
                "FORMAT_CHANGED",
                path,
                f"format {_show(of)} → {_show(nf)} (accepts more)",
                at,
                old=of,
                new=nf,
                producer=SAFE,
                consumer=WARNING,
            )
        else:
            self.emit("FORMAT_CHANGED", path, f"format {_show(of)} → {_show(nf)}", at, old=of, new=nf)

    def bounds(self, o: _Node, n: _Node, path: str) -> None:
        for key in _UPPER + _LOWER:
            ov, nv = o.view.get(key), n.view.get(key)
            ov = ov if _is_number(ov) else None
            nv = nv if _is_number(nv) else None
            if ov is None and nv is None or (ov is not None and nv is not None and ov == nv):
                continue
            at = n.where(key)
            if ov is None:
                self.emit("BOUND_ADDED", path, f"{key} {_show(nv)} added", at, new=nv)
            elif nv is None:
                self.emit("BOUND_REMOVED", path, f"{key} {_show(ov)} removed", at, old=ov)
            elif (key in _UPPER) == (nv < ov):
                self.emit("BOUND_TIGHTENED", path, f"{key} {_show(ov)} → {_show(nv)}", at, old=ov, new=nv)
            else:
                self.emit("BOUND_RELAXED", path, f"{key} {_show(ov)} → {_show(nv)}", at, old=ov, new=nv)
        ov, nv = _step(o.view), _step(n.view)
        if ov != nv:
            at = n.where("multipleOf")
            if ov is None:
                self.emit("BOUND_ADDED", path, f"multipleOf {_show(nv)} added", at, new=nv)
            elif nv is None:
                self.emit("BOUND_REMOVED", path, f"multipleOf {_show(ov)} removed", at, old=ov)
            elif _divides(ov, nv):
                self.emit("BOUND_TIGHTENED", path, f"multipleOf {_show(ov)} → {_show(nv)}", at, old=ov, new=nv)
            elif _divides(nv, ov):
                self.emit("BOUND_RELAXED", path, f"multipleOf {_show(ov)} → {_show(nv)}", at, old=ov, new=nv)
            else:
                self.emit(
                    "BOUND_TIGHTENED",
                    path,
                    f"multipleOf {_show(ov)} → {_show(nv)} (unrelated steps)",
                    at,
                    old=ov,
                    new=nv,
                    consumer=WARNING,
                )
        ou, nu = o.view.get("uniqueItems") is True, n.view.get("uniqueItems") is True
        if ou != nu:
            at = n.where("uniqueItems")
            if nu:
                self.emit("BOUND_ADDED", path, "uniqueItems added: repeated items fail", at, new=True)
            else:
                self.emit("BOUND_REMOVED", path, "uniqueItems removed: items may repeat", at, old=True)

    def wrapped(self, o: _Node | None, n: _Node | None, path: str, what: str, at: Origin | None) -> None:
        """A sub-schema that constrains values: compared in place when both sides have it; when one side
        adds or drops it, one change whose verdicts are those of the sub-schema against no schema."""
        if o is None and n is None:
            return
        if o is not None and n is not None:
            self.node(o, n, path)
            return
        subject = self.subject
        with self.scratch() as found:
            self.node(o or _Node.empty(), n or _Node.empty(), path)
        self.subject = subject
        if not found:
            return
        producer = _worst(*(c.producer for c in found))
        consumer = _worst(*(c.consumer for c in found))
        if n is not None:
            self.emit(
                "CONSTRAINT_ADDED",
                path,
                f"{what} added",
                n.origin or at,
                new=to_schema(n.local, n.resolver),
                producer=producer,
                consumer=consumer,
            )
        else:
            assert o is not None
            self.emit(
                "CONSTRAINT_REMOVED",
                path,
                f"{what} removed",
                at,
                old=to_schema(o.local, o.resolver),
                producer=producer,
                consumer=consumer,
            )

    def positions(self, o: _Node, n: _Node, path: str) -> None:
        ol, nl = o.subs("prefixItems") or [], n.subs("prefixItems") or []
        for i in range(max(len(ol), len(nl))):
            self.wrapped(
                ol[i] if i < len(ol) else None,
                nl[i] if i < len(nl) else None,
                f"{path}[{i}]",
                f"prefixItems[{i}]",
                n.where("prefixItems"),
            )

    def alternatives(self, key: str, o: _Node, n: _Node, path: str) -> None:
        ol, nl = o.subs(key), n.subs(key)
        if ol is None and nl is None:
            return
        at = n.where(key)
        if ol is None or nl is None:
            if key == "allOf":  # a conjunction: weigh it like any sub-schema
                parts = ol or nl or []
                for i, part in enumerate(parts):
                    self.wrapped(
                        part if nl is None else None,
                        part if ol is None else None,
                        f"{path}.{key}[{i}]",
                        f"{key}[{i}]",
                        at,
                    )
            elif nl is not None:
                self.emit("CONSTRAINT_ADDED", path, f"{key} added", at, new=n.view.get(key))
            else:
                self.emit("CONSTRAINT_REMOVED", path, f"{key} removed", at, old=o.view.get(key))
            return
        if len(ol) == len(nl):
            for i, (a, b) in enumerate(zip(ol, nl)):
                self.node(a, b, f"{path}.{key}[{i}]")
            return
        okeys = [_key(x.view) for x in ol]
        nkeys = [_key(x.view) for x in nl]
        for i, x in enumerate(nl):
            if nkeys[i] in okeys:
                continue
            where = f"{path}.{key}[{i}]"
            if key == "allOf":
                self.wrapped(None, x, where, f"{key}[{i}]", at)
            else:
                self.emit(
                    "BRANCH_ADDED",
                    where,
                    f"{key} alternative added"
                    + (": a value matching two alternatives fails oneOf" if key == "oneOf" else ""),
                    x.origin or at,
                    new=to_schema(x.local, x.resolver),
                    producer=WARNING if key == "oneOf" else SAFE,
                )
        for i, x in enumerate(ol):
            if okeys[i] in nkeys:
                continue
            where = f"{path}.{key}[{i}]"
            if key == "allOf":
                self.wrapped(x, None, where, f"{key}[{i}]", at)
            else:
                self.emit(
                    "BRANCH_REMOVED",
                    where,
                    f"{key} alternative {i} removed",
                    at,
                    old=to_schema(x.local, x.resolver),
                )

    def negation(self, o: _Node, n: _Node, path: str) -> None:
        on, nn = o.sub("not"), n.sub("not")
        if on is None and nn is None:
            return
        at = n.where("not")
        if on is None:
            assert nn is not None
            self.emit("CONSTRAINT_ADDED", path, "not added", at, new=to_schema(nn.local, nn.resolver))
        elif nn is None:
            self.emit("CONSTRAINT_REMOVED", path, "not removed", at, old=to_schema(on.local, on.resolver))
        else:
            old, new = to_schema(on.local, on.resolver), to_schema(nn.local, nn.resolver)
            if _key(old) != _key(new):
                self.emit("CONSTRAINT_CHANGED", path, "not changed", at, old=old, new=new)

    def dependent(self, o: _Node, n: _Node, path: str) -> None:
        od, nd = o.view.get("dependentRequired"), n.view.get("dependentRequired")
        od = od if isinstance(od, dict) else {}
        nd = nd if isinstance(nd, dict) else {}
        at = n.where("dependentRequired")
        for name in dict.fromkeys([*od, *nd]):
            before = [x for x in od.get(name) or [] if isinstance(x, str)]
            after = [x for x in nd.get(name) or [] if isinstance(x, str)]
            came = [x for x in after if x not in before]
            gone = [x for x in before if x not in after]
            if came:
                self.emit(
                    "CONSTRAINT_ADDED",
                    path,
                    f"dependentRequired: with {name!r}, {_values(came)} now required",
                    at,
                    old=before,
                    new=after,
                )
            if gone:
                self.emit(
                    "CONSTRAINT_REMOVED",
                    path,
                    f"dependentRequired: with {name!r}, {_values(gone)} no longer required",
                    at,
                    old=before,
                    new=after,
                )

    def annotations(self, o: _Node, n: _Node, path: str) -> None:
        od, nd = o.view.get("description"), n.view.get("description")
        if od != nd:
            self.emit(
                "DESCRIPTION_CHANGED",
                path,
                _changed("description", od, nd),
                n.where("description"),
                old=od if od is not None else ABSENT,
                new=nd if nd is not None else ABSENT,
            )
        keys = [k for k in dict.fromkeys([*o.view, *n.view]) if k in _ANNOTATIONS or k.startswith("x-")]
        for key in keys:
            ov, nv = o.view.get(key, ABSENT), n.view.get(key, ABSENT)
            if ov is ABSENT and nv is ABSENT or (ov is not ABSENT and nv is not ABSENT and _key(ov) == _key(nv)):
                continue
            self.emit(
                "ANNOTATION_CHANGED",
                path,
                f"{key} " + ("added" if ov is ABSENT else "removed" if nv is ABSENT else "changed"),
                n.where(key),
                old=ov,
                new=nv,
            )
        if bool(o.view.get("deprecated")) != bool(n.view.get("deprecated")):
            self.emit(
                "DEPRECATION_CHANGED",
                path,
                "marked deprecated" if n.view.get("deprecated") else "no longer deprecated",
                n.where("deprecated"),
                old=o.view.get("deprecated", ABSENT),
                new=n.view.get("deprecated", ABSENT),
            )
        op, np_ = _pii(o.view), _pii(n.view)
        if op != np_:
            declassified = op not in (None, "none")
            self.emit(
                "PII_CHANGED",
                path,
                f"pii {op or 'unset'} → {np_ or 'unset'}"
                + (": values may now reach readers unhashed" if declassified else ""),
                n.where("pii"),
                old=op if op is not None else ABSENT,
                new=np_ if np_ is not None else ABSENT,
                consumer=WARNING if declassified else SAFE,
            )


def _changed(what: str, old: Any, new: Any) -> str:
    if old is None:
        return f"{what} added"
    if new is None:
        return f"{what} removed"
    return f"{what} changed"


def _show_types(types: list[str] | None) -> str:
    types = types or []
    return types[0] if len(types) == 1 else "[" + ", ".join(types) + "]"


def _step(view: dict[str, Any]) -> Any:
    value: Any = view.get("multipleOf")
    return value if _is_number(value) and value > 0 else None


def _divides(small: Any, big: Any) -> bool:
    """Is ``big`` a whole multiple of ``small`` (exactly, in decimal)?"""
    try:
        ratio = Decimal(str(big)) / Decimal(str(small))
    except (InvalidOperation, ZeroDivisionError):
        return False
    return ratio == ratio.to_integral_value()


def _is_version_key(origin: Origin) -> bool:
    return len(origin.path) >= 2 and origin.path[-2] == "versions"


def _expand(spec: dict[str, Any], resolver: Resolver, stack: tuple[str, ...] = ()) -> dict[str, Any]:
    """A property definition with every ``ref`` written out, in the plan format (``required: true``,
    ``pii`` kept), as :func:`~cdp_cli.plan.compiler.to_schema` expands them."""
    view = spec
    if isinstance(spec.get("ref"), str):
        if spec["ref"] in stack:
            return {k: v for k, v in spec.items() if k != "ref"}
        view = resolver.merged(spec)
        stack = stack + tuple(resolver.chain(spec))
    out: dict[str, Any] = {}
    for key, value in view.items():
        if key in fmt.SUB_ONE and isinstance(value, dict):
            out[key] = _expand(value, resolver, stack)
        elif key in fmt.SUB_LIST and isinstance(value, list):
            out[key] = [_expand(v, resolver, stack) if isinstance(v, dict) else v for v in value]
        elif key in fmt.SUB_MAP and isinstance(value, dict):
            out[key] = {n: _expand(v, resolver, stack) if isinstance(v, dict) else v for n, v in value.items()}
        elif key != "ref":
            out[key] = value
    return out


def _version_body(body: Body) -> dict[str, Any]:
    """A version's definition as written (for the ``versions:`` suggestion)."""
    raw = _raw(body.origin)
    raw = raw if isinstance(raw, dict) else {}
    keys: tuple[str, ...] = ("properties", "required", "additionalProperties")
    if _is_version_key(body.origin):  # an event without versions: its description stays on the event
        keys = ("description", *keys)
    return {k: raw[k] for k in keys if k in raw}


# --- loading both sides -----------------------------------------------------------------------------


PlanSpec = str | os.PathLike[str]


def _specs(value: PlanSpec | Sequence[PlanSpec]) -> list[PlanSpec]:
    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


def _open_side(specs: list[PlanSpec], stack: ExitStack, cwd: PlanSpec | None) -> list[_PlanSide]:
    sides: list[_PlanSide] = []
    for spec in specs:
        sides.extend(_open_one(spec, stack, cwd))
    return sides


def _open_one(spec: PlanSpec, stack: ExitStack, cwd: PlanSpec | None) -> list[_PlanSide]:
    """Load the plans at one path or ``REV:PATH``; a plan with errors is refused (PlanError)."""
    from cdp_cli.plan.gitrev import checkout, parse_rev_spec
    from cdp_cli.plan.loader import discover, load_plan
    from cdp_cli.plan.validate import validate_plan

    text = os.fspath(spec)
    rev = parse_rev_spec(text)
    label: Callable[[str], str] = lambda f: f
    shown: Callable[[str], str] = lambda f: f
    if rev is not None:
        tree = stack.enter_context(checkout(rev, cwd=cwd))
        path = tree.path
        label, shown = tree.workspace_path, tree.rev_path
    else:
        path = Path(text)
    sides = []
    for source in discover([path]):
        plan, structural = load_plan(source)
        report = validate_plan(plan, structural)
        errors = [f for f in report.findings if f.level is Level.ERROR]
        if errors:
            first = errors[0]
            name = plan.name or shown(plan.root)
            raise PlanError(
                f"{text}: plan {name} has {plural(len(errors), 'error')}; first: "
                f"{shown(first.file)}:{first.line}:{first.column}: {first.code} {first.message} "
                "(a plan with errors cannot be compared; `cdp plan validate` lists them)"
            )
        try:
            rel = os.path.relpath(source.root, path if path.is_dir() else path.parent)
        except ValueError:
            rel = source.root
        sides.append(_PlanSide(plan, label, plan.name or rel))
    return sides


def _pairs(old: list[_PlanSide], new: list[_PlanSide]) -> list[tuple[_PlanSide, _PlanSide]]:
    if len(old) == 1 and len(new) == 1:
        return [(old[0], new[0])]
    by_key = {s.key: s for s in old}
    out = []
    for n in new:
        o = by_key.pop(n.key, None)
        out.append((o or _empty_side(n.key), n))
    out += [(o, _empty_side(o.key)) for o in by_key.values()]
    return out


def compare(old: _PlanSide, new: _PlanSide) -> tuple[list[Change], list[VersionBump]]:
    differ = _Differ(old, new)
    differ.run()
    return differ.changes, differ.bumps


def compare_plans(old: Plan, new: Plan) -> tuple[list[Change], list[VersionBump]]:
    """The changes (and suggested version bumps) between two loaded plans, files shown as loaded."""
    return compare(_PlanSide(old, lambda f: f, old.name or old.root), _PlanSide(new, lambda f: f, new.name or new.root))


def diff_plans(
    old: PlanSpec | Sequence[PlanSpec],
    new: PlanSpec | Sequence[PlanSpec],
    *,
    fail_on: FailOn | str = FailOn.BREAKING,
    side: Side | str = Side.PRODUCER,
    cwd: PlanSpec | None = None,
) -> DiffResult:
    """Compare the plan(s) at ``old`` with those at ``new``.

    Each is a plan file or directory, or ``REV:PATH`` read from git (``main:plans/ecommerce``; ``cwd``
    says which repository, by default the current directory's), or a list of them. Several plans on a
    side are paired by plan name (else by folder); a plan on one side only is all added or all removed.
    Raises
    :class:`~cdp_cli.errors.InputError` for a missing path, an unknown revision or a path not in it,
    :class:`~cdp_cli.errors.PlanError` when either plan has errors, and
    :class:`~cdp_cli.errors.UsageError` for an unknown ``fail_on`` or ``side``."""
    fail = _coerce(FailOn, fail_on, "fail_on")
    whose = _coerce(Side, side, "side")
    old_specs, new_specs = _specs(old), _specs(new)
    if not old_specs or not new_specs:
        raise UsageError("plan diff needs an OLD and a NEW plan (a path or REV:PATH each)")
    shown = [", ".join(os.fspath(s) for s in specs) for specs in (old_specs, new_specs)]
    result = DiffResult(shown[0], shown[1], fail_on=fail, side=whose)
    with ExitStack() as stack:
        old_sides = _open_side(old_specs, stack, cwd)
        new_sides = _open_side(new_specs, stack, cwd)
        files: dict[str, None] = {}
        for o, n in _pairs(old_sides, new_sides):
            changes, bumps = compare(o, n)
            result.changes.extend(changes)
            result.bumps.extend(bumps)
            result.pairs.append((o.shown_name(), n.shown_name()))
            for side_ in (n, o):
                for f in side_.plan.files:
                    files[side_.label(f)] = None
        result.compared_files = list(files)
    return result
