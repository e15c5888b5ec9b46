"""Benchmark `cdp events lint --plan` against its ceiling and its baselines, on one generated log.

    python3 bench/lint_bench.py                 # 1M events (generated once into bench/data/)
    python3 bench/lint_bench.py --events 200000 # quicker
    python3 bench/lint_bench.py --memory 5000000  # also peak RSS at 1M and 5M events
    python3 bench/lint_bench.py --memory-log bench/data/events-5000000-s42-u40000.ndjson  # an existing 5M log

Measured in one process, back to back, on the same file (rates are messages per second):

  parse-only     for line in file: orjson.loads(line)            the ceiling
  reader         cdp's reader alone (iter_records: lines, BOM/CRLF, counts)
  naive          orjson + jsonschema iter_errors per event, one compiled validator per event
                 (on the first --naive-events messages: at ~6k/s a million would take minutes)
  lint jobs=1    cdp_cli.lint.runner.lint(plan=ecommerce), one process
  lint jobs=2    the same with two worker processes (this machine has 2 cores)
  ajv (node)     bench/ajv_lint.mjs: JSON.parse + ajv, the validator rudder-transformer and
                 Typewriter use, on schemas from `cdp plan export` (when node and npm are there)

Each is run --repeat times; the best run counts (machines are noisy). Ratios are against
parse-only from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT))


def ensure_log(events: int, seed: int = 42) -> Path:
    from cdp_cli.lint.runner import load_plan_for_lint
    from cdp_cli.samples import generate

    path = DATA / f"events-{events}-s{seed}.ndjson"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        generate(path, events, seed=seed, violations=0.05, plan=load_plan_for_lint([ROOT / "plans" / "ecommerce"]))
        print(
            f"generated {path.name} ({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.1f}s",
            flush=True,
        )
    return path


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


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


def naive(path: Path, limit: int) -> int:
    """What a team writes first: parse each line and run jsonschema on it."""
    import jsonschema
    import orjson

    from cdp_cli.lint.runner import load_plan_for_lint
    from cdp_cli.plan.compiler import compile_plan

    plan = load_plan_for_lint([ROOT / "plans" / "ecommerce"])
    validators = {}
    for c in compile_plan(plan):
        if c.kind == "track" and c.version in (None, 1):
            validators[c.name] = jsonschema.Draft202012Validator(c.schema, format_checker=jsonschema.FormatChecker())
    n = errors = 0
    with open(path, "rb") as fh:
        for line in fh:
            if n >= limit:
                break
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            n += 1
            v = validators.get(msg.get("event"))
            if v is not None:
                errors += sum(1 for _ in v.iter_errors(msg))
    return n


def cdp_lint(path: Path, jobs: int):
    from cdp_cli.lint.runner import lint

    return lint([path], plan_paths=[ROOT / "plans" / "ecommerce"], jobs=jobs, keep=0)


def ajv(path: Path) -> tuple[float, int] | None:
    if not shutil.which("node") or not shutil.which("npm"):
        return None
    bench = ROOT / "bench"
    if not (bench / "node_modules" / "ajv").exists():
        subprocess.run(
            ["npm", "install", "--no-save", "--silent", "--prefix", str(bench), "ajv@8", "ajv-formats@3"],
            check=True,
            capture_output=True,
        )
    schemas = DATA / "schemas"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cdp_cli",
            "plan",
            "export",
            "--to",
            "jsonschema",
            str(schemas),
            "--plan",
            "plans/ecommerce",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    r = subprocess.run(
        ["node", str(bench / "ajv_lint.mjs"), str(schemas), str(path)], capture_output=True, text=True, check=True
    )
    out = json.loads(r.stdout)
    return out["seconds"], out["messages"]


def peak_rss(path: Path, jobs: int) -> tuple[float, int]:
    """Peak RSS (MiB) of `cdp events lint` end to end, main process and workers (largest of each)."""
    code = (
        "import resource, sys, runpy\n"
        "sys.argv = ['cdp'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('cdp_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print('RSS', own, kids, file=sys.stderr)\n"
    )
    t = time.perf_counter()
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "events",
            "lint",
            str(path),
            "--plan",
            "plans/ecommerce",
            "-q",
            "--jobs",
            str(jobs),
            "--format",
            "json",
            "--max-findings",
            "1000",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    secs = time.perf_counter() - t
    line = [x for x in r.stderr.splitlines() if x.startswith("RSS")][-1]
    _, own, kids = line.split()
    return secs, max(int(own), int(kids)) // 1024


def cli_lint(path: Path, *extra: str) -> float:
    """Wall seconds of `cdp events lint LOG --plan plans/ecommerce -q` (default jobs), end to end."""
    cmd = [sys.executable, "-m", "cdp_cli", "events", "lint", str(path), "--plan", "plans/ecommerce", "-q", *extra]
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - t
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-1000:]}")
    return secs


def findings_cost(path: Path, rounds: int) -> list[tuple[float, float]]:
    """(without, with --findings-out) wall seconds, run in turn `rounds` times: the issue's "keeping
    every finding costs under 15% more", as paired rounds (a noisy machine drifts between runs)."""
    import tempfile

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            plain = cli_lint(path)
            kept = cli_lint(path, "--findings-out", str(Path(tmp) / f"f{i}.ndjson"))
            out.append((plain, kept))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--naive-events", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--memory", type=int, default=0, help="also measure peak RSS on a log this big (and on --events)")
    ap.add_argument("--memory-log", type=Path, help="the big log for --memory (instead of generating one)")
    ap.add_argument("--findings-rounds", type=int, default=3, help="paired CLI rounds with/without --findings-out")
    args = ap.parse_args()

    path = ensure_log(args.events)
    size = path.stat().st_size
    print(f"log: {path.name}, {args.events:,} lines, {size / 2**20:,.0f} MiB, {os.cpu_count()} cores", flush=True)
    rows = []
    t, n = best(lambda: parse_only(path), args.repeat)
    ceiling = n / t
    rows.append(("parse-only (orjson loop)", n, t))
    t, n = best(lambda: reader_only(path), args.repeat)
    rows.append(("cdp reader (iter_records)", n, t))
    t, n = best(lambda: naive(path, args.naive_events), 1)
    rows.append((f"naive orjson + jsonschema ({args.naive_events:,} msgs)", n, t))
    for jobs in (1, 2):
        t, r = best(lambda jobs=jobs: cdp_lint(path, jobs), args.repeat)
        rows.append((f"cdp events lint --plan, jobs={jobs}", r.stats.messages, t))
        print(f"  (jobs={jobs}: {r.total_findings:,} findings)", flush=True)
    a = ajv(path)
    if a:
        rows.append(("ajv 8 in node (JSON.parse + validate)", a[1], a[0]))
    print()
    print("| measurement | messages | seconds | messages/s | vs parse-only |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, n, t in rows:
        print(f"| {name} | {n:,} | {t:.2f} | {n / t:,.0f} | {n / t / ceiling:.2f} |")
    if args.findings_rounds:
        pairs = findings_cost(path, args.findings_rounds)
        ratios = sorted(k / p for p, k in pairs)
        print()
        print("| `cdp events lint --plan -q` (CLI, default jobs) | seconds per round | median ratio |")
        print("| --- | --- | ---: |")
        print(f"| without `--findings-out` | {', '.join(f'{p:.2f}' for p, _ in pairs)} | 1.00 |")
        print(
            f"| with `--findings-out FILE` (every finding) | {', '.join(f'{k:.2f}' for _, k in pairs)} "
            f"| {ratios[len(ratios) // 2]:.2f} |"
        )
    if args.memory or args.memory_log:
        big = args.memory_log or ensure_log(args.memory)
        args.memory = args.memory or sum(1 for _ in open(big, "rb"))
        print()
        print("| log | jobs | seconds | peak RSS MiB |")
        print("| --- | ---: | ---: | ---: |")
        for p, label in ((path, f"{args.events:,}"), (big, f"{args.memory:,}")):
            for jobs in (1, 2):
                secs, mib = peak_rss(p, jobs)
                print(f"| {label} | {jobs} | {secs:.1f} | {mib} |", flush=True)


if __name__ == "__main__":
    main()
