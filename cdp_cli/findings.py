"""Findings: the records every checking command produces.

A finding is a small frozen record (code, rule name, level, where, message). The Python API and the
JSON reporter hand out the same records, so ``cdp ... --format json`` is the library's result as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Level(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in a file.

    ``line`` and ``column`` are 1-based; 0 means unknown. ``path`` is a JSON path inside the document
    (``$.events['Order Completed'].properties.total``) where that helps.
    """

    code: str
    rule: str
    level: Level
    file: str
    line: int
    column: int
    message: str
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.column, self.code, self.message)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "rule": self.rule,
            "level": self.level.value,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }
        if self.extra:
            data.update(self.extra)
        return data


def count_levels(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {lvl.value: 0 for lvl in Level}
    for f in findings:
        counts[f.level.value] += 1
    return counts


def fails(findings: Iterable[Finding], strict: bool = False) -> bool:
    """True when the findings should make a command exit 1."""
    for f in findings:
        if f.level is Level.ERROR or (strict and f.level is Level.WARNING):
            return True
    return False
