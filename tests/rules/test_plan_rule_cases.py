"""Every plan rule has a case file (tests/rules/cases/plan/PLxxx.yaml) with passing and failing
plans and the exact findings expected. One parametrised test runs them all."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cdp_cli.plan.validate import validate_paths
from cdp_cli.rules import all_rules
from tests.conftest import write_files

CASES_DIR = Path(__file__).parent / "cases" / "plan"


def _load_cases():
    for path in sorted(CASES_DIR.glob("PL*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
            yield pytest.param(data["rule"], case, id=f"{path.stem}-{case['name']}", marks=marks)


@pytest.mark.parametrize("code,case", list(_load_cases()))
def test_rule_case(tmp_path: Path, code: str, case: dict) -> None:
    write_files(tmp_path, case["files"])
    target = tmp_path / case["path"] if "path" in case else tmp_path
    result = validate_paths([target])
    got = [f for f in result.findings if f.code == code]
    expected = case.get("expect", [])
    assert len(got) == len(expected), f"expected {expected}, got {[(f.file, f.line, f.column, f.message) for f in got]}"
    for f, exp in zip(got, expected):
        if "file" in exp:
            assert Path(f.file).as_posix().endswith(exp["file"]), (f.file, exp)
        assert f.line == exp["line"], (f.line, f.message, exp)
        if "column" in exp:
            assert f.column == exp["column"], (f.column, f.message, exp)
        if "message" in exp:
            assert exp["message"] in f.message, (f.message, exp)
        if "path" in exp:
            assert f.path == exp["path"], (f.path, exp)
        if "level" in exp:
            assert f.level.value == exp["level"]


def test_every_plan_rule_has_valid_and_invalid_cases() -> None:
    for rule in all_rules():
        if rule.family != "plan":
            continue
        path = CASES_DIR / f"{rule.code}.yaml"
        assert path.exists(), f"{rule.code} has no case file {path}"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["rule"] == rule.code
        kinds = {bool(c.get("expect")) for c in data["cases"]}
        assert kinds == {True, False}, f"{rule.code}: needs at least one passing and one failing case"
