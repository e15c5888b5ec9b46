"""Acceptance test of .pre-commit-hooks.yaml: each hook's entry and args, run as pre-commit would."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def _run_hook(hook: dict, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    entry = shlex.split(hook["entry"])
    assert shutil.which(entry[0], path=env["PATH"]), f"{entry[0]} is not installed as a console script"
    return subprocess.run(entry + hook.get("args", []), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_hook_definition_is_complete() -> None:
    (hook,) = HOOKS
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["id"] == "cdp-plan-validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is False


def test_hook_passes_on_a_valid_repo_and_fails_on_a_broken_one(tmp_path: Path) -> None:
    (hook,) = HOOKS
    good = tmp_path / "good"
    shutil.copytree(ROOT / "tests/fixtures/plans/valid", good / "plans")
    r = _run_hook(hook, good)
    assert r.returncode == 0, r.stdout + r.stderr
    bad = tmp_path / "bad"
    shutil.copytree(ROOT / "tests/fixtures/plans/invalid", bad / "plans")
    r = _run_hook(hook, bad)
    assert r.returncode == 1
    assert "PL010" in r.stdout
