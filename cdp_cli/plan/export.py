"""Write a plan's compiled schemas as JSON Schema files (``cdp plan export --to jsonschema``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cdp_cli import __version__
from cdp_cli.plan.compiler import compile_plan
from cdp_cli.plan.model import Plan

MANIFEST = "manifest.json"


def _file_name(kind: str, name: str | None, version: int | None, taken: set[str]) -> str:
    parts = [kind]
    if name:
        parts.append(re.sub(r"[^A-Za-z0-9_.-]+", "-", name.replace(" ", "_")).strip("-") or "unnamed")
    if version:
        parts.append(f"v{version}")
    base = ".".join(parts)
    candidate, n = f"{base}.schema.json", 2
    while candidate.lower() in taken:
        candidate, n = f"{base}-{n}.schema.json", n + 1
    taken.add(candidate.lower())
    return candidate


def write_jsonschema(plan: Plan, directory: Path) -> dict[str, Any]:
    """Write one ``*.schema.json`` per message definition and a ``manifest.json`` into ``directory``
    (which must exist). Returns the manifest."""
    taken: set[str] = set()
    entries = []
    for compiled in compile_plan(plan):
        name = _file_name(compiled.kind, compiled.name, compiled.version, taken)
        with open(directory / name, "w", encoding="utf-8") as fh:
            json.dump(compiled.schema, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        entries.append({"kind": compiled.kind, "name": compiled.name, "version": compiled.version, "file": name, "$id": compiled.schema["$id"]})
    manifest = {"generator": f"cdp {__version__}", "plan": plan.name, "source": plan.root, "dialect": "https://json-schema.org/draft/2020-12/schema", "schemas": entries}
    with open(directory / MANIFEST, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    return manifest
