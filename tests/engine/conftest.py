"""The engine conformance suite runs once per engine installed here (DuckDB, and Spark where pyspark and Java are)."""

from __future__ import annotations

import pytest

from cdp_cli.engine import available_engines, connect

ENGINE_NAMES = available_engines()


@pytest.fixture(params=ENGINE_NAMES)
def engine_name(request) -> str:
    return request.param


@pytest.fixture
def engine(engine_name, tmp_path):
    with connect(engine_name, memory_limit="256MB", temp_dir=tmp_path / "spill") as eng:
        yield eng


@pytest.fixture(scope="package", autouse=True)
def _stop_spark_after_the_suite():
    """One Spark session serves the whole suite; it is stopped when the suite ends, so that its JVM
    does not take a core from the rest of the test run."""
    yield
    import sys

    if "cdp_cli.engine.spark" in sys.modules:
        sys.modules["cdp_cli.engine.spark"].stop_session()
