"""The docs cannot rot: the command reference is what the commands say, every command and option is in
it, and every Python example in docs/python-api.md runs."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"


def test_cli_reference_is_current() -> None:
    os.environ["NO_COLOR"] = "1"
    from cdp_cli.cli.reference import reference_markdown

    assert (DOCS / "cli.md").read_text(encoding="utf-8") == reference_markdown(), (
        "docs/cli.md is stale: regenerate it with `python3 scripts/update_docs.py`"
    )


def test_every_command_and_option_is_documented() -> None:
    from cdp_cli.cli.reference import documented_options

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = documented_options()
    assert {
        "cdp plan validate",
        "cdp plan export",
        "cdp events lint",
        "cdp profiles resolve",
        "cdp profiles show",
        "cdp profiles explain",
        "cdp samples generate",
        "cdp rules",
    } <= set(commands)
    for command, options in commands.items():
        section = text.split(f"## `{command}`\n", 1)[1].split("\n## ", 1)[0]
        for option in options:
            assert f"`{option}`" in section, f"{command} {option} is not documented"
            row = next(line for line in section.splitlines() if f"`{option}`" in line)
            assert "Example" in row, f"{command} {option} has no example"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / "python-api.md").read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_python_api_examples_run(index: int, tmp_path: Path, monkeypatch, capsys) -> None:
    for sub in ("plans", "samples", "tests/fixtures/plans"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    monkeypatch.chdir(tmp_path)
    exec(compile(_python_blocks()[index], f"docs/python-api.md block {index + 1}", "exec"), {})
    capsys.readouterr()
