"""Parquet files written from Python (pyarrow), in one place.

Every Parquet file cdp writes goes through an engine (:meth:`Engine.copy_parquet
<cdp_cli.engine.base.Engine.copy_parquet>`, for query results) or through :func:`write_table` here,
for tables built in Python: staged messages, profile assignments, profiles.parquet
(:class:`RowGroupWriter` for a file written a piece at a time). A declared schema
(:mod:`cdp_cli.schemas`) given to :func:`write_table` is enforced; :func:`check_schema` checks a file
an engine wrote. pyarrow is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cdp_cli.errors import EngineError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def write_table(
    table: pa.Table,
    path: str | Path,
    *,
    schema: pa.Schema | None = None,
    compression: str = "zstd",
    row_group_size: int | None = None,
    dictionary: bool = True,
) -> None:
    """Write ``table`` to one Parquet file (the caller makes it atomic). With ``schema``, the table
    must have its columns, in its order, and types that cast to it safely. ``dictionary=False``:
    no dictionary encoding (faster to write columns of mostly distinct values, such as ids)."""
    import pyarrow.parquet as pq

    if schema is not None and not table.schema.equals(schema):
        if table.schema.names != schema.names:
            raise ValueError(f"{Path(path).name}: columns {table.schema.names}, declared {schema.names}")
        table = table.cast(schema)  # safe casts only: raises on overflow or a lossy conversion
    pq.write_table(table, path, compression=compression, row_group_size=row_group_size, use_dictionary=dictionary)


def write_batches(
    path: str | Path, schema: pa.Schema, batches: Iterator[pa.RecordBatch], *, compression: str = "zstd"
) -> int:
    """Stream record batches into one Parquet file with ``schema`` (memory: one batch at a time); the
    rows written. The caller makes it atomic."""
    import pyarrow.parquet as pq

    rows = 0
    with pq.ParquetWriter(path, schema, compression=compression) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows


def read_schema(path: str | Path) -> pa.Schema:
    """The schema of a Parquet file (from its footer: no data is read)."""
    import pyarrow.parquet as pq

    return pq.read_schema(path)


class RowGroupWriter:
    """One Parquet file written a piece at a time (a context manager): :meth:`write` takes tables or
    record batches of ``schema`` (cast to it) and writes whole row groups of ``row_group_size`` rows
    (``None``: each piece is one row group, as it comes); the rest on close."""

    def __init__(
        self, path: str | Path, schema: pa.Schema, *, compression: str = "zstd", row_group_size: int | None = None
    ) -> None:
        import pyarrow.parquet as pq

        self.schema = schema
        self.rows = row_group_size
        self._pending = schema.empty_table()
        self._closed = False
        self._writer = pq.ParquetWriter(path, schema, compression=compression)

    def write(self, piece: pa.Table | pa.RecordBatch) -> None:
        import pyarrow as pa

        table = (piece if isinstance(piece, pa.Table) else pa.Table.from_batches([piece])).cast(self.schema)
        if self.rows is None:
            if table.num_rows:
                self._writer.write_table(table)
            return
        self._pending = pa.concat_tables([self._pending, table])
        while self._pending.num_rows >= self.rows:
            self._writer.write_table(self._pending.slice(0, self.rows), row_group_size=self.rows)
            self._pending = self._pending.slice(self.rows)

    def close(self) -> None:
        """Write what is pending and close the file (again: nothing)."""
        if self._closed:
            return
        try:
            if self._pending.num_rows:
                self._writer.write_table(self._pending, row_group_size=self.rows)
                self._pending = self.schema.empty_table()
        finally:
            self._closed = True
            self._writer.close()

    def abort(self) -> None:
        """Close without writing what is pending (after an error: the caller removes the file)."""
        if not self._closed:
            self._closed = True
            self._pending = self.schema.empty_table()
            self._writer.close()

    def __enter__(self) -> RowGroupWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def check_schema(path: str | Path, schema: pa.Schema) -> None:
    """Raise :class:`EngineError` unless the Parquet file at ``path`` has the declared ``schema``."""
    from cdp_cli.schemas import differences

    diff = differences(read_schema(path), schema)
    if diff:
        raise EngineError(
            f"{Path(path).name} does not have its declared schema (cdp_cli/schemas.py): {'; '.join(diff)}"
        )


def read_batches(path: str | Path, batch_size: int, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """A Parquet file's rows as record batches of at most ``batch_size`` rows, with flat memory."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=list(columns) if columns else None)


def read_batches_where(path: str | Path, batch_size: int, column: str, value: int) -> Iterator[pa.RecordBatch]:
    """The rows of a Parquet file whose integer ``column`` equals ``value``, as record batches, with
    flat memory: only the row groups whose statistics can hold ``value`` are read (a file sorted on
    ``column`` has its rows of one value in a few consecutive row groups)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path)
    index = f.schema_arrow.get_field_index(column)
    groups = []
    for i in range(f.metadata.num_row_groups):
        stats = f.metadata.row_group(i).column(index).statistics
        if stats is None or not stats.has_min_max or stats.min <= value <= stats.max:
            groups.append(i)
    if not groups:
        return
    for batch in f.iter_batches(batch_size=batch_size, row_groups=groups):
        kept = batch.filter(pc.equal(batch.column(column), value))
        if kept.num_rows:
            yield kept
