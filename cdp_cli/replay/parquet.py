"""The Parquet destination of a replay (``parquet:DIR``): Segment's warehouse layout as files.

``DIR/<table>/date=YYYY-MM-DD/part-NNNNN.parquet``, one directory per table of Segment's warehouse
schema (:mod:`cdp_cli.replay.warehouse`: ``tracks``, one table per track event, ``identifies``,
``pages``, ``screens``, ``groups``, ``aliases``), partitioned by the date (UTC) of each row's
``timestamp`` (``date=unknown`` without one); ``DIR/users/part-00000.parquet`` holds one row per
user id with the latest non-null value of each trait; ``DIR/cdp_discards/`` the values whose type
conflicted with their column (the cell is NULL, the value kept there as text with the reason).

Column names, flattening and types are the PostgreSQL destination's, so both agree: a column's type
is fixed by its first value in the replay (bigint -> int64, numeric -> double, boolean, timestamptz
-> timestamp[us, UTC], text and jsonb -> string). Parts written at different times may have more
columns than earlier ones: read the table with ``union_by_name`` (DuckDB) or a dataset (pyarrow).

The directory is built beside ``DIR`` and swapped in at the end (an interrupted run leaves nothing),
and replaces an existing ``DIR`` only when cdp wrote it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdp_cli.events.model import to_utc
from cdp_cli.replay import warehouse
from cdp_cli.replay.destination import Batch, DeadLetter, Limits, Outcome, Progress

FLUSH_ROWS = 100_000  #: rows held in memory before they are written as parts
KIND = "replay-parquet"


def _arrow_type(column_type: str) -> Any:
    import pyarrow as pa

    return {
        "bigint": pa.int64(),
        "numeric": pa.float64(),
        "boolean": pa.bool_(),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }.get(column_type, pa.string())


def _date(row: dict[str, Any]) -> str:
    ts = to_utc(warehouse.parse_timestamp(row.get("timestamp")))
    if ts is None:  # no time, or one that does not exist in UTC (year 0 or 10000 once its offset is applied)
        return "unknown"
    return ts.date().isoformat()


class ParquetDestination:
    kind = "parquet"
    limits = Limits(max_messages=10_000, max_bytes=64 * 2**20)
    transactional = False
    fresh_sent_at = False

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.label = f"parquet:{self.dir}"
        self._stack = contextlib.ExitStack()
        self._tmp: Path | None = None
        self.columns: dict[str, dict[str, str]] = {}  # table -> column -> type, as fixed so far
        self._buffer: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._held = 0
        self._parts: dict[tuple[str, str], int] = {}
        self._users: dict[str, dict[str, tuple[tuple, Any]]] = {}  # user id -> column -> (recency, value)
        self._loaded_at = datetime.now(UTC).isoformat(timespec="microseconds")
        self.discards = 0

    def check(self) -> None:
        from cdp_cli.fsutil import check_replaceable

        check_replaceable(self.dir, KIND)

    def open(self, key: str) -> dict[str, Any] | None:
        from cdp_cli.fsutil import atomic_directory

        self._atomic = atomic_directory(self.dir, kind=KIND)
        self._tmp = self._atomic.__enter__()
        return None

    def deliver(self, batches: Iterable[tuple[Batch, Progress | None]]) -> Iterator[Outcome]:
        for batch, _ in batches:
            acked, dead = [], []
            rows: dict[str, list[dict[str, Any]]] = {}
            for m in batch.messages:
                try:
                    made = warehouse.rows_for(m.data)
                except warehouse.Unloadable as e:
                    dead.append(DeadLetter(m, "rejected", str(e)))
                    continue
                for table, row in made:
                    row["uuid_ts"] = self._loaded_at
                    rows.setdefault(table, []).append(row)
                acked.append(m)
            for table, trows in rows.items():
                known = self.columns.setdefault(table, dict(warehouse.base_columns(table)))
                added, discards = warehouse.fit_rows(table, trows, known)
                known.update(added)
                for row in trows:
                    self._buffer.setdefault((table, _date(row)), []).append(row)
                if table == "identifies":
                    self._merge_users(trows)
                if discards:
                    self.discards += len(discards)
                    self._buffer.setdefault(("cdp_discards", "all"), []).extend(
                        {
                            "table_name": d.table,
                            "row_id": d.row_id,
                            "column_name": d.column,
                            "column_value": d.value,
                            "received_at": d.received_at,
                            "uuid_ts": self._loaded_at,
                            "reason": d.reason,
                        }
                        for d in discards
                    )
                self._held += len(trows)
            if self._held >= FLUSH_ROWS:
                self._flush()
            yield Outcome(batch, acked, dead)

    def _merge_users(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            uid = row.get("user_id")
            if uid is None or uid == "":
                continue
            rec = warehouse.recency(row)
            user = self._users.setdefault(warehouse.as_text(uid), {})
            for col in ["received_at", *warehouse.trait_columns(row)]:
                v = row.get(col)
                if v is not None and (col not in user or user[col][0] <= rec):
                    user[col] = (rec, v)

    def _write(self, table: str, part_dir: Path, rows: list[dict[str, Any]], types: dict[str, str]) -> None:
        import pyarrow as pa

        from cdp_cli.storage import write_table

        names = [c for c in types if any(c in r for r in rows)]
        arrays = {}
        for c in names:
            t = types[c]
            values = [r.get(c) for r in rows]
            if t == "timestamptz":
                values = [warehouse.parse_timestamp(v) if isinstance(v, str) else v for v in values]
            elif t in ("text", "jsonb"):
                values = [v if v is None or isinstance(v, str) else warehouse.as_text(v) for v in values]
            elif t == "numeric":
                values = [float(v) if v is not None else None for v in values]
            arrays[c] = pa.array(values, _arrow_type(t))
        part_dir.mkdir(parents=True, exist_ok=True)
        n = self._parts.get((table, str(part_dir)), 0)
        self._parts[(table, str(part_dir))] = n + 1
        write_table(pa.table(arrays), part_dir / f"part-{n:05d}.parquet")

    def _flush(self) -> None:
        assert self._tmp is not None
        discard_types = {c: "text" for c in ("table_name", "row_id", "column_name", "column_value", "reason")}
        discard_types |= {"received_at": "timestamptz", "uuid_ts": "timestamptz"}
        for (table, date), rows in sorted(self._buffer.items()):
            if table == "cdp_discards":
                self._write(table, self._tmp / table, rows, discard_types)
            else:
                self._write(table, self._tmp / table / f"date={date}", rows, self.columns[table])
        self._buffer.clear()
        self._held = 0

    def close(self, ok: bool) -> None:
        try:
            if ok and self._tmp is not None:
                self._flush()
                if self._users:
                    types = {"id": "text", "received_at": "timestamptz"}
                    identifies = self.columns.get("identifies", {})
                    rows = []
                    for uid, cols in sorted(self._users.items()):
                        row = {"id": uid, **{c: v for c, (_, v) in cols.items()}}
                        rows.append(row)
                        for c in cols:
                            types.setdefault(c, identifies.get(c, "text"))
                    self._write("users", self._tmp / "users", rows, types)
                self._atomic.__exit__(None, None, None)
            elif self._tmp is not None:
                err = RuntimeError("replay stopped")
                with contextlib.suppress(RuntimeError):
                    self._atomic.__exit__(RuntimeError, err, None)
        finally:
            self._tmp = None
