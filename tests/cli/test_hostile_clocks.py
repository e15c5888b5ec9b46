"""Clocks at the ends of the calendar, end to end through the real CLI: no command may stop with an
internal error, and every time cdp writes must be readable back (years 1-9999 in UTC)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cdp


def _track(mid: str, ts: str, event: str = "Order Completed", **extra) -> dict:
    return {"type": "track", "event": event, "userId": "u1", "messageId": mid, "timestamp": ts,
            "properties": {"revenue": 10}, **extra}  # fmt: skip


@pytest.fixture
def year_one(tmp_path: Path) -> Path:
    """A log whose every event is on the first days of year 1: windows reach before the calendar."""
    log = tmp_path / "year1.ndjson"
    msgs = [_track(f"m{i}", f"0001-01-0{1 + i % 3}T00:00:00Z") for i in range(6)]
    msgs.append(_track("m9", "0001-01-02T00:00:00Z", receivedAt="9999-12-31T23:59:59-01:00"))  # not in UTC
    log.write_text("".join(json.dumps(m) + "\n" for m in msgs))
    return log


def test_traits_and_audiences_with_windows_before_year_one(year_one: Path, tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    r = run_cdp("profiles", "resolve", str(year_one), "--out", str(profiles), "-q")
    assert r.returncode == 0, r.stderr
    events = pq.read_table(profiles / "events.parquet").to_pylist()  # readable: every time in range
    assert {e["message_id"] for e in events} == {f"m{i}" for i in range(6)} | {"m9"}
    assert next(e for e in events if e["message_id"] == "m9")["received_at"] is None  # not a time in UTC

    traits = tmp_path / "traits.yaml"
    traits.write_text("traits:\n  - {name: orders_30d, type: event_counter, event: Order Completed, within: 30d}\n")
    out = tmp_path / "t.parquet"
    r = run_cdp("traits", "compute", "--profiles", str(profiles), "--spec", str(traits), "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    assert [row["orders_30d"] for row in pq.read_table(out).to_pylist()] == [7]
    r = run_cdp("traits", "explain", "user_id:u1", "--profiles", str(profiles), "--spec", str(traits))
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr

    audiences = tmp_path / "audiences.yaml"
    audiences.write_text(
        "audiences:\n"
        "  - key: buyers\n    lookback: 4w\n    where: {performed: Order Completed, at_least: 2, within: 30d}\n"
    )
    r = run_cdp(
        "audiences", "compute", "--profiles", str(profiles), "--spec", str(audiences), "--traits", str(out),
        "--out", str(tmp_path / "aud"), "-q",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_flags_outside_the_calendar_are_usage_errors(year_one: Path, tmp_path: Path) -> None:
    for flag in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-01:00"):
        r = run_cdp("events", "lint", str(year_one), "--now", flag, "-q")
        assert r.returncode == 2 and "--now" in r.stderr and "internal error" not in r.stderr, r.stderr
    r = run_cdp("events", "lint", str(year_one), "--now", "9999-12-31T23:00:00Z", "-q")  # now + max_future
    assert r.returncode in (0, 1) and "internal error" not in r.stderr, r.stderr
    profiles = tmp_path / "p"
    assert run_cdp("profiles", "resolve", str(year_one), "--out", str(profiles), "-q").returncode == 0
    traits = tmp_path / "traits.yaml"
    traits.write_text("traits:\n  - {name: n, type: event_counter, event: Order Completed, within: 30d}\n")
    r = run_cdp("traits", "compute", "--profiles", str(profiles), "--spec", str(traits), "--out",
                str(tmp_path / "t.parquet"), "--as-of", "0001-01-01T00:00:00+05:00")  # fmt: skip
    assert r.returncode == 2 and "--as-of" in r.stderr and "internal error" not in r.stderr, r.stderr


def test_infer_orders_times_before_year_1000(tmp_path: Path) -> None:
    log = tmp_path / "old.ndjson"
    stamps = ["0001-01-01T10:00:00+05:00", "2024-01-01T00:00:00+00:00", "0500-01-01T00:00:00+00:00"]
    log.write_text("".join(json.dumps(_track(f"m{i}", ts, event="C")) + "\n" for i, ts in enumerate(stamps)))
    out = tmp_path / "plan"
    r = run_cdp("plan", "infer", str(log), "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    text = "".join(p.read_text() for p in sorted(out.rglob("*.yaml")))
    assert "first seen 0001-01-01T05:00:00Z, last seen 2024-01-01T00:00:00Z" in text, text


def test_replay_to_parquet_keeps_times_that_are_not_in_utc_as_text(tmp_path: Path) -> None:
    log = tmp_path / "r.ndjson"
    log.write_text(
        json.dumps(_track("a", "0001-01-01T00:00:00+05:00"))
        + "\n"
        + json.dumps(_track("b", "2024-01-01T00:00:00Z"))
        + "\n"
    )
    out = tmp_path / "pq"
    r = run_cdp("events", "replay", str(log), "--to", f"parquet:{out}", "-q")
    assert r.returncode == 0, r.stderr
    rows = [row for f in sorted((out / "tracks").rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]
    assert {row["id"]: row.get("timestamp") is not None for row in rows} == {"a": False, "b": True}
    discards = pq.read_table(out / "cdp_discards").to_pylist()  # the value is kept, with the reason
    assert {(d["table_name"], d["row_id"], d["column_value"]) for d in discards} == {
        (table, "a", "0001-01-01T00:00:00+05:00") for table in ("tracks", "order_completed")
    }
