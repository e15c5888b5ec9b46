"""``cdp events replay``: read event logs and deliver them, exactly once, to a destination.

The pipeline, per message, in this order (each step can drop it, counted by reason):

1. **read** (the event reader: files, ``.gz``/``.zst``, directories, stdin); lines that are not
   messages are skipped and reported with file, line and column;
2. **resume**: a message an earlier run of the same replay already finished is skipped
   (:mod:`.checkpoint`);
3. **select**: ``--since``/``--until``, ``--type``, ``--event``/``--exclude-event`` (:mod:`.select`);
4. **suppress**: a message carrying a suppressed identifier is never sent (:mod:`.suppress`; checked
   on the message as read, before any transform can hash an identifier away);
5. **plan**: ``--plan`` controls (:mod:`.protocols`);
6. **transform**: ``--transform`` rules (:mod:`.transform`);
7. **de-duplicate** by messageId (within the replay and across resumed runs: the messages a resumed
   run skips are remembered too); a message without a messageId gets a stable one derived from its
   content (``cdp-`` and 32 hex digits of a SHA-256), so a rerun sends the same id;
8. **batch** within the destination's limits and **deliver** (:mod:`.destination`); dead letters go
   to the dead-letter file with their status and reason; the checkpoint moves only after a batch's
   outcome is known.

Reading and shaping (steps 1 and 3 to 6, and encoding) run in worker processes (``--jobs``), chunk by
chunk, in order; the runner numbers the messages, resumes, de-duplicates and batches.

Memory: the reader streams; at most a few chunks and batches are in flight; the de-duplication set
holds a 64-bit hash per distinct messageId (about 60 MB of Python memory per million: ``--no-dedup``
switches it off; two different ids colliding in 64 bits is a one in 10^8 chance at a million ids).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from cdp_cli.errors import DestinationError, UsageError
from cdp_cli.replay.checkpoint import Checkpoint, Tracker, describe_inputs, expand, fold
from cdp_cli.replay.destination import Batch, DeadLetter, Message, Outcome, Progress
from cdp_cli.results import Table, plural

#: statuses that say the destination as a whole is failing (not this batch's content)
SYSTEMIC = frozenset({"connection", "timeout", "401", "403", "404", "407"})
#: batches in a row wholly dead-lettered with a systemic status before the replay stops
MAX_FAILING_BATCHES = 3
DEAD_LETTER_FORMAT = "cdp-replay-dead-letters"
KEEP_PROBLEMS = 100


@dataclass
class ReplayOptions:
    """Everything ``cdp events replay`` takes (the CLI flags, by the same names)."""

    inputs: list[Any]
    to: str
    since: datetime | str | None = None
    until: datetime | str | None = None
    types: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    exclude_events: list[str] = field(default_factory=list)
    plan: list[Any] | None = None
    on_unplanned: str = "allow"
    unplanned_properties: str = "keep"
    on_violation: str = "allow"
    transform: str | Path | None = None
    suppress: str | Path | None = None
    profiles: str | Path | None = None
    checkpoint: str | Path | None = None
    dead_letter: str | Path | None = None
    dry_run: bool = False
    dedup: bool = True
    force: bool = False
    write_key_env: str | None = None
    gzip: bool = False
    concurrency: int = 4
    rate: float | None = None
    timeout: float = 15.0
    max_retries: int = 10
    schema: str = "cdp"
    password_env: str | None = None
    batch_size: int | None = None
    jobs: int = 0  #: worker processes reading and shaping the input; 0 = all cores for inputs over 16 MB
    #: PostgreSQL: loader processes, each with its own connection; 0 = one per core (at most 4) for
    #: inputs over 16 MB, else 1 (always 1 without de-duplication)
    connections: int = 0

    def identity(self) -> dict[str, Any]:
        """The options that change what is sent (a checkpoint is only resumed with the same)."""
        keys = (
            "to since until types events exclude_events plan on_unplanned unplanned_properties on_violation "
            "transform suppress profiles dedup schema batch_size"
        ).split()
        out = {k: getattr(self, k) for k in keys}
        for k in ("transform", "suppress"):
            if out[k] is not None:  # the file's content counts, not only its name
                out[k] = [str(out[k]), hashlib.sha256(Path(out[k]).read_bytes()).hexdigest()[:16]]
        out["plan"] = [str(p) for p in out["plan"]] if out["plan"] else None
        return {k: (str(v) if isinstance(v, datetime | Path) else v) for k, v in out.items()}


@dataclass
class ReplayResult:
    command: str
    to: str
    kind: str
    dry_run: bool
    read: int = 0  #: messages read
    resumed: int = 0  #: messages an earlier run finished (skipped)
    sent: int = 0  #: acknowledged by the destination (would be sent, in a dry run)
    dropped: Counter[str] = field(default_factory=Counter)
    transformed: Counter[str] = field(default_factory=Counter)
    protocols: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)
    ids_generated: int = 0
    batches: int = 0
    problems: list[Any] = field(default_factory=list)
    problems_total: int = 0
    dead_letter: Path | None = None
    checkpoint: Path | None = None
    seconds: float = 0.0
    inputs: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return list(self.inputs)

    @property
    def findings(self) -> list[Any]:
        from cdp_cli.findings import Finding, Level
        from cdp_cli.rules import get_rule

        return [
            Finding(p.code, get_rule(p.code).name, Level.WARNING, p.file, p.line, p.column, p.message)
            for p in self.problems
        ]

    def failed(self, strict: bool = False) -> bool:
        """Anything dead-lettered fails the run (exit 1); with ``strict`` also skipped lines."""
        return bool(sum(self.dead.values())) or (strict and self.problems_total > 0)

    def summary(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "read": self.read,
            "resumed": self.resumed,
            "sent": self.sent,
            "dropped": dict(sorted(self.dropped.items())),
            "transformed": dict(sorted(self.transformed.items())),
            "protocols": dict(sorted(self.protocols.items())),
            "retried": dict(sorted(self.retried.items())),
            "dead_lettered": dict(sorted(self.dead.items())),
            "message_ids_generated": self.ids_generated,
            "batches": self.batches,
            "skipped_lines": self.problems_total,
            "dead_letter_file": str(self.dead_letter) if self.dead_letter and sum(self.dead.values()) else None,
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "seconds": round(self.seconds, 3),
            "messages_per_second": round(self.sent / self.seconds) if self.seconds > 0 else None,
        }

    def tables(self) -> list[Table]:
        from cdp_cli.replay.select import REASONS

        rows: list[list[Any]] = [["read", self.read]]
        if self.resumed:
            rows.append(["already done by an earlier run (skipped)", self.resumed])
        rows.append(["would be sent" if self.dry_run else "sent (acknowledged)", self.sent])
        words = {
            **REASONS,
            "suppressed": "suppressed identifier",
            "unplanned": "unplanned (--on-unplanned drop)",
            "violation": "plan violation (--on-violation drop)",
            "duplicate": "duplicate messageId",
            "too_large": "over the destination's message size",
        }
        for reason, n in sorted(self.dropped.items()):
            rows.append([f"dropped: {words.get(reason.split(':')[0], reason)}{_detail(reason)}", n])
        for status, n in sorted(self.dead.items()):
            rows.append([f"dead-lettered: {status}", n])
        for action, n in sorted(self.transformed.items()):
            rows.append([f"transformed: {action}", n])
        for action, n in sorted(self.protocols.items()):
            rows.append([f"plan: {action} recorded in context.protocols", n])
        for status, n in sorted(self.retried.items()):
            rows.append([f"retried: {status}", n])
        if self.ids_generated:
            rows.append(["messageId generated (none in the log)", self.ids_generated])
        if self.problems_total:
            rows.append(["lines skipped (not messages)", self.problems_total])
        return [Table("replay", ["what", "messages"], rows, frozenset({1}))]

    def verdict(self) -> str:
        dead = sum(self.dead.values())
        dropped = sum(self.dropped.values())
        verb = "would send" if self.dry_run else "sent"
        tail = f"; {plural(dead, 'message')} dead-lettered to {self.dead_letter}" if dead else ""
        rate = f" in {self.seconds:.1f}s" if self.seconds and not self.dry_run else ""
        return (
            f"events replay: {plural(self.read, 'message')} read, {verb} {self.sent:,} to {self.to}{rate}, "
            f"{dropped:,} dropped{tail}"
        )

    def warnings(self, most: int = 20) -> list[str]:
        lines = [f"{p.file}:{p.line}:{p.column}: {p.code} {p.message}; skipped" for p in self.problems[:most]]
        if self.problems_total > most:
            lines.append(
                f"... and {self.problems_total - most:,} more skipped line(s) (--format json lists the first 100)"
            )
        return lines


def _detail(reason: str) -> str:
    return f" ({reason.split(':', 1)[1]})" if ":" in reason else ""


# --- destinations ----------------------------------------------------------------------------------
def open_destination(options: ReplayOptions) -> Any:
    """The destination ``--to`` names (not yet opened)."""
    to = options.to
    if to == "-":
        from cdp_cli.replay.files import StdoutDestination

        return StdoutDestination()
    scheme = to.split(":", 1)[0].lower() if ":" in to else ""
    if scheme == "file":
        from cdp_cli.replay.files import FileDestination

        return FileDestination(to[5:], force=options.force)
    if scheme == "parquet":
        from cdp_cli.replay.parquet import ParquetDestination

        return ParquetDestination(to[8:])
    if scheme in ("http", "https"):
        from cdp_cli.replay.http import HttpDestination

        key = None
        if options.write_key_env:
            key = os.environ.get(options.write_key_env)
            if not key:
                raise UsageError(f"--write-key-env {options.write_key_env}: the environment variable is not set")
        return HttpDestination(
            to,
            write_key=key,
            gzip=options.gzip,
            concurrency=options.concurrency,
            rate=options.rate,
            timeout=options.timeout,
            max_retries=options.max_retries,
        )
    if scheme in ("postgresql", "postgres"):
        from cdp_cli.replay.postgres import PostgresDestination

        return PostgresDestination(
            to,
            schema=options.schema,
            password_env=options.password_env,
            batch_rows=options.batch_size or 10_000,
            connections=_connections(options),
        )
    raise UsageError(
        f"--to {to!r}: give file:PATH, - (standard output), parquet:DIR, an http(s):// URL of a Segment-compatible "
        "API, or a postgresql:// DSN"
    )


# --- the pipeline ----------------------------------------------------------------------------------
def _connections(options: ReplayOptions) -> int:
    """PostgreSQL loaders for ``--connections`` (see :attr:`ReplayOptions.connections`)."""
    from cdp_cli.events.reader import discover
    from cdp_cli.workers import cores, default_jobs

    if options.connections < 0:
        raise UsageError("--connections must be 0 (one per core) or more")
    if not options.dedup:
        if options.connections > 1:
            raise UsageError(
                "--connections above 1 needs de-duplication: without it one messageId can be in two batches "
                "loaded at once, and which copy wins would depend on timing (drop --no-dedup or --connections)"
            )
        return 1
    if options.connections:
        return options.connections
    if not hasattr(os, "fork"):
        return 1
    return min(cores(), 4) if default_jobs(discover([str(i) for i in options.inputs])) > 1 else 1


def _when(value: datetime | str | None, flag: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    from cdp_cli.events.model import parse_timestamp

    ts = parse_timestamp(value.strip())
    if ts is None:
        raise UsageError(
            f"{flag} {value!r}: not an ISO-8601 date or date-time such as 2026-11-01 or 2026-11-01T12:00:00Z"
        )
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def generated_id(msg: dict[str, Any]) -> str:
    """A stable messageId for a message that has none: the same content gives the same id."""
    return "cdp-" + hashlib.sha256(orjson.dumps(msg, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


class _DeadLetters:
    """The dead-letter NDJSON file: one line per message a destination refused for good, with its
    status, reason, origin and the message as it was to be sent. Appended to (and fsynced) before
    the checkpoint moves past them; replaced at the start of a fresh run only if cdp wrote it."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path, self.resume = path, resume
        self.fh: Any = None

    def write(self, dead: list[DeadLetter]) -> None:
        if not dead:
            return
        if self.fh is None:
            from cdp_cli.fsutil import output_error

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.fh = open(self.path, "ab" if self.resume else "wb")
            except OSError as e:
                raise output_error(self.path, e) from None
        lines = []
        for d in dead:
            m = d.message
            rec = {  # the first two keys say what the file is (cdp recognises its own files by them)
                "format": DEAD_LETTER_FORMAT,
                "written_by": "cdp",
                "status": d.status,
                "reason": d.reason,
                "file": m.file,
                "line": m.line,
                "index": m.index,
                "messageId": m.message_id,
                "message": m.data,
            }
            lines.append(orjson.dumps(rec) + b"\n")
        self.fh.write(b"".join(lines))
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def replay(options: ReplayOptions, observer: Any = None) -> ReplayResult:
    """Replay ``options.inputs`` to ``options.to`` (see the module docstring)."""
    from cdp_cli.events.reader import discover
    from cdp_cli.fsutil import check_file_replaceable, guard_outputs
    from cdp_cli.replay.select import TYPES, Selection

    started = time.perf_counter()
    bad = [t for t in options.types if t not in TYPES]
    if bad:
        raise UsageError(f"--type {bad[0]!r}: one of {', '.join(TYPES)}")
    for flag, value, choices in (
        ("--on-unplanned", options.on_unplanned, ("allow", "drop")),
        ("--unplanned-properties", options.unplanned_properties, ("keep", "omit")),
        ("--on-violation", options.on_violation, ("allow", "drop", "omit")),
    ):
        if value not in choices:
            raise UsageError(f"{flag} {value!r}: one of {', '.join(choices)}")
    if options.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if options.rate is not None and options.rate <= 0:
        raise UsageError("--rate must be a positive number of messages per second")
    if options.profiles is not None and options.suppress is None:
        raise UsageError("--profiles expands --suppress to whole profiles: give --suppress too")
    selection = Selection.of(
        _when(options.since, "--since"),
        _when(options.until, "--until"),
        options.types,
        options.events,
        options.exclude_events,
    )
    sources = discover([str(i) for i in options.inputs])
    dest = open_destination(options)
    if options.checkpoint is not None and dest.kind in ("file", "stdout", "parquet"):
        raise UsageError(
            f"--checkpoint: {dest.kind} outputs are written whole or not at all (a rerun starts over); "
            "a checkpoint applies to http(s) and postgresql destinations"
        )
    checkpoint_path = Path(options.checkpoint) if options.checkpoint else None
    dead_path = Path(options.dead_letter) if options.dead_letter else None
    if dead_path is None and not options.dry_run:
        dead_path = (
            Path(f"{checkpoint_path}.dead-letters.ndjson") if checkpoint_path else Path("replay-dead-letters.ndjson")
        )
    outputs: dict[str, Path | None] = {"--checkpoint": checkpoint_path, "--dead-letter": dead_path}
    if dest.kind == "file":
        outputs["--to"] = dest.path
    protected = [s.path for s in sources if s.path is not None]
    protected += [Path(p) for p in (options.transform, options.suppress) if p is not None]
    guard_outputs({k: v for k, v in outputs.items() if k != "--to"}, protected)
    if "--to" in outputs:
        guard_outputs({"--to": outputs["--to"]}, protected, dir_flags=("--to",))
    if hasattr(dest, "check"):
        dest.check()

    # the parts of the pipeline (each loads and checks its file before anything is sent)
    controls = None
    if options.plan:
        from cdp_cli.replay.protocols import load_controls

        controls = load_controls(
            list(options.plan),
            on_unplanned=options.on_unplanned,
            unplanned_properties=options.unplanned_properties,
            on_violation=options.on_violation,
        )
    plan_obj = controls.conf.plan if controls is not None else None
    transforms = None
    if options.transform is not None:
        from cdp_cli.replay.transform import load_transforms

        transforms = load_transforms(options.transform, plan=plan_obj)
    suppressions = None
    if options.suppress is not None:
        from cdp_cli.replay.suppress import load_suppressions

        suppressions = load_suppressions(options.suppress, profiles_dir=options.profiles)

    result = ReplayResult(
        "events replay",
        dest.label,
        dest.kind,
        options.dry_run,
        dead_letter=dead_path,
        checkpoint=checkpoint_path,
        inputs=[s.name for s in sources],
    )
    checkpoint = None
    state: dict[str, Any] | None = None
    if checkpoint_path is not None:
        checkpoint = Checkpoint(checkpoint_path, describe_inputs(sources), options.identity())
        state = checkpoint.load()
    if options.dry_run:
        tracker = Tracker(**({"watermark": state["watermark"], "acked": state["acked"]} if state else {}))
        _run(options, sources, selection, controls, transforms, suppressions, None, tracker, result, observer)
        result.seconds = time.perf_counter() - started
        return result
    stored = dest.open(checkpoint.key if checkpoint else "")
    ok = False
    dead_letters = _DeadLetters(dead_path, resume=state is not None) if dead_path else None
    if dead_path is not None and state is None:
        check_file_replaceable(dead_path, "--dead-letter")
    try:
        if stored is not None:  # both are true (each written once batches were committed): their union
            base = state or {"watermark": 0, "acked": []}
            acked = [*base["acked"], *expand(stored.get("acked", []))]
            state = fold(base["watermark"], acked, [(0, int(stored.get("watermark", 0)))])
        tracker = Tracker(**({"watermark": state["watermark"], "acked": state["acked"]} if state else {}))
        _run(
            options,
            sources,
            selection,
            controls,
            transforms,
            suppressions,
            dest,
            tracker,
            result,
            observer,
            checkpoint=checkpoint,
            dead_letters=dead_letters,
        )
        ok = True
    finally:
        try:
            dest.close(ok)
        finally:
            if dead_letters is not None:
                dead_letters.close()
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class _Shaped:
    """One chunk of the input, shaped: per message ``(file, line, index, hash of its messageId,
    why it is dropped or None, messageId, JSON text to send, actions)``; what the reader skipped."""

    records: list[tuple]
    problems: list[Any]
    stats: Any
    kept: list[tuple[dict, bytes] | None] | None = None


class Shaper:
    """What happens to a chunk of the input before the runner numbers and batches its messages:
    parse, select, suppress, plan controls, transforms, a messageId for those without one, and the
    JSON text to send (the line as read when nothing changed it). Runs in worker processes (forked:
    the loaded plan, transforms and suppression list are shared, never pickled); only bytes and
    small tuples come back. De-duplication and resuming need the whole replay: the runner does them."""

    def __init__(self, selection: Any, suppressions: Any, controls: Any, transforms: Any, *, strip_sent_at: bool):
        self.selection = None if selection.everything else selection
        self.suppressions, self.controls, self.transforms = suppressions, controls, transforms
        self.strip_sent_at = strip_sent_at

    def __call__(self, chunk: Any, keep: bool = False) -> _Shaped:
        """The chunk shaped. ``keep``: in a destination's own loader process (see
        :meth:`cdp_cli.replay.postgres.PostgresDestination.deliver_shaped`), which loads the messages
        itself: each record holds its JSON text's length instead of the text, and :attr:`_Shaped.kept`
        the message and its JSON text (None for a message dropped), for the loader to keep."""
        from cdp_cli.events.parse import parse_slices
        from cdp_cli.events.sources import ChunkRef, materialize
        from cdp_cli.events.stats import ReadStats

        if isinstance(chunk, ChunkRef):
            chunk = materialize(chunk)
        stats = ReadStats()
        problems: list = []
        out: list[tuple] = []
        append = out.append
        kept: list[tuple[dict, bytes] | None] = []
        selection, suppressions, controls, transforms = (
            self.selection,
            self.suppressions,
            self.controls,
            self.transforms,
        )
        strip = self.strip_sent_at
        dumps = orjson.dumps
        for records, found in parse_slices(chunk, stats, keep_raw=True):
            problems += found
            for rec in records:
                msg = rec.msg
                mid = msg.get("messageId")
                generated = not (isinstance(mid, str) and mid)
                if generated:
                    mid = generated_id(msg)
                why = selection.reason(msg) if selection is not None else None
                actions: tuple = ()
                if why is None and suppressions is not None:
                    kind = suppressions.match(msg)
                    if kind is not None:
                        why = f"suppressed:{kind}"
                if why is None and controls is not None:
                    shaped, why, done = controls.apply(msg)
                    if shaped is not None:
                        msg = shaped
                        actions += tuple(f"p:{a}" for a in done)
                if why is None and transforms is not None:
                    msg, done = transforms.apply(msg)
                    actions += tuple(f"t:{a.split(':', 1)[0]}" for a in done)
                raw = b""
                if why is None:
                    if generated:
                        msg = {**msg, "messageId": mid}
                        actions += ("id",)
                    if strip and "sentAt" in msg:
                        msg = {k: v for k, v in msg.items() if k != "sentAt"}
                    raw = rec.raw if msg is rec.msg and rec.raw is not None else dumps(msg)
                if keep:
                    kept.append((msg, raw) if why is None else None)
                    append((rec.file, rec.line, rec.index, hash(mid), why, mid, len(raw), actions))
                else:
                    append((rec.file, rec.line, rec.index, hash(mid), why, mid, raw, actions))
        return _Shaped(out, problems, stats, kept if keep else None)


def _count(result: ReplayResult, actions: tuple) -> None:
    for a in actions:
        if a == "id":
            result.ids_generated += 1
        elif a.startswith("p:"):
            result.protocols[a[2:]] += 1
        else:
            result.transformed[a[2:]] += 1


def _run(
    options: ReplayOptions,
    sources: list[Any],
    selection: Any,
    controls: Any,
    transforms: Any,
    suppressions: Any,
    dest: Any,
    tracker: Tracker,
    result: ReplayResult,
    observer: Any,
    *,
    checkpoint: Checkpoint | None = None,
    dead_letters: _DeadLetters | None = None,
) -> None:
    from cdp_cli.events.reader import CHUNK_LINES, iter_chunks
    from cdp_cli.events.stats import ReadStats
    from cdp_cli.results import Progress as Tick
    from cdp_cli.workers import default_jobs, ordered_map

    stats = ReadStats()
    seen: set[int] = set()
    skip_acked = set(tracker.resumed)
    watermark0 = tracker.watermark
    total_bytes = sum(s.size or 0 for s in sources) or None
    limits = dest.limits if dest is not None else None
    if limits is not None and options.batch_size:
        from cdp_cli.replay.destination import Limits

        limits = Limits(min(limits.max_messages, options.batch_size), limits.max_bytes)
    max_message = getattr(dest, "max_message_bytes", None)
    jobs = options.jobs if options.jobs > 0 else default_jobs(sources)
    #: the destination shapes the input in its own loader processes (PostgreSQL over several connections)
    loaders = dest is not None and getattr(dest, "connections", 1) > 1
    shaper = Shaper(
        selection, suppressions, controls, transforms, strip_sent_at=bool(getattr(dest, "fresh_sent_at", False))
    )

    def read(n: int) -> None:
        if observer is not None:
            observer(Tick("replay", n, total_bytes, "bytes", f"{result.sent:,} sent"))

    position = 0

    def kept(part: _Shaped) -> Iterator[tuple[int, int, tuple]]:
        """The records of a shaped chunk to send, as ``(index in the chunk, position, record)``:
        numbered, then without those resumed (done before), de-duplicated, or dropped; counted."""
        nonlocal position
        stats.merge(part.stats)
        result.problems_total += len(part.problems)
        room = KEEP_PROBLEMS - len(result.problems)
        if room > 0:
            result.problems.extend(part.problems[:room])
        dedup, dropped = options.dedup, result.dropped
        for j, record in enumerate(part.records):
            h, why, raw, actions = record[3], record[4], record[6], record[7]
            p = position
            position += 1
            if p < watermark0 or p in skip_acked:
                result.resumed += 1
                if dedup:
                    seen.add(h)
                continue
            if why is None and dedup:
                if h in seen:
                    why = "duplicate"
                else:
                    seen.add(h)
            if why is not None:
                dropped[why] += 1
                continue
            if actions:
                _count(result, actions)
            if max_message is not None and options.dry_run and len(raw) > max_message:
                dropped["too_large"] += 1
                continue
            yield j, p, record

    def chunks() -> Iterator[Any]:
        if not loaders:
            return iter_chunks(sources, progress=read, stats=stats, by_reference=jobs > 1)
        # a loader's batches are cut from the chunks it holds: chunks of a batch's size at least
        lines = max(CHUNK_LINES, limits.max_messages) if limits is not None else CHUNK_LINES
        return iter_chunks(sources, progress=read, stats=stats, by_reference=True, chunk_lines=lines)

    def messages() -> Iterator[Message]:
        shaped = ordered_map(shaper, chunks(), jobs) if jobs > 1 else map(shaper, chunks())
        for part in shaped:
            for _, p, (file, line, index, _h, _why, mid, raw, _actions) in kept(part):
                yield Message(p, file, line, mid, index=index, raw=raw)
        result.read = position

    if dest is None:  # a dry run: count what would be sent
        for _ in messages():
            result.sent += 1
        tracker.finish(position)
        return

    assert limits is not None and dead_letters is not None
    seq = 0
    failing: list[Outcome] = []

    def batches() -> Iterator[tuple[Batch, Progress | None]]:
        nonlocal seq
        current: list[Message] = []
        size = 0
        max_messages, max_bytes = limits.max_messages, limits.max_bytes
        for m in messages():
            n = m.size
            if current and (len(current) >= max_messages or size + n > max_bytes):
                yield cut(current, m.position)  # it covers everything before m (m opens the next batch)
                current, size = [], 0
            current.append(m)
            size += n
        if current:
            yield cut(current, position)  # the last one covers everything read

    def plan(part: _Shaped) -> list[tuple[Batch, Progress | None, list[int]]]:
        """A chunk shaped in a loader, cut into batches as :func:`batches` cuts the stream (within
        the chunk: a loader loads the messages it holds): per batch, its messages as they are known
        here (no JSON text: the loader has it), its checkpoint, the indexes of its records in the chunk."""
        out = []
        current: list[Message] = []
        indexes: list[int] = []
        size = 0
        max_messages, max_bytes = limits.max_messages, limits.max_bytes
        for j, p, (file, line, index, _h, _why, mid, n, _actions) in kept(part):
            if current and (len(current) >= max_messages or size + n > max_bytes):
                out.append((*cut(current, p), indexes))
                current, indexes, size = [], [], 0
            current.append(Message(p, file, line, mid, index=index, raw=b""))
            indexes.append(j)
            size += n
        if current:
            out.append((*cut(current, position), indexes))
        result.read = position
        return out

    def cut(msgs: list[Message], high: int) -> tuple[Batch, Progress | None]:
        """A batch of ``msgs``; once it is done (and every earlier one), every position before
        ``high`` is done: its messages, and the dropped ones between them."""
        nonlocal seq
        batch = Batch(seq, msgs)
        seq += 1
        tracker.add(batch.seq, high, [m.position for m in msgs])
        result.batches += 1
        progress = None
        if dest.transactional and checkpoint is not None:
            progress = Progress(
                checkpoint.key, checkpoint.document(tracker.state_after(batch.seq)), span=tracker.span(batch.seq)
            )
        return batch, progress

    def settle(outcome: Outcome) -> None:
        result.sent += len(outcome.acked)
        result.retried.update(outcome.retries)
        for d in outcome.dead:
            result.dead[d.status] += 1
        dead_letters.write(outcome.dead)
        tracker.complete(outcome.batch.seq)

    if loaders:
        outcomes = dest.deliver_shaped(chunks(), shaper, plan)
    else:
        outcomes = dest.deliver(batches())
    for outcome in outcomes:
        statuses = {d.status for d in outcome.dead}
        systemic = (
            bool(outcome.dead)
            and not outcome.acked
            and all(s in SYSTEMIC or (s.isdigit() and s.startswith("5")) for s in statuses)
        )
        if systemic:
            failing.append(outcome)
            result.retried.update(outcome.retries)
            if len(failing) >= MAX_FAILING_BATCHES:
                _save(checkpoint, tracker, result)
                why = ", ".join(sorted(statuses))
                raise DestinationError(
                    f"{dest.label}: {MAX_FAILING_BATCHES} batches in a row failed ({why}) after every retry: "
                    f"the destination is down or refuses the credentials. Stopped; {result.sent:,} messages "
                    "were delivered" + (f" and recorded in {checkpoint.path}: rerun to resume" if checkpoint else "")
                )
            continue
        for held in failing:  # the destination works: those were dead letters after all
            settle(held)
        failing.clear()
        settle(outcome)
        _save(checkpoint, tracker, result)
        if observer is not None:
            observer(Tick("replay", 0, total_bytes, "bytes", f"{result.sent:,} sent"))
    for held in failing:
        settle(held)
    tracker.finish(position)
    _save(checkpoint, tracker, result, done=True)


def _save(checkpoint: Checkpoint | None, tracker: Tracker, result: ReplayResult, done: bool = False) -> None:
    if checkpoint is None:
        return
    state = tracker.state()
    state["done"] = done
    state["counts"] = {"sent": result.sent, "dead_lettered": sum(result.dead.values())}
    checkpoint.save(state)
