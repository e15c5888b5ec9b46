"""``cdp audiences ...``: audiences over resolved profiles (compute, preview, explain)."""

from __future__ import annotations

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
    engine_choice,
    exit_code,
    handle_errors,
    lit,
    print_json,
    print_overview,
    stdout_console,
)
from cdp_cli.cli.profiles import FormatOpt, OutFormat, ProfilesOpt
from cdp_cli.cli.traits import AsOfOpt, DialectOpt, EmitKind, EmitPer, ShowSqlOpt, SqlDialect, print_sql

app = typer.Typer(
    help="Audiences: who performed events, has traits, is in other audiences or went through a funnel, "
    "from an audiences.yaml over the output of `cdp profiles resolve`.\n\n"
    "Example: cdp audiences compute --profiles build/profiles --spec samples/audiences.yaml --out build/audiences",
    no_args_is_help=True,
)

SpecOpt = Annotated[
    Path,
    typer.Option(
        "--spec",
        "-s",
        help="The audience definitions (YAML; see docs/audiences.md). Example: --spec samples/audiences.yaml",
        dir_okay=False,
        show_default=False,
    ),
]
TraitsOpt = Annotated[
    Path | None,
    typer.Option(
        "--traits",
        "-t",
        help="Computed traits (the output of cdp traits compute) for trait conditions. "
        "Example: --traits build/traits.parquet",
        dir_okay=False,
        show_default=False,
    ),
]

EmitEventsOpt = Annotated[
    Path | None,
    typer.Option(
        "--emit-events",
        help="Also write the Segment messages activating who entered and exited (identify with traits "
        "{KEY: true|false}, track 'Audience Entered' / 'Audience Exited'; context.personas as Engage sends "
        "them) as NDJSON, atomically: against --previous, else every member. Anonymous ids get messages "
        "only in audiences with include_anonymous. Example: --emit-events build/audience-events.ndjson",
        dir_okay=False,
        show_default=False,
    ),
]
EmitOpt = Annotated[EmitKind, typer.Option("--emit", help="Which messages --emit-events writes. Example: --emit track")]
EmitPerOpt = Annotated[
    EmitPer,
    typer.Option(
        "--emit-per",
        help="One message per identifier value (user_id, email; as Segment sends them) or one per profile. "
        "Example: --emit-per profile",
    ),
]


@app.command("compute")
@handle_errors
def compute(
    profiles: ProfilesOpt = Path("build/profiles"),
    spec: SpecOpt = Path("audiences.yaml"),
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Write one Parquet file of members per audience into this directory, atomically (replaced "
            "only if cdp wrote it). Example: --out build/audiences",
            file_okay=False,
            show_default=False,
        ),
    ] = Path("audiences"),
    traits: TraitsOpt = None,
    as_of: AsOfOpt = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            "-p",
            help="Check every event and property the audiences name against this tracking plan. "
            "Example: --plan plans/ecommerce",
            show_default=False,
        ),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            help="An earlier --out: count who entered and exited (listed in changes.parquet). "
            "Example: --previous build/audiences-yesterday",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    emit_events: EmitEventsOpt = None,
    emit: EmitOpt = EmitKind.BOTH,
    emit_per: EmitPerOpt = EmitPer.IDENTIFIER,
    show_sql: ShowSqlOpt = False,
    dialect: DialectOpt = SqlDialect.DUCKDB,
    engine: EngineOpt = EngineName.DUCKDB,
    spark_master: SparkMasterOpt = None,
    spark_remote: SparkRemoteOpt = None,
    spark_conf: SparkConfOpt = None,
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = Color.AUTO,
    quiet: QuietOpt = False,
) -> None:
    """Compute every audience's members into a directory of Parquet files, and print their sizes.

    Exit codes: 0 done, 2 usage or input error (an invalid audiences file: every problem with file:line:col).

    Example:

      cdp audiences compute --profiles build/profiles --spec samples/audiences.yaml --out build/audiences
    """
    from cdp_cli import api

    if show_sql:
        print_sql(api.audiences_sql(profiles, spec, traits=traits, as_of=as_of, dialect=dialect.value), format)
        return
    options = api.AudiencesOptions(
        profiles,
        spec,
        out,
        traits,
        as_of,
        plan,
        previous,
        emit_events,
        emit=emit.value,
        emit_per=emit_per.value,
        engine=engine_choice(engine, spark_master, spark_remote, spark_conf),
    )
    result = api.compute_audiences(options=options)
    if format is OutFormat.JSON:
        print_json(result.summary())
    else:
        print_overview(result, color, quiet=quiet, mark="✓")
    raise exit_code(result, False)


@app.command("preview")
@handle_errors
def preview(
    profiles: ProfilesOpt = Path("build/profiles"),
    spec: SpecOpt = Path("audiences.yaml"),
    traits: TraitsOpt = None,
    as_of: AsOfOpt = None,
    sample: Annotated[
        int, typer.Option("--sample", "-n", min=0, help="Members to show per audience. Example: --sample 10")
    ] = 5,
    show_sql: ShowSqlOpt = False,
    dialect: DialectOpt = SqlDialect.DUCKDB,
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Preview audiences without writing anything: sizes, a sample, overlap and identifier types.

    Exit codes: 0 done, 2 usage or input error.

    Example:

      cdp audiences preview --profiles build/profiles --spec samples/audiences.yaml
    """
    from cdp_cli import api

    if show_sql:
        print_sql(api.audiences_sql(profiles, spec, traits=traits, as_of=as_of, dialect=dialect.value), format)
        return
    result = api.preview_audiences(profiles, spec, traits=traits, as_of=as_of, sample=sample)
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
    spec: SpecOpt = Path("audiences.yaml"),
    audience: Annotated[
        str | None,
        typer.Option("--audience", "-a", help="Explain only this audience. Example: --audience loyal_pro"),
    ] = None,
    traits: TraitsOpt = None,
    as_of: AsOfOpt = None,
    format: FormatOpt = OutFormat.TEXT,
    color: ColorOpt = Color.AUTO,
) -> None:
    """Explain one profile: every condition with true/false, the value compared and the events behind it.

    Exit codes: 0 explained, 2 unknown profile, audience or invalid input.

    Example:

      cdp audiences explain user_id:u000105 --profiles build/profiles --spec samples/audiences.yaml
    """
    from cdp_cli import api

    result = api.explain_audience(profile, profiles, spec, audience=audience, traits=traits, as_of=as_of)
    if format is OutFormat.JSON:
        print_json(result.summary())
        return
    console = stdout_console(color)
    for line in result.lines():
        console.print(lit(line), soft_wrap=True)
