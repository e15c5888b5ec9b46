"""The collector's HTTP side: Segment's tracking API, the inspection API, fault injection.

Segment's wire rules, as its API applies them (see the notes in the module :mod:`cdp_cli.collect`):

- routes ``POST /v1/batch`` and ``/v1/import`` (a batch envelope: ``{"batch": [...], "sentAt",
  "context", "integrations", "writeKey"}``; the envelope's context and integrations are merged into
  each message, its ``sentAt`` given to messages without one), and ``/v1/track``, ``/v1/identify``,
  ``/v1/page``, ``/v1/screen``, ``/v1/group``, ``/v1/alias`` (one message; the route sets its type);
- the write key as HTTP basic auth (user name, empty password) or ``writeKey`` in the body; with
  ``--write-keys`` any other key gets 401. The key is never stored, shown or logged;
- ``Content-Encoding: gzip`` bodies;
- 400 ``Exceed payload limit`` for a message over 32 KB or a request over 500 KB (after gunzip), 400
  for invalid JSON; otherwise 200 ``{"success": true}``, only once the messages are durably written.
  Semantic problems (no ``type``, a track without ``event``, ...) are answered 200, as Segment does:
  they are recorded, and with ``--lint``/``--plan`` reported as findings;
- ``receivedAt`` is stamped; ``timestamp = receivedAt - (sentAt - originalTimestamp)`` (clock-skew
  correction), where a message's ``timestamp`` sets ``originalTimestamp`` when it has none; without
  ``sentAt`` the original time stands, and a message with no time at all gets ``receivedAt``.

The inspection API (JSON): ``GET /cdp/events``, ``/cdp/good``, ``/cdp/bad`` (queries: see
:mod:`cdp_cli.collect.inspect`), ``GET /cdp/wait?count=N&timeout=S`` (returns when N messages have been
acknowledged since the last reset, or the timeout passed: ``reached`` says which), ``GET /cdp/stats``,
``POST /cdp/reset`` (forget what is in memory; the files keep everything), ``POST /cdp/faults``
(``{"rate": 0.2, "status": [429, 500], "next": 3, "retry_after": 1}``: change fault injection while
running; ``next`` fails the next N requests whatever the rate) and ``GET /cdp/health``. What was
collected is personal data: the inspection API sends no CORS header (a web page may post events, never
read them back), a loopback collector answers it only for a loopback ``Host`` (no DNS rebinding), and
with ``--write-keys`` only to a request carrying an accepted key (basic auth).

A threaded stdlib server (HTTP/1.1 keep-alive, Nagle off): each connection has a thread; the work of
a request is parsing and shaping (orjson) and waiting for the group commit of
:class:`~cdp_cli.collect.store.Store`, which concurrent requests share.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from cdp_cli.collect import CollectOptions, CollectResult, parse_size
from cdp_cli.collect.inspect import Entry, QueryError, Ring, parse_query
from cdp_cli.collect.store import Store, StoreError
from cdp_cli.errors import ConfigError, UsageError, os_reason
from cdp_cli.findings import Finding, Level
from cdp_cli.results import Observer, Progress

log = logging.getLogger("cdp")

#: Segment's limits, as its API enforces them
MAX_REQUEST_BYTES = 500_000
MAX_MESSAGE_BYTES = 32_768
#: a declared body larger than this is not even read: the connection is closed after the answer
MAX_READ_BYTES = 16 * 2**20
BATCH_ROUTES = frozenset(("/v1/batch", "/v1/import"))
SINGLE_ROUTES = {f"/v1/{t}": t for t in ("identify", "track", "page", "screen", "group", "alias")}
KEEP_FINDINGS = 1000  #: findings kept for the result (all are counted and written)
CHECKER_REFRESH_SECONDS = 60.0  #: how often the linter's "now" (future timestamps) is renewed

_SUCCESS = b'{"success":true}'
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    410: "Gone",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _error(code: str, message: str) -> bytes:
    return orjson.dumps({"code": code, "message": message})


PAYLOAD_LIMIT = _error("invalid_request", "Exceed payload limit")
INVALID_JSON = _error("invalid_request", "Invalid JSON")
UNAUTHORIZED = _error("unauthorized", "Invalid write key")
STOPPING = _error("unavailable", "the collector is stopping")
UNWRITABLE = _error("unavailable", "the collector cannot write its output")


# --- time ----------------------------------------------------------------------------------------------


def _iso(when: datetime) -> str:
    """``2026-11-22T10:15:30.123Z``: how Segment writes times."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    if type(value) is not str or not 10 <= len(value) <= 40:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def stamp_times(msg: dict[str, Any], received: datetime, received_at: str, sent: datetime | None) -> None:
    """Segment's timestamps on one message: ``receivedAt``; ``originalTimestamp`` from ``timestamp``
    when the client sent none; ``timestamp`` corrected for the device's clock skew when ``sentAt`` is
    known: ``receivedAt - (sentAt - originalTimestamp)``. Values that are not times are left as sent
    (the lint rules report them)."""
    msg["receivedAt"] = received_at
    original = msg.get("originalTimestamp")
    if original is None:
        original = msg.get("timestamp")
        if original is None:
            msg["timestamp"] = received_at
            return
        msg["originalTimestamp"] = original
    when = _parse_time(original)
    if when is None:
        return
    if sent is None:
        if msg.get("timestamp") is None:
            msg["timestamp"] = original
        return
    try:
        msg["timestamp"] = _iso(received - (sent - when))
    except OverflowError:  # a time near year 1 or 9999
        return


# --- request bodies ------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, status: int, body: bytes, close: bool = False) -> None:
        self.status = status
        self.body = body
        self.close = close


def _gunzip(data: bytes) -> bytes:
    """A gzip body, refused over the request limit (a small body can unpack to gigabytes)."""
    out: list[bytes] = []
    size = 0
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(data, MAX_REQUEST_BYTES + 1 - size)
        except zlib.error:
            raise _Refused(400, _error("invalid_request", "Invalid gzip body")) from None
        size += len(chunk)
        out.append(chunk)
        if size > MAX_REQUEST_BYTES or d.unconsumed_tail:
            raise _Refused(400, PAYLOAD_LIMIT)
        if not d.eof:
            raise _Refused(400, _error("invalid_request", "Invalid gzip body (truncated)"))
        data = d.unused_data  # a multi-member stream
    return b"".join(out)


def _basic_user(header: str | None) -> str | None:
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        return base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return None


def load_write_keys(path: str | Path) -> frozenset[str]:
    """The accepted write keys: one a line; blank lines and ``#`` comments skipped. The keys are
    secrets: no message names one."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--write-keys {p}: file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--write-keys {p}: not UTF-8 text") from None
    except OSError as e:
        raise ConfigError(f"--write-keys {p}: cannot read ({os_reason(e)})") from None
    keys = frozenset(
        line.strip() for line in text.removeprefix("\ufeff").splitlines() if line.strip() and not line.startswith("#")
    )
    if not keys:
        raise ConfigError(f"--write-keys {p}: holds no key (one accepted write key a line)")
    return keys


def parse_statuses(value: Any) -> tuple[int, ...]:
    """``"429,500"`` or a list: the HTTP statuses fault injection answers with (400-599)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        try:
            n = int(str(item).strip())
        except ValueError:
            raise UsageError(f"--fail-status {value!r}: not a list of HTTP statuses such as 429,500") from None
        if not 400 <= n <= 599:
            raise UsageError(f"--fail-status {n}: fault injection answers with an error status (400-599)")
        out.append(n)
    if not out:
        raise UsageError("--fail-status: name at least one status, such as 500")
    return tuple(out)


class Faults:
    """Which requests to refuse on purpose: ``rate`` of them at random (seeded), or the ``next`` N."""

    def __init__(self, rate: float, statuses: tuple[int, ...], retry_after: float | None, seed: int | None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"--fail-rate {rate}: a share between 0 and 1, such as 0.2")
        self.rate = rate
        self.statuses = statuses
        self.retry_after = retry_after
        self.next = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> int | None:
        """The status to fail this request with, or None."""
        if not self.rate and not self.next:
            return None
        with self._lock:
            if self.next > 0:
                self.next -= 1
                return self._rng.choice(self.statuses)
            if self.rate and self._rng.random() < self.rate:
                return self._rng.choice(self.statuses)
        return None

    def update(self, spec: dict[str, Any]) -> None:
        with self._lock:
            if "rate" in spec:
                rate = float(spec["rate"])
                if not 0.0 <= rate <= 1.0:
                    raise ValueError("rate: a share between 0 and 1")
                self.rate = rate
            if "status" in spec:
                self.statuses = parse_statuses(spec["status"])
            if "next" in spec:
                self.next = max(0, int(spec["next"]))
            if "retry_after" in spec:
                self.retry_after = None if spec["retry_after"] is None else float(spec["retry_after"])

    def as_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "status": list(self.statuses), "next": self.next, "retry_after": self.retry_after}


# --- the linter -------------------------------------------------------------------------------------


class Linter:
    """The event rules (and a plan), run per request with the same Checker as ``cdp events lint``.
    The checker is rebuilt every minute in the background so "in the future" means now."""

    def __init__(self, config: Any, plan: Any, show_values: bool) -> None:
        from cdp_cli.lint.runner import Checker

        self._make = lambda: Checker(config, plan, show_values=show_values)
        self._checker = self._make()
        self._built = time.monotonic()
        self._lock = threading.Lock()

    def refresh(self) -> None:
        if time.monotonic() - self._built < CHECKER_REFRESH_SECONDS:
            return
        checker = self._make()  # built outside the lock: requests keep being checked meanwhile
        with self._lock:
            self._checker = checker
            self._built = time.monotonic()

    def check(self, lines: list[bytes | None]) -> list[Finding]:
        """Findings of the messages ``lines`` (``line`` counts from 1 within them)."""
        from cdp_cli.events.reader import Chunk

        with self._lock:
            return self._checker.check_chunk(Chunk(0, "", 1, lines)).findings


# --- the collector ----------------------------------------------------------------------------------


@dataclass
class _Shaped:
    """A request's messages ready to store: ring entries (refused items first, with ``file`` None),
    NDJSON lines, findings (dicts, with their levels), and counts of suppressed messages by reason."""

    entries: list[Entry] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    suppressed: dict[str, int] = field(default_factory=dict)


class Collector:
    """A running collector: the store, the ring, the HTTP server. ``start()``, then ``stop()``."""

    def __init__(self, options: CollectOptions) -> None:
        self.options = options
        self.out = Path(options.out)
        self.write_keys: frozenset[str] | None = (
            load_write_keys(options.write_keys) if options.write_keys is not None else None
        )
        self.faults = Faults(
            float(options.fail_rate), parse_statuses(options.fail_status), options.retry_after, options.seed
        )
        if options.port < 0 or options.port > 65535:
            raise UsageError(f"--port {options.port}: a TCP port between 0 and 65535 (0: any free port)")
        self.linter: Linter | None = None
        self.plan_name: str | None = None
        if options.plan or options.lint:
            from cdp_cli.config import Config, load_config
            from cdp_cli.plan.load import load_valid_plan

            cfg = options.config
            if not isinstance(cfg, Config):
                cfg = load_config(Path(cfg) if cfg is not None else None, search=options.search_config)
            plan = load_valid_plan([Path(p) for p in options.plan]) if options.plan else None
            self.plan_name = plan.display_name if plan is not None else None
            self.linter = Linter(cfg, plan, options.show_values)
        self.suppressions: Any = None
        if options.suppress is not None:
            from cdp_cli.replay.suppress import load_suppressions

            self.suppressions = load_suppressions(options.suppress, profiles_dir=options.profiles)
        elif options.profiles is not None:
            raise UsageError("--profiles expands --suppress to whole profiles; give --suppress too")
        self.loopback = options.host in ("127.0.0.1", "localhost", "::1")
        self.ring = Ring(options.recent)
        self.store = Store(
            self.out,
            rotate_bytes=parse_size(options.rotate_bytes),
            rotate_seconds=float(options.rotate_seconds),
            durable=options.durable,
        )
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._closing = False
        self._in_flight = 0
        self._kept: list[Finding] = []
        self._bugs: set[str] = set()
        self._total_findings = 0
        self._by_code: dict[str, int] = {}
        self._by_level: dict[str, int] = {}
        self._httpd: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop_ticker = threading.Event()
        self._serving = False
        self.started = 0.0
        self.seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> Collector:
        self.store.open()
        try:
            httpd = _Server((self.options.host, self.options.port), _Handler)
        except OSError as e:
            self.store.close()
            raise UsageError(
                f"cannot listen on {self.options.host}:{self.options.port}: {os_reason(e)} "
                "(choose another --port, or --port 0 for any free one)"
            ) from None
        httpd.collector = self
        self._httpd = httpd
        if not self.loopback:
            log.warning(
                "listening on %s: anyone who can reach this machine can send events and read them back",
                self.options.host,
            )
        self.started = time.time()
        serve = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="cdp-collect-http", daemon=True
        )
        serve.start()
        self._serving = True
        self._threads.append(serve)
        if self.linter is not None:
            ticker = threading.Thread(target=self._tick, name="cdp-collect-lint", daemon=True)
            ticker.start()
            self._threads.append(ticker)
        return self

    def _tick(self) -> None:
        while not self._stop_ticker.wait(5.0):
            if self.linter is not None:
                with contextlib.suppress(Exception):  # a failed rebuild keeps the current checker
                    self.linter.refresh()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}"

    def stop(self, grace: float = 30.0) -> None:
        """Refuse new requests (503), let those in flight finish, close the files, close connections."""
        with self._lock:
            self._closing = True
        self.ring.close()
        self._stop_ticker.set()
        httpd = self._httpd
        if httpd is not None and self._serving:
            httpd.shutdown()  # waits for serve_forever to return: only when it runs
        deadline = time.monotonic() + grace
        with self._lock:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
        self.seconds = time.time() - self.started if self.started else 0.0
        try:
            self.store.close()
        finally:
            if httpd is not None:
                httpd.close_connections()
                httpd.server_close()

    # -- ingestion ---------------------------------------------------------------------------------------

    def enter(self) -> bool:
        with self._lock:
            if self._closing:
                return False
            self._in_flight += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.notify_all()

    def ingest(self, path: str, raw: bytes, headers: Any) -> tuple[int, bytes, dict[str, str]]:
        """One /v1 request: (status, body, extra headers). Acknowledged only once durable."""
        status_hint = self.faults.draw()
        if status_hint is not None:
            extra: dict[str, str] = {}
            if self.faults.retry_after is not None and status_hint in (429, 503):
                extra["Retry-After"] = f"{self.faults.retry_after:g}"
            return status_hint, _error("injected", f"fault injected by cdp collect ({status_hint})"), extra
        encoding = (headers.get("Content-Encoding") or "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            if len(raw) > MAX_REQUEST_BYTES:
                raise _Refused(400, PAYLOAD_LIMIT)
            raw = _gunzip(raw)
        elif encoding not in ("", "identity"):
            raise _Refused(400, _error("invalid_request", f"Unsupported Content-Encoding {encoding[:40]!r}"))
        if len(raw) > MAX_REQUEST_BYTES:
            raise _Refused(400, PAYLOAD_LIMIT)
        keys = self.write_keys
        authorized = keys is None or _basic_user(headers.get("Authorization")) in keys
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Refused(400, INVALID_JSON) from None
        if type(body) is not dict:
            raise _Refused(400, INVALID_JSON)
        if not authorized:
            key = body.get("writeKey")
            if not (type(key) is str and keys is not None and key in keys):
                raise _Refused(401, UNAUTHORIZED)
        received = datetime.now(UTC)
        received_at = _iso(received)
        if path in BATCH_ROUTES:
            items = body.get("batch")
            if type(items) is not list:
                raise _Refused(400, _error("invalid_request", "batch must be an array of messages"))
            shaped = self._shape_batch(body, items, received, received_at)
        else:
            if len(raw) > MAX_MESSAGE_BYTES:
                raise _Refused(400, PAYLOAD_LIMIT)
            body["type"] = SINGLE_ROUTES[path]
            shaped = self._shape([body], body.get("sentAt"), received, received_at)
        if shaped.lines:
            try:
                ticket = self.store.append(shaped.lines, shaped.findings)
                self.store.wait(ticket)
            except StoreError:
                raise _Refused(503, UNWRITABLE) from None
            line = ticket.first_line
            for e in shaped.entries:
                if e.file is not None:
                    e.file, e.line = ticket.file, line
                    line += 1
            if shaped.findings:
                self._count_findings(shaped)
        if shaped.suppressed:
            self.ring.count_suppressed(shaped.suppressed)
        self.ring.add(shaped.entries)
        return 200, _SUCCESS, {}

    def _shape_batch(self, body: dict[str, Any], items: list[Any], received: datetime, received_at: str) -> _Shaped:
        """A batch envelope's messages, shaped; items that are not message objects become refused entries;
        a message over the limit refuses the whole request (as Segment does)."""
        dumps = orjson.dumps
        good: list[Any] = []
        refused: list[Entry] = []
        for i, item in enumerate(items):
            if type(item) is not dict:
                what = type(item).__name__ if item is not None else "null"
                why = f"batch[{i}] holds {what}, not a message object"
                refused.append(_refused_entry(dumps(item), received, received_at, why))
                continue
            if len(dumps(item)) > MAX_MESSAGE_BYTES:
                raise _Refused(400, PAYLOAD_LIMIT)
            good.append(item)
        for key in ("context", "integrations"):  # the envelope's, under each message's own
            shared = body.get(key)
            if type(shared) is dict and shared:
                for m in good:
                    mine = m.get(key)
                    if mine is None:
                        m[key] = shared
                    elif type(mine) is dict:
                        m[key] = {**shared, **mine}
        shaped = self._shape(good, body.get("sentAt"), received, received_at)
        shaped.entries[:0] = refused
        return shaped

    def _shape(self, messages: list[dict[str, Any]], sent_at: Any, received: datetime, received_at: str) -> _Shaped:
        """Stamp, suppress, serialise and lint ``messages``."""
        dumps = orjson.dumps
        epoch = received.timestamp()
        sent_cache: dict[Any, datetime | None] = {}
        supp = self.suppressions
        out = _Shaped()
        entries, lines = out.entries, out.lines
        for msg in messages:
            msg.pop("writeKey", None)  # a secret: never stored
            sent = msg.get("sentAt")
            if sent is None and sent_at is not None:
                sent = msg["sentAt"] = sent_at
            when = sent_cache.get(sent, False) if type(sent) is str else None
            if when is False:
                when = sent_cache[sent] = _parse_time(sent)
            stamp_times(msg, received, received_at, when if isinstance(when, datetime) else None)
            if supp is not None:
                why = supp.match(msg)
                if why is not None:  # dropped at the door: counted, never stored nor kept in memory
                    out.suppressed[why] = out.suppressed.get(why, 0) + 1
                    continue
            line = dumps(msg)
            lines.append(line + b"\n")
            entries.append(
                Entry(
                    0,
                    epoch,
                    received_at,
                    line,
                    "",
                    0,
                    msg.get("type"),
                    msg.get("event"),
                    msg.get("userId"),
                    msg.get("anonymousId"),
                    msg.get("messageId"),
                )
            )
        if self.linter is not None and lines:
            self._lint(out)
        return out

    def _lint(self, shaped: _Shaped) -> None:
        """Check the shaped messages; findings go on their entries and, as dicts whose file and line the
        store sets when it writes them, to ``shaped.findings``."""
        assert self.linter is not None
        stripped: list[bytes | None] = [line[:-1] for line in shaped.lines]  # without their newline
        found = self.linter.check(stripped)
        for f in found:
            d = f.to_dict()
            shaped.findings.append(d)
            shaped.levels.append(f.level)
            e = shaped.entries[f.line - 1]
            if e.findings is None:
                e.findings = []
            e.findings.append(d)
            if f.level is Level.ERROR:
                e.bad = True

    def _count_findings(self, shaped: _Shaped) -> None:
        """Count a durable request's findings; keep the first ones (with their file and line) for the result."""
        with self._lock:
            self._total_findings += len(shaped.findings)
            for d, level in zip(shaped.findings, shaped.levels):
                self._by_code[d["code"]] = self._by_code.get(d["code"], 0) + 1
                self._by_level[level.value] = self._by_level.get(level.value, 0) + 1
                if len(self._kept) < KEEP_FINDINGS:
                    self._kept.append(_finding(d))

    def report_bug(self, e: Exception) -> None:
        with self._lock:
            first = type(e).__name__ not in self._bugs
            self._bugs.add(type(e).__name__)
        if first:
            log.error("cdp collect: internal error answering a request: %s: %s (answered 500)", type(e).__name__, e)

    # -- the result ----------------------------------------------------------------------------------------

    def result(self, stopped_by: str = "") -> CollectResult:
        s = self.store.stats
        return CollectResult(
            out=self.out,
            url=self.url if self._httpd is not None else "",
            seconds=self.seconds or (time.time() - self.started if self.started else 0.0),
            counters=self.ring.total.as_dict(),
            written=list(s.files),
            recovered=list(s.recovered),
            lines=s.lines,
            bytes=s.bytes,
            commits=s.commits,
            largest_group=s.largest_group,
            linted=self.linter is not None,
            plan=self.plan_name,
            write_keys=len(self.write_keys or ()),
            suppression=self.suppressions.summary() if self.suppressions is not None else None,
            kept=list(self._kept),
            total_findings=self._total_findings,
            by_code=dict(self._by_code),
            by_level=dict(self._by_level),
            stopped_by=stopped_by,
        )

    def stats(self) -> dict[str, Any]:
        s = self.store.stats
        return {
            **self.ring.stats(),
            "out": str(self.out),
            "files": len(s.files),
            "lines_written": s.lines,
            "bytes_written": s.bytes,
            "syncs": s.commits,
            "largest_group_commit": s.largest_group,
            "findings": self._total_findings,
            "linted": self.linter is not None,
            "plan": self.plan_name,
            "faults": self.faults.as_dict(),
            "write_keys": len(self.write_keys or ()),
        }


def _refused_entry(raw: bytes, received: datetime, received_at: str, why: str) -> Entry:
    from cdp_cli.rules.codes import INPUT_NOT_AN_OBJECT

    finding = {"code": INPUT_NOT_AN_OBJECT, "level": Level.ERROR.value, "message": why + " (not stored)"}
    return Entry(0, received.timestamp(), received_at, raw, None, 0, None, None, None, None, None, [finding], True)


def _finding(d: dict[str, Any]) -> Finding:
    core = {"code", "rule", "level", "file", "line", "column", "path", "message"}
    return Finding(
        d["code"],
        d.get("rule", ""),
        Level(d.get("level", "error")),
        str(d.get("file", "")),
        int(d.get("line") or 0),
        int(d.get("column") or 0),
        str(d.get("message", "")),
        str(d.get("path", "")),
        {k: v for k, v in d.items() if k not in core},
    )


# --- HTTP -------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections never hold up a stop
    request_queue_size = 256
    collector: Collector

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections (their threads are waiting for a next request)."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Segment's API
    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are counted, not logged (a log line per request would hold ids and paths)

    # -- answering -------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, close: bool = False) -> None:
        if close:
            self.close_connection = True
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        if self.path.startswith("/v1/"):  # browsers may send events; no web page may read the inspection API
            head.append("Access-Control-Allow-Origin: *")
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        if self.close_connection:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        try:
            self.wfile.write(data)
        except OSError:  # the client is gone
            self.close_connection = True

    def _json(self, status: int, data: Any) -> None:
        self._send(status, orjson.dumps(data))

    def _read_body(self) -> bytes | None:
        """The request body, or None when the connection must close (the body was too big to read,
        or the client went away); the answer is then sent here."""
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts: list[bytes] = []
                size = 0
                while True:
                    n = int(self.rfile.readline(100).split(b";", 1)[0].strip() or b"0", 16)
                    if n == 0:
                        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    size += n
                    if size > MAX_READ_BYTES:
                        self._send(400, PAYLOAD_LIMIT, close=True)
                        return None
                    parts.append(self.rfile.read(n))
                    self.rfile.readline(10)
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError(length)
            if length > MAX_READ_BYTES:
                self._send(400, PAYLOAD_LIMIT, close=True)
                return None
            data = self.rfile.read(length)
            if len(data) < length:
                self.close_connection = True
                return None
            return data
        except (OSError, ValueError):
            self.close_connection = True
            return None

    # -- routes ----------------------------------------------------------------------------------------

    def _may_inspect(self, collector: Collector) -> bool:
        """The inspection API hands out what was collected (personal data): on a loopback collector only
        to requests naming a loopback host (a web page cannot reach it by DNS rebinding), and with
        --write-keys only to requests carrying an accepted key (basic auth). Answers the refusal."""
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.partition("]")[0].lstrip("[") if host.startswith("[") else host.rpartition(":")[0] or host
        if collector.loopback and name and name not in ("127.0.0.1", "localhost", "::1"):
            self._send(403, _error("forbidden", "the inspection API answers only requests to a loopback host"))
            return False
        keys = collector.write_keys
        if keys is not None and _basic_user(self.headers.get("Authorization")) not in keys:
            self._send(401, UNAUTHORIZED)
            return False
        return True

    def do_OPTIONS(self) -> None:  # a browser's preflight (analytics.js on localhost)
        if not self.path.startswith("/v1/"):
            self._send(404, _error("not_found", "only the tracking API (/v1/...) takes requests from web pages"))
            return
        self._send(
            204,
            b"",
            {
                "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type, Authorization, Content-Encoding",
                "Access-Control-Max-Age": "86400",
            },
        )

    def do_POST(self) -> None:
        collector = self.server.collector
        path = urlsplit(self.path).path.rstrip("/") or "/"
        raw = self._read_body()
        if raw is None:
            return
        if path in BATCH_ROUTES or path in SINGLE_ROUTES:
            self._ingest(collector, path, raw)
        elif path.startswith("/cdp/") and not self._may_inspect(collector):
            return
        elif path == "/cdp/reset":
            collector.ring.reset()
            self._json(200, {"reset": True})
        elif path == "/cdp/faults":
            try:
                spec = orjson.loads(raw or b"{}")
                if type(spec) is not dict:
                    raise ValueError('a JSON object such as {"rate": 0.2, "status": [500]}')
                collector.faults.update(spec)
            except (ValueError, TypeError, UsageError) as e:
                self._send(400, _error("invalid_request", str(e)))
                return
            self._json(200, collector.faults.as_dict())
        else:
            self._send(404, _error("not_found", f"no route POST {path[:100]}"))

    def _ingest(self, collector: Collector, path: str, raw: bytes) -> None:
        if not collector.enter():
            collector.ring.count_request(503)
            self._send(503, STOPPING, {"Retry-After": "1"}, close=True)
            return
        try:
            try:
                status, body, headers = collector.ingest(path, raw, self.headers)
            except _Refused as r:
                status, body, headers = r.status, r.body, {}
            except Exception as e:  # a bug: answer 500 (the client retries), say it once per kind
                status, body, headers = 500, _error("internal", "internal error in cdp collect"), {}
                collector.report_bug(e)
            collector.ring.count_request(status, len(raw))
            self._send(status, body, headers)
        finally:
            collector.leave()

    def do_GET(self) -> None:
        collector = self.server.collector
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        params = parse_qs(url.query, keep_blank_values=True)
        if path.startswith("/cdp/") and path != "/cdp/health" and not self._may_inspect(collector):
            return
        try:
            if path == "/cdp/events":
                self._json(200, collector.ring.query(parse_query(params)))
            elif path == "/cdp/good":
                self._json(200, collector.ring.query(parse_query(params, good=True)))
            elif path == "/cdp/bad":
                self._json(200, collector.ring.query(parse_query(params, good=False)))
            elif path == "/cdp/wait":
                count = int(params.get("count", ["1"])[-1])
                timeout = float(params.get("timeout", ["10"])[-1])
                self._json(200, collector.ring.wait(count, timeout, parse_query(params)))
            elif path == "/cdp/stats":
                self._json(200, collector.stats())
            elif path == "/cdp/health":
                self._json(200, {"ok": True})
            elif path == "/":
                self._json(200, {"cdp": "collect", "routes": _ROUTES})
            elif path in BATCH_ROUTES or path in SINGLE_ROUTES:
                self._send(405, _error("method_not_allowed", f"{path} takes POST"), {"Allow": "POST"})
            else:
                self._send(404, _error("not_found", f"no route GET {path[:100]}"))
        except (QueryError, ValueError) as e:
            self._send(400, _error("invalid_request", str(e)))

    def do_PUT(self) -> None:
        self._not_allowed()

    def do_DELETE(self) -> None:
        self._not_allowed()

    def do_PATCH(self) -> None:
        self._not_allowed()

    def _not_allowed(self) -> None:
        raw = self._read_body()
        if raw is not None:
            self._send(405, _error("method_not_allowed", f"{self.command} is not served"))


_ROUTES = {
    "tracking": ["POST /v1/batch", "POST /v1/import", *(f"POST {r}" for r in SINGLE_ROUTES)],
    "inspection": [
        "GET /cdp/events",
        "GET /cdp/good",
        "GET /cdp/bad",
        "GET /cdp/wait?count=N&timeout=S",
        "GET /cdp/stats",
        "GET /cdp/health",
        "POST /cdp/reset",
        "POST /cdp/faults",
    ],
}


# --- running --------------------------------------------------------------------------------------


def run_collector(
    options: CollectOptions,
    observer: Observer | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> CollectResult:
    """Collect until SIGINT/SIGTERM (raised as :class:`~cdp_cli.errors.Interrupted` or
    KeyboardInterrupt in this thread), ``stop`` is set, or ``options.duration`` seconds pass; then stop
    cleanly (every acknowledged message in a closed file) and return what was collected.
    ``on_ready(url)`` is called once the port is open. Raises
    :class:`~cdp_cli.collect.store.StoreError` when the output cannot be written."""
    from cdp_cli.errors import Interrupted

    collector = Collector(options)
    stop = stop or threading.Event()
    stopped_by = ""
    try:
        collector.start()
        if on_ready is not None:
            on_ready(collector.url)
        deadline = None if options.duration is None else time.monotonic() + float(options.duration)
        last_messages, last_time = 0, time.monotonic()
        while True:
            step = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            if stop.wait(step):
                stopped_by = "stop"
                break
            if collector.store.failed is not None:
                stopped_by = "error"
                break
            if deadline is not None and time.monotonic() >= deadline:
                stopped_by = "duration"
                break
            if observer is not None:
                now = time.monotonic()
                messages = collector.ring.total.messages
                rate = (messages - last_messages) / max(now - last_time, 1e-6)
                observer(
                    Progress(
                        "collect",
                        messages - last_messages,
                        None,
                        "messages",
                        f"{rate:,.0f}/s, {collector.ring.total.requests:,} requests",
                    )
                )
                last_messages, last_time = messages, now
    except Interrupted as e:
        import signal

        stopped_by = signal.Signals(e.signum).name
    except KeyboardInterrupt:
        stopped_by = "SIGINT"
    finally:
        collector.stop()
    return collector.result(stopped_by)


__all__ = [
    "Collector",
    "Faults",
    "Linter",
    "MAX_MESSAGE_BYTES",
    "MAX_REQUEST_BYTES",
    "load_write_keys",
    "parse_statuses",
    "run_collector",
    "stamp_times",
]
