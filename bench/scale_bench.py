"""Memory and linearity of `cdp profiles resolve` from 1M to 5M messages (issue: past one machine).

    cdp samples generate --events 1000000 --seed 42 --violations 0.05 -o bench/data/events-1000000-s42.ndjson
    cdp samples generate --events 5000000 --seed 42 --violations 0.05 --users 40000 \\
        -o bench/data/events-5000000-s42-u40000.ndjson
    python3 bench/scale_bench.py                          # DuckDB, --jobs 2, both logs
    python3 bench/scale_bench.py --engine spark --logs 5000000 --spark-master 'local[2]'

Each run is one whole `cdp profiles resolve` command in a subprocess. Memory is sampled every 0.2 s
over the process tree (cdp, its worker processes and, for Spark, the JVM and Spark's Python workers):

  tree RSS   the sum of every process's resident set (counts pages a forked worker shares with its
             parent once per process: an upper bound)
  tree PSS   the sum of proportional set sizes (a shared page split among its sharers: what the
             tree really holds)
  main RSS   the peak resident set of the cdp process alone (its ``ru_maxrss``-like high-water mark)

Linearity: seconds per million messages at each size, and the ratio of the largest size's to the
smallest's (1.0 = linear). Both logs hold the same 40,000 people, so what grows is events, not
identifiers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
LOGS = {1_000_000: DATA / "events-1000000-s42.ndjson", 5_000_000: DATA / "events-5000000-s42-u40000.ndjson"}


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _field(pid: int, name: str) -> int:
    """A ``kB`` field of /proc/PID/smaps_rollup (Rss, Pss), in bytes (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(args: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cdp_cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks = {"rss": 0, "pss": 0, "main": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = _tree(proc.pid)
            peaks["rss"] = max(peaks["rss"], sum(_field(p, "Rss") for p in pids))
            peaks["pss"] = max(peaks["pss"], sum(_field(p, "Pss") for p in pids))
            peaks["main"] = max(peaks["main"], _field(proc.pid, "Rss"))
            done.wait(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"cdp {' '.join(args)} failed:\n{err.decode()[-3000:]}")
    return {"seconds": seconds, **{k: v / 2**20 for k, v in peaks.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes_help = "comma-separated sizes among " + ", ".join(map(str, LOGS))
    ap.add_argument("--logs", default="1000000,5000000", help=sizes_help)
    ap.add_argument("--engine", default="duckdb")
    ap.add_argument("--spark-master", default=None)
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--memory-limit", default="512MB")
    ap.add_argument("--mode", default="limits", choices=["limits", "unrestricted"])
    args = ap.parse_args()
    sizes = [int(s) for s in args.logs.split(",")]
    for n in sizes:
        if not LOGS[n].exists():
            raise SystemExit(f"{LOGS[n]} is missing: generate it with the commands in this script's docstring")
    print(f"{os.cpu_count()} cores; engine {args.engine}; --jobs {args.jobs}; --memory-limit {args.memory_limit}")
    print("\n| messages | seconds | s per 1M | tree RSS MiB | tree PSS MiB | main RSS MiB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    per_m = []
    for n in sizes:
        tmp = Path(tempfile.mkdtemp(dir=DATA))
        try:
            cmd = ["profiles", "resolve", str(LOGS[n]), "--out", str(tmp / "p"), "-q", "--jobs", args.jobs]
            cmd += ["--memory-limit", args.memory_limit, "--mode", args.mode, "--engine", args.engine]
            if args.spark_master:
                cmd += ["--spark-master", args.spark_master]
            r = run(cmd)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        per_m.append(r["seconds"] / (n / 1e6))
        print(
            f"| {n:,} | {r['seconds']:.1f} | {per_m[-1]:.1f} | {r['rss']:,.0f} | {r['pss']:,.0f} | {r['main']:,.0f} |",
            flush=True,
        )
    if len(per_m) > 1:
        print(f"\nseconds per 1M messages, largest log / smallest: {per_m[-1] / per_m[0]:.2f}x (1.00 = linear)")


if __name__ == "__main__":
    main()
