"""``--engine spark`` end to end as a user runs it, and the base install without Java or pyspark.

The Spark runs need pyspark (the spark extra, in the test extra) and Java; the base-install tests run
everywhere: cdp must work, and say what to install, where neither is present.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cdp_cli.engine import available_engines
from tests.conftest import ROOT, run_cdp

SPARK = pytest.mark.skipif("spark" not in available_engines(), reason="needs pyspark and Java")


def _has_connect() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("grpc", "pandas", "google.rpc"))


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A real Spark Connect server (the one pyspark ships), local[2] on a loopback port, stopped at the end."""
    import socket
    import subprocess
    import time

    import pyspark

    home = Path(pyspark.__file__).parent
    work = tmp_path_factory.mktemp("spark-connect")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOG_DIR": str(work), "SPARK_PID_DIR": str(work)}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    start = [
        "bash", str(home / "sbin" / "start-connect-server.sh"), "--master", "local[2]",
        "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.ui.enabled=false",
    ]  # fmt: skip
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=60)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            logs = "".join(p.read_text(errors="replace") for p in work.glob("*.out"))
            if "Spark Connect server started" in logs:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the Spark Connect server did not start:\n{logs[-3000:]}")
        yield f"sc://127.0.0.1:{port}"
    finally:
        subprocess.run(
            ["bash", str(home / "sbin" / "stop-connect-server.sh")], env=env, capture_output=True, timeout=60
        )


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("spark-cli") / "profiles"
    r = run_cdp("profiles", "resolve", str(ROOT / "samples" / "ecommerce"), "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr
    return out


def _no_java_env(tmp_path: Path, *, block_pyspark: bool) -> dict[str, str]:
    """The environment of a machine without Java (and, with ``block_pyspark``, without pyspark: the
    base install)."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "SPARK_HOME", "PYTHONPATH")}
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if not (Path(p) / "java").exists()]
    env["PATH"] = os.pathsep.join(path)
    assert shutil.which("java", path=env["PATH"]) is None
    if block_pyspark:
        shadow = tmp_path / "no-pyspark"
        (shadow / "pyspark").mkdir(parents=True)
        (shadow / "pyspark" / "__init__.py").write_text("raise ImportError('No module named pyspark')\n")
        env["PYTHONPATH"] = str(shadow)
    return env


@pytest.mark.parametrize("block_pyspark", [True, False], ids=["base install", "pyspark without java"])
def test_without_java_duckdb_works_and_spark_says_what_to_install(profiles, tmp_path, block_pyspark):
    env = _no_java_env(tmp_path, block_pyspark=block_pyspark)
    out = tmp_path / "traits.parquet"
    spec = str(ROOT / "samples" / "traits.yaml")
    r = run_cdp("traits", "compute", "--profiles", str(profiles), "--spec", spec, "--out", str(out), "-q", env=env)
    assert r.returncode == 0, r.stderr
    assert pq.read_table(out).num_rows > 100
    r = run_cdp(
        "traits", "compute", "--profiles", str(profiles), "--spec", spec, "--out", str(tmp_path / "s.parquet"),
        "--engine", "spark", env=env,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "pip install 'cdp-cli[spark]'" in r.stderr and "Traceback" not in r.stderr
    missing = "pyspark is not installed" if block_pyspark else "runs on Java, which is not installed here"
    assert missing in r.stderr  # which of the two is missing
    assert not (tmp_path / "s.parquet").exists()


def test_importing_cdp_never_imports_pyspark():
    import subprocess

    code = (
        "import sys, cdp_cli.api, cdp_cli.cli.app, cdp_cli.engine;"
        "from cdp_cli.engine import dialect; dialect('spark');"
        "assert 'pyspark' not in sys.modules and 'py4j' not in sys.modules, 'imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_spark_options_need_engine_spark_and_settings_are_checked(profiles, tmp_path):
    spec = str(ROOT / "samples" / "traits.yaml")
    base = ["traits", "compute", "--profiles", str(profiles), "--spec", spec, "--out", str(tmp_path / "t.parquet")]
    for extra, message in [
        (["--spark-remote", "sc://localhost:15002"], "need --engine spark"),
        (["--engine", "spark", "--spark-conf", "executor.memory=8g"], "only spark.* settings"),
        (["--engine", "spark", "--spark-conf", "spark.executor.memory"], "expected KEY=VALUE"),
        (["--engine", "spark", "--spark-master", "local[1]", "--spark-remote", "sc://h:1"], "exclude each other"),
    ]:
        r = run_cdp(*base, *extra)
        assert r.returncode == 2 and message in r.stderr, (extra, r.stderr)
    assert not (tmp_path / "t.parquet").exists()


@SPARK
@pytest.mark.skipif(not _has_connect(), reason="needs the Spark Connect client (pip install 'cdp-cli[spark]')")
def test_traits_through_spark_connect_equal_duckdb(profiles, tmp_path, connect_server):
    spec = str(ROOT / "samples" / "traits.yaml")
    duck, remote = tmp_path / "duck.parquet", tmp_path / "remote.parquet"
    r = run_cdp("traits", "compute", "--profiles", str(profiles), "--spec", spec, "--out", str(duck), "-q")
    assert r.returncode == 0, r.stderr
    r = run_cdp(
        "traits", "compute", "--profiles", str(profiles), "--spec", spec, "--out", str(remote),
        "--engine", "spark", "--spark-remote", connect_server, "--format", "json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["profiles"] > 100
    # the server wrote the file (it shares this filesystem); cdp moved it into place with its mark
    a, b = pq.read_table(duck), pq.read_table(remote)
    assert b.to_pylist() == a.to_pylist() and (b.schema.metadata or {}).get(b"cdp") == b"traits"
    r = run_cdp(
        "traits", "compute", "--profiles", str(profiles), "--spec", spec, "--out", str(tmp_path / "x.parquet"),
        "--engine", "spark", "--spark-remote", "sc://127.0.0.1:9",
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr  # nothing listens there


@SPARK
def test_resolve_traits_and_audiences_on_spark_equal_duckdb_end_to_end(profiles, tmp_path):
    """The commands as typed, run in this process (its Spark session is the one the conformance suite
    started: a new JVM per command would cost CI half a minute each)."""
    from typer.testing import CliRunner

    from cdp_cli.cli.app import app

    def cdp(*args: str) -> str:
        r = CliRunner().invoke(app, list(args))
        assert r.exit_code == 0, r.output
        return r.stdout

    resolved = tmp_path / "profiles"
    cdp("profiles", "resolve", str(ROOT / "samples" / "ecommerce"), "--out", str(resolved), "--engine", "spark", "-q")
    for name in ("profiles.parquet", "identities.parquet", "events.parquet", "merges.parquet"):
        assert pq.read_table(resolved / name).to_pylist() == pq.read_table(profiles / name).to_pylist(), name
    spec = str(ROOT / "samples" / "traits.yaml")
    duck, spark = tmp_path / "duck.parquet", tmp_path / "spark.parquet"
    cdp("traits", "compute", "--profiles", str(profiles), "--spec", spec, "--out", str(duck), "-q")
    summary = json.loads(
        cdp(
            "traits", "compute", "--profiles", str(resolved), "--spec", spec, "--out", str(spark),
            "--engine", "spark", "--format", "json",
        )
    )  # fmt: skip
    assert summary["profiles"] > 100
    a, b = pq.read_table(duck), pq.read_table(spark)
    assert a.num_rows > 100 and b.to_pylist() == a.to_pylist()  # the same rows, in the same order
    assert (b.schema.metadata or {}).get(b"cdp") == b"traits"  # cdp's mark: it may replace the file later
    aspec = str(ROOT / "samples" / "audiences.yaml")
    outs = {}
    for name in ("duckdb", "spark"):
        outs[name] = tmp_path / f"aud-{name}"
        args = ["--profiles", str(profiles), "--spec", aspec, "--traits", str(duck), "--out", str(outs[name])]
        cdp("audiences", "compute", *args, "--engine", name, "-q")
    files = sorted(p.name for p in outs["duckdb"].glob("*.parquet"))
    assert files and files == sorted(p.name for p in outs["spark"].glob("*.parquet"))
    for f in files:
        assert pq.read_table(outs["spark"] / f).to_pylist() == pq.read_table(outs["duckdb"] / f).to_pylist(), f


def test_the_printed_spark_sql_of_the_sample_audiences_selects_their_members(profiles, tmp_path):
    """``audiences preview --show-sql --dialect spark`` prints what ``--engine spark`` runs: each
    statement, run as printed on Spark, selects the audience's members as DuckDB computes them."""
    from cdp_cli.audiences.compute import _open, load_spec, memberships, prepare
    from cdp_cli.audiences.showsql import audience_statements
    from cdp_cli.engine import EngineChoice
    from cdp_cli.traits.compute import compute as compute_traits

    traits = tmp_path / "traits.parquet"
    compute_traits(profiles, ROOT / "samples" / "traits.yaml", traits)
    spec = load_spec(ROOT / "samples" / "audiences.yaml")
    with _open(profiles) as store:
        want, _ = memberships(prepare(store, spec, None, traits), identifiers=False)
    with _open(profiles, engine=EngineChoice("spark")) as store:
        printed = audience_statements(prepare(store, spec, None, traits), "spark")
        assert len(printed.statements) == len(want) == 4
        for s in printed.statements:
            got = sorted(p for p, member in store.engine.rows(s.sql) if member)
            assert got == want[s.name] and got, s.name
