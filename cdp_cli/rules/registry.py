"""The registry type and lookup helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdp_cli.findings import Finding, Level


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule: what it checks, how loud it is by default, and a bad/good example."""

    code: str
    name: str
    family: str
    level: Level
    summary: str
    bad: str = ""
    good: str = ""
    #: Options a project may set in ``.cdp.yaml`` and their defaults (the type of the default is the
    #: type an option must have).
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

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


REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.code in REGISTRY:
        raise ValueError(f"rule code {rule.code} registered twice")
    REGISTRY[rule.code] = rule
    return rule


def _load_all() -> None:
    # Importing the rule modules fills the registry.
    from cdp_cli.rules import event_rules, plan_rules  # noqa: F401


def all_rules() -> list[Rule]:
    _load_all()
    return sorted(REGISTRY.values(), key=lambda r: r.code)


def get_rule(code: str) -> Rule:
    _load_all()
    try:
        return REGISTRY[code.upper()]
    except KeyError:
        raise KeyError(f"unknown rule code {code!r}") from None
