"""``cdp events lint`` as a library call: stream event logs, check every message, count everything.

The work unit is a :class:`~cdp_cli.events.reader.Chunk` (a few thousand lines): :meth:`Checker.check_chunk`
parses and checks one and returns a :class:`ChunkResult`. With ``jobs > 1`` chunks go to worker
processes (forked, so the compiled plan is shared, never pickled) with a bounded number in flight;
results are merged in input order, so output is identical whatever ``jobs`` is. Findings stream to a
callback (the ``--findings-out`` file, the report); only counts and the first ``keep`` findings stay
in memory, so memory is bounded by the chunk size, the in-flight limit, and the dedup index.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from cdp_cli.config import Config
from cdp_cli.events.reader import (
    Chunk,
    ReadStats,
    Record,
    Source,
    discover,
    gc_paused,
    iter_chunks,
    materialize,
    parse_slices,
)
from cdp_cli.findings import Finding, Level
from cdp_cli.jsonpath import printable
from cdp_cli.lint.context import LintContext
from cdp_cli.pii import withhold
from cdp_cli.plan.load import load_valid_plan
from cdp_cli.reporters import plural
from cdp_cli.rules.codes import INPUT_LINE_TOO_LONG, SPEC_DUPLICATE_MESSAGE_ID
from cdp_cli.workers import default_jobs, ordered_map

#: The former name of :func:`cdp_cli.plan.load.load_valid_plan`, kept for callers.
load_plan_for_lint = load_valid_plan

_EMPTY: frozenset = frozenset()
_MASK = (1 << 64) - 1
_CHECKED_TYPES = frozenset(("track", "page", "screen", "identify", "group", "alias"))
TOP_NAMES_MAX = 10_000  # distinct event names tracked for the summary; the rest count as "(other)"
_NO = object()


@dataclass
class ChunkResult:
    findings: list[Finding]
    stats: ReadStats
    types: Counter
    events: Counter
    violating: Counter  # display name -> messages with at least one finding
    mid_hashes: bytes = b""
    mid_side: bytes = b""


def _event_label(msg: dict[str, Any]) -> str:
    t = msg.get("type")
    if t == "track":
        e = msg.get("event")
        return e if isinstance(e, str) and e else "(track without event)"
    if t in ("page", "screen"):
        n = msg.get("name")
        label = "Page Viewed" if t == "page" else "Screen Viewed"
        return f"{label}: {n}" if isinstance(n, str) and n else label
    return t if isinstance(t, str) and t else "(no type)"


class _Emitter:
    """Turns a rule's report about the current record into a Finding (one object per chunk, so no
    closure is built per message)."""

    __slots__ = ("ctx", "findings", "rec", "label")

    def __init__(self, ctx: LintContext, findings: list[Finding]) -> None:
        self.ctx = ctx
        self.findings = findings
        self.rec: Record | None = None
        self.label = ""

    def emit(
        self, code: str, path: str, message: str, expected=None, found=None, value=_NO, violation_type=None
    ) -> None:
        c = self.ctx
        rec = cast(Record, self.rec)  # set by Checker.check_chunk before any rule can report
        msg = rec.msg
        extra: dict[str, Any] = {"event": printable(self.label)}
        mid = msg.get("messageId")
        if type(mid) is str:
            extra["message_id"] = mid if c.show_values else withhold(mid)
        if rec.index is not None:
            extra["batch_index"] = rec.index
        if expected is not None:
            extra["expected"] = expected
        if found is not None:
            extra["found"] = found
        if violation_type:
            extra["violation_type"] = violation_type
        if c.show_values and value is not _NO:
            extra["value"] = value
        rule = c.rules[code]
        self.findings.append(
            Finding(code, rule.name, c.levels[code], rec.file, rec.line, 0, printable(message), path, extra)
        )


class Checker:
    """Everything needed to check messages, resolved once: rule switches and levels, options, the plan."""

    def __init__(
        self,
        config: Config | None = None,
        plan=None,
        *,
        now: datetime | None = None,
        show_values: bool = False,
        fast: bool = True,
    ) -> None:
        from cdp_cli.lint.payload import PayloadChecks
        from cdp_cli.lint.spec import SpecChecks

        self.config = config or Config()
        self.now = (now or datetime.now(UTC)).astimezone(UTC)
        self.show_values = show_values
        #: What the parts get (never the checker itself): settings, rule switches and levels, the
        #: function that withholds names holding personal data.
        self.ctx = ctx = LintContext.build(self.config, self.now, show_values)
        self.on = ctx.on
        self.levels = ctx.levels
        self._labels: dict[tuple, str] = {}  # (type, event or name) -> summary label
        self.spec = SpecChecks(ctx)
        self.payload = PayloadChecks(ctx, plan)
        self.conformance = None
        if plan is not None:
            from cdp_cli.lint.conformance import Conformance

            self.conformance = Conformance(plan, ctx.safe)
        self.dedup = ctx.on[SPEC_DUPLICATE_MESSAGE_ID]
        self.max_line_bytes = int(self.config.option(INPUT_LINE_TOO_LONG, "max_bytes"))
        self.fast = None
        if fast:
            from cdp_cli.lint.fastpath import FastPath

            self.fast = FastPath(ctx, self.spec, self.payload, self.conformance)
            self.fast.precompile()

    def check_chunk(self, chunk: Chunk) -> ChunkResult:
        import orjson

        stats = ReadStats()
        findings: list[Finding] = []
        any_problems = False
        types: dict = {}
        events: dict = {}
        violating: dict = {}
        hashes = array("Q")
        side: list[bytes] = []
        spec = self.spec.check
        payload = self.payload.check
        conformance = self.conformance
        dedup = self.dedup
        fast = self.fast.clean if self.fast is not None else None
        safe = self.ctx.safe
        em = _Emitter(self.ctx, findings)
        emit = em.emit
        dumps = orjson.dumps
        labels = self._labels
        for records, problems in parse_slices(chunk, stats):
            for p in problems:
                any_problems = True
                if self.on[p.code]:
                    findings.append(self._finding(p.code, p.file, p.line, p.column, p.message, "", {}))
            for rec in records:
                msg = rec.msg
                t = msg.get("type")
                tk = t if type(t) is str and len(t) < 40 else "(invalid)"
                types[tk] = types.get(tk, 0) + 1
                nm = msg.get("event") if t == "track" else (msg.get("name") if t == "page" or t == "screen" else None)
                if (nm is None or type(nm) is str) and (t is None or type(t) is str):
                    label = labels.get((t, nm))
                    if label is None:
                        label = safe(_event_label(msg))
                        if len(labels) > 50_000:
                            labels.clear()
                        labels[(t, nm)] = label
                else:
                    label = safe(_event_label(msg))
                events[label] = events.get(label, 0) + 1
                if fast is not None and fast(msg, rec):
                    if dedup:
                        mid = msg.get("messageId")
                        hashes.append(hash(mid) & _MASK)
                        side.append(dumps((rec.source, rec.line, rec.index, mid, label)))
                    continue
                before = len(findings)
                em.rec = rec
                em.label = label
                spec(msg, rec, emit)
                pii_keys: frozenset = _EMPTY
                if conformance is not None and tk in _CHECKED_TYPES:
                    entry = conformance.check(msg, tk, emit)  # tk is t here: a checked type is a str
                    if entry is not None:
                        pii_keys = entry.pii
                if tk in _CHECKED_TYPES:
                    payload(msg, tk, emit, pii_keys)  # tk is t (a str) here
                if len(findings) > before:
                    violating[label] = violating.get(label, 0) + 1
                if dedup:
                    mid = msg.get("messageId")
                    if type(mid) is str and mid:
                        hashes.append(hash(mid) & _MASK)
                        side.append(dumps((rec.source, rec.line, rec.index, mid, label)))
        if any_problems:
            findings.sort(key=lambda f: f.line)
        side_bytes = b"\n".join(side) + b"\n" if side else b""
        return ChunkResult(
            findings, stats, Counter(types), Counter(events), Counter(violating), hashes.tobytes(), side_bytes
        )

    def _finding(self, code, file, line, column, message, path, extra) -> Finding:
        rule = self.ctx.rules[code]
        return Finding(code, rule.name, self.levels[code], file, line, column, message, path, extra)


@dataclass
class LintResult:
    """Counts of a whole run, and the findings that were kept (``keep``); all are counted."""

    sources: list[Source]
    stats: ReadStats = field(default_factory=ReadStats)
    findings: list[Finding] = field(default_factory=list)
    total_findings: int = 0
    by_code: Counter = field(default_factory=Counter)
    by_level: Counter = field(default_factory=Counter)
    types: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    violating: Counter = field(default_factory=Counter)
    plan: str | None = None
    seconds: float = 0.0
    jobs: int = 1
    levels: dict[str, str] = field(default_factory=dict)  #: code -> level as configured (.cdp.yaml)
    command: str = "events lint"

    @property
    def files(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def empty(self) -> bool:
        """No message was read: nothing was checked."""
        return self.stats.messages == 0

    def failed(self, strict: bool = False) -> bool:
        return (
            self.by_level[Level.ERROR] > 0 or (strict and self.by_level[Level.WARNING] > 0) or (strict and self.empty)
        )

    def totals(self) -> dict[str, int]:
        """Counts of every finding (the result keeps only the first ``keep``): error, warning, hidden."""
        return {
            "error": self.by_level[Level.ERROR],
            "warning": self.by_level[Level.WARNING],
            "hidden": self.total_findings - len(self.findings),
        }

    def verdict(self) -> str:
        errors, warnings = self.by_level[Level.ERROR], self.by_level[Level.WARNING]
        return f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(len(self.files), 'file')}"

    def tables(self, top: int = 10) -> list:
        """Input, messages by type, top events, findings by rule, events with most violations."""
        from cdp_cli.results import Table
        from cdp_cli.rules import get_rule

        s = self.stats
        why = ", ".join(f"{n:,} {reason}" for reason, n in s.as_dict()["skipped_by_reason"].items()) or "-"
        if s.stream_errors:
            why += f"; {s.stream_errors} unreadable/truncated file(s)"
        tables = [
            Table(
                "Input",
                ["files", "lines", "blank", "messages", "skipped", "skipped why"],
                [[s.files, s.lines, s.blank, s.messages, sum(s.skipped.values()), why]],
                frozenset({0, 1, 2, 3, 4}),
            ),
            Table("Messages", ["type", "messages"], [[t, n] for t, n in self.types.most_common()], frozenset({1})),
        ]
        if self.events:
            tables.append(
                Table(
                    f"Top events (of {len(self.events):,})",
                    ["event", "messages", "with findings"],
                    [[name, n, self.violating.get(name, 0)] for name, n in self.events.most_common(top)],
                    frozenset({1, 2}),
                )
            )
        if self.by_code:
            tables.append(
                Table(
                    "Findings by rule",
                    ["code", "rule", "level", "findings"],
                    [
                        [code, get_rule(code).name, self.levels.get(code, get_rule(code).level.value), n]
                        for code, n in sorted(self.by_code.items())
                    ],
                    frozenset({3}),
                )
            )
        if self.violating:
            tables.append(
                Table(
                    "Events with most violations",
                    ["event", "messages with findings", "share"],
                    [
                        [name, n, f"{100 * n / (self.events.get(name, 0) or 1):.1f}%"]
                        for name, n in self.violating.most_common(5)
                    ],
                    frozenset({1, 2}),
                )
            )
        return tables

    def summary(self) -> dict[str, Any]:
        return {
            **self.stats.as_dict(),
            "plan": self.plan,
            "messages_by_type": dict(self.types.most_common()),
            "top_events": dict(self.events.most_common(20)),
            "findings": self.total_findings,
            "errors": self.by_level[Level.ERROR],
            "warnings": self.by_level[Level.WARNING],
            "infos": self.by_level[Level.INFO],
            "findings_by_rule": dict(sorted(self.by_code.items())),
            "events_with_most_violations": dict(self.violating.most_common(10)),
            "seconds": round(self.seconds, 3),
            "jobs": self.jobs,
            "findings_in_report": len(self.findings),
            **({"no_input": "no messages were read"} if self.empty else {}),
        }


def _bounded_add(target: Counter, source: Counter) -> None:
    for key, n in source.items():
        if key in target or len(target) < TOP_NAMES_MAX:
            target[key] += n
        else:
            target["(other names)"] += n


def _work_in(checker: Checker):
    def work(chunk) -> ChunkResult:
        return checker.check_chunk(materialize(chunk, checker.max_line_bytes))

    return work


def lint(
    inputs: Iterable[str | Path | Source],
    *,
    plan_paths: list[Path] | None = None,
    config: Config | None = None,
    now: datetime | None = None,
    show_values: bool = False,
    jobs: int = 1,
    keep: int | None = 1000,
    on_finding: Callable[[Finding], None] | None = None,
    progress: Callable[[int], None] | None = None,
    on_chunk: Callable[[LintResult], None] | None = None,
) -> LintResult:
    """Lint event logs. ``keep``: findings kept in :attr:`LintResult.findings` (None: all).
    Raises :class:`~cdp_cli.errors.InputError` for missing inputs and
    :class:`~cdp_cli.errors.PlanError` for a plan with errors."""
    import time

    from cdp_cli.lint.dedup import DedupIndex, duplicate_findings

    started = time.perf_counter()
    sources = discover(inputs)
    plan = load_plan_for_lint(plan_paths) if plan_paths else None
    checker = Checker(config, plan, now=now, show_values=show_values)
    if jobs <= 0:
        jobs = default_jobs(sources)
    result = LintResult(sources, plan=plan.display_name if plan else None, jobs=jobs)
    dedup = DedupIndex() if checker.dedup else None

    def sink(f: Finding) -> None:
        result.total_findings += 1
        result.by_code[f.code] += 1
        result.by_level[f.level] += 1
        if keep is None or len(result.findings) < keep:
            result.findings.append(f)
        if on_finding is not None:
            on_finding(f)

    import contextlib

    with contextlib.ExitStack() as stack:
        stack.enter_context(gc_paused())
        if dedup is not None:
            stack.callback(dedup.close)
        chunks = iter_chunks(
            sources, max_line_bytes=checker.max_line_bytes, progress=progress, stats=result.stats, by_reference=jobs > 1
        )
        # one process: no by_reference, so iter_chunks yields Chunk objects only
        results = (
            ordered_map(_work_in(checker), chunks, jobs)
            if jobs > 1
            else map(checker.check_chunk, cast("Iterable[Chunk]", chunks))
        )
        for res in results:
            result.stats.merge(res.stats)
            result.types.update(res.types)
            _bounded_add(result.events, res.events)
            _bounded_add(result.violating, res.violating)
            for f in res.findings:
                sink(f)
            if dedup is not None and res.mid_hashes:
                dedup.add(res.mid_hashes, res.mid_side)
            if on_chunk is not None:
                on_chunk(result)
        if dedup is not None:
            for f in duplicate_findings(dedup, [s.name for s in sources], checker.ctx):
                sink(f)
    result.seconds = time.perf_counter() - started
    return result
