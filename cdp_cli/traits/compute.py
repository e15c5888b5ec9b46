"""Run a traits file over a ``cdp profiles resolve`` output: ``traits.parquet`` (one row per profile)
or a preview, with per-trait distributions.

The query (:mod:`cdp_cli.traits.compiler`) runs on the engine straight over the Parquet files.
``traits.parquet`` is written by the engine to a temporary sibling, stamped (as it writes) with the Parquet
key-value metadata ``{"cdp": "traits"}`` (so :func:`cdp_cli.fsutil.written_by_cdp` knows it is cdp's
and a rerun may replace it) and renamed into place; an existing file is replaced only when cdp wrote
it.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdp_cli.errors import ConfigError, InputError, OutputError, UsageError
from cdp_cli.results import DefinitionResult, Table, plural
from cdp_cli.traits import sql
from cdp_cli.traits.compiler import Column, Compiled, compile_traits, sql_columns, user_query
from cdp_cli.traits.definitions import NAME, SqlTrait, TraitsFile

#: Parquet key-value metadata marking a file cdp wrote (see cdp_cli.fsutil.written_by_cdp)
PARQUET_MARK = {"cdp": "traits"}


# --- definitions ----------------------------------------------------------------------------------
@dataclass
class Spec:
    """A loaded traits file: its traits and where each part of it is."""

    path: Path
    file: TraitsFile
    doc: Any

    @property
    def traits(self) -> list[Any]:
        return list(self.file.traits)

    def at(self, *path: Any, key: bool = False) -> str:
        line, col = self.doc.where(tuple(path), key=key) if self.doc is not None else (0, 0)
        return f"{self.path}:{line}:{col}"

    def problems(self, items: list[tuple[tuple, str]]) -> ConfigError:
        located = sorted(
            (self.doc.where(p) if self.doc is not None else (0, 0), f"{self.at(*p)}: {m}") for p, m in items
        )
        err = ConfigError("\n".join(t for _, t in located))
        err.problems = [t for _, t in located]
        return err


def load_spec(path: str | Path) -> Spec:
    """Read and validate ``traits.yaml`` (every problem at once, with FILE:LINE:COL)."""
    from cdp_cli.definitions import load_definition

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such traits file")
    value, doc = load_definition(p, TraitsFile, what="traits file")
    return Spec(p, value, doc)


def _close(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_against_plan(spec: Spec, plan: Any) -> None:
    """Every event, page and screen a trait selects, and every property it reads or filters on, must
    be in the tracking plan: an unknown one is an error (a misspelt name would silently give zeros)."""
    problems: list[tuple[tuple, str]] = []
    name = plan.display_name
    for i, t in enumerate(spec.traits):
        if isinstance(t, SqlTrait) or t.selected == "*":
            continue
        key = {"track": "event", "page": "page", "screen": "screen"}[t.kind]
        if t.kind == "track":
            event = plan.events.get(t.selected)
            bodies = list(event.versions.values()) if event is not None else None
            known = plan.events
        else:
            book = plan.pages if t.kind == "page" else plan.screens
            body = book.get(t.selected)
            bodies = [body] if body is not None else None
            known = book
        if bodies is None:
            problems.append(
                ((("traits", i, key)), f"{key} {t.selected!r} is not in the plan {name}{_close(t.selected, known)}")
            )
            continue
        props: set[str] = set()
        for b in bodies:
            props |= set(b.props)
        if plan.common is not None:
            props |= set(plan.common.fields.get("properties", {}))
        reads: list[tuple[tuple, str]] = (
            [(("traits", i, "property"), t.property)] if getattr(t, "property", None) else []
        )
        reads += [(("traits", i, "where", j, "property"), c.property) for j, c in enumerate(t.where)]
        for where, prop in reads:
            head = prop.split(".", 1)[0]
            if head not in props:
                problems.append(
                    (where, f"property {head!r} is not in the plan's {key} {t.selected!r}{_close(head, props)}")
                )
    if problems:
        raise spec.problems(problems)


# --- as of -----------------------------------------------------------------------------------------
def parse_as_of(value: datetime | str | None) -> datetime | None:
    """``--as-of``: an ISO-8601 date-time or a date (midnight), UTC when it names no zone."""
    if value is None:
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(f"--as-of {value!r} is not an ISO-8601 date-time such as 2026-11-22T00:00:00Z") from None
    from cdp_cli.events.model import to_utc

    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    if to_utc(when) is None:
        raise UsageError(
            f"--as-of {value!s} is not a time in UTC (before year 1 or after 9999 once its offset is applied)"
        )
    return when


def settle_as_of(store: Any, as_of: datetime | str | None) -> tuple[datetime, str]:
    """``(as_of, where it came from)``: the one given, else the latest event timestamp of the
    profiles ``store`` (an InputError when there is none)."""
    when = parse_as_of(as_of)
    if when is not None:
        return when, "given"
    when = latest_timestamp(store.engine)
    if when is None:
        raise InputError(f"{store.dir}: events.parquet has no event with a timestamp; give --as-of")
    return when, "latest event"


def latest_timestamp(engine: Any) -> datetime | None:
    (row,) = engine.rows(sql.LATEST_TIMESTAMP.render(engine.dialect))
    ts = row[0]
    if ts is not None and ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts


def iso(ts: Any) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(ts)


# --- sql traits ------------------------------------------------------------------------------------
def check_sql_traits(engine: Any, spec: Spec, types: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Bind every ``sql`` trait's query on the engine before the run: it must return ``profile_id``
    and at least one value column, at most one row per profile; output names must be snake_case and
    unique. Returns each sql trait's value columns; fills ``types`` (output column -> Arrow type)."""
    from cdp_cli.errors import EngineError

    out: dict[str, list[str]] = {}
    problems: list[tuple[tuple, str]] = []
    for i, t in enumerate(spec.traits):
        if not isinstance(t, SqlTrait):
            continue
        where = ("traits", i, "query")
        try:
            schema = engine.arrow(sql.SQL_COLUMNS.fill(query=user_query(t))).schema
            names = schema.names
        except EngineError as e:
            problems.append((where, f"the query of {t.name!r} does not run: {e}"))
            continue
        values = [n for n in names if n != "profile_id"]
        if "profile_id" not in names or not values:
            problems.append(
                (where, f"the query of {t.name!r} must return profile_id and value columns; it returns {names}")
            )
            continue
        if len(set(names)) != len(names):
            problems.append((where, f"the query of {t.name!r} returns a column name twice: {names}"))
            continue
        bad = [c for c in sql_columns(t, values) if not NAME.match(c)]
        if bad:
            problems.append((where, f"the query of {t.name!r} makes columns that are not snake_case: {bad}"))
            continue
        dup = engine.rows(sql.SQL_DUPLICATES.fill(query=user_query(t)))
        if dup:
            problems.append(
                (
                    where,
                    f"the query of {t.name!r} returns {dup[0][1]} rows for profile {dup[0][0]!r}; one row per profile",
                )
            )
            continue
        out[t.name] = values
        if types is not None:
            for col, name in zip(values, sql_columns(t, values), strict=True):
                types[name] = str(schema.field(col).type)
    if not problems:
        seen: dict[str, str] = {}
        for i, t in enumerate(spec.traits):
            cols = sql_columns(t, out[t.name]) if isinstance(t, SqlTrait) else [t.name]
            for c in cols:
                if c in seen:
                    problems.append((("traits", i, "name"), f"column {c!r} is made twice (also by {seen[c]!r})"))
                seen[c] = t.name
    if problems:
        raise spec.problems(problems)
    return out


# --- running ----------------------------------------------------------------------------------------
@dataclass
class Prepared:
    store: Any
    spec: Spec
    as_of: datetime
    as_of_source: str
    compiled: Compiled
    sql_value_columns: dict[str, list[str]] = field(default_factory=dict)  #: per sql trait, its value columns
    sql_value_types: dict[str, str] = field(default_factory=dict)  #: per sql output column, its Arrow type


def prepare(
    store: Any,
    spec: Spec,
    as_of: datetime | str | None,
    *,
    profile_id: str | None = None,
    materialize: bool = False,
    one: Any = None,
    run_setup: bool = True,
) -> Prepared:
    """Check the sql traits, settle as_of, compile; with ``materialize``, compute the traits into a
    temporary table at once (the statement and the non-numeric counts then read it). ``one``: a
    :class:`~cdp_cli.traits.onepass.OnePass` shared with the audiences; then the caller creates its
    table and runs ``compiled.setup`` itself (``run_setup=False``)."""
    engine = store.engine
    when, source = settle_as_of(store, as_of)
    sql_types: dict[str, str] = {}
    columns = check_sql_traits(engine, spec, sql_types)
    compiled = compile_traits(
        spec.traits,
        engine.dialect,
        when,
        sql_value_columns=columns,
        profile_id=profile_id,
        materialize=MATERIALIZED if materialize else None,
        one=one,
    )
    if run_setup:
        for statement in compiled.setup:
            engine.execute(statement)
    return Prepared(store, spec, when, source, compiled, columns, sql_types)


#: the temporary table ``compute`` and ``preview`` compute the traits into
MATERIALIZED = "cdp_traits"


def non_numeric_counts(prepared: Prepared) -> dict[str, int]:
    stmt = prepared.compiled.non_numeric
    if stmt is None:
        return {}
    return {name: int(n) for name, n in prepared.store.engine.rows(stmt)}


def _written_ok(engine: Any, stmt: Any, raw: str, final: str) -> None:
    """The engine writes ``final`` stamped with the Parquet key-value metadata :data:`PARQUET_MARK`
    (``raw`` is unused: nothing is rewritten)."""
    engine.copy_parquet(stmt, final, metadata=PARQUET_MARK)


def write_parquet(engine: Any, stmt: Any, out: Path) -> None:
    """Write a query's result to ``out`` atomically (temporary sibling, renamed into place); an
    existing file only when cdp wrote it; a device or FIFO is written in place."""
    from cdp_cli.fsutil import (
        _is_special,
        _tmp_prefix,
        _umask,
        atomic_open,
        check_file_replaceable,
        output_error,
        remove_leftovers,
    )

    check_file_replaceable(out, "--out")
    if _is_special(out):
        with tempfile.TemporaryDirectory(prefix="cdp-traits-") as tmp:
            raw, final = os.path.join(tmp, "raw.parquet"), os.path.join(tmp, "traits.parquet")
            _written_ok(engine, stmt, raw, final)
            with atomic_open(out, "wb", flag="--out") as fh, open(final, "rb") as src:
                shutil.copyfileobj(src, fh)
        return
    if out.is_dir():
        raise OutputError(f"cannot write {out}: it is a directory")
    parent = out.parent if str(out.parent) else Path(".")
    temps: list[str] = []
    try:
        try:
            parent.mkdir(parents=True, exist_ok=True)
            remove_leftovers(out)
            for _ in range(2):
                fd, name = tempfile.mkstemp(prefix=_tmp_prefix(out.name), suffix=".tmp", dir=parent)
                os.close(fd)
                temps.append(name)
            os.unlink(temps[0])  # the engine creates it
            _written_ok(engine, stmt, temps[0], temps[1])
            os.chmod(temps[1], 0o666 & ~_umask())
            check_file_replaceable(out, "--out")  # nothing foreign arrived while we worked
            os.replace(temps[1], out)
        except OSError as e:
            raise output_error(out, e) from None
    finally:
        for name in temps:
            with contextlib.suppress(OSError):
                os.unlink(name)


# --- distributions ----------------------------------------------------------------------------------
def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    return value


def distributions(engine: Any, prepared: Prepared, show_values: bool = False) -> list[dict[str, Any]]:
    """Per output column over the relation ``traits_out``: values (non-null), min/max/mean for numbers
    and list lengths, top values for text (personal data withheld unless ``show_values``)."""
    import pyarrow as pa

    from cdp_cli.pii import withhold
    from cdp_cli.traits.conditions import hooks

    schema = engine.arrow("SELECT * FROM traits_out LIMIT 0").schema
    types = {t.name: t.type for t in prepared.spec.traits}
    length = hooks(engine.dialect).list_length
    kinds: list[str] = []
    parts: list[str] = []  # every column's counts in one scan (not one query per column)
    for col in prepared.compiled.columns:
        q = engine.dialect.quote_ident(col.name)
        atype = schema.field(col.name).type
        if pa.types.is_integer(atype) or pa.types.is_floating(atype) or pa.types.is_decimal(atype):
            kinds.append("number")
            parts.append(sql.NUMBER_STATS.fill(col=q))
        elif pa.types.is_list(atype) or pa.types.is_large_list(atype):
            kinds.append("list")
            parts.append(sql.LIST_STATS.fill(col=q, length=length(q)))
        else:
            kinds.append("text")
            parts.append(sql.TEXT_COUNT.fill(col=q))
    values = list(engine.rows(f"SELECT {', '.join(parts)} FROM traits_out")[0]) if parts else []
    stats = []
    for col, kind in zip(prepared.compiled.columns, kinds, strict=True):
        row: dict[str, Any] = {
            "trait": col.trait,
            "column": col.name,
            "type": types[col.trait],
            "arrow_type": str(schema.field(col.name).type),
        }
        if kind == "number":
            n, lo, hi, mean = values[:4]
            del values[:4]
            row.update(values=n, min=_fmt(lo), max=_fmt(hi), mean=_fmt(mean))
        elif kind == "list":
            n, lo, hi, mean = values[:4]
            del values[:4]
            row.update(values=n, min_items=lo, max_items=hi, mean_items=_fmt(mean))
        else:
            n = values.pop(0)
            top = engine.rows(sql.TOP_VALUES.fill(col=engine.dialect.quote_ident(col.name)))
            row.update(values=n, top=[{"value": withhold(str(v), show_values), "count": c} for v, c in top])
        stats.append(row)
    return stats


@dataclass
class TraitsResult(DefinitionResult):
    """What ``cdp traits compute`` wrote (or ``preview`` would write)."""

    command: str
    spec: Path
    profiles_dir: Path
    as_of: datetime
    as_of_source: str
    profiles: int
    columns: list[Column]
    stats: list[dict[str, Any]]
    non_numeric: dict[str, int]
    out: Path | None = None
    sample: list[dict[str, Any]] = field(default_factory=list)
    activation: dict[str, Any] | None = None  #: what --emit-events wrote (path, messages, profiles, per_key)

    def failed(self, strict: bool = False) -> bool:
        """With ``strict``: values that are not numbers in an aggregation fail the run."""
        return strict and any(self.non_numeric.values())

    def summary(self) -> dict[str, Any]:
        return {
            "spec": str(self.spec),
            "profiles_dir": str(self.profiles_dir),
            "out": str(self.out) if self.out is not None else None,
            "as_of": iso(self.as_of),
            "as_of_source": self.as_of_source,
            "profiles": self.profiles,
            "traits": len({c.trait for c in self.columns}),
            "columns": [{"name": c.name, "trait": c.trait, "kind": c.kind} for c in self.columns],
            "non_numeric": self.non_numeric,
            "distributions": self.stats,
            **({"sample": self.sample} if self.command == "traits preview" else {}),
            **({"activation": self.activation} if self.activation is not None else {}),
        }

    def tables(self) -> list[Table]:
        rows = []
        for s in self.stats:
            if "top" in s:
                spread = ", ".join(f"{t['value']} ({t['count']:,})" for t in s["top"])
                lo = hi = mean = ""
            elif "min_items" in s:
                spread = "items per list"
                lo, hi, mean = s["min_items"], s["max_items"], s["mean_items"]
            else:
                spread, lo, hi, mean = "", s["min"], s["max"], s["mean"]
            nn = self.non_numeric.get(s["trait"])
            if nn:
                spread = (spread + "; " if spread else "") + f"{plural(nn, 'value')} not a number (skipped)"
            rows.append([s["column"], s["type"], s["values"], lo, hi, mean, spread])
        tables = [
            Table(
                f"Traits as of {iso(self.as_of)} ({self.as_of_source})",
                ["trait", "type", "values", "min", "max", "mean", "top values / notes"],
                rows,
                numeric=frozenset({2, 3, 4, 5}),
            )
        ]
        if self.sample:  # one column per profile: traits are many, the sample is small
            names = [c for c in self.sample[0] if c != "profile_id"]
            tables.append(
                Table(
                    f"Sample ({plural(len(self.sample), 'profile')})",
                    ["trait", *[r["profile_id"] for r in self.sample]],
                    [[n, *[_cell(r[n]) for r in self.sample]] for n in names],
                )
            )
        return tables

    def verdict(self) -> str:
        n = len({c.trait for c in self.columns})
        what = f"{plural(n, 'trait')} for {plural(self.profiles, 'profile')} as of {iso(self.as_of)}"
        skipped = sum(self.non_numeric.values())
        note = f"; {plural(skipped, 'value')} in aggregations not a number (skipped)" if skipped else ""
        if self.activation is not None:
            a = self.activation
            note += (
                f"; {plural(a['messages'], 'activation event')} for {plural(a['profiles'], 'changed profile')}"
                f" into {a['path']}"
            )
        if self.out is not None:
            return f"computed {what} into {self.out}{note}"
        return f"preview: {what} (nothing written){note}"


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else value


def _open(profiles_dir: str | Path, engine: Any = None):
    from cdp_cli.identity.explain import ProfileStore

    return ProfileStore(profiles_dir, engine=engine)


def compute(
    profiles_dir: str | Path,
    spec_path: str | Path,
    out: str | Path,
    *,
    as_of: datetime | str | None = None,
    plan: Any = None,
    emit: Any = None,
    engine: Any = None,
) -> TraitsResult:
    """Compute the traits of ``spec_path`` for every profile of ``profiles_dir`` into ``out``; with
    ``emit`` (:class:`cdp_cli.activation.EmitOptions`), also the activation events of what changed;
    ``engine``: an :class:`~cdp_cli.engine.EngineChoice` (DuckDB by default)."""
    spec = begin(profiles_dir, spec_path, out, plan=plan, emit=emit)
    with _open(profiles_dir, engine) as store:
        prepared = prepare(store, spec, as_of, materialize=True)
        return finish(prepared, Path(out), emit)


def begin(
    profiles_dir: str | Path, spec_path: str | Path, out: str | Path, *, plan: Any = None, emit: Any = None
) -> Spec:
    """What :func:`compute` checks before it opens the profiles: the spec (and against ``plan``),
    ``emit``, and that no output is an input. The loaded spec."""
    from cdp_cli.fsutil import guard_outputs

    spec = load_spec(spec_path)
    if plan is not None:
        check_against_plan(spec, plan)
    if emit is not None:
        emit.check()
    outputs: dict[str, Path | None] = {"--out": Path(out), "--emit-events": Path(emit.path) if emit else None}
    guard_outputs(outputs, [Path(spec_path), Path(profiles_dir)])
    return spec


def finish(prepared: Prepared, out_path: Path, emit: Any = None) -> TraitsResult:
    """After :func:`prepare` (with ``materialize``, its setup run): write ``out_path`` (and the
    activation events of ``emit``); the result."""
    engine = prepared.store.engine
    previous = _previous(emit, prepared)  # read before --out (which may be the same file) is replaced
    activation = None
    if emit is None:
        write_parquet(engine, prepared.compiled.statement, out_path)
        if out_path.is_file():
            engine.register_parquet("traits_out", out_path)
        else:  # a device or FIFO: describe what was computed
            engine.register_arrow("traits_out", engine.arrow(prepared.compiled.statement))
    else:  # the log first: if it cannot be written, --out (the next --previous) stays as it was
        engine.register_arrow("traits_out", engine.arrow(prepared.compiled.statement))
        activation = emit_activation(emit, prepared, previous)
        # written by the engine from the computed table, as without --emit-events: the same column
        # types (through Arrow, a JSON column of an sql trait would become text)
        source = prepared.compiled.statement if prepared.compiled.setup else "SELECT * FROM traits_out"
        write_parquet(engine, source, out_path)
    result = _result("traits compute", prepared, out_path)
    result.activation = activation
    return result


def _computations(prepared: Prepared) -> list[Any]:
    from cdp_cli.activation import Computation

    return [Computation("trait", c.name, 0 if c.kind == "count" else None) for c in prepared.compiled.columns]


def _previous(emit: Any, prepared: Prepared) -> dict[str, dict[str, Any]] | None:
    if emit is None or emit.previous is None:
        return None
    from cdp_cli.activation import read_previous

    return read_previous(Path(emit.previous), [c.key for c in _computations(prepared)])


def emit_activation(emit: Any, prepared: Prepared, previous: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """The activation events (Segment identify/track messages) of the traits in ``traits_out`` that
    differ from ``previous`` (see :mod:`cdp_cli.activation`)."""
    from cdp_cli.activation import write

    engine = prepared.store.engine
    table = engine.arrow("SELECT * FROM traits_out")
    pids = table.column("profile_id").to_pylist()
    computations = _computations(prepared)
    current = {c.key: dict(zip(pids, table.column(c.key).to_pylist(), strict=True)) for c in computations}
    identifiers: dict[str, dict[str, list[str]]] = {}
    for row in engine.arrow("SELECT profile_id, identifiers FROM profiles").to_pylist():
        ids = row["identifiers"] or []
        identifiers[row["profile_id"]] = dict(ids.items() if isinstance(ids, dict) else ids)
    return write(emit, computations, current, identifiers, prepared.as_of, previous)


def _result(command: str, prepared: Prepared, out: Path | None, sample: int = 0) -> TraitsResult:
    engine = prepared.store.engine
    (count,) = engine.rows(sql.PROFILE_COUNT.render(engine.dialect))[0]
    rows: list[dict[str, Any]] = []
    if sample:
        from cdp_cli.pii import withhold

        name = "sample_limit"
        table = engine.arrow(sql.SAMPLE.fill(limit=engine.dialect.param(name)), {name: int(sample)}).to_pylist()
        for r in table:
            rows.append({k: _withheld(v, withhold) for k, v in r.items()})
    return TraitsResult(
        command=command,
        spec=prepared.spec.path,
        profiles_dir=Path(prepared.store.dir),
        as_of=prepared.as_of,
        as_of_source=prepared.as_of_source,
        profiles=int(count),
        columns=prepared.compiled.columns,
        stats=distributions(engine, prepared),
        non_numeric=non_numeric_counts(prepared),
        out=out,
        sample=rows,
    )


def _withheld(value: Any, withhold: Any) -> Any:
    if isinstance(value, str):
        return withhold(value)
    if isinstance(value, list):
        return [withhold(v) if isinstance(v, str) else v for v in value]
    return value


def preview(
    profiles_dir: str | Path, spec_path: str | Path, *, as_of: datetime | str | None = None, sample: int = 5
) -> TraitsResult:
    """Sizes, distributions and a sample of the traits; writes nothing."""
    spec = load_spec(spec_path)
    with _open(profiles_dir) as store:
        prepared = prepare(store, spec, as_of, materialize=True)
        store.engine.register_arrow("traits_out", store.engine.arrow(prepared.compiled.statement))
        return _result("traits preview", prepared, None, sample=max(0, sample))
