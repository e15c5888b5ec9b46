"""Spec rules (``SP``): the Segment message spec, checked in one pass over a message.

One function for the family rather than one per rule: a log has millions of messages and a call per
rule per message would cost more than the checks. Each rule is still switched and re-levelled on its
own (``ctx.on``), documented in the registry, and tested by its own case file.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from cdp_cli.events.model import CONTEXT_KEYS, KNOWN_FIELDS, TIMESTAMP_FIELDS, TYPES, present
from cdp_cli.jsonpath import json_type, with_article
from cdp_cli.naming import normalize

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_ID_FIELDS = ("userId", "anonymousId", "groupId", "previousId", "messageId")
_OBJECT_FIELDS = ("properties", "traits", "context", "integrations")
#: normalised misspelling -> the spec field (``userID``, ``user_id``, ``USERID`` -> userId)
_SPELLINGS = {normalize(f): f for f in ("userId", "anonymousId", "messageId", "groupId", "previousId",
                                         "event", "properties", "traits", "timestamp", "originalTimestamp",
                                         "sentAt", "receivedAt", "context", "integrations", "type")}
_CONTEXT_AT_TOP = frozenset(CONTEXT_KEYS) - KNOWN_FIELDS - {"traits", "channel"}
_TYPE_NAMES = {t.casefold(): t for t in TYPES}


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


#: (types the field applies to, field, key) -> (check, what is expected)
_RESERVED: dict[str, dict[str, tuple[Any, str]]] = {
    "properties:track": {
        "revenue": (_number, "a number"), "value": (_number, "a number"), "price": (_number, "a number"),
        "currency": (lambda v: isinstance(v, str) and bool(_CURRENCY.match(v)), "a 3-letter ISO-4217 code"),
    },
    "properties:page": {
        "url": (lambda v: isinstance(v, str), "a string"), "path": (lambda v: isinstance(v, str), "a string"),
        "referrer": (lambda v: isinstance(v, str), "a string"), "title": (lambda v: isinstance(v, str), "a string"),
        "search": (lambda v: isinstance(v, str), "a string"),
    },
    "traits:identify": {
        "email": (lambda v: isinstance(v, str) and bool(_EMAIL.match(v)), "an email address"),
        "createdAt": (_is_date, "an ISO-8601 date"), "birthday": (_is_date, "an ISO-8601 date"),
        "age": (_number, "a number"), "address": (lambda v: isinstance(v, dict), "an object"),
        "company": (lambda v: isinstance(v, dict), "an object"),
        "phone": (lambda v: isinstance(v, str), "a string"), "website": (lambda v: isinstance(v, str), "a string"),
    },
    "traits:group": {
        "email": (lambda v: isinstance(v, str) and bool(_EMAIL.match(v)), "an email address"),
        "createdAt": (_is_date, "an ISO-8601 date"), "employees": (_number, "a number"),
        "address": (lambda v: isinstance(v, dict), "an object"), "website": (lambda v: isinstance(v, str), "a string"),
    },
}
_RESERVED["properties:screen"] = {}


class SpecChecks:
    """Settings of the spec family, resolved once per run."""

    def __init__(self, ctx) -> None:
        from cdp_cli.config import parse_duration

        cfg = ctx.config
        self.ctx = ctx
        self.max_id = int(cfg.option("SP007", "max_length"))
        self.max_bytes = int(cfg.option("SP015", "max_bytes"))
        self.future = ctx.now + parse_duration(cfg.option("SP012", "max_future"))
        oldest = cfg.option("SP013", "oldest")
        self.oldest = datetime.fromisoformat(oldest).replace(tzinfo=timezone.utc)
        self.max_skew = parse_duration(cfg.option("SP014", "max_skew"))
        on = ctx.on
        self.timestamps = on["SP010"] or on["SP011"] or on["SP012"] or on["SP013"] or on["SP014"]
        self.reserved = on["SP017"]
        self.misplaced = on["SP018"]
        self.misspelled = on["SP019"]

    def check(self, msg: dict[str, Any], rec, emit) -> None:  # noqa: C901 - one pass, by design
        on = self.ctx.on
        t = msg.get("type")
        if t not in TYPES:
            if on["SP001"]:
                if t is None:
                    emit("SP001", "$.type", "`type` is missing; one of identify, track, page, screen, group, alias",
                         expected="one of " + ", ".join(TYPES), found="missing")
                else:
                    fixed = _TYPE_NAMES.get(t.casefold()) if isinstance(t, str) else None
                    hint = f"; did you mean {fixed!r}?" if fixed else ""
                    emit("SP001", "$.type", f"unknown type{hint} (expected identify, track, page, screen, group or alias)",
                         expected="one of " + ", ".join(TYPES), found=repr(t) if isinstance(t, str) else json_type(t), value=t)
        # identity
        if on["SP002"]:
            uid, aid = msg.get("userId"), msg.get("anonymousId")
            if not present(uid) and not present(aid):
                emit("SP002", "$", "neither userId nor anonymousId is set (null, empty and blank count as missing)",
                     expected="userId or anonymousId", found="missing")
        if t == "track":
            if on["SP003"]:
                ev = msg.get("event")
                if not isinstance(ev, str) or not ev.strip():
                    emit("SP003", "$.event", "track message without an event name",
                         expected="a non-empty string", found="missing" if ev is None else json_type(ev))
        elif t == "group":
            if on["SP004"] and not present(msg.get("groupId")):
                emit("SP004", "$.groupId", "group message without groupId", expected="a groupId", found="missing")
        elif t == "alias":
            if on["SP005"]:
                if not present(msg.get("previousId")):
                    emit("SP005", "$.previousId", "alias message without previousId: nothing to link", expected="previousId", found="missing")
                elif not present(msg.get("userId")):
                    emit("SP005", "$.userId", "alias message without userId: nothing to link previousId to", expected="userId", found="missing")
        # messageId
        mid = msg.get("messageId")
        if mid is None or mid == "":
            if on["SP006"]:
                emit("SP006", "$.messageId", "messageId is missing; downstream deduplication cannot work", expected="a messageId", found="missing")
        elif isinstance(mid, str) and len(mid) > self.max_id and on["SP007"]:
            emit("SP007", "$.messageId", f"messageId is {len(mid)} characters long; the limit is {self.max_id}",
                 expected=f"at most {self.max_id} characters", found=f"{len(mid)} characters")
        if on["SP009"]:
            for key in _ID_FIELDS:
                v = msg.get(key)
                if v is not None and type(v) is not str:
                    how = "sent as a string downstream, so 42 and \"42\" meet but 42.0 does not" if _number(v) else "not an identifier"
                    emit("SP009", f"$.{key}", f"{key} is a {json_type(v)}, not a string ({how})",
                         expected="a string", found=json_type(v), value=v)
        if self.timestamps:
            self._timestamps(msg, emit)
        if on["SP015"] and rec.size > self.max_bytes:
            emit("SP015", "$", f"message is {rec.size:,} bytes; the limit is {self.max_bytes:,} (32 KB)",
                 expected=f"at most {self.max_bytes:,} bytes", found=f"{rec.size:,} bytes")
        if on["SP016"]:
            for key in _OBJECT_FIELDS:
                v = msg.get(key)
                if v is not None and type(v) is not dict:
                    emit("SP016", f"$.{key}", f"{key} is {with_article(json_type(v))}, not an object",
                         expected="an object", found=json_type(v), value=v)
            ctx = msg.get("context")
            if type(ctx) is dict:
                ct = ctx.get("traits")
                if ct is not None and type(ct) is not dict:
                    emit("SP016", "$.context.traits", f"context.traits is {with_article(json_type(ct))}, not an object",
                         expected="an object", found=json_type(ct), value=ct)
        if self.reserved and t in ("track", "page", "screen", "identify", "group"):
            field = "traits" if t in ("identify", "group") else "properties"
            table = _RESERVED.get(f"{field}:{t}")
            body = msg.get(field)
            if table and type(body) is dict:
                for key, (ok, expected) in table.items():
                    if key in body:
                        v = body[key]
                        if v is not None and not ok(v):
                            emit("SP017", f"$.{field}.{key}", f"reserved {'trait' if field == 'traits' else 'property'} {key!r} must be {expected}",
                                 expected=expected, found=json_type(v), value=v)
        if self.misplaced:
            self._misplaced(msg, t, emit)
        if self.misspelled:
            unknown = msg.keys() - KNOWN_FIELDS
            if unknown:
                for key in msg:  # in message order
                    if key not in unknown:
                        continue
                    fixed = _SPELLINGS.get(normalize(key))
                    if fixed and fixed != key:
                        emit("SP019", _path(key), f"top-level field {key!r} is not a spec field; did you mean {fixed!r}? Segment ignores it",
                             expected=fixed, found=key)
                    elif key in _CONTEXT_AT_TOP:
                        emit("SP019", _path(key), f"{key!r} belongs in context ({'context.' + key}); at the top level Segment ignores it",
                             expected=f"context.{key}", found=key)

    def _timestamps(self, msg, emit) -> None:
        on = self.ctx.on
        parsed: dict[str, datetime] = {}
        for key in TIMESTAMP_FIELDS:
            v = msg.get(key)
            if v is None:
                continue
            ts = None
            if isinstance(v, str) and len(v) >= 10 and v[4:5] == "-":
                try:
                    ts = datetime.fromisoformat(v)
                except ValueError:
                    ts = None
            if ts is None:
                if on["SP010"]:
                    what = "an epoch number" if _number(v) else json_type(v) if not isinstance(v, str) else "not ISO-8601"
                    emit("SP010", f"$.{key}", f"{key} is {what}; send an ISO-8601 date-time such as 2026-11-20T10:00:00.000Z",
                         expected="an ISO-8601 date-time", found=json_type(v), value=v)
                continue
            if ts.tzinfo is None:
                if on["SP011"]:
                    emit("SP011", f"$.{key}", f"{key} has no timezone; add Z or an offset such as +02:00",
                         expected="a timezone", found="none", value=v)
                ts = ts.replace(tzinfo=timezone.utc)
            parsed[key] = ts
            if key == "receivedAt":
                continue  # set by the collector: its own clock
            if on["SP012"] and ts > self.future:
                emit("SP012", f"$.{key}", f"{key} is {_ago(ts - self.ctx.now)} in the future (run at {self.ctx.now.isoformat()})",
                     expected="not in the future", found="future", value=v)
            elif on["SP013"] and ts < self.oldest:
                emit("SP013", f"$.{key}", f"{key} is before {self.oldest.date().isoformat()}: an unset device clock?",
                     expected=f"after {self.oldest.date().isoformat()}", found="older", value=v)
        if on["SP014"]:
            sent = parsed.get("sentAt")
            ts = parsed.get("timestamp") or parsed.get("originalTimestamp")
            if sent is not None and ts is not None:
                gap = sent - ts
                if abs(gap) > self.max_skew:
                    which = "timestamp" if "timestamp" in parsed else "originalTimestamp"
                    side = "after" if gap.total_seconds() > 0 else "before"
                    emit("SP014", "$.sentAt", f"sentAt is {_ago(abs(gap))} {side} {which} (allowed: {_ago(self.max_skew)})",
                         expected=f"within {_ago(self.max_skew)}", found=_ago(abs(gap)))

    def _misplaced(self, msg, t, emit) -> None:
        if t in ("identify", "group"):
            props = msg.get("properties")
            if type(props) is dict and props and not msg.get("traits"):
                emit("SP018", "$.properties", f"{t} sends traits, not properties; these properties are ignored (rename the field to traits)",
                     expected="traits", found="properties")
        elif t in ("track", "page", "screen"):
            tr = msg.get("traits")
            if type(tr) is dict and tr:
                emit("SP018", "$.traits", f"{t} messages have no top-level traits (Segment ignores them); send them as context.traits",
                     expected="context.traits", found="traits")
            props = msg.get("properties")
            if type(props) is dict and type(props.get("traits")) is dict:
                emit("SP018", "$.properties.traits", "traits nested in properties are not traits; send them as context.traits (or identify)",
                     expected="context.traits", found="properties.traits")
        body = msg.get("traits") if t in ("identify", "group") else msg.get("properties")
        if type(body) is dict:
            field = "traits" if t in ("identify", "group") else "properties"
            for key in ("userId", "anonymousId"):
                if present(body.get(key)) and not present(msg.get(key)):
                    emit("SP018", f"$.{field}.{key}", f"{key} is inside {field} but empty at the top level, where identity is read",
                         expected=f"$.{key}", found=f"$.{field}.{key}")


def _ago(delta) -> str:
    s = int(delta.total_seconds())
    if s >= 86400 * 2:
        return f"{s / 86400:.1f} days"
    if s >= 3600:
        return f"{s / 3600:.1f} hours"
    if s >= 60:
        return f"{s // 60} minutes"
    return f"{s} seconds"


def _path(key: str) -> str:
    from cdp_cli.jsonpath import json_path

    return json_path((key,))
