"""``cdp run`` on the shipped sample project, as a user runs it: every step, the outputs, skipping
what did not change, a failing step, and report.html in a real headless browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cdp


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for sub in ("samples", "plans"):
        shutil.copytree(ROOT / sub, tmp_path / sub, ignore=shutil.ignore_patterns("build"))
    return tmp_path / "samples"


def test_the_sample_project_runs_every_step_and_writes_its_outputs(project: Path) -> None:
    r = run_cdp("run", str(project), "--format", "json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert [k for k, v in s["steps"].items() if v["status"] == "ran"] == [
        "plan", "lint", "profiles", "traits", "audiences", "replay", "report",
    ]  # fmt: skip
    out = project / "build"
    for rel in ("lint/findings.ndjson", "profiles/events.parquet", "traits.parquet", "audiences/vip.parquet",
                "activation/traits.ndjson", "activation/audiences.ndjson", "activation/all.ndjson", "report.html",
                "summary.json"):  # fmt: skip
        assert (out / rel).exists(), rel
    findings = [json.loads(line) for line in (out / "lint/findings.ndjson").read_text().splitlines()]
    assert findings and all(f["file"].endswith("messy.ndjson") for f in findings)  # reported; the run went on
    sent = (out / "activation/all.ndjson").read_text().splitlines()
    produced = sum(len((out / f"activation/{n}.ndjson").read_text().splitlines()) for n in ("traits", "audiences"))
    assert len(sent) == produced > 0
    html = (out / "report.html").read_text()
    assert "<script src" not in html and "http://" not in html.split("<script>")[0].replace("http://www.w3.org", "")
    for section in ("Plan coverage", "Findings", "Identity", "Traits", "Audiences"):
        assert f">{section}<" in html


def test_a_rerun_skips_what_did_not_change_and_reruns_what_did(project: Path) -> None:
    assert run_cdp("run", str(project)).returncode == 0
    again = json.loads(run_cdp("run", str(project), "--format", "json").stdout)
    assert {k: v["status"] for k, v in again["steps"].items()} == {
        "plan": "skipped", "lint": "skipped", "profiles": "skipped", "traits": "skipped",
        "audiences": "skipped", "replay": "skipped", "report": "ran",
    }  # fmt: skip
    traits = project / "traits.yaml"
    traits.write_text(traits.read_text())  # a new modification time, the same content: nothing reruns
    same = json.loads(run_cdp("run", str(project), "--format", "json").stdout)
    assert [k for k, v in same["steps"].items() if v["status"] == "ran"] == ["report"]
    spec = project / "audiences.yaml"
    spec.write_text(spec.read_text() + "\n")  # changed: audiences and what follows rerun
    third = json.loads(run_cdp("run", str(project), "--format", "json").stdout)
    assert [k for k, v in third["steps"].items() if v["status"] == "ran"] == ["audiences", "replay", "report"]
    forced = json.loads(run_cdp("run", str(project), "--force", "--format", "json").stdout)
    assert all(v["status"] == "ran" for v in forced["steps"].values())


def test_strict_lint_stops_the_run_with_exit_1_and_the_report_says_where(project: Path) -> None:
    r = run_cdp("run", str(project), "--strict", "--format", "json")
    assert r.returncode == 1, r.stderr
    s = json.loads(r.stdout)
    assert s["failed_step"] == "lint" and s["steps"]["profiles"]["status"] == "not run"
    assert "stopped at lint" in (project / "build" / "report.html").read_text()


def test_a_broken_audiences_file_fails_the_audiences_step_not_the_traits_step(project: Path) -> None:
    """Traits and audiences are computed in one pass; an error in the audiences is still theirs."""
    spec = project / "audiences.yaml"
    spec.write_text("audiences:\n  - key: odd\n    where: {trait: revenue_total, op: contains, value: '1'}\n")
    r = run_cdp("run", str(project), "--format", "json")
    assert r.returncode == 2, r.stderr
    s = json.loads(r.stdout)
    assert s["failed_step"] == "audiences" and s["steps"]["traits"]["status"] == "ran"
    assert "audiences.yaml:3:" in s["steps"]["audiences"]["error"]
    assert (project / "build" / "traits.parquet").exists()


def test_a_traits_rerun_keeps_its_activation_events_when_the_audiences_fail(project: Path) -> None:
    """The first attempt (in one pass with the audiences) may have written traits.parquet before the
    audiences failed; the traits computed again alone must still compare with the last run's."""
    assert run_cdp("run", str(project)).returncode == 0
    traits = project / "traits.yaml"
    traits.write_text(traits.read_text().replace('op: ">", value: 100}', 'op: ">", value: 10}'))
    spec = project / "audiences.yaml"
    spec.write_text(spec.read_text() + "\n  - key: typo\n    where: {trait: revenue_totl, op: '>', value: 1}\n")
    s = json.loads(run_cdp("run", str(project), "--format", "json").stdout)
    assert s["steps"]["traits"]["status"] == "ran" and s["failed_step"] == "audiences"
    assert (project / "build" / "activation" / "traits.ndjson").read_text().strip()  # what changed, emitted


def test_traits_alone_when_the_audiences_are_unchanged(project: Path) -> None:
    """Traits rerun (their output was deleted), audiences unchanged: the audiences step is skipped,
    so they must not be recomputed (nor their activation events replaced) with the traits."""
    assert run_cdp("run", str(project)).returncode == 0
    activation = project / "build" / "activation" / "audiences.ndjson"
    before = activation.read_text()
    (project / "build" / "traits.parquet").unlink()
    s = json.loads(run_cdp("run", str(project), "--format", "json").stdout)
    assert s["steps"]["traits"]["status"] == "ran" and s["steps"]["audiences"]["status"] == "skipped"
    assert before and activation.read_text() == before
    assert not (project / "build" / "audiences" / "changes.parquet").exists()


def test_a_broken_project_file_is_reported_with_file_line_and_column(project: Path) -> None:
    (project / "cdp.yaml").write_text("version: 1\nplan: ../plans/ecommerce\nevents: ecommerce/\nbogus: 1\n")
    r = run_cdp("run", str(project))
    assert r.returncode == 2
    assert "cdp.yaml:3:" in r.stderr and "cdp.yaml:4:1" in r.stderr and "bogus" in r.stderr


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_the_report_renders_in_a_real_headless_browser(project: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium: apt-get install chromium (.ci/run installs it)")
    assert run_cdp("run", str(project)).returncode == 0
    page = (project / "build" / "report.html").resolve().as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert 'data-ready="1"' in dom.stdout, dom.stderr[-2000:]  # the script ran to its end: no error before it
    assert dom.stdout.count("<svg") >= 5  # the charts are there
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,2400", page],
                   capture_output=True, timeout=120)  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 50_000  # a real picture, not a blank page
