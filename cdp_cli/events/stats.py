"""What the event reader counts and reports: problem codes (one EV rule each), :class:`Problem` and
:class:`ReadStats`. The bottom of the reader's layers (standard library only); the public names are
re-exported by :mod:`cdp_cli.events.reader`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Reader problem kinds: each maps to one EV rule code (see cdp_cli/rules/event_rules.py).
INVALID_UTF8 = "EV001"
INVALID_JSON = "EV002"
NOT_AN_OBJECT = "EV003"
NON_FINITE = "EV004"
LINE_TOO_LONG = "EV005"
STREAM_ERROR = "EV006"
FILE_UNREADABLE = "EV007"
NOT_NDJSON = "EV008"
SKIP_REASONS = {
    INVALID_UTF8: "invalid UTF-8",
    INVALID_JSON: "invalid JSON",
    NOT_AN_OBJECT: "not a JSON object",
    NON_FINITE: "NaN/Infinity",
    LINE_TOO_LONG: "line too long",
    NOT_NDJSON: "not NDJSON",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """A line (or stream) that could not be read as a message."""

    code: str
    file: str
    line: int
    column: int
    message: str


@dataclass
class ReadStats:
    """What reading saw. Every line is exactly one of blank, parsed or skipped."""

    files: int = 0
    bytes: int = 0  # bytes read from disk (compressed)
    lines: int = 0
    blank: int = 0
    parsed: int = 0  # lines that held a message (or a batch of them)
    messages: int = 0  # messages (a batch line holds several)
    skipped: Counter = field(default_factory=Counter)  # reason code -> lines
    stream_errors: int = 0

    def merge(self, other: ReadStats) -> None:
        self.lines += other.lines
        self.blank += other.blank
        self.parsed += other.parsed
        self.messages += other.messages
        self.skipped.update(other.skipped)
        self.stream_errors += other.stream_errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "lines": self.lines,
            "blank": self.blank,
            "parsed": self.parsed,
            "messages": self.messages,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": {SKIP_REASONS.get(k, k): v for k, v in sorted(self.skipped.items())},
            "stream_errors": self.stream_errors,
        }
