"""What differs between SQL engines, in one small class per engine.

SQL that cdp writes sticks to what DuckDB, Spark SQL and the big warehouses share (joins, window
functions, ``COUNT``/``MIN``/``MAX``, ``CAST``, ``NULLS LAST``). Everything else goes through a
:class:`Dialect`: quoting identifiers and literals, parameter markers, timestamps from epoch
microseconds, JSON extraction, lists and maps. Each method returns SQL text; the engine's conformance
suite (``tests/engine``) evaluates every one of them on every engine.

:attr:`Dialect.name` is the dialect's name in sqlglot (``duckdb``, ``spark``), for SQL built as a tree
and rendered per engine.
"""

from __future__ import annotations

import math
from typing import Any


class Dialect:
    """The ANSI spellings; an engine's dialect overrides what its engine spells differently.

    Methods taking ``expr`` take SQL expressions (column references, other method results) and
    return SQL expressions; values from users go through :meth:`literal` or, better, as bound
    parameters (:meth:`param`)."""

    name = "ansi"
    #: the type of text values (``CAST(x AS VARCHAR)``)
    text_type = "VARCHAR"
    #: an empty list of text values
    empty_text_list = "CAST([] AS VARCHAR[])"
    #: the methods a named SQL template may call (``{timestamp_from_epoch_us(s.ts)}``): they take
    #: SQL expressions only
    TEMPLATE_FUNCTIONS = frozenset(
        {
            "timestamp_from_epoch_us",
            "list_contains",
            "array_agg_distinct_sorted",
            "map_value",
            "unnest_list",
        }
    )

    # --- names and values --------------------------------------------------------------------------
    def quote_ident(self, name: str) -> str:
        """An identifier, quoted whatever it holds (spaces, quotes, dots, reserved words)."""
        if not isinstance(name, str) or not name or "\x00" in name:
            raise ValueError(f"not an SQL identifier: {name!r}")
        return '"' + name.replace('"', '""') + '"'

    def literal(self, value: Any) -> str:
        """A constant as SQL: NULL, TRUE/FALSE, a number or a string (quotes doubled)."""
        if value is None:
            return "NULL"
        if value is True or value is False:
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(int(value))
        if isinstance(value, float):
            # CAST: a plain 1.5 is a DECIMAL in most engines
            text = (
                repr(value)
                if math.isfinite(value)
                else self.literal(str(value).replace("inf", "Infinity").replace("nan", "NaN"))
            )
            return f"CAST({text} AS DOUBLE)"
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("an SQL string cannot hold a NUL character")
            return "'" + value.replace("'", "''") + "'"
        raise TypeError(f"no SQL literal for {type(value).__name__}")

    def timestamp_literal(self, iso: str) -> str:
        """A timestamp with its UTC offset (``2026-11-15 12:00:00+00:00``) as a constant."""
        return f"CAST({self.literal(iso)} AS TIMESTAMPTZ)"

    def param(self, name: str) -> str:
        """The marker of a named, bound parameter."""
        return f":{name}"

    # --- statements --------------------------------------------------------------------------------
    def create_temp_table(self, name: str, query: str) -> str:
        """The statement that materialises ``query`` as the session's temporary table ``name``
        (replacing one of that name)."""
        return f"CREATE OR REPLACE TEMPORARY TABLE {self.quote_ident(name)} AS\n{query}"

    def drop_temp_table(self, name: str) -> str:
        return f"DROP TABLE IF EXISTS {self.quote_ident(name)}"

    # --- functions ---------------------------------------------------------------------------------
    def timestamp_from_epoch_us(self, expr: str) -> str:
        """A UTC timestamp (microseconds) from an integer count of microseconds since 1970."""
        raise NotImplementedError(f"{self.name}: timestamp_from_epoch_us")

    def json_extract_string(self, expr: str, path: str) -> str:
        """The value at ``path`` (JSONPath: ``$.a.b``, a Python string) of the JSON text ``expr``, as
        text: strings without their quotes, numbers and booleans as their JSON text, NULL when absent."""
        raise NotImplementedError(f"{self.name}: json_extract_string")

    def list_contains(self, list_expr: str, value_expr: str) -> str:
        """Whether a list (an array) holds a value; false or NULL for a NULL list."""
        raise NotImplementedError(f"{self.name}: list_contains")

    def array_agg_distinct_sorted(self, expr: str) -> str:
        """Aggregate: the distinct non-NULL values of ``expr``, sorted ascending, as a list."""
        raise NotImplementedError(f"{self.name}: array_agg_distinct_sorted")

    def map_value(self, map_expr: str, key_expr: str) -> str:
        """The value of a map at a key; NULL when the key is absent."""
        raise NotImplementedError(f"{self.name}: map_value")

    def unnest_list(self, expr: str) -> str:
        """In a SELECT list: one row per item of the list ``expr`` (none for an empty or NULL list)."""
        raise NotImplementedError(f"{self.name}: unnest_list")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
