"""Segment's warehouse schema as pure functions: names, rows, column types, conflicts, ``users``.

Shared by the warehouse destinations of ``cdp events replay`` (PostgreSQL, Parquet) so that both lay
a message out the same way, and tested without a database. The layout is Segment's (and
RudderStack's, the open implementation of it): ``tracks`` holds every track with the common columns
only, one table per track event adds its properties as columns, ``identifies``, ``pages``,
``screens``, ``groups`` and ``aliases`` hold the other calls, and ``users`` holds one row per
``user_id`` with the latest value of each trait.

Choices where the sources leave room (each one says why):

* **Names** follow segmentio/go-snakecase exactly (:func:`snake_case`), one object key at a time
  (joining the keys with ``_`` then gives go-snakecase's result on the joined path). A key that has no
  ASCII letter or digit (``"価格"``, ``"$$"``) would vanish; it becomes ``x`` + 8 hex digits of its
  SHA-1 instead, so its values are still loaded (RudderStack drops them). A name starting with a digit
  gets a ``_`` prefix, so it needs no quoting (RudderStack's rule).
* **Reserved columns**: a property or trait whose column would be one of the message's own columns
  (``id``, ``user_id``, ``timestamp``, ``event``, ``context_...``) gets a ``_`` prefix
  (``properties.id`` -> ``_id``) rather than being dropped as RudderStack does: the value is kept,
  and RudderStack itself prefixes a ``userId`` trait that way in ``identifies``.
* **63-byte identifiers** (PostgreSQL's limit; it would silently cut longer ones): a longer name
  keeps its first 54 characters, then ``_`` and 8 hex digits of the SHA-1 of the whole name.
  RudderStack cuts at 63, which makes two long names that share their first 63 characters one
  column; the digest keeps them apart and is the same on every run.
* **Types**: ``bigint``, ``numeric``, ``boolean``, ``timestamptz``, ``text`` (and ``jsonb``, only for
  a column someone else created or a value that is still an object), fixed by the first value that
  creates the column (:func:`infer_type`). Strings become ``timestamptz`` only when they are a full
  ISO-8601 date-time with a zone or a plain date (:func:`is_timestamp`): a date-time without zone is
  ambiguous and stays text. On a later conflict the column's type wins (:func:`coerce`); a value that
  cannot be coerced leaves the cell NULL and becomes a :class:`Discard`.
* **Values**: ``null`` creates no column; arrays are stored as JSON text; NUL characters are removed
  from strings (PostgreSQL text cannot hold them).
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import chain, repeat
from typing import Any

import orjson

from cdp_cli.events.model import to_utc
from cdp_cli.replay.destination import Message

#: PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes; snake_case names are ASCII.
MAX_IDENTIFIER = 63
#: PostgreSQL's column limit per table.
MAX_COLUMNS = 1600
DISCARDS_TABLE = "cdp_discards"
CHECKPOINTS_TABLE = "cdp_replay_checkpoints"
#: Tables the schema itself uses: an event named like one of them gets a ``_`` prefix.
BUILTIN_TABLES = frozenset(
    {"tracks", "identifies", "users", "pages", "screens", "groups", "aliases", "accounts", DISCARDS_TABLE,
     CHECKPOINTS_TABLE}
)  # fmt: skip

COLUMN_TYPES = ("bigint", "numeric", "boolean", "timestamptz", "text", "jsonb")

#: The columns every message table has, with their fixed types.
COMMON_COLUMNS: dict[str, str] = {
    "id": "text",
    "anonymous_id": "text",
    "user_id": "text",
    "received_at": "timestamptz",
    "sent_at": "timestamptz",
    "timestamp": "timestamptz",
    "original_timestamp": "timestamptz",
    "uuid_ts": "timestamptz",
}
#: The columns one kind of message adds to the common ones.
KIND_COLUMNS: dict[str, dict[str, str]] = {
    "track": {"event": "text", "event_text": "text"},
    "identify": {},
    "page": {"name": "text", "category": "text"},
    "screen": {"name": "text", "category": "text"},
    "group": {"group_id": "text"},
    "alias": {"previous_id": "text"},
}
KIND_TABLES = {
    "identify": "identifies",
    "page": "pages",
    "screen": "screens",
    "group": "groups",
    "alias": "aliases",
}
USERS_COLUMNS: dict[str, str] = {"id": "text", "received_at": "timestamptz", "uuid_ts": "timestamptz"}
DISCARDS_COLUMNS: dict[str, str] = {
    "table_name": "text",
    "row_id": "text",
    "column_name": "text",
    "column_value": "text",
    "received_at": "timestamptz",
    "uuid_ts": "timestamptz",
    "reason": "text",
}
_TABLE_KINDS = {"tracks": "track", **{table: kind for kind, table in KIND_TABLES.items()}}
_BASE: dict[str, dict[str, str]] = {kind: {**COMMON_COLUMNS, **extra} for kind, extra in KIND_COLUMNS.items()}
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class Unloadable(ValueError):
    """A message that has no place in the schema (no messageId, an unknown type): the destination
    dead-letters it with this message as the reason."""


@dataclass(frozen=True, slots=True)
class Discard:
    """A value that did not fit its column: the cell was left NULL and the value is kept here (as
    text), as in RudderStack's ``rudder_discards``."""

    table: str
    row_id: str
    column: str
    value: str
    reason: str
    received_at: str | None


# --- names ---------------------------------------------------------------------------------------------
def _lower(c: str) -> bool:
    return "a" <= c <= "z"


def _upper(c: str) -> bool:
    return "A" <= c <= "Z"


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


def snake_case(name: str) -> str:
    """``name`` in snake_case by segmentio/go-snakecase (a line-by-line port of ``snake.go``): ASCII
    letters and digits only, everything else separates words and is dropped (leading ones too); a
    word is a run of capitals and digits followed by a run of lower-case letters and digits, so
    ``CStringRef`` is ``cstring_ref`` and ``HTTPStatus`` is ``httpstatus``."""
    n = len(name)
    idx = 0
    has_lower = has_underscore = lower_since_underscore = False
    # the prefix that needs no change: lower case, digits, "_" between two of them
    while idx < n:
        c = name[idx]
        if _lower(c):
            has_lower = True
            if has_underscore:
                lower_since_underscore = True
        elif _digit(c):
            pass
        elif c == "_" and 0 < idx < n - 1 and (_lower(name[idx + 1]) or _digit(name[idx + 1])):
            has_underscore = True
            lower_since_underscore = False
        else:
            break
        idx += 1
    if idx == n:
        return name
    out = [name[:idx]] if idx else []
    if _upper(name[idx]) and (not has_lower or (has_underscore and not lower_since_underscore)):
        # capitals right after digits or an underscore continue the current word ("5TEst", "edf_6N")
        while idx < n and (_upper(name[idx]) or _digit(name[idx])):
            out.append(name[idx].lower())
            idx += 1
        while idx < n and (_lower(name[idx]) or _digit(name[idx])):
            out.append(name[idx])
            idx += 1
    while idx < n:
        c = name[idx]
        if not (_lower(c) or _upper(c) or _digit(c)):
            idx += 1
            continue
        if out:
            out.append("_")
        while idx < n and (_upper(name[idx]) or _digit(name[idx])):
            out.append(name[idx].lower())
            idx += 1
        while idx < n and (_lower(name[idx]) or _digit(name[idx])):
            out.append(name[idx])
            idx += 1
    return "".join(out)


def _digest(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def truncate_identifier(name: str) -> str:
    """``name`` within PostgreSQL's 63 bytes: a longer name keeps 54 characters, then ``_`` and 8 hex
    digits of the SHA-1 of the whole name, so two long names never fold into one column and every run
    gives the same name."""
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    return name.encode()[:54].decode("ascii", "ignore") + "_" + _digest(name)


_SEGMENTS: dict[str, str] = {}


def _segment(key: str) -> str:
    """One object key in snake_case; a key with nothing left gets ``x`` + a digest of it (cached:
    the same keys come back in every message)."""
    seg = _SEGMENTS.get(key)
    if seg is None:
        seg = snake_case(key) or "x" + _digest(key)
        if len(_SEGMENTS) > 100_000:
            _SEGMENTS.clear()
        _SEGMENTS[key] = seg
    return seg


def column_name(path: Iterable[str], reserved: Iterable[str] = ()) -> str:
    """The column for a property path (``["address", "zipCode"]`` -> ``address_zip_code``): keys in
    snake_case joined with ``_``; a ``_`` prefix when it starts with a digit or is reserved (one of
    ``reserved``, or ``context_...``); at most 63 bytes."""
    name = "_".join(_segment(k) for k in path)
    return _finish(name, frozenset(reserved))


def _finish(name: str, reserved: frozenset[str] | None) -> str:
    if name[:1].isdigit():
        name = "_" + name
    elif reserved is not None and (name in reserved or name.startswith("context_")):
        name = "_" + name
    return truncate_identifier(name)


def event_table(event: str) -> str:
    """The table of a track event: its name in snake_case (``x`` + digest when nothing is left), ``_``
    prefixed when it starts with a digit or is a built-in table name, at most 63 bytes."""
    name = snake_case(event) or "x" + _digest(event)
    if name[:1].isdigit() or name in BUILTIN_TABLES:
        name = "_" + name
    return truncate_identifier(name)


def base_columns(table: str) -> dict[str, str]:
    """The fixed columns (and types) of a table, created with it: the common columns plus those of
    its kind; any table that is not a built-in one is a track event's table."""
    if table == "users":
        return USERS_COLUMNS
    if table == DISCARDS_TABLE:
        return DISCARDS_COLUMNS
    return _BASE[_TABLE_KINDS.get(table, "track")]


def trait_columns(columns: Iterable[str]) -> list[str]:
    """Which columns of ``identifies`` hold traits (and so also go to ``users``): all but the
    message's own columns, which reserved-name prefixing keeps apart from traits."""
    return [c for c in columns if c not in _BASE["identify"] and not c.startswith("context_")]


# --- messages to rows ------------------------------------------------------------------------------------
def _data(message: Message | Mapping[str, Any]) -> tuple[Mapping[str, Any], Any]:
    if type(message) is Message or isinstance(message, Message):
        data = message_data(message)
        return data, data.get("messageId") or message.message_id
    return message, message.get("messageId")


def message_data(message: Message) -> dict[str, Any]:
    """A message's JSON object: the one it holds when it has been parsed (or was built from a dict),
    else parsed from its raw JSON without keeping it on the message. A batch's worth of parsed
    messages kept alive until the batch is done made every garbage collection walk them: in a
    warehouse load that cost more than the parsing."""
    data = message._data  # the parsed form, if any (Message.data would keep what it parses)
    return data if data is not None else orjson.loads(message.raw)


def _kind(data: Mapping[str, Any]) -> str:
    kind = data.get("type")
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind not in KIND_COLUMNS:
        raise Unloadable(f"message type {kind!r} has no warehouse table")
    return kind


def table_for(message: Message | Mapping[str, Any]) -> str:
    """The main table of a message: its event's table for a track (``tracks`` when it has no event
    name; every track also goes to ``tracks``), else the table of its type."""
    data, _ = _data(message)
    kind = _kind(data)
    if kind == "track":
        event = data.get("event")
        return _event_names(event)[1] if isinstance(event, str) and event else "tracks"
    return KIND_TABLES[kind]


def _value(v: Any) -> Any:
    """A JSON value as stored: strings without NUL, arrays (and anything unusual) as JSON text."""
    t = type(v)
    if t is str:
        return v.replace("\x00", "") if "\x00" in v else v
    if t is int or t is float or t is bool:
        return v
    if t is list or t is tuple:
        return orjson.dumps(v, default=str).decode()
    if isinstance(v, str | int | float):
        return v
    return orjson.dumps(v, default=str).decode()


#: group -> object path -> key -> [path of the key, its column, the level of its path once it holds an
#: object]: one lookup per value in the hot loop
_LEVELS: dict[str, dict[str, dict[Any, list[Any]]]] = {}


def _level(group: str, prefix: str) -> dict[Any, list[Any]]:
    """The names cached for the keys of the objects at ``prefix`` in ``group`` (bounded: a log with
    ever new keys starts them over)."""
    levels = _LEVELS.get(group)
    if levels is None or len(levels) > 10_000:
        levels = _LEVELS[group] = {}
    level = levels.get(prefix)
    if level is None:
        level = levels[prefix] = {}
    return level


def _flatten(
    out: dict[str, Any],
    level: dict[Any, list[Any]],
    prefix: str,
    obj: Mapping[str, Any],
    group: str,
    reserved: frozenset[str] | None,
) -> None:
    """Nested objects flattened with ``_`` into ``out``; ``null`` creates nothing. Later keys win when
    two keys give the same column (as in RudderStack's transformer). The hot loop of a load: names
    are cached per object path and key (``level``: those of ``prefix``, from :func:`_level`; a nested
    object's level is kept with its key), and plain strings and numbers skip :func:`_value`."""
    if len(level) > 10_000:
        level.clear()
    for key, v in obj.items():
        if v is None:
            continue
        entry = level.get(key)
        if entry is None:
            seg = _segment(str(key))
            path = prefix + "_" + seg if prefix else seg
            entry = level[key] = [path, _finish(path, reserved), None]
        t = type(v)
        if t is str:
            out[entry[1]] = v if "\x00" not in v else v.replace("\x00", "")
        elif t is dict:
            if v:
                if entry[2] is None:
                    entry[2] = _level(group, entry[0])
                _flatten(out, entry[2], entry[0], v, group, reserved)
        elif t is int or t is float or t is bool:
            out[entry[1]] = v
        else:
            out[entry[1]] = _value(v)


_EVENTS: dict[str, tuple[str, str]] = {}


def _event_names(event: str) -> tuple[str, str]:
    """``(event column, event table)`` of an event name, cached: a log has few distinct events."""
    names = _EVENTS.get(event)
    if names is None:
        if len(_EVENTS) > 100_000:
            _EVENTS.clear()
        names = _EVENTS[event] = (snake_case(event), event_table(event))
    return names


_RESERVED = {kind: frozenset(cols) for kind, cols in _BASE.items()}
_COMMON_FIELDS = (
    ("anonymousId", "anonymous_id"),
    ("userId", "user_id"),
    ("receivedAt", "received_at"),
    ("sentAt", "sent_at"),
    ("timestamp", "timestamp"),
    ("originalTimestamp", "original_timestamp"),
)


def rows_for(message: Message | Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The rows a message becomes, as ``(table, {column: value})``: a track gives a ``tracks`` row
    (common columns, ``event``, ``event_text``) and, when it has an event name, its event table's row
    (the same plus its properties); the other types give one row in their table. Properties (track,
    page, screen) and traits (identify, group) are flattened without prefix; ``context`` as
    ``context_*``. ``uuid_ts`` is left to the loader; ``users`` rows come from :func:`users_rows`.
    Values are JSON scalars: their column types come from :func:`fit_rows`."""
    data: Mapping[str, Any]
    if type(message) is Message:  # the hot path (the others: _data), with the calls it makes inlined
        parsed = message._data  # as message_data()
        data = orjson.loads(message.raw) if parsed is None else parsed
        mid = data.get("messageId") or message.message_id
    else:
        data, mid = _data(message)
    if mid is None or mid == "" or isinstance(mid, dict | list):
        raise Unloadable("no messageId: the warehouse keys every row on it")
    kind = data.get("type")  # as _kind()
    kind = kind.lower() if isinstance(kind, str) else kind
    if kind not in KIND_COLUMNS:
        raise Unloadable(f"message type {kind!r} has no warehouse table")
    if type(mid) is str:
        base: dict[str, Any] = {"id": mid if "\x00" not in mid else mid.replace("\x00", "")}
    else:
        base = {"id": str(_value(mid))}
    for field, col in _COMMON_FIELDS:
        v = data.get(field)
        if v is not None:
            base[col] = v if type(v) is str and "\x00" not in v else _value(v)
    context = data.get("context")
    if type(context) is dict and context:
        _flatten(base, _level("context", "context"), "context", context, "context", None)
    reserved = _RESERVED[kind]
    if kind == "track":
        event = data.get("event")
        if not isinstance(event, str):
            return [("tracks", base)]
        base["event"], table = _event_names(event)
        base["event_text"] = _value(event)
        if not event:
            return [("tracks", base)]
        row = dict(base)
        _props(row, data.get("properties"), kind, reserved)
        return [("tracks", base), (table, row)]
    row = base
    if kind in ("page", "screen"):
        for field in ("name", "category"):
            v = data.get(field)
            if v is not None:
                row[field] = _value(v)
        _props(row, data.get("properties"), kind, reserved)
    elif kind in ("identify", "group"):
        if kind == "group" and data.get("groupId") is not None:
            row["group_id"] = _value(data["groupId"])
        _props(row, data.get("traits"), kind, reserved)
    elif data.get("previousId") is not None:
        row["previous_id"] = _value(data["previousId"])
    return [(KIND_TABLES[kind], row)]


def _props(row: dict[str, Any], props: Any, kind: str, reserved: frozenset[str]) -> None:
    if type(props) is dict and props:  # reserved names are prefixed: the row's own columns stay
        _flatten(row, _level(kind, ""), "", props, kind, reserved)


# --- types ----------------------------------------------------------------------------------------------
_TS = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:[Zz]|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?))?"
)


def is_timestamp(value: str) -> bool:
    """Whether a string is a timestamp for the warehouse: a plain date (``2024-05-01``) or a full
    date-time with a zone (``2024-05-01T10:00:00.123Z``, ``... 10:00+02:00``), and a real one
    (``2024-02-30`` is not). Stricter than RudderStack's regex, which also takes a date-time without
    zone: its instant depends on the reader's time zone, so it stays text. The shape SDKs send
    (``2024-05-01T10:00:00.123Z``) is recognised without the regex: every row has several."""
    n = len(value)
    if n == 24 and value[4:20:3] == "--T::." and value[23] == "Z":
        pass
    elif n < 10 or value[4] != "-" or not _TS.fullmatch(value):
        return False
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return False
    # the instant must exist in UTC (Parquet, Arrow): only years 1 and 9999 can leave it
    return when.year not in (1, 9999) or to_utc(when) is not None


def parse_timestamp(value: Any) -> datetime | None:
    """A timestamp value as an aware datetime (a plain date is midnight UTC); None when it is not a
    timestamp by :func:`is_timestamp`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str) or not is_timestamp(value):
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def infer_type(value: Any) -> str:
    """The column type a first value gives: ``boolean``, ``bigint`` (an integer within 64 bits),
    ``numeric`` (other numbers), ``timestamptz`` (a timestamp string by :func:`is_timestamp`, a
    datetime or date), ``jsonb`` (an object or array still unflattened), else ``text``."""
    t = type(value)
    if t is str:
        return "timestamptz" if is_timestamp(value) else "text"
    if t is bool:
        return "boolean"
    if t is int:
        return "bigint" if _INT_MIN <= value <= _INT_MAX else "numeric"
    if t is float:
        return "numeric"
    if value is None:
        raise ValueError("null has no column type: it creates no column")
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if _INT_MIN <= value <= _INT_MAX else "numeric"
    if isinstance(value, float):
        return "numeric"
    if isinstance(value, datetime | date):
        return "timestamptz"
    if isinstance(value, dict | list | tuple):
        return "jsonb"
    return "text"


def as_text(value: Any) -> str:
    """A value as text, as a text column stores it: JSON's spelling for numbers, booleans, arrays."""
    t = type(value)
    if t is str:
        return value
    if t is bool:
        return "true" if value else "false"
    if t is int or t is float:
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return orjson.dumps(value, default=str).decode()


def coerce(value: Any, column_type: str) -> tuple[bool, Any]:
    """``(True, value as stored)`` when ``value`` fits a column of ``column_type`` (the column's type
    wins: an integer goes into ``numeric``, anything into ``text`` as text), ``(False, None)`` when it
    does not and the cell must stay NULL (a :class:`Discard`)."""
    t = type(value)
    if column_type == "text":
        return True, as_text(value)
    if column_type == "bigint":
        return (True, value) if t is int and _INT_MIN <= value <= _INT_MAX else (False, None)
    if column_type == "numeric":
        return (True, value) if t is int or t is float else (False, None)
    if column_type == "boolean":
        return (True, value) if t is bool else (False, None)
    if column_type == "timestamptz":
        if t is str and is_timestamp(value):
            return True, value
        if isinstance(value, datetime | date):
            return True, value
        return False, None
    if column_type == "jsonb":
        if isinstance(value, dict | list | tuple):
            return True, orjson.dumps(value, default=str).decode()
        return False, None
    return False, None


#: the Python type a value of a column type has when it needs no check (fit_rows' fast path)
_NATIVE = {"text": str, "boolean": bool, "numeric": float}


class _Missing(str):
    """The type of :data:`MISSING`."""

    __slots__ = ()


#: What :func:`fit_columns` gives where a row has no such column (None would be a value). Of a type
#: of its own, and a string: ``\\N``, PostgreSQL COPY's NULL, so that a column of values joins into
#: COPY text as it is (a value with a backslash is escaped by the writer, so cannot be taken for it).
MISSING = _Missing("\\N")
_A_TIMESTAMP = "2000-01-01T00:00:00.000Z"
#: the separators of a timestamp of the shape SDKs send (``2024-05-01T10:00:00.123Z``, 24 characters):
#: position, character, and a pattern for any other character
_SDK_SEPARATORS = [(i, c, re.compile(f"[^{re.escape(c)}]")) for i, c in enumerate(_A_TIMESTAMP) if c in "-T:.Z"]


def _positions(items: list[Any], item: Any) -> list[int]:
    """Where ``item`` is in ``items`` (found by the list's ``index``, not by Python code per item)."""
    out: list[int] = []
    try:
        i = items.index(item)
        while True:
            out.append(i)
            i = items.index(item, i + 1)
    except ValueError:
        return out


def _timestamp_suspects(texts: list[str]) -> set[int]:
    """The positions of the strings that may not be timestamps: every other one has the shape SDKs
    send (24 characters, the separators in place, a ``Z``) and :meth:`datetime.fromisoformat` reads
    it, which is exactly when :func:`is_timestamp` accepts a string of that shape. Checked for all at
    once: their lengths, each separator's column of the joined text, and one ``fromisoformat`` pass
    (split in halves only when it fails)."""
    odd: set[int] = set()
    lengths = list(map(len, texts))
    for length in set(lengths) - {24}:
        odd.update(_positions(lengths, length))
    plain = [_A_TIMESTAMP if i in odd else t for i, t in enumerate(texts)] if odd else texts
    text = "".join(plain)
    found: set[int] = set()
    for at, separator, other in _SDK_SEPARATORS:
        column = text[at::24]
        if column != separator * len(plain):
            found.update(m.start() for m in other.finditer(column))
    if found:
        odd |= found
        plain = [_A_TIMESTAMP if i in found else t for i, t in enumerate(plain)]
    _unreadable(plain, 0, len(plain), odd)
    return odd


def _unreadable(texts: list[str], start: int, end: int, out: set[int]) -> None:
    """Add to ``out`` the positions in ``texts[start:end]`` that ``fromisoformat`` may refuse."""
    try:
        deque(map(datetime.fromisoformat, texts[start:end]), maxlen=0)
    except ValueError:
        if end - start <= 8:
            out.update(range(start, end))
        else:
            middle = (start + end) // 2
            _unreadable(texts, start, middle, out)
            _unreadable(texts, middle, end, out)


def _suspects(values: list[Any], types: set[type], column_type: str) -> set[int]:
    """The positions of the values of a column (:data:`MISSING` where a row has none; ``types``: theirs,
    without ``_Missing``) that may not be stored as they are; the others certainly are. Worked out
    for the whole column at once, not value by value: by type (a list's ``index`` finds the few values
    of an odd type), by range for integers, for timestamps by :func:`_timestamp_suspects`."""
    odd = types - {_NATIVE.get(column_type)}
    if column_type == "numeric":
        odd.discard(int)  # an integer is a numeric as it is
    elif column_type == "bigint" and int in odd:
        ints = [v for v in values if type(v) is int] if len(types) > 1 or MISSING in values else values
        if _INT_MIN <= min(ints) and max(ints) <= _INT_MAX:
            odd.discard(int)
    if not odd:
        return set()
    suspects: set[int] = set()
    if column_type == "timestamptz" and str in odd:
        odd.discard(str)
        if types == {str} and MISSING not in values:
            suspects = _timestamp_suspects(values)
        else:
            suspects = _timestamp_suspects([v if type(v) is str else _A_TIMESTAMP for v in values])
    if odd:
        kinds = list(map(type, values))
        for kind in odd:
            suspects.update(_positions(kinds, kind))
    return suspects


def fit_rows(
    table: str, rows: list[dict[str, Any]], columns: Mapping[str, str], *, max_columns: int | None = MAX_COLUMNS
) -> tuple[dict[str, str], list[Discard]]:
    """Fit a table's rows to its columns, in place. ``columns`` are the table's existing columns and
    types (its :func:`base_columns` count as existing). A column not there yet is added with the type
    of its first value in ``rows`` order (a fixed column with its fixed type); beyond ``max_columns``
    columns a new column is refused. A value whose type conflicts with its column is coerced when the
    column's type allows (:func:`coerce`), else removed from the row and returned as a
    :class:`Discard`. Returns the columns to add (name -> type, in order of first use) and the
    discards (in ``rows`` order, then the row's)."""
    added, discards, _ = fit_columns(table, rows, columns, max_columns=max_columns)
    return added, discards


def fit_columns(
    table: str, rows: list[dict[str, Any]], columns: Mapping[str, str], *, max_columns: int | None = MAX_COLUMNS
) -> tuple[dict[str, str], list[Discard], dict[str, list[Any]]]:
    """:func:`fit_rows`, and the rows' values by column as fitted: for each column some row has (in
    order of first use), its value in each row, :data:`MISSING` where the row has none.

    The hot loop of a load, so it goes column by column: a column's values are gathered and
    :func:`_suspects` finds, without Python code run per value, the few that may not fit as they
    are; only those are looked at one by one. When new columns would pass ``max_columns``, which
    ones are refused depends on the order of the values: then it goes row by row."""
    known: dict[str, str] = {**base_columns(table), **columns}
    order = list(dict.fromkeys(chain.from_iterable(rows)))  # every column, in order of first use
    new = [c for c in order if c not in known]
    if new and max_columns is not None and len(known) + len(new) > max_columns:
        new_columns, dropped = _fit_by_row(table, rows, known, max_columns)
        present = dict.fromkeys(chain.from_iterable(rows))
        return new_columns, dropped, {c: list(map(dict.get, rows, repeat(c), repeat(MISSING))) for c in present}
    added: dict[str, str] = {}
    by_column: dict[str, list[Any]] = {}
    problems: list[tuple[int, str, Any, str]] = []  # (row, column, value, reason)
    for col in order:
        values = by_column[col] = list(map(dict.get, rows, repeat(col), repeat(MISSING)))
        first = -1
        ctype = known.get(col)
        if ctype is None:  # a new column: its first value gives the type (and is not checked)
            first = next(i for i, v in enumerate(values) if v is not MISSING)
            ctype = known[col] = added[col] = infer_type(values[first])
        types = set(map(type, values))
        types.discard(_Missing)
        native = _NATIVE.get(ctype)
        for i in _suspects(values, types, ctype):
            v = values[i]
            t = type(v)
            if t is native or v is MISSING or i == first:
                continue
            if t is str and ctype == "timestamptz" and is_timestamp(v):
                continue
            if t is int and ctype == "bigint" and _INT_MIN <= v <= _INT_MAX:
                continue
            ok, fitted = coerce(v, ctype)
            if ok:
                rows[i][col] = values[i] = fitted
            else:
                problems.append((i, col, v, f"{infer_type(v)} value in {ctype} column"))
    if not problems:
        return added, [], by_column
    discards = _discards(table, rows, problems)
    for col in {p[1] for p in problems}:
        values = by_column[col]
        for i in (p[0] for p in problems if p[1] == col):
            values[i] = MISSING
        if all(v is MISSING for v in values):  # no row has it any more
            del by_column[col]
    return added, discards, by_column


def _discards(table: str, rows: list[dict[str, Any]], problems: list[tuple[int, str, Any, str]]) -> list[Discard]:
    """Remove the values of ``problems`` from their rows: the discards, in row order then column order."""
    problems.sort(key=lambda p: (p[0], list(rows[p[0]]).index(p[1])))
    discards: list[Discard] = []
    current = -1
    rid: str = ""
    received: str | None = None
    for i, col, v, reason in problems:
        row = rows[i]
        if i != current:
            current = i
            rid = str(row.get("id"))
            ra = row.get("received_at")
            received = ra if type(ra) is str and is_timestamp(ra) else None
        del row[col]
        discards.append(Discard(table, rid, col, as_text(v), reason, received))
    return discards


def _fit_by_row(
    table: str, rows: list[dict[str, Any]], known: dict[str, str], max_columns: int
) -> tuple[dict[str, str], list[Discard]]:
    """:func:`fit_rows` value by value in row order: when some new columns will be refused."""
    native: dict[str, Any] = {c: _NATIVE.get(t) for c, t in known.items()}
    added: dict[str, str] = {}
    discards: list[Discard] = []
    full = len(known) >= max_columns
    for row in rows:
        dropped: list[tuple[str, Any, str]] | None = None
        for col, v in row.items():
            t = type(v)
            nt = native.get(col, MISSING)
            if t is nt:
                continue
            if nt is MISSING:
                if full:
                    dropped = dropped or []
                    dropped.append((col, v, f"table {table} already has {max_columns} columns (PostgreSQL's limit)"))
                    continue
                ctype = known[col] = added[col] = infer_type(v)
                native[col] = _NATIVE.get(ctype)
                full = len(known) >= max_columns
                continue
            ctype = known[col]
            if t is str and ctype == "timestamptz" and is_timestamp(v):
                continue
            if t is int and ctype == "bigint" and _INT_MIN <= v <= _INT_MAX:
                continue
            ok, fitted = coerce(v, ctype)
            if ok:
                row[col] = fitted  # replacing a value while iterating is allowed; adding or removing is not
            else:
                dropped = dropped or []
                dropped.append((col, v, f"{infer_type(v)} value in {ctype} column"))
        if dropped:
            rid = str(row.get("id"))
            ra = row.get("received_at")
            received = ra if type(ra) is str and is_timestamp(ra) else None
            for col, v, reason in dropped:
                del row[col]
                discards.append(Discard(table, rid, col, as_text(v), reason, received))
    return added, discards


# --- users ----------------------------------------------------------------------------------------------
_OLDEST = datetime.min.replace(tzinfo=UTC)


def recency(row: Mapping[str, Any]) -> tuple[bool, datetime, bool, datetime, str]:
    """How recent a row is: by ``timestamp``, then ``received_at`` (a missing or invalid one is the
    oldest), then ``id``; the order the warehouses' ``users`` merge and de-duplication use."""
    ts = parse_timestamp(row.get("timestamp"))
    ra = parse_timestamp(row.get("received_at"))
    return ts is not None, ts or _OLDEST, ra is not None, ra or _OLDEST, str(row.get("id"))


def users_rows(identifies: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``users`` from ``identifies`` rows: one row per ``user_id`` (as text), ``id`` = user_id,
    ``received_at`` of its latest identify, and for each trait column the latest non-null value
    (latest by :func:`recency`); no ``anonymous_id``. Rows without ``user_id`` are anonymous and give
    no user. The same rule as the PostgreSQL destination's merge, so reruns and overlaps agree."""
    by_user: dict[str, list[Mapping[str, Any]]] = {}
    for row in identifies:
        uid = row.get("user_id")
        if uid is not None and uid != "":
            by_user.setdefault(as_text(uid), []).append(row)
    users = []
    for uid, rows in by_user.items():
        rows.sort(key=recency)
        user: dict[str, Any] = {"id": uid}
        if rows[-1].get("received_at") is not None:
            user["received_at"] = rows[-1]["received_at"]
        for row in rows:  # oldest first: later non-null values overwrite
            for col in trait_columns(row):
                if row[col] is not None:
                    user[col] = row[col]
        users.append(user)
    return users
