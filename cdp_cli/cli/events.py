"""``cdp events ...``: check event logs."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from cdp_cli.cli.common import (
    ColorOpt, ConfigOpt, FormatOpt, NoConfigOpt, OutputOpt, QuietOpt, StrictOpt, color_flag, emit, handle_errors,
    refuse_overwrite, show_progress, summary_table,
)
from cdp_cli.errors import ExitCode, UsageError
from cdp_cli.reporters import Format, Options, Report

app = typer.Typer(
    help="Event logs (NDJSON, .gz, .zst, directories, stdin): lint them against the Segment spec and a plan.\n\n"
    "Example: cdp events lint samples/ecommerce --plan plans/ecommerce",
    no_args_is_help=True,
)

INPUT_PANEL = "Input"
CHECK_PANEL = "Checks"


def _summary_tables(result, config, top: int = 10):
    s = result.stats
    why = ", ".join(f"{n:,} {reason}" for reason, n in s.as_dict()["skipped_by_reason"].items()) or "-"
    if s.stream_errors:
        why += f"; {s.stream_errors} unreadable/truncated file(s)"
    tables = [
        summary_table("Input", ["files", "lines", "blank", "messages", "skipped", "skipped why"],
                      [[s.files, s.lines, s.blank, s.messages, sum(s.skipped.values()), why]], {0, 1, 2, 3, 4}),
        summary_table("Messages", ["type", "messages"], [[t, n] for t, n in result.types.most_common()], {1}),
    ]
    if result.events:
        tables.append(summary_table(
            f"Top events (of {len(result.events):,})", ["event", "messages", "with findings"],
            [[name, n, result.violating.get(name, 0)] for name, n in result.events.most_common(top)], {1, 2}))
    if result.by_code:
        from cdp_cli.rules import get_rule

        tables.append(summary_table(  # levels as configured in .cdp.yaml
            "Findings by rule", ["code", "rule", "level", "findings"],
            [[code, get_rule(code).name, config.level(code).value, n] for code, n in sorted(result.by_code.items())], {3}))
    if result.violating:
        tables.append(summary_table(
            "Events with most violations", ["event", "messages with findings", "share"],
            [[name, n, f"{100 * n / (result.events.get(name, 0) or 1):.1f}%"] for name, n in result.violating.most_common(5)],
            {1, 2}))
    return tables


@app.command("lint")
@handle_errors
def lint(
    inputs: Annotated[list[str], typer.Argument(
        help="Event logs: NDJSON files (.ndjson, .jsonl, .json), .gz or .zst files, directories (read "
        "recursively in sorted order), glob patterns, or - for standard input. Example: samples/ecommerce 'logs/**/*.gz'",
        show_default=False, rich_help_panel=INPUT_PANEL)],
    plan: Annotated[Optional[list[Path]], typer.Option(
        "--plan", "-p", help="Also check conformance to this tracking plan (a plan file or directory; it must "
        "validate without errors). Adds the TP rules and the plan's naming conventions. Example: --plan plans/ecommerce",
        show_default=False, rich_help_panel=CHECK_PANEL)] = None,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    now: Annotated[Optional[str], typer.Option(
        "--now", help="The time to judge future timestamps by (ISO-8601; default: the current time), for "
        "reproducible runs over old logs. Example: --now 2026-11-22T00:00:00Z", show_default=False,
        rich_help_panel=CHECK_PANEL)] = None,
    strict: StrictOpt = False,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=0, help="Worker processes; 0 = automatic (all cores for inputs over 16 MB or stdin). "
        "Output is the same whatever the number. Example: --jobs 2", rich_help_panel=CHECK_PANEL)] = 0,
    format: FormatOpt = Format.AUTO,
    output: OutputOpt = None,
    findings_out: Annotated[Optional[Path], typer.Option(
        "--findings-out", help="Also write every finding (never capped) to this file, one JSON object per line, "
        "atomically. Example: --findings-out findings.ndjson", show_default=False, dir_okay=False,
        rich_help_panel="Output")] = None,
    max_findings: Annotated[int, typer.Option(
        "--max-findings", min=0, help="Put at most this many findings in the report (0 = all; memory then grows "
        "with the findings). Every finding is still counted, and --findings-out gets them all. Example: --max-findings 50",
        rich_help_panel="Output")] = 1000,
    show_values: Annotated[bool, typer.Option(
        "--show-values", "--verbose", help="Include the offending values in findings. Off by default: event "
        "data holds personal data. Example: --show-values", rich_help_panel="Output")] = False,
    color: ColorOpt = "auto",
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
    from cdp_cli.config import load_config
    from cdp_cli.lint.runner import lint as run_lint

    when = None
    if now:
        try:
            when = datetime.fromisoformat(now)
        except ValueError:
            raise UsageError(f"--now {now!r} is not an ISO-8601 date-time such as 2026-11-22T00:00:00Z") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    cfg = load_config(config, search=not no_config)
    from cdp_cli.events.reader import discover

    sources = discover(inputs)
    protected = [s.path for s in sources if s.path is not None] + list(plan or [])
    if cfg.file is not None:
        protected.append(Path(cfg.file))
    refuse_overwrite({"--output": output, "--findings-out": findings_out}, protected)

    sink_fh = None
    sink_ctx = None
    on_finding = None
    if findings_out is not None:
        import orjson

        from cdp_cli.fsutil import atomic_open

        sink_ctx = atomic_open(findings_out, "wb", flag="--findings-out")
        sink_fh = sink_ctx.__enter__()

        def on_finding(f, _fh=sink_fh, _dumps=orjson.dumps):
            _fh.write(_dumps(f.to_dict(), default=str) + b"\n")

    progress_cb = None
    progress_obj = None
    if show_progress(quiet, output):
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

        from cdp_cli.cli.common import err_console

        total = sum(s.size or 0 for s in sources) if all(s.size is not None for s in sources) else None
        progress_obj = Progress(
            TextColumn("[bold]lint[/]"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TextColumn("{task.fields[events]}"), TimeElapsedColumn(), console=err_console(), transient=True,
        )
        task = progress_obj.add_task("lint", total=total, events="")
        state = {"t0": None}

        def progress_cb(n, _p=progress_obj, _t=task):
            _p.advance(_t, n)

        def on_chunk(result, _p=progress_obj, _t=task, _s=state):
            import time

            if _s["t0"] is None:
                _s["t0"] = time.perf_counter()
            dt = max(time.perf_counter() - _s["t0"], 1e-6)
            _p.update(_t, events=f"{result.stats.messages:,} events ({result.stats.messages / dt:,.0f}/s)")
    else:
        on_chunk = None

    try:
        if progress_obj is not None:
            progress_obj.start()
        result = run_lint(
            sources, plan_paths=list(plan) if plan else None, config=cfg, now=when, show_values=show_values,
            jobs=jobs, keep=None if max_findings == 0 else max_findings, on_finding=on_finding,
            progress=progress_cb, on_chunk=on_chunk,
        )
    except BaseException:
        if sink_ctx is not None:
            sink_ctx.__exit__(*sys.exc_info())
        raise
    finally:
        if progress_obj is not None:
            progress_obj.stop()
    if sink_ctx is not None:
        sink_ctx.__exit__(None, None, None)

    shown = len(result.findings)
    tables = _summary_tables(result, cfg)
    summary = {**result.summary(), "findings_in_report": shown}
    empty = result.stats.messages == 0
    if empty:  # nothing was checked: never a silent pass
        summary["no_input"] = "no messages were read" + (" (fails with --strict)" if not strict else "")
    failed = result.failed(strict) or (strict and empty)
    report = Report(
        command="events lint",
        findings=result.findings,
        summary=summary,
        files=result.files,
        strict=strict,
        ok=not failed,
        tables=tables,
        totals={"error": result.by_level.get(_lvl("error"), 0), "warning": result.by_level.get(_lvl("warning"), 0),
                "hidden": result.total_findings - shown},
    )
    emit(report, format, output, Options(color=color_flag(color), quiet=quiet))
    raise typer.Exit(int(ExitCode.FINDINGS if failed else ExitCode.OK))


def _lvl(name: str):
    from cdp_cli.findings import Level

    return Level(name)
