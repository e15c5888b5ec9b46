"""The fast path of ``cdp events lint``: prove, at Rust speed, that a message has no findings.

Most messages of a real log are clean. For each (type, event, version) the linter compiles one JSON
Schema that combines a *conservative* version of every per-message rule (spec, naming, privacy) with
the plan's own schema, and validates the message with jsonschema-rs. A few checks that a schema
cannot express (future/old timestamps, clock skew, size, event-name verdicts, plan version
selection) are done here in Python on plain strings.

The contract is one-sided: if :meth:`FastPath.clean` says True, the full Python checks would find
nothing; when it says False, the full checks run and decide. So the schemas may be stricter than the
rules (ASCII-only key patterns, digits in keys, any ``@`` in a string, ...) but never looser. A test
lints messy corpora with and without the fast path and requires identical findings.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cdp_cli.events.model import KNOWN_FIELDS, RESERVED_GROUP_TRAITS, RESERVED_TRAITS, TIMESTAMP_FIELDS
from cdp_cli.lint.payload import EXEMPT_SUBKEYS
from cdp_cli.naming import Style
from cdp_cli.rules.codes import SPEC_CLOCK_SKEW, SPEC_TIMESTAMP_IN_FUTURE, SPEC_TIMESTAMP_TOO_OLD

if TYPE_CHECKING:
    from cdp_cli.lint.conformance import Conformance, Entry
    from cdp_cli.lint.context import LintContext
    from cdp_cli.lint.payload import PayloadChecks
    from cdp_cli.lint.spec import SpecChecks

# Strings that might hold personal data: any '@', a run of 7+ digits and separators, IPv6-ish colons.
# \p{Nd}: Unicode digits, as Python's \d (ECMA \d is ASCII)
PII_SUSPECT = r"@|\p{Nd}[\p{Nd} .()-]{5,}\p{Nd}|::|(:[0-9A-Fa-f]*){7}"
# Timestamps the Python checks accept without a finding (timezone required), ASCII digits only.
TS_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
DATE_PATTERN = TS_PATTERN  # reserved date traits: a full date-time passes both checks
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# Keys that certainly match a style (subsets of cdp_cli.naming.matches; no digits: those go the slow way).
KEY_PATTERNS = {
    Style.SNAKE_CASE: r"^[a-z]+(_[a-z]+)*$",
    Style.CAMEL_CASE: r"^[a-z]+([A-Z][a-z]+)*$",
    Style.PASCAL_CASE: r"^([A-Z][a-z]+)+$",
    Style.KEBAB_CASE: r"^[a-z]+(-[a-z]+)*$",
    Style.TITLE_CASE: r"^[A-Z][a-z]+( [A-Z][a-z]+)*$",
    Style.ANY: r"^[A-Za-z]+([_ -][A-Za-z]+)*$",
}
_STR_OR_NULL = {"type": ["string", "null"]}
_NUM_OR_NULL = {"anyOf": [{"type": "null"}, {"type": "number", "maximum": 99_999_999}]}


def _nonblank() -> dict:
    # Python's str.isspace also counts \x1c-\x1f and U+0085; Rust's \s does not (checked over every
    # code point in tests/unit/test_lint_runner.py).
    return {"type": "string", "pattern": r"[^\s\x1c-\x1f\x85]"}


class FastPath:
    """The fast path of one run, built from the run's context and its spec, payload and conformance
    checks (their public settings and :meth:`PayloadChecks.event_verdict`)."""

    def __init__(
        self, ctx: LintContext, spec: SpecChecks, payload: PayloadChecks, conformance: Conformance | None
    ) -> None:
        on = ctx.on
        self.spec = spec
        self.payload = payload
        self.privacy = payload.privacy
        self.key_rules = payload.keys
        self.max_bytes = spec.max_bytes
        self.max_skew = spec.max_skew
        self.future = spec.future
        self.oldest = spec.oldest
        # isoformat pads years below 1000 to four digits (strftime's %Y does not), so these compare as text
        self.future19 = spec.future.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        self.oldest19 = spec.oldest.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        self.time_rules = on[SPEC_TIMESTAMP_IN_FUTURE] or on[SPEC_TIMESTAMP_TOO_OLD] or on[SPEC_CLOCK_SKEW]
        self.same_day_ok = spec.max_skew.total_seconds() >= 86400
        self.conformance = conformance
        self.cache: dict[tuple, Any] = {}
        self.routes: dict[tuple, Any] = {}  # (type, name) -> False or (validator, versions)
        # Naming exceptions skip the style check, not the dynamic-key check: only letter-only ones
        # (which cannot look dynamic) may bypass both in the schema; the rest go the slow way.
        self.exceptions = sorted(e for e in payload.exceptions if re.fullmatch(r"[A-Za-z_ ]{1,31}", e))

    def precompile(self) -> None:
        """Compile every validator up front (before worker processes fork, so they share them)."""
        conf = self.conformance
        for t in ("track", "page", "screen", "identify", "group", "alias"):
            if conf is None:
                self._validator((t, None), t, None)
                continue
            entries: list[Entry | None] = [conf.common] if conf.common is not None else [None]
            if t == "track":
                entries += [e for versions in conf.track.values() for e in versions.values()]
            elif t == "page":
                entries += list(conf.pages.values())
            elif t == "screen":
                entries += list(conf.screens.values())
            elif t == "identify" and conf.identify is not None:
                entries = [conf.identify]
            elif t == "group" and conf.group is not None:
                entries = [conf.group]
            for e in entries:
                self._validator((t, e.label if e is not None else None), t, e)

    # --- schema pieces ---------------------------------------------------------------------------
    def _key_ok(self, style: Style, allowed: list[str]) -> dict:
        # Letters only, under 32 characters: such a key cannot hold a number, date, email, URL or a
        # UUID (32 hex digits), so the dynamic-key rule has nothing to say about it.
        ok: dict[str, Any] = {"pattern": KEY_PATTERNS[style], "maxLength": 31}
        names = sorted(set(allowed) | set(self.exceptions))
        return {"anyOf": [{"enum": names}, ok]} if names else ok

    def _value_defs(self, style: Style) -> dict:
        ref = {"$ref": "#/$defs/v"}
        obj: dict[str, Any] = {"type": "object", "additionalProperties": ref}
        if self.key_rules:
            obj["propertyNames"] = self._key_ok(style, sorted(EXEMPT_SUBKEYS))
        string: dict[str, Any] = {"type": "string"}
        if self.privacy:
            string["not"] = {"pattern": PII_SUSPECT}
        return {
            "v": {
                "anyOf": [
                    string,
                    {"type": ["boolean", "null"]},
                    {"type": "number", "maximum": 99_999_999} if self.privacy else {"type": "number"},
                    obj,
                    {"type": "array", "items": ref},
                ]
            }
        }

    def _payload(
        self, t: str, style: Style, reserved_checks: dict[str, dict], exempt: list[str], pii: frozenset
    ) -> dict:
        if exempt:  # identify/group: reserved traits are exempt from the privacy scan
            props: dict[str, Any] = dict(reserved_checks)
        else:  # track/page/screen: reserved properties get their check *and* the privacy scan
            props = {k: {"allOf": [v, {"$ref": "#/$defs/v"}]} for k, v in reserved_checks.items()}
        for name in exempt:
            props.setdefault(name, True)
        for name in pii:
            props.setdefault(name, True)
        for name in ("userId", "anonymousId"):
            props[name] = False  # SP018 looks at these: the slow path decides
        if t in ("track", "page", "screen"):
            props["traits"] = False
        schema: dict[str, Any] = {
            "type": ["object", "null"],
            "properties": props,
            "additionalProperties": {"$ref": "#/$defs/v"},
        }
        if self.key_rules:
            schema["propertyNames"] = self._key_ok(style, exempt)
        return schema

    def _reserved(self, t: str) -> dict[str, dict]:
        date = {"anyOf": [{"type": "null"}, {"type": "string", "pattern": DATE_PATTERN, "format": "date-time"}]}
        if t == "track":
            return {
                "revenue": _NUM_OR_NULL,
                "value": _NUM_OR_NULL,
                "price": _NUM_OR_NULL,
                "currency": {"type": ["string", "null"], "pattern": "^[A-Za-z]{3}$"},
            }
        if t == "page":
            return {k: _STR_OR_NULL for k in ("url", "path", "referrer", "title", "search")}
        if t == "identify":
            return {
                "email": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": EMAIL_PATTERN}]},
                "createdAt": date,
                "birthday": date,
                "age": _NUM_OR_NULL,
                "address": {"type": ["object", "null"]},
                "company": {"type": ["object", "null"]},
                "phone": _STR_OR_NULL,
                "website": _STR_OR_NULL,
            }
        if t == "group":
            return {
                "email": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": EMAIL_PATTERN}]},
                "createdAt": date,
                "employees": _NUM_OR_NULL,
                "address": {"type": ["object", "null"]},
                "website": _STR_OR_NULL,
            }
        return {}

    def _schema(self, t: str, entry) -> dict:
        payload = self.payload
        ts = {"type": "string", "pattern": TS_PATTERN, "format": "date-time"}  # format: no 2026-02-30
        props: dict[str, Any] = {
            "type": {"const": t},
            "messageId": {"type": "string", "minLength": 1, "maxLength": self.spec.max_id},
            "userId": _STR_OR_NULL,
            "anonymousId": _STR_OR_NULL,
            "groupId": _STR_OR_NULL,
            "previousId": _STR_OR_NULL,
            "context": {"type": ["object", "null"], "properties": {"traits": {"type": ["object", "null"]}}},
            "integrations": {"type": ["object", "null"]},
        }
        for key in TIMESTAMP_FIELDS:
            props[key] = ts
        for key in KNOWN_FIELDS:
            props.setdefault(key, True)
        schema: dict[str, Any] = {
            "type": "object",
            "required": ["messageId"],
            "properties": props,
            "additionalProperties": False,  # SP019 looks at any other top-level field
        }
        pii = entry.pii if entry is not None else frozenset()
        if t == "track":
            schema["required"] = ["messageId", "event"]
            props["event"] = _nonblank()
        if t == "group":
            schema["required"] = ["messageId", "groupId"]
            props["groupId"] = _nonblank()
        if t == "alias":
            schema["required"] = ["messageId", "previousId", "userId"]
            props["previousId"] = _nonblank()
            props["userId"] = _nonblank()
        if t in ("track", "page", "screen"):
            props["properties"] = self._payload(t, payload.prop_style, self._reserved(t), [], pii)
            props["traits"] = {"type": ["object", "null"], "maxProperties": 0}
            style = payload.prop_style
        elif t in ("identify", "group"):
            reserved = sorted(RESERVED_TRAITS if t == "identify" else RESERVED_GROUP_TRAITS)
            props["traits"] = self._payload(t, payload.trait_style, self._reserved(t), reserved, pii)
            props["properties"] = {"type": ["object", "null"], "maxProperties": 0}
            style = payload.trait_style
        else:
            props["properties"] = {"type": ["object", "null"]}
            props["traits"] = {"type": ["object", "null"]}
            style = payload.prop_style
        schema["$defs"] = self._value_defs(style)
        if entry is not None:
            planned = copy.deepcopy(entry.schema)
            for key in ("$schema", "$id", "title", "description", "x-cdp"):
                planned.pop(key, None)
            schema["allOf"] = [planned]
        return schema

    def _validator(self, key: tuple, t: str, entry):
        v = self.cache.get(key)
        if v is None:
            import jsonschema_rs

            schema = self._schema(t, entry)
            try:  # the regex crate is ~8% faster; fancy-regex (the default) only for lookaround patterns
                v = jsonschema_rs.validator_for(
                    schema, validate_formats=True, pattern_options=jsonschema_rs.RegexOptions()
                )
            except Exception:  # jsonschema-rs reports an uncompilable pattern as a ValidationError
                v = jsonschema_rs.validator_for(schema, validate_formats=True)
            self.cache[key] = v
        return v

    # --- the check -------------------------------------------------------------------------------
    def clean(self, msg: dict[str, Any], rec) -> bool:
        """True only when the full checks would certainly find nothing in this message."""
        if rec.size > self.max_bytes:
            return False
        uid = msg.get("userId")  # SP002: one of them a non-blank string (other types: full check)
        if not (type(uid) is str and uid and not uid.isspace()):
            aid = msg.get("anonymousId")
            if not (type(aid) is str and aid and not aid.isspace()):
                return False
        t = msg.get("type")
        if t == "track":
            name = msg.get("event")
            if type(name) is not str or not name:
                return False
        elif t == "page" or t == "screen":
            name = msg.get("name")
            if type(name) is not str or not name:
                name = None
        elif t == "identify" or t == "group":
            ctx = msg.get("context")
            if type(ctx) is dict and ctx.get("traits") is not None:
                return False  # merged traits: the full check validates the merge
            name = None
        elif t == "alias":
            name = None
        else:
            return False
        key = (t, name)
        route = self.routes.get(key)
        if route is None:
            route = self._route(t, name)
            if len(self.routes) > 50_000:  # dynamic names: keep the memo bounded
                self.routes.clear()
            self.routes[key] = route
        if route is False:
            return False
        validator, versions = route
        if versions is not None:  # a planned track event: pick the version as Protocols does
            ctx = msg.get("context")
            if type(ctx) is dict:
                proto = ctx.get("protocols")
                if type(proto) is dict:
                    raw = proto.get("event_version")
                    if raw is not None:
                        if type(raw) is int and raw in versions:
                            validator = versions[raw]
                        else:
                            return False
        if not validator.is_valid(msg):
            return False
        if self.time_rules:
            return self._times_ok(msg)
        return True

    def _route(self, t: str, name: str | None):
        """For one (type, name): False when the name alone means findings (naming, unplanned), else
        (validator of the default version, {version: validator} for a planned track event or None)."""
        conf = self.conformance
        payload = self.payload
        entry = None
        versions = None
        if name is not None and (payload.nm_event or payload.nm_dyn_event):
            style = payload.event_style if t == "track" else payload.page_style
            bad, dyn = payload.event_verdict(name, style)
            if bad is not None or dyn is not None:
                return False
        if conf is not None:
            if t == "track":
                planned = conf.track.get(name) if name is not None else None  # no name: not planned
                if planned is None:
                    if not conf.allow_unplanned:
                        return False
                    entry = conf.common
                else:
                    entry = planned[min(planned)]
                    versions = {v: self._validator((t, e.label), t, e) for v, e in planned.items()}
            elif t == "page" or t == "screen":
                table = conf.pages if t == "page" else conf.screens
                entry = table.get(name) if name else None
                if entry is None:
                    if name and table and not conf.allow_unplanned:
                        return False
                    entry = conf.common
            elif t == "identify" or t == "group":
                entry = (conf.identify if t == "identify" else conf.group) or conf.common
            else:
                entry = conf.common
        return self._validator((t, entry.label if entry is not None else None), t, entry), versions

    def _times_ok(self, msg: dict[str, Any]) -> bool:
        future19, oldest19 = self.future19, self.oldest19
        for key in ("timestamp", "originalTimestamp", "sentAt"):
            v = msg.get(key)
            if v is None:
                continue
            if v[-1] != "Z":
                return False  # an offset: compare properly in the full check
            head = v[:19]
            if head >= future19 or head < oldest19:
                return False
        sent = msg.get("sentAt")
        ts = msg.get("timestamp") or msg.get("originalTimestamp")
        if sent is not None and ts is not None:
            if self.same_day_ok and sent[:10] == ts[:10]:
                return True  # both UTC (checked above), same date: less than a day apart
            try:
                gap = datetime.fromisoformat(sent) - datetime.fromisoformat(ts)
            except ValueError:
                return False  # the full check says what is wrong
            if abs(gap) > self.max_skew:
                return False
        return True
