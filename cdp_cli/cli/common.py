"""Shared CLI pieces: option aliases, the one error handler, and report output."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar, cast

import typer

from cdp_cli.errors import CdpError, ExitCode
from cdp_cli.reporters import Format, Options, Report, render, resolve_format

F = TypeVar("F", bound=Callable[..., Any])


_PLAIN_TYPES = {
    "str": "TEXT",
    "int": "INTEGER",
    "float": "NUMBER",
    "Path": "PATH",
    "file": "FILE",
    "directory": "DIR",
    "path": "PATH",
    "int range": "INTEGER",
    "float range": "NUMBER",
}


def _plain_type(label: str | None) -> str | None:
    """``<list[Path]>`` -> ``PATH``, ``<int range>`` -> ``INTEGER``, ``<auto|text>`` -> ``[auto|text]``."""
    if not label or not (label.startswith("<") and ">" in label):
        return label
    inner, rest = label[1 : label.index(">")], label[label.index(">") + 1 :]
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
        if cls is None or orig is None or getattr(orig, "_cdp", False):
            continue

        def display(self: Any, ctx: Any, _orig: Any = orig) -> str | None:
            if getattr(self, "is_flag", False):
                return None
            if getattr(self, "metavar", None) is not None:
                return self.metavar
            return _plain_type(_orig(self, ctx))

        display._cdp = True  # type: ignore[attr-defined]
        cls.display_type_rich = display


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
        "--format",
        "-f",
        help="Report format: text (people), json (machines), github (workflow annotations), sarif "
        "(code-scanning upload), junit (CI test tab); auto = github under GitHub Actions, else text. "
        "Example: --format sarif -o cdp.sarif",
        case_sensitive=False,
        rich_help_panel=OUTPUT_PANEL,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the report to this file (atomically) instead of stdout. Example: -o report.json",
        dir_okay=False,
        rich_help_panel=OUTPUT_PANEL,
    ),
]
ColorOpt = Annotated[
    Color,
    typer.Option(
        "--color",
        help="Colour in text output: auto (when stdout is a terminal and NO_COLOR is unset), always, never. "
        "Example: --color never",
        case_sensitive=False,
        rich_help_panel=OUTPUT_PANEL,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Print findings only: no summary, no progress. Example: -q", rich_help_panel=OUTPUT_PANEL
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Rule configuration (enable, disable, re-level rules, set options); default: the nearest "
        ".cdp.yaml in this directory or a parent. Example: --config ci/.cdp.yaml",
        show_default=False,
        dir_okay=False,
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


# --- engines ------------------------------------------------------------------------------------------
ENGINE_PANEL = "Engine"


class EngineName(str, Enum):
    DUCKDB = "duckdb"
    SPARK = "spark"


EngineOpt = Annotated[
    EngineName,
    typer.Option(
        "--engine",
        help="Where the SQL runs: duckdb (embedded, this machine) or spark (local[*] on every core, or a "
        "cluster with --spark-remote; pip install 'cdp-cli[spark]'). Same definitions, same results. "
        "Example: --engine spark",
        rich_help_panel=ENGINE_PANEL,
    ),
]
SparkMasterOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="With --engine spark: Spark's master URL (default local[*]: every core here). "
        "Example: --spark-master local[2]",
        show_default=False,
        rich_help_panel=ENGINE_PANEL,
    ),
]
SparkRemoteOpt = Annotated[
    str | None,
    typer.Option(
        "--spark-remote",
        help="With --engine spark: a Spark Connect server (a cluster; Databricks Connect takes the same "
        "form); paths are then read and written by the cluster (s3://... works). "
        "Example: --spark-remote sc://spark.internal:15002",
        show_default=False,
        rich_help_panel=ENGINE_PANEL,
    ),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--spark-conf",
        help="With --engine spark: a spark.* setting, KEY=VALUE; repeat for more. "
        "Example: --spark-conf spark.executor.memory=8g",
        show_default=False,
        rich_help_panel=ENGINE_PANEL,
    ),
]


def engine_choice(
    engine: EngineName, master: str | None = None, remote: str | None = None, conf: list[str] | None = None
):
    """The :class:`~cdp_cli.engine.EngineChoice` of the engine options (a usage error when they clash)."""
    from cdp_cli.api import EngineChoice
    from cdp_cli.errors import UsageError

    pairs = []
    for item in conf or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--spark-conf {item!r}: expected KEY=VALUE, e.g. spark.executor.memory=8g")
        pairs.append((key.strip(), value.strip()))
    return EngineChoice(engine.value, master=master, remote=remote, conf=tuple(pairs))


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

    from cdp_cli.reporters import printable

    err_console().print(f"[bold red]Error:[/] {escape(printable(message))}")
    return typer.Exit(int(code))


def _log_handler_class():
    import logging

    class LogHandler(logging.Handler):
        """Library notices (``logging.getLogger("cdp")``) as ``warning ...`` lines on stderr."""

        def emit(self, record: logging.LogRecord) -> None:
            from rich.markup import escape

            from cdp_cli.reporters import printable

            level = "warning" if record.levelno >= logging.WARNING else "note"
            with contextlib.suppress(Exception):
                err_console().print(f"[yellow]{level}[/] {escape(printable(record.getMessage()))}")

    return LogHandler


def LogHandler():
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
    from cdp_cli.errors import os_reason

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
            raise fail(
                f"internal error: {type(e).__name__}: {e} (rerun with `cdp --traceback ...` and report it)"
            ) from None

    return wrapper  # type: ignore[return-value]


def emit(report: Report, fmt: Format, output: Path | None, opts: Options) -> None:
    """Render ``report`` to stdout, or atomically to ``output`` (never over one of the inputs)."""
    from cdp_cli.api import atomic_open
    from cdp_cli.errors import UsageError

    if output is not None:
        target = Path(os.path.realpath(output))  # not Path.resolve(): it raises RuntimeError on a symlink loop (3.11)
        if any(Path(os.path.realpath(f)) == target for f in report.files):
            raise UsageError(f"--output {output} is one of the files being checked; refusing to overwrite it")

    fmt = resolve_format(fmt)
    if output is None:
        render(report, fmt, sys.stdout, opts)
        sys.stdout.flush()
        return
    with atomic_open(output, flag="--output") as fh:  # text mode ("w"): a TextIO
        render(report, fmt, cast(TextIO, fh), Options(color=False, quiet=opts.quiet, max_findings=opts.max_findings))


def show_progress(quiet: bool, output: Path | None = None) -> bool:
    """A progress bar on stderr only for a person watching: a terminal, not CI, not --quiet, and not
    while the report itself goes to a terminal-less stdout (unless it goes to a file)."""
    if quiet or os.environ.get("CI") or not sys.stderr.isatty():
        return False
    return output is not None or sys.stdout.isatty()


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """An :data:`~cdp_cli.results.Observer` drawing a Rich progress bar on stderr (one bar per phase:
    bytes read with MB/s, events resolved, ...), or None when nobody is watching."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def observe(p: Any) -> None:
        if p.phase not in tasks:
            tasks[p.phase] = bar.add_task(p.phase, total=p.total, count="", detail="")
        task = tasks[p.phase]
        bar.advance(task, p.advance)
        done = bar.tasks[task].completed
        count = f"{done / 2**20:,.1f} MiB" if p.unit == "bytes" else f"{int(done):,} {p.unit}"
        bar.update(task, count=count, **({"detail": p.detail} if p.detail else {}))

    bar.start()
    try:
        yield observe
    finally:
        bar.stop()


def emit_result(
    result: Any,
    fmt: Format,
    output: Path | None,
    opts: Options,
    *,
    strict: bool = False,
    summary: dict[str, Any] | None = None,
    totals: dict[str, int] | None = None,
) -> None:
    """Hand a library result to the reporter of ``fmt`` (stdout, or ``output`` atomically)."""
    emit(Report.of(result, strict=strict, summary=summary, totals=totals), fmt, output, opts)


def exit_code(result: Any, strict: bool = False) -> typer.Exit:
    return typer.Exit(int(ExitCode.FINDINGS if result.failed(strict) else ExitCode.OK))


def print_overview(result: Any, color: Color, *, quiet: bool = False, mark: str | None = None) -> None:
    """The text form of a result whose data went to files (resolve) or is one object (show): its
    tables, then its verdict line; with --quiet nothing."""
    if quiet:
        return
    from rich.markup import escape

    from cdp_cli.reporters import printable, rich_table

    console = stdout_console(color)
    for table in result.tables():
        if table.rows:  # an empty table says nothing the verdict does not
            console.print(rich_table(table))
    console.print((f"{mark} " if mark else "") + escape(printable(result.verdict())))


def stdout_console(color: Color):
    """stdout for people: literal data; when piped, wide enough not to cut ids at 80 columns."""
    from cdp_cli.reporters import make_console

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
    flag = color_flag(color)
    return make_console(sys.stdout, flag, soft_wrap=False, width=width)


def lit(value: Any) -> str:
    """A value from the data as literal console text: control characters shown, markup escaped."""
    from rich.markup import escape

    from cdp_cli.reporters import printable

    return escape(printable(str(value)))


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def report_replay(result: Any, fmt: str, color: Color, quiet: bool, *, to_stderr: bool = False) -> None:
    """A replay's summary: JSON or tables and the verdict, on stdout, or on stderr when the messages
    themselves go to stdout; skipped lines and dead letters as warnings on stderr."""
    import json

    from rich.markup import escape

    from cdp_cli.reporters import printable, rich_table

    if fmt == "json":
        data = {
            **result.summary(),
            "problems": [
                {"code": p.code, "file": p.file, "line": p.line, "column": p.column, "message": p.message}
                for p in result.problems
            ],
        }
        (sys.stderr if to_stderr else sys.stdout).write(json.dumps(data, indent=2, default=str) + "\n")
    elif not quiet:
        console = err_console() if to_stderr else stdout_console(color)
        for table in result.tables():
            console.print(rich_table(table))
        mark = "!" if result.failed() else "✓"
        console.print(f"{mark} " + escape(printable(result.verdict())))
    err = err_console()
    for line in result.warnings():
        err.print(f"[yellow]warning[/] {lit(line)}")


def write_text(text: str, output: Path | None) -> None:
    """A document (markdown, ...) to stdout, or atomically to ``output``."""
    from cdp_cli.api import atomic_open

    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
        return
    with atomic_open(output, flag="--output") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
