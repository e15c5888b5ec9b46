"""The :class:`Engine` protocol: what cdp asks of an SQL engine, whatever engine it is.

An engine makes Arrow tables and Parquet files queryable by name, runs SQL (text, or a
:class:`~cdp_cli.engine.template.Statement` rendered from a named template for its :attr:`dialect`),
returns Arrow, rows or a stream of record batches, and copies a query's result to a Parquet file.
Driver errors come out as :class:`~cdp_cli.errors.EngineError`. Every engine passes the conformance
suite in ``tests/engine``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: SQL text, or a rendered template (its parameters travel with it)
Query = str | Statement
Params = Mapping[str, Any] | Sequence[Any] | None

# capabilities an engine may declare
SPILL = "spill"  #: sorts, joins and aggregates larger than its memory limit spill to disk
ARROW = "arrow"  #: registers and returns Arrow without a copy through Python objects
PARQUET_COPY = "parquet_copy"  #: writes a query's result to Parquet itself, without the data passing through Python
STREAM = "stream"  #: :meth:`Engine.batches` streams a result without materialising it (for queries without ORDER BY)
#: :meth:`map_groups`: runs a Python function over groups of a query's rows in the engine's own
#: workers (Spark's executors), writing what it yields to Parquet: the data never passes through
#: this process. Not in the protocol: an engine that declares it has the method.
MAP_GROUPS = "map_groups"
CAPABILITIES = frozenset({SPILL, ARROW, PARQUET_COPY, STREAM, MAP_GROUPS})


class GroupMapper(Protocol):
    """What an engine with :data:`MAP_GROUPS` offers besides the :class:`Engine` protocol."""

    def default_tasks(self) -> int:
        """How many tasks to split work into by default (the engine's shuffle parallelism)."""

    def map_groups(
        self,
        sql: Query,
        *,
        key: str,
        order: Sequence[str],
        tasks: int,
        fn: Any,
        schema: pa.Schema,
        path: str | Path,
        params: Params = None,
    ) -> None:
        """Split the query's rows by column ``key`` into ``tasks`` tasks (all rows of one key in one
        task), sort each task's rows by ``key`` then ``order``, and call ``fn`` (picklable; it runs
        in the engine's workers) with each task's record batches, in that order. What ``fn`` yields
        (record batches of ``schema``) is written as Parquet files into the new directory ``path``."""


@runtime_checkable
class Engine(Protocol):
    """One session of an SQL engine. Use as a context manager, or call :meth:`close`."""

    name: str  #: the engine's name, as ``--engine`` takes it
    dialect: Dialect
    capabilities: frozenset[str]  #: a subset of :data:`CAPABILITIES`

    # relations
    def register_arrow(self, name: str, table: pa.Table | pa.RecordBatchReader) -> None:
        """Make an Arrow table (or record batch reader) queryable as ``name``."""

    def register_parquet(self, name: str, paths: str | Path | list[str | Path]) -> None:
        """Make Parquet files (a path, a glob, or a list) queryable as ``name``."""

    def create_view(self, name: str, sql: Query, params: Params = None) -> None:
        """Make a query queryable as ``name`` (evaluated when used)."""

    # queries
    def arrow(self, sql: Query, params: Params = None) -> pa.Table:
        """The whole result as an Arrow table (for results that fit in memory)."""

    def rows(self, sql: Query, params: Params = None) -> list[tuple]:
        """The whole result as tuples of Python values."""

    def batches(self, sql: Query, params: Params = None, *, batch_size: int = 50_000) -> Iterator[pa.RecordBatch]:
        """The result as record batches of at most ``batch_size`` rows. Consume it before the next
        statement on this engine."""

    def copy_parquet(
        self,
        sql: Query,
        path: str | Path,
        *,
        params: Params = None,
        compression: str = "zstd",
        row_group_size: int | None = None,
        metadata: Mapping[str, str] | None = None,
        schema: pa.Schema | None = None,
    ) -> None:
        """Write a query's result to one Parquet file (the caller makes it atomic); ``metadata``: the
        file's Parquet key-value metadata (text keys and values); ``schema``: the file's declared
        schema, for engines whose reader loses what the query kept (Spark reads every Parquet
        column as nullable: it writes the declared NOT NULLs back)."""

    def execute(self, sql: Query, params: Params = None) -> None:
        """Run a statement for its effect."""

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: Any) -> None: ...
