"""`cdp audiences compute / preview / explain` as a user runs them: outputs, formats, exit codes,
entered/exited against --previous, errors with file:line:col."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, run_cdp

LOG = [
    {
        "type": "identify",
        "userId": "u-ada",
        "traits": {"plan": "pro"},
        "messageId": "i1",
        "timestamp": "2026-11-01T00:00:00Z",
    },
    {
        "type": "identify",
        "userId": "u-bob",
        "traits": {"plan": "free"},
        "messageId": "i2",
        "timestamp": "2026-11-01T00:00:00Z",
    },
    {
        "type": "track",
        "event": "Product Added",
        "anonymousId": "a-kim",
        "messageId": "c1",
        "timestamp": "2026-11-10T09:00:00Z",
    },
    *[
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u-ada",
            "messageId": f"o{i}",
            "timestamp": f"2026-11-1{i}T10:00:00Z",
        }
        for i in range(3)
    ],
    {
        "type": "track",
        "event": "Product Added",
        "userId": "u-bob",
        "messageId": "b1",
        "timestamp": "2026-11-12T10:00:00Z",
    },
]

SPEC = """audiences:
  - key: loyal_pro
    where:
      all:
        - {performed: Order Completed, at_least: 3, within: 30d}
        - {trait: plan, op: "=", value: pro}
        - not: {performed: Coupon Applied, within: 7d}
  - key: abandoned
    include_anonymous: true
    where: {funnel: [Product Added, Order Completed], within: 1d, then_not: true}
  - key: engaged
    where:
      any:
        - {audience: loyal_pro}
        - {audience: abandoned}
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("aud")
    (d / "log.ndjson").write_text("\n".join(json.dumps(m) for m in LOG) + "\n")
    (d / "audiences.yaml").write_text(SPEC)
    r = run_cdp("profiles", "resolve", str(d / "log.ndjson"), "--out", str(d / "profiles"))
    assert r.returncode == 0, r.stderr
    return d


def _members(path: Path) -> dict[str, list[str]]:
    t = pq.read_table(path)
    return dict(zip(t.column("profile_id").to_pylist(), t.column("identifiers").to_pylist(), strict=True))


def test_compute_writes_members_and_prints_json(work):
    out = work / "out"
    args = ["-P", str(work / "profiles"), "-s", str(work / "audiences.yaml"), "--as-of", "2026-11-15"]
    r = run_cdp("audiences", "compute", *args, "--out", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["sizes"] == {"loyal_pro": 1, "abandoned": 2, "engaged": 2}
    assert summary["as_of"].startswith("2026-11-15T00:00:00")
    loyal = _members(out / "loyal_pro.parquet")
    assert list(loyal.values()) == [["user_id:u-ada"]]
    abandoned = sorted(i for ids in _members(out / "abandoned.parquet").values() for i in ids)
    assert abandoned == ["anonymous_id:a-kim", "user_id:u-bob"]
    # engaged does not include anonymous profiles: kim is not in it, though in abandoned
    engaged = sorted(i for ids in _members(out / "engaged.parquet").values() for i in ids)
    assert engaged == ["user_id:u-ada", "user_id:u-bob"]

    # a later run: ada's orders leave the 30-day window -> she exits; nobody enters
    later = work / "later"
    r = run_cdp(
        "audiences",
        "compute",
        *args[:-2],
        "--as-of",
        "2026-12-20",
        "--out",
        str(later),
        "--previous",
        str(out),
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["entered"]["loyal_pro"] == 0 and s["exited"]["loyal_pro"] == 1
    changes = pq.read_table(later / "changes.parquet").to_pylist()
    assert {"audience": "loyal_pro", "profile_id": next(iter(loyal)), "change": "exited"} in changes


def test_preview_writes_nothing_and_explain_shows_every_condition(work):
    args = ["-P", str(work / "profiles"), "-s", str(work / "audiences.yaml"), "--as-of", "2026-11-15"]
    before = sorted(p.name for p in work.iterdir())
    r = run_cdp("audiences", "preview", *args, "--format", "json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["overlap"]["engaged"]["loyal_pro"] == 1 and s["identifier_types"]["abandoned"]["anonymous_id"] == 1
    assert sorted(p.name for p in work.iterdir()) == before
    r = run_cdp("audiences", "explain", "user_id:u-ada", *args, "--audience", "loyal_pro")
    assert r.returncode == 0, r.stderr
    assert "loyal_pro: member" in r.stdout
    assert "✓ performed 'Order Completed' at least 3 within 30d  (value 3)" in r.stdout
    assert "log.ndjson:4" in r.stdout and "o0" in r.stdout
    assert "✓ not" in r.stdout and "✗ performed 'Coupon Applied'" in r.stdout
    r = run_cdp("audiences", "explain", "user_id:u-ada", *args, "--format", "json")
    conds = json.loads(r.stdout)["audiences"][1]["conditions"]
    assert conds[0]["result"] is False and "NOT followed" in conds[0]["text"]


def test_errors_exit_2_with_file_line_col(work, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("audiences:\n  - key: a\n    where: {audience: b}\n  - key: b\n    where: {audience: a}\n")
    r = run_cdp("audiences", "compute", "-P", str(work / "profiles"), "-s", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert f"{bad}:5:" in r.stderr and "a -> b -> a" in r.stderr
    r = run_cdp(
        "audiences", "explain", "user_id:nobody", "-P", str(work / "profiles"), "-s", str(work / "audiences.yaml")
    )
    assert r.returncode == 2
    shipped = ["-P", str(work / "profiles"), "-s", str(ROOT / "samples/audiences.yaml")]
    plan = ["--plan", str(ROOT / "plans/ecommerce")]
    r = run_cdp("audiences", "compute", *shipped, *plan, "--out", str(tmp_path / "o2"))
    assert r.returncode == 2  # without --traits its computed-trait condition names nothing known
    assert "samples/audiences.yaml:" in r.stderr and "'revenue_total'" in r.stderr
    traits = tmp_path / "t.parquet"
    assert run_cdp("traits", "compute", "-P", str(work / "profiles"), "-s", str(ROOT / "samples/traits.yaml"),
                   "-o", str(traits)).returncode == 0  # fmt: skip
    r = run_cdp("audiences", "compute", *shipped, *plan, "--traits", str(traits), "--out", str(tmp_path / "o2"))
    assert r.returncode == 0, r.stderr  # the shipped sample's events, properties and traits are all known


# --- activation events (--emit-events) ----------------------------------------------------------------
def _emitted(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _lint_clean(path: Path) -> None:
    r = run_cdp("events", "lint", str(path), "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "error" not in {f.get("level") for f in json.loads(r.stdout).get("findings", [])}


def test_emit_events_first_run_every_member_then_only_changes(work, tmp_path):
    args = ["-P", str(work / "profiles"), "-s", str(work / "audiences.yaml")]
    first, later = tmp_path / "first.ndjson", tmp_path / "later.ndjson"
    r = run_cdp(
        "audiences", "compute", *args, "--as-of", "2026-11-15", "-o", str(tmp_path / "o1"), "--emit-events", str(first)
    )
    assert r.returncode == 0, r.stderr
    _lint_clean(first)
    msgs = _emitted(first)
    got = sorted(
        (m["context"]["personas"]["computation_key"], m["type"], m.get("userId") or m["anonymousId"]) for m in msgs
    )
    assert got == sorted(
        (key, kind, who)
        for key, who in [("loyal_pro", "u-ada"), ("abandoned", "u-bob"), ("abandoned", "a-kim"), ("engaged", "u-ada"),
                         ("engaged", "u-bob")]
        for kind in ("identify", "track")
    )  # fmt: skip
    for m in msgs:
        key = m["context"]["personas"]["computation_key"]
        assert m["context"]["personas"]["computation_class"] == "audience"
        assert m["context"]["personas"]["computation_id"].startswith("aud_")
        if m["type"] == "identify":
            assert m["traits"] == {key: True}
        else:
            assert m["event"] == "Audience Entered" and m["properties"] == {"audience_key": key, key: True}
    # deterministic: the same run writes the same bytes (so replays are deduplicated downstream)
    again = tmp_path / "again.ndjson"
    r = run_cdp(
        "audiences", "compute", *args, "--as-of", "2026-11-15", "-o", str(tmp_path / "o2"), "--emit-events", str(again)
    )
    assert r.returncode == 0, r.stderr
    assert again.read_bytes() == first.read_bytes()

    # a later run against the first: ada leaves loyal_pro (and engaged); only that is sent, as false
    r = run_cdp(
        "audiences", "compute", *args, "--as-of", "2026-12-20", "-o", str(tmp_path / "o3"),
        "--previous", str(tmp_path / "o1"), "--emit-events", str(later), "--emit", "track", "--format", "json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    _lint_clean(later)
    msgs = _emitted(later)
    assert json.loads(r.stdout)["activation"]["messages"] == len(msgs) == 2
    assert sorted(m["properties"]["audience_key"] for m in msgs) == ["engaged", "loyal_pro"]
    for m in msgs:
        key = m["properties"]["audience_key"]
        assert m["type"] == "track" and m["event"] == "Audience Exited" and m["userId"] == "u-ada"
        assert m["properties"][key] is False

    # one message per profile: kim still gets hers (abandoned includes anonymous profiles)
    per = tmp_path / "per.ndjson"
    r = run_cdp(
        "audiences", "compute", *args, "--as-of", "2026-11-15", "-o", str(tmp_path / "o4"),
        "--emit-events", str(per), "--emit", "identify", "--emit-per", "profile",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert len(_emitted(per)) == 5 and {m["type"] for m in _emitted(per)} == {"identify"}
    r = run_cdp("audiences", "compute", *args, "-o", str(tmp_path / "o5"), "--emit-events", str(per), "--emit", "x")
    assert r.returncode == 2


# --- trait conditions on computed traits (--traits) ---------------------------------------------------
COMPUTED_SPEC = """audiences:
  - {key: orders_1, include_anonymous: true, where: {trait: orders, op: ">=", value: 1}}
  - {key: revenue_200, include_anonymous: true, where: {trait: revenue, op: ">", value: 200.25}}
  - {key: no_revenue, include_anonymous: true, where: {trait: revenue, op: not_exists}}
  - {key: tier_gol, include_anonymous: true, where: {trait: tier, op: starts_with, value: gol}}
  - {key: tier_not_gold, include_anonymous: true, where: {trait: tier, op: "!=", value: gold}}
  - {key: tier_known, include_anonymous: true, where: {trait: tier, op: one_of, value: [gold, silver]}}
  - {key: has_brands, include_anonymous: true, where: {trait: brands, op: exists}}
  - {key: recent, include_anonymous: true, where: {trait: last_order_at, op: within_last, value: 30d}}
  - {key: lapsed, include_anonymous: true, where: {trait: last_order_at, op: before_last, value: 30d}}
  - {key: plan_pro, include_anonymous: true, where: {trait: plan, op: "=", value: pro}}
"""


def _computed_traits(work: Path, path: Path) -> dict[str, str]:
    """traits.parquet as cdp traits compute writes it, for ada and bob (kim has no row): who -> profile_id."""
    import pyarrow as pa

    ids = pq.read_table(work / "profiles" / "identities.parquet").to_pylist()
    who = {i["value"]: i["profile_id"] for i in ids}
    ada, bob = who["u-ada"], who["u-bob"]
    table = pa.table(
        {
            "profile_id": [ada, bob],
            "orders": pa.array([3, 0], pa.int64()),
            "revenue": pa.array([250.5, None], pa.float64()),
            "tier": ["gold", "silver"],
            "brands": pa.array([["duplo", "lego"], []], pa.list_(pa.string())),
            "last_order_at": ["2026-11-10T00:00:00Z", "2026-10-01T00:00:00Z"],
            "plan": pa.array(["basic", None], pa.string()),  # shadows the profile trait plan (ada: pro)
        }
    )
    pq.write_table(table, path)
    return {"ada": ada, "bob": bob, "kim": who["a-kim"]}


def test_trait_conditions_on_computed_traits(work, tmp_path):
    traits = tmp_path / "traits.parquet"
    who = _computed_traits(work, traits)
    (tmp_path / "a.yaml").write_text(COMPUTED_SPEC)
    out = tmp_path / "out"
    r = run_cdp(
        "audiences", "compute", "-P", str(work / "profiles"), "-s", str(tmp_path / "a.yaml"), "--traits", str(traits),
        "--as-of", "2026-11-15", "-o", str(out), "--format", "json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    name = {v: k for k, v in who.items()}
    got = {key: sorted(name[p] for p in _members(out / f"{key}.parquet")) for key in json.loads(r.stdout)["sizes"]}
    assert got == {
        "orders_1": ["ada"],  # bob's 0 is not >= 1; kim has no row: absent
        "revenue_200": ["ada"],  # a double compared as a number
        "no_revenue": ["bob", "kim"],  # null and absent (no row)
        "tier_gol": ["ada"],
        "tier_not_gold": ["bob"],  # present and different: kim's absent tier is not "not gold"
        "tier_known": ["ada", "bob"],
        "has_brands": ["ada", "bob"],  # a list, also empty, is present
        "recent": ["ada"],
        "lapsed": ["bob"],
        "plan_pro": [],  # the computed trait wins over the profile trait of the same name
    }
    # the DuckDB --show-sql of each audience selects the same members
    from cdp_cli.audiences.compute import _open, load_spec, memberships, prepare
    from cdp_cli.audiences.showsql import audience_statements

    with _open(work / "profiles") as store:
        prepared = prepare(store, load_spec(tmp_path / "a.yaml"), "2026-11-15", traits)
        members, _ = memberships(prepared)
        for s in audience_statements(prepared, "duckdb").statements:
            assert sorted(p for p, ok in store.engine.rows(s.sql) if ok) == members[s.name], s.name


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ('{trait: tier, op: ">", value: 1}', "op '>' does not apply to the computed trait 'tier' of type string"),
        ("{trait: orders, op: contains, value: x}", "op 'contains' does not apply to the computed trait 'orders'"),
        ("{trait: revenue, op: within_last, value: 7d}", "op 'within_last' does not apply to the computed trait"),
        ('{trait: brands, op: "<", value: 2}', "the computed trait 'brands' of type list"),
    ],
)
def test_an_operator_that_cannot_apply_to_a_computed_traits_type_is_refused(work, tmp_path, condition, message):
    traits = tmp_path / "traits.parquet"
    _computed_traits(work, traits)
    spec = tmp_path / "a.yaml"
    spec.write_text(
        "audiences:\n  - key: ok\n    where: {trait: tier, op: '=', value: gold}\n"
        f"  - key: bad\n    where: {condition}\n"
    )
    for command in (["compute", "-o", str(tmp_path / "out")], ["preview"]):
        r = run_cdp("audiences", *command, "-P", str(work / "profiles"), "-s", str(spec), "--traits", str(traits))
        assert r.returncode == 2, r.stdout + r.stderr
        assert f"{spec}:5:" in r.stderr and message in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()
