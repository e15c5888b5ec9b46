"""``resolve()`` end to end: Parquet outputs read back and checked, invariance to file order and
splitting, bad input, super-nodes, and memory that follows identifiers rather than events."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp_cli.errors import OutputError
from cdp_cli.identity.resolve import resolve
from tests.conftest import ROOT

JOURNEYS = ROOT / "samples" / "identity" / "journeys.ndjson"


def read(out, name):
    return pq.read_table(out / f"{name}.parquet").to_pylist()


def test_outputs_of_the_identity_sample(tmp_path):
    out = tmp_path / "profiles"
    r = resolve([JOURNEYS], out)
    assert (r.events, r.profiles, r.merges, r.refused) == (22, 8, 1, 5)
    assert r.problems_total == 1 and r.problems[0].code == "EV002" and r.problems[0].line == 21
    assert sorted(p.name for p in out.iterdir()) == [
        ".cdp-output.json",
        "events.parquet",
        "identities.parquet",
        "manifest.json",
        "merges.parquet",
        "profiles.parquet",
    ]

    events = read(out, "events")
    events.sort(key=lambda e: e["message_id"])  # row order is not meaningful
    assert len(events) == 22 and [e["message_id"] for e in events][:3] == ["j-001", "j-002", "j-003"]
    assert set(events[0]) >= {
        "message_id",
        "profile_id",
        "type",
        "event",
        "timestamp",
        "user_id",
        "anonymous_id",
        "group_id",
        "properties",
        "traits",
        "context",
        "file",
        "line",
    }
    no_profile = [e for e in events if e["profile_id"] is None]
    assert [e["message_id"] for e in no_profile] == ["j-020"]  # userId null, anonymousId ""
    assert json.loads(events[1]["properties"]) == {"product_id": "p-1"} and events[1]["event"] == "Product Viewed"
    assert events[0]["event"] == "Home" and events[0]["timestamp"].isoformat() == "2026-11-20T09:00:00+00:00"

    profiles = {p["profile_id"]: p for p in read(out, "profiles")}
    assert len(profiles) == 8 and sum(p["event_count"] for p in profiles.values()) == 21
    ada = next(p for p in profiles.values() if ("user_id", ["u-ada"]) in p["identifiers"])
    idents = dict(ada["identifiers"])
    assert idents["email"] == ["ada.work@example.com", "ada@example.com"]  # lower-cased, both kept (limit 5)
    assert idents["anonymous_id"] == ["a-ios-ada", "a-web-ada"] and idents["ios.id"] == ["IOS-ADA-PHONE"]
    traits = json.loads(ada["traits"])
    assert traits["plan"] == "pro" and traits["email"] == "ada.work@example.com"  # the newest values
    assert ada["event_count"] == 8 and ada["merged_profiles"] == 1
    assert (ada["track_count"], ada["identify_count"], ada["page_count"], ada["screen_count"]) == (3, 3, 1, 1)

    identities = read(out, "identities")
    keys = [(i["type"], i["value"]) for i in identities]
    assert len(keys) == len(set(keys)) == r.identifiers
    assert all(i["profile_id"] in profiles for i in identities)
    num = next(i for i in identities if i["type"] == "user_id" and i["value"] == "42")  # a JSON number, normalised
    assert num["event_count"] == 2
    web = next(i for i in identities if i["value"] == "a-web-ada")
    assert (web["linked_message_id"], web["linked_line"], web["linked_via_type"]) == ("j-001", 1, None)  # created it
    uid = next(i for i in identities if i["value"] == "u-ada")
    assert (uid["linked_message_id"], uid["linked_via_type"], uid["linked_via_value"]) == (
        "j-003",
        "anonymous_id",
        "a-web-ada",
    )

    merges = read(out, "merges")
    assert [m["kind"] for m in merges].count("merge") == 1
    segment = [m for m in merges if m["message_id"] == "j-022"]  # Segment's documented example
    assert [(m["limit_type"], m["limit_value"], m["dropped_type"], m["dropped_value"]) for m in segment] == [
        ("user_id", 1, "email", "jane@example1.com")
    ]
    assert [m["step"] for m in merges] == sorted(m["step"] for m in merges)
    assert r.extract.blocked == {"user_id": 2, "email": 1, "anonymous_id": 1}
    assert r.extract.wrong_type == {"anonymous_id": 1} and r.extract.examples[0][2:] == (str(JOURNEYS), 16)


def test_rerun_replaces_only_its_own_directory(tmp_path):
    out = tmp_path / "profiles"
    a = resolve([JOURNEYS], out)
    b = resolve([JOURNEYS], out)  # a directory cdp wrote: replaced
    assert read(out, "profiles") and a.profiles == b.profiles
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty and was not written by cdp"):
        resolve([JOURNEYS], other)
    assert (other / "keep.txt").read_text() == "mine"


def test_events_are_clustered_by_profile_then_time(tmp_path):
    """events.parquet is sorted by profile, then time, in row groups whose statistics let a reader
    of one profile (explain, profiles show) skip the others."""
    rng = random.Random(3)
    log = tmp_path / "log.ndjson"
    msgs = [
        {
            "type": "track",
            "event": "E",
            "messageId": f"m{i}",
            "userId": f"u{rng.randrange(300)}",
            "timestamp": f"2026-11-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z",
        }
        for i in range(3000)
    ]
    log.write_text("".join(json.dumps(m) + "\n" for m in msgs))
    out = tmp_path / "profiles"
    resolve([log], out)
    rows = read(out, "events")
    keys = [(r["profile_id"] is None, r["profile_id"] or "", r["timestamp"]) for r in rows]
    assert len({r["profile_id"] for r in rows}) > 20 and keys == sorted(keys)
    meta = pq.ParquetFile(out / "events.parquet").metadata
    col = meta.schema.names.index("profile_id")
    stats = [meta.row_group(i).column(col).statistics for i in range(meta.num_row_groups)]
    assert all(s is not None and s.has_min_max for s in stats)


def _log(rng: random.Random, n: int) -> list[dict]:
    users = [f"u{i}" for i in range(4)]
    out = []
    for _ in range(n):
        m: dict = {
            "type": rng.choice(["track", "identify", "page"]),
            "messageId": f"m{rng.randint(0, n)}",
            "timestamp": f"2026-11-20T10:{rng.randint(0, 5):02d}:00Z",
        }  # many ties: the order must not matter
        if rng.random() < 0.6:
            m["userId"] = rng.choice(users + [None, "null"])
        if rng.random() < 0.7:
            m["anonymousId"] = f"a{rng.randint(0, 6)}"
        if rng.random() < 0.3:
            m["traits"] = {"email": f"e{rng.randint(0, 3)}@x.io", "n": rng.randint(0, 9)}
        if m["type"] == "track":
            m["event"] = "E"
        out.append(m)
    return out


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_the_same_data_gives_the_same_profiles_whatever_the_files(tmp_path_factory, seed, parts):
    rng = random.Random(seed)
    msgs = _log(rng, 40)
    base = tmp_path_factory.mktemp("inv")
    (base / "one.ndjson").write_text("".join(json.dumps(m) + "\n" for m in msgs))
    shuffled = msgs[:]
    rng.shuffle(shuffled)
    split = base / "split"
    split.mkdir()
    for k in range(parts):
        (split / f"{k}.ndjson").write_text("".join(json.dumps(m) + "\n" for m in shuffled[k::parts]))
    results = []
    for name, inputs in (("a", [base / "one.ndjson"]), ("b", [split])):
        out = base / f"out-{name}"
        resolve(inputs, out)
        profiles = sorted(
            (p["profile_id"], sorted((t, tuple(v)) for t, v in p["identifiers"]), p["traits"], p["event_count"])
            for p in read(out, "profiles")
        )
        assign = sorted((e["message_id"], e["profile_id"] or "", e["type"]) for e in read(out, "events"))
        results.append((profiles, assign))
    assert results[0] == results[1]


def test_a_super_node_is_refused_in_limits_mode_and_flagged_in_unrestricted_mode(tmp_path):
    log = tmp_path / "shared.ndjson"
    log.write_text(
        "".join(
            json.dumps(
                {
                    "type": "track",
                    "event": "E",
                    "userId": f"u{i}",
                    "anonymousId": "shared-kiosk",
                    "messageId": f"m{i}",
                    "timestamp": f"2026-11-20T10:00:{i % 60:02d}Z",
                }
            )
            + "\n"
            for i in range(2000)
        )
    )
    r = resolve([log], tmp_path / "limits")
    assert r.profiles == 2000 and r.refused == 1999 and not r.super_profiles
    assert max(p["identifiers"] for p in r.largest) == 2
    r = resolve([log], tmp_path / "cc", unrestricted=True)
    assert r.profiles == 1 and r.merges == 0 and r.refused == 0
    assert r.super_profiles and r.super_profiles[0]["identifiers"] == 2001


def test_absurd_values_and_unreadable_lines_are_counted_not_fatal(tmp_path):
    log = tmp_path / "bad.ndjson"
    rows = [
        json.dumps({"type": "track", "event": "E", "userId": "x" * 10_000}),  # absurdly long: not an id
        json.dumps({"type": "track", "event": "E", "userId": ["a"], "anonymousId": "ok-1"}),
        "{broken",
        json.dumps([1, 2]),
        json.dumps({"type": "identify", "userId": "u1", "traits": {"email": {"nested": True}}}),
    ]
    log.write_text("\n".join(rows) + "\n")
    r = resolve([log], tmp_path / "out")
    assert r.events == 3 and r.problems_total == 2 and {p.code for p in r.problems} == {"EV002", "EV003"}
    assert r.extract.too_long == {"user_id": 1} and r.extract.wrong_type == {"user_id": 1, "email": 1}
    assert r.events_without_profile == 1 and r.profiles == 2
    assert len(read(tmp_path / "out", "events")) == 3


MEMORY_SCRIPT = """
import json, sys, tracemalloc
import cdp_cli.identity.resolve as R
held = {}
write = R._write_outputs
def measured(*args, **kwargs):  # every event has been resolved; the graph is complete
    held["bytes"] = tracemalloc.get_traced_memory()[0]
    return write(*args, **kwargs)
R._write_outputs = measured
tracemalloc.start()
r = R.resolve([sys.argv[1]], sys.argv[2], memory_limit="128MB")
print(json.dumps({"held": held["bytes"], "profiles": r.profiles}))
"""


def _write_log(path, events: int, users: int) -> None:
    rng = random.Random(5)
    with open(path, "w") as fh:
        for i in range(events):
            u = rng.randrange(users)
            fh.write(
                json.dumps(
                    {
                        "type": "track",
                        "event": "Product Viewed",
                        "userId": f"u{u}",
                        "anonymousId": f"a{u}",
                        "messageId": f"m{i}",
                        "timestamp": f"2026-11-{1 + i % 28:02d}T10:00:00Z",
                        "properties": {"product_id": f"p{i % 500}", "price": 9.5, "note": "x" * 300},
                    }
                )
                + "\n"
            )


def test_python_memory_follows_identifiers_not_events(tmp_path):
    """4x the events with the same people: the Python memory held once every event is resolved (the
    identity graph, caches, stats) is the same. Transient buffers are bounded by construction (staged
    rows, one batch, assignment arrays); the engine's memory is capped by --memory-limit (its sorts and
    joins spill to disk). bench/RESULTS.md records whole-process peaks at 1M and 5M events."""
    small, big = tmp_path / "small.ndjson", tmp_path / "big.ndjson"
    _write_log(small, 20_000, 2_000)
    _write_log(big, 80_000, 2_000)
    held = {}
    for name, path in (("small", small), ("big", big)):
        r = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, str(path), str(tmp_path / f"out-{name}")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["profiles"] == 2000
        held[name] = doc["held"] / 2**20
    # one 40-byte object kept per event would add 2.3 MiB here
    assert held["big"] < held["small"] + 1.0, held


def test_worker_processes_do_not_change_the_output(tmp_path):
    from cdp_cli.samples import generate

    log = tmp_path / "gen.ndjson"
    generate(log, 6000, seed=3, violations=0.05)
    outs = []
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        r = resolve([log, JOURNEYS], out, jobs=jobs)
        outs.append(
            (
                r.summary()["identifiers_report"],
                r.problems_total,
                [(p.file, p.line, p.code) for p in r.problems],
                sorted(
                    (p["profile_id"], sorted((t, tuple(v)) for t, v in p["identifiers"]), p["traits"])
                    for p in read(out, "profiles")
                ),
                sorted((e["message_id"] or "", e["profile_id"] or "", e["line"]) for e in read(out, "events")),
                [(m["kind"], m["profile_id"], m["message_id"], m["dropped_value"]) for m in read(out, "merges")],
            )
        )
    assert outs[0] == outs[1]
    assert outs[0][1] > 0  # the generated log has broken lines; they are reported the same way


def test_journeys_as_real_sdks_send_them(tmp_path):
    """analytics-python sends "userId": null next to an anonymousId; rudder-sdk-python puts identify
    traits in context.traits; analytics.js batches arrive as {"batch": [...], "sentAt": ...} and repeat
    context.traits on track calls; alias joins the anonymous history to the new user id."""
    log = tmp_path / "sdk.ndjson"
    rows = [
        {
            "type": "page",
            "userId": None,
            "anonymousId": "anon-1",
            "messageId": "p1",
            "timestamp": "2026-11-20T10:00:00Z",
            "context": {"library": {"name": "analytics-python", "version": "2.3.3"}},
        },
        {
            "type": "identify",
            "userId": "u-7",
            "anonymousId": "anon-1",
            "messageId": "i1",
            "timestamp": "2026-11-20T10:01:00Z",
            "traits": {},
            "context": {
                "traits": {"email": "Pat@Example.com", "plan": "pro"},
                "library": {"name": "rudder-sdk-python", "version": "2.1.0"},
            },
        },
        {
            "batch": [
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": "u-7",
                    "messageId": "t1",
                    "originalTimestamp": "2026-11-20T10:02:00Z",
                    "context": {"traits": {"plan": "enterprise"}},
                },
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "anonymousId": "anon-2",
                    "messageId": "t2",
                    "originalTimestamp": "2026-11-20T10:03:00Z",
                },
            ],
            "sentAt": "2026-11-20T10:03:05Z",
        },
        {
            "type": "alias",
            "previousId": "anon-2",
            "userId": "u-7",
            "messageId": "a1",
            "timestamp": "2026-11-20T10:04:00Z",
        },
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    r = resolve([log], out)
    assert (r.events, r.profiles, r.merges, r.refused, r.events_without_profile) == (5, 1, 1, 0, 0)
    [p] = read(out, "profiles")
    assert dict(p["identifiers"]) == {
        "user_id": ["u-7"],
        "email": ["pat@example.com"],
        "anonymous_id": ["anon-1", "anon-2"],
    }
    assert json.loads(p["traits"]) == {"email": "Pat@Example.com", "plan": "enterprise"}  # newest wins, as sent
    events = {e["message_id"]: e for e in read(out, "events")}
    assert events["t1"]["batch_index"] == 0 and events["t2"]["line"] == 3  # both from the batch line
    assert events["t2"]["timestamp"].isoformat() == "2026-11-20T10:03:00+00:00"  # originalTimestamp, no timestamp
