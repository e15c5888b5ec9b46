from __future__ import annotations

import json

from tests.conftest import run_cdp


def test_rules_json_lists_every_plan_rule_with_examples() -> None:
    r = run_cdp("rules", "--format", "json", "--family", "plan")
    assert r.returncode == 0
    rules = json.loads(r.stdout)
    codes = [x["code"] for x in rules]
    assert codes == sorted(codes) and codes[0] == "PL001" and "PL071" in codes
    assert all(x["bad"] and x["good"] and x["level"] in ("error", "warning") for x in rules)


def test_rules_text_table() -> None:
    r = run_cdp("rules")
    assert r.returncode == 0 and "PL010" in r.stdout and "plan.unknown-key" in r.stdout


def test_unknown_family_is_a_usage_error() -> None:
    r = run_cdp("rules", "--family", "nonsense")
    assert r.returncode == 2
    assert "unknown rule family 'nonsense'" in r.stderr and r.stdout == ""


def test_one_rule_in_full_with_examples() -> None:
    r = run_cdp("rules", "pl051")
    assert r.returncode == 0
    assert "PL051 plan.enum-type-mismatch" in r.stdout and "Bad:" in r.stdout and "enum: [yes, no]" in r.stdout
    r = run_cdp("rules", "PL999")
    assert r.returncode == 2 and "unknown rule code" in r.stderr
