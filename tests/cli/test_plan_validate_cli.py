"""`cdp plan validate` end to end: exit codes, stdout/stderr split, formats, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cdp, write_files

GOOD = """\
name: tiny
conventions: {events: title_case, properties: snake_case}
events:
  Order Completed:
    description: A customer completed an order.
    properties:
      order_id: {type: string, required: true, description: The order's id.}
"""
BAD = GOOD.replace("description: A customer", "descripton: A customer").replace(
    "type: string, required", "type: strng, required"
)
WARN_ONLY = GOOD.replace(" description: The order's id.", "").replace(
    "{type: string, required: true,}", "{type: string, required: true}"
)


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    write_files(
        tmp_path,
        {
            "good/plan.yaml": GOOD,
            "bad/plan.yaml": BAD,
            "warn/plan.yaml": WARN_ONLY.replace("required: true,", "required: true"),
        },
    )
    return tmp_path


def test_clean_plan_exits_0_with_summary_on_stdout(plans: Path) -> None:
    r = run_cdp("plan", "validate", str(plans / "good"))
    assert r.returncode == 0, r.stderr
    assert "0 errors, 0 warnings in 1 file" in r.stdout
    assert r.stderr == ""


def test_errors_exit_1_and_name_file_line_column(plans: Path) -> None:
    r = run_cdp("plan", "validate", str(plans / "bad"), "--format", "text")
    assert r.returncode == 1
    path = (
        os.path.relpath(plans / "bad" / "plan.yaml", ROOT)
        if str(plans).startswith(str(ROOT))
        else str(plans / "bad" / "plan.yaml")
    )
    assert f"{path}:5:5: error PL010 unknown key 'descripton'" in r.stdout
    assert "did you mean 'description'?" in r.stdout
    assert f'{path}:7:24: error PL020 type "strng" is not a JSON Schema type' in r.stdout
    assert "did you mean 'string'" in r.stdout


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    write_files(tmp_path, {"plan.yaml": GOOD.replace(" description: The order's id.", "")})
    r = run_cdp("plan", "validate", str(tmp_path))
    assert r.returncode == 0
    assert "warning PL070" in r.stdout
    r = run_cdp("plan", "validate", str(tmp_path), "--strict")
    assert r.returncode == 1
    assert "warnings fail with --strict" in r.stdout


def test_missing_path_is_exit_2_on_stderr(tmp_path: Path) -> None:
    r = run_cdp("plan", "validate", str(tmp_path / "nope"))
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Error:" in r.stderr and "no such file or directory" in r.stderr
    assert "Traceback" not in r.stderr


def test_empty_directory_is_exit_2(tmp_path: Path) -> None:
    r = run_cdp("plan", "validate", str(tmp_path))
    assert r.returncode == 2
    assert "no plan files" in r.stderr


def test_unknown_format_is_usage_error(plans: Path) -> None:
    r = run_cdp("plan", "validate", str(plans / "good"), "--format", "xml")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "content,code",
    [
        ({"hex": "89504e470d0a1a0a0000000d49484452"}, "PL001"),
        ({"hex": "6576656e74733a20ff0a"}, "PL001"),
        ("", "PL005"),
        ("- a\n- b\n", "PL006"),
        ("services:\n  web:\n    image: nginx\n", "PL006"),
        (
            {
                "text": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
            },
            "PL004",
        ),
        ({"text": "[", "times": 20000}, "PL004"),
        ("events: [unclosed\n", "PL002"),
    ],
)
def test_bad_files_are_findings_not_tracebacks(tmp_path: Path, content, code: str) -> None:
    write_files(tmp_path, {"plan.yaml": content})
    r = run_cdp("plan", "validate", str(tmp_path / "plan.yaml"), "--format", "json")
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr
    data = json.loads(r.stdout)
    assert code in {f["code"] for f in data["findings"]}, data["findings"]


def test_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    write_files(
        tmp_path, {"plan.yaml": {"text": "# padding padding padding padding padding padding\n", "times": 230_000}}
    )
    r = run_cdp("plan", "validate", str(tmp_path / "plan.yaml"), "--format", "json")
    assert r.returncode == 1
    (finding,) = json.loads(r.stdout)["findings"]
    assert finding["code"] == "PL001" and "larger than 10 MiB" in finding["message"]


def test_validate_never_modifies_plan_files(tmp_path: Path) -> None:
    write_files(tmp_path, {"plan.yaml": BAD})
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*")}
    run_cdp("plan", "validate", str(tmp_path), "--format", "sarif")
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*")}
    assert before == after


def test_json_format_is_the_library_records(plans: Path) -> None:
    from cdp_cli.plan.validate import validate_paths

    r = run_cdp("plan", "validate", str(plans / "bad"), "--format", "json")
    data = json.loads(r.stdout)
    assert data["ok"] is False
    assert data["summary"]["errors"] == 2
    lib = [f.to_dict() for f in validate_paths([plans / "bad"]).findings]
    assert [(f["code"], f["line"], f["column"]) for f in data["findings"]] == [
        (f["code"], f["line"], f["column"]) for f in lib
    ]
    assert {"code", "rule", "level", "file", "line", "column", "path", "message"} <= set(data["findings"][0])


def test_output_file_is_written_and_stdout_stays_empty(plans: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    r = run_cdp("plan", "validate", str(plans / "bad"), "--format", "json", "-o", str(out))
    assert r.returncode == 1
    assert r.stdout == ""
    assert json.loads(out.read_text())["summary"]["errors"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.json")]


def test_auto_format_is_github_under_actions(plans: Path) -> None:
    r = run_cdp("plan", "validate", str(plans / "bad"), env={"GITHUB_ACTIONS": "true"})
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert any(
        line.startswith("::error file=") and ",line=5,col=5,title=PL010 plan.unknown-key::" in line for line in lines
    ), lines
    assert any(line.startswith("::warning file=") for line in lines)


def test_color_never_and_no_color(plans: Path) -> None:
    r = run_cdp("plan", "validate", str(plans / "bad"), "--color", "never")
    assert "\x1b[" not in r.stdout
    r = run_cdp("plan", "validate", str(plans / "bad"), "--color", "always", env={"NO_COLOR": ""})
    assert "\x1b[" in r.stdout


def test_quiet_prints_findings_only(plans: Path) -> None:
    r = run_cdp("plan", "validate", str(plans / "bad"), "-q")
    assert r.returncode == 1
    assert "PL010" in r.stdout and "Plans" not in r.stdout and "errors," not in r.stdout


def test_shipped_plans_validate_clean_and_strict() -> None:
    r = run_cdp("plan", "validate", "plans/", "--strict", "--format", "json")
    assert r.returncode == 0, r.stdout
    data = json.loads(r.stdout)
    names = {p["plan"] for p in data["summary"]["plans_detail"]}
    assert {"ecommerce", "saas"} <= names
    assert data["findings"] == []


def test_help_explains_every_option_with_an_example() -> None:
    for cmd in (
        ["--help"],
        ["plan", "--help"],
        ["plan", "validate", "--help"],
        ["plan", "export", "--help"],
        ["rules", "--help"],
    ):
        r = run_cdp(*cmd, env={"COLUMNS": "300"})
        assert r.returncode == 0
        assert "Example" in r.stdout, cmd


def _commands(cmd, prefix=()):
    yield prefix, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, prefix + (name,))


def test_every_option_help_has_an_example() -> None:
    import typer

    from cdp_cli.cli.app import app

    builtin = {"help", "install_completion", "show_completion"}
    for path, cmd in _commands(typer.main.get_command(app)):
        assert cmd.help and "Example" in cmd.help, f"cdp {' '.join(path)}: command help needs an example"
        for param in cmd.params:
            if param.name in builtin or param.param_type_name == "argument" and not getattr(param, "help", None):
                continue
            assert param.help and "Example" in param.help, f"cdp {' '.join(path)} {param.name}: help needs an example"


def test_version() -> None:
    from cdp_cli import __version__

    r = run_cdp("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"cdp {__version__}"
