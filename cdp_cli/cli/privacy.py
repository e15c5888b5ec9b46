"""``cdp privacy ...``: privacy requests: delete people from everything cdp keeps, scan logs for personal data."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from cdp_cli.cli.common import (
    Color,
    ColorOpt,
    FormatOpt,
    OutputOpt,
    QuietOpt,
    StrictOpt,
    color_flag,
    emit_result,
    err_console,
    exit_code,
    handle_errors,
    lit,
    print_overview,
    progress_bar,
    show_progress,
)
from cdp_cli.reporters import Format, Options, resolve_format

app = typer.Typer(
    help="Privacy requests: remove people from event files, resolved profiles and a warehouse (and keep them "
    "out of replays), and find where personal data sits in event logs, without showing it.\n\n"
    "Example: cdp privacy delete logs/ --user-id u-1001 --profiles build/profiles --suppress-out suppressed.txt",
    no_args_is_help=True,
)

WHO_PANEL = "Who"
WHERE_PANEL = "Where"
RUN_PANEL = "Running"
OUTPUT_PANEL = "Output"


class DeleteFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


@app.command("delete")
@handle_errors
def delete(
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Event logs to clean, rewritten in place (NDJSON, .gz, .zst, directories, glob patterns); "
            "files holding none of the people are not touched. Example: logs/ 'archive/**/*.gz'",
            show_default=False,
            rich_help_panel="Input",
        ),
    ] = None,
    user_id: Annotated[
        list[str] | None,
        typer.Option(
            "--user-id",
            "-u",
            help="A user id to remove (repeat for several). Example: --user-id u-1001 --user-id u-1002",
            show_default=False,
            rich_help_panel=WHO_PANEL,
        ),
    ] = None,
    identifiers: Annotated[
        Path | None,
        typer.Option(
            "--identifiers",
            help="A file of people to remove, one a line: a user id, or type:value (email:ada@example.com, "
            "anonymous_id:...), as `events replay --suppress` reads it. Example: --identifiers requests.txt",
            show_default=False,
            dir_okay=False,
            rich_help_panel=WHO_PANEL,
        ),
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option(
            "--profiles",
            "-P",
            help="A `cdp profiles resolve` output: remove every identifier of the people's profiles too (linked "
            "anonymous ids, emails, devices), and their rows from it. Example: --profiles build/profiles",
            show_default=False,
            file_okay=False,
            rich_help_panel=WHO_PANEL,
        ),
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            help="The identity configuration the profiles were resolved with (where identifiers are read). "
            "Example: --identity identity.yaml",
            show_default=False,
            dir_okay=False,
            rich_help_panel=WHO_PANEL,
        ),
    ] = None,
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            help="A PostgreSQL warehouse `cdp events replay --to postgresql://` loaded: delete the people's rows "
            "(one transaction per table). Example: --warehouse postgresql://cdp@localhost/analytics",
            show_default=False,
            rich_help_panel=WHERE_PANEL,
        ),
    ] = None,
    schema: Annotated[
        str,
        typer.Option("--schema", help="The warehouse schema. Example: --schema segment", rich_help_panel=WHERE_PANEL),
    ] = "cdp",
    password_env: Annotated[
        str | None,
        typer.Option(
            "--password-env",
            help="The environment variable holding the warehouse password. Example: --password-env PGPASSWORD",
            show_default=False,
            rich_help_panel=WHERE_PANEL,
        ),
    ] = None,
    suppress_out: Annotated[
        Path | None,
        typer.Option(
            "--suppress-out",
            help="Add the people's identifiers to this suppression list (merged into one cdp wrote), for "
            "`cdp events replay --suppress`. Example: --suppress-out suppressed.txt",
            show_default=False,
            dir_okay=False,
            rich_help_panel=WHERE_PANEL,
        ),
    ] = None,
    status: Annotated[
        Path | None,
        typer.Option(
            "--status",
            help="Record finished files here (JSON, no identifiers); the same command skips them when run "
            "again. Example: --status request-42.status.json",
            show_default=False,
            dir_okay=False,
            rich_help_panel=RUN_PANEL,
        ),
    ] = None,
    max_files: Annotated[
        int | None,
        typer.Option(
            "--max-files",
            min=1,
            help="Stop after this many files (with --status: a large archive in several runs). "
            "Example: --max-files 500",
            show_default=False,
            rich_help_panel=RUN_PANEL,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Count what would be removed, and where; change nothing. Example: --dry-run",
            rich_help_panel=RUN_PANEL,
        ),
    ] = False,
    format: Annotated[
        DeleteFormat,
        typer.Option(
            "--format",
            "-f",
            help="The report: text (tables) or json. Example: --format json",
            case_sensitive=False,
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = DeleteFormat.TEXT,
    output: OutputOpt = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Also fail (exit 1) when unparsable lines kept in the files mention one of the identifiers. "
            "Example: --strict",
            rich_help_panel=OUTPUT_PANEL,
        ),
    ] = False,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Remove people from event files, resolved profiles and a PostgreSQL warehouse, and suppress them.

    The people are given by user id or typed identifier; with --profiles, everything their resolved profiles
    link to them goes too (without it only the given identifiers: the report says so). Event files holding
    them are rewritten atomically in their compression (.gz, .zst kept); a {"batch": [...]} line keeps the
    other messages; a line that is not valid JSON is kept (nobody's) and counted. The report says what was
    removed, where and how many, never a value.

    Exit codes: 0 done, 1 a file could not be checked or files are left for another run (--max-files), 2
    usage, input or destination error.

    Examples:

      cdp privacy delete logs/ --user-id u-1001 --profiles build/profiles --suppress-out suppressed.txt --dry-run

      cdp privacy delete 'archive/**/*.gz' --identifiers request-42.txt --status request-42.json --max-files 500

      cdp privacy delete --user-id u-1001 --warehouse postgresql://cdp@localhost/analytics --password-env PGPASSWORD
    """
    from cdp_cli import api

    api.guard_outputs({"--output": output}, list(inputs or []))  # before any work: never over an input
    with progress_bar(show_progress(quiet, output)) as observer:
        result = api.privacy_delete(
            list(inputs or []), user_ids=list(user_id or []), identifiers=identifiers, profiles=profiles,
            identity=identity, warehouse=warehouse, schema=schema, password_env=password_env, status=status,
            suppress_out=suppress_out, max_files=max_files, dry_run=dry_run, observer=observer,
        )  # fmt: skip
    _report(result, Format(format.value), output, color, quiet, strict)
    raise exit_code(result, strict)


@app.command("scan")
@handle_errors
def scan(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Event logs: NDJSON files, .gz or .zst files, directories (read recursively), glob patterns, "
            "or - for standard input. Example: logs/ 'archive/**/*.gz'",
            show_default=False,
        ),
    ],
    examples: Annotated[
        int,
        typer.Option(
            "--examples",
            min=0,
            help="Example locations (file:line) per key path, never the values. Example: --examples 5",
        ),
    ] = 3,
    keep: Annotated[
        int,
        typer.Option(
            "--keep",
            min=1,
            help="Distinct key paths listed (dynamic keys can make many); the rest are counted. Example: --keep 500",
        ),
    ] = 10_000,
    format: FormatOpt = Format.AUTO,
    output: OutputOpt = None,
    strict: StrictOpt = False,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Inventory where personal data appears in event logs: by key and by value, never showing a value.

    Every key path (arrays as [*]) whose name suggests personal data (email, phone, first_name, ip, userId,
    ...) or whose values hold an email address, phone number, payment card number, US SSN or IP address (the
    detectors of the PI lint rules), with its class, count, files and example locations. Value detections are
    also findings (PI codes, level info) for --format github and sarif.

    Exit codes: 0 done (an inventory judges nothing; with --strict, 1 when lines were skipped), 2 usage or
    input error.

    Examples:

      cdp privacy scan logs/

      cdp privacy scan 'archive/**/*.gz' --format json -o inventory.json

      cdp privacy scan logs/ --format sarif -o privacy.sarif
    """
    from cdp_cli import api

    api.guard_outputs({"--output": output}, [Path(i) for i in inputs if i != "-"])
    with progress_bar(show_progress(quiet, output)) as observer:
        result = api.privacy_scan(inputs, examples=examples, keep=keep, observer=observer)
    _report(result, format, output, color, quiet, strict)
    raise exit_code(result, strict)


def _report(result: Any, fmt: Format, output: Path | None, color: Color, quiet: bool, strict: bool) -> None:
    """Text on a terminal or pipe: the result's tables and its own verdict, problems with the input on
    stderr. Any other format, or a report file: the reporters."""
    if resolve_format(fmt) is Format.TEXT and output is None:
        print_overview(result, color, quiet=quiet, mark="!" if result.failed(strict) else "✓")
        for line in result.warnings():
            err_console().print(f"[yellow]warning[/] {lit(line)}")
    else:
        emit_result(result, fmt, output, Options(color=color_flag(color), quiet=quiet), strict=strict)
