"""``cdp plan validate`` as a library call: find plans, load, check, and count."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cdp_cli.findings import Finding, count_levels, fails
from cdp_cli.plan.checks import check_plan
from cdp_cli.plan.loader import discover, load_plan
from cdp_cli.plan.model import Plan


@dataclass
class PlanReport:
    plan: Plan
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ValidationResult:
    reports: list[PlanReport] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for r in self.reports for f in r.findings), key=Finding.sort_key)

    @property
    def files(self) -> list[str]:
        return [f for r in self.reports for f in r.plan.files]

    def failed(self, strict: bool = False) -> bool:
        return fails(self.findings, strict)

    def summary(self) -> dict:
        counts = count_levels(self.findings)
        totals: dict[str, int] = {}
        for r in self.reports:
            for k, v in r.plan.counts().items():
                totals[k] = totals.get(k, 0) + v
        return {
            "plans": len(self.reports),
            "files": len(self.files),
            "errors": counts["error"],
            "warnings": counts["warning"],
            **totals,
        }


def validate_plan(plan: Plan, structural: list[Finding]) -> PlanReport:
    findings = list(structural)
    findings.extend(check_plan(plan))
    findings.sort(key=Finding.sort_key)
    return PlanReport(plan, findings)


def validate_paths(paths: list[str | Path]) -> ValidationResult:
    """Validate plan files or directories. Raises :class:`~cdp_cli.errors.InputError` for a missing path."""
    result = ValidationResult()
    for source in discover(paths):
        plan, structural = load_plan(source)
        result.reports.append(validate_plan(plan, structural))
    return result
