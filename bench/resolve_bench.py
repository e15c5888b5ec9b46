"""Benchmark `cdp profiles resolve` against graph baselines, on one generated log.

    python3 -m pip install -e '.[bench]'            # networkx and scipy, for the baselines
    python3 bench/resolve_bench.py                  # 1M events (generated once into bench/data/)
    python3 bench/resolve_bench.py --events 200000  # quicker
    python3 bench/resolve_bench.py --memory 5000000 # also whole-process peak RSS at 1M and 5M events

Measured in one process, back to back, on the same file:

  edges (orjson)    for line in file: orjson.loads + cdp's identifier extraction, interned to integer
                    codes in a dict, one edge per event from its first identifier to each other one
                    (the shared cost of every approach: the parse)
  networkx          nx.Graph(edges) + connected_components, on those codes
  scipy             scipy.sparse.csgraph.connected_components on the same edges (the practical ceiling
                    for the unrestricted mode: C code on integer arrays)
  edges (DuckDB)    the issue's ceiling: one DuckDB query over the raw log extracts the same identifier
                    edges (every core), then scipy on them: cdp's goal is within 2.5x of that
  resolve unrestricted  cdp_cli.identity.resolve(..., unrestricted=True), end to end: read, stage,
                    sort, resolve, and write the four Parquet files
  resolve limits    the same with Segment-style limits (the default); with several cores both run
                    by components (one partition per worker)
  one graph pass    limits, with the graph pass in one process (by_components=False): the files must
                    be byte for byte the same

Ratios: unrestricted against (edges + scipy), the issue's "within 2x of the scipy ceiling including
parsing"; limits against unrestricted. The component count of scipy must equal the number of profiles
in unrestricted mode (checked). Each is run --repeat times; the best counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT))


def ensure_log(events: int, seed: int = 42) -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"events-{events}-s{seed}.ndjson"
    if not path.exists():
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cdp_cli",
                "samples",
                "generate",
                "--events",
                str(events),
                "--seed",
                str(seed),
                "--violations",
                "0.05",
                "-o",
                str(path),
            ],
            check=True,
            cwd=ROOT,
        )
        print(
            f"generated {path.name} ({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.1f}s",
            flush=True,
        )
    return path


def edges_orjson(path: Path):
    """The identifier graph of the log, as cdp resolves it: a messageId counts once (the copy first in
    resolution order: effective timestamp, then receivedAt; cdp drops the later copies before the
    graph sees them), so the component count must equal cdp's profile count in unrestricted mode."""
    import numpy as np
    import orjson

    from cdp_cli.events.model import effective_timestamp, parse_timestamp
    from cdp_cli.identity.config import build_config
    from cdp_cli.identity.extract import Extractor

    def micros(dt) -> int:
        return int(dt.timestamp() * 1_000_000) if dt is not None else -(2**62)

    x = Extractor(build_config({}).unrestricted())
    codes: dict = {}
    src: list[int] = []
    dst: list[int] = []
    by_mid: dict[str, tuple] = {}  # messageId -> (order key, identifiers) of the copy kept so far

    def add(ids: list) -> None:
        first = codes.setdefault(ids[0], len(codes))
        src.append(first)
        dst.append(first)  # a self-loop keeps single-identifier nodes in the graph
        for k in ids[1:]:
            src.append(first)
            dst.append(codes.setdefault(k, len(codes)))

    with open(path, "rb") as fh:
        for n, line in enumerate(fh):
            try:
                msg = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if type(msg) is not dict:
                continue
            ids = [k for k in x.extract(msg) if x.types[k[0]].match]
            mid = msg.get("messageId")
            if type(mid) is str and mid:
                key = (micros(effective_timestamp(msg)), micros(parse_timestamp(msg.get("receivedAt"))), n)
                kept = by_mid.get(mid)
                if kept is None or key < kept[0]:
                    by_mid[mid] = (key, ids)
                continue
            if ids:
                add(ids)
    for _key, ids in by_mid.values():
        if ids:
            add(ids)
    return np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), len(codes)


EDGES_SQL = r"""
-- the identifier graph in one DuckDB query (the issue's ceiling): each message's identifiers as cdp's
-- default configuration reads them (trimmed; email lowercased; device ids by device type; the
-- configured placeholder values blocked), one edge from its first identifier to each identifier
-- (a self-loop keeps lone identifiers), identifiers numbered densely. The edges are MATERIALIZED:
-- inlined twice, DuckDB parsed the log twice (7.8 s instead of 3.0 s at 1M)
WITH m AS (
    SELECT json_extract_string(json, [
        '$.userId', '$.traits.email', '$.context.traits.email', '$.anonymousId',
        '$.context.device.id', '$.context.device.type', '$.context.device.advertisingId',
        '$.context.device.adTrackingEnabled', '$.context.device.token',
        '$.traits.phone', '$.context.traits.phone',
        '$.integrations."Google Analytics".clientId', '$.context.integrations."Google Analytics".clientId'
    ]) AS v
    FROM read_ndjson_objects(?, ignore_errors = true)
),
ids AS (
    SELECT list_filter([
        'user_id:' || trim(v[1]),
        'email:' || lower(trim(coalesce(v[2], v[3]))),
        v[6] || '.id:' || trim(v[5]),
        CASE WHEN v[8] = 'true' THEN v[6] || '.idfa:' || trim(v[7]) END,
        v[6] || '.push_token:' || trim(v[9]),
        'anonymous_id:' || trim(v[4]),
        'ga_client_id:' || trim(coalesce(v[12], v[13])),
        'phone:' || trim(coalesce(v[10], v[11]))
    ], lambda x: x IS NOT NULL AND lower(split_part(x, ':', 2)) NOT IN ({blocked})
          AND NOT regexp_matches(split_part(x, ':', 2), '^[0-]*$')) AS ids
    FROM m
),
edges AS MATERIALIZED (SELECT ids[1] AS a, unnest(ids) AS b FROM ids WHERE len(ids) > 0),
codes AS (SELECT id, row_number() OVER () - 1 AS code FROM (SELECT DISTINCT b AS id FROM edges))
SELECT ca.code AS src, cb.code AS dst
FROM edges JOIN codes ca ON ca.id = edges.a JOIN codes cb ON cb.id = edges.b
"""


def edges_duckdb(path: Path):
    """The issue's ceiling: the identifier edges extracted by one DuckDB query over the raw log (every
    core; messageIds not deduplicated, so its component count can differ from cdp's by a few)."""
    import duckdb
    import numpy as np

    from cdp_cli.identity.config import build_config

    blocked = ", ".join("'" + b.replace("'", "''") + "'" for b in sorted(build_config({}).blocked_exact))
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    got = con.execute(EDGES_SQL.replace("{blocked}", blocked), [str(path)]).fetchnumpy()
    src, dst = got["src"].astype(np.int64), got["dst"].astype(np.int64)
    n = int(max(src.max(initial=-1), dst.max(initial=-1)) + 1)
    con.close()
    return src, dst, n


def components_scipy(src, dst, n: int) -> int:
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    m = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    k, _ = connected_components(m, directed=False)
    return int(k)


def components_networkx(src, dst, n: int) -> int:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src.tolist(), dst.tolist()))
    return nx.number_connected_components(g)


def best(fn, repeat: int):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def peak_rss(path: Path, unrestricted: bool) -> tuple[float, float]:
    code = (
        "import resource, sys, time\n"
        "from cdp_cli.identity.resolve import resolve\n"
        "t = time.perf_counter()\n"
        f"r = resolve([sys.argv[1]], sys.argv[2], unrestricted={unrestricted})\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        out = (
            subprocess.run(
                [sys.executable, "-c", code, str(path), str(Path(tmp) / "out")],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            .stdout.splitlines()[-1]
            .split()
        )
    return float(out[0]), int(out[1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--memory", type=int, default=0, help="also measure peak RSS on a log this big (and on --events)")
    args = ap.parse_args()
    from cdp_cli.identity.resolve import resolve

    path = ensure_log(args.events)
    print(f"log: {path.name}, {path.stat().st_size / 2**20:,.0f} MiB, {os.cpu_count()} cores", flush=True)
    rows = []
    t_edges, (src, dst, n) = best(lambda: edges_orjson(path), args.repeat)
    rows.append(("edges: orjson parse + identifier extraction + interning", t_edges))
    t_nx, k_nx = best(lambda: components_networkx(src, dst, n), 1)
    rows.append(("networkx connected_components (graph build included)", t_nx))
    t_sp, k_sp = best(lambda: components_scipy(src, dst, n), args.repeat)
    rows.append(("scipy connected_components", t_sp))
    assert k_nx == k_sp, (k_nx, k_sp)
    # the ceiling: DuckDB extracts the edges (every core), scipy finds the components
    t_dedges, (dsrc, ddst, dn) = best(lambda: edges_duckdb(path), args.repeat)
    rows.append(("edges: one DuckDB query over the raw log (the issue's ceiling, with scipy)", t_dedges))
    t_dsp, k_dsp = best(lambda: components_scipy(dsrc, ddst, dn), args.repeat)
    rows.append(("scipy connected_components on DuckDB's edges", t_dsp))
    tmp = Path(tempfile.mkdtemp(dir=DATA))
    try:
        t_un, r_un = best(lambda: resolve([path], tmp / "u", unrestricted=True), args.repeat)
        rows.append(("cdp profiles resolve --mode unrestricted (end to end)", t_un))
        t_li, r_li = best(lambda: resolve([path], tmp / "l"), args.repeat)
        rows.append(("cdp profiles resolve (limits, end to end)", t_li))
        # the graph pass in one process instead of by components (staging in the workers alike)
        t_one, r_one = best(lambda: resolve([path], tmp / "o", by_components=False), args.repeat)
        rows.append(("cdp profiles resolve (limits), one graph pass instead of by components", t_one))
        for name in ("profiles", "identities", "events", "merges"):  # the same files either way
            assert (tmp / "o" / f"{name}.parquet").read_bytes() == (tmp / "l" / f"{name}.parquet").read_bytes(), name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert r_un.profiles == k_sp, f"unrestricted profiles {r_un.profiles} != scipy components {k_sp}"
    ceiling = t_edges + t_sp
    duck_ceiling = t_dedges + t_dsp
    print(
        f"\nDuckDB's edges: {dn:,} identifiers, {k_dsp:,} components (no messageId dedup); against that "
        f"ceiling ({duck_ceiling:.2f} s): unrestricted {t_un / duck_ceiling:.1f}x, limits {t_li / duck_ceiling:.1f}x "
        f"(the issue's goal: 2.5x)"
    )
    print(
        f"\n{r_un.events:,} events, {n:,} identifiers, {len(src):,} edges; {k_sp:,} components = "
        f"{r_un.profiles:,} unrestricted profiles; limits mode: {r_li.profiles:,} profiles, {r_li.merges:,} merges, "
        f"{r_li.refused:,} refused\n"
    )
    print("| measurement | seconds | events/s | vs edges + scipy |")
    print("| --- | ---: | ---: | ---: |")
    for name, t in rows:
        print(f"| {name} | {t:.2f} | {r_un.events / t:,.0f} | {t / ceiling:.2f}x |")
    print(f"\nlimits / unrestricted: {t_li / t_un:.2f}x; unrestricted / (edges + scipy): {t_un / ceiling:.2f}x")
    print(f"by components / one graph pass (limits): {t_li / t_one:.2f}x")
    print(
        json.dumps(
            {
                "edges": t_edges,
                "networkx": t_nx,
                "scipy": t_sp,
                "duckdb_edges": t_dedges,
                "duckdb_scipy": t_dsp,
                "unrestricted": t_un,
                "limits": t_li,
            }
        )
    )
    if args.memory:
        print("\n| log | mode | seconds | peak RSS |\n| --- | --- | ---: | ---: |")
        for events in (args.events, args.memory):
            p = ensure_log(events)
            for unrestricted in (False, True):
                secs, rss = peak_rss(p, unrestricted)
                print(
                    f"| {events:,} events | {'unrestricted' if unrestricted else 'limits'} "
                    f"| {secs:.1f} | {rss:,.0f} MiB |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
