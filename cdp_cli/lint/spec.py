"""Spec rules (``SP``): the Segment message spec, checked in one pass over a message.

One function for the family rather than one per rule: a log has millions of messages and a call per
rule per message would cost more than the checks. Each rule is still switched and re-levelled on its
own (``ctx.on``), documented in the catalog (:mod:`cdp_cli.rules`), and tested by its own case file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cdp_cli.events.model import CONTEXT_KEYS, KNOWN_FIELDS, TIMESTAMP_FIELDS, TYPES, present, shifted
from cdp_cli.jsonpath import json_type, with_article
from cdp_cli.naming import normalize
from cdp_cli.rules.codes import (
    SPEC_ALIAS_WITHOUT_PREVIOUS_ID,
    SPEC_CLOCK_SKEW,
    SPEC_FIELD_NOT_OBJECT,
    SPEC_GROUP_WITHOUT_GROUP_ID,
    SPEC_ID_NOT_STRING,
    SPEC_MESSAGE_ID_TOO_LONG,
    SPEC_MESSAGE_TOO_LARGE,
    SPEC_MISPLACED_FIELD,
    SPEC_MISSING_IDENTITY,
    SPEC_MISSING_MESSAGE_ID,
    SPEC_MISSPELLED_FIELD,
    SPEC_RESERVED_FIELD_TYPE,
    SPEC_TIMESTAMP_IN_FUTURE,
    SPEC_TIMESTAMP_INVALID,
    SPEC_TIMESTAMP_TOO_OLD,
    SPEC_TIMESTAMP_WITHOUT_TIMEZONE,
    SPEC_TRACK_WITHOUT_EVENT,
    SPEC_TYPE,
)

if TYPE_CHECKING:
    from cdp_cli.lint.context import LintContext

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_ID_FIELDS = ("userId", "anonymousId", "groupId", "previousId", "messageId")
_OBJECT_FIELDS = ("properties", "traits", "context", "integrations")
#: normalised misspelling -> the spec field (``userID``, ``user_id``, ``USERID`` -> userId)
_SPELLINGS = {
    normalize(f): f
    for f in (
        "userId",
        "anonymousId",
        "messageId",
        "groupId",
        "previousId",
        "event",
        "properties",
        "traits",
        "timestamp",
        "originalTimestamp",
        "sentAt",
        "receivedAt",
        "context",
        "integrations",
        "type",
    )
}
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
        "revenue": (_number, "a number"),
        "value": (_number, "a number"),
        "price": (_number, "a number"),
        "currency": (lambda v: isinstance(v, str) and bool(_CURRENCY.match(v)), "a 3-letter ISO-4217 code"),
    },
    "properties:page": {
        "url": (lambda v: isinstance(v, str), "a string"),
        "path": (lambda v: isinstance(v, str), "a string"),
        "referrer": (lambda v: isinstance(v, str), "a string"),
        "title": (lambda v: isinstance(v, str), "a string"),
        "search": (lambda v: isinstance(v, str), "a string"),
    },
    "traits:identify": {
        "email": (lambda v: isinstance(v, str) and bool(_EMAIL.match(v)), "an email address"),
        "createdAt": (_is_date, "an ISO-8601 date"),
        "birthday": (_is_date, "an ISO-8601 date"),
        "age": (_number, "a number"),
        "address": (lambda v: isinstance(v, dict), "an object"),
        "company": (lambda v: isinstance(v, dict), "an object"),
        "phone": (lambda v: isinstance(v, str), "a string"),
        "website": (lambda v: isinstance(v, str), "a string"),
    },
    "traits:group": {
        "email": (lambda v: isinstance(v, str) and bool(_EMAIL.match(v)), "an email address"),
        "createdAt": (_is_date, "an ISO-8601 date"),
        "employees": (_number, "a number"),
        "address": (lambda v: isinstance(v, dict), "an object"),
        "website": (lambda v: isinstance(v, str), "a string"),
    },
}
_RESERVED["properties:screen"] = {}


class SpecChecks:
    """Settings of the spec family, resolved once per run from a :class:`~cdp_cli.lint.context.LintContext`."""

    def __init__(self, ctx: LintContext) -> None:
        from cdp_cli.config import parse_duration

        cfg = ctx.config
        self.ctx = ctx
        self.max_id = int(cfg.option(SPEC_MESSAGE_ID_TOO_LONG, "max_length"))
        self.max_bytes = int(cfg.option(SPEC_MESSAGE_TOO_LARGE, "max_bytes"))
        self.future = shifted(ctx.now, parse_duration(cfg.option(SPEC_TIMESTAMP_IN_FUTURE, "max_future")))
        oldest = cfg.option(SPEC_TIMESTAMP_TOO_OLD, "oldest")
        self.oldest = datetime.fromisoformat(oldest).replace(tzinfo=UTC)
        self.max_skew = parse_duration(cfg.option(SPEC_CLOCK_SKEW, "max_skew"))
        on = ctx.on
        self.timestamps = (
            on[SPEC_TIMESTAMP_INVALID]
            or on[SPEC_TIMESTAMP_WITHOUT_TIMEZONE]
            or on[SPEC_TIMESTAMP_IN_FUTURE]
            or on[SPEC_TIMESTAMP_TOO_OLD]
            or on[SPEC_CLOCK_SKEW]
        )
        self.reserved = on[SPEC_RESERVED_FIELD_TYPE]
        self.misplaced = on[SPEC_MISPLACED_FIELD]
        self.misspelled = on[SPEC_MISSPELLED_FIELD]

    def check(self, msg: dict[str, Any], rec, emit) -> None:
        on = self.ctx.on
        t = msg.get("type")
        if t not in TYPES:
            if on[SPEC_TYPE]:
                if t is None:
                    emit(
                        SPEC_TYPE,
                        "$.type",
                        "`type` is missing; one of identify, track, page, screen, group, alias",
                        expected="one of " + ", ".join(TYPES),
                        found="missing",
                    )
                else:
                    fixed = _TYPE_NAMES.get(t.casefold()) if isinstance(t, str) else None
                    hint = f"; did you mean {fixed!r}?" if fixed else ""
                    emit(
                        SPEC_TYPE,
                        "$.type",
                        f"unknown type{hint} (expected identify, track, page, screen, group or alias)",
                        expected="one of " + ", ".join(TYPES),
                        found=repr(t) if isinstance(t, str) else json_type(t),
                        value=t,
                    )
        # identity
        if on[SPEC_MISSING_IDENTITY]:
            uid, aid = msg.get("userId"), msg.get("anonymousId")
            if not present(uid) and not present(aid):
                emit(
                    SPEC_MISSING_IDENTITY,
                    "$",
                    "neither userId nor anonymousId is set (null, empty and blank count as missing)",
                    expected="userId or anonymousId",
                    found="missing",
                )
        if t == "track":
            if on[SPEC_TRACK_WITHOUT_EVENT]:
                ev = msg.get("event")
                if not isinstance(ev, str) or not ev.strip():
                    emit(
                        SPEC_TRACK_WITHOUT_EVENT,
                        "$.event",
                        "track message without an event name",
                        expected="a non-empty string",
                        found="missing" if ev is None else json_type(ev),
                    )
        elif t == "group":
            if on[SPEC_GROUP_WITHOUT_GROUP_ID] and not present(msg.get("groupId")):
                emit(
                    SPEC_GROUP_WITHOUT_GROUP_ID,
                    "$.groupId",
                    "group message without groupId",
                    expected="a groupId",
                    found="missing",
                )
        elif t == "alias":
            if on[SPEC_ALIAS_WITHOUT_PREVIOUS_ID]:
                if not present(msg.get("previousId")):
                    emit(
                        SPEC_ALIAS_WITHOUT_PREVIOUS_ID,
                        "$.previousId",
                        "alias message without previousId: nothing to link",
                        expected="previousId",
                        found="missing",
                    )
                elif not present(msg.get("userId")):
                    emit(
                        SPEC_ALIAS_WITHOUT_PREVIOUS_ID,
                        "$.userId",
                        "alias message without userId: nothing to link previousId to",
                        expected="userId",
                        found="missing",
                    )
        # messageId
        mid = msg.get("messageId")
        if mid is None or mid == "":
            if on[SPEC_MISSING_MESSAGE_ID]:
                emit(
                    SPEC_MISSING_MESSAGE_ID,
                    "$.messageId",
                    "messageId is missing; downstream deduplication cannot work",
                    expected="a messageId",
                    found="missing",
                )
        elif isinstance(mid, str) and len(mid) > self.max_id and on[SPEC_MESSAGE_ID_TOO_LONG]:
            emit(
                SPEC_MESSAGE_ID_TOO_LONG,
                "$.messageId",
                f"messageId is {len(mid)} characters long; the limit is {self.max_id}",
                expected=f"at most {self.max_id} characters",
                found=f"{len(mid)} characters",
            )
        if on[SPEC_ID_NOT_STRING]:
            for key in _ID_FIELDS:
                v = msg.get(key)
                if v is not None and type(v) is not str:
                    how = (
                        'sent as a string downstream, so 42 and "42" meet but 42.0 does not'
                        if _number(v)
                        else "not an identifier"
                    )
                    emit(
                        SPEC_ID_NOT_STRING,
                        f"$.{key}",
                        f"{key} is a {json_type(v)}, not a string ({how})",
                        expected="a string",
                        found=json_type(v),
                        value=v,
                    )
        if self.timestamps:
            self._timestamps(msg, emit)
        if on[SPEC_MESSAGE_TOO_LARGE] and rec.size > self.max_bytes:
            emit(
                SPEC_MESSAGE_TOO_LARGE,
                "$",
                f"message is {rec.size:,} bytes; the limit is {self.max_bytes:,} (32 KB)",
                expected=f"at most {self.max_bytes:,} bytes",
                found=f"{rec.size:,} bytes",
            )
        if on[SPEC_FIELD_NOT_OBJECT]:
            for key in _OBJECT_FIELDS:
                v = msg.get(key)
                if v is not None and type(v) is not dict:
                    emit(
                        SPEC_FIELD_NOT_OBJECT,
                        f"$.{key}",
                        f"{key} is {with_article(json_type(v))}, not an object",
                        expected="an object",
                        found=json_type(v),
                        value=v,
                    )
            ctx = msg.get("context")
            if type(ctx) is dict:
                ct = ctx.get("traits")
                if ct is not None and type(ct) is not dict:
                    emit(
                        SPEC_FIELD_NOT_OBJECT,
                        "$.context.traits",
                        f"context.traits is {with_article(json_type(ct))}, not an object",
                        expected="an object",
                        found=json_type(ct),
                        value=ct,
                    )
        if self.reserved and t in ("track", "page", "screen", "identify", "group"):
            field = "traits" if t in ("identify", "group") else "properties"
            table = _RESERVED.get(f"{field}:{t}")
            body = msg.get(field)
            if table and type(body) is dict:
                for key, (ok, expected) in table.items():
                    if key in body:
                        v = body[key]
                        if v is not None and not ok(v):
                            emit(
                                SPEC_RESERVED_FIELD_TYPE,
                                f"$.{field}.{key}",
                                f"reserved {'trait' if field == 'traits' else 'property'} {key!r} must be {expected}",
                                expected=expected,
                                found=json_type(v),
                                value=v,
                            )
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
                        emit(
                            SPEC_MISSPELLED_FIELD,
                            _path(key),
                            f"top-level field {key!r} is not a spec field; did you mean {fixed!r}? Segment ignores it",
                            expected=fixed,
                            found=key,
                        )
                    elif key in _CONTEXT_AT_TOP:
                        emit(
                            SPEC_MISSPELLED_FIELD,
                            _path(key),
                            f"{key!r} belongs in context ({'context.' + key}); at the top level Segment ignores it",
                            expected=f"context.{key}",
                            found=key,
                        )

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
                if on[SPEC_TIMESTAMP_INVALID]:
                    what = (
                        "an epoch number" if _number(v) else json_type(v) if not isinstance(v, str) else "not ISO-8601"
                    )
                    emit(
                        SPEC_TIMESTAMP_INVALID,
                        f"$.{key}",
                        f"{key} is {what}; send an ISO-8601 date-time such as 2026-11-20T10:00:00.000Z",
                        expected="an ISO-8601 date-time",
                        found=json_type(v),
                        value=v,
                    )
                continue
            if ts.tzinfo is None:
                if on[SPEC_TIMESTAMP_WITHOUT_TIMEZONE]:
                    emit(
                        SPEC_TIMESTAMP_WITHOUT_TIMEZONE,
                        f"$.{key}",
                        f"{key} has no timezone; add Z or an offset such as +02:00",
                        expected="a timezone",
                        found="none",
                        value=v,
                    )
                ts = ts.replace(tzinfo=UTC)
            parsed[key] = ts
            if key == "receivedAt":
                continue  # set by the collector: its own clock
            if on[SPEC_TIMESTAMP_IN_FUTURE] and ts > self.future:
                emit(
                    SPEC_TIMESTAMP_IN_FUTURE,
                    f"$.{key}",
                    f"{key} is {_ago(ts - self.ctx.now)} in the future (run at {self.ctx.now.isoformat()})",
                    expected="not in the future",
                    found="future",
                    value=v,
                )
            elif on[SPEC_TIMESTAMP_TOO_OLD] and ts < self.oldest:
                emit(
                    SPEC_TIMESTAMP_TOO_OLD,
                    f"$.{key}",
                    f"{key} is before {self.oldest.date().isoformat()}: an unset device clock?",
                    expected=f"after {self.oldest.date().isoformat()}",
                    found="older",
                    value=v,
                )
        if on[SPEC_CLOCK_SKEW]:
            sent = parsed.get("sentAt")
            ts = parsed.get("timestamp") or parsed.get("originalTimestamp")
            if sent is not None and ts is not None:
                gap = sent - ts
                if abs(gap) > self.max_skew:
                    which = "timestamp" if "timestamp" in parsed else "originalTimestamp"
                    side = "after" if gap.total_seconds() > 0 else "before"
                    emit(
                        SPEC_CLOCK_SKEW,
                        "$.sentAt",
                        f"sentAt is {_ago(abs(gap))} {side} {which} (allowed: {_ago(self.max_skew)})",
                        expected=f"within {_ago(self.max_skew)}",
                        found=_ago(abs(gap)),
                    )

    def _misplaced(self, msg, t, emit) -> None:
        if t in ("identify", "group"):
            props = msg.get("properties")
            if type(props) is dict and props and not msg.get("traits"):
                emit(
                    SPEC_MISPLACED_FIELD,
                    "$.properties",
                    f"{t} sends traits, not properties; these properties are ignored (rename the field to traits)",
                    expected="traits",
                    found="properties",
                )
        elif t in ("track", "page", "screen"):
            tr = msg.get("traits")
            if type(tr) is dict and tr:
                emit(
                    SPEC_MISPLACED_FIELD,
                    "$.traits",
                    f"{t} messages have no top-level traits (Segment ignores them); send them as context.traits",
                    expected="context.traits",
                    found="traits",
                )
            props = msg.get("properties")
            if type(props) is dict and type(props.get("traits")) is dict:
                emit(
                    SPEC_MISPLACED_FIELD,
                    "$.properties.traits",
                    "traits nested in properties are not traits; send them as context.traits (or identify)",
                    expected="context.traits",
                    found="properties.traits",
                )
        body = msg.get("traits") if t in ("identify", "group") else msg.get("properties")
        if type(body) is dict:
            field = "traits" if t in ("identify", "group") else "properties"
            for key in ("userId", "anonymousId"):
                if present(body.get(key)) and not present(msg.get(key)):
                    emit(
                        SPEC_MISPLACED_FIELD,
                        f"$.{field}.{key}",
                        f"{key} is inside {field} but empty at the top level, where identity is read",
                        expected=f"$.{key}",
                        found=f"$.{field}.{key}",
                    )


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
