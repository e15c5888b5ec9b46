"""``cdp traits explain``: one profile's trait values, the events that counted for each (file, line,
messageId, timestamp) and why the others did not (after as_of, outside the window, which filter
failed, no usable value)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cdp_cli.errors import UsageError
from cdp_cli.events.model import shifted
from cdp_cli.results import DefinitionResult, Table, plural
from cdp_cli.traits import sql
from cdp_cli.traits.compiler import compile_traits, explain_events
from cdp_cli.traits.compute import _open, iso, load_spec, prepare
from cdp_cli.traits.conditions import describe
from cdp_cli.traits.definitions import SqlTrait

LISTED = 200  #: events listed per trait (all are counted)


@dataclass
class EventLine:
    file: str | None
    line: int | None
    message_id: str | None
    timestamp: str | None
    profile_id: str | None
    counted: bool
    why: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TraitExplanation:
    name: str
    type: str
    level: str
    value: Any
    events: list[EventLine] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "level": self.level,
            "value": self.value,
            "note": self.note,
            "events": [e.as_dict() for e in self.events],
        }


@contextlib.contextmanager
def one_profile_events(store: Any, profile_id: str) -> Iterator[None]:
    """While inside, ``events`` holds only the events an explanation of ``profile_id`` can look at:
    its own and those of every user sharing an account (a group_id) with it (all of theirs, for the
    account's membership, current account and events). They are read from events.parquet once, not
    once per trait or condition (events.parquet is clustered by profile: the read skips the other
    row groups).
    as_of and the checks of sql traits are settled before, on every event."""
    engine = store.engine
    d = engine.dialect
    units = [r[0] for r in engine.rows(sql.EXPLAIN_UNITS.render(d, profile_id=profile_id))]
    engine.register_arrow("explain_events_scope", engine.arrow(sql.EXPLAIN_SCOPE.render(d, profile_ids=units)))
    engine.create_view("events", sql.EXPLAIN_SCOPED_EVENTS.render(d))
    try:
        yield
    finally:
        engine.register_parquet("events", Path(store.dir) / "events.parquet")


def _window_words(trait: Any, as_of: datetime) -> str:
    if trait.within is not None:
        return f"before the window (within {_hours(trait.within)}: from {iso(shifted(as_of, -trait.within))})"
    start, end = trait.between
    return f"outside between [{iso(start)}, {iso(end)})"


def _hours(delta: Any) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours % 168 == 0:
        return f"{hours // 168}w"
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


def _order_key(r: dict[str, Any]) -> tuple:
    def low(v: Any) -> tuple:  # NULL sorts before any value
        return (v is not None, v if v is not None else 0)

    return (r["timestamp"], low(r["received_at"]), low(r["message_id"]), low(r["file"]), low(r["line"]))


def _why(trait: Any, r: dict[str, Any], as_of: datetime) -> str:
    """The first test the event fails ("" when it passes them all)."""
    if not r["in_time"]:
        return "no timestamp" if r["timestamp"] is None else f"after as_of ({iso(as_of)})"
    if not r["in_window"]:
        return _window_words(trait, as_of)
    for i, cond in enumerate(trait.where):
        if not r[f"c{i}"]:
            return f"filter failed: {describe(cond)}"
    prop = getattr(trait, "property", None)
    if prop is None:
        return ""
    if not r["has"]:
        return f"no value at {prop}"
    if trait.type == "aggregation" and r["n"] is None:
        return f"{prop} is not a number"
    if trait.type != "aggregation" and r["v"] is None:
        return f"{prop} is not a string, number or boolean"
    return ""


def explain_trait(trait: Any, store: Any, prepared: Any, profile_id: str, value: Any) -> TraitExplanation:
    if isinstance(trait, SqlTrait):
        return TraitExplanation(
            trait.name, "sql", "user", value, note="an sql trait: its query decides; no events listed"
        )
    engine = store.engine
    rows = engine.arrow(explain_events(trait, engine.dialect, prepared.as_of, profile_id, limit=LISTED + 1)).to_pylist()
    more = len(rows) > LISTED
    rows = rows[:LISTED]
    lines = []
    passing = []
    for r in rows:
        why = _why(trait, r, prepared.as_of)
        if not why:
            passing.append(r)
        shown = r["n"] if trait.type == "aggregation" and r["n"] is not None else r["v"]
        lines.append(
            EventLine(r["file"], r["line"], r["message_id"], iso(r["timestamp"]), r["profile_id"], not why, why, shown)
        )
    if trait.type in ("first", "last") and passing:
        chosen = (min if trait.type == "first" else max)(passing, key=_order_key)
        for line, r in zip(lines, rows, strict=True):
            if line.counted and r is not chosen:
                line.counted = False
                line.why = f"matched, but {'an earlier' if trait.type == 'first' else 'a later'} event gives the value"
    note = ""
    if trait.level == "account":
        note = "account trait: events of every user of this profile's current account"
    if more:
        note = (note + "; " if note else "") + f"only the first {LISTED} events are listed"
    if trait.type == "most_frequent":
        note = (note + "; " if note else "") + f"a value needs at least {trait.min_frequency} events"
    return TraitExplanation(trait.name, trait.type, trait.level, value, lines, note)


@dataclass
class ExplainResult(DefinitionResult):
    profile_id: str
    as_of: datetime
    as_of_source: str
    spec: Path
    traits: list[TraitExplanation]
    command: str = "traits explain"

    def summary(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "as_of": iso(self.as_of),
            "as_of_source": self.as_of_source,
            "traits": [t.as_dict() for t in self.traits],
        }

    def tables(self) -> list[Table]:
        out = []
        for t in self.traits:
            value = ", ".join(map(str, t.value)) if isinstance(t.value, list) else t.value
            title = f"{t.name} = {value!r} ({t.type}{', ' + t.level if t.level != 'user' else ''})"
            if t.note:
                title += f"; {t.note}"
            rows = [
                [
                    "✓" if e.counted else "✗",
                    f"{e.file}:{e.line}",
                    e.message_id,
                    e.timestamp,
                    "" if e.value is None else e.value,
                    e.why or "counted",
                ]
                for e in t.events
            ]
            out.append(Table(title, ["", "event", "messageId", "timestamp", "value", "why"], rows))
        return out

    def lines(self) -> list[str]:
        """The explanation as plain text lines (what ``cdp traits explain`` prints)."""
        out = []
        for t in self.traits:
            value = ", ".join(map(str, t.value)) if isinstance(t.value, list) else t.value
            level = ", account level" if t.level == "account" else ""
            out.append(f"{t.name} = {'null' if value is None else value} ({t.type}{level})")
            if t.note:
                out.append(f"  note: {t.note}")
            if not t.events and not isinstance(t.value, dict) and t.type != "sql":
                out.append("  no event of this kind")
            for e in t.events:
                shown = "" if e.value is None else f"  value {e.value}"
                why = "counted" if e.counted else f"not counted: {e.why}"
                out.append(
                    f"  {'✓' if e.counted else '✗'} {e.file}:{e.line}  {e.message_id}  {e.timestamp}{shown}  {why}"
                )
        out.append(self.verdict())
        return out

    def verdict(self) -> str:
        counted = sum(e.counted for t in self.traits for e in t.events)
        return (
            f"{self.profile_id}: {plural(len(self.traits), 'trait')} as of {iso(self.as_of)} "
            f"({self.as_of_source}); {plural(counted, 'event')} counted"
        )


def explain(
    profile: str,
    profiles_dir: str | Path,
    spec_path: str | Path,
    *,
    trait: str | None = None,
    as_of: datetime | str | None = None,
) -> ExplainResult:
    """Explain the traits of one profile (``type:value``, a bare value or a profile id)."""
    spec = load_spec(spec_path)
    traits = spec.traits
    if trait is not None:
        traits = [t for t in traits if t.name == trait]
        if not traits:
            names = ", ".join(t.name for t in spec.traits)
            raise UsageError(f"--trait {trait!r} is not in {spec.path}; its traits: {names}")
    with _open(profiles_dir) as store:
        pid = store.profile_of(profile)
        store.profile(pid, recent=0)  # an unknown profile id is an error, not a row of nulls
        prepared = prepare(store, spec, as_of, profile_id=pid)
        engine = store.engine
        values: dict[str, Any] = {}
        user_sql = [t for t in spec.traits if isinstance(t, SqlTrait)]
        if user_sql:  # the user's own query may look at every event: run it on all of them
            stmt = compile_traits(
                user_sql, engine.dialect, prepared.as_of, sql_value_columns=prepared.sql_value_columns, profile_id=pid
            ).statement
            row = engine.arrow(stmt).to_pylist()
            values.update(row[0] if row else {})
        with one_profile_events(store, pid):
            rest = [t for t in spec.traits if not isinstance(t, SqlTrait)]
            if rest:
                stmt = compile_traits(rest, engine.dialect, prepared.as_of, profile_id=pid).statement
                row = engine.arrow(stmt).to_pylist()
                values.update(row[0] if row else {})
            out = []
            for t in traits:
                if isinstance(t, SqlTrait):
                    cols = [c.name for c in prepared.compiled.columns if c.trait == t.name]
                    value = values.get(cols[0]) if len(cols) == 1 else {c: values.get(c) for c in cols}
                else:
                    value = values.get(t.name)
                out.append(explain_trait(t, store, prepared, pid, value))
        return ExplainResult(pid, prepared.as_of, prepared.as_of_source, spec.path, out)
