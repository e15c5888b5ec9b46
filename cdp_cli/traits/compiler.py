"""A traits file as one query: one readable SELECT per trait (a CTE), joined to ``profiles`` into one
row per profile; and, per trait, the explain query listing a profile's events with the test each
passes.

The SQL is the shapes of :mod:`cdp_cli.traits.sql` filled with fragments of
:mod:`cdp_cli.traits.conditions`; everything a user wrote is a bound parameter (except an ``sql``
trait's query). The query sticks to what DuckDB, Spark SQL and the warehouses share (CTEs, joins,
``row_number()``, ``COUNT``/``SUM``/``MIN``/``MAX``/``AVG``, ``CAST``, ``NULLS FIRST/LAST``); lists and
JSON go through the :class:`~cdp_cli.engine.Dialect` and :data:`~cdp_cli.traits.conditions.JSON_HOOKS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement
from cdp_cli.traits import sql
from cdp_cli.traits.conditions import (
    conditions,
    hooks,
    in_time,
    matching,
    property_value,
    selection,
    window,
)
from cdp_cli.traits.definitions import SqlTrait
from cdp_cli.traits.onepass import OnePass

#: the kind of each output column: count (int64), number (double), text (string), list (list<string>)
KINDS = {
    "event_counter": "count",
    "unique_list_count": "count",
    "aggregation": "number",
    "most_frequent": "text",
    "first": "text",
    "last": "text",
    "unique_list": "list",
}


class Column(NamedTuple):
    name: str  #: the output column
    trait: str  #: the trait it comes from
    kind: str  #: count, number, text, list, or sql (the type the query gives)


@dataclass
class Compiled:
    statement: Statement  #: one row per profile: profile_id, then each trait's column(s)
    columns: list[Column]
    non_numeric: Statement | None  #: (trait, count) of values that are not JSON numbers, per aggregation
    setup: list[Statement] = field(default_factory=list)  #: run first, in order (materialize=...)


def sql_columns(trait: SqlTrait, value_columns: Sequence[str]) -> list[str]:
    """The output columns of an ``sql`` trait: its name for one value column, ``name_column`` for several."""
    if len(value_columns) == 1:
        return [trait.name]
    return [f"{trait.name}_{c}" for c in value_columns]


def user_query(trait: SqlTrait) -> str:
    """An ``sql`` trait's query as a subquery (trailing semicolons removed)."""
    return trait.query.strip().rstrip(";").rstrip()


def _with(ctes: list[tuple[str, str]], materialized: str = "") -> str:
    """``WITH`` and the CTEs; a name ending in ``!`` is written ``name AS <materialized>(...)``."""
    if not ctes:
        return ""
    return "    WITH\n" + ",\n".join(
        f"    {name.rstrip('!')} AS {materialized if name.endswith('!') else ''}({body}\n    )" for name, body in ctes
    )


def _common(traits: Sequence[Any], as_of: datetime, dialect: Dialect) -> tuple[list[tuple[str, str]], dict]:
    scoped = in_time(as_of, dialect, prefix="asof")
    ctes = [("scoped", sql.SCOPED.fill(in_time=scoped.sql)), ("user_events", sql.USER_EVENTS.fill())]
    if any(getattr(t, "level", "user") == "account" for t in traits):
        ctes += [
            ("membership", sql.MEMBERSHIP.fill()),
            ("current_account", sql.CURRENT_ACCOUNT.fill()),
            ("account_events", sql.ACCOUNT_EVENTS.fill()),
        ]
    return ctes, dict(scoped.params)


def _value(trait: Any, dialect: Dialect) -> tuple[str, str, str]:
    prop = getattr(trait, "property", None)
    if prop is None:
        return f"CAST(NULL AS {dialect.text_type})", "CAST(NULL AS DOUBLE)", "FALSE"
    v = property_value(prop, dialect)
    return v.scalar, v.number, f"{v.text} IS NOT NULL"


def _value_select(trait: Any, events: str, dialect: Dialect, params: dict, prefix: str) -> str:
    t = trait.type
    if t == "event_counter":
        return sql.COUNTER.fill(events=events)
    if t == "aggregation":
        return sql.AGGREGATION.fill(events=events, function=trait.function)
    if t == "most_frequent":
        name = f"{prefix}min"
        params[name] = trait.min_frequency
        return sql.MOST_FREQUENT.fill(events=events, min_frequency=dialect.param(name))
    if t == "first":
        return sql.FIRST.fill(events=events)
    if t == "last":
        return sql.LAST.fill(events=events)
    if t == "unique_list":
        return sql.UNIQUE_LIST.fill(events=events, distinct_sorted=dialect.array_agg_distinct_sorted("v"))
    if t == "unique_list_count":
        return sql.UNIQUE_LIST_COUNT.fill(events=events)
    raise ValueError(f"unknown trait type {t!r}")  # pragma: no cover


def compile_traits(
    traits: Sequence[Any],
    dialect: Dialect,
    as_of: datetime,
    *,
    sql_value_columns: dict[str, list[str]] | None = None,
    profile_id: str | None = None,
    combined: bool = True,
    materialize: str | None = None,
    one: OnePass | None = None,
) -> Compiled:
    """The query computing ``traits`` (as of ``as_of``) for every profile, or one (``profile_id``).
    ``sql_value_columns``: for each ``sql`` trait, the value columns its query returns (learnt by
    binding it first, see :func:`cdp_cli.traits.compute.check_sql_traits`). ``combined``: the user
    traits of the event types (all but ``sql``) in one pass over the events (:mod:`.onepass`: one
    read of each event, one GROUP BY with a FILTER per trait); otherwise one readable SELECT per trait
    (``--show-sql``). ``materialize``: the name of a temporary table the result is computed into
    first (``Compiled.setup``), so that the statement and the non-numeric counts read it instead of
    the events again. ``one``: a pass shared with other statements (its ``table``: the facts are
    computed there once, by the caller, after every compiler registered its flags)."""
    ctes, params = _common(traits, as_of, dialect)
    n_common = len(ctes)  # the traits' own CTEs come after these
    if one is None:
        one = OnePass(dialect, as_of)
    facts = one.relation
    aggregates: list[str] = []
    nn_counts: list[tuple[str, str]] = []  # (parameter holding the trait's name, count column)
    columns: list[Column] = []
    selects: list[str] = []
    joins: list[str] = []
    non_numeric: list[str] = []
    account = any(getattr(t, "level", "user") == "account" for t in traits)
    if account:
        joins.append("\n    LEFT JOIN current_account a ON a.profile_id = p.profile_id")
    for i, trait in enumerate(traits):
        cte = f"t{i}"
        ref = f"{cte}.value"  # the trait's value in the final SELECT
        if isinstance(trait, SqlTrait):
            ctes.append((cte, sql.SQL_TRAIT.fill(name=f"trait {trait.name}", query=user_query(trait))))
            joins.append(f"\n    LEFT JOIN {cte} ON {cte}.profile_id = p.profile_id")
            value_cols = (sql_value_columns or {}).get(trait.name, [])
            for col, out in zip(value_cols, sql_columns(trait, value_cols), strict=True):
                selects.append(f"{cte}.{dialect.quote_ident(col)} AS {dialect.quote_ident(out)}")
                columns.append(Column(out, trait.name, "sql"))
            continue
        if combined and trait.level != "account":
            m, v, n, has = (f"{c}{i}" for c in ("m", "v", "n", "has"))
            prop = getattr(trait, "property", None)
            reads = (prop, v, n, has) if prop is not None else None
            one.flag(trait, m, f"t{i}", value=reads, keyed=trait.type in ("first", "last"))
            if trait.type == "most_frequent":
                name = f"t{i}vmin"
                params[name] = trait.min_frequency
                ctes.append((f"{cte}_events", sql.FROM_FACTS.fill(m=m, v=v, facts=facts)))
                ctes.append((cte, sql.MOST_FREQUENT.fill(events=f"{cte}_events", min_frequency=dialect.param(name))))
            else:  # read straight from the one GROUP BY, joined once (not one join per trait)
                aggregates.append(f",\n           {_aggregate(trait, m, v, n, dialect)} AS a{i}")
                ref = f"ag.a{i}"
            if trait.type == "aggregation":
                name = f"t{i}nn"
                params[name] = trait.name
                aggregates.append(f",\n           {sql.NON_NUMERIC_COUNT.fill(m=m, has=has, n=n, c=f'c{i}')}")
                nn_counts.append((name, f"c{i}"))
        else:
            match = matching(trait, as_of, dialect, prefix=f"t{i}")
            params.update(match.params)
            scalar, number, present = _value(trait, dialect)
            source = "account_events" if trait.level == "account" else "user_events"
            ctes.append(
                (
                    f"{cte}_events",
                    sql.TRAIT_EVENTS.fill(
                        name=f"trait {trait.name}",
                        scalar=scalar,
                        number=number,
                        present=present,
                        source=source,
                        matching=match.sql,
                    ),
                )
            )
            ctes.append((cte, _value_select(trait, f"{cte}_events", dialect, params, f"t{i}v")))
            if trait.type == "aggregation":
                name = f"t{i}nn"
                params[name] = trait.name
                non_numeric.append(sql.NON_NUMERIC.fill(name=dialect.param(name), events=f"{cte}_events"))
        unit = "a.group_id" if trait.level == "account" else "p.profile_id"
        if not ref.startswith("ag."):
            joins.append(f"\n    LEFT JOIN {cte} ON {cte}.unit_id = {unit}")
        kind = KINDS[trait.type]
        out = dialect.quote_ident(trait.name)
        if kind == "count":
            value = f"COALESCE({ref}, 0)"
            if trait.level == "account":  # no account: no value
                value = f"CASE WHEN a.group_id IS NOT NULL THEN {value} END"
            selects.append(f"CAST({value} AS BIGINT) AS {out}")
        elif kind == "number":
            selects.append(f"CAST({ref} AS DOUBLE) AS {out}")
        elif kind == "text":
            selects.append(f"CAST({ref} AS {dialect.text_type}) AS {out}")
        else:
            selects.append(f"{ref} AS {out}")
        columns.append(Column(trait.name, trait.name, kind))
    if one.matches and one.table is not None:  # the shared facts table: only the GROUP BY is ours
        ctes[n_common:n_common] = [("aggregates", sql.AGGREGATES.fill(columns="".join(aggregates), facts=facts))]
    elif one.matches:  # before the traits' CTEs, after the common ones
        name, body = one.cte()
        params.update(one.params)
        if any(t.type == "most_frequent" for t in traits):  # facts has several readers: compute it once
            name += "!"
        aggregated = sql.AGGREGATES.fill(columns="".join(aggregates), facts=facts)
        ctes[n_common:n_common] = [(name, body), ("aggregates", aggregated)]
    if aggregates or (materialize and nn_counts):
        joins.append("\n    LEFT JOIN aggregates ag ON ag.unit_id = p.profile_id")
    if materialize and nn_counts:  # the non-numeric counts per profile, hidden columns of the table
        selects += [f"ag.{c} AS {dialect.quote_ident(_nn_column(c))}" for _, c in nn_counts]
    if profile_id is not None:
        params["profile_id"] = profile_id
        where = f"p.profile_id = {dialect.param('profile_id')}"
    else:
        where = "TRUE"
    text = sql.TRAITS.fill(
        common=_with(ctes, hooks(dialect).materialized),
        columns="".join(f",\n           {s}" for s in selects),
        joins="".join(joins),
        profile_filter=where,
    )
    setup: list[Statement] = []
    if materialize:
        table = dialect.quote_ident(materialize)
        create = dialect.create_temp_table(materialize, text)
        setup.append(Statement(create, _used(params, create, dialect)))
        shown = ", ".join(["profile_id", *(dialect.quote_ident(c.name) for c in columns)])
        text = f"SELECT {shown} FROM {table} ORDER BY profile_id"
        nn_rows = [
            sql.NON_NUMERIC_ROW.fill(name=dialect.param(n), c=dialect.quote_ident(_nn_column(c)), source=table)
            for n, c in nn_counts
        ]
    else:
        nn_rows = [sql.NON_NUMERIC_ROW.fill(name=dialect.param(n), c=c, source="aggregates") for n, c in nn_counts]
    nn = None
    if non_numeric or nn_rows:
        with_ctes = bool(non_numeric) or not materialize
        head = _with(ctes, hooks(dialect).materialized) + "\n    " if with_ctes else ""
        nn_text = head + "\n    UNION ALL\n    ".join(non_numeric + nn_rows)
        nn = Statement(nn_text, _used(params, nn_text, dialect))
    return Compiled(Statement(text, _used(params, text, dialect)), columns, nn, setup)


def _nn_column(c: str) -> str:
    """The hidden column of a materialized result counting an aggregation's non-numeric values."""
    return f"cdp non-numeric {c}"


def _aggregate(trait: Any, m: str, v: str, n: str, dialect: Dialect) -> str:
    """A simple trait's value as one aggregate (with its FILTER) of the ``facts`` CTE."""
    t = trait.type
    if t == "event_counter":
        return sql.AGG_COUNTER.fill(m=m)
    if t == "aggregation":
        return sql.AGG_AGGREGATION.fill(m=m, n=n, function=trait.function)
    if t == "first":
        return sql.AGG_FIRST.fill(m=m, v=v, by=hooks(dialect).first_by)
    if t == "last":
        return sql.AGG_LAST.fill(m=m, v=v, by=hooks(dialect).last_by)
    if t == "unique_list":
        return sql.AGG_UNIQUE_LIST.fill(
            m=m, v=v, distinct_sorted=dialect.array_agg_distinct_sorted(f"CASE WHEN {m} THEN {v} END")
        )
    return sql.AGG_UNIQUE_LIST_COUNT.fill(m=m, v=v)


def _used(params: dict[str, Any], text: str, dialect: Dialect) -> dict[str, Any]:
    """The parameters ``text`` refers to (engines refuse unused ones)."""
    return {k: v for k, v in params.items() if re.search(re.escape(dialect.param(k)) + r"(?!\w)", text)}


def explain_events(trait: Any, dialect: Dialect, as_of: datetime, profile_id: str, *, limit: int = 200) -> Statement:
    """Every event of ``profile_id`` (or, for an account trait, of every user of its current
    account) of the kind ``trait`` selects, with columns ``in_time``, ``in_window``, ``c0``... (one
    per ``where`` filter) telling which test it passes, and its value (``v``, ``n``, ``has``)."""
    params: dict[str, Any] = {"profile_id": profile_id, "limit": int(limit)}
    sel = selection(trait, dialect, prefix="s")
    time = in_time(as_of, dialect, prefix="a")
    win = window(trait, as_of, dialect, prefix="n")
    conds = conditions(trait, dialect, prefix="w")
    for f in (sel, time, win, *conds):
        params.update(f.params)
    ctes: list[tuple[str, str]] = []
    pid = dialect.param("profile_id")
    if trait.level == "account":
        common, common_params = _common([trait], as_of, dialect)
        ctes = [c for c in common if c[0] in ("scoped", "membership", "current_account")]
        params.update(common_params)
        units = (
            "e.profile_id IN (SELECT m.profile_id FROM membership m "
            f"JOIN current_account a ON a.group_id = m.group_id WHERE a.profile_id = {pid})"
        )
    else:
        units = f"e.profile_id = {pid}"
    scalar, number, present = _value(trait, dialect)
    text = sql.EXPLAIN_EVENTS.fill(
        common=_with(ctes),
        name=f"trait {trait.name}",
        in_time=f"COALESCE({time.sql}, FALSE)",
        in_window=f"COALESCE({win.sql}, FALSE)",
        conditions="".join(f", {c.sql} AS c{i}" for i, c in enumerate(conds)),
        scalar=scalar,
        number=number,
        present=present,
        selection=sel.sql,
        units=units,
        limit=dialect.param("limit"),
    )
    return Statement(text, params)
