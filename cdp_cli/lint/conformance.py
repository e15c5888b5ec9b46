"""Plan conformance (``TP``): check messages against a tracking plan's compiled JSON Schemas.

Every message definition of the plan compiles to one standalone schema (:mod:`cdp_cli.plan.compiler`).
Those are compiled once more into jsonschema-rs validators (Rust; ECMA-262 regular expressions, as
ajv and Segment use). A message that passes costs one ``is_valid`` call; only failing messages are
walked with ``iter_errors`` to produce findings. Messages are matched to a schema the way Segment
Protocols does: track by event name and ``context.protocols.event_version`` (missing or unknown
versions use the oldest), identify and group by type, page and screen by name, everything else
against the plan's ``common`` rules.

Messages never contain values unless asked for: the finding says what the plan expected and what
JSON type was found.
"""

from __future__ import annotations

from typing import Any, cast

from cdp_cli.errors import PlanError
from cdp_cli.jsonpath import json_path, json_type
from cdp_cli.rules.codes import (
    CONFORMANCE_ADDITIONAL_PROPERTY,
    CONFORMANCE_DATATYPE_MISMATCH,
    CONFORMANCE_REQUIRED_MISSING,
    CONFORMANCE_RULE_VIOLATION,
    CONFORMANCE_UNKNOWN_EVENT_VERSION,
    CONFORMANCE_UNPLANNED_EVENT,
)
from cdp_cli.rules.event_rules import RUDDERSTACK

_MAX_ERRORS = 20  # per message


def _pii_keys(schema: dict[str, Any]) -> frozenset[str]:
    """Names of properties the plan classifies as personal data (any x-pii but none), at any depth."""
    out: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                for name, sub in props.items():
                    if isinstance(sub, dict) and sub.get("x-pii") not in (None, "none"):
                        out.add(name)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(out)


class Entry:
    __slots__ = ("validator", "schema", "pii", "label")

    def __init__(self, schema: dict[str, Any], label: str):
        import jsonschema_rs

        self.schema = schema
        self.validator = jsonschema_rs.validator_for(schema, validate_formats=True)
        self.pii = _pii_keys(schema)
        self.label = label


class Conformance:
    """The plan's validators, keyed the way messages are matched to them."""

    def __init__(self, plan, safe=lambda name: name) -> None:
        from cdp_cli.plan.compiler import compile_plan

        self.safe = safe  # event names can hold personal data: withheld unless --show-values
        self.plan = plan
        self.allow_unplanned = plan.settings.allow_unplanned_events
        self.track: dict[str, dict[int, Entry]] = {}
        self.pages: dict[str, Entry] = {}
        self.screens: dict[str, Entry] = {}
        self.identify: Entry | None = None
        self.group: Entry | None = None
        self.common: Entry | None = None
        try:
            for c in compile_plan(plan):
                label = c.key
                # compile_plan names every track, page and screen schema: c.name is a str in these kinds
                if c.kind == "track":
                    self.track.setdefault(cast(str, c.name), {})[c.version or 1] = Entry(c.schema, label)
                elif c.kind == "page":
                    self.pages[cast(str, c.name)] = Entry(c.schema, label)
                elif c.kind == "screen":
                    self.screens[cast(str, c.name)] = Entry(c.schema, label)
                elif c.kind == "identify":
                    self.identify = Entry(c.schema, label)
                elif c.kind == "group":
                    self.group = Entry(c.schema, label)
                elif c.kind == "common":
                    self.common = Entry(c.schema, label)
        except ValueError as e:  # jsonschema-rs refuses a schema (a pattern it cannot compile, ...)
            raise PlanError(f"plan {plan.display_name}: a schema cannot be compiled for validation: {e}") from e

    def entry_for(self, msg: dict[str, Any], t: str, emit) -> Entry | None:
        if t == "track":
            name = msg.get("event")
            versions = self.track.get(name) if isinstance(name, str) else None
            if versions is None:
                if isinstance(name, str) and name and not self.allow_unplanned:
                    shown = self.safe(name)
                    emit(
                        CONFORMANCE_UNPLANNED_EVENT,
                        "$.event",
                        f"event {shown if shown != name else repr(name)} is not in the plan {self.plan.display_name!r}",
                        expected="a planned event",
                        found=shown,
                        violation_type=RUDDERSTACK[CONFORMANCE_UNPLANNED_EVENT],
                    )
                return self.common
            if len(versions) == 1 and not _has_version(msg):
                return next(iter(versions.values()))
            return self._version(msg, name, versions, emit)
        if t == "identify":
            return self.identify or self.common
        if t == "group":
            return self.group or self.common
        if t == "page" or t == "screen":
            table = self.pages if t == "page" else self.screens
            name = msg.get("name")
            if isinstance(name, str) and name:
                entry = table.get(name)
                if entry is not None:
                    return entry
                if table and not self.allow_unplanned:
                    shown = self.safe(name)
                    emit(
                        CONFORMANCE_UNPLANNED_EVENT,
                        "$.name",
                        f"{t} {shown if shown != name else repr(name)} is not in the plan {self.plan.display_name!r}",
                        expected=f"a planned {t}",
                        found=shown,
                        violation_type=RUDDERSTACK[CONFORMANCE_UNPLANNED_EVENT],
                    )
            return self.common
        return self.common

    def _version(self, msg, name, versions, emit) -> Entry:
        ctx = msg.get("context")
        raw = None
        if isinstance(ctx, dict) and isinstance(ctx.get("protocols"), dict):
            raw = ctx["protocols"].get("event_version")
        oldest = versions[min(versions)]
        if raw is None:
            return oldest
        if isinstance(raw, int) and not isinstance(raw, bool) and raw in versions:
            return versions[raw]
        emit(
            CONFORMANCE_UNKNOWN_EVENT_VERSION,
            "$.context.protocols.event_version",
            f"event {name!r} has no version {raw!r} in the plan (versions {', '.join(map(str, sorted(versions)))}); "
            f"checked against version {min(versions)}",
            expected=f"one of {sorted(versions)}",
            found=repr(raw) if isinstance(raw, (int, str)) else json_type(raw, integers=True),
            violation_type=RUDDERSTACK[CONFORMANCE_UNKNOWN_EVENT_VERSION],
        )
        return oldest

    def check(self, msg: dict[str, Any], t: str, emit) -> Entry | None:
        entry = self.entry_for(msg, t, emit)
        if entry is None:
            return None
        target = msg
        if t == "identify" or t == "group":
            ctx = msg.get("context")
            if type(ctx) is dict and type(ctx.get("traits")) is dict:  # rudder-sdk-python sends traits here
                merged = dict(ctx["traits"])
                if type(msg.get("traits")) is dict:
                    merged.update(msg["traits"])
                target = {**msg, "traits": merged}
        if entry.validator.is_valid(target):
            return entry
        described = []
        for err in entry.validator.iter_errors(target):
            described.extend(_describe(err, entry.schema, self.safe))
            if len(described) >= _MAX_ERRORS:
                break
        described.sort(key=lambda d: (d[1], d[0]))  # by JSON path: stable, readable order
        for code, path, message, expected, found, value in described:
            emit(
                code,
                path,
                f"{message} (plan: {entry.label})",
                expected=expected,
                found=found,
                value=value,
                violation_type=RUDDERSTACK[code],
            )
        return entry


def _has_version(msg) -> bool:
    ctx = msg.get("context")
    return isinstance(ctx, dict) and isinstance(ctx.get("protocols"), dict) and "event_version" in ctx["protocols"]


def _fragment(schema: dict[str, Any], path: list) -> Any:
    node: Any = schema
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _short(value: Any, limit: int = 120) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_BOUNDS = {
    "minimum": "is below the minimum {}",
    "maximum": "is above the maximum {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "minLength": "is shorter than {} characters",
    "maxLength": "is longer than {} characters",
    "minItems": "has fewer than {} items",
    "maxItems": "has more than {} items",
    "minProperties": "has fewer than {} properties",
    "maxProperties": "has more than {} properties",
    "multipleOf": "is not a multiple of {}",
    "uniqueItems": "has duplicate items (the plan says uniqueItems: {})",
}


def _withhold(parts: list, safe) -> list:
    """Keys from the data can hold personal data ({"ada@example.com": 1}): withhold them in paths."""
    return [p if not isinstance(p, str) or not safe(p).startswith("(withheld") else "(withheld)" for p in parts]


def _describe(err, schema, safe=lambda name: name):
    """(code, path, message, expected, found, value) tuples for one jsonschema-rs error."""
    spath = list(err.schema_path)
    ipath = _withhold(list(err.instance_path), safe)
    keyword = spath[-1] if spath else ""
    parent = _fragment(schema, spath[:-1])
    value = err.instance
    where = json_path(ipath)
    if keyword == "required":
        prop = getattr(err.kind, "property", None)
        name = prop if isinstance(prop, str) else str(prop)
        p = json_path(ipath + [name])
        yield (
            CONFORMANCE_REQUIRED_MISSING,
            p,
            f"{p}: required {'trait' if 'traits' in ipath else 'property'} {name!r} is missing",
            "present",
            "missing",
            None,
        )
    elif keyword == "additionalProperties" or keyword == "unevaluatedProperties":
        extra = getattr(err.kind, "unexpected", None) or []
        for name in extra:
            shown = _withhold([name], safe)[0]
            p = json_path(ipath + [shown])
            label = repr(name) if shown == name else "a property whose name holds personal data"
            yield (
                CONFORMANCE_ADDITIONAL_PROPERTY,
                p,
                f"{p}: {label} is not in the plan, which forbids unplanned properties here",
                "no unplanned property",
                shown,
                value.get(name) if isinstance(value, dict) else None,
            )
    elif keyword == "type":
        expected = parent.get("type") if isinstance(parent, dict) else None
        exp = " or ".join(expected) if isinstance(expected, list) else str(expected)
        found = json_type(value, integers=True)
        yield CONFORMANCE_DATATYPE_MISMATCH, where, f"{where}: expected {exp}, found {found}", exp, found, value
    elif keyword == "enum":
        allowed = parent.get("enum") if isinstance(parent, dict) else None
        yield (
            CONFORMANCE_RULE_VIOLATION,
            where,
            f"{where}: not one of the allowed values {_short(allowed)}",
            _short(allowed),
            json_type(value, integers=True),
            value,
        )
    elif keyword == "const":
        c = parent.get("const") if isinstance(parent, dict) else None
        yield (
            CONFORMANCE_RULE_VIOLATION,
            where,
            f"{where}: must be {_short(c)}",
            _short(c),
            json_type(value, integers=True),
            value,
        )
    elif keyword == "pattern":
        pat = parent.get("pattern") if isinstance(parent, dict) else None
        yield (
            CONFORMANCE_RULE_VIOLATION,
            where,
            f"{where}: does not match the pattern {pat}",
            f"pattern {pat}",
            json_type(value, integers=True),
            value,
        )
    elif keyword == "format":
        fmt = parent.get("format") if isinstance(parent, dict) else None
        yield (
            CONFORMANCE_RULE_VIOLATION,
            where,
            f"{where}: is not a valid {fmt}",
            f"format {fmt}",
            json_type(value, integers=True),
            value,
        )
    elif keyword in _BOUNDS:
        bound = parent.get(keyword) if isinstance(parent, dict) else None
        yield (
            CONFORMANCE_RULE_VIOLATION,
            where,
            f"{where}: {_BOUNDS[keyword].format(bound)}",
            f"{keyword} {bound}",
            json_type(value, integers=True),
            value,
        )
    else:
        yield (
            CONFORMANCE_RULE_VIOLATION,
            where,
            f"{where}: breaks the plan's {keyword!r} rule",
            keyword,
            json_type(value, integers=True),
            value,
        )
