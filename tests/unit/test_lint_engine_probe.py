"""bench/lint_engine_probe.py measures a lower bound of lint's pre-check in DuckDB: its query must
clear a clean planned message and hold back each kind of message the full checks would flag, or the
figures it prints (bench/RESULTS.md) would be for a check that does less than it says."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _probe():
    spec = importlib.util.spec_from_file_location("lint_engine_probe", ROOT / "bench" / "lint_engine_probe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lint_engine_probe"] = module
    spec.loader.exec_module(module)
    return module


CLEAN = {
    "type": "track",
    "event": "Product Viewed",
    "userId": "u1",
    "messageId": "m1",
    "timestamp": "2026-11-30T10:00:00.000Z",
    "sentAt": "2026-11-30T10:00:01.000Z",
    "properties": {"product_id": "p1", "price": 9.5},
}


@pytest.mark.parametrize(
    ("change", "cleared"),
    [
        ({}, True),
        ({"type": "tarck"}, False),
        ({"userId": "  "}, False),
        ({"messageId": None}, False),
        ({"event": "Not In The Plan"}, False),
        ({"timestamp": "2026-11-30T12:00:00+02:00"}, False),  # an offset: the full check compares it
        ({"timestamp": "2027-06-01T00:00:00.000Z"}, False),  # after --now's bound
        ({"properties": {"product_id": "p1", "price": "9.5"}}, False),  # a string where the plan says number
        ({"properties": {"product_id": "p1", "note": "mail me at ann@example.com"}}, False),
        ({"properties": {"product_id": "p1", "note": "call +441234567890"}}, False),
    ],
)
def test_precheck_clears_only_what_the_full_checks_would_pass(change: dict, cleared: bool) -> None:
    duckdb = pytest.importorskip("duckdb")
    import yaml

    probe = _probe()
    shared = yaml.safe_load((ROOT / "plans" / "ecommerce" / "properties.yaml").read_text())["properties"]
    events = ["Product Viewed", "Order Completed"]
    message = {**CLEAN, **change}
    con = duckdb.connect()
    con.execute("CREATE TABLE lines (line VARCHAR)")
    con.execute("INSERT INTO lines VALUES (?), ('{not json')", [json.dumps(message)])
    for properties in (None, shared):
        sql = probe.precheck_sql(events, "2000-01-01T00:00:00", "2026-12-03T00:00:00", properties)
        clean, total = con.execute(sql).fetchone()
        assert total == 1  # the broken line never counts as checked
        typed_only = "price" in change.get("properties", {}) and change["properties"]["price"] == "9.5"
        expected = cleared or (typed_only and properties is None)  # only the second query checks types
        assert clean == int(expected), (change, properties is not None)
