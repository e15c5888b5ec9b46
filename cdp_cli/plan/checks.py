"""Semantic checks of a loaded plan: references, JSON Schema validity, patterns, formats,
contradictions, names, conventions, descriptions and personal data.

Each definition is checked where it stands: a shared property once in the library; a property that
uses ``ref:`` for what it writes locally, plus contradictions its overrides create with the shared
definition (for example a local ``maxLength`` below a shared ``minLength``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

from cdp_cli.findings import Finding
from cdp_cli.naming import DESCRIPTIONS, Style, convert, matches, normalize
from cdp_cli.pii import classify_key
from cdp_cli.plan import format as fmt
from cdp_cli.plan.compiler import Resolver, to_schema
from cdp_cli.plan.loader import suggest
from cdp_cli.plan.model import Origin, Plan
from cdp_cli.plan.regex import check_pattern
from cdp_cli.rules import plan_rules as R
from cdp_cli.rules.rule import Rule

_FORMAT_ALIASES = {
    "timestamp": "date-time",
    "datetime": "date-time",
    "iso8601": "date-time",
    "rfc3339": "date-time",
    "url": "uri",
    "link": "uri",
    "guid": "uuid",
    "ip": "ipv4",
    "ipaddress": "ipv4",
    "mail": "email",
    "emailaddress": "email",
    "host": "hostname",
    "domain": "hostname",
}

_BOUNDS = (
    ("minimum", "maximum"),
    ("exclusiveMinimum", "exclusiveMaximum"),
    ("minimum", "exclusiveMaximum"),
    ("exclusiveMinimum", "maximum"),
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
    ("minContains", "maxContains"),
)


@dataclass(frozen=True, slots=True)
class Node:
    """One property definition (or sub-definition) inside a plan fragment."""

    spec: dict[str, Any]
    origin: Origin
    name: str | None  # its property name when it sits in a properties map
    area: str  # "properties", "traits", "context" or "shared": which naming convention applies
    top: bool  # a top-level property of a body, or a shared definition
    covered: bool = False  # inside an object or array already classified with `pii:`


def walk(
    spec: dict[str, Any], origin: Origin, name: str | None, area: str, top: bool, covered: bool = False
) -> Iterator[Node]:
    yield Node(spec, origin, name, area, top, covered)
    covered = covered or "pii" in spec
    for key in fmt.SUB_ONE:
        sub = spec.get(key)
        if isinstance(sub, dict):
            yield from walk(sub, origin.child(key), None, area, False, covered)
    for key in fmt.SUB_LIST:
        subs = spec.get(key)
        if isinstance(subs, list):
            for i, sub in enumerate(subs):
                if isinstance(sub, dict):
                    yield from walk(sub, origin.child(key, i), None, area, False, covered)
    children = spec.get("properties")
    if isinstance(children, dict):
        for cname, child in children.items():
            if isinstance(child, dict):
                yield from walk(child, origin.child("properties", cname), cname, area, False, covered)


def _types(spec: dict[str, Any]) -> list[str] | None:
    t = spec.get("type")
    if t is None and "type" not in spec:
        return None
    values = t if isinstance(t, list) else [t]
    return ["null" if v is None else v for v in values if isinstance(v, str) or v is None]


def _matches_type(value: Any, jtype: str) -> bool:
    if jtype == "string":
        return isinstance(value, str)
    if jtype == "boolean":
        return isinstance(value, bool)
    if jtype == "null":
        return value is None
    if jtype == "object":
        return isinstance(value, dict)
    if jtype == "array":
        return isinstance(value, list)
    if isinstance(value, bool):
        return False
    if jtype == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if jtype == "number":
        return isinstance(value, (int, float))
    return True  # unknown type names are PL020's business


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema means it: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _show(value: Any) -> str:
    """A value as the user wrote it in JSON terms (true, null), not Python's repr."""
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _is_number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class PlanChecker:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.resolver = Resolver(plan.shared)
        self.findings: list[Finding] = []

    def report(self, rule: Rule, origin: Origin, message: str, *, key: bool = False, **extra: Any) -> None:
        line, col = origin.position(key=key)
        self.findings.append(rule.finding(origin.file, line, col, message, path=origin.json_path, **extra))

    # entry point ----------------------------------------------------------------------------------
    def run(self) -> list[Finding]:
        self.check_cycles()
        for node in self.nodes():
            self.check_node(node)
        self.check_bodies()
        self.check_names()
        return self.findings

    def nodes(self) -> Iterator[Node]:
        for name, prop in self.plan.shared.items():
            yield from walk(prop.spec, prop.origin, name, "shared", True)
        for body in self.plan.bodies():
            for field, props in body.fields.items():
                area = "traits" if field == "traits" else field
                for name, prop in props.items():
                    yield from walk(prop.spec, prop.origin, name, area, True)

    # references -----------------------------------------------------------------------------------
    def _refs_in(self, spec: dict[str, Any], origin: Origin) -> Iterator[tuple[str, Origin]]:
        for node in walk(spec, origin, None, "shared", False):
            ref = node.spec.get("ref")
            if isinstance(ref, str):
                yield ref, node.origin.child("ref")

    def check_cycles(self) -> None:
        shared = self.plan.shared
        graph = {
            name: [(r, o) for r, o in self._refs_in(p.spec, p.origin) if r in shared] for name, p in shared.items()
        }
        reported: set[frozenset[str]] = set()
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list[str]) -> None:
            state[name] = 1
            path.append(name)
            for ref, origin in graph[name]:
                if state.get(ref) == 1:
                    cycle = path[path.index(ref) :] + [ref]
                    members = frozenset(cycle)
                    if members not in reported:
                        reported.add(members)
                        self.report(
                            R.CIRCULAR_REF,
                            origin,
                            "circular reference: " + " -> ".join(cycle) + "; break the cycle with a plain definition",
                        )
                elif state.get(ref) is None:
                    visit(ref, path)
            path.pop()
            state[name] = 2

        for name in shared:
            if state.get(name) is None:
                visit(name, [])

    # one definition -------------------------------------------------------------------------------
    def check_node(self, node: Node) -> None:
        spec, origin = node.spec, node.origin
        ref = spec.get("ref")
        if isinstance(ref, str) and ref not in self.plan.shared:
            hint = suggest(ref, list(self.plan.shared))
            msg = f"ref {ref!r} names no shared property"
            msg += f"; did you mean {hint!r}?" if hint else " (define it under the top-level 'properties')"
            self.report(R.DANGLING_REF, origin.child("ref"), msg, suggestion=hint)
        if node.top:
            self.check_meta(spec, origin)
        pattern = spec.get("pattern")
        if isinstance(pattern, str):
            problem = check_pattern(pattern)
            if problem is not None:
                rule = R.INVALID_PATTERN if problem.kind == "invalid" else R.NON_PORTABLE_PATTERN
                self.report(rule, origin.child("pattern"), f"pattern {pattern!r}: {problem.message}")
        fmt_name = spec.get("format")
        if isinstance(fmt_name, str) and fmt_name not in fmt.FORMATS:
            hint = _FORMAT_ALIASES.get(fmt_name.lower().replace("_", "").replace("-", "")) or suggest(
                fmt_name, fmt.FORMATS
            )
            self.report(
                R.UNKNOWN_FORMAT,
                origin.child("format"),
                f"unknown format {fmt_name!r}"
                + (f"; did you mean {hint!r}?" if hint else f"; JSON Schema defines {', '.join(fmt.FORMATS)}"),
            )
        view = self.resolver.merged(spec) if isinstance(ref, str) else spec
        local = set(spec) - {"ref"}
        self.check_contradictions(view, local, origin, is_ref=isinstance(ref, str))
        if (
            node.name is not None
            and not node.covered
            and node.area in ("properties", "traits", "shared")
            and "pii" not in view
        ):
            cls = classify_key(node.name)
            if cls is not None:
                self.report(
                    R.UNCLASSIFIED_PII,
                    origin,
                    f"{node.name!r} looks like personal data ({cls}) but has no 'pii:' classification; "
                    f"add 'pii: {cls}' (or 'pii: none' if it is not)",
                    key=True,
                )
        if node.top and node.area != "context" and not view.get("description"):
            what = "shared property" if node.area == "shared" else "property"
            self.report(
                R.MISSING_DESCRIPTION,
                origin,
                f"{what} {node.name!r} has no description; say what it means and when it is set",
                key=True,
            )
        children = spec.get("properties")  # as written here; a ref'd object is checked at its definition
        if isinstance(children, dict):
            self.check_similar(list(children), origin.child("properties"))

    def check_meta(self, spec: dict[str, Any], origin: Origin) -> None:
        """Check a definition (as written, refs not expanded) against the draft 2020-12 meta-schema."""
        seen: set[tuple] = set()
        for path, instance, message in _meta_errors(_strip_annotations(to_schema(spec, None))):
            if path[:1] == ("required",):
                continue  # rebuilt from required flags; the loader checks its shape
            if path and (path[-1] == "type" or (len(path) > 1 and path[-2] == "type")):
                tpath = path if path[-1] == "type" else path[:-1]
                values = instance if isinstance(instance, list) else [instance]
                if isinstance(instance, list):
                    bad_items = [(tpath + (i,), v) for i, v in enumerate(values) if v not in fmt.JSON_TYPES]
                else:
                    bad_items = [(tpath, instance)] if instance not in fmt.JSON_TYPES else []
                if not bad_items and isinstance(instance, list):
                    bad_items = [(tpath, instance)]  # e.g. a repeated type: let the meta-schema say why
                for where_path, bad in bad_items:
                    if where_path in seen:
                        continue
                    seen.add(where_path)
                    hint = suggest(str(bad), fmt.JSON_TYPES) if isinstance(bad, str) else None
                    if isinstance(bad, list):
                        msg = f"invalid type list {_show(bad)}: {message}"
                    else:
                        msg = f"type {_show(bad)} is not a JSON Schema type; use one of {', '.join(fmt.JSON_TYPES)}"
                        if hint:
                            msg += f" (did you mean {hint!r}?)"
                    self.report(R.INVALID_SCHEMA, origin.child(*where_path), msg)
                continue
            if path in seen:
                continue  # the 2020-12 meta-schema reports one mistake once per vocabulary
            seen.add(path)
            where = origin.child(*path) if path else origin
            if path and path[-1] == "items" and isinstance(instance, list):
                message = "items must be one definition (every item); for a definition per position use prefixItems"
            self.report(
                R.INVALID_SCHEMA, where, f"invalid JSON Schema at '{'.'.join(map(str, path)) or '(root)'}': {message}"
            )

    def check_contradictions(self, view: dict[str, Any], local: set[str], origin: Origin, *, is_ref: bool) -> None:
        def concerns(*keys: str) -> bool:
            return not is_ref or any(k in local for k in keys)

        for lo, hi in _BOUNDS:
            a, b = view.get(lo), view.get(hi)
            if _is_number(a) and _is_number(b) and concerns(lo, hi):
                bad = (
                    a > b
                    if (lo, hi)
                    in (
                        ("minimum", "maximum"),
                        ("minLength", "maxLength"),
                        ("minItems", "maxItems"),
                        ("minProperties", "maxProperties"),
                        ("minContains", "maxContains"),
                    )
                    else a >= b
                )
                if bad:
                    where = origin.child(lo if lo in local else hi)
                    self.report(
                        R.MIN_MAX,
                        where,
                        f"{lo} ({a}) {'>' if a > b else '>='} {hi} ({b}): no value can pass; swap or fix the bounds",
                    )
        types = _types(view)
        enum = view.get("enum")
        if isinstance(enum, list) and concerns("enum", "type"):
            where = origin.child("enum" if "enum" in local or not is_ref else "type")
            if not enum:
                self.report(R.ENUM_TYPE, where, "enum is empty: no value can pass; list the allowed values")
            elif types:
                for i, value in enumerate(enum):
                    if not any(_matches_type(value, t) for t in types):
                        self.report(
                            R.ENUM_TYPE,
                            origin.child("enum", i) if "enum" in local else where,
                            self._mismatch("enum value", value, types),
                        )
        for key in ("const", "default"):
            if key in view and types and concerns(key, "type"):
                value = view[key]
                if not any(_matches_type(value, t) for t in types):
                    self.report(
                        R.ENUM_TYPE, origin.child(key if key in local else "type"), self._mismatch(key, value, types)
                    )
        if "const" in view and isinstance(enum, list) and enum and concerns("const", "enum"):
            if not any(_json_equal(view["const"], e) for e in enum):
                self.report(
                    R.CONST_NOT_IN_ENUM,
                    origin.child("const" if "const" in local else "enum"),
                    f"const {_show(view['const'])} is not one of enum {_show(enum)}: no value can pass",
                )
        required = view.get("required")
        children = cast("dict[str, Any]", view.get("properties")) if isinstance(view.get("properties"), dict) else {}
        if (
            isinstance(required, list)
            and view.get("additionalProperties") is False
            and concerns("required", "additionalProperties", "properties")
        ):
            for i, name in enumerate(required):
                if isinstance(name, str) and name not in children:
                    where = origin.child("required", i) if "required" in local else origin.child("required")
                    self.report(
                        R.REQUIRED_UNDEFINED,
                        where,
                        f"{name!r} is required but not defined, and additionalProperties is false: no value can pass; "
                        "define it under 'properties'",
                    )

    @staticmethod
    def _mismatch(what: str, value: Any, types: list[str]) -> str:
        msg = f"{what} {_show(value)} does not match type {types[0] if len(types) == 1 else _show(types)}"
        if isinstance(value, bool) and "string" in types:
            msg += "; YAML reads unquoted yes/no/on/off/true/false as booleans: quote it"
        elif isinstance(value, (int, float)) and "string" in types:
            msg += "; quote it to make it a string"
        return msg

    # bodies ---------------------------------------------------------------------------------------
    def check_bodies(self) -> None:
        plan = self.plan
        for event in plan.events.values():
            if not event.description and not any(b.description for b in event.versions.values()):
                self.report(
                    R.MISSING_DESCRIPTION,
                    event.origin,
                    f"event {event.name!r} has no description; say when it is sent",
                    key=True,
                )
        for table, kind in ((plan.pages, "page"), (plan.screens, "screen")):
            for name, body in table.items():
                if not body.description:
                    self.report(R.MISSING_DESCRIPTION, body.origin, f"{kind} {name!r} has no description", key=True)
        common_props = plan.common.fields.get("properties", {}) if plan.common else {}
        for body in plan.bodies():
            if body.kind == "common":
                continue
            props = dict(body.props)
            if body.kind in ("track", "page", "screen"):
                for name, prop in body.props.items():
                    if name in common_props:
                        line, _ = common_props[name].origin.position(key=True)
                        self.report(
                            R.CONFLICT,
                            prop.origin,
                            f"property {name!r} is already defined in common.properties "
                            f"({common_props[name].origin.file}:{line}), which applies to every message; "
                            "remove it here, or move it out of common",
                            key=True,
                        )
                props.update(common_props)
            add = (
                body.additional_properties
                if body.additional_properties is not None
                else plan.settings.additional_properties
            )
            for i, name in enumerate(body.required):
                if name not in props and add is False:
                    self.report(
                        R.REQUIRED_UNDEFINED,
                        body.origin.child("required", i),
                        f"{name!r} is required but not defined, and additionalProperties is false: "
                        f"no message can pass; define it under '{body.main_field}'",
                    )
            self.check_similar(list(body.props), body.origin.child(body.main_field))

    def check_similar(self, names: list[str], origin: Origin) -> None:
        self.check_similar_at([(name, origin.child(name)) for name in names])

    def check_similar_at(self, items: list[tuple[str, Origin]]) -> None:
        seen: dict[str, str] = {}
        for name, where in items:
            key = normalize(name)
            if key in seen and key:
                self.report(
                    R.SIMILAR_PROPERTY_NAMES,
                    where,
                    f"property {name!r} differs from {seen[key]!r} only in case or separators; keep one name",
                    key=True,
                )
            else:
                seen[key] = name

    # names and conventions ------------------------------------------------------------------------
    def check_names(self) -> None:
        plan, conv = self.plan, self.plan.conventions
        if plan.shared:
            self.check_similar_at([(n, p.origin) for n, p in plan.shared.items()])
        for table, what in ((plan.events, "event"), (plan.pages, "page"), (plan.screens, "screen")):
            seen: dict[str, str] = {}
            for name, item in table.items():
                key = normalize(name)
                if key in seen:
                    self.report(
                        R.SIMILAR_EVENT_NAMES,
                        item.origin,
                        f"{what} {name!r} differs from {seen[key]!r} only in case, spacing or separators; "
                        f"they would split one {what}'s data",
                        key=True,
                    )
                else:
                    seen[key] = name
        self._style(conv.events, [(n, e.origin) for n, e in plan.events.items()], R.EVENT_NAMING, "event name")
        self._style(
            conv.pages,
            [(n, b.origin) for t in (plan.pages, plan.screens) for n, b in t.items()],
            R.EVENT_NAMING,
            "page/screen name",
        )
        prop_style = conv.properties
        trait_style = conv.traits or conv.properties
        for node in self.nodes():
            if node.name is None or node.area == "context" or (node.top and node.area == "shared"):
                continue  # shared names are checked where they are used
            if node.area == "traits":
                if node.name in fmt.RESERVED_TRAITS:
                    continue
                self._style(trait_style, [(node.name, node.origin)], R.PROPERTY_NAMING, "trait name")
            else:
                self._style(prop_style, [(node.name, node.origin)], R.PROPERTY_NAMING, "property name")

    def _style(self, style: Style | None, items: list[tuple[str, Origin]], rule: Rule, what: str) -> None:
        if style is None or style is Style.ANY:
            return
        for name, origin in items:
            if name in self.plan.conventions.exceptions or matches(name, style):
                continue
            fixed = convert(name, style)
            hint = f"; rename it to {fixed!r}" if fixed != name and matches(fixed, style) else ""
            self.report(
                rule,
                origin,
                f"{what} {name!r} is not {DESCRIPTIONS[style]}{hint} (or list it under conventions.exceptions)",
                key=True,
                suggestion=fixed if hint else None,
            )


_META_CACHE: dict[str, list[tuple[tuple, Any, str]]] = {}
_META_VALIDATOR = None


def _strip_annotations(schema: Any) -> Any:
    """Drop free-text annotations (the loader already checked they are strings) so that identical
    definitions share one cached meta-schema result."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("description", "title") and isinstance(value, str) or key.startswith("x-"):
            continue
        if key in fmt.SUB_ONE:
            out[key] = _strip_annotations(value)
        elif key in fmt.SUB_LIST and isinstance(value, list):
            out[key] = [_strip_annotations(v) for v in value]
        elif key in fmt.SUB_MAP and isinstance(value, dict):
            out[key] = {k: _strip_annotations(v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def _meta_errors(schema: dict[str, Any]) -> list[tuple[tuple, Any, str]]:
    """Meta-schema errors of ``schema`` as (path, instance, message), memoised by content: the
    2020-12 meta-schema is slow to evaluate and most definitions repeat ({type: string}, ...)."""
    import json

    global _META_VALIDATOR
    key = json.dumps(schema, sort_keys=True, default=repr)
    hit = _META_CACHE.get(key)
    if hit is not None:
        return hit
    if _META_VALIDATOR is None:
        from jsonschema import Draft202012Validator

        _META_VALIDATOR = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    errors = [(tuple(e.absolute_path), e.instance, e.message) for e in _META_VALIDATOR.iter_errors(schema)]
    if len(_META_CACHE) < 100_000:
        _META_CACHE[key] = errors
    return errors


def check_plan(plan: Plan) -> list[Finding]:
    return PlanChecker(plan).run()
