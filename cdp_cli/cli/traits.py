"""``cdp traits ...``: computed traits over resolved profiles (compute, preview, explain)."""

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
    exit_code,
    handle_errors,
    lit,
    print_json,
    print_overview,
    stdout_console,
)
from cdp_cli.cli.profiles import FormatOpt, OutFormat, ProfilesOpt

app = typer.Typer(
    help="Computed traits: event counters, aggregations, most frequent, first/last, unique lists and SQL "
    "traits per profile, from a traits.yaml over the output of `cdp profiles resolve`.\n\n"
    "Example: cdp traits compute --profiles build/profiles --spec samples/traits.yaml --out build/traits.parquet",
    no_args_is_help=True,
)

SpecOpt = Annotated[
    Path,
    typer.Option(
        "--spec",
        "-s",
        help="The traits definitions (YAML; see docs/traits.md). Example: --spec samples/traits.yaml",
        dir_okay=False,
        show_default=False,
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Compute as of this time (ISO-8601 date or date-time, UTC when it names no zone): windows end "
        "here and later events never count. Default: the latest event timestamp (printed, so a rerun can "
        "repeat it). Example: --as-of 2026-11-15T00:00:00Z",
        show_default=False,
    ),
]

ShowSqlOpt = Annotated[
    bool,
    typer.Option(
        "--show-sql",
        help="Print the SQL each trait (audience) compiles to (one statement each, values inlined as literals) "
        "instead of running it; nothing is written. Example: --show-sql --dialect snowflake",
    ),
]


class EmitKind(str, Enum):
    IDENTIFY = "identify"
    TRACK = "track"
    BOTH = "both"


class EmitPer(str, Enum):
    IDENTIFIER = "identifier"
    PROFILE = "profile"


class SqlDialect(str, Enum):
    DUCKDB = "duckdb"
    SPARK = "spark"
    SNOWFLAKE = "snowflake"
    BIGQUERY = "bigquery"
    POSTGRES = "postgres"


DialectOpt = Annotated[
    SqlDialect,
    typer.Option(
        "--dialect",
        help="With --show-sql: the SQL dialect. duckdb and spark print the SQL cdp runs on that engine "
        "(--engine); snowflake, bigquery and postgres are transpiled with sqlglot, best effort, with a warning "
        "comment where a construct has no faithful spelling. Example: --dialect bigquery",
    ),
]


def print_sql(result, format: OutFormat) -> None:
    if format is OutFormat.JSON:
        print_json(result.summary())
    else:
        typer.echo(result.text(), nl=False)


@app.command("compute")
@handle_errors
def compute(
    profiles: ProfilesOpt = Path("build/profiles"),
    spec: SpecOpt = Path("traits.yaml"),
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Write the traits here as Parquet (one row per profile), atomically; an existing file is "
            "replaced only if cdp wrote it. Example: --out build/traits.parquet",
            dir_okay=False,
            show_default=False,
        ),
    ] = Path("traits.parquet"),
    as_of: AsOfOpt = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            "-p",
            help="Check every event, page, screen and property the traits name against this tracking plan "
            "(an unknown one is an error, with file:line:col). Example: --plan plans/ecommerce",
            show_default=False,
        ),
    ] = None,
    emit_events: Annotated[
        Path | None,
        typer.Option(
            "--emit-events",
            help="Also write the Segment messages activating what changed (identify with traits, track "
            "'Trait Computed'; context.personas as Engage sends them) as NDJSON, atomically. "
            "Example: --emit-events build/activation.ndjson",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    emit: Annotated[
        EmitKind,
        typer.Option("--emit", help="Which messages --emit-events writes. Example: --emit identify"),
    ] = EmitKind.BOTH,
    emit_per: Annotated[
        EmitPer,
        typer.Option(
            "--emit-per",
            help="One message per identifier value (user_id, email; as Segment sends them) or one per profile. "
            "Example: --emit-per profile",
        ),
    ] = EmitPer.IDENTIFIER,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            help="The previous run's traits.parquet (may be --out itself: it is read first): --emit-events "
            "writes only the values that differ from it (a value becoming null included). Without it every "
            "profile with a value (not null, not a zero count). Example: --previous build/traits.parquet",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    include_anonymous: Annotated[
        bool,
        typer.Option(
            "--include-anonymous",
            help="With --emit-events: also one message per anonymous_id of a profile. Example: --include-anonymous",
        ),
    ] = False,
    show_sql: ShowSqlOpt = False,
    dialect: DialectOpt = SqlDialect.DUCKDB,
    engine: EngineOpt = EngineName.DUCKDB,
    spark_master: SparkMasterOpt = None,
    spark_remote: SparkRemoteOpt = None,
    spark_conf: SparkConfOpt = None,
    format: FormatOpt = OutFormat.TEXT,
    strict: StrictOpt = False,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Compute traits for every profile into a Parquet file, and print each trait's distribution.

    Exit codes: 0 done, 1 with --strict when an aggregation met values that are not numbers,
    2 usage or input error (an invalid traits file: every problem with file:line:col).

    Example:

      cdp traits compute --profiles build/profiles --spec samples/traits.yaml --out build/traits.parquet
    """
    from cdp_cli import api

    if show_sql:
        print_sql(api.traits_sql(profiles, spec, as_of=as_of, dialect=dialect.value), format)
        return
    options = api.TraitsOptions(
        profiles,
        spec,
        out,
        as_of=as_of,
        plan=plan,
        emit_events=emit_events,
        emit=emit.value,
        emit_per=emit_per.value,
        previous=previous,
        include_anonymous=include_anonymous,
        engine=engine_choice(engine, spark_master, spark_remote, spark_conf),
    )
    result = api.compute_traits(options=options)
    if format is OutFormat.JSON:
        print_json(result.summary())
    else:
        print_overview(result, color, quiet=quiet, mark="✓")
    raise exit_code(result, strict)


@app.command("preview")
@handle_errors
def preview(
    profiles: ProfilesOpt = Path("build/profiles"),
    spec: SpecOpt = Path("traits.yaml"),
    as_of: AsOfOpt = None,
    sample: Annotated[
        int, typer.Option("--sample", "-n", min=0, help="How many profiles to show. Example: --sample 10")
    ] = 5,
    show_sql: ShowSqlOpt = False,
    dialect: DialectOpt = SqlDialect.DUCKDB,
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Preview traits without writing anything: sizes, distributions and a sample (personal data withheld).

    Exit codes: 0 done, 2 usage or input error.

    Example:

      cdp traits preview --profiles build/profiles --spec samples/traits.yaml
    """
    from cdp_cli import api

    if show_sql:
        print_sql(api.traits_sql(profiles, spec, as_of=as_of, dialect=dialect.value), format)
        return
    result = api.preview_traits(profiles, spec, as_of=as_of, sample=sample)
    if format is OutFormat.JSON:
        print_json(result.summary())
    else:
        print_overview(result, color)


@app.command("explain")
@handle_errors
def explain(
    profile: Annotated[
        str,
        typer.Argument(
            help="type:value (email:ada@example.com, user_id:42), a bare value, or a profile id. "
            "Example: user_id:u000105",
            show_default=False,
        ),
    ],
    profiles: ProfilesOpt = Path("build/profiles"),
    spec: SpecOpt = Path("traits.yaml"),
    trait: Annotated[
        str | None,
        typer.Option("--trait", "-t", help="Explain only this trait. Example: --trait orders_30d", show_default=False),
    ] = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Explain one profile's traits: each value, the events that counted (file:line, messageId,
    timestamp) and why the others did not (after as_of, outside the window, which filter failed).

    Exit codes: 0 explained, 2 unknown profile, trait or invalid input.

    Example:

      cdp traits explain user_id:u000105 --profiles build/profiles --spec samples/traits.yaml --trait orders_30d
    """
    from cdp_cli import api

    result = api.explain_trait(profile, profiles, spec, trait=trait, as_of=as_of)
    if format is OutFormat.JSON:
        print_json(result.summary())
        return
    console = stdout_console(color)
    for line in result.lines():
        console.print(lit(line), soft_wrap=True)
