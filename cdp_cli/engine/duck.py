"""DuckDB behind the :class:`~cdp_cli.engine.base.Engine` protocol: embedded, columnar, out-of-core.

DuckDB spills sorts and joins to ``temp_dir`` when they outgrow ``memory_limit``, so a command's
memory stays bounded whatever the size of the event log; it reads and writes Parquet natively and
exchanges Arrow without copies. Driver errors become :class:`~cdp_cli.errors.EngineError` here, once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cdp_cli.engine.base import ARROW, PARQUET_COPY, SPILL, STREAM, Params, Query
from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement
from cdp_cli.errors import EngineError


class DuckDialect(Dialect):
    """DuckDB's spellings (https://duckdb.org/docs/sql/functions/overview)."""

    name = "duckdb"

    def param(self, name: str) -> str:
        return f"${name}"

    def timestamp_from_epoch_us(self, expr: str) -> str:
        return f"make_timestamptz({expr})"

    def json_extract_string(self, expr: str, path: str) -> str:
        return f"json_extract_string({expr}, {self.literal(path)})"

    def list_contains(self, list_expr: str, value_expr: str) -> str:
        return f"list_contains({list_expr}, {value_expr})"

    def array_agg_distinct_sorted(self, expr: str) -> str:
        return f"list_sort(list_distinct(array_agg({expr})))"

    def map_value(self, map_expr: str, key_expr: str) -> str:
        return f"map_extract_value({map_expr}, {key_expr})"

    def unnest_list(self, expr: str) -> str:
        return f"unnest({expr})"


DIALECT = DuckDialect()


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    import duckdb

    try:
        yield
    except duckdb.Error as e:
        text = str(e).strip()
        first = text.splitlines()[0] if text else type(e).__name__
        if isinstance(e, duckdb.OutOfMemoryException):  # DuckDB's own advice (threads, settings) is not the user's
            raise EngineError(f"{what}: {first}; give the engine more memory (--memory-limit)") from e
        raise EngineError(f"{what}: {text}") from e


def _unpack(sql: Query, params: Params) -> tuple[str, Any]:
    if isinstance(sql, Statement):
        if params:
            raise TypeError("a rendered statement carries its own parameters")
        return sql.sql, sql.params or None
    return sql, params or None


class DuckEngine:
    """One embedded DuckDB connection (in memory)."""

    name = "duckdb"
    dialect: Dialect = DIALECT
    capabilities = frozenset({SPILL, ARROW, PARQUET_COPY, STREAM})

    def __init__(
        self, *, memory_limit: str = "1GB", temp_dir: str | Path | None = None, threads: int | None = None
    ) -> None:
        try:
            import duckdb
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise EngineError("the embedded engine needs the 'duckdb' package") from e
        lit = self.dialect.literal
        with _translated("starting DuckDB"):
            self.con = duckdb.connect(":memory:")
            self.con.execute(f"SET memory_limit = {lit(str(memory_limit))}")
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute("SET TimeZone = 'UTC'")  # times without a zone are UTC, as Segment reads them
            self.con.execute("SET enable_progress_bar = false")  # it would print on stdout, into machine output
            if temp_dir is not None:
                self.con.execute(f"SET temp_directory = {lit(str(temp_dir))}")
            if threads:
                self.con.execute(f"SET threads = {int(threads)}")

    # --- relations ---------------------------------------------------------------------------------
    def register_arrow(self, name: str, table: Any) -> None:
        with _translated(f"registering {name}"):
            self.con.register(name, table)

    def register_parquet(self, name: str, paths: str | Path | list[str | Path]) -> None:
        items = paths if isinstance(paths, list) else [paths]
        listing = "[" + ", ".join(self.dialect.literal(str(p)) for p in items) + "]"
        with _translated(f"reading {name}"):
            self.con.execute(
                f"CREATE OR REPLACE VIEW {self.dialect.quote_ident(name)} AS SELECT * FROM read_parquet({listing})"
            )

    def create_view(self, name: str, sql: Query, params: Params = None) -> None:
        text, values = _unpack(sql, params)
        if values:  # a view cannot hold parameters: DuckDB binds them when it is created
            raise EngineError(f"view {name}: a view cannot take parameters")
        with _translated(f"creating {name}"):
            self.con.execute(f"CREATE OR REPLACE VIEW {self.dialect.quote_ident(name)} AS\n{text}\n")

    # --- queries -----------------------------------------------------------------------------------
    def _relation(self, sql: Query, params: Params):
        text, values = _unpack(sql, params)
        return self.con.sql(text, params=values) if values else self.con.sql(text)

    def arrow(self, sql: Query, params: Params = None):
        with _translated("query"):
            rel = self._relation(sql, params)
            fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # DuckDB 2 renamed it
            return fetch()

    def rows(self, sql: Query, params: Params = None) -> list[tuple]:
        text, values = _unpack(sql, params)
        with _translated("query"):
            return self.con.execute(text, values or []).fetchall()

    def batches(self, sql: Query, params: Params = None, *, batch_size: int = 50_000) -> Iterator[Any]:
        with _translated("query"):
            rel = self._relation(sql, params)
            reader = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader  # DuckDB 2 renamed it
            stream = reader(batch_size)
        return self._drain(stream)

    @staticmethod
    def _drain(stream: Any) -> Iterator[Any]:
        with _translated("query"):
            yield from stream

    def copy_parquet(
        self,
        sql: Query,
        path: str | Path,
        *,
        params: Params = None,
        compression: str = "zstd",
        row_group_size: int | None = None,
        metadata: Mapping[str, str] | None = None,
        schema: Any = None,  # DuckDB keeps the types and NOT NULLs of what it reads
    ) -> None:
        text, values = _unpack(sql, params)
        if not compression.isalnum():
            raise ValueError(f"unknown Parquet compression {compression!r}")
        opts = f"FORMAT parquet, COMPRESSION {compression}"
        if row_group_size:
            opts += f", ROW_GROUP_SIZE {int(row_group_size)}"
        if metadata:  # Parquet key-value metadata, written with the file (no rewrite)
            lit = self.dialect.literal
            pairs = ", ".join(f"{self.dialect.quote_ident(str(k))}: {lit(str(v))}" for k, v in metadata.items())
            opts += f", KV_METADATA {{{pairs}}}"
        with _translated(f"writing {Path(path).name}"):
            self.con.execute(f"COPY (\n{text}\n) TO {self.dialect.literal(str(path))} ({opts})", values or [])

    def execute(self, sql: Query, params: Params = None) -> None:
        text, values = _unpack(sql, params)
        with _translated("statement"):
            self.con.execute(text, values or [])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def __enter__(self) -> DuckEngine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
