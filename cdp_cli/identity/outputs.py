"""Pass 3 of ``cdp profiles resolve``: the output files and ``manifest.json``.

``events.parquet``, ``identities.parquet`` and ``merges.parquet`` are queries the engine copies to
Parquet (their SQL: :mod:`cdp_cli.identity.sql`); ``profiles.parquet`` is built from the identity graph
and written through :mod:`cdp_cli.storage`. Every file has the schema :mod:`cdp_cli.schemas` declares
(checked as it is written), and ``manifest.json`` records that declaration's version.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdp_cli import schemas, storage
from cdp_cli.engine.template import Template
from cdp_cli.identity import sql
from cdp_cli.identity.graph import KINDS, Graph

if TYPE_CHECKING:  # pragma: no cover
    from cdp_cli.engine import Engine
    from cdp_cli.identity.config import IdentityConfig
    from cdp_cli.identity.resolve import ResolveResult

MARKER = "manifest.json"  # written last; an existing --out directory is replaced only if it holds one
FILES = tuple(schemas.OUTPUTS)  # profiles, identities, events, merges


def _ts_array(pa, values: list[int]):
    return pa.array(values, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _copy(eng: Engine, template: Template, path: Path, **options: Any) -> None:
    """An output query copied to Parquet, checked against its declared schema."""
    declared = schemas.OUTPUTS[path.name]()
    eng.copy_parquet(template.render(eng.dialect), path, schema=declared, **options)
    storage.check_schema(path, declared)


EVENTS_ROW_GROUP = 50_000
#: events.parquet is sorted in one query while the staged messages (uncompressed) are at most this
#: share of the engine's memory; past it, in buckets of at most BUCKET_SHARE of it. DuckDB's sort of
#: these wide rows fails ("failed to pin block") below ~0.6 of their size (1M messages: 548 MB
#: staged, sorted in 400MB but not in 300MB), so a 5M-message log failed at the default 512MB.
SINGLE_SORT_SHARE = 0.8
BUCKET_SHARE = 0.2


def staged_bytes(stage_dir: Path) -> int:
    """The uncompressed size of the staged messages, from their Parquet footers (nothing is read)."""
    import pyarrow.parquet as pq

    total = 0
    for f in stage_dir.glob("stage-*.parquet"):
        meta = pq.ParquetFile(f).metadata
        total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return total


def _events_output(eng: Engine, path: Path, staged: int, memory_bytes: int | None) -> None:
    """events.parquet: one sorted copy when it fits the engine's memory; otherwise cut into buckets
    (ranges of the file's order), each sorted on its own and appended: the same rows in the same
    order, with memory bounded whatever the log's size. Engines that cannot stream a result (Spark)
    sort in one query: their sort spills on its own."""
    from cdp_cli.engine.base import STREAM

    if memory_bytes is None or staged <= SINGLE_SORT_SHARE * memory_bytes or STREAM not in eng.capabilities:
        _copy(eng, sql.EVENTS_OUTPUT, path, row_group_size=EVENTS_ROW_GROUP)
        return
    import math

    import pyarrow as pa
    import pyarrow.compute as pc

    dialect = eng.dialect
    buckets = max(2, math.ceil(staged / (BUCKET_SHARE * memory_bytes)))
    counts = eng.rows(sql.EVENTS_PROFILE_COUNTS.render(dialect))
    total = sum(n for _, n in counts)
    per_bucket = max(1, math.ceil(total / buckets))
    # profiles in the file's order (profile ids sort as bytes in SQL): consecutive ranges of about
    # per_bucket messages; a profile is never split
    named = sorted(((pid, n) for pid, n in counts if pid is not None), key=lambda r: r[0].encode())
    bucket_of: list[int] = []
    k = filled = 0
    for _, n in named:
        if filled >= per_bucket:
            k, filled = k + 1, 0
        bucket_of.append(k)
        filled += n
    nulls = (k + 1) if named else 0  # the first bucket of the messages without a profile
    unprofiled = sum(n for pid, n in counts if pid is None)
    cuts = min(buckets, math.ceil(unprofiled / per_bucket)) - 1 if unprofiled else 0
    bounds: list[int] = []
    if cuts > 0:
        qs = [(i + 1) / (cuts + 1) for i in range(cuts)]
        (found,) = eng.rows(sql.EVENTS_WITHOUT_PROFILE_TS.render(dialect, quantiles=qs))[0]
        bounds = sorted(set(found or []))
    cuts = len(bounds)
    eng.register_arrow(
        "cdp_event_buckets",
        pa.table(
            {
                "profile_id": pa.array([pid for pid, _ in named], pa.string()),
                "bucket": pa.array(bucket_of, pa.int32()),
            }
        ),
    )
    relations = {"buckets": "cdp_event_buckets"}
    scatter = sql.EVENTS_SCATTER.render(dialect, relations=relations)
    scratch = path.parent / "_events_buckets"
    scratch.mkdir()
    writers: dict[int, storage.RowGroupWriter] = {}
    declared = schemas.OUTPUTS[path.name]()
    try:
        for batch in eng.batches(scatter, batch_size=EVENTS_ROW_GROUP):
            col = batch.column(batch.schema.get_field_index("k_bucket"))
            if col.null_count:  # without a profile: by timestamp (the bounds it reaches), NULLs last
                ts = batch.column(batch.schema.get_field_index("k_ts"))
                reached = pa.array([0] * batch.num_rows, pa.int32())
                for bound in bounds:
                    reached = pc.add(reached, pc.cast(pc.less_equal(pa.scalar(bound, pa.int64()), ts), pa.int32()))
                unprofiled = pc.if_else(pc.is_null(ts), pa.scalar(cuts, pa.int32()), reached)
                col = pc.coalesce(col, pc.add(pa.scalar(nulls, pa.int32()), unprofiled))
            for b in pc.unique(col).to_pylist():
                part = batch.filter(pc.equal(col, b))
                w = writers.get(b)
                if w is None:
                    name = scratch / f"bucket-{b:06d}.parquet"
                    w = writers[b] = storage.RowGroupWriter(name, part.schema, compression="lz4")
                w.write(part)
        for w in writers.values():
            w.close()
        with storage.RowGroupWriter(path, declared, row_group_size=EVENTS_ROW_GROUP) as out:
            for b in sorted(writers):  # in the file's order: whole row groups across buckets
                eng.register_parquet("cdp_events_bucket", scratch / f"bucket-{b:06d}.parquet")
                bucket = sql.EVENTS_BUCKET.render(dialect, relations={"bucket": "cdp_events_bucket"})
                for batch in eng.batches(bucket, batch_size=EVENTS_ROW_GROUP):
                    out.write(batch)
    finally:
        for w in writers.values():
            w.close()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    storage.check_schema(path, declared)


def write_outputs(
    eng: Engine,
    graph: Graph,
    sources,
    tmp: Path,
    result: ResolveResult,
    config: IdentityConfig,
    memory_bytes: int | None = None,
) -> None:
    """Write the four output files into ``tmp`` and fill in ``result``'s counts. The engine holds
    ``stage``, ``files`` and ``assign`` (see :mod:`cdp_cli.identity.sql`)."""
    import orjson
    import pyarrow as pa

    types = graph.types
    roots = graph.roots()
    find = graph.find
    pids = graph.pids
    nprof = len(graph.parent)
    eng.register_arrow(
        "pmap",
        pa.table(
            {
                "profile": pa.array(range(nprof), pa.int64()),
                "profile_id": pa.array([pids[find(p)] for p in range(nprof)], pa.string()),
            }
        ),
    )

    # events.parquet: every message with its final profile
    _events_output(eng, tmp / "events.parquet", staged_bytes(tmp / "_stage"), memory_bytes)
    eng.create_view("msg", sql.MESSAGES.render(eng.dialect))

    # profiles.parquet
    kinds = graph.p_kinds
    rows_ids = []
    counts = []
    recorded: set[int] = set()  # values of types that never join (group ids), on any profile
    for p in roots:
        ids = graph.profile_identifiers(p)
        rows_ids.append(list(ids.items()))
        n = 0
        for t, lst in graph.members[p].items():  # type: ignore[union-attr]
            if types[t].match:
                n += len(lst)
            else:
                recorded.update(lst)
        counts.append(n)
    matching = {t.name for t in types if t.match}
    schema = schemas.profiles()
    profiles = pa.Table.from_arrays(
        [
            pa.array([pids[p] for p in roots], pa.string()),
            pa.array(rows_ids, schema.field("identifiers").type),
            pa.array(counts, pa.int64()),
            pa.array(
                [
                    orjson.dumps(graph.profile_traits(p), default=str, option=orjson.OPT_SORT_KEYS).decode()
                    for p in roots
                ],
                pa.string(),
            ),
            _ts_array(pa, [graph.p_first[p] for p in roots]),
            _ts_array(pa, [graph.p_last[p] for p in roots]),
            pa.array([graph.p_events[p] for p in roots], pa.int64()),
            *[pa.array([kinds[i][p] for p in roots], pa.int64()) for i, _ in enumerate(KINDS)],
            pa.array([graph.merged_count[p] for p in roots], pa.int64()),
        ],
        schema=schema,
    ).sort_by("profile_id")
    storage.write_table(profiles, tmp / "profiles.parquet", schema=schema, compression="zstd")

    # identities.parquet
    keys = graph.keys
    owned = [c for c in range(len(keys)) if graph.owner[c] >= 0]
    via = graph.via
    eng.register_arrow(
        "ids",
        pa.table(
            {
                "type": pa.array([types[keys[c][0]].name for c in owned], pa.string()),
                "priority": pa.array([types[keys[c][0]].priority for c in owned], pa.int32()),
                "value": pa.array([keys[c][1] for c in owned], pa.string()),
                "profile_id": pa.array([pids[find(graph.owner[c])] for c in owned], pa.string()),
                "first_seen": _ts_array(pa, [graph.first[c] for c in owned]),
                "last_seen": _ts_array(pa, [graph.last[c] for c in owned]),
                "event_count": pa.array([graph.seen[c] for c in owned], pa.int64()),
                "linked_seq": pa.array([graph.attach_seq[c] for c in owned], pa.int64()),
                "linked_via_type": pa.array(
                    [types[keys[via[c]][0]].name if via[c] >= 0 else None for c in owned], pa.string()
                ),
                "linked_via_value": pa.array([keys[via[c]][1] if via[c] >= 0 else None for c in owned], pa.string()),
            }
        ),
    )
    _copy(eng, sql.IDENTITIES_OUTPUT, tmp / "identities.parquet")

    # merges.parquet: merges and refused merges, in the order they happened
    def label(c: int) -> str:
        return f"{types[keys[c][0]].name}:{keys[c][1]}"

    rows: dict[str, list] = {
        k: []
        for k in (
            "step",
            "seq",
            "kind",
            "profile_id",
            "merged_profile_id",
            "final_profile_id",
            "identifiers",
            "profiles",
            "limit_type",
            "limit_value",
            "limit_window",
            "would_hold",
            "dropped_type",
            "dropped_value",
        )
    }
    for m in graph.merges:
        for k, v in (
            ("step", m.step),
            ("seq", m.seq),
            ("kind", "merge"),
            ("profile_id", pids[m.survivor]),
            ("merged_profile_id", pids[m.absorbed]),
            ("final_profile_id", pids[find(m.survivor)]),
            ("identifiers", [label(c) for c in m.codes]),
            ("profiles", [pids[m.survivor], pids[m.absorbed]]),
            ("limit_type", None),
            ("limit_value", None),
            ("limit_window", None),
            ("would_hold", None),
            ("dropped_type", None),
            ("dropped_value", None),
        ):
            rows[k].append(v)
    refused_by_type: dict[str, int] = {}
    for r in graph.refusals:
        t = types[r.type_index]
        refused_by_type[t.name] = refused_by_type.get(t.name, 0) + 1
        for k, v in (
            ("step", r.step),
            ("seq", r.seq),
            ("kind", "refused"),
            ("profile_id", pids[r.profiles[0]] if r.profiles else None),
            ("merged_profile_id", None),
            ("final_profile_id", pids[find(r.profiles[0])] if r.profiles else None),
            ("identifiers", [label(c) for c in r.codes]),
            ("profiles", [pids[p] for p in r.profiles]),
            ("limit_type", t.name),
            ("limit_value", t.limit),
            ("limit_window", t.window),
            ("would_hold", r.would_hold),
            ("dropped_type", types[keys[r.dropped][0]].name),
            ("dropped_value", keys[r.dropped][1]),
        ):
            rows[k].append(v)
    declared = schemas.merges()
    eng.register_arrow(
        "mg", pa.table({k: pa.array(v, pa.int64() if k == "seq" else declared.field(k).type) for k, v in rows.items()})
    )
    _copy(eng, sql.MERGES_OUTPUT, tmp / "merges.parquet")

    # summary
    result.identifiers = len(owned)
    result.recorded = len(recorded)
    result.profiles = len(roots)
    result.merges = len(graph.merges)
    result.refused = len(graph.refusals)
    result.refused_by_type = dict(sorted(refused_by_type.items()))
    result.events_without_profile = graph.events_without_profile
    by_size = sorted(
        ((counts[i], graph.p_events[p], pids[p], i) for i, p in enumerate(roots)), key=lambda x: (-x[0], -x[1], x[2])
    )

    def sizes(i: int) -> dict[str, Any]:
        # "identifiers" counts the joining ones, and "by_type" breaks that count down; values of
        # types that never join (group ids) are listed apart, under "recorded"
        return {
            "by_type": {t: len(v) for t, v in rows_ids[i] if t in matching},
            "recorded": {t: len(v) for t, v in rows_ids[i] if t not in matching},
        }

    for n, ev, pid, i in by_size[:10]:
        result.largest.append({"profile_id": pid, "identifiers": n, "events": ev, **sizes(i)})
    for n, ev, pid, i in by_size[:100]:
        if n <= config.super_profile:
            break
        result.super_profiles.append({"profile_id": pid, "identifiers": n, "events": ev, **sizes(i)})


def manifest(result: ResolveResult, config: IdentityConfig, sources, graph: Graph) -> dict[str, Any]:
    """``manifest.json``: what was resolved, how, and the version of the output schemas."""
    return {
        "cdp": "profiles",
        "format_version": schemas.OUTPUTS_FORMAT_VERSION,
        "mode": result.mode,
        "inputs": [s.name for s in sources],
        "identity": {
            "file": config.file,
            "alias": config.alias,
            "numbers": config.numbers,
            "max_length": config.max_length,
            "types": [
                {
                    "name": t.name,
                    "priority": t.priority,
                    "limit": t.limit,
                    "window": t.window,
                    "match": t.match,
                    "lowercase": t.lowercase,
                    "external": t.external,
                }
                for t in graph.types
            ],
        },
        "counts": {
            k: v
            for k, v in result.summary().items()
            if k
            in (
                "events",
                "duplicates_dropped",
                "events_without_profile",
                "identifiers",
                "recorded_values",
                "profiles",
                "merges",
                "refused_merges",
                "blocked_values",
            )
        },
        "files": list(FILES),
    }
