"""``cdp plan infer``: a draft tracking plan from event logs.

Streams logs through the one event reader (:mod:`cdp_cli.events.reader`) in chunks, in worker
processes when ``jobs > 1`` (:func:`cdp_cli.workers.ordered_map`, as ``events lint`` does), and
keeps per-property statistics in a tree of :class:`Node` objects: how often a key is present, how
often each JSON type was seen (null apart from absent), a capped set of distinct short strings (enum
candidates), which formats every string so far satisfied, and object children, map values and array
items. Memory is bounded by the caps (distinct values per property, keys per object, nesting depth,
names), never by the size of the input; the result is the same whatever ``jobs`` is.

How it is fast enough in pure Python: a message is never walked value by value with per-value
logic. Chunks are parsed in slices of 500 lines, and each slice is looked at at once, while its
objects are still in the CPU's caches. Per message, only its body is looked up (one dictionary
lookup); then each body's properties and every context are cut out of the slice's messages with
``map`` (in C), the objects of a position are sorted into one list per key (the only per-value
Python: two dictionary lookups and an append, cheaper in CPython than any tuple-shaped key), and
each list is typed and reduced in C: ``"".join`` proves a list all strings, ``set`` gives the
distinct strings of enum candidates. Formats are checked on distinct values only, thousands at a
time, with the validator ``events lint`` uses (jsonschema-rs), so a format the plan claims is one
lint accepts; a quick look at a list's first and last value drops most candidates without calling
it. On the generated e-commerce logs this costs about 60% of the CPU time of ``events lint``.

What becomes of the statistics (docs/plan-format.md is the format written):

- types: the JSON types seen; integer and number together collapse to number; null when a value
  was null (absent keys only make a property optional);
- ``required: true`` when the key was present in at least ``required_share`` of its parent's
  occurrences, and the parent was seen at least ``min_count`` times;
- ``enum`` for strings only (quicktype's rule): at least ``enum_min_count`` values, fewer distinct
  values than the square root of their count, at most ``enum_max_values`` distinct, none longer than
  ``enum_max_length``, not all numeric-looking, no member that looks like personal data (the PI
  detectors), and never on a property whose name says it holds personal data;
- ``format`` (date-time, date, time, uuid in either case, email, uri) when every string matched;
- objects get ``properties``; arrays one ``items`` schema; keys that look like data (all digits,
  ids, UUIDs, dates, emails: what lint calls a dynamic key), or more than :data:`MAX_KEYS` distinct
  keys, make a map: ``additionalProperties: <schema of the values>``. The top level of an event's
  properties (or traits, or context) cannot be a map in the plan format: it is left open and
  reported;
- identify and group traits merge ``context.traits`` under ``traits`` as lint does; ``common.context``
  is inferred over every message (``context.traits`` excepted: it is covered by identify and group);
- naming conventions: the style most names follow, the others listed as exceptions;
- a property used with the same definition by several events, pages or screens goes to the shared
  library and is used with ``ref:``.

Values never reach the plan except enum members. Names that hold personal data are left out and
counted. Counts and first/last seen go in YAML comments; descriptions are placeholders (the plan
validates clean with ``--strict``, which wants descriptions), to be replaced by people.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

from cdp_cli.errors import UsageError
from cdp_cli.events.model import to_utc
from cdp_cli.events.reader import (
    DEFAULT_MAX_LINE_BYTES,
    Chunk,
    ReadStats,
    Record,
    Source,
    discover,
    gc_paused,
    iter_chunks,
    materialize,
    parse_slices,
)
from cdp_cli.findings import Finding
from cdp_cli.lint.payload import dynamic_reason
from cdp_cli.naming import Style, matches, normalize
from cdp_cli.pii import classify_key, personal_data_in
from cdp_cli.plan import format as fmt
from cdp_cli.results import Observer, Progress, Table, plural
from cdp_cli.rules.codes import (
    PRIVACY_CREDIT_CARD_IN_VALUE,
    PRIVACY_EMAIL_IN_VALUE,
    PRIVACY_IP_IN_VALUE,
    PRIVACY_PHONE_IN_VALUE,
    PRIVACY_SSN_IN_VALUE,
)
from cdp_cli.workers import default_jobs, ordered_map

MAX_KEYS = 1000  #: distinct keys an object may have before it is taken for a map
MAX_DEPTH = 10  #: nesting levels inferred (deeper objects are ``type: object`` without properties)
MAX_NAMES = 10_000  #: distinct event, page and screen names inferred; the rest are counted
_CHUNKS_PER_TASK = 4  #: reader chunks (2,000 lines each) handed to a worker at once
#: Lines parsed and looked at together: fewer keep the messages cache-hot, more spread each node's
#: per-flush cost over more values (500 measured best on the generated log).
_SLICE_LINES = 500
_DESCRIPTION_EVENT = "Inferred from event logs: say when it is sent."
_DESCRIPTION_PROP = "Inferred from event logs: say what it holds."

# --- formats ---------------------------------------------------------------------------------------
_URI_SCHEMES = ("http://", "https://", "HTTP://", "HTTPS://", "ftp://", "ws://", "wss://", "mailto:", "urn:", "tel:")
#: (bit, format, a quick look at one value). A format is claimed only when every string of a property
#: passes jsonschema-rs's format validation (what ``events lint`` checks); the quick look drops most
#: candidates at their first value, without calling the validator.
_FORMATS: tuple[tuple[int, str, Callable[[str], Any]], ...] = (
    (1, "date-time", re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d").match),
    (2, "date", re.compile(r"\d{4}-\d\d-\d\d\Z").match),
    (4, "time", re.compile(r"\d\d:\d\d:\d\d").match),
    # any case: quicktype's lower-case-only check misses upper-case UUIDs
    (8, "uuid", re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z").match),
    (16, "email", re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z").match),
    (32, "uri", lambda v: v.startswith(_URI_SCHEMES)),  # a web, mail, urn or tel URI: not any "a:b"
)
_URI_BIT = 32
_ALL_FORMATS = 63
_UNCHECKED_MAX = 4096  #: distinct strings kept per property before they are checked against its formats
_FORMAT_MAX_LENGTH = 2048  #: a longer string has no format here (and is not kept to be checked)
_VALIDATORS: dict[str, Any] = {}


def _validator(name: str) -> Any:
    """jsonschema-rs's validator of a list of strings in format ``name`` (one call for many values:
    a call costs far more than a value)."""
    v = _VALIDATORS.get(name)
    if v is None:
        import jsonschema_rs

        schema = {"type": "array", "items": {"type": "string", "format": name}}
        v = _VALIDATORS[name] = jsonschema_rs.validator_for(schema, validate_formats=True)
    return v


def _glance(alive: int, strings: list[str]) -> int:
    """The formats still possible after a quick look at the first and last of some strings."""
    first, last = strings[0], strings[-1]
    for bit, _, looks in _FORMATS:
        if alive & bit and not (looks(first) and looks(last)):
            alive &= ~bit
    return alive


def _check_formats(alive: int, distinct: Iterable[str]) -> int:
    """The bits of ``alive`` whose format every one of ``distinct`` satisfies."""
    values = list(distinct)
    if not values:
        return alive
    for bit, name, _ in _FORMATS:
        if alive & bit:
            if bit == _URI_BIT and not all(map(str.startswith, values, repeat(_URI_SCHEMES))):
                alive &= ~bit
            elif not _validator(name).is_valid(values):
                alive &= ~bit
    return alive


_PII_WHAT = {
    PRIVACY_EMAIL_IN_VALUE: "an email address",
    PRIVACY_PHONE_IN_VALUE: "a phone number",
    PRIVACY_CREDIT_CARD_IN_VALUE: "a payment card number",
    PRIVACY_SSN_IN_VALUE: "a US Social Security number",
    PRIVACY_IP_IN_VALUE: "an IP address",
}
_NUMERIC = re.compile(r"\s*[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?\s*")
_ALLOWED_KEY_NUMBERS = re.compile(r"^[a-z]+\d{1,2}$", re.I)  # "ipv6", "line1": as lint's dynamic-key rule
_DYNAMIC_CACHE: dict[str, str | None] = {}


def dynamic_key(key: str) -> str | None:
    """Why a key looks like data rather than a name (so its object is a map), or None. The rule of
    lint's dynamic-key check (ids, UUIDs, emails, URLs, dates, numbers), plus all-digit keys
    (quicktype's map rule), the empty key and any personal data."""
    hit = _DYNAMIC_CACHE.get(key, "")
    if hit != "":
        return hit
    why: str | None
    if not key.strip():
        why = "an empty name"
    elif key.isdigit():
        why = "only digits"
    else:
        why = dynamic_reason(key, key=True)
        if why == "a number" and _ALLOWED_KEY_NUMBERS.match(key):
            why = None
        if why is None and personal_data_in(key):
            why = "personal data"
    if len(_DYNAMIC_CACHE) > 50_000:
        _DYNAMIC_CACHE.clear()
    _DYNAMIC_CACHE[key] = why
    return why


# --- settings --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InferSettings:
    """The thresholds of one inference (see the module docstring)."""

    required_share: float = 0.99
    min_count: int = 20
    enum_min_count: int = 10
    enum_max_values: int = 64
    enum_max_length: int = 64
    name: str = "inferred"

    def check(self) -> None:
        if not 0 < self.required_share <= 1:
            raise UsageError(f"required share {self.required_share} must be above 0 and at most 1 (0.99 is 99%)")
        for label, value, low in (
            ("minimum count", self.min_count, 1),
            ("enum minimum count", self.enum_min_count, 1),
            ("enum maximum values", self.enum_max_values, 1),
            ("enum maximum length", self.enum_max_length, 1),
        ):
            if value < low:
                raise UsageError(f"{label} {value} must be at least {low}")
        if not self.name.strip():
            raise UsageError("the plan's name cannot be empty")


# --- statistics ------------------------------------------------------------------------------------
class Node:
    """What was seen at one position of the messages (a property, a nested key, array items, the
    values of a map). ``count``: times the key was present; ``types``: Python type -> values seen;
    ``nobj``: times it was an object (its children's presence is counted against this);
    ``pending``: the objects seen since the last flush."""

    __slots__ = (
        "depth",
        "count",
        "nobj",
        "types",
        "values",
        "formats",
        "children",
        "map",
        "items",
        "overflow",
        "deep",
        "ignored",
        "pending",
        "unchecked",
    )

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.count = 0
        self.nobj = 0
        self.types: dict[type, int] = {}
        self.values: set[str] | None = set()  # distinct strings while an enum is possible, else None
        self.formats = _ALL_FORMATS  # bits of the formats every string so far matched
        self.children: dict[str, Node] = {}
        self.map: Node | None = None  # values under keys that look like data
        self.items: Node | None = None
        self.overflow = False  # more than MAX_KEYS distinct keys: a map
        self.deep = False  # objects below MAX_DEPTH were seen (not inferred)
        self.ignored = False  # context.traits: counted, not inferred
        self.pending: list[dict] = []
        self.unchecked: set[str] = set()  # strings not yet checked against the formats still possible

    def __getstate__(self) -> tuple:
        """Statistics only (nothing is pending after a flush), in ``__slots__`` order: a worker sends
        thousands of nodes per task and the parent rebuilds them (a getattr/setattr loop cost the
        parent a third of its time; ``attrgetter`` reads them in C)."""
        state = _NODE_STATE(self)
        return (*state[:_PENDING], [], *state[_PENDING + 1 :])

    def __setstate__(self, state: tuple) -> None:
        (
            self.depth,
            self.count,
            self.nobj,
            self.types,
            self.values,
            self.formats,
            self.children,
            self.map,
            self.items,
            self.overflow,
            self.deep,
            self.ignored,
            self.pending,
            self.unchecked,
        ) = state

    def merge(self, other: Node, settings: InferSettings) -> None:
        """Add ``other``'s counts (from another chunk); ``other`` is not used afterwards."""
        self.count += other.count
        self.nobj += other.nobj
        for t, n in other.types.items():
            self.types[t] = self.types.get(t, 0) + n
        if self.values is not None:
            if other.values is None:
                self.values = None
            else:
                self.values |= other.values
                if len(self.values) > settings.enum_max_values:
                    self.values = None
        self.formats &= other.formats
        if not self.formats:
            self.unchecked = set()
        elif other.unchecked:
            self.unchecked |= other.unchecked
            if len(self.unchecked) >= _UNCHECKED_MAX:
                _verify(self)
        self.overflow = self.overflow or other.overflow
        self.deep = self.deep or other.deep
        for key, theirs in other.children.items():
            mine = self.children.get(key)
            if mine is not None:
                mine.merge(theirs, settings)
            elif self.overflow or len(self.children) >= MAX_KEYS:
                self.overflow = True
                self._map().merge(theirs, settings)
            else:
                self.children[key] = theirs
        if other.map is not None:
            if self.map is None:
                self.map = other.map
            else:
                self.map.merge(other.map, settings)
        if other.items is not None:
            if self.items is None:
                self.items = other.items
            else:
                self.items.merge(other.items, settings)

    def _map(self) -> Node:
        if self.map is None:
            self.map = Node(self.depth + 1)
        return self.map

    def child(self, key: str) -> Node:
        """The node a key's values go to: its own, or the map's when the key looks like data."""
        node = self.children.get(key)
        if node is not None:
            return node
        if self.overflow or dynamic_key(key) is not None:
            return self._map()
        if len(self.children) >= MAX_KEYS:
            self.overflow = True
            return self._map()
        node = self.children[key] = Node(self.depth + 1)
        return node


_join = "".join
_NODE_STATE = attrgetter(*Node.__slots__)  #: every slot of a node, at once (pickling)
_PENDING = Node.__slots__.index("pending")


def _tracking(node: Node) -> bool:
    """Whether a node's strings still matter (an enum or a format is still possible)."""
    return node.values is not None or node.formats != 0


def _observe_dicts(node: Node, objs: list, settings: InferSettings) -> None:
    """Keep some objects for :func:`_flush_node`."""
    node.nobj += len(objs)
    if node.depth >= MAX_DEPTH:
        if any(objs):
            node.deep = True
        return
    if not node.pending:
        _DIRTY.append(node)
    node.pending.extend(objs)


def _flush_node(node: Node, settings: InferSettings) -> None:
    """Look at a node's pending objects: their values sorted into one column per key (two dictionary
    lookups and an append per value: cheaper in CPython than any key built per object), then each
    column counted by type and its strings reduced to their distinct values in C (``set``), its
    objects passed on to the child, its arrays' items to the items node."""
    objs, node.pending = node.pending, []
    by_key: dict[str, list] = {k: [] for k in objs[0]}  # the usual keys: no KeyError raised for them
    for obj in objs:
        for k in obj:  # faster than .items() (no pair tuples) and than by_key.get (no method call)
            try:
                by_key[k].append(obj[k])
            except KeyError:
                by_key[k] = [obj[k]]
    child_of = node.child
    columns: dict[Node, list] = {}
    for key, col in by_key.items():
        child = child_of(key)
        child.count += len(col)
        if child.ignored:
            continue
        got = columns.get(child)
        if got is None:
            columns[child] = col
        else:
            got.extend(col)  # keys that look like data: one map
    for child, col in columns.items():
        _observe_values(child, col, settings)


def _walk(node: Node) -> Iterator[Node]:
    """A node and every node below it, parents first."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children.values())
        if n.map is not None:
            stack.append(n.map)
        if n.items is not None:
            stack.append(n.items)


#: Nodes holding pending objects, in the order they got them. A node gets some only from its
#: parent's flush (or as a message's root), so popping the last one always flushes parents first;
#: only the nodes that saw something are visited, never a whole tree per slice.
_DIRTY: list[Node] = []


def _flush(settings: InferSettings) -> None:
    """Look at every value kept since the last flush (parents first: they fill their children's columns)."""
    dirty = _DIRTY
    while dirty:
        n = dirty.pop()
        if n.pending:
            _flush_node(n, settings)


def _observe_values(node: Node, col: list, settings: InferSettings) -> None:
    types = node.types
    try:
        _join(col)  # succeeds only when every value is a string: far cheaper than a type per value
    except TypeError:
        kinds = set(map(type, col))
    else:
        types[str] = types.get(str, 0) + len(col)
        if _tracking(node):
            _observe_strings(node, col, settings)
        return
    if len(kinds) == 1:
        only = kinds.pop()
        types[only] = types.get(only, 0) + len(col)
        if only is str:
            if _tracking(node):
                _observe_strings(node, col, settings)
        elif only is dict:
            _observe_dicts(node, col, settings)
        elif only is list:
            _observe_lists(node, col, settings)
        return
    for t, n in Counter(map(type, col)).items():
        types[t] = types.get(t, 0) + n
    if str in kinds and _tracking(node):
        _observe_strings(node, [v for v in col if type(v) is str], settings)
    if dict in kinds:
        _observe_dicts(node, [v for v in col if type(v) is dict], settings)
    if list in kinds:
        _observe_lists(node, [v for v in col if type(v) is list], settings)


def _observe_strings(node: Node, strings: list, settings: InferSettings) -> None:
    """Distinct strings (in C) for the enum, and kept for the format check (both capped)."""
    distinct = set(strings)
    longest = max(map(len, distinct))
    if node.values is not None:
        if longest > settings.enum_max_length:
            node.values = None
        else:
            node.values |= distinct
            if len(node.values) > settings.enum_max_values:
                node.values = None
    if node.formats:
        node.formats = _glance(node.formats, strings) if longest <= _FORMAT_MAX_LENGTH else 0
        if node.formats:
            node.unchecked |= distinct
            if len(node.unchecked) >= _UNCHECKED_MAX:
                _verify(node)
        else:
            node.unchecked = set()


def _verify(node: Node) -> None:
    """Check the strings kept so far against the formats still possible (jsonschema-rs)."""
    if node.unchecked:
        node.formats = _check_formats(node.formats, node.unchecked)
        node.unchecked = set()


def _observe_lists(node: Node, lists: list, settings: InferSettings) -> None:
    if node.depth >= MAX_DEPTH:
        if any(lists):
            node.deep = True
        return
    items = [x for lst in lists for x in lst]
    if not items:
        return
    if node.items is None:
        node.items = Node(node.depth + 1)
    node.items.count += len(items)
    _observe_values(node.items, items, settings)


class Body:
    """One message definition seen in the logs: an event, a page, a screen, identify or group.
    ``root`` is None for messages whose name cannot be planned (missing, or holding personal data).
    ``pending`` holds its messages of the current chunk."""

    __slots__ = ("kind", "name", "count", "first", "last", "root", "bad", "pending")

    def __init__(self, kind: str, name: str | None, root: bool = True) -> None:
        self.kind = kind
        self.name = name
        self.count = 0
        self.first: str | None = None
        self.last: str | None = None
        self.root: Node | None = Node(0) if root else None
        self.bad = 0  # messages whose properties/traits are neither an object nor absent
        self.pending: list[dict] = []  # the current chunk's messages

    def __getstate__(self) -> tuple:
        return (self.kind, self.name, self.count, self.first, self.last, self.root, self.bad)

    def __setstate__(self, state: tuple) -> None:
        self.kind, self.name, self.count, self.first, self.last, self.root, self.bad = state
        self.pending = []

    def merge(self, other: Body, settings: InferSettings) -> None:
        self.count += other.count
        self.bad += other.bad
        self._seen(other.first, other.last)
        if self.root is not None and other.root is not None:
            self.root.merge(other.root, settings)

    def _seen(self, first: str | None, last: str | None) -> None:
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last

    def flush(self, settings: InferSettings) -> None:
        """Count the chunk's messages of this body (``pending``), their times and properties."""
        msgs = self.pending
        if not msgs:
            return
        self.pending = []
        self.count += len(msgs)
        get = dict.get
        stamps: list[Any] = list(map(get, msgs, repeat("timestamp")))
        try:
            lo, hi = min(stamps), max(stamps)  # all strings (the usual case): compared in C
            usual = type(lo) is str and type(hi) is str and lo != ""
        except TypeError:  # a missing or non-string timestamp
            usual = False
        if not usual:
            if None in stamps:  # Segment sets timestamp; other pipelines may have receivedAt only
                stamps = [
                    t if t is not None else m.get("receivedAt") or m.get("originalTimestamp")
                    for t, m in zip(stamps, msgs)
                ]
            stamps = [t for t in stamps if type(t) is str and t]
            lo, hi = (min(stamps), max(stamps)) if stamps else ("", "")
        if lo:
            self._seen(*_time_range(lo, hi, stamps))
        root = self.root
        if root is None:
            return
        if self.kind == "identify" or self.kind == "group":
            values = [_traits(m) for m in msgs]
        else:
            values = list(map(get, msgs, repeat("properties"), repeat(_ABSENT)))
        self.bad += _observe_roots(root, values, settings)


def _observe_roots(root: Node, values: list, settings: InferSettings) -> int:
    """Observe the objects among ``values`` (one per message); an absent one counts as empty. Returns
    how many were neither (null, a string, ...): the plan cannot allow them."""
    try:
        sum(map(dict.__len__, values))  # every one an object (the usual case): checked in C
        dicts = values
    except TypeError:
        dicts = [v for v in values if type(v) is dict]
    absent = values.count(_ABSENT) if len(dicts) < len(values) else 0
    root.nobj += absent  # an absent object has no keys: it counts against every key's share
    if dicts:
        _observe_dicts(root, dicts, settings)
    return len(values) - len(dicts) - absent


def _traits(msg: dict) -> Any:
    """An identify or group call's traits, with ``context.traits`` merged under them as lint does."""
    value = msg.get("traits", _ABSENT)
    ctx = msg.get("context")
    if type(ctx) is dict and type(ctx.get("traits")) is dict:
        merged = dict(ctx["traits"])
        if type(value) is dict:
            merged.update(value)
        return merged
    return value


class _Absent:
    """What a message without properties (or traits, or context) contributes: an empty object."""

    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()
#: Keys of the bodies that collect messages not inferred by name (the second part is not a string).
_REFUSED = 1  # names holding personal data: counted, never written
_INVALID = 0  # a track without an event name, a page or screen without a name (or one that is not text)
_OVER = 2  # names beyond MAX_NAMES
_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def _utc(ts: str) -> str | None:
    """A timestamp as ``YYYY-MM-DDTHH:MM:SS[.fff]Z`` (comparable as text), or None."""
    if _CANONICAL_TS.fullmatch(ts):
        return ts
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    utc = to_utc(when) if when.tzinfo is not None else None
    if utc is None:  # no zone, or no time in UTC (year 0 or 10000 once its offset is applied)
        return None
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # years below 1000 keep 4 digits


def _time_range(lo: str, hi: str, stamps: list) -> tuple[str | None, str | None]:
    """The first and last of some timestamps, given the least and greatest as text (which compare
    like times for UTC ``...Z`` stamps; other forms are converted first, which is rare in Segment data)."""
    if _CANONICAL_TS.fullmatch(lo) and _CANONICAL_TS.fullmatch(hi) and all(map(str.endswith, stamps, repeat("Z"))):
        return lo, hi
    normal = [u for u in map(_utc, (t for t in stamps if type(t) is str and t)) if u is not None]
    return (min(normal), max(normal)) if normal else (None, None)


class Accumulator:
    """Statistics of a stream of messages; mergeable (one per worker task, merged in input order)."""

    def __init__(self, settings: InferSettings) -> None:
        self.settings = settings
        self.stats = ReadStats()
        self.messages = 0
        self.types: Counter = Counter()
        self.bodies: dict[tuple[str, Any], Body] = {}
        self.context = Node(0)
        self.context.children["traits"] = ignored = Node(1)
        ignored.ignored = True
        self.bad_context = 0
        self.capped = False  # the accumulator of the whole run (not a worker's task): at most MAX_NAMES names
        self._alias: dict[tuple[str, Any], Body] = {}  # names not inferred -> their kind's collecting body
        self._others: list[dict] = []  # the current chunk's messages of other types (alias, ...)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("settings")
        state["_alias"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # --- one chunk -------------------------------------------------------------------------------
    def add(self, records: list[Record]) -> None:
        """Sort a chunk's messages by body; the work is done by :meth:`flush`, a column at a time."""
        bodies = self.bodies
        others = self._others
        for rec in records:
            msg = rec.msg
            t = msg.get("type")
            if t == "track":
                name = msg.get("event")
                key = ("track", name if type(name) is str else None)
            elif t == "page" or t == "screen":
                name = msg.get("name")
                key = (t, name if type(name) is str else None)
            elif t == "identify" or t == "group":
                key = (t, None)
            else:
                others.append(msg)
                continue
            body = bodies.get(key)
            if body is None:
                body = self._body(key)
            body.pending.append(msg)
        self.messages += len(records)

    def _body(self, key: tuple[str, Any]) -> Body:
        """The body for a new (kind, name): its own, or the one collecting names not inferred."""
        body = self._alias.get(key)
        if body is not None:
            return body
        kind, name = key
        reason = None
        if kind in ("track", "page", "screen"):
            if name is None or not name.strip():
                reason = _INVALID
            elif personal_data_in(name):
                reason = _REFUSED
            elif self.capped and len(self.bodies) >= MAX_NAMES:
                reason = _OVER
        if reason is None:
            body = self.bodies[key] = Body(kind, name)
            return body
        collect = self.bodies.get((kind, reason))
        if collect is None:
            collect = self.bodies[(kind, reason)] = Body(kind, None, root=False)
        if len(self._alias) > 50_000:
            self._alias.clear()
        self._alias[key] = collect
        return collect

    def flush(self) -> None:
        """Look at the chunk's values (after each chunk: they hold its messages)."""
        settings = self.settings
        types = self.types
        get = dict.get
        contexts: list[Any] = []
        for body in self.bodies.values():
            if body.pending:  # only these have anything to look at: their children's come from them
                types[body.kind] += len(body.pending)
                contexts += map(get, body.pending, repeat("context"), repeat(_ABSENT))
                body.flush(settings)
                if body.root is not None:
                    _flush(settings)
        if self._others:
            others, self._others = self._others, []
            types.update(t if type(t) is str and len(t) < 40 else "(invalid)" for t in map(get, others, repeat("type")))
            contexts += map(get, others, repeat("context"), repeat(_ABSENT))
        ctx = self.context
        self.bad_context += _observe_roots(ctx, contexts, settings)
        _flush(settings)

    def finish(self) -> None:
        """Count what is left and check the strings kept for formats (before merging, sending to
        the parent, or building)."""
        self.flush()
        roots = [b.root for b in self.bodies.values() if b.root is not None] + [self.context]
        for root in roots:
            for node in _walk(root):
                _verify(node)

    # --- merging ---------------------------------------------------------------------------------
    def merge(self, other: Accumulator) -> None:
        settings = self.settings
        self.stats.merge(other.stats)
        self.messages += other.messages
        self.types.update(other.types)
        self.bad_context += other.bad_context
        for key, body in other.bodies.items():
            mine = self.bodies.get(key)
            if mine is not None:
                mine.merge(body, settings)
            elif body.root is not None and len(self.bodies) >= MAX_NAMES:
                over = self.bodies.get((body.kind, _OVER))
                if over is None:
                    over = self.bodies[(body.kind, _OVER)] = Body(body.kind, None, root=False)
                over.count += body.count
            else:
                self.bodies[key] = body
        self.context.merge(other.context, settings)


def _add_chunk(acc: Accumulator, chunk: Chunk) -> None:
    for records, _problems in parse_slices(chunk, acc.stats, step=_SLICE_LINES):  # problems are counted in stats
        acc.add(records)
        acc.flush()
        del records


def _task_worker(settings: InferSettings, max_line_bytes: int) -> Callable[[list], Accumulator]:
    def work(task: list) -> Accumulator:
        acc = Accumulator(settings)
        for ref in task:
            _add_chunk(acc, materialize(ref, max_line_bytes))
        acc.finish()
        return acc

    return work


def _batched(chunks: Iterable[Any], n: int) -> Iterator[list]:
    batch: list = []
    for chunk in chunks:
        batch.append(chunk)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def infer_plan(
    inputs: Iterable[str | Path | Source],
    *,
    required_share: float = 0.99,
    min_count: int = 20,
    enum_min_count: int = 10,
    enum_max_values: int = 64,
    enum_max_length: int = 64,
    name: str = "inferred",
    jobs: int = 0,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    observer: Observer | None = None,
) -> InferResult:
    """Infer a draft plan from event logs (files, directories, globs, ``-``): an :class:`InferResult`.
    ``jobs``: worker processes (0: automatic, as lint). Raises :class:`~cdp_cli.errors.InputError`
    for missing inputs and :class:`~cdp_cli.errors.UsageError` for thresholds out of range."""
    settings = InferSettings(required_share, min_count, enum_min_count, enum_max_values, enum_max_length, name)
    settings.check()
    started = time.perf_counter()
    sources = discover(list(inputs))
    if jobs <= 0:
        jobs = default_jobs(sources)
    acc = Accumulator(settings)
    acc.capped = True
    total = sum(s.size or 0 for s in sources) if all(s.size is not None for s in sources) else None
    progress = None
    if observer is not None:

        def progress(n: int) -> None:
            observer(Progress("read", n, total, "bytes"))

    with gc_paused():
        chunks = iter_chunks(
            sources, max_line_bytes=max_line_bytes, progress=progress, stats=acc.stats, by_reference=jobs > 1
        )
        if jobs > 1:
            work = _task_worker(settings, max_line_bytes)
            for part in ordered_map(work, _batched(chunks, _CHUNKS_PER_TASK), jobs):
                part.settings = settings
                acc.merge(part)
                _tell(observer, acc, started, total)
        else:
            told = 0
            for chunk in cast("Iterable[Chunk]", chunks):
                _add_chunk(acc, chunk)
                if acc.messages - told >= 20_000:
                    told = acc.messages
                    _tell(observer, acc, started, total)
            acc.finish()
    return InferResult(sources, acc, settings, seconds=time.perf_counter() - started, jobs=jobs)


def _tell(observer: Observer | None, acc: Accumulator, started: float, total: int | None) -> None:
    if observer is not None:
        rate = acc.messages / max(time.perf_counter() - started, 1e-6)
        observer(Progress("read", 0, total, "bytes", f"{acc.messages:,} events ({rate:,.0f}/s)"))


# --- from statistics to definitions ----------------------------------------------------------------
_JSON_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}
_TYPE_ORDER = ("string", "integer", "number", "boolean", "object", "array", "null")
_KIND_LABEL = {"track": "event", "page": "page", "screen": "screen", "identify": "identify", "group": "group"}


@dataclass
class Def:
    """One property definition as it will be written: its keys in output order, its sub-definitions,
    and the comment (counts) on its line."""

    spec: dict[str, Any] = field(default_factory=dict)
    props: dict[str, Def] = field(default_factory=dict)
    items: Def | None = None
    extra: Def | None = None  # additionalProperties (a map's values)
    comment: str = ""

    def signature(self) -> str:
        """The definition without its description, required flag and comments (for sharing)."""
        spec = {k: v for k, v in self.spec.items() if k not in ("description", "required")}
        return json.dumps(
            [
                spec,
                [[k, d.signature(), d.spec.get("required", False)] for k, d in self.props.items()],
                self.items.signature() if self.items else None,
                self.extra.signature() if self.extra else None,
            ],
            sort_keys=True,
        )

    def names(self) -> Iterator[str]:
        """Property names at every depth below this definition."""
        for name, sub in self.props.items():
            yield name
            yield from sub.names()
        for part in (self.items, self.extra):
            if part is not None:
                yield from part.names()


def _share_reached(n: int, of: int, share: float) -> bool:
    """``n / of >= share``, without the float error of ``share * of`` (0.99 * 300 is not 297)."""
    return n * 1_000_000 >= round(share * 1_000_000) * of


def _pct(n: int, of: int) -> str:
    if of <= 0:
        return "-"
    if n >= of:
        return "100%"
    return f"{math.floor(1000 * n / of) / 10:.1f}%"


def _types_of(node: Node) -> list[str]:
    seen = {(_JSON_TYPE.get(t) or "null") for t, n in node.types.items() if n}
    if "integer" in seen and "number" in seen:
        seen.discard("integer")
    return [t for t in _TYPE_ORDER if t in seen]


def _type_counts(node: Node) -> str:
    names: Counter = Counter()
    for t, n in node.types.items():
        names[_JSON_TYPE.get(t) or "null"] += n
    return ", ".join(f"{t} {names[t]:,}" for t in _TYPE_ORDER if names.get(t))


class _Builder:
    """Turns the statistics into definitions, the report tables and the notes on what was left out."""

    def __init__(self, acc: Accumulator, settings: InferSettings) -> None:
        self.acc = acc
        self.s = settings
        self.rows: list[list[Any]] = []  # properties table
        self.skipped: list[list[Any]] = []  # where, what, why
        self.counts: Counter = Counter()

    def note(self, where: str, what: str, why: str) -> None:
        self.skipped.append([where, what, why])

    # one node -------------------------------------------------------------------------------------
    def definition(self, node: Node, where: str, path: str, *, name: str | None, area: str, covered: bool) -> Def:
        types = _types_of(node)
        d = Def()
        if types:
            d.spec["type"] = types[0] if len(types) == 1 else types
        pii = None
        if name is not None and not covered and area in ("properties", "traits"):
            pii = classify_key(name)
        detail: list[str] = []
        n_str = node.types.get(str, 0)
        if n_str and [t for t in types if t != "null"] == ["string"]:
            private = pii or (classify_key(name) if name is not None else None) or ("personal" if covered else None)
            enum = self._enum(node, n_str, where, path, private)
            if enum is not None:
                d.spec["enum"] = sorted(enum) + ([None] if "null" in types else [])
                detail.append(f"enum of {len(enum)}")
                self.counts["enums"] += 1
        if n_str and "enum" not in d.spec and node.formats:
            for bit, fname, _ in _FORMATS:
                if node.formats & bit:
                    d.spec["format"] = fname
                    detail.append(f"format {fname}")
                    self.counts["formats"] += 1
                    if fname == "email" and pii is None and not covered and area in ("properties", "traits"):
                        pii = "email"
                    break
        if pii is not None:
            d.spec["pii"] = pii
            detail.append(f"pii {pii}")
        covered = covered or pii is not None
        if node.nobj and "object" in types:
            self.object_into(d, node, where, path, area=area, covered=covered)
            if d.extra is not None:
                detail.append("map")
        if node.items is not None and node.items.count and "array" in types:
            items = self.definition(node.items, where, path + "[]", name=None, area=area, covered=covered)
            items.comment = f"{plural(node.items.count, 'item')}"
            d.items = items
        if path:
            self.rows.append([where, path, " | ".join(types), node.count, "; ".join(detail)])
        return d

    def _enum(self, node: Node, n_str: int, where: str, path: str, pii: str | None) -> set[str] | None:
        s = self.s
        values = node.values
        if values is None or not values:
            return None
        if n_str < s.enum_min_count or not len(values) < math.sqrt(n_str):
            return None
        if all(_NUMERIC.fullmatch(v) for v in values):
            return None
        if pii is not None:
            why = (
                "it sits inside personal data" if pii == "personal" else f"the name says it holds personal data ({pii})"
            )
            self.note(where, path, f"no enum: {why}")
            return None
        for v in values:
            found = personal_data_in(v)
            if found is not None:
                what = _PII_WHAT.get(found, "personal data")
                self.note(where, path, f"no enum: a value looks like {what} (values are never copied)")
                self.counts["enums_refused"] += 1
                return None
        return values

    def object_into(self, d: Def, node: Node, where: str, path: str, *, area: str, covered: bool) -> None:
        """Children (with required flags), the map's values, and notes, into ``d``."""
        if node.deep:
            self.note(where, path or "(top level)", f"objects nested deeper than {MAX_DEPTH} levels: not inferred")
        children = {k: c for k, c in node.children.items() if not c.ignored}
        keep = self._keep_similar(children, where, path)
        map_node = node.map
        dropped = [children[k] for k in children if k not in keep]
        if node.overflow:
            dropped, keep = list(children.values()), []
            if path:
                self.note(where, path, f"more than {MAX_KEYS:,} distinct keys: inferred as a map")
        if path and dropped and (map_node is not None or node.overflow):
            # a key left out is checked against the map's values: they must allow its values too
            merged = Node(node.depth + 1)
            for part in [*dropped, *([map_node] if map_node is not None else [])]:
                merged.merge(_copy(part), self.s)
            map_node = merged
        if map_node is not None and map_node.count:
            if path:
                extra = self.definition(map_node, where, path + ".*", name=None, area=area, covered=covered)
                extra.comment = f"{plural(map_node.count, 'value')} under keys that look like data"
                d.extra = extra
                self.counts["maps"] += 1
            else:
                why = f"more than {MAX_KEYS:,} distinct keys" if node.overflow else "keys that look like data"
                self.note(
                    where,
                    "(top level)",
                    f"{plural(map_node.count, 'value')} under {why}: a plan cannot make this level a map; left open",
                )
        for key in keep:
            child = children[key]
            sub = path + "." + key if path else key
            cd = self.definition(child, where, sub, name=key, area=area, covered=covered)
            if node.nobj >= self.s.min_count and _share_reached(child.count, node.nobj, self.s.required_share):
                cd.spec["required"] = True
                self.counts["required"] += 1
            cd.comment = f"{child.count:,} of {node.nobj:,} ({_pct(child.count, node.nobj)})"
            if sum(1 for n in child.types.values() if n) > 1:
                cd.comment += f"; {_type_counts(child)}"
            d.props[key] = cd

    def _keep_similar(self, children: dict[str, Node], where: str, path: str) -> list[str]:
        """Names in output order; of names differing only in case or separators, the most frequent."""
        groups: dict[str, list[str]] = {}
        for key in children:
            groups.setdefault(normalize(key), []).append(key)
        keep = []
        for names in groups.values():
            names.sort(key=lambda k: (-children[k].count, k))
            keep.append(names[0])
            for other in names[1:]:
                self.note(
                    where,
                    (path + "." if path else "") + other,
                    f"differs from {names[0]!r} only in case or separators; the less frequent spelling is left out",
                )
        return sorted(keep)


def _copy(node: Node) -> Node:
    """A deep copy of a node's statistics (merging into a copy leaves the original intact)."""
    import copy

    return copy.deepcopy(node)


# --- the plan ----------------------------------------------------------------------------------------
@dataclass
class BodyOut:
    kind: str
    name: str | None
    count: int
    first: str | None
    last: str | None
    section: str  # properties or traits
    props: dict[str, Def] = field(default_factory=dict)


@dataclass
class Draft:
    """The inferred plan, before it is written."""

    name: str
    conventions: dict[str, Any]
    context: dict[str, Def]
    context_count: int
    shared: dict[str, Def]
    bodies: list[BodyOut]


_STYLE_ORDER = (Style.SNAKE_CASE, Style.CAMEL_CASE, Style.TITLE_CASE, Style.PASCAL_CASE, Style.KEBAB_CASE)


def detect_style(names: Iterable[str], *, prefer: Style | None = None, cover: float = 2 / 3) -> tuple[Style, list[str]]:
    """The naming style most of ``names`` follow and the names that do not (exceptions); ``any`` when
    no style covers ``cover`` of them. Ties go to ``prefer``, then snake, camel, title, pascal, kebab."""
    distinct = sorted(set(names))
    if not distinct:
        return Style.ANY, []
    order = ([prefer] if prefer else []) + [s for s in _STYLE_ORDER if s != prefer]
    best = max(order, key=lambda st: (sum(1 for n in distinct if matches(n, st)), -order.index(st)))
    misses = [n for n in distinct if not matches(n, best)]
    if len(distinct) - len(misses) < cover * len(distinct):
        return Style.ANY, []
    return best, misses


def build(acc: Accumulator, settings: InferSettings) -> tuple[Draft, _Builder]:
    b = _Builder(acc, settings)
    bodies: list[BodyOut] = []
    order = {"track": 0, "identify": 1, "group": 2, "page": 3, "screen": 4}
    kept: dict[tuple[str, str], Body] = {}
    for (kind, label), body in acc.bodies.items():
        if body.root is None:
            if label == _REFUSED:
                what, why = "(withheld: names holding personal data)", "never written to a plan"
            elif label == _OVER:
                what, why = f"names beyond the first {MAX_NAMES:,}", "not inferred"
            else:
                what = "track calls without an event name" if kind == "track" else f"{kind} calls without a name"
                why = "checked against the common rules only"
            b.note(kind, what, f"{plural(body.count, 'message')}: {why}")
            continue
        kept[(kind, body.name or "")] = body
    # of names that differ only in case, spacing or separators, keep the most frequent
    by_norm: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key in kept:
        if key[0] in ("track", "page", "screen"):
            by_norm.setdefault((key[0], normalize(key[1])), []).append(key)
    for keys in by_norm.values():
        if len(keys) > 1:
            keys.sort(key=lambda k: (-kept[k].count, k))
            for k in keys[1:]:
                body = kept.pop(k)
                b.note(
                    _KIND_LABEL[k[0]],
                    k[1],
                    f"differs from {keys[0][1]!r} only in case, spacing or separators; "
                    f"its {plural(body.count, 'message')} are left out",
                )
    for key in sorted(kept, key=lambda k: (order[k[0]], k[1])):
        body = kept[key]
        kind, name = key
        where = f"{_KIND_LABEL[kind]} {name}" if kind in ("track", "page", "screen") else kind
        field_name = "traits" if kind in ("identify", "group") else "properties"
        if body.bad:
            b.note(
                where,
                field_name,
                f"{plural(body.bad, 'message')} with {field_name} that is not an object: the plan cannot allow that",
            )
        holder = Def()
        b.object_into(
            holder,
            cast(Node, body.root),  # kept bodies have a root
            where,
            "",
            area="traits" if kind in ("identify", "group") else "properties",
            covered=False,
        )
        bodies.append(
            BodyOut(
                kind,
                name if kind in ("track", "page", "screen") else None,
                body.count,
                body.first,
                body.last,
                field_name,
                holder.props,
            )
        )
    context = Def()
    b.object_into(context, acc.context, "common", "", area="context", covered=False)
    if acc.bad_context:
        b.note("common", "context", f"{plural(acc.bad_context, 'message')} whose context is not an object")
    if acc.context.children["traits"].count:
        b.note("common", "context.traits", "inferred as identify and group traits, not as common context")
    for kind in sorted(k for k in acc.types if k not in ("track", "page", "screen", "identify", "group")):
        b.note(kind, f"{kind} calls", f"{plural(acc.types[kind], 'message')}: only their context is inferred")
    shared = _share(bodies, b)
    for out in bodies:
        for d in out.props.values():
            if "ref" not in d.spec:
                d.spec["description"] = _DESCRIPTION_PROP
    conventions = _conventions(bodies, shared)
    return Draft(settings.name, conventions, context.props, acc.context.nobj, shared, bodies), b


def _share(bodies: list[BodyOut], b: _Builder) -> dict[str, Def]:
    """Top-level properties defined alike in two or more events, pages or screens go to the shared
    library (used with ``ref:``); names that differ only in case stay where they are."""
    uses: dict[str, dict[str, list[tuple[BodyOut, Def]]]] = {}
    for body in bodies:
        if body.kind not in ("track", "page", "screen"):
            continue
        for name, d in body.props.items():
            uses.setdefault(name, {}).setdefault(d.signature(), []).append((body, d))
    shared: dict[str, Def] = {}
    taken: set[str] = set()
    for name in sorted(uses, key=lambda n: (-max(len(v) for v in uses[n].values()), n)):
        sig, group = max(uses[name].items(), key=lambda kv: (len(kv[1]), kv[0]))
        if len(group) < 2 or normalize(name) in taken:
            continue
        taken.add(normalize(name))
        first = group[0][1]
        definition = Def(
            {k: v for k, v in first.spec.items() if k != "required"},
            first.props,
            first.items,
            first.extra,
            f"shared by {len(group):,} events, pages or screens",
        )
        for part in _parts(definition):
            part.comment = ""  # the counts of one event's use would mislead here
        definition.spec["description"] = _DESCRIPTION_PROP
        shared[name] = definition
        for body, d in group:
            use = Def({"ref": name}, comment=d.comment)
            if d.spec.get("required"):
                use.spec["required"] = True
            body.props[name] = use
    b.counts["shared"] = len(shared)
    return dict(sorted(shared.items()))


def _parts(d: Def) -> Iterator[Def]:
    """Every definition below ``d`` (not ``d`` itself)."""
    for sub in [*d.props.values(), *([d.items] if d.items else []), *([d.extra] if d.extra else [])]:
        yield sub
        yield from _parts(sub)


def _conventions(bodies: list[BodyOut], shared: dict[str, Def]) -> dict[str, Any]:
    events = [b.name for b in bodies if b.kind == "track" and b.name]
    pages = [b.name for b in bodies if b.kind in ("page", "screen") and b.name]
    props: list[str] = []
    traits: list[str] = []
    for body in bodies:
        target = traits if body.kind in ("identify", "group") else props
        for name, d in body.props.items():
            target.append(name)
            target.extend(d.names())
    for d in shared.values():
        props.extend(d.names())
    traits = [t for t in traits if t not in fmt.RESERVED_TRAITS]
    out: dict[str, Any] = {}
    exceptions: set[str] = set()
    for key, names, prefer in (
        ("events", events, Style.TITLE_CASE),
        ("properties", props, Style.SNAKE_CASE),
        ("traits", traits, None),
        ("pages", pages, Style.TITLE_CASE),
    ):
        if key == "traits" and out.get("properties") not in (None, Style.ANY):
            prefer = out["properties"]
        if not names:
            continue  # nothing of this kind: no convention to state
        style, misses = detect_style(names, prefer=prefer)
        out[key] = style
        exceptions.update(misses)
    out["exceptions"] = sorted(exceptions)
    return out


# --- YAML, written by hand ------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.()/-]*(?: [A-Za-z0-9_.()/-]+)*")
_YAML_WORDS = frozenset("y n yes no on off true false null ~".split())
_NON_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def yaml_str(text: str) -> str:
    """``text`` as a YAML scalar that reads back as exactly this string (plain when that is safe)."""
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    out = json.dumps(text, ensure_ascii=False)
    return _NON_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, str):
        return '"null"' if value == "null" else yaml_str(value)
    return str(value)


_KEY_ORDER = ("ref", "type", "required", "format", "pii", "description")
_WIDTH = 120


def _comment(text: str) -> str:
    return f"  # {text}" if text else ""


def _emit_def(lines: list[str], indent: int, key: str, d: Def) -> None:
    pad = " " * indent
    keys = [k for k in _KEY_ORDER if k in d.spec] + [k for k in d.spec if k not in _KEY_ORDER and k != "enum"]
    leaf = not d.props and d.items is None and d.extra is None and "enum" not in d.spec
    if leaf:
        body = ", ".join(f"{k}: {_scalar(d.spec[k])}" for k in keys)
        line = f"{pad}{yaml_str(key)}: {{{body}}}{_comment(d.comment)}"
        if len(line) <= _WIDTH:
            lines.append(line)
            return
    lines.append(f"{pad}{yaml_str(key)}:{_comment(d.comment)}")
    _emit_body(lines, indent + 2, d, keys)


def _emit_body(lines: list[str], indent: int, d: Def, keys: list[str] | None = None) -> None:
    pad = " " * indent
    if keys is None:
        keys = [k for k in _KEY_ORDER if k in d.spec] + [k for k in d.spec if k not in _KEY_ORDER and k != "enum"]
    for k in keys:
        lines.append(f"{pad}{k}: {_scalar(d.spec[k])}")
    if "enum" in d.spec:
        lines.append(f"{pad}enum:")
        lines.extend(f"{pad}  - {_scalar(v)}" for v in d.spec["enum"])
    if d.props:
        lines.append(f"{pad}properties:")
        for name, sub in d.props.items():
            _emit_def(lines, indent + 2, name, sub)
    for label, part in (("items", d.items), ("additionalProperties", d.extra)):
        if part is not None:
            lines.append(f"{pad}{label}:{_comment(part.comment)}")
            if part.spec or part.props or part.items or part.extra:
                _emit_body(lines, indent + 2, part)
            else:
                lines[-1] = f"{pad}{label}: {{}}{_comment(part.comment)}"


def _seen(body: BodyOut) -> str:
    text = plural(body.count, "message")
    if body.first and body.last:
        text += f"; first seen {_short_ts(body.first)}, last seen {_short_ts(body.last)}"
    return text


def _short_ts(ts: str) -> str:
    """A first/last seen time to the second, always in one form."""
    return ts[:19] + "Z" if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z", ts) else "?"


class _Writer:
    def __init__(self, draft: Draft, header: list[str]) -> None:
        self.d = draft
        self.header = header

    def plan_head(self, lines: list[str]) -> None:
        d = self.d
        lines += [f"# {h}" for h in self.header]
        lines += [
            "version: 1",
            f"name: {yaml_str(d.name)}",
            "description: " + yaml_str("Inferred from event logs by cdp plan infer; review it before use."),
        ]
        conventions = [
            f"  {k}: {d.conventions[k].value}"
            for k in ("events", "properties", "traits", "pages")
            if k in d.conventions
        ]
        if d.conventions["exceptions"]:
            conventions.append("  exceptions:")
            conventions.extend(f"    - {yaml_str(n)}" for n in d.conventions["exceptions"])
        if conventions:
            lines += ["", "conventions:", *conventions]
        lines += ["", "settings:", "  allow_unplanned_events: false"]
        if d.context:
            lines += ["", f"common:  # context of {plural(d.context_count, 'message')}"]
            lines.append("  description: " + yaml_str("Context fields every message may carry (inferred)."))
            lines.append("  context:")
            for name, sub in d.context.items():
                _emit_def(lines, 4, name, sub)

    def shared(self, lines: list[str]) -> None:
        if self.d.shared:
            lines.append("properties:")
            for name, sub in self.d.shared.items():
                _emit_def(lines, 2, name, sub)

    def events(self, lines: list[str], kinds: tuple[str, ...]) -> None:
        for kind in kinds:
            bodies = [b for b in self.d.bodies if b.kind == kind]
            if not bodies:
                continue
            if lines:
                lines.append("")
            if kind in ("identify", "group"):
                body = bodies[0]
                lines.append(f"{kind}:  # {_seen(body)}")
                lines.append("  description: " + yaml_str(f"Traits sent with {kind} calls (inferred)."))
                if body.props:
                    lines.append("  traits:")
                    for name, sub in body.props.items():
                        _emit_def(lines, 4, name, sub)
                continue
            section = {"track": "events", "page": "pages", "screen": "screens"}[kind]
            lines.append(f"{section}:")
            for i, body in enumerate(bodies):
                if i:
                    lines.append("")
                lines.append(f"  {yaml_str(cast(str, body.name))}:  # {_seen(body)}")
                lines.append(f"    description: {yaml_str(_DESCRIPTION_EVENT)}")
                if body.props:
                    lines.append("    properties:")
                    for name, sub in body.props.items():
                        _emit_def(lines, 6, name, sub)

    def single(self) -> str:
        lines: list[str] = []
        self.plan_head(lines)
        if self.d.shared:
            lines.append("")
            self.shared(lines)
        self.events(lines, ("identify", "group", "track", "page", "screen"))
        return "\n".join(lines).rstrip("\n") + "\n"

    def files(self) -> dict[str, str]:
        out: dict[str, str] = {}
        lines: list[str] = []
        self.plan_head(lines)
        out["plan.yaml"] = "\n".join(lines) + "\n"
        for file, make in (
            ("properties.yaml", lambda ls: self.shared(ls)),
            ("traits.yaml", lambda ls: self.events(ls, ("identify", "group"))),
            ("events.yaml", lambda ls: self.events(ls, ("track",))),
            ("pages.yaml", lambda ls: self.events(ls, ("page", "screen"))),
        ):
            lines = []
            make(lines)
            if lines:
                out[file] = "# Part of the plan inferred by cdp plan infer (see plan.yaml).\n" + "\n".join(lines) + "\n"
        return out


# --- the result ----------------------------------------------------------------------------------------
@dataclass
class InferResult:
    """What ``plan infer`` found: the draft plan (:meth:`text`, :meth:`write`), counts and tables."""

    sources: list[Source]
    acc: Accumulator
    settings: InferSettings
    seconds: float = 0.0
    jobs: int = 1
    command: str = "plan infer"
    draft: Draft = field(init=False)
    _builder: _Builder = field(init=False, repr=False)
    written: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.draft, self._builder = build(self.acc, self.settings)

    # Result protocol -------------------------------------------------------------------------------
    @property
    def findings(self) -> list[Finding]:
        return []

    @property
    def files(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def stats(self) -> ReadStats:
        return self.acc.stats

    @property
    def empty(self) -> bool:
        return self.acc.messages == 0

    def failed(self, strict: bool = False) -> bool:
        """Nothing to infer from (no message was read) fails; what was left out is reported, not failed."""
        return self.empty

    def counts(self) -> dict[str, int]:
        d = self.draft
        kinds = Counter(b.kind for b in d.bodies)
        top = sum(len(b.props) for b in d.bodies)
        return {
            "events": kinds["track"],
            "pages": kinds["page"],
            "screens": kinds["screen"],
            "identify": kinds["identify"],
            "group": kinds["group"],
            "properties": top,
            "shared_properties": len(d.shared),
            "context_fields": len(d.context),
            "all_properties": len(self._builder.rows),
            "required": self._builder.counts["required"],
            "enums": self._builder.counts["enums"],
            "enums_refused_pii": self._builder.counts["enums_refused"],
            "formats": self._builder.counts["formats"],
            "maps": self._builder.counts["maps"],
            "not_inferred": len(self._builder.skipped),
        }

    def verdict(self) -> str:
        c = self.counts()
        parts = [plural(c["events"], "event"), plural(c["pages"], "page"), plural(c["screens"], "screen")]
        if c["identify"]:
            parts.append("identify")
        if c["group"]:
            parts.append("group")
        text = f"inferred {', '.join(parts)} and {plural(c['all_properties'], 'property', 'properties')} "
        text += f"from {plural(self.acc.messages, 'message')}"
        if c["not_inferred"]:
            text += f"; {c['not_inferred']:,} not inferred (see the table)"
        return text

    def summary(self) -> dict[str, Any]:
        s = self.settings
        conv = self.draft.conventions
        return {
            **self.acc.stats.as_dict(),
            **self.counts(),
            "messages_by_type": dict(self.acc.types.most_common()),
            "conventions": {k: (v.value if isinstance(v, Style) else v) for k, v in conv.items()},
            "settings": {
                "required_share": s.required_share,
                "min_count": s.min_count,
                "enum_min_count": s.enum_min_count,
                "enum_max_values": s.enum_max_values,
                "enum_max_length": s.enum_max_length,
            },
            "not_inferred_detail": [dict(zip(("where", "what", "why"), r)) for r in self._builder.skipped],
            "written": list(self.written),
            "seconds": round(self.seconds, 3),
            "jobs": self.jobs,
            "messages_per_second": round(self.acc.messages / self.seconds) if self.seconds > 0 else None,
            **({"no_input": "no messages were read"} if self.empty else {}),
        }

    def tables(self) -> list[Table]:
        st = self.acc.stats
        why = ", ".join(f"{n:,} {reason}" for reason, n in st.as_dict()["skipped_by_reason"].items()) or "-"
        tables = [
            Table(
                "Input",
                ["files", "lines", "messages", "skipped", "skipped why"],
                [[st.files, st.lines, st.messages, sum(st.skipped.values()), why]],
                frozenset({0, 1, 2, 3}),
            )
        ]
        rows = []
        for body in self.draft.bodies:
            name = body.name if body.name is not None else "-"
            required = sum(1 for d in body.props.values() if d.spec.get("required"))
            rows.append(
                [
                    _KIND_LABEL[body.kind],
                    name,
                    body.count,
                    len(body.props),
                    required,
                    _short_ts(body.first) if body.first else "-",
                    _short_ts(body.last) if body.last else "-",
                ]
            )
        tables.append(
            Table(
                "Events found",
                ["kind", "name", "messages", "properties", "required", "first seen", "last seen"],
                rows,
                frozenset({2, 3, 4}),
            )
        )
        tables.append(
            Table(
                "Properties",
                ["where", "property", "types", "present", "inferred"],
                [list(r) for r in self._builder.rows],
                frozenset({3}),
            )
        )
        tables.append(Table("Not inferred", ["where", "what", "why"], [list(r) for r in self._builder.skipped]))
        return tables

    # the plan ----------------------------------------------------------------------------------------
    def _header(self) -> list[str]:
        s = self.settings
        files = self.files
        shown = ", ".join(Path(f).name for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        return [
            f"Inferred by cdp plan infer from {plural(self.acc.messages, 'message')} in {shown or 'no file'}.",
            "Review it: descriptions are placeholders; counts and first/last seen are comments.",
            f"required: present in at least {s.required_share:.1%} of at least {s.min_count:,} occurrences.",
            f"enum: at least {s.enum_min_count:,} strings, fewer distinct ones than their square root "
            f"(at most {s.enum_max_values:,}), none personal data.",
        ]

    def text(self) -> str:
        """The plan as one YAML file."""
        return _Writer(self.draft, self._header()).single()

    def texts(self) -> dict[str, str]:
        """The plan as a directory: file name -> YAML (plan.yaml first)."""
        return _Writer(self.draft, self._header()).files()

    def write(self, out: str | Path, *, force: bool = False) -> list[str]:
        """Write the plan atomically: one file when ``out`` ends in ``.yaml``/``.yml``, else a directory
        (plan.yaml, properties.yaml, traits.yaml, events.yaml, pages.yaml). A file cdp cannot prove it
        wrote is replaced only with ``force``; a directory only when cdp wrote all of it."""
        from cdp_cli.fsutil import atomic_directory, atomic_open

        path = Path(out)
        if path.suffix in fmt.YAML_SUFFIXES:
            with atomic_open(path, "w", force=force) as fh:
                fh.write(self.text())
            self.written = [str(path)]
        else:
            texts = self.texts()
            with atomic_directory(path, kind="plan infer") as tmp:
                for name, text in texts.items():
                    (tmp / name).write_text(text, encoding="utf-8")
            self.written = [str(path / name) for name in texts]
        return list(self.written)
