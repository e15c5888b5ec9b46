"""Activation events (``cdp traits compute --emit-events``): Engage-shaped identify/track messages,
deterministic ids, changes only against ``--previous``, one message per identifier or per profile,
generic for audiences; the log passes ``cdp events lint`` and is recognised as cdp's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cdp_cli.activation import Computation, changes, looks_like_activation, messages
from cdp_cli.fsutil import written_by_cdp
from tests.conftest import run_cdp

AS_OF = datetime(2026, 11, 15, tzinfo=UTC)
IDS = {
    "p1": {"user_id": ["u1"], "email": ["a@x.io", "b@x.io"], "anonymous_id": ["an1"]},
    "p2": {"anonymous_id": ["an2"]},
}


def test_trait_messages_per_identifier_and_per_profile():
    c = Computation("trait", "orders_30d", 0)
    msgs = list(messages(c, [("p1", 3)], IDS, AS_OF))
    assert [(m["type"], m.get("traits", {}).get("email")) for m in msgs][::2] == [
        ("identify", "a@x.io"), ("identify", "a@x.io"), ("identify", "b@x.io")
    ]  # fmt: skip
    assert len(msgs) == 6 and all(m["userId"] == "u1" and m["timestamp"] == "2026-11-15T00:00:00Z" for m in msgs)
    ident, track = msgs[0], msgs[1]
    assert ident["traits"]["orders_30d"] == 3 and track["event"] == "Trait Computed"
    assert track["properties"] == {"trait_key": "orders_30d", "orders_30d": 3}
    assert track["context"]["traits"] == {"email": "a@x.io"}
    personas = ident["context"]["personas"]
    assert personas["computation_class"] == "trait" and personas["computation_key"] == "orders_30d"
    assert personas["computation_id"] == c.id and c.id == Computation("trait", "orders_30d").id
    assert ident["integrations"] == {"Personas": False}
    ids = [m["messageId"] for m in msgs]
    assert len(set(ids)) == 6 and all(i.startswith("personas_") for i in ids)
    assert ids == [m["messageId"] for m in messages(c, [("p1", 3)], IDS, AS_OF)]  # deterministic
    assert ids != [m["messageId"] for m in messages(c, [("p1", 4)], IDS, AS_OF)]
    anon = list(messages(c, [("p1", 3), ("p2", 1)], IDS, AS_OF, emit="identify", include_anonymous=True))
    assert [m.get("anonymousId") for m in anon] == [None, None, None, "an1", "an2"]
    assert list(messages(c, [("p2", 1)], IDS, AS_OF)) == []  # anonymous only: not activated by default
    per = list(messages(c, [("p1", 3)], IDS, AS_OF, emit="track", per="profile"))
    assert len(per) == 1 and per[0]["userId"] == "u1" and per[0]["type"] == "track"


def test_audience_messages_and_changes():
    a = Computation("audience", "cart_abandoners", False)
    entered, exited = (list(messages(a, [("p1", v)], IDS, AS_OF, per="profile")) for v in (True, False))
    assert entered[0]["traits"] == {"cart_abandoners": True, "email": "a@x.io"}
    assert entered[1]["event"] == "Audience Entered" and exited[1]["event"] == "Audience Exited"
    assert exited[1]["properties"] == {"audience_key": "cart_abandoners", "cart_abandoners": False}
    assert entered[0]["context"]["personas"]["computation_id"].startswith("aud_")
    assert list(changes({"a": True, "b": False}, None, False)) == [("a", True)]
    assert list(changes({"a": 0, "b": 2, "c": None}, None, 0)) == [("b", 2), ("c", None)]
    prev = {"a": 1.5, "b": [1, 2], "c": "x"}
    assert list(changes({"a": 1.5, "b": [1, 3], "c": None, "d": None}, prev)) == [("b", [1, 3]), ("c", None)]


LOG = [
    {"type": "identify", "userId": "u1", "messageId": "i1", "timestamp": "2026-11-01T00:00:00Z",
     "traits": {"email": "Ada@Example.com"}},
    {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1",
     "timestamp": "2026-11-02T00:00:00Z", "properties": {"revenue": 30, "currency": "EUR"}},
    {"type": "track", "event": "Order Completed", "anonymousId": "a2", "messageId": "m2",
     "timestamp": "2026-11-03T00:00:00Z", "properties": {"revenue": 5, "currency": "USD"}},
    {"type": "track", "event": "Order Completed", "userId": "u3", "messageId": "m3",
     "timestamp": "2026-11-10T00:00:00Z", "properties": {"revenue": 7}},
]  # fmt: skip
SPEC = """traits:
  - {name: orders_7d, type: event_counter, event: Order Completed, within: 7d}
  - {name: revenue_total, type: aggregation, function: sum, event: Order Completed, property: revenue}
  - {name: currencies, type: unique_list, event: Order Completed, property: currency}
"""


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("activation")
    (root / "log.ndjson").write_text("".join(json.dumps(m) + "\n" for m in LOG))
    (root / "traits.yaml").write_text(SPEC)
    r = run_cdp("profiles", "resolve", "log.ndjson", "--out", "profiles", cwd=root)
    assert r.returncode == 0, r.stderr
    return root


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_compute_emits_lintable_changes(resolved):
    base = ["traits", "compute", "--profiles", "profiles", "--spec", "traits.yaml", "--out", "t.parquet"]
    r = run_cdp(*base, "--as-of", "2026-11-05", "--emit-events", "a.ndjson", "--format", "json", cwd=resolved)
    assert r.returncode == 0, r.stderr
    first = _read(resolved / "a.ndjson")
    summary = json.loads(r.stdout)["activation"]
    assert summary["messages"] == len(first) and summary["profiles"] == 1  # a2 is anonymous: not activated
    assert {m["userId"] for m in first} == {"u1"} and {m["type"] for m in first} == {"identify", "track"}
    values = {k: v for m in first if m["type"] == "identify" for k, v in m["traits"].items()}
    assert values == {"orders_7d": 1, "revenue_total": 30.0, "currencies": ["EUR"], "email": "ada@example.com"}
    assert written_by_cdp(resolved / "a.ndjson") and looks_like_activation(first[0])
    lint = run_cdp("events", "lint", "a.ndjson", "--format", "json", cwd=resolved)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert json.loads(lint.stdout)["summary"]["errors"] == 0

    # same inputs, same ids
    r = run_cdp(*base, "--as-of", "2026-11-05", "--emit-events", "a.ndjson", cwd=resolved)
    assert r.returncode == 0, r.stderr
    assert _read(resolved / "a.ndjson") == first

    # later: only changes against the previous file (here --out itself: read before it is replaced)
    args = ["--as-of", "2026-11-12", "--emit-events", "b.ndjson", "--previous", "t.parquet", "--emit", "identify"]
    r = run_cdp(*base, *args, "--emit-per", "profile", cwd=resolved)
    assert r.returncode == 0, r.stderr
    later = _read(resolved / "b.ndjson")
    got = {(m["userId"], k): v for m in later for k, v in m["traits"].items() if k != "email"}
    assert got == {("u1", "orders_7d"): 0, ("u3", "orders_7d"): 1, ("u3", "revenue_total"): 7.0}
    assert all(m["type"] == "identify" for m in later)


def test_emit_events_refuses_foreign_files_and_bad_previous(resolved):
    (resolved / "mine.ndjson").write_text('{"type": "track", "event": "x", "messageId": "personas_1"}\n')
    base = ["traits", "compute", "--profiles", "profiles", "--spec", "traits.yaml", "--out", "t2.parquet"]
    r = run_cdp(*base, "--emit-events", "mine.ndjson", cwd=resolved)
    assert r.returncode == 2 and "not written by cdp" in r.stderr
    r = run_cdp(*base, "--emit-events", "c.ndjson", "--previous", "traits.yaml", cwd=resolved)
    assert r.returncode == 2 and "--previous" in r.stderr
    r = run_cdp(*base, "--previous", "t2.parquet", cwd=resolved)
    assert r.returncode == 2 and "--emit-events" in r.stderr
