from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from tests.conftest import run_cdp, write_files


def test_export_writes_one_schema_per_definition_and_a_manifest(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    r = run_cdp("plan", "export", "--to", "jsonschema", str(out), "--plan", "plans/ecommerce")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["plan"] == "ecommerce"
    files = {e["file"] for e in manifest["schemas"]}
    assert "track.Order_Completed.v1.schema.json" in files and "track.Order_Completed.v2.schema.json" in files
    assert "identify.schema.json" in files
    assert files == {p.name for p in out.iterdir()} - {"manifest.json", ".cdp-output.json"}
    for name in files:
        Draft202012Validator.check_schema(json.loads((out / name).read_text()))
    assert "wrote" in r.stderr and r.stdout == ""


def test_export_of_several_plans_uses_a_subdirectory_each(tmp_path: Path) -> None:
    r = run_cdp("plan", "export", "--to", "jsonschema", str(tmp_path / "all"))
    assert r.returncode == 0, r.stderr
    assert {"ecommerce", "saas"} <= {p.name for p in (tmp_path / "all").iterdir() if p.is_dir()}


def test_export_refuses_a_broken_plan_and_leaves_nothing(tmp_path: Path) -> None:
    r = run_cdp(
        "plan",
        "export",
        "--to",
        "jsonschema",
        str(tmp_path / "x"),
        "--plan",
        "tests/fixtures/plans/invalid/broken.yaml",
    )
    assert r.returncode == 1
    assert "PL010" in r.stderr and r.stdout == ""
    assert not (tmp_path / "x").exists()


def test_export_never_clobbers_a_foreign_directory(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    write_files(target, {"notes.txt": "keep me"})
    r = run_cdp("plan", "export", "--to", "jsonschema", str(target), "--plan", "plans/ecommerce")
    assert r.returncode == 2 and "not written by cdp" in r.stderr
    assert (target / "notes.txt").read_text() == "keep me"


def test_export_replaces_its_own_earlier_output(tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ("plan", "export", "--to", "jsonschema", str(out), "--plan", "tests/fixtures/plans/valid/minimal.yaml")
    assert run_cdp(*args).returncode == 0
    first = {p.name: p.stat().st_ino for p in out.iterdir()}
    assert run_cdp(*args).returncode == 0
    assert {p.name for p in out.iterdir()} == set(first)
    assert {p.name: p.stat().st_ino for p in out.iterdir()} != first  # really rewritten
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_export_keeps_a_file_added_to_its_output_and_says_so(tmp_path: Path) -> None:
    """The directory is cdp's, but a file in it is not: replacing the directory would delete it."""
    out = tmp_path / "s"
    args = ("plan", "export", "--to", "jsonschema", str(out), "--plan", "tests/fixtures/plans/valid/minimal.yaml")
    assert run_cdp(*args).returncode == 0
    (out / "notes.md").write_text("mine")
    r = run_cdp(*args)
    assert r.returncode == 2 and "files cdp did not write" in r.stderr and "notes.md" in r.stderr
    assert (out / "notes.md").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
