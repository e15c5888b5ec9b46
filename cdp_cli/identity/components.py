"""Connected components of a graph, found by the engine in a few rounds of SQL (no Python per node).

The first piece of resolution by components (issue: past one machine): Segment-style profiles never
span two connected components of the identifier graph that also links both candidates of every
alias, so events can be partitioned by component and each partition resolved on its own, on every
core or every Spark executor. This module finds those components in bulk.

The algorithm is large-star / small-star (Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii,
"Connected Components in MapReduce and Beyond", SoCC 2014): edges are kept as ``(a, b)`` with
``a > b``, and two joins alternate until the edge set stops changing:

* **large-star**: every node's larger neighbours are linked to the smallest node of its closed
  neighbourhood;
* **small-star**: every node and its smaller neighbours are linked to the smallest of them.

Both keep the components; at the fixed point every component is a star around its smallest node.
It converges in O(log² n) rounds on any shape (about 12 on a 2,500-node chain, where label
propagation needs a round per hop: thousands). Each round is two plain joins and GROUP BYs, so the
same SQL runs on DuckDB here and, through the engine boundary, on Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cdp_cli.engine.template import Template
from cdp_cli.errors import EngineError

#: more rounds than this means a bug (a million-node chain needs about 400), not a hard graph
MAX_ROUNDS = 1_000

CANONICAL = Template(
    "components_canonical",
    """
    -- the graph's edges as (larger, smaller) node, once each; self-loops and NULLs dropped
    SELECT DISTINCT greatest(a, b) AS a, least(a, b) AS b FROM {edges}
    WHERE a IS NOT NULL AND b IS NOT NULL AND a <> b
""",
)

NODES = Template(
    "components_nodes",
    """
    -- every node of the graph (a node seen only in a self-loop is a component of its own)
    SELECT a AS node FROM {edges} WHERE a IS NOT NULL
    UNION
    SELECT b FROM {edges} WHERE b IS NOT NULL
""",
)

LARGE_STAR = Template(
    "components_large_star",
    """
    -- large-star: each edge (a, b), a > b, becomes (a, m), m the smallest node of b's closed
    -- neighbourhood (b's neighbours above it are all larger than b: only its smaller ones count)
    SELECT DISTINCT e.a, coalesce(m.m, e.b) AS b
    FROM {current} e
    LEFT JOIN (SELECT a AS u, min(b) AS m FROM {current} GROUP BY a) m ON m.u = e.b
""",
)

SMALL_STAR = Template(
    "components_small_star",
    """
    -- small-star: each node u with smaller neighbours, m the smallest of them: u and every other
    -- smaller neighbour are linked to m instead
    SELECT DISTINCT x AS a, y AS b FROM (
        SELECT e.b AS x, m.m AS y
        FROM {current} e JOIN (SELECT a AS u, min(b) AS m FROM {current} GROUP BY a) m ON m.u = e.a
        WHERE e.b <> m.m
        UNION ALL
        SELECT a, min(b) FROM {current} GROUP BY a
    ) s
""",
)

CHANGED = Template(
    "components_changed",
    """
    -- whether a round changed the edge set (both sides are sets: equal size and one inside the other)
    SELECT (SELECT count(*) FROM {current}) <> (SELECT count(*) FROM {previous})
        OR EXISTS (SELECT a, b FROM {current} EXCEPT SELECT a, b FROM {previous})
""",
)

LABELS = Template(
    "components_labels",
    """
    -- at the fixed point every component is a star around its smallest node: a node's label is
    -- its edge's smaller end, or itself (the centre, or a node without edges)
    SELECT n.node, coalesce(s.b, n.node) AS comp
    FROM {nodes} n LEFT JOIN {star} s ON s.a = n.node
""",
)


# --- the identifier graph of staged messages --------------------------------------------------------

EVENT_KEYS = Template(
    "components_event_keys",
    """
    -- the identifiers of every message resolution reads (duplicates dropped) that can join profiles
    -- (types with match: false are recorded, never joining) and, for an alias, both identifiers its
    -- previousId may become (a user id when one is known, else an anonymous id: which one depends
    -- on time, so the partitioning graph holds both). Keys are "type name<SEP>value", as staged.
    SELECT seq, key FROM (
        SELECT s.seq, {unnest_list(s.ids)} AS key FROM {stage} s
        WHERE s.seq NOT IN (SELECT seq FROM {dups})
    ) k
    WHERE split_part(key, :sep, 1) NOT IN (:recorded)
    UNION ALL
    SELECT s.seq, :user_id_type || :sep || s.alias FROM {stage} s
    WHERE s.alias IS NOT NULL AND s.seq NOT IN (SELECT seq FROM {dups}) AND :user_id_type NOT IN (:recorded)
    UNION ALL
    SELECT s.seq, :anonymous_id_type || :sep || s.alias FROM {stage} s
    WHERE s.alias IS NOT NULL AND s.seq NOT IN (SELECT seq FROM {dups}) AND :anonymous_id_type NOT IN (:recorded)
""",
)

KEY_NODES = Template(
    "components_key_nodes",
    """
    -- one integer node per distinct identifier key
    SELECT key, row_number() OVER (ORDER BY key) AS node FROM (SELECT DISTINCT key FROM {event_keys}) d
""",
)

EVENT_EDGES = Template(
    "components_event_edges",
    """
    -- a message joins all its identifiers: an edge from its smallest node to each of them
    SELECT min(n.node) OVER (PARTITION BY k.seq) AS a, n.node AS b
    FROM {event_keys} k JOIN {key_nodes} n ON n.key = k.key
""",
)

EVENT_COMPONENTS = Template(
    "components_of_events",
    """
    -- each message with identifiers that join profiles, and its component
    SELECT k.seq, min(c.comp) AS comp
    FROM {event_keys} k JOIN {key_nodes} n ON n.key = k.key JOIN {components} c ON c.node = n.node
    GROUP BY k.seq
""",
)


@dataclass(frozen=True)
class Components:
    """The result of :func:`find_components`: ``table`` (a temporary relation of ``node`` and
    ``comp``, the smallest node of its component), how many ``nodes`` and ``components`` it holds,
    and the ``rounds`` the algorithm took."""

    table: str
    nodes: int
    components: int
    rounds: int


def event_components(
    engine: Any,
    stage: str,
    dups: str,
    recorded: list[str],
    *,
    table: str = "cdp_event_components",
    sep: str = "\x1f",
    user_id_type: str = "user_id",
    anonymous_id_type: str = "anonymous_id",
) -> Components:
    """The component of every staged message that has identifiers joining profiles, into the
    temporary table ``table`` (``seq``, ``comp``): ``stage`` is the relation of staged messages
    (:func:`cdp_cli.schemas.stage`), ``dups`` the ``seq`` of the duplicates resolution drops,
    ``recorded`` the identifier types that never join profiles (``match: false``). Messages in
    different components never share a profile, whatever the limits: each component can be
    resolved on its own. Returns the components of the identifier graph (``nodes``: identifiers)."""
    dialect = engine.dialect
    keys, nodes, edges = f"{table}_keys", f"{table}_nodes", f"{table}_edges"
    values = {
        "sep": sep,
        "recorded": list(recorded) or [""],  # IN () is not SQL; no type is named ""
        "user_id_type": user_id_type,
        "anonymous_id_type": anonymous_id_type,
    }
    st = EVENT_KEYS.render(dialect, relations={"stage": stage, "dups": dups}, **values)
    engine.execute(dialect.create_temp_table(keys, st.sql), st.params)
    st = KEY_NODES.render(dialect, relations={"event_keys": keys})
    engine.execute(dialect.create_temp_table(nodes, st.sql), st.params)
    st = EVENT_EDGES.render(dialect, relations={"event_keys": keys, "key_nodes": nodes})
    engine.execute(dialect.create_temp_table(edges, st.sql), st.params)
    found = find_components(engine, edges, table=f"{table}_labels")
    st = EVENT_COMPONENTS.render(dialect, relations={"event_keys": keys, "key_nodes": nodes, "components": found.table})
    engine.execute(dialect.create_temp_table(table, st.sql), st.params)
    for name in (keys, nodes, edges, found.table):
        engine.execute(dialect.drop_temp_table(name))
    return Components(table, found.nodes, found.components, found.rounds)


def find_components(engine: Any, edges: str, *, table: str = "cdp_components") -> Components:
    """Label every node of the undirected graph in relation ``edges`` (integer columns ``a`` and
    ``b``; any order, duplicates and self-loops allowed, NULLs ignored) with the smallest node of
    its connected component, into the temporary table ``table`` (``node``, ``comp``)."""
    dialect = engine.dialect
    names = [f"{table}_e0", f"{table}_e1", f"{table}_e2", f"{table}_nodes"]

    def create(name: str, template: Template, **relations: str) -> None:
        statement = template.render(dialect, relations=relations)
        engine.execute(dialect.create_temp_table(name, statement.sql), statement.params)

    create(names[3], NODES, edges=edges)
    create(names[0], CANONICAL, edges=edges)
    current, rounds = names[0], 0
    while True:
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise EngineError(f"connected components did not converge in {MAX_ROUNDS} rounds")
        large, small = (n for n in names[:3] if n != current)
        create(large, LARGE_STAR, current=current)
        create(small, SMALL_STAR, current=large)
        changed = engine.rows(CHANGED.render(dialect, relations={"current": small, "previous": current}))[0][0]
        current = small
        if not changed:
            break
    create(table, LABELS, nodes=names[3], star=current)
    nodes, components = engine.rows(f"SELECT count(*), count(DISTINCT comp) FROM {dialect.quote_ident(table)}")[0]
    for name in names:
        engine.execute(dialect.drop_temp_table(name))
    return Components(table, int(nodes), int(components), rounds)
