"""Identity configuration: which identifiers exist, where each is read, and Segment-style protections.

Without a file, the defaults follow Segment Unify (its documented default identifiers, limits and
priorities); a YAML file (``cdp profiles resolve --identity identity.yaml``) changes any of it::

    version: 1
    identifiers:
      user_id: {limit: 1, priority: 1}               # change a default type
      anonymous_id: {limit: 5, window: weekly}       # N values per sliding window
      crm_id:                                        # add a type of your own
        paths: [properties.crm_id, context.traits.crm_id]
        blocked: [{regex: "^test-"}]
      ios.idfa: {enabled: false}                     # drop a default type
    blocked: [void, abc123]                          # added to the defaults, for every type
    alias: link                                      # or ignore
    numbers: normalize                               # or reject

A path is dotted (``context.traits.email``) or a mapping with a condition:
``{path: context.device.id, when: {context.device.type: ios}}``. Priorities: lower wins; types
without one follow user_id (1) and email (2) in alphabetical order, as Segment orders them.

Every mistake is a :class:`~cdp_cli.errors.ConfigError` naming the file, line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from cdp_cli import definitions as defs
from cdp_cli.definitions import Definition, Invalid, given, invalid, parse_definition, parsed

#: Sliding windows for limits, in microseconds (0: ever).
WINDOWS = {
    "ever": 0,
    "daily": 86_400_000_000,
    "weekly": 7 * 86_400_000_000,
    "monthly": 30 * 86_400_000_000,
    "annually": 365 * 86_400_000_000,
}

#: Values that are never identifiers (compared after normalisation, ignoring case): placeholders SDKs
#: and developers send when the real value is missing (Segment's suggested list, PostHog's, and a few
#: seen in the wild). The regex below also covers "", "0", "-1", "000000" and the nil UUID.
DEFAULT_BLOCKED_EXACT = (
    "null",
    "undefined",
    "anonymous",
    "none",
    "nil",
    "nan",
    "true",
    "false",
    "[object object]",
    "guest",
    "unknown",
    "n/a",
    "distinctid",
    "distinct_id",
    "not_authenticated",
    "0",
    "-1",
    "{}",
    "[]",
)
DEFAULT_BLOCKED_REGEX = (r"^[0-]*$",)

#: Segment Unify's default identifiers and where it reads them.
DEFAULT_TYPES: dict[str, dict[str, Any]] = {
    "user_id": {"paths": ["userId"], "limit": 1, "priority": 1},
    "email": {"paths": ["traits.email", "context.traits.email"], "priority": 2, "normalize": ["trim", "lowercase"]},
    "anonymous_id": {"paths": ["anonymousId"]},
    "phone": {"paths": ["traits.phone", "context.traits.phone"]},
    "android.id": {"paths": [{"path": "context.device.id", "when": {"context.device.type": "android"}}]},
    "ios.id": {"paths": [{"path": "context.device.id", "when": {"context.device.type": "ios"}}]},
    "android.idfa": {
        "paths": [
            {
                "path": "context.device.advertisingId",
                "when": {"context.device.type": "android", "context.device.adTrackingEnabled": True},
            }
        ]
    },
    "ios.idfa": {
        "paths": [
            {
                "path": "context.device.advertisingId",
                "when": {"context.device.type": "ios", "context.device.adTrackingEnabled": True},
            }
        ]
    },
    "android.push_token": {"paths": [{"path": "context.device.token", "when": {"context.device.type": "android"}}]},
    "ios.push_token": {"paths": [{"path": "context.device.token", "when": {"context.device.type": "ios"}}]},
    "ga_client_id": {
        "paths": ["integrations.Google Analytics.clientId", "context.integrations.Google Analytics.clientId"]
    },
    # A group id names an account, not a person: recorded on profiles, never used to join them.
    "group_id": {"paths": ["groupId", "context.groupId"], "match": False},
}
DEFAULT_LIMIT = 5
EXTERNAL_PRIORITY = 1000  # context.externalIds types not configured come after every configured one
_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Path_:
    """Where to read a value: dotted ``parts``, when every ``when`` path holds the given value."""

    parts: tuple[str, ...]
    when: tuple[tuple[tuple[str, ...], Any], ...] = ()

    def __str__(self) -> str:
        text = ".".join(self.parts)
        if self.when:
            text += " when " + ", ".join(f"{'.'.join(p)} = {v!r}" for p, v in self.when)
        return text


@dataclass
class IdType:
    name: str
    paths: list[Path_]
    limit: int | None = DEFAULT_LIMIT  # None: no limit
    window: str = "ever"
    priority: int = 0
    blocked_exact: frozenset[str] = frozenset()
    blocked_regex: tuple[re.Pattern, ...] = ()
    trim: bool = True
    lowercase: bool = False
    match: bool = True  # False: recorded on the profile, never used to find or join profiles
    external: bool = False  # discovered in context.externalIds at run time

    @property
    def window_us(self) -> int:
        return WINDOWS[self.window]

    def describe_limit(self) -> str:
        if self.limit is None:
            return "no limit"
        return f"{self.limit} {'ever' if self.window == 'ever' else self.window}"


@dataclass
class IdentityConfig:
    types: list[IdType] = field(default_factory=list)
    blocked_exact: frozenset[str] = frozenset()
    blocked_regex: tuple[re.Pattern, ...] = ()
    external_ids: bool = True
    external_limit: int = DEFAULT_LIMIT
    alias: str = "link"
    numbers: str = "normalize"
    max_length: int = 256
    super_profile: int = 50
    file: str | None = None

    def by_name(self) -> dict[str, IdType]:
        return {t.name: t for t in self.types}

    def external_type(self, name: str) -> IdType:
        """A type first seen in ``context.externalIds`` (Segment adds those with the default limit)."""
        return IdType(name, [], limit=self.external_limit or None, priority=EXTERNAL_PRIORITY, external=True)  # 0: none

    def unrestricted(self) -> IdentityConfig:
        """The same identifiers with no limits (plain connected components, as RudderStack Profiles)."""
        import copy

        c = copy.deepcopy(self)
        for t in c.types:
            t.limit = None
        c.external_limit = 0
        return c


# --- the file, declared (cdp_cli.definitions reads it: unknown keys, types, file:line:col) ----------


def _parse_path(value: Any) -> Path_:
    if isinstance(value, str):
        if not value or any(not p for p in value.split(".")):
            raise invalid(f"path {value!r} is not a dotted path such as context.traits.email")
        return Path_(tuple(value.split(".")))
    if isinstance(value, dict):
        unknown = set(value) - {"path", "when"}
        if unknown or "path" not in value:
            raise invalid("a conditional path is {path: a.b.c, when: {x.y: value}}")
        base = _located(_parse_path, value["path"], "path")
        when = value.get("when") or {}
        if not isinstance(when, dict):
            raise invalid("'when' maps dotted paths to the value they must hold", "when")
        conds = [(_located(_parse_path, k, "when", k).parts, v) for k, v in when.items()]
        return Path_(base.parts, tuple(conds))
    raise invalid("a path is a dotted string or {path: ..., when: {...}}")


def _located(parse, value: Any, *path: str | int) -> Any:
    """``parse(value)`` for a part of a value: its problems are at ``path`` within the value."""
    try:
        return parse(value)
    except Invalid as e:
        raise Invalid(e.message, path + e.path) from None


def _parse_blocked(value: Any) -> tuple[frozenset[str], tuple[re.Pattern, ...]]:
    if not isinstance(value, list):
        raise invalid("'blocked' is a list of values and {regex: ...} patterns")
    exact: set[str] = set()
    regex: list[re.Pattern] = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            if set(item) != {"regex"} or not isinstance(item["regex"], str):
                raise invalid("a blocked pattern is {regex: '^test-'}", i)
            try:
                regex.append(re.compile(item["regex"]))
            except re.error as e:
                raise invalid(f"invalid regex {item['regex']!r}: {e}", i, "regex") from None
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            exact.add(str(item).strip().casefold())
        else:
            raise invalid(f"a blocked value is a string or {{regex: ...}}, not {type(item).__name__}", i)
    return frozenset(exact), tuple(regex)


def _type_name(name: Any) -> str:
    if not isinstance(name, str) or not _TYPE_NAME.match(name):
        raise invalid(f"identifier type {name!r}: use letters, digits, '_', '.' or '-' (at most 64)")
    return name


PathSpec = Annotated[Path_, parsed(_parse_path, "a dotted path or {path: ..., when: {...}}")]
Blocked = Annotated[tuple, parsed(_parse_blocked, "a list of values and {regex: ...} patterns")]
TypeName = Annotated[str, parsed(_type_name, "a name of letters, digits, '_', '.' or '-'")]


class IdentifierSpec(Definition):
    """One identifier type (``identifiers: {crm_id: {...}}``); what it leaves out keeps the default."""

    not_a_mapping = "an identifier type is a mapping such as {paths: [traits.crm_id], limit: 1}"
    paths: list[PathSpec] | None = defs.field(None, message="paths is a non-empty list of dotted paths")
    limit: int | None = defs.field(DEFAULT_LIMIT, ge=1)
    window: Literal["ever", "daily", "weekly", "monthly", "annually"] = "ever"
    priority: int = defs.field(0, ge=1)  # 0: after the explicit ones, alphabetically
    blocked: Blocked = (frozenset(), ())
    normalize: list[Literal["trim", "lowercase"]] = defs.field(
        default_factory=lambda: ["trim"], message="normalize is a list of: trim, lowercase"
    )
    match: bool = defs.field(True, message="match is true or false")
    enabled: bool = defs.field(True, message="enabled is true or false")

    def check(self) -> None:
        if self.enabled and not self.paths and "paths" in given(self):
            raise invalid("paths is a non-empty list of dotted paths", "paths")


class ExternalIds(Definition):
    enabled: bool = defs.field(True, message="enabled is true or false")
    limit: int = defs.field(DEFAULT_LIMIT, ge=1)


class IdentityFile(Definition):
    """The identity file (``--identity identity.yaml``)."""

    not_a_mapping = "an identity file holds a mapping (identifiers, blocked, alias, ...)"
    version: Literal[1] = defs.field(1, message=lambda v: f"unsupported version {v!r}; this cdp reads version 1")
    identifiers: dict[TypeName, IdentifierSpec | None] | None = defs.field(
        None, message="identifiers maps type names to {paths, limit, window, priority, blocked, ...}"
    )
    blocked: Blocked = (frozenset(), ())
    external_ids: bool | ExternalIds = defs.field(True, message="external_ids is true, false or {enabled, limit}")
    alias: Literal["link", "ignore"] = defs.field(
        "link", message="alias is 'link' (previousId joins userId) or 'ignore'"
    )
    numbers: Literal["normalize", "reject"] = defs.field(
        "normalize", message="numbers is 'normalize' (42 -> \"42\") or 'reject'"
    )
    max_length: int = defs.field(256, ge=1)
    super_profile: int = defs.field(50, ge=2)

    def check(self) -> None:
        for name, spec in (self.identifiers or {}).items():
            if name not in DEFAULT_TYPES and (spec is None or "paths" not in given(spec)):
                raise invalid(f"{name} is not a default identifier type: give its paths", "identifiers", name)


_DEFAULT_SPECS: dict[str, IdentifierSpec] = {}


def _default_spec(name: str) -> IdentifierSpec:
    spec = _DEFAULT_SPECS.get(name)
    if spec is None:
        spec = _DEFAULT_SPECS[name] = parse_definition(DEFAULT_TYPES[name], IdentifierSpec, "<defaults>")
    return spec


def build_config(data: Any, where=None, file: str | None = None) -> IdentityConfig:
    """An :class:`IdentityConfig` from parsed YAML. ``where`` locates errors: a
    :class:`~cdp_cli.yamlsrc.YamlDocument` or ``f(path, key) -> (line, col)``; without it errors
    name the dotted path."""
    spec = parse_definition(data or {}, IdentityFile, file or "<identity>", where, point_at_keys=True)
    cfg = IdentityConfig(
        file=file, alias=spec.alias, numbers=spec.numbers, max_length=spec.max_length, super_profile=spec.super_profile
    )
    exact, regex = spec.blocked
    cfg.blocked_exact = frozenset(DEFAULT_BLOCKED_EXACT) | exact
    cfg.blocked_regex = tuple(re.compile(r) for r in DEFAULT_BLOCKED_REGEX) + regex
    if isinstance(spec.external_ids, bool):
        cfg.external_ids = spec.external_ids
    else:
        cfg.external_ids, cfg.external_limit = spec.external_ids.enabled, spec.external_ids.limit

    merged: dict[str, dict[str, Any]] = {}  # name -> field values: the default type's, then the file's
    for name in DEFAULT_TYPES:
        default = _default_spec(name)
        merged[name] = {f: getattr(default, f) for f in given(default)}
    for name, user in (spec.identifiers or {}).items():
        values = merged.setdefault(name, {})
        if user is not None:
            values.update({f: getattr(user, f) for f in given(user)})

    types: list[IdType] = []
    for name, values in merged.items():
        if not values.get("enabled", True):
            continue
        t = IdType(
            name,
            list(values["paths"]),
            limit=values.get("limit", DEFAULT_LIMIT),
            window=values.get("window", "ever"),
            priority=values.get("priority", 0),
            match=values.get("match", True),
        )
        if "blocked" in values:
            t.blocked_exact, t.blocked_regex = values["blocked"]
        norm = values.get("normalize", ["trim"])
        t.lowercase, t.trim = "lowercase" in norm, "trim" in norm
        types.append(t)
    # Priorities: explicit ones first, then the rest alphabetically (Segment: user_id 1, email 2, others from 3).
    taken = sorted({t.priority for t in types if t.priority})
    nxt = (max(taken) if taken else 0) + 1
    for t in sorted((t for t in types if not t.priority), key=lambda t: t.name):
        t.priority = nxt
        nxt += 1
    types.sort(key=lambda t: (t.priority, t.name))
    cfg.types = types
    return cfg


def load_identity_config(path: str | Path | None) -> IdentityConfig:
    """The defaults, or ``path`` read strictly (errors name file, line and column)."""
    if path is None:
        return build_config({})
    from cdp_cli.yamlsrc import load_strict

    doc = load_strict(Path(path), "identity file")
    return build_config(doc.data if doc is not None else {}, doc, str(path))
