"""``cdp privacy scan``: where personal data appears in event logs, as an inventory. Never a value.

Every message is walked whole (top-level fields, ``properties``, ``traits``, ``context``, nested
objects and arrays, as deep as event lint looks), and each place is judged two ways, with the same
detectors as the lint privacy rules:

- **by key**: the key's name suggests a class of personal data (:func:`cdp_cli.pii.classify_key`,
  Segment Privacy Portal style: ``email``, ``phone``, ``first_name`` -> name, ``ip_address`` -> ip,
  ``userId`` -> user_id, ``anonymousId`` -> device_id, ...);
- **by value**: the value holds an email address, a phone number, a payment card number, a US SSN
  or an IP address (:func:`cdp_cli.lint.payload.detect`: the PI001-PI005 detectors); strings of at
  least 6 characters, and integers over 8 digits whose key does not say "id", as lint checks them;
- **in a key name**: the key itself holds personal data (``properties["ada@example.com"]``); its
  path shows ``[(withheld)]`` in its place.

An inventory row is a key path (array positions as ``[*]``), a class, how it was found, how many
times, in how many files, and the first few locations (``file:line``). Values never leave this
module, not even in examples. Value rows are also findings (the PI rule codes, level info), so the
github and sarif reporters can show them; key rows are in the tables and the JSON summary. An
inventory judges nothing: the scan does not fail on what it finds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdp_cli.findings import Finding, Level
from cdp_cli.results import Observer, Progress, Table, plural

#: the class of personal data each value detector finds (names from cdp_cli.pii.PII_CLASSES)
VALUE_CLASSES = {"PI001": "email", "PI002": "phone", "PI003": "credit_card", "PI004": "ssn", "PI005": "ip"}
_WHAT = {
    "email": "email addresses",
    "phone": "phone numbers",
    "credit_card": "payment card numbers",
    "ssn": "US Social Security numbers",
    "ip": "IP addresses",
}
#: top-level fields whose values are the message's own machinery, never personal data
_MACHINERY = frozenset(
    {"messageId", "timestamp", "originalTimestamp", "sentAt", "receivedAt", "type", "version", "channel"}
)
MAX_DEPTH = 8  #: as deep as event lint looks
MAX_KEYS = 1000  #: keys looked at per message, as event lint
KEEP_PROBLEMS = 100


@dataclass
class ScanOptions:
    inputs: list[Any]
    examples: int = 3  #: example locations per inventory row
    keep: int = 10_000  #: distinct inventory rows kept (dynamic keys can make many); the rest are counted


@dataclass
class Entry:
    """One inventory row: personal data of ``cls`` at ``path``, found ``by`` key, value or key name."""

    path: str
    cls: str
    by: str
    count: int = 0
    files: set[str] = field(default_factory=set)
    examples: list[tuple[str, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "class": self.cls,
            "found_by": self.by,
            "count": self.count,
            "files": len(self.files),
            "examples": [f"{f}:{n}" for f, n in self.examples],
        }


@dataclass
class ScanResult:
    """The inventory of a scan: plain data, no value anywhere."""

    inputs: list[str]
    entries: list[Entry] = field(default_factory=list)
    messages: int = 0
    lines: int = 0
    skipped: int = 0  #: lines that are not messages
    overflow: int = 0  #: occurrences at inventory rows beyond ``keep``
    problems: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    command: str = "privacy scan"

    @property
    def files(self) -> list[str]:
        return list(self.inputs)

    @property
    def findings(self) -> list[Finding]:
        """Value rows as findings (PI codes, level info), then the first lines that are not messages."""
        from cdp_cli.rules import get_rule

        out: list[Finding] = []
        for e in self.entries:
            code = next((c for c, cls in VALUE_CLASSES.items() if cls == e.cls), None)
            if e.by != "value" or code is None or not e.examples:
                continue
            file, line = e.examples[0]
            message = (
                f"{_WHAT[e.cls]} in values at {e.path}: {plural(e.count, 'time')} in {plural(len(e.files), 'file')} "
                "(first here)"
            )
            extra = {"class": e.cls, "count": e.count, "examples": [f"{f}:{n}" for f, n in e.examples]}
            out.append(Finding(code, get_rule(code).name, Level.INFO, file, line, 0, message, e.path, extra))
        return out + self.problems

    def warnings(self, most: int = 20) -> list[str]:
        lines = [f"{p.file}:{p.line}:{p.column}: {p.code} {p.message}" for p in self.problems[:most]]
        if self.skipped > most:
            lines.append(f"... and {self.skipped - most:,} more lines that are not messages (--format json lists more)")
        return lines

    def failed(self, strict: bool = False) -> bool:
        """An inventory judges nothing; with ``strict``, lines that are not messages fail the run."""
        return strict and self.skipped > 0

    def classes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            out[e.cls] = out.get(e.cls, 0) + e.count
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.inputs),
            "lines": self.lines,
            "messages": self.messages,
            "skipped_lines": self.skipped,
            "key_paths": len({e.path for e in self.entries}),
            "by_class": self.classes(),
            "inventory": [e.as_dict() for e in self.entries],
            "not_itemised": self.overflow,
            "seconds": round(self.seconds, 3),
        }

    def tables(self) -> list[Table]:
        rows = [
            [e.path, e.cls, e.by, e.count, len(e.files), ", ".join(f"{f}:{n}" for f, n in e.examples)]
            for e in self.entries
        ]
        if self.overflow:
            rows.append(["(more key paths than --keep)", "", "", self.overflow, 0, ""])
        cols = ["key path", "class", "found by", "count", "files", "examples"]
        return [Table("personal data inventory (no values)", cols, rows, frozenset({3, 4}))]

    def verdict(self) -> str:
        where = f"{plural(self.messages, 'message')} of {plural(len(self.inputs), 'file')}"
        if not self.entries:
            return f"privacy scan: no personal data found in {where}"
        by: dict[str, int] = {}
        for e in self.entries:
            by[e.by] = by.get(e.by, 0) + 1
        how = ", ".join(f"{n:,} by {k}" for k, n in sorted(by.items()))
        paths = len({e.path for e in self.entries})
        return f"privacy scan: personal data at {plural(paths, 'key path')} ({how}) in {where}"


class _Inventory:
    """Walks messages and counts what it finds. Verdicts on keys are cached (a log repeats the same few
    hundred keys); a message's strings are scanned in one pass, joined, as event lint does, and each
    hit is traced back to its string."""

    def __init__(self, options: ScanOptions) -> None:
        from cdp_cli.jsonpath import json_path
        from cdp_cli.lint.payload import detect
        from cdp_cli.pii import classify_key, personal_data_in

        self.options = options
        self.rows: dict[tuple[str, str, str], Entry] = {}
        self.overflow = 0
        self.file = ""
        self.line = 0
        self._json_path, self._detect = json_path, detect
        self._classify, self._hidden = classify_key, personal_data_in
        #: key -> (its path part, class of the personal data in its name or None, class its name suggests or None)
        self._keys: dict[str, tuple[str, str | None, str | None]] = {}

    def _key(self, key: str) -> tuple[str, str | None, str | None]:
        verdict = self._keys.get(key)
        if verdict is None:
            hidden = self._hidden(key)
            if hidden is not None:
                verdict = ("[(withheld)]", VALUE_CLASSES.get(hidden, "other"), None)
            else:
                cls = self._classify(key)
                verdict = (self._json_path([key])[1:], None, cls if cls not in ("none", "other") else None)
            if len(self._keys) >= 100_000:
                self._keys.clear()
            self._keys[key] = verdict
        return verdict

    def add(self, path: str, cls: str, by: str) -> None:
        k = (path, cls, by)
        e = self.rows.get(k)
        if e is None:
            if len(self.rows) >= self.options.keep:
                self.overflow += 1
                return
            e = self.rows[k] = Entry(path, cls, by)
        e.count += 1
        if len(e.files) < 100_000:
            e.files.add(self.file)
        if len(e.examples) < self.options.examples and (self.file, self.line) not in e.examples:
            e.examples.append((self.file, self.line))

    def message(self, msg: dict[str, Any]) -> None:
        strings: list[tuple[str, str]] = []  # (path, text) of the values worth a look
        self._walk(msg, "$", 0, [0], strings)
        if not strings:
            return
        joined = "\n".join([text for _, text in strings])
        hits = self._detect(joined)
        if not hits:
            return
        import bisect

        starts = []
        pos = 0
        for _, text in strings:
            starts.append(pos)
            pos += len(text) + 1
        done: set[tuple[int, str]] = set()
        for code, _, at in hits:
            cls = VALUE_CLASSES.get(code)
            i = bisect.bisect_right(starts, at) - 1
            if cls is not None and (i, cls) not in done:
                done.add((i, cls))
                self.add(strings[i][0], cls, "value")

    def _walk(self, obj: dict[str, Any], path: str, depth: int, seen: list[int], strings: list) -> None:
        for key, value in obj.items():
            seen[0] += 1
            if seen[0] > MAX_KEYS:
                return
            part, hidden, cls = self._key(key)
            here = path + part
            if hidden is not None:
                self.add(here, hidden, "key name")
            elif cls is not None:
                self.add(here, cls, "key")
            if depth == 0 and key in _MACHINERY:
                continue
            self._value(key, value, here, depth, seen, strings)

    def _value(self, key: str, value: Any, here: str, depth: int, seen: list[int], strings: list) -> None:
        tv = type(value)
        if tv is str:
            if len(value) >= 6 and "version" not in key.lower():
                strings.append((here, value))
        elif tv is int:
            if value > 99_999_999 and "id" not in key.lower():
                strings.append((here, str(value)))
        elif tv is dict:
            if depth < MAX_DEPTH:
                self._walk(value, here, depth + 1, seen, strings)
        elif tv is list and depth < MAX_DEPTH:
            for item in value:
                self._value(key, item, here + "[*]", depth + 1, seen, strings)


def scan(options: ScanOptions, observer: Observer | None = None) -> ScanResult:
    """Inventory the personal data of ``options.inputs`` (see the module docstring)."""
    import time

    from cdp_cli.errors import UsageError
    from cdp_cli.events.reader import ReadStats, discover, gc_paused, iter_records
    from cdp_cli.rules import get_rule

    if options.examples < 0 or options.keep < 1:
        raise UsageError("--examples must be 0 or more and --keep at least 1")
    started = time.perf_counter()
    sources = discover([str(i) for i in options.inputs])
    result = ScanResult([s.name for s in sources])
    stats = ReadStats()
    inv = _Inventory(options)

    def problem(p: Any) -> None:
        if len(result.problems) < KEEP_PROBLEMS:
            message = f"{p.message}; not scanned"
            result.problems.append(
                Finding(p.code, get_rule(p.code).name, Level.WARNING, p.file, p.line, p.column, message)
            )

    progress = None
    if observer is not None:
        total = sum(s.size or 0 for s in sources) if all(s.size is not None for s in sources) else None

        def progress(n: int) -> None:
            observer(Progress("read", n, total, "bytes"))

    with gc_paused():
        for record in iter_records(sources, stats=stats, problems=problem, progress=progress):
            inv.file, inv.line = record.file, record.line
            inv.message(record.msg)
    result.messages = stats.messages
    result.lines = stats.lines
    result.skipped = sum(stats.skipped.values())
    result.entries = sorted(inv.rows.values(), key=lambda e: (e.path, e.cls, e.by))
    result.overflow = inv.overflow
    result.seconds = time.perf_counter() - started
    return result
