"""Regression tests for the hardening issue: each failed on the main branch before the fix."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdp_cli.errors import OutputError
from cdp_cli.findings import Finding, Level
from cdp_cli.fsutil import STAMP, atomic_directory, atomic_open, remove_leftovers, written_by_cdp
from cdp_cli.reporters import Format, Options, Report, render
from tests.conftest import ROOT, run_cdp


def _finding(file="logs/a.ndjson", line=100, column=0, message="m", path="", **extra) -> Finding:
    return Finding("SP008", "spec.duplicate-message-id", Level.WARNING, file, line, column, message, path, extra)


# --- 1. data loss: the output-directory guard -------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [
        ["profiles", "resolve", "samples/identity", "--out", "{out}"],
        ["plan", "export", "--to", "jsonschema", "{out}", "--plan", "plans/ecommerce"],
    ],
)
def test_a_foreign_manifest_json_does_not_make_a_directory_cdps(command, tmp_path: Path) -> None:
    webapp = tmp_path / "webapp"
    webapp.mkdir()
    (webapp / "manifest.json").write_text("{}")  # a web-app manifest: even {} deleted everything before
    (webapp / "index.html").write_text("<h1>keep</h1>")
    (webapp / "app.js").write_text("alert(1)")
    r = run_cdp(*[a.replace("{out}", str(webapp)) for a in command])
    assert r.returncode == 2, r.stderr
    assert "not written by cdp" in r.stderr and "app.js" in r.stderr and "index.html" in r.stderr
    assert sorted(p.name for p in webapp.iterdir()) == ["app.js", "index.html", "manifest.json"]
    assert (webapp / "index.html").read_text() == "<h1>keep</h1>"


def test_own_output_is_replaced_but_a_changed_or_added_file_is_not(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with atomic_directory(out, kind="test") as d:
        (d / "a.txt").write_text("1")
    stamp = json.loads((out / STAMP).read_text())
    assert stamp["written_by"] == "cdp" and stamp["kind"] == "test" and stamp["files"] == {"a.txt": 1}
    with atomic_directory(out, kind="test") as d:  # its own output: replaced
        (d / "b.txt").write_text("22")
    assert sorted(p.name for p in out.iterdir()) == [STAMP, "b.txt"]
    (out / "b.txt").write_text("edited by hand")  # changed since: not cdp's any more
    with pytest.raises(OutputError, match="b.txt"):
        with atomic_directory(out, kind="test"):
            pass
    assert (out / "b.txt").read_text() == "edited by hand"
    with pytest.raises(OutputError, match="holds cdp's test output, not other"):
        with atomic_directory(tmp_path / "o", kind="other"):
            pass


def test_a_file_arriving_during_the_run_stops_the_swap(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with atomic_directory(out, kind="test") as d:
        (d / "a.txt").write_text("1")
    with pytest.raises(OutputError, match="late.txt"):
        with atomic_directory(out, kind="test") as d:
            (d / "a.txt").write_text("2")
            (out / "late.txt").write_text("arrived while cdp worked")
    assert (out / "late.txt").exists() and (out / "a.txt").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no temporary directory left


def test_file_outputs_replace_only_what_cdp_wrote(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    r = run_cdp("plan", "validate", "plans/ecommerce", "-o", str(notes))
    assert r.returncode == 2 and "was not written by cdp" in r.stderr and notes.read_text() == "my notes"
    report = tmp_path / "r.sarif"
    for fmt in ("sarif", "json", "junit", "github", "text"):
        r = run_cdp("plan", "validate", "plans/ecommerce", "--format", fmt, "-o", str(report))
        assert r.returncode == 0, (fmt, r.stderr)  # each format replaces the previous report
        assert written_by_cdp(report), fmt
    findings = tmp_path / "f.ndjson"
    for _ in range(2):
        r = run_cdp("events", "lint", "samples/messy.ndjson", "--findings-out", str(findings), "-q")
        assert r.returncode == 1 and findings.stat().st_size > 0, r.stderr


def test_device_outputs_are_written_in_place(tmp_path: Path) -> None:
    r = run_cdp("plan", "validate", "plans/ecommerce", "--format", "json", "-o", "/dev/stdout")
    assert r.returncode == 0 and json.loads(r.stdout)["tool"]["name"] == "cdp"
    assert os.path.exists("/dev/stdout")


def test_leftovers_of_dead_runs_are_removed_and_look_alikes_reported(tmp_path: Path, caplog) -> None:
    target = tmp_path / "out"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = tmp_path / f".out.cdp-{dead.pid}.abcd1234.tmp"
    mine.mkdir()
    (mine / "x.parquet").write_text("half")
    alive = tmp_path / f".out.cdp-{os.getpid()}.abcd1234.tmp"  # this process: still working
    alive.mkdir()
    older = tmp_path / ".out.q4m93cu3.tmp"  # cdp 0.1.0's name: cannot be proved cdp's
    older.mkdir()
    with caplog.at_level("INFO", logger="cdp"):
        removed = remove_leftovers(target)
    assert removed == [mine] and not mine.exists()
    assert alive.exists() and older.exists()
    assert any("cannot prove" in m for m in caplog.messages)


# --- 3. data prints literally --------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "github", "json", "sarif", "junit"])
def test_emoji_codes_and_markup_print_literally(fmt: str) -> None:
    f = Finding(
        "NM001",
        "naming.event-name",
        Level.WARNING,
        "file:100:",
        1234,
        0,
        "event name 'Launch :rocket: Clicked' [bold]x[/]",
        "$.event",
        {"event": "Launch :rocket: Clicked"},
    )
    out = io.StringIO()
    render(Report("events lint", [f], files=["file:100:"]), fmt, out, Options(color=True))
    text = out.getvalue()
    assert "💯" not in text and "🚀" not in text and "🔢" not in text
    assert ":rocket:" in text and "file:100:" in text


# --- 12. text findings name the JSON path ------------------------------------------------------------
def test_text_findings_show_the_json_path() -> None:
    fs = [
        Finding(
            "PI001",
            "privacy.email-in-value",
            Level.WARNING,
            "a.ndjson",
            3,
            0,
            "value looks like an email address",
            f"$.properties.{k}",
        )
        for k in ("a", "b", "c")
    ]
    out = io.StringIO()
    render(Report("events lint", fs, files=["a.ndjson"]), Format.TEXT, out, Options(color=False, quiet=True))
    lines = out.getvalue().splitlines()
    assert [ln.split("(at ")[1].split(")")[0] for ln in lines] == ["$.properties.a", "$.properties.b", "$.properties.c"]


# --- 13. personal data in identifiers ----------------------------------------------------------------
def test_personal_data_in_message_ids_and_keys_is_withheld_in_every_format(tmp_path: Path) -> None:
    log = tmp_path / "pii.ndjson"
    msgs = [
        {
            "type": "track",
            "event": "Clicked",
            "messageId": "ada@example.com",
            "userId": "u1",
            "timestamp": "2026-11-01T00:00:00Z",
            "properties": {"card_4111111111111111": 1},
        },
        {
            "type": "track",
            "event": "Clicked",
            "messageId": "ada@example.com",
            "userId": "u1",
            "timestamp": "2026-11-01T00:00:00Z",
        },
        {
            "type": "track",
            "event": "Clicked",
            "messageId": "m+14155550123",
            "anonymousId": "a",
            "timestamp": "2026-11-01T00:00:00Z",
            "properties": {"x": 1},
            "userId": 5,
        },
    ]
    log.write_text("".join(json.dumps(m) + "\n" for m in msgs))
    for fmt in ("text", "json", "github", "sarif", "junit"):
        r = run_cdp("events", "lint", str(log), "--format", fmt, "--now", "2026-11-02T00:00:00Z")
        assert r.returncode == 1, r.stderr
        body = r.stdout
        if fmt == "sarif":  # the rule docs carry examples with made-up personal data: look at the results
            sarif = json.loads(r.stdout)
            body = json.dumps(sarif["runs"][0]["results"])
        for secret in ("ada@example.com", "4111111111111111", "14155550123"):
            assert secret not in body + r.stderr, (fmt, secret)
        assert "withheld" in body, fmt
    r = run_cdp("events", "lint", str(log), "--show-values", "--now", "2026-11-02T00:00:00Z")
    assert "ada@example.com" in r.stdout  # asked for


# --- 15. small contradictions --------------------------------------------------------------------------
def test_counts_read_as_people_write_them() -> None:
    fs = [_finding(level=None) if False else _finding() for _ in range(1)]
    out = io.StringIO()
    report = Report("events lint", fs, files=["a"], totals={"error": 200000, "warning": 1, "hidden": 0})
    render(report, Format.TEXT, out, Options(color=False))
    assert "200,000 errors, 1 warning in 1 file" in out.getvalue()
    out = io.StringIO()
    render(report, Format.GITHUB, out, Options())
    assert "cdp events lint: 200,000 errors, 1 warning in 1 file" in out.getvalue()


def test_unknown_columns_are_left_out_not_printed_as_zero(monkeypatch, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = io.StringIO()
    render(Report("events lint", [_finding(column=0)], files=["a"]), Format.GITHUB, out, Options())
    text = out.getvalue()
    assert "col=0" not in text and ":100:0" not in text and "logs/a.ndjson:100: warning SP008" in text
    assert ":100:0" not in summary.read_text() and "`logs/a.ndjson:100`" in summary.read_text()
    out = io.StringIO()
    render(Report("events lint", [_finding(column=7)], files=["a"]), Format.GITHUB, out, Options())
    assert "col=7" in out.getvalue() and "logs/a.ndjson:100:7:" in out.getvalue()


def test_no_input_is_said_and_fails_with_strict(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n\n")
    r = run_cdp("events", "lint", str(empty))
    assert r.returncode == 0 and "no messages were read" in r.stdout and "✓" not in r.stdout
    r = run_cdp("events", "lint", str(empty), "--strict")
    assert r.returncode == 1 and "no messages were read" in r.stdout
    r = run_cdp("events", "lint", str(empty), "--strict", "--format", "json")
    assert r.returncode == 1 and json.loads(r.stdout)["summary"]["no_input"] == "no messages were read"
    r = run_cdp("profiles", "resolve", str(empty), "--out", str(tmp_path / "p"))
    assert r.returncode == 0 and "no messages were read" in r.stdout and "✓" not in r.stdout
    r = run_cdp("profiles", "resolve", str(empty), "--out", str(tmp_path / "p"), "--strict", "--format", "json")
    assert r.returncode == 1 and json.loads(r.stdout)["no_input"] == "no messages were read"
    (tmp_path / "plans").mkdir()
    r = run_cdp("plan", "validate", str(tmp_path / "plans"))  # no plan at all is a usage error
    assert r.returncode == 2 and "no plan files" in r.stderr


def test_help_has_no_typer_type_labels() -> None:
    r = run_cdp("events", "lint", "--help", env={"COLUMNS": "250"})
    assert "<bool>" not in r.stdout and "<list[Path]>" not in r.stdout and "<int range>" not in r.stdout
    assert "INTEGER [x>=0]" in r.stdout and "[auto|text|json|github|sarif|junit]" in r.stdout


def test_readme_examples_write_under_build() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("plan.sarif", "lint.sarif", "findings.ndjson", "events.ndjson.gz"):
        for line in readme.splitlines():
            if line.startswith("$ cdp") and name in line:
                assert f"build/{name}" in line, line


# --- 7. permission problems are the user's, named by the user's path ---------------------------------
def test_os_errors_name_the_users_path_not_a_temporary_file(tmp_path: Path) -> None:
    r = run_cdp("events", "lint", "samples/messy.ndjson", "--findings-out", "/proc/f.ndjson")
    assert r.returncode == 2 and r.stderr.startswith("Error: cannot write /proc/f.ndjson: ")
    assert ".tmp" not in r.stderr and "report it" not in r.stderr and "internal error" not in r.stderr
    with pytest.raises(OutputError, match=r"^cannot write /dev/full: no space left on device$"):
        with atomic_open("/dev/full") as fh:
            fh.write("x" * 100000)


@pytest.mark.parametrize("bad_type", [["track"], {"t": 1}, 7, None, True])
def test_a_type_that_is_not_a_string_is_a_finding_not_a_crash(bad_type, tmp_path: Path) -> None:
    """Found by mypy: resolve hashed the type of every message, so ["track"] crashed it."""
    log = tmp_path / "t.ndjson"
    msgs = [
        {
            "type": bad_type,
            "userId": "u1",
            "messageId": "m1",
            "timestamp": "2026-11-01T00:00:00Z",
            "properties": {"a": 1},
            "traits": {"b": 2},
        },
        {"type": "identify", "userId": "u1", "messageId": "m2", "timestamp": "2026-11-01T00:01:00Z"},
    ]
    log.write_text("".join(json.dumps(m) + "\n" for m in msgs))
    r = run_cdp("profiles", "resolve", str(log), "--out", str(tmp_path / "p"))
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "p" / "events.parquet").num_rows == 2
    r = run_cdp("events", "lint", str(log), "--now", "2026-11-02T00:00:00Z")
    assert r.returncode == 1 and "SP001" in r.stdout and "internal error" not in r.stderr, r.stderr


def _unpicklable(x: int):
    if x == 3:
        return lambda: x  # a result that cannot be pickled back to the parent
    if x == 5:
        raise _Unpicklable()
    return x


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("cannot pickle this exception")


@pytest.mark.parametrize("bad", [3, 5])
def test_a_worker_whose_answer_cannot_be_sent_reports_it(bad: int) -> None:
    """Found by mypy: the fallback for an unpicklable answer unpacked a result as an error and the
    worker died silently instead of saying what went wrong."""
    from cdp_cli.workers import WorkerError, ordered_map

    items = [i for i in range(8) if i in (bad, 0, 1, 2, 7)]
    with pytest.raises(WorkerError):
        list(ordered_map(_unpicklable, items, 2))
