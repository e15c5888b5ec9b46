"""The lint engine as a whole: fast path == full checks, jobs don't change output, dedup spills,
real SDK messages are clean, memory is bounded."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp_cli.events.reader import Chunk, discover, iter_chunks
from cdp_cli.lint.dedup import DedupIndex, mid_hash
from cdp_cli.lint.runner import Checker, lint, load_plan_for_lint
from cdp_cli.samples import generate
from tests.conftest import ROOT

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def plans():
    return {name: load_plan_for_lint([ROOT / "plans" / name]) for name in ("ecommerce", "saas")}


def _findings(checker, path):
    out = []
    for chunk in iter_chunks(discover([path]), max_line_bytes=checker.max_line_bytes):
        out.extend((f.line, f.code, f.path, f.message, f.level.value) for f in checker.check_chunk(chunk).findings)
    return out


@pytest.mark.parametrize("plan_name,seed", [(None, 3), ("ecommerce", 4), ("saas", 5)])
def test_fast_path_gives_exactly_the_full_checks_findings(tmp_path, plans, plan_name, seed):
    plan = plans[plan_name] if plan_name else None
    log = tmp_path / "messy.ndjson"
    generate(log, 6000, seed=seed, violations=0.3, plan=plan or plans["ecommerce"])
    fast = _findings(Checker(None, plan, now=NOW, fast=True), log)
    full = _findings(Checker(None, plan, now=NOW, fast=False), log)
    assert fast == full
    assert len({f[1] for f in full}) >= 6  # the corpus really is messy


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            " ",
            "\x1c",
            "ada@example.com",
            "+14155550123",
            "4111 1111 1111 1111",
            "536-22-8714",
            "203.0.113.9",
            "2001:db8::1",
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:00:00",
            "2099-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2026-11-20T10:00:00+02:00",
            "usd",
            "dollars",
            "Order Completed",
            "order_completed",
            "Viewed 8231",
            "x" * 120,
        ]
    ),
    st.text(max_size=30),
)
_keys = st.one_of(
    st.sampled_from(
        [
            "order_id",
            "orderId",
            "total",
            "revenue",
            "currency",
            "email",
            "createdAt",
            "firstName",
            "item_8231",
            "42",
            "traits",
            "userId",
            "note",
            "products",
            "address",
            "postalCode",
            "version",
            "app_version",
        ]
    ),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)
_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "page", "screen", "identify", "group", "alias", "Track", None])},
    optional={
        "event": st.sampled_from(
            ["Order Completed", "Product Viewed", "Signed Up", "order_completed", "Viewed 8231", "", None]
        ),
        "name": st.sampled_from(["Home", "Cart", "Pricing", "home", None]),
        "userId": st.one_of(st.none(), st.sampled_from(["u1", "", " ", "\x1c"]), st.integers(0, 99)),
        "anonymousId": st.one_of(st.none(), st.sampled_from(["a1", ""])),
        "groupId": st.sampled_from(["g1", "", None]),
        "previousId": st.sampled_from(["p1", None]),
        "messageId": st.one_of(st.none(), st.sampled_from(["m1", "", "m" * 101]), st.integers()),
        "timestamp": _scalars,
        "sentAt": _scalars,
        "originalTimestamp": _scalars,
        "receivedAt": _scalars,
        "properties": _values,
        "traits": _values,
        "context": st.one_of(
            _values,
            st.fixed_dictionaries(
                {},
                optional={
                    "traits": _values,
                    "ip": st.just("203.0.113.9"),
                    "protocols": st.fixed_dictionaries({"event_version": st.sampled_from([1, 2, 7, "2", None, True])}),
                },
            ),
        ),
        "user_id": st.just("u1"),
        "ip": st.just("1.2.3.4"),
        "channel": st.just("server"),
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.lists(_messages, min_size=1, max_size=8), st.booleans())
def test_fast_path_never_hides_a_finding_on_arbitrary_messages(plans, messages, with_plan):
    plan = plans["ecommerce"] if with_plan else None
    lines = [json.dumps(m).encode() for m in messages]
    results = []
    for fast in (True, False):
        checker = Checker(None, plan, now=NOW, fast=fast)
        found = checker.check_chunk(Chunk(0, "x.ndjson", 1, list(lines))).findings
        results.append([(f.line, f.code, f.path, f.message) for f in found])
    assert results[0] == results[1]


def test_jobs_do_not_change_the_output(tmp_path, plans):
    log = tmp_path / "log.ndjson"
    generate(log, 12_000, seed=9, violations=0.1, plan=plans["ecommerce"])
    runs = [lint([log], plan_paths=[ROOT / "plans" / "ecommerce"], now=NOW, jobs=j, keep=None) for j in (1, 2)]
    a, b = ([(f.file, f.line, f.code, f.path, f.message) for f in r.findings] for r in runs)
    assert a == b and a
    assert runs[0].summary()["findings_by_rule"] == runs[1].summary()["findings_by_rule"]
    assert runs[0].stats.as_dict() == runs[1].stats.as_dict()


def test_duplicates_across_files_are_found_exactly_in_memory_and_spilled(tmp_path):
    mids = [f"m{i % 700}" for i in range(1000)] + ["m5"]
    rows = [json.dumps({"type": "track", "event": "Order Completed", "userId": "u", "messageId": m}) for m in mids]
    (tmp_path / "a.ndjson").write_text("\n".join(rows[:600]) + "\n")
    (tmp_path / "b.ndjson").write_text("\n".join(rows[600:]) + "\n")
    result = lint([tmp_path], keep=None)
    dups = [f for f in result.findings if f.code == "SP008"]
    assert len(dups) == 301
    first = dups[0]
    assert first.file.endswith("b.ndjson") and first.line == 101 and first.extra["message_id"] == "m0"
    assert first.extra["first_seen"].endswith("a.ndjson:1")
    assert "already used at" in first.message
    m5 = [f for f in dups if f.extra["message_id"] == "m5"]
    assert [(Path(f.file).name, f.line) for f in m5] == [("b.ndjson", 106), ("b.ndjson", 401)]
    assert all(f.extra["first_seen"].endswith("a.ndjson:6") for f in m5)

    # The same with a tiny spill threshold: hashes go to bucket files on disk.
    index = DedupIndex(spill_at=50)
    side = []
    for i, m in enumerate(mids):
        index.add(mid_hash(m).to_bytes(8, "little"), json.dumps([0, i + 1, None, m, "E"]).encode() + b"\n")
    assert index.spilled >= 950
    pairs = list(index.duplicates())
    index.close()
    assert len(pairs) == 301
    assert [p[1][1] for p in pairs] == sorted(p[1][1] for p in pairs)
    assert all(first[3] == later[3] and first[1] < later[1] for first, later in pairs)
    del side


def test_hash_collisions_never_report_a_false_duplicate(tmp_path, monkeypatch):
    import cdp_cli.lint.runner as engine

    monkeypatch.setattr(engine, "_MASK", 0)  # every messageId hashes to 0
    rows = [
        json.dumps({"type": "track", "event": "Order Completed", "userId": "u", "messageId": f"m{i}"})
        for i in range(50)
    ]
    rows.append(rows[7])
    (tmp_path / "a.ndjson").write_text("\n".join(rows) + "\n")
    result = lint([tmp_path / "a.ndjson"], keep=None)
    dups = [f for f in result.findings if f.code == "SP008"]
    assert [(f.line, f.extra["message_id"]) for f in dups] == [(51, "m7")]


def test_messages_as_real_sdks_send_them_have_no_spec_findings():
    result = lint([ROOT / "tests" / "fixtures" / "events" / "valid"], now=NOW, keep=None)
    assert result.stats.messages == 8
    assert [(f.line, f.code, f.message) for f in result.findings] == []


def test_lint_memory_does_not_grow_with_the_input(tmp_path):
    """Peak RSS linting 10x more events stays nearly flat (dedup holds 8 bytes a message)."""
    code = (
        "import resource, sys\n"
        "from cdp_cli.lint.runner import lint\n"
        "r = lint([sys.argv[1]], plan_paths=[sys.argv[2]], jobs=1, keep=1000)\n"
        "print(r.stats.lines, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    plan = load_plan_for_lint([ROOT / "plans" / "ecommerce"])
    peaks = {}
    for n in (4_000, 40_000):
        path = tmp_path / f"{n}.ndjson"
        generate(path, n, seed=2, violations=0.05, plan=plan)
        r = subprocess.run(
            [sys.executable, "-c", code, str(path), str(ROOT / "plans" / "ecommerce")],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        count, peak = map(int, r.stdout.split())
        assert count == n, r.stderr
        peaks[n] = peak
    assert peaks[40_000] - peaks[4_000] < 20 * 1024, peaks  # KiB


def test_fast_path_patterns_read_text_as_python_does():
    """The schemas' regexes run in Rust: wherever Rust and Python disagree about a character, the
    schema must be the stricter one (sending the message to the full Python checks)."""
    import re

    import jsonschema_rs

    from cdp_cli.lint.fastpath import PII_SUSPECT, _nonblank

    nonblank = jsonschema_rs.validator_for(_nonblank())
    loose = [
        hex(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000 and chr(i).isspace() and nonblank.is_valid(chr(i))
    ]
    assert loose == []  # a string Python calls blank never passes as non-blank
    suspect = jsonschema_rs.validator_for({"type": "string", "pattern": PII_SUSPECT})
    digits = [chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000 and re.fullmatch(r"\d", chr(i))]
    missed = [d for d in digits if not suspect.is_valid(d * 8)]
    assert missed == []  # a run of any Unicode digits (Python's \d) is suspect
