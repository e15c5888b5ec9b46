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
    help="Tracking plans as YAML in git: validate and diff them in CI, infer a draft from logs, import and "
    "export other tools' formats, publish an HTML catalog.\n\n"
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
    SEGMENT = "segment"
    RUDDERSTACK = "rudderstack"
    MARKDOWN = "markdown"


class ImportSource(str, Enum):
    SEGMENT = "segment"
    RUDDERSTACK = "rudderstack"
    AVO = "avo"
    JSONSCHEMA = "jsonschema"


@app.command("export")
@handle_errors
def export(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Output: a directory for jsonschema and rudderstack (replaced atomically if an earlier export "
            "wrote it), a file for segment (JSON) and markdown. Example: build/schemas",
            show_default=False,
        ),
    ],
    to: Annotated[
        ExportTarget,
        typer.Option(
            "--to",
            help="Target format. jsonschema: one standalone draft 2020-12 schema per event version, identify, group, "
            "page and screen, plus manifest.json; segment: Public API tracking-plan rules (JSON); rudderstack: a "
            "rudder-cli rudder/v1 YAML project; markdown: a readable catalog. What a format cannot express is "
            "listed as warnings. Example: --to segment",
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
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing output file cdp cannot tell is its own. Example: --force"),
    ] = False,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Export a plan to another format. The plan must validate without errors first.

    Examples:

      cdp plan export --to jsonschema build/schemas --plan plans/ecommerce

      cdp plan export --to segment build/ecommerce.segment.json --plan plans/ecommerce
    """
    from rich.markup import escape

    from cdp_cli import api
    from cdp_cli.reporters import render

    if to is ExportTarget.JSONSCHEMA:
        result = api.export_plan(directory, list(plan or [Path("plans")]), to=to.value)
    else:
        result = api.export_plan_to(list(plan or [Path("plans")]), to.value, directory, force=force)
        for f in result.findings:
            err_console().print(f"[yellow]{f.level.value}[/] {escape(f.message)}")
    if result.failed():
        render(Report.of(result), Format.TEXT, sys.stderr, Options(color=color_flag(color), quiet=True))
        err_console().print(f"[bold red]Error:[/] {escape(result.verdict())}")
        raise typer.Exit(int(ExitCode.FINDINGS))
    err_console().print(escape(result.verdict()))


class DiffFormat(str, Enum):
    AUTO = "auto"
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    GITHUB = "github"
    SARIF = "sarif"


class FailOn(str, Enum):
    BREAKING = "breaking"
    WARNING = "warning"
    NEVER = "never"


class DiffSide(str, Enum):
    PRODUCER = "producer"
    CONSUMER = "consumer"
    BOTH = "both"


@app.command("diff")
@handle_errors
def diff(
    old: Annotated[
        str,
        typer.Argument(
            help="The plan before: a file or directory, or REV:PATH read from git. Example: main:plans/ecommerce",
            show_default=False,
        ),
    ],
    new: Annotated[
        str,
        typer.Argument(
            help="The plan after: a file or directory, or REV:PATH. Example: plans/ecommerce", show_default=False
        ),
    ],
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on",
            help="Exit 1 on breaking changes, on warnings too, or never. Example: --fail-on warning",
            case_sensitive=False,
        ),
    ] = FailOn.BREAKING,
    side: Annotated[
        DiffSide,
        typer.Option(
            "--side",
            help="Whose verdicts decide: producers (apps that send events: could messages that passed now "
            "fail?), consumers (tools that read them: could they now see data they never saw?), or both. "
            "Example: --side both",
            case_sensitive=False,
        ),
    ] = DiffSide.PRODUCER,
    from_: Annotated[
        ImportSource | None,
        typer.Option(
            "--from",
            help="Both sides are in another tool's format (imported first, as cdp plan import does). "
            "Example: --from segment",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    old_from: Annotated[
        ImportSource | None,
        typer.Option(
            "--old-from",
            help="Only OLD is in another tool's format. Example: --old-from segment",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    new_from: Annotated[
        ImportSource | None,
        typer.Option(
            "--new-from",
            help="Only NEW is in another tool's format. Example: --new-from rudderstack",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        DiffFormat,
        typer.Option(
            "--format",
            "-f",
            help="text (people), json (machines), markdown (a pull-request comment), github (workflow "
            "annotations), sarif; auto = github under GitHub Actions, else text. Example: --format markdown",
            case_sensitive=False,
        ),
    ] = DiffFormat.AUTO,
    output: OutputOpt = None,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Compare two tracking plans: every change, whether it breaks producers or consumers, and the
    version bump each changed event needs.

    Changes are found recursively through nested objects and array items, after expanding refs;
    open and closed objects are told apart. Each has a rule code (PD001...; `cdp rules --family
    plan-diff`), a location in the plan files and two verdicts, breaking, warning or safe.

    Exit codes: 0 nothing at or above --fail-on for --side, 1 otherwise, 2 usage or input error
    (including a plan with errors).

    Examples:

      cdp plan diff main:plans/ecommerce plans/ecommerce

      cdp plan diff old/plan.yaml new/plan.yaml --side both --fail-on warning --format markdown -o diff.md

      cdp plan diff exports/segment-plan.json plans/ecommerce --old-from segment
    """
    from cdp_cli import api
    from cdp_cli.cli.common import print_overview, write_text

    of, nf = old_from or from_, new_from or from_
    result = api.diff_plans(
        old, new, fail_on=fail_on.value, side=side.value, old_from=of and of.value, new_from=nf and nf.value
    )
    if format is DiffFormat.MARKDOWN:
        write_text(result.markdown(), output)
    elif format in (DiffFormat.TEXT, DiffFormat.AUTO) and output is None and not _github_actions():
        print_overview(result, color, quiet=quiet, mark="✗" if result.failed() else "✓")
    else:
        fmt = Format.AUTO if format is DiffFormat.AUTO else Format(format.value)
        emit_result(result, fmt, output, Options(color=color_flag(color), quiet=quiet))
    raise exit_code(result)


def _github_actions() -> bool:
    import os

    return os.environ.get("GITHUB_ACTIONS") == "true"


@app.command("import")
@handle_errors
def import_(
    source: Annotated[
        Path,
        typer.Argument(
            help="The plan to import: a file or a directory, in the --from format. Example: segment-plan.json",
            show_default=False,
        ),
    ],
    from_: Annotated[
        ImportSource,
        typer.Option(
            "--from",
            help="Its format: segment (Public API rules or Config API export), rudderstack (rudder-cli YAML, "
            "rudder/v1 or v0.1), avo (JSON Schema export), jsonschema (a directory of JSON Schemas, Iglu too). "
            "Example: --from segment",
            case_sensitive=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the cdp plan: NAME.yaml (one file) or a directory. Example: -o plans/imported",
            show_default=False,
        ),
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing output file cdp cannot tell is its own. Example: --force"),
    ] = False,
    format: FormatOpt = Format.AUTO,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Import a tracking plan from Segment, RudderStack, Avo or JSON Schema into cdp's plan format.

    Real exports are messy (id paths on every node, type lists, mixed drafts, null in enums, names
    with trailing whitespace): they are imported and every normalisation is reported; whatever cdp's
    format cannot hold is reported as a warning, never dropped silently. The written plan is validated.

    Exit codes: 0 imported (warnings allowed), 1 the imported plan has errors, 2 usage or input error.

    Example:

      cdp plan import exports/segment-plan.json --from segment -o plans/imported
    """
    from cdp_cli import api

    result = api.import_plan(source, from_.value, out, force=force)
    emit_result(result, format, None, Options(color=color_flag(color), quiet=quiet))
    raise exit_code(result)


@app.command("infer")
@handle_errors
def infer(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Event logs: NDJSON files, .gz or .zst, directories, globs, or - for standard input. Example: logs/",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the draft plan: NAME.yaml (one file) or a directory. Example: -o plans/inferred",
            show_default=False,
        ),
    ],
    required_share: Annotated[
        float,
        typer.Option(
            "--required-share",
            min=0.0,
            max=1.0,
            help="A property is required when present in at least this share of its event's occurrences. "
            "Example: --required-share 0.95",
        ),
    ] = 0.99,
    min_count: Annotated[
        int,
        typer.Option(
            "--min-count",
            min=1,
            help="...and in at least this many of them. Example: --min-count 50",
        ),
    ] = 20,
    name: Annotated[str, typer.Option("--name", help="The plan's name. Example: --name shop")] = "inferred",
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", min=0, help="Worker processes; 0 = automatic. Example: --jobs 2"),
    ] = 0,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing output file cdp cannot tell is its own. Example: --force"),
    ] = False,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Infer a draft tracking plan from existing event logs.

    Event, page and screen names; property types with unions and null (null kept apart from absent;
    integer and number become number); required when present in --required-share of occurrences;
    enums for low-cardinality strings (never numeric-looking, long or personal values); formats;
    nested objects and arrays of objects; identify and group traits; the common context; naming
    conventions. Counts and first/last seen are YAML comments. No values are copied into the plan
    except enum members. The draft validates clean with `cdp plan validate --strict`.

    Exit codes: 0 written, 1 no message was read, 2 usage or input error.

    Example:

      cdp plan infer samples/ecommerce -o build/inferred.yaml
    """
    from cdp_cli import api
    from cdp_cli.cli.common import print_overview, progress_bar, show_progress

    with progress_bar(show_progress(quiet)) as observer:
        result = api.infer_plan(
            inputs, out, force=force, observer=observer, required_share=required_share, min_count=min_count,
            name=name, jobs=jobs,
        )  # fmt: skip
    print_overview(result, color, quiet=quiet, mark="✗" if result.failed() else "✓")
    raise exit_code(result)


from cdp_cli.cli.plan_docs import register as _register_docs  # noqa: E402  (a command kept in its own module)

_register_docs(app)
