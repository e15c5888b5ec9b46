"""The README stays true: its commands run, its rule table matches the registry, CI runs its test command."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cdp

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _console_commands() -> list[tuple[str, int]]:
    commands = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ cdp "):
                cmd, _, comment = line[2:].partition("#")
                m = re.search(r"exit (\d)", comment)
                commands.append((cmd.strip(), int(m.group(1)) if m else 0))
    return commands


def test_readme_has_examples() -> None:
    assert len(_console_commands()) >= 3


@pytest.mark.parametrize("command,expected", _console_commands())
def test_readme_command_runs_as_written(tmp_path: Path, command: str, expected: int) -> None:
    for sub in ("plans", "tests/fixtures/plans", "samples"):
        if (ROOT / sub).exists():
            shutil.copytree(ROOT / sub, tmp_path / sub)
    args = shlex.split(command)
    assert args[0] == "cdp"
    r = run_cdp(*args[1:], cwd=tmp_path)
    assert r.returncode == expected, f"{command}\nstdout:\n{r.stdout[-2000:]}\nstderr:\n{r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr


def test_quick_start_is_two_commands_and_ci_runs_them_as_written() -> None:
    quick = README.split("## Quick start", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(quick) == 2
    install, test = quick
    # a virtual environment in the command itself: system Pythons that refuse `pip install` (PEP 668)
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate && python -m pip install -e '.[test]'")
    assert install.endswith("&& cdp run samples/")  # the main job on the shipped samples
    assert test.startswith(".venv/bin/python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # CI reads both lines from this README and runs them verbatim (set-up first, then the tests)
    assert 'split("## Quick start", 1)' in ci and 'bash -euo pipefail -c "$SETUP"' in ci and "\n$TEST\n" in ci
    assert "EXTERNALLY-MANAGED" in ci


def test_readme_broken_plan_output_is_real() -> None:
    r = run_cdp("plan", "validate", "tests/fixtures/plans/invalid/broken.yaml", "--color", "never")
    shown = (
        README.split("The last one shows what a broken plan looks like:", 1)[1]
        .split("```text\n", 1)[1]
        .split("```", 1)[0]
    )
    for line in shown.splitlines():
        if line.startswith("tests/") or line.startswith("✗"):
            assert line in r.stdout, line


def test_rule_reference_matches_the_catalog() -> None:
    """The rule table moved from the README to docs/rules.md (generated); it must match the catalog."""
    from cdp_cli.rules.docs import rules_reference

    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_reference(), (
        "docs/rules.md is stale: regenerate with `python3 scripts/update_docs.py`"
    )
    assert "[docs/rules.md](docs/rules.md)" in README


def test_every_rule_is_documented_with_examples() -> None:
    from cdp_cli.rules import all_rules

    reference = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    for rule in all_rules():
        assert f"[{rule.code}](#{rule.code.lower()})" in reference
        assert rule.summary and rule.bad and rule.good, rule.code


def test_python_api_examples_run(monkeypatch, capsys) -> None:
    section = README.split("### From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 1
    monkeypatch.chdir(ROOT)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out == ""  # the shipped plans have no findings


def test_readme_messy_log_output_is_real() -> None:
    r = run_cdp(
        "events", "lint", "samples/messy.ndjson", "--plan", "plans/ecommerce", "--max-findings", "6", "--color", "never"
    )
    assert r.returncode == 1
    shown = (
        README.split("The second command shows what a messy log looks like", 1)[1]
        .split("```text\n", 1)[1]
        .split("```", 1)[0]
    )
    actual = [line.rstrip() for line in r.stdout.splitlines()]
    for line in shown.splitlines():
        if line and line != "...":
            assert line.rstrip() in actual, line


def test_readme_identity_walkthrough_output_is_real(tmp_path: Path) -> None:
    shown = README.split("### Identity resolution: `cdp profiles`", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    blocks = [b.strip().splitlines() for b in shown.split("\n$ ")]
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    for block in blocks:
        command = block[0].removeprefix("$ ")
        r = run_cdp(*shlex.split(command)[1:], cwd=tmp_path, env={"COLUMNS": "250"})
        assert r.returncode == 0, (command, r.stderr)
        for line in block[1:]:
            assert line.strip() in (r.stdout + r.stderr), (command, line)


def test_readme_traits_tour_output_is_real(tmp_path: Path) -> None:
    shown = (
        README.split("### Computed traits and audiences: `cdp traits`, `cdp audiences`", 1)[1]
        .split("```text\n", 1)[1]
        .split("```", 1)[0]
    )
    blocks = [b.strip().splitlines() for b in shown.split("\n$ ")]
    for sub in ("samples", "plans"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    for block in blocks:
        command = block[0].removeprefix("$ ")
        r = run_cdp(*shlex.split(command)[1:], cwd=tmp_path, env={"COLUMNS": "250"})
        assert r.returncode == 0, (command, r.stderr)
        for line in block[1:]:
            assert line.strip() in (r.stdout + r.stderr), (command, line)


def test_readme_replay_tour_runs_against_real_servers(tmp_path: Path, pg_server: str) -> None:
    """The replay tour, line by line: `postgresql://localhost/analytics` is a fresh database on the
    test session's throwaway PostgreSQL, `http://localhost:8080` the test Segment-compatible server."""
    import psycopg

    from tests.pg import fresh_database
    from tests.replay.server import SegmentServer

    shown = README.split("### Replay: `cdp events replay`", 1)[1].split("### From Python", 1)[0]
    blocks = [b.split("```", 1)[0] for b in shown.split("```text\n")[1:]]
    steps = [b.strip().splitlines() for block in blocks for b in ("\n" + block).split("\n$ ") if b.strip()]
    dsn = fresh_database(pg_server, "analytics")
    for sub in ("samples", "plans"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    with SegmentServer(write_key="key-from-the-environment") as server:
        for step in steps:
            command = step[0].replace("postgresql://localhost/analytics", dsn)
            command = command.replace("http://localhost:8080", server.url)
            args = shlex.split(command)
            if args[0] == "psql":
                with psycopg.connect(dsn) as conn:
                    rows = conn.execute(args[-1]).fetchall()
                out = "\n".join(f" {a:<19} | {b:>5}" for a, b in rows)
            else:
                env = {"COLUMNS": "250", "SEGMENT_WRITE_KEY": "key-from-the-environment"}
                r = run_cdp(*args[1:], cwd=tmp_path, env=env)
                assert r.returncode == 0, (command, r.stderr)
                out = r.stdout + r.stderr
            for line in step[1:]:
                assert line.strip() in out, (command, line, out)
        ids = server.received_ids()
        assert len(ids) == len(set(ids)) == 150
