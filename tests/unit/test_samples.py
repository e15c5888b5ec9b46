"""The sample generator is deterministic and its clean output is clean against its plan."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cdp_cli.lint.runner import lint, load_plan_for_lint
from cdp_cli.samples import generate
from tests.conftest import ROOT


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    plan = load_plan_for_lint([ROOT / "plans" / "ecommerce"])
    for name, seed in (("a.ndjson", 5), ("b.ndjson", 5), ("c.ndjson", 6), ("d.ndjson.gz", 5), ("e.ndjson.gz", 5)):
        generate(tmp_path / name, 3000, seed=seed, violations=0.1, plan=plan)
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes()
    assert (tmp_path / "a.ndjson").read_bytes() != (tmp_path / "c.ndjson").read_bytes()
    assert (tmp_path / "d.ndjson.gz").read_bytes() == (tmp_path / "e.ndjson.gz").read_bytes()


def test_clean_samples_pass_their_plan_and_violations_are_found(tmp_path):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for plan_name in ("ecommerce", "saas"):
        plan = load_plan_for_lint([ROOT / "plans" / plan_name])
        generate(tmp_path / f"{plan_name}.ndjson", 4000, seed=1, plan=plan)
        clean = lint([tmp_path / f"{plan_name}.ndjson"], plan_paths=[ROOT / "plans" / plan_name], now=now)
        assert clean.total_findings == 0, [(f.line, f.code, f.message) for f in clean.findings[:5]]
        assert set(clean.types) == {"track", "page", "screen", "identify"}
        generate(tmp_path / f"{plan_name}-messy.ndjson", 4000, seed=1, violations=0.2, plan=plan)
        messy = lint([tmp_path / f"{plan_name}-messy.ndjson"], plan_paths=[ROOT / "plans" / plan_name], now=now)
        assert {"TP001", "TP003", "SP002", "SP011", "EV002", "SP008"} <= set(messy.by_code), messy.by_code


def test_generate_replaces_an_existing_file_only_with_force(tmp_path):
    from cdp_cli.errors import OutputError

    path = tmp_path / "log.ndjson"
    path.write_text("a real log\n")
    with pytest.raises(OutputError, match="pass --force"):
        generate(path, 10, seed=1)
    assert path.read_text() == "a real log\n"
    generate(path, 10, seed=1, force=True)
    assert len(path.read_text().splitlines()) == 10
