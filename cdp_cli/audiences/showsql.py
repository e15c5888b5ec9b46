"""``cdp audiences compute|preview --show-sql``: the SQL of each audience, one readable statement per
audience (with the CTEs of the audiences it refers to), its bound parameters inlined as literals, in
the SQL cdp runs on DuckDB or Spark, or transpiled from DuckDB's to another dialect with sqlglot by
:func:`cdp_cli.traits.showsql.transpile` (the same spellings and warnings as traits).

Spelled here for every transpiled dialect: a funnel's time limit (DuckDB ``to_hours``) as an ``INTERVAL`` and the
JSON object of the computed traits (``--traits``) as each dialect builds JSON text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cdp_cli.audiences.compiler import compile_audiences
from cdp_cli.audiences.definitions import references
from cdp_cli.traits.showsql import NATIVE, NamedSql, SqlResult, check_dialect, engine_dialect, readable, transpile


class _Only:
    """The part of a spec one audience needs: itself and the audiences it refers to (transitively)."""

    def __init__(self, spec: Any, key: str) -> None:
        by_key = {a.key: a for a in spec.audiences}
        need: set[str] = set()
        todo = [key]
        while todo:
            k = todo.pop()
            if k not in need:
                need.add(k)
                todo += [r.leaf.audience for r in references(by_key[k].tree)]
        self.audiences = [a for a in spec.audiences if a.key in need]
        self._ordered = [a for a in spec.ordered() if a.key in need]

    def ordered(self) -> list[Any]:
        return self._ordered


_OBJECT = "CDP_JSON_OBJECT"
_OBJECT_SQL = {
    "postgres": "CAST(json_build_object({a}) AS TEXT)",
    "bigquery": "TO_JSON_STRING(JSON_OBJECT({a}))",
    "snowflake": "TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL({a}))",
    "spark": "to_json(named_struct({a}))",
}


def _transpiled(text: str, key: str, target: str, duck: Any) -> NamedSql:
    """Spelled here before sqlglot: a funnel's time limit (DuckDB ``to_hours``, which sqlglot leaves
    as is) as an ``INTERVAL``; the JSON object of the computed traits per dialect (sqlglot's
    ``json_object`` is missing or returns JSON, not text, in most of them)."""
    text = re.sub(r"to_hours\(CAST\((\d+) AS BIGINT\)\)", r"INTERVAL '\1' HOUR", text)
    text = re.sub(r"CAST\(json_object\(([^()]*)\) AS VARCHAR\)", _OBJECT + r"(\1)", text)
    out = transpile(text, key, target, duck, what="audience")
    out.sql = re.sub(_OBJECT + r"\(([^()]*)\)", lambda m: _OBJECT_SQL[target].format(a=m.group(1).strip()), out.sql)
    if target == "spark" and _OBJECT_SQL["spark"][:7] in out.sql:
        out.warnings.append("spark: to_json leaves out computed traits that are null (read as absent: the same)")
    return out


def audience_statements(prepared: Any, dialect: str = "duckdb") -> SqlResult:
    """One statement per audience of a :class:`~cdp_cli.audiences.compute.Prepared` run, in ``dialect``."""
    check_dialect(dialect)
    duck = prepared.store.engine.dialect
    out = []
    for a in prepared.spec.audiences:
        part = _Only(prepared.spec, a.key)
        used = {n.leaf.trait.split(".", 1)[0] for b in part.audiences for n in b.tree.walk() if n.kind == "trait"}
        columns = prepared.trait_columns & used  # the same source per trait; traits_in only when needed
        if dialect in NATIVE:  # the SQL cdp itself runs with --engine spark
            native = engine_dialect(dialect)
            compiled = compile_audiences(
                part, native, prepared.as_of, trait_columns=columns, only=a.key, combined=False
            )
            out.append(NamedSql(a.key, readable(compiled.statement, native)))
            continue
        compiled = compile_audiences(part, duck, prepared.as_of, trait_columns=columns, only=a.key, combined=False)
        text = readable(compiled.statement, duck)
        if dialect == "duckdb":
            out.append(NamedSql(a.key, text))
        else:
            out.append(_transpiled(text, a.key, dialect, duck))
    header = ["tables: events, profiles, identities (cdp profiles resolve)"]
    if prepared.trait_columns:
        header[0] += ", traits_in (--traits)"
    header.append("each statement: profile_id and one boolean column, true for the audience's members")
    return SqlResult(dialect, prepared.as_of, out, what="audience", header=header)


def show_sql(
    profiles_dir: str | Path,
    spec_path: str | Path,
    *,
    traits: str | Path | None = None,
    as_of: Any = None,
    dialect: str = "duckdb",
) -> SqlResult:
    """Load, check and compile the audiences of ``spec_path`` over ``profiles_dir``; nothing runs."""
    from cdp_cli.audiences.compute import _open, load_spec, prepare

    check_dialect(dialect)
    spec = load_spec(spec_path)
    with _open(profiles_dir) as store:
        return audience_statements(prepare(store, spec, as_of, traits), dialect)
