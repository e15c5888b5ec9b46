"""Probe (issue: lint faster than every peer): can a bulk pre-check in DuckDB meet the lint goal?

This is a measurement, not product code. The issue's goal for `cdp events lint --plan` on two
cores is at least 0.5 of the bare orjson parse rate, that is a whole lint within twice the time one
core takes to parse the log. The issue's idea is the contract the jsonschema-rs fast path keeps: the
engine pre-checks every line in bulk, and only the lines it cannot clear go through cdp's Python
rules, which make the exact findings.

The probe times a deliberately *incomplete* pre-check, so that what it measures is a lower bound of
the real one:

- the lines as one VARCHAR column, read by DuckDB itself (``read_csv`` with no delimiter or quote
  that can occur: the cheapest way lines reach the engine, ignoring gzip, zstd, stdin and line
  numbers);
- ``json_valid``; the top-level fields as one typed ``json_transform``; ``type`` among the six,
  ``userId``/``anonymousId`` one a non-blank string, ``messageId`` a non-blank string, the four
  timestamps absent or UTC RFC 3339 text within ``--now``'s bounds (compared as text), a track's
  event among the plan's events;
- the privacy scan on ``properties`` and ``traits`` only (card numbers, phone numbers, emails: the
  patterns of :mod:`cdp_cli.pii`).

Left out, each of which the real pre-check needs and each of which costs more: the plan's property
schemas (types, required, enums, ranges, formats per event and version), ``context`` and the other
payload rules, the duplicate-messageId index, and the guards that make DuckDB's JSON reader agree
with orjson (duplicate keys: a JSON path takes the first, orjson the last; trailing commas, NaN,
1e400 and deep nesting, which ``json_valid`` accepts). The lines it does not clear go through
Python at the per-message cost of today's checker (``--python-us``, default 20 us, from
``bench/RESULTS.md``), on two cores.

    python3 bench/lint_engine_probe.py bench/data/events-1000000-s42.ndjson --lines 400000

Prints per line: the parse-only loop (the baseline, measured here: the fastest of three passes),
the read into DuckDB, the pre-check on 1 and 2 threads (the fastest of three), the share of lines
it clears, and the projection for the whole log against the goal's budget (2 x parse-only).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: cdp_cli.pii's loose patterns (card numbers, E.164 phone numbers, emails), in RE2 syntax
PII = r"\d(?:[ -]?\d){12,18}|\+[1-9]\d{7,14}|[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"
TS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z$"


#: JSON Schema types -> DuckDB's json_type names
_JSON_TYPES = {
    "string": ["VARCHAR"],
    "number": ["DOUBLE", "BIGINT", "UBIGINT"],
    "integer": ["BIGINT", "UBIGINT"],
    "array": ["ARRAY"],
    "object": ["OBJECT"],
    "boolean": ["BOOLEAN"],
}


def properties_sql(properties: dict[str, dict]) -> tuple[str, str]:
    """The plan's shared properties as one typed ``json_transform`` of ``properties`` (every value as
    JSON) and a condition on each value's JSON type (the schema's ``type`` only: no enum, range,
    length, format or per-event ``required``, which the real pre-check needs too)."""
    fields = ", ".join(f'"{name}": "JSON"' for name in properties)
    checks = []
    for name, spec in properties.items():
        kinds = spec.get("type")
        if kinds is None:
            continue
        allowed = [t for k in ([kinds] if isinstance(kinds, str) else kinds) for t in _JSON_TYPES[k]]
        listed = ", ".join(f"'{t}'" for t in allowed)
        checks.append(f'(p."{name}" IS NULL OR json_type(p."{name}") IN ({listed}))')
    return "{" + fields + "}", " AND ".join(checks)


def precheck_sql(events: list[str], oldest: str, future: str, properties: dict[str, dict] | None = None) -> str:
    planned = ", ".join("'" + e.replace("'", "''") + "'" for e in events)
    fields = ", ".join(
        f'"{f}": "VARCHAR"'
        for f in (
            "type",
            "event",
            "userId",
            "anonymousId",
            "messageId",
            "timestamp",
            "originalTimestamp",
            "sentAt",
            "receivedAt",
        )
    )

    def ts(col: str) -> str:
        bounds = f"m.{col} >= '{oldest}' AND m.{col} < '{future}'"
        return f"(m.{col} IS NULL OR (regexp_full_match(m.{col}, '{TS}') AND {bounds}))"

    shape, typed = properties_sql(properties) if properties else ("", "")
    extract = f", json_transform(json_extract(line, '$.properties'), '{shape}') AS p" if properties else ""
    return f"""
    WITH j AS (
        SELECT line, json_transform(line, '{{{fields}}}') AS m{extract}
        FROM lines WHERE json_valid(line)
    )
    SELECT count(*) FILTER (WHERE
        m.type IN ('track', 'identify', 'page', 'screen', 'group', 'alias')
        AND (length(trim(m.userId)) > 0 OR length(trim(m.anonymousId)) > 0)
        AND length(trim(m.messageId)) > 0
        AND {ts("timestamp")} AND {ts("originalTimestamp")} AND {ts("sentAt")} AND {ts("receivedAt")}
        AND (m.type <> 'track' OR m.event IN ({planned}))
        AND NOT regexp_matches(coalesce(json_extract(line, '$.properties')::VARCHAR, '')
                               || coalesce(json_extract(line, '$.traits')::VARCHAR, ''), '{PII}')
        {"AND " + typed if typed else ""}
    ) AS clean, count(*) AS total FROM j
    """


def main() -> None:
    import duckdb
    import orjson

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--lines", type=int, default=400_000, help="lines of the log to probe (default 400,000)")
    ap.add_argument("--log-lines", type=int, default=1_000_000, help="lines the projection is for (default 1M)")
    ap.add_argument("--python-us", type=float, default=20.0, help="cdp's per-message cost on one core (default 20)")
    args = ap.parse_args()

    with open(args.log, "rb") as f:
        lines = list(itertools.islice(f, args.lines))
    n = len(lines)
    loads = orjson.loads
    best = float("inf")
    for _ in range(3):  # the fastest of three passes, as the lint bench's parse-only row
        started = time.perf_counter()
        for raw in lines:
            try:
                loads(raw)
            except orjson.JSONDecodeError:
                pass
        best = min(best, time.perf_counter() - started)
    parse_us = best / n * 1e6

    import yaml

    from cdp_cli.lint.runner import load_plan_for_lint

    plan = load_plan_for_lint([ROOT / "plans" / "ecommerce"])
    shared = yaml.safe_load((ROOT / "plans" / "ecommerce" / "properties.yaml").read_text())["properties"]
    queries = {
        "top level + privacy": precheck_sql(sorted(plan.events), "2000-01-01T00:00:00", "2026-12-03T00:00:00"),
        "+ property types": precheck_sql(sorted(plan.events), "2000-01-01T00:00:00", "2026-12-03T00:00:00", shared),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lines.txt"
        path.write_bytes(b"".join(lines))
        del lines
        out: dict[tuple[str, int], tuple[float, float, int, int]] = {}
        for (what, sql), threads in itertools.product(queries.items(), (1, 2)):
            con = duckdb.connect()
            con.execute(f"SET threads = {threads}")
            started = time.perf_counter()
            con.execute(
                "CREATE TABLE lines AS SELECT line FROM read_csv(?, columns = {'line': 'VARCHAR'}, "
                "delim = '\x01', quote = '', escape = '', header = false, auto_detect = false, "
                "max_line_size = 100000000)",
                [str(path)],
            )
            read_us = (time.perf_counter() - started) / n * 1e6
            best = float("inf")
            for _ in range(3):  # the fastest of three
                started = time.perf_counter()
                clean, total = con.execute(sql).fetchone()
                best = min(best, time.perf_counter() - started)
            check_us = best / n * 1e6
            out[what, threads] = (read_us, check_us, clean, total)
            con.close()
    budget = 2 * parse_us * args.log_lines / 1e6
    print(f"{n:,} lines of {args.log.name}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    print(f"parse-only (orjson loop, one core): {parse_us:.2f} us a line; the goal's budget for {args.log_lines:,}")
    print(f"lines: 2 x parse-only = {budget:.2f} s\n")
    print("| pre-check | DuckDB threads | read | pre-check | lines cleared | to Python | projected lint, s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (what, threads), (read_us, check_us, clean, _total) in out.items():
        rest = 1 - clean / n
        python_s = rest * args.log_lines * args.python_us / 1e6 / 2  # two cores
        projected = (read_us + check_us) * args.log_lines / 1e6 + python_s
        print(
            f"| {what} | {threads} | {read_us:.2f} us | {check_us:.2f} us | {clean / n:.1%} | {rest:.1%} "
            f"| {projected:.2f} (Python {python_s:.2f}) |"
        )
    print(f"\nbudget {budget:.2f} s")


if __name__ == "__main__":
    main()
