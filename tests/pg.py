"""A throwaway PostgreSQL server for tests that run cdp's SQL or load a warehouse for real.

One server per test session (``pg_server`` in ``tests/conftest.py``): initdb into a temporary
directory, trust authentication, a loopback port, fsync off; as root, initdb and the server run as the
``postgres`` user (initdb refuses root). Stopped with ``pg_ctl -m immediate`` and removed at the end.
Tests that need isolation take a database of their own (:func:`fresh_database`). When there are no
PostgreSQL binaries or psycopg, the tests that need them are skipped with how to install them (CI
installs both: ``.ci/run`` and the ``test`` extra).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL_HINT = "apt-get install postgresql (Debian/Ubuntu), or put pg_ctl on PATH"


def pg_bin() -> Path | None:
    """The directory of PostgreSQL's server binaries: Debian's newest, else wherever pg_ctl is."""
    version = lambda p: (int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0, p)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=version)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> list[str]:
    """The command prefix to run initdb and pg_ctl as ``postgres`` when we are root (skip if we cannot)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot run initdb as the postgres user")
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres user to run initdb as")
    return ["runuser", "-u", "postgres", "--"]


def server() -> Iterator[str]:
    """Start a server, yield its DSN (user ``cdp``, database ``postgres``), stop and remove it."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    bindir = pg_bin()
    if bindir is None:
        pytest.skip(f"no PostgreSQL binaries (/usr/lib/postgresql/*/bin or pg_ctl on PATH): {INSTALL_HINT}")
    as_user = _as_user()
    tmp = tempfile.mkdtemp(prefix="cdp-pg-")
    os.chmod(tmp, 0o777)
    data, port = os.path.join(tmp, "data"), free_port()
    run = lambda *a: subprocess.run([*as_user, *a], capture_output=True, text=True, timeout=120)
    r = run(str(bindir / "initdb"), "-D", data, "-U", "cdp", "--auth=trust", "-E", "UTF8")
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off"
    r = run(str(bindir / "pg_ctl"), "-D", data, "-o", opts, "-l", os.path.join(tmp, "log"), "-w", "start")
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.skip(f"pg_ctl start failed: {r.stderr.strip()[-300:]}")
    try:
        yield f"postgresql://cdp@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


def fresh_database(dsn: str, name: str) -> str:
    """Drop (if there) and create database ``name`` on the server of ``dsn``; its DSN."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return dsn.rsplit("/", 1)[0] + "/" + name
