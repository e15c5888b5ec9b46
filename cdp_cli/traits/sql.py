"""Every SQL statement of ``cdp traits``, by name.

Two kinds, both readable SQL:

- :class:`~cdp_cli.engine.template.Template` s (as in :mod:`cdp_cli.identity.sql`): ``{relation}`` a
  relation quoted by the dialect, ``{function(expr)}`` a dialect function, ``:name`` a bound value.
- :class:`Shape` s: the skeleton of one trait's SELECT, with ``<slots>`` filled by the compiler with
  SQL fragments from :mod:`cdp_cli.traits.conditions` (which bind every user value as a parameter;
  nothing a user wrote is ever pasted in, except the query of an ``sql`` trait, which is the user's
  own SQL by design).

Relations: ``events``, ``profiles``, ``identities`` (the files of ``cdp profiles resolve``); the
compiled query adds CTEs ``scoped`` (events of a profile, with a timestamp, at or before as_of),
``membership`` (profile -> every group_id its events carry), ``current_account`` (profile -> the
group_id of its latest event carrying one), ``user_events`` / ``account_events`` (scoped events with
the unit they count for, ``unit_id``: the profile, or the account), and per trait ``tN_events`` and
``tN``.
"""

from __future__ import annotations

import re

from cdp_cli.engine.template import Template


class Shape:
    """A SQL skeleton whose ``<name>`` slots take SQL fragments (never user values)."""

    __slots__ = ("name", "text", "slots")

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.slots = frozenset(re.findall(r"<([a-z_]+)>", text))

    def fill(self, **fragments: str) -> str:
        if set(fragments) != self.slots:
            raise TypeError(f"SQL shape {self.name}: slots {sorted(self.slots)}, given {sorted(fragments)}")
        return re.sub(r"<([a-z_]+)>", lambda m: fragments[m.group(1)], self.text)

    def __repr__(self) -> str:
        return f"<Shape {self.name}>"


# --- the common CTEs ----------------------------------------------------------------------------------

LATEST_TIMESTAMP = Template(
    "latest_timestamp",
    """
    -- the default as_of: the latest effective timestamp of the events
    SELECT max(timestamp) FROM {events}
""",
)

SCOPED = Shape(
    "scoped",
    """
    -- events that can count: of a profile, with a timestamp, not after as_of
    SELECT e.profile_id, e.group_id, e.type, e.event, e.timestamp, e.received_at, e.message_id, e.file, e.line,
           e.batch_index, e.properties
    FROM events e WHERE e.profile_id IS NOT NULL AND <in_time>""",
)

USER_EVENTS = Shape("user_events", "SELECT e.profile_id AS unit_id, e.* FROM scoped e")

MEMBERSHIP = Shape(
    "membership",
    """
    -- a profile belongs to every account (group_id) its events carry
    SELECT DISTINCT profile_id, group_id FROM scoped WHERE group_id IS NOT NULL""",
)

CURRENT_ACCOUNT = Shape(
    "current_account",
    """
    -- a profile's account traits are those of its current account: the group_id of its latest event
    -- carrying one (timestamp, received_at, message_id, file, line, batch_index)
    SELECT profile_id, group_id FROM (
        SELECT profile_id, group_id,
               row_number() OVER (PARTITION BY profile_id
                                  ORDER BY timestamp DESC, received_at DESC NULLS LAST, message_id DESC NULLS LAST,
                                           file DESC NULLS LAST, line DESC NULLS LAST,
                                           batch_index DESC NULLS LAST) AS rank
        FROM scoped WHERE group_id IS NOT NULL) latest
    WHERE rank = 1""",
)

ACCOUNT_EVENTS = Shape(
    "account_events",
    """
    -- all events of all users of an account, once per account each user belongs to
    SELECT m.group_id AS unit_id, e.* FROM scoped e JOIN membership m ON m.profile_id = e.profile_id""",
)

# --- one trait ----------------------------------------------------------------------------------------

TRAIT_EVENTS = Shape(
    "trait_events",
    """
    -- <name>: the events that count, with the property's value (scalar text, number, presence)
    SELECT e.unit_id, e.timestamp, e.received_at, e.message_id, e.file, e.line, e.batch_index,
           <scalar> AS v, <number> AS n, <present> AS has
    FROM <source> e
    WHERE <matching>""",
)

COUNTER = Shape("counter", "SELECT unit_id, count(*) AS value FROM <events> GROUP BY unit_id")

AGGREGATION = Shape(
    "aggregation",
    """SELECT unit_id, CAST(<function>(n) AS DOUBLE) AS value FROM <events> WHERE n IS NOT NULL GROUP BY unit_id""",
)

MOST_FREQUENT = Shape(
    "most_frequent",
    """
    SELECT unit_id, v AS value FROM (
        SELECT unit_id, v, row_number() OVER (PARTITION BY unit_id ORDER BY count(*) DESC, v ASC) AS rank
        FROM <events> WHERE v IS NOT NULL
        GROUP BY unit_id, v
        HAVING count(*) >= <min_frequency>) ranked
    WHERE rank = 1""",
)

FIRST = Shape(
    "first",
    """
    SELECT unit_id, v AS value FROM (
        SELECT unit_id, v,
               row_number() OVER (PARTITION BY unit_id
                                  ORDER BY timestamp ASC, received_at ASC NULLS FIRST, message_id ASC NULLS FIRST,
                                           file ASC NULLS FIRST, line ASC NULLS FIRST,
                                           batch_index ASC NULLS FIRST) AS rank
        FROM <events> WHERE v IS NOT NULL) ordered
    WHERE rank = 1""",
)

LAST = Shape(
    "last",
    """
    SELECT unit_id, v AS value FROM (
        SELECT unit_id, v,
               row_number() OVER (PARTITION BY unit_id
                                  ORDER BY timestamp DESC, received_at DESC NULLS LAST, message_id DESC NULLS LAST,
                                           file DESC NULLS LAST, line DESC NULLS LAST,
                                           batch_index DESC NULLS LAST) AS rank
        FROM <events> WHERE v IS NOT NULL) ordered
    WHERE rank = 1""",
)

UNIQUE_LIST = Shape(
    "unique_list",
    "SELECT unit_id, <distinct_sorted> AS value FROM <events> WHERE v IS NOT NULL GROUP BY unit_id",
)

UNIQUE_LIST_COUNT = Shape(
    "unique_list_count",
    "SELECT unit_id, count(DISTINCT v) AS value FROM <events> WHERE v IS NOT NULL GROUP BY unit_id",
)

# --- the user traits of the simple types, in one pass ---------------------------------------------------

FACTS = Shape(
    "facts",
    """
    -- every scoped event of a kind some definition selects, read once: per definition whether it
    -- counts (mN) and, only when it does, the property's value (vN scalar text, nN number, hasN
    -- presence); the properties are parsed once per event (jl: the values at every path read; per
    -- path xI its text and yI its JSON type); only the flags, values and order key are kept
    SELECT e.unit_id, e.k<flags><values>
    FROM (
        SELECT e.*<matches>
        FROM (
            SELECT e.unit_id, e.type, e.event, e.timestamp, e.k<paths>
            FROM (
                SELECT e.unit_id, e.type, e.event, e.timestamp, <key> AS k, <extract> AS jl
                FROM <source> e
                WHERE <kinds>) e) e) e""",
)

FACT_MATCH = Shape(
    "fact_match",
    ",\n                   CASE WHEN <selection> THEN COALESCE(<conditions>, FALSE) ELSE FALSE END AS <m>",
)

FACT_VALUES = Shape(
    "fact_values",
    """,
           CASE WHEN e.<m> THEN <scalar> END AS <v>, CASE WHEN e.<m> THEN <number> END AS <n>,
           CASE WHEN e.<m> THEN <present> END AS <has>""",
)

AGGREGATES = Shape("aggregates", "\n    SELECT unit_id<columns>\n    FROM <facts> GROUP BY unit_id")

AGG_COUNTER = Shape("agg_counter", "count(*) FILTER (WHERE <m>)")

AGG_AGGREGATION = Shape(
    "agg_aggregation",
    "CASE WHEN count(*) FILTER (WHERE <m> AND <n> IS NOT NULL) > 0 "
    "THEN CAST(<function>(<n>) FILTER (WHERE <m> AND <n> IS NOT NULL) AS DOUBLE) END",
)

# first/last: ordered by (timestamp, received_at, message_id, file, line, batch_index), missing ones first
AGG_FIRST = Shape("agg_first", "<by>(<v>, k) FILTER (WHERE <m> AND <v> IS NOT NULL)")

AGG_LAST = Shape("agg_last", "<by>(<v>, k) FILTER (WHERE <m> AND <v> IS NOT NULL)")

AGG_UNIQUE_LIST = Shape(
    "agg_unique_list",
    "CASE WHEN count(*) FILTER (WHERE <m> AND <v> IS NOT NULL) > 0 THEN <distinct_sorted> END",
)

AGG_UNIQUE_LIST_COUNT = Shape("agg_unique_list_count", "count(DISTINCT <v>) FILTER (WHERE <m> AND <v> IS NOT NULL)")


NON_NUMERIC_COUNT = Shape("non_numeric_count", "count(*) FILTER (WHERE <m> AND <has> AND <n> IS NULL) AS <c>")

NON_NUMERIC_ROW = Shape(
    "non_numeric_row", "SELECT <name> AS trait, CAST(COALESCE(sum(<c>), 0) AS BIGINT) AS n FROM <source>"
)

# most_frequent in one pass: the values of the events that count, from the facts
FROM_FACTS = Shape("from_facts", "SELECT unit_id, <v> AS v FROM <facts> WHERE <m>")

SQL_TRAIT = Shape(
    "sql_trait",
    """
    -- <name>: the user's query
    SELECT * FROM (
<query>
    ) q""",
)

NON_NUMERIC = Shape(
    "non_numeric",
    "SELECT <name> AS trait, count(*) AS n FROM <events> WHERE has AND n IS NULL",
)

# --- the query ----------------------------------------------------------------------------------------

TRAITS = Shape(
    "traits",
    """
<common>
    SELECT p.profile_id<columns>
    FROM profiles p<joins>
    WHERE <profile_filter>
    ORDER BY p.profile_id""",
)

EXPLAIN_EVENTS = Shape(
    "explain_events",
    """
<common>
    -- <name>: every event of the right kind, and which test it passes
    SELECT e.profile_id, e.file, e.line, e.message_id, e.timestamp, e.received_at,
           <in_time> AS in_time, <in_window> AS in_window<conditions>,
           <scalar> AS v, <number> AS n, <present> AS has
    FROM events e
    WHERE <selection> AND <units>
    ORDER BY e.timestamp NULLS LAST, e.received_at NULLS FIRST, e.message_id NULLS FIRST, e.file, e.line
    LIMIT <limit>""",
)

# --- sql traits: checked before the run ---------------------------------------------------------------

SQL_COLUMNS = Shape("sql_columns", "SELECT * FROM (\n<query>\n) q LIMIT 0")

SQL_DUPLICATES = Shape(
    "sql_duplicates",
    "SELECT profile_id, count(*) FROM (\n<query>\n) q GROUP BY profile_id HAVING count(*) > 1 LIMIT 1",
)

# --- distributions (over the written traits) ----------------------------------------------------------

PROFILE_COUNT = Template("profile_count", "SELECT count(*) FROM {traits_out}")

NUMBER_STATS = Shape(
    "number_stats",
    "count(<col>), min(<col>), max(<col>), avg(CAST(<col> AS DOUBLE))",
)

TOP_VALUES = Shape(
    "top_values",
    """
    SELECT <col> AS v, count(*) AS n FROM traits_out WHERE <col> IS NOT NULL
    GROUP BY 1 ORDER BY n DESC, v ASC LIMIT 3""",
)

LIST_STATS = Shape(
    "list_stats",
    "count(<col>), min(<length>), max(<length>), avg(<length>)",
)

TEXT_COUNT = Shape("text_count", "count(<col>)")

SAMPLE = Shape("sample", "SELECT * FROM traits_out ORDER BY profile_id LIMIT <limit>")

# --- explain: one profile's events, materialised once ---------------------------------------------

EXPLAIN_UNITS = Template(
    "explain_units",
    """
    -- explain: a profile and every user sharing an account (a group_id) with it
    SELECT DISTINCT profile_id FROM {events}
    WHERE group_id IN (SELECT group_id FROM {events} WHERE profile_id = :profile_id AND group_id IS NOT NULL)
    UNION SELECT :profile_id
    ORDER BY 1
""",
)

EXPLAIN_SCOPE = Template(
    "explain_scope",
    """
    -- explain: every event of those profiles (all an explanation of one profile can look at)
    SELECT * FROM {events} WHERE profile_id IN (:profile_ids)
""",
)

EXPLAIN_SCOPED_EVENTS = Template("explain_scoped_events", "SELECT * FROM {explain_events_scope}")
