"""The models of ``traits.yaml``, on the declarative layer of :mod:`cdp_cli.definitions`.

::

    traits:
      - name: orders_30d
        type: event_counter
        event: Order Completed
        within: 30d
      - name: big_orders
        type: event_counter
        event: Order Completed
        where:
          - {property: revenue, op: ">", value: 100}

Every problem of a file is reported at once with FILE:LINE:COL (unknown types and operators with
"did you mean"); cross-field rules (an operator's value, one of event/page/screen, unique names) are
checked in :meth:`check`. Semantics: ``docs/traits.md``.
"""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from cdp_cli.definitions import Definition, field, invalid, one_of, parsed

OPS = (
    "=",
    "!=",
    "<",
    ">",
    "<=",
    ">=",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "exists",
    "not_exists",
    "one_of",
    "none_of",
    "before",
    "after",
)
NUMERIC_OPS = frozenset({"<", ">", "<=", ">="})
TEXT_OPS = frozenset({"contains", "not_contains", "starts_with", "ends_with"})
PRESENCE_OPS = frozenset({"exists", "not_exists"})
LIST_OPS = frozenset({"one_of", "none_of"})
DATE_OPS = frozenset({"before", "after"})

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED_NAMES = frozenset({"profile_id"})
_WINDOW = re.compile(r"^\s*(\d+)\s*(h|d|w)\s*$")
_HOURS = {"h": 1, "d": 24, "w": 168}
_SEGMENT = re.compile(r"^[^.]+$")


def parse_window(value: Any) -> timedelta:
    """``12h``, ``30d``, ``4w``: whole hours (windows are measured to the hour)."""
    m = _WINDOW.match(value) if isinstance(value, str) else None
    if m is None or int(m.group(1)) == 0:
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise ValueError(f"{shown} is not a window such as 30d, 12h or 4w (a positive whole number; units h, d, w)")
    hours = int(m.group(1)) * _HOURS[m.group(2)]
    if hours > 24 * 366 * 100:
        raise ValueError(f"{value!r} is too long a window")
    return timedelta(hours=hours)


def parse_when(value: Any) -> datetime | None:
    """A date (``2026-10-01``: midnight UTC) or an ISO-8601 date-time (UTC when it names no zone);
    None when ``value`` is not one."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _between(value: Any) -> tuple[datetime, datetime]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("must be a list of two dates, [start, end], such as [2026-10-01, 2026-11-01]")
    start, end = parse_when(value[0]), parse_when(value[1])
    for i, (raw, when) in enumerate(((value[0], start), (value[1], end))):
        if when is None:
            raise invalid(f"between[{i}] must be a date such as 2026-10-01 (or a date-time), not {raw!r}", i)
    assert start is not None and end is not None
    if not start < end:
        raise invalid(f"between: the start {value[0]} must be before the end {value[1]}", 1)
    return start, end


def _path(value: Any) -> str:
    if not isinstance(value, str) or not value or not all(_SEGMENT.match(s) for s in value.split(".")):
        raise ValueError(f"{value!r} is not a property path such as revenue or products.0.price")
    return value


Window = Annotated[timedelta, parsed(parse_window, "a window such as 30d, 12h or 4w")]
Between = Annotated[tuple, parsed(_between, "a list of two dates [start, end]")]
PropertyPath = Annotated[str, parsed(_path, "a property path such as revenue or products.0.price")]


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and value is not None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Condition(Definition):
    """One ``where`` filter: ``{property: revenue, op: ">", value: 100}`` (filters are ANDed)."""

    not_a_mapping = "a where filter is a mapping such as {property: revenue, op: '>', value: 100}"

    property: PropertyPath
    op: Literal[OPS]  # type: ignore[valid-type]
    value: Any = None

    def check(self) -> None:
        op, value, has = self.op, self.value, "value" in _given(self)
        if op in PRESENCE_OPS:
            if has:
                raise invalid(f"op {op!r} takes no value; remove it", "value")
            return
        if not has:
            raise invalid(f"op {op!r} needs a value", "op")
        if op in NUMERIC_OPS and not _number(value):
            raise invalid(f"op {op!r} compares numbers: value must be a number, not {value!r}", "value")
        if op in TEXT_OPS and not isinstance(value, str):
            raise invalid(f"op {op!r} compares text: value must be a string, not {value!r}", "value")
        if op in ("=", "!=") and not _scalar(value):
            hint = " (use op: not_exists)" if value is None and op == "=" else ""
            hint = " (use op: exists)" if value is None and op == "!=" else hint
            raise invalid(f"op {op!r}: value must be a string, a number or true/false, not {value!r}{hint}", "value")
        if op in LIST_OPS:
            if not isinstance(value, list) or not value or not all(_scalar(v) for v in value):
                raise invalid(f"op {op!r}: value must be a non-empty list of strings or numbers", "value")
            kinds = {"number" if _number(v) else type(v).__name__ for v in value}
            if len(kinds) > 1:
                raise invalid(f"op {op!r}: the values must all be strings or all numbers", "value")
        if op in DATE_OPS and parse_when(value) is None:
            raise invalid(f"op {op!r} compares dates: value must be a date such as 2026-10-01, not {value!r}", "value")

    def when(self) -> datetime:
        """The value of a date operator, as a UTC date-time."""
        when = parse_when(self.value)
        assert when is not None
        return when


def _given(obj: Definition) -> frozenset[str]:
    return obj.__dict__.get("_given", frozenset())


class _Trait(Definition):
    name: str
    description: str | None = None

    def check(self) -> None:
        if not NAME.match(self.name):
            raise invalid(
                f"name {self.name!r} must be snake_case (a lower-case letter, then letters, digits or _; "
                "at most 63 characters): it is a column name",
                "name",
            )
        if self.name in RESERVED_NAMES:
            raise invalid(f"name {self.name!r} is reserved (the profile column)", "name")


class _Selected(_Trait):
    """What every event-based trait shares: which events, which filters, which window, which level."""

    event: str | None = None
    page: str | None = None
    screen: str | None = None
    where: list[Condition] = field(default_factory=list)
    within: Window | None = None
    between: Between | None = None
    level: Literal["user", "account"] = "user"

    def check(self) -> None:
        super().check()
        chosen = [k for k in ("event", "page", "screen") if getattr(self, k) is not None]
        if len(chosen) != 1:
            where = chosen[1] if len(chosen) > 1 else "type"
            raise invalid(
                "a trait selects its events with exactly one of event: NAME, page: NAME or screen: NAME "
                '(page: "*" for any page)',
                where,
            )
        value = getattr(self, chosen[0])
        if not value.strip():
            raise invalid(f'{chosen[0]} must name an event (or be "*")', chosen[0])
        if self.within is not None and self.between is not None:
            raise invalid("give within: or between:, not both", "between")

    @property
    def kind(self) -> str:
        """``track``, ``page`` or ``screen``: the message type selected."""
        return "track" if self.event is not None else "page" if self.page is not None else "screen"

    @property
    def selected(self) -> str:
        """The event (or page or screen) name selected; ``*`` for any."""
        return self.event if self.event is not None else self.page if self.page is not None else self.screen  # type: ignore[return-value]


class EventCounter(_Selected):
    type: Literal["event_counter"]


class Aggregation(_Selected):
    type: Literal["aggregation"]
    function: Literal["sum", "avg", "min", "max"]
    property: PropertyPath


class MostFrequent(_Selected):
    type: Literal["most_frequent"]
    property: PropertyPath
    min_frequency: int = field(2, ge=1)


class FirstLast(_Selected):
    type: Literal["first", "last"]
    property: PropertyPath


class UniqueList(_Selected):
    type: Literal["unique_list", "unique_list_count"]
    property: PropertyPath


class SqlTrait(_Trait):
    """``type: sql``: a query over ``events``, ``profiles`` and ``identities`` returning ``profile_id``
    and value columns (one: named ``name``; several: ``name_column``)."""

    type: Literal["sql"]
    query: str

    def check(self) -> None:
        super().check()
        if not self.query.strip():
            raise invalid("query is empty", "query")


Trait = one_of(EventCounter, Aggregation, MostFrequent, FirstLast, UniqueList, SqlTrait)
TRAIT_TYPES = (
    "event_counter",
    "aggregation",
    "most_frequent",
    "first",
    "last",
    "unique_list",
    "unique_list_count",
    "sql",
)


class TraitsFile(Definition):
    not_a_mapping = "a traits file is a mapping with traits: [a list of traits]"

    version: Literal[1] = 1
    traits: list[Trait] = field(min_items=1)  # type: ignore[valid-type]

    def check(self) -> None:
        seen: dict[str, int] = {}
        for i, t in enumerate(self.traits):
            t = typing.cast(Any, t)
            if t.name in seen:
                raise invalid(f"name {t.name!r} is used twice (first by traits[{seen[t.name]}])", "traits", i, "name")
            seen[t.name] = i
