"""The engine boundary: the only place that imports an SQL engine (DuckDB today).

Everything above this package talks to the :class:`Engine` protocol (:mod:`.base`): register Arrow
tables or Parquet files as named relations, run SQL, get Arrow, rows or a stream of record batches
back, or copy a query's result to a Parquet file. What differs between engines' SQL is a
:class:`Dialect` (:mod:`.dialect`); SQL lives in named, readable :class:`Template` s rendered for a
dialect (:mod:`.template`). An engine is one more module (:mod:`.duck` for DuckDB) and must pass the
conformance suite in ``tests/engine``.

Nothing here imports an engine's driver until :func:`connect` is called, so ``cdp --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from cdp_cli.engine.base import CAPABILITIES, Engine
from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement, Template
from cdp_cli.errors import EngineError, UsageError

#: engine names, as ``--engine`` takes them; the first is the default
ENGINES = ("duckdb",)
DEFAULT_ENGINE = ENGINES[0]


def connect(name: str = DEFAULT_ENGINE, **options: Any) -> Engine:
    """A new session of the engine called ``name`` (options: ``memory_limit``, ``temp_dir``, ``threads``)."""
    if name == "duckdb":
        from cdp_cli.engine.duck import DuckEngine

        return DuckEngine(**options)
    raise UsageError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")


def available_engines() -> list[str]:
    """The engines whose driver is installed here."""
    import importlib.util

    drivers = {"duckdb": "duckdb"}
    return [n for n in ENGINES if importlib.util.find_spec(drivers[n]) is not None]


def dialect(name: str = DEFAULT_ENGINE) -> Dialect:
    """The dialect of the engine called ``name``, without starting it (for rendering SQL)."""
    if name == "duckdb":
        from cdp_cli.engine.duck import DIALECT

        return DIALECT
    raise UsageError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")


__all__ = [
    "CAPABILITIES",
    "DEFAULT_ENGINE",
    "Dialect",
    "ENGINES",
    "Engine",
    "EngineError",
    "Statement",
    "Template",
    "available_engines",
    "connect",
    "dialect",
]
