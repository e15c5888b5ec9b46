"""The http replay destination against a real local Segment-compatible server (tests/replay/server.py).

No mocks: every test speaks HTTP over a socket. Waits that would take minutes (Retry-After, backoff)
run on an injected clock and sleep that only count; one test checks Retry-After in real time.
"""

from __future__ import annotations

import base64
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from cdp_cli.errors import Interrupted
from cdp_cli.replay.destination import Batch, DestinationError, Message, Outcome, Progress
from cdp_cli.replay.http import ENVELOPE_ALLOWANCE, MAX_BODY_BYTES, PER_MESSAGE_OVERHEAD, HttpDestination
from tests.replay.server import SegmentServer

KEY = "wk_SECRET_4f9a2c7e1b"
TOKEN = base64.b64encode(f"{KEY}:".encode()).decode()
ARCHIVED_SENT_AT = "2021-03-04T05:06:08.000Z"
TIMESTAMP = "2021-03-04T05:06:07.890Z"
SENT_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class FakeTime:
    """A clock that only moves when slept on: hours of backoff in no time, every wait recorded."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept = 0.0
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            self.slept += seconds


def message(i: int, *, pad: int = 0, data: dict[str, Any] | None = None) -> Message:
    data = data or {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"msg-{i:06d}",
        "userId": f"user-{i % 7}",
        "timestamp": TIMESTAMP,
        "sentAt": ARCHIVED_SENT_AT,
        "properties": {"i": i, "pad": "x" * pad},
    }
    return Message(
        position=i,
        file="archive.ndjson",
        line=i + 1,
        message_id=str(data.get("messageId")),
        data=data,
        size=len(orjson.dumps(data)),
    )


def messages(n: int, **kw: Any) -> list[Message]:
    return [message(i, **kw) for i in range(n)]


def batches(msgs: list[Message], per: int) -> Iterator[tuple[Batch, Progress | None]]:
    for seq, start in enumerate(range(0, len(msgs), per)):
        yield Batch(seq, msgs[start : start + per]), None


def run(dest: HttpDestination, items: Iterable[tuple[Batch, Progress | None]]) -> list[Outcome]:
    try:
        outcomes = list(dest.deliver(items))
    except BaseException:
        dest.close(False)
        raise
    dest.close(True)
    for o in outcomes:  # every message of a batch is acked or dead, never both, never lost
        assert sorted(m.position for m in o.acked + [d.message for d in o.dead]) == sorted(
            m.position for m in o.batch.messages
        )
    return outcomes


def ids(msgs: Iterable[Message]) -> list[str]:
    return [m.message_id for m in msgs]


def total_retries(outcomes: list[Outcome]) -> Counter[str]:
    total: Counter[str] = Counter()
    for o in outcomes:
        total.update(o.retries)
    return total


def fast(url: str, **kw: Any) -> HttpDestination:
    """A destination whose waits are counted, not slept (and whose jitter is at its maximum)."""
    ft = kw.pop("time", None) or FakeTime()
    kw.setdefault("write_key", KEY)
    return HttpDestination(url, sleep=ft.sleep, clock=ft.clock, jitter=lambda: 1.0, **kw)


# -- delivery through failures ---------------------------------------------------------------------


def test_every_message_arrives_exactly_once_through_429_5xx_timeouts_and_dropped_connections(
    segment_server: SegmentServer,
) -> None:
    server = segment_server
    server.plan(429, retry_after=30)
    server.plan(500)
    server.plan(503)
    server.plan("slow", seconds=1.6, then=503)  # beyond the timeout, and then it fails anyway
    server.plan("drop")
    server.plan(502)
    ft = FakeTime()
    msgs = messages(600)
    outcomes = run(fast(server.url, time=ft, concurrency=2, timeout=0.8), batches(msgs, 50))

    assert Counter(server.received_ids()) == Counter(ids(msgs))  # each exactly once
    assert sorted(o.batch.seq for o in outcomes) == list(range(12))
    assert all(not o.dead for o in outcomes)
    assert total_retries(outcomes) == {"429": 1, "500": 1, "503": 1, "timeout": 1, "connection": 1, "502": 1}
    assert ft.slept >= 30  # the Retry-After was waited out


def test_a_timed_out_request_the_server_completed_is_sent_again_with_the_same_message_ids(
    segment_server: SegmentServer,
) -> None:
    """At least once: the answer was lost, so the batch is resent; the stable messageIds are what
    lets the API de-duplicate it."""
    segment_server.plan("slow", seconds=1.3)  # then 200, after the client gave up
    msgs = messages(40)
    outcomes = run(fast(segment_server.url, concurrency=1, timeout=0.8), batches(msgs, 20))
    segment_server.wait_idle()
    first = segment_server.requests[0]
    assert first.accepted
    counts = Counter(segment_server.received_ids())
    assert set(counts) == set(ids(msgs))
    assert {i for i, n in counts.items() if n > 1} == {m["messageId"] for m in first.messages}
    assert total_retries(outcomes) == {"timeout": 1}


def test_retry_after_is_honoured_in_real_time_and_retries_say_so(segment_server: SegmentServer) -> None:
    segment_server.plan(429, retry_after=1)
    outcomes = run(HttpDestination(segment_server.url, write_key=KEY, concurrency=1), batches(messages(10), 10))
    first, second = segment_server.requests
    assert first.status == 429 and second.status == 200
    assert first.answered is not None and second.arrived - first.answered >= 0.95
    assert "x-retry-count" not in first.headers and second.headers["x-retry-count"] == "1"
    assert outcomes[0].retries == {"429": 1}


def test_rate_limited_retries_use_no_retry_budget_and_retry_after_is_capped(segment_server: SegmentServer) -> None:
    segment_server.plan(429, retry_after=1000, times=3)
    ft = FakeTime()
    dest = fast(segment_server.url, time=ft, max_retries=0, retry_after_cap=300)
    outcomes = run(dest, batches(messages(5), 5))
    assert ids(outcomes[0].acked) == ids(messages(5)) and outcomes[0].retries == {"429": 3}
    assert ft.slept == pytest.approx(900)


def test_retry_after_as_an_http_date(segment_server: SegmentServer) -> None:
    segment_server.plan(429, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True))
    ft = FakeTime()
    run(fast(segment_server.url, time=ft), batches(messages(3), 3))
    assert 57 <= ft.slept <= 61


def test_backoff_is_full_jitter_doubling_from_the_base_and_gives_up_after_max_retries(
    segment_server: SegmentServer,
) -> None:
    segment_server.plan(503, times=4)
    ft = FakeTime()
    outcomes = run(fast(segment_server.url, time=ft, max_retries=3, backoff_base=0.5), batches(messages(4), 4))
    # jitter pinned at 1.0: waits are min(cap, 0.5 * 2**n) for n = 0, 1, 2
    assert ft.slept == pytest.approx(0.5 + 1 + 2)
    assert len(segment_server.requests) == 4
    assert [(d.status, d.reason) for d in outcomes[0].dead] == [("503", "gave up after 3 retries")] * 4
    assert outcomes[0].retries == {"503": 3} and not outcomes[0].acked


def test_backoff_is_capped(segment_server: SegmentServer) -> None:
    segment_server.plan(500, times=3)
    ft = FakeTime()
    run(fast(segment_server.url, time=ft, backoff_base=10, backoff_cap=15), batches(messages(2), 2))
    assert ft.slept == pytest.approx(10 + 15 + 15)


def test_max_wait_bounds_rate_limited_retries(segment_server: SegmentServer) -> None:
    segment_server.plan(429, retry_after=100, times=10)
    outcomes = run(fast(segment_server.url, max_wait=250), batches(messages(2), 2))
    assert len(segment_server.requests) == 3
    assert {(d.status, d.reason) for d in outcomes[0].dead} == {
        ("429", "gave up after 2 retries (the next wait would pass max_wait, 250 s)")
    }


def test_connection_refused_at_first_is_retried() -> None:
    with SegmentServer() as probe:  # a port that is free once this server is gone
        port = probe.port
    started: list[SegmentServer] = []

    def sleep(seconds: float) -> None:
        if not started:
            started.append(SegmentServer(port=port).start())

    dest = HttpDestination(
        f"http://127.0.0.1:{port}", write_key=KEY, sleep=sleep, jitter=lambda: 1.0, backoff_base=0.01
    )
    try:
        outcomes = run(dest, batches(messages(5), 5))
        assert outcomes[0].retries == {"connection": 1}
        assert started[0].received_ids() == ids(messages(5))
    finally:
        for s in started:
            s.stop()


# -- refusals --------------------------------------------------------------------------------------


def test_a_400_dead_letters_its_batch_with_the_server_reason_and_is_not_retried(segment_server: SegmentServer) -> None:
    segment_server.plan(400, body={"code": "invalid_request", "message": "Bad\n thing  happened"})
    msgs = messages(20)
    outcomes = {o.batch.seq: o for o in run(fast(segment_server.url, concurrency=1), batches(msgs, 10))}
    assert [(d.status, d.reason) for d in outcomes[0].dead] == [("400", "Bad thing happened")] * 10
    assert not outcomes[0].acked and not outcomes[0].retries
    assert ids(outcomes[1].acked) == ids(msgs[10:]) == segment_server.received_ids()
    assert len(segment_server.requests) == 2


@pytest.mark.parametrize("status", [501, 505, 404, 413])
def test_statuses_that_are_never_retried(segment_server: SegmentServer, status: int) -> None:
    segment_server.plan(status)
    outcomes = run(fast(segment_server.url), batches(messages(3), 3))
    assert len(segment_server.requests) == 1
    assert {d.status for d in outcomes[0].dead} == {str(status)} and not outcomes[0].retries


def test_a_non_json_error_body_gives_its_first_200_characters(segment_server: SegmentServer) -> None:
    segment_server.plan(403, body="<html>\n<title>Forbidden</title>" + "y" * 500)
    outcomes = run(fast(segment_server.url), batches(messages(1), 1))
    reason = outcomes[0].dead[0].reason
    assert reason.startswith("<html> <title>Forbidden</title>yyy") and len(reason) == 200


def test_a_message_over_32_kb_is_dead_lettered_and_the_rest_of_its_batch_delivered(
    segment_server: SegmentServer,
) -> None:
    msgs = messages(5)
    msgs[2] = message(2, pad=40_000)
    near = message(3, pad=0)
    del near.data["sentAt"]
    near.data["properties"]["pad"] = "z" * (32_768 - len(orjson.dumps(near.data)) - 10)  # fits, not with sentAt
    assert near.size == len(orjson.dumps(near.data))  # the size follows the data
    msgs[3] = near
    assert near.size <= 32_768
    outcomes = run(fast(segment_server.url), batches(msgs, 5))
    assert [(d.message.position, d.status) for d in outcomes[0].dead] == [(2, "too_large"), (3, "too_large")]
    assert "32768" in outcomes[0].dead[0].reason
    assert segment_server.received_ids() == ids([msgs[0], msgs[1], msgs[4]]) == ids(outcomes[0].acked)
    assert all(r.status == 200 for r in segment_server.requests)


# -- what is sent ----------------------------------------------------------------------------------


def test_write_key_as_basic_auth_and_in_the_body_and_the_headers() -> None:
    with SegmentServer(write_key=KEY) as server:
        run(fast(server.url), batches(messages(3), 3))
        (req,) = server.requests
    assert req.status == 200 and req.path == "/v1/batch"
    assert req.headers["authorization"] == f"Basic {TOKEN}"
    assert (req.auth_user, req.auth_password) == (KEY, "")
    assert req.body["writeKey"] == KEY
    assert req.headers["content-type"] == "application/json"
    assert re.fullmatch(r"cdp/\S+", req.headers["user-agent"])


def test_a_wrong_key_is_refused_by_the_server_and_dead_lettered() -> None:
    with SegmentServer(write_key="another") as server:
        outcomes = run(fast(server.url), batches(messages(2), 2))
    assert {(d.status, d.reason) for d in outcomes[0].dead} == {("401", "Invalid write key")}


def test_the_write_key_never_appears_in_what_the_destination_says(segment_server: SegmentServer) -> None:
    said: list[str] = []
    dest = fast(f"http://{KEY}:pw@127.0.0.1:{segment_server.port}/?k=v", write_key=None)  # key from the URL
    said += [dest.label, repr(dest), str(dest.limits)]
    segment_server.plan(401, body={"code": "unauthorized", "message": f"bad key {KEY} / Basic {TOKEN}"})
    segment_server.plan(400, body=f"echo {KEY}")
    segment_server.plan(503, times=20)
    outcomes = run(dest, batches(messages(3), 1))
    said += [d.reason for o in outcomes for d in o.dead] + [d.status for o in outcomes for d in o.dead]
    assert {d.status for o in outcomes for d in o.dead} == {"401", "400", "503"}
    assert segment_server.requests[0].auth_user == KEY  # it was sent, though
    for url in (f"http://{KEY}@no-such-host.invalid", f"ftp://{KEY}@x", f"http://{KEY}@h:99999", f"{KEY}@h"):
        with pytest.raises(DestinationError) as err:
            run(HttpDestination(url, write_key=KEY), batches(messages(1), 1))
        said += [str(err.value), repr(err.value), "".join(traceback.format_exception(err.value))]
    for text in said:
        assert KEY not in text and TOKEN not in text, text


def test_gzip_bodies_decode(segment_server: SegmentServer) -> None:
    msgs = messages(300)
    run(fast(segment_server.url, gzip=True), batches(msgs, 100))
    assert all(r.gzipped and r.headers["content-encoding"] == "gzip" for r in segment_server.requests)
    assert all(int(r.headers["content-length"]) < len(r.raw) for r in segment_server.requests)
    assert Counter(segment_server.received_ids()) == Counter(ids(msgs))


def test_limits_leave_room_for_the_envelope() -> None:
    limits = HttpDestination("http://127.0.0.1:9", write_key=KEY).limits
    assert limits.max_messages == 2_500
    assert limits.max_bytes + 2_500 * PER_MESSAGE_OVERHEAD + ENVELOPE_ALLOWANCE <= MAX_BODY_BYTES == 475_000


def test_requests_never_exceed_2500_messages_or_475000_bytes(segment_server: SegmentServer) -> None:
    """The runner cuts batches within the limits; a batch the envelope (or a runner bug) pushes over
    is split, and still yields one outcome."""
    small = messages(3_000)  # too many messages for one request
    sized = [message(10_000 + i, pad=70) for i in range(2_500)]  # ~180 bytes each: over with sentAt
    big = [message(20_000 + i, pad=4_000) for i in range(200)]  # ~800 KB: far over
    items = [(Batch(0, small), None), (Batch(1, sized), None), (Batch(2, big), None)]
    outcomes = run(fast(segment_server.url), items)
    assert sorted(o.batch.seq for o in outcomes) == [0, 1, 2] and all(not o.dead for o in outcomes)
    reqs = segment_server.requests
    assert len(reqs) > 3 and all(r.status == 200 for r in reqs)
    assert all(len(r.body["batch"]) <= 2_500 and len(r.raw) <= 475_000 for r in reqs)
    assert Counter(segment_server.received_ids()) == Counter(ids(small + sized + big))


def test_a_fresh_sent_at_per_request_and_archived_timestamps_kept(segment_server: SegmentServer) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    run(fast(segment_server.url), batches(messages(30), 10))
    after = datetime.now(UTC) + timedelta(seconds=1)
    for req in segment_server.requests:
        sent_at = req.body["sentAt"]
        assert SENT_AT.match(sent_at) and before <= datetime.fromisoformat(sent_at) <= after
        assert all(m["sentAt"] == sent_at and m["timestamp"] == TIMESTAMP for m in req.body["batch"])


def test_url_paths_and_label() -> None:
    def label(url: str) -> str:
        return HttpDestination(url, write_key=KEY).label

    assert label("https://user:pw@API.Segment.io/") == "https://api.segment.io:443/v1/batch"
    assert label("http://127.0.0.1:8080/v1/import?x=1") == "http://127.0.0.1:8080/v1/import"
    assert label("http://h/v1/batch/") == "http://h:80/v1/batch"
    assert label("http://h/proxy/") == "http://h:80/proxy/v1/batch"
    assert label("http://h/v1") == "http://h:80/v1/batch"
    assert label("http://[::1]:81") == "http://[::1]:81/v1/batch"


@pytest.mark.parametrize("url", ["ftp://example.com", "http://", "example.com", "http://h:99999", "http://h/v1/track"])
def test_unusable_urls_are_refused_up_front(url: str) -> None:
    with pytest.raises(DestinationError):
        HttpDestination(url, write_key=KEY)


def test_an_unreadable_ca_file_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(DestinationError, match="cannot use the CA file"):
        HttpDestination("https://127.0.0.1", write_key=KEY, ca_file=str(tmp_path / "missing.pem"))


def test_an_unknown_host_is_a_destination_error() -> None:
    dest = HttpDestination("http://no-such-host.invalid", write_key=KEY)
    with pytest.raises(DestinationError, match="cannot resolve host 'no-such-host.invalid'"):
        run(dest, batches(messages(1), 1))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_verifies_certificates(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    with SegmentServer(tls=(str(cert), str(key))) as server:
        assert server.url.startswith("https://")
        with pytest.raises(DestinationError, match="TLS certificate not trusted"):
            run(HttpDestination(server.url, write_key=KEY), batches(messages(1), 1))
        run(HttpDestination(server.url, write_key=KEY, ca_file=str(cert)), batches(messages(2), 2))
        assert server.received_ids() == ids(messages(2))
    with SegmentServer() as plain, pytest.raises(DestinationError, match="TLS handshake failed"):
        run(HttpDestination(plain.url.replace("http:", "https:"), write_key=KEY), batches(messages(1), 1))


# -- pace, concurrency, laziness, interruption -----------------------------------------------------


def test_the_rate_limit_holds(segment_server: SegmentServer) -> None:
    msgs = messages(2_000)
    start = time.monotonic()
    run(HttpDestination(segment_server.url, write_key=KEY, rate=4_000, concurrency=4), batches(msgs, 100))
    assert time.monotonic() - start >= 0.35  # (2000 - 100) / 4000 = 0.475 s at least, in theory
    assert len(segment_server.received_ids()) == 2_000


def test_concurrent_requests_yield_every_outcome(segment_server: SegmentServer) -> None:
    segment_server.plan("slow", seconds=0.3, times=4)
    msgs = messages(80)
    outcomes = run(HttpDestination(segment_server.url, write_key=KEY, concurrency=4), batches(msgs, 10))
    assert sorted(o.batch.seq for o in outcomes) == list(range(8))
    assert segment_server.max_in_flight >= 2
    assert Counter(segment_server.received_ids()) == Counter(ids(msgs))


def test_batches_are_pulled_lazily(segment_server: SegmentServer) -> None:
    segment_server.plan("slow", seconds=0.02, times=100)
    pulled = 0

    def source() -> Iterator[tuple[Batch, Progress | None]]:
        nonlocal pulled
        for item in batches(messages(400), 10):
            pulled += 1
            yield item

    dest = HttpDestination(segment_server.url, write_key=KEY, concurrency=2)
    seen = 0
    for _ in dest.deliver(source()):
        seen += 1
        assert pulled - seen <= 2 * 2
    dest.close(True)
    assert seen == 40


def test_an_interruption_while_pulling_stops_the_workers(segment_server: SegmentServer) -> None:
    segment_server.plan("slow", seconds=1.0, times=2)

    def source() -> Iterator[tuple[Batch, Progress | None]]:
        yield from batches(messages(20), 10)
        raise Interrupted(signal.SIGINT)

    dest = HttpDestination(segment_server.url, write_key=KEY, concurrency=2)
    with pytest.raises(Interrupted):
        list(dest.deliver(source()))
    start = time.monotonic()
    dest.close(False)
    assert time.monotonic() - start < 1.5
    for t in dest._threads:
        t.join(3)
        assert not t.is_alive()


def test_an_interruption_during_a_retry_after_wait_ends_it_promptly(segment_server: SegmentServer) -> None:
    segment_server.plan(429, retry_after=100)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    dest = HttpDestination(segment_server.url, write_key=KEY, concurrency=1)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            list(dest.deliver(batches(messages(5), 5)))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    start = time.monotonic()
    dest.close(False)
    assert time.monotonic() - start < 1.5
    assert not any(t.is_alive() for t in dest._threads)
    assert len(segment_server.requests) == 1


# -- the official client ---------------------------------------------------------------------------


def test_the_official_client_is_accepted_and_its_batches_replay_with_the_same_message_ids(
    segment_server: SegmentServer,
) -> None:
    from segment.analytics.client import Client

    client = Client(write_key=KEY, host=segment_server.url, gzip=True, upload_size=40, upload_interval=0.05)
    stamp = datetime(2021, 3, 4, 5, 6, 7, 890_000, tzinfo=UTC)
    for i in range(100):
        client.track(user_id=f"u{i % 9}", event="Order Completed", properties={"i": i}, timestamp=stamp)
    client.identify(user_id="u1", traits={"plan": "pro"}, timestamp=stamp)
    client.page(user_id="u1", name="Home", timestamp=stamp)
    client.shutdown()

    sent = segment_server.requests
    assert sent and all(r.status == 200 and r.path == "/v1/batch" and r.gzipped for r in sent)
    assert all(r.auth_user == KEY and r.write_key == KEY for r in sent)
    archived = [m for r in sent for m in r.messages]
    original_ids = segment_server.received_ids()
    assert len(archived) == len(original_ids) == 102 and len(set(original_ids)) == 102

    segment_server.reset()
    replayed = [message(i, data=m) for i, m in enumerate(archived)]
    outcomes = run(HttpDestination(segment_server.url, write_key=KEY), batches(replayed, 25))
    assert all(not o.dead for o in outcomes)
    assert Counter(segment_server.received_ids()) == Counter(original_ids)
    again = {m["messageId"]: m for r in segment_server.requests for m in r.messages}
    for m in archived:
        assert again[m["messageId"]]["timestamp"] == m["timestamp"]
        assert {k: v for k, v in again[m["messageId"]].items() if k != "sentAt"} == {
            k: v for k, v in m.items() if k != "sentAt"
        }


def test_the_server_runs_as_a_process_and_records_what_it_accepts(tmp_path: Path) -> None:
    """The form the SIGKILL tests use: accepted messageIds land in the record file before the answer."""
    record = tmp_path / "accepted.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.replay.server", "--port", "0", "--record", str(record), "--fail-rate", "0.3"]
        + ["--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]
        msgs = messages(200)
        outcomes = run(fast(url), batches(msgs, 20))
        assert all(not o.dead for o in outcomes) and sum(o.retries["500"] for o in outcomes) > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    lines = [orjson.loads(line) for line in record.read_bytes().splitlines()]
    assert Counter(line["messageId"] for line in lines) == Counter(ids(msgs))
    assert all(isinstance(line["request"], int) for line in lines)
