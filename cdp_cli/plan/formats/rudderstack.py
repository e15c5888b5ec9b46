"""RudderStack tracking plans as code: rudder-cli YAML projects (``rudder/v1``, and the older ``rudder/v0.1``).

A project is a directory of YAML documents ``{version, kind, metadata: {name}, spec}``. Kinds: ``properties``
(the property catalog), ``events``, ``categories``, ``custom-types`` and ``tracking-plan`` (``tp`` in v0.1).
References: v1 ``#property:<id>``, ``#event:<id>``, ``#category:<id>``, ``#custom-type:<id>``; v0.1
``{$ref: "#/properties/<group>/<id>"}``. Property validation lives in ``config`` (v1, snake_case keys) or
``propConfig`` (v0.1, camelCase).

Import: the catalog properties a plan uses become cdp's shared property library, each rule an event (or the
identify, group, page or screen body), categories become labels. Variants (discriminator rules) have no cdp
equivalent and are reported.

Export: a v1 project (``properties.yaml``, ``custom-types.yaml``, ``events.yaml``, ``tracking-plan.yaml``).
RudderStack keeps one definition per property name and type, one page and one screen rule (non-track events
have no names), no versions, owners, labels or personal-data classes: each loss is reported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError
from cdp_cli.plan import format as fmt
from cdp_cli.plan.compiler import Resolver
from cdp_cli.plan.formats._core import (
    PlanDraft,
    Report,
    as_dict,
    body_meta,
    dump_yaml,
    plan_key_location,
    text_or,
    unique_id,
)
from cdp_cli.plan.formats._io import Source, display, read_yaml_documents, walk
from cdp_cli.plan.formats._schema import clean_name, ordered
from cdp_cli.plan.model import Body, Origin, Plan, Prop

VERSIONS = ("rudder/v1", "rudder/v0.1", "rudder/0.1")
KINDS = ("properties", "events", "categories", "custom-types", "tracking-plan", "tp")
Path_ = tuple[str | int, ...]

#: config keys (v1 snake_case, v0.1 camelCase) -> JSON Schema keywords
CONFIG_KEYS = {
    "enum": "enum",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusive_minimum": "exclusiveMinimum",
    "exclusiveMinimum": "exclusiveMinimum",
    "exclusive_maximum": "exclusiveMaximum",
    "exclusiveMaximum": "exclusiveMaximum",
    "multiple_of": "multipleOf",
    "multipleOf": "multipleOf",
    "min_length": "minLength",
    "minLength": "minLength",
    "max_length": "maxLength",
    "maxLength": "maxLength",
    "pattern": "pattern",
    "format": "format",
    "min_items": "minItems",
    "minItems": "minItems",
    "max_items": "maxItems",
    "maxItems": "maxItems",
    "unique_items": "uniqueItems",
    "uniqueItems": "uniqueItems",
}
#: JSON Schema keywords -> v1 config keys
TO_CONFIG = {
    "enum": "enum",
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum",
    "multipleOf": "multiple_of",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "format": "format",
    "minItems": "min_items",
    "maxItems": "max_items",
    "uniqueItems": "unique_items",
}
_ITEM_KEYS = ("item_type", "item_types", "itemType", "itemTypes")


# --- import -----------------------------------------------------------------------------------------------
def read(source: Path, report: Report) -> PlanDraft:
    """Import a rudder-cli project directory (or one YAML file)."""
    files = [source] if source.is_file() else list(walk(source, (".yaml", ".yml")))
    if not files:
        raise InputError(f"{source}: no YAML files here; expected a rudder-cli project")
    project = _Project(report)
    for path in files:
        for src in read_yaml_documents(path, display(path)):
            report.locate(src.file, src.where)
            project.add(src)
    if not project.seen:
        raise InputError(f"{source}: no rudder-cli documents (version: rudder/v1 or rudder/v0.1) found")
    draft = project.build()
    report.flush()
    return draft


class _Project:
    def __init__(self, report: Report) -> None:
        self.report = report
        self.seen = 0
        self.versions: set[str] = set()
        self.properties: dict[str, tuple[dict[str, Any], Source, Path_]] = {}
        self.events: dict[str, tuple[dict[str, Any], Source, Path_]] = {}
        self.categories: dict[str, dict[str, Any]] = {}
        self.types: dict[str, tuple[dict[str, Any], Source, Path_]] = {}
        self.plans: list[tuple[dict[str, Any], Source, Path_]] = []
        self.draft = PlanDraft()
        self.keys: dict[str, str] = {}  # catalog property id -> shared key
        self.type_keys: dict[str, str] = {}  # custom type id -> shared key
        self.taken: set[str] = set()

    # collecting --------------------------------------------------------------------------------------------
    def add(self, src: Source) -> None:
        data = src.data
        if not isinstance(data, dict) or data.get("version") not in VERSIONS:
            if isinstance(data, dict) and str(data.get("version", "")).startswith("rudder/"):
                self.report.lost(f"unknown rudder-cli version {data['version']!r}; document skipped", file=src.file)
            else:
                self.report.normalised("not a rudder-cli document (no version: rudder/...); skipped", file=src.file)
            return
        self.seen += 1
        self.versions.add(data["version"])
        kind = data.get("kind")
        spec = as_dict(data.get("spec"))
        if kind not in KINDS:
            self.report.lost(f"kind {kind!r} is not part of a tracking plan; skipped", file=src.file, path=("kind",))
            return
        if kind in ("tracking-plan", "tp"):
            self.plans.append((spec, src, ("spec",)))
            return
        list_key = {"properties": "properties", "events": "events", "categories": "categories"}.get(kind, "types")
        table = {"properties": self.properties, "events": self.events, "custom-types": self.types}.get(kind)
        for i, item in enumerate(spec.get(list_key) or []):
            path: Path_ = ("spec", list_key, i)
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                self.report.lost(f"{kind} entry without an id skipped", file=src.file, path=path)
                continue
            if kind == "categories":
                self.categories[item["id"]] = item
                continue
            assert table is not None
            if item["id"] in table:
                self.report.lost(
                    f"{kind} id {item['id']!r} is defined twice; the first is kept", file=src.file, path=path
                )
                continue
            table[item["id"]] = (item, src, path)

    # building ----------------------------------------------------------------------------------------------
    def build(self) -> PlanDraft:
        if len(self.versions) > 1:
            self.report.normalised(
                f"the project mixes spec versions ({', '.join(sorted(self.versions))}); all are read",
                file=self.plans[0][1].file if self.plans else "",
            )
        if not self.plans:
            self.report.lost(
                "no tracking plan (kind: tracking-plan) in the project: the catalog's events are imported "
                "without properties",
                file="",
            )
            for ev, src, path in self.events.values():
                self._body_for(ev, src, path, {"properties": {}}, None)
            return self.draft
        self.plans.sort(key=lambda p: str(p[0].get("id", "")))
        spec, src, path = self.plans[0]
        for other, osrc, opath in self.plans[1:]:
            self.report.lost(
                f"tracking plan {other.get('id')!r} not imported: one plan is imported at a time "
                f"({spec.get('id')!r}, the first by id)",
                file=osrc.file,
                path=opath,
            )
        name = spec.get("display_name") or spec.get("id")
        self.draft.name = str(name).strip() if name else None
        if isinstance(spec.get("description"), str) and spec["description"].strip():
            self.draft.description = spec["description"].strip()
        used: set[str] = set()
        for i, rule in enumerate(spec.get("rules") or []):
            rpath = path + ("rules", i)
            if not isinstance(rule, dict):
                continue
            if rule.get("type", "event_rule") != "event_rule":
                self.report.lost(f"rule of type {rule.get('type')!r} is not imported", file=src.file, path=rpath)
                continue
            self._rule(rule, src, rpath, used)
        unused = [e for e in self.events if e not in used]
        if unused:
            self.report.normalised(
                f"{len(unused)} catalog events not in the tracking plan were not imported: {', '.join(unused[:10])}",
                file=src.file,
            )
        spare = [p for p in self.properties if p not in self.keys]
        if spare:
            self.report.normalised(
                f"{len(spare)} catalog properties no rule uses were not imported: {', '.join(spare[:10])}",
                file=src.file,
            )
        return self.draft

    def _ref(self, value: Any, kind: str) -> str | None:
        """The id a v1 URN (``#property:x``) or a v0.1 ``$ref`` (``#/properties/group/x``) names."""
        if isinstance(value, dict):
            value = value.get("$ref")
        if not isinstance(value, str):
            return None
        v1 = {"property": "#property:", "event": "#event:", "category": "#category:", "type": "#custom-type:"}[kind]
        old = {
            "property": "#/properties/",
            "event": "#/events/",
            "category": "#/categories/",
            "type": "#/custom-types/",
        }
        if value.startswith(v1):
            return value[len(v1) :]
        if value.startswith(old[kind]):
            return value.rsplit("/", 1)[-1]
        return None

    def _rule(self, rule: dict[str, Any], src: Source, path: Path_, used: set[str]) -> None:
        event_ref = rule.get("event")
        eid = self._ref(event_ref, "event")
        if eid is None or eid not in self.events:
            self.report.lost(
                f"rule {rule.get('id')!r}: event {event_ref!r} not found; rule skipped", file=src.file, path=path
            )
            return
        used.add(eid)
        ev, esrc, epath = self.events[eid]
        add = rule.get("additional_properties")
        if add is None and isinstance(event_ref, dict):
            add = event_ref.get("allow_unplanned")
        if not isinstance(add, bool):
            add = False
            self.report.group(
                "rules without additional_properties (allow_unplanned in v0.1) read as closed (false), "
                "rudder-cli's default",
                str(rule.get("id")),
                file=src.file,
                path=path,
                kind="normalised",
            )
        props = self._entries(rule.get("properties"), src, path + ("properties",), f"rule {rule.get('id')!r}")
        for i, variant in enumerate(rule.get("variants") or []):
            cases = variant.get("cases") if isinstance(variant, dict) else None
            disc = variant.get("discriminator") if isinstance(variant, dict) else None
            self.report.lost(
                f"rule {rule.get('id')!r}: variant on {disc!r} with {len(cases or [])} cases not imported "
                "(cdp plans have no conditional rules); the rule's own properties are",
                file=src.file,
                path=path + ("variants", i),
            )
        body: dict[str, Any] = {"additionalProperties": add}
        section = rule.get("identity_section")
        self._body_for(ev, esrc, epath, body, props, section=section, rule_src=src, rule_path=path)

    def _body_for(
        self,
        ev: dict[str, Any],
        src: Source,
        path: Path_,
        body: dict[str, Any],
        props: dict[str, Any] | None,
        *,
        section: Any = None,
        rule_src: Source | None = None,
        rule_path: Path_ = (),
    ) -> None:
        etype = str(ev.get("event_type", "track")).lower()
        desc = ev.get("description")
        if isinstance(desc, str) and desc.strip():
            body["description"] = desc.strip()
        labels = self._category(ev, src, path)
        if etype == "track":
            raw = ev["name"] if isinstance(ev.get("name"), str) else str(ev["id"])
            name = clean_name(raw, self.report, file=src.file, path=path + ("name",), what="event name")
            body["properties"] = props or {}
            draft_ev = self.draft.event(name)
            if draft_ev["versions"]:
                self.report.lost(f"event {name!r} has two rules; the first is kept", file=src.file, path=path)
                return
            draft_ev["versions"][1] = body
            draft_ev["description"] = body.get("description")
            if labels:
                draft_ev["labels"] = labels
            return
        if labels:
            body["labels"] = labels
        if etype in ("identify", "group"):
            if section not in (None, "traits"):
                self.report.normalised(
                    f"{etype} rule's identity_section {section!r} read as traits",
                    file=(rule_src or src).file,
                    path=rule_path + ("identity_section",),
                )
            body["traits"] = props or {}
            if getattr(self.draft, etype) is not None:
                self.report.lost(f"a second {etype} rule is not imported", file=src.file, path=path)
                return
            setattr(self.draft, etype, body)
            return
        if etype in ("page", "screen"):
            if section not in (None, "properties"):
                self.report.lost(
                    f"{etype} rule's identity_section {section!r}: cdp keeps page and screen properties only",
                    file=(rule_src or src).file,
                    path=rule_path + ("identity_section",),
                )
            body["properties"] = props or {}
            raw_name = ev.get("name") if isinstance(ev.get("name"), str) and ev["name"].strip() else None
            name = raw_name.strip() if raw_name else ev["id"]
            if raw_name is None:
                self.report.normalised(
                    f"{etype} event {ev['id']!r} has no name (RudderStack's {etype} rules cover every {etype}); "
                    f"imported as the {etype} named {name!r}",
                    file=src.file,
                    path=path,
                )
            table = self.draft.pages if etype == "page" else self.draft.screens
            table[name] = body
            return
        self.report.lost(f"event type {etype!r} is not imported", file=src.file, path=path + ("event_type",))

    def _category(self, ev: dict[str, Any], src: Source, path: Path_) -> list[str]:
        cid = self._ref(ev.get("category"), "category")
        if cid is None:
            return []
        cat = self.categories.get(cid)
        name = text_or(as_dict(cat).get("name"), cid)
        self.report.tally("categories read as labels", file=src.file, path=path + ("category",))
        return [name]

    # properties -------------------------------------------------------------------------------------------
    def _entries(self, entries: Any, src: Source, path: Path_, where: str) -> dict[str, Any]:
        """A rule's (or custom type's) property list as a cdp property map of ``{ref: ...}`` uses."""
        out: dict[str, Any] = {}
        if not isinstance(entries, list):
            return out
        for i, entry in enumerate(entries):
            here = path + (i,)
            if not isinstance(entry, dict):
                continue
            pid = self._ref(entry.get("property", entry), "property")
            if pid is None or pid not in self.properties:
                ref = entry.get("property", entry.get("$ref"))
                self.report.lost(f"{where}: property {ref!r} not found; skipped", file=src.file, path=here)
                continue
            key = self._shared(pid)
            name = text_or(self.properties[pid][0].get("name"), pid)
            if name in out:
                self.report.lost(f"{where}: two properties named {name!r}; the first is kept", file=src.file, path=here)
                continue
            use: dict[str, Any] = {"ref": key}
            if entry.get("required") is True:
                use["required"] = True
            nested = self._entries(entry.get("properties"), src, here + ("properties",), where)
            if nested:
                use["properties"] = nested
            out[name] = use
        return out

    def _shared(self, pid: str) -> str:
        """The shared-library key of catalog property ``pid`` (its name when free, else its id)."""
        if pid in self.keys:
            return self.keys[pid]
        prop, src, path = self.properties[pid]
        name = text_or(prop.get("name"), pid)
        key = unique_id(name if name not in self.taken else pid, self.taken)
        self.keys[pid] = key
        self.draft.shared[key] = {}  # reserve the key (cycles through custom types)
        self.draft.shared[key] = self._spec(prop, src, path, f"property {pid!r}")
        return key

    def _type_key(self, tid: str, src: Source, path: Path_) -> str | None:
        if tid in self.type_keys:
            return self.type_keys[tid]
        if tid not in self.types:
            self.report.lost(
                f"custom type {tid!r} not found; the property is imported without a type", file=src.file, path=path
            )
            return None
        ct, csrc, cpath = self.types[tid]
        key = unique_id(text_or(ct.get("name"), tid), self.taken)
        self.type_keys[tid] = key
        self.draft.shared[key] = {}
        spec = self._spec(ct, csrc, cpath, f"custom type {tid!r}")
        props = self._entries(ct.get("properties"), csrc, cpath + ("properties",), f"custom type {tid!r}")
        if props:
            spec["properties"] = props
        for i, _ in enumerate(ct.get("variants") or []):
            self.report.lost(
                f"custom type {tid!r}: variants are not imported (cdp plans have no conditional rules)",
                file=csrc.file,
                path=cpath + ("variants", i),
            )
        self.draft.shared[key] = spec
        return key

    def _spec(self, item: dict[str, Any], src: Source, path: Path_, what: str) -> dict[str, Any]:
        """A catalog property or custom type as a cdp property definition."""
        spec: dict[str, Any] = {}
        types = item.get("types", item.get("type"))
        if isinstance(types, str) and "," in types:
            self.report.tally("comma-separated types read as a list", file=src.file, path=path + ("type",))
            types = [t.strip() for t in types.split(",") if t.strip()]
        if isinstance(types, str) and (types.startswith("#custom-type:") or types.startswith("#/custom-types/")):
            key = self._type_key(self._ref(types, "type") or "", src, path + ("type",))
            if key is not None:
                spec["ref"] = key
            types = None
        if isinstance(types, list):
            clean = [t for t in types if isinstance(t, str) and t in fmt.JSON_TYPES]
            if len(clean) != len(types):
                self.report.lost(
                    f"{what}: types {types!r} include unknown ones; kept {clean!r}", file=src.file, path=path
                )
            spec["type"] = clean[0] if len(clean) == 1 else clean
        elif isinstance(types, str):
            if types in fmt.JSON_TYPES:
                spec["type"] = types
            else:
                self.report.lost(f"{what}: type {types!r} unknown; imported without a type", file=src.file, path=path)
        desc = item.get("description")
        if isinstance(desc, str) and desc.strip():
            spec["description"] = desc.strip()
        config = item.get("config", item.get("propConfig"))
        cpath = path + ("config" if "config" in item else "propConfig",)
        item_types: Any = None
        for key in _ITEM_KEYS:
            if key in item:
                item_types = item[key]
        if isinstance(config, dict):
            for key, value in config.items():
                if key in _ITEM_KEYS:
                    item_types = value
                elif key in CONFIG_KEYS:
                    spec[CONFIG_KEYS[key]] = value
                else:
                    spec["x-" + key] = value
                    self.report.lost(
                        f"{what}: config {key!r} has no JSON Schema meaning cdp knows; kept as annotation x-{key}",
                        file=src.file,
                        path=cpath + (key,),
                    )
        if item_types is not None:
            items = self._items(item_types, src, path, what)
            if items is not None:
                spec["items"] = items
        return ordered(spec)

    def _items(self, value: Any, src: Source, path: Path_, what: str) -> dict[str, Any] | None:
        values = value if isinstance(value, list) else [value]
        refs = [v for v in values if isinstance(v, str) and v.startswith("#")]
        plain = [v for v in values if isinstance(v, str) and v in fmt.JSON_TYPES]
        if refs:
            key = self._type_key(self._ref(refs[0], "type") or "", src, path)
            if len(refs) > 1 or plain:
                self.report.lost(
                    f"{what}: mixed item types {values!r}; only {refs[0]!r} kept", file=src.file, path=path
                )
            return {"ref": key} if key else None
        if not plain:
            return None
        return {"type": plain[0] if len(plain) == 1 else plain}


# --- export -----------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "item"


_SUPPORTED = {"type", "description", "items", "properties", "required", "ref", "const", *TO_CONFIG}
_ANNOTATIONS = ("title", "default", "examples", "deprecated")


class _Exporter:
    def __init__(self, plan: Plan, report: Report) -> None:
        self.plan = plan
        self.report = report
        self.resolver = Resolver(plan.shared)
        self.catalog: dict[tuple[str, str], dict[str, Any]] = {}  # (name, type signature) -> property
        self.custom: dict[str, dict[str, Any]] = {}
        self.ids: set[str] = set()
        self.type_ids: set[str] = set()

    def loss(self, label: str, subject: str, origin: Origin) -> None:
        line, col = origin.position(key=True)
        self.report.group(label, subject, file=origin.file, line=line, column=col)

    # one property use ---------------------------------------------------------------------------------------
    def entry(self, name: str, spec: dict[str, Any], origin: Origin, where: str) -> dict[str, Any]:
        merged = self.resolver.merged(spec)
        shared_desc = None
        ref = spec.get("ref")
        if isinstance(ref, str) and ref in self.plan.shared:
            shared_desc = self.resolver.merged(self.plan.shared[ref].spec).get("description")
        fields = self.type_fields(name, merged, origin, where)
        self.unsupported(name, merged, origin, where)
        config = {TO_CONFIG[k]: merged[k] for k in TO_CONFIG if k in merged}
        if "const" in merged and "enum" not in merged:
            config["enum"] = [merged["const"]]
        desc = merged.get("description")
        key = (name, json.dumps(fields, sort_keys=True))
        prop = self.catalog.get(key)
        if prop is None:
            pid = unique_id(_slug(name), self.ids)
            prop = {"id": pid, "name": name}
            if shared_desc or desc:
                prop["description"] = shared_desc or desc
            prop.update(fields)
            if config:
                prop["config"] = config
            self.catalog[key] = prop
        else:
            if (prop.get("config") or {}) != config:
                self.loss(
                    "validation that differs from the catalog property of the same name and type not kept "
                    "(RudderStack holds one definition per property name and type; the first is kept)",
                    f"{where}.{name}",
                    origin,
                )
        if desc and desc != prop.get("description"):
            self.loss(
                "per-use property descriptions not kept (RudderStack holds one description per property)",
                f"{where}.{name}",
                origin,
            )
        out: dict[str, Any] = {"property": f"#property:{prop['id']}", "required": merged.get("required") is True}
        children = merged.get("properties")
        if isinstance(children, dict) and children and "#custom-type:" not in str(fields.get("type", "")):
            required: list[Any] = merged["required"] if isinstance(merged.get("required"), list) else []
            nested = []
            for cname, cspec in children.items():
                cspec = cspec if isinstance(cspec, dict) else {}
                if cname in required:
                    cspec = {**cspec, "required": True}
                nested.append(self.entry(cname, cspec, origin, f"{where}.{name}"))
            out["properties"] = nested
        if merged.get("additionalProperties") is False:
            self.loss("closed nested objects (additionalProperties: false) not kept", f"{where}.{name}", origin)
        if "const" in merged and "enum" in merged:
            self.loss("const next to an enum not kept (the enum is written)", f"{where}.{name}", origin)
        return out

    def type_fields(self, name: str, merged: dict[str, Any], origin: Origin, where: str) -> dict[str, Any]:
        t = merged.get("type")
        if t is None:
            branches = [b.get("type") for b in merged.get("anyOf", []) + merged.get("oneOf", []) if isinstance(b, dict)]
            found: list[str] = []
            for b in branches:
                for x in b if isinstance(b, list) else [b]:
                    if isinstance(x, str) and x not in found:
                        found.append(x)
            t = found or list(fmt.JSON_TYPES)
            if not found:
                self.loss("properties without a type written with every type", f"{where}.{name}", origin)
        fields: dict[str, Any] = (
            {"types": t} if isinstance(t, list) and len(t) > 1 else {"type": t[0] if isinstance(t, list) else t}
        )
        items = merged.get("items")
        if fields.get("type") == "array" and isinstance(items, dict):
            items = self.resolver.merged(items)
            if isinstance(items.get("properties"), dict) and items["properties"]:
                fields["item_type"] = f"#custom-type:{self.custom_type(name, items, origin, where)}"
            elif items.get("type") is not None:
                it = items["type"]
                if isinstance(it, list):
                    fields["item_types"] = it
                else:
                    fields["item_type"] = it
                extra = set(items) - {"type", "description"}
                if extra:
                    self.loss("constraints on array items other than their type not kept", f"{where}.{name}", origin)
        return fields

    def custom_type(self, name: str, items: dict[str, Any], origin: Origin, where: str) -> str:
        """An object custom type for the items of array property ``name``; returns its id."""
        entries = []
        required: list[Any] = items["required"] if isinstance(items.get("required"), list) else []
        for cname, cspec in items["properties"].items():
            cspec = cspec if isinstance(cspec, dict) else {}
            if cname in required:
                cspec = {**cspec, "required": True}
            entries.append(self.entry(cname, cspec, origin, f"{where}.{name}[]"))
        signature = json.dumps(entries, sort_keys=True)
        for tid, ct in self.custom.items():
            if json.dumps(ct["properties"], sort_keys=True) == signature:
                return tid
        tid = unique_id(_slug(name) + "_item", self.type_ids)
        words = re.split(r"[^A-Za-z0-9]+", name)
        made: dict[str, Any] = {"id": tid, "name": "".join(w[:1].upper() + w[1:] for w in words if w) + "Item"}
        made["type"] = "object"
        if items.get("description"):
            made["description"] = items["description"]
        made["properties"] = entries
        self.custom[tid] = made
        return tid

    def unsupported(self, name: str, merged: dict[str, Any], origin: Origin, where: str) -> None:
        subject = f"{where}.{name}"
        for key in merged:
            if key in _SUPPORTED or key == "additionalProperties":
                continue
            if key == "pii":
                self.loss(
                    "personal-data classes not kept (RudderStack properties have none)",
                    f"{subject} ({merged[key]})",
                    origin,
                )
            elif key in _ANNOTATIONS or key.startswith("x-"):
                self.loss(f"annotations not kept ({key})", subject, origin)
            else:
                self.loss(
                    f"JSON Schema keywords RudderStack properties cannot express not kept ({key})", subject, origin
                )

    # bodies ---------------------------------------------------------------------------------------------------
    def props_of(self, body: Body, common: bool) -> dict[str, Any]:
        props: dict[str, Any] = dict(body.props)
        if common and self.plan.common is not None:
            props.update(self.plan.common.fields.get("properties", {}))
        return props

    def rule(self, event_id: str, body: Body, where: str, *, section: str | None, common: bool) -> dict[str, Any]:
        add = (
            body.additional_properties
            if body.additional_properties is not None
            else self.plan.settings.additional_properties
        )
        entries = []
        for name, prop in self.props_of(body, common).items():
            spec = prop.spec
            if name in body.required:
                spec = {**spec, "required": True}
            entries.append(self.entry(name, spec, prop.origin, where))
        rule: dict[str, Any] = {"type": "event_rule", "id": f"{event_id}_rule", "event": f"#event:{event_id}"}
        if section:
            rule["identity_section"] = section
        rule["additional_properties"] = add
        if entries:
            rule["properties"] = entries
        return rule


def write_dir(plan: Plan, out: Path, report: Report) -> list[str]:
    """Write ``plan`` as a rudder-cli v1 project into the existing directory ``out``; returns the file names."""
    ex = _Exporter(plan, report)
    slug = _slug(plan.name or Path(plan.root).name)
    events: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    event_ids: set[str] = set()
    for name, event in plan.events.items():
        newest = max(event.versions)
        body = event.versions[newest]
        for v in sorted(event.versions):
            if v != newest:
                ex.loss(
                    "event versions not kept (RudderStack has no versions; the newest is written)",
                    f"{name} v{v}",
                    event.versions[v].origin,
                )
        if event.owner or event.labels:
            ex.loss("event owners and labels not kept (RudderStack events have neither)", name, event.origin)
        if event.deprecated:
            ex.loss("'deprecated' not kept", name, event.origin)
        eid = unique_id(_slug(name), event_ids)
        ev: dict[str, Any] = {"id": eid, "name": name, "event_type": "track"}
        if body.description or event.description:
            ev["description"] = body.description or event.description
        events.append(ev)
        rules.append(ex.rule(eid, body, name, section=None, common=True))
    for kind, single in (("identify", plan.identify), ("group", plan.group)):
        if single is None:
            continue
        if body_meta(single):
            ex.loss("owners and labels not kept (RudderStack events have neither)", kind, single.origin)
        eid = unique_id(kind, event_ids)
        ev = {"id": eid, "event_type": kind}
        if single.description:
            ev["description"] = single.description
        events.append(ev)
        rules.append(ex.rule(eid, single, kind, section="traits", common=False))
    for kind, table in (("page", plan.pages), ("screen", plan.screens)):
        if not table:
            continue
        merged = _merge_pages(ex, kind, table)
        eid = unique_id(kind, event_ids)
        ev = {"id": eid, "event_type": kind, "description": f"Every {kind} ({', '.join(table)} in the cdp plan)."}
        events.append(ev)
        rules.append(ex.rule(eid, merged, kind, section="properties", common=True))
    _plan_losses(plan, report)
    metadata = {"name": slug}
    docs: dict[str, dict[str, Any]] = {}
    docs["properties.yaml"] = {
        "version": "rudder/v1",
        "kind": "properties",
        "metadata": {"name": f"{slug}-properties"},
        "spec": {"properties": sorted(ex.catalog.values(), key=lambda p: p["id"])},
    }
    if ex.custom:
        docs["custom-types.yaml"] = {
            "version": "rudder/v1",
            "kind": "custom-types",
            "metadata": {"name": f"{slug}-custom-types"},
            "spec": {"types": sorted(ex.custom.values(), key=lambda t: t["id"])},
        }
    docs["events.yaml"] = {
        "version": "rudder/v1",
        "kind": "events",
        "metadata": {"name": f"{slug}-events"},
        "spec": {"events": events},
    }
    tp: dict[str, Any] = {"id": slug, "display_name": plan.name or slug}
    if plan.description:
        tp["description"] = plan.description
    tp["rules"] = rules
    docs["tracking-plan.yaml"] = {"version": "rudder/v1", "kind": "tracking-plan", "metadata": metadata, "spec": tp}
    for name, doc in docs.items():
        (out / name).write_text(dump_yaml(doc, f"Exported by cdp from the plan {plan.display_name}."), encoding="utf-8")
    report.flush()
    return list(docs)


def _merge_pages(ex: _Exporter, kind: str, table: dict[str, Body]) -> Body:
    """One body for every page (or screen): RudderStack's page and screen events have no names."""
    first = next(iter(table.values()))
    merged = Body(kind=kind, name=None, origin=first.origin)
    props: dict[str, Any] = {}
    required_everywhere: set[str] | None = None
    add = False
    for name, body in table.items():
        ex.loss(
            f"{kind}s keyed by name not kept (RudderStack has one {kind} rule, so every {kind}'s properties are "
            f"merged into it)",
            name,
            body.origin,
        )
        meta = body_meta(body)
        if meta:
            ex.loss("owners and labels not kept (RudderStack events have neither)", f"{kind} {name}", body.origin)
        req = {
            n for n, p in body.props.items() if ex.resolver.merged(p.spec).get("required") is True or n in body.required
        }
        required_everywhere = req if required_everywhere is None else required_everywhere & req
        a = (
            body.additional_properties
            if body.additional_properties is not None
            else ex.plan.settings.additional_properties
        )
        add = add or a
        for pname, prop in body.props.items():
            if pname not in props:
                props[pname] = prop
    for pname, prop in props.items():
        spec = {k: v for k, v in prop.spec.items() if k != "required"}
        if required_everywhere and pname in required_everywhere:
            spec["required"] = True
        elif ex.resolver.merged(prop.spec).get("required") is True:
            ex.loss(f"{kind} properties required on some {kind}s only written as optional", pname, prop.origin)
        props[pname] = Prop(name=pname, spec=spec, origin=prop.origin)
    merged.fields["properties"] = props
    merged.additional_properties = add
    return merged


def _plan_losses(plan: Plan, report: Report) -> None:
    if plan.common is not None and plan.common.fields.get("context"):
        line, col = plan.common.origin.position(key=True)
        report.lost(
            "the common context rules (context.library, ...) not kept: RudderStack tracking plans validate "
            "properties and traits, not context",
            file=plan.common.origin.file,
            line=line,
            column=col,
        )
    if plan.common is not None and plan.common.fields.get("properties"):
        report.normalised(
            "common properties written into every track, page and screen rule",
            file=plan.common.origin.file,
        )
    for key, what in (
        ("conventions", "naming conventions not kept: rudder-cli projects keep no naming rules"),
        ("owner", "the plan's owner not kept: a RudderStack tracking plan has no owner"),
        (
            "settings",
            "settings.allow_unplanned_events not kept (a RudderStack source setting); the default for "
            "additionalProperties is written into every rule",
        ),
    ):
        if key == "owner" and not plan.owner:
            continue
        file, line, col = plan_key_location(plan, key)
        if line or key == "owner":
            report.lost(what, file=file, line=line, column=col)
