"""Every SQL statement of identity resolution and of ``profiles show / explain``, by name.

Templates (:class:`~cdp_cli.engine.template.Template`): ``{relation}`` is a relation name quoted by the
engine's dialect, ``{function(expr, ...)}`` a dialect function, ``:name`` a bound value. The SQL
itself keeps to what DuckDB, Spark SQL and the warehouses share, so these render for any engine.

Relations a resolve run registers: ``stage`` (one row per staged message, :func:`cdp_cli.schemas.stage`),
``files`` (``src`` -> ``file``), ``dups``, ``assign`` (``seq`` -> ``profile``), ``pmap`` (``profile`` ->
final ``profile_id``), ``ids`` and ``mg`` (identifier and merge rows built from the graph), ``msg``.
``profiles show / explain`` read the output files as ``profiles``, ``identities``, ``events`` and ``merges``.
"""

from __future__ import annotations

from cdp_cli.engine.template import Template

# --- resolve: staging and resolution order -------------------------------------------------------------

DUPLICATES = Template(
    "duplicates",
    """
    -- every copy of a messageId but the first in resolution order. Ties (same time and content) go
    -- by file name, line and batch position, never by the order files were given in, so the copy
    -- kept is the same whatever the file order or --jobs.
    SELECT seq FROM (
        SELECT s.seq,
               row_number() OVER (PARTITION BY s.mid
                                  ORDER BY s.ts NULLS LAST, s.received NULLS LAST, s.h,
                                           f.file, s.line, s.bidx NULLS FIRST, s.seq) AS copy
        FROM {stage} s LEFT JOIN {files} f ON f.src = s.src
        WHERE s.mid IS NOT NULL) numbered
    WHERE copy > 1
""",
)

DUPLICATES_COUNT = Template("duplicates_count", "SELECT count(*) FROM {dups}")

#: the order messages go through the identity graph: effective timestamp (computed by the workers:
#: Segment's timestamp, else receivedAt - (sentAt - originalTimestamp), else originalTimestamp, else
#: receivedAt; times without a zone are UTC), receivedAt, messageId, a checksum of the message's JSON.
#: One definition for the single pass and the partitioned one (cdp_cli/identity/partitioned.py).
RESOLUTION_KEY = "ts NULLS LAST, received NULLS LAST, mid NULLS LAST, h, seq"

RESOLUTION_ORDER = Template(
    "resolution_order",
    f"""
    -- the order messages go through the identity graph (RESOLUTION_KEY). Only narrow columns are read.
    SELECT seq, ids, alias, traits, ts, kind
    FROM {{stage}}
    WHERE seq NOT IN (SELECT seq FROM {{dups}})
    ORDER BY {RESOLUTION_KEY}
""",
)

# --- resolve: outputs (columns: cdp_cli/schemas.py) ------------------------------------------------------

#: events.parquet's columns, and the messages they come from (with their final profile), shared by
#: the one sorted copy and the bucketed one (:func:`cdp_cli.identity.outputs._events_output`)
_EVENTS_COLUMNS = """
    SELECT x.message_id, m.profile_id, x.type, x.event,
           {timestamp_from_epoch_us(x.ts)} AS timestamp,
           {timestamp_from_epoch_us(x.received)} AS received_at,
           x.user_id, x.anonymous_id, x.group_id, x.properties, x.traits_json AS traits, x.context,
           fl.file, x.line, x.bidx AS batch_index"""
_EVENTS_FROM = """
    FROM (SELECT s.*, a.profile FROM {stage} s JOIN {assign} a ON a.seq = s.seq) x
    LEFT JOIN {pmap} m ON m.profile = x.profile"""

EVENTS_OUTPUT = Template(
    "events_output",
    """
    -- events.parquet: every message with its final profile, clustered by profile (then time): the
    -- Parquet row groups' min/max statistics then let a reader of one profile's events (explain,
    -- profiles show) skip nearly every row group, and the file compresses better. The sort spills
    -- to disk under the engine's memory limit; at 1M events it adds ~2.5 s (bench/RESULTS.md)."""
    + _EVENTS_COLUMNS
    + _EVENTS_FROM
    + """
    LEFT JOIN {files} fl ON fl.src = x.src
    ORDER BY m.profile_id NULLS LAST, x.ts NULLS LAST, x.received NULLS FIRST, x.src, x.line, x.bidx NULLS FIRST
""",
)

EVENTS_PROFILE_COUNTS = Template(
    "events_profile_counts",
    """
    -- messages per final profile (NULL: without one), to cut events.parquet's order into buckets
    SELECT m.profile_id, count(*) AS n"""
    + _EVENTS_FROM
    + """
    GROUP BY 1
""",
)

EVENTS_WITHOUT_PROFILE_TS = Template(
    "events_without_profile_ts",
    """
    -- the timestamps that cut the messages without a profile into :k buckets (NULLs go last)
    SELECT quantile_disc(x.ts, [:quantiles])"""
    + _EVENTS_FROM
    + """
    WHERE m.profile_id IS NULL AND x.ts IS NOT NULL
""",
)

EVENTS_SCATTER = Template(
    "events_scatter",
    """
    -- events.parquet's rows with their profile's bucket (a range of profile ids; NULL without a
    -- profile) and sort keys, unsorted: written out per bucket"""
    + _EVENTS_COLUMNS
    + """,
           x.ts AS k_ts, x.received AS k_received, x.src AS k_src, b.bucket AS k_bucket"""
    + _EVENTS_FROM
    + """
    LEFT JOIN {buckets} b ON b.profile_id = m.profile_id
    LEFT JOIN {files} fl ON fl.src = x.src
""",
)

EVENTS_BUCKET = Template(
    "events_bucket",
    """
    -- one bucket of events.parquet, in the file's order (as EVENTS_OUTPUT sorts the whole)
    SELECT message_id, profile_id, type, event, timestamp, received_at, user_id, anonymous_id,
           group_id, properties, traits, context, file, line, batch_index
    FROM {bucket}
    ORDER BY profile_id NULLS LAST, k_ts NULLS LAST, k_received NULLS FIRST, k_src, line, batch_index NULLS FIRST
""",
)

MESSAGES = Template(
    "messages",
    """
    -- message details by seq, for the lineage tables (joined only where they point)
    SELECT seq, src, line, bidx, ts, mid FROM {stage}
""",
)

IDENTITIES_OUTPUT = Template(
    "identities_output",
    """
    -- identities.parquet: each identifier, its profile, and the message that linked it
    SELECT i.type, i.value, i.profile_id, i.first_seen, i.last_seen, i.event_count,
           s.mid AS linked_message_id,
           {timestamp_from_epoch_us(s.ts)} AS linked_at,
           fl.file AS linked_file,
           s.line AS linked_line,
           i.linked_via_type, i.linked_via_value
    FROM {ids} i
    LEFT JOIN (SELECT * FROM {msg} WHERE seq IN (SELECT linked_seq FROM {ids})) s ON s.seq = i.linked_seq
    LEFT JOIN {files} fl ON fl.src = s.src
    ORDER BY i.profile_id, i.priority, i.type, i.value
""",
)

MERGES_OUTPUT = Template(
    "merges_output",
    """
    -- merges.parquet: merges and refused merges, in the order they happened, with their message
    SELECT g.step, g.kind, g.profile_id, g.merged_profile_id, g.final_profile_id, g.identifiers, g.profiles,
           g.limit_type, g.limit_value, g.limit_window, g.would_hold, g.dropped_type, g.dropped_value,
           s.mid AS message_id,
           {timestamp_from_epoch_us(s.ts)} AS timestamp,
           fl.file, s.line, s.bidx AS batch_index
    FROM {mg} g
    LEFT JOIN (SELECT * FROM {msg} WHERE seq IN (SELECT seq FROM {mg})) s ON s.seq = g.seq
    LEFT JOIN {files} fl ON fl.src = s.src
    ORDER BY g.step
""",
)

# --- profiles show / explain (over the output files) -------------------------------------------------------

FIND_IDENTIFIERS = Template(
    "find_identifiers",
    """
    SELECT type, value, profile_id FROM {identities}
    WHERE value IN (:values)
    ORDER BY type, value
""",
)

FIND_IDENTIFIERS_OF_TYPE = Template(
    "find_identifiers_of_type",
    """
    SELECT type, value, profile_id FROM {identities}
    WHERE value IN (:values) AND type = :type
    ORDER BY type, value
""",
)

FIND_RECORDED = Template(
    "find_recorded",
    """
    -- values of types that never join profiles (group ids) are recorded on profiles only; `wanted`
    -- holds the (type, value) pairs looked for
    SELECT w.type, w.value, p.profile_id
    FROM {profiles} p CROSS JOIN {wanted} w
    WHERE {list_contains(map_value(p.identifiers, w.type), w.value)}
""",
)

PROFILE = Template("profile", "SELECT * FROM {profiles} WHERE profile_id = :profile_id")

RECENT_EVENTS = Template(
    "recent_events",
    """
    SELECT timestamp, type, event, message_id, file, line
    FROM {events}
    WHERE profile_id = :profile_id
    ORDER BY timestamp DESC NULLS LAST, message_id DESC
    LIMIT :recent
""",
)

LINKS_OF_PROFILE = Template(
    "links_of_profile",
    """
    SELECT type, value, linked_via_type, linked_via_value, linked_message_id, linked_at, linked_file, linked_line
    FROM {identities}
    WHERE profile_id = :profile_id
    ORDER BY type, value
""",
)

MERGES_INTO_PROFILE = Template(
    "merges_into_profile",
    """
    SELECT identifiers, message_id, timestamp, file, line
    FROM {merges}
    WHERE kind = 'merge' AND final_profile_id = :profile_id
    ORDER BY step
""",
)

REFUSED_MERGES = Template(
    "refused_merges",
    """
    SELECT identifiers, limit_type, limit_value, limit_window, would_hold, dropped_type, dropped_value,
           message_id, timestamp, file, line
    FROM {merges}
    WHERE kind = 'refused'
    ORDER BY step
""",
)

IDENTIFIERS_OF_PROFILE = Template(
    "identifiers_of_profile",
    """
    SELECT type, value, profile_id FROM {identities} WHERE profile_id = :profile_id
""",
)
