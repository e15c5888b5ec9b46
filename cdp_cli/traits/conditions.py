"""Event selection, ``where`` filters, windows and property paths as SQL fragments (traits now,
audiences later).

Every fragment is a function of a definition and a :class:`~cdp_cli.engine.Dialect` returning a
:class:`Fragment`: SQL text and the parameters it binds. Values from users (event names, filter
values, window bounds) are always bound parameters, never text; property paths become JSON paths
quoted by the dialect (``Dialect.literal``), the way identifiers go through ``quote_ident``. Parameter
names start with a caller-given ``prefix``, so fragments of many definitions combine in one query.

Fragments refer to an events relation through an alias (``e`` by default) with the columns of
``events.parquet`` (:func:`cdp_cli.schemas.events`). Semantics (documented in docs/traits.md):

- a JSON value counts as a **number** only when it is a JSON number (``"10"`` is text);
- every operator but ``not_exists`` is false when the property is absent or null;
- comparisons are typed: a string value matches JSON strings, a number JSON numbers, true/false
  JSON booleans; ``contains``/``starts_with``/``ends_with`` (and their negations) apply to strings;
- ``before``/``after`` read the property as an ISO-8601 date-time (UTC when it names no zone).

The few JSON functions the :class:`Dialect` does not spell yet (the JSON type of a value, a text as
a timestamp) are spelled per dialect in :data:`JSON_HOOKS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from cdp_cli.engine.dialect import Dialect
from cdp_cli.events.model import shifted
from cdp_cli.traits.definitions import (
    DATE_OPS,
    LIST_OPS,
    NUMERIC_OPS,
    Condition,
)

ALIAS = "e"


class Fragment(NamedTuple):
    """A piece of SQL and the parameters it binds."""

    sql: str
    params: dict[str, Any]

    @staticmethod
    def all(parts: Sequence[Fragment], joiner: str = " AND ", empty: str = "TRUE") -> Fragment:
        """Parts joined (ANDed by default); ``empty`` when there are none."""
        if not parts:
            return Fragment(empty, {})
        params: dict[str, Any] = {}
        for p in parts:
            params.update(p.params)
        return Fragment(joiner.join(f"({p.sql})" for p in parts), params)


# --- JSON hooks the Dialect does not have (yet) ------------------------------------------------------
class JsonHooks(NamedTuple):
    """Per-dialect spellings: ``kind(expr, path_sql)`` the JSON type of the value at a path as one of
    string, number, boolean, null, array, object (NULL when absent); ``as_double(text)`` a number's
    text as a double; ``as_timestamp(text)`` an ISO-8601 text as a UTC timestamp (NULL when it is not
    one); ``list_length(expr)`` the length of a list; ``read_paths(expr, [path_sql, ...], column)``
    several paths of the JSON text ``expr`` with the document parsed once: ``(read, [(text, kind),
    ...])``, where ``read`` is selected as ``column`` in one step and each path's text and JSON type
    (as :func:`json_value` gives them) read ``column`` in the next; ``first_by``/``last_by`` the aggregates
    giving the value at the least/greatest key; ``materialized``: the words that make a CTE
    computed once for several readers (``WITH x AS MATERIALIZED (...)``), empty where unknown."""

    kind: Callable[[str, str], str]
    as_double: Callable[[str], str]
    as_timestamp: Callable[[str], str]
    list_length: Callable[[str], str]
    read_paths: Callable[[str, list[str], str], tuple[str, list[tuple[str, str]]]]
    materialized: str = ""
    first_by: str = "min_by"  #: the aggregate ``first_by(value, key)``: the value at the least key
    last_by: str = "max_by"
    #: the order of events as one comparable value, where the dialect spells it differently from
    #: :data:`cdp_cli.traits.onepass.ORDER_KEY` (a missing received_at first)
    order_key: str = ""


def _duck_kind(expr: str, path: str) -> str:
    return (
        f"CASE json_type({expr}, {path}) WHEN 'VARCHAR' THEN 'string' WHEN 'BIGINT' THEN 'number' "
        "WHEN 'UBIGINT' THEN 'number' WHEN 'DOUBLE' THEN 'number' WHEN 'BOOLEAN' THEN 'boolean' "
        "WHEN 'NULL' THEN 'null' WHEN 'ARRAY' THEN 'array' WHEN 'OBJECT' THEN 'object' END"
    )


_SPARK_KINDS = {
    **dict.fromkeys(("TINYINT", "SMALLINT", "INT", "BIGINT", "DECIMAL", "FLOAT", "DOUBLE"), "number"),
    "STRING": "string",
    "BOOLEAN": "boolean",
    "VOID": "null",
    "ARRAY": "array",
    "OBJECT": "object",
}


def _spark_path(path_sql: str) -> str:
    """A JSONPath SQL literal as cdp renders it, in the form Spark's ``variant_get`` reads."""
    from cdp_cli.engine.spark import DIALECT, variant_path

    if not (path_sql.startswith("'") and path_sql.endswith("'")):
        raise ValueError(f"not a JSON path literal: {path_sql}")
    return DIALECT.literal(variant_path(re.sub(r"\\(.)", r"\1", path_sql[1:-1])))


def _spark_get(expr: str, path_sql: str) -> str:
    return f"variant_get(parse_json({expr}), {_spark_path(path_sql)})"


def _spark_kind(expr: str, path_sql: str) -> str:
    return _spark_kind_of(_spark_get(expr, path_sql))


def _spark_kind_of(variant: str) -> str:
    schema = f"regexp_extract(schema_of_variant({variant}), '^[A-Z]+', 0)"
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _SPARK_KINDS.items())
    return f"CASE {schema} {cases} END"


def _duck_read_paths(expr: str, paths: list[str], column: str) -> tuple[str, list[tuple[str, str]]]:
    # one json_extract of every path into a list of JSON values, each read back at '$'
    read = f"json_extract({expr}, [{', '.join(paths)}])"
    return read, [
        (f"json_extract_string({column}[{i + 1}], '$')", _duck_kind(f"{column}[{i + 1}]", "'$'"))
        for i in range(len(paths))
    ]


def _spark_read_paths(expr: str, paths: list[str], column: str) -> tuple[str, list[tuple[str, str]]]:
    # the document as a VARIANT, and its text for numbers (a VARIANT gives 55.0 back as 55)
    read = f"named_struct('raw', {expr}, 'v', parse_json({expr}))"
    values = []
    for p in paths:
        path = _spark_path(p)
        kind = _spark_kind_of(f"variant_get({column}.v, {path})")
        text = (
            f"CASE {kind} WHEN 'null' THEN NULL WHEN 'string' THEN variant_get({column}.v, {path}, 'string')"
            f" ELSE get_json_object({column}.raw, {path}) END"
        )
        values.append((text, kind))
    return read, values


JSON_HOOKS: dict[str, JsonHooks] = {
    "duckdb": JsonHooks(
        kind=_duck_kind,
        as_double=lambda text: f"CAST({text} AS DOUBLE)",
        as_timestamp=lambda text: f"TRY_CAST({text} AS TIMESTAMPTZ)",
        list_length=lambda expr: f"len({expr})",
        read_paths=_duck_read_paths,
        materialized="MATERIALIZED ",
        first_by="arg_min",
        last_by="arg_max",
    ),
    # Spark reads JSON text as a VARIANT (Spark 4); values handed on between steps stay JSON text
    "spark": JsonHooks(
        kind=_spark_kind,
        as_double=lambda text: f"try_cast({text} AS DOUBLE)",
        as_timestamp=lambda text: f"try_cast({text} AS TIMESTAMP)",
        list_length=lambda expr: f"size({expr})",
        read_paths=_spark_read_paths,
        # no -infinity timestamp in Spark: whether received_at is there comes before it
        order_key="struct(e.timestamp, e.received_at IS NOT NULL,"
        " COALESCE(e.received_at, TIMESTAMP'1970-01-01 00:00:00'), COALESCE(e.message_id, ''),"
        " COALESCE(e.file, ''), COALESCE(e.line, -1), COALESCE(e.batch_index, -1))",
    ),
}


def hooks(dialect: Dialect) -> JsonHooks:
    try:
        return JSON_HOOKS[dialect.name]
    except KeyError:
        raise NotImplementedError(f"{dialect.name}: the JSON functions of traits") from None


# --- property paths ----------------------------------------------------------------------------------
def json_path(path: str) -> str:
    """``products.0.price`` -> ``$."products"[0]."price"``: keys quoted, digit-only segments are
    array indexes. A key cannot hold a dot (it separates segments)."""
    out = ["$"]
    for segment in path.split("."):
        if segment.isdigit() and segment.isascii():
            out.append(f"[{int(segment)}]")
        else:
            out.append('."' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "".join(out)


class Value(NamedTuple):
    """SQL expressions for the value at a property path: ``text`` (JSON text; strings unquoted;
    objects and arrays as JSON), ``kind`` (its JSON type), ``scalar`` (the text of a string, number
    or boolean, else NULL), ``number`` (a double when it is a JSON number, else NULL)."""

    text: str
    kind: str
    scalar: str
    number: str


def property_value(path: str, dialect: Dialect, alias: str = ALIAS, column: str = "properties") -> Value:
    """The value at ``path`` inside the JSON ``column`` of the events relation ``alias``."""
    return json_value(f"{alias}.{dialect.quote_ident(column)}", json_path(path), dialect)


def json_value(col: str, jp: str, dialect: Dialect) -> Value:
    """The value at the JSON path ``jp`` inside the JSON expression ``col``."""
    h = hooks(dialect)
    text = dialect.json_extract_string(col, jp)
    kind = h.kind(col, dialect.literal(jp))
    scalar = f"CASE WHEN {kind} IN ('string', 'number', 'boolean') THEN {text} END"
    number = f"CASE WHEN {kind} = 'number' THEN {h.as_double(text)} END"
    return Value(text, kind, scalar, number)


# --- parameters --------------------------------------------------------------------------------------
class _Binder:
    def __init__(self, dialect: Dialect, prefix: str) -> None:
        self.dialect, self.prefix, self.params = dialect, prefix, {}  # type: ignore[var-annotated]

    def __call__(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return self.dialect.param(name)

    def fragment(self, sql: str) -> Fragment:
        return Fragment(sql, dict(self.params))


# --- selection and window ----------------------------------------------------------------------------
def selection(trait: Any, dialect: Dialect, *, prefix: str = "sel", alias: str = ALIAS) -> Fragment:
    """The message type and name a trait selects (``event: NAME`` a track, ``page``/``screen`` by
    name; ``"*"`` any of that type)."""
    bind = _Binder(dialect, prefix)
    sql = f"{alias}.{dialect.quote_ident('type')} = {bind(trait.kind)}"
    if trait.selected != "*":
        sql += f" AND {alias}.{dialect.quote_ident('event')} = {bind(trait.selected)}"
    return bind.fragment(sql)


def in_time(as_of: datetime, dialect: Dialect, *, prefix: str = "asof", alias: str = ALIAS) -> Fragment:
    """Events at or before ``as_of`` (events without a timestamp never count)."""
    bind = _Binder(dialect, prefix)
    ts = f"{alias}.{dialect.quote_ident('timestamp')}"
    return bind.fragment(f"{ts} IS NOT NULL AND {ts} <= {bind(as_of)}")


def window(trait: Any, as_of: datetime, dialect: Dialect, *, prefix: str = "win", alias: str = ALIAS) -> Fragment:
    """``within: N``: ``as_of - N <= timestamp`` (the upper bound, ``<= as_of``, is :func:`in_time`);
    ``between: [start, end]``: ``start <= timestamp < end``; no window: TRUE."""
    bind = _Binder(dialect, prefix)
    ts = f"{alias}.{dialect.quote_ident('timestamp')}"
    if trait.within is not None:
        return bind.fragment(f"{ts} >= {bind(shifted(as_of, -trait.within))}")
    if trait.between is not None:
        start, end = trait.between
        return bind.fragment(f"{ts} >= {bind(start)} AND {ts} < {bind(end)}")
    return Fragment("TRUE", {})


# --- where -------------------------------------------------------------------------------------------
def _like(value: str, before: str, after: str) -> str:
    return before + re.sub(r"([\\%_])", r"\\\1", value) + after


def _typed_equal(value: Any, v: Value, bind: _Binder) -> str:
    if isinstance(value, bool):
        return f"{v.kind} = 'boolean' AND {v.text} = {bind('true' if value else 'false')}"
    if isinstance(value, (int, float)):
        return f"{v.number} = {bind(value)}"
    return f"{v.kind} = 'string' AND {v.text} = {bind(value)}"


def condition(
    cond: Condition, dialect: Dialect, *, prefix: str = "w", alias: str = ALIAS, read: Value | None = None
) -> Fragment:
    """One ``where`` filter as a boolean (never NULL: an absent property makes it FALSE, except for
    ``not_exists``). ``read``: the property's :class:`Value` when it was read already (one pass)."""
    bind = _Binder(dialect, prefix)
    v = read if read is not None else property_value(cond.property, dialect, alias)
    op, value = cond.op, cond.value
    exists = f"{v.text} IS NOT NULL"
    if op == "exists":
        sql = exists
    elif op == "not_exists":
        sql = f"{v.text} IS NULL"
    elif op == "=":
        sql = _typed_equal(value, v, bind)
    elif op == "!=":
        sql = f"{exists} AND NOT COALESCE({_typed_equal(value, v, bind)}, FALSE)"
    elif op in NUMERIC_OPS:
        sql = f"{v.number} {op} {bind(value)}"
    elif op in ("contains", "not_contains", "starts_with", "ends_with"):
        pattern = {
            "contains": ("%", "%"),
            "not_contains": ("%", "%"),
            "starts_with": ("", "%"),
            "ends_with": ("%", ""),
        }[op]
        negate = "NOT " if op == "not_contains" else ""
        escape = dialect.literal("\\")
        sql = f"{v.kind} = 'string' AND {v.text} {negate}LIKE {bind(_like(value, *pattern))} ESCAPE {escape}"
    elif op in LIST_OPS:
        if isinstance(value[0], str):
            member = f"{v.kind} = 'string' AND {v.text} IN ({', '.join(bind(x) for x in value)})"
        else:
            member = f"{v.number} IN ({', '.join(bind(x) for x in value)})"
        sql = member if op == "one_of" else f"{exists} AND NOT COALESCE({member}, FALSE)"
    elif op in DATE_OPS:
        when = hooks(dialect).as_timestamp(f"CASE WHEN {v.kind} = 'string' THEN {v.text} END")
        sql = f"{when} {'<' if op == 'before' else '>'} {bind(cond.when())}"
    else:  # pragma: no cover - the model refuses other operators
        raise ValueError(f"unknown operator {op!r}")
    return bind.fragment(f"COALESCE({sql}, FALSE)")


def conditions(
    trait: Any,
    dialect: Dialect,
    *,
    prefix: str = "w",
    alias: str = ALIAS,
    values: Mapping[str, Value] | None = None,
) -> list[Fragment]:
    """Each ``where`` filter of a trait, in order (ANDed by the caller); ``values``: per property path,
    its :class:`Value` when the properties were read already."""
    return [
        condition(c, dialect, prefix=f"{prefix}{i}_", alias=alias, read=(values or {}).get(c.property))
        for i, c in enumerate(trait.where)
    ]


def describe(cond: Condition) -> str:
    """A filter in words, for explain: ``revenue > 100``."""
    if cond.op in ("exists", "not_exists"):
        return f"{cond.property} {cond.op}"
    return f"{cond.property} {cond.op} {cond.value!r}"


def matching(trait: Any, as_of: datetime, dialect: Dialect, *, prefix: str = "t", alias: str = ALIAS) -> Fragment:
    """Everything an event must pass to count for ``trait``: selection, time, window, filters."""
    return Fragment.all(
        [
            selection(trait, dialect, prefix=f"{prefix}s", alias=alias),
            in_time(as_of, dialect, prefix=f"{prefix}a", alias=alias),
            window(trait, as_of, dialect, prefix=f"{prefix}n", alias=alias),
            *conditions(trait, dialect, prefix=f"{prefix}w", alias=alias),
        ]
    )
