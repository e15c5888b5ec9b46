"""The schema of every Parquet file cdp writes, in one place.

``cdp profiles resolve`` writes four files; their columns and types are declared here and nowhere
else, and :data:`OUTPUTS_FORMAT_VERSION` (``format_version`` in ``manifest.json``) changes whenever
one of them does, so a reader can tell which columns to expect. Every output is checked against its
declaration as it is written, and a test compares written files with these declarations.

Column names avoid words reserved in common SQL dialects (``limit``, ``window``, ``order``, ``group``,
``values``...), so the files read the same from DuckDB, Spark SQL or a warehouse without quoting.

pyarrow is imported inside the functions (``cdp --help`` must not load it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: the version of the output schemas below, recorded as ``format_version`` in ``manifest.json``.
#: 1: the first; 2: merges.parquet's ``limit``/``window`` renamed ``limit_value``/``limit_window``.
OUTPUTS_FORMAT_VERSION = 2

#: words reserved in common SQL dialects (DuckDB, Spark SQL in ANSI mode, PostgreSQL, Snowflake, BigQuery):
#: an output column must not be one (a test checks), so no reader has to quote it
RESERVED_WORDS = frozenset(
    """
    all alter and any array as asc assert_rows_modified at authorization between both by case cast check collate
    column constraint contains create cross cube current current_date current_time current_timestamp current_user
    default define delete desc distinct do drop else end enum escape except exclude exists extract false fetch
    filter following for foreign from full grant group grouping groups hash having if ignore in inner insert
    intersect interval into is join lateral leading left like limit lookup merge natural new no not null nulls of
    offset on only or order outer over overlaps partition preceding primary proto qualify range recursive
    references respect returning right rollup row rows select session_user set some struct table tablesample then
    time to trailing treat true unbounded union unique unknown unnest update user using values when where window
    with within
""".split()
)


def _ts(pa):
    return pa.timestamp("us", tz="UTC")


@cache  # a schema is immutable: built once per process
def profiles() -> pa.Schema:
    """profiles.parquet: one row per profile."""
    import pyarrow as pa

    from cdp_cli.identity.graph import KINDS

    return pa.schema(
        [
            ("profile_id", pa.string()),
            ("identifiers", pa.map_(pa.string(), pa.list_(pa.string()))),  # type name -> values
            ("identifier_count", pa.int64()),
            ("traits", pa.string()),  # JSON object
            ("first_seen", _ts(pa)),
            ("last_seen", _ts(pa)),
            ("event_count", pa.int64()),
            *[(f"{k}_count", pa.int64()) for k in KINDS],
            ("merged_profiles", pa.int64()),
        ]
    )


@cache
def identities() -> pa.Schema:
    """identities.parquet: one row per identifier, with the message that put it on its profile."""
    import pyarrow as pa

    return pa.schema(
        [
            ("type", pa.string()),
            ("value", pa.string()),
            ("profile_id", pa.string()),
            ("first_seen", _ts(pa)),
            ("last_seen", _ts(pa)),
            ("event_count", pa.int64()),
            ("linked_message_id", pa.string()),
            ("linked_at", _ts(pa)),
            ("linked_file", pa.string()),
            ("linked_line", pa.int64()),
            ("linked_via_type", pa.string()),
            ("linked_via_value", pa.string()),
        ]
    )


@cache
def events() -> pa.Schema:
    """events.parquet: one row per message, with its final profile."""
    import pyarrow as pa

    return pa.schema(
        [
            ("message_id", pa.string()),
            ("profile_id", pa.string()),  # null for a message without identifiers
            ("type", pa.string()),
            ("event", pa.string()),  # track event, or page/screen name
            ("timestamp", _ts(pa)),
            ("received_at", _ts(pa)),
            ("user_id", pa.string()),
            ("anonymous_id", pa.string()),
            ("group_id", pa.string()),
            ("properties", pa.string()),  # JSON, as the message had it
            ("traits", pa.string()),
            ("context", pa.string()),
            ("file", pa.string()),
            ("line", pa.int64()),
            ("batch_index", pa.int32()),  # position in a {"batch": [...]} line; null otherwise
        ]
    )


@cache
def merges() -> pa.Schema:
    """merges.parquet: one row per merge or refused merge, in the order they happened."""
    import pyarrow as pa

    return pa.schema(
        [
            ("step", pa.int64()),
            ("kind", pa.string()),  # merge / refused
            ("profile_id", pa.string()),
            ("merged_profile_id", pa.string()),
            ("final_profile_id", pa.string()),
            ("identifiers", pa.list_(pa.string())),  # type:value, of the message
            ("profiles", pa.list_(pa.string())),
            ("limit_type", pa.string()),  # refused: the type whose limit the merge would exceed
            ("limit_value", pa.int64()),  # ... its limit (was "limit" before format 2)
            ("limit_window", pa.string()),  # ... the window it counts in (was "window" before format 2)
            ("would_hold", pa.int64()),
            ("dropped_type", pa.string()),
            ("dropped_value", pa.string()),
            ("message_id", pa.string()),
            ("timestamp", _ts(pa)),
            ("file", pa.string()),
            ("line", pa.int64()),
            ("batch_index", pa.int32()),
        ]
    )


#: the outputs of ``cdp profiles resolve``: file name -> schema
OUTPUTS: dict[str, Callable[[], pa.Schema]] = {
    "profiles.parquet": profiles,
    "identities.parquet": identities,
    "events.parquet": events,
    "merges.parquet": merges,
}


# --- staging (inside a resolve run, never kept) -------------------------------------------------------
@cache
def stage() -> pa.Schema:
    """One row per message, as the workers stage it for sorting and resolving."""
    import pyarrow as pa

    return pa.schema(
        [
            ("seq", pa.int64()),
            ("src", pa.int32()),
            ("line", pa.int64()),
            ("bidx", pa.int32()),
            ("ids", pa.list_(pa.string())),
            ("alias", pa.string()),
            ("traits", pa.string()),
            ("ts", pa.int64()),
            ("received", pa.int64()),
            ("mid", pa.string()),
            ("kind", pa.int8()),
            ("h", pa.int64()),
            # the columns events.parquet keeps, as text (objects as JSON)
            ("type", pa.string()),
            ("event", pa.string()),
            ("user_id", pa.string()),
            ("anonymous_id", pa.string()),
            ("group_id", pa.string()),
            ("message_id", pa.string()),
            ("properties", pa.string()),
            ("traits_json", pa.string()),
            ("context", pa.string()),
        ]
    )


@cache
def assignments() -> pa.Schema:
    """Which profile each message (by ``seq``) ended in."""
    import pyarrow as pa

    return pa.schema([("seq", pa.int64()), ("profile", pa.int64())])


def differences(actual: pa.Schema, declared: pa.Schema) -> list[str]:
    """How a written schema differs from its declaration (column names, order and types; the names
    of list and map children, which writers spell differently, do not count). Empty when it conforms."""
    out: list[str] = []
    if actual.names != declared.names:
        out.append(f"columns {actual.names} instead of {declared.names}")
    for f in declared:
        i = actual.get_field_index(f.name)
        if i >= 0 and not actual.field(i).type.equals(f.type):
            out.append(f"{f.name}: {actual.field(i).type} instead of {f.type}")
    return out
