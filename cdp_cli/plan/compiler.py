"""Compile a plan into standalone JSON Schemas (draft 2020-12), one per message definition.

This compiled form is what event validation uses and what ``cdp plan export --to jsonschema`` writes:
shared references are inlined, ``common`` rules are merged into every schema, ``required: true``
flags become ``required`` lists, and ``pii`` becomes the annotation ``x-pii``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cdp_cli.plan import format as fmt
from cdp_cli.plan.model import Body, Origin, Plan, Prop

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class Resolver:
    """Expands ``ref:`` against a plan's shared property library. Cycles and dangling references
    expand to nothing here; :mod:`cdp_cli.plan.checks` reports them."""

    def __init__(self, shared: dict[str, Prop]):
        self.shared = shared

    def merged(self, spec: dict[str, Any], stack: tuple[str, ...] = ()) -> dict[str, Any]:
        """``spec`` with its top-level ``ref`` chain merged in (local keys win); nested refs untouched."""
        ref = spec.get("ref")
        if not isinstance(ref, str):
            return spec
        local = {k: v for k, v in spec.items() if k != "ref"}
        target = self.shared.get(ref)
        if target is None or ref in stack:
            return local
        base = self.merged(target.spec, stack + (ref,))
        return {**base, **local}

    def chain(self, spec: dict[str, Any]) -> list[str]:
        """The shared names a ``ref`` chain goes through (for locating inherited keys)."""
        names: list[str] = []
        ref = spec.get("ref")
        while isinstance(ref, str) and ref in self.shared and ref not in names:
            names.append(ref)
            ref = self.shared[ref].spec.get("ref")
        return names


def _type(value: Any) -> Any:
    if value is None:
        return "null"
    if isinstance(value, list):
        return ["null" if v is None else v for v in value]
    return value


def to_schema(spec: dict[str, Any], resolver: Resolver | None, _stack: tuple[str, ...] = ()) -> dict[str, Any]:
    """One property definition as JSON Schema. ``resolver=None`` compiles only what is written
    locally (used to check each definition against the meta-schema where it stands)."""
    s = spec
    if resolver is not None and isinstance(spec.get("ref"), str):
        if spec["ref"] in _stack:  # a reference cycle: expand no further (reported by checks)
            return {}
        s = resolver.merged(spec)
        _stack = _stack + tuple(resolver.chain(spec))
    out: dict[str, Any] = {}
    required: list[str] = list(s["required"]) if isinstance(s.get("required"), list) else []
    for key, value in s.items():
        if key in ("ref", "required"):
            continue
        if key == "pii":
            out["x-pii"] = "none" if value is False else value
        elif key == "type":
            out["type"] = _type(value)
        elif key in fmt.SUB_ONE and isinstance(value, dict):
            out[key] = to_schema(value, resolver, _stack)
        elif key in fmt.SUB_LIST and isinstance(value, list):
            out[key] = [to_schema(v, resolver, _stack) if isinstance(v, dict) else v for v in value]
        elif key in fmt.SUB_MAP and isinstance(value, dict):
            props: dict[str, Any] = {}
            for name, child in value.items():
                child = child if isinstance(child, dict) else {}
                view = resolver.merged(child) if resolver is not None else child
                if view.get("required") is True:
                    required.append(name)
                props[name] = to_schema(child, resolver, _stack)
            out[key] = props
        else:
            out[key] = value
    if required:
        out["required"] = list(dict.fromkeys(required))
    return out


def object_schema(props: dict[str, Prop], required: list[str], additional: bool, resolver: Resolver) -> dict[str, Any]:
    """The object schema of a property map (an event's properties, identify traits, context)."""
    out_props: dict[str, Any] = {}
    req = list(required)
    for name, prop in props.items():
        if resolver.merged(prop.spec).get("required") is True:
            req.append(name)
        out_props[name] = to_schema(prop.spec, resolver)
    schema: dict[str, Any] = {"type": "object", "properties": out_props}
    if req:
        schema["required"] = list(dict.fromkeys(req))
    if not additional:
        schema["additionalProperties"] = False
    return schema


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """The schema of one message definition."""

    kind: str  # track, identify, group, page, screen, common
    name: str | None  # event/page/screen name
    version: int | None  # event version (track only)
    schema: dict[str, Any]
    origin: Origin

    @property
    def key(self) -> str:
        parts = [self.kind] + ([self.name] if self.name else []) + ([f"v{self.version}"] if self.version else [])
        return "/".join(parts)


def _slug(text: str) -> str:
    return quote(text.replace(" ", "_"), safe="_-.")


def compile_plan(plan: Plan) -> list[CompiledSchema]:
    """Every message definition of ``plan`` as a standalone schema of the whole message."""
    resolver = Resolver(plan.shared)
    default_add = plan.settings.additional_properties
    common = plan.common
    common_context = common.fields.get("context", {}) if common else {}
    common_props = common.fields.get("properties", {}) if common else {}
    plan_id = _slug(plan.name or plan.root)
    out: list[CompiledSchema] = []

    def message(body: Body, version: int | None) -> dict[str, Any]:
        kind = body.kind
        field = body.main_field
        props = dict(body.props)
        if kind in ("track", "page", "screen"):
            props = {**props, **common_props}  # common rules hold for every message (a redefinition is PL013)
        add = body.additional_properties if body.additional_properties is not None else default_add
        inner = object_schema(props, body.required, add, resolver)
        top_props: dict[str, Any] = {"type": {"const": kind}}
        required = ["type"]
        if kind == "track":
            top_props["event"] = {"const": body.name}
            required.append("event")
        elif kind in ("page", "screen"):
            top_props["name"] = {"const": body.name}
            required.append("name")
        top_props[field] = inner
        if inner.get("required"):
            required.append(field)
        if common_context:
            ctx = object_schema(common_context, [], True, resolver)
            top_props["context"] = ctx
            if ctx.get("required"):
                required.append("context")
        ident = (
            f"urn:cdp:plan:{plan_id}:{kind}"
            + (f":{_slug(body.name)}" if body.name else "")
            + (f":v{version}" if version else "")
        )
        schema: dict[str, Any] = {"$schema": DIALECT, "$id": ident}
        title = body.name or kind
        schema["title"] = title if kind != "page" or not body.name else f"Page Viewed: {body.name}"
        if body.description:
            schema["description"] = body.description
        schema.update({"type": "object", "properties": top_props, "required": required})
        schema["x-cdp"] = {"plan": plan.name, "kind": kind, "name": body.name, "version": version}
        return schema

    if common is not None:
        schema: dict[str, Any] = {
            "$schema": DIALECT,
            "$id": f"urn:cdp:plan:{plan_id}:common",
            "title": "common",
            "type": "object",
            "properties": {"context": object_schema(common_context, [], True, resolver)},
        }
        if common.description:
            schema["description"] = common.description
        if schema["properties"]["context"].get("required"):
            schema["required"] = ["context"]
        out.append(CompiledSchema("common", None, None, schema, common.origin))
    for name, event in plan.events.items():
        for version, body in sorted(event.versions.items()):
            out.append(CompiledSchema("track", name, version, message(body, version), body.origin))
    for single in (plan.identify, plan.group):
        if single is not None:
            out.append(CompiledSchema(single.kind, None, None, message(single, None), single.origin))
    for table in (plan.pages, plan.screens):
        for name, body in table.items():
            out.append(CompiledSchema(body.kind, name, None, message(body, None), body.origin))
    return out
