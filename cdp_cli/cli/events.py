"""``cdp events ...``: check event logs."""

from __future__ import annotations

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
    exit_code,
    handle_errors,
    progress_bar,
    show_progress,
)
from cdp_cli.reporters import Format, Options

app = typer.Typer(
    help="Event logs (NDJSON, .gz, .zst, directories, stdin): lint them against the Segment spec and a plan.\n\n"
    "Example: cdp events lint samples/ecommerce --plan plans/ecommerce",
    no_args_is_help=True,
)

INPUT_PANEL = "Input"
CHECK_PANEL = "Checks"


@app.command("lint")
@handle_errors
def lint(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Event logs: NDJSON files (.ndjson, .jsonl, .json), .gz or .zst files, directories (read "
            "recursively in sorted order), glob patterns, or - for standard input. "
            "Example: samples/ecommerce 'logs/**/*.gz'",
            show_default=False,
            rich_help_panel=INPUT_PANEL,
        ),
    ],
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan",
            "-p",
            help="Also check conformance to this tracking plan (a plan file or directory; it must "
            "validate without errors). Adds the TP rules and the plan's naming conventions. "
            "Example: --plan plans/ecommerce",
            show_default=False,
            rich_help_panel=CHECK_PANEL,
        ),
    ] = None,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The time to judge future timestamps by (ISO-8601; default: the current time), for "
            "reproducible runs over old logs. Example: --now 2026-11-22T00:00:00Z",
            show_default=False,
            rich_help_panel=CHECK_PANEL,
        ),
    ] = None,
    strict: StrictOpt = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Worker processes; 0 = automatic (all cores for inputs over 16 MB or stdin). "
            "Output is the same whatever the number. Example: --jobs 2",
            rich_help_panel=CHECK_PANEL,
        ),
    ] = 0,
    format: FormatOpt = Format.AUTO,
    output: OutputOpt = None,
    findings_out: Annotated[
        Path | None,
        typer.Option(
            "--findings-out",
            help="Also write every finding (never capped) to this file, one JSON object per line, "
            "atomically. Example: --findings-out findings.ndjson",
            show_default=False,
            dir_okay=False,
            rich_help_panel="Output",
        ),
    ] = None,
    max_findings: Annotated[
        int,
        typer.Option(
            "--max-findings",
            min=0,
            help="Put at most this many findings in the report (0 = all; memory then grows "
            "with the findings). Every finding is still counted, and --findings-out gets them all. "
            "Example: --max-findings 50",
            rich_help_panel="Output",
        ),
    ] = 1000,
    show_values: Annotated[
        bool,
        typer.Option(
            "--show-values",
            "--verbose",
            help="Include the offending values in findings. Off by default: event "
            "data holds personal data. Example: --show-values",
            rich_help_panel="Output",
        ),
    ] = False,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Lint Segment-spec event logs: spec, naming, privacy and (with --plan) tracking-plan conformance.

    Streams any amount of data with bounded memory. Every finding names the file, line, messageId,
    event, JSON path, and what was expected versus found; values only with --show-values. Lines that
    are not messages (invalid JSON, invalid UTF-8, NaN, over-long lines, truncated .gz) are findings
    too: counted, reported, skipped, and the rest is still read. Rules are configured in .cdp.yaml
    (`cdp rules --family spec` lists them).

    Exit codes: 0 clean (warnings allowed), 1 errors found (or warnings with --strict), 2 usage or input error.

    Examples:

      cdp events lint samples/ecommerce --plan plans/ecommerce

      zcat logs/*.gz | cdp events lint - --format sarif -o lint.sarif

      cdp events lint logs/ --findings-out findings.ndjson --max-findings 20 --strict
    """
    from cdp_cli import api

    # before any work: the report must not replace an input, nor fail a long run at its end
    api.guard_outputs(
        {"--output": output, "--findings-out": findings_out},
        [Path(i) for i in inputs if i != "-"] + list(plan or []) + ([config] if config else []),
    )
    with progress_bar(show_progress(quiet, output)) as observer:
        result = api.lint_events(
            options=api.LintOptions(
                inputs=inputs,
                plan=list(plan) if plan else None,
                config=config,
                search_config=not no_config,
                now=now,
                show_values=show_values,
                jobs=jobs,
                keep=None if max_findings == 0 else max_findings,
                findings_out=findings_out,
            ),
            observer=observer,
        )
    emit_result(result, format, output, Options(color=color_flag(color), quiet=quiet), strict=strict)
    raise exit_code(result, strict)
