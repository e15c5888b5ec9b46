"""A readable catalog of a plan in Markdown (``cdp plan export --to markdown``): every event with its owner,
labels, versions and properties (type, required, description, constraints, personal-data class), the
identify and group traits, pages, screens, common rules, the shared property library and a personal-data
index. Export only: Markdown is documentation, not a plan format to read back.
"""

from __future__ import annotations

import re
from typing import Any

from cdp_cli.plan.compiler import Resolver, to_schema
from cdp_cli.plan.formats._core import Report, body_meta
from cdp_cli.plan.model import Body, Plan, Prop

COLUMNS = ["Property", "Type", "Required", "Description", "Constraints", "PII"]


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else _json(value)
    return f"`{text}`" if "`" not in text else f"``{text}``"


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def anchor(text: str) -> str:
    """GitHub's heading anchor for ``text``."""
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return slug.replace(" ", "-")


def type_of(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if t is None:
        branches = [type_of(b) for b in schema.get("anyOf", []) + schema.get("oneOf", []) if isinstance(b, dict)]
        if branches:
            return " or ".join(dict.fromkeys(branches))
        if "const" in schema:
            return "const"
        return "any"
    names = t if isinstance(t, list) else [t]
    out = []
    for name in names:
        if name == "array" and isinstance(schema.get("items"), dict):
            out.append(f"array of {type_of(schema['items'])}")
        else:
            out.append(str(name))
    return " or ".join(out)


_BOUNDS = (
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
    ("minLength", "length ≥"),
    ("maxLength", "length ≤"),
    ("minItems", "items ≥"),
    ("maxItems", "items ≤"),
    ("multipleOf", "multiple of"),
)


def constraints(schema: dict[str, Any]) -> str:
    parts: list[str] = []
    if isinstance(schema.get("enum"), list):
        parts.append("one of " + ", ".join(_code(v) for v in schema["enum"]))
    if "const" in schema:
        parts.append("always " + _code(schema["const"]))
    if schema.get("format"):
        parts.append(f"format {schema['format']}")
    if schema.get("pattern"):
        parts.append("pattern " + _code(schema["pattern"]))
    for key, sign in _BOUNDS:
        if key in schema:
            parts.append(f"{sign} {schema[key]}")
    if schema.get("uniqueItems"):
        parts.append("unique items")
    if schema.get("additionalProperties") is False:
        parts.append("no other keys")
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            if isinstance(branch, dict):
                inner = constraints(branch)
                if inner:
                    parts.append(f"{type_of(branch)}: {inner}")
    if schema.get("deprecated"):
        parts.append("deprecated")
    return "; ".join(parts)


def rows(props: dict[str, Any], required: list[str], prefix: str = "") -> list[list[str]]:
    """Table rows for a compiled ``properties`` map, nested objects and array items flattened with dotted
    paths (``address.city``, ``products[].price``)."""
    out: list[list[str]] = []
    for name, schema in props.items():
        if not isinstance(schema, dict):
            continue
        path = f"{prefix}{name}"
        out.append(
            [
                f"`{_cell(path)}`",
                _cell(type_of(schema)),
                "yes" if name in required else "",
                _cell(schema.get("description")),
                _cell(constraints(schema)),
                _cell(schema.get("x-pii", "")),
            ]
        )
        if isinstance(schema.get("properties"), dict):
            out += rows(schema["properties"], list(schema.get("required") or []), f"{path}.")
        items = schema.get("items")
        if isinstance(items, dict) and isinstance(items.get("properties"), dict):
            out += rows(items["properties"], list(items.get("required") or []), f"{path}[].")
    return out


def table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return lines


class _Writer:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.resolver = Resolver(plan.shared)
        self.lines: list[str] = []
        self.pii: list[tuple[str, str, str]] = []  # (where, property path, class)

    def compiled(self, props: dict[str, Prop], required: list[str]) -> tuple[dict[str, Any], list[str]]:
        out: dict[str, Any] = {}
        req = list(required)
        for name, prop in props.items():
            if self.resolver.merged(prop.spec).get("required") is True:
                req.append(name)
            out[name] = to_schema(prop.spec, self.resolver)
        return out, req

    def prop_table(self, props: dict[str, Prop], required: list[str], where: str) -> None:
        if not props:
            self.lines += ["*No properties defined.*", ""]
            return
        schemas, req = self.compiled(props, required)
        body = rows(schemas, req)
        for r in body:
            if r[5]:
                self.pii.append((where, r[0], r[5]))
        self.lines += table(COLUMNS, body) + [""]

    def meta(self, owner: str | None, labels: list[str], extra: list[str] | None = None) -> None:
        parts = []
        if owner:
            parts.append(f"**Owner:** {_cell(owner)}")
        if labels:
            parts.append("**Labels:** " + ", ".join(f"`{_cell(x)}`" for x in labels))
        parts += extra or []
        if parts:
            self.lines += [" · ".join(parts), ""]

    def openness(self, body: Body) -> str:
        add = body.additional_properties
        if add is None:
            add = self.plan.settings.additional_properties
        return "**Unplanned properties:** " + ("allowed" if add else "refused")

    def render(self) -> str:
        plan = self.plan
        L = self.lines
        L += [f"# {_cell(plan.display_name)}", ""]
        if plan.description:
            L += [plan.description.strip(), ""]
        c = plan.counts()
        facts = [f"**Events:** {c['events']} ({c['event_versions']} versions)"]
        facts += [
            f"**Pages:** {c['pages']}",
            f"**Screens:** {c['screens']}",
            f"**Shared properties:** {c['shared_properties']}",
        ]
        self.meta(plan.owner, [], facts)
        L += [
            "**Unplanned events:** " + ("allowed" if plan.settings.allow_unplanned_events else "refused"),
            "",
        ]
        sections = []
        if plan.common is not None:
            sections.append("Common rules")
        if plan.events:
            sections.append("Events")
        if plan.identify is not None:
            sections.append("Identify traits")
        if plan.group is not None:
            sections.append("Group traits")
        if plan.pages:
            sections.append("Pages")
        if plan.screens:
            sections.append("Screens")
        if plan.shared:
            sections.append("Shared properties")
        sections.append("Personal data")
        L += ["## Contents", ""] + [f"- [{s}](#{anchor(s)})" for s in sections] + [""]
        if plan.common is not None:
            self.common(plan.common)
        if plan.events:
            self.events()
        for title, body in (("Identify traits", plan.identify), ("Group traits", plan.group)):
            if body is not None:
                L += [f"## {title}", ""]
                if body.description:
                    L += [body.description.strip(), ""]
                meta = body_meta(body)
                self.meta(meta.get("owner"), meta.get("labels", []), [self.openness(body)])
                self.prop_table(body.props, body.required, title.split()[0].lower())
        for title, table_ in (("Pages", plan.pages), ("Screens", plan.screens)):
            if table_:
                L += [f"## {title}", ""]
                for name, body in table_.items():
                    L += [f"### {_cell(name)}", ""]
                    if body.description:
                        L += [body.description.strip(), ""]
                    meta = body_meta(body)
                    self.meta(meta.get("owner"), meta.get("labels", []), [self.openness(body)])
                    self.prop_table(body.props, body.required, f"{title[:-1].lower()} {name}")
        if plan.shared:
            self.shared()
        self.personal_data()
        return "\n".join(L).rstrip() + "\n"

    def common(self, common: Body) -> None:
        L = self.lines
        L += ["## Common rules", ""]
        if common.description:
            L += [common.description.strip(), ""]
        if common.fields.get("context"):
            L += ["Every message's `context`:", ""]
            self.prop_table(common.fields["context"], [], "context")
        if common.fields.get("properties"):
            L += ["Every track, page and screen message's `properties`:", ""]
            self.prop_table(common.fields["properties"], [], "common properties")

    def events(self) -> None:
        plan = self.plan
        L = self.lines
        L += ["## Events", ""]
        summary = []
        for name, ev in plan.events.items():
            versions = ", ".join(str(v) for v in sorted(ev.versions))
            summary.append(
                [
                    f"[{_cell(name)}](#{anchor(name)})",
                    _cell(ev.owner),
                    _cell(", ".join(ev.labels)),
                    versions,
                    _cell(ev.description or ev.oldest.description),
                ]
            )
        L += table(["Event", "Owner", "Labels", "Versions", "Description"], summary) + [""]
        for name, ev in plan.events.items():
            L += [f"### {_cell(name)}", ""]
            if ev.deprecated:
                L += ["> **Deprecated.**", ""]
            if ev.description:
                L += [ev.description.strip(), ""]
            self.meta(ev.owner, ev.labels)
            several = len(ev.versions) > 1 or min(ev.versions) != 1
            for version, body in sorted(ev.versions.items()):
                if several:
                    L += [f"#### Version {version}", ""]
                    if body.description and body.description != ev.description:
                        L += [body.description.strip(), ""]
                L += [self.openness(body), ""]
                where = f"{name} v{version}" if several else name
                self.prop_table(body.props, body.required, where)

    def shared(self) -> None:
        L = self.lines
        L += ["## Shared properties", "", "Definitions events use with `ref:`.", ""]
        users: dict[str, list[str]] = {}
        for name, ev in self.plan.events.items():
            for body in ev.versions.values():
                for prop in body.props.values():
                    for ref in self.resolver.chain(prop.spec):
                        users.setdefault(ref, [])
                        if name not in users[ref]:
                            users[ref].append(name)
        lines: list[list[str]] = []
        for name, prop in self.plan.shared.items():
            schema = to_schema(prop.spec, self.resolver)
            used = users.get(name, [])
            lines.append(
                [
                    f"`{_cell(name)}`",
                    _cell(type_of(schema)),
                    _cell(schema.get("description")),
                    _cell(constraints(schema)),
                    _cell(schema.get("x-pii", "")),
                    _cell(f"{len(used)} events" if len(used) > 3 else ", ".join(used)),
                ]
            )
        L += table(["Property", "Type", "Description", "Constraints", "PII", "Used by"], lines) + [""]

    def personal_data(self) -> None:
        L = self.lines
        L += ["## Personal data", ""]
        if not self.pii:
            L += ["*No property is classified as personal data.*", ""]
            return
        L += ["Properties classified with `pii:` (a class of `none` means checked: not personal data).", ""]
        body = [[_cell(where), path, cls] for where, path, cls in self.pii]
        L += table(["Where", "Property", "Class"], body) + [""]


def render(plan: Plan, report: Report) -> str:
    """The plan as a Markdown catalog. Nothing is lost that a reader needs; the shared library is shown as a
    table and inlined where used."""
    del report
    return _Writer(plan).render()
