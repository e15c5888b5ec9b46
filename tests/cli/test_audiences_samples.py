"""The shipped samples end to end: samples/ecommerce resolved, samples/traits.yaml computed,
samples/audiences.yaml over both (sizes, explain, activation events), and ``--show-sql`` of those
audiences: the DuckDB form selects the members compute selects; every dialect transpiles."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, run_cdp

AUDIENCES = ROOT / "samples" / "audiences.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("samples")
    r = run_cdp("profiles", "resolve", str(ROOT / "samples" / "ecommerce"), "--out", str(d / "profiles"))
    assert r.returncode == 0, r.stderr
    r = run_cdp(
        "traits", "compute", "-P", str(d / "profiles"), "-s", str(ROOT / "samples" / "traits.yaml"),
        "-o", str(d / "traits.parquet"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return d


def _args(d: Path) -> list[str]:
    return ["-P", str(d / "profiles"), "-s", str(AUDIENCES), "--traits", str(d / "traits.parquet")]


def test_the_sample_audiences_run_end_to_end(built, tmp_path):
    out, events = tmp_path / "audiences", tmp_path / "events.ndjson"
    r = run_cdp(
        "audiences", "compute", *_args(built), "--plan", str(ROOT / "plans" / "ecommerce"), "-o", str(out),
        "--emit-events", str(events), "--format", "json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    sizes = summary["sizes"]
    assert set(sizes) == {"repeat_buyers", "big_spenders", "vip", "abandoned_cart"}
    assert all(n > 0 for n in sizes.values()), sizes
    vip = set(pq.read_table(out / "vip.parquet").column("profile_id").to_pylist())
    for key in ("repeat_buyers", "big_spenders"):  # vip is either of them
        assert set(pq.read_table(out / f"{key}.parquet").column("profile_id").to_pylist()) <= vip
    r = run_cdp("events", "lint", str(events))
    assert r.returncode == 0 and " 0 errors" in r.stdout, r.stdout + r.stderr
    assert summary["activation"]["messages"] == len(events.read_text().splitlines()) > 0

    member = pq.read_table(out / "big_spenders.parquet").to_pylist()[0]
    user = next(i for i in member["identifiers"] if i.startswith("user_id:"))
    r = run_cdp("audiences", "explain", user, *_args(built), "--audience", "big_spenders")
    assert r.returncode == 0, r.stderr
    assert "big_spenders: member" in r.stdout and "revenue_total" in r.stdout


def test_show_sql_duckdb_selects_the_members_and_every_dialect_transpiles(built):
    from cdp_cli.audiences.compute import _open, load_spec, memberships, prepare
    from cdp_cli.audiences.showsql import audience_statements
    from cdp_cli.traits.showsql import DIALECTS

    with _open(built / "profiles") as store:
        prepared = prepare(store, load_spec(AUDIENCES), None, built / "traits.parquet")
        members, _ = memberships(prepared)
        duck = audience_statements(prepared, "duckdb")
        for s in duck.statements:
            assert "$" not in s.sql.replace("'$.", "")  # every parameter inlined
            assert sorted(p for p, ok in store.engine.rows(s.sql) if ok) == members[s.name], s.name
        by = {s.name: s.sql for s in duck.statements}
        assert "traits_in" not in by["repeat_buyers"] and "traits_in" in by["big_spenders"]
        assert "Coupon Applied" in by["vip"] and "Product Added" not in by["vip"]  # its references, no more
        for dialect in DIALECTS[1:]:
            result = audience_statements(prepared, dialect)
            text, st = result.text(), {s.name: s for s in result.statements}
            assert text.count("-- audience: ") == 4
            if dialect == "spark":  # cdp's own Spark SQL, as --engine spark runs it
                assert not any(s.warnings for s in result.statements) and "CDP_" not in text
                assert "to_json(named_struct(" in st["big_spenders"].sql and "`" in st["big_spenders"].sql
                continue
            assert "to_hours" not in text.lower() and "CDP_JSON_OBJECT" not in text and "json_object(" not in text
            assert "INTERVAL '24" in st["abandoned_cart"].sql
            assert "CDP_JSON_KIND" not in text and not st["big_spenders"].warnings
            if dialect == "postgres":
                assert "json_build_object(" in st["big_spenders"].sql
            assert not st["repeat_buyers"].warnings


def test_cli_show_sql_prints_and_writes_nothing(built, tmp_path):
    for command in (["compute", "-o", str(tmp_path / "out")], ["preview"]):
        r = run_cdp("audiences", *command, *_args(built), "--show-sql", "--dialect", "snowflake")
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("-- audience: ") == 4 and "TO_JSON(OBJECT_CONSTRUCT_KEEP_NULL(" in r.stdout
    r = run_cdp("audiences", "preview", *_args(built), "--show-sql", "--format", "json")
    assert [a["audience"] for a in json.loads(r.stdout)["audiences"]][0] == "repeat_buyers"
    assert not (tmp_path / "out").exists()
    r = run_cdp("audiences", "preview", *_args(built), "--show-sql", "--dialect", "oracle")
    assert r.returncode == 2
