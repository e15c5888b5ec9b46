"""JSON Schema in both directions, shared by the Segment, Avo and JSON Schema formats.

Import: :class:`Cleaner` turns a property schema from a real export (draft-04, -06 or -07, with ``id``
paths on every node, ``type: ["string"]``, ``enum`` holding null, empty ``properties`` on scalars, local
``$ref``\\ s, names with stray whitespace) into a cdp property definition, reporting each rewrite;
:func:`unwrap_message` finds the ``properties`` / ``traits`` / ``context`` parts of a whole-message schema;
:func:`factor_shared` moves property definitions used alike by several messages into the shared library.

Export: :func:`to_draft07` rewrites a compiled (draft 2020-12) property schema for draft-07 consumers.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from cdp_cli.pii import PII_CLASSES
from cdp_cli.plan import format as fmt
from cdp_cli.plan.formats._core import PlanDraft, Report, as_dict

Path_ = tuple[str | int, ...]

#: draft-03/04/06/07/2019-09 validation keywords cdp's plan format does not have: kept as ``x-`` annotations
#: (so nothing disappears) and reported as lost, because cdp no longer enforces them
UNSUPPORTED = (
    "if",
    "then",
    "else",
    "patternProperties",
    "propertyNames",
    "dependentSchemas",
    "unevaluatedItems",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    "$dynamicRef",
    "$recursiveRef",
    "disallow",
    "extends",
    "divisibleBy",
)
#: annotations without a cdp keyword: kept as ``x-`` keys, reported as normalised
ANNOTATIONS = ("readOnly", "writeOnly", "$comment", "labels", "$anchor")
_TYPE_ALIASES = {"int": "integer", "float": "number", "double": "number", "bool": "boolean", "list": "array"}
_DRAFTS = {
    "draft-03": "draft-03",
    "draft-04": "draft-04",
    "draft-06": "draft-06",
    "draft-07": "draft-07",
    "2019-09": "2019-09",
    "2020-12": "2020-12",
}


def draft_of(schema: Any) -> str | None:
    """``draft-04`` ... ``2020-12`` from a ``$schema`` URI (Iglu's self-describing meta-schema is based on
    draft-04), None when absent or unknown."""
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    if not isinstance(uri, str):
        return None
    if "com.snowplowanalytics.self-desc" in uri:
        return "Iglu self-describing (draft-04)"
    for needle, name in _DRAFTS.items():
        if needle in uri:
            return name
    return None


def clean_name(name: str, report: Report, *, file: str, path: Path_, what: str) -> str:
    """A name with surrounding whitespace (a trailing newline, a tab) removed, reported."""
    stripped = name.strip()
    if stripped != name:
        report.normalised(f"{what} {name!r}: removed surrounding whitespace, now {stripped!r}", file=file, path=path)
    return stripped


def ordered(spec: dict[str, Any]) -> dict[str, Any]:
    """``type`` first, ``description`` and ``required`` last: how plans are written."""
    head: dict[str, Any] = {k: spec[k] for k in ("type",) if k in spec}
    tail: dict[str, Any] = {k: spec[k] for k in ("description", "required") if k in spec}
    return {**head, **{k: v for k, v in spec.items() if k not in head and k not in tail}, **tail}


class Cleaner:
    """Turns property schemas of one source file into cdp property definitions.

    ``defs`` holds the document's ``definitions`` / ``$defs`` for local ``$ref``\\ s; ``scope`` names the
    rule or event being read, for the tallies of the report."""

    def __init__(
        self,
        report: Report,
        file: str,
        *,
        scope: str = "",
        defs: dict[str, Any] | None = None,
        vendor: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self.report = report
        self.file = file
        self.scope = scope
        self.defs = defs or {}
        #: a tool's own keys on schema nodes: key -> (kind, label); they are removed and tallied
        self.vendor = vendor or {}

    def tally(self, label: str, path: Path_, kind: str = "normalised") -> None:
        self.report.tally(label, file=self.file, path=path, scope=self.scope, kind=kind)

    def lost(self, message: str, path: Path_) -> None:
        self.report.lost(f"{self.scope}: {message}" if self.scope else message, file=self.file, path=path)

    # the property map of an object ---------------------------------------------------------------------
    def prop_map(self, props: Any, required: Any, path: Path_) -> tuple[dict[str, Any], list[str]]:
        """(cdp property map, required names left over) for a ``properties`` mapping and its ``required``
        list: required names that are defined become ``required: true`` flags when the list follows the
        properties' order (as cdp writes it), else stay a list."""
        out: dict[str, Any] = {}
        if isinstance(props, dict):
            for raw, spec in props.items():
                name = clean_name(raw, self.report, file=self.file, path=path + (raw,), what="property")
                if not name:
                    self.lost(f"property {raw!r} has an empty name; not imported", path + (raw,))
                    continue
                if name in out:
                    self.lost(f"property {name!r} is defined twice (after trimming); the first is kept", path + (raw,))
                    continue
                out[name] = self.prop(spec, path + (raw,), named=True)
        elif props is not None:
            self.lost("'properties' is not a mapping; not imported", path)
        names: list[str] = []
        if isinstance(required, list):
            for i, r in enumerate(required):
                if isinstance(r, str):
                    names.append(r.strip())
                else:
                    self.lost(f"required entry {r!r} is not a name; dropped", path[:-1] + ("required", i))
        elif required is not None and not isinstance(required, bool):
            self.lost("'required' is not a list of names; dropped", path[:-1] + ("required",))
        names = list(dict.fromkeys(names))
        defined = [n for n in names if n in out]
        in_order = [n for n in out if n in defined]
        own_lists = any(isinstance(out[n].get("required"), list) for n in defined)
        if defined == in_order and not own_lists:
            for n in defined:
                out[n] = {**out[n], "required": True}
            return out, [n for n in names if n not in out]
        return out, names

    # one property schema ---------------------------------------------------------------------------------
    def prop(self, node: Any, path: Path_, *, named: bool, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if node is True or node == {}:
            return {}
        if node is False:
            self.tally("'false' schema written as {not: {}}", path)
            return {"not": {}}
        if not isinstance(node, dict):
            self.lost(f"schema is {type(node).__name__}, not a mapping; imported as an empty definition", path)
            return {}
        node = dict(node)
        ref = node.pop("$ref", None)
        if isinstance(ref, str):
            target = self._resolve(ref)
            if target is None or ref in _seen:
                why = "a reference cycle" if ref in _seen else "not a local definition"
                self.lost(f"$ref {ref!r} is {why}; imported without it", path + ("$ref",))
            else:
                self.tally("inlined local $ref", path + ("$ref",))
                base = self.prop(target, path + ("$ref",), named=named, _seen=_seen + (ref,))
                if base.get("required") is True:
                    del base["required"]
                local = self.prop(node, path, named=named, _seen=_seen) if node else {}
                return {**base, **local}
        out: dict[str, Any] = {}
        types = self._types(node, path)
        if types is not None:
            out["type"] = types
        for key, value in node.items():
            self._keyword(key, value, node, out, path, named=named, seen=_seen)
        if "enum" in out:
            self._enum_nulls(out, path)
        return ordered(out)

    def _resolve(self, ref: str) -> Any:
        for prefix in ("#/definitions/", "#/$defs/"):
            if ref.startswith(prefix):
                return self.defs.get(ref[len(prefix) :].replace("~1", "/").replace("~0", "~"))
        return None

    def _types(self, node: dict[str, Any], path: Path_) -> Any:
        if "type" not in node:
            return None
        value = node["type"]
        items = value if isinstance(value, list) else [value]
        out: list[str] = []
        for t in items:
            if isinstance(t, str) and t in _TYPE_ALIASES:
                self.tally(f"type {t!r} read as {_TYPE_ALIASES[t]!r}", path + ("type",))
                t = _TYPE_ALIASES[t]
            if t is None:
                t = "null"
            if t == "any":
                self.tally("type 'any' removed (any value passes)", path + ("type",))
                return None
            if not isinstance(t, str) or t not in fmt.JSON_TYPES:
                self.lost(f"type {t!r} is not a JSON Schema type; the type is not imported", path + ("type",))
                return None
            if t not in out:
                out.append(t)
        if isinstance(value, list):
            if len(out) == 1:
                self.tally("type list of one written as a plain type", path + ("type",))
                return out[0]
            if len(out) != len(value):
                self.tally("repeated types removed", path + ("type",))
            return out or None
        return out[0] if out else None

    def _enum_nulls(self, out: dict[str, Any], path: Path_) -> None:
        enum = out["enum"]
        t = out.get("type")
        allows_null = t is None or t == "null" or (isinstance(t, list) and "null" in t)
        if isinstance(enum, list) and None in enum and not allows_null:
            kept = [v for v in enum if v is not None]
            self.tally("null removed from enum (its type does not allow null, so null could never pass)", path)
            if kept:
                out["enum"] = kept
            else:
                del out["enum"]
                self.lost("enum held only null, which its type refuses; enum dropped", path + ("enum",))

    def _keyword(
        self,
        key: str,
        value: Any,
        node: dict[str, Any],
        out: dict[str, Any],
        path: Path_,
        *,
        named: bool,
        seen: tuple[str, ...],
    ) -> None:
        here = path + (key,)
        if key == "type":
            return
        if key in self.vendor:
            kind, label = self.vendor[key]
            self.tally(label, here, kind)
            return
        if key in ("id", "$id", "$schema") and isinstance(value, str):
            label = (
                "'id' keywords (draft-04 paths, tool ids) removed"
                if key == "id"
                else f"'{key}' inside a schema removed"
            )
            self.tally(label, here)
            return
        if key in ("definitions", "$defs"):
            self.tally("definitions removed (inlined where referenced)", here)
            return
        if key == "description":
            if isinstance(value, str) and value.strip():
                out["description"] = value.strip() if value != value.strip() else value
            elif value not in (None, ""):
                self.lost(f"description {value!r} is not text; dropped", here)
            else:
                self.tally("empty descriptions removed", here)
            return
        if key == "properties":
            t = out.get("type")
            scalar = isinstance(t, str) and t != "object" or isinstance(t, list) and "object" not in t
            if scalar and (value == {} or value is None):
                self.tally("empty 'properties' on a non-object removed", here)
                return
            props, leftover = self.prop_map(value, node.get("required"), here)
            out["properties"] = props
            if leftover:
                out["required"] = leftover
            return
        if key == "required":
            if isinstance(value, bool):
                if named and value:
                    out["required"] = True  # draft-03: this property is required (cdp's own spelling)
                elif not named:
                    self.tally("draft-03 'required: true/false' outside a named property removed", here)
                return
            if not isinstance(node.get("properties"), dict):
                names = [n.strip() for n in value if isinstance(n, str)] if isinstance(value, list) else []
                if names:
                    out["required"] = names
            return  # handled with properties
        if key in ("items", "additionalItems"):
            self._items(key, value, node, out, path, seen)
            return
        if key in ("additionalProperties", "not", "contains"):
            if isinstance(value, bool) and key == "additionalProperties":
                out[key] = value
            elif isinstance(value, (dict, bool)):
                out[key] = self.prop(value, here, named=False, _seen=seen)
            return
        if key in ("anyOf", "oneOf", "allOf", "prefixItems"):
            if isinstance(value, list):
                out[key] = [self.prop(v, here + (i,), named=False, _seen=seen) for i, v in enumerate(value)]
            return
        if key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value and bound in node:
                out[key] = node[bound]
                out.pop(bound, None)
                self.tally(f"draft-04 boolean {key} written as a number", here)
            else:
                self.tally(f"draft-04 '{key}: false' removed", here)
            return
        if key in ("minimum", "maximum") and node.get("exclusive" + key.capitalize()) is True:
            return  # written as exclusiveMinimum/exclusiveMaximum above
        if key == "dependencies" and isinstance(value, dict):
            lists = {k: v for k, v in value.items() if isinstance(v, list)}
            if lists:
                out["dependentRequired"] = lists
                self.tally("draft-07 'dependencies' (lists) written as dependentRequired", here)
            schemas = {k: v for k, v in value.items() if not isinstance(v, list)}
            if schemas:
                out["x-dependencies"] = schemas
                self.lost("'dependencies' with schemas is not in cdp's format; kept as annotation x-dependencies", here)
            return
        if key == "unevaluatedProperties" and isinstance(value, bool):
            if "additionalProperties" not in node:
                out["additionalProperties"] = value
                self.tally("unevaluatedProperties written as additionalProperties", here)
            return
        if key == "format":
            if isinstance(value, str) and value in fmt.FORMATS:
                out["format"] = value
            else:
                out["x-format"] = value
                self.lost(f"format {value!r} is not a JSON Schema format; kept as annotation x-format", here)
            return
        if key in ("x-pii", "pii"):
            cls = "none" if value is False else value
            if isinstance(cls, str) and cls in PII_CLASSES:
                out["pii"] = cls
            else:
                out["x-pii"] = value
                self.lost(f"personal-data class {value!r} is not one of cdp's; kept as annotation x-pii", here)
            return
        if key.startswith("x-"):
            out[key] = value
            return
        if key in UNSUPPORTED:
            out["x-" + key.lstrip("$")] = value
            self.lost(f"'{key}' is not in cdp's format; kept as annotation x-{key.lstrip('$')}, not enforced", here)
            return
        if key in fmt.SCHEMA_KEYWORDS:
            out[key] = value
            return
        if key in ANNOTATIONS:
            out["x-" + key.lstrip("$")] = value
            self.tally(f"'{key}' kept as annotation x-{key.lstrip('$')}", here)
            return
        out["x-" + key.lstrip("$")] = value
        self.tally(f"unknown keyword '{key}' kept as annotation x-{key.lstrip('$')}", here)

    def _items(
        self, key: str, value: Any, node: dict[str, Any], out: dict[str, Any], path: Path_, seen: tuple[str, ...]
    ) -> None:
        here = path + (key,)
        tuple_form = isinstance(node.get("items"), list)
        if key == "items":
            if isinstance(value, list):
                out["prefixItems"] = [self.prop(v, here + (i,), named=False, _seen=seen) for i, v in enumerate(value)]
                self.tally("tuple 'items' (a list) written as prefixItems", here)
            elif isinstance(value, (dict, bool)):
                out["items"] = self.prop(value, here, named=False, _seen=seen)
            return
        if tuple_form:  # additionalItems next to a tuple: the 2020-12 'items'
            if isinstance(value, (dict, bool)):
                out["items"] = self.prop(value, here, named=False, _seen=seen) if value is not False else False
        else:
            self.tally("'additionalItems' without tuple items removed (it has no effect)", here)


# --- whole-message schemas -------------------------------------------------------------------------------
#: top-level message fields a plan describes; others constrained in a message schema are reported as lost
MESSAGE_FIELDS = ("properties", "traits", "context")
#: top-level fields every message schema may name without constraining much
_IGNORED_TOP = ("type", "event", "name", "userId", "anonymousId", "groupId", "messageId", "timestamp", "sentAt")


def is_message_schema(schema: Any) -> bool:
    """Whether ``schema`` describes a whole message (``properties.properties`` / ``.traits`` / ``.context``)."""
    top = schema.get("properties") if isinstance(schema, dict) else None
    return isinstance(top, dict) and any(isinstance(top.get(f), dict) for f in MESSAGE_FIELDS)


def has_constraints(schema: Any) -> bool:
    """Whether an object schema constrains anything (``{}``, ``{type: object}`` and placeholders do not)."""
    if not isinstance(schema, dict):
        return schema is False
    rest = {k: v for k, v in schema.items() if k not in ("type", "id", "$id", "$schema", "description", "title")}
    if rest.get("properties") in ({}, None):
        rest.pop("properties", None)
    if rest.get("required") in ([], None):
        rest.pop("required", None)
    return bool(rest)


def object_body(cleaner: Cleaner, schema: Any, path: Path_) -> tuple[dict[str, Any], list[str], bool | None]:
    """(property map, leftover required names, additionalProperties) of one object part of a message."""
    if not isinstance(schema, dict):
        return {}, [], None
    props, leftover = cleaner.prop_map(schema.get("properties"), schema.get("required"), path + ("properties",))
    add = schema.get("additionalProperties")
    if add is None and isinstance(schema.get("unevaluatedProperties"), bool):
        add = schema["unevaluatedProperties"]
    if isinstance(add, dict):
        cleaner.lost(
            "additionalProperties as a schema is not kept (only true or false)", path + ("additionalProperties",)
        )
        add = None
    for key in schema:
        if key in ("minProperties", "maxProperties", "patternProperties", "propertyNames", "dependencies", "anyOf"):
            cleaner.lost(f"'{key}' on the whole object is not kept", path + (key,))
    return props, leftover, add if isinstance(add, bool) else None


def unwrap_message(
    cleaner: Cleaner, schema: dict[str, Any], path: Path_, *, main: str, keep: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The parts of a whole-message schema: a cdp body with ``main`` (``properties`` or ``traits``) filled,
    plus every other part named in ``keep`` under its field. Constraints on other parts (context on a
    track rule, ``userId`` ...) are reported as lost."""
    top = as_dict(schema.get("properties"))
    body: dict[str, Any] = {}
    desc = schema.get("description")
    if isinstance(desc, str) and desc.strip():
        body["description"] = desc.strip()
    for fld in MESSAGE_FIELDS:
        part = top.get(fld)
        here = path + ("properties", fld)
        if fld != main and fld not in keep:
            if has_constraints(part):
                cleaner.lost(f"'{fld}' of this message is constrained, which cdp keeps only for {_where(fld)}", here)
            continue
        props, leftover, add = object_body(cleaner, part, here)
        if fld == main:
            body[fld] = props
            if leftover:
                body["required"] = leftover
            if add is not None:
                body["additionalProperties"] = add
        else:
            body[fld] = props
            if leftover:
                body[f"{fld}_required"] = leftover
            if add is False:
                cleaner.lost(f"'{fld}' is closed (additionalProperties: false); cdp keeps it open", here)
    for key, part in top.items():
        if key in MESSAGE_FIELDS or (key in _IGNORED_TOP and not has_constraints_beyond_const(part)):
            continue
        if has_constraints(part):
            cleaner.lost(f"the message field {key!r} is constrained; cdp plans do not constrain it", path + (key,))
    for key in ("additionalProperties", "patternProperties", "allOf", "anyOf", "oneOf", "if"):
        if key in schema and not (key == "additionalProperties" and schema[key] is not False):
            cleaner.lost(f"'{key}' on the whole message is not kept", path + (key,))
    return body


def has_constraints_beyond_const(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    return bool({k for k in part if k not in ("const", "enum", "type", "description", "id", "$id", "pattern")})


def _where(fld: str) -> str:
    return {"context": "the common rules", "traits": "identify and group", "properties": "track, page and screen"}[fld]


# --- the shared property library ----------------------------------------------------------------------
def _canon(spec: dict[str, Any]) -> str:
    """A definition's schema without its description and its own ``required: true`` flag."""
    body = {k: v for k, v in spec.items() if k != "description" and not (k == "required" and isinstance(v, bool))}
    return json.dumps(body, sort_keys=True)


def _uses(draft: PlanDraft) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(property map, name, definition) of every top-level property of every body, refs left out."""
    for _, body in draft.bodies():
        for fld in ("properties", "traits"):
            props = body.get(fld)
            if not isinstance(props, dict):
                continue
            for name, spec in list(props.items()):
                if isinstance(spec, dict) and "ref" not in spec:
                    yield props, name, spec


def factor_shared(draft: PlanDraft, report: Report, *, file: str) -> int:
    """Move property definitions that several messages use alike (same name and schema) into the shared
    property library, each use becoming ``{ref: name}`` plus its own description and ``required``.

    The compiled schemas do not change: a shared description is used only where every use has one, and a
    use whose description differs keeps it next to its ``ref``. Returns how many were shared."""
    counts: dict[str, Counter[str]] = {}
    for _, name, spec in _uses(draft):
        counts.setdefault(name, Counter())[_canon(spec)] += 1
    chosen: dict[str, str] = {}
    for name, seen in counts.items():
        canon, n = seen.most_common(1)[0]
        if n >= 2 and name not in draft.shared:
            chosen[name] = canon
    if not chosen:
        return 0
    matches = [(props, name, spec) for props, name, spec in _uses(draft) if chosen.get(name) == _canon(spec)]
    for name in chosen:
        specs = [spec for _, n, spec in matches if n == name]
        shared = {k: v for k, v in specs[0].items() if k != "description" and not (k == "required" and v is True)}
        descs = [spec.get("description") for spec in specs]
        if all(descs):
            shared["description"] = Counter(descs).most_common(1)[0][0]
        draft.shared[name] = shared
    for props, name, spec in matches:
        use: dict[str, Any] = {"ref": name}
        desc = spec.get("description")
        if desc is not None and desc != draft.shared[name].get("description"):
            use["description"] = desc
        if spec.get("required") is True:
            use["required"] = True
        props[name] = use
    report.normalised(
        f"{len(chosen)} properties defined alike in several messages moved to the shared property library "
        f"(used with ref:): {', '.join(sorted(chosen)[:12])}{' ...' if len(chosen) > 12 else ''}",
        file=file,
    )
    return len(chosen)


# --- export: draft 2020-12 -> draft-07 ---------------------------------------------------------------------
def to_draft07(schema: Any, lost: list[str], path: str = "") -> Any:
    """A compiled (2020-12) schema for a draft-07 consumer: ``prefixItems`` becomes tuple ``items`` (and
    ``items`` then ``additionalItems``), ``dependentRequired`` becomes ``dependencies``. Keywords draft-07
    lacks (``minContains``, ``maxContains``) are dropped and named in ``lost``."""
    if isinstance(schema, list):
        return [to_draft07(v, lost, f"{path}[{i}]") for i, v in enumerate(schema)]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        here = f"{path}.{key}" if path else key
        if key == "prefixItems":
            out["items"] = to_draft07(value, lost, here)
            if "items" in schema:
                out["additionalItems"] = to_draft07(schema["items"], lost, here)
        elif key == "items" and "prefixItems" in schema:
            continue
        elif key == "dependentRequired":
            out["dependencies"] = copy.deepcopy(value)
        elif key in ("minContains", "maxContains"):
            lost.append(f"{here} ({key}: draft-07 has no such keyword)")
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: to_draft07(v, lost, f"{here}.{k}") for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "contains", "anyOf", "oneOf", "allOf"):
            out[key] = to_draft07(value, lost, here)
        else:
            out[key] = copy.deepcopy(value)
    return out
