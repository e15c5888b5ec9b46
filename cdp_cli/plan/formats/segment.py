"""Segment Protocols tracking plans: the Public API rules list, and the older Config API export.

Read: ``{"data": {"rules": [...]}}`` (``GET /tracking-plans/{id}/rules``), ``{"rules": [...]}`` (the
``PUT`` body), ``{"name", "description", "type", "rules"}`` (the plan with its rules, as Terraform's
``segment_tracking_plan`` holds it), a bare list of rules, or the Config API's ``{"name":
"workspaces/…/tracking-plans/rs_…", "display_name", "rules": {"global", "events", "identify", "group"}}``.
A rule is ``{type: COMMON|TRACK|IDENTIFY|GROUP|PAGE|SCREEN, key, version, jsonSchema}``; its schema covers
the whole message (``properties.properties``, ``properties.traits``, ``properties.context``).

Write: ``{"name", "description", "type": "LIVE", "rules": [...]}``: one COMMON rule, a TRACK rule per event
version, IDENTIFY, GROUP, a PAGE / SCREEN rule per page / screen, each a standalone draft-07 schema (shared
properties inlined). Owner, labels and ``deprecated`` ride in each rule's ``labels``; personal-data classes
as ``x-pii`` annotations.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError
from cdp_cli.plan.compiler import Resolver, object_schema
from cdp_cli.plan.formats._core import PlanDraft, Report, body_meta, plan_key_location
from cdp_cli.plan.formats._io import Source, display, read_json, walk
from cdp_cli.plan.formats._schema import Cleaner, clean_name, draft_of, factor_shared, to_draft07, unwrap_message
from cdp_cli.plan.model import Body, Plan

DRAFT07 = "http://json-schema.org/draft-07/schema#"
RULE_TYPES = ("COMMON", "TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN")
NOT_DEPRECATED = "0001-01-01T00:00:00.000Z"
_MAIN = {"TRACK": "properties", "PAGE": "properties", "SCREEN": "properties", "IDENTIFY": "traits", "GROUP": "traits"}

Path_ = tuple[str | int, ...]


# --- import ---------------------------------------------------------------------------------------------
def read(source: Path, report: Report) -> PlanDraft:
    """Import a Segment tracking plan file (or every ``*.json`` file of a directory, rules merged)."""
    files = [source] if source.is_file() else list(walk(source, (".json",)))
    if not files:
        raise InputError(f"{source}: no *.json files here; expected a Segment tracking plan export")
    draft = PlanDraft()
    reader = _Reader(draft, report)
    for path in files:
        src = read_json(path, display(path))
        report.locate(src.file, src.where)
        reader.document(src)
    reader.finish()
    return draft


class _Reader:
    def __init__(self, draft: PlanDraft, report: Report) -> None:
        self.draft = draft
        self.report = report
        self.rules: list[tuple[dict[str, Any], Source, Path_]] = []
        self.drafts: Counter[str] = Counter()
        self.files: list[str] = []

    def document(self, src: Source) -> None:
        data = src.data
        self.files.append(src.file)
        if isinstance(data, list):
            self._rules(data, src, ())
            return
        if not isinstance(data, dict):
            raise InputError(f"{src.file}: not a Segment tracking plan (the top level is not an object or a list)")
        path: Path_ = ()
        if isinstance(data.get("data"), dict):
            data, path = data["data"], ("data",)
        if isinstance(data.get("trackingPlan"), dict):
            self._meta(data["trackingPlan"], src, path + ("trackingPlan",))
            inner = data["trackingPlan"]
            if "rules" in inner and "rules" not in data:
                data, path = inner, path + ("trackingPlan",)
        self._meta(data, src, path)
        rules = data.get("rules")
        if isinstance(rules, list):
            self._rules(rules, src, path + ("rules",))
        elif isinstance(rules, dict):
            self._config_api(rules, src, path + ("rules",))
        elif isinstance(data.get("trackingPlan"), dict) or path[-1:] == ("trackingPlan",):
            return  # GET /tracking-plans/{id}: the plan's name and description, its rules in another file
        else:
            raise InputError(
                f"{src.file}: no 'rules' found; expected the Public API rules list "
                '({"data": {"rules": [...]}}) or a Config API export ({"rules": {"events": [...]}})'
            )

    def _meta(self, data: dict[str, Any], src: Source, path: Path_) -> None:
        name = data.get("display_name") if isinstance(data.get("display_name"), str) else data.get("name")
        if isinstance(name, str) and name.strip() and not self.draft.name:
            if name.startswith("workspaces/") and "/tracking-plans/" in name:
                name = name.rsplit("/", 1)[-1]
            self.draft.name = name.strip()
        desc = data.get("description")
        if isinstance(desc, str) and desc.strip() and not self.draft.description:
            self.draft.description = desc.strip()

    def _rules(self, rules: list[Any], src: Source, path: Path_) -> None:
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                self.report.lost(f"rule {i} is not an object; skipped", file=src.file, path=path + (i,))
                continue
            self.rules.append((rule, src, path + (i,)))

    def _config_api(self, rules: dict[str, Any], src: Source, path: Path_) -> None:
        """The Config API shape: ``global``, ``events`` (name, description, version, rules), ``identify``,
        ``group``; turned into Public API rules (``global`` is COMMON)."""
        self.report.normalised(
            "Config API export read as Public API rules (global is COMMON)", file=src.file, path=path
        )
        if rules.get("global") and isinstance(rules["global"], dict):
            at: Path_ = path + ("global",)
            self.rules.append(({"type": "COMMON", "_schema": rules["global"], "_at": at}, src, at))
        for i, ev in enumerate(rules.get("events") or []):
            if not isinstance(ev, dict):
                continue
            at = path + ("events", i)
            rule = {"type": "TRACK", "key": ev.get("name"), "version": ev.get("version", 1)}
            rule.update({"_schema": ev.get("rules"), "_at": at + ("rules",)})
            if isinstance(ev.get("description"), str):
                rule["_description"] = ev["description"]
            self.rules.append((rule, src, at))
        for kind in ("identify", "group"):
            if rules.get(kind) and isinstance(rules[kind], dict):
                at = path + (kind,)
                self.rules.append(({"type": kind.upper(), "_schema": rules[kind], "_at": at}, src, at))
        for key in ("identify_traits", "group_traits"):
            if rules.get(key):
                self.report.lost(
                    f"'{key}' (a Config API trait list) is not imported", file=src.file, path=path + (key,)
                )

    # rules -----------------------------------------------------------------------------------------------
    def finish(self) -> None:
        seen: dict[tuple[str, str | None, int], Path_] = {}
        singles: dict[str, list[tuple[int, dict[str, Any], Source, Path_]]] = {}
        for rule, src, path in self.rules:
            parsed = self._parse(rule, src, path)
            if parsed is None:
                continue
            kind, key, version, schema, spath = parsed
            ident = (kind, key, version)
            if ident in seen:
                self.report.lost(
                    f"{kind} rule {key!r} version {version} is defined twice; the first is kept",
                    file=src.file,
                    path=path,
                )
                continue
            seen[ident] = path
            if kind in ("IDENTIFY", "GROUP", "COMMON"):
                singles.setdefault(kind, []).append((version, rule, src, path))
                continue
            self._message(kind, key, version, rule, schema, src, spath)
        for kind, found in singles.items():
            found.sort(key=lambda t: t[0])
            for version, _, src, path in found[:-1]:
                self.report.lost(
                    f"{kind} rule version {version} dropped: cdp keeps one {kind.lower()} definition "
                    f"(version {found[-1][0]} is kept)",
                    file=src.file,
                    path=path,
                )
            version, rule, src, path = found[-1]
            schema, spath = _schema_of(rule, path)
            self._message(kind, None, version, rule, schema, src, spath)
        if len(self.drafts) > 1 or any(d not in ("draft-07", "2020-12") for d in self.drafts):
            shown = ", ".join(f"{d} ({n} rules)" for d, n in sorted(self.drafts.items()))
            self.report.normalised(
                f"rule schemas of {shown} read as draft 2020-12 (keywords rewritten where the drafts differ)",
                file=self.files[0],
            )
        factor_shared(self.draft, self.report, file=self.files[0])
        self.report.flush()

    def _parse(self, rule: dict[str, Any], src: Source, path: Path_) -> tuple[str, str | None, int, Any, Path_] | None:
        kind = rule.get("type")
        if not isinstance(kind, str) or kind.upper() not in RULE_TYPES:
            self.report.lost(f"rule of unknown type {kind!r} skipped", file=src.file, path=path + ("type",))
            return None
        kind = kind.upper()
        key = rule.get("key")
        if isinstance(key, str):
            key = clean_name(key, self.report, file=src.file, path=path + ("key",), what=f"{kind} rule key")
        if kind in ("TRACK",) and not key:
            self.report.lost("TRACK rule without a key (event name) skipped", file=src.file, path=path)
            return None
        version = rule.get("version", 1)
        if isinstance(version, str) and version.strip().isdigit():
            self.report.normalised(f"version {version!r} read as a number", file=src.file, path=path + ("version",))
            version = int(version)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.report.lost(f"version {version!r} is not a positive integer; read as 1", file=src.file, path=path)
            version = 1
        schema, spath = _schema_of(rule, path)
        if "json_schema" in rule and "jsonSchema" not in rule:
            self.report.tally("Terraform spelling json_schema read as jsonSchema", file=src.file, path=spath)
        if not isinstance(schema, dict):
            schema = {}
        self.drafts[draft_of(schema) or "no $schema"] += 1
        return kind, key if isinstance(key, str) else None, version, schema, spath

    def _message(
        self,
        kind: str,
        key: str | None,
        version: int,
        rule: dict[str, Any],
        schema: dict[str, Any],
        src: Source,
        spath: Path_,
    ) -> None:
        scope = f"{kind} {key!r} v{version}" if key else kind
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
        cleaner = Cleaner(self.report, src.file, scope=scope, defs=defs)
        meta = self._labels(rule, schema, src, spath)
        if kind == "COMMON":
            body = unwrap_message(cleaner, schema, spath, main="context", keep=("properties",))
            common: dict[str, Any] = {}
            if body.get("description"):
                common["description"] = body["description"]
            if body.get("context"):
                common["context"] = body["context"]
            if body.get("properties"):
                common["properties"] = body["properties"]
            for extra in ("required", "additionalProperties", "properties_required"):
                if extra in body:
                    self.report.lost(
                        f"COMMON rule: {extra.split('_')[0]} constraints of the whole object are not kept",
                        file=src.file,
                        path=spath,
                    )
            self.draft.common = common
            return
        body = unwrap_message(cleaner, schema, spath, main=_MAIN[kind])
        if "description" not in body and isinstance(rule.get("_description"), str) and rule["_description"].strip():
            body["description"] = rule["_description"].strip()
        if kind == "TRACK":
            assert key is not None
            ev = self.draft.event(key)
            ev["versions"][version] = body
            if version == min(ev["versions"]):
                ev["description"] = body.get("description")
            if meta.get("owner") and not ev.get("owner"):
                ev["owner"] = meta["owner"]
            if meta.get("labels"):
                ev["labels"] = list(dict.fromkeys((ev.get("labels") or []) + meta["labels"]))
            if meta.get("deprecated"):
                ev["deprecated"] = True
            return
        body.update({k: v for k, v in meta.items() if k in ("owner", "labels")})
        if meta.get("deprecated"):
            self.report.lost(
                f"{scope}: 'deprecated' applies only to events in cdp; not kept", file=src.file, path=spath
            )
        if kind in ("IDENTIFY", "GROUP"):
            setattr(self.draft, kind.lower(), body)
            return
        table = self.draft.pages if kind == "PAGE" else self.draft.screens
        name = key
        if not name:
            name = "All Pages" if kind == "PAGE" else "All Screens"
            self.report.lost(
                f"a {kind} rule without a key applies to every {kind.lower()}; cdp keys pages and screens by name, "
                f"so it is imported as {name!r} and holds only for messages with that name",
                file=src.file,
                path=spath,
            )
        if name in table:
            self.report.lost(
                f"{kind} {name!r} has several versions; cdp keeps the last read", file=src.file, path=spath
            )
        table[name] = body

    def _labels(self, rule: dict[str, Any], schema: dict[str, Any], src: Source, spath: Path_) -> dict[str, Any]:
        """Segment labels (key: value strings, in the schema or on the rule) as cdp owner, labels, deprecated."""
        meta: dict[str, Any] = {}
        dep = rule.get("deprecatedAt")
        if isinstance(dep, str) and dep and not dep.startswith("0001-01-01"):
            meta["deprecated"] = True
        labels: dict[str, Any] = {}
        for where in (rule.get("labels"), schema.get("labels")):
            if isinstance(where, dict):
                labels.update(where)
        out: list[str] = []
        for k, v in labels.items():
            text = "" if v is None else str(v)
            if k == "owner" and text:
                meta["owner"] = text
            elif k == "deprecated" and text.lower() in ("true", "yes", "1"):
                meta["deprecated"] = True
            elif text in ("", "true"):
                out.append(str(k))
            else:
                out.append(f"{k}:{text}")
        if labels:
            self.report.tally(
                "Segment labels read as owner (key 'owner') and labels ('key:value')", file=src.file, path=spath
            )
        if out:
            meta["labels"] = out
        return meta


def _schema_of(rule: dict[str, Any], path: Path_) -> tuple[Any, Path_]:
    if "_schema" in rule:  # a Config API rule, turned into a Public API one
        return rule["_schema"], rule["_at"]
    for key in ("jsonSchema", "json_schema"):
        if key in rule:
            return rule[key], path + (key,)
    return {}, path


# --- export ---------------------------------------------------------------------------------------------
def render(plan: Plan, report: Report) -> str:
    """The plan as Segment Public API rules (JSON text)."""
    resolver = Resolver(plan.shared)
    default_add = plan.settings.additional_properties
    rules: list[dict[str, Any]] = []
    dropped: list[str] = []
    pii_props: list[str] = []

    def inner(props: dict[str, Any], body: Body | None, add: bool) -> dict[str, Any]:
        schema = object_schema(props, body.required if body else [], add, resolver)
        _collect_pii(schema, pii_props)
        return to_draft07(schema, dropped)

    def wrap(main: str, body: Body, labels: dict[str, str]) -> dict[str, Any]:
        add = body.additional_properties if body.additional_properties is not None else default_add
        main_schema = inner(body.props, body, add)
        props: dict[str, Any] = {"context": {}, "traits": {}, "properties": {}}
        props[main] = main_schema
        schema: dict[str, Any] = {"$schema": DRAFT07, "type": "object"}
        if labels:
            schema["labels"] = labels
        if body.description:
            schema["description"] = body.description
        schema["properties"] = props
        if main_schema.get("required"):
            schema["required"] = [main]
        return schema

    if plan.common is not None:
        ctx = inner(plan.common.fields.get("context", {}), None, True)
        cprops = plan.common.fields.get("properties", {})
        schema: dict[str, Any] = {"$schema": DRAFT07, "type": "object"}
        if plan.common.description:
            schema["description"] = plan.common.description
        schema["properties"] = {"context": ctx, "traits": {}, "properties": inner(cprops, None, True) if cprops else {}}
        if ctx.get("required"):
            schema["required"] = ["context"]
        rules.append({"type": "COMMON", "version": 1, "jsonSchema": schema})
    for name, event in plan.events.items():
        labels = _labels(event.owner, event.labels, event.deprecated)
        described = {b.description for b in event.versions.values()}
        if event.description and event.description not in described:
            line, col = event.origin.position(key=True)
            report.group(
                "event descriptions not kept (Segment has one description per rule version; each version's is kept)",
                name,
                file=event.origin.file,
                line=line,
                column=col,
            )
        for version, body in sorted(event.versions.items()):
            rules.append(
                {"type": "TRACK", "key": name, "version": version, "jsonSchema": wrap("properties", body, labels)}
            )
    for kind, single in (("IDENTIFY", plan.identify), ("GROUP", plan.group)):
        if single is not None:
            meta = body_meta(single)
            schema = wrap("traits", single, _labels(meta.get("owner"), meta.get("labels", []), False))
            rules.append({"type": kind, "version": 1, "jsonSchema": schema})
    for kind, table in (("PAGE", plan.pages), ("SCREEN", plan.screens)):
        for name, body in table.items():
            meta = body_meta(body)
            schema = wrap("properties", body, _labels(meta.get("owner"), meta.get("labels", []), False))
            rules.append({"type": kind, "key": name, "version": 1, "jsonSchema": schema})
    _report_plan_losses(plan, report, dropped, pii_props)
    doc: dict[str, Any] = {}
    if plan.name:
        doc["name"] = plan.name
    if plan.description:
        doc["description"] = plan.description
    doc["type"] = "LIVE"
    doc["rules"] = rules
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _labels(owner: str | None, labels: list[str], deprecated: bool) -> dict[str, str]:
    """cdp owner, labels and ``deprecated`` as Segment labels: ``owner: <owner>``, ``k:v`` as ``k: v``, a plain
    label as ``label: "true"``, ``deprecated: "true"``."""
    out: dict[str, str] = {}
    if owner:
        out["owner"] = owner
    for label in labels:
        k, sep, v = label.partition(":")
        out[k.strip()] = v.strip() if sep else "true"
    if deprecated:
        out["deprecated"] = "true"
    return out


def _collect_pii(schema: Any, out: list[str], path: str = "") -> None:
    if isinstance(schema, dict):
        if "x-pii" in schema and path:
            out.append(path)
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    _collect_pii(sub, out, f"{path}.{name}" if path else name)
            elif isinstance(value, (dict, list)) and key != "x-pii":
                _collect_pii(value, out, path)
    elif isinstance(schema, list):
        for v in schema:
            _collect_pii(v, out, path)


def _report_plan_losses(plan: Plan, report: Report, dropped: list[str], pii_props: list[str]) -> None:
    """What the rules cannot say about the plan as a whole."""
    if plan.shared:
        first = next(iter(plan.shared.values())).origin
        line, col = first.position(key=True)
        report.lost(
            f"the shared property library ({len(plan.shared)} properties) is inlined into every rule that uses it: "
            "Segment rules have no references (an import finds properties defined alike and shares them again)",
            file=first.file,
            line=line,
            column=col,
        )
    for key, what in (
        ("conventions", "naming conventions: Segment keeps no naming rules in a tracking plan"),
        ("owner", "the plan's owner: a Segment tracking plan has no owner"),
    ):
        if key == "owner" and not plan.owner:
            continue
        file, line, col = plan_key_location(plan, key)
        if line or key == "owner":
            report.lost(f"{what}", file=file, line=line, column=col)
    file, line, col = plan_key_location(plan, "settings")
    if line:
        report.lost(
            "settings.allow_unplanned_events: blocking unplanned events is a Segment source setting, not part of the "
            "plan; settings.additionalProperties is written into every rule",
            file=file,
            line=line,
            column=col,
        )
    if dropped:
        report.lost(
            f"keywords draft-07 does not have dropped: {', '.join(sorted(set(dropped))[:10])}",
            file=plan.files[0] if plan.files else plan.root,
        )
    if pii_props:
        report.normalised(
            f"personal-data classes of {len(set(pii_props))} properties kept as x-pii annotations "
            "(Segment neither shows nor enforces them)",
            file=plan.files[0] if plan.files else plan.root,
        )
    report.flush()
