"""Each output format, checked against its structure (SARIF against the official 2.1.0 schema)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from cdp_cli.findings import Level
from cdp_cli.plan.validate import validate_paths
from cdp_cli.reporters import Format, Options, Report, render
from tests.conftest import write_files

SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "fixtures" / "schemas" / "sarif-2.1.0.json"


@pytest.fixture
def report(tmp_path: Path) -> Report:
    write_files(
        tmp_path,
        {
            "clean.yaml": "events:\n  Order Completed:\n    description: d\n",
            "broken.yaml": (
                'events:\n  Signed Up:\n    descripton: "typo, with comma: and colon"\n'
                "    properties:\n      total: {type: number, minimum: 5, maximum: 1}\n"
            ),
        },
    )
    result = validate_paths([tmp_path / "clean.yaml", tmp_path / "broken.yaml"])
    return Report("plan validate", result.findings, result.summary(), result.files, ok=not result.failed())


def _render(report: Report, fmt: Format) -> str:
    buf = io.StringIO()
    render(report, fmt, buf, Options(color=False))
    return buf.getvalue()


def test_sarif_validates_against_the_official_schema(report: Report) -> None:
    from jsonschema import Draft7Validator

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    doc = json.loads(_render(report, Format.SARIF))
    errors = list(Draft7Validator(schema).iter_errors(doc))
    assert errors == [], [e.message for e in errors[:5]]
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
    assert {r["ruleId"] for r in run["results"]} == {"PL010", "PL050", "PL070"}


def test_junit_structure(report: Report) -> None:
    root = ET.fromstring(_render(report, Format.JUNIT))
    assert root.tag == "testsuites"
    suites = {s.get("name").rsplit("/", 1)[-1]: s for s in root.findall("testsuite")}
    assert set(suites) == {"clean.yaml", "broken.yaml"}
    clean = suites["clean.yaml"]
    assert clean.get("failures") == "0" and len(clean.findall("testcase")) == 1
    broken = suites["broken.yaml"]
    failures = broken.findall("testcase/failure")
    assert broken.get("failures") == str(len(failures)) == "2"
    assert {f.get("type") for f in failures} == {"PL010", "PL050"}
    assert "PL070" in broken.find("system-out").text  # warnings are listed, not failures
    assert root.get("failures") == "2"


def test_junit_strict_turns_warnings_into_failures(report: Report) -> None:
    report.strict = True
    root = ET.fromstring(_render(report, Format.JUNIT))
    assert root.get("failures") == "4"


def test_github_annotations_escape_and_cap(report: Report) -> None:
    out = _render(report, Format.GITHUB)
    line = next(ln for ln in out.splitlines() if "PL010" in ln and ln.startswith("::error"))
    assert ",line=3,col=5,title=PL010 plan.unknown-key::" in line
    assert "\n" not in line
    many = Report("plan validate", report.findings * 12, files=report.files, ok=False)
    out = _render(many, Format.GITHUB)
    assert sum(1 for line in out.splitlines() if line.startswith("::error ")) == 10
    assert "more errors not annotated" in out


def test_github_escapes_properties() -> None:
    from cdp_cli.reporters import _gh_data, _gh_prop

    assert _gh_prop("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert _gh_data("50%\r\nx") == "50%25%0D%0Ax"


def test_github_step_summary_written(report: Report, tmp_path: Path, monkeypatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    _render(report, Format.GITHUB)
    text = summary.read_text()
    assert "cdp plan validate: failed" in text and "| error | PL010 |" in text


def test_text_caps_printing_not_counting(report: Report) -> None:
    buf = io.StringIO()
    render(report, Format.TEXT, buf, Options(color=False, max_findings=1))
    out = buf.getvalue()
    assert "and 3 more findings not shown" in out
    assert "2 errors, 2 warnings" in out


def test_levels_in_json(report: Report) -> None:
    doc = json.loads(_render(report, Format.JSON))
    assert {f["level"] for f in doc["findings"]} == {Level.ERROR.value, Level.WARNING.value}
    assert doc["tool"]["name"] == "cdp"
