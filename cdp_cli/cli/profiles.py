"""``cdp profiles ...``: identity resolution (resolve), and reading its output (show, explain)."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from cdp_cli.cli.common import (
    ColorOpt, QuietOpt, StrictOpt, color_flag, handle_errors, refuse_overwrite, show_progress, summary_table,
)
from cdp_cli.errors import ExitCode

app = typer.Typer(
    help="Identity resolution: stitch userId, anonymousId, email, device and external ids into profiles "
    "(Segment-style limits, priorities and blocked values), and explain every merge.\n\n"
    "Example: cdp profiles resolve samples/ecommerce --out build/profiles",
    no_args_is_help=True,
)


class Mode(str, Enum):
    LIMITS = "limits"
    UNRESTRICTED = "unrestricted"


class OutFormat(str, Enum):
    TEXT = "text"
    JSON = "json"


FormatOpt = Annotated[OutFormat, typer.Option(
    "--format", "-f", help="Output: text (people) or json (machines, on stdout). Example: --format json",
    case_sensitive=False)]
ProfilesOpt = Annotated[Path, typer.Option(
    "--profiles", "-P", help="The directory `cdp profiles resolve --out` wrote. Example: --profiles build/profiles",
    file_okay=False)]


def _console(color):
    """stdout. Values come from event data: no emoji codes (``file:100:``), no highlighting, and every
    value printed as text (escaped, or in a Text), never read as markup."""
    from rich.console import Console

    import os

    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160  # piped: do not cut ids at 80 columns
    return Console(highlight=False, emoji=False, soft_wrap=False, no_color=color_flag(color) is False,
                   force_terminal=True if color_flag(color) else None, width=width)


def _err_console():
    """stderr, for warnings about data (file names, values): no emoji codes, no highlighting."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def _lit(value: Any) -> str:
    """A value from the data as literal console text: control characters shown, markup escaped."""
    from rich.markup import escape

    from cdp_cli.jsonpath import printable

    return escape(printable(str(value)))


def _n(count: int, singular: str, plural: str | None = None) -> str:
    """``1 event``, ``2 events``, ``1,234 events``."""
    return f"{count:,} {singular if count == 1 else plural or singular + 's'}"


@app.command("resolve")
@handle_errors
def resolve(
    inputs: Annotated[list[str], typer.Argument(
        help="Event logs: NDJSON files, .gz or .zst, directories (read recursively in sorted order), globs, or - "
        "for standard input. Example: samples/ecommerce", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Write profiles.parquet, identities.parquet, events.parquet and merges.parquet here. "
        "The directory is built beside it and swapped in when complete; an existing one is replaced only if "
        "cdp wrote it. Example: --out build/profiles", file_okay=False, show_default=False)],
    identity: Annotated[Optional[Path], typer.Option(
        "--identity", "-i", help="Identity configuration (YAML: identifier types and paths, limits, windows, "
        "priorities, blocked values, alias handling); default: Segment's defaults. Example: --identity identity.yaml",
        dir_okay=False, show_default=False)] = None,
    mode: Annotated[Mode, typer.Option(
        "--mode", "-m", help="limits: Segment Unify's merge protection (limits, priorities); unrestricted: no "
        "limits, profiles are the connected components of the identifier graph (as RudderStack Profiles). "
        "Example: --mode unrestricted", case_sensitive=False)] = Mode.LIMITS,
    memory_limit: Annotated[str, typer.Option(
        "--memory-limit", help="Memory for the engine's sort and joins before it spills to disk (the identity "
        "graph itself grows with the number of identifiers). Example: --memory-limit 2GB")] = "512MB",
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=0, help="Worker processes for reading and extracting; 0 = automatic (all cores for "
        "inputs over 16 MB or stdin). The output is the same whatever the number. Example: --jobs 2")] = 0,
    format: FormatOpt = OutFormat.TEXT,
    strict: StrictOpt = False,
    color: ColorOpt = "auto",  # type: ignore[assignment]
    quiet: QuietOpt = False,
) -> None:
    """Resolve identities in event logs into profiles, written as Parquet.

    Events are processed in a deterministic order (effective timestamp, receivedAt, messageId, content),
    so the same data gives the same profiles and profile ids however it is split into files. Prints a
    summary: events, identifiers, profiles, merges, refused merges, blocked values, largest profiles
    (a warning for suspiciously large ones). Lines that are not messages are reported and skipped.

    Exit codes: 0 done (warnings allowed), 1 with --strict when lines were skipped, values were not
    identifiers (wrong JSON type, too long) or a profile is suspiciously large, 2 usage or input error.

    Examples:

      cdp profiles resolve samples/ecommerce --out build/profiles

      cdp profiles resolve logs/ --identity identity.yaml --out build/profiles --format json

      cdp profiles resolve 'logs/**/*.gz' --mode unrestricted --out build/components
    """
    from cdp_cli.events.reader import discover
    from cdp_cli.identity.config import load_identity_config
    from cdp_cli.identity.resolve import check_memory_limit, resolve as run

    check_memory_limit(memory_limit)  # every option is checked before any input is read
    config = load_identity_config(identity)
    sources = discover(inputs)
    protected = [s.path for s in sources if s.path is not None] + ([identity] if identity else [])
    refuse_overwrite({"--out": out}, protected)
    for s in sources:  # nor may --out hold an input (it is replaced as a whole)
        if s.path is not None and Path(os.path.realpath(out)) in Path(os.path.realpath(s.path)).parents:
            from cdp_cli.errors import UsageError

            raise UsageError(f"--out {out} contains the input {s.name}; choose another directory")

    progress_obj = None
    progress_cb = None
    if show_progress(quiet, out):  # the results go to --out; the summary prints after the bar
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress_obj = Progress(TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), console=_err_console(), transient=True)
        tasks: dict[str, Any] = {}

        def progress_cb(phase: str, n: int, total: int | None, _p=progress_obj, _t=tasks) -> None:
            if phase not in _t:
                _t[phase] = _p.add_task(phase, total=total, unit="bytes" if phase == "read" else "events")
            _p.advance(_t[phase], n)

        progress_obj.start()
    try:
        result = run(sources, out, config=config, unrestricted=mode is Mode.UNRESTRICTED, progress=progress_cb,
                     memory_limit=memory_limit, jobs=jobs)
    finally:
        if progress_obj is not None:
            progress_obj.stop()

    summary = result.summary()
    problems = result.problems
    ex = result.extract
    empty = result.read.messages == 0  # nothing was resolved: never a silent pass
    flagged = bool(result.problems_total or sum(ex.wrong_type.values()) or sum(ex.too_long.values())
                   or result.super_profiles or empty)
    if empty:
        summary["no_input"] = "no messages were read"
    if format is OutFormat.JSON:
        summary["problems"] = [{"code": p.code, "file": p.file, "line": p.line, "column": p.column, "message": p.message}
                               for p in problems]
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    elif not quiet:  # -q: nothing on stdout (warnings stay on stderr)
        _print_summary(result, color)
    err = _err_console()

    for p in problems[:20]:
        err.print(f"[yellow]warning[/] {_lit(p.file)}:{p.line}:{p.column}: {_lit(p.code)} {_lit(p.message)}; skipped")
    if result.problems_total > 20:
        err.print(f"... and {result.problems_total - 20:,} more skipped line(s) (--format json lists the first 100)")
    for reason, t, f, line in ex.examples[:10]:
        err.print(f"[yellow]warning[/] {_lit(f)}:{line}: {_lit(t)} value is not an identifier: {_lit(reason)}")
    for sp in result.super_profiles[:5]:
        err.print(f"[yellow]warning[/] profile {sp['profile_id']} holds {sp['identifiers']:,} identifiers "
                  f"(over {result.super_threshold}): a shared device or placeholder id merging people? "
                  f"`cdp profiles show {sp['profile_id']} --profiles {_lit(out)}` lists them; block the value or set a limit")
    raise typer.Exit(int(ExitCode.FINDINGS if strict and flagged else ExitCode.OK))


def _print_summary(result, color) -> None:
    console = _console(color)
    s = result.summary()
    r = result.read
    console.print(summary_table("Input", ["files", "lines", "messages", "skipped", "duplicates dropped", "without identifiers"],
                                [[r.files, r.lines, r.messages, sum(r.skipped.values()), result.duplicates,
                                  result.events_without_profile]], {0, 1, 2, 3, 4, 5}))
    ex = result.extract
    rows = [["identifiers (joining profiles)", result.identifiers],
            ["values recorded, never joining (group_id)", result.recorded],
            ["profiles", result.profiles], ["merges", result.merges],
            ["refused merges", result.refused], ["blocked values seen", sum(ex.blocked.values())],
            ["values of a wrong JSON type", sum(ex.wrong_type.values())], ["values too long", sum(ex.too_long.values())],
            ["numbers read as ids", sum(ex.numbers.values())]]
    console.print(summary_table("Identity", ["", "count"], rows, {1}))
    if result.refused_by_type:
        console.print(summary_table("Refused merges by limit", ["identifier type", "refused"], [list(kv) for kv in result.refused_by_type.items()], {1}))
    if ex.blocked:
        top = [[t, v, n] for (t, v), n in ex.blocked_values.most_common(5)]
        console.print(summary_table("Blocked values (most frequent)", ["type", "blocked by", "count"], top, {2}))
    if result.largest:
        # "identifiers" counts those that join profiles, and "by type" breaks that count down; group
        # ids (recorded, never joining) are counted apart
        largest = result.largest[:5]
        recorded = any(p.get("recorded") for p in largest)
        rows = [[p["profile_id"], p["identifiers"], p["events"], ", ".join(f"{t} {n:,}" for t, n in p["by_type"].items())]
                + ([", ".join(f"{t} {n:,}" for t, n in p.get("recorded", {}).items())] if recorded else [])
                for p in largest]
        console.print(summary_table("Largest profiles", ["profile", "identifiers (joining)", "events", "by type"]
                                    + (["recorded, not joining"] if recorded else []), rows, {1, 2}))
    mark = "!" if result.super_profiles or not result.read.messages else "✓"
    if not result.read.messages:
        console.print("! no messages were read (fails with --strict)")
    dups = f" ({_n(result.duplicates, 'duplicate')} dropped)" if result.duplicates else ""
    console.print(f"{mark} profiles resolve ({s['mode']}): {_n(result.events, 'event')}{dups} -> {_n(result.profiles, 'profile')}, "
                  f"{_n(result.merges, 'merge')}, {_n(result.refused, 'refused merge')}; wrote {_lit(result.out)}")


@app.command("show")
@handle_errors
def show(
    identifier: Annotated[str, typer.Argument(
        help="type:value (email:ada@example.com, user_id:42), a bare value, or a profile id. Example: email:ada@example.com",
        show_default=False)],
    profiles: ProfilesOpt = Path("build/profiles"),
    events: Annotated[int, typer.Option("--events", "-n", min=0, help="How many recent events to list. Example: --events 20")] = 10,
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = "auto",  # type: ignore[assignment]
) -> None:
    """Show one profile: its identifiers, merged traits, counts and recent events.

    Example:

      cdp profiles show email:ada@example.com --profiles build/profiles
    """
    from cdp_cli.identity.explain import ProfileStore

    with ProfileStore(profiles) as store:
        pid = store.profile_of(identifier)  # several profiles: the candidates are listed, exit 2
        prof = store.profile(pid, recent=events)
    if format is OutFormat.JSON:
        sys.stdout.write(json.dumps(prof, indent=2, default=str) + "\n")
        return
    console = _console(color)
    console.print(f"[bold]{_lit(prof['profile_id'])}[/]  {_n(prof['event_count'], 'event')}, first seen {prof['first_seen']}, "
                  f"last seen {prof['last_seen']}; {prof['merged_profiles']} profile(s) merged into it")
    console.print(summary_table("Identifiers", ["type", "values"], [[t, ", ".join(v)] for t, v in prof["identifiers"].items()]))
    console.print(summary_table("Traits", ["trait", "value"], [[k, json.dumps(v, ensure_ascii=False)] for k, v in prof["traits"].items()]))
    console.print(summary_table("Events by type", ["type", "events"], [[k, v] for k, v in prof["counts"].items() if v], {1}))
    console.print(summary_table("Recent events", ["timestamp", "type", "event", "messageId", "where"],
                         [[e["timestamp"], e["type"], e["event"] or "", e["message_id"] or "", f"{e['file']}:{e['line']}"]
                          for e in prof["recent_events"]]))


@app.command("explain")
@handle_errors
def explain(
    a: Annotated[str, typer.Argument(help="One identifier (type:value or a bare value). Example: email:ada@example.com", show_default=False)],
    b: Annotated[str, typer.Argument(help="The other one. Example: anonymous_id:5a3e...", show_default=False)],
    profiles: ProfilesOpt = Path("build/profiles"),
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = "auto",  # type: ignore[assignment]
) -> None:
    """Explain why two identifiers are in one profile (the chain of messages that joined them: each
    hop's message, time, file and line, and the identifiers it joined), or why they are apart (never
    linked, or a refused merge and the limit that refused it).

    Exit codes: 0 explained (linked or not), 2 an identifier is unknown or the directory is not a profiles directory.

    Example:

      cdp profiles explain email:ada@example.com anonymous_id:5a3e0c1e --profiles build/profiles
    """
    from cdp_cli.identity.explain import ProfileStore

    with ProfileStore(profiles) as store:
        ex = store.explain(a, b)
    if format is OutFormat.JSON:
        sys.stdout.write(json.dumps(ex.as_dict(), indent=2, default=str) + "\n")
        return
    console = _console(color)
    a, b = _lit(ex.a), _lit(ex.b)

    if ex.recorded:  # a group id: recorded on profiles, never joining them
        for ident, on in ex.recorded.items():
            shown = ", ".join(on[:10]) + (f" and {len(on) - 10:,} more" if len(on) > 10 else "")
            console.print(f"{_lit(ident)} is recorded on {_n(len(on), 'profile')} ({shown}); values of its type never "
                          f"join profiles", soft_wrap=True)
        if ex.same_profile:
            console.print(f"[green]recorded[/]: {a} and {b} are both on {ex.a.profile_id}.", soft_wrap=True)
        else:
            console.print(f"[yellow]apart[/]: {a} and {b} are on no common profile.", soft_wrap=True)
        return
    if ex.same_profile:
        console.print(f"[green]linked[/]: {a} and {b} are both in {ex.a.profile_id}, "
                      f"joined in {len(ex.hops)} hop(s):")
        for i, h in enumerate(ex.hops, 1):
            where = f"message {_lit(h.message_id)} at {_lit(h.timestamp)} ({_lit(h.file)}:{h.line})"
            if h.how == "linked":
                console.print(f"  {i}. {_lit(h.a)} -> {_lit(h.b)}: both on {where}", soft_wrap=True)
            else:
                console.print(f"  {i}. {_lit(h.a)} -> {_lit(h.b)}: {where} merged their profiles "
                              f"(it carried {_lit(', '.join(h.identifiers))})", soft_wrap=True)
        return
    console.print(f"[yellow]apart[/]: {a} is in {ex.a.profile_id}, {b} is in {ex.b.profile_id}.")
    if not ex.refusals:
        console.print("  never linked: no message carried identifiers of both profiles.", soft_wrap=True)
        return
    for r in ex.refusals:
        console.print(f"  refused: message {_lit(r['message_id'])} at {_lit(r['timestamp'])} ({_lit(r['file'])}:{r['line']}) "
                      f"carried {_lit(', '.join(r['identifiers']))}; merging would give {r['would_hold']} {_lit(r['limit_type'])} "
                      f"values (limit {r['limit']} {_lit(r['window'])}), so {_lit(r['dropped'])} was dropped from it", soft_wrap=True)
