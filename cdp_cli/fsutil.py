"""Atomic outputs: a reader never sees a half-written file or directory.

Files are written to a temporary sibling and renamed into place (``os.replace`` is atomic on one
file system); directories are built beside their target and swapped in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Iterator

from cdp_cli.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: directory {parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, marker: str) -> Iterator[Path]:
    """Build a directory in a temporary sibling and swap it in at the end.

    An existing ``path`` is replaced only when it is empty or holds ``marker`` (a file an earlier run
    of the same command wrote), so a typo never deletes unrelated files.
    """
    path = Path(path)
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(f"{path}: cannot replace the current directory or one above it; name a subdirectory such as build/schemas")
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{path}: exists and is not a directory")
        if any(path.iterdir()) and not (path / marker).exists():
            raise InputError(f"{path}: directory is not empty and was not written by cdp (no {marker}); choose an empty or new directory")
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        mode = 0o777 & ~_umask()  # mkdtemp makes 0700; the swapped-in directory gets ordinary permissions
        os.chmod(tmp, mode)
        for sub in tmp.rglob("*"):
            if sub.is_dir():
                os.chmod(sub, mode)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, old / "d")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
