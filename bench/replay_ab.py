"""Two versions of cdp replaying one log to PostgreSQL, in paired rounds: which code is faster.

    git worktree add /tmp/base HEAD~1              # the code to compare against
    python3 bench/replay_ab.py bench/data/events-200000-s42.ndjson --base /tmp/base --rounds 4

Each round runs `cdp events replay LOG --to <throwaway PostgreSQL>` once with the base checkout's
cdp_cli (PYTHONPATH) and once with this checkout's, into a schema of its own, alternating which goes
first; it prints both wall times, the CPU of cdp and its workers, and the round's ratio (base / this).
The server is tests/pg.py's (initdb in a temporary directory, fsync=off), started once. Machines are
noisy: read the median of the paired ratios, not one run. Extra arguments after `--` go to both
replays (say `-- --connections 1`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path, help="the NDJSON log to replay")
    ap.add_argument("--base", type=Path, required=True, help="a checkout of the code to compare against")
    ap.add_argument("--rounds", type=int, default=4, help="paired rounds (default 4)")
    ap.add_argument("extra", nargs="*", help="after --: arguments for both replays")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests import pg

    trees = {"base": args.base.resolve(), "this": ROOT}
    server = pg.server()
    dsn = next(server)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory(prefix="cdp-ab-") as work:
        for r in range(args.rounds):
            order = list(trees.items()) if r % 2 == 0 else list(reversed(trees.items()))
            for name, tree in order:
                schema = f"ab_{name}_{r}"
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                cmd = [sys.executable, "-m", "cdp_cli", "events", "replay", str(args.log.resolve()), "--to", dsn,
                       "--schema", schema, "--format", "json", "-q", "--dead-letter", f"{work}/{schema}.ndjson",
                       *args.extra]  # fmt: skip
                done = subprocess.run(
                    cmd, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True, cwd=work
                )
                wall = time.perf_counter() - started
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                if done.returncode not in (0, 1):
                    sys.exit(f"{name}: exit {done.returncode}\n{done.stderr[-2000:]}")
                runs[name].append((wall, cpu))
                sent = json.loads(done.stdout)["sent"]
                print(f"round {r + 1} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {sent:,} sent", flush=True)
            print(f"round {r + 1}: base / this = {runs['base'][-1][0] / runs['this'][-1][0]:.3f}", flush=True)
    ratios = [b[0] / t[0] for b, t in zip(runs["base"], runs["this"], strict=True)]
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    print(f"median ratio base / this: {statistics.median(ratios):.3f}; median CPU base {cpu['base']:.1f} s, "
          f"this {cpu['this']:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
