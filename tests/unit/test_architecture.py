"""Architecture rules from CONVENTIONS.md, checked so they cannot erode."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PKG = ROOT / "cdp_cli"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_cli_package_imports_typer_and_nobody_imports_click() -> None:
    for path in PKG.rglob("*.py"):
        imported = _imports(path)
        assert "click" not in imported, path
        if "cli" not in path.relative_to(PKG).parts[:1]:
            assert "typer" not in imported, f"{path} imports typer; keep it in cdp_cli/cli/"


def test_only_the_engine_package_imports_an_sql_engine() -> None:
    for path in PKG.rglob("*.py"):
        if path.relative_to(PKG).parts[0] != "engine":
            assert not _imports(path) & {"duckdb", "pyspark", "psycopg", "sqlalchemy"}, f"{path}: go through cdp_cli.engine"


def test_startup_stays_light() -> None:
    code = (
        "import sys\n"
        "from cdp_cli.cli.app import app\n"
        "import typer\n"
        "try:\n"
        "    app(['--help'], prog_name='cdp')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('pyarrow', 'duckdb', 'jsonschema', 'orjson', 'yaml') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY=\n" in r.stdout, r.stdout[-300:]


def test_errors_have_one_hierarchy() -> None:
    from cdp_cli import errors

    for name in ("UsageError", "InputError", "PlanError", "ConfigError", "EngineError", "DestinationError"):
        assert issubclass(getattr(errors, name), errors.CdpError)
    assert [int(c) for c in errors.ExitCode] == [0, 1, 2]
