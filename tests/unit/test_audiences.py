"""Audiences against a straightforward Python computation over generated events: windows to the
hour, counts, not, nested any/all, references, funnels with repeated first steps, account wrappers,
include_anonymous, lookback vs trait conditions, profiles without events; definition errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp_cli.audiences.compiler import compile_audiences
from cdp_cli.audiences.compute import load_spec
from cdp_cli.engine import connect
from cdp_cli.errors import ConfigError
from cdp_cli.schemas import events as events_schema

AS_OF = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
PROFILES = [f"p{i}" for i in range(6)]  # p5 never has events
IDENTIFIED = {"p0", "p1", "p2", "p4"}
GROUPS = {"p0": "g1", "p1": "g1", "p2": "g2", "p3": "g2"}
PLAN = {"p0": "pro", "p1": "free", "p2": "pro", "p3": None, "p4": "pro", "p5": "pro"}
SIGNUP = {"p0": AS_OF - timedelta(hours=71), "p1": AS_OF - timedelta(hours=73), "p2": AS_OF - timedelta(days=40)}

SPEC = {
    "audiences": [
        {"key": "buy2_3d", "where": {"performed": "A", "at_least": 2, "within": "3d"}},
        {"key": "buy_at_most_1", "where": {"performed": "A", "at_most": 1}},
        {"key": "buy_exactly_2", "where": {"performed": "A", "exactly": 2}, "include_anonymous": True},
        {"key": "no_b_12h", "where": {"not": {"performed": "B", "within": "12h"}}, "include_anonymous": True},
        {"key": "big", "where": {"performed": "A", "where": [{"property": "revenue", "op": ">", "value": 20}]}},
        {"key": "pro", "where": {"trait": "plan", "op": "=", "value": "pro"}, "lookback": "1h"},
        {"key": "recent_signup", "where": {"trait": "signup", "op": "within_last", "value": "3d"}},
        {
            "key": "nested",
            "where": {"any": [{"all": [{"audience": "pro"}, {"audience": "buy2_3d"}]}, {"audience": "no_b_12h"}]},
        },
        {"key": "followed", "where": {"funnel": ["A", "B"], "within": "2h"}, "include_anonymous": True},
        {"key": "abandoned", "where": {"funnel": ["A", "B"], "within": "2h", "then_not": True}},
        {"key": "recent_a", "lookback": "2d", "where": {"performed": "A"}, "include_anonymous": True},
        {"key": "acct_any", "level": "account", "where": {"any_user": {"performed": "B"}}, "include_anonymous": True},
        {"key": "acct_all", "level": "account", "where": {"all_users": {"performed": "A"}}, "include_anonymous": True},
        {"key": "acct_none", "level": "account", "where": {"no_user": {"performed": "B"}}, "include_anonymous": True},
    ]
}


@st.composite
def event_lists(draw):
    rows = []
    for i in range(draw(st.integers(0, 30))):
        pid = draw(st.sampled_from(PROFILES[:5]))
        hours = draw(st.sampled_from([-5, 0, 1, 2, 3, 11, 12, 13, 47, 48, 49, 71, 72, 73, 200]))
        rows.append(
            {
                "profile_id": pid,
                "event": draw(st.sampled_from(["A", "B"])),
                "ts": AS_OF - timedelta(hours=hours),
                "revenue": draw(st.sampled_from([None, 10, 30, "40"])),
                "i": i,
            }
        )
    return rows


def _tables(rows):
    n = len(rows)
    schema = events_schema()
    cols = {f.name: [None] * n for f in schema}
    cols["message_id"] = [f"m{r['i']}" for r in rows]
    cols["profile_id"] = [r["profile_id"] for r in rows]
    cols["type"] = ["track"] * n
    cols["event"] = [r["event"] for r in rows]
    cols["timestamp"] = [r["ts"] for r in rows]
    cols["properties"] = [json.dumps({} if r["revenue"] is None else {"revenue": r["revenue"]}) for r in rows]
    cols["group_id"] = [GROUPS.get(r["profile_id"]) for r in rows]
    cols["file"] = ["f"] * n
    cols["line"] = [r["i"] for r in rows]
    events = pa.Table.from_pydict(cols, schema=schema)
    traits = [
        json.dumps({k: v for k, v in {"plan": PLAN[p], "signup": SIGNUP.get(p) and SIGNUP[p].isoformat()}.items() if v})
        for p in PROFILES
    ]
    profiles = pa.table({"profile_id": PROFILES, "traits": traits})
    ids = sorted(IDENTIFIED)
    identities = pa.table(
        {"profile_id": ids + ["p3"], "type": ["user_id"] * len(ids) + ["anonymous_id"], "value": ids + ["a3"]}
    )
    return events, profiles, identities


def _run(tmp_path: Path, rows, spec=SPEC, combined: bool = True, shared: bool = False, engine_name: str = "duckdb"):
    """``shared``: the performed leaves' pass in a table made first, as when the traits share it;
    ``engine_name``: the engine (the conformance suite, tests/engine, runs this on every engine)."""
    from cdp_cli.traits.onepass import OnePass

    f = tmp_path / "audiences.yaml"
    f.write_text(yaml.safe_dump(spec))
    s = load_spec(f)
    events, profiles, identities = _tables(rows)
    with connect(engine_name) as engine:
        engine.register_arrow("events", events)
        engine.register_arrow("profiles", profiles)
        engine.register_arrow("identities", identities)
        one = OnePass(engine.dialect, AS_OF, table="cdp_facts") if shared else None
        compiled = compile_audiences(s, engine.dialect, AS_OF, combined=combined, one=one)
        if one is not None and one.matches:
            engine.execute(one.create_table())
        out = engine.arrow(compiled.statement).to_pylist()
    return {r["profile_id"]: {k: v for k, v in r.items() if k != "profile_id"} for r in out}


# --- the reference ------------------------------------------------------------------------------------
def _count(rows, pid, event, hours=None, since=None, big=False):
    return sum(
        1
        for r in rows
        if r["profile_id"] == pid
        and r["event"] == event
        and r["ts"] <= AS_OF
        and (hours is None or r["ts"] >= AS_OF - timedelta(hours=hours))
        and (since is None or r["ts"] >= since)
        and (not big or (isinstance(r["revenue"], int) and r["revenue"] > 20))
    )


def _funnel(rows, pid, then_not):
    mine = [r for r in rows if r["profile_id"] == pid and r["ts"] <= AS_OF]
    for a in (r for r in mine if r["event"] == "A"):
        followed = any(b["event"] == "B" and a["ts"] < b["ts"] <= a["ts"] + timedelta(hours=2) for b in mine)
        if followed != then_not:
            return True
    return False


def _reference(rows):
    out = {}
    for p in PROFILES:
        idn = p in IDENTIFIED
        r = {
            "buy2_3d": _count(rows, p, "A", 72) >= 2,
            "buy_at_most_1": _count(rows, p, "A") <= 1,
            "buy_exactly_2": _count(rows, p, "A") == 2,
            "no_b_12h": _count(rows, p, "B", 12) == 0,
            "big": _count(rows, p, "A", big=True) >= 1,
            "pro": PLAN[p] == "pro",  # lookback never limits trait conditions
            "recent_signup": p in SIGNUP and AS_OF - timedelta(hours=72) <= SIGNUP[p] <= AS_OF,
            "followed": _funnel(rows, p, False),
            "abandoned": _funnel(rows, p, True),
            "recent_a": _count(rows, p, "A", 48) >= 1,
        }
        for k in ("buy2_3d", "buy_at_most_1", "big", "pro", "recent_signup", "abandoned"):
            r[k] = r[k] and idn
        r["nested"] = idn and ((r["pro"] and r["buy2_3d"]) or r["no_b_12h"])
        seen = {x["profile_id"] for x in rows if x["ts"] <= AS_OF}  # membership: events up to as_of
        g = GROUPS.get(p) if p in seen else None
        users = [q for q, gq in GROUPS.items() if gq == g and q in seen]
        r["acct_any"] = g is not None and any(_count(rows, q, "B") > 0 for q in users)
        r["acct_all"] = g is not None and all(_count(rows, q, "A") > 0 for q in users)
        r["acct_none"] = g is not None and not r["acct_any"]
        out[p] = r
    return out


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=event_lists())
def test_every_condition_kind_matches_a_plain_python_computation(tmp_path, rows):
    want = _reference(rows)
    assert _run(tmp_path, rows) == want  # one pass over the events, as compute runs it
    assert _run(tmp_path, rows, shared=True) == want  # the pass shared with the traits (cdp run)
    assert _run(tmp_path, rows, combined=False) == want  # one SELECT per leaf, as --show-sql prints it


def test_boundaries_to_the_hour_and_repeated_first_steps(tmp_path):
    rows = [
        {"profile_id": "p0", "event": "A", "ts": AS_OF - timedelta(hours=72), "revenue": None, "i": 0},
        {"profile_id": "p0", "event": "A", "ts": AS_OF - timedelta(hours=73), "revenue": None, "i": 1},
        # A -> B -> A: the last A is not followed, so the cart is still abandoned
        {"profile_id": "p1", "event": "A", "ts": AS_OF - timedelta(hours=10), "revenue": None, "i": 2},
        {"profile_id": "p1", "event": "B", "ts": AS_OF - timedelta(hours=9), "revenue": None, "i": 3},
        {"profile_id": "p1", "event": "A", "ts": AS_OF - timedelta(hours=5), "revenue": None, "i": 4},
    ]
    got = _run(tmp_path, rows)
    assert got == _reference(rows)
    assert got["p0"]["buy2_3d"] is False  # 72 h is inside, 73 h is not: one event
    assert got["p1"]["abandoned"] is True and got["p1"]["followed"] is True
    assert got["p5"]["no_b_12h"] is True and got["p5"]["buy_exactly_2"] is False  # no events at all
    assert got["p5"]["buy_at_most_1"] is False  # anonymous: not a member unless include_anonymous


def _errors(tmp_path: Path, text: str) -> str:
    f = tmp_path / "audiences.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_spec(f)
    return str(e.value)


def test_a_cycle_is_named_with_file_line_and_column(tmp_path):
    text = (
        "audiences:\n  - key: a\n    where: {audience: b}\n"
        "  - key: b\n    where:\n      any:\n        - {audience: a}\n"
    )
    msg = _errors(tmp_path, text)
    assert "audiences.yaml:7:" in msg and "a -> b -> a" in msg


def test_definition_errors(tmp_path):
    text = (
        "audiences:\n"
        "  - key: x\n"
        "    where:\n"
        "      all:\n"
        "        - {performed: A, within: 3x}\n"
        "        - {trait: plan, op: '>', value: pro}\n"
        "        - {audience: nope}\n"
        "        - {perfromed: A}\n"
        "  - key: y\n"
        "    where: {any_user: {performed: A}}\n"
    )
    msg = _errors(tmp_path, text)
    assert "audiences.yaml:5:" in msg and "window" in msg
    assert "audiences.yaml:6:" in msg and "compares numbers" in msg
    assert "audiences.yaml:7:" in msg and "unknown audience 'nope'" in msg
    assert "audiences.yaml:8:" in msg and "did you mean 'performed'" in msg
    assert "audiences.yaml:10:" in msg and "account audiences" in msg


def test_the_spelling_of_the_brief_loads(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text(
        """audiences:
  - key: loyal_pro
    where:
      all:
        - {performed: Order Completed, at_least: 3, within: 30d}
        - {trait: plan, op: "=", value: pro}
        - not: {performed: Coupon Applied, within: 7d}
  - key: engaged
    where:
      any:
        - {audience: loyal_pro}
        - {funnel: [Product Viewed, Order Completed], within: 1d}
"""
    )
    assert [a.key for a in load_spec(f).ordered()] == ["loyal_pro", "engaged"]


def test_the_sample_matches_the_plan():
    from cdp_cli.audiences.compute import check_against_plan
    from cdp_cli.plan.load import load_valid_plan

    root = Path(__file__).resolve().parents[2]
    check_against_plan(load_spec(root / "samples/audiences.yaml"), load_valid_plan([root / "plans/ecommerce"]))


def test_with_a_plan_a_trait_name_that_is_neither_computed_nor_planned_is_an_error(tmp_path):
    from cdp_cli.audiences.compute import check_trait_names
    from cdp_cli.plan.load import load_valid_plan

    root = Path(__file__).resolve().parents[2]
    plan = load_valid_plan([root / "plans/ecommerce"])
    f = tmp_path / "audiences.yaml"
    f.write_text(
        "audiences:\n"
        "  - key: a\n    where: {trait: revenue_totl, op: '>', value: 1}\n"
        "  - key: b\n    where: {trait: email, op: exists}\n"
        "  - key: c\n    where: {trait: revenue_total, op: '>', value: 1}\n"
    )
    spec = load_spec(f)
    with pytest.raises(ConfigError) as e:
        check_trait_names(spec, plan, {"revenue_total"})
    text = str(e.value)
    assert f"{f}:3:" in text and "revenue_totl" in text and "did you mean 'revenue_total'" in text
    assert "'email'" not in text and text.count("\n") == 0  # identify traits of the plan are known
    check_trait_names(spec, plan, {"revenue_total", "revenue_totl"})


def test_computed_traits_read_from_their_columns_agree_with_the_json_form(tmp_path):
    """Audience conditions on computed traits of scalar types read the traits file's columns directly
    (no JSON); every operator must give what the JSON form (the --show-sql form) gives, nulls included."""
    ops = [
        ("n", ">", 2),
        ("n", "<=", 2.5),
        ("n", "=", 3),
        ("n", "!=", 3),
        ("n", "one_of", [1, 3]),
        ("n", "none_of", [1, 3]),
        ("n", "exists", None),
        ("n", "not_exists", None),
        ("x", ">", 2.0),
        ("s", "=", "Books"),
        ("s", "!=", "Books"),
        ("s", "contains", "oo"),
        ("s", "not_contains", "oo"),
        ("s", "starts_with", "B"),
        ("s", "ends_with", "s"),
        ("s", "one_of", ["Books", "Games"]),
        ("s", "none_of", ["Books"]),
        ("s", "exists", None),
        ("s", "not_exists", None),
        ("s", "=", 3),  # a number against a text trait: never equal
        ("d", "within_last", "3d"),
        ("d", "before", "2026-11-14T00:00:00Z"),
    ]
    audiences = []
    for i, (trait, op, value) in enumerate(ops):
        leaf = {"trait": trait, "op": op} | ({} if value is None else {"value": value})
        audiences.append({"key": f"a{i}", "where": leaf, "include_anonymous": True})
    f = tmp_path / "audiences.yaml"
    f.write_text(yaml.safe_dump({"audiences": audiences}))
    spec = load_spec(f)
    traits = pa.table(
        {
            "profile_id": PROFILES,
            "n": pa.array([1, 2, 3, None, 0, 5], pa.int64()),
            "x": pa.array([1.5, 2.5, None, 3.0, -1.0, 2.0], pa.float64()),
            "s": pa.array(["Books", "Games", None, "", "boots", "3"], pa.string()),
            "d": pa.array(
                [(AS_OF - timedelta(hours=h)).isoformat() if h is not None else None for h in (1, 71, 73, None, 500, 0)]
            ),
        }
    )
    events, profiles, identities = _tables([])
    types = {name: str(traits.schema.field(name).type) for name in ("n", "x", "s", "d")}
    results = []
    with connect() as engine:
        for name, table in (("events", events), ("profiles", profiles), ("identities", identities)):
            engine.register_arrow(name, table)
        engine.register_arrow("traits_in", traits)
        for typed in (types, None):
            c = compile_audiences(spec, engine.dialect, AS_OF, trait_columns=set(types), trait_types=typed)
            assert ("LEFT JOIN traits_in tin" in c.statement.sql) is (typed is not None)
            results.append(engine.arrow(c.statement).to_pylist())
    assert results[0] == results[1]
    by_key = {k: [r["profile_id"] for r in results[0] if r[k]] for k in (f"a{i}" for i in range(len(ops)))}
    assert by_key["a0"] == ["p2", "p5"]  # n > 2: 3 and 5
    assert by_key["a7"] == ["p3"]  # n not_exists: the null
    assert by_key["a19"] == []  # a number never equals a text trait


def test_member_files_are_sorted_by_profile_id_and_share_one_schema(tmp_path):
    """Many members in a random order, several threads: each audience's file is in profile_id order
    (a partitioned COPY lost it), and an empty audience's file has the same columns and types."""
    from types import SimpleNamespace

    import pyarrow.parquet as pq

    from cdp_cli.audiences.compute import write_members
    from cdp_cli.engine.duck import DuckEngine

    with DuckEngine(threads=4) as engine:
        engine.execute(
            "CREATE TEMPORARY TABLE cdp_audiences AS SELECT 'p' || lpad(CAST(hash(i) % 100000000 AS VARCHAR), 9, '0')"
            " || '_' || i AS profile_id, (i % 2 = 0) AS k0, (i % 3 = 0) AS k1, false AS k2, true AS k3"
            " FROM range(200000) t(i) ORDER BY random()"
        )
        engine.execute(
            "CREATE TABLE identities AS SELECT profile_id, 'email' AS type, profile_id || '@x' AS value"
            " FROM cdp_audiences WHERE hash(profile_id) % 5 = 0"
        )
        prepared = SimpleNamespace(
            materialized=True,
            store=SimpleNamespace(engine=engine),
            compiled=SimpleNamespace(audiences=["k0", "k1", "k2", "k3"]),
        )
        write_members(prepared, tmp_path)
    schemas = set()
    for key, n in (("k0", 100_000), ("k1", 66_667), ("k2", 0), ("k3", 200_000)):
        table = pq.read_table(tmp_path / f"{key}.parquet")
        ids = table.column("profile_id").to_pylist()
        assert len(ids) == n and ids == sorted(ids), key
        schemas.add(str(table.schema))
    assert len(schemas) == 1
