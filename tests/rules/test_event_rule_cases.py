"""Every event-lint rule has a case file (tests/rules/cases/events/CODE.yaml) with messages that must
and must not produce it, and the exact line, JSON path and message text expected. Each case runs
twice: through the fast path (jsonschema-rs pre-check) and through the full Python checks alone; both
must give exactly the expected findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from cdp_cli.config import parse_config
from cdp_cli.events.reader import discover, iter_chunks
from cdp_cli.lint.runner import Checker, load_plan_for_lint
from cdp_cli.rules import all_rules
from tests.conftest import write_files

CASES_DIR = Path(__file__).parent / "cases" / "events"
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _load_cases():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            for fast in (True, False):
                yield pytest.param(
                    data["rule"], case, fast, id=f"{path.stem}-{case['name']}-{'fast' if fast else 'full'}"
                )


def _lines(case) -> list[bytes]:
    out = []
    for item in case.get("events", []):
        if isinstance(item, str):
            out.append(item.encode("utf-8"))
        elif isinstance(item, dict) and "hex" in item and len(item) == 1:
            out.append(bytes.fromhex(item["hex"]))
        else:
            out.append(json.dumps(item, ensure_ascii=False).encode("utf-8"))
    return out


def run_case(tmp_path: Path, case: dict, fast: bool):
    plan = None
    if "plan" in case:
        write_files(tmp_path / "plan", case["plan"])
        plan = load_plan_for_lint([tmp_path / "plan"])
    config = parse_config({"rules": case["config"]}) if "config" in case else None
    checker = Checker(config, plan, now=NOW, fast=fast, show_values=case.get("show_values", False))
    log = tmp_path / "events.ndjson"
    if "file_hex" in case:
        log.write_bytes(bytes.fromhex(case["file_hex"]))
    else:
        log.write_bytes(b"\n".join(_lines(case)) + b"\n")
    findings = []
    for chunk in iter_chunks(discover([log]), max_line_bytes=checker.max_line_bytes):
        findings.extend(checker.check_chunk(chunk).findings)
    return findings


@pytest.mark.parametrize("code,case,fast", list(_load_cases()))
def test_event_rule_case(tmp_path: Path, code: str, case: dict, fast: bool) -> None:
    got = [f for f in run_case(tmp_path, case, fast) if f.code == code]
    expected = case.get("expect", [])
    assert len(got) == len(expected), f"expected {expected}, got {[(f.line, f.path, f.message) for f in got]}"
    for f, exp in zip(got, expected):
        assert f.line == exp["line"], (f.line, f.message, exp)
        if "path" in exp:
            assert f.path == exp["path"], (f.path, exp)
        if "message" in exp:
            assert exp["message"] in f.message, (f.message, exp)
        if "column" in exp:
            assert f.column == exp["column"], (f.column, exp)
        if "level" in exp:
            assert f.level.value == exp["level"]
        for key in ("expected", "found", "violation_type", "value", "event", "message_id"):
            if key in exp:
                assert f.extra.get(key) == exp[key], (key, f.extra, exp)
        if "no_value" in exp:
            assert "value" not in f.extra
        if "absent" in exp:  # personal data that must appear nowhere in the finding
            assert exp["absent"] not in repr(f.to_dict()), f.to_dict()


def test_every_event_rule_has_passing_and_failing_cases() -> None:
    for rule in all_rules():
        if rule.family in ("plan", "plan-diff") or rule.code in ("SP008", "EV006", "EV007"):
            continue  # whole-input and stream problems: test_reader.py, test_dedup.py; plan diffs: test_plan_diff.py
        path = CASES_DIR / f"{rule.code}.yaml"
        assert path.exists(), f"{rule.code} has no case file {path}"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["rule"] == rule.code
        kinds = {bool(c.get("expect")) for c in data["cases"]}
        assert kinds == {True, False}, f"{rule.code}: needs at least one passing and one failing case"
