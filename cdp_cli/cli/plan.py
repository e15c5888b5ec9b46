"""``cdp plan ...``: validate and export tracking plans."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from cdp_cli.cli.common import (
    ColorOpt, ConfigOpt, FormatOpt, NoConfigOpt, OutputOpt, QuietOpt, StrictOpt, color_flag, emit, err_console, handle_errors,
)
from cdp_cli.errors import ExitCode
from cdp_cli.reporters import Format, Options, Report

app = typer.Typer(
    help="Tracking plans as YAML in git: validate them in CI, export them as JSON Schema.\n\n"
    "Example: cdp plan validate plans/ --strict",
    no_args_is_help=True,
)

PathsArg = Annotated[
    Optional[list[Path]],
    typer.Argument(
        help="Plan files or directories (default: plans). A directory holding plan.yaml is one plan; "
        "a tree with several plan.yaml files holds several plans. Example: plans/ecommerce plans/saas",
        show_default=False,
    ),
]


def _plan_table(result):
    from rich.table import Table

    table = Table(title="Plans", title_justify="left", box=None, pad_edge=False, header_style="bold underline")
    table.add_column("plan", no_wrap=True)
    for col in ("files", "events", "versions", "pages", "screens", "props", "errors", "warnings"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in result.reports:
        c = r.plan.counts()
        errors = sum(1 for f in r.findings if f.level.value == "error")
        warnings = sum(1 for f in r.findings if f.level.value == "warning")
        table.add_row(
            r.plan.display_name, str(len(r.plan.files)), str(c["events"]), str(c["event_versions"]),
            str(c["pages"]), str(c["screens"]), str(c["shared_properties"]),
            f"[red]{errors}[/]" if errors else "0", f"[yellow]{warnings}[/]" if warnings else "0",
        )
    return table


@app.command("validate")
@handle_errors
def validate(
    paths: PathsArg = None,
    format: FormatOpt = Format.AUTO,
    strict: StrictOpt = False,
    output: OutputOpt = None,
    color: ColorOpt = "auto",
    quiet: QuietOpt = False,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
) -> None:
    """Validate tracking plans and report every problem with file:line:column.

    Checks YAML syntax and duplicate keys, unknown keys (with "did you mean"), value types, JSON Schema
    validity, regex portability (ECMA-262 vs Python), formats, references and cycles, duplicate and
    near-duplicate names, contradictions (minimum > maximum, enum vs type, ...), the plan's naming
    conventions, missing descriptions and unclassified personal data. Never modifies the files.

    Exit codes: 0 clean (warnings allowed), 1 errors found (or warnings with --strict), 2 usage or input error.

    Examples:

      cdp plan validate plans/

      cdp plan validate plans/ecommerce --strict --format sarif -o plan.sarif
    """
    from cdp_cli.plan.validate import validate_paths

    from cdp_cli.config import load_config
    from cdp_cli.findings import fails

    cfg = load_config(config, search=not no_config)
    result = validate_paths(list(paths or [Path("plans")]))
    findings = cfg.apply(result.findings)
    failed = fails(findings, strict)
    summary = result.summary()  # (no plan file at all is a usage error, raised by validate_paths)
    report = Report(
        command="plan validate",
        findings=findings,
        summary={**summary, "plans_detail": [
            {"plan": r.plan.display_name, "root": r.plan.root, "files": r.plan.files, **r.plan.counts()} for r in result.reports
        ]},
        files=result.files,
        strict=strict,
        ok=not failed,
        tables=[_plan_table(result)],
    )
    emit(report, format, output, Options(color=color_flag(color), quiet=quiet))
    raise typer.Exit(int(ExitCode.FINDINGS if failed else ExitCode.OK))


class ExportTarget(str, Enum):
    JSONSCHEMA = "jsonschema"


@app.command("export")
@handle_errors
def export(
    directory: Annotated[Path, typer.Argument(help="Output directory (created; replaced atomically if an earlier export wrote it). Example: build/schemas", show_default=False)],
    to: Annotated[ExportTarget, typer.Option("--to", help="Target format. jsonschema: one standalone draft 2020-12 schema per event version, identify, group, page and screen, plus manifest.json. Example: --to jsonschema", case_sensitive=False)] = ExportTarget.JSONSCHEMA,
    plan: Annotated[Optional[list[Path]], typer.Option("--plan", "-p", help="Plan file or directory to export (repeatable; default: plans). Several plans go to one subdirectory each. Example: --plan plans/ecommerce", show_default=False)] = None,
    color: ColorOpt = "auto",
) -> None:
    """Export a plan to another format. The plan must validate without errors first.

    Example:

      cdp plan export --to jsonschema build/schemas --plan plans/ecommerce
    """
    import re

    from cdp_cli.fsutil import atomic_directory
    from cdp_cli.plan.export import MANIFEST, write_jsonschema
    from cdp_cli.plan.validate import validate_paths
    from cdp_cli.reporters import render

    result = validate_paths(list(plan or [Path("plans")]))
    if result.failed():
        errors = [f for f in result.findings if f.level.value == "error"]
        render(Report("plan validate", errors, files=result.files, ok=False), Format.TEXT, sys.stderr, Options(color=color_flag(color), quiet=True))
        from cdp_cli.reporters import plural

        err_console().print(f"[bold red]Error:[/] the plan has {plural(len(errors), 'error')}; fix them before exporting (see `cdp plan validate`)")
        raise typer.Exit(int(ExitCode.FINDINGS))
    written = 0
    with atomic_directory(directory, kind="plan export", marker=MANIFEST) as tmp:
        several = len(result.reports) > 1
        used: set[str] = set()
        for r in result.reports:
            target = tmp
            if several:
                sub = re.sub(r"[^A-Za-z0-9_.-]+", "-", r.plan.name or Path(r.plan.root).name) or "plan"
                while sub in used:
                    sub += "_"
                used.add(sub)
                target = tmp / sub
                target.mkdir()
            written += len(write_jsonschema(r.plan, target)["schemas"])
        if several:
            import json

            (tmp / MANIFEST).write_text(json.dumps({"plans": sorted(used)}) + "\n", encoding="utf-8")
    from rich.markup import escape

    from cdp_cli.reporters import plural

    err_console().print(f"wrote {plural(written, 'schema')} from {plural(len(result.reports), 'plan')} to {escape(str(directory))}")
