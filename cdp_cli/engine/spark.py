"""Apache Spark behind the :class:`~cdp_cli.engine.base.Engine` protocol: the same SQL past one machine.

A session is ``local[*]`` by default (every core of this machine, for tests and small jobs), a
cluster through Spark Connect (``remote="sc://host:15002"``, also Databricks Connect's form), or any
``master`` URL; every ``spark.*`` setting passes through (``conf``). Paths are on a filesystem both
cdp and the session see (local for ``local[*]``; shared with a cluster). pyspark is an optional
extra (``pip install 'cdp-cli[spark]'``); nothing imports it until :class:`SparkEngine` is built, so
the base install needs no Java.

One session per process: Spark allows one active local session, and starting one takes seconds. Each
:class:`SparkEngine` shares it and drops the temporary views it made when closed; the session stops
when the process ends (or with :func:`stop_session`).

What Spark does differently, handled here once: parameters are ``:name`` (bound by
``spark.sql(args=...)``), identifiers take backticks, string literals backslash escapes; Arrow comes
back with ``DataFrame.toArrow`` (rows are read from it too, so timestamps are UTC-aware as on DuckDB);
a query's result is written as one Parquet file by Spark's writer into a temporary directory, then
moved (rewritten row group by row group where key-value metadata, a row-group size or a declared
schema is asked for). Temporary tables are views of checkpointed results. :meth:`SparkEngine.map_groups`
runs a cdp function over groups of rows in the executors' Python workers (``mapInArrow``): resolution
runs its sequential resolver there, per partition of the identity graph.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cdp_cli.engine.base import MAP_GROUPS, PARQUET_COPY, SPILL, Params, Query
from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement
from cdp_cli.errors import EngineError, UsageError

LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
INSTALL_HINT = "install the Spark extra: pip install 'cdp-cli[spark]' (it needs Java 17 or newer)"


#: how :meth:`SparkDialect.create_temp_table` and :meth:`SparkDialect.drop_temp_table` start
CACHE_PREFIX = "CACHE LAZY TABLE "
DROP_PREFIX = "DROP VIEW IF EXISTS "


class SparkDialect(Dialect):
    """Spark SQL's spellings (https://spark.apache.org/docs/latest/api/sql/)."""

    name = "spark"
    text_type = "STRING"
    empty_text_list = "CAST(array() AS ARRAY<STRING>)"

    def quote_ident(self, name: str) -> str:
        if not isinstance(name, str) or not name or "\x00" in name:
            raise ValueError(f"not an SQL identifier: {name!r}")
        return "`" + name.replace("`", "``") + "`"

    def literal(self, value: Any) -> str:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("an SQL string cannot hold a NUL character")
            # Spark reads backslash escapes in string literals, and '' is two adjacent literals
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return super().literal(value)

    def timestamp_literal(self, iso: str) -> str:
        return f"CAST({self.literal(iso)} AS TIMESTAMP_LTZ)"  # an instant, whatever spark.sql.timestampType says

    def param(self, name: str) -> str:
        return f":{name}"

    def create_temp_table(self, name: str, query: str) -> str:
        # a view of the result, computed at once and checkpointed; SparkEngine.execute runs it (Spark's
        # own CACHE TABLE cannot take parameters, nor replace)
        return f"{CACHE_PREFIX}{self.quote_ident(name)} AS\n{query}"

    def drop_temp_table(self, name: str) -> str:
        # SparkEngine.execute also frees its cache
        return f"{DROP_PREFIX}{self.quote_ident(name)}"

    def timestamp_from_epoch_us(self, expr: str) -> str:
        return f"timestamp_micros({expr})"

    def json_extract_string(self, expr: str, path: str) -> str:
        # get_json_object keeps a number's text as written (55.0, not 55 as a VARIANT would); at the
        # root it reads JSON null as the text 'null'
        got = f"get_json_object({expr}, {self.literal(variant_path(path))})"
        if path.strip() == "$":
            return f"CASE WHEN is_variant_null(parse_json({expr})) THEN NULL ELSE {got} END"
        return got

    def list_contains(self, list_expr: str, value_expr: str) -> str:
        return f"array_contains({list_expr}, {value_expr})"

    def array_agg_distinct_sorted(self, expr: str) -> str:
        return f"array_sort(collect_set({expr}))"

    def map_value(self, map_expr: str, key_expr: str) -> str:
        return f"try_element_at({map_expr}, {key_expr})"

    def unnest_list(self, expr: str) -> str:
        return f"explode({expr})"


DIALECT = SparkDialect()


def variant_path(path: str) -> str:
    """A JSONPath as cdp writes it (``$."a"[0]."b"``, keys quoted with backslash escapes) in the form
    Spark's ``variant_get`` reads (``$['a'][0]['b']``)."""
    out = ["$"]
    i = 1 if path.startswith("$") else 0
    while i < len(path):
        ch = path[i]
        if ch == "." and path[i + 1 : i + 2] == '"':
            j, key = i + 2, []
            while path[j] != '"':
                if path[j] == "\\":
                    j += 1
                key.append(path[j])
                j += 1
            name = "".join(key)
            if "'" in name or "\\" in name:
                raise UsageError(f"Spark cannot read a JSON key holding a quote or a backslash: {name!r}")
            out.append(f"['{name}']")
            i = j + 1
        elif ch == ".":
            j = i + 1
            while j < len(path) and path[j] not in ".[":
                j += 1
            out.append(f"['{path[i + 1 : j]}']")
            i = j
        elif ch == "[":
            j = path.index("]", i)
            out.append(path[i : j + 1])
            i = j + 1
        else:
            raise ValueError(f"not a JSON path: {path!r}")
    return "".join(out)


# --- the session: one per process ---------------------------------------------------------------------
_LOCK = threading.Lock()
_SESSION: Any = None
_SESSION_KEY: tuple | None = None


def _session(master: str | None, remote: str | None, conf: Mapping[str, str], memory_limit: str | None) -> Any:
    global _SESSION, _SESSION_KEY
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise UsageError(f"--engine spark: pyspark is not installed; {INSTALL_HINT}") from e
    key = (master, remote, tuple(sorted(conf.items())))
    with _LOCK:
        if _SESSION is not None:
            # asking for no particular settings joins the running session, whatever its settings
            if key != _SESSION_KEY and key != (None, None, ()):
                raise EngineError("a Spark session with other settings is already running in this process")
            return _SESSION
        # workers run this interpreter (another python might not have pyarrow or cdp)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = SparkSession.builder.appName("cdp")
        if remote:
            _reachable(remote)
            builder = builder.remote(remote)
        else:
            if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
                raise UsageError(f"--engine spark runs on Java, which is not installed here; {INSTALL_HINT}")
            builder = builder.master(master or "local[*]")
            defaults = {
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",  # it would print into machine output
                "spark.sql.shuffle.partitions": str(max(2, (os.cpu_count() or 2) * 2)),
                "spark.driver.memory": memory_limit or "1g",
                # errors only, one line each (log4j2.properties beside this module)
                "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG}",
            }
            for k, v in defaults.items():
                if k not in conf:
                    builder = builder.config(k, v)
        settings = {
            "spark.sql.session.timeZone": "UTC",  # times without a zone are UTC, as Segment reads them
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",  # not INT96
            **conf,
        }
        for k, v in settings.items():
            builder = builder.config(k, v)
        try:
            session = builder.getOrCreate()
        except Exception as e:
            raise EngineError(f"starting Spark: {_message(e)}") from e
        if not remote:
            with contextlib.suppress(Exception):
                session.sparkContext.setLogLevel("ERROR")
        _SESSION, _SESSION_KEY = session, key
        atexit.register(stop_session)
        return session


def _reachable(remote: str, timeout: float = 10.0) -> None:
    """Fail fast when nothing listens at a Spark Connect URL (the client would retry for minutes)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(remote)
    if parts.scheme != "sc" or not parts.hostname:
        raise UsageError(f"--spark-remote {remote!r}: expected sc://HOST:PORT (Spark Connect)")
    port = parts.port or 15002
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as e:
        raise EngineError(
            f"cannot reach the Spark Connect server at {parts.hostname}:{port}: {e.strerror or e}"
        ) from None


def stop_session() -> None:
    """Stop this process's Spark session (the next engine starts a new one)."""
    global _SESSION, _SESSION_KEY
    with _LOCK:
        session, _SESSION, _SESSION_KEY = _SESSION, None, None
    if session is not None:
        with contextlib.suppress(Exception):
            session.stop()


_PY_ERROR = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception): .+")


def _message(e: BaseException) -> str:
    text = str(getattr(e, "desc", None) or e).strip()
    if not text:
        return type(e).__name__
    lines = text.splitlines()
    if "Python worker" in lines[0]:  # a Python traceback from an executor: its last exception line
        raised = [line.strip() for line in lines if _PY_ERROR.match(line.strip())]
        if raised:
            return f"{lines[0].rstrip(':')}: {raised[-1]}"
    return lines[0]


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except (EngineError, UsageError):
        raise
    except Exception as e:
        raise EngineError(f"{what}: {_message(e)}") from e


def _unpack(sql: Query, params: Params) -> tuple[str, dict[str, Any] | None]:
    if isinstance(sql, Statement):
        if params:
            raise TypeError("a rendered statement carries its own parameters")
        return sql.sql, sql.params or None
    if params is not None and not isinstance(params, Mapping):
        raise EngineError("Spark takes named parameters only (:name)")
    return sql, dict(params) if params else None


class SparkEngine:
    """A view of this process's Spark session (see the module docstring)."""

    name = "spark"
    dialect: Dialect = DIALECT
    capabilities = frozenset({SPILL, PARQUET_COPY, MAP_GROUPS})

    def __init__(
        self,
        *,
        memory_limit: str | None = None,
        temp_dir: str | Path | None = None,
        threads: int | None = None,
        master: str | None = None,
        remote: str | None = None,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        if master is None and threads:
            master = f"local[{int(threads)}]"
        self.spark = _session(master, remote, dict(conf or {}), _jvm_memory(memory_limit))
        self.temp_dir = Path(temp_dir) if temp_dir is not None else None
        self._views: set[str] = set()
        self._cached: dict[str, Any] = {}  # temporary tables: their cached frames, freed when replaced or dropped

    # --- relations ---------------------------------------------------------------------------------
    def _view(self, name: str, frame: Any) -> None:
        frame.createOrReplaceTempView(self.dialect.quote_ident(name))  # parsed as SQL: any name, quoted
        self._views.add(name)

    def register_arrow(self, name: str, table: Any) -> None:
        import pyarrow as pa

        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
        with _translated(f"registering {name}"):
            self._view(name, self.spark.createDataFrame(table))

    def register_parquet(self, name: str, paths: str | Path | list[str | Path]) -> None:
        items = [str(p) for p in (paths if isinstance(paths, list) else [paths])]
        with _translated(f"reading {name}"):
            self._view(name, self.spark.read.parquet(*items))

    def create_view(self, name: str, sql: Query, params: Params = None) -> None:
        text, values = _unpack(sql, params)
        if values:
            raise EngineError(f"view {name}: a view cannot take parameters")
        with _translated(f"creating {name}"):
            self._view(name, self.spark.sql(text))

    # --- queries -----------------------------------------------------------------------------------
    def _frame(self, sql: Query, params: Params) -> Any:
        text, values = _unpack(sql, params)
        return self.spark.sql(text, args=values) if values else self.spark.sql(text)

    def arrow(self, sql: Query, params: Params = None) -> Any:
        with _translated("query"):
            return self._frame(sql, params).toArrow()

    def rows(self, sql: Query, params: Params = None) -> list[tuple]:
        table = self.arrow(sql, params)
        columns = [c.to_pylist() for c in table.columns]
        return list(zip(*columns, strict=True)) if columns else [() for _ in range(table.num_rows)]

    def batches(self, sql: Query, params: Params = None, *, batch_size: int = 50_000) -> Iterator[Any]:
        # no STREAM capability: the result comes to the driver whole, then is cut into batches
        table = self.arrow(sql, params)
        yield from table.to_batches(max_chunksize=batch_size)

    def copy_parquet(
        self,
        sql: Query,
        path: str | Path,
        *,
        params: Params = None,
        compression: str = "zstd",
        row_group_size: int | None = None,
        metadata: Mapping[str, str] | None = None,
        schema: Any = None,
    ) -> None:
        if not compression.isalnum():
            raise ValueError(f"unknown Parquet compression {compression!r}")
        target = Path(path)
        if not target.parent.is_dir():
            raise EngineError(f"writing {target.name}: no directory {target.parent}")
        # scratch beside the target: the part file is then moved, not copied
        scratch = Path(tempfile.mkdtemp(prefix=".cdp-spark-", dir=target.parent))
        try:
            out = scratch / "out"
            with _translated(f"writing {target.name}"):
                frame = self._frame(sql, params).coalesce(1)
                # Spark's "lz4" is Hadoop's framing, which other readers (pyarrow) fail on past a few
                # pages ("Corrupt Lz4 compressed data"): the Parquet standard's LZ4_RAW instead
                codec = "lz4_raw" if compression.lower() == "lz4" else compression
                frame.write.option("compression", codec).parquet(str(out))
            parts = sorted(out.glob("part-*.parquet"))
            if len(parts) != 1:
                raise EngineError(f"writing {target.name}: Spark wrote {len(parts)} files, not one")
            if metadata or row_group_size or schema is not None:
                # Spark's writer sets none of them: rewrite the file, one row group at a time
                with _translated(f"writing {target.name}"):
                    _rewrite(parts[0], target, metadata or {}, row_group_size, compression, schema)
            else:
                os.replace(parts[0], target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def default_tasks(self) -> int:
        """``spark.sql.shuffle.partitions`` (cdp's local sessions set twice the cores; a cluster's own)."""
        with _translated("reading the session's settings"):
            value = self.spark.conf.get("spark.sql.shuffle.partitions")
        try:
            return max(1, int(value))
        except (TypeError, ValueError):
            return 1

    def map_groups(
        self,
        sql: Query,
        *,
        key: str,
        order: Sequence[str],
        tasks: int,
        fn: Any,
        schema: Any,
        path: str | Path,
        params: Params = None,
    ) -> None:
        """:meth:`cdp_cli.engine.base.GroupMapper.map_groups`: ``repartitionByRange`` on the key, sorted
        within each partition, ``mapInArrow`` in the executors' Python workers (which must be able
        to import cdp), written by Spark's Parquet writer."""
        from pyspark.sql.pandas.types import from_arrow_schema

        if tasks < 1:
            raise ValueError("map_groups needs at least one task")
        target = Path(path)
        if not target.parent.is_dir():
            raise EngineError(f"writing {target.name}: no directory {target.parent}")
        with _translated(f"writing {target.name}"):
            # by range, not hash: the keys of cdp's groups are small integers, which Spark's murmur3
            # hash piles into a few tasks (4 keys on 4 tasks: 3 in one)
            frame = self._frame(sql, params).repartitionByRange(tasks, key).sortWithinPartitions(key, *order)
            out = frame.mapInArrow(fn, from_arrow_schema(schema))
            out.write.option("compression", "lz4_raw").mode("errorifexists").parquet(str(target))

    def _free(self, name: str) -> None:
        old = self._cached.pop(name, None)
        if old is not None:
            with contextlib.suppress(Exception):
                old.unpersist()

    def execute(self, sql: Query, params: Params = None) -> None:
        text, values = _unpack(sql, params)
        if text.startswith(CACHE_PREFIX):  # a temporary table (SparkDialect.create_temp_table)
            m = re.match(r"(`[^`]*(?:``[^`]*)*`)\s+AS\s", text[len(CACHE_PREFIX) :])
            if m is None:
                raise EngineError("a temporary table statement without its name")
            name = m.group(1)[1:-1].replace("``", "`")
            query = text[len(CACHE_PREFIX) + m.end() :]
            with _translated(f"creating {name}"):
                # computed now, with its plan cut (rounds of an algorithm build on each other's
                # tables: kept as plans, they would grow with every round)
                frame = (self.spark.sql(query, args=values) if values else self.spark.sql(query)).localCheckpoint()
                self._view(name, frame)
                self._free(name)
                self._cached[name] = frame
            return
        if text.startswith(DROP_PREFIX):
            m = re.fullmatch(r"(`[^`]*(?:``[^`]*)*`)\s*", text[len(DROP_PREFIX) :])
            if m is not None:
                self._free(m.group(1)[1:-1].replace("``", "`"))
        with _translated("statement"):
            self._frame(sql, params).collect()

    def close(self) -> None:
        for name in list(self._cached):
            self._free(name)
        for name in self._views:
            quoted = self.dialect.quote_ident(name)
            with contextlib.suppress(Exception):
                self.spark.sql(f"UNCACHE TABLE IF EXISTS {quoted}")
            with contextlib.suppress(Exception):
                self.spark.sql(f"DROP VIEW IF EXISTS {quoted}")
        self._views.clear()

    def __enter__(self) -> SparkEngine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _jvm_memory(limit: str | None) -> str | None:
    """``1GB``, ``512MB``, ``268435456B`` -> the JVM's ``1g``, ``512m``, ``256m``."""
    if not limit:
        return None
    text = limit.strip().upper().removesuffix("IB").removesuffix("B")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    number, unit = (text[:-1], units[text[-1]]) if text[-1:] in units else (text, 1)
    mib = max(512, int(float(number) * unit) >> 20)  # the driver needs room for the JVM itself
    return f"{mib}m"


REWRITE_ROWS = 64 * 1024  # rows per row group where none is asked for


def _rewrite(
    src: Path,
    dest: Path,
    metadata: Mapping[str, str],
    row_group_size: int | None,
    compression: str,
    declared: Any = None,
) -> None:
    """Copy a Parquet file with key-value metadata added, row groups of at most ``row_group_size`` rows
    and the ``declared`` schema's types and NOT NULLs, reading a batch of rows at a time (not a row
    group: Spark's are ~128 MB compressed, and a whole one decompressed held the driver at 4 GB while
    rewriting a 5M-message events.parquet)."""
    import pyarrow.parquet as pq

    source = pq.ParquetFile(src, buffer_size=8 * 2**20, pre_buffer=False)
    try:
        _copy_batches(source, dest, metadata, row_group_size, compression, declared)
    finally:
        source.close()


def _copy_batches(
    source: Any, dest: Path, metadata: Mapping[str, str], row_group_size: int | None, compression: str, declared: Any
) -> None:
    from cdp_cli.storage import RowGroupWriter

    schema = declared if declared is not None else source.schema_arrow
    merged = {**(source.schema_arrow.metadata or {}), **(schema.metadata or {})}
    merged.update({str(k).encode(): str(v).encode() for k, v in metadata.items()})
    for spark_key in (b"org.apache.spark.sql.parquet.row.metadata", b"org.apache.spark.version"):
        merged.pop(spark_key, None)
    schema = schema.with_metadata(merged)
    rows = row_group_size or REWRITE_ROWS
    with RowGroupWriter(dest, schema, compression=compression, row_group_size=rows) as writer:
        for batch in source.iter_batches(batch_size=rows, columns=schema.names):
            writer.write(batch)  # whole row groups of ``rows`` rows, whatever Spark's were
