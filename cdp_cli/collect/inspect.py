"""The collector's memory, for tests and people: the last N messages (a ring), queries over it, counters,
and waiting for messages to arrive.

Everything received is on disk (:mod:`cdp_cli.collect.store`); this ring holds only the most recent
``size`` entries so memory stays bounded whatever the traffic. An entry is added once its message is
durable, so what ``GET /cdp/events`` shows and ``GET /cdp/wait`` counts has been acknowledged.

Queries (the query string of ``GET /cdp/events``, ``/cdp/good``, ``/cdp/bad`` and ``/cdp/wait``):
``type``, ``event``, ``userId``, ``anonymousId``, ``messageId`` (each may repeat: any of the values),
``since`` and ``until`` (ISO-8601 or epoch seconds, on ``receivedAt``), ``after`` (a ``seq`` cursor: only
entries after it) and ``limit`` (default 100, at most 10,000). Results are oldest first; ``next`` is the
cursor of the next page, or null.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

DEFAULT_RING = 10_000
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_WAIT_SECONDS = 300.0


@dataclass(slots=True)
class Entry:
    """One message as it was stored (``raw``: its NDJSON line) or an item that was refused (``file``
    is None: not stored), with what filters need pulled out, and its findings."""

    seq: int
    received: float  # epoch seconds
    received_at: str
    raw: bytes
    file: str | None
    line: int
    type: Any
    event: Any
    user_id: Any
    anonymous_id: Any
    message_id: Any
    findings: list[dict[str, Any]] | None = None
    bad: bool = False
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "receivedAt": self.received_at,
            "file": self.file,
            "line": self.line if self.file is not None else None,
            "good": not self.bad,
            "message": orjson.Fragment(self.raw),
        }
        if self.duplicate:
            out["duplicate"] = True
        if self.findings:
            out["findings"] = self.findings
        return out


@dataclass
class Query:
    """A parsed query string (see the module docstring)."""

    types: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)
    message_ids: set[str] = field(default_factory=set)
    since: float | None = None
    until: float | None = None
    after: int = 0
    limit: int = DEFAULT_LIMIT
    good: bool | None = None  # None: both

    @property
    def filtered(self) -> bool:
        return bool(
            self.types
            or self.events
            or self.user_ids
            or self.anonymous_ids
            or self.message_ids
            or self.since is not None
            or self.until is not None
            or self.good is not None
        )

    def match(self, e: Entry) -> bool:
        if self.good is not None and self.good == e.bad:
            return False
        if self.types and e.type not in self.types:
            return False
        if self.events and e.event not in self.events:
            return False
        if self.user_ids and e.user_id not in self.user_ids:
            return False
        if self.anonymous_ids and e.anonymous_id not in self.anonymous_ids:
            return False
        if self.message_ids and e.message_id not in self.message_ids:
            return False
        if self.since is not None and e.received < self.since:
            return False
        return not (self.until is not None and e.received >= self.until)


class QueryError(ValueError):
    """A query string that cannot be understood (answered with 400)."""


def _time(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise QueryError(f"{name}={value!r}: not an ISO-8601 time or epoch seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _int(name: str, value: str, low: int, high: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise QueryError(f"{name}={value!r}: not a whole number") from None
    if not low <= n <= high:
        raise QueryError(f"{name}={value}: must be between {low} and {high}")
    return n


def parse_query(params: dict[str, list[str]], good: bool | None = None) -> Query:
    """A :class:`Query` from ``urllib.parse.parse_qs`` output; unknown parameters are refused, so a
    misspelt filter never silently matches everything."""
    q = Query(good=good)
    sets = {
        "type": q.types,
        "event": q.events,
        "userId": q.user_ids,
        "anonymousId": q.anonymous_ids,
        "messageId": q.message_ids,
    }
    for name, values in params.items():
        if name in sets:
            sets[name].update(values)
        elif name == "since":
            q.since = _time(name, values[-1])
        elif name == "until":
            q.until = _time(name, values[-1])
        elif name == "after":
            q.after = _int(name, values[-1], 0, 2**62)
        elif name == "limit":
            q.limit = _int(name, values[-1], 1, MAX_LIMIT)
        elif name in ("count", "timeout"):
            continue  # /cdp/wait's own parameters
        else:
            known = ", ".join([*sets, "since", "until", "after", "limit"])
            raise QueryError(f"unknown parameter {name!r} (known: {known})")
    return q


@dataclass
class Counters:
    """Everything counted since the start (``total``) or the last reset (the rest)."""

    requests: int = 0
    accepted: int = 0  #: requests answered 200
    messages: int = 0  #: messages stored
    bad: int = 0  #: stored messages with error findings, and refused items
    refused_items: int = 0  #: batch items that are not message objects (not stored)
    suppressed: int = 0
    duplicates: int = 0  #: messageIds seen again while still in the ring
    bytes: int = 0  #: request bodies, after gunzip
    by_status: dict[int, int] = field(default_factory=dict)
    suppressed_by: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "messages": self.messages,
            "bad": self.bad,
            "refused_items": self.refused_items,
            "suppressed": self.suppressed,
            "duplicates": self.duplicates,
            "bytes": self.bytes,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "suppressed_by": dict(sorted(self.suppressed_by.items())),
        }


class Ring:
    """The last ``size`` entries, an index by messageId, the counters, and a condition to wait on."""

    def __init__(self, size: int = DEFAULT_RING) -> None:
        self.size = max(1, int(size))
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._entries: deque[Entry] = deque()
        self._by_id: dict[Any, int] = {}  # messageId -> entries holding it
        self._seq = 0
        self.counters = Counters()  # since the last reset
        self.total = Counters()  # since the start
        self._closed = False
        self.started = time.time()

    # -- recording ---------------------------------------------------------------------------------------

    def add(self, entries: Iterable[Entry]) -> None:
        """Add entries (numbering them) and wake waiters."""
        with self._lock:
            ring, by_id = self._entries, self._by_id
            c, t = self.counters, self.total
            for e in entries:
                self._seq += 1
                e.seq = self._seq
                if len(ring) >= self.size:
                    self._forget(ring.popleft())
                mid = e.message_id
                if e.file is not None and type(mid) is str:
                    n = by_id.get(mid, 0)
                    if n:
                        e.duplicate = True
                        c.duplicates += 1
                        t.duplicates += 1
                    by_id[mid] = n + 1
                ring.append(e)
                if e.file is not None:
                    c.messages += 1
                    t.messages += 1
                else:
                    c.refused_items += 1
                    t.refused_items += 1
                if e.bad:
                    c.bad += 1
                    t.bad += 1
            self._arrived.notify_all()

    def _forget(self, e: Entry) -> None:
        mid = e.message_id
        if e.file is not None and type(mid) is str:
            n = self._by_id.get(mid, 0) - 1
            if n > 0:
                self._by_id[mid] = n
            else:
                self._by_id.pop(mid, None)

    def count_request(self, status: int, body_bytes: int = 0) -> None:
        with self._lock:
            for c in (self.counters, self.total):
                c.requests += 1
                c.by_status[status] = c.by_status.get(status, 0) + 1
                c.bytes += body_bytes
                if status == 200:
                    c.accepted += 1

    def count_suppressed(self, reasons: dict[str, int]) -> None:
        with self._lock:
            for c in (self.counters, self.total):
                for reason, n in reasons.items():
                    c.suppressed += n
                    c.suppressed_by[reason] = c.suppressed_by.get(reason, 0) + n

    def reset(self) -> None:
        """Forget the entries and the counters since the last reset (the disk keeps everything)."""
        with self._lock:
            self._entries.clear()
            self._by_id.clear()
            self.counters = Counters()
            self._arrived.notify_all()

    def close(self) -> None:
        """Wake every waiter: the collector is stopping."""
        with self._lock:
            self._closed = True
            self._arrived.notify_all()

    # -- reading -----------------------------------------------------------------------------------------

    def query(self, q: Query) -> dict[str, Any]:
        with self._lock:
            entries = list(self._entries)
        out: list[dict[str, Any]] = []
        total = 0
        nxt = None
        for e in entries:
            if e.seq <= q.after or not q.match(e):
                continue
            total += 1
            if len(out) < q.limit:
                out.append(e.as_json())
            elif nxt is None:
                nxt = out[-1]["seq"]
        return {"total": total, "count": len(out), "next": nxt, "events": out}

    def _matching(self, q: Query) -> int:
        if not q.filtered and not q.after:
            return self.counters.messages
        return sum(1 for e in self._entries if e.seq > q.after and e.file is not None and q.match(e))

    def wait(self, count: int, timeout: float, q: Query) -> dict[str, Any]:
        """Block until ``count`` stored messages match ``q`` (all messages since the last reset when ``q``
        filters nothing; else those still in the ring), or ``timeout`` seconds pass."""
        timeout = min(max(timeout, 0.0), MAX_WAIT_SECONDS)
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        with self._lock:
            while True:
                n = self._matching(q)
                left = deadline - time.monotonic()
                if n >= count or left <= 0 or self._closed:
                    break
                self._arrived.wait(left)
        return {
            "reached": n >= count,
            "count": n,
            "wanted": count,
            "waited": round(time.monotonic() - started, 3),
        }

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "since_reset": self.counters.as_dict(),
                "total": self.total.as_dict(),
                "in_memory": len(self._entries),
                "ring_size": self.size,
                "uptime": round(time.time() - self.started, 3),
            }
