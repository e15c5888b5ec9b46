"""``cdp plan validate`` as a library call: find plans, load, check, and count."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp_cli.findings import Finding, count_levels, fails
from cdp_cli.plan.checks import check_plan
from cdp_cli.plan.loader import discover, load_plan
from cdp_cli.plan.model import Plan
from cdp_cli.results import Table, plural


@dataclass
class PlanReport:
    plan: Plan
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ValidationResult:
    reports: list[PlanReport] = field(default_factory=list)
    #: rule settings (.cdp.yaml) applied to the findings: disabled rules dropped, levels changed
    config: Any = None
    command: str = "plan validate"

    @property
    def findings(self) -> list[Finding]:
        found = sorted((f for r in self.reports for f in r.findings), key=Finding.sort_key)
        return self.config.apply(found) if self.config is not None else found

    def verdict(self) -> str:
        counts = count_levels(self.findings)
        return (
            f"{plural(counts['error'], 'error')}, {plural(counts['warning'], 'warning')} "
            f"in {plural(len(self.files), 'file')}"
        )

    def tables(self) -> list[Table]:
        """One row per plan: its files, events, versions, pages, screens, shared properties, findings."""
        rows = []
        for r in self.reports:
            c = r.plan.counts()
            mine = self.config.apply(r.findings) if self.config is not None else r.findings
            rows.append(
                [
                    r.plan.display_name,
                    len(r.plan.files),
                    c["events"],
                    c["event_versions"],
                    c["pages"],
                    c["screens"],
                    c["shared_properties"],
                    sum(1 for f in mine if f.level.value == "error"),
                    sum(1 for f in mine if f.level.value == "warning"),
                ]
            )
        return [
            Table(
                "Plans",
                ["plan", "files", "events", "versions", "pages", "screens", "props", "errors", "warnings"],
                rows,
                frozenset(range(1, 9)),
            )
        ]

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
            "plans_detail": [
                {"plan": r.plan.display_name, "root": r.plan.root, "files": r.plan.files, **r.plan.counts()}
                for r in self.reports
            ],
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
