"""Computed traits: every trait type against an independent, straightforward Python computation over
generated events (windows to the hour, ties, nulls, missing and non-numeric values, profiles without
events, account level); definition errors with file:line:col; the plan check; the written file."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp_cli.definitions import parse_definition
from cdp_cli.engine import connect
from cdp_cli.errors import ConfigError
from cdp_cli.schemas import events as events_schema
from cdp_cli.traits.compiler import compile_traits
from cdp_cli.traits.compute import check_against_plan, load_spec
from cdp_cli.traits.definitions import TraitsFile

AS_OF = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
PROFILES = [f"p{i}" for i in range(6)]  # p5 never has events

# --- the traits under test ----------------------------------------------------------------------------
SPEC = {
    "traits": [
        {"name": "orders", "type": "event_counter", "event": "Order Completed"},
        {"name": "orders_30d", "type": "event_counter", "event": "Order Completed", "within": "30d"},
        {"name": "orders_12h", "type": "event_counter", "event": "Order Completed", "within": "12h"},
        {
            "name": "orders_oct",
            "type": "event_counter",
            "event": "Order Completed",
            "between": ["2026-10-16", "2026-11-15T06:00:00Z"],
        },
        {
            "name": "big_orders",
            "type": "event_counter",
            "event": "Order Completed",
            "where": [{"property": "revenue", "op": ">", "value": 20}],
        },
        {
            "name": "cheap_a",
            "type": "event_counter",
            "event": "Order Completed",
            "where": [
                {"property": "revenue", "op": "<=", "value": 20},
                {"property": "category", "op": "one_of", "value": ["a", "b"]},
            ],
        },
        {
            "name": "not_a",
            "type": "event_counter",
            "event": "*",
            "where": [{"property": "category", "op": "!=", "value": "a"}],
        },
        {
            "name": "text_ops",
            "type": "event_counter",
            "event": "Order Completed",
            "where": [
                {"property": "code", "op": "starts_with", "value": "x%"},
                {"property": "code", "op": "not_contains", "value": "_z"},
            ],
        },
        {
            "name": "no_category",
            "type": "event_counter",
            "page": "*",
            "where": [{"property": "category", "op": "not_exists"}],
        },
        {
            "name": "dated",
            "type": "event_counter",
            "event": "Order Completed",
            "where": [{"property": "when", "op": "after", "value": "2026-06-01"}],
        },
        {
            "name": "revenue_sum",
            "type": "aggregation",
            "function": "sum",
            "event": "Order Completed",
            "property": "revenue",
        },
        {
            "name": "revenue_avg",
            "type": "aggregation",
            "function": "avg",
            "event": "Order Completed",
            "property": "revenue",
            "within": "30d",
        },
        {
            "name": "revenue_min",
            "type": "aggregation",
            "function": "min",
            "event": "Order Completed",
            "property": "revenue",
        },
        {
            "name": "price_max",
            "type": "aggregation",
            "function": "max",
            "event": "Order Completed",
            "property": "products.0.price",
        },
        {"name": "fav", "type": "most_frequent", "event": "Product Viewed", "property": "category"},
        {
            "name": "fav1",
            "type": "most_frequent",
            "event": "Product Viewed",
            "property": "category",
            "min_frequency": 1,
        },
        {"name": "first_cat", "type": "first", "event": "*", "property": "category"},
        {"name": "last_cat", "type": "last", "event": "*", "property": "category"},
        {"name": "last_page", "type": "last", "page": "Home", "property": "category", "within": "4w"},
        {"name": "cats", "type": "unique_list", "event": "Product Viewed", "property": "category"},
        {"name": "cat_count", "type": "unique_list_count", "event": "Product Viewed", "property": "category"},
        {"name": "acct_orders", "type": "event_counter", "event": "Order Completed", "level": "account"},
        {
            "name": "acct_revenue",
            "type": "aggregation",
            "function": "sum",
            "event": "Order Completed",
            "property": "revenue",
            "level": "account",
        },
        {"name": "acct_cats", "type": "unique_list", "event": "*", "property": "category", "level": "account"},
        {"name": "acct_last", "type": "last", "event": "*", "property": "category", "level": "account"},
    ]
}


# --- generated events ---------------------------------------------------------------------------------
HOURS = [-24 * 30 - 1, -24 * 30, -24 * 30 + 1, -13, -12, -11, -6, -1, 0, 1, 5, -24 * 29, -24 * 31, -24 * 200]
REVENUE = [10, 25, 20, 7.5, -3, "30", "abc", None, True, "MISSING", [1], {"x": 1}]
CATEGORY = ["a", "b", "c", "B", None, 5, "MISSING", True]
CODE = ["x%1", "x%_z", "xa", "y", "MISSING", 3]
WHEN = ["2026-07-01", "2026-01-01T00:00:00Z", "nope", "MISSING", 7]
KINDS = [("track", "Order Completed"), ("track", "Product Viewed"), ("page", "Home"), ("screen", "Home")]


@st.composite
def event_lists(draw):
    n = draw(st.integers(0, 30))
    out = []
    for i in range(n):
        kind, name = draw(st.sampled_from(KINDS))
        hours = draw(st.sampled_from(HOURS))
        ts = None if draw(st.integers(0, 30)) == 0 else AS_OF + timedelta(hours=hours)
        props: dict = {}
        for key, choices in (("revenue", REVENUE), ("category", CATEGORY), ("code", CODE), ("when", WHEN)):
            v = draw(st.sampled_from(choices))
            if v != "MISSING":
                props[key] = v
        if draw(st.booleans()):
            props["products"] = [{"price": draw(st.sampled_from([1, 2.5, "3", None]))}]
        out.append(
            {
                "message_id": draw(st.sampled_from([None, "m1", "m2", f"m-{i}"])),
                "profile_id": draw(st.sampled_from(PROFILES[:5] + [None])),
                "type": kind,
                "event": name,
                "timestamp": ts,
                "received_at": draw(st.sampled_from([None, AS_OF, AS_OF + timedelta(hours=1)])),
                "group_id": draw(st.sampled_from([None, None, "g1", "g2"])),
                "properties": json.dumps(props),
                "file": "log.ndjson",
                "line": i + 1,
            }
        )
    return out


def _events_table(rows: list[dict]) -> pa.Table:
    schema = events_schema()
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table({k: pa.array(v, schema.field(k).type) for k, v in cols.items()}, schema=schema)


#: the forms of the query: one pass (as compute runs it, into a temporary table, and as one
#: statement, as explain runs it), one pass shared with audiences (its facts in a table made first,
#: as cdp run computes traits and audiences together) and one SELECT per trait (as --show-sql prints it)
FORMS = {
    "one pass, materialized": dict(materialize="t_out"),
    "one pass": {},
    "one pass, shared table": dict(materialize="t_out", shared=True),
    "per trait": dict(combined=False),
}


def _compute(rows: list[dict], form: str = "one pass, materialized", engine_name: str = "duckdb") -> dict[str, dict]:
    """The traits of :data:`SPEC` over ``rows``, computed in ``form`` on the engine ``engine_name`` (the
    engine conformance suite, tests/engine, runs this on every engine)."""
    traits = parse_definition(SPEC, TraitsFile).traits
    with connect(engine_name) as engine:
        engine.register_arrow("events", _events_table(rows))
        engine.register_arrow("profiles", pa.table({"profile_id": PROFILES}))
        options = dict(FORMS[form])
        one = None
        if options.pop("shared", False):
            from cdp_cli.traits.onepass import OnePass

            one = OnePass(engine.dialect, AS_OF, table="cdp_facts")
        compiled = compile_traits(traits, engine.dialect, AS_OF, one=one, **options)
        if one is not None and one.matches:
            engine.execute(one.create_table())
        for statement in compiled.setup:
            engine.execute(statement)
        table = engine.arrow(compiled.statement)
        nn = dict(engine.rows(compiled.non_numeric)) if compiled.non_numeric else {}
    assert table.column_names == ["profile_id", *[t.name for t in traits]]
    return {r["profile_id"]: r for r in table.to_pylist()}, nn, table.schema


# --- the reference: plain Python, written from docs/traits.md -----------------------------------------
_MISSING = object()


def _get(props: dict, path: str):
    v = props
    for seg in path.split("."):
        if isinstance(v, dict) and seg in v:
            v = v[seg]
        elif isinstance(v, list) and seg.isdigit() and int(seg) < len(v):
            v = v[int(seg)]
        else:
            return None
    return v


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    return None  # floats are not used in text-valued properties here; objects, arrays, null


def _when(text):
    if not isinstance(text, str):
        return None
    try:
        w = datetime.fromisoformat(text)
    except ValueError:
        return None
    return w if w.tzinfo else w.replace(tzinfo=UTC)


def _cond(c: dict, props: dict) -> bool:
    v = _get(props, c["property"])
    op, want = c["op"], c.get("value")
    if op == "exists":
        return v is not None
    if op == "not_exists":
        return v is None
    if v is None:
        return False

    def eq(x):
        if isinstance(x, bool):
            return isinstance(v, bool) and v == x
        if isinstance(x, (int, float)):
            return _num(v) is not None and _num(v) == x
        return isinstance(v, str) and v == x

    if op == "=":
        return eq(want)
    if op == "!=":
        return not eq(want)
    if op in ("<", ">", "<=", ">="):
        n = _num(v)
        return n is not None and {"<": n < want, ">": n > want, "<=": n <= want, ">=": n >= want}[op]
    if op in ("contains", "not_contains", "starts_with", "ends_with"):
        if not isinstance(v, str):
            return False
        return {
            "contains": want in v,
            "not_contains": want not in v,
            "starts_with": v.startswith(want),
            "ends_with": v.endswith(want),
        }[op]
    if op in ("one_of", "none_of"):
        hit = any(eq(x) for x in want)
        return hit if op == "one_of" else not hit
    if op in ("before", "after"):
        w = _when(v) if isinstance(v, str) else None
        limit = _when(want)
        return w is not None and (w < limit if op == "before" else w > limit)
    raise AssertionError(op)


def _matches(t: dict, e: dict) -> bool:
    kind = "track" if "event" in t else "page" if "page" in t else "screen"
    name = t.get("event", t.get("page", t.get("screen")))
    if e["type"] != kind or (name != "*" and e["event"] != name):
        return False
    ts = e["timestamp"]
    if ts is None or ts > AS_OF:
        return False
    if "within" in t:
        hours = int(t["within"][:-1]) * {"h": 1, "d": 24, "w": 168}[t["within"][-1]]
        if ts < AS_OF - timedelta(hours=hours):
            return False
    if "between" in t:
        start, end = (_when(x) for x in t["between"])
        if not start <= ts < end:
            return False
    props = json.loads(e["properties"])
    return all(_cond(c, props) for c in t.get("where", []))


def _order(e: dict) -> tuple:
    def low(v):
        return (v is not None, v if v is not None else "")

    return (e["timestamp"], low(e["received_at"]), low(e["message_id"]), low(e["file"]), low(e["line"]))


def _value(t: dict, evs: list[dict], has_unit: bool):
    kind = t["type"]
    vals = [_get(json.loads(e["properties"]), t["property"]) for e in evs] if "property" in t else []
    if kind == "event_counter":
        return len(evs) if has_unit else None
    if kind == "aggregation":
        nums = [_num(v) for v in vals if _num(v) is not None]
        if not nums:
            return None
        return {"sum": math.fsum(nums), "avg": math.fsum(nums) / len(nums), "min": min(nums), "max": max(nums)}[
            t["function"]
        ]
    texts = [_scalar(v) for v in vals]
    if kind == "most_frequent":
        counts: dict[str, int] = {}
        for x in texts:
            if x is not None:
                counts[x] = counts.get(x, 0) + 1
        ok = [(-n, x) for x, n in counts.items() if n >= t.get("min_frequency", 2)]
        return min(ok)[1] if ok else None
    if kind in ("first", "last"):
        having = [e for e, x in zip(evs, texts, strict=True) if x is not None]
        if not having:
            return None
        chosen = (min if kind == "first" else max)(having, key=_order)
        return _scalar(_get(json.loads(chosen["properties"]), t["property"]))
    distinct = sorted({x for x in texts if x is not None})
    if kind == "unique_list":
        return distinct or None
    return len(distinct)


def _reference(rows: list[dict]) -> dict[str, dict]:
    scoped = [e for e in rows if e["profile_id"] is not None and e["timestamp"] is not None and e["timestamp"] <= AS_OF]
    members: dict[str, set] = {}
    latest: dict[str, dict] = {}
    for e in scoped:
        if e["group_id"] is not None:
            members.setdefault(e["group_id"], set()).add(e["profile_id"])
            best = latest.get(e["profile_id"])
            if best is None or _order(e) > _order(best):
                latest[e["profile_id"]] = e
    out: dict[str, dict] = {}
    for p in PROFILES:
        row = {}
        for t in SPEC["traits"]:
            if t.get("level") == "account":
                account = latest[p]["group_id"] if p in latest else None
                users = members.get(account, set())
                evs = [e for e in scoped if e["profile_id"] in users and _matches(t, e)]
                row[t["name"]] = _value(t, evs, account is not None)
            else:
                evs = [e for e in scoped if e["profile_id"] == p and _matches(t, e)]
                row[t["name"]] = _value(t, evs, True)
        out[p] = row
    return out


def _non_numeric(rows: list[dict]) -> dict[str, int]:
    out = {}
    for t in SPEC["traits"]:
        if t["type"] != "aggregation":
            continue
        scoped = [
            e for e in rows if e["profile_id"] is not None and e["timestamp"] is not None and e["timestamp"] <= AS_OF
        ]
        memberships = {(e["group_id"], e["profile_id"]) for e in scoped if e["group_id"] is not None}
        n = 0
        for e in scoped:
            if not _matches(t, e):
                continue
            v = _get(json.loads(e["properties"]), t["property"])
            bad = v is not None and _num(v) is None
            times = sum(1 for _, p in memberships if p == e["profile_id"]) if t.get("level") == "account" else 1
            n += bad * times  # an account's events: once per account the user belongs to
        out[t["name"]] = n
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_lists())
def test_every_trait_type_matches_a_plain_python_computation(rows):
    want = _reference(rows)
    ref_nn = _non_numeric(rows)
    for form in FORMS:
        got, nn, _ = _compute(rows, form)
        for p in PROFILES:
            for t in SPEC["traits"]:
                name = t["name"]
                assert _same(got[p][name], want[p][name]), (form, p, name, got[p][name], want[p][name])
        for name, n in ref_nn.items():
            assert nn[name] == n, (form, name, nn[name], n)


def test_boundaries_to_the_hour_ties_and_a_profile_without_events():
    base = {"type": "track", "event": "Order Completed", "received_at": None, "group_id": None, "file": "f", "line": 0}
    rows = [
        {
            **base,
            "message_id": "b",
            "profile_id": "p0",
            "timestamp": AS_OF - timedelta(days=30),
            "properties": '{"category": "old", "revenue": 1}',
            "line": 1,
        },
        {
            **base,
            "message_id": "x",
            "profile_id": "p0",
            "timestamp": AS_OF - timedelta(days=30, microseconds=1),
            "properties": '{"revenue": 100}',
            "line": 2,
        },
        {
            **base,
            "message_id": "a",
            "profile_id": "p0",
            "timestamp": AS_OF,
            "properties": '{"category": "z", "revenue": "12"}',
            "line": 3,
        },
        {
            **base,
            "message_id": "c",
            "profile_id": "p0",
            "timestamp": AS_OF,
            "properties": '{"category": "y"}',
            "line": 4,
        },
        {
            **base,
            "message_id": "d",
            "profile_id": "p0",
            "timestamp": AS_OF + timedelta(microseconds=1),
            "properties": '{"category": "late"}',
            "line": 5,
        },
    ]
    got, nn, _ = _compute(rows)
    assert got["p0"]["orders_30d"] == 3  # as_of - 30d is in, a microsecond earlier is out, after as_of never
    assert got["p0"]["orders"] == 4
    assert got["p0"]["last_cat"] == "y"  # same timestamp, no receivedAt: messageId "c" > "a"
    assert got["p0"]["first_cat"] == "old"
    assert got["p0"]["revenue_sum"] == 101.0 and nn["revenue_sum"] == 1  # "12" is text, not a number
    assert got["p5"]["orders"] == 0 and got["p5"]["cat_count"] == 0
    assert got["p5"]["revenue_sum"] is None and got["p5"]["cats"] is None and got["p5"]["fav"] is None
    assert got["p5"]["acct_orders"] is None  # no account: no value


def test_most_frequent_ties_go_to_the_alphabetically_first_value():
    base = {
        "type": "track",
        "event": "Product Viewed",
        "received_at": None,
        "group_id": None,
        "file": "f",
        "profile_id": "p0",
    }
    cats = ["b", "a", "b", "a", "c", "c", "C"]
    rows = [
        {
            **base,
            "message_id": f"m{i}",
            "timestamp": AS_OF - timedelta(hours=i),
            "line": i,
            "properties": json.dumps({"category": c}),
        }
        for i, c in enumerate(cats)
    ]
    got, _, _ = _compute(rows)
    assert got["p0"]["fav"] == "a" and got["p0"]["cats"] == ["C", "a", "b", "c"] and got["p0"]["cat_count"] == 4
    got, _, _ = _compute(rows[:2])
    assert got["p0"]["fav"] is None and got["p0"]["fav1"] == "a"  # below min_frequency 2


def test_column_types():
    _, _, schema = _compute([])
    types = {f.name: f.type for f in schema}
    assert types["orders"] == pa.int64() and types["cat_count"] == pa.int64()
    assert types["revenue_sum"] == pa.float64() and types["revenue_avg"] == pa.float64()
    assert types["fav"] == pa.string() and types["last_cat"] == pa.string()
    assert pa.types.is_list(types["cats"]) and types["cats"].value_type == pa.string()


def test_user_values_are_bound_never_spliced():
    spec = {
        "traits": [
            {
                "name": "evil",
                "type": "event_counter",
                "event": "x'); DROP TABLE events; --",
                "where": [{"property": "a'b", "op": "=", "value": "'; SELECT 1; --"}],
            }
        ]
    }
    traits = parse_definition(spec, TraitsFile).traits
    with connect() as engine:
        compiled = compile_traits(traits, engine.dialect, AS_OF)
    assert "DROP TABLE" not in compiled.statement.sql and "SELECT 1" not in compiled.statement.sql
    assert "x'); DROP TABLE events; --" in compiled.statement.params.values()
    rows = [
        {
            "message_id": "m",
            "profile_id": "p0",
            "type": "track",
            "event": "x'); DROP TABLE events; --",
            "timestamp": AS_OF,
            "received_at": None,
            "group_id": None,
            "properties": json.dumps({"a'b": "'; SELECT 1; --"}),
            "file": "f",
            "line": 1,
        }
    ]
    with connect() as engine:
        engine.register_arrow("events", _events_table(rows))
        engine.register_arrow("profiles", pa.table({"profile_id": ["p0"]}))
        assert engine.rows(compiled.statement) == [("p0", 1)]


# --- definitions ---------------------------------------------------------------------------------------
def _errors(tmp_path: Path, text: str) -> str:
    path = tmp_path / "traits.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    return str(e.value).replace(str(path), "traits.yaml")


def test_the_spelling_users_write_loads(tmp_path):
    path = tmp_path / "traits.yaml"
    path.write_text(
        """traits:
  - name: orders_30d
    type: event_counter
    event: Order Completed
    within: 30d
  - name: oct
    type: event_counter
    event: Order Completed
    between: [2026-10-01, 2026-11-01]
  - name: big_orders
    type: event_counter
    event: Order Completed
    where:
      - {property: revenue, op: ">", value: 100}
"""
    )
    spec = load_spec(path)
    assert spec.traits[0].within == timedelta(days=30)
    assert spec.traits[1].between == (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    assert spec.traits[2].where[0].value == 100


def test_definition_errors_name_file_line_and_column(tmp_path):
    text = _errors(
        tmp_path,
        """traits:
  - name: a
    type: event_countr
    event: X
  - name: b
    type: event_counter
    event: X
    where:
      - {property: revenue, op: ">==", value: 1}
      - {property: revenue, op: ">", value: "abc"}
      - {property: d, op: before, value: soon}
      - {property: d, op: exists, value: 1}
  - name: c
    type: aggregation
    function: sum
    event: X
  - name: d
    type: event_counter
    event: X
    within: 30m
  - name: Bad-Name
    type: event_counter
    event: X
  - name: f
    type: most_frequent
    event: X
    property: p
    min_frequency: 0
  - name: g
    type: event_counter
    event: X
    page: Y
""",
    )
    assert "traits.yaml:3:11: unknown type 'event_countr'" in text and "did you mean 'event_counter'?" in text
    assert "traits.yaml:9:" in text and "did you mean '>='?" in text
    assert "traits.yaml:10:45: op '>' compares numbers: value must be a number, not 'abc'" in text
    assert "traits.yaml:11:" in text and "value must be a date such as 2026-10-01" in text
    assert "traits.yaml:12:" in text and "takes no value" in text
    assert "traits.yaml:13:" in text and "missing key 'property'" in text
    assert "traits.yaml:20:13: within: '30m' is not a window" in text
    assert "traits.yaml:21:11: name 'Bad-Name' must be snake_case" in text
    assert "traits.yaml:28:20:" in text and "min_frequency" in text
    assert "traits.yaml:32:11:" in text and "exactly one of event" in text


def test_duplicate_names_and_bad_between(tmp_path):
    text = _errors(
        tmp_path,
        "traits:\n  - {name: a, type: event_counter, event: X, between: [2026-11-01, 2026-10-01]}\n"
        "  - {name: a, type: event_counter, event: X, within: 2d, between: [2026-10-01, 2026-11-01]}\n",
    )
    assert "traits.yaml:2:" in text and "must be before the end" in text
    assert "traits.yaml:3:" in text and "within: or between:, not both" in text
    text = _errors(
        tmp_path,
        "traits:\n  - {name: c, type: event_counter, event: X}\n  - {name: c, type: first, event: X, property: p}\n",
    )
    assert "traits.yaml:3:12: name 'c' is used twice" in text


def test_unknown_events_and_properties_against_the_plan(tmp_path):
    from cdp_cli.plan.load import load_valid_plan

    root = Path(__file__).resolve().parents[2]
    path = tmp_path / "traits.yaml"
    path.write_text(
        """traits:
  - name: a
    type: event_counter
    event: Order Complete
  - name: b
    type: aggregation
    function: sum
    event: Order Completed
    property: revenu
  - name: c
    type: event_counter
    page: Checkout
    where:
      - {property: pathh, op: exists}
  - name: d
    type: last
    event: Order Completed
    property: products.0.price
"""
    )
    spec = load_spec(path)
    with pytest.raises(ConfigError) as e:
        check_against_plan(spec, load_valid_plan([root / "plans" / "ecommerce"]))
    text = str(e.value)
    assert f"{path}:4:12: event 'Order Complete' is not in the plan" in text and "'Order Completed'?" in text
    assert f"{path}:9:15: property 'revenu' is not in the plan's event 'Order Completed'" in text
    assert "did you mean 'revenue'?" in text
    assert f"{path}:14:20: property 'pathh'" in text and "did you mean 'path'?" in text
    assert ":18:" not in text  # products is planned


def test_a_traits_parquet_is_recognised_as_cdps(tmp_path):
    import pyarrow.parquet as pq

    from cdp_cli.fsutil import written_by_cdp

    ours, theirs = tmp_path / "ours.parquet", tmp_path / "theirs.parquet"
    table = pa.table({"profile_id": ["p"]})
    pq.write_table(table.replace_schema_metadata({"cdp": "traits"}), ours)
    pq.write_table(table, theirs)
    assert written_by_cdp(ours) and not written_by_cdp(theirs)
