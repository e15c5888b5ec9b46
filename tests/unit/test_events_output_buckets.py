"""events.parquet written in buckets (when the staged messages outgrow the engine's memory) holds the
same rows, in the same order, as the one sorted copy; the other files do not change."""

from __future__ import annotations

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp_cli.identity import outputs
from cdp_cli.identity.config import build_config
from cdp_cli.identity.resolve import resolve
from tests.unit.test_identity_partitioned import CONFIGS, FILES, messages


def _buckets(monkeypatch, share: float) -> None:
    monkeypatch.setattr(outputs, "SINGLE_SORT_SHARE", 0.0)  # always in buckets
    monkeypatch.setattr(outputs, "BUCKET_SHARE", share)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages(), CONFIGS, st.sampled_from([1e-12, 1e-6]), st.sampled_from([1, 2]))
def test_events_in_buckets_are_the_one_sorted_copy(tmp_path_factory, msgs, config, share, jobs):
    tmp = tmp_path_factory.mktemp("buckets")
    log = tmp / "events.ndjson"
    log.write_bytes(b"\n".join(orjson.dumps(m) for m in msgs) + b"\n")
    one = resolve([log], tmp / "one", config=build_config(config), jobs=jobs)
    with pytest.MonkeyPatch.context() as mp:
        calls = []
        original = outputs._events_output
        mp.setattr(outputs, "_events_output", lambda *a: calls.append(a[2]) or original(*a))
        _buckets(mp, share)  # 1e-12: a bucket per profile and per timestamp; 1e-6: a few
        cut = resolve([log], tmp / "cut", config=build_config(config), jobs=jobs)
    assert calls and calls[0] > 0  # the staged size the decision was made on
    assert cut.summary() | {"out": "", "seconds": 0} == one.summary() | {"out": "", "seconds": 0}
    want, got = pq.read_table(tmp / "one" / "events.parquet"), pq.read_table(tmp / "cut" / "events.parquet")
    # the declared schema (NOT NULL flags, which DuckDB sets from its inputs, are not part of it)
    assert [(f.name, f.type) for f in got.schema] == [(f.name, f.type) for f in want.schema]
    assert got.to_pylist() == want.to_pylist()  # the same rows, in the same order
    for name in FILES:
        if name != "events.parquet":
            assert (tmp / "cut" / name).read_bytes() == (tmp / "one" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp / "cut").iterdir()) == sorted(p.name for p in (tmp / "one").iterdir())


def test_a_log_with_aliases_in_buckets_keeps_its_row_groups_and_order(tmp_path, monkeypatch):
    from tests.unit.test_components import _log_with_aliases

    log = tmp_path / "events.ndjson"
    _log_with_aliases(log, events=3000, aliases=100)
    with log.open("ab") as f:  # messages without a profile, with and without a timestamp
        for i in range(300):
            ts = {"timestamp": f"2026-11-{1 + i % 28:02d}T00:00:00Z"} if i % 3 else {}
            f.write(orjson.dumps({"type": "track", "event": "Anonymous", "messageId": f"x{i}", **ts}) + b"\n")
    resolve([log], tmp_path / "one")
    _buckets(monkeypatch, 1e-7)
    resolve([log], tmp_path / "cut")
    want, got = pq.read_table(tmp_path / "one" / "events.parquet"), pq.read_table(tmp_path / "cut" / "events.parquet")
    assert got.num_rows == 3400 and got.to_pylist() == want.to_pylist()
    assert got.column("profile_id").null_count == 300
    meta = pq.ParquetFile(tmp_path / "cut" / "events.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert all(n == outputs.EVENTS_ROW_GROUP for n in sizes[:-1])  # whole row groups, across buckets
