"""The library's front door: everything the CLI does, as plain Python calls.

Each operation takes an options dataclass (or the same fields as keyword arguments for the common
case) and returns a result that follows :class:`cdp_cli.results.Result`: ``summary()`` (JSON-ready),
``tables()`` (plain :class:`~cdp_cli.results.Table` data), ``findings``, ``failed(strict)`` and
``verdict()``. Progress goes to one optional :data:`~cdp_cli.results.Observer` callback.

    from cdp_cli import api

    plans = api.validate_plans(["plans/"])
    lint = api.lint_events(["samples/messy.ndjson"], plan="plans/ecommerce")
    profiles = api.resolve_profiles(["samples/identity"], out="build/identity")
    with api.open_profiles("build/identity") as store:
        store.explain("user_id:u-grace", "user_id:u-linus").verdict

Errors that stop an operation are :class:`cdp_cli.errors.CdpError` subclasses (exit code 2 in the
CLI); problems found in the data are findings (exit code 1).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdp_cli.collect import CollectOptions, CollectResult
from cdp_cli.engine import EngineChoice
from cdp_cli.errors import UsageError
from cdp_cli.findings import Finding
from cdp_cli.fsutil import atomic_open, guard_outputs
from cdp_cli.replay.run import ReplayOptions
from cdp_cli.results import Observer, Progress, Table, plural

PathLike = str | Path


def _paths(value: PathLike | Sequence[PathLike] | None) -> list[Path] | None:
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        return [Path(value)]
    return [Path(v) for v in value]


def _load_config(config: Any, search: bool):
    """A ``Config`` as is, a path to a ``.cdp.yaml``, or None (search upwards unless ``search`` is off)."""
    from cdp_cli.config import Config, load_config

    if isinstance(config, Config):
        return config
    return load_config(Path(config) if config is not None else None, search=search)


def parse_now(value: datetime | str | None) -> datetime | None:
    """``--now``: an ISO-8601 date-time (UTC when it names no zone)."""
    if value is None or isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise UsageError(f"--now {value!r} is not an ISO-8601 date-time such as 2026-11-22T00:00:00Z") from None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    from cdp_cli.events.model import to_utc

    if when is not None and to_utc(when) is None:
        raise UsageError(
            f"--now {value!s} is not a time in UTC (before year 1 or after 9999 once its offset is applied)"
        )
    return when


# --- plans ------------------------------------------------------------------------------------------
@dataclass
class ValidateOptions:
    paths: Sequence[PathLike] = field(default_factory=lambda: ["plans"])
    config: Any = None  #: a Config, a .cdp.yaml path, or None (the nearest .cdp.yaml)
    search_config: bool = True  #: False: ignore any .cdp.yaml (every rule at its default)


def validate_plans(
    paths: Sequence[PathLike] | PathLike | None = None, *, options: ValidateOptions | None = None, **kw: Any
):
    """Validate plan files or directories: a :class:`~cdp_cli.plan.validate.ValidationResult`."""
    from cdp_cli.plan.validate import validate_paths

    opts = options or ValidateOptions(paths=list(_paths(paths) or [Path("plans")]), **kw)
    cfg = _load_config(opts.config, opts.search_config)
    result = validate_paths(list(opts.paths))
    result.config = cfg
    return result


@dataclass
class ExportOptions:
    out: PathLike
    plans: Sequence[PathLike] = field(default_factory=lambda: ["plans"])
    to: str = "jsonschema"


@dataclass
class ExportResult:
    """What ``plan export`` wrote, or (when the plan has errors) why it wrote nothing."""

    out: Path
    to: str
    validation: Any
    schemas: int = 0
    plans: int = 0
    command: str = "plan export"

    @property
    def findings(self) -> list[Finding]:
        return [f for f in self.validation.findings if f.level.value == "error"]

    @property
    def files(self) -> list[str]:
        return self.validation.files

    def failed(self, strict: bool = False) -> bool:
        return bool(self.findings)

    def summary(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "to": self.to,
            "schemas": self.schemas,
            "plans": self.plans,
            "errors": len(self.findings),
        }

    def tables(self) -> list[Table]:
        return []

    def verdict(self) -> str:
        if self.failed():
            return (
                f"the plan has {plural(len(self.findings), 'error')}; fix them before exporting "
                "(see `cdp plan validate`)"
            )
        return f"wrote {plural(self.schemas, 'schema')} from {plural(self.plans, 'plan')} to {self.out}"


def export_plan(
    out: PathLike | None = None,
    plans: Sequence[PathLike] | PathLike | None = None,
    *,
    options: ExportOptions | None = None,
    **kw: Any,
) -> ExportResult:
    """Export plans (``to="jsonschema"``). A plan with errors is not exported: the result holds them."""
    import json
    import re

    from cdp_cli.fsutil import atomic_directory
    from cdp_cli.plan.export import MANIFEST, write_jsonschema
    from cdp_cli.plan.validate import validate_paths

    if options is None:
        if out is None:
            raise UsageError("export_plan needs an output directory")
        options = ExportOptions(out=out, plans=list(_paths(plans) or [Path("plans")]), **kw)
    if options.to != "jsonschema":
        raise UsageError(f"unknown export format {options.to!r}; formats: jsonschema")
    validation = validate_paths(list(options.plans))
    result = ExportResult(Path(options.out), options.to, validation, plans=len(validation.reports))
    if result.failed():
        return result
    with atomic_directory(result.out, kind="plan export", marker=MANIFEST) as tmp:
        several = len(validation.reports) > 1
        used: set[str] = set()
        for r in validation.reports:
            target = tmp
            if several:
                sub = re.sub(r"[^A-Za-z0-9_.-]+", "-", r.plan.name or Path(r.plan.root).name) or "plan"
                while sub in used:
                    sub += "_"
                used.add(sub)
                target = tmp / sub
                target.mkdir()
            result.schemas += len(write_jsonschema(r.plan, target)["schemas"])
        if several:
            (tmp / MANIFEST).write_text(json.dumps({"plans": sorted(used)}) + "\n", encoding="utf-8")
    return result


# --- event logs -------------------------------------------------------------------------------------
@dataclass
class LintOptions:
    inputs: Sequence[PathLike]
    plan: Sequence[PathLike] | None = None  #: plan files or directories; adds the TP rules
    config: Any = None  #: a Config, a .cdp.yaml path, or None (the nearest .cdp.yaml)
    search_config: bool = True
    now: datetime | str | None = None  #: what "now" is for future timestamps (default: the clock)
    show_values: bool = False  #: put offending values in findings (they hold personal data)
    jobs: int = 0  #: worker processes; 0 = automatic
    keep: int | None = 1000  #: findings kept in the result (None: all); every one is counted
    findings_out: PathLike | None = None  #: also write every finding here (NDJSON, atomically)


def lint_events(
    inputs: Sequence[PathLike] | PathLike | None = None,
    plan: Sequence[PathLike] | PathLike | None = None,
    *,
    options: LintOptions | None = None,
    observer: Observer | None = None,
    **kw: Any,
):
    """Lint event logs: a :class:`~cdp_cli.lint.runner.LintResult` (counts, kept findings, tables)."""
    from cdp_cli.lint.runner import lint

    if options is None:
        if inputs is None:
            raise UsageError("lint_events needs inputs")
        items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
        options = LintOptions(inputs=items, plan=_paths(plan), **kw)
    when = parse_now(options.now)
    cfg = _load_config(options.config, options.search_config)
    from cdp_cli.events.reader import discover

    sources = discover([str(i) for i in options.inputs])
    findings_out = Path(options.findings_out) if options.findings_out is not None else None
    protected = [s.path for s in sources if s.path is not None] + [Path(p) for p in options.plan or []]
    if cfg.file is not None:
        protected.append(Path(cfg.file))
    guard_outputs({"--findings-out": findings_out}, protected)

    with contextlib.ExitStack() as stack:
        on_finding = None
        if findings_out is not None:
            import orjson

            fh = stack.enter_context(atomic_open(findings_out, "wb", flag="--findings-out"))

            def on_finding(f: Finding, _fh=fh, _dumps=orjson.dumps) -> None:
                _fh.write(_dumps(f.to_dict(), default=str) + b"\n")

        progress = on_chunk = None
        if observer is not None:
            total = sum(s.size or 0 for s in sources) if all(s.size is not None for s in sources) else None
            t0: list[float] = []

            def progress(n: int) -> None:
                observer(Progress("read", n, total, "bytes"))

            def on_chunk(partial) -> None:
                if not t0:
                    t0.append(time.perf_counter())
                rate = partial.stats.messages / max(time.perf_counter() - t0[0], 1e-6)
                observer(Progress("read", 0, total, "bytes", f"{partial.stats.messages:,} events ({rate:,.0f}/s)"))

        result = lint(
            sources,
            plan_paths=[Path(p) for p in options.plan] if options.plan else None,
            config=cfg,
            now=when,
            show_values=options.show_values,
            jobs=options.jobs,
            keep=options.keep,
            on_finding=on_finding,
            progress=progress,
            on_chunk=on_chunk,
        )
    result.levels = {code: cfg.level(code).value for code in result.by_code}
    return result


# --- identity ---------------------------------------------------------------------------------------
@dataclass
class ResolveOptions:
    inputs: Sequence[PathLike]
    out: PathLike
    identity: PathLike | None = None  #: identity.yaml; None: Segment's defaults
    mode: str = "limits"  #: limits (Segment Unify) or unrestricted (connected components)
    memory_limit: str = "512MB"  #: the engine's memory before it spills to disk
    jobs: int = 0
    engine: EngineChoice | str | None = None  #: where the SQL runs: "duckdb" (default), "spark" or an EngineChoice


def resolve_profiles(
    inputs: Sequence[PathLike] | PathLike | None = None,
    out: PathLike | None = None,
    *,
    options: ResolveOptions | None = None,
    observer: Observer | None = None,
    **kw: Any,
):
    """Resolve identities into profiles written under ``out``: a
    :class:`~cdp_cli.identity.resolve.ResolveResult`."""
    import os

    from cdp_cli.events.reader import discover
    from cdp_cli.identity.config import load_identity_config
    from cdp_cli.identity.resolve import check_memory_limit, resolve

    if options is None:
        if inputs is None or out is None:
            raise UsageError("resolve_profiles needs inputs and out")
        items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
        options = ResolveOptions(inputs=items, out=out, **kw)
    if options.mode not in ("limits", "unrestricted"):
        raise UsageError(f"--mode {options.mode!r}: choose limits or unrestricted")
    check_memory_limit(options.memory_limit)  # before any work
    config = load_identity_config(Path(options.identity) if options.identity else None)
    sources = discover([str(i) for i in options.inputs])
    out_path = Path(options.out)
    identity = Path(options.identity) if options.identity else None
    guard_outputs(
        {"--out": out_path},
        [s.path for s in sources if s.path is not None] + ([identity] if identity else []),
        dir_flags=("--out",),
    )
    for s in sources:  # nor may --out hold an input (it is replaced as a whole)
        if s.path is not None and Path(os.path.realpath(out_path)) in Path(os.path.realpath(s.path)).parents:
            raise UsageError(f"--out {out_path} contains the input {s.name}; choose another directory")
    progress = None
    if observer is not None:

        def progress(phase: str, n: int, total: int | None) -> None:
            observer(Progress(phase, n, total, "bytes" if phase == "read" else "events"))

    return resolve(
        sources,
        out_path,
        config=config,
        unrestricted=options.mode == "unrestricted",
        progress=progress,
        memory_limit=options.memory_limit,
        jobs=options.jobs,
        engine=_engine(options.engine),
    )


def open_profiles(directory: PathLike):
    """The profiles a resolve wrote, for ``show`` and ``explain``: a
    :class:`~cdp_cli.identity.explain.ProfileStore` (a context manager)."""
    from cdp_cli.identity.explain import ProfileStore

    return ProfileStore(directory)


def show_profile(identifier: str, profiles: PathLike, *, recent: int = 10):
    """One profile by ``type:value``, a bare value (refused when ambiguous) or a profile id: a
    :class:`~cdp_cli.identity.views.ProfileView`."""
    from cdp_cli.identity.views import ProfileView

    with open_profiles(profiles) as store:
        pid = store.profile_of(identifier)
        return ProfileView(store.profile(pid, recent=recent))


def explain_identifiers(a: str, b: str, profiles: PathLike):
    """Why two identifiers are in one profile (the chain of messages), or why they are apart."""
    with open_profiles(profiles) as store:
        return store.explain(a, b)


# --- traits -------------------------------------------------------------------------------------------
@dataclass
class TraitsOptions:
    profiles: PathLike  #: the directory `cdp profiles resolve --out` wrote
    spec: PathLike  #: traits.yaml
    out: PathLike | None = None  #: traits.parquet (compute only)
    as_of: datetime | str | None = None  #: default: the latest event timestamp
    plan: Sequence[PathLike] | PathLike | None = None  #: check events and properties against this plan
    emit_events: PathLike | None = None  #: write the activation events (NDJSON) of what changed here
    emit: str = "both"  #: identify | track | both
    emit_per: str = "identifier"  #: identifier (one message per identifier value) | profile
    previous: PathLike | None = None  #: the previous run's traits.parquet: emit only changes against it
    include_anonymous: bool = False  #: also one message per anonymous_id
    engine: EngineChoice | str | None = None  #: where to compute: "duckdb" (default), "spark" or an EngineChoice


def compute_traits(
    profiles: PathLike | None = None,
    spec: PathLike | None = None,
    out: PathLike | None = None,
    as_of: datetime | str | None = None,
    plan: Sequence[PathLike] | PathLike | None = None,
    *,
    options: TraitsOptions | None = None,
):
    """Compute the traits of ``spec`` (traits.yaml) for every profile of ``profiles`` into the Parquet
    file ``out`` (atomically; only over a file cdp wrote): a
    :class:`~cdp_cli.traits.compute.TraitsResult`."""
    from cdp_cli.traits.compute import compute

    if options is None:
        if profiles is None or spec is None or out is None:
            raise UsageError("compute_traits needs profiles, spec and out")
        options = TraitsOptions(profiles=profiles, spec=spec, out=out, as_of=as_of, plan=plan)
    if options.out is None:
        raise UsageError("compute_traits needs out")
    return compute(
        options.profiles,
        options.spec,
        options.out,
        as_of=options.as_of,
        plan=_plan(options.plan),
        emit=_traits_emit(options),
        engine=_engine(options.engine),
    )


def _plan(paths: Sequence[PathLike] | PathLike | None):
    if paths is None:
        return None
    from cdp_cli.plan.load import load_valid_plan

    return load_valid_plan(_paths(paths) or [])


def _traits_emit(options: TraitsOptions):
    if options.emit_events is None:
        if options.previous is not None:
            raise UsageError("--previous needs --emit-events (it says which changes to emit)")
        return None
    from cdp_cli.activation import EmitOptions

    return EmitOptions(
        Path(options.emit_events),
        emit=options.emit,
        per=options.emit_per,
        previous=Path(options.previous) if options.previous is not None else None,
        include_anonymous=options.include_anonymous,
    )


def traits_sql(profiles: PathLike, spec: PathLike, as_of: datetime | str | None = None, dialect: str = "duckdb"):
    """The SQL each trait compiles to, one statement per trait with its parameters inlined, in
    ``dialect`` (duckdb; spark, snowflake, bigquery, postgres through sqlglot, best effort): a
    :class:`~cdp_cli.traits.showsql.SqlResult` (``text()``); nothing runs."""
    from cdp_cli.traits.showsql import show_sql

    return show_sql(profiles, spec, as_of=as_of, dialect=dialect)


def preview_traits(profiles: PathLike, spec: PathLike, as_of: datetime | str | None = None, sample: int = 5):
    """Sizes, distributions and a sample of ``sample`` profiles; writes nothing."""
    from cdp_cli.traits.compute import preview

    return preview(profiles, spec, as_of=as_of, sample=sample)


def explain_trait(
    profile: str,
    profiles: PathLike,
    spec: PathLike,
    trait: str | None = None,
    as_of: datetime | str | None = None,
):
    """One profile's trait values and the events that counted (file, line, messageId, timestamp) or
    why not: a :class:`~cdp_cli.traits.explain.ExplainResult`."""
    from cdp_cli.traits.explain import explain

    return explain(profile, profiles, spec, trait=trait, as_of=as_of)


# --- audiences ----------------------------------------------------------------------------------------
@dataclass
class AudiencesOptions:
    profiles: PathLike  #: the directory `cdp profiles resolve --out` wrote
    spec: PathLike  #: audiences.yaml
    out: PathLike | None = None  #: the output directory (compute only)
    traits: PathLike | None = None  #: traits.parquet of `cdp traits compute`
    as_of: datetime | str | None = None  #: default: the latest event timestamp
    plan: Sequence[PathLike] | PathLike | None = None  #: check events and properties against this plan
    previous: PathLike | None = None  #: an earlier --out: who entered and exited
    emit_events: PathLike | None = None  #: write the activation events (NDJSON) of who entered and exited here
    emit: str = "both"  #: identify | track | both
    emit_per: str = "identifier"  #: identifier (one message per identifier value) | profile
    engine: EngineChoice | str | None = None  #: where to compute: "duckdb" (default), "spark" or an EngineChoice


def _engine(choice: EngineChoice | str | None) -> EngineChoice | None:
    if choice is None or isinstance(choice, EngineChoice):
        return choice
    return EngineChoice(choice)


def compute_audiences(
    profiles: PathLike | None = None,
    spec: PathLike | None = None,
    out: PathLike | None = None,
    traits: PathLike | None = None,
    as_of: datetime | str | None = None,
    plan: Sequence[PathLike] | PathLike | None = None,
    previous: PathLike | None = None,
    *,
    options: AudiencesOptions | None = None,
):
    """Members of every audience of ``spec`` (audiences.yaml) into ``out/<key>.parquet`` (one atomic
    directory), with entered/exited against ``previous``: an
    :class:`~cdp_cli.audiences.compute.AudiencesResult`."""
    from cdp_cli.audiences.compute import compute

    if options is None:
        if profiles is None or spec is None or out is None:
            raise UsageError("compute_audiences needs profiles, spec and out")
        options = AudiencesOptions(profiles, spec, out, traits, as_of, plan, previous)
    if options.out is None:
        raise UsageError("compute_audiences needs out")
    return compute(
        options.profiles,
        options.spec,
        options.out,
        traits=options.traits,
        as_of=options.as_of,
        plan=_plan(options.plan),
        previous=options.previous,
        emit=_audiences_emit(options),
        engine=_engine(options.engine),
    )


def _audiences_emit(options: AudiencesOptions):
    if options.emit_events is None:
        return None
    from cdp_cli.activation import EmitOptions

    return EmitOptions(Path(options.emit_events), emit=options.emit, per=options.emit_per)


def compute_traits_and_audiences(
    profiles: PathLike | None = None,
    traits_spec: PathLike | None = None,
    traits_out: PathLike | None = None,
    audiences_spec: PathLike | None = None,
    audiences_out: PathLike | None = None,
    as_of: datetime | str | None = None,
    plan: Sequence[PathLike] | PathLike | None = None,
    *,
    traits: TraitsOptions | None = None,
    audiences: AudiencesOptions | None = None,
):
    """:func:`compute_traits`, then :func:`compute_audiences` over those traits, with the same results,
    in one engine session and one pass over the events (what ``cdp run`` does): a pair
    ``(TraitsResult, AudiencesResult)``. Either the paths, or ``traits`` and ``audiences`` options
    (for activation events, ``previous`` and the rest); they must name the same profiles, ``as_of``
    and plan, and ``audiences.traits`` is unset or ``traits.out``."""
    from cdp_cli.traits.together import compute_together

    if traits is None or audiences is None:
        if None in (profiles, traits_spec, traits_out, audiences_spec, audiences_out):
            raise UsageError("compute_traits_and_audiences needs profiles, both specs and both outputs")
        assert profiles is not None and traits_spec is not None and audiences_spec is not None
        traits = TraitsOptions(profiles=profiles, spec=traits_spec, out=traits_out, as_of=as_of, plan=plan)
        audiences = AudiencesOptions(profiles=profiles, spec=audiences_spec, out=audiences_out, as_of=as_of, plan=plan)
    if traits.out is None or audiences.out is None:
        raise UsageError("compute_traits_and_audiences needs both outputs")
    same = (
        Path(traits.profiles) == Path(audiences.profiles)
        and traits.as_of == audiences.as_of
        and _paths(traits.plan) == _paths(audiences.plan)
    )
    if not same:
        raise UsageError("computed together, traits and audiences share the profiles, as_of and plan")
    if audiences.traits is not None and Path(audiences.traits) != Path(traits.out):
        raise UsageError("computed together, the audiences read the traits just computed (traits.out)")
    if _engine(traits.engine) != _engine(audiences.engine):
        raise UsageError("computed together, traits and audiences run on the same engine")
    return compute_together(
        traits.profiles,
        traits.spec,
        traits.out,
        audiences.spec,
        audiences.out,
        as_of=traits.as_of,
        plan=_plan(traits.plan),
        traits_emit=_traits_emit(traits),
        audiences_emit=_audiences_emit(audiences),
        previous=audiences.previous,
        engine=_engine(traits.engine),
    )


def audiences_sql(
    profiles: PathLike,
    spec: PathLike,
    traits: PathLike | None = None,
    as_of: datetime | str | None = None,
    dialect: str = "duckdb",
):
    """The SQL of each audience (one statement per audience, with the audiences it refers to, its
    parameters inlined) in ``dialect`` (duckdb; spark, snowflake, bigquery, postgres through sqlglot,
    best effort): a :class:`~cdp_cli.traits.showsql.SqlResult` (``text()``); nothing runs."""
    from cdp_cli.audiences.showsql import show_sql

    return show_sql(profiles, spec, traits=traits, as_of=as_of, dialect=dialect)


def preview_audiences(
    profiles: PathLike,
    spec: PathLike,
    traits: PathLike | None = None,
    as_of: datetime | str | None = None,
    sample: int = 5,
):
    """Sizes, a sample, the overlap matrix and identifier types of every audience; writes nothing."""
    from cdp_cli.audiences.compute import preview

    return preview(profiles, spec, traits=traits, as_of=as_of, sample=sample)


def explain_audience(
    profile: str,
    profiles: PathLike,
    spec: PathLike,
    audience: str | None = None,
    traits: PathLike | None = None,
    as_of: datetime | str | None = None,
):
    """For one profile, every condition with true/false, the value compared and the events: an
    :class:`~cdp_cli.audiences.explain.ExplainResult`."""
    from cdp_cli.audiences.explain import explain

    return explain(profile, profiles, spec, audience=audience, traits=traits, as_of=as_of)


# --- samples ------------------------------------------------------------------------------------------
DEFAULT_SAMPLE_PLAN = Path("plans/ecommerce")


def generate_samples(
    out: PathLike | None,
    events: int,
    *,
    seed: int = 1,
    violations: float = 0.0,
    plan: PathLike | None = DEFAULT_SAMPLE_PLAN,
    users: int | None = None,
    force: bool = False,
    stream: Any = None,
) -> int:
    """Write a deterministic, realistic event log that follows ``plan`` to ``out`` (atomically; .gz
    and .zst by name; an existing file only with ``force``) or to the binary ``stream``."""
    import cdp_cli
    from cdp_cli.plan.load import load_valid_plan
    from cdp_cli.samples import generate

    if plan is not None and Path(plan) == DEFAULT_SAMPLE_PLAN and not Path(plan).exists():
        shipped = (
            Path(cdp_cli.__file__).resolve().parent.parent / DEFAULT_SAMPLE_PLAN
        )  # beside the package (a checkout)
        if not shipped.is_dir():
            raise UsageError(
                f"{plan}: no such plan here (the default is relative to the current directory); "
                "name one with --plan, e.g. --plan path/to/plans/ecommerce"
            )
        plan = shipped
    loaded = load_valid_plan([Path(plan)]) if plan is not None else None
    if out is None:
        generate(None, events, seed=seed, violations=violations, plan=loaded, users=users, out=stream)
        return events
    return generate(out, events, seed=seed, violations=violations, plan=loaded, users=users, force=force)


# --- rules ------------------------------------------------------------------------------------------
def list_rules(family: str | None = None, code: str | None = None) -> list:
    """The rules of the catalog, all or one family or one code (a UsageError names the choices)."""
    from cdp_cli.rules.docs import select_rules

    return select_rules(family, code)


def rule_record(rule: Any) -> dict[str, Any]:
    """A rule as JSON-ready data (what ``cdp rules --format json`` prints)."""
    from cdp_cli.rules.docs import rule_record as record

    return record(rule)


def rules_markdown(family: str | None = None) -> str:
    """The Markdown rules table (the README embeds it)."""
    from cdp_cli.rules.docs import rules_markdown as table

    return table(family)


def explanation_lines(explanation: Any) -> list[str]:
    """``cdp profiles explain`` as plain text lines."""
    from cdp_cli.identity.views import explanation_lines as lines

    return lines(explanation)


# --- collect ----------------------------------------------------------------------------------------
def collect(
    options: CollectOptions | None = None,
    *,
    observer: Observer | None = None,
    on_ready: Callable[[str], None] | None = None,
    stop: Any = None,
    **kw: Any,
) -> CollectResult:
    """Run a local Segment-compatible collector (``cdp collect``) until SIGINT/SIGTERM, ``stop`` (a
    ``threading.Event``) is set, or ``options.duration`` passes: a :class:`~cdp_cli.collect.CollectResult`.
    ``on_ready(url)`` is called once it listens. ``options``: a :class:`~cdp_cli.collect.CollectOptions`
    (or give its fields as keywords: ``collect(out="collected", port=0)``)."""
    from cdp_cli.collect import run_collector

    if options is None:
        options = CollectOptions(**kw)
    return run_collector(options, observer, on_ready=on_ready, stop=stop)


def infer_plan(
    inputs: Sequence[PathLike] | PathLike,
    out: PathLike | None = None,
    *,
    force: bool = False,
    observer: Observer | None = None,
    **kw: Any,
):
    """Infer a draft tracking plan from event logs (names, types with unions and null, required by
    share, enums, formats, nested objects, traits, common context; values never copied but enum
    members, checked for personal data first), written to ``out`` (``NAME.yaml`` or a directory) when
    given: an :class:`~cdp_cli.plan.infer.InferResult`. Keywords: the thresholds of
    :func:`cdp_cli.plan.infer.infer_plan` (``required_share``, ``min_count``, ...)."""
    from cdp_cli.plan.infer import infer_plan as infer

    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    result = infer(items, observer=observer, **kw)
    if out is not None and not result.failed():
        result.write(out, force=force)
    return result


def plan_docs(
    plans: Sequence[PathLike] | PathLike | None = None,
    out: PathLike | None = None,
    *,
    since: str | None = None,
):
    """Write a static HTML catalog of the plan(s) at ``plans`` (files or directories; default ``plans``)
    to the directory ``out``: an overview with search, a page per event, page, screen, identify, group and
    common rules, and a property index; with ``since`` (a git revision) what changed since then, with
    producer and consumer verdicts. A plan with errors is not documented: a
    :class:`~cdp_cli.plan.docs_html.DocsResult`."""
    from cdp_cli.plan.docs_html import plan_docs as run

    if out is None:
        raise UsageError("plan_docs needs an output directory")
    return run(_paths(plans) or [Path("plans")], out, since=since)


def run_project(
    project: PathLike = ".",
    *,
    out: PathLike | None = None,
    force: bool = False,
    strict: bool = False,
    observer: Observer | None = None,
):
    """Run a project's whole job (``cdp.yaml``): plan, lint, profiles, traits, audiences, replay,
    report: a :class:`~cdp_cli.project.run.RunResult`."""
    from cdp_cli.project.run import run_project as run

    return run(project, out=out, force=force, strict=strict, observer=observer)


def import_plan(source: PathLike, fmt: str, out: PathLike, *, force: bool = False):
    """Import a tracking plan from another tool's format (segment, rudderstack, avo, jsonschema) into
    cdp's plan format at ``out``, reporting what was normalised or could not be kept: an
    :class:`~cdp_cli.plan.formats.ImportResult`."""
    from cdp_cli.plan.formats import import_plan as run

    return run(source, fmt, out, force=force)


def export_plan_to(plans: Sequence[PathLike] | PathLike, fmt: str, out: PathLike, *, force: bool = False):
    """Export one plan to another tool's format (segment, rudderstack, jsonschema, markdown),
    reporting what the format cannot express: an :class:`~cdp_cli.plan.formats.ExportFormatResult`."""
    from cdp_cli.plan.formats import export_plan_as

    return export_plan_as(plans, fmt, out, force=force)


def diff_plans(
    old: PathLike | Sequence[PathLike],
    new: PathLike | Sequence[PathLike],
    *,
    fail_on: str = "breaking",
    side: str = "producer",
    cwd: PathLike | None = None,
    old_from: str | None = None,
    new_from: str | None = None,
):
    """Compare two plans (paths or ``REV:PATH`` from git): every change with its producer and consumer
    verdicts and the version bumps it needs: a :class:`~cdp_cli.plan.diff.DiffResult`. ``old_from`` /
    ``new_from``: that side is in another tool's format (segment, rudderstack, avo, jsonschema) and is
    imported first (its locations then point into the imported copy)."""
    import tempfile

    from cdp_cli.plan.diff import diff_plans as diff
    from cdp_cli.plan.formats import import_plan as imported

    with tempfile.TemporaryDirectory(prefix="cdp-plan-diff-") as tmp:
        sides = []
        for name, paths, fmt in (("old", old, old_from), ("new", new, new_from)):
            if fmt is None:
                sides.append(paths)
                continue
            if not isinstance(paths, (str, Path)):
                raise UsageError(f"--{name}-from imports one source; give one {name.upper()} path")
            result = imported(paths, fmt, Path(tmp) / f"{name}.yaml")
            if result.failed():
                raise UsageError(f"{paths}: the {fmt} import has errors: {result.verdict()}")
            sides.append(Path(tmp) / f"{name}.yaml")
        return diff(sides[0], sides[1], fail_on=fail_on, side=side, cwd=cwd)


def replay_events(
    inputs: Sequence[PathLike] | PathLike | None = None,
    to: str | None = None,
    *,
    options: Any = None,
    observer: Observer | None = None,
    **kw: Any,
):
    """Replay event logs to a destination (``file:PATH``, ``-``, ``parquet:DIR``, an http(s) URL of a
    Segment-compatible API, a ``postgresql://`` DSN), filtered, shaped, de-duplicated, resumable: a
    :class:`~cdp_cli.replay.run.ReplayResult`. ``options``: a
    :class:`~cdp_cli.replay.run.ReplayOptions` (or give its fields as keywords)."""
    from cdp_cli.replay.run import replay

    if options is None:
        if inputs is None or to is None:
            raise UsageError("replay_events needs inputs and to")
        items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
        options = ReplayOptions(inputs=items, to=to, **kw)
    return replay(options, observer)


# --- privacy ------------------------------------------------------------------------------------------
def privacy_delete(
    inputs: Sequence[PathLike] | PathLike | None = None,
    *,
    options: Any = None,
    observer: Observer | None = None,
    **kw: Any,
):
    """Remove people (``user_ids`` and/or an ``identifiers`` file; with ``profiles``, everything their
    resolved profiles link to them) from event files, the profiles directory and a PostgreSQL
    ``warehouse``, and add them to a suppression list: a :class:`~cdp_cli.privacy.delete.DeleteResult`.
    ``options``: a :class:`~cdp_cli.privacy.delete.DeleteOptions` (or give its fields as keywords)."""
    from cdp_cli.privacy.delete import DeleteOptions, delete

    if options is None:
        items = [] if inputs is None else [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
        options = DeleteOptions(inputs=items, **kw)
    return delete(options, observer)


def privacy_scan(
    inputs: Sequence[PathLike] | PathLike | None = None,
    *,
    options: Any = None,
    observer: Observer | None = None,
    **kw: Any,
):
    """Where personal data appears in event logs, by key and by value (key path, class, count, example
    locations; never a value): a :class:`~cdp_cli.privacy.scan.ScanResult`. ``options``: a
    :class:`~cdp_cli.privacy.scan.ScanOptions` (or give its fields as keywords)."""
    from cdp_cli.privacy.scan import ScanOptions, scan

    if options is None:
        if inputs is None:
            raise UsageError("privacy_scan needs inputs")
        items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
        options = ScanOptions(inputs=items, **kw)
    return scan(options, observer)


__all__ = [
    "compute_traits_and_audiences",
    "infer_plan",
    "collect",
    "CollectOptions",
    "CollectResult",
    "plan_docs",
    "privacy_delete",
    "privacy_scan",
    "run_project",
    "diff_plans",
    "import_plan",
    "export_plan_to",
    "ReplayOptions",
    "replay_events",
    "ExportOptions",
    "ExportResult",
    "LintOptions",
    "ResolveOptions",
    "TraitsOptions",
    "AudiencesOptions",
    "compute_audiences",
    "audiences_sql",
    "preview_audiences",
    "explain_audience",
    "ValidateOptions",
    "compute_traits",
    "explain_trait",
    "preview_traits",
    "traits_sql",
    "explain_identifiers",
    "export_plan",
    "lint_events",
    "open_profiles",
    "parse_now",
    "resolve_profiles",
    "show_profile",
    "validate_plans",
    "atomic_open",
    "guard_outputs",
    "generate_samples",
    "explanation_lines",
    "list_rules",
    "rule_record",
    "rules_markdown",
]
