"""``cdp profiles resolve``: event logs in, profiles and their lineage out (Parquet).

Three passes, each with bounded memory:

1. **Read** every message with the event reader, in worker processes on every core; extract its
   identifiers (:mod:`.extract`) and stage one row per message (its order key, identifiers, traits,
   and the columns events.parquet keeps) in Parquet files. Lines that are not messages are reported
   and skipped, as in ``events lint``.
2. **Resolve**: the engine drops duplicate messages (a ``messageId`` seen before: the first copy in
   resolution order is kept, as Segment's pipeline dedupes by messageId; messages without one are
   never deduplicated), sorts the rest (out of core) into the deterministic order, effective
   timestamp, then ``receivedAt``, then ``messageId``, then a checksum of the message, and they stream
   through the identity graph (:mod:`.graph`), where identifiers become integer codes. Only the graph
   (one entry per identifier and per profile) lives in Python memory.
3. **Write** ``events.parquet`` (every message with its final profile), ``profiles.parquet``,
   ``identities.parquet`` and ``merges.parquet`` into a directory built beside ``--out`` and swapped in
   at the end, so a reader never sees half a result.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zlib import crc32
from pathlib import Path
from typing import Any, Callable, Iterable

from cdp_cli.events.model import effective_timestamp, parse_timestamp, traits
from cdp_cli.events.reader import (
    DEFAULT_MAX_LINE_BYTES, Problem, ReadStats, discover, gc_paused, iter_chunks, materialize, parse_chunk,
)
from cdp_cli.errors import UsageError
from cdp_cli.identity.config import IdentityConfig
from cdp_cli.identity.extract import ExtractStats, Extractor
from cdp_cli.identity.graph import KIND_INDEX, KINDS, SEP, Graph
from cdp_cli.workers import default_jobs, ordered_map

MARKER = "manifest.json"  # written last; an existing --out directory is replaced only if it holds one
FORMAT_VERSION = 1
STAGE_ROWS = 5_000  # rows per staged row group (more costs memory: ~2 KB a row while it is built)
SORT_ROWS = 20_000  # rows per batch read back in resolution order
CHUNKS_PER_TASK = 5  # reader chunks (2,000 lines each) staged per task and file
ASSIGN_ROWS = 20_000
KEEP_PROBLEMS = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
MIN_MEMORY = 128 * 10**6  # the least --memory-limit the engine works with (events.parquet's join fails under ~100MB)
MAX_MEMORY = 2**50  # 1 PiB
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_MEMORY = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*", re.I | re.ASCII)


def parse_memory_limit(text: str) -> int:
    """Bytes meant by a memory size such as ``512MB``, ``2GB``, ``1.5GiB`` or ``800MiB`` (case does not
    matter; KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB powers of 1024). Raises ValueError, saying
    why, for anything else, and for sizes under :data:`MIN_MEMORY`."""
    m = _MEMORY.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        if isinstance(text, str) and text.strip().startswith("-"):
            raise ValueError("a memory size must be positive, such as 512MB or 2GB")
        raise ValueError("not a memory size; give one such as 512MB, 2GB, 1.5GiB or 800MiB")
    number, unit = m.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown unit {unit!r}; use KB, MB, GB, TB or KiB, MiB, GiB, TiB")
    if not unit:
        raise ValueError("give a unit, such as 512MB or 2GB")
    size = int(float(number) * factor)
    if size > MAX_MEMORY:
        raise ValueError("more than any machine has; give a size such as 512MB or 2GB")
    if size < MIN_MEMORY:
        raise ValueError(f"at least {MIN_MEMORY // 10**6}MB is needed for the engine's sorts and joins")
    return size



def check_memory_limit(text: str) -> int:
    """:func:`parse_memory_limit` for ``--memory-limit``: a UsageError naming the option."""
    try:
        return parse_memory_limit(text)
    except ValueError as e:
        raise UsageError(f"--memory-limit {text!r}: {e}") from None


Progress = Callable[[str, int, "int | None"], None]


@dataclass
class ResolveResult:
    out: Path
    mode: str
    read: ReadStats
    extract: ExtractStats
    events: int = 0  # messages resolved: duplicates not counted
    duplicates: int = 0  # messages dropped because an earlier one had the same messageId
    events_without_profile: int = 0
    identifiers: int = 0  # identifiers that join profiles (identities.parquet); not group ids
    recorded: int = 0  # distinct values of types recorded on profiles without joining them (group_id)
    profiles: int = 0
    merges: int = 0
    refused: int = 0
    refused_by_type: dict[str, int] = field(default_factory=dict)
    largest: list[dict[str, Any]] = field(default_factory=list)
    super_profiles: list[dict[str, Any]] = field(default_factory=list)
    super_threshold: int = 50
    problems: list[Problem] = field(default_factory=list)
    problems_total: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "out": str(self.out), "mode": self.mode, "seconds": round(self.seconds, 3),
            "read": self.read.as_dict(),
            "events": self.events, "duplicates_dropped": self.duplicates,
            "events_without_profile": self.events_without_profile,
            "identifiers": self.identifiers, "recorded_values": self.recorded, "profiles": self.profiles,
            "merges": self.merges, "refused_merges": self.refused, "refused_by_type": self.refused_by_type,
            "blocked_values": sum(self.extract.blocked.values()),
            "identifiers_report": self.extract.as_dict(),
            "largest_profiles": self.largest, "super_profiles": self.super_profiles,
            "super_profile_threshold": self.super_threshold,
            "skipped_lines": self.problems_total,
        }


_STAGE_SCHEMA = None


def _stage_schema():
    global _STAGE_SCHEMA
    if _STAGE_SCHEMA is None:
        import pyarrow as pa

        _STAGE_SCHEMA = pa.schema([
            ("seq", pa.int64()), ("src", pa.int32()), ("line", pa.int64()), ("bidx", pa.int32()),
            ("ids", pa.list_(pa.string())), ("alias", pa.string()), ("traits", pa.string()),
            ("ts", pa.int64()), ("received", pa.int64()), ("mid", pa.string()), ("kind", pa.int8()),
            ("h", pa.int64()),
            # the columns events.parquet keeps, as text (objects as JSON)
            ("type", pa.string()), ("event", pa.string()), ("user_id", pa.string()), ("anonymous_id", pa.string()),
            ("group_id", pa.string()), ("message_id", pa.string()), ("properties", pa.string()),
            ("traits_json", pa.string()), ("context", pa.string()),
        ])
    return _STAGE_SCHEMA


@dataclass
class _Staged:
    """What staging one chunk produced, besides its file."""

    number: int
    stats: ReadStats
    problems: list[Problem]
    extract: ExtractStats
    rows: int


class _Stager:
    """Pass 1 for one chunk (in a worker process, or in this one): parse, extract identifiers, write
    one staged Parquet file. Identifiers are staged by type *name*: interning them into integer codes
    happens once, in the resolving process."""

    def __init__(self, config: IdentityConfig, directory: Path, max_line_bytes: int) -> None:
        self.config = config
        self.dir = directory
        self.max_line_bytes = max_line_bytes
        self.extractor = Extractor(config)

    def __call__(self, task: tuple[list[Any], int]) -> _Staged:
        import orjson
        import pyarrow as pa
        import pyarrow.parquet as pq

        group, number = task
        stats = ReadStats()
        x = self.extractor
        x.stats = ExtractStats()
        extract = x.extract
        dumps = orjson.dumps
        kinds = KIND_INDEX
        text = _text
        prefix = [f"{t.name}{SEP}" for t in x.types]
        base = number << 32  # seq: input order (task, then position), unique across workers
        rows: list[tuple] = []
        problems: list[Problem] = []
        for chunk in group:
            records, found = parse_chunk(materialize(chunk, self.max_line_bytes), stats, keep_raw=True)
            problems += found
            for rec in records:
                msg = rec.msg
                x.where = (rec.file, rec.line)
                ids = extract(msg)
                if len(prefix) != len(x.types):
                    prefix = [f"{t.name}{SEP}" for t in x.types]
                t = msg.get("type")
                tr = _traits(msg, t)
                mid = msg.get("messageId")
                get = msg.get
                rows.append((base + len(rows), rec.source, rec.line, rec.index, [prefix[k] + v for k, v in ids],
                             x.previous_id(msg) if t == "alias" else None, dumps(tr).decode() if tr else None,
                             _micros(effective_timestamp(msg)), _micros(parse_timestamp(get("receivedAt"))),
                             mid if type(mid) is str else None, kinds.get(t, -1), crc32(rec.raw),  # type: ignore[arg-type]
                             text(t), text(get("event") if t == "track" else get("name") if t in ("page", "screen") else None),
                             text(get("userId")), text(get("anonymousId")), text(get("groupId")), text(mid),
                             text(get("properties")), text(get("traits")), text(get("context"))))
        if rows:
            schema = _stage_schema()
            cols = list(zip(*rows))
            arrays = [pa.array(col, type=f.type) for col, f in zip(cols, schema)]
            pq.write_table(pa.Table.from_arrays(arrays, schema=schema), self.dir / f"stage-{number:08d}.parquet",
                           compression="lz4")
        return _Staged(number, stats, problems, x.stats, len(rows))


# The resolution order. Workers computed each message's effective timestamp (Segment's: timestamp,
# else receivedAt - (sentAt - originalTimestamp), else originalTimestamp, else receivedAt; times
# without a zone are UTC), receivedAt, messageId and a checksum of its JSON, so this reads only
# narrow columns.
_ORDER = "ts NULLS LAST, received NULLS LAST, mid NULLS LAST, h, seq"
_ORDER_SQL = f"""
    SELECT seq, ids, alias, traits, ts, kind
    FROM stage
    WHERE seq NOT IN (SELECT seq FROM dups)
    ORDER BY {_ORDER}
"""
# Duplicates: every copy of a messageId but the first in resolution order. Ties (same time and
# content) go by file name, line and batch position, never by the order files were given in, so the
# copy kept is the same whatever the file order or --jobs. The engine partitions out of core.
_DUPS_SQL = """
    SELECT seq FROM (
        SELECT s.seq, row_number() OVER (PARTITION BY s.mid ORDER BY s.ts NULLS LAST, s.received NULLS LAST, s.h,
                                         f.file, s.line, s.bidx NULLS FIRST, s.seq) AS copy
        FROM stage s LEFT JOIN files f ON f.src = s.src
        WHERE s.mid IS NOT NULL)
    WHERE copy > 1
"""


def _micros(dt: datetime | None) -> int | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)  # a time without a zone is UTC, as Segment reads it
    return (dt - _EPOCH) // _US


def resolve(
    inputs: Iterable[str | Path],
    out: str | Path,
    *,
    config: IdentityConfig | None = None,
    unrestricted: bool = False,
    progress: Progress | None = None,
    memory_limit: str = "512MB",
    jobs: int = 0,
) -> ResolveResult:
    """Resolve identities in event logs and write the Parquet outputs into ``out`` (atomically)."""
    import orjson

    from cdp_cli.engine import Engine
    from cdp_cli.fsutil import atomic_directory
    from cdp_cli.identity.config import build_config

    memory_bytes = check_memory_limit(memory_limit)
    started = time.perf_counter()
    config = config or build_config({})
    if unrestricted:
        config = config.unrestricted()
    sources = discover(inputs)
    out = Path(out)
    stats = ReadStats()
    extractor = Extractor(config)
    graph = Graph(extractor.types, unrestricted=unrestricted)
    result = ResolveResult(out, "unrestricted" if unrestricted else "limits", stats, extractor.stats,
                           super_threshold=config.super_profile)
    total_bytes = sum(s.size or 0 for s in sources) if all(s.size is not None for s in sources) else None

    with atomic_directory(out, kind="profiles", marker=MARKER) as tmp:
        stage_dir = tmp / "_stage"
        stage_dir.mkdir()
        # --- pass 1: read, extract, stage (in worker processes when there is enough to share) -------
        read_progress = (lambda n: progress("read", n, total_bytes)) if progress else None
        if jobs <= 0:
            jobs = default_jobs(sources)
        stager = _Stager(config, stage_dir, DEFAULT_MAX_LINE_BYTES)
        chunks = iter_chunks(sources, stats=stats, progress=read_progress, by_reference=jobs > 1)
        staged_rows = 0
        with gc_paused():
            for done in ordered_map(stager, _groups(chunks, CHUNKS_PER_TASK), jobs):
                stats.merge(done.stats)
                extractor.stats.merge(done.extract)
                staged_rows += done.rows
                for p in done.problems:
                    result.problems_total += 1
                    if len(result.problems) < KEEP_PROBLEMS:
                        result.problems.append(p)
        result.events = staged_rows

        # --- pass 2: sort and resolve ----------------------------------------------------------------
        import pyarrow as pa
        import pyarrow.parquet as pq

        loads = orjson.loads
        with Engine(memory_limit=f"{memory_bytes}B", temp_dir=stage_dir / "engine") as eng:
            if staged_rows:
                eng.register_parquet("stage", str(stage_dir / "stage-*.parquet"))
            else:
                eng.register("stage", _stage_schema().empty_table())
            eng.register("files", pa.table({"src": pa.array(range(len(sources)), pa.int32()),
                                            "file": pa.array([s.name for s in sources], pa.string())}))
            eng.copy_parquet(_DUPS_SQL, stage_dir / "dups.parquet", compression="lz4")
            eng.register_parquet("dups", stage_dir / "dups.parquet")
            result.duplicates = eng.rows("SELECT count(*) FROM dups")[0][0]
            result.events = staged_rows - result.duplicates
            assign_files = 0
            from array import array

            a_seq, a_prof = array("q"), array("q")  # which profile each message (by seq) ended in

            def flush_assign() -> None:
                nonlocal assign_files
                if a_seq:
                    pq.write_table(pa.table({"seq": pa.array(a_seq, pa.int64()), "profile": pa.array(a_prof, pa.int64())}),
                                   stage_dir / f"assign-{assign_files:06d}.parquet", compression="lz4")
                    assign_files += 1
                    del a_seq[:], a_prof[:]

            process = graph.process
            # The engine sorts out of core into a file; reading that file back streams with flat memory
            # (a query result streamed straight from the engine can be materialised whole).
            sorted_path = stage_dir / "sorted.parquet"
            eng.copy_parquet(_ORDER_SQL, sorted_path, compression="lz4", row_group_size=SORT_ROWS)
            code = graph.code
            user_t = extractor.index.get("user_id", -1)
            anon_t = extractor.index.get("anonymous_id", -1)
            code_of, code_key, type_index = graph.code_of, graph.code_key, extractor.type_index

            with gc_paused():
                for batch in pq.ParquetFile(sorted_path).iter_batches(batch_size=SORT_ROWS):
                    cols = batch.to_pydict()
                    for s, ts, keys, prev, tr, kind in zip(cols["seq"], cols["ts"], cols["ids"], cols["alias"],
                                                           cols["traits"], cols["kind"]):
                        ids = [code_of[k] if k in code_of else code_key(k, type_index) for k in keys] if keys else []
                        alias = None
                        if prev is not None:
                            alias = (code((user_t, prev)) if user_t >= 0 else -1, code((anon_t, prev)) if anon_t >= 0 else -1)
                        p = process(s, ts, ids, alias=alias, traits=loads(tr) if tr else None, kind=kind)
                        a_seq.append(s)
                        a_prof.append(p)
                    if len(a_seq) >= ASSIGN_ROWS:
                        flush_assign()
                    if progress:
                        progress("resolve", batch.num_rows, result.events)
            flush_assign()
            if assign_files:
                eng.register_parquet("assign", str(stage_dir / "assign-*.parquet"))
            else:
                eng.register("assign", pa.table({"seq": pa.array([], pa.int64()), "profile": pa.array([], pa.int64())}))
            # --- pass 3: outputs ---------------------------------------------------------------------
            _write_outputs(eng, graph, sources, tmp, result, config)
        import shutil

        shutil.rmtree(stage_dir, ignore_errors=True)
        result.seconds = time.perf_counter() - started
        (tmp / MARKER).write_text(json.dumps(_manifest(result, config, sources, graph), indent=2) + "\n")
    return result


def _text(value: Any) -> str | None:
    """A message field as events.parquet stores it: strings as they are, anything else as JSON text."""
    if value is None or type(value) is str:
        return value
    import orjson

    return orjson.dumps(value, default=str).decode()


def _groups(chunks, size: int):
    """Tasks for the stagers: ``size`` consecutive chunks each, numbered in input order."""
    group: list = []
    n = 0
    for chunk in chunks:
        group.append(chunk)
        if len(group) >= size:
            yield group, n
            group, n = [], n + 1
    if group:
        yield group, n


def _traits(msg: dict[str, Any], t: Any) -> dict[str, Any] | None:
    """Traits this message sets on its person: identify traits merged with context.traits (the
    model's rule), and context.traits of any other type. Group traits describe the account."""
    if t == "identify":
        return traits(msg) or None
    ctx = msg.get("context")
    ct = ctx.get("traits") if type(ctx) is dict else None
    return dict(ct) if type(ct) is dict and ct else None


def _ts_array(pa, values: list[int]):
    return pa.array(values, pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _write_outputs(eng, graph: Graph, sources, tmp: Path, result: ResolveResult, config: IdentityConfig) -> None:
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = graph.types
    roots = graph.roots()
    find = graph.find
    pids = graph.pids
    nprof = len(graph.parent)
    eng.register("pmap", pa.table({"profile": pa.array(range(nprof), pa.int64()),
                                   "profile_id": pa.array([pids[find(p)] for p in range(nprof)], pa.string())}))

    # events.parquet: every message with its final profile (row order is not meaningful: sort by
    # timestamp; a global sort of the wide rows would cost more memory than everything else)
    ts, rcv = eng.from_epoch_us("x.ts"), eng.from_epoch_us("x.received")
    eng.copy_parquet(f"""
        SELECT x.message_id, m.profile_id, x.type, x.event, {ts} AS timestamp, {rcv} AS received_at,
               x.user_id, x.anonymous_id, x.group_id, x.properties, x.traits_json AS traits, x.context,
               fl.file, x.line, x.bidx AS batch_index
        FROM (SELECT s.*, a.profile FROM stage s JOIN assign a ON a.seq = s.seq) x
        LEFT JOIN pmap m ON m.profile = x.profile LEFT JOIN files fl ON fl.src = x.src""",
        tmp / "events.parquet", row_group_size=50_000)
    # message details by seq, for the lineage tables (joined only where they point)
    eng.execute("CREATE OR REPLACE VIEW msg AS SELECT seq, src, line, bidx, ts, mid FROM stage")

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
    profiles = pa.table({
        "profile_id": pa.array([pids[p] for p in roots], pa.string()),
        "identifiers": pa.array(rows_ids, pa.map_(pa.string(), pa.list_(pa.string()))),
        "identifier_count": pa.array(counts, pa.int64()),
        "traits": pa.array([orjson.dumps(graph.profile_traits(p), default=str, option=orjson.OPT_SORT_KEYS).decode()
                            for p in roots], pa.string()),
        "first_seen": _ts_array(pa, [graph.p_first[p] for p in roots]),
        "last_seen": _ts_array(pa, [graph.p_last[p] for p in roots]),
        "event_count": pa.array([graph.p_events[p] for p in roots], pa.int64()),
        **{f"{k}_count": pa.array([kinds[i][p] for p in roots], pa.int64()) for i, k in enumerate(KINDS)},
        "merged_profiles": pa.array([graph.merged_count[p] for p in roots], pa.int64()),
    }).sort_by("profile_id")
    pq.write_table(profiles, tmp / "profiles.parquet", compression="zstd")

    # identities.parquet
    keys = graph.keys
    owned = [c for c in range(len(keys)) if graph.owner[c] >= 0]
    via = graph.via
    eng.register("ids", pa.table({
        "type": pa.array([types[keys[c][0]].name for c in owned], pa.string()),
        "priority": pa.array([types[keys[c][0]].priority for c in owned], pa.int32()),
        "value": pa.array([keys[c][1] for c in owned], pa.string()),
        "profile_id": pa.array([pids[find(graph.owner[c])] for c in owned], pa.string()),
        "first_seen": _ts_array(pa, [graph.first[c] for c in owned]),
        "last_seen": _ts_array(pa, [graph.last[c] for c in owned]),
        "event_count": pa.array([graph.seen[c] for c in owned], pa.int64()),
        "linked_seq": pa.array([graph.attach_seq[c] for c in owned], pa.int64()),
        "linked_via_type": pa.array([types[keys[via[c]][0]].name if via[c] >= 0 else None for c in owned], pa.string()),
        "linked_via_value": pa.array([keys[via[c]][1] if via[c] >= 0 else None for c in owned], pa.string()),
    }))
    eng.copy_parquet(f"""
        SELECT i.type, i.value, i.profile_id, i.first_seen, i.last_seen, i.event_count,
               s.mid AS linked_message_id, {eng.from_epoch_us("s.ts")} AS linked_at, fl.file AS linked_file,
               s.line AS linked_line, i.linked_via_type, i.linked_via_value
        FROM ids i LEFT JOIN (SELECT * FROM msg WHERE seq IN (SELECT linked_seq FROM ids)) s ON s.seq = i.linked_seq
        LEFT JOIN files fl ON fl.src = s.src
        ORDER BY i.profile_id, i.priority, i.type, i.value""", tmp / "identities.parquet")

    # merges.parquet: merges and refused merges, in the order they happened
    def label(c: int) -> str:
        return f"{types[keys[c][0]].name}:{keys[c][1]}"

    rows: dict[str, list] = {k: [] for k in (
        "step", "seq", "kind", "profile_id", "merged_profile_id", "final_profile_id", "identifiers", "profiles",
        "limit_type", "limit", "window", "would_hold", "dropped_type", "dropped_value")}
    for m in graph.merges:
        for k, v in (("step", m.step), ("seq", m.seq), ("kind", "merge"), ("profile_id", pids[m.survivor]),
                     ("merged_profile_id", pids[m.absorbed]), ("final_profile_id", pids[find(m.survivor)]),
                     ("identifiers", [label(c) for c in m.codes]), ("profiles", [pids[m.survivor], pids[m.absorbed]]),
                     ("limit_type", None), ("limit", None), ("window", None), ("would_hold", None),
                     ("dropped_type", None), ("dropped_value", None)):
            rows[k].append(v)
    refused_by_type: dict[str, int] = {}
    for r in graph.refusals:
        t = types[r.type_index]
        refused_by_type[t.name] = refused_by_type.get(t.name, 0) + 1
        for k, v in (("step", r.step), ("seq", r.seq), ("kind", "refused"),
                     ("profile_id", pids[r.profiles[0]] if r.profiles else None), ("merged_profile_id", None),
                     ("final_profile_id", pids[find(r.profiles[0])] if r.profiles else None),
                     ("identifiers", [label(c) for c in r.codes]), ("profiles", [pids[p] for p in r.profiles]),
                     ("limit_type", t.name), ("limit", t.limit), ("window", t.window), ("would_hold", r.would_hold),
                     ("dropped_type", types[keys[r.dropped][0]].name), ("dropped_value", keys[r.dropped][1])):
            rows[k].append(v)
    eng.register("mg", pa.table({
        "step": pa.array(rows["step"], pa.int64()), "seq": pa.array(rows["seq"], pa.int64()),
        "kind": pa.array(rows["kind"], pa.string()), "profile_id": pa.array(rows["profile_id"], pa.string()),
        "merged_profile_id": pa.array(rows["merged_profile_id"], pa.string()),
        "final_profile_id": pa.array(rows["final_profile_id"], pa.string()),
        "identifiers": pa.array(rows["identifiers"], pa.list_(pa.string())),
        "profiles": pa.array(rows["profiles"], pa.list_(pa.string())),
        "limit_type": pa.array(rows["limit_type"], pa.string()), "limit": pa.array(rows["limit"], pa.int64()),
        "window": pa.array(rows["window"], pa.string()), "would_hold": pa.array(rows["would_hold"], pa.int64()),
        "dropped_type": pa.array(rows["dropped_type"], pa.string()),
        "dropped_value": pa.array(rows["dropped_value"], pa.string()),
    }))
    eng.copy_parquet(f"""
        SELECT g.step, g.kind, g.profile_id, g.merged_profile_id, g.final_profile_id, g.identifiers, g.profiles,
               g.limit_type, g."limit", g."window", g.would_hold, g.dropped_type, g.dropped_value,
               s.mid AS message_id, {eng.from_epoch_us("s.ts")} AS timestamp, fl.file, s.line, s.bidx AS batch_index
        FROM mg g LEFT JOIN (SELECT * FROM msg WHERE seq IN (SELECT seq FROM mg)) s ON s.seq = g.seq
        LEFT JOIN files fl ON fl.src = s.src
        ORDER BY g.step""", tmp / "merges.parquet")

    # summary
    result.identifiers = len(owned)
    result.recorded = len(recorded)
    result.profiles = len(roots)
    result.merges = len(graph.merges)
    result.refused = len(graph.refusals)
    result.refused_by_type = dict(sorted(refused_by_type.items()))
    result.events_without_profile = graph.events_without_profile
    by_size = sorted(((counts[i], graph.p_events[p], pids[p], i) for i, p in enumerate(roots)), key=lambda x: (-x[0], -x[1], x[2]))

    def sizes(i: int) -> dict[str, Any]:
        # "identifiers" counts the joining ones, and "by_type" breaks that count down; values of
        # types that never join (group ids) are listed apart, under "recorded"
        return {"by_type": {t: len(v) for t, v in rows_ids[i] if t in matching},
                "recorded": {t: len(v) for t, v in rows_ids[i] if t not in matching}}

    for n, ev, pid, i in by_size[:10]:
        result.largest.append({"profile_id": pid, "identifiers": n, "events": ev, **sizes(i)})
    for n, ev, pid, i in by_size[:100]:
        if n <= config.super_profile:
            break
        result.super_profiles.append({"profile_id": pid, "identifiers": n, "events": ev, **sizes(i)})


def _manifest(result: ResolveResult, config: IdentityConfig, sources, graph: Graph) -> dict[str, Any]:
    return {
        "cdp": "profiles", "format_version": FORMAT_VERSION, "mode": result.mode,
        "inputs": [s.name for s in sources],
        "identity": {
            "file": config.file, "alias": config.alias, "numbers": config.numbers, "max_length": config.max_length,
            "types": [{"name": t.name, "priority": t.priority, "limit": t.limit, "window": t.window, "match": t.match,
                       "lowercase": t.lowercase, "external": t.external} for t in graph.types],
        },
        "counts": {k: v for k, v in result.summary().items() if k in (
            "events", "duplicates_dropped", "events_without_profile", "identifiers", "recorded_values", "profiles", "merges",
            "refused_merges", "blocked_values")},
        "files": ["profiles.parquet", "identities.parquet", "events.parquet", "merges.parquet"],
    }
