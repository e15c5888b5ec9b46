"""``cdp profiles ...``: identity resolution (resolve), and reading its output (show, explain)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from cdp_cli.cli.common import (
    Color,
    ColorOpt,
    EngineName,
    EngineOpt,
    QuietOpt,
    SparkConfOpt,
    SparkMasterOpt,
    SparkRemoteOpt,
    StrictOpt,
    engine_choice,
    err_console,
    exit_code,
    handle_errors,
    lit,
    print_json,
    print_overview,
    progress_bar,
    show_progress,
    stdout_console,
)

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


FormatOpt = Annotated[
    OutFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output: text (people) or json (machines, on stdout). Example: --format json",
        case_sensitive=False,
    ),
]
ProfilesOpt = Annotated[
    Path,
    typer.Option(
        "--profiles",
        "-P",
        help="The directory `cdp profiles resolve --out` wrote. Example: --profiles build/profiles",
        file_okay=False,
    ),
]


def _warn(lines: list[str]) -> None:
    """Warnings about the data on stderr, printed literally (names and positions, never values)."""
    err = err_console()
    for line in lines:
        err.print(f"[yellow]warning[/] {lit(line)}")


@app.command("resolve")
@handle_errors
def resolve(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Event logs: NDJSON files, .gz or .zst, directories (read recursively in sorted order), globs, or - "
            "for standard input. Example: samples/ecommerce",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Write profiles.parquet, identities.parquet, events.parquet and merges.parquet here. "
            "The directory is built beside it and swapped in when complete; an existing one is replaced only if "
            "cdp wrote it. Example: --out build/profiles",
            file_okay=False,
            show_default=False,
        ),
    ],
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            "-i",
            help="Identity configuration (YAML: identifier types and paths, limits, windows, "
            "priorities, blocked values, alias handling); default: Segment's defaults. "
            "Example: --identity identity.yaml",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            "-m",
            help="limits: Segment Unify's merge protection (limits, priorities); unrestricted: no "
            "limits, profiles are the connected components of the identifier graph (as RudderStack Profiles). "
            "Example: --mode unrestricted",
            case_sensitive=False,
        ),
    ] = Mode.LIMITS,
    memory_limit: Annotated[
        str,
        typer.Option(
            "--memory-limit",
            help="Memory for the engine's sort and joins before it spills to disk (the identity "
            "graph itself grows with the number of identifiers). Example: --memory-limit 2GB",
        ),
    ] = "512MB",
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Worker processes for reading and extracting, and, above 1, for resolving: by connected "
            "components of the identifiers, one partition per worker; 0 = automatic (all cores for inputs "
            "over 16 MB or stdin). The output files are the same, byte for byte, whatever the number. "
            "Example: --jobs 2",
        ),
    ] = 0,
    engine: EngineOpt = EngineName.DUCKDB,
    spark_master: SparkMasterOpt = None,
    spark_remote: SparkRemoteOpt = None,
    spark_conf: SparkConfOpt = None,
    format: FormatOpt = OutFormat.TEXT,
    strict: StrictOpt = False,
    color: ColorOpt = Color.AUTO,
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
    from cdp_cli import api

    with progress_bar(show_progress(quiet, out)) as observer:  # the results go to --out; the summary after the bar
        result = api.resolve_profiles(
            options=api.ResolveOptions(
                inputs=inputs,
                out=out,
                identity=identity,
                mode=mode.value,
                memory_limit=memory_limit,
                jobs=jobs,
                engine=engine_choice(engine, spark_master, spark_remote, spark_conf),
            ),
            observer=observer,
        )
    if format is OutFormat.JSON:
        print_json(
            {
                **result.summary(),
                "problems": [
                    {"code": p.code, "file": p.file, "line": p.line, "column": p.column, "message": p.message}
                    for p in result.problems
                ],
            }
        )
    else:
        if not result.read.messages and not quiet:
            stdout_console(color).print("! no messages were read (fails with --strict)")
        print_overview(
            result, color, quiet=quiet, mark="!" if result.super_profiles or not result.read.messages else "✓"
        )
    _warn(result.warnings())
    raise exit_code(result, strict)


@app.command("show")
@handle_errors
def show(
    identifier: Annotated[
        str,
        typer.Argument(
            help="type:value (email:ada@example.com, user_id:42), a bare value, or a profile id. "
            "Example: email:ada@example.com",
            show_default=False,
        ),
    ],
    profiles: ProfilesOpt = Path("build/profiles"),
    events: Annotated[
        int, typer.Option("--events", "-n", min=0, help="How many recent events to list. Example: --events 20")
    ] = 10,
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Show one profile: its identifiers, merged traits, counts and recent events.

    Example:

      cdp profiles show email:ada@example.com --profiles build/profiles
    """
    from cdp_cli import api

    view = api.show_profile(identifier, profiles, recent=events)
    if format is OutFormat.JSON:
        print_json(view.summary())
        return
    from cdp_cli.reporters import rich_table

    console = stdout_console(color)
    pid = view.profile["profile_id"]
    console.print(f"[bold]{lit(pid)}[/]{lit(view.verdict()[len(pid) :])}")
    for table in view.tables():
        console.print(rich_table(table))


@app.command("explain")
@handle_errors
def explain(
    a: Annotated[
        str,
        typer.Argument(
            help="One identifier (type:value or a bare value). Example: email:ada@example.com", show_default=False
        ),
    ],
    b: Annotated[str, typer.Argument(help="The other one. Example: anonymous_id:5a3e...", show_default=False)],
    profiles: ProfilesOpt = Path("build/profiles"),
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Explain why two identifiers are in one profile (the chain of messages that joined them: each
    hop's message, time, file and line, and the identifiers it joined), or why they are apart (never
    linked, or a refused merge and the limit that refused it).

    Exit codes: 0 explained (linked or not), 2 an identifier is unknown or the directory is not a profiles directory.

    Example:

      cdp profiles explain email:ada@example.com anonymous_id:5a3e0c1e --profiles build/profiles
    """
    from cdp_cli import api

    ex = api.explain_identifiers(a, b, profiles)
    if format is OutFormat.JSON:
        print_json(ex.as_dict())
        return
    console = stdout_console(color)
    styles = {"linked": "green", "recorded": "green", "apart": "yellow"}
    for line in api.explanation_lines(ex):
        word, sep, rest = line.partition(": ")
        text = lit(line)
        if sep and word in styles:
            text = f"[{styles[word]}]{word}[/]: {lit(rest)}"
        console.print(text, soft_wrap=True)
