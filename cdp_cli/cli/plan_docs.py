"""``cdp plan docs``: the plan as a static HTML catalog (joined to ``cdp plan`` by :func:`register`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cdp_cli.cli.common import Color, ColorOpt, QuietOpt, color_flag, emit_result, exit_code, handle_errors
from cdp_cli.reporters import Format, Options


def docs(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Directory to write the catalog to (created; replaced atomically only if an earlier `cdp plan "
            "docs` wrote it). Open its index.html in a browser: no server needed. Example: -o build/plan-docs",
            show_default=False,
            file_okay=False,
        ),
    ],
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Plan files or directories (default: plans). Several plans get one folder each and a landing "
            "page that searches them all. Example: plans/ecommerce",
            show_default=False,
        ),
    ] = None,
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            "--plan",
            "-p",
            help="A plan file or directory, as the PLAN arguments (repeatable). Example: --plan plans/saas",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="A git revision (branch, tag, commit): mark what changed since then, with producer and consumer "
            "verdicts (as `cdp plan diff REV:PLAN PLAN`), and add a changes page. Example: --since main",
            show_default=False,
        ),
    ] = None,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Write a static HTML catalog of a tracking plan: one page per event (every version with its
    properties, types, constraints and personal-data classes), pages, screens, identify, group and
    common rules, a property index showing where each property is used, and a search box.

    The pages open from disk (no server needed) and load nothing from the network.
    With --since they also show what changed since a git revision, and whom each change breaks.
    A plan with errors is not documented.

    Exit codes: 0 written, 1 the plan has errors, 2 usage or input error.

    Examples:

      cdp plan docs plans/ecommerce -o build/plan-docs

      cdp plan docs plans/ -o build/plan-docs --since main
    """
    from cdp_cli import api
    from cdp_cli.cli.common import print_overview

    result = api.plan_docs([*(paths or []), *(plan or [])] or [Path("plans")], output, since=since)
    if result.failed():
        emit_result(result, Format.TEXT, None, Options(color=color_flag(color), quiet=quiet))
    else:
        print_overview(result, color, quiet=quiet, mark="✓")
    raise exit_code(result)


def register(app: typer.Typer) -> None:
    """Add ``docs`` to the ``cdp plan`` command group."""
    app.command("docs")(handle_errors(docs))
