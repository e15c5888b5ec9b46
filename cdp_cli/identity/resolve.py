"""``cdp profiles resolve``: event logs in, profiles and their lineage out (Parquet).

Three passes, each with bounded memory:

1. **Read** every message with the event reader, in worker processes on every core; extract its
   identifiers (:mod:`.extract`) and stage one row per message (its order key, identifiers, traits,
   and the columns events.parquet keeps) in Parquet files (:mod:`.stage`). Lines that are not
   messages are reported and skipped, as in ``events lint``.
2. **Resolve**: the engine drops duplicate messages (a ``messageId`` seen before: the first copy in
   resolution order is kept, as Segment's pipeline dedupes by messageId; messages without one are
   never deduplicated), sorts the rest (out of core) into the deterministic order, effective
   timestamp, then ``receivedAt``, then ``messageId``, then a checksum of the message, and they stream
   through the identity graph (:mod:`.graph`), where identifiers become integer codes. Only the graph
   (one entry per identifier and per profile) lives in Python memory. With ``jobs > 1`` this pass runs
   by connected components instead, one partition per worker process, and gives the same graph
   (:mod:`.partitioned`).
3. **Write** ``events.parquet`` (every message with its final profile), ``profiles.parquet``,
   ``identities.parquet`` and ``merges.parquet`` (:mod:`.outputs`; their columns: :mod:`cdp_cli.schemas`)
   into a directory built beside ``--out`` and swapped in at the end, so a reader never sees half a result.

The SQL of every pass is in :mod:`.sql`, as named templates the engine (:mod:`cdp_cli.engine`) renders.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from cdp_cli.errors import UsageError
from cdp_cli.events.reader import (
    DEFAULT_MAX_LINE_BYTES,
    Problem,
    ReadStats,
    Source,
    discover,
    gc_paused,
    iter_chunks,
)
from cdp_cli.identity import sql
from cdp_cli.identity.config import IdentityConfig
from cdp_cli.identity.extract import Extractor, ExtractStats
from cdp_cli.identity.graph import Graph
from cdp_cli.identity.outputs import MARKER
from cdp_cli.identity.outputs import manifest as _manifest
from cdp_cli.identity.outputs import write_outputs as _write_outputs
from cdp_cli.identity.partitioned import resolve_rows
from cdp_cli.identity.stage import CHUNKS_PER_TASK, Stager, groups
from cdp_cli.workers import default_jobs, ordered_map

SORT_ROWS = 20_000  # rows per batch read back in resolution order
ASSIGN_ROWS = 20_000
#: messages from which an engine with its own workers (Spark) resolves by components even with
#: ``jobs=1``: the one graph pass reads every message back into this process; the components cost a
#: few seconds of fixed rounds, which small logs do not repay
ENGINE_COMPONENTS_MIN = 50_000
KEEP_PROBLEMS = 100
MIN_MEMORY = 128 * 10**6  # the least --memory-limit the engine works with (events.parquet's join fails under ~100MB)
MAX_MEMORY = 2**50  # 1 PiB
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
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
    command: str = "profiles resolve"

    # --- the Result protocol (cdp_cli.results) -------------------------------------------------------
    @property
    def files(self) -> list[str]:
        return [str(self.out)]

    @property
    def findings(self) -> list:
        """Skipped lines, as findings (warnings: resolution went on without them)."""
        from cdp_cli.findings import Finding, Level
        from cdp_cli.rules import get_rule

        return [
            Finding(p.code, get_rule(p.code).name, Level.WARNING, p.file, p.line, p.column, p.message)
            for p in self.problems
        ]

    @property
    def flagged(self) -> bool:
        """Anything a careful user would look at: skipped lines, values that are not identifiers, a
        suspiciously large profile, or no messages at all. Fails the run with --strict."""
        ex = self.extract
        return bool(
            self.problems_total
            or sum(ex.wrong_type.values())
            or sum(ex.too_long.values())
            or self.super_profiles
            or self.read.messages == 0
        )

    def failed(self, strict: bool = False) -> bool:
        return strict and self.flagged

    def verdict(self) -> str:
        from cdp_cli.results import plural

        dups = f" ({plural(self.duplicates, 'duplicate')} dropped)" if self.duplicates else ""
        return (
            f"profiles resolve ({self.mode}): {plural(self.events, 'event')}{dups} -> "
            f"{plural(self.profiles, 'profile')}, {plural(self.merges, 'merge')}, "
            f"{plural(self.refused, 'refused merge')}; wrote {self.out}"
        )

    def warnings(self, most: int = 20) -> list[str]:
        """What the user should look at, one line each, for stderr: skipped lines, values that are
        not identifiers, super-profiles. Names and positions only, never identifier values."""
        lines = [f"{p.file}:{p.line}:{p.column}: {p.code} {p.message}; skipped" for p in self.problems[:most]]
        if self.problems_total > most:
            lines.append(
                f"... and {self.problems_total - most:,} more skipped line(s) (--format json lists the first 100)"
            )
        lines += [
            f"{f}:{line}: {t} value is not an identifier: {reason}" for reason, t, f, line in self.extract.examples[:10]
        ]
        lines += [
            f"profile {sp['profile_id']} holds {sp['identifiers']:,} identifiers (over {self.super_threshold}): "
            f"a shared device or placeholder id merging people? `cdp profiles show {sp['profile_id']} --profiles "
            f"{self.out}` lists them; block the value or set a limit"
            for sp in self.super_profiles[:5]
        ]
        return lines

    def tables(self) -> list:
        from cdp_cli.results import Table

        r, ex = self.read, self.extract
        tables = [
            Table(
                "Input",
                ["files", "lines", "messages", "skipped", "duplicates dropped", "without identifiers"],
                [[r.files, r.lines, r.messages, sum(r.skipped.values()), self.duplicates, self.events_without_profile]],
                frozenset(range(6)),
            ),
            Table(
                "Identity",
                ["", "count"],
                [
                    ["identifiers (joining profiles)", self.identifiers],
                    ["values recorded, never joining (group_id)", self.recorded],
                    ["profiles", self.profiles],
                    ["merges", self.merges],
                    ["refused merges", self.refused],
                    ["blocked values seen", sum(ex.blocked.values())],
                    ["values of a wrong JSON type", sum(ex.wrong_type.values())],
                    ["values too long", sum(ex.too_long.values())],
                    ["numbers read as ids", sum(ex.numbers.values())],
                ],
                frozenset({1}),
            ),
        ]
        if self.refused_by_type:
            tables.append(
                Table(
                    "Refused merges by limit",
                    ["identifier type", "refused"],
                    [list(kv) for kv in self.refused_by_type.items()],
                    frozenset({1}),
                )
            )
        if ex.blocked:
            tables.append(
                Table(
                    "Blocked values (most frequent)",
                    ["type", "blocked by", "count"],
                    [[t, v, n] for (t, v), n in ex.blocked_values.most_common(5)],
                    frozenset({2}),
                )
            )
        if self.largest:
            # "identifiers" counts those that join profiles and "by type" breaks that count down; group
            # ids (recorded, never joining) are counted apart
            largest = self.largest[:5]
            recorded = any(p.get("recorded") for p in largest)
            rows = [
                [
                    p["profile_id"],
                    p["identifiers"],
                    p["events"],
                    ", ".join(f"{t} {n:,}" for t, n in p["by_type"].items()),
                ]
                + ([", ".join(f"{t} {n:,}" for t, n in p.get("recorded", {}).items())] if recorded else [])
                for p in largest
            ]
            tables.append(
                Table(
                    "Largest profiles",
                    ["profile", "identifiers (joining)", "events", "by type"]
                    + (["recorded, not joining"] if recorded else []),
                    rows,
                    frozenset({1, 2}),
                )
            )
        return tables

    def summary(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "mode": self.mode,
            "seconds": round(self.seconds, 3),
            "read": self.read.as_dict(),
            "events": self.events,
            "duplicates_dropped": self.duplicates,
            "events_without_profile": self.events_without_profile,
            "identifiers": self.identifiers,
            "recorded_values": self.recorded,
            "profiles": self.profiles,
            "merges": self.merges,
            "refused_merges": self.refused,
            "refused_by_type": self.refused_by_type,
            "blocked_values": sum(self.extract.blocked.values()),
            "identifiers_report": self.extract.as_dict(),
            "largest_profiles": self.largest,
            "super_profiles": self.super_profiles,
            "super_profile_threshold": self.super_threshold,
            "skipped_lines": self.problems_total,
            **({"no_input": "no messages were read"} if self.read.messages == 0 else {}),
        }


def resolve(
    inputs: Iterable[str | Path | Source],
    out: str | Path,
    *,
    config: IdentityConfig | None = None,
    unrestricted: bool = False,
    progress: Progress | None = None,
    memory_limit: str = "512MB",
    jobs: int = 0,
    by_components: bool | None = None,
    engine: Any = None,
) -> ResolveResult:
    """Resolve identities in event logs and write the Parquet outputs into ``out`` (atomically).
    ``jobs``: worker processes (0: automatic). ``by_components``: resolve by connected components,
    one partition per worker (:mod:`.partitioned`; the same files); by default when ``jobs > 1``.
    False keeps one graph pass in this process (staging still uses the workers), for comparison.
    ``engine``: an :class:`~cdp_cli.engine.EngineChoice` for the SQL of passes 2 and 3 (DuckDB by
    default). With DuckDB the partitions resolve in this machine's worker processes; in an engine with
    workers of its own (Spark: :data:`~cdp_cli.engine.base.MAP_GROUPS`) they resolve there, by
    components from :data:`ENGINE_COMPONENTS_MIN` messages whatever ``jobs`` is."""

    from cdp_cli import schemas, storage
    from cdp_cli.engine import EngineChoice
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
    result = ResolveResult(
        out, "unrestricted" if unrestricted else "limits", stats, extractor.stats, super_threshold=config.super_profile
    )
    total_bytes = sum(s.size or 0 for s in sources) if all(s.size is not None for s in sources) else None

    with atomic_directory(out, kind="profiles", marker=MARKER) as tmp:
        stage_dir = tmp / "_stage"
        stage_dir.mkdir()
        # --- pass 1: read, extract, stage (in worker processes when there is enough to share) -------
        read_progress = (lambda n: progress("read", n, total_bytes)) if progress else None
        if jobs <= 0:
            jobs = default_jobs(sources)
        stager = Stager(config, stage_dir, DEFAULT_MAX_LINE_BYTES)
        chunks = iter_chunks(sources, stats=stats, progress=read_progress, by_reference=jobs > 1)
        staged_rows = 0
        with gc_paused():
            for done in ordered_map(stager, groups(chunks, CHUNKS_PER_TASK), jobs):
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

        choice = engine if engine is not None else EngineChoice()
        with choice.connect(memory_limit=f"{memory_bytes}B", temp_dir=stage_dir / "engine") as eng:
            dialect = eng.dialect
            if staged_rows:
                eng.register_parquet("stage", str(stage_dir / "stage-*.parquet"))
            else:
                eng.register_arrow("stage", schemas.stage().empty_table())
            eng.register_arrow(
                "files",
                pa.table(
                    {
                        "src": pa.array(range(len(sources)), pa.int32()),
                        "file": pa.array([s.name for s in sources], pa.string()),
                    }
                ),
            )
            eng.copy_parquet(sql.DUPLICATES.render(dialect), stage_dir / "dups.parquet", compression="lz4")
            eng.register_parquet("dups", stage_dir / "dups.parquet")
            result.duplicates = eng.rows(sql.DUPLICATES_COUNT.render(dialect))[0][0]
            result.events = staged_rows - result.duplicates
            assign_files = 0
            from array import array

            a_seq, a_prof = array("q"), array("q")  # which profile each message (by seq) ended in

            def flush_assign() -> None:
                nonlocal assign_files
                if a_seq:
                    storage.write_table(
                        pa.table({"seq": pa.array(a_seq, pa.int64()), "profile": pa.array(a_prof, pa.int64())}),
                        stage_dir / f"assign-{assign_files:06d}.parquet",
                        schema=schemas.assignments(),
                        compression="lz4",
                    )
                    assign_files += 1
                    del a_seq[:], a_prof[:]

            user_t = extractor.index.get("user_id", -1)
            anon_t = extractor.index.get("anonymous_id", -1)
            from cdp_cli.engine.base import MAP_GROUPS, GroupMapper

            in_engine = MAP_GROUPS in eng.capabilities  # Spark: the partitions resolve in its executors
            if by_components is None:  # in an engine with its own workers, past a size where it pays
                by_components = jobs > 1 or (in_engine and staged_rows >= ENGINE_COMPONENTS_MIN)
            if by_components and result.events:
                # by components, one partition per worker (the same result: see .partitioned)
                from cdp_cli.identity import partitioned
                from cdp_cli.identity.components import event_components

                clock = partitioned.order(eng)
                partitioned.register_types(eng, extractor)
                event_components(eng, "stage", "dups", [t.name for t in extractor.types if not t.match])
                types = list(extractor.types)
                parts = []
                with gc_paused():  # unpickling and joining graphs: millions of objects, no cycles
                    if in_engine:
                        tasks = max(jobs, cast(GroupMapper, eng).default_tasks())
                        parts = partitioned.resolve_in_engine(
                            eng, stage_dir, tasks, types, unrestricted, clock, user_t, anon_t, ASSIGN_ROWS
                        )
                        if progress:
                            progress("resolve", sum(p.messages for p in parts), result.events)
                    else:
                        path = partitioned.write_parts(eng, stage_dir, jobs, SORT_ROWS)
                        work = partitioned.partition_resolver(
                            path, types, unrestricted, clock, user_t, anon_t, SORT_ROWS, ASSIGN_ROWS
                        )
                        for part in ordered_map(work, range(jobs), jobs):
                            parts.append(part)
                            if progress:
                                progress("resolve", part.messages, result.events)
                    graph, remap = partitioned.combine(parts, extractor.types, unrestricted)
                files = None if in_engine else [f for part in parts for f in part.assignments]
                del parts  # the partitions' graphs: only the joined one is kept
                partitioned.register_assignments(eng, files, remap)
            else:
                # The engine sorts out of core into a file; reading that file back streams with flat
                # memory (a query result streamed straight from the engine can be materialised whole).
                sorted_path = stage_dir / "sorted.parquet"
                eng.copy_parquet(
                    sql.RESOLUTION_ORDER.render(dialect), sorted_path, compression="lz4", row_group_size=SORT_ROWS
                )
                type_index = extractor.type_index
                with gc_paused():
                    for batch in storage.read_batches(sorted_path, SORT_ROWS):
                        resolve_rows(graph, batch.to_pydict(), type_index, user_t, anon_t, a_seq, a_prof)
                        if len(a_seq) >= ASSIGN_ROWS:
                            flush_assign()
                        if progress:
                            progress("resolve", batch.num_rows, result.events)
                flush_assign()
                if assign_files:
                    eng.register_parquet("assign", str(stage_dir / "assign-*.parquet"))
                else:
                    eng.register_arrow("assign", schemas.assignments().empty_table())
            # --- pass 3: outputs ---------------------------------------------------------------------
            _write_outputs(eng, graph, sources, tmp, result, config, memory_bytes)
        import shutil

        shutil.rmtree(stage_dir, ignore_errors=True)
        result.seconds = time.perf_counter() - started
        (tmp / MARKER).write_text(json.dumps(_manifest(result, config, sources, graph), indent=2) + "\n")
    return result
