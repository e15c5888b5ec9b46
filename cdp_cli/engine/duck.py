"""DuckDB behind the :class:`Engine` interface: embedded, columnar, out-of-core.

DuckDB spills sorts and joins to ``temp_dir`` when they outgrow ``memory_limit``, so a command's
memory stays bounded whatever the size of the event log; it reads and writes Parquet natively and
exchanges Arrow without copies. Driver errors become :class:`~cdp_cli.errors.EngineError` here, once.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

from cdp_cli.errors import EngineError


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    import duckdb

    try:
        yield
    except duckdb.Error as e:
        raise EngineError(f"{what}: {e}") from e


def _quote_path(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class Engine:
    """One embedded DuckDB connection. Use as a context manager, or call :meth:`close`."""

    def __init__(self, *, memory_limit: str = "1GB", temp_dir: str | Path | None = None, threads: int | None = None) -> None:
        try:
            import duckdb
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise EngineError("the embedded engine needs the 'duckdb' package") from e
        with _translated("starting DuckDB"):
            self.con = duckdb.connect(":memory:")
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
            self.con.execute("SET preserve_insertion_order = false")
            self.con.execute("SET TimeZone = 'UTC'")
            self.con.execute("SET enable_progress_bar = false")  # it would print on stdout, into machine output  # times without a zone are UTC, as Segment reads them
            if temp_dir is not None:
                self.con.execute(f"SET temp_directory = {_quote_path(temp_dir)}")
            if threads:
                self.con.execute(f"SET threads = {int(threads)}")

    # --- relations ---------------------------------------------------------------------------------
    def register(self, name: str, table: Any) -> None:
        """Make an Arrow table (or record batch reader) queryable as ``name``."""
        with _translated(f"registering {name}"):
            self.con.register(name, table)

    def register_parquet(self, name: str, paths: str | Path | list[str | Path]) -> None:
        """Make Parquet files (a path, a glob, or a list) queryable as the view ``name``."""
        items = paths if isinstance(paths, list) else [paths]
        listing = "[" + ", ".join(_quote_path(p) for p in items) + "]"
        with _translated(f"reading {name}"):
            self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet({listing})')

    # --- queries -----------------------------------------------------------------------------------
    def arrow(self, sql: str, params: list | None = None):
        """The whole result as a pyarrow Table (for results that fit in memory)."""
        with _translated("query"):
            rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
            fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # DuckDB 2 renamed it
            return fetch()

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        with _translated("query"):
            return self.con.execute(sql, params or []).fetchall()

    def copy_parquet(self, sql: str, path: str | Path, *, compression: str = "zstd", row_group_size: int | None = None) -> None:
        """Write a query's result to one Parquet file (the caller makes it atomic)."""
        opts = f"FORMAT parquet, COMPRESSION {compression}"
        if row_group_size:
            opts += f", ROW_GROUP_SIZE {int(row_group_size)}"
        with _translated(f"writing {Path(path).name}"):
            self.con.execute(f"COPY ({sql}) TO {_quote_path(path)} ({opts})")

    def execute(self, sql: str, params: list | None = None) -> None:
        with _translated("statement"):
            self.con.execute(sql, params or [])

    # --- engine-specific spellings -----------------------------------------------------------------
    @staticmethod
    def from_epoch_us(expr: str) -> str:
        """SQL for a UTC timestamp from microseconds since the epoch."""
        return f"make_timestamptz({expr})"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
