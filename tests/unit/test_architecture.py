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


#: destinations that are a database themselves: the replay's PostgreSQL warehouse loader speaks
#: PostgreSQL (COPY, ON CONFLICT, its catalog) to a server the user names; it is not a query engine
#: for cdp's own computations, so it does not go through cdp_cli.engine
DATABASE_DESTINATIONS = {Path("replay/postgres.py")}


def test_only_the_engine_package_imports_an_sql_engine() -> None:
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel in DATABASE_DESTINATIONS:
            assert not _imports(path) & {"duckdb", "pyspark", "sqlalchemy"}, path
            continue
        if rel.parts[0] != "engine":
            assert not _imports(path) & {"duckdb", "pyspark", "psycopg", "sqlalchemy"}, (
                f"{path}: go through cdp_cli.engine"
            )


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


def _cdp_imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The cdp_cli modules ``path`` imports (absolute and relative), at module level or anywhere."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    if path.name == "__init__.py":
        module = module.removesuffix(".__init__")
        package = module
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("cdp_cli"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            if base.startswith("cdp_cli"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.If) and top_level_only:  # `if TYPE_CHECKING:` imports are not run
            continue
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in PKG.rglob("*.py")}
    return {m for m in found if m in modules and m != module}


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): _cdp_imports(
            p, top_level_only=top_level_only
        )
        for p in PKG.rglob("*.py")
    }


def test_no_import_cycles_in_cdp_cli() -> None:
    """Module-level imports form no cycle (a cycle makes import order matter and breaks refactors).
    Imports inside functions are how heavy modules load late; they may point back up."""
    graph = _graph(top_level_only=True)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            # importing a submodule imports its package first: not an edge back to the importer
            if state.get(nxt) == 1 and not node.startswith(nxt + "."):
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_cli_talks_only_to_the_api_reporters_and_errors() -> None:
    """A command is: parse options, one API call, a reporter, an exit code. Everything it needs from
    the library comes through cdp_cli.api (and the reporters and errors), so cdp run, the collector
    and users' scripts get exactly what the CLI gets."""
    allowed = ("cdp_cli.api", "cdp_cli.reporters", "cdp_cli.errors", "cdp_cli.results", "cdp_cli.cli", "cdp_cli")
    for path in (PKG / "cli").glob("*.py"):
        for mod in _cdp_imports(path, top_level_only=False):
            assert mod == "cdp_cli" or any(mod == a or mod.startswith(a + ".") for a in allowed if a != "cdp_cli"), (
                f"{path.name} imports {mod}; go through cdp_cli.api"
            )


def test_commands_are_thin() -> None:
    """No command function over about 40 lines of code (docstring and option declarations aside)."""
    for path in (PKG / "cli").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in node.decorator_list
            ):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                lines = body[-1].end_lineno - body[0].lineno + 1  # type: ignore[operator]
                assert lines <= 40, f"{path.name}:{node.name} has {lines} lines of body; move the work into the library"
