"""The Parquet outputs have exactly the schemas cdp_cli/schemas.py declares, manifest.json carries
their version, and the rules that keep it so (one module declares them; every Parquet write goes
through the engine or cdp_cli/storage.py; identity SQL lives in named templates) hold."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdp_cli import schemas, storage
from cdp_cli.errors import EngineError, InputError
from cdp_cli.identity.explain import ProfileStore
from cdp_cli.identity.resolve import resolve
from tests.conftest import ROOT

JOURNEYS = ROOT / "samples" / "identity" / "journeys.ndjson"
PKG = ROOT / "cdp_cli"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    base = tmp_path_factory.mktemp("schemas")
    log = base / "more.ndjson"  # a batch line and group ids, so batch_index and group_id are not all null
    log.write_text(
        json.dumps(
            {
                "batch": [
                    {
                        "type": "group",
                        "userId": "u-ada",
                        "groupId": "acme",
                        "messageId": "g1",
                        "timestamp": "2026-11-20T10:00:00Z",
                        "traits": {"name": "Acme"},
                    }
                ],
                "sentAt": "2026-11-20T10:00:01Z",
            }
        )
        + "\n"
    )
    full, empty = base / "full", base / "empty"
    resolve([JOURNEYS, log], full)
    (base / "nothing.ndjson").write_text("")
    resolve([base / "nothing.ndjson"], empty)
    return {"full": full, "empty": empty}


@pytest.mark.parametrize("which", ["full", "empty"])
@pytest.mark.parametrize("name", list(schemas.OUTPUTS))
def test_every_output_has_its_declared_schema(outputs, which, name):
    declared = schemas.OUTPUTS[name]()
    written = pq.read_schema(outputs[which] / name)
    assert written.names == declared.names
    for field in declared:
        assert written.field(field.name).type.equals(field.type), (name, field.name, written.field(field.name).type)
    assert schemas.differences(written, declared) == []


def test_manifest_records_the_format_version_and_the_files(outputs):
    manifest = json.loads((outputs["full"] / "manifest.json").read_text())
    assert manifest["format_version"] == schemas.OUTPUTS_FORMAT_VERSION == 2
    assert (
        manifest["files"]
        == list(schemas.OUTPUTS)
        == ["profiles.parquet", "identities.parquet", "events.parquet", "merges.parquet"]
    )


def test_a_directory_of_another_format_version_is_refused(outputs, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(outputs["full"], old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 1  # merges.parquet had "limit" and "window" then
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="incompatible version of cdp; resolve again"):
        ProfileStore(old)
    with ProfileStore(outputs["full"]) as store:  # the current version opens
        assert store.find("u-ada")


def test_no_output_column_is_a_reserved_sql_word():
    for name, schema in schemas.OUTPUTS.items():
        clash = [c for c in schema().names if c.lower() in schemas.RESERVED_WORDS]
        assert not clash, f"{name}: {clash} are reserved in common SQL dialects; rename them"
    merges = schemas.merges().names
    assert "limit" not in merges and "window" not in merges
    assert merges[merges.index("limit_type") : merges.index("limit_type") + 3] == [
        "limit_type",
        "limit_value",
        "limit_window",
    ]


def test_merges_parquet_spells_the_limit_with_the_new_names(outputs):
    refused = [m for m in pq.read_table(outputs["full"] / "merges.parquet").to_pylist() if m["kind"] == "refused"]
    assert refused and {(m["limit_type"], m["limit_value"], m["limit_window"]) for m in refused} == {
        ("user_id", 1, "ever")
    }


def test_storage_enforces_a_declared_schema(tmp_path):
    declared = schemas.assignments()
    storage.write_table(
        pa.table({"seq": pa.array([1], pa.int32()), "profile": pa.array([2], pa.int32())}),
        tmp_path / "a.parquet",
        schema=declared,
    )  # safe casts are made
    assert pq.read_schema(tmp_path / "a.parquet").equals(declared)
    with pytest.raises(ValueError, match="columns"):
        storage.write_table(pa.table({"profile": [1], "seq": [2]}), tmp_path / "b.parquet", schema=declared)
    storage.write_table(pa.table({"seq": ["x"]}), tmp_path / "c.parquet")
    with pytest.raises(EngineError, match="does not have its declared schema"):
        storage.check_schema(tmp_path / "c.parquet", declared)


def test_schemas_load_without_pyarrow():
    code = (
        "import sys, cdp_cli.schemas, cdp_cli.storage, cdp_cli.engine; "
        "print('pyarrow' in sys.modules, 'duckdb' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.split() == ["False", "False"], r.stderr


def test_every_parquet_write_goes_through_the_engine_or_storage():
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "engine" or rel.as_posix() == "storage.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bpq\.write_table|ParquetWriter|pyarrow\.parquet\.write", text), (
            f"{rel}: write Parquet with cdp_cli.storage.write_table or Engine.copy_parquet"
        )


def test_identity_sql_lives_in_named_templates():
    """resolve, its passes and explain hold no SQL of their own: it is in cdp_cli/identity/sql.py."""
    for name in ("resolve.py", "stage.py", "outputs.py", "explain.py"):
        text = (PKG / "identity" / name).read_text(encoding="utf-8")
        found = re.findall(r"\b(SELECT|INSERT|CREATE|COPY)\s", text)
        assert not found, f"identity/{name} holds SQL ({found}); add a named template to identity/sql.py"


def test_a_row_group_writer_leaves_pending_rows_unwritten_after_an_error(tmp_path):

    schema = pa.schema([("n", pa.int64())])
    with storage.RowGroupWriter(tmp_path / "ok.parquet", schema, row_group_size=3) as w:
        w.write(pa.table({"n": [1, 2, 3, 4, 5]}))
    meta = pq.ParquetFile(tmp_path / "ok.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [3, 2]
    with pytest.raises(RuntimeError), storage.RowGroupWriter(tmp_path / "bad.parquet", schema, row_group_size=3) as w:
        w.write(pa.table({"n": [1, 2, 3, 4]}))
        raise RuntimeError("the query failed")
    assert pq.read_table(tmp_path / "bad.parquet").column("n").to_pylist() == [1, 2, 3]  # not the pending 4
    w.close()  # closing again does nothing
