"""``cdp collect``: a local, Segment-compatible collection endpoint for development and tests.

Point any Segment (or RudderStack) client at it: it speaks Segment's HTTP tracking API
(``POST /v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``, ``/v1/screen``, ``/v1/group``,
``/v1/alias``, and ``/v1/import``, the batch route of legacy Android SDKs), with its write-key auth,
gzip bodies, limits, status codes and wording, and stamps ``receivedAt`` and the clock-skew corrected
``timestamp`` as Segment does. Messages are acknowledged only once they are durably written, to
NDJSON files every cdp command reads (``cdp events lint DIR``, ``cdp events replay DIR``).

- :mod:`cdp_cli.collect.store`: the rotating, atomic, group-committed NDJSON writer, crash recovery;
- :mod:`cdp_cli.collect.inspect`: the in-memory ring of recent messages, queries, counters, waiting;
- :mod:`cdp_cli.collect.server`: the HTTP server, the wire rules, the inspection API, fault injection,
  :func:`run_collector`.

This module holds only the options and the result (light: no HTTP, no JSON library), so
:mod:`cdp_cli.api` can name them without loading the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdp_cli.findings import Finding, Level
from cdp_cli.results import Observer, Table, plural

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from threading import Event

__all__ = ["CollectOptions", "CollectResult", "run_collector", "parse_size"]

PathLike = str | Path

DEFAULT_PORT = 8088


@dataclass
class CollectOptions:
    """What ``cdp collect`` runs with (every field has the CLI option of the same name)."""

    out: PathLike  #: the output directory (created; only a new, empty or earlier collector's directory)
    port: int = DEFAULT_PORT  #: 0: any free port (the URL is announced)
    host: str = "127.0.0.1"  #: loopback by default: nothing outside this machine can send or read
    write_keys: PathLike | None = None  #: a file of accepted write keys, one a line; None: any key
    plan: Sequence[PathLike] | None = None  #: lint each message against this plan (implies lint)
    lint: bool = False  #: lint each message with the event rules (spec, naming, privacy)
    config: Any = None  #: a Config, a .cdp.yaml path, or None (the nearest .cdp.yaml) for the rules
    search_config: bool = True
    show_values: bool = False  #: put offending values in findings (they hold personal data)
    suppress: PathLike | None = None  #: a suppression file: these people's messages are dropped at the door
    profiles: PathLike | None = None  #: a `cdp profiles resolve` directory to expand suppression to profiles
    rotate_bytes: int | str = "64M"  #: close a file at this size (bytes, or with k/M/G)
    rotate_seconds: float = 60.0  #: close a file this old, so readers see it
    recent: int = 10_000  #: messages kept in memory for the inspection API
    fail_rate: float = 0.0  #: answer this share of /v1 requests with a --fail-status, storing nothing
    fail_status: Sequence[int] | str = (500,)  #: statuses the injected faults use ("429,500" or a list)
    retry_after: float | None = None  #: a Retry-After header (seconds) on injected 429 and 503 answers
    seed: int | None = None  #: seed of the fault injection's random choices (reproducible runs)
    durable: bool = True  #: sync before acknowledging (False: faster, but a crash may lose acked messages)
    duration: float | None = None  #: stop by itself after this many seconds (None: on SIGINT/SIGTERM)


@dataclass
class CollectResult:
    """What a collector run received and wrote (counts, files); findings when it linted."""

    out: Path
    url: str = ""
    seconds: float = 0.0
    counters: dict[str, Any] = field(default_factory=dict)  #: inspect.Counters.as_dict() since the start
    written: list[str] = field(default_factory=list)  #: event files closed by this run (names in ``out``)
    recovered: list[str] = field(default_factory=list)  #: files completed from a run that was killed
    lines: int = 0
    bytes: int = 0
    commits: int = 0
    largest_group: int = 0
    linted: bool = False
    plan: str | None = None
    write_keys: int = 0  #: how many keys were accepted (never the keys)
    suppression: dict[str, int] | None = None
    kept: list[Finding] = field(default_factory=list)
    total_findings: int = 0
    by_code: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)
    stopped_by: str = ""
    command: str = "collect"

    @property
    def findings(self) -> list[Finding]:
        return self.kept

    @property
    def files(self) -> list[str]:
        return [str(self.out / name) for name in self.written]

    def failed(self, strict: bool = False) -> bool:
        """Messages that broke an error rule (or, with ``strict``, a warning rule) were collected."""
        return self.by_level.get(Level.ERROR.value, 0) > 0 or (strict and self.by_level.get(Level.WARNING.value, 0) > 0)

    def summary(self) -> dict[str, Any]:
        c = self.counters
        rate = c.get("messages", 0) / self.seconds if self.seconds > 0 else 0.0
        return {
            "out": str(self.out),
            "url": self.url,
            "seconds": round(self.seconds, 3),
            "requests": c.get("requests", 0),
            "accepted": c.get("accepted", 0),
            "messages": c.get("messages", 0),
            "messages_per_second": round(rate, 1),
            "bad": c.get("bad", 0),
            "refused_items": c.get("refused_items", 0),
            "duplicates_seen": c.get("duplicates", 0),
            "suppressed": c.get("suppressed", 0),
            "suppressed_by": c.get("suppressed_by", {}),
            "requests_by_status": c.get("by_status", {}),
            "bytes_received": c.get("bytes", 0),
            "files": len(self.written),
            "recovered_files": list(self.recovered),
            "lines_written": self.lines,
            "bytes_written": self.bytes,
            "syncs": self.commits,
            "largest_group_commit": self.largest_group,
            "linted": self.linted,
            "plan": self.plan,
            "write_keys": self.write_keys,
            "suppression": self.suppression,
            "findings": self.total_findings,
            "findings_by_rule": dict(sorted(self.by_code.items())),
            "errors": self.by_level.get(Level.ERROR.value, 0),
            "warnings": self.by_level.get(Level.WARNING.value, 0),
            "stopped_by": self.stopped_by,
        }

    def tables(self) -> list[Table]:
        c = self.counters
        statuses = ", ".join(f"{n:,}×{s}" for s, n in c.get("by_status", {}).items()) or "-"
        tables = [
            Table(
                "Received",
                ["requests", "answers", "messages", "bad", "suppressed", "duplicates seen"],
                [
                    [
                        c.get("requests", 0),
                        statuses,
                        c.get("messages", 0),
                        c.get("bad", 0),
                        c.get("suppressed", 0),
                        c.get("duplicates", 0),
                    ]
                ],
                frozenset({0, 2, 3, 4, 5}),
            ),
            Table(
                "Written",
                ["directory", "files", "lines", "bytes", "syncs", "largest group"],
                [[str(self.out), len(self.written), self.lines, self.bytes, self.commits, self.largest_group]],
                frozenset({1, 2, 3, 4, 5}),
            ),
        ]
        if self.by_code:
            from cdp_cli.rules import get_rule

            tables.append(
                Table(
                    "Findings by rule",
                    ["code", "rule", "findings"],
                    [[code, get_rule(code).name, n] for code, n in sorted(self.by_code.items())],
                    frozenset({2}),
                )
            )
        return tables

    def verdict(self) -> str:
        c = self.counters
        text = (
            f"collected {plural(c.get('messages', 0), 'message')} from {plural(c.get('accepted', 0), 'request')} "
            f"into {self.out} ({plural(len(self.written), 'file')}"
        )
        text += f", {len(self.recovered)} recovered)" if self.recovered else ")"
        extra = []
        if self.linted:
            extra.append(f"{plural(c.get('bad', 0), 'bad message')}")
        if c.get("suppressed", 0):
            extra.append(f"{plural(c['suppressed'], 'message')} suppressed")
        if extra:
            text += "; " + ", ".join(extra)
        return text


def parse_size(value: int | str) -> int:
    """``64M``, ``500k``, ``1G``, ``100000``: a size in bytes (k = 1,024)."""
    from cdp_cli.errors import UsageError

    if isinstance(value, int):
        n = value
    else:
        text = value.strip().upper().removesuffix("B").removesuffix("I")
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        scale = units.get(text[-1:], 1)
        number = text[:-1] if text[-1:] in units else text
        try:
            n = int(float(number) * scale)
        except ValueError:
            raise UsageError(f"--rotate-bytes {value!r}: not a size such as 64M, 500k or 100000") from None
    if n < 1:
        raise UsageError(f"--rotate-bytes {value!r}: must be at least 1 byte")
    return n


def run_collector(
    options: CollectOptions,
    observer: Observer | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: Event | None = None,
) -> CollectResult:
    """Run a collector until SIGINT/SIGTERM (or ``stop`` is set, or ``options.duration`` passes):
    see :func:`cdp_cli.collect.server.run_collector`."""
    from cdp_cli.collect.server import run_collector as run

    return run(options, observer, on_ready=on_ready, stop=stop)
