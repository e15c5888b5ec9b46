"""``--show-sql``: the SQL each trait compiles to, one readable statement per trait, with its bound
parameters inlined as literals, in the SQL of one of cdp's engines (DuckDB, Spark: rendered from
the definitions exactly as that engine runs them, proven equal by the conformance suite in
``tests/engine``) or transpiled from DuckDB's to another dialect with sqlglot.

Transpiled dialects are best effort. The compiled SQL is portable except for a few
constructs sqlglot is known to transpile wrongly or not at all; those are handled here:

- the JSON type of a value (``json_type`` in DuckDB, used to tell ``10`` from ``"10"``) is spelled per
  dialect (PostgreSQL ``json_typeof``, BigQuery ``JSON_TYPE``, Snowflake ``TYPEOF``);
- the sorted distinct list of ``unique_list`` is spelled per dialect (sqlglot turns DuckDB's list
  functions into functions PostgreSQL lacks, and drops the order of ``array_agg(DISTINCT ... ORDER BY)``
  on Spark);
- ``TRY_CAST`` (date filters ``before``/``after``) becomes ``CAST`` in most dialects (a text that is
  not a date then fails the query instead of being NULL): a warning comment names it;
- an ``sql`` trait's query is the user's DuckDB SQL, transpiled as written: a warning comment says so.

Statements assume the tables ``events``, ``profiles`` and ``identities`` with the columns of
``cdp_cli/schemas.py``, ``properties`` holding JSON text (PostgreSQL: ``json``/``jsonb`` or text).

sqlglot is imported only when a dialect other than DuckDB is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cdp_cli.errors import UsageError
from cdp_cli.traits.compiler import compile_traits
from cdp_cli.traits.definitions import SqlTrait

DIALECTS = ("duckdb", "spark", "snowflake", "bigquery", "postgres")
#: dialects of cdp's own engines: rendered from the definitions as the engine runs them, not transpiled
NATIVE = ("spark",)


def engine_dialect(name: str) -> Any:
    from cdp_cli.engine import dialect as _dialect

    return _dialect(name)


_KIND = "CDP_JSON_KIND"
_SORTED = "CDP_DISTINCT_SORTED"


def _json_kind_pattern(dialect: Any) -> re.Pattern[str]:
    """DuckDB's JSON-type CASE (as :data:`cdp_cli.traits.conditions.JSON_HOOKS` spells it) as a regex."""
    from cdp_cli.traits.conditions import hooks

    text = hooks(dialect).kind("\x00E\x00", "\x00P\x00")
    return re.compile(
        re.escape(text).replace("\x00E\x00", r"(?P<expr>[^,()]+)").replace("\x00P\x00", r"(?P<path>'(?:[^']|'')*')")
    )


def _path_parts(json_path: str) -> list[str | int]:
    """``$."a"[0]."b"`` (as :func:`cdp_cli.traits.conditions.json_path` writes it) -> ``["a", 0, "b"]``."""
    parts: list[str | int] = []
    for m in re.finditer(r'\[(\d+)\]|\."((?:[^"\\]|\\.)*)"', json_path):
        if m.group(1) is not None:
            parts.append(int(m.group(1)))
        else:
            parts.append(re.sub(r"\\(.)", r"\1", m.group(2)))
    return parts


def _str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _dotted(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + p
    return out


def _kind_sql(target: str, expr: str, parts: list[str | int]) -> str | None:
    """The JSON type (string, number, boolean, null, array, object; NULL when absent) in ``target``."""
    if target == "postgres":
        args = ", ".join(_str(str(p)) for p in parts)
        return f"json_typeof(json_extract_path(CAST({expr} AS JSON), {args}))"
    if target == "bigquery":
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f'."{p}"' for p in parts)
        return f"JSON_TYPE(JSON_QUERY(PARSE_JSON({expr}), {_str(path)}))"
    if target == "snowflake":
        return (
            f"CASE TYPEOF(GET_PATH(PARSE_JSON({expr}), {_str(_dotted(parts))})) WHEN 'VARCHAR' THEN 'string' "
            "WHEN 'INTEGER' THEN 'number' WHEN 'DECIMAL' THEN 'number' WHEN 'DOUBLE' THEN 'number' "
            "WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL_VALUE' THEN 'null' WHEN 'ARRAY' THEN 'array' "
            "WHEN 'OBJECT' THEN 'object' END"
        )
    return None


_SORTED_SQL = {
    "postgres": "ARRAY_AGG(DISTINCT {v} ORDER BY {v})",
    "bigquery": "ARRAY_AGG(DISTINCT {v} ORDER BY {v})",
    "snowflake": "ARRAY_AGG(DISTINCT {v}) WITHIN GROUP (ORDER BY {v})",
    "spark": "array_sort(collect_set({v}))",
}


def inline(sql: str, params: dict[str, Any], dialect: Any) -> str:
    """Bound parameters as literals (for display): timestamps as ``CAST('...' AS TIMESTAMPTZ)``."""

    def literal(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            return m.group(0)
        value = params[name]
        if isinstance(value, datetime):
            when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
            return str(dialect.timestamp_literal(when.astimezone(UTC).isoformat(sep=" ")))
        if isinstance(value, date):
            return f"CAST('{value.isoformat()}' AS DATE)"
        return str(dialect.literal(value))

    marker = re.escape(dialect.param("\x00")).replace("\x00", "")
    return re.sub(marker + r"([A-Za-z_]\w*)(?!\w)", literal, sql)


@dataclass
class NamedSql:
    """One statement of ``--show-sql``: a trait's or an audience's."""

    name: str
    sql: str
    warnings: list[str] = field(default_factory=list)

    @property
    def trait(self) -> str:
        return self.name


TraitSql = NamedSql


def transpile(sql: str, name: str, target: str, duck: Any, *, what: str = "trait", notes: list[str] | None = None):
    """DuckDB ``sql`` (parameters inlined) in ``target`` through sqlglot, with the constructs sqlglot
    gets wrong spelled here and a warning for each one that has no faithful spelling; ``notes``:
    warnings the caller knows of. Shared by traits and audiences."""
    warnings: list[str] = list(notes or [])
    paths: list[tuple[str, str]] = []

    def kind(m: re.Match[str]) -> str:
        paths.append((m.group("expr"), m.group("path")[1:-1].replace("''", "'")))
        return f"{_KIND}({m.group('expr')}, {len(paths) - 1})"

    marked = _json_kind_pattern(duck).sub(kind, sql)
    sorted_duck = duck.array_agg_distinct_sorted("v")
    marked = marked.replace(sorted_duck, f"{_SORTED}(v)")
    if "TRY_CAST" in marked.upper() and target != "snowflake":
        warnings.append(
            f"TRY_CAST (date filters before/after) becomes CAST in {target}: a text that is not a date fails "
            "the query instead of counting as no match"
        )
    import sqlglot

    try:
        out = sqlglot.transpile(marked, read="duckdb", write=target, pretty=True)[0]
    except sqlglot.errors.SqlglotError as e:
        raise UsageError(f"{what} {name!r}: sqlglot cannot transpile its SQL to {target}: {e}") from None

    def unkind(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        spelled = _kind_sql(target, expr, _path_parts(paths[int(m.group(2))][1]))
        if spelled is None:
            return ""  # marked below
        return spelled

    if paths and _kind_sql(target, "x", []) is None:
        warnings.append(
            f"json_type: {target} has no function telling a JSON number from a string; typed comparisons "
            f"and number values need {_KIND}(expr, path) rewritten by hand"
        )
    else:
        out = re.sub(_KIND + r"\(\s*(.+?),\s*(\d+)\s*\)", unkind, out, flags=re.S)
    out = re.sub(_SORTED + r"\(\s*(\w+)\s*\)", lambda m: _SORTED_SQL[target].format(v=m.group(1)), out)
    return NamedSql(name, out, warnings)


@dataclass
class SqlResult:
    """What ``--show-sql`` prints (``what``: trait or audience)."""

    dialect: str
    as_of: datetime
    statements: list[NamedSql]
    what: str = "trait"
    header: list[str] = field(default_factory=list)  #: comment lines after the first

    def text(self) -> str:
        from cdp_cli.traits.compute import iso

        how = "as cdp runs it" if self.dialect == "duckdb" or self.dialect in NATIVE else "best effort"
        lines = [f"-- cdp {self.what}s as of {iso(self.as_of)}, {self.dialect} SQL ({how})"]
        lines += [f"-- {h}" for h in self.header]
        for s in self.statements:
            lines.append("")
            lines.append(f"-- {self.what}: {s.name}")
            lines += [f"-- warning: {w}" for w in s.warnings]
            lines.append(s.sql.strip("\n").rstrip() + ";")
        return "\n".join(lines) + "\n"

    def summary(self) -> dict[str, Any]:
        from cdp_cli.traits.compute import iso

        return {
            "dialect": self.dialect,
            "as_of": iso(self.as_of),
            f"{self.what}s": [{self.what: s.name, "sql": s.sql, "warnings": s.warnings} for s in self.statements],
        }


def trait_statements(prepared: Any, dialect: str = "duckdb") -> SqlResult:
    """One statement per trait of a :class:`~cdp_cli.traits.compute.Prepared` run, in ``dialect``."""
    if dialect not in DIALECTS:
        raise UsageError(f"--dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    duck = prepared.store.engine.dialect
    out = []
    for t in prepared.spec.traits:
        if dialect in NATIVE:  # the SQL cdp itself runs with --engine spark (the conformance suite's)
            native = engine_dialect(dialect)
            compiled = compile_traits(
                [t], native, prepared.as_of, sql_value_columns=prepared.sql_value_columns, combined=False
            )
            notes = [f"the query of sql trait {t.name!r} is your DuckDB SQL as written: check it"]
            out.append(NamedSql(t.name, readable(compiled.statement, native), notes if isinstance(t, SqlTrait) else []))
            continue
        compiled = compile_traits(
            [t], duck, prepared.as_of, sql_value_columns=prepared.sql_value_columns, combined=False
        )
        text = readable(compiled.statement, duck)
        if dialect == "duckdb":
            out.append(NamedSql(t.name, text))
        else:
            notes = [f"the query of sql trait {t.name!r} is DuckDB SQL transpiled as written: check it"]
            out.append(transpile(text, t.name, dialect, duck, notes=notes if isinstance(t, SqlTrait) else None))
    return SqlResult(dialect, prepared.as_of, out)


def readable(statement: Any, duck: Any) -> str:
    """A compiled statement with its parameters inlined, dedented by the templates' four spaces."""
    text = inline(statement.sql, statement.params, duck)
    return "\n".join(line[4:] if line.startswith("    ") else line for line in text.strip("\n").splitlines())


def check_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise UsageError(f"--dialect {dialect!r}: one of {', '.join(DIALECTS)}")


def show_sql(profiles_dir: str | Path, spec_path: str | Path, *, as_of: Any = None, dialect: str = "duckdb"):
    """Load, check and compile the traits of ``spec_path`` over ``profiles_dir``; nothing runs."""
    from cdp_cli.traits.compute import _open, load_spec, prepare

    if dialect not in DIALECTS:
        raise UsageError(f"--dialect {dialect!r}: one of {', '.join(DIALECTS)}")
    spec = load_spec(spec_path)
    with _open(profiles_dir) as store:
        return trait_statements(prepare(store, spec, as_of), dialect)
