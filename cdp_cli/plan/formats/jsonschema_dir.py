"""A directory of JSON Schemas, one per event: cdp's own export, Snowplow Iglu, reflekt, or hand-written.

Import reads every ``*.json`` file below the directory (and Iglu's suffix-less ``…/jsonschema/1-0-0`` files):

- cdp's export (``cdp plan export --to jsonschema``): whole-message schemas with ``x-cdp`` (kind, name,
  version) and ``manifest.json``; the common rules come back from ``common.schema.json``.
- Snowplow Iglu self-describing schemas (``self: {vendor, name, format, version: "1-0-1"}``), reflekt's
  ``<Event>/<MAJOR>-<MINOR>.json``: the schema is the event's data; its SchemaVer versions become cdp
  versions 1, 2, ... in order, the vendor a label.
- Any other object schema: a track event named after its ``title`` (else its file), either a whole message
  (``properties.properties``) or the event's properties themselves.

Drafts 04, 06, 07, 2019-09 and 2020-12 may be mixed; every rewrite is reported.

Export is :func:`cdp_cli.plan.export.write_jsonschema` (the same files ``cdp plan export`` writes).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError
from cdp_cli.plan.export import MANIFEST, write_jsonschema
from cdp_cli.plan.formats._core import PlanDraft, Report, body_meta, plan_key_location
from cdp_cli.plan.formats._io import Source, display, read_json, walk
from cdp_cli.plan.formats._schema import (
    Cleaner,
    clean_name,
    draft_of,
    factor_shared,
    is_message_schema,
    object_body,
    unwrap_message,
)
from cdp_cli.plan.model import Plan

_SCHEMAVER = re.compile(r"^(\d+)-(\d+)(?:-(\d+))?$")
_KINDS = ("track", "identify", "group", "page", "screen", "common")
Path_ = tuple[str | int, ...]


# --- import ------------------------------------------------------------------------------------------------
def _candidates(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    out = []
    for path in walk(source, None):
        name = path.name.lower()
        if name == ".cdp-output.json":
            continue
        if name.endswith(".json") or (_SCHEMAVER.match(path.name) and path.parent.name == "jsonschema"):
            out.append(path)
    return out


def read(source: Path, report: Report) -> PlanDraft:
    files = _candidates(source)
    if not files:
        raise InputError(f"{source}: no JSON Schema files (*.json, or Iglu's jsonschema/1-0-0) here")
    draft = PlanDraft()
    drafts: Counter[str] = Counter()
    manifest: dict[str, Any] = {}
    parsed: list[Source] = []
    for path in files:
        src = read_json(path, display(path))
        report.locate(src.file, src.where)
        if path.name == MANIFEST and isinstance(src.data, dict) and "schemas" in src.data:
            manifest = src.data
            continue
        if not isinstance(src.data, dict):
            report.lost("not a JSON Schema (not an object); skipped", file=src.file)
            continue
        parsed.append(src)
    if not parsed:
        raise InputError(f"{source}: no JSON Schemas found (only a manifest or non-object files)")
    if isinstance(manifest.get("plan"), str):
        draft.name = manifest["plan"]
    listed = {
        str(e.get("file")): e for e in manifest.get("schemas", []) if isinstance(e, dict) and e.get("kind") in _KINDS
    }
    entries = [(_classify(src, report, listed.get(Path(src.file).name)), src) for src in parsed]
    common = next((src for (kind, *_), src in entries if kind == "common"), None)
    common_context: Any = None
    if common is not None:
        cleaner = Cleaner(report, common.file, scope="common")
        body = unwrap_message(cleaner, common.data, (), main="context")
        draft.common = {k: body[k] for k in ("description", "context") if body.get(k)}
        for extra in ("required", "additionalProperties"):
            if extra in body:
                report.lost(f"common context: '{extra}' of the whole context is not kept", file=common.file)
        common_context = common.data.get("properties", {}).get("context")
    iglu: dict[str, list[tuple[tuple[int, ...], Source, dict[str, Any]]]] = {}
    for (kind, name, version, shape), src in entries:
        if kind == "common":
            continue
        drafts[draft_of(src.data) or "no $schema"] += 1
        if not draft.name and isinstance(src.data.get("x-cdp"), dict) and src.data["x-cdp"].get("plan"):
            draft.name = str(src.data["x-cdp"]["plan"])
        if shape == "iglu":
            assert isinstance(version, tuple)
            iglu.setdefault(name, []).append((version, src, src.data["self"]))
            continue
        _message(draft, report, kind, name, version if isinstance(version, int) else 1, shape, src, common_context)
    for name, found in iglu.items():
        _iglu_event(draft, report, name, found)
    if len(drafts) > 1 or any(d not in ("2020-12",) for d in drafts):
        shown = ", ".join(f"{d} ({n})" for d, n in sorted(drafts.items()))
        report.normalised(
            f"schemas of {shown} read as draft 2020-12 (keywords rewritten where the drafts differ)",
            file=parsed[0].file,
        )
    if draft.name is None:
        draft.name = source.name if source.is_dir() else source.stem
    factor_shared(draft, report, file=parsed[0].file)
    report.flush()
    return draft


def _classify(src: Source, report: Report, listed: dict[str, Any] | None) -> tuple[str, str, Any, str]:
    """(kind, name, version, shape) of one schema file; shape is ``message``, ``iglu`` or ``properties``.
    ``listed`` is the file's entry in a cdp ``manifest.json``."""
    data = src.data
    meta = data.get("x-cdp") if isinstance(data.get("x-cdp"), dict) else listed
    if meta is None and str(data.get("$id", "")).startswith("urn:cdp:plan:") and data.get("title") == "common":
        meta = {"kind": "common"}
    if isinstance(meta, dict) and meta.get("kind") in _KINDS:
        name = meta["name"] if isinstance(meta.get("name"), str) else ""
        version = meta["version"] if isinstance(meta.get("version"), int) else 1
        return str(meta["kind"]), name, version, "message"
    self_ = data.get("self")
    if isinstance(self_, dict) and isinstance(self_.get("name"), str):
        ver = str(self_.get("version", "1-0-0"))
        m = _SCHEMAVER.match(ver)
        if not m:
            report.lost(f"version {ver!r} is not a SchemaVer (1-0-0); read as 1-0-0", file=src.file, path=("self",))
            parts: tuple[int, ...] = (1, 0, 0)
        else:
            parts = tuple(int(g or 0) for g in m.groups())
        return "track", self_["name"], parts, "iglu"
    stem = re.sub(r"(\.schema)?\.json$", "", Path(src.file).name, flags=re.I)
    if is_message_schema(data):
        props = data.get("properties", {})
        kind = _const(props.get("type")) or "track"
        name = _const(props.get("event")) or _const(props.get("name")) or data.get("title") or stem
        if kind not in _KINDS:
            kind = "track"
        m = re.search(r"\.v(\d+)$", stem)
        return kind, str(name), int(m.group(1)) if m else 1, "message"
    name = data.get("title") if isinstance(data.get("title"), str) and data["title"].strip() else stem
    if name == stem:
        report.normalised(f"schema has no title; the event is named after its file: {stem!r}", file=src.file)
    return "track", name, 1, "properties"


def _const(schema: Any) -> str | None:
    if isinstance(schema, dict):
        if isinstance(schema.get("const"), str):
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and len(enum) == 1 and isinstance(enum[0], str):
            return enum[0]
    return None


def _message(
    draft: PlanDraft,
    report: Report,
    kind: str,
    raw_name: str,
    version: int,
    shape: str,
    src: Source,
    common_context: Any,
) -> None:
    name = clean_name(raw_name, report, file=src.file, path=(), what=f"{kind} name") if raw_name else ""
    data = src.data
    defs = {**(data.get("definitions") or {}), **(data.get("$defs") or {})}
    cleaner = Cleaner(report, src.file, scope=f"{kind} {name!r}" if name else kind, defs=defs)
    main = "traits" if kind in ("identify", "group") else "properties"
    if shape == "properties":
        props, leftover, add = object_body(cleaner, data, ())
        body: dict[str, Any] = {main: props}
        if leftover:
            body["required"] = leftover
        if add is not None:
            body["additionalProperties"] = add
        if isinstance(data.get("description"), str) and data["description"].strip():
            body["description"] = data["description"].strip()
    else:
        top = data.get("properties") if isinstance(data.get("properties"), dict) else {}
        context = top.get("context")
        if context is not None and common_context is not None and context == common_context:
            data = {**data, "properties": {k: v for k, v in top.items() if k != "context"}}
            report.tally("the common rules' context, repeated in every schema, read once", file=src.file, path=())
        body = unwrap_message(cleaner, data, (), main=main)
    if kind == "track":
        if not name:
            report.lost("a track schema without an event name; skipped", file=src.file)
            return
        ev = draft.event(name)
        if version in ev["versions"]:
            report.lost(f"event {name!r} version {version} is defined twice; the first is kept", file=src.file)
            return
        ev["versions"][version] = body
        if version == min(ev["versions"]):
            ev["description"] = body.get("description")
        return
    if kind in ("identify", "group"):
        if getattr(draft, kind) is not None:
            report.lost(f"a second {kind} schema is not imported", file=src.file)
            return
        setattr(draft, kind, body)
        return
    table = draft.pages if kind == "page" else draft.screens
    if not name:
        report.lost(f"a {kind} schema without a name; skipped", file=src.file)
        return
    table[name] = body


def _iglu_event(
    draft: PlanDraft, report: Report, raw_name: str, found: list[tuple[tuple[int, ...], Source, dict[str, Any]]]
) -> None:
    found.sort(key=lambda t: t[0])
    first_src = found[0][1]
    name = clean_name(raw_name, report, file=first_src.file, path=("self", "name"), what="event name")
    ev = draft.event(name)
    vendors = []
    for n, (ver, src, self_) in enumerate(found, 1):
        data = src.data
        defs = {**(data.get("definitions") or {}), **(data.get("$defs") or {})}
        cleaner = Cleaner(report, src.file, scope=f"event {name!r}", defs=defs)
        props, leftover, add = object_body(cleaner, data, ())
        body: dict[str, Any] = {"properties": props}
        if leftover:
            body["required"] = leftover
        if add is not None:
            body["additionalProperties"] = add
        if isinstance(data.get("description"), str) and data["description"].strip():
            body["description"] = data["description"].strip()
        if n in ev["versions"]:
            report.lost(f"event {name!r} is defined in two places; the first is kept", file=src.file)
            continue
        ev["versions"][n] = body
        schemaver = "-".join(map(str, ver))
        if len(found) > 1 or schemaver != "1-0-0":
            report.normalised(
                f"Iglu schema {self_.get('vendor')}/{name} {schemaver} read as event version {n}",
                file=src.file,
                path=("self", "version"),
            )
        vendor = self_.get("vendor")
        if isinstance(vendor, str) and vendor and vendor not in vendors:
            vendors.append(vendor)
    ev["description"] = ev["versions"][min(ev["versions"])].get("description") if ev["versions"] else None
    if vendors:
        ev["labels"] = [f"vendor:{v}" for v in vendors]
    if not ev["versions"]:
        del draft.events[name]


# --- export ------------------------------------------------------------------------------------------------
def write_dir(plan: Plan, out: Path, report: Report) -> list[str]:
    """The plan's compiled schemas (``cdp plan export --to jsonschema``), with what they leave out reported."""
    manifest = write_jsonschema(plan, out)
    _losses(plan, report)
    return [e["file"] for e in manifest["schemas"]] + [MANIFEST]


def _losses(plan: Plan, report: Report) -> None:
    if plan.shared:
        first = next(iter(plan.shared.values())).origin
        line, col = first.position(key=True)
        report.lost(
            f"the shared property library ({len(plan.shared)} properties) is inlined into every schema that uses "
            "it (an import finds properties defined alike and shares them again)",
            file=first.file,
            line=line,
            column=col,
        )
    for name, event in plan.events.items():
        line, col = event.origin.position(key=True)
        if event.owner or event.labels:
            report.group(
                "event owners and labels not kept (a schema has no place for them)",
                name,
                file=event.origin.file,
                line=line,
                column=col,
            )
        if event.deprecated:
            report.group("'deprecated' of events not kept", name, file=event.origin.file, line=line, column=col)
        if event.description and event.description not in {b.description for b in event.versions.values()}:
            report.group(
                "event descriptions not kept (each version's schema carries its own)",
                name,
                file=event.origin.file,
                line=line,
                column=col,
            )
    for body in (plan.identify, plan.group, *plan.pages.values(), *plan.screens.values()):
        if body is not None and body_meta(body):
            line, col = body.origin.position(key=True)
            report.group(
                "owners and labels of identify, group, pages and screens not kept",
                body.name or body.kind,
                file=body.origin.file,
                line=line,
                column=col,
            )
    if plan.common is not None and plan.common.fields.get("properties"):
        line, col = plan.common.origin.position(key=True)
        report.lost(
            "common properties are merged into every track, page and screen schema (not kept apart)",
            file=plan.common.origin.file,
            line=line,
            column=col,
        )
    for key, what in (
        ("conventions", "naming conventions not kept"),
        ("owner", "the plan's owner not kept"),
        ("description", "the plan's description not kept"),
        (
            "settings",
            "settings.allow_unplanned_events not kept; settings.additionalProperties is written into every schema",
        ),
    ):
        if key in ("owner", "description") and not getattr(plan, key):
            continue
        file, line, col = plan_key_location(plan, key)
        if line or key in ("owner", "description"):
            report.lost(what, file=file, line=line, column=col)
    report.flush()
