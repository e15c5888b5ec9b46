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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from cdp_cli.config import Config
from cdp_cli.events.reader import (
    Chunk, ReadStats, Source, discover, gc_paused, iter_chunks, materialize, parse_chunk,
)
from cdp_cli.findings import Finding, Level
from cdp_cli.jsonpath import printable
from cdp_cli.rules import REGISTRY, all_rules
from cdp_cli.pii import withhold
from cdp_cli.reporters import plural
from cdp_cli.workers import default_jobs, ordered_map

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

    __slots__ = ("checker", "findings", "rec", "label")

    def __init__(self, checker: "Checker", findings: list[Finding]) -> None:
        self.checker = checker
        self.findings = findings
        self.rec = None
        self.label = ""

    def emit(self, code: str, path: str, message: str, expected=None, found=None, value=_NO, violation_type=None) -> None:
        c = self.checker
        rec = self.rec
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
        self.findings.append(Finding(code, rule.name, c.levels[code], rec.file, rec.line, 0, printable(message), path, extra))


class Checker:
    """Everything needed to check messages, resolved once: rule switches and levels, options, the plan."""

    def __init__(self, config: Config | None = None, plan=None, *, now: datetime | None = None,
                 show_values: bool = False, fast: bool = True) -> None:
        from cdp_cli.lint.payload import PayloadChecks
        from cdp_cli.lint.spec import SpecChecks

        all_rules()
        self.config = config or Config()
        self.now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        self.show_values = show_values
        self._label_cache: dict[str, str] = {}
        self._labels: dict[tuple, str] = {}  # (type, event or name) -> summary label
        self.on = {code: self.config.enabled(code) for code in REGISTRY}
        self.rules = dict(REGISTRY)
        self.levels = {code: self.config.level(code) for code in REGISTRY}
        self.spec = SpecChecks(self)
        self.payload = PayloadChecks(self, plan)
        self.conformance = None
        if plan is not None:
            from cdp_cli.lint.conformance import Conformance

            self.conformance = Conformance(plan, self._safe_label)
        self.dedup = self.on["SP008"]
        self.max_line_bytes = int(self.config.option("EV005", "max_bytes"))
        self.fast = None
        if fast:
            from cdp_cli.lint.fastpath import FastPath

            self.fast = FastPath(self)
            self.fast.precompile()

    def _safe_label(self, label: str) -> str:
        """Event names can hold personal data ("Viewed by ada@example.com"): withhold those."""
        cached = self._label_cache.get(label)
        if cached is None:
            cached = withhold(label, self.show_values)
            if len(self._label_cache) > 50_000:
                self._label_cache.clear()
            self._label_cache[label] = cached
        return cached

    def check_chunk(self, chunk: Chunk) -> ChunkResult:
        import orjson

        stats = ReadStats()
        records, problems = parse_chunk(chunk, stats)
        findings: list[Finding] = []
        for p in problems:
            if self.on[p.code]:
                findings.append(self._finding(p.code, p.file, p.line, p.column, p.message, "", {}))
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
        safe = self._safe_label
        em = _Emitter(self, findings)
        emit = em.emit
        dumps = orjson.dumps
        labels = self._labels
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
                entry = conformance.check(msg, t, emit)
                if entry is not None:
                    pii_keys = entry.pii
            if tk in _CHECKED_TYPES:
                payload(msg, t, emit, pii_keys)
            if len(findings) > before:
                violating[label] = violating.get(label, 0) + 1
            if dedup:
                mid = msg.get("messageId")
                if type(mid) is str and mid:
                    hashes.append(hash(mid) & _MASK)
                    side.append(dumps((rec.source, rec.line, rec.index, mid, label)))
        if problems:
            findings.sort(key=lambda f: f.line)
        side_bytes = b"\n".join(side) + b"\n" if side else b""
        return ChunkResult(findings, stats, Counter(types), Counter(events), Counter(violating), hashes.tobytes(), side_bytes)

    def _finding(self, code, file, line, column, message, path, extra) -> Finding:
        rule = self.rules[code]
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

    @property
    def files(self) -> list[str]:
        return [s.name for s in self.sources]

    def failed(self, strict: bool = False) -> bool:
        return self.by_level[Level.ERROR] > 0 or (strict and self.by_level[Level.WARNING] > 0)

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
    inputs: Iterable[str | Path],
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

    from cdp_cli.lint.dedup import DedupIndex

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

    try:
        pause = gc_paused()
        pause.__enter__()
        chunks = iter_chunks(sources, max_line_bytes=checker.max_line_bytes, progress=progress, stats=result.stats,
                             by_reference=jobs > 1)
        results = ordered_map(_work_in(checker), chunks, jobs) if jobs > 1 else map(checker.check_chunk, chunks)
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
            names = [s.name for s in sources]
            rule = REGISTRY["SP008"]
            level = checker.levels["SP008"]
            for first, rec in dedup.duplicates():
                src, line, index, mid, label = rec
                mid = mid if checker.show_values else withhold(mid)
                f_src, f_line, f_index = first[0], first[1], first[2]
                where = f"{names[f_src]}:{f_line}" + (f" (batch[{f_index}])" if f_index is not None else "")
                extra: dict[str, Any] = {"event": label, "message_id": mid, "first_seen": where}
                if index is not None:
                    extra["batch_index"] = index
                sink(Finding("SP008", rule.name, level, names[src], line, 0,
                             f"messageId {mid!r} was already used at {where}; downstream this copy is dropped",
                             "$.messageId", extra))
    finally:
        pause.__exit__(None, None, None)
        if dedup is not None:
            dedup.close()
    result.seconds = time.perf_counter() - started
    return result


def load_plan_for_lint(paths: list[Path]):
    """Load and validate a plan for linting; a plan with errors is a PlanError (exit 2)."""
    from cdp_cli.errors import PlanError
    from cdp_cli.plan.validate import validate_paths

    result = validate_paths(list(paths))
    if not result.reports:
        raise PlanError(f"{', '.join(map(str, paths))}: no tracking plan found")
    if len(result.reports) > 1:
        names = ", ".join(r.plan.display_name for r in result.reports)
        raise PlanError(f"--plan names {len(result.reports)} plans ({names}); lint against one plan at a time")
    report = result.reports[0]
    errors = [f for f in report.findings if f.level is Level.ERROR]
    if errors:
        first = errors[0]
        raise PlanError(f"plan {report.plan.display_name} has {plural(len(errors), 'error')}, first: {first.file}:{first.line}:{first.column}: "
                        f"{first.code} {first.message} (run `cdp plan validate`)")
    return report.plan
