"""Rate of `cdp plan infer` (cdp_cli.plan.infer.infer_plan) against the bare parse rate, on one log.

    python3 infer_bench.py [LOG] [--repeat 3] [--jobs 1 2] [--lint]

Measured in one process on the same file, in --repeat rounds of every measurement in turn; each
figure is the median over the rounds, each ratio the median of the rounds' own ratios (rates in
messages/s):

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
import statistics
import sys
import time
from pathlib import Path
from typing import Any

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


def once(fn) -> tuple[int, float, float, float]:
    """One run: (messages, wall seconds, parent CPU, children CPU)."""
    p0, c0 = cpu()
    t = time.perf_counter()
    n = fn()
    wall = time.perf_counter() - t
    p1, c1 = cpu()
    return n, wall, p1 - p0, c1 - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", nargs="?", default=str(ROOT / "bench/data/events-100000-s42.ndjson"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--lint", action="store_true", help="also time events lint, for calibration")
    a = ap.parse_args()
    path = Path(a.log)
    print(f"{path.name}: {path.stat().st_size / 2**20:,.0f} MiB, {time.strftime('%Y-%m-%d %H:%M')}")
    # Rounds: every measurement once per round, in turn, so each round's ratios to the bare parse
    # compare runs seconds apart; the table gives the median of those per-round ratios (this
    # machine's speed drifts by 10-30% over minutes, which moves separate best-of figures apart).
    todo: list[tuple[str, int, Any]] = [
        ("parse-only (orjson loop)", 1, lambda: parse_only(path)),
        ("cdp reader (iter_records)", 1, lambda: reader_only(path)),
    ]
    for j in a.jobs:
        if a.lint:
            todo.append((f"events lint --plan, jobs={j}", j, lambda j=j: lint(path, j)))
        todo.append((f"plan infer, jobs={j}", j, lambda j=j: infer(path, j)))
    runs: list[list[tuple[int, float, float, float]]] = [[] for _ in todo]
    for _ in range(a.repeat):
        for i, (_label, _jobs, fn) in enumerate(todo):
            runs[i].append(once(fn))
    print(
        "| measurement | messages | wall s (median) | msgs/s | vs parse (median of rounds) | CPU s (parent+workers) "
        "| vs parse, CPU-bound (median of rounds) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = runs[0]
    for (label, jobs, _fn), rs in zip(todo, runs, strict=True):
        bound = [max(pc, cc / jobs) if jobs > 1 else pc + cc for _n, _w, pc, cc in rs]
        vs_wall = statistics.median(b[1] / r[1] for b, r in zip(base, rs, strict=True))
        vs_cpu = statistics.median((b[2] + b[3]) / x for b, x in zip(base, bound, strict=True))
        n = rs[0][0]
        wall = statistics.median(r[1] for r in rs)
        cpu_s = statistics.median(r[2] + r[3] for r in rs)
        print(f"| {label} | {n:,} | {wall:.2f} | {n / wall:,.0f} | {vs_wall:.2f} | {cpu_s:.2f} | {vs_cpu:.2f} |")
    print(
        "per-round wall s:",
        {label: [round(r[1], 2) for r in rs] for (label, _j, _f), rs in zip(todo, runs, strict=True)},
    )
    import os

    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
