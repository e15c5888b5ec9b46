"""The engine boundary: the only place that imports an SQL engine (DuckDB, and Spark as an extra).

Everything above this package talks to the :class:`Engine` protocol (:mod:`.base`): register Arrow
tables or Parquet files as named relations, run SQL, get Arrow, rows or a stream of record batches
back, or copy a query's result to a Parquet file. What differs between engines' SQL is a
:class:`Dialect` (:mod:`.dialect`); SQL lives in named, readable :class:`Template` s rendered for a
dialect (:mod:`.template`). An engine is one more module (:mod:`.duck` for DuckDB, :mod:`.spark` for
Spark) and must pass the conformance suite in ``tests/engine``.

Nothing here imports an engine's driver until :func:`connect` is called, so ``cdp --help`` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cdp_cli.engine.base import CAPABILITIES, Engine
from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement, Template
from cdp_cli.errors import EngineError, UsageError

#: engine names, as ``--engine`` takes them; the first is the default
ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = ENGINES[0]


def connect(name: str = DEFAULT_ENGINE, **options: Any) -> Engine:
    """A new session of the engine called ``name`` (options: ``memory_limit``, ``temp_dir``, ``threads``;
    for Spark also ``master``, ``remote`` and ``conf``, see :mod:`.spark`)."""
    if name == "duckdb":
        from cdp_cli.engine.duck import DuckEngine

        return DuckEngine(**options)
    if name == "spark":
        from cdp_cli.engine.spark import SparkEngine

        return SparkEngine(**options)
    raise UsageError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")


@dataclass(frozen=True)
class EngineChoice:
    """Which engine a command runs on, with its settings (``--engine``, ``--spark-remote``,
    ``--spark-conf``): passed down to where a session is opened. ``master``: Spark's master URL
    (``local[*]`` by default); ``remote``: a Spark Connect URL (``sc://host:15002``); ``conf``:
    ``spark.*`` settings."""

    name: str = DEFAULT_ENGINE
    master: str | None = None
    remote: str | None = None
    conf: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise UsageError(f"unknown engine {self.name!r}; available: {', '.join(ENGINES)}")
        if self.name != "spark" and (self.master or self.remote or self.conf):
            raise UsageError("--spark-remote, --spark-master and --spark-conf need --engine spark")
        if self.master and self.remote:
            raise UsageError("--spark-master and --spark-remote exclude each other")
        for key, _ in self.conf:
            if not key.startswith("spark."):
                raise UsageError(f"--spark-conf {key}: only spark.* settings pass through")

    def connect(self, **options: Any) -> Engine:
        """A new session (options as :func:`connect` takes them)."""
        if self.name == "spark":
            options.update(master=self.master, remote=self.remote, conf=dict(self.conf))
        return connect(self.name, **options)


def available_engines() -> list[str]:
    """The engines whose driver is installed here."""
    import importlib.util
    import shutil

    drivers = {"duckdb": "duckdb", "spark": "pyspark"}
    found = [n for n in ENGINES if importlib.util.find_spec(drivers[n]) is not None]
    if "spark" in found and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        found.remove("spark")  # a local Spark session runs on Java
    return found


def dialect(name: str = DEFAULT_ENGINE) -> Dialect:
    """The dialect of the engine called ``name``, without starting it (for rendering SQL)."""
    if name == "duckdb":
        from cdp_cli.engine.duck import DIALECT

        return DIALECT
    if name == "spark":
        from cdp_cli.engine.spark import DIALECT as SPARK

        return SPARK
    raise UsageError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")


__all__ = [
    "CAPABILITIES",
    "DEFAULT_ENGINE",
    "Dialect",
    "ENGINES",
    "Engine",
    "EngineChoice",
    "EngineError",
    "Statement",
    "Template",
    "available_engines",
    "connect",
    "dialect",
]
