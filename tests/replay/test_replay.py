"""``cdp events replay`` end to end: real files, a real HTTP server (tests/replay/server.py), real
processes killed with SIGKILL and resumed. Each test checks what a user would: which messageIds
arrived, how often, what was dropped and why, what the files hold."""

from __future__ import annotations

import gzip
import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from cdp_cli import api
from cdp_cli.errors import DestinationError, OutputError, UsageError
from tests.conftest import ROOT, run_cdp
from tests.replay.server import SegmentServer

SAMPLES = ROOT / "samples" / "ecommerce"


def _msgs(n: int, *, start: int = 0, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(start, start + n):
        kind = rng.choice(["track", "track", "identify", "page"])
        m: dict = {
            "type": kind,
            "messageId": f"m-{i}",
            "userId": f"u{rng.randrange(50)}",
            "timestamp": f"2026-11-{1 + i % 20:02d}T{rng.randrange(24):02d}:00:00.000Z",
            "sentAt": "2026-11-25T00:00:00.000Z",
        }
        if kind == "track":
            m["event"] = rng.choice(["Order Completed", "Product Viewed", "Debug Ping"])
            m["properties"] = {"revenue": rng.randrange(200), "currency": "EUR"}
        elif kind == "identify":
            m["traits"] = {"email": f"user{i}@example.com", "plan": rng.choice(["free", "pro"])}
        else:
            m["name"] = "Home"
            m["properties"] = {"path": "/"}
        out.append(m)
    return out


def _log(path: Path, msgs: list[dict], extra_lines: list[str] = ()) -> Path:
    lines = [json.dumps(m) for m in msgs] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n")
    return path


def _ids(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read().decode()
        return [json.loads(line)["messageId"] for line in data.splitlines() if line]
    with opener(path, "rt") as fh:
        return [json.loads(line)["messageId"] for line in fh if line.strip()]


# --- files ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".ndjson", ".ndjson.gz", ".ndjson.zst"])
def test_file_destination_round_trips_every_message_in_order(tmp_path, suffix):
    msgs = _msgs(300)
    log = _log(tmp_path / "in.ndjson", msgs, ["{not json", ""])
    out = tmp_path / f"out{suffix}"
    r = api.replay_events([log], f"file:{out}")
    assert r.read == 300 and r.sent == 300 and r.problems_total == 1 and not r.failed()
    assert r.problems[0].line == 301  # the bad line, named
    assert _ids(out) == [m["messageId"] for m in msgs]
    if suffix == ".ndjson":
        assert [json.loads(line) for line in out.read_text().splitlines()] == msgs  # unchanged


def test_an_existing_file_is_replaced_only_with_force_and_a_failed_run_leaves_nothing(tmp_path):
    log = _log(tmp_path / "in.ndjson", _msgs(10))
    out = tmp_path / "mine.ndjson"
    out.write_text("precious\n")
    with pytest.raises(DestinationError, match="exists"):
        api.replay_events([log], f"file:{out}")
    assert out.read_text() == "precious\n"
    api.replay_events([log], f"file:{out}", force=True)
    assert len(_ids(out)) == 10
    with pytest.raises(UsageError):
        api.replay_events([log], f"file:{tmp_path / 'new.ndjson'}", since="not a date")
    assert not (tmp_path / "new.ndjson").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_input_is_never_the_output(tmp_path):
    log = _log(tmp_path / "in.ndjson", _msgs(5))
    with pytest.raises(UsageError, match="one of the inputs"):
        api.replay_events([log], f"file:{log}", force=True)
    assert len(_ids(log)) == 5


# --- selecting and shaping ------------------------------------------------------------------------------
def test_selection_by_time_type_and_event_globs(tmp_path):
    msgs = _msgs(400)
    log = _log(tmp_path / "in.ndjson", msgs)
    out = tmp_path / "out.ndjson"
    r = api.replay_events(
        [log], f"file:{out}", since="2026-11-05", until="2026-11-10T00:00:00Z", events=["Order *", "Home"],
        exclude_events=["*Viewed"],
    )  # fmt: skip
    want = [
        m["messageId"]
        for m in msgs
        if "2026-11-05" <= m["timestamp"][:10] < "2026-11-10"
        and (m.get("event") == "Order Completed" or m.get("name") == "Home")
    ]
    assert _ids(out) == want and r.sent == len(want)
    assert r.dropped["before_since"] + r.dropped["after_until"] + r.dropped["event_not_selected"] == 400 - len(want)
    r2 = api.replay_events([log], f"file:{out}", types=["identify"], force=True)
    assert _ids(out) == [m["messageId"] for m in msgs if m["type"] == "identify"] and r2.dropped["type"] > 0


def test_duplicates_are_sent_once_and_missing_ids_get_a_stable_one(tmp_path):
    msgs = _msgs(50)
    no_id = {"type": "track", "event": "Order Completed", "userId": "u1", "timestamp": "2026-11-02T00:00:00Z"}
    log = _log(tmp_path / "in.ndjson", msgs + msgs[:10] + [no_id])
    out = tmp_path / "out.ndjson"
    r = api.replay_events([log], f"file:{out}")
    ids = _ids(out)
    assert r.dropped["duplicate"] == 10 and r.sent == 51 and len(set(ids)) == 51 and r.ids_generated == 1
    generated = ids[-1]
    assert generated.startswith("cdp-")
    api.replay_events([log], f"file:{out}", force=True)
    assert _ids(out)[-1] == generated  # the same on every run: a rerun is de-duplicated downstream
    api.replay_events([log], f"file:{out}", force=True, dedup=False)
    assert len(_ids(out)) == 61


def test_plan_controls_record_what_they_did_in_context_protocols(tmp_path):
    plan = ROOT / "plans" / "ecommerce"
    out = tmp_path / "out.ndjson"
    messy = ROOT / "samples" / "messy.ndjson"  # unplanned events and violations, as lint reports them
    drop = api.replay_events([messy], f"file:{out}", plan=[plan], on_unplanned="drop", on_violation="drop")
    assert drop.dropped["unplanned"] > 0 and drop.dropped["violation"] > 0
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    assert not any("violations" in (m.get("context", {}).get("protocols") or {}) for m in sent)
    kept = api.replay_events(
        [messy], f"file:{out}", plan=[plan], unplanned_properties="omit", on_violation="allow", force=True
    )
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    flagged = [m for m in sent if "violations" in m.get("context", {}).get("protocols", {})]
    assert set(kept.dropped) == {"duplicate"}  # allow: only the log's repeated messageIds are held back
    assert len(flagged) >= drop.dropped["violation"] and kept.protocols["violations"] >= len(flagged) > 0
    v = flagged[0]["context"]["protocols"]["violations"][0]
    assert set(v) == {"type", "field", "description"} and v["type"] in {
        "Datatype-Mismatch", "Required-Missing", "Additional-Properties", "Advance-Rules-Violation", "Unknown-Violation"
    }  # fmt: skip
    omit = api.replay_events([messy], f"file:{out}", plan=[plan], on_violation="omit", force=True)
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    omitted = [m for m in sent if "omitted" in m.get("context", {}).get("protocols", {})]
    assert omit.protocols["omitted"] == len(omitted) > 0
    for m in omitted:  # an omitted property is gone from the message, and named
        for field in m["context"]["protocols"]["omitted"]:
            key, name = field.split(".", 1)
            assert name not in m.get(key, {})


def test_transform_and_suppress_from_the_command_line(tmp_path):
    msgs = _msgs(200)
    log = _log(tmp_path / "in.ndjson", msgs)
    (tmp_path / "t.yaml").write_text(
        "transforms:\n  - when: {type: track, event: Order Completed}\n    rename_event: Purchase\n"
        "  - when: {type: identify}\n    drop: [traits.email]\n"
    )
    (tmp_path / "s.txt").write_text("# people who asked\nu7\nuser_id:u8\n")
    out = tmp_path / "out.ndjson"
    p = run_cdp(
        "events", "replay", str(log), "--to", f"file:{out}", "--transform", str(tmp_path / "t.yaml"),
        "--suppress", str(tmp_path / "s.txt"), "--format", "json",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    sent = [json.loads(line) for line in out.read_text().splitlines()]
    assert not any(m.get("userId") in ("u7", "u8") for m in sent)
    assert summary["dropped"]["suppressed:user_id"] == sum(m["userId"] in ("u7", "u8") for m in msgs)
    assert not any(m.get("event") == "Order Completed" for m in sent) and any(
        m.get("event") == "Purchase" for m in sent
    )
    assert not any("email" in m.get("traits", {}) for m in sent)
    assert "u7" not in p.stdout + p.stderr  # no identifier values in the summary


def test_dry_run_counts_what_a_real_run_does_and_sends_nothing(tmp_path, segment_server):
    log = _log(tmp_path / "in.ndjson", _msgs(500) + _msgs(20))
    dry = api.replay_events([log], segment_server.url, dry_run=True, exclude_events=["Debug *"])
    assert segment_server.requests == []
    real = api.replay_events([log], segment_server.url, exclude_events=["Debug *"], dead_letter=tmp_path / "d")
    assert (dry.sent, dry.dropped) == (real.sent, real.dropped)
    assert len(segment_server.received_ids()) == real.sent


# --- HTTP: exactly once, dead letters, retries ---------------------------------------------------
def test_http_every_message_once_through_errors_and_dead_letters_with_exit_1(tmp_path, segment_server):
    msgs = _msgs(3000)
    big = {**msgs[0], "messageId": "too-big", "properties": {"blob": "x" * 40_000}}
    log = _log(tmp_path / "in.ndjson", msgs + [big])
    for status in (500, 503, 429):
        segment_server.plan(status, retry_after=0 if status == 429 else None)
    segment_server.plan(400, body={"code": "invalid_request", "message": "bad batch"})
    dead = tmp_path / "dead.ndjson"
    p = run_cdp(
        "events", "replay", str(log), "--to", segment_server.url, "--dead-letter", str(dead),
        "--batch-size", "250", "--format", "json",
    )  # fmt: skip
    assert p.returncode == 1, p.stderr  # something was dead-lettered
    s = json.loads(p.stdout)
    letters = [json.loads(line) for line in dead.read_text().splitlines()]
    by_status = Counter(d["status"] for d in letters)
    assert by_status["too_large"] == 1 and by_status["400"] == 250 and s["dead_lettered"] == dict(by_status)
    got = Counter(segment_server.received_ids())
    assert max(got.values()) == 1  # nothing twice
    assert set(got) | {d["messageId"] for d in letters} == {m["messageId"] for m in msgs} | {"too-big"}
    assert s["retried"].get("500") == 1 and s["retried"].get("503") == 1
    assert letters[0]["file"].endswith("in.ndjson") and letters[0]["reason"]


def test_a_destination_that_is_down_stops_the_replay_and_a_rerun_resumes(tmp_path, segment_server):
    log = _log(tmp_path / "in.ndjson", _msgs(1000))
    ckpt = tmp_path / "ckpt.json"
    segment_server.plan(200, times=2)
    segment_server.plan(503, times=1000)
    opts = dict(batch_size=100, checkpoint=ckpt, concurrency=1)
    with pytest.raises(DestinationError, match="in a row failed"):
        api.replay_events([log], segment_server.url, **opts, max_retries=1)
    assert len(segment_server.received_ids()) == 200
    segment_server.reset()  # it is back
    r = api.replay_events([log], segment_server.url, **opts)
    assert len(segment_server.received_ids()) == 800 and r.resumed == 200 and not r.failed()
    assert not (tmp_path / "ckpt.json.dead-letters.ndjson").exists()  # the outage left no dead letters


def test_a_checkpoint_of_another_replay_is_refused(tmp_path, segment_server):
    log = _log(tmp_path / "in.ndjson", _msgs(100))
    ckpt = tmp_path / "ckpt.json"
    api.replay_events([log], segment_server.url, checkpoint=ckpt)
    with pytest.raises(UsageError, match="option since differs"):
        api.replay_events([log], segment_server.url, checkpoint=ckpt, since="2026-11-03")
    _log(log, _msgs(101))
    with pytest.raises(UsageError, match="changed"):
        api.replay_events([log], segment_server.url, checkpoint=ckpt)
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    with pytest.raises(OutputError, match="not written by cdp"):
        api.replay_events([log], segment_server.url, checkpoint=notes)
    assert notes.read_text() == '{"mine": true}\n'
    with pytest.raises(UsageError, match="written whole"):
        api.replay_events([log], f"file:{tmp_path / 'o.ndjson'}", checkpoint=tmp_path / "c2.json")


def test_sigkill_at_random_points_then_resume_ends_like_one_uninterrupted_run(tmp_path):
    """The replay process is killed with SIGKILL several times while sending (the server fails 5% of
    requests), then resumed to the end: every message arrives (by messageId), nothing acknowledged
    before a kill is sent again except the batches in flight at that moment, and the recorded
    outcome equals an uninterrupted run's."""
    msgs = _msgs(20_000, seed=5)
    log = _log(tmp_path / "in.ndjson", msgs + msgs[:100])  # with duplicates
    record = tmp_path / "received.ndjson"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.replay.server", "--port", "0", "--record", str(record), "--fail-rate", "0.05",
         "--seed", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = server.stdout.readline().split()[-1]
        ckpt = tmp_path / "ckpt.json"
        # paced (--rate) so that every attempt is still sending when it is killed: unpaced, a fast
        # replay can finish 20,000 messages before the first kill, and the test would kill nothing
        cmd = [sys.executable, "-m", "cdp_cli", "events", "replay", str(log), "--to", url, "--checkpoint", str(ckpt),
               "--batch-size", "200", "--rate", "4000", "-q"]  # fmt: skip
        rng = random.Random(11)
        kills = 0
        for _ in range(4):
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.8, 2.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        final = subprocess.run(cmd[:-1] + ["--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        done = json.loads(ckpt.read_text())
        assert done["done"] is True and done["watermark"] == 20_100
        received = Counter(json.loads(line)["messageId"] for line in record.read_text().splitlines())
        assert set(received) == {m["messageId"] for m in msgs}  # every message, none dropped or invented
        resent = sum(n - 1 for n in received.values())
        # only what was in flight at a kill (at most 2 x concurrency batches of 200) may be resent
        assert resent <= kills * 2 * 4 * 200, (kills, resent)
        assert kills >= 1
    finally:
        server.terminate()
        server.wait(5)


def test_sigterm_stops_cleanly_and_resumes(tmp_path):
    msgs = _msgs(5000, seed=9)
    log = _log(tmp_path / "in.ndjson", msgs)
    with SegmentServer() as server:
        server.plan("slow", seconds=0.3, times=10_000)
        ckpt = tmp_path / "ckpt.json"
        cmd = [sys.executable, "-m", "cdp_cli", "events", "replay", str(log), "--to", server.url, "--checkpoint",
               str(ckpt), "--batch-size", "100", "--concurrency", "2", "-q"]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # stopped once batches arrive (a fixed 2 s was before the first one on a loaded machine)
        deadline = time.monotonic() + 60
        while not server.received_ids() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=30)[1]
        assert proc.returncode == 143, err
        first = len(server.received_ids())
        assert 0 < first < 5000
        server.reset()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        total = Counter(server.received_ids())
        assert sum(total.values()) + first >= 5000
        assert set(total) | set(m["messageId"] for m in msgs[:first]) >= {m["messageId"] for m in msgs}


def test_the_write_key_comes_from_the_environment_and_is_never_printed(tmp_path, segment_server):
    log = _log(tmp_path / "in.ndjson", _msgs(20))
    key = "wk_SECRET_1234567890"
    p = run_cdp("events", "replay", str(log), "--to", segment_server.url, "--write-key-env", "MY_KEY", "--format",
                "json", env={"MY_KEY": key})  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert segment_server.requests[0].write_key == key if hasattr(segment_server.requests[0], "write_key") else True
    assert key not in p.stdout + p.stderr
    p = run_cdp("events", "replay", str(log), "--to", segment_server.url, "--write-key-env", "UNSET_KEY_VAR")
    assert p.returncode == 2 and "UNSET_KEY_VAR" in p.stderr and "not set" in p.stderr


# --- Parquet ----------------------------------------------------------------------------------------
def test_parquet_destination_lays_out_segments_warehouse_tables_by_date(tmp_path):
    import duckdb

    msgs = _msgs(600)
    first = next(m for m in msgs if m.get("event") == "Order Completed")  # revenue made the column a bigint
    msgs.append({**first, "messageId": "conflict", "properties": {"revenue": "lots", "currency": "EUR"}})
    log = _log(tmp_path / "in.ndjson", msgs)
    out = tmp_path / "wh"
    r = api.replay_events([log], f"parquet:{out}")
    assert r.sent == 601
    con = duckdb.connect()

    def q(sql: str):
        return con.execute(sql).fetchall()

    tracks = q(f"SELECT count(*), count(DISTINCT id) FROM read_parquet('{out}/tracks/*/*.parquet', union_by_name=true)")
    assert tracks == [(sum(m["type"] == "track" for m in msgs),) * 2]
    oc = f"read_parquet('{out}/order_completed/*/*.parquet', union_by_name=true, hive_partitioning=true)"
    rows = q(f"SELECT id, revenue, currency, event, event_text, date FROM {oc} ORDER BY id")
    want = [m for m in msgs if m.get("event") == "Order Completed"]
    assert len(rows) == len(want) and all(r[3] == "order_completed" and r[4] == "Order Completed" for r in rows)
    assert all(str(r[5]) == next(m for m in want if m["messageId"] == r[0])["timestamp"][:10] for r in rows)
    assert q(f"SELECT revenue FROM {oc} WHERE id = 'conflict'") == [(None,)]
    assert q(f"SELECT column_value, column_name FROM '{out}/cdp_discards/*.parquet'") == [("lots", "revenue")]
    users = dict(q(f"SELECT id, plan FROM '{out}/users/*.parquet'"))
    latest: dict[str, tuple[str, str]] = {}
    for m in msgs:
        if m["type"] == "identify" and (m["userId"] not in latest or latest[m["userId"]][0] <= m["timestamp"]):
            latest[m["userId"]] = (m["timestamp"], m["traits"]["plan"])
    assert users == {u: p for u, (_, p) in latest.items()}
