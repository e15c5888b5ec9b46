"""`cdp events lint` and `cdp samples generate` as a user runs them: exit codes, formats, outputs."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET

import jsonschema

from tests.conftest import ROOT, run_cdp

NOW = ["--now", "2026-11-22T00:00:00Z"]
MESSY = "samples/messy.ndjson"
PLAN = ["--plan", "plans/ecommerce"]


def test_shipped_samples_are_clean_against_the_shipped_plan():
    r = run_cdp("events", "lint", "samples/ecommerce", *PLAN, *NOW, "--color", "never")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "✓ events lint: 0 errors, 0 warnings in 3 files" in r.stdout
    assert "3,000" in r.stdout  # messages read


def test_shipped_samples_are_what_the_script_makes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "scripts" / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    built = mod.build(ROOT)
    build = ROOT / "samples" / "build"  # what `cdp run samples/` writes (git-ignored): not a sample
    on_disk = {p.relative_to(ROOT) for p in (ROOT / "samples").rglob("*") if p.is_file() and build not in p.parents}
    assert on_disk == set(built), "run python3 scripts/make_samples.py"
    for rel, data in built.items():
        assert (ROOT / rel).read_bytes() == data, f"{rel} is stale: run python3 scripts/make_samples.py"


def test_messy_log_text_report_and_exit_1():
    r = run_cdp("events", "lint", MESSY, *PLAN, *NOW, "--color", "never", "--max-findings", "5")
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("samples/messy.ndjson:15: error SP017 reserved property 'currency'")
    assert "(at $.properties.currency, event 'Order Completed', messageId ajs-next-" in lines[0]  # the JSON path too
    assert "... and 46 more findings not shown" in r.stdout
    for title in ("Input", "Messages", "Top events", "Findings by rule", "Events with most violations"):
        assert title in r.stdout
    assert "✗ events lint: 28 errors, 23 warnings in 1 file" in r.stdout
    assert r.stderr == ""
    assert "dollars" not in r.stdout  # values only with --show-values
    shown = run_cdp("events", "lint", MESSY, *PLAN, *NOW, "--color", "never", "--show-values", "-q")
    assert 'value "dollars"' in shown.stdout


def test_json_format_is_the_library_records(tmp_path):
    r = run_cdp("events", "lint", MESSY, *PLAN, *NOW, "--format", "json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    s = doc["summary"]
    assert (s["lines"], s["messages"], s["skipped"], s["errors"], s["warnings"]) == (400, 396, 4, 28, 23)
    assert s["skipped_by_reason"] == {"invalid JSON": 4}
    assert s["findings_by_rule"]["TP001"] == 3 and s["plan"] == "ecommerce"
    f = next(f for f in doc["findings"] if f["code"] == "TP003")
    assert f["violation_type"] == "Datatype-Mismatch" and f["file"] == MESSY and f["path"].startswith("$.properties.")
    assert f["message_id"] and f["event"] and f["expected"] and f["found"]
    assert "value" not in f


def test_sarif_github_and_junit(tmp_path):
    r = run_cdp("events", "lint", MESSY, *PLAN, *NOW, "--format", "sarif", "-o", str(tmp_path / "lint.sarif"))
    assert r.returncode == 1 and r.stdout == ""
    sarif = json.loads((tmp_path / "lint.sarif").read_text())
    schema = json.loads((ROOT / "tests" / "fixtures" / "schemas" / "sarif-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema)
    results = sarif["runs"][0]["results"]
    assert len(results) == 51
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 15
    assert {"SP017", "TP001", "EV002"} <= {x["ruleId"] for x in results}

    r = run_cdp("events", "lint", MESSY, *PLAN, *NOW, "--format", "github")
    assert r.stdout.count("::error ") == 10 and r.stdout.count("::warning ") == 10
    assert "::error file=samples/messy.ndjson,line=15,title=SP017 spec.reserved-field-type::" in r.stdout

    r = run_cdp("events", "lint", MESSY, *PLAN, *NOW, "--format", "junit")
    root = ET.fromstring(r.stdout)
    assert root.get("failures") == "28"


def test_findings_out_gets_every_finding_and_max_findings_caps_only_the_report(tmp_path):
    out = tmp_path / "findings.ndjson"
    r = run_cdp(
        "events", "lint", MESSY, *PLAN, *NOW, "--format", "json", "--max-findings", "3", "--findings-out", str(out)
    )
    doc = json.loads(r.stdout)
    assert len(doc["findings"]) == 3 and doc["summary"]["findings"] == 51
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 51 and all(row["file"] == MESSY and row["line"] >= 1 for row in rows)
    assert [row["code"] for row in rows if row["code"] == "SP008"] == ["SP008"] * 3


def test_stdin_gzip_and_exit_codes(tmp_path):
    data = (ROOT / MESSY).read_bytes()
    r = run_cdp("events", "lint", "-", *NOW, "--format", "json", input=data.decode())
    assert r.returncode == 1 and json.loads(r.stdout)["summary"]["lines"] == 400
    (tmp_path / "messy.ndjson.gz").write_bytes(gzip.compress(data))
    r = run_cdp("events", "lint", str(tmp_path / "messy.ndjson.gz"), *NOW, "--format", "json")
    assert json.loads(r.stdout)["summary"]["messages"] == 396

    clean = tmp_path / "clean.ndjson"
    clean.write_text(
        json.dumps({"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1"}) + "\n"
    )
    assert run_cdp("events", "lint", str(clean)).returncode == 0
    warn = tmp_path / "warn.ndjson"
    warn.write_text(json.dumps({"type": "track", "event": "Order Completed", "userId": "u1"}) + "\n")  # SP006 warning
    assert run_cdp("events", "lint", str(warn)).returncode == 0
    assert run_cdp("events", "lint", str(warn), "--strict").returncode == 1


def test_input_and_usage_errors_exit_2_with_a_clear_message(tmp_path):
    r = run_cdp("events", "lint", "nope.ndjson")
    assert r.returncode == 2 and "Error: nope.ndjson: no such file or directory" in r.stderr
    r = run_cdp("events", "lint", MESSY, "--plan", "tests/fixtures/plans/invalid/broken.yaml")
    assert r.returncode == 2 and "plan" in r.stderr and " errors, first: " in r.stderr
    r = run_cdp("events", "lint", MESSY, "--now", "yesterday")
    assert r.returncode == 2 and "--now 'yesterday' is not an ISO-8601" in r.stderr
    (tmp_path / ".cdp.yaml").write_text("rules:\n  XX001: off\n")
    r = run_cdp("events", "lint", str(ROOT / MESSY), cwd=tmp_path)
    assert r.returncode == 2 and ".cdp.yaml:2:3: unknown rule code 'XX001'" in r.stderr
    r = run_cdp("events", "lint", MESSY, "-o", MESSY)
    assert r.returncode == 2 and "refusing to overwrite" in r.stderr
    assert "Traceback" not in r.stderr


def test_outputs_never_overwrite_an_input_a_plan_or_the_config(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "a.ndjson"
    log.write_text(json.dumps({"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1"}) + "\n")
    import shutil

    shutil.copytree(ROOT / "plans" / "ecommerce", tmp_path / "plan")
    plan = tmp_path / "plan" / "plan.yaml"  # a file inside a plan directory
    cfg = tmp_path / "ci.yaml"
    cfg.write_text("rules:\n  PI001: off\n")
    before = {p: p.read_bytes() for p in (log, plan, cfg)}
    cases = [
        ("--findings-out", str(log)),  # a file found by walking a directory input
        ("--findings-out", str(plan)),
        ("-o", str(cfg)),
        ("-o", str(tmp_path / "logs" / "." / "a.ndjson")),  # the same file spelled differently
    ]
    for flag, target in cases:
        r = run_cdp(
            "events",
            "lint",
            str(logs),
            "--plan",
            str(tmp_path / "plan"),
            "--config",
            str(cfg),
            flag,
            target,
            cwd=tmp_path,
        )
        assert r.returncode == 2 and "refusing to overwrite" in r.stderr, (flag, target, r.stderr)
    r = run_cdp("events", "lint", str(logs), "-o", "same.txt", "--findings-out", "same.txt", cwd=tmp_path)
    assert r.returncode == 2 and "name two different files" in r.stderr
    assert {p: p.read_bytes() for p in (log, plan, cfg)} == before


def test_cdp_yaml_disables_and_relevels(tmp_path):
    (tmp_path / ".cdp.yaml").write_text("rules:\n  TP001: warning\n  PI001: off\n  SP011: error\n")
    r = run_cdp(
        "events",
        "lint",
        str(ROOT / MESSY),
        "--plan",
        str(ROOT / "plans" / "ecommerce"),
        *NOW,
        "--format",
        "json",
        cwd=tmp_path,
    )
    doc = json.loads(r.stdout)
    assert "PI001" not in doc["summary"]["findings_by_rule"]
    levels = {f["code"]: f["level"] for f in doc["findings"]}
    assert levels["TP001"] == "warning" and levels["SP011"] == "error"
    r = run_cdp("events", "lint", str(ROOT / MESSY), "--no-config", *NOW, "--format", "json", cwd=tmp_path)
    assert "PI001" in json.loads(r.stdout)["summary"]["findings_by_rule"]


def test_samples_generate_is_deterministic(tmp_path):
    a, b = tmp_path / "a.ndjson.gz", tmp_path / "b.ndjson.gz"
    for p in (a, b):
        r = run_cdp("samples", "generate", "--events", "500", "--seed", "3", "--violations", "0.1", "-o", str(p))
        assert r.returncode == 0 and "wrote 500 messages" in r.stderr
    assert a.read_bytes() == b.read_bytes()
    r = run_cdp("samples", "generate", "--events", "20", "--plan", "plans/saas")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 20
    z = tmp_path / "c.ndjson.zst"  # zstandard when the name says so; read back the same messages
    r = run_cdp(
        "samples", "generate", "--events", "500", "--seed", "3", "--violations", "0.1", "-o", str(z), cwd=tmp_path
    )
    assert r.returncode == 0 and z.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    assert z.stat().st_size < a.stat().st_size * 1.5
    from cdp_cli.events.reader import iter_records

    assert [r.msg for r in iter_records([z])] == [r.msg for r in iter_records([a])]


def test_help_explains_every_option_with_an_example():
    r = run_cdp("events", "lint", "--help")
    assert r.returncode == 0
    for opt in (
        "--plan",
        "--config",
        "--no-config",
        "--now",
        "--strict",
        "--jobs",
        "--format",
        "--output",
        "--findings-out",
        "--max-findings",
        "--show-values",
        "--color",
        "--quiet",
    ):
        assert opt in r.stdout, opt
    assert r.stdout.count("Example") >= 12


def test_no_color_and_progress_never_pollute_piped_output():
    r = run_cdp("events", "lint", MESSY, *NOW, env={"NO_COLOR": "1"})
    assert "\x1b[" not in r.stdout and "\x1b[" not in r.stderr
    r = run_cdp("events", "lint", MESSY, *NOW, "--color", "always")
    assert "\x1b[" in r.stdout


def test_progress_bar_shows_on_a_terminal_and_not_when_quiet(tmp_path):
    """Run in a pseudo-terminal: the progress bar (bytes and events/s) is drawn on stderr."""
    import os
    import pty
    import subprocess
    import sys
    import time

    from cdp_cli.samples import generate

    log = tmp_path / "big.ndjson"
    generate(log, 60_000, seed=1)
    outputs = {}
    for quiet in (False, True):
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "NO_COLOR")}
        env["COLUMNS"] = "150"
        args = [sys.executable, "-m", "cdp_cli", "events", "lint", str(log), "--jobs", "1"] + (["-q"] if quiet else [])
        proc = subprocess.Popen(args, stdout=slave, stderr=slave, stdin=slave, cwd=ROOT, env=env)
        os.close(slave)
        chunks = []
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=120)
        os.close(master)
        outputs[quiet] = b"".join(chunks).decode("utf-8", "replace")
    assert "events (" in outputs[False] and "/s)" in outputs[False]
    assert "events (" not in outputs[True]


def test_names_from_the_data_are_shown_literally_and_cannot_inject_ci_commands(tmp_path):
    log = tmp_path / "evil.ndjson"
    rows = [
        {"type": "track", "event": "[bold red]Boom[/] [/unclosed", "userId": "u1", "messageId": "m1"},
        {"type": "track", "event": "x\n::error file=evil.py,line=1::owned", "userId": "u1", "messageId": "m2"},
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "messageId": "m3",
            "properties": {"bad\n::warning::key": 1, "\u2028line": 2},
        },
        {
            "type": "track",
            "event": "Order Updated",
            "userId": "u1",
            "messageId": "m4",  # a closed event: TP004 names the key
            "properties": {"order_id": "o1", "k\n::error file=evil.py,line=1::owned": 1},
        },
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = run_cdp("events", "lint", str(log), "--color", "never", "--format", "text")
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr + r.stdout, r.stderr
    assert "[bold red]Boom[/] [/unclosed" in r.stdout  # the summary shows the name as sent
    r = run_cdp("events", "lint", str(log), *PLAN, "--format", "github")
    assert "TP004" in r.stdout
    commands = [line for line in r.stdout.splitlines() if line.startswith("::")]
    assert commands and all(line.startswith(("::error file=", "::warning file=", "::notice")) for line in commands)
    assert not any("evil.py" in line.split("::")[1] for line in commands)  # no forged annotation
    assert "owned" not in "".join(line for line in r.stdout.splitlines() if line.startswith("::error file=evil"))
    assert all("\u2028" not in line for line in r.stdout.splitlines())
