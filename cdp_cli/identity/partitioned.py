"""Pass 2 of ``cdp profiles resolve`` by components, on every core: the same result as one pass.

Profiles never span two connected components of the identifier graph that joins each message's
identifiers and both candidates of each alias (:mod:`.components`; property-tested there). So:

1. the engine finds those components and numbers every message by its position in the resolution
   order (:data:`ORDER`);
2. components go to ``parts`` partitions (by component number; messages without identifiers that
   join profiles by their own number), and the messages are written to one file sorted by
   partition, then resolution order, with their global position (one sort; each worker reads only
   the row groups of its partition);
3. each partition runs the unchanged sequential resolver (:class:`~.graph.Graph`) in a worker
   process (:func:`partition_resolver`; or, in an engine with workers of its own such as Spark's
   executors, in those: :func:`resolve_in_engine`, where only the graphs come back), with three
   things set so that it decides exactly as the single pass does: every message
   carries its global position (profiles are numbered, traits ordered and lineage steps counted by
   it), the clock a message without a timestamp takes is the single pass's (those messages come
   last in the order, after every timestamp: the largest one), and every identifier type is
   registered up front in the single pass's order (types seen first in ``context.externalIds``);
4. :func:`combine` joins the partitions' graphs into one: profiles renumbered by the position that
   created them (the single pass's creation order), identifier codes offset, merges and refusals
   renumbered by (position, step within the partition). The output files are then written from it
   exactly as from the single pass's graph.

A component is one sequential task: one giant component (a shared device merging thousands of
people, say) is resolved by one worker.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdp_cli.engine.template import Template
from cdp_cli.identity.graph import SEP, Graph, Merge, Refusal
from cdp_cli.identity.sql import RESOLUTION_KEY

ORDER = Template(
    "partition_order",
    f"""
    -- every message resolution reads, with its position in the resolution order (RESOLUTION_KEY)
    SELECT seq, row_number() OVER (ORDER BY {RESOLUTION_KEY}) - 1 AS pos
    FROM {{stage}}
    WHERE seq NOT IN (SELECT seq FROM {{dups}})
""",
)

TYPE_FIRST_SEEN = Template(
    "partition_type_first_seen",
    """
    -- each identifier type's first message in the resolution order
    SELECT split_part(k.key, :sep, 1) AS type, min(k.pos) AS pos FROM (
        SELECT o.pos, {unnest_list(s.ids)} AS key FROM {stage} s JOIN {order} o ON o.seq = s.seq
    ) k
    GROUP BY 1
""",
)

IDS_AT = Template("partition_ids_at", "SELECT s.ids FROM {stage} s JOIN {order} o ON o.seq = s.seq WHERE o.pos = :pos")

LATEST = Template("partition_latest", "SELECT max(s.ts) FROM {stage} s JOIN {order} o ON o.seq = s.seq")

PARTS = Template(
    "partition_parts",
    """
    -- the partition of every message: its component's, or its own when it has no identifier that
    -- joins profiles (it resolves to no profile wherever it goes)
    SELECT o.seq, o.pos, CAST(coalesce(c.comp, o.seq) % :parts AS INTEGER) AS part
    FROM {order} o LEFT JOIN {components} c ON c.seq = o.seq
""",
)

#: every partition's messages with their global position
_PART_ROWS = """
    SELECT p.part, p.pos, s.seq, s.ids, s.alias, s.traits, s.ts, s.kind
    FROM {stage} s JOIN {parts} p ON p.seq = s.seq"""

PART_ROWS = Template(
    "partition_rows",
    """
    -- every partition's messages, partition after partition, each in resolution order, with their
    -- global position (one sort and one file; a worker reads the row groups of its partition)"""
    + _PART_ROWS
    + """
    ORDER BY p.part, p.pos
""",
)

PART_ROWS_UNSORTED = Template(
    "partition_rows_unsorted",
    """
    -- every partition's messages with their global position (the engine groups and sorts them)"""
    + _PART_ROWS
    + "\n",
)

RESOLVED_GRAPHS = Template(
    "partition_resolved_graphs",
    """
    -- each partition's graph, pickled, in chunks (resolved in the engine's workers)
    SELECT part, seq AS chunk, graph FROM {resolved} WHERE graph IS NOT NULL ORDER BY part, chunk
""",
)

RESOLVED_ASSIGNMENTS = Template(
    "partition_resolved_assignments",
    "SELECT seq, profile, part FROM {resolved} WHERE graph IS NULL",
)


#: the relations these statements read: ``stage`` and ``dups`` as resolve registers them, and the
#: temporary tables made here and by :func:`cdp_cli.identity.components.event_components`
RELATIONS = {
    "order": "cdp_order",
    "components": "cdp_event_components",
    "parts": "cdp_parts",
    "resolved": "cdp_resolved",
}


def order(eng: Any) -> int:
    """Number the messages by their position in the resolution order (temporary table
    ``cdp_order``); the clock of a message without a timestamp (the latest timestamp, or 0)."""
    dialect = eng.dialect
    eng.execute(dialect.create_temp_table(RELATIONS["order"], ORDER.render(dialect).sql))
    (latest,) = eng.rows(LATEST.render(dialect, relations=RELATIONS))[0]
    return max(int(latest), 0) if latest is not None else 0  # the single pass's clock starts at 0


def resolve_rows(
    graph: Graph,
    cols: dict[str, list[Any]],
    type_index: Callable[[str], int | None],
    user_t: int,
    anon_t: int,
    a_seq: array,
    a_prof: array,
) -> None:
    """Feed one batch of staged rows (in resolution order; with a ``pos`` column when the graph sees
    one partition) through ``graph``, appending each message's profile to ``a_seq`` / ``a_prof``."""
    import orjson

    loads = orjson.loads
    process, code = graph.process, graph.code
    code_of, code_key = graph.code_of, graph.code_key
    positions = cols.get("pos") or [None] * len(cols["seq"])
    for s, ts, keys, prev, tr, kind, pos in zip(
        cols["seq"], cols["ts"], cols["ids"], cols["alias"], cols["traits"], cols["kind"], positions
    ):
        ids = [code_of[k] if k in code_of else code_key(k, type_index) for k in keys] if keys else []
        alias = None
        if prev is not None:
            alias = (
                code((user_t, prev)) if user_t >= 0 else -1,
                code((anon_t, prev)) if anon_t >= 0 else -1,
            )
        a_seq.append(s)
        a_prof.append(process(s, ts, ids, alias=alias, traits=loads(tr) if tr else None, kind=kind, pos=pos))


@dataclass
class Part:
    """What one partition's resolver gives back: its graph (identifiers and profiles, never a row
    per message), how many messages it resolved, and the files of their (local) profiles."""

    graph: Graph
    messages: int
    assignments: list[Path]


ASSIGN = Template(
    "partition_assign",
    """
    -- each message's profile in the joined graph's numbering (assign, as the single pass writes it)
    SELECT a.seq, coalesce(m.profile, -1) AS profile
    FROM {assigned} a LEFT JOIN {remap} m ON m.part = a.part AND m.local = a.profile
""",
)


def register_types(eng: Any, extractor: Any) -> None:
    """Register every identifier type of the staged messages with ``extractor``, in the order the
    single pass meets them (the resolution order, then the order within a message): the partitions
    then share one type numbering, the single pass's."""
    dialect = eng.dialect
    rows = eng.rows(TYPE_FIRST_SEEN.render(dialect, relations=RELATIONS, sep=SEP))
    new = sorted((pos, name) for name, pos in rows if name not in extractor.index)
    at: dict[int, list[str]] = {}
    for pos, name in new:
        at.setdefault(pos, []).append(name)
    for pos, names in sorted(at.items()):
        if len(names) > 1:  # first seen in one message: in the order its identifiers are listed
            (ids,) = eng.rows(IDS_AT.render(dialect, relations=RELATIONS, pos=pos))[0]
            listed = [k.partition(SEP)[0] for k in ids]
            names.sort(key=listed.index)
        for name in names:
            extractor.type_index(name)


def write_parts(eng: Any, directory: Path, parts: int, rows_per_group: int) -> Path:
    """Every partition's messages, in resolution order within each, as ``parts.parquet`` in
    ``directory`` (sorted by partition). The engine holds ``stage``, ``cdp_order`` and the messages'
    components (``cdp_event_components``); those per-message tables are dropped once it is written."""
    dialect = eng.dialect
    statement = PARTS.render(dialect, relations=RELATIONS, parts=parts)
    eng.execute(dialect.create_temp_table(RELATIONS["parts"], statement.sql), statement.params)
    path = directory / "parts.parquet"
    rows = PART_ROWS.render(dialect, relations=RELATIONS)
    eng.copy_parquet(rows, path, compression="lz4", row_group_size=rows_per_group)
    for name in (RELATIONS["parts"], RELATIONS["order"], RELATIONS["components"]):  # a row per message each
        eng.execute(dialect.drop_temp_table(name))
    return path


def partition_resolver(
    path: Path,
    types: list[Any],
    unrestricted: bool,
    clock: int,
    user_t: int,
    anon_t: int,
    batch_rows: int,
    assign_rows: int,
) -> Callable[[int], Part]:
    """The work of partition ``k`` of ``path`` (run in a forked worker): the sequential resolver over
    its messages, their profiles written as they go (memory follows identifiers, not messages)."""
    import pyarrow as pa

    from cdp_cli import storage
    from cdp_cli.events.reader import gc_paused

    index = {t.name: i for i, t in enumerate(types)}
    # a partition's assignments: each message, its profile in the partition's numbering, the partition
    schema = pa.schema([("seq", pa.int64()), ("profile", pa.int64()), ("part", pa.int32())])

    def type_index(name: str) -> int | None:
        return index.get(name)  # every type was registered up front (register_types)

    directory = path.parent

    def work(k: int) -> Part:
        graph = Graph(list(types), unrestricted=unrestricted)
        graph.clock = clock  # what a message without a timestamp takes in the single pass
        a_seq, a_prof = array("q"), array("q")
        files: list[Path] = []
        messages = 0

        def flush() -> None:
            if a_seq:
                out = directory / f"assign-part{k:04d}-{len(files):06d}.parquet"
                part = pa.repeat(pa.scalar(k, pa.int32()), len(a_seq))
                table = pa.Table.from_arrays([pa.array(a_seq), pa.array(a_prof), part], schema=schema)
                storage.write_table(table, out, schema=schema, compression="lz4")
                files.append(out)
                del a_seq[:], a_prof[:]

        with gc_paused():
            for batch in storage.read_batches_where(path, batch_rows, "part", k):
                resolve_rows(graph, batch.to_pydict(), type_index, user_t, anon_t, a_seq, a_prof)
                messages += batch.num_rows
                if len(a_seq) >= assign_rows:
                    flush()
        flush()
        return Part(graph, messages, files)

    return work


#: what the resolver in the engine's workers yields: per message its profile in its partition's
#: numbering (``graph`` null), then per partition its pickled graph in chunks (``seq``: chunk number)
RESOLVED_SCHEMA_FIELDS = (("seq", "int64"), ("profile", "int64"), ("part", "int32"), ("graph", "binary"))
GRAPH_CHUNK = 16 * 2**20  # bytes of pickled graph per row (one Arrow value stays far below 2 GiB)


def engine_resolver(
    types: list[Any], unrestricted: bool, clock: int, user_t: int, anon_t: int, assign_rows: int
) -> Callable[[Any], Any]:
    """The function the engine runs in its workers (:meth:`~cdp_cli.engine.base.GroupMapper.map_groups`)
    over one task's rows, sorted by partition then position: the sequential resolver per partition,
    exactly as :func:`partition_resolver` runs it in a local worker; it yields each message's profile
    as it goes and, after each partition, that partition's graph (one entry per identifier and
    profile, never a row per message)."""
    index = {t.name: i for i, t in enumerate(types)}

    def run(batches: Any) -> Any:
        import pickle

        import pyarrow as pa

        from cdp_cli.events.reader import gc_paused

        schema = _resolved_schema()

        def assigned(k: int, a_seq: array, a_prof: array) -> Any:
            n = len(a_seq)
            return pa.RecordBatch.from_arrays(
                [
                    pa.array(a_seq, pa.int64()),
                    pa.array(a_prof, pa.int64()),
                    pa.repeat(pa.scalar(k, pa.int32()), n),
                    pa.nulls(n, pa.binary()),
                ],
                schema=schema,
            )

        def finished(k: int, graph: Graph, messages: int) -> Any:
            # one batch per chunk: a graph pickled past 2 GiB fits no single Arrow binary array
            blob = pickle.dumps((graph, messages), protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(blob)
            for n, at in enumerate(range(0, max(len(blob), 1), GRAPH_CHUNK)):
                yield pa.RecordBatch.from_arrays(
                    [
                        pa.array([n], pa.int64()),
                        pa.nulls(1, pa.int64()),
                        pa.array([k], pa.int32()),
                        pa.array([bytes(view[at : at + GRAPH_CHUNK])], pa.binary()),
                    ],
                    schema=schema,
                )
            del view, blob

        current: int | None = None
        graph: Graph | None = None
        messages = 0
        a_seq, a_prof = array("q"), array("q")
        with gc_paused():
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                part = batch.column(batch.schema.get_field_index("part")).to_pylist()
                start = 0
                while start < len(part):  # runs of one partition (the rows are sorted by it)
                    k = part[start]
                    end = start
                    while end < len(part) and part[end] == k:
                        end += 1
                    if k != current:
                        if current is not None and graph is not None:
                            if a_seq:
                                yield assigned(current, a_seq, a_prof)
                                del a_seq[:], a_prof[:]
                            yield from finished(current, graph, messages)
                        graph = Graph(list(types), unrestricted=unrestricted)
                        graph.clock = clock  # what a message without a timestamp takes in the single pass
                        current, messages = k, 0
                    assert graph is not None
                    rows = batch.slice(start, end - start).to_pydict()
                    resolve_rows(graph, rows, index.get, user_t, anon_t, a_seq, a_prof)
                    messages += end - start
                    if len(a_seq) >= assign_rows:
                        yield assigned(k, a_seq, a_prof)
                        del a_seq[:], a_prof[:]
                    start = end
            if current is not None and graph is not None:
                if a_seq:
                    yield assigned(current, a_seq, a_prof)
                yield from finished(current, graph, messages)

    return run


def resolve_in_engine(
    eng: Any,
    directory: Path,
    tasks: int,
    types: list[Any],
    unrestricted: bool,
    clock: int,
    user_t: int,
    anon_t: int,
    assign_rows: int,
) -> list[Part]:
    """Steps 2 and 3 in an engine with :data:`~cdp_cli.engine.base.MAP_GROUPS` (Spark): the
    partitions are resolved in the engine's workers, their messages' profiles stay in the engine
    (``cdp_resolved``, under ``directory``) and only the partitions' graphs come back, one
    :class:`Part` per partition number (``tasks`` of them) in order."""
    import pickle

    dialect = eng.dialect
    statement = PARTS.render(dialect, relations=RELATIONS, parts=tasks)
    eng.execute(dialect.create_temp_table(RELATIONS["parts"], statement.sql), statement.params)
    path = directory / "resolved"
    eng.map_groups(
        PART_ROWS_UNSORTED.render(dialect, relations=RELATIONS),
        key="part",
        order=["pos"],
        tasks=tasks,
        fn=engine_resolver(types, unrestricted, clock, user_t, anon_t, assign_rows),
        schema=_resolved_schema(),
        path=path,
    )
    for name in (RELATIONS["parts"], RELATIONS["order"], RELATIONS["components"]):  # a row per message each
        eng.execute(dialect.drop_temp_table(name))
    eng.register_parquet(RELATIONS["resolved"], str(path))
    blobs: dict[int, list[bytes]] = {}
    for batch in eng.batches(RESOLVED_GRAPHS.render(dialect, relations=RELATIONS)):
        cols = batch.to_pydict()
        for k, blob in zip(cols["part"], cols["graph"], strict=True):
            blobs.setdefault(k, []).append(blob)
    parts = []
    for k in range(tasks):
        chunks = blobs.pop(k, None)
        if chunks is None:  # no message in this partition
            parts.append(Part(Graph(list(types), unrestricted=unrestricted), 0, []))
            continue
        graph, messages = pickle.loads(b"".join(chunks))
        graph.types = types  # one list of types, shared with the extractor (as a local worker's is)
        parts.append(Part(graph, messages, []))
    return parts


def _resolved_schema() -> Any:
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, t)()) for name, t in RESOLVED_SCHEMA_FIELDS])


def register_assignments(eng: Any, files: list[Path] | None, remap: list[array]) -> None:
    """``assign`` (each message's profile in the joined graph's numbering) for the output queries:
    the partitions' files (None: the engine's ``cdp_resolved``, from :func:`resolve_in_engine`),
    renumbered through ``remap`` (partition, local profile -> profile)."""
    import pyarrow as pa

    part = [k for k, r in enumerate(remap) for _ in range(len(r))]
    local = [p for r in remap for p in range(len(r))]
    glob = [p for r in remap for p in r]
    eng.register_arrow(
        "cdp_profile_remap",
        pa.table(
            {
                "part": pa.array(part, pa.int32()),
                "local": pa.array(local, pa.int64()),
                "profile": pa.array(glob, pa.int64()),
            }
        ),
    )
    if files is None:
        eng.create_view("cdp_assigned", RESOLVED_ASSIGNMENTS.render(eng.dialect, relations=RELATIONS))
    else:
        eng.register_parquet("cdp_assigned", [str(f) for f in files])
    relations = {"assigned": "cdp_assigned", "remap": "cdp_profile_remap"}
    eng.create_view("assign", ASSIGN.render(eng.dialect, relations=relations))


def combine(parts: list[Part], types: list[Any], unrestricted: bool) -> tuple[Graph, list[array]]:
    """One graph from the partitions' graphs, numbered as the single pass numbers its own; and, per
    partition, its profiles' numbers in that graph (:func:`register_assignments`). The partitions'
    graphs are emptied as they are read (the joined graph shares their strings and trait values):
    memory peaks near one graph, not two."""
    g = Graph(types, unrestricted=unrestricted)
    graphs = [p.graph for p in parts]
    # identifiers: one code per identifier. Only identifiers that never join profiles (group ids,
    # alias candidates never picked) can be in several partitions; they are on no profile's list
    # of owned identifiers, so their per-identifier counts are never read.
    codes: list[array] = []
    for pg in graphs:
        cmap = array("q", bytes(8 * len(pg.keys)))
        for name, c in pg.code_of.items():
            known = g.code_of.get(name)
            if known is not None:
                if pg.owner[c] >= 0 and g.owner[known] >= 0:
                    raise AssertionError(f"identifier {c} is on a profile in two partitions")
                cmap[c] = known
                continue
            cmap[c] = g.code_of[name] = len(g.keys)
            g.keys.append(pg.keys[c])
            g.owner.append(pg.owner[c])  # a local profile number until the profiles are renumbered
            g.first.append(pg.first[c])
            g.last.append(pg.last[c])
            g.seen.append(pg.seen[c])
            g.attach_seq.append(pg.attach_seq[c])
            g.via.append(pg.via[c])  # a local code until every partition's codes are known
        codes.append(cmap)
        pg.code_of = {}
    # profiles: renumbered in the order they were created (each message creates at most one)
    created = sorted((pos, k, p) for k, pg in enumerate(graphs) for p, pos in enumerate(pg.created_pos))
    remap = [array("q", bytes(8 * len(pg.parent))) for pg in graphs]
    for new, (_, k, p) in enumerate(created):
        remap[k][p] = new
    for _, k, p in created:
        pg, rk, ck = graphs[k], remap[k], codes[k]
        g.parent.append(rk[pg.parent[p]])
        g.created_pos.append(pg.created_pos[p])
        g.p_first.append(pg.p_first[p])
        g.p_last.append(pg.p_last[p])
        g.p_events.append(pg.p_events[p])
        for mine, theirs in zip(g.p_kinds, pg.p_kinds, strict=True):
            mine.append(theirs[p])
        members = pg.members[p]
        g.members.append(None if members is None else {t: [ck[c] for c in lst] for t, lst in members.items()})
        g.traits.append(pg.traits[p])
        g.merged_count.append(pg.merged_count[p])
        g.pids.append(pg.pids[p])
    for pg in graphs:
        pg.members, pg.traits, pg.pids = [], [], []
    for k, pg in enumerate(graphs):  # owners and links, in the global numbers
        rk, ck = remap[k], codes[k]
        for c in range(len(pg.keys)):
            o = pg.owner[c]
            if o >= 0:  # the one partition where it joins a profile: its counts are those
                gc = ck[c]
                g.owner[gc] = rk[o]
                v = pg.via[c]
                g.via[gc] = ck[v] if v >= 0 else -1
                g.first[gc], g.last[gc], g.seen[gc] = pg.first[c], pg.last[c], pg.seen[c]
                g.attach_seq[gc] = pg.attach_seq[c]
        pg.keys = []
        for name in ("owner", "first", "last", "seen", "attach_seq", "via"):
            setattr(pg, name, array("q"))
    # lineage: merges and refusals in the order they happened (position, then step in the partition)
    events = sorted(
        [(m.pos, m.step, k, m) for k, pg in enumerate(graphs) for m in pg.merges]
        + [(r.pos, r.step, k, r) for k, pg in enumerate(graphs) for r in pg.refusals],
        key=lambda e: (e[0], e[1]),
    )
    for step, (_, _, k, e) in enumerate(events, start=1):
        rk, ck = remap[k], codes[k]
        if isinstance(e, Merge):
            g.merges.append(Merge(step, e.pos, e.seq, rk[e.survivor], rk[e.absorbed], tuple(ck[c] for c in e.codes)))
        else:
            assert isinstance(e, Refusal)
            g.refusals.append(
                Refusal(
                    step,
                    e.pos,
                    e.seq,
                    e.type_index,
                    e.would_hold,
                    ck[e.dropped],
                    tuple(rk[p] for p in e.profiles),
                    tuple(ck[c] for c in e.codes),
                )
            )
    del events
    for pg in graphs:
        pg.merges, pg.refusals = [], []
    g.steps = len(g.merges) + len(g.refusals)
    g.pos = max((pg.pos for pg in graphs), default=0)
    g.clock = max((pg.clock for pg in graphs), default=0)
    g.events_without_profile = sum(pg.events_without_profile for pg in graphs)

    return g, remap
