"""The reader's layout: cdp_cli/events/reader.py is the one entry point (a facade), the work is done in
layers that import only the layers below them: stats <- discover, parse <- sources <- reader."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cdp_cli.events.reader as reader
from cdp_cli.events import discover, parse, sources, stats

EVENTS = Path(reader.__file__).parent
# module -> the reader modules it may import (directly)
ALLOWED = {
    "stats": set(),
    "discover": set(),
    "parse": {"stats"},
    "sources": {"stats", "discover", "parse"},
    "reader": {"stats", "discover", "parse", "sources"},
}
READER_MODULES = set(ALLOWED)


def _imports(module: str) -> set[str]:
    tree = ast.parse((EVENTS / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["cdp_cli", "events"] and len(parts) > 2 and parts[2] in READER_MODULES:
                found.add(parts[2])
    return found - {module}


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below(module: str) -> None:
    assert _imports(module) <= ALLOWED[module]


@pytest.mark.parametrize(
    "module, absent",
    [
        ("stats", ["cdp_cli.events.discover", "cdp_cli.events.parse", "cdp_cli.events.sources", "orjson", "gzip"]),
        ("discover", ["cdp_cli.events.stats", "cdp_cli.events.parse", "cdp_cli.events.sources", "orjson", "gzip"]),
        ("parse", ["cdp_cli.events.discover", "cdp_cli.events.sources", "gzip", "zstandard"]),
        ("sources", ["cdp_cli.events.reader", "zstandard"]),  # zstandard: only once a .zst is read
    ],
)
def test_each_layer_imports_without_the_others(module: str, absent: list[str]) -> None:
    code = f"import sys, cdp_cli.events.{module}\nprint(','.join(m for m in {absent!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# every public name of cdp_cli/events/reader.py before it was split (callers in cdp_cli/, tests/, bench/ and
# README.md import Chunk, DEFAULT_MAX_LINE_BYTES, Problem, ReadStats, Source, discover, gc_paused, iter_chunks,
# iter_records, materialize and parse_chunk)
USED = [
    "BLOCK_SIZE",
    "CHUNK_LINES",
    "Chunk",
    "ChunkRef",
    "DEFAULT_MAX_LINE_BYTES",
    "EVENT_SUFFIXES",
    "Problem",
    "ReadStats",
    "Record",
    "SKIP_REASONS",
    "SNIFF_BYTES",
    "Source",
    "discover",
    "gc_paused",
    "iter_chunks",
    "iter_records",
    "materialize",
    "parse_chunk",
    "parse_slices",
    "sniff",
    "INVALID_UTF8",
    "INVALID_JSON",
    "NOT_AN_OBJECT",
    "NON_FINITE",
    "LINE_TOO_LONG",
    "STREAM_ERROR",
    "FILE_UNREADABLE",
    "NOT_NDJSON",
]


def test_the_facade_exports_every_public_name() -> None:
    assert sorted(reader.__all__) == sorted(USED)
    homes = (stats, discover, parse, sources)
    for name in USED:
        assert hasattr(reader, name), name
        defined = [m for m in homes if name in vars(m)]
        if defined:  # the facade re-exports the very object, not a copy
            assert all(vars(m)[name] is getattr(reader, name) for m in defined), name


def test_the_facade_is_thin() -> None:
    """Only iter_records (reading end to end: discover, chunk, parse) is defined in the facade."""
    tree = ast.parse((EVENTS / "reader.py").read_text(encoding="utf-8"))
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defined == ["iter_records"]
