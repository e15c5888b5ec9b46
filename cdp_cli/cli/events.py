"""``cdp events ...``: check event logs."""

from __future__ import annotations

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
    exit_code,
    handle_errors,
    progress_bar,
    report_replay,
    show_progress,
)
from cdp_cli.reporters import Format, Options

app = typer.Typer(
    help="Event logs (NDJSON, .gz, .zst, directories, stdin): lint them against the Segment spec and a plan; "
    "replay them to files, Parquet, an HTTP API or PostgreSQL.\n\n"
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


SELECT_PANEL = "Selecting"
SHAPE_PANEL = "Shaping"
DEST_PANEL = "Destination"
RELIABLE_PANEL = "Reliability"


class ReplayFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


@app.command("replay")
@handle_errors
def replay(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Event logs: NDJSON files, .gz or .zst, directories, glob patterns, or - for standard input "
            "(not resumable). Example: samples/ecommerce",
            show_default=False,
            rich_help_panel=INPUT_PANEL,
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="Where to: file:PATH (NDJSON; .gz/.zst compress), - (stdout), parquet:DIR (Segment's warehouse "
            "tables, partitioned by date), an http(s):// URL of a Segment-compatible batch API, or a "
            "postgresql:// DSN (Segment's warehouse schema). Example: --to postgresql://localhost/analytics",
            show_default=False,
            rich_help_panel=DEST_PANEL,
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only messages at or after this time (effective timestamp). Example: --since 2026-11-01",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Only messages before this time. Example: --until 2026-11-08T00:00:00Z",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    type_: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="Only these message types (repeat). Example: --type track --type identify",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help="Only messages whose event (track) or name (page, screen) matches this glob (repeat). "
            "Example: --event 'Order *'",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    exclude_event: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-event",
            help="Drop messages whose event or name matches this glob (repeat). Example: --exclude-event 'Debug *'",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan",
            "-p",
            help="Enforce this tracking plan (with the --on-* controls); what was done is recorded in "
            "context.protocols. Example: --plan plans/ecommerce",
            show_default=False,
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = None,
    on_unplanned: Annotated[
        str,
        typer.Option(
            "--on-unplanned",
            help="Events not in the plan: allow or drop. Example: --on-unplanned drop",
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = "allow",
    unplanned_properties: Annotated[
        str,
        typer.Option(
            "--unplanned-properties",
            help="Properties (traits) the plan does not declare: keep or omit. Example: --unplanned-properties omit",
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = "keep",
    on_violation: Annotated[
        str,
        typer.Option(
            "--on-violation",
            help="Messages that break their rule: allow, drop, or omit the offending properties. "
            "Example: --on-violation omit",
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = "allow",
    transform: Annotated[
        Path | None,
        typer.Option(
            "--transform",
            help="Rename events, rename/drop/set/hash properties and traits (docs/replay-transforms.md). "
            "Example: --transform transforms.yaml",
            show_default=False,
            dir_okay=False,
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = None,
    suppress: Annotated[
        Path | None,
        typer.Option(
            "--suppress",
            help="Never send messages of these identifiers (user ids or type:value, one a line). "
            "Example: --suppress suppressed.txt",
            show_default=False,
            dir_okay=False,
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option(
            "--profiles",
            help="With --suppress: suppress every identifier of the same resolved profile too. "
            "Example: --profiles build/profiles",
            show_default=False,
            file_okay=False,
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = None,
    no_dedup: Annotated[
        bool,
        typer.Option(
            "--no-dedup",
            help="Send repeated messageIds too (de-duplication holds 8 bytes per distinct id). Example: --no-dedup",
            rich_help_panel=SHAPE_PANEL,
        ),
    ] = False,
    write_key_env: Annotated[
        str | None,
        typer.Option(
            "--write-key-env",
            help="The environment variable holding the HTTP API's write key (never the key itself). "
            "Example: --write-key-env SEGMENT_WRITE_KEY",
            show_default=False,
            rich_help_panel=DEST_PANEL,
        ),
    ] = None,
    gzip: Annotated[
        bool, typer.Option("--gzip", help="Compress HTTP request bodies. Example: --gzip", rich_help_panel=DEST_PANEL)
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", min=1, help="HTTP requests in flight. Example: --concurrency 8", rich_help_panel=DEST_PANEL
        ),
    ] = 4,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            help="At most this many messages per second (HTTP). Example: --rate 5000",
            show_default=False,
            rich_help_panel=DEST_PANEL,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Seconds per HTTP request. Example: --timeout 30", rich_help_panel=DEST_PANEL),
    ] = 15.0,
    max_retries: Annotated[
        int,
        typer.Option(
            "--max-retries",
            min=0,
            help="Retries per HTTP batch (429 with Retry-After does not count). Example: --max-retries 5",
            rich_help_panel=DEST_PANEL,
        ),
    ] = 10,
    schema: Annotated[
        str,
        typer.Option(
            "--schema",
            help="PostgreSQL schema of the warehouse tables. Example: --schema segment",
            rich_help_panel=DEST_PANEL,
        ),
    ] = "cdp",
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env",
            help="The environment variable holding the PostgreSQL password. Example: --password-env PGPASSWORD",
            show_default=False,
            rich_help_panel=DEST_PANEL,
        ),
    ] = None,
    connections: Annotated[
        int,
        typer.Option(
            "--connections",
            min=0,
            help="PostgreSQL: loader processes, each loading batches over its own connection; 0 = automatic "
            "(one per core, at most 4, for inputs over 16 MB; else 1). 1 loads the batches in order. The tables "
            "are the same whatever the number; above 1 needs de-duplication (not --no-dedup). "
            "Example: --connections 2",
            rich_help_panel=DEST_PANEL,
        ),
    ] = 0,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="At most this many messages per batch (below the destination's own limit). Example: --batch-size 500",
            show_default=False,
            rich_help_panel=DEST_PANEL,
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Record progress here after each acknowledged batch; the same command resumes from it "
            "(http and postgresql). Example: --checkpoint replay.ckpt",
            show_default=False,
            dir_okay=False,
            rich_help_panel=RELIABLE_PANEL,
        ),
    ] = None,
    dead_letter: Annotated[
        Path | None,
        typer.Option(
            "--dead-letter",
            help="Where messages the destination refuses for good go, with status and reason (default: "
            "CHECKPOINT.dead-letters.ndjson, or replay-dead-letters.ndjson). Example: --dead-letter dead.ndjson",
            show_default=False,
            dir_okay=False,
            rich_help_panel=RELIABLE_PANEL,
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Worker processes reading and shaping the input; 0 = automatic (all cores for inputs over 16 MB). "
            "What is sent is the same whatever the number. Example: --jobs 2",
            rich_help_panel=RELIABLE_PANEL,
        ),
    ] = 0,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Count what would be sent, dropped and transformed, by reason; send nothing. Example: --dry-run",
            rich_help_panel=RELIABLE_PANEL,
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an existing file:PATH. Example: --force", rich_help_panel=DEST_PANEL),
    ] = False,
    format: Annotated[
        ReplayFormat,
        typer.Option(
            "--format",
            "-f",
            help="The summary: text (tables) or json. Example: --format json",
            rich_help_panel="Output",
        ),
    ] = ReplayFormat.TEXT,
    strict: StrictOpt = False,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Replay event logs to files, Parquet, a Segment-compatible HTTP API or PostgreSQL, exactly once.

    Filtered (--since/--until/--type/--event), shaped (--plan controls, --transform, --suppress),
    de-duplicated by messageId, batched within the destination's limits, retried with backoff, and
    resumable (--checkpoint: progress is recorded only after a batch is acknowledged; the same command
    resumes after a crash, kill -9 or Ctrl-C, sending nothing twice that was acknowledged). Secrets
    come from environment variables and are never printed. The summary goes to stdout (to stderr when
    the messages themselves go to stdout with --to -).

    Exit codes: 0 everything delivered or deliberately dropped, 1 something was dead-lettered (or, with
    --strict, lines were skipped), 2 usage, input or destination error.

    Examples:

      cdp events replay samples/ecommerce --to postgresql://localhost/analytics --checkpoint backfill.ckpt

      cdp events replay logs/ --to https://api.segment.io --write-key-env SEGMENT_WRITE_KEY --rate 2000

      cdp events replay logs/ --to file:out/orders.ndjson.gz --event 'Order *' --since 2026-11-01 --dry-run
    """
    from cdp_cli import api

    options = api.ReplayOptions(
        inputs=inputs, to=to, since=since, until=until, types=list(type_ or []), events=list(event or []),
        exclude_events=list(exclude_event or []), plan=list(plan) if plan else None, on_unplanned=on_unplanned,
        unplanned_properties=unplanned_properties, on_violation=on_violation, transform=transform,
        suppress=suppress, profiles=profiles, checkpoint=checkpoint, dead_letter=dead_letter, dry_run=dry_run,
        dedup=not no_dedup, force=force, write_key_env=write_key_env, gzip=gzip, concurrency=concurrency,
        rate=rate, timeout=timeout, max_retries=max_retries, schema=schema, password_env=password_env,
        batch_size=batch_size, jobs=jobs, connections=connections,
    )  # fmt: skip
    with progress_bar(show_progress(quiet) and to != "-") as observer:
        result = api.replay_events(options=options, observer=observer)
    report_replay(result, format.value, color, quiet, to_stderr=to == "-")
    raise exit_code(result, strict)
