"""Avo's tracking plan export (the Export API ``/workspaces/:ws/branches/:branch/export/v1``, the webhook
publishing payload, or its ``ndjson`` form with one event per line). Import only.

``{name, events: [{id, name, description, tags, categories, actions, sources, rules}], sources, destinations,
categories, propertyGroups}``. An event's ``rules`` is a draft-06 schema over the event: ``properties.properties``
(event properties), ``properties.userProperties`` (identify traits), ``properties.groupProperties`` (group
traits), ``properties.systemProperties`` (sent with every event: cdp's common properties). Each property node
carries Avo's ``id``, ``index``, ``nameMapping`` and ``isSystemProperty``; optional ones are typed
``["string", "null"]``.

Event properties become the event; user and group properties, shared by every event in Avo, are merged into
the identify and group traits; tags and categories become labels. Sources, destinations, per-destination
name mappings, actions and variants have no cdp equivalent and are reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError
from cdp_cli.plan.formats._core import PlanDraft, Report, as_dict
from cdp_cli.plan.formats._io import Source, display, read_json, read_ndjson
from cdp_cli.plan.formats._schema import Cleaner, clean_name, draft_of, factor_shared, object_body

Path_ = tuple[str | int, ...]
_PARTS = {"properties": "event", "userProperties": "identify", "groupProperties": "group", "systemProperties": "system"}
_KEEP_EVENT_KEYS = ("id", "name", "description", "tags", "categories", "rules")
#: Avo's own keys on property nodes
VENDOR_KEYS = {
    "id": ("normalised", "Avo property ids removed"),
    "index": ("normalised", "Avo's display order ('index') removed"),
    "isSystemProperty": ("normalised", "'isSystemProperty' removed (system properties are read as common properties)"),
    "nameMapping": ("lost", "per-destination property names ('nameMapping') not kept: cdp has one name per property"),
}


def read(source: Path, report: Report) -> PlanDraft:
    if source.is_dir():
        found = sorted(p for p in source.iterdir() if p.suffix.lower() in (".json", ".ndjson", ".jsonl"))
        if len(found) != 1:
            raise InputError(f"{source}: expected one Avo export file (*.json or *.ndjson) here, found {len(found)}")
        source = found[0]
    name = display(source)
    if source.suffix.lower() in (".ndjson", ".jsonl"):
        lines = read_ndjson(source, name)
        positions = {
            ("events", i) + p: (line + s.line_offset, col)
            for i, s in enumerate(lines)
            for p, (line, col) in s.positions.items()
        }
        src = Source(name, {"events": [s.data for s in lines]}, positions)
        report.normalised("ndjson export: one event per line", file=name)
    else:
        src = read_json(source, name)
    if not isinstance(src.data, dict) or not isinstance(src.data.get("events"), list):
        raise InputError(f"{name}: not an Avo export (expected an object with an 'events' list)")
    report.locate(name, src.where)
    top = src.data
    plan_name = top.get("name") if isinstance(top.get("name"), str) and top["name"].strip() else None
    draft = PlanDraft(name=plan_name.strip() if plan_name else source.stem)
    reader = _Reader(draft, report, name, top)
    for i, event in enumerate(top["events"]):
        if isinstance(event, dict):
            reader.event(event, src, ("events", i))
        else:
            report.lost(f"event {i} is not an object; skipped", file=name, path=("events", i))
    reader.finish()
    return draft


class _Reader:
    def __init__(self, draft: PlanDraft, report: Report, file: str, top: dict[str, Any]) -> None:
        self.draft = draft
        self.report = report
        self.file = file
        self.categories = {
            c.get("id"): c.get("name") for c in top.get("categories") or [] if isinstance(c, dict) and c.get("id")
        }
        self.traits: dict[str, dict[str, Any]] = {"identify": {}, "group": {}, "system": {}}
        self.drafts: set[str] = set()
        self.top = top

    def event(self, event: dict[str, Any], src: Source, path: Path_) -> None:
        raw = event.get("name")
        if not isinstance(raw, str) or not raw.strip():
            self.report.lost("event without a name skipped", file=src.file, path=path)
            return
        name = clean_name(raw, self.report, file=src.file, path=path + ("name",), what="event name")
        rules = as_dict(event.get("rules"))
        self.drafts.add(draft_of(rules) or "no $schema")
        defs = rules.get("definitions") or {}
        cleaner = Cleaner(self.report, src.file, scope=f"event {name!r}", defs=defs, vendor=VENDOR_KEYS)
        parts = as_dict(rules.get("properties"))
        rpath = path + ("rules", "properties")
        props, leftover, add = object_body(cleaner, parts.get("properties"), rpath + ("properties",))
        body: dict[str, Any] = {"properties": props}
        if leftover:
            body["required"] = leftover
        if add is not None:
            body["additionalProperties"] = add
        desc = event.get("description")
        if isinstance(desc, str) and desc.strip():
            body["description"] = desc.strip()
        for part, target in _PARTS.items():
            if part != "properties" and isinstance(parts.get(part), dict):
                tprops, _, _ = object_body(cleaner, parts[part], rpath + (part,))
                self._merge(target, tprops, src, rpath + (part,), name)
        for part, value in parts.items():
            if part not in _PARTS and value not in ({}, None):
                self.report.lost(
                    f"event {name!r}: the {part!r} part of Avo's rules is not kept", file=src.file, path=rpath + (part,)
                )
        if name in self.draft.events:
            self.report.lost(f"event {name!r} is exported twice; the first is kept", file=src.file, path=path)
            return
        ev = self.draft.event(name)
        ev["versions"][1] = body
        ev["description"] = body.get("description")
        labels = [t for t in event.get("tags") or [] if isinstance(t, str)]
        for c in event.get("categories") or []:
            cname = self.categories.get(c, c) if isinstance(c, str) else None
            if cname:
                labels.append(f"category:{cname}")
        if labels:
            ev["labels"] = list(dict.fromkeys(labels))
            self.report.tally("tags and categories read as labels", file=src.file, path=path)
        for key, value in event.items():
            if key in _KEEP_EVENT_KEYS or value in ([], {}, None, ""):
                continue
            shown = _names(value)
            self.report.group(
                f"Avo event {key!r} not kept (cdp plans do not record it)",
                f"{name}{f' ({shown})' if shown else ''}",
                file=src.file,
                line=src.where(path + (key,))[0],
            )

    def _merge(self, target: str, props: dict[str, Any], src: Source, path: Path_, event: str) -> None:
        table = self.traits[target]
        for pname, spec in props.items():
            if spec.get("required") is True:
                spec = {k: v for k, v in spec.items() if k != "required"}
                what = "traits" if target != "system" else "properties"
                self.report.tally(
                    f"{target} properties an event requires read as optional {what}",
                    file=src.file,
                    path=path + ("properties", pname),
                )
            if pname not in table:
                table[pname] = spec
            elif json.dumps(table[pname], sort_keys=True) != json.dumps(spec, sort_keys=True):
                self.report.lost(
                    f"{target} property {pname!r} of event {event!r} differs from its first definition; "
                    "the first is kept",
                    file=src.file,
                    path=path + ("properties", pname),
                )

    def finish(self) -> None:
        if self.traits["identify"]:
            self.draft.identify = {"description": "User properties (Avo).", "traits": self.traits["identify"]}
            self.report.normalised("Avo user properties read as identify traits", file=self.file)
        if self.traits["group"]:
            self.draft.group = {"description": "Group properties (Avo).", "traits": self.traits["group"]}
            self.report.normalised(
                "Avo group properties read as group traits (Avo's group types are not kept)", file=self.file
            )
        if self.traits["system"]:
            self.draft.common = {"properties": self.traits["system"]}
            self.report.normalised("Avo system properties read as common properties (every event)", file=self.file)
        if self.drafts - {"draft-06", "draft-07", "2020-12"} or len(self.drafts) > 1:
            self.report.normalised(
                f"event rules of {', '.join(sorted(self.drafts))} read as draft 2020-12", file=self.file
            )
        for key in ("sources", "destinations", "propertyGroups", "propertyBundles", "groupTypes", "metrics"):
            value = self.top.get(key)
            if value:
                self.report.lost(
                    f"Avo's {key} not kept ({_names(value)}): cdp plans do not record them"
                    + ("; the bundles' properties are in each event" if key.startswith("property") else ""),
                    file=self.file,
                    path=(key,),
                )
        factor_shared(self.draft, self.report, file=self.file)
        self.report.flush()


def _names(value: Any) -> str:
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, dict):
            n = item.get("name") or item.get("id")
            if isinstance(n, str):
                names.append(n)
        elif isinstance(item, str):
            names.append(item)
    return ", ".join(names[:6]) + (" ..." if len(names) > 6 else "")
