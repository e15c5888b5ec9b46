"""The engine conformance suite for identity resolution: the same profiles on every engine.

Passes 2 and 3 of ``profiles resolve`` (duplicates, the resolution order, connected components by
large-star / small-star, the partitions, and the four output files) are SQL on the engine; the
sequential resolver in between is the same Python on every engine. Each engine must give the rows
DuckDB gives (DuckDB's own files are checked byte for byte across ``--jobs`` in the unit tests), in
both modes, on logs with aliases both ways, limits, a shared device, externalIds and duplicates.
"""

from __future__ import annotations

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from cdp_cli.engine import EngineChoice
from cdp_cli.identity.config import build_config
from cdp_cli.identity.resolve import resolve
from tests.unit.test_identity_partitioned import CONFIGS, FILES, messages

FEW = settings(
    max_examples=1,  # the fixed logs below and DuckDB's 30 examples in the unit tests do the rest
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: an engine's job takes a second
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _same_rows(a, b) -> None:
    for name in FILES:
        want, got = pq.read_table(a / name), pq.read_table(b / name)
        assert got.column_names == want.column_names, name
        assert got.to_pylist() == want.to_pylist(), name  # the same rows, in the same order


@FEW
@given(msgs=messages(), config=CONFIGS)
def test_resolution_gives_the_same_profiles_on_every_engine(tmp_path_factory, engine_name, msgs, config):
    tmp = tmp_path_factory.mktemp("resolve")
    log = tmp / "events.ndjson"
    log.write_bytes(b"\n".join(orjson.dumps(m) for m in msgs) + b"\n")
    want = resolve([log], tmp / "duckdb", config=build_config(config), jobs=2)
    got = resolve([log], tmp / "other", config=build_config(config), jobs=2, engine=EngineChoice(engine_name))
    assert got.summary() | {"out": "", "seconds": 0} == want.summary() | {"out": "", "seconds": 0}
    _same_rows(tmp / "duckdb", tmp / "other")


@pytest.mark.parametrize("by_components", [True, False], ids=["by components", "one pass"])
def test_a_log_with_aliases_resolves_the_same_on_every_engine(tmp_path, engine_name, by_components):
    from tests.unit.test_components import _log_with_aliases

    log = tmp_path / "events.ndjson"
    _log_with_aliases(log, events=600, aliases=40)
    resolve([log], tmp_path / "duckdb", jobs=2, by_components=by_components)
    resolve([log], tmp_path / "other", jobs=2, by_components=by_components, engine=EngineChoice(engine_name))
    _same_rows(tmp_path / "duckdb", tmp_path / "other")
