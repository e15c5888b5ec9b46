"""``cdp samples generate``: deterministic, realistic event logs for demos, tests and benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cdp_cli.cli.common import err_console, handle_errors, lit

DEFAULT_PLAN = Path("plans/ecommerce")

app = typer.Typer(
    help="Sample data: deterministic, realistic Segment event logs.\n\n"
    "Example: cdp samples generate --events 10000 --seed 7 -o events.ndjson.gz",
    no_args_is_help=True,
)


@app.command("generate")
@handle_errors
def generate(
    events: Annotated[
        int, typer.Option("--events", "-n", min=1, help="How many messages. Example: --events 1000000")
    ] = 10_000,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Random seed: the same seed and arguments give the same bytes. Example: --seed 7"),
    ] = 1,
    violations: Annotated[
        float,
        typer.Option(
            "--violations",
            min=0.0,
            max=1.0,
            help="Share of messages carrying one realistic mistake (wrong type, unplanned event, missing identity, "
            "duplicate messageId, broken JSON line, ...). Example: --violations 0.05",
        ),
    ] = 0.0,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", "-p", help="The tracking plan the events follow. Example: --plan plans/saas"),
    ] = DEFAULT_PLAN,
    users: Annotated[
        int | None,
        typer.Option(
            "--users",
            min=1,
            help="How many people (default: one per 25 events). Example: --users 500",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write here (atomically; gzip for .gz, zstandard for .zst); default: stdout. "
            "An existing file is replaced only with --force. Example: -o bench/data/1m.ndjson.gz",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace an existing --output file (a generated log cannot be told from a real one, so cdp asks). "
            "Example: --force",
        ),
    ] = False,
) -> None:
    """Generate a realistic NDJSON event log that follows a tracking plan.

    Users browse anonymously, sign up (identify, some with traits in context.traits as
    rudder-sdk-python sends them), use the web or the phone app (pages or screens), and send the plan's
    track events with values drawn from its schemas.

    Examples:

      cdp samples generate --events 2000 --seed 1 -o events.ndjson

      cdp samples generate --events 1000000 --violations 0.05 -o bench/data/1m.ndjson.gz
    """
    from cdp_cli import api

    n = api.generate_samples(
        output,
        events,
        seed=seed,
        violations=violations,
        plan=plan,
        users=users,
        force=force,
        stream=sys.stdout.buffer if output is None else None,
    )
    if output is not None:
        err_console().print(f"wrote {n:,} messages to {lit(output)}")
