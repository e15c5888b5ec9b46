"""Spark ``local[2]`` beside DuckDB on the same generated log: `profiles resolve`, `traits compute`
and `audiences compute`, each a whole `cdp` command, with its wall time, the peak memory of the
process tree (cdp and, for Spark, its JVM), and the outputs compared row for row.

    python3 bench/spark_bench.py --events 1000000

Spark's fixed costs (starting a JVM, planning each query) dominate on two cores: this records them,
and that the results are the same; Spark is for data past one machine (docs/spark.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from resolve_bench import ensure_log  # noqa: E402
from scale_bench import run as scale_run  # noqa: E402


def run(args: list[str]) -> tuple[float, float]:
    """Run ``cdp ARGS``: (seconds, peak MiB of the process tree's RSS, sampled every 0.2 s)."""
    r = scale_run(args)
    return r["seconds"], r["rss"]


def same_rows(a: Path, b: Path) -> bool:
    return pq.read_table(a).to_pylist() == pq.read_table(b).to_pylist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()
    log = ensure_log(a.events)
    spark = ["--engine", "spark", "--spark-master", f"local[{a.cores}]"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cdp-spark-bench-", dir=ROOT / "bench" / "data") as tmp:
        w = Path(tmp)
        out = {}
        for name, extra in (("duckdb", []), ("spark", spark)):
            p = w / f"profiles-{name}"
            secs, mib = run(["profiles", "resolve", str(log), "--out", str(p), "--jobs", str(a.cores), "-q", *extra])
            out[name] = p
            rows.append(("profiles resolve", name, secs, mib))
        files = ("profiles.parquet", "identities.parquet", "events.parquet", "merges.parquet")
        resolved_same = all(same_rows(out["duckdb"] / f, out["spark"] / f) for f in files)
        traits = {}
        for name, extra in (("duckdb", []), ("spark", spark)):
            t = w / f"traits-{name}.parquet"
            args = ["traits", "compute", "--profiles", str(out["duckdb"]), "--spec", "bench/traits_bench/traits.yaml"]
            secs, mib = run([*args, "--out", str(t), "-q", *extra])
            traits[name] = t
            rows.append(("traits compute", name, secs, mib))
        traits_same = same_rows(traits["duckdb"], traits["spark"])
        auds = {}
        for name, extra in (("duckdb", []), ("spark", spark)):
            d = w / f"audiences-{name}"
            args = [
                "audiences",
                "compute",
                "--profiles",
                str(out["duckdb"]),
                "--spec",
                "bench/traits_bench/audiences.yaml",
            ]
            secs, mib = run([*args, "--traits", str(traits["duckdb"]), "--out", str(d), "-q", *extra])
            auds[name] = d
            rows.append(("audiences compute", name, secs, mib))
        audiences_same = all(same_rows(f, auds["spark"] / f.name) for f in sorted(auds["duckdb"].glob("*.parquet")))
    print(f"\n{a.events:,} events, {a.cores} cores\n")
    print("| command | engine | seconds | peak memory (cdp + JVM) |\n| --- | --- | ---: | ---: |")
    for cmd, name, secs, mib in rows:
        print(f"| `{cmd}` | {name} | {secs:.1f} | {mib:,.0f} MiB |")
    print(f"\nsame rows: resolve {resolved_same}, traits {traits_same}, audiences {audiences_same}")


if __name__ == "__main__":
    main()
