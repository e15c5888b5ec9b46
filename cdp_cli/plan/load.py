"""Load one tracking plan for use (linting events, generating samples): a plan with errors is refused.

:func:`cdp_cli.plan.validate.validate_paths` reports every problem of any number of plans; this is the
front door for commands that *use* a plan and need exactly one, without errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdp_cli.plan.model import Plan


def load_valid_plan(paths: list[Path]) -> Plan:
    """Load and validate the plan at ``paths`` (files or directories of one plan). Raises
    :class:`~cdp_cli.errors.PlanError` (exit 2) when there is no plan, more than one, or the plan
    has errors; warnings are allowed."""
    from cdp_cli.errors import PlanError
    from cdp_cli.findings import Level
    from cdp_cli.plan.validate import validate_paths
    from cdp_cli.reporters import plural

    result = validate_paths(list(paths))
    if not result.reports:
        raise PlanError(f"{', '.join(map(str, paths))}: no tracking plan found")
    if len(result.reports) > 1:
        names = ", ".join(r.plan.display_name for r in result.reports)
        raise PlanError(f"--plan names {len(result.reports)} plans ({names}); lint against one plan at a time")
    report = result.reports[0]
    errors = [f for f in report.findings if f.level is Level.ERROR]
    if errors:
        first = errors[0]
        raise PlanError(
            f"plan {report.plan.display_name} has {plural(len(errors), 'error')}, "
            f"first: {first.file}:{first.line}:{first.column}: "
            f"{first.code} {first.message} (run `cdp plan validate`)"
        )
    return report.plan
