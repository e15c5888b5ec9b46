"""Shared CLI pieces: option aliases, the one error handler, and report output."""

from __future__ import annotations

import contextlib
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


_PLAIN_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "file": "FILE",
                "directory": "DIR", "path": "PATH", "int range": "INTEGER", "float range": "NUMBER"}


def _plain_type(label: str | None) -> str | None:
    """``<list[Path]>`` -> ``PATH``, ``<int range>`` -> ``INTEGER``, ``<auto|text>`` -> ``[auto|text]``."""
    if not label or not (label.startswith("<") and ">" in label):
        return label
    inner, rest = label[1:label.index(">")], label[label.index(">") + 1:]
    if inner.startswith("list[") and inner.endswith("]"):
        inner = inner[5:-1]
    if "|" in inner:
        return f"[{inner}]{rest}"
    return _PLAIN_TYPES.get(inner, inner.upper()) + rest


def _tidy_help_types() -> None:
    """Typer 0.26+ labels types as ``<bool>``, ``<list[Path]>``, ``<int range>``: show what a user
    types instead (flags take no value: nothing). Falls back to Typer's own labels if its internals
    change (a test checks every command's --help)."""
    try:
        from typer import core
    except ImportError:  # pragma: no cover
        return
    for cls in (getattr(core, "TyperOption", None), getattr(core, "TyperArgument", None)):
        orig = getattr(cls, "display_type_rich", None)
        if orig is None or getattr(orig, "_cdp", False):
            continue

        def display(self: Any, ctx: Any, _orig: Any = orig) -> str | None:
            if getattr(self, "is_flag", False):
                return None
            if getattr(self, "metavar", None) is not None:
                return self.metavar
            return _plain_type(_orig(self, ctx))

        display._cdp = True  # type: ignore[attr-defined]
        cls.display_type_rich = display  # type: ignore[method-assign]


_tidy_help_types()


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
    from cdp_cli.reporters import make_console

    return make_console(sys.stderr, color_flag(Color.AUTO))


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> typer.Exit:
    """Print ``Error: message`` on stderr; return the Exit to raise."""
    from rich.markup import escape

    from cdp_cli.jsonpath import printable

    err_console().print(f"[bold red]Error:[/] {escape(printable(message))}")
    return typer.Exit(int(code))


def _log_handler_class():
    import logging

    class LogHandler(logging.Handler):
        """Library notices (``logging.getLogger("cdp")``) as ``warning ...`` lines on stderr."""

        def emit(self, record: logging.LogRecord) -> None:
            from rich.markup import escape

            from cdp_cli.jsonpath import printable

            level = "warning" if record.levelno >= logging.WARNING else "note"
            with contextlib.suppress(Exception):
                err_console().print(f"[yellow]{level}[/] {escape(printable(record.getMessage()))}")

    return LogHandler


def LogHandler():  # noqa: N802 - a factory that reads like the class it builds
    return _log_handler_class()()


def _on_signal(signum: int, frame: Any) -> None:
    """SIGINT and SIGTERM stop the command the same way: raise :class:`Interrupted` (a BaseException)
    so every ``finally`` and atomic-output guard runs; a second signal during that clean-up is ignored."""
    import signal

    from cdp_cli.errors import Interrupted

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signum)


def install_signal_policy() -> None:
    """The one signal policy of every command (workers: see cdp_cli.workers)."""
    import signal

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _closed_stdout() -> typer.Exit:
    """stdout was closed by the reader (``cdp ... | head``): stop quietly, as Unix tools do, with
    128 + SIGPIPE. Later writes (and Python's own flush at exit) go to /dev/null."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return typer.Exit(EXIT_BROKEN_PIPE)


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def _os_message(e: OSError) -> str:
    from cdp_cli.fsutil import os_reason

    where = e.filename if e.filename is not None else None
    return f"{where}: {os_reason(e)}" if where is not None else os_reason(e)


def handle_errors(func: F) -> F:
    """The one place CLI commands turn exceptions into messages and exit codes: a CdpError or an OS
    error (permissions, full disk, read-only file system) is ``Error: ...`` and exit 2; a closed
    stdout ends quietly (141); SIGINT/SIGTERM remove temporary files and exit 130/143; anything else
    is a bug, said briefly (never with locals: payloads hold personal data)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cdp_cli.errors import Interrupted

        try:
            try:
                return func(*args, **kwargs)
            finally:
                with contextlib.suppress(BrokenPipeError, ValueError):
                    sys.stdout.flush()
        except (typer.Exit, typer.Abort):
            raise
        except Interrupted as e:
            import signal

            name = signal.Signals(e.signum).name
            with contextlib.suppress(Exception):
                err_console().print(f"Stopped by {name}; temporary files removed, nothing half-written.")
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise _closed_stdout() from None
        except CdpError as e:
            if state.traceback:
                raise
            raise fail(str(e), e.exit_code) from None
        except OSError as e:  # the OS said no: the user's problem to fix, not a cdp bug
            if state.traceback:
                raise
            raise fail(_os_message(e)) from None
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
        target = Path(os.path.realpath(output))  # not Path.resolve(): it raises RuntimeError on a symlink loop (3.11)
        if any(Path(os.path.realpath(f)) == target for f in report.files):
            raise UsageError(f"--output {output} is one of the files being checked; refusing to overwrite it")

    fmt = resolve_format(fmt)
    if output is None:
        render(report, fmt, sys.stdout, opts)
        sys.stdout.flush()
        return
    with atomic_open(output, flag="--output") as fh:
        render(report, fmt, fh, Options(color=False, quiet=opts.quiet, max_findings=opts.max_findings))


def refuse_overwrite(outputs: dict[str, Path | None], protected: list[Path], dir_flags: tuple[str, ...] = ("--out",)) -> None:
    """Raise a UsageError when an output file would replace an input (or a file inside an input
    directory), or two outputs name the same file: a typo must never destroy the data being checked."""
    from cdp_cli.errors import UsageError

    guarded = []
    for p in protected:
        guarded.append(Path(os.path.realpath(p)))  # a symlink loop among the inputs must not raise
    from cdp_cli.fsutil import check_file_replaceable

    seen: dict[Path, str] = {}
    for flag, out in outputs.items():
        if out is None:
            continue
        target = Path(os.path.realpath(out))
        if target in seen:
            raise UsageError(f"{flag} {out} is also given to {seen[target]}; name two different files")
        seen[target] = flag
        for g in guarded:
            if target == g or g in target.parents:
                raise UsageError(f"{flag} {out} is one of the inputs ({g.name}); refusing to overwrite it")
        if flag not in dir_flags:
            check_file_replaceable(out, flag)  # before any work: a long run must not fail at its end


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

