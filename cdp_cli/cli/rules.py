"""``cdp rules``: the rule reference, generated from the catalog (:mod:`cdp_cli.rules.docs`)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated

import typer

from cdp_cli.cli.common import handle_errors


class RulesFormat(str, Enum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


@handle_errors
def rules(
    code: Annotated[
        str | None,
        typer.Argument(
            help="Show one rule in full, with its bad and good examples. Example: cdp rules PL051", show_default=False
        ),
    ] = None,
    family: Annotated[
        str | None,
        typer.Option(
            "--family",
            help="Only this family of rules (plan, input, spec, naming, privacy, conformance). Example: --family spec",
        ),
    ] = None,
    format: Annotated[
        RulesFormat,
        typer.Option(
            "--format",
            "-f",
            help="text (table), json, or markdown (the README's rule reference). Example: --format json",
            case_sensitive=False,
        ),
    ] = RulesFormat.TEXT,
) -> None:
    """List every rule with its code, name and default level; name a code to see its examples.

    Examples:

      cdp rules --family plan

      cdp rules PL051
    """
    from cdp_cli.api import list_rules as select_rules
    from cdp_cli.api import rule_record, rules_markdown

    selected = select_rules(family, code)
    if format is RulesFormat.JSON:
        json.dump([rule_record(r) for r in selected], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif format is RulesFormat.MARKDOWN:
        sys.stdout.write(rules_markdown(family))
    elif code:
        from rich.markup import escape

        from cdp_cli.reporters import make_console

        (r,) = selected
        console = make_console(sys.stdout, None, soft_wrap=False)
        console.print(f"[bold]{r.code}[/] {r.name} ({r.family}, default level: {r.level.value}, {r.status.value})\n")
        console.print(escape(r.summary) + "\n")
        console.print("[bold]Why:[/] " + escape(r.why) + "\n")
        if r.options:
            opts = ", ".join(f"{k} (default {v!r})" for k, v in r.options.items())
            console.print(f"[bold]Options[/] (in .cdp.yaml: rules: {{{r.code}: {{option: value}}}}): {escape(opts)}\n")
        console.print("[bold red]Bad:[/]")
        console.print(escape(r.bad) + "\n")
        console.print("[bold green]Good:[/]")
        console.print(escape(r.good) + "\n")
        console.print(f"Checked in {', '.join(r.checked_in)}; fast path: {r.fast_path.value}.")
    else:
        from rich.table import Table
        from rich.text import Text

        from cdp_cli.reporters import make_console

        table = Table("code", "name", "level", "what it catches", show_lines=False)
        for r in selected:
            table.add_row(r.code, r.name, r.level.value, Text(r.summary))
        make_console(sys.stdout, None, soft_wrap=False).print(table)
