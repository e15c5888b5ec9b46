from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

# Property tests assert properties, not speed: on a loaded 2-core CI machine generating inputs can be
# slow, and hypothesis's too_slow health check (and its per-example deadline) then fails a test
# whose property holds. Tests with their own @settings inherit this.
settings.register_profile("cdp", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("cdp")

# The JVMs of the Spark tests (local sessions in this process and in the cdp processes they start)
# live for seconds on tiny inputs: the client compiler alone starts and warms up faster (about a fifth
# off a `profiles resolve --engine spark` of the identity sample). Only the tests' JVMs: cdp's own
# sessions keep the JVM's defaults, which pay off on real data.
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: two workers a core. Much of the suite waits rather than computes (cdp processes,
    JVMs, PostgreSQL, a browser): with one worker a core the cores were busy 57% of the time."""
    return 2 * (os.cpu_count() or 1)


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    """Tests see a plain, non-CI terminal-less environment unless they set otherwise."""
    for var in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for the whole session: its DSN (see tests/pg.py); skipped with the
    install hint when PostgreSQL's binaries or psycopg are missing."""
    from tests import pg

    yield from pg.server()


def write_files(base: Path, files: dict) -> None:
    """Write a {relative path: text | {hex: ...} | {text: ..., times: n}} mapping under ``base``."""
    for rel, content in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict) and "hex" in content:
            path.write_bytes(bytes.fromhex(content["hex"]))
        elif isinstance(content, dict) and "text" in content:
            path.write_text(content["text"] * int(content.get("times", 1)), encoding="utf-8")
        else:
            path.write_text(content or "", encoding="utf-8")


def run_cdp(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None):
    """Run the real `cdp` console entry point in a subprocess."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cdp_cli", *args],
        cwd=cwd or ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )
