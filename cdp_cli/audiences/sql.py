"""Every SQL shape of ``cdp audiences``, by name (slots ``<name>`` take SQL fragments from
:mod:`cdp_cli.traits.conditions`; every user value is a bound parameter).

Relations: ``events``, ``profiles``, ``identities`` (``cdp profiles resolve``), ``traits_in`` (the
``--traits`` file, when given). The compiled query adds the CTEs of traits (``scoped``,
``membership``, ``current_account``), ``identified`` (profiles with a user_id or email), per leaf
``cN`` (performed: events counted per profile) or ``fN`` (funnel: qualifying first steps), ``leaves``
(one row per profile, one boolean column per leaf), per account wrapper ``wN`` (per account: does any
/ every user satisfy it), then one boolean column per audience.
"""

from __future__ import annotations

from collections.abc import Callable

from cdp_cli.traits.sql import Shape

IDENTIFIED = Shape(
    "identified",
    """
    -- profiles a non-anonymous audience may hold: with a user_id or an email identifier
    SELECT DISTINCT profile_id FROM identities WHERE type IN (<types>)""",
)

PERFORMED = Shape(
    "performed",
    """
    -- <name>
    SELECT e.profile_id AS unit_id, count(*) AS n FROM scoped e WHERE <matching> GROUP BY e.profile_id""",
)

FUNNEL = Shape(
    "funnel",
    """
    -- <name>: the first steps that qualify (followed, or not followed, by the second in time)
    SELECT a.profile_id AS unit_id, count(*) AS n FROM scoped a
    WHERE <first> AND <negate> EXISTS (
        SELECT 1 FROM scoped b
        WHERE b.profile_id = a.profile_id AND <second>
          AND b.timestamp > a.timestamp AND b.timestamp <= <until>)
    GROUP BY a.profile_id""",
)

LEAVES = Shape(
    "leaves",
    """
    -- every profile, one boolean column per leaf condition
    SELECT p.profile_id<columns>
    FROM profiles p<joins>""",
)

WRAPPER = Shape(
    "wrapper",
    """
    -- <name>: per account, whether any / every user satisfies the wrapped conditions
    SELECT m.group_id,
           max(CASE WHEN <inner> THEN 1 ELSE 0 END) AS any_ok,
           min(CASE WHEN <inner> THEN 1 ELSE 0 END) AS all_ok
    FROM membership m JOIN leaves l ON l.profile_id = m.profile_id
    GROUP BY m.group_id""",
)

AUDIENCES = Shape(
    "audiences",
    """
<common>
    SELECT l.profile_id<columns>
    FROM leaves l<joins>
    WHERE <profile_filter>
    ORDER BY l.profile_id""",
)

IDENTIFIERS = Shape(
    "identifiers",
    """
    SELECT profile_id, type, value FROM identities ORDER BY profile_id, type, value""",
)

MEMBER_IDENTIFIERS = Shape(
    "member_identifiers",
    """
    -- every identifier of every member of some audience, as type:value, sorted (by type, then value)
    SELECT profile_id, <identifiers> AS identifiers
    FROM identities
    WHERE profile_id IN (SELECT profile_id FROM <members> WHERE <any>)
    GROUP BY profile_id""",
)

MEMBER_ROWS = Shape(
    "member_rows",
    """
    -- every audience's members and their identifiers, by audience number (a), then profile
    SELECT a.a, a.profile_id, COALESCE(i.identifiers, <empty_list>) AS identifiers
    FROM (<selects>) a LEFT JOIN cdp_member_identifiers i ON i.profile_id = a.profile_id
    ORDER BY a.a, a.profile_id""",
)

MATCHING_EVENTS = Shape(
    "matching_events",
    """
<common>
    -- the events of one profile that count for a condition
    SELECT e.file, e.line, e.message_id, e.timestamp, e.event FROM scoped e
    WHERE e.profile_id = <profile> AND <matching>
    ORDER BY e.timestamp, e.received_at NULLS FIRST, e.message_id NULLS FIRST, e.file, e.line
    LIMIT <limit>""",
)

FUNNEL_EVENTS = Shape(
    "funnel_events",
    """
<common>
    -- the first steps of one profile, each with the earliest second step in time (NULL when none)
    SELECT a.file, a.line, a.message_id, a.timestamp, a.event,
           (SELECT min(b.timestamp) FROM scoped b
            WHERE b.profile_id = a.profile_id AND <second>
              AND b.timestamp > a.timestamp AND b.timestamp <= <until>) AS followed_at
    FROM scoped a
    WHERE a.profile_id = <profile> AND <first>
    ORDER BY a.timestamp, a.received_at NULLS FIRST, a.message_id NULLS FIRST, a.file, a.line
    LIMIT <limit>""",
)

#: per dialect: a timestamp plus a number of hours (a bound parameter)
ADD_HOURS: dict[str, Callable[[str, str], str]] = {
    "duckdb": lambda ts, hours: f"({ts} + to_hours(CAST({hours} AS BIGINT)))",
    "spark": lambda ts, hours: f"timestampadd(HOUR, CAST({hours} AS BIGINT), {ts})",
}

#: per dialect: the aggregate of a profile's identifiers as ``type:value`` texts, sorted by type then value
SORTED_IDENTIFIERS: dict[str, str] = {
    "duckdb": "list(type || ':' || value ORDER BY type, value)",
    "spark": "transform(array_sort(collect_list(struct(type, value))), i -> i.type || ':' || i.value)",
}

#: per dialect: a JSON object of named columns (keys are SQL literals)
JSON_OBJECT: dict[str, Callable[[list[tuple[str, str]]], str]] = {
    "duckdb": lambda pairs: "CAST(json_object(" + ", ".join(f"{k}, {v}" for k, v in pairs) + ") AS VARCHAR)",
    "spark": lambda pairs: (
        "to_json(named_struct(" + ", ".join(f"{k}, {v}" for k, v in pairs) + "), map('ignoreNullFields', 'false'))"
    ),
}
