"""One pass over the events for many definitions at once: the ``facts`` CTE.

Counters, aggregations, first/last values, unique lists and most-frequent values of traits, and the
``performed`` counts of audiences, all read the same events. Written one SELECT each, every
definition scans the events and parses their JSON properties again. Here each event of a kind some
definition selects is read once:

1. ``jl``: the value at every property path any definition reads, the properties document parsed
   once (only for events of a kind a definition that reads properties selects);
2. per path ``xI`` (its text) and ``yI`` (its JSON type), computed once;
3. per definition a flag ``mN``: the event counts for it (selection, time, window, ``where``
   filters on the ``xI``/``yI`` columns);
4. per definition that reads a value: ``vN`` (scalar text), ``nN`` (number), ``hasN`` (present),
   only where ``mN`` holds.

The caller aggregates the flags and values (``count(*) FILTER (WHERE mN)``, ...) in one GROUP BY.
Fragments come from :mod:`cdp_cli.traits.conditions`, so semantics are those of the per-definition
SELECTs (the readable form ``--show-sql`` prints); tests compare both forms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement
from cdp_cli.traits import sql
from cdp_cli.traits.conditions import (
    Fragment,
    Value,
    conditions,
    hooks,
    in_time,
    json_path,
    selection,
    window,
)

#: the order of events for first/last: timestamp, received_at, message_id, file, line, batch_index,
#: a missing one before any present one (the smallest value stands for missing: -infinity, '', -1)
ORDER_KEY = (
    "(e.timestamp, COALESCE(e.received_at, CAST('-infinity' AS TIMESTAMPTZ)), COALESCE(e.message_id, ''),"
    " COALESCE(e.file, ''), COALESCE(e.line, -1), COALESCE(e.batch_index, -1))"
)


class OnePass:
    """Collects definitions (:meth:`flag`) and gives the ``facts`` CTE (:meth:`cte`).

    With ``table``, the pass is shared by several statements (the traits and the audiences of one
    run): every compiler registers its flags, then :meth:`create_table` computes the facts once into
    that temporary table and the statements read it instead of a CTE of their own. Flag names must
    then be distinct across the compilers (traits ``mN``, audiences ``amN``)."""

    def __init__(
        self, dialect: Dialect, as_of: datetime, *, source: str = "user_events", table: str | None = None
    ) -> None:
        self.d, self.as_of, self.source, self.table = dialect, as_of, source, table
        self.params: dict[str, Any] = {}
        self.paths: dict[str, int] = {}
        self.kinds: dict[tuple[str, str], None] = {}  # (type, name or "*") of every definition
        self.reading: dict[tuple[str, str], None] = {}  # ... of those that read properties
        self.matches: list[str] = []
        self.flags: list[str] = []  # the flag columns (mN), in order
        self.values: list[str] = []
        self.keyed: dict[tuple[str, str], None] = {}  # (type, name) of first/last: they need the order key

    def value_of(self, path: str) -> Value:
        """The value at ``path`` from the columns of the one read (``xI`` text, ``yI`` JSON type)."""
        i = self.paths.setdefault(path, len(self.paths))
        h = hooks(self.d)
        text, kind = f"e.x{i}", f"e.y{i}"
        return Value(
            text,
            kind,
            f"CASE WHEN {kind} IN ('string', 'number', 'boolean') THEN {text} END",
            f"CASE WHEN {kind} = 'number' THEN {h.as_double(text)} END",
        )

    def flag(
        self,
        item: Any,
        m: str,
        prefix: str,
        *,
        extra: Sequence[Fragment] = (),
        value: tuple[str, str, str, str] | None = None,
        keyed: bool = False,
    ) -> None:
        """Add the flag column ``m`` for a definition ``item`` (``kind``, ``selected``, ``within``,
        ``between``, ``where``), with ``extra`` conditions (an audience's lookback); ``value``: the
        property path and the names of its ``v``, ``n``, ``has`` columns, when it reads one;
        ``keyed``: it needs the order of events (first/last: column ``k``).
        Parameter names start with ``prefix`` as in :func:`cdp_cli.traits.conditions.matching`."""
        kind = (item.kind, item.selected)
        self.kinds[kind] = None
        if keyed:
            self.keyed[kind] = None
        values = {c.property: self.value_of(c.property) for c in item.where}
        if item.where or value is not None:
            self.reading[kind] = None
        scope = Fragment.all(
            [
                selection(item, self.d, prefix=f"{prefix}s"),
                in_time(self.as_of, self.d, prefix=f"{prefix}a"),
                window(item, self.as_of, self.d, prefix=f"{prefix}n"),
                *extra,
            ]
        )
        tests = Fragment.all(conditions(item, self.d, prefix=f"{prefix}w", values=values))
        self.params.update(scope.params)
        self.params.update(tests.params)
        self.matches.append(sql.FACT_MATCH.fill(selection=scope.sql, conditions=tests.sql, m=m))
        self.flags.append(m)
        if value is not None:
            path, v, n, has = value
            val = self.value_of(path)
            self.values.append(
                sql.FACT_VALUES.fill(
                    scalar=val.scalar, number=val.number, present=f"{val.text} IS NOT NULL", m=m, v=v, n=n, has=has
                )
            )

    def _any_kind(self, kinds: dict[tuple[str, str], None], prefix: str) -> str:
        parts = [
            selection(SimpleNamespace(kind=k, selected=s), self.d, prefix=f"{prefix}{j}_")
            for j, (k, s) in enumerate(kinds)
        ]
        f = Fragment.all(parts, joiner=" OR ", empty="FALSE")
        self.params.update(f.params)
        return f.sql

    @property
    def relation(self) -> str:
        """What the statements read the facts from: the shared table, or the ``facts`` CTE."""
        return self.table or "facts"

    def create_table(self) -> Statement:
        """``CREATE TEMPORARY TABLE <table>`` holding the facts of every flag registered so far."""
        if self.table is None:
            raise ValueError("a OnePass without a table is a CTE of each statement")
        scoped = in_time(self.as_of, self.d, prefix="asof")
        name, body = self.cte()
        params = {**self.params, **scoped.params}
        text = self.d.create_temp_table(
            self.table,
            "    WITH\n"
            f"    scoped AS ({sql.SCOPED.fill(in_time=scoped.sql)}\n    ),\n"
            f"    user_events AS ({sql.USER_EVENTS.fill()}\n    ),\n"
            f"    {name} AS ({body}\n    )\n    SELECT * FROM {name}",
        )
        used = {k: v for k, v in params.items() if re.search(re.escape(self.d.param(k)) + r"(?!\w)", text)}
        return Statement(text, used)

    def cte(self) -> tuple[str, str]:
        """``("facts", body)``; :attr:`params` then holds every parameter it binds."""
        columns = []
        if self.paths:
            literals = [self.d.literal(json_path(p)) for p in self.paths]
            props = f"e.{self.d.quote_ident('properties')}"
            read, values = hooks(self.d).read_paths(props, literals, "e.jl")
            extract = f"CASE WHEN {self._any_kind(self.reading, 'fr')} THEN {read} END"
            for i, (text, kind) in enumerate(values):
                columns.append(f",\n                   {text} AS x{i}, {kind} AS y{i}")
        else:
            extract = f"CAST(NULL AS {self.d.text_type})"
        return (
            "facts",
            sql.FACTS.fill(
                flags="".join(f", e.{m}" for m in self.flags),
                values="".join(self.values),
                matches="".join(self.matches),
                paths="".join(columns),
                key=f"CASE WHEN {self._any_kind(self.keyed, 'fo')} THEN {hooks(self.d).order_key or ORDER_KEY} END"
                if self.keyed
                else "NULL",
                extract=extract,
                source=self.source,
                kinds=self._any_kind(self.kinds, "fk"),
            ),
        )
