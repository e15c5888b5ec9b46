"""The rule catalog: every rule cdp can report, built once at import and read-only afterwards.

The rule modules only define rules; this module collects them, checks that codes are unique and
that every code has its named constant (:mod:`cdp_cli.rules.codes`), and freezes the result. There
is no registration and no import cycle: ``catalog`` imports the rule modules, never the other way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from cdp_cli.rules import codes
from cdp_cli.rules.event_rules import EVENT_RULES
from cdp_cli.rules.plan_diff_rules import PLAN_DIFF_RULES
from cdp_cli.rules.plan_rules import PLAN_RULES
from cdp_cli.rules.rule import Rule

__all__ = ["CATALOG", "FAMILIES", "REGISTRY", "all_rules", "constant_name", "get_rule", "select_rules"]


def constant_name(rule: Rule) -> str:
    """The name of a rule's code constant in :mod:`cdp_cli.rules.codes`: its name in upper snake case."""
    return rule.name.replace(".", "_").replace("-", "_").upper()


def _build(rules: Iterable[Rule]) -> Mapping[str, Rule]:
    table: dict[str, Rule] = {}
    for rule in rules:
        if rule.code in table:
            raise ValueError(f"rule code {rule.code} is defined twice")
        if getattr(codes, constant_name(rule), None) != rule.code:
            raise ValueError(f"rule {rule.code}: cdp_cli.rules.codes has no {constant_name(rule)} = {rule.code!r}")
        table[rule.code] = rule
    return MappingProxyType(dict(sorted(table.items())))


#: code -> rule, in code order. Read-only.
CATALOG: Mapping[str, Rule] = _build(EVENT_RULES + PLAN_RULES + PLAN_DIFF_RULES)
#: The former name of :data:`CATALOG`, kept for callers.
REGISTRY = CATALOG
_ALL: tuple[Rule, ...] = tuple(CATALOG.values())
#: Rule families, in the order the reference lists them.
FAMILIES: tuple[str, ...] = ("input", "spec", "naming", "privacy", "conformance", "plan", "plan-diff")
assert {r.family for r in _ALL} == set(FAMILIES)


def all_rules() -> list[Rule]:
    """Every rule, by code."""
    return list(_ALL)


def get_rule(code: str) -> Rule:
    """The rule with this code (any case); KeyError for an unknown one."""
    try:
        return CATALOG[code.upper()]
    except KeyError:
        raise KeyError(f"unknown rule code {code!r}") from None


def select_rules(family: str | None = None, code: str | None = None) -> list[Rule]:
    """The rules of one family, or the one rule with ``code`` (any case), or all of them. Raises
    :class:`~cdp_cli.errors.UsageError` for an unknown family or code (what ``cdp rules`` says)."""
    from cdp_cli.errors import UsageError

    if family and family not in FAMILIES:
        raise UsageError(f"unknown rule family {family!r}; families: {', '.join(sorted(FAMILIES))}")
    if code:
        rule = CATALOG.get(code.upper())
        if rule is None:
            raise UsageError(f"unknown rule code {code!r}; `cdp rules` lists them")
        return [rule]
    return [r for r in _ALL if not family or r.family == family]
