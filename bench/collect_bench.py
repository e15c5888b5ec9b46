"""Load generator for ``cdp collect``: how many requests and messages a second it acknowledges on loopback.

    python3 bench/collect_bench.py                       # durable (fsync before every 200), then --no-fsync
    python3 bench/collect_bench.py --seconds 10 --clients 2 --threads 4 --batch 100 --modes durable
    python3 bench/collect_bench.py --modes durable,lint,plan --verify

Starts the collector as a real process (``python3 -m cdp_cli.collect --port 0 --out TMP``), then
``--clients`` processes of ``--threads`` threads each, every thread on one keep-alive HTTP/1.1
connection, posting ``{"batch": [...]}`` bodies of ``--batch`` messages (about 500 bytes each, every
messageId unique) to ``/v1/batch`` as fast as the answers come back. Reported per mode: requests/s and
messages/s acknowledged (200), latency percentiles, and the collector's own figures (syncs, the most
requests one sync acknowledged). ``--verify`` then reads the output directory with cdp's event reader
and checks that every acknowledged messageId is there exactly once.

Modes: ``durable`` (the default: data synced before each acknowledgement, group commit), ``nosync``
(``--no-fsync``, the ceiling without the disk), ``lint`` (every message through the event rules),
``plan`` (the rules and ``plans/ecommerce``). The ratio durable/nosync is what the disk costs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

# an analytics-python-like track message, ~500 bytes once the collector stamps it
_BEFORE = b'{"type":"track","messageId":"'
_AFTER = (
    b'","userId":"user-%d","anonymousId":"0b7c9e44-4b59-4b8f-9f6c-6f6cb2b0a1c1","event":"Product Added",'
    b'"properties":{"product_id":"sku-1042","name":"Trail Runner 3","price":129.99,"quantity":1,"currency":"USD",'
    b'"category":"shoes"},"context":{"library":{"name":"analytics-python","version":"2.3.4"},'
    b'"ip":"203.0.113.7"},"timestamp":"%s","integrations":{}}'
)
#: the clients' clock: messages happen "now", so the clock-skew rules see nothing wrong
NOW = datetime.now(UTC).isoformat().encode()


def _body(prefix: bytes, start: int, n: int) -> bytes:
    items = [_BEFORE + prefix + str(start + i).encode() + (_AFTER % (start + i, NOW)) for i in range(n)]
    return b'{"batch":[' + b",".join(items) + b'],"sentAt":"' + NOW + b'","writeKey":"bench"}'


def _thread(url: str, prefix: bytes, batch: int, until: float, out: dict, keep_ids: bool) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    sent = acked = 0
    lat: list[float] = []
    ids: list[tuple[int, int]] = []
    n = 0
    headers = {"Content-Type": "application/json"}
    while time.monotonic() < until:
        body = _body(prefix, n, batch)
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/batch", body, headers)
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            continue
        lat.append(time.perf_counter() - t0)
        sent += 1
        if resp.status == 200:
            acked += 1
            if keep_ids:
                ids.append((n, batch))
        n += batch
    conn.close()
    out.update(sent=sent, acked=acked, lat=lat, ids=ids)


def _client(url: str, index: int, threads: int, batch: int, until: float, keep_ids: bool, queue) -> None:
    results: list[dict] = [{} for _ in range(threads)]
    ts = [
        threading.Thread(
            target=_thread, args=(url, f"c{index}t{t}-".encode(), batch, until, results[t], keep_ids), daemon=True
        )
        for t in range(threads)
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    queue.put((index, results))


def _start(out: Path, extra: list[str]) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "cdp_cli.collect", "--port", "0", "--out", str(out), "--no-config", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"the collector did not start: {line}{proc.stderr.read()}")
    return proc, line.split()[-1]


def run(mode: str, args: argparse.Namespace) -> dict:
    extra = {
        "durable": [],
        "nosync": ["--no-fsync"],
        "lint": ["--lint"],
        "plan": ["--plan", str(ROOT / "plans" / "ecommerce")],
    }[mode]
    with tempfile.TemporaryDirectory(prefix="collect-bench-") as tmp:
        out = Path(tmp) / "out"
        proc, url = _start(out, extra)
        try:
            time.sleep(0.3)
            ctx = multiprocessing.get_context("fork")
            queue = ctx.Queue()
            started = time.monotonic()
            until = started + args.seconds
            procs = [
                ctx.Process(target=_client, args=(url, i, args.threads, args.batch, until, args.verify, queue))
                for i in range(args.clients)
            ]
            for p in procs:
                p.start()
            gathered = [queue.get(timeout=args.seconds + 120) for _ in procs]
            elapsed = time.monotonic() - started
            for p in procs:
                p.join()
        finally:
            proc.send_signal(signal.SIGTERM)
            stdout, _ = proc.communicate(timeout=120)
        summary = json.loads(stdout)
        results = [r for _, rs in sorted(gathered) for r in rs]
        acked = sum(r["acked"] for r in results)
        sent = sum(r["sent"] for r in results)
        lat = sorted(x for r in results for x in r["lat"])
        figures = {
            "mode": mode,
            "seconds": round(elapsed, 2),
            "requests": sent,
            "acked": acked,
            "requests_per_s": round(acked / elapsed),
            "messages_per_s": round(acked * args.batch / elapsed),
            "p50_ms": round(1000 * lat[len(lat) // 2], 1) if lat else None,
            "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 1) if lat else None,
            "syncs": summary["syncs"],
            "largest_group_commit": summary["largest_group_commit"],
            "messages_written": summary["lines_written"],
            "files": summary["files"],
        }
        if args.verify:
            figures["verified"] = _verify(out, gathered, args)
        return figures


def _verify(out: Path, gathered: list, args: argparse.Namespace) -> str:
    sys.path.insert(0, str(ROOT))
    from collections import Counter

    from cdp_cli.events.reader import iter_records

    on_disk = Counter(r.msg["messageId"] for r in iter_records([out]))
    missing = 0
    for index, results in gathered:
        for t, r in enumerate(results):
            for start, n in r["ids"]:
                for i in range(n):
                    if on_disk.get(f"c{index}t{t}-{start + i}", 0) != 1:
                        missing += 1
    dup = sum(1 for n in on_disk.values() if n > 1)
    left = [p.name for p in out.glob(".*.open")]
    return f"{len(on_disk):,} ids on disk, {missing} acknowledged ids missing or repeated, {dup} repeated, open {left}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--clients", type=int, default=2, help="client processes")
    ap.add_argument("--threads", type=int, default=4, help="threads (keep-alive connections) per client process")
    ap.add_argument("--batch", type=int, default=100, help="messages per request")
    ap.add_argument("--modes", default="durable,nosync")
    ap.add_argument("--verify", action="store_true", help="check every acknowledged messageId is on disk once")
    args = ap.parse_args()
    print(f"cpus={os.cpu_count()} python={sys.version.split()[0]} clients={args.clients}x{args.threads} "
          f"batch={args.batch} seconds={args.seconds}")  # fmt: skip
    rows = [run(mode, args) for mode in args.modes.split(",")]
    for row in rows:
        print(json.dumps(row))
    by = {r["mode"]: r for r in rows}
    if "durable" in by and "nosync" in by and by["nosync"]["messages_per_s"]:
        ratio = by["durable"]["messages_per_s"] / by["nosync"]["messages_per_s"]
        print(f"durable / nosync = {ratio:.2f}")


if __name__ == "__main__":
    main()
