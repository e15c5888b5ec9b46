"""``--show-sql``: one statement per trait with literals inlined; the DuckDB text runs and gives the
computed values; the PostgreSQL transpilation runs on a real, throwaway PostgreSQL server (skipped
when no PostgreSQL binaries are installed) and gives DuckDB's values; known transpile pitfalls are
spelled per dialect or named in a warning comment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pyarrow as pa
import pytest

from cdp_cli.definitions import parse_definition
from cdp_cli.engine import connect
from cdp_cli.schemas import events as events_schema
from cdp_cli.traits.compiler import compile_traits
from cdp_cli.traits.definitions import TraitsFile
from cdp_cli.traits.showsql import DIALECTS, trait_statements
from tests.conftest import run_cdp

AS_OF = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
PROFILES = ["p0", "p1", "p2", "p3"]  # p3 has no events
SPEC = {
    "traits": [
        {
            "name": "big_orders_30d",
            "type": "event_counter",
            "event": "Order Completed",
            "within": "30d",
            "where": [{"property": "revenue", "op": ">", "value": 20}],
        },
        {"name": "revenue_total", "type": "aggregation", "function": "sum", "event": "Order Completed",
         "property": "revenue"},
        {"name": "first_category", "type": "first", "event": "Order Completed", "property": "category"},
        {"name": "last_category", "type": "last", "event": "Order Completed", "property": "category"},
        {"name": "cat_a_orders", "type": "event_counter", "event": "Order Completed",
         "where": [{"property": "category", "op": "=", "value": "a"}]},
    ]
}  # fmt: skip


def _rows() -> list[dict]:
    rows = []
    for i in range(40):
        pid = PROFILES[i % 3]
        revenue: object = [5, 25, 40.5, "30", None][i % 5]  # "30" is text: never a number
        props = {"category": ["a", "b", "c"][i % 3 if i % 7 else 0]}
        if revenue is not None:
            props["revenue"] = revenue
        rows.append(
            {
                "message_id": f"m{i:03d}",
                "profile_id": pid,
                "type": "track",
                "event": "Order Completed" if i % 4 else "Product Viewed",
                # ties on timestamp (i // 2) are broken by message_id
                "timestamp": AS_OF - timedelta(days=3 * (i // 2), hours=i % 2 * 0),
                "received_at": None,
                "properties": json.dumps(props),
                "file": "log.ndjson",
                "line": i + 1,
            }
        )
    rows.append({**rows[1], "message_id": "late", "timestamp": AS_OF + timedelta(hours=1), "line": 99})
    return rows


def _events_table(rows: list[dict]) -> pa.Table:
    schema = events_schema()
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table({k: pa.array(v, schema.field(k).type) for k, v in cols.items()}, schema=schema)


def _prepared(engine, spec=SPEC):
    traits = parse_definition(spec, TraitsFile).traits
    compiled = compile_traits(traits, engine.dialect, AS_OF)
    return SimpleNamespace(
        store=SimpleNamespace(engine=engine),
        spec=SimpleNamespace(traits=traits),
        as_of=AS_OF,
        compiled=compiled,
        sql_value_columns={},
    )


@pytest.fixture(scope="module")
def duck():
    with connect() as engine:
        engine.register_arrow("events", _events_table(_rows()))
        engine.register_arrow("profiles", pa.table({"profile_id": PROFILES}))
        yield engine


def _values(rows) -> dict[str, object]:
    return {
        r[0]: (float(r[1]) if isinstance(r[1], (int, float)) and not isinstance(r[1], bool) else r[1]) for r in rows
    }


def test_duckdb_statements_inline_literals_and_give_the_computed_values(duck):
    prepared = _prepared(duck)
    result = trait_statements(prepared, "duckdb")
    expected = duck.arrow(prepared.compiled.statement).to_pylist()
    assert [s.trait for s in result.statements] == [t["name"] for t in SPEC["traits"]]
    for s in result.statements:
        assert "$" not in s.sql.replace("'$.", "") and "'Order Completed'" in s.sql
        assert "CAST('2026-11-15 12:00:00+00:00' AS TIMESTAMPTZ)" in s.sql
        got = _values(duck.rows(s.sql))
        assert got == _values([(r["profile_id"], r[s.trait]) for r in expected]), s.trait
    text = result.text()
    assert text.count("-- trait: ") == len(SPEC["traits"]) and text.count(";\n") == len(SPEC["traits"])


def test_every_dialect_transpiles_and_names_what_it_cannot_spell(duck):
    spec = {
        "traits": [
            *SPEC["traits"],
            {"name": "cats", "type": "unique_list", "event": "Order Completed", "property": "category"},
            {"name": "recent", "type": "event_counter", "event": "*",
             "where": [{"property": "when", "op": "after", "value": "2026-01-01"}]},
        ]
    }  # fmt: skip
    prepared = _prepared(duck, spec)
    for dialect in DIALECTS:
        result = trait_statements(prepared, dialect)
        by = {s.trait: s for s in result.statements}
        text = result.text()
        assert "CDP_DISTINCT_SORTED" not in text
        if dialect == "duckdb":
            continue
        assert "list_sort" not in text.lower() and "array_distinct" not in text.lower()
        assert "json_type(e" not in by["big_orders_30d"].sql  # DuckDB's spelling never leaks
        if dialect == "spark":  # cdp's own Spark SQL (run on Spark in tests/engine/test_show_sql_spark.py)
            assert not any(s.warnings for s in result.statements)
            assert "schema_of_variant" in by["big_orders_30d"].sql and "array_sort(collect_set(" in by["cats"].sql
            assert "CAST('2026-11-15 12:00:00+00:00' AS TIMESTAMP_LTZ)" in by["big_orders_30d"].sql
            assert text.startswith("-- cdp traits as of 2026-11-15T12:00:00Z, spark SQL (as cdp runs it)")
            continue
        else:
            assert "CDP_JSON_KIND" not in text and not by["big_orders_30d"].warnings
        if dialect != "snowflake":
            assert any("TRY_CAST" in w for w in by["recent"].warnings)
        assert "best effort" in text.splitlines()[0]
        if dialect == "postgres":
            assert "ARRAY_AGG(DISTINCT v ORDER BY v)" in by["cats"].sql


# --- a real PostgreSQL --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def postgres(pg_server):
    """A database of its own on the session's throwaway PostgreSQL server (tests/pg.py)."""
    import psycopg

    from tests.pg import fresh_database

    with psycopg.connect(fresh_database(pg_server, "show_sql"), autocommit=True) as conn:
        yield conn


def _load(conn, rows: list[dict]) -> None:
    conn.execute("SET TIME ZONE 'UTC'")
    conn.execute(
        "CREATE TABLE events (message_id text, profile_id text, type text, event text, timestamp timestamptz, "
        "received_at timestamptz, user_id text, anonymous_id text, group_id text, properties json, "
        "traits json, context json, file text, line bigint, batch_index integer)"
    )
    conn.execute("CREATE TABLE profiles (profile_id text)")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO events (message_id, profile_id, type, event, timestamp, received_at, properties, file, line) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (r["message_id"], r["profile_id"], r["type"], r["event"], r["timestamp"], r["received_at"],
                 r["properties"], r["file"], r["line"])
                for r in rows
            ],
        )  # fmt: skip
        cur.executemany("INSERT INTO profiles VALUES (%s)", [(p,) for p in PROFILES])


def test_postgres_transpilation_gives_duckdbs_values(duck, postgres):
    _load(postgres, _rows())
    prepared = _prepared(duck)
    expected = duck.arrow(prepared.compiled.statement).to_pylist()
    for s in trait_statements(prepared, "postgres").statements:
        got = _values(postgres.execute(s.sql).fetchall())
        want = _values([(r["profile_id"], r[s.trait]) for r in expected])
        assert got == want, f"{s.trait}\n{s.sql}"
    assert any(v for v in want.values())  # the data exercises the trait


def test_cli_show_sql_prints_and_writes_nothing(tmp_path):
    log = [
        {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1",
         "timestamp": "2026-11-01T00:00:00Z", "properties": {"revenue": 30, "category": "a"}},
    ]  # fmt: skip
    (tmp_path / "log.ndjson").write_text("".join(json.dumps(m) + "\n" for m in log))
    (tmp_path / "traits.yaml").write_text(json.dumps(SPEC))
    assert run_cdp("profiles", "resolve", "log.ndjson", "--out", "profiles", cwd=tmp_path).returncode == 0
    args = ["traits", "compute", "--profiles", "profiles", "--spec", "traits.yaml", "--out", "t.parquet"]
    r = run_cdp(*args, "--show-sql", "--dialect", "postgres", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "-- trait: revenue_total" in r.stdout and "json_typeof" in r.stdout and not (tmp_path / "t.parquet").exists()
    r = run_cdp("traits", "preview", "--profiles", "profiles", "--spec", "traits.yaml", "--show-sql", cwd=tmp_path)
    assert r.returncode == 0 and "json_type(" in r.stdout and "CAST('2026-11-01 00:00:00+00:00'" in r.stdout
    r = run_cdp(*args, "--show-sql", "--dialect", "oracle", cwd=tmp_path)
    assert r.returncode == 2 and "oracle" in r.stderr
