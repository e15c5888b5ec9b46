"""The engine boundary: the only place that imports an SQL engine (DuckDB today).

Everything above this package talks to :class:`Engine`: register Arrow tables or Parquet files as
named relations, run SQL, get Arrow (or rows) back, or copy a query's result to a Parquet file (large
results go to files: a streamed query result can be materialised whole). The SQL the library writes sticks to what DuckDB, Spark SQL and the big
warehouses share (joins, window functions, ``COUNT``/``MIN``/``MAX``, ``CAST``); engine-specific
spellings live in :mod:`cdp_cli.engine.duck` (``read_parquet``, ``COPY ... TO``, timestamps)
so a second engine is one more module, not a rewrite.
"""

from cdp_cli.engine.duck import Engine

__all__ = ["Engine"]
