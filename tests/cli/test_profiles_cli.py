"""`cdp profiles resolve / show / explain` as a user runs them: outputs, formats, exit codes, errors."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from tests.conftest import ROOT, run_cdp

JOURNEYS = "samples/identity"


def test_resolve_show_and_explain_the_identity_sample(tmp_path):
    out = tmp_path / "profiles"
    r = run_cdp("profiles", "resolve", JOURNEYS, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "22 events -> 8 profiles, 1 merge, 5 refused merges" in r.stdout
    assert "refused merges" in r.stdout and "blocked values seen" in r.stdout and "Largest profiles" in r.stdout
    assert "journeys.ndjson:21:39: EV002" in r.stderr and "skipped" in r.stderr  # the truncated line
    assert "journeys.ndjson:16: anonymous_id value is not an identifier: object" in r.stderr
    assert pq.read_table(out / "profiles.parquet").num_rows == 8

    r = run_cdp("profiles", "show", "email:ADA@example.com", "--profiles", str(out))
    assert r.returncode == 0, r.stderr
    assert "u-ada" in r.stdout and "ada.work@example.com" in r.stdout and "IOS-ADA-PHONE" in r.stdout
    assert "j-008" in r.stdout  # the most recent event
    doc = json.loads(run_cdp("profiles", "show", "u-ada", "--profiles", str(out), "--format", "json").stdout)
    assert doc["traits"]["plan"] == "pro" and doc["event_count"] == 8 and doc["counts"]["screen"] == 1
    assert doc["identifiers"]["anonymous_id"] == ["a-ios-ada", "a-web-ada"]

    r = run_cdp("profiles", "explain", "email:ada.work@example.com", "anonymous_id:a-ios-ada", "--profiles", str(out))
    assert r.returncode == 0 and r.stdout.startswith("linked:")
    assert "journeys.ndjson:7" in r.stdout and "journeys.ndjson:6" in r.stdout and "merged their profiles" in r.stdout
    doc = json.loads(run_cdp("profiles", "explain", "u-grace", "u-linus", "-P", str(out), "--format", "json").stdout)
    assert doc["verdict"] == "refused" and not doc["same_profile"]
    assert {(x["limit_type"], x["limit_value"], x["dropped"]) for x in doc["refusals"]} == {
        ("user_id", 1, "ios.id:IPAD-STORE-1"),
        ("user_id", 1, "anonymous_id:a-ipad-store"),
    }
    assert all(x["file"].endswith("journeys.ndjson") and x["line"] in (11, 12) for x in doc["refusals"])
    doc = json.loads(run_cdp("profiles", "explain", "u-bob", "a-web-kim", "-P", str(out), "--format", "json").stdout)
    assert doc["verdict"] == "never linked"
    doc = json.loads(
        run_cdp("profiles", "explain", "u-bob", "anonymous_id:a-web-bob", "-P", str(out), "--format", "json").stdout
    )
    assert doc["verdict"] == "linked" and doc["hops"][0]["message_id"] == "j-018"  # the alias call


def test_json_summary_strict_and_unrestricted_mode(tmp_path):
    r = run_cdp("profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "a"), "--format", "json")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert (doc["events"], doc["profiles"], doc["merges"], doc["refused_merges"], doc["blocked_values"]) == (
        22,
        8,
        1,
        5,
        4,
    )
    assert doc["refused_by_type"] == {"user_id": 5} and doc["problems"][0]["line"] == 21
    assert run_cdp("profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "b"), "--strict", "-q").returncode == 1
    doc = json.loads(
        run_cdp(
            "profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "c"), "--mode", "unrestricted", "--format", "json"
        ).stdout
    )
    assert doc["mode"] == "unrestricted" and doc["refused_merges"] == 0 and doc["profiles"] == 6


def test_identity_file_and_errors(tmp_path):
    cfg = tmp_path / "identity.yaml"
    cfg.write_text("identifiers:\n  anonymous_id: {enabled: false}\n  ios.id: {enabled: false}\n")
    doc = json.loads(
        run_cdp(
            "profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "o"), "--identity", str(cfg), "--format", "json"
        ).stdout
    )
    assert doc["identifiers_report"]["blocked"] == {"email": 1, "user_id": 2}  # anonymous ids are no longer read
    cfg.write_text("identifiers:\n  user_id: {limit: many}\n")
    r = run_cdp("profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "o2"), "--identity", str(cfg))
    assert r.returncode == 2 and "identity.yaml:2:13: limit must be an integer" in r.stderr
    r = run_cdp("profiles", "resolve", "nope/", "--out", str(tmp_path / "o3"))
    assert r.returncode == 2 and "nope/: no such file or directory" in r.stderr
    r = run_cdp("profiles", "resolve", str(ROOT / JOURNEYS), "--out", str(ROOT / "samples"))  # would replace the input
    assert r.returncode == 2 and "contains the input" in r.stderr
    r = run_cdp("profiles", "show", "u-ada", "--profiles", str(tmp_path))
    assert r.returncode == 2 and "not a profiles directory" in r.stderr
    run_cdp("profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "ok"), "-q")
    r = run_cdp("profiles", "show", "email:nobody@example.com", "--profiles", str(tmp_path / "ok"))
    assert r.returncode == 2 and "no such identifier" in r.stderr
    assert "Traceback" not in r.stderr


def test_help_has_examples():
    for cmd in ("resolve", "show", "explain"):
        r = run_cdp("profiles", cmd, "--help")
        assert r.returncode == 0 and "Example" in r.stdout


def test_standard_input_and_worker_processes(tmp_path):
    data = (ROOT / JOURNEYS / "journeys.ndjson").read_text()
    r = run_cdp("profiles", "resolve", "-", "--out", str(tmp_path / "o"), "--jobs", "2", "--format", "json", input=data)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["events"], doc["profiles"], doc["refused_merges"]) == (22, 8, 5)
    assert "<stdin>:21:39: EV002" in r.stderr
    files = {row["file"] for row in pq.read_table(tmp_path / "o" / "events.parquet").to_pylist()}
    assert files == {"<stdin>"}
