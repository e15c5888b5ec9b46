"""``cdp plan ...``: validate and export tracking plans."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cdp_cli.cli.common import (
    Color,
    ColorOpt,
    ConfigOpt,
    FormatOpt,
    NoConfigOpt,
    OutputOpt,
    QuietOpt,
    StrictOpt,
    color_flag,
    emit_result,
    err_console,
    exit_code,
    handle_errors,
)
from cdp_cli.errors import ExitCode
from cdp_cli.reporters import Format, Options, Report

app = typer.Typer(
    help="Tracking plans as YAML in git: validate them in CI, export them as JSON Schema.\n\n"
    "Example: cdp plan validate plans/ --strict",
    no_args_is_help=True,
)

PathsArg = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Plan files or directories (default: plans). A directory holding plan.yaml is one plan; "
        "a tree with several plan.yaml files holds several plans. Example: plans/ecommerce plans/saas",
        show_default=False,
    ),
]


@app.command("validate")
@handle_errors
def validate(
    paths: PathsArg = None,
    format: FormatOpt = Format.AUTO,
    strict: StrictOpt = False,
    output: OutputOpt = None,
    color: ColorOpt = Color.AUTO,
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
    from cdp_cli import api

    result = api.validate_plans(list(paths or [Path("plans")]), config=config, search_config=not no_config)
    emit_result(result, format, output, Options(color=color_flag(color), quiet=quiet), strict=strict)
    raise exit_code(result, strict)


class ExportTarget(str, Enum):
    JSONSCHEMA = "jsonschema"


@app.command("export")
@handle_errors
def export(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Output directory (created; replaced atomically if an earlier export wrote it). "
            "Example: build/schemas",
            show_default=False,
        ),
    ],
    to: Annotated[
        ExportTarget,
        typer.Option(
            "--to",
            help="Target format. jsonschema: one standalone draft 2020-12 schema per event version, identify, group, "
            "page and screen, plus manifest.json. Example: --to jsonschema",
            case_sensitive=False,
        ),
    ] = ExportTarget.JSONSCHEMA,
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan",
            "-p",
            help="Plan file or directory to export (repeatable; default: plans). "
            "Several plans go to one subdirectory each. Example: --plan plans/ecommerce",
            show_default=False,
        ),
    ] = None,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Export a plan to another format. The plan must validate without errors first.

    Example:

      cdp plan export --to jsonschema build/schemas --plan plans/ecommerce
    """
    from rich.markup import escape

    from cdp_cli import api
    from cdp_cli.reporters import render

    result = api.export_plan(directory, list(plan or [Path("plans")]), to=to.value)
    if result.failed():
        render(Report.of(result), Format.TEXT, sys.stderr, Options(color=color_flag(color), quiet=True))
        err_console().print(f"[bold red]Error:[/] {escape(result.verdict())}")
        raise typer.Exit(int(ExitCode.FINDINGS))
    err_console().print(escape(result.verdict()))
