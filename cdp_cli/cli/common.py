"""Shared CLI pieces: option aliases, the one error handler, and report output."""

from __future__ import annotations

import functools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer

from cdp_cli.errors import CdpError, ExitCode
from cdp_cli.reporters import Format, Options, Report, render, resolve_format

F = TypeVar("F", bound=Callable[..., Any])


class Color(str, Enum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class State:
    traceback: bool = False


state = State()

OUTPUT_PANEL = "Output"

FormatOpt = Annotated[
    Format,
    typer.Option(
        "--format", "-f",
        help="Report format: text (people), json (machines), github (workflow annotations), sarif "
        "(code-scanning upload), junit (CI test tab); auto = github under GitHub Actions, else text. "
        "Example: --format sarif -o cdp.sarif",
        case_sensitive=False, rich_help_panel=OUTPUT_PANEL,
    ),
]
OutputOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--output", "-o",
        help="Write the report to this file (atomically) instead of stdout. Example: -o report.json",
        dir_okay=False, rich_help_panel=OUTPUT_PANEL,
    ),
]
ColorOpt = Annotated[
    Color,
    typer.Option(
        "--color",
        help="Colour in text output: auto (when stdout is a terminal and NO_COLOR is unset), always, never. "
        "Example: --color never",
        case_sensitive=False, rich_help_panel=OUTPUT_PANEL,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print findings only: no summary, no progress. Example: -q", rich_help_panel=OUTPUT_PANEL),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--config",
        help="Rule configuration (enable, disable, re-level rules, set options); default: the nearest "
        ".cdp.yaml in this directory or a parent. Example: --config ci/.cdp.yaml",
        show_default=False, dir_okay=False,
    ),
]
NoConfigOpt = Annotated[
    bool,
    typer.Option("--no-config", help="Ignore any .cdp.yaml: every rule at its default. Example: --no-config"),
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Warnings fail the run too (exit 1), not only errors. Example: --strict"),
]


def color_flag(color: Color) -> bool | None:
    if color is Color.ALWAYS:
        return True
    if color is Color.NEVER or os.environ.get("NO_COLOR"):
        return False
    return None


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> typer.Exit:
    """Print ``Error: message`` on stderr; return the Exit to raise."""
    from rich.markup import escape

    err_console().print(f"[bold red]Error:[/] {escape(message)}")
    return typer.Exit(int(code))


def handle_errors(func: F) -> F:
    """The one place CLI commands turn exceptions into messages and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except CdpError as e:
            if state.traceback:
                raise
            raise fail(str(e), e.exit_code) from None
        except Exception as e:  # a bug: say so briefly, never dump locals (payloads hold personal data)
            if state.traceback:
                raise
            raise fail(f"internal error: {type(e).__name__}: {e} (rerun with `cdp --traceback ...` and report it)") from None

    return wrapper  # type: ignore[return-value]


def emit(report: Report, fmt: Format, output: Path | None, opts: Options) -> None:
    """Render ``report`` to stdout, or atomically to ``output`` (never over one of the inputs)."""
    from cdp_cli.errors import UsageError
    from cdp_cli.fsutil import atomic_open

    if output is not None:
        target = output.resolve()
        if any(Path(f).resolve() == target for f in report.files):
            raise UsageError(f"--output {output} is one of the files being checked; refusing to overwrite it")

    fmt = resolve_format(fmt)
    if output is None:
        render(report, fmt, sys.stdout, opts)
        sys.stdout.flush()
        return
    with atomic_open(output) as fh:
        render(report, fmt, fh, Options(color=False, quiet=opts.quiet, max_findings=opts.max_findings))


def refuse_overwrite(outputs: dict[str, Path | None], protected: list[Path]) -> None:
    """Raise a UsageError when an output file would replace an input (or a file inside an input
    directory), or two outputs name the same file: a typo must never destroy the data being checked."""
    from cdp_cli.errors import UsageError

    guarded = []
    for p in protected:
        try:
            guarded.append(Path(p).resolve())
        except OSError:
            continue
    seen: dict[Path, str] = {}
    for flag, out in outputs.items():
        if out is None:
            continue
        target = out.resolve()
        if target in seen:
            raise UsageError(f"{flag} {out} is also given to {seen[target]}; name two different files")
        seen[target] = flag
        for g in guarded:
            if target == g or g in target.parents:
                raise UsageError(f"{flag} {out} is one of the inputs ({g.name}); refusing to overwrite it")


def summary_table(title: str, columns: list[str], rows: list[list[Any]], right: set[int] | frozenset[int] = frozenset()):
    """A plain summary table: integers with thousands separators, every other cell as literal text
    (values come from event data: never read as Rich markup, control characters escaped)."""
    from rich.table import Table
    from rich.text import Text

    from cdp_cli.jsonpath import printable

    t = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold underline")
    for i, c in enumerate(columns):
        t.add_column(c, justify="right" if i in right else "left")
    for row in rows:
        t.add_row(*[Text(printable(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))) for v in row])
    return t


def show_progress(quiet: bool, output: Path | None = None) -> bool:
    """A progress bar on stderr only for a person watching: a terminal, not CI, not --quiet, and not
    while the report itself goes to a terminal-less stdout (unless it goes to a file)."""
    if quiet or os.environ.get("CI") or not sys.stderr.isatty():
        return False
    return output is not None or sys.stdout.isatty()

