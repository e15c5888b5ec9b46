"""Rate of `cdp plan infer` (cdp_cli.plan.infer.infer_plan) against the bare parse rate, on one log.

    python3 infer_bench.py [LOG] [--repeat 3] [--jobs 1 2] [--lint]

Measured in one process, back to back on the same file (best of --repeat; rates in messages/s):

  parse-only     for line in file: orjson.loads(line)         the ceiling (the brief's "bare parse")
  reader         cdp's reader alone (iter_records)           what every cdp command pays
  lint jobs=N    cdp_cli.lint.runner.lint(plan=ecommerce)    for calibration (--lint)
  infer jobs=N   infer_plan(LOG, jobs=N), the draft built, not written

Each row gives wall-clock seconds and CPU seconds (this process plus its worker processes). On a
machine shared with other work the wall clock of multi-process rows suffers most; the "CPU-bound"
column is what the row would take with its cores to itself: max(parent CPU, children CPU / jobs).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path("/work/main")
sys.path.insert(0, str(ROOT))


def parse_only(path: Path) -> int:
    import orjson

    n = 0
    loads = orjson.loads
    with open(path, "rb") as fh:
        for line in fh:
            try:
                loads(line)
                n += 1
            except orjson.JSONDecodeError:
                pass
    return n


def reader_only(path: Path) -> int:
    from cdp_cli.events.reader import gc_paused, iter_records

    with gc_paused():
        return sum(1 for _ in iter_records([path]))


def infer(path: Path, jobs: int) -> int:
    from cdp_cli.plan.infer import infer_plan

    return infer_plan([path], jobs=jobs).acc.messages


def lint(path: Path, jobs: int) -> int:
    from cdp_cli.lint.runner import lint as run

    return run([path], plan_paths=[ROOT / "plans" / "ecommerce"], jobs=jobs, keep=0).stats.messages


def cpu() -> tuple[float, float]:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


def measure(fn, repeat: int, jobs: int = 1):
    """Best of ``repeat``: (messages, wall seconds, parent CPU, children CPU)."""
    best = None
    for _ in range(repeat):
        p0, c0 = cpu()
        t = time.perf_counter()
        n = fn()
        wall = time.perf_counter() - t
        p1, c1 = cpu()
        row = (n, wall, p1 - p0, c1 - c0)
        if best is None or wall < best[1]:
            best = row
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", nargs="?", default=str(ROOT / "bench/data/events-100000-s42.ndjson"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--lint", action="store_true", help="also time events lint, for calibration")
    a = ap.parse_args()
    path = Path(a.log)
    print(f"{path.name}: {path.stat().st_size / 2**20:,.0f} MiB, {time.strftime('%Y-%m-%d %H:%M')}")
    rows = [("parse-only (orjson loop)", 1, measure(lambda: parse_only(path), a.repeat))]
    rows.append(("cdp reader (iter_records)", 1, measure(lambda: reader_only(path), a.repeat)))
    for j in a.jobs:
        if a.lint:
            rows.append((f"events lint --plan, jobs={j}", j, measure(lambda j=j: lint(path, j), a.repeat)))
        rows.append((f"plan infer, jobs={j}", j, measure(lambda j=j: infer(path, j), a.repeat)))
    base_wall = rows[0][2][0] / rows[0][2][1]
    base_cpu = rows[0][2][0] / rows[0][2][2]
    print(
        "| measurement | messages | wall s | msgs/s | vs parse | CPU s (parent+workers) "
        "| CPU-bound msgs/s | vs parse (CPU) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, jobs, (n, wall, pc, cc) in rows:
        bound = max(pc, cc / jobs) if jobs > 1 else pc + cc
        print(
            f"| {label} | {n:,} | {wall:.2f} | {n / wall:,.0f} | {n / wall / base_wall:.2f} | {pc + cc:.2f} "
            f"| {n / bound:,.0f} | {n / bound / base_cpu:.2f} |"
        )
    import os

    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
