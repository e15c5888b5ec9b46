"""The ``http`` replay destination: a Segment-compatible batch API (``POST /v1/batch``).

Delivery is at least once: a batch counts as acknowledged only on a 2xx, and a batch whose answer
was lost (a timeout after the server had taken it) is sent again, so the receiving end must
de-duplicate by ``messageId`` (Segment does, for about a day). Messages keep their ``messageId`` and
``timestamp``; ``sentAt`` is set fresh on every attempt because Segment corrects clock skew with
``timestamp = receivedAt - (sentAt - originalTimestamp)``: an archived ``sentAt`` would shift every
event by the age of the archive.

What the API refuses, and what this module therefore never sends (from Segment's documented limits
and analytics-python):

- a message over 32,768 bytes of JSON: the API rejects the *whole* request with 400, so such a
  message is dead-lettered (``too_large``) and the rest of its batch goes on;
- a request over 500 KB or 2,500 messages: bodies are kept within 475,000 bytes uncompressed
  (analytics-python's figure). The runner cuts batches by the size of the messages alone, so
  :attr:`HttpDestination.limits` leaves room for what is added here: 37 bytes a message (a fresh
  ``sentAt`` and a comma) times 2,500, and 1,000 bytes of envelope, i.e. 381,500 bytes of messages.
  A batch that still comes out over (a long write key, a runner that cut too much) is split in
  halves: more requests, never a 400 for the whole batch.

Retries (the policy of Segment's current official clients, with the backoff spelled out):

- retried: connection errors (refused, reset, closed without an answer), timeouts, 408, 429, and
  5xx except 501 and 505; everything else that is not 2xx (other 4xx, 3xx, 501, 505) dead-letters
  the whole request at once with the status and a short reason from the body;
- a counted retry waits ``random() * min(backoff_cap, backoff_base * 2 ** n)`` seconds, ``n`` being
  the number of counted retries already made for this request (0, 1, 2, ...): "full jitter", so many
  workers hit by one outage do not come back in step. With the defaults: up to 0.5 s, 1 s, 2 s, ...
  60 s. A ``Retry-After`` on a retried 5xx or 408 raises that wait to ``min(Retry-After,
  retry_after_cap)``;
- a 429 with a positive ``Retry-After`` (seconds or an HTTP date) waits ``min(Retry-After,
  retry_after_cap)`` and does *not* use the retry budget: the server said when to come back, and
  being throttled is not a failure of the request (analytics-node). A 429 without it is a counted
  retry;
- a request gives up after ``max_retries`` counted retries, or when the next wait would take it past
  ``max_wait`` seconds (12 h by default, as analytics-node) since its first failure, which bounds
  rate-limited retries too. Its messages are then dead-lettered with the status of the last attempt
  and the reason ``gave up after N retries``;
- not retried but raised (DestinationError, the replay stops): what no retry mends, an invalid URL
  (at construction), a certificate that does not verify, and, until the server has answered once,
  an unknown host or a failed TLS handshake. A refused connection is retried: a server being
  restarted refuses connections for a moment.

The write key is a secret: it goes only into the ``Authorization`` header (HTTP basic, the key as
user name and an empty password) and the body's ``writeKey``. It is never in :attr:`label`, a repr,
an exception or a dead-letter reason (a server that echoes it gets it replaced by ``[write key]``).
"""

from __future__ import annotations

import base64
import gzip as gzip_codec
import math
import queue
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from cdp_cli import __version__
from cdp_cli.replay.destination import Batch, DeadLetter, DestinationError, Limits, Message, Outcome, Progress

#: the most a request body may weigh, uncompressed (Segment takes 500 KB; analytics-python's margin)
MAX_BODY_BYTES = 475_000
#: the most messages Segment takes in one batch
MAX_MESSAGES = 2_500
#: the most one message may weigh as compact JSON (analytics-python's MAX_MSG_SIZE)
MAX_MESSAGE_BYTES = 32_768
#: what setting ``sentAt`` on a message that has none adds, plus the comma between messages
PER_MESSAGE_OVERHEAD = len(',"sentAt":"2000-01-01T00:00:00.000Z"') + 1
#: room for ``{"batch":[`` and ``],"sentAt":"...","writeKey":"..."}`` (keys are tens of characters)
ENVELOPE_ALLOWANCE = 1_000
#: the paths that take batches; anything else in the URL's path is a prefix they are appended to
BATCH_PATHS = ("/v1/batch", "/v1/import")
SINGLE_ROUTES = ("identify", "track", "page", "screen", "group", "alias")
#: the longest a wait (backoff, Retry-After, rate) goes without looking whether to stop
WAIT_SLICE = 0.25
#: how much of an error body is read for a dead-letter reason
MAX_ERROR_BODY = 65_536

_REDACTED = "[write key]"


class _Stopped(Exception):
    """A worker was told to stop (interruption, an error elsewhere) while it held a batch."""


@dataclass(slots=True)
class _Answer:
    """One attempt's result: ``status`` is the HTTP status as text, or ``"timeout"`` / ``"connection"``."""

    status: str
    ok: bool = False
    retryable: bool = False
    retry_after: float | None = None
    reason: str = ""


class _Pacer:
    """The ``rate`` limit (messages per second, over all workers): each request of ``n`` messages
    reserves ``n / rate`` seconds of a shared schedule and starts when its slot comes. Idle time earns
    no credit, so the messages started within any window of ``t`` seconds are at most ``rate * t``
    plus one request's worth: a token bucket with a burst of one request, where a request of ``n``
    messages spends ``n`` tokens."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next: float | None = None
        self._lock = threading.Lock()

    def reserve(self, n: int) -> float:
        """Reserve a slot for ``n`` messages; return how long to wait before sending."""
        with self._lock:
            now = self._clock()
            start = now if self._next is None else max(now, self._next)
            self._next = start + n * self._interval
            return start - now


class HttpDestination:
    """Replays batches to a Segment-compatible HTTP API (see the module docstring for the policy).

    ``url``: the API's base URL (``https://api.segment.io``), or a full ``/v1/batch`` or ``/v1/import``
    URL; any other path is taken as a prefix (a proxy's mount point) to append ``/v1/batch`` to.
    ``write_key``: the source's write key; None takes the URL's user name if it has one (Segment's
    basic-auth convention, ``https://KEY@host``), else sends no credentials (local collectors).
    ``concurrency``: requests in flight, one thread and one keep-alive connection each. ``rate``:
    messages per second over all of them, retries included (None: unlimited). ``timeout``: seconds for
    each of connecting, writing, reading and waiting for a connection. ``max_retries``,
    ``backoff_base``, ``backoff_cap``, ``retry_after_cap``, ``max_wait``: the retry policy above.
    ``ca_file``: a PEM bundle to verify ``https`` servers with instead of the system's (verification
    itself is always on). ``sleep``, ``clock`` and ``jitter`` are injectable so tests can run hours of
    backoff in milliseconds.
    """

    kind = "http"
    transactional = False
    fresh_sent_at = True

    def __init__(
        self,
        url: str,
        *,
        write_key: str | None,
        gzip: bool = False,
        concurrency: int = 4,
        rate: float | None = None,
        timeout: float = 15.0,
        max_retries: int = 10,
        retry_after_cap: float = 300.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 60.0,
        max_wait: float = 43_200.0,
        ca_file: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError("rate must be a positive number of messages per second")
        if timeout <= 0 or retry_after_cap <= 0 or max_retries < 0 or max_wait < 0:
            raise ValueError("timeout and retry_after_cap must be positive, max_retries and max_wait not negative")
        if backoff_base < 0 or backoff_cap < 0:
            raise ValueError("backoff_base and backoff_cap must not be negative")
        self.label, self._url, self._host, url_user = _parse_url(url)
        self._key = write_key or url_user or None
        self.limits = Limits(
            max_messages=MAX_MESSAGES,
            max_bytes=MAX_BODY_BYTES - MAX_MESSAGES * PER_MESSAGE_OVERHEAD - ENVELOPE_ALLOWANCE,
        )
        self.gzip = gzip
        self.concurrency = concurrency
        self.rate = rate
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_after_cap = retry_after_cap
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_wait = max_wait
        self._verify: ssl.SSLContext | bool = True
        if ca_file is not None:  # read now, so a bad file is an error here and not in a worker
            try:
                self._verify = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as e:
                raise DestinationError(f"{self.label}: cannot use the CA file {ca_file}: {e}") from None
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._pacer = _Pacer(rate, clock) if rate is not None else None
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"cdp/{__version__}",
        }
        if self._key is not None:
            token = base64.b64encode(f"{self._key}:".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        if gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._secrets = [s for s in (self._key, self._headers.get("Authorization", "")[6:]) if s]
        self._stop = threading.Event()
        self._answered = threading.Event()  # some request got an HTTP answer: the host exists
        self._threads: list[threading.Thread] = []
        self._work: queue.Queue[Batch | None] = queue.Queue()
        self._results: queue.Queue[Outcome | BaseException] = queue.Queue()

    def __repr__(self) -> str:
        return f"HttpDestination({self.label!r}, concurrency={self.concurrency}, gzip={self.gzip})"

    # -- the Destination protocol ------------------------------------------------------------------

    def open(self, key: str) -> dict[str, Any] | None:
        """Nothing to prepare and no checkpoint to return: the server is not probed (a probe would
        send an event, and the first batch tells as much)."""
        return None

    def deliver(self, batches: Iterable[tuple[Batch, Progress | None]]) -> Iterator[Outcome]:
        """Send the batches with ``concurrency`` workers, yielding outcomes as batches complete (in
        any order). Batches are pulled lazily, at most ``2 * concurrency`` ahead of the outcomes
        yielded, so memory stays flat however long the input. On an interruption (or any error) the
        workers are told to stop: nothing more is pulled or sent, waits end within a fraction of a
        second, requests in flight end within ``timeout``, and the exception propagates."""
        if self._threads:
            raise RuntimeError("deliver() is called once per destination")
        self._stop.clear()
        for i in range(self.concurrency):
            t = threading.Thread(target=self._worker, name=f"cdp-http-{i}", daemon=True)
            self._threads.append(t)
            t.start()
        pending = 0
        exhausted = False
        source = iter(batches)
        finished = False
        try:
            while True:
                while not exhausted and pending < 2 * self.concurrency:
                    try:
                        batch, _progress = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    self._work.put(batch)
                    pending += 1
                if pending == 0:
                    finished = True
                    return
                result = self._next_result()
                pending -= 1
                if isinstance(result, BaseException):
                    raise result
                yield result
        finally:
            if not finished:
                self._stop.set()
            for _ in self._threads:
                self._work.put(None)

    def close(self, ok: bool) -> None:
        """Stop the workers and wait for them, boundedly: after an error or interruption a request
        still in flight is not waited for beyond a second (its outcome would be dropped anyway; the
        thread is a daemon and ends with its timeout)."""
        if not ok:
            self._stop.set()
        for _ in self._threads:
            self._work.put(None)
        deadline = time.monotonic() + (self.timeout + 1.0 if ok else 1.0)
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    # -- workers -----------------------------------------------------------------------------------

    def _next_result(self) -> Outcome | BaseException:
        """The next outcome (or a worker's error), waiting in slices so signals are handled promptly."""
        while True:
            try:
                return self._results.get(timeout=WAIT_SLICE)
            except queue.Empty:
                if not any(t.is_alive() for t in self._threads):
                    try:  # a worker puts its error before it ends: look once more
                        return self._results.get_nowait()
                    except queue.Empty:
                        return DestinationError(f"{self.label}: the delivery workers stopped unexpectedly")

    def _worker(self) -> None:
        """One worker: its own keep-alive connection, batches from the work queue until told to stop.
        Any error is handed to deliver(), which raises it in the caller's thread."""
        try:
            with httpx.Client(
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                follow_redirects=False,
                verify=self._verify,
            ) as client:
                while not self._stop.is_set():
                    try:
                        batch = self._work.get(timeout=WAIT_SLICE)
                    except queue.Empty:
                        continue
                    if batch is None:
                        return
                    self._results.put(self._deliver_batch(client, batch))
        except _Stopped:
            pass
        except Exception as e:
            self._stop.set()
            self._results.put(e)

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds`` in slices, giving up (``_Stopped``) as soon as the workers must stop."""
        remaining = seconds
        while remaining > 0:
            if self._stop.is_set():
                raise _Stopped
            step = min(remaining, WAIT_SLICE)
            self._sleep(step)
            remaining -= step
        if self._stop.is_set():
            raise _Stopped

    # -- one batch ---------------------------------------------------------------------------------

    def _deliver_batch(self, client: httpx.Client, batch: Batch) -> Outcome:
        """Dead-letter what the API would refuse for its size, then post the rest in as few requests
        as fit (one, unless the envelope pushes the batch over a limit) and merge their results."""
        outcome = Outcome(batch=batch, acked=[])
        placeholder = _sent_at()  # every sentAt has this length, so sizes computed now hold later
        fits: list[tuple[Message, int]] = []
        spliced = len(placeholder) + 12  # ,"sentAt":"...": 12 bytes around the value
        for m in batch.messages:
            raw = m.raw
            size = len(raw) + spliced if _splices(raw) else len(_encode_message(m, placeholder))
            if size > MAX_MESSAGE_BYTES:
                reason = f"{size} bytes as JSON, over the API's limit of {MAX_MESSAGE_BYTES} per message"
                outcome.dead.append(DeadLetter(m, "too_large", reason))
            else:
                fits.append((m, size))
        for chunk in self._chunks(fits, len(self._body([], placeholder))):
            self._post(client, [m for m, _ in chunk], outcome)
        return outcome

    def _chunks(self, items: list[tuple[Message, int]], envelope: int) -> Iterator[list[tuple[Message, int]]]:
        """``items`` in halves, recursively, until each request is within the count and byte limits."""
        if not items:
            return
        body = envelope + sum(size for _, size in items) + len(items) - 1
        if len(items) <= MAX_MESSAGES and (body <= MAX_BODY_BYTES or len(items) == 1):
            yield items
            return
        half = len(items) // 2
        yield from self._chunks(items[:half], envelope)
        yield from self._chunks(items[half:], envelope)

    def _body(self, messages: list[Message], sent_at: str) -> bytes:
        """The request body: each message as :func:`_encode_message` gives it, assembled in one join
        (the usual message is its JSON text less the closing brace, then the fresh sentAt)."""
        ts = sent_at.encode("ascii")
        tail = b',"sentAt":"' + ts + b'"},'
        parts = [b'{"batch":[']
        append = parts.append
        for m in messages:
            raw = m.raw
            if b'"sentAt"' not in raw and len(raw) > 2 and raw[0] == 123 and raw[-1] == 125:  # _splices, inlined
                append(raw[:-1])
                append(tail)
            else:
                append(_encode_message(m, sent_at))
                append(b",")
        if messages:
            parts[-1] = parts[-1][:-1]  # no comma after the last one
        parts.append(b'],"sentAt":"')
        parts.append(ts)
        parts.append(b'"')
        if self._key is not None:
            parts.append(b',"writeKey":')
            parts.append(orjson.dumps(self._key))
        parts.append(b"}")
        return b"".join(parts)

    def _post(self, client: httpx.Client, messages: list[Message], outcome: Outcome) -> None:
        """Post one request's messages until acknowledged, refused or given up (see the module doc)."""
        counted = 0  # retries that used the budget
        retries = 0  # all retries, for X-Retry-Count and the give-up reason
        first_failure: float | None = None
        while True:
            if self._pacer is not None:
                self._wait(self._pacer.reserve(len(messages)))
            if self._stop.is_set():
                raise _Stopped
            answer = self._attempt(client, messages, retries)
            if answer.ok:
                outcome.acked.extend(messages)
                return
            if not answer.retryable:
                outcome.dead.extend(DeadLetter(m, answer.status, answer.reason) for m in messages)
                return
            now = self._clock()
            first_failure = now if first_failure is None else first_failure
            if answer.status == "429" and answer.retry_after is not None:
                delay = min(answer.retry_after, self.retry_after_cap)
            elif counted >= self.max_retries:
                delay = math.inf
            else:
                delay = self._jitter() * min(self.backoff_cap, self.backoff_base * 2 ** min(counted, 62))
                if answer.retry_after is not None:
                    delay = max(delay, min(answer.retry_after, self.retry_after_cap))
                counted += 1
            if now + delay - first_failure > self.max_wait:
                reason = f"gave up after {retries} retries"
                if math.isfinite(delay):
                    reason += f" (the next wait would pass max_wait, {self.max_wait:g} s)"
                outcome.dead.extend(DeadLetter(m, answer.status, reason) for m in messages)
                return
            outcome.retries[answer.status] += 1
            retries += 1
            self._wait(delay)

    def _attempt(self, client: httpx.Client, messages: list[Message], retries: int) -> _Answer:
        """One POST. Transport failures become ``timeout`` / ``connection`` answers, except those that
        no retry can mend (an unknown host, a certificate that does not verify): DestinationError."""
        body = self._body(messages, _sent_at())
        if self.gzip:
            body = gzip_codec.compress(body, compresslevel=6, mtime=0)
        headers = dict(self._headers)
        if retries:
            headers["X-Retry-Count"] = str(retries)
        try:
            with client.stream("POST", self._url, content=body, headers=headers) as response:
                try:
                    content = _read_some(response)
                except httpx.DecodingError:  # a body that says gzip and is not: the status still stands
                    content = b""
        except httpx.TimeoutException:
            return _Answer("timeout", retryable=True)
        except httpx.TransportError as e:
            self._fatal_transport_error(e)
            return _Answer("connection", retryable=True)
        self._answered.set()
        code = response.status_code
        status = str(code)
        if 200 <= code < 300:
            return _Answer(status, ok=True)
        retry_after = _retry_after(response.headers.get("Retry-After"))
        if code in (408, 429) or (500 <= code < 600 and code not in (501, 505)):
            return _Answer(status, retryable=True, retry_after=retry_after)
        if 300 <= code < 400:
            return _Answer(status, reason=f"redirected ({status}); redirects are not followed: check the URL")
        return _Answer(status, reason=self._reason(code, response.reason_phrase, content))

    def _fatal_transport_error(self, e: httpx.TransportError) -> None:
        """Raise DestinationError for a failure that retrying cannot mend: a certificate that does not
        verify, a request httpx cannot make, and, until the server has answered once, an unknown host
        or a failed TLS handshake (an http server behind an https URL). Once it has answered, those
        are passing hiccups (DNS, a restarting proxy) and are retried as connection errors."""
        if isinstance(e, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            raise DestinationError(f"{self.label}: cannot send the request ({type(e).__name__})") from None
        first = not self._answered.is_set()
        for cause in _causes(e):
            if isinstance(cause, ssl.SSLCertVerificationError):
                what = cause.verify_message or "certificate verification failed"
                raise DestinationError(f"{self.label}: TLS certificate not trusted ({what})") from None
            if isinstance(cause, socket.gaierror) and first:
                raise DestinationError(f"{self.label}: cannot resolve host {self._host!r}") from None
            if isinstance(cause, ssl.SSLError) and first:
                what = cause.reason or "handshake failed"
                raise DestinationError(f"{self.label}: TLS handshake failed ({what}); is it an https server?") from None

    def _reason(self, code: int, phrase: str, content: bytes) -> str:
        """A one-line reason from an error body: its ``message`` if it is JSON, else its first 200
        characters; never the write key."""
        try:
            doc = orjson.loads(content)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            text = doc["message"]
        else:
            text = content.decode("utf-8", errors="replace")
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        text = " ".join(text.split())[:200]
        return text or f"HTTP {code} {phrase}".strip()


def _parse_url(url: str) -> tuple[str, str, str, str | None]:
    """``(label, request URL, host, user name)``: userinfo dropped from the label and the request URL
    (the label has no query either), the path resolved to the batch route. Raises DestinationError for
    a URL that cannot work, naming it without its userinfo."""
    shown = _without_userinfo(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise DestinationError(f"invalid URL {shown!r}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise DestinationError(
            f"invalid URL {shown!r}: expected http(s)://host[:port][/path], for example https://api.segment.io"
        )
    port = port or (443 if scheme == "https" else 80)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if path.endswith(BATCH_PATHS):
        pass
    elif path.rsplit("/", 1)[-1] in SINGLE_ROUTES:
        raise DestinationError(
            f"{scheme}://{netloc}{path}: replay sends batches; give the API's base URL or its /v1/batch route"
        )
    elif path.endswith("/v1"):
        path += "/batch"
    else:
        path += "/v1/batch"
    label = f"{scheme}://{netloc}{path}"
    request_url = label + (f"?{parts.query}" if parts.query else "")
    try:
        httpx.URL(request_url)
    except httpx.InvalidURL:
        raise DestinationError(f"invalid URL {label!r}") from None
    return label, request_url, host, unquote(parts.username) if parts.username else None


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return url.strip().rsplit("@", 1)[-1]
    authority, slash, tail = rest.partition("/")
    return f"{scheme}://{authority.rsplit('@', 1)[-1]}{slash}{tail}"


def _sent_at() -> str:
    """Now, in UTC, as ISO-8601 with milliseconds and ``Z`` (always 24 characters)."""
    now = datetime.now(UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def _splices(raw: bytes) -> bool:
    """Whether a fresh ``sentAt`` can be appended to a message's JSON text as it is."""
    return b'"sentAt"' not in raw and len(raw) > 2 and raw[0:1] == b"{" and raw[-1:] == b"}"


def _encoded_size(m: Message, sent_at: str) -> int:
    """``len(_encode_message(m, sent_at))``, without building it when it is a splice."""
    raw = m.raw
    if _splices(raw):
        return len(raw) + len(sent_at) + 12  # ,"sentAt":"...": 12 bytes around the value
    return len(_encode_message(m, sent_at))


def _encode_message(m: Message, sent_at: str) -> bytes:
    """The message as sent: its data with a fresh ``sentAt`` (replacing an archived one). The
    runner removes archived ``sentAt`` values for this destination (``fresh_sent_at``), so the fresh
    one is usually appended to the message's JSON text as it is, without parsing it again."""
    raw = m.raw
    if _splices(raw):
        return b"".join((raw[:-1], b',"sentAt":"', sent_at.encode("ascii"), b'"}'))
    return orjson.dumps({**m.data, "sentAt": sent_at})


def _read_some(response: httpx.Response) -> bytes:
    """At most MAX_ERROR_BODY bytes of the body (a reason needs 200 characters; a server that sends
    megabytes of error page should not cost as much)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_ERROR_BODY:
            break
    return b"".join(chunks)[:MAX_ERROR_BODY]


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date); None when it is
    absent, unreadable or not in the future (a zero wait would let a throttling server spin us)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" parses naive; it means UTC
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _causes(e: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = e
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
