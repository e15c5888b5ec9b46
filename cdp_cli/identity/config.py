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
from typing import Any

from cdp_cli.errors import ConfigError

#: Sliding windows for limits, in microseconds (0: ever).
WINDOWS = {"ever": 0, "daily": 86_400_000_000, "weekly": 7 * 86_400_000_000,
           "monthly": 30 * 86_400_000_000, "annually": 365 * 86_400_000_000}

#: Values that are never identifiers (compared after normalisation, ignoring case): placeholders SDKs
#: and developers send when the real value is missing (Segment's suggested list, PostHog's, and a few
#: seen in the wild). The regex below also covers "", "0", "-1", "000000" and the nil UUID.
DEFAULT_BLOCKED_EXACT = (
    "null", "undefined", "anonymous", "none", "nil", "nan", "true", "false", "[object object]",
    "guest", "unknown", "n/a", "distinctid", "distinct_id", "not_authenticated", "0", "-1", "{}", "[]",
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
    "android.idfa": {"paths": [{"path": "context.device.advertisingId",
                                "when": {"context.device.type": "android", "context.device.adTrackingEnabled": True}}]},
    "ios.idfa": {"paths": [{"path": "context.device.advertisingId",
                            "when": {"context.device.type": "ios", "context.device.adTrackingEnabled": True}}]},
    "android.push_token": {"paths": [{"path": "context.device.token", "when": {"context.device.type": "android"}}]},
    "ios.push_token": {"paths": [{"path": "context.device.token", "when": {"context.device.type": "ios"}}]},
    "ga_client_id": {"paths": ["integrations.Google Analytics.clientId", "context.integrations.Google Analytics.clientId"]},
    # A group id names an account, not a person: recorded on profiles, never used to join them.
    "group_id": {"paths": ["groupId", "context.groupId"], "match": False},
}
DEFAULT_LIMIT = 5
EXTERNAL_PRIORITY = 1000  # context.externalIds types not configured come after every configured one
_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_TYPE_KEYS = {"paths", "limit", "window", "priority", "blocked", "normalize", "match", "enabled"}
_TOP_KEYS = {"version", "identifiers", "blocked", "external_ids", "alias", "numbers", "max_length", "super_profile"}


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

    def unrestricted(self) -> "IdentityConfig":
        """The same identifiers with no limits (plain connected components, as RudderStack Profiles)."""
        import copy

        c = copy.deepcopy(self)
        for t in c.types:
            t.limit = None
        c.external_limit = 0
        return c


def _parse_path(value: Any, where, loc) -> Path_:
    if isinstance(value, str):
        if not value or any(not p for p in value.split(".")):
            raise where(loc, f"path {value!r} is not a dotted path such as context.traits.email")
        return Path_(tuple(value.split(".")))
    if isinstance(value, dict):
        unknown = set(value) - {"path", "when"}
        if unknown or "path" not in value:
            raise where(loc, "a conditional path is {path: a.b.c, when: {x.y: value}}")
        base = _parse_path(value["path"], where, loc + ("path",))
        when = value.get("when") or {}
        if not isinstance(when, dict):
            raise where(loc + ("when",), "'when' maps dotted paths to the value they must hold")
        conds = []
        for k, v in when.items():
            conds.append((_parse_path(k, where, loc + ("when", k)).parts, v))
        return Path_(base.parts, tuple(conds))
    raise where(loc, "a path is a dotted string or {path: ..., when: {...}}")


def _parse_blocked(value: Any, where, loc) -> tuple[set[str], list[re.Pattern]]:
    if not isinstance(value, list):
        raise where(loc, "'blocked' is a list of values and {regex: ...} patterns")
    exact: set[str] = set()
    regex: list[re.Pattern] = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            if set(item) != {"regex"} or not isinstance(item["regex"], str):
                raise where(loc + (i,), "a blocked pattern is {regex: '^test-'}")
            try:
                regex.append(re.compile(item["regex"]))
            except re.error as e:
                raise where(loc + (i, "regex"), f"invalid regex {item['regex']!r}: {e}") from None
        elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
            exact.add(str(item).strip().casefold())
        else:
            raise where(loc + (i,), f"a blocked value is a string or {{regex: ...}}, not {type(item).__name__}")
    return exact, regex


def _window(value: Any, where, loc) -> str:
    if not isinstance(value, str) or value not in WINDOWS:
        raise where(loc, f"window must be one of {', '.join(WINDOWS)}")
    return value


def _int(value: Any, where, loc, least: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise where(loc, f"{what} must be an integer of at least {least}")
    return value


def build_config(data: Any, where=None, file: str | None = None) -> IdentityConfig:
    """An :class:`IdentityConfig` from parsed YAML (``where(path, message)`` makes located errors)."""
    if where is None:
        def where(loc, message):  # noqa: E306 - plain data without positions
            return ConfigError(f"{file or '<identity>'}: {'.'.join(map(str, loc)) or '(top)'}: {message}")
    data = data or {}
    if not isinstance(data, dict):
        raise where((), "an identity file holds a mapping (identifiers, blocked, alias, ...)")
    for key in data:
        if key not in _TOP_KEYS:
            raise where((key,), f"unknown key {key!r}; known keys: {', '.join(sorted(_TOP_KEYS))}")
    if "version" in data and data["version"] != 1:
        raise where(("version",), f"unsupported version {data['version']!r}; this cdp reads version 1")
    cfg = IdentityConfig(file=file)
    exact, regex = set(DEFAULT_BLOCKED_EXACT), [re.compile(r) for r in DEFAULT_BLOCKED_REGEX]
    if "blocked" in data:
        e, r = _parse_blocked(data["blocked"], where, ("blocked",))
        exact |= e
        regex += r
    cfg.blocked_exact, cfg.blocked_regex = frozenset(exact), tuple(regex)
    if "alias" in data:
        if data["alias"] not in ("link", "ignore"):
            raise where(("alias",), "alias is 'link' (previousId joins userId) or 'ignore'")
        cfg.alias = data["alias"]
    if "numbers" in data:
        if data["numbers"] not in ("normalize", "reject"):
            raise where(("numbers",), "numbers is 'normalize' (42 -> \"42\") or 'reject'")
        cfg.numbers = data["numbers"]
    if "max_length" in data:
        cfg.max_length = _int(data["max_length"], where, ("max_length",), 1, "max_length")
    if "super_profile" in data:
        cfg.super_profile = _int(data["super_profile"], where, ("super_profile",), 2, "super_profile")
    ext = data.get("external_ids", {})
    if isinstance(ext, bool):
        cfg.external_ids = ext
    elif isinstance(ext, dict):
        for k, v in ext.items():
            if k == "enabled":
                if not isinstance(v, bool):
                    raise where(("external_ids", k), "enabled is true or false")
                cfg.external_ids = v
            elif k == "limit":
                cfg.external_limit = _int(v, where, ("external_ids", k), 1, "limit")
            else:
                raise where(("external_ids", k), "external_ids takes enabled and limit")
    else:
        raise where(("external_ids",), "external_ids is true, false or {enabled, limit}")

    raw_types: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULT_TYPES.items()}
    given = data.get("identifiers") or {}
    if not isinstance(given, dict):
        raise where(("identifiers",), "identifiers maps type names to {paths, limit, window, priority, blocked, ...}")
    for name, spec in given.items():
        loc = ("identifiers", name)
        if not isinstance(name, str) or not _TYPE_NAME.match(name):
            raise where(loc, f"identifier type {name!r}: use letters, digits, '_', '.' or '-' (at most 64)")
        spec = spec if spec is not None else {}
        if not isinstance(spec, dict):
            raise where(loc, "an identifier type is a mapping such as {paths: [traits.crm_id], limit: 1}")
        for k in spec:
            if k not in _TYPE_KEYS:
                raise where(loc + (k,), f"unknown key {k!r}; an identifier type takes {', '.join(sorted(_TYPE_KEYS))}")
        if name not in raw_types and "paths" not in spec:
            raise where(loc, f"{name} is not a default identifier type: give its paths")
        merged = raw_types.setdefault(name, {})
        merged.update(spec)
        merged["_loc"] = loc

    types: list[IdType] = []
    for name, spec in raw_types.items():
        loc = spec.get("_loc", ("identifiers", name))
        enabled = spec.get("enabled", True)
        if not isinstance(enabled, bool):
            raise where(loc + ("enabled",), "enabled is true or false")
        if not enabled:
            continue
        paths_v = spec.get("paths")
        if not isinstance(paths_v, list) or not paths_v:
            raise where(loc + ("paths",), "paths is a non-empty list of dotted paths")
        t = IdType(name, [_parse_path(p, where, loc + ("paths", i)) for i, p in enumerate(paths_v)])
        if "limit" in spec:
            t.limit = None if spec["limit"] is None else _int(spec["limit"], where, loc + ("limit",), 1, "limit")
        else:
            t.limit = DEFAULT_LIMIT
        if "window" in spec:
            t.window = _window(spec["window"], where, loc + ("window",))
        if "priority" in spec:
            t.priority = _int(spec["priority"], where, loc + ("priority",), 1, "priority")
        if "blocked" in spec:
            e, r = _parse_blocked(spec["blocked"], where, loc + ("blocked",))
            t.blocked_exact, t.blocked_regex = frozenset(e), tuple(r)
        norm = spec.get("normalize", ["trim"])
        if not isinstance(norm, list) or any(n not in ("trim", "lowercase") for n in norm):
            raise where(loc + ("normalize",), "normalize is a list of: trim, lowercase")
        t.lowercase = "lowercase" in norm
        t.trim = "trim" in norm
        match = spec.get("match", True)
        if not isinstance(match, bool):
            raise where(loc + ("match",), "match is true or false")
        t.match = match
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
    path = Path(path)
    from cdp_cli.yamlsrc import load_strict

    doc = load_strict(path, "identity file")

    def where(loc, message):
        line, col = doc.where(tuple(loc), key=True) if doc is not None else (0, 0)
        return ConfigError(f"{path}:{line}:{col}: {message}" if line else f"{path}: {message}")

    return build_config(doc.data if doc is not None else {}, where, str(path))
