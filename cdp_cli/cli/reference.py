"""The command reference (``docs/cli.md``), generated from the commands themselves.

Every command's description and every option's help (with its example) come from the Typer
definitions, so the reference cannot drift: ``scripts/update_docs.py`` writes it and a test checks
that the file in the repository is what the commands say today.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any


def _commands(group: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    import typer.core  # noqa: F401 - the click bundled with typer

    for name in sorted(getattr(group, "commands", {})):
        cmd = group.commands[name]
        path = f"{prefix} {name}"
        if getattr(cmd, "commands", None):
            yield path, cmd
            yield from _commands(cmd, path)
        else:
            yield path, cmd


def _type_label(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False):
        return ""
    label = param.display_type_rich(ctx) if hasattr(param, "display_type_rich") else None
    return label or ""


def reference_markdown() -> str:
    """docs/cli.md: one section per command, its description, and a table of its arguments and options."""
    import typer

    from cdp_cli.cli.app import app

    root = typer.main.get_command(app)
    out = [
        "# Command reference",
        "",
        "Generated from the commands' own help by `python3 scripts/update_docs.py`; a test keeps it current.",
        "Every command also prints this with `--help`. Exit codes everywhere: 0 clean, 1 findings, "
        "2 usage, input or output error; 130/143 when stopped by SIGINT/SIGTERM; 141 when stdout was closed.",
        "",
    ]
    for path, cmd in _commands(root, "cdp"):
        ctx = typer.Context(cmd, info_name=path.split()[-1])
        out.append(f"## `{path}`")
        out.append("")
        doc = inspect.cleandoc(cmd.help or "")
        out.append(doc.replace("\b\n", ""))
        out.append("")
        params = [p for p in cmd.params if p.name not in ("help",)]
        if not params or getattr(cmd, "commands", None):
            continue
        out.append("| argument / option | type | description |")
        out.append("| --- | --- | --- |")
        for p in params:
            if getattr(p, "param_type_name", "") == "argument":
                names = f"`{p.name.upper()}`" + ("..." if p.nargs != 1 else "")
            else:
                names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            help_text = " ".join((p.help or "").split()).replace("|", "\\|")
            default = p.default
            if (
                default not in (None, False, [], ())
                and not getattr(p, "is_flag", False)
                and getattr(p, "show_default", True) is not False
            ):
                value = getattr(default, "value", default)
                help_text += f" Default: `{value}`."
            if p.required:
                help_text += " Required."
            out.append(f"| {names} | {_type_label(p, ctx).replace('|', chr(92) + '|')} | {help_text} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def documented_options() -> dict[str, list[str]]:
    """Every command path and its option names (for the test that everything is documented)."""
    import typer

    from cdp_cli.cli.app import app

    root = typer.main.get_command(app)
    return {
        path: [o for p in cmd.params for o in getattr(p, "opts", []) if o.startswith("--") and o != "--help"]
        for path, cmd in _commands(root, "cdp")
        if not getattr(cmd, "commands", None)
    }
