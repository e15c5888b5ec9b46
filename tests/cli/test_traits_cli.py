"""`cdp traits compute / preview / explain` as a user runs them: outputs, formats, exit codes, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
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
        "type": "track",
        "event": "Order Completed",
        "userId": "u-ada",
        "messageId": "o1",
        "timestamp": "2026-10-01T10:00:00Z",
        "properties": {"order_id": "1", "revenue": 50, "currency": "EUR"},
    },
    {
        "type": "track",
        "event": "Order Completed",
        "userId": "u-ada",
        "messageId": "o2",
        "timestamp": "2026-11-10T10:00:00Z",
        "properties": {"order_id": "2", "revenue": 150, "currency": "USD"},
    },
    {
        "type": "track",
        "event": "Order Completed",
        "userId": "u-ada",
        "messageId": "o3",
        "timestamp": "2026-11-12T10:00:00Z",
        "properties": {"order_id": "3", "revenue": "200"},
    },
    {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-bob",
        "messageId": "v1",
        "timestamp": "2026-11-12T11:00:00Z",
        "properties": {"product_id": "p", "category": "Games"},
    },
    {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-bob",
        "messageId": "v2",
        "timestamp": "2026-11-13T11:00:00Z",
        "properties": {"product_id": "p", "category": "Games"},
    },
    {"type": "group", "userId": "u-bob", "groupId": "acme", "messageId": "g1", "timestamp": "2026-11-01T00:00:00Z"},
    {"type": "group", "userId": "u-ada", "groupId": "acme", "messageId": "g2", "timestamp": "2026-11-01T00:00:00Z"},
]

SPEC = """traits:
  - name: orders_30d
    type: event_counter
    event: Order Completed
    within: 30d
  - name: big_orders
    type: event_counter
    event: Order Completed
    where:
      - {property: revenue, op: ">", value: 100}
  - name: revenue_total
    type: aggregation
    function: sum
    event: Order Completed
    property: revenue
  - name: favourite_category
    type: most_frequent
    event: Product Viewed
    property: category
  - name: currencies
    type: unique_list
    event: Order Completed
    property: currency
  - name: account_orders
    type: event_counter
    event: Order Completed
    level: account
  - name: identifies
    type: sql
    query: SELECT profile_id, count(*) AS n FROM events WHERE type = 'identify' GROUP BY profile_id
"""


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("traits-cli")
    (root / "log.ndjson").write_text("".join(json.dumps(m) + "\n" for m in LOG))
    (root / "traits.yaml").write_text(SPEC)
    r = run_cdp("profiles", "resolve", "log.ndjson", "--out", "profiles", cwd=root)
    assert r.returncode == 0, r.stderr
    return root


def test_compute_writes_typed_parquet_and_replaces_only_its_own(resolved, tmp_path):
    out = tmp_path / "traits.parquet"
    args = ["traits", "compute", "--profiles", str(resolved / "profiles"), "--spec", str(resolved / "traits.yaml")]
    r = run_cdp(*args, "--out", str(out), "--as-of", "2026-11-14T00:00:00Z", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["as_of"] == "2026-11-14T00:00:00Z" and doc["as_of_source"] == "given" and doc["profiles"] == 2
    assert doc["non_numeric"] == {"revenue_total": 1}  # "200" is text
    t = pq.read_table(out)
    assert t.schema.metadata[b"cdp"] == b"traits"
    types = {f.name: f.type for f in t.schema}
    assert types["orders_30d"] == pa.int64() and types["account_orders"] == pa.int64()
    assert types["revenue_total"] == pa.float64() and types["favourite_category"] == pa.string()
    assert types["currencies"] == pa.list_(pa.string()) and types["identifies"] == pa.int64()
    rows = {r["orders_30d"]: r for r in t.to_pylist()}
    ada, bob = rows[2], rows[0]
    assert ada["big_orders"] == 1 and ada["revenue_total"] == 200.0 and ada["currencies"] == ["EUR", "USD"]
    assert bob["favourite_category"] == "Games" and bob["revenue_total"] is None and bob["currencies"] is None
    assert ada["account_orders"] == bob["account_orders"] == 3 and ada["identifies"] == 1 and bob["identifies"] is None

    r = run_cdp(*args, "--out", str(out))  # a rerun replaces cdp's own file; as_of is the latest event
    assert r.returncode == 0, r.stderr
    assert "as of 2026-11-13T11:00:00Z (latest event)" in r.stdout and "revenue_total" in r.stdout
    assert run_cdp(*args, "--out", str(out), "--strict").returncode == 1  # a non-numeric value, strictly

    mine = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"a": [1]}), mine)
    r = run_cdp(*args, "--out", str(mine))
    assert r.returncode == 2 and "not written by cdp" in r.stderr
    assert pq.read_table(mine).column_names == ["a"]


def test_preview_writes_nothing(resolved):
    before = sorted(p.name for p in resolved.rglob("*"))
    r = run_cdp("traits", "preview", "-P", "profiles", "--spec", "traits.yaml", "--format", "json", cwd=resolved)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["out"] is None and len(doc["sample"]) == 2
    assert {d["column"]: d["values"] for d in doc["distributions"]}["favourite_category"] == 1
    assert sorted(p.name for p in resolved.rglob("*")) == before
    r = run_cdp("traits", "preview", "-P", "profiles", "--spec", "traits.yaml", cwd=resolved)
    assert r.returncode == 0 and "Sample (2 profiles)" in r.stdout and "nothing written" in r.stdout


def test_explain_names_the_events_that_counted(resolved):
    r = run_cdp(
        "traits",
        "explain",
        "user_id:u-ada",
        "-P",
        "profiles",
        "--spec",
        "traits.yaml",
        "--as-of",
        "2026-11-11",
        cwd=resolved,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "orders_30d = 1 (event_counter)" in out
    assert "✓ log.ndjson:3  o2  2026-11-10T10:00:00Z" in out
    assert "✗ log.ndjson:2  o1  2026-10-01T10:00:00Z  value" not in out  # no value for a counter
    assert "log.ndjson:2  o1  2026-10-01T10:00:00Z  not counted: before the window (within 30d" in out
    assert "log.ndjson:4  o3  2026-11-12T10:00:00Z  not counted: after as_of" in out
    assert "not counted: filter failed: revenue > 100" in out
    assert "account_orders = 2" in out and "account trait" in out
    doc = json.loads(
        run_cdp(
            "traits",
            "explain",
            "u-ada",
            "-P",
            "profiles",
            "--spec",
            "traits.yaml",
            "--trait",
            "revenue_total",
            "--format",
            "json",
            cwd=resolved,
        ).stdout
    )
    (trait,) = doc["traits"]
    assert trait["value"] == 200.0
    assert [(e["line"], e["counted"], e["why"]) for e in trait["events"]] == [
        (2, True, ""),
        (3, True, ""),
        (4, False, "revenue is not a number"),
    ]
    r = run_cdp(
        "traits", "explain", "u-ada", "-P", "profiles", "--spec", "traits.yaml", "--trait", "nope", cwd=resolved
    )
    assert r.returncode == 2 and "--trait 'nope' is not in" in r.stderr
    r = run_cdp("traits", "explain", "user_id:nobody", "-P", "profiles", "--spec", "traits.yaml", cwd=resolved)
    assert r.returncode == 2 and "no such identifier" in r.stderr


def test_invalid_spec_and_plan_are_usage_errors_with_positions(resolved, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("traits:\n  - name: x\n    type: event_counter\n    event: Order Complete\n    within: 30m\n")
    r = run_cdp(
        "traits", "compute", "-P", str(resolved / "profiles"), "--spec", str(bad), "--out", str(tmp_path / "t.parquet")
    )
    assert r.returncode == 2 and f"{bad}:5:13: within: '30m' is not a window" in r.stderr
    bad.write_text("traits:\n  - name: x\n    type: event_counter\n    event: Order Complete\n")
    r = run_cdp(
        "traits",
        "compute",
        "-P",
        str(resolved / "profiles"),
        "--spec",
        str(bad),
        "--plan",
        str(ROOT / "plans/ecommerce"),
        "--out",
        str(tmp_path / "t.parquet"),
    )
    assert r.returncode == 2 and f"{bad}:4:12: event 'Order Complete' is not in the plan" in r.stderr
    assert not (tmp_path / "t.parquet").exists()
    bad.write_text("traits:\n  - name: x\n    type: sql\n    query: SELECT profile_id, nope FROM events\n")
    r = run_cdp("traits", "preview", "-P", str(resolved / "profiles"), "--spec", str(bad))
    assert r.returncode == 2 and f"{bad}:4:12: the query of 'x' does not run" in r.stderr
    r = run_cdp("traits", "preview", "-P", str(resolved / "profiles"), "--spec", str(bad), "--as-of", "yesterday")
    assert r.returncode == 2 and "--as-of 'yesterday'" in r.stderr


def test_the_shipped_sample_traits_check_against_the_plan(tmp_path):
    r = run_cdp("profiles", "resolve", "samples/ecommerce", "--out", str(tmp_path / "p"), "-q")
    assert r.returncode == 0, r.stderr
    r = run_cdp(
        "traits",
        "compute",
        "-P",
        str(tmp_path / "p"),
        "--spec",
        "samples/traits.yaml",
        "--plan",
        "plans/ecommerce",
        "--out",
        str(tmp_path / "t.parquet"),
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    kinds = {c["name"]: c["kind"] for c in doc["columns"]}
    assert set(kinds.values()) == {"count", "number", "text", "list", "sql"}
    assert all(d["values"] > 0 for d in doc["distributions"])
