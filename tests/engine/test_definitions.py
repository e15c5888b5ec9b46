"""The engine conformance suite for definitions: every trait type and every audience condition gives
the same results on every engine, each checked against the plain Python computations of the unit
tests (tests/unit/test_traits.py, tests/unit/test_audiences.py): windows to the hour and the
microsecond, ties, nulls, missing and non-numeric values, account level, funnels, references.

DuckDB runs these examples in the unit tests by the hundred; here every installed engine runs a fixed
handful (Spark's jobs take a second each), in each form compute and ``cdp run`` use.
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.unit import test_audiences as aud
from tests.unit import test_traits as tr

FEW = settings(
    max_examples=2,
    deadline=None,
    derandomize=True,  # the same examples on every engine and every run
    phases=[Phase.explicit, Phase.generate],  # no shrinking: an engine's job takes a second
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _plain(t: pa.DataType):
    """A column's type without its list item's name and nullability (engines name them differently)."""
    return ("list", _plain(t.value_type)) if pa.types.is_list(t) else t


def _check_traits(rows, engine_name, forms=("one pass, materialized", "one pass, shared table")):
    want, want_nn = tr._reference(rows), tr._non_numeric(rows)
    for form in forms:
        got, nn, schema = tr._compute(rows, form, engine_name)
        for p in tr.PROFILES:
            for t in tr.SPEC["traits"]:
                name = t["name"]
                assert tr._same(got[p][name], want[p][name]), (engine_name, form, p, name, got[p][name], want[p][name])
        for name, n in want_nn.items():
            assert nn[name] == n, (engine_name, form, name, nn[name], n)
    return got, nn, schema


@FEW
@given(rows=tr.event_lists())
def test_every_trait_type_is_the_same_on_every_engine(engine_name, rows):
    _check_traits(rows, engine_name)


def test_trait_boundaries_ties_and_types_are_the_same_on_every_engine(engine_name):
    _, _, duck_schema = tr._compute([], "one pass, materialized", "duckdb")
    got, _, schema = _check_traits([], engine_name, forms=("one pass, materialized",))
    assert schema.names == duck_schema.names
    assert [_plain(t) for t in schema.types] == [_plain(t) for t in duck_schema.types]
    base = {"type": "track", "event": "Product Viewed", "received_at": None, "group_id": None, "file": "f"}
    cats = ["b", "a", "b", "a", "c", "c", "C"]
    rows = [
        {
            **base,
            "message_id": f"m{i}",
            "profile_id": "p0",
            "timestamp": tr.AS_OF - timedelta(hours=i),
            "line": i,
            "properties": f'{{"category": "{c}"}}',
        }
        for i, c in enumerate(cats)
    ]
    # a tie at one microsecond: same timestamp, no receivedAt, the messageId decides
    rows += [
        {
            **base,
            "event": "Order Completed",
            "message_id": m,
            "profile_id": "p1",
            "timestamp": tr.AS_OF,
            "line": 9,
            "properties": f'{{"category": "{m}", "revenue": 1.50}}',
        }
        for m in ("a", "c")
    ]
    rows.append(
        {
            **base,
            "event": "Order Completed",
            "message_id": "z",
            "profile_id": "p1",
            "timestamp": tr.AS_OF + timedelta(microseconds=1),
            "line": 10,
            "properties": '{"category": "late"}',
        }
    )
    got, _, _ = _check_traits(rows, engine_name, forms=("one pass, materialized", "per trait", "one pass"))
    assert got["p0"]["fav"] == "a" and got["p0"]["cats"] == ["C", "a", "b", "c"] and got["p0"]["cat_count"] == 4
    assert got["p1"]["last_cat"] == "c" and got["p1"]["revenue_sum"] == 3.0


@FEW
@given(rows=aud.event_lists())
def test_every_audience_condition_is_the_same_on_every_engine(tmp_path, engine_name, rows):
    want = aud._reference(rows)
    assert aud._run(tmp_path, rows, engine_name=engine_name) == want
    assert aud._run(tmp_path, rows, shared=True, engine_name=engine_name) == want
    assert aud._run(tmp_path, rows, combined=False, engine_name=engine_name) == want


@pytest.mark.parametrize("hours", [72, 73])
def test_audience_window_edges_are_the_same_on_every_engine(tmp_path, engine_name, hours):
    rows = [
        {"profile_id": "p0", "event": "A", "ts": aud.AS_OF - timedelta(hours=hours), "revenue": None, "i": 0},
        {"profile_id": "p0", "event": "A", "ts": aud.AS_OF - timedelta(hours=1), "revenue": 30, "i": 1},
        {"profile_id": "p1", "event": "A", "ts": aud.AS_OF - timedelta(hours=10), "revenue": "40", "i": 2},
        {"profile_id": "p1", "event": "B", "ts": aud.AS_OF - timedelta(hours=8), "revenue": None, "i": 3},
        {"profile_id": "p1", "event": "A", "ts": aud.AS_OF - timedelta(hours=5), "revenue": None, "i": 4},
    ]
    got = aud._run(tmp_path, rows, engine_name=engine_name)
    assert got == aud._reference(rows)
    assert got["p0"]["buy2_3d"] is (hours == 72)
