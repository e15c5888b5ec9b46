"""Traits and audiences computed together (one session, one pass over the events: what ``cdp run``
does) give exactly what the two commands give one after the other: every trait column of every
profile, every audience's member file (identifiers included), sizes, entered/exited, activation
events; on the shipped samples and on the benchmark's definitions (every trait type and audience
condition); also when the traits' types are not what the compiler predicted (the audiences then
get a pass of their own)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cdp_cli import api
from cdp_cli.errors import UsageError
from tests.conftest import ROOT, run_cdp

SAMPLES = ROOT / "samples"
BENCH = ROOT / "bench" / "traits_bench"


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("together") / "profiles"
    r = run_cdp("profiles", "resolve", str(SAMPLES / "ecommerce"), "--out", str(d))
    assert r.returncode == 0, r.stderr
    return d


def _rows(path: Path) -> list[dict]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: r["profile_id"])


def _same_outputs(a: Path, b: Path) -> None:
    assert pq.read_schema(a / "traits.parquet").names == pq.read_schema(b / "traits.parquet").names
    assert _rows(a / "traits.parquet") == _rows(b / "traits.parquet")
    files = sorted(p.name for p in (a / "audiences").iterdir())
    assert files == sorted(p.name for p in (b / "audiences").iterdir())
    for name in files:
        if name.endswith(".parquet"):
            assert _rows(a / "audiences" / name) == _rows(b / "audiences" / name), name


def _apart(profiles: Path, traits: Path, audiences: Path, out: Path, **kw):
    t = api.compute_traits(profiles, traits, out / "traits.parquet", **kw)
    a = api.compute_audiences(profiles, audiences, out / "audiences", traits=out / "traits.parquet", **kw)
    return t, a


@pytest.mark.parametrize(
    "traits, audiences",
    [(SAMPLES / "traits.yaml", SAMPLES / "audiences.yaml"), (BENCH / "traits.yaml", BENCH / "audiences.yaml")],
    ids=["samples", "every-type"],
)
def test_together_equals_the_two_commands(profiles, tmp_path, traits, audiences):
    apart, together = tmp_path / "apart", tmp_path / "together"
    t1, a1 = _apart(profiles, traits, audiences, apart)
    t2, a2 = api.compute_traits_and_audiences(
        profiles, traits, together / "traits.parquet", audiences, together / "audiences"
    )
    _same_outputs(apart, together)
    assert a2.sizes == a1.sizes and any(a1.sizes.values())
    assert t2.summary()["as_of"] == t1.summary()["as_of"] and a2.as_of == a1.as_of
    assert {k: v for k, v in t2.summary().items() if k not in ("seconds", "out")} == {
        k: v for k, v in t1.summary().items() if k not in ("seconds", "out")
    }
    assert not (together / "audiences" / "_parts").exists()


def test_a_given_as_of_and_a_type_mismatch_still_agree(profiles, tmp_path, monkeypatch):
    """A wrong prediction of the traits' types must cost a second pass, never a different answer."""
    import cdp_cli.traits.together as together

    as_of = "2026-11-10T12:00:00Z"
    _apart(profiles, BENCH / "traits.yaml", BENCH / "audiences.yaml", tmp_path / "apart", as_of=as_of)
    real = together.predicted_types
    monkeypatch.setattr(together, "predicted_types", lambda p: {k: "other" for k in real(p)})
    out = tmp_path / "together"
    api.compute_traits_and_audiences(
        profiles, BENCH / "traits.yaml", out / "traits.parquet", BENCH / "audiences.yaml", out / "audiences", as_of
    )
    _same_outputs(tmp_path / "apart", out)


def test_activation_events_and_changes_are_those_of_the_two_commands(profiles, tmp_path):
    runs = {}
    for how in ("apart", "together"):
        out = tmp_path / how
        t = api.TraitsOptions(profiles, SAMPLES / "traits.yaml", out / "traits.parquet", emit_events=out / "t.ndjson")
        a = api.AudiencesOptions(profiles, SAMPLES / "audiences.yaml", out / "audiences", emit_events=out / "a.ndjson")
        if how == "apart":
            api.compute_traits(options=t)
            a.traits = t.out
            api.compute_audiences(options=a)
        else:
            api.compute_traits_and_audiences(traits=t, audiences=a)
        runs[how] = out

    def messages(path: Path) -> list:
        out = []
        for line in path.read_text().splitlines():
            m = json.loads(line)
            for volatile in ("messageId", "timestamp", "sentAt", "originalTimestamp"):
                m.pop(volatile, None)
            out.append(json.dumps(m, sort_keys=True))
        return sorted(out)

    for name in ("t.ndjson", "a.ndjson"):
        got = messages(runs["together"] / name)
        assert got and got == messages(runs["apart"] / name), name
    _same_outputs(runs["apart"], runs["together"])


def test_outputs_are_guarded_and_options_must_agree(profiles, tmp_path):
    with pytest.raises(UsageError):  # the traits file inside the audiences directory
        api.compute_traits_and_audiences(
            profiles, SAMPLES / "traits.yaml", tmp_path / "a" / "t.parquet", SAMPLES / "audiences.yaml", tmp_path / "a"
        )
    with pytest.raises(UsageError):  # two different as_of
        api.compute_traits_and_audiences(
            traits=api.TraitsOptions(profiles, SAMPLES / "traits.yaml", tmp_path / "t.parquet", as_of="2026-01-01"),
            audiences=api.AudiencesOptions(profiles, SAMPLES / "audiences.yaml", tmp_path / "a"),
        )
    with pytest.raises(UsageError):  # the audiences directory inside the traits output
        api.compute_traits_and_audiences(
            profiles,
            SAMPLES / "traits.yaml",
            tmp_path / "t2.parquet",
            SAMPLES / "audiences.yaml",
            tmp_path / "t2.parquet" / "a",
        )
    assert not (tmp_path / "t2.parquet").exists()
    victim = tmp_path / "mine.parquet"
    victim.write_bytes(b"not written by cdp")
    with pytest.raises(Exception, match="mine.parquet"):
        api.compute_traits_and_audiences(
            profiles, SAMPLES / "traits.yaml", victim, SAMPLES / "audiences.yaml", tmp_path / "aud"
        )
    assert victim.read_bytes() == b"not written by cdp"
    assert not (tmp_path / "aud").exists()


def test_an_operator_wrong_for_the_computed_type_is_located_and_nothing_is_written(profiles, tmp_path):
    spec = tmp_path / "audiences.yaml"
    spec.write_text("audiences:\n  - key: odd\n    where: {trait: revenue_total, op: contains, value: '1'}\n")
    with pytest.raises(Exception, match=r"audiences.yaml:3:\d+: op 'contains' does not apply"):
        api.compute_traits_and_audiences(
            profiles, SAMPLES / "traits.yaml", tmp_path / "t.parquet", spec, tmp_path / "aud"
        )
    assert not (tmp_path / "t.parquet").exists() and not (tmp_path / "aud").exists()


def test_with_a_plan_an_unknown_trait_name_is_refused_before_anything_is_written(profiles, tmp_path):
    spec = tmp_path / "audiences.yaml"
    spec.write_text("audiences:\n  - key: odd\n    where: {trait: revenue_totl, op: '>', value: 1}\n")
    with pytest.raises(Exception, match=r"audiences.yaml:3:\d+: trait 'revenue_totl'"):
        api.compute_traits_and_audiences(
            profiles,
            SAMPLES / "traits.yaml",
            tmp_path / "t.parquet",
            spec,
            tmp_path / "aud",
            plan=ROOT / "plans" / "ecommerce",
        )
    assert not (tmp_path / "t.parquet").exists() and not (tmp_path / "aud").exists()


def test_an_sql_trait_of_json_gives_the_same_audiences_with_activation_events(profiles, tmp_path):
    """Written with --emit-events the traits file once held text where the engine held JSON; the
    audiences read from the engine (together) must see what the file gives (apart)."""
    traits = tmp_path / "traits.yaml"
    traits.write_text(
        "traits:\n  - name: js\n    type: sql\n    query: \"SELECT profile_id, to_json({'k': count(*)}) AS js "
        'FROM events WHERE profile_id IS NOT NULL GROUP BY profile_id"\n'
    )
    audiences = tmp_path / "audiences.yaml"
    audiences.write_text("audiences:\n  - key: js_k\n    where: {trait: js.k, op: '>', value: 3}\n")
    sizes = []
    for how in ("apart", "together"):
        out = tmp_path / how
        t = api.TraitsOptions(profiles, traits, out / "traits.parquet", emit_events=out / "t.ndjson")
        a = api.AudiencesOptions(profiles, audiences, out / "audiences", emit_events=out / "a.ndjson")
        if how == "apart":
            api.compute_traits(options=t)
            a.traits = t.out
            sizes.append(api.compute_audiences(options=a).sizes)
        else:
            sizes.append(api.compute_traits_and_audiences(traits=t, audiences=a)[1].sizes)
    assert sizes[0] == sizes[1] and sizes[0]["js_k"] > 0
    _same_outputs(tmp_path / "apart", tmp_path / "together")
