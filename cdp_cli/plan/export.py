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
    """``track.Order_Completed.v1.schema.json``; letters of any script are kept, other characters
    become '-', and a name that collides (case-insensitively) gets ``-2``, ``-3`` before the version."""
    slug = ""
    if name:
        slug = re.sub(r"[^\w.-]+", "-", name.replace(" ", "_")).strip("-.") or "unnamed"
    n = 1
    while True:
        parts = [kind] + ([slug + (f"-{n}" if n > 1 else "")] if name else []) + ([f"v{version}"] if version else [])
        candidate = ".".join(parts) + ".schema.json"
        if candidate.lower() not in taken:
            taken.add(candidate.lower())
            return candidate
        n += 1


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
        entries.append(
            {
                "kind": compiled.kind,
                "name": compiled.name,
                "version": compiled.version,
                "file": name,
                "$id": compiled.schema["$id"],
            }
        )
    manifest = {
        "generator": f"cdp {__version__}",
        "plan": plan.name,
        "source": plan.root,
        "dialect": "https://json-schema.org/draft/2020-12/schema",
        "schemas": entries,
    }
    with open(directory / MANIFEST, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    return manifest
