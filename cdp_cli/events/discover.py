"""Discovery: which inputs to read. Paths, directories (walked recursively in sorted order, so a Segment
S3 export tree just works), glob patterns (``**`` never enters links to directories), ``-`` for standard
input, symbolic link loops. Produces :class:`Source` objects; reads no data. Public names are
re-exported by :mod:`cdp_cli.events.reader`, the one entry point."""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cdp_cli.errors import InputError

#: File names a directory walk picks up (explicitly named files are read whatever their name).
EVENT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".log", ".gz", ".zst", ".zstd")


@dataclass(frozen=True, slots=True)
class Source:
    """One input: a file (``path``) or standard input (``path`` is None)."""

    name: str  # as shown in findings
    path: Path | None
    size: int | None  # bytes on disk (compressed size for .gz/.zst), None for stdin or pipes

    @property
    def compression(self) -> str:
        lower = self.name.lower()
        if lower.endswith(".gz"):
            return "gzip"
        if lower.endswith((".zst", ".zstd")):
            return "zstd"
        return "none"


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _walk(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(EVENT_SUFFIXES):
                continue
            p = Path(root) / name
            try:
                if not stat.S_ISREG(p.stat().st_mode):
                    continue  # a FIFO, socket or device inside a log tree would block or never end
            except OSError:
                pass  # a broken link or a loop: kept, so reading it reports EV007 and the walk goes on
            found.append(p)
    return found


def _is_loop(path: str | Path) -> bool:
    """``path`` (or a directory on the way to it) is a symbolic link loop (``ln -s x x``, or a -> b -> a).
    ``Path.exists()`` just says False for one, and on Python 3.11 ``Path.resolve()`` raises RuntimeError."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def _glob(pattern: str) -> list[str]:
    """``glob.glob(pattern, recursive=True)``, sorted, except that ``**`` does not enter symbolic links to
    directories: glob's does, so a link to a parent (``logs/up -> ..``) recurses until the path is too
    long, and two such links make it exponential. A link is still matched (and a matched directory
    walked, once), as a directory walk does. Hidden names match only a pattern part starting with '.'."""
    parts = [p for i, p in enumerate(pattern.split(os.sep)) if p or i == 0]
    if "**" not in parts:
        return sorted(glob.glob(pattern))
    i = 0
    while i < len(parts) and not glob.has_magic(parts[i]):
        i += 1
    base = os.sep.join(parts[:i]) or (os.sep if pattern.startswith(os.sep) else "")
    pats = parts[i:]
    hidden = any(p.startswith(".") for p in pats if p != "**")
    top = base or os.curdir
    found: list[str] = []
    if not os.path.isdir(top):
        return found
    for root, dirs, files in os.walk(top):  # followlinks=False: a link to a directory is listed, not entered
        if not hidden:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = [] if root == top else os.path.relpath(root, top).split(os.sep)
        for name in dirs + files:
            names = [*rel, name]
            if _match_parts(names, pats):
                found.append(os.path.join(base, *names) if base else os.path.join(*names))
    return sorted(found)


def _match_parts(names: list[str], pats: list[str]) -> bool:
    if not pats:
        return not names
    pat = pats[0]
    if pat == "**":  # zero or more names, none hidden
        for k in range(len(names) + 1):
            if _match_parts(names[k:], pats[1:]):
                return True
            if k < len(names) and names[k].startswith("."):
                return False
        return False
    if not names or (names[0].startswith(".") and not pat.startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], pat) and _match_parts(names[1:], pats[1:])


def _file_source(path: Path, walked: bool = False) -> Source:
    try:
        st = path.stat()
    except OSError as e:
        if walked:  # found by a walk or a glob: report it when read (EV007), read the rest
            return Source(str(path), path, None)
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from e
    size = st.st_size if stat.S_ISREG(st.st_mode) else None
    return Source(str(path), path, size)


def discover(inputs: Iterable[str | Path | Source]) -> list[Source]:
    """Expand inputs into sources. A missing path or a glob matching nothing is an
    :class:`~cdp_cli.errors.InputError` (exit 2): a typo must not read as "no events, all clean"."""
    sources: list[Source] = []
    stdin_used = False
    for raw in inputs:
        if isinstance(raw, Source):  # already discovered
            sources.append(raw)
            continue
        text = str(raw)
        if text == "-":
            if stdin_used:
                raise InputError("'-' (standard input) is given more than once")
            stdin_used = True
            sources.append(Source("<stdin>", None, None))
            continue
        path = Path(text)
        if path.is_dir():
            files = _walk(path)
            if not files:
                raise InputError(f"{text}: no event files in this directory (looked for {', '.join(EVENT_SUFFIXES)})")
            sources.extend(_file_source(p, walked=True) for p in files)
            continue
        if path.exists():
            sources.append(_file_source(path))
            continue
        if _is_loop(text):
            raise InputError(f"{text}: symbolic link loop (the link leads back to itself); there is no file to read")
        if _is_glob(text):
            matches = _glob(text)
            if not matches:
                raise InputError(f"{text}: no file matches this pattern")
            before = len(sources)
            for m in matches:
                mp = Path(m)
                if mp.is_dir():
                    sources.extend(_file_source(p, walked=True) for p in _walk(mp))
                elif mp.exists() and not mp.is_file():
                    continue  # a FIFO or device matched by a pattern would block; name it explicitly to read it
                else:
                    sources.append(_file_source(mp, walked=True))
            if len(sources) == before:
                raise InputError(f"{text}: the pattern matches only directories without event files")
            continue
        raise InputError(f"{text}: no such file or directory")
    seen: set[str] = set()
    unique = []
    for s in sources:  # the same file named twice (dir + glob) is read once
        key = os.path.realpath(s.path) if s.path else "<stdin>"
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return unique
