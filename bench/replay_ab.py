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
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", type=Path, help="the NDJSON log to replay")
    ap.add_argument("--base", type=Path, required=True, help="a checkout of the code to compare against")
    ap.add_argument("--rounds", type=int, default=4, help="paired rounds (default 4)")
    ap.add_argument("extra", nargs="*", help="after --: arguments for both replays")
    args = ap.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    from replay_bench import replay

    from tests import pg

    trees = {"base": args.base.resolve(), "this": ROOT}
    server = pg.server()
    dsn = next(server)
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory(prefix="cdp-ab-") as work:
        for r in range(args.rounds):
            order = list(trees.items()) if r % 2 == 0 else list(reversed(trees.items()))
            for name, tree in order:
                env = {**os.environ, "PYTHONPATH": str(tree)}
                out = replay(
                    args.log.resolve(), dsn, Path(work), "--schema", f"ab_{name}_{r}", "-q", *args.extra, env=env
                )
                runs[name].append(out)
                print(f"round {r + 1} {name}: {out['wall_s']} s wall, {out['cpu_s']} s CPU, {out['sent']:,} sent")
            print(
                f"round {r + 1}: base / this = {runs['base'][-1]['wall_s'] / runs['this'][-1]['wall_s']:.3f}",
                flush=True,
            )
    ratios = [b["wall_s"] / t["wall_s"] for b, t in zip(runs["base"], runs["this"], strict=True)]
    cpu = {k: statistics.median(o["cpu_s"] for o in v) for k, v in runs.items()}
    print(f"median ratio base / this: {statistics.median(ratios):.3f}; median CPU base {cpu['base']:.1f} s, "
          f"this {cpu['this']:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
