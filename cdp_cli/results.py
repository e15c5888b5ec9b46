"""What every library operation returns, and how it reports progress: plain data, no Rich objects.

- :class:`Table`: a titled table of plain values (the text reporter renders it; the JSON and HTML
  reporters can use it as is).
- :class:`Result`: the protocol every operation's result follows: ``summary()`` (a JSON-ready
  dict), ``tables()`` (:class:`Table` list), ``findings`` (:class:`~cdp_cli.findings.Finding`
  records), ``files``, ``failed(strict)`` and ``verdict()`` (the one-line outcome).
- :class:`Progress` and :data:`Observer`: the one progress callback. Long operations call it with
  how much was done; the CLI draws a progress bar from it, ``cdp run`` and tests can listen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cdp_cli.findings import Finding


@dataclass(frozen=True)
class Table:
    """A titled table of plain values. ``numeric`` holds the indexes of right-aligned columns."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    numeric: frozenset[int] = field(default_factory=frozenset)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


@runtime_checkable
class Result(Protocol):
    """The shape of every operation's result (validate, export, lint, resolve, show, explain, ...)."""

    command: str

    @property
    def findings(self) -> list[Finding]: ...

    @property
    def files(self) -> list[str]: ...

    def summary(self) -> dict[str, Any]: ...

    def tables(self) -> list[Table]: ...

    def failed(self, strict: bool = False) -> bool: ...

    def verdict(self) -> str: ...


class DefinitionResult:
    """The Result members of an operation run from one definitions file (``self.spec``) that finds no
    problems in data: no findings, the spec as its one file, and it fails only where it says so."""

    spec: Any

    @property
    def findings(self) -> list[Finding]:
        return []

    @property
    def files(self) -> list[str]:
        return [str(self.spec)]

    def failed(self, strict: bool = False) -> bool:
        return False


@dataclass(frozen=True)
class Progress:
    """One progress event: ``advance`` more ``unit`` done in ``phase`` (of ``total``, when known).
    ``detail`` is a short human note such as ``"12,000 events (40,000/s)"``."""

    phase: str
    advance: int = 0
    total: int | None = None
    unit: str = "bytes"
    detail: str = ""


Observer = Callable[[Progress], None]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 error``, ``2 errors``, ``200,000 errors``: counts as people write them."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
