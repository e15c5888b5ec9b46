"""``--show-sql --dialect spark`` prints the SQL cdp runs with ``--engine spark``: each printed
statement, run as printed on Spark, gives DuckDB's values (traits) and members (audiences)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cdp_cli.engine import available_engines, connect
from cdp_cli.traits.showsql import trait_statements
from tests.unit.test_show_sql import PROFILES, SPEC, _events_table, _prepared, _rows, _values

pytestmark = pytest.mark.skipif("spark" not in available_engines(), reason="pyspark or Java missing")

TRAITS = {
    "traits": [
        *SPEC["traits"],
        {"name": "cats", "type": "unique_list", "event": "Order Completed", "property": "category"},
        {"name": "top_cat", "type": "most_frequent", "event": "Order Completed", "property": "category"},
        {"name": "avg_rev", "type": "aggregation", "function": "avg", "event": "Order Completed",
         "property": "revenue"},
    ]
}  # fmt: skip


def test_the_printed_spark_sql_runs_on_spark_and_gives_duckdbs_values():
    table = _events_table(_rows())
    with connect("duckdb") as duck, connect("spark") as spark:
        for eng in (duck, spark):
            eng.register_arrow("events", table)
            eng.register_arrow("profiles", pa.table({"profile_id": PROFILES}))
        prepared = _prepared(duck, TRAITS)
        expected = duck.arrow(prepared.compiled.statement).to_pylist()
        printed = trait_statements(prepared, "spark")
        for s in printed.statements:
            got = _values(spark.rows(s.sql))
            want = _values([(r["profile_id"], r[s.trait]) for r in expected])
            if s.trait == "avg_rev":
                got = {k: round(v, 9) if v is not None else v for k, v in got.items()}
                want = {k: round(v, 9) if v is not None else v for k, v in want.items()}
            assert got == want, f"{s.trait}\n{s.sql}"
            assert any(v not in (None, 0, []) for v in want.values()), s.trait  # the data exercises it
