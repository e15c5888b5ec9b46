"""``cdp run``: the main job of a project in one command."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cdp_cli.cli.common import (
    Color,
    ColorOpt,
    QuietOpt,
    StrictOpt,
    handle_errors,
    print_json,
    print_overview,
    progress_bar,
    show_progress,
)


class RunFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


@handle_errors
def run(
    project: Annotated[
        Path,
        typer.Argument(
            help="The project directory holding cdp.yaml (or the file itself). Example: samples/",
            show_default=True,
        ),
    ] = Path("."),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The output folder (default: out: in cdp.yaml, relative to the project). Example: --out build/run",
            show_default=False,
            file_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Rerun every step, even those whose inputs did not change. Example: --force"),
    ] = False,
    strict: StrictOpt = False,
    format: Annotated[
        RunFormat,
        typer.Option("--format", "-f", help="The summary: text or json. Example: --format json", case_sensitive=False),
    ] = RunFormat.TEXT,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Run a project's whole job: validate the plan, lint the events, resolve profiles, compute traits
    and audiences (with who entered and exited since the last run), write their activation events,
    replay them where cdp.yaml says, and write report.html and summary.json in one output folder.

    Steps whose inputs and definitions did not change since the last run are skipped (--force reruns
    them). Lint errors are reported and the run goes on, unless --strict (or lint: {strict: true}).

    Exit codes: 0 the run completed, 1 a step failed on findings (plan errors; lint errors with
    --strict; dead-lettered activation events), 2 usage, input or step error.

    Examples:

      cdp run samples/

      cdp run . --out build/nightly --format json
    """
    from cdp_cli import api

    with progress_bar(show_progress(quiet)) as observer:
        result = api.run_project(project, out=out, force=force, strict=strict, observer=observer)
    if format is RunFormat.JSON:
        print_json(result.summary())
    else:
        print_overview(result, color, quiet=quiet, mark="✗" if result.failed() else "✓")
    raise typer.Exit(result.error_exit or (1 if result.failed() else 0))
