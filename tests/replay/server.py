"""A real, local Segment-compatible HTTP API for tests: it records what it receives and can be told
to misbehave.

No mocks: the replay destination and the official client talk HTTP/1.1 to this server over a real
socket, so keep-alive, gzip, timeouts and dropped connections are the real thing. It validates like
Segment's API (400 for invalid JSON, 400 "Exceed payload limit" for a message over 32 KB or a body
over 500 KB, each message must have a ``type``) and answers 200 ``{"success": true}`` otherwise.

Scripted misbehaviour, applied to the next requests in arrival order (whatever their route)::

    server.plan(429, retry_after=1)        # then the next request is answered normally
    server.plan(503, times=3)
    server.plan("slow", seconds=2)         # wait, then answer normally (200: the client may be gone)
    server.plan("slow", seconds=2, then=503)
    server.plan("drop")                    # read the request, close the connection without answering
    server.plan(400, body={"code": "invalid_request", "message": "..."})

or at random: ``SegmentServer(fail_rate=0.2, seed=7)`` answers 500 to about a fifth of requests.

As a process, for tests that SIGKILL the client (``python -m tests.replay.server --port 0 --record
FILE``): it prints ``listening on URL`` once ready and appends one JSON line per accepted message,
``{"messageId": ..., "request": n}``, flushed before the request is answered, so everything a client
saw acknowledged is in the file.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import random
import signal
import ssl
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import orjson

#: Segment's limits, as its API enforces them
MAX_REQUEST_BYTES = 500_000
MAX_MESSAGE_BYTES = 32_768
BATCH_ROUTES = ("/v1/batch", "/v1/import")
SINGLE_ROUTES = {f"/v1/{t}": t for t in ("identify", "track", "page", "screen", "group", "alias")}


@dataclass
class Planned:
    """One scripted answer: an HTTP status, ``"slow"`` (sleep ``seconds``, then answer ``then``:
    200 means process normally) or ``"drop"`` (no answer at all)."""

    kind: int | str
    retry_after: float | str | None = None
    body: Any = None
    seconds: float = 0.0
    then: int = 200


@dataclass
class Received:
    """One request as the server saw it. ``body`` is the decoded JSON (None when it is not JSON),
    ``raw`` the body after gunzip, ``status`` what was answered (None: the connection was dropped),
    ``messages`` the messages of an accepted request."""

    number: int
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    gzipped: bool
    auth_user: str | None
    auth_password: str | None
    arrived: float
    status: int | None = None
    answered: float | None = None
    accepted: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def write_key(self) -> Any:
        return self.body.get("writeKey") if isinstance(self.body, dict) else None


class SegmentServer:
    """A Segment-compatible API on 127.0.0.1, in a background thread (a context manager).

    ``write_key``: when set, requests must carry it (basic auth user or body ``writeKey``) or get
    401. ``record``: an open binary file to append accepted messageIds to (process mode). ``tls``:
    (certificate file, key file) to serve https.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        write_key: str | None = None,
        fail_rate: float = 0.0,
        seed: int | None = None,
        fail_status: int = 500,
        record: IO[bytes] | None = None,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.write_key = write_key
        self.fail_rate = fail_rate
        self.fail_status = fail_status
        self._rng = random.Random(seed)
        self._record = record
        self._lock = threading.Lock()
        self._plans: deque[Planned] = deque()
        self._requests: list[Received] = []
        self._count = 0
        self._in_flight = 0
        self.max_in_flight = 0
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self.scheme = "http"
        if tls is not None:  # (certificate file, key file): serve https, for certificate checks
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> SegmentServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="segment-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SegmentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection ------------------------------------------------------------------

    def plan(
        self,
        kind: int | str,
        *,
        retry_after: float | str | None = None,
        body: Any = None,
        seconds: float = 0.0,
        then: int = 200,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests this way (after the plans already queued)."""
        if not (isinstance(kind, int) or kind in ("slow", "drop")):
            raise ValueError(f"unknown plan {kind!r}")
        with self._lock:
            self._plans.extend(Planned(kind, retry_after, body, seconds, then) for _ in range(times))

    def reset(self) -> None:
        """Forget what was received and planned."""
        with self._lock:
            self._plans.clear()
            self._requests.clear()
            self.max_in_flight = 0

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def received_ids(self) -> list[str]:
        """messageIds of the messages accepted with a 2xx, in arrival order, with multiplicity."""
        return [str(m["messageId"]) for r in self.requests if r.accepted for m in r.messages if "messageId" in m]

    # -- handling ----------------------------------------------------------------------------------

    def _begin(self, handler: _Handler, raw: bytes, gzipped: bool) -> tuple[Received, Planned | None]:
        user = password = None
        auth = handler.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                pass
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        with self._lock:
            self._count += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            rec = Received(
                number=self._count,
                method=handler.command,
                path=handler.path.split("?", 1)[0],
                headers={k.lower(): v for k, v in handler.headers.items()},
                raw=raw,
                body=body,
                gzipped=gzipped,
                auth_user=user,
                auth_password=password,
                arrived=time.monotonic(),
            )
            self._requests.append(rec)
            planned = self._plans.popleft() if self._plans else None
            if planned is None and self.fail_rate and self._rng.random() < self.fail_rate:
                planned = Planned(self.fail_status)
        return rec, planned

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no request is being handled (a slow one may outlive the client's wait)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._in_flight == 0:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("the server is still handling a request")
            time.sleep(0.01)

    def _validate(self, rec: Received) -> tuple[int, Any]:
        """Segment's answer to a well-delivered request: (status, JSON body)."""
        if rec.path not in BATCH_ROUTES and rec.path not in SINGLE_ROUTES:
            return 404, {"code": "not_found", "message": f"no route {rec.path}"}
        if len(rec.raw) > MAX_REQUEST_BYTES:
            return 400, {"code": "invalid_request", "message": "Exceed payload limit"}
        if not isinstance(rec.body, dict):
            return 400, {"code": "invalid_request", "message": "Invalid JSON"}
        if self.write_key is not None and self.write_key not in (rec.auth_user, rec.write_key):
            return 401, {"code": "unauthorized", "message": "Invalid write key"}
        if rec.path in BATCH_ROUTES:
            messages = rec.body.get("batch")
            if not isinstance(messages, list):
                return 400, {"code": "invalid_request", "message": "batch must be an array"}
        else:
            messages = [{"type": SINGLE_ROUTES[rec.path], **rec.body}]
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("type"), str):
                return 400, {"code": "invalid_request", "message": f"message {i} has no type"}
            if len(orjson.dumps(m)) > MAX_MESSAGE_BYTES:
                return 400, {"code": "invalid_request", "message": "Exceed payload limit"}
        rec.messages = messages
        return 200, {"success": True}

    def _accept(self, rec: Received) -> None:
        """Record an accepted request (to the file first, flushed, so a client's ack implies it)."""
        if self._record is not None:
            lines = b"".join(
                orjson.dumps({"messageId": m.get("messageId"), "request": rec.number}) + b"\n" for m in rec.messages
            )
            with self._lock:
                self._record.write(lines)
                self._record.flush()
        rec.accepted = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: SegmentServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API
    disable_nagle_algorithm = True  # headers and body go out in two writes: no delayed-ACK stalls
    timeout = 30  # an idle keep-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer(404, {"code": "not_found", "message": "POST only"})

    def do_POST(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        if raw is None:
            return
        gzipped = self.headers.get("Content-Encoding", "").lower() == "gzip"
        bad_gzip = False
        if gzipped:
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError):
                bad_gzip = True
        rec, planned = owner._begin(self, raw, gzipped)
        try:
            self._handle(owner, rec, planned, bad_gzip)
        finally:
            owner._end()

    def _handle(self, owner: SegmentServer, rec: Received, planned: Planned | None, bad_gzip: bool) -> None:
        if planned is not None and planned.kind == "drop":
            self.close_connection = True
            return
        if planned is not None and planned.kind == "slow":
            time.sleep(planned.seconds)
            planned = None if planned.then == 200 else Planned(planned.then)
        if planned is not None and isinstance(planned.kind, int) and not 200 <= planned.kind < 300:
            body = planned.body
            if body is None:
                body = {"code": "planned", "message": f"planned {planned.kind}"}
            headers = {} if planned.retry_after is None else {"Retry-After": str(planned.retry_after)}
            self._answer(planned.kind, body, rec, headers)
            return
        if bad_gzip:
            self._answer(400, {"code": "invalid_request", "message": "Invalid gzip body"}, rec)
            return
        status, body = owner._validate(rec)
        if status == 200:
            owner._accept(rec)
            if planned is not None and isinstance(planned.kind, int):
                status, body = planned.kind, planned.body if planned.body is not None else body
        self._answer(status, body, rec)

    def _read_body(self) -> bytes | None:
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts: list[bytes] = []
                while True:
                    size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        except (OSError, ValueError):
            self.close_connection = True
            return None

    def _answer(
        self, status: int, body: Any, rec: Received | None = None, headers: dict[str, str] | None = None
    ) -> None:
        data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else orjson.dumps(body)
        if rec is not None:  # before answering: a client that has the answer finds it recorded
            rec.status = status
            rec.answered = time.monotonic()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, bytes | str) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client is gone (it timed out)
            self.close_connection = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.replay.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", type=Path, help="append accepted messageIds here, one JSON line each")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="answer 500 to this share of requests")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--write-key", default=None, help="require this write key (401 otherwise)")
    args = parser.parse_args(argv)
    record = args.record.open("ab") if args.record else None
    server = SegmentServer(
        port=args.port, write_key=args.write_key, fail_rate=args.fail_rate, seed=args.seed, record=record
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        print(f"listening on {server.url}", flush=True)
        while not stop.wait(0.2):
            pass
    if record is not None:
        record.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
