"""``cdp collect``: a local Segment-compatible collection endpoint. Joined in ``cli/app.py`` by
``collect_cli.register(app)``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cdp_cli.cli.common import (
    Color,
    ColorOpt,
    ConfigOpt,
    NoConfigOpt,
    QuietOpt,
    StrictOpt,
    err_console,
    exit_code,
    handle_errors,
    lit,
    print_json,
    print_overview,
)

SERVE_PANEL = "Serving"
CHECK_PANEL = "Checks"
FILES_PANEL = "Files"
FAULT_PANEL = "Fault injection"


class CollectFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


def _announce(url: str) -> None:
    err_console().print(
        f"cdp collect: listening on {lit(url)} (POST /v1/batch ...; inspect GET /cdp/events); Ctrl-C stops"
    )


@handle_errors
def collect(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Directory for the NDJSON files (created; a new, empty, or earlier collector's directory). "
            "Every cdp command reads it. Example: --out collected/",
            file_okay=False,
            rich_help_panel=FILES_PANEL,
        ),
    ],
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="TCP port; 0 = any free one (announced). Example: --port 8088",
            rich_help_panel=SERVE_PANEL,
        ),
    ] = 8088,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on; the default lets only this machine in. Example: --host 0.0.0.0",
            rich_help_panel=SERVE_PANEL,
        ),
    ] = "127.0.0.1",
    write_keys: Annotated[
        Path | None,
        typer.Option(
            "--write-keys",
            help="Accept only these write keys (one a line; basic auth or writeKey in the body), 401 for "
            "others; default: any key. Keys are never printed or stored. Example: --write-keys keys.txt",
            show_default=False,
            dir_okay=False,
            rich_help_panel=SERVE_PANEL,
        ),
    ] = None,
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan",
            "-p",
            help="Lint each message against this tracking plan and the event rules; findings go to "
            "OUT/findings/ and GET /cdp/bad. Example: --plan plans/ecommerce",
            show_default=False,
            rich_help_panel=CHECK_PANEL,
        ),
    ] = None,
    lint: Annotated[
        bool,
        typer.Option(
            "--lint",
            help="Lint each message with the event rules (no plan needed). Example: --lint",
            rich_help_panel=CHECK_PANEL,
        ),
    ] = False,
    config: ConfigOpt = None,
    no_config: NoConfigOpt = False,
    show_values: Annotated[
        bool,
        typer.Option(
            "--show-values",
            help="Include offending values in findings (personal data). Example: --show-values",
            rich_help_panel=CHECK_PANEL,
        ),
    ] = False,
    suppress: Annotated[
        Path | None,
        typer.Option(
            "--suppress",
            help="Drop messages of these people at the door (counted, never stored): one identifier a "
            "line, as `events replay --suppress`. Example: --suppress suppressed.txt",
            show_default=False,
            dir_okay=False,
            rich_help_panel=CHECK_PANEL,
        ),
    ] = None,
    profiles: Annotated[
        Path | None,
        typer.Option(
            "--profiles",
            help="A `cdp profiles resolve` directory: suppress whole profiles. Example: --profiles build/identity",
            show_default=False,
            file_okay=False,
            rich_help_panel=CHECK_PANEL,
        ),
    ] = None,
    rotate_bytes: Annotated[
        str,
        typer.Option(
            "--rotate-bytes",
            help="Close a file at this size (k, M, G). Example: --rotate-bytes 16M",
            rich_help_panel=FILES_PANEL,
        ),
    ] = "64M",
    rotate_seconds: Annotated[
        float,
        typer.Option(
            "--rotate-seconds",
            min=0.05,
            help="Close a file this old; readers see a file once it is closed. Example: --rotate-seconds 10",
            rich_help_panel=FILES_PANEL,
        ),
    ] = 60.0,
    no_fsync: Annotated[
        bool,
        typer.Option(
            "--no-fsync",
            help="Acknowledge without syncing to disk: faster, but a crash may lose acknowledged messages. "
            "Example: --no-fsync",
            rich_help_panel=FILES_PANEL,
        ),
    ] = False,
    recent: Annotated[
        int,
        typer.Option(
            "--recent",
            min=1,
            help="Messages kept in memory for GET /cdp/events. Example: --recent 50000",
            rich_help_panel=SERVE_PANEL,
        ),
    ] = 10_000,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            min=0.0,
            help="Stop by itself after this many seconds. Example: --duration 60",
            show_default=False,
            rich_help_panel=SERVE_PANEL,
        ),
    ] = None,
    fail_rate: Annotated[
        float,
        typer.Option(
            "--fail-rate",
            min=0.0,
            max=1.0,
            help="Refuse this share of /v1 requests with a --fail-status, storing nothing (test a sender's "
            "retries). Example: --fail-rate 0.2",
            rich_help_panel=FAULT_PANEL,
        ),
    ] = 0.0,
    fail_status: Annotated[
        str,
        typer.Option(
            "--fail-status",
            help="Statuses of refused requests, picked at random. Example: --fail-status 429,500",
            rich_help_panel=FAULT_PANEL,
        ),
    ] = "500",
    retry_after: Annotated[
        float | None,
        typer.Option(
            "--retry-after",
            min=0.0,
            help="Send Retry-After (seconds) with refused 429 and 503. Example: --retry-after 1",
            show_default=False,
            rich_help_panel=FAULT_PANEL,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help="Seed the fault injection (reproducible runs). Example: --seed 7",
            show_default=False,
            rich_help_panel=FAULT_PANEL,
        ),
    ] = None,
    format: Annotated[
        CollectFormat,
        typer.Option(
            "--format",
            "-f",
            help="The summary at the end: text or json. Example: --format json",
            rich_help_panel="Output",
        ),
    ] = CollectFormat.TEXT,
    strict: StrictOpt = False,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Run a local Segment-compatible collection endpoint: point any Segment or RudderStack client at it.

    Speaks Segment's HTTP API (POST /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen,
    /v1/group, /v1/alias, /v1/import): write keys, gzip, the 32 KB / 500 KB limits, its status codes,
    receivedAt and the clock-skew corrected timestamp. A request is answered 200 only once its messages
    are synced to disk, in NDJSON files that rotate by size and age and appear whole (atomic rename), so
    `cdp events lint OUT` and `cdp events replay OUT` read them as they are; a collector killed with
    kill -9 loses nothing it acknowledged (the next start completes its last file). For tests: GET
    /cdp/events, /cdp/good, /cdp/bad (filters, paging), GET /cdp/wait?count=N (no sleeping), POST
    /cdp/reset, and fault injection. Stops on Ctrl-C or SIGTERM and prints a summary.

    Exit codes: 0 stopped cleanly, 1 collected messages broke error rules (with --plan/--lint; warnings
    too with --strict), 2 usage error or the output could not be written.

    Examples:

      cdp collect --out collected/ --port 8088

      cdp collect --out collected/ --plan plans/ecommerce --write-keys keys.txt

      cdp collect --out /tmp/c --port 0 --fail-rate 0.2 --fail-status 429,500 --retry-after 1
    """
    from cdp_cli import api

    options = api.CollectOptions(
        out=out, port=port, host=host, write_keys=write_keys, plan=list(plan) if plan else None, lint=lint,
        config=config, search_config=not no_config, show_values=show_values, suppress=suppress,
        profiles=profiles, rotate_bytes=rotate_bytes, rotate_seconds=rotate_seconds, recent=recent,
        fail_rate=fail_rate, fail_status=fail_status, retry_after=retry_after, seed=seed,
        durable=not no_fsync, duration=duration,
    )  # fmt: skip
    result = api.collect(options, on_ready=_announce)
    if format is CollectFormat.JSON:
        print_json(result.summary())
    else:
        print_overview(result, color, quiet=quiet, mark="!" if result.failed(strict) else "✓")
    raise exit_code(result, strict)


def register(app: typer.Typer) -> None:
    """Join ``cdp collect`` to the ``cdp`` app."""
    app.command("collect")(collect)
