"""The :class:`Rule` record: everything cdp knows about one rule, in one frozen object.

A rule module (:mod:`cdp_cli.rules.event_rules`, :mod:`cdp_cli.rules.plan_rules`) only *defines*
rules; :mod:`cdp_cli.rules.catalog` collects them once into a read-only catalog. Nothing registers
itself on import.

Where a rule is checked and how the fast path covers it are part of the record, so the reference
(``cdp rules``, ``docs/rules.md``) says it and a test keeps it true:

``checked_in``
    The module(s) that report the rule, as dotted names (``("cdp_cli.lint.spec",)``). A rule reported
    in two places (a plan section defined twice is found while loading *and* while checking) names
    both, the main one first.

``fast_path`` (:class:`Coverage`)
    How ``cdp events lint``'s fast path (:mod:`cdp_cli.lint.fastpath`) covers a per-message rule. The
    fast path is one-sided: a message it calls clean has no finding of any rule; anything else goes
    to the full Python checks. The value says whether messages that are fine for this rule still take
    the slow way (:data:`COVERAGE_TEXT` says it in words): ``full``, ``partial``, ``none``, or ``n/a``
    for rules that are not checked per message.

``status`` (:class:`Status`)
    ``stable``, ``preview`` or ``deprecated`` (:data:`STATUS_TEXT`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from cdp_cli.findings import Finding, Level


class Status(str, Enum):
    """How settled a rule is. ``stable``: its code, name and meaning will not change. ``preview``: new;
    what it reports may still be tuned. ``deprecated``: will be removed; its code is never reused."""

    STABLE = "stable"
    PREVIEW = "preview"
    DEPRECATED = "deprecated"


class Coverage(str, Enum):
    """How the fast path of ``cdp events lint`` covers a rule (see the module docstring)."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"
    NOT_APPLICABLE = "n/a"


#: What each status means (the rules reference prints this).
STATUS_TEXT: Mapping[Status, str] = MappingProxyType(
    {
        Status.STABLE: "its code, name and meaning will not change.",
        Status.PREVIEW: "new; what it reports may still be tuned. Its code will not change.",
        Status.DEPRECATED: "will be removed in a later release; its code will never be reused.",
    }
)

#: What each fast-path coverage means (the rules reference prints this).
COVERAGE_TEXT: Mapping[Coverage, str] = MappingProxyType(
    {
        Coverage.FULL: "the fast path checks the rule itself (in the compiled JSON Schema, or in Python on plain "
        "strings); only messages that may break it take the slow way.",
        Coverage.PARTIAL: "the fast path checks a stricter approximation, so some messages that are fine also take "
        "the slow way (any `@` in a value, keys with digits, timestamps with an offset, ...).",
        Coverage.NONE: "the fast path does not check the rule: every message it could apply to takes the slow way.",
        Coverage.NOT_APPLICABLE: "not checked per message (input problems found by the reader, duplicates found "
        "across the whole input, plan rules), so the fast path does not apply.",
    }
)


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: what it checks and why, how loud it is by default, a bad and a good example, its
    options, its status, where it is checked and how the fast path covers it."""

    code: str
    name: str
    family: str
    level: Level
    summary: str
    bad: str = ""
    good: str = ""
    #: Options a project may set in ``.cdp.yaml`` and their defaults (the type of the default is the
    #: type an option must have). Read-only.
    options: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: The harm the rule prevents, in one or two sentences.
    why: str = ""
    status: Status = Status.STABLE
    #: Modules that report the rule (dotted names), the main one first.
    checked_in: tuple[str, ...] = ()
    fast_path: Coverage = Coverage.NOT_APPLICABLE

    def __post_init__(self) -> None:
        if not isinstance(self.options, MappingProxyType):
            object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def finding(
        self,
        file: str,
        line: int,
        column: int,
        message: str,
        *,
        path: str = "",
        level: Level | None = None,
        **extra: object,
    ) -> Finding:
        return Finding(
            code=self.code,
            rule=self.name,
            level=level or self.level,
            file=file,
            line=line,
            column=column,
            message=message,
            path=path,
            extra=dict(extra),
        )
