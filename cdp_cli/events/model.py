"""The Segment message model: the six message types, their fields, and the helpers every command
needs (identifiers, event name, effective timestamp).

Messages stay plain dicts (as parsed): copying a million messages into objects would cost more than
checking them. These helpers read them with one rule everywhere: ``null`` means absent, and for
identifiers an empty or blank string is absent too.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

TYPES = ("identify", "track", "page", "screen", "group", "alias")

#: Fields every message may carry (Segment's common fields).
COMMON_FIELDS = (
    "type",
    "messageId",
    "userId",
    "anonymousId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "context",
    "integrations",
    "version",
    "channel",
)
#: Fields specific to a type.
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "identify": ("traits",),
    "track": ("event", "properties"),
    "page": ("name", "category", "properties"),
    "screen": ("name", "category", "properties"),
    "group": ("groupId", "traits"),
    "alias": ("previousId",),
}
#: Fields other pipelines add and Segment-compatible tools accept (RudderStack, Jitsu, warehouses).
EXTRA_FIELDS = (
    "projectId",
    "writeKey",
    "rudderId",
    "request_ip",
    "_metadata",
    "event_id",
    "requestId",
    "session_id",
    "sessionId",
    "options",
    "destination_props",
    "batchId",
)
KNOWN_FIELDS = frozenset(COMMON_FIELDS) | {f for fs in TYPE_FIELDS.values() for f in fs} | frozenset(EXTRA_FIELDS)

#: Keys of ``context`` (Segment spec).
CONTEXT_KEYS = frozenset(
    (
        "active",
        "app",
        "campaign",
        "device",
        "ip",
        "library",
        "locale",
        "location",
        "network",
        "os",
        "page",
        "referrer",
        "screen",
        "timezone",
        "groupId",
        "traits",
        "userAgent",
        "userAgentData",
        "channel",
        "externalIds",
        "protocols",
        "instance_id",
        "consent",
        "sessionId",
        "session_id",
    )
)

#: The field holding a type's payload object.
PAYLOAD_FIELD = {
    "track": "properties",
    "page": "properties",
    "screen": "properties",
    "identify": "traits",
    "group": "traits",
}

#: Reserved identify traits (Segment spec) and the extra ones of group.
RESERVED_TRAITS = frozenset(
    (
        "address",
        "age",
        "avatar",
        "birthday",
        "company",
        "createdAt",
        "description",
        "email",
        "firstName",
        "gender",
        "id",
        "lastName",
        "name",
        "phone",
        "title",
        "username",
        "website",
    )
)
RESERVED_GROUP_TRAITS = frozenset(
    (
        "address",
        "avatar",
        "createdAt",
        "description",
        "email",
        "employees",
        "id",
        "industry",
        "name",
        "phone",
        "website",
        "plan",
    )
)
#: Identifiers analytics-android copies into identify traits (and context.traits): not naming findings.
SDK_TRAITS = frozenset(("anonymousId", "userId"))
RESERVED_PAGE_PROPERTIES = frozenset(("name", "path", "referrer", "search", "title", "url", "keywords"))
RESERVED_TRACK_PROPERTIES = frozenset(("revenue", "currency", "value"))

TIMESTAMP_FIELDS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")


def present(value: Any) -> bool:
    """An identifier-like value is present: not null, and not an empty or blank string."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


def get_str(msg: dict[str, Any], key: str) -> str | None:
    """A field as a string, with null, empty and blank strings as absent; numbers are stringified
    (SDKs send numeric user ids) but booleans and objects are not identifiers."""
    value = msg.get(key)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def message_type(msg: dict[str, Any]) -> str | None:
    t = msg.get("type")
    return t if isinstance(t, str) and t in TYPES else None


def event_name(msg: dict[str, Any]) -> str | None:
    """The name a message is known by: track ``event``, page/screen ``name``; None otherwise."""
    t = msg.get("type")
    if t == "track":
        e = msg.get("event")
        return e if isinstance(e, str) and e else None
    if t in ("page", "screen"):
        n = msg.get("name")
        if isinstance(n, str) and n:
            return n
        props = msg.get("properties")
        if isinstance(props, dict):
            n = props.get("name")
            return n if isinstance(n, str) and n else None
    return None


def display_name(msg: dict[str, Any]) -> str:
    """How summaries show a message: the event name, ``Page Viewed: Home``, or the type."""
    t = msg.get("type")
    name = event_name(msg)
    if t == "track":
        return name or "(track without event)"
    if t in ("page", "screen"):
        label = "Page Viewed" if t == "page" else "Screen Viewed"
        return f"{label}: {name}" if name else label
    return t if isinstance(t, str) else "(no type)"


def payload(msg: dict[str, Any]) -> dict[str, Any] | None:
    """The type's payload object (properties or traits), or None when absent or not an object."""
    t = msg.get("type")
    field = PAYLOAD_FIELD.get(t) if type(t) is str else None  # a list or object is no type (nor hashable)
    if field is None:
        return None
    value = msg.get(field)
    return value if isinstance(value, dict) else None


def traits(msg: dict[str, Any]) -> dict[str, Any]:
    """identify/group traits merged with ``context.traits`` (rudder-sdk-python sends them there);
    top-level traits win over context ones."""
    out: dict[str, Any] = {}
    ctx = msg.get("context")
    if isinstance(ctx, dict) and isinstance(ctx.get("traits"), dict):
        out.update(ctx["traits"])
    t = msg.get("traits")
    if isinstance(t, dict):
        out.update(t)
    return out


def identifiers(msg: dict[str, Any]) -> dict[str, str]:
    """The message's own identifiers (userId, anonymousId, previousId, groupId) that are present."""
    out = {}
    for key in ("userId", "anonymousId", "previousId", "groupId"):
        v = get_str(msg, key)
        if v is not None:
            out[key] = v
    return out


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO-8601 timestamp string as a datetime (naive when it has no timezone), else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def effective_timestamp(msg: dict[str, Any]) -> datetime | None:
    """When the message happened, as Segment computes it: ``timestamp`` if present, else
    ``receivedAt - (sentAt - originalTimestamp)`` (clock-skew corrected), else
    ``originalTimestamp``, else ``receivedAt``. Naive times are read as UTC.

    A time that does not exist in UTC (``0001-01-01T00:00:00+05:00`` is in year 0) counts as absent,
    and a correction that would leave years 1-9999 is not applied (``originalTimestamp``, else
    ``receivedAt``, is used), so hostile clocks never stop a run."""
    ts = to_utc(parse_timestamp(msg.get("timestamp")))
    if ts is None:
        received = to_utc(parse_timestamp(msg.get("receivedAt")))
        sent = to_utc(parse_timestamp(msg.get("sentAt")))
        original = to_utc(parse_timestamp(msg.get("originalTimestamp")))
        if received and sent and original:
            with contextlib.suppress(OverflowError):
                ts = received - (sent - original)
        if ts is None:
            ts = original or received
    return ts


#: the first and last instants Python can hold, in UTC
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def shifted(when: datetime, delta: timedelta) -> datetime:
    """``when + delta``, held to years 1-9999 (a window of 30 days before an event of
    0001-01-02 starts at the first instant there is, instead of stopping the run)."""
    try:
        return when + delta
    except OverflowError:
        return EARLIEST if delta < timedelta(0) else LATEST


def to_utc(ts: datetime | None) -> datetime | None:
    """``ts`` in UTC (a naive time is read as UTC), or None when it has none or does not exist in UTC
    (before year 1 or after year 9999 once its offset is applied)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        return None
