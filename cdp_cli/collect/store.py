"""The collector's output: NDJSON files that rotate by size and time, written durably with group commit.

Layout of ``--out DIR``::

    DIR/.cdp-collect.json                               cdp's marker, also the lock of the running collector
    DIR/events-20261122T101530Z-000001.ndjson           closed files: complete, never written again
    DIR/.events-20261122T101611Z-000002.ndjson.open     the file being written (a reader never picks it up)
    DIR/findings/events-20261122T101530Z-000001.findings  with --plan/--lint: one finding a line (NDJSON)

- **Atomic files.** A file is written under a temporary name (a leading dot and the ``.open`` suffix:
  the event reader's directory walk skips both, see :data:`cdp_cli.events.reader.EVENT_SUFFIXES`) and
  renamed to its final name when it closes: when it reaches ``rotate_bytes``, when it is
  ``rotate_seconds`` old, and when the collector stops. ``cdp events lint DIR`` and
  ``cdp events replay DIR`` therefore only ever see whole files, each line a whole message.
- **Durable acknowledgements.** :meth:`Store.append` queues a request's lines and returns a
  :class:`Ticket`; :meth:`Store.wait` returns once they are written and ``fdatasync``-ed (and the
  directory entry of a new file is synced too). The HTTP server answers 200 only after that.
- **Group commit.** One committer thread writes everything queued since its last sync with one
  ``write`` per file and one sync, then wakes every request it covered: concurrent requests share a
  sync, which is how a disk that syncs in 2 ms still takes tens of thousands of messages a second.
- **Crash recovery.** After a crash (``kill -9``, power loss) the ``.open`` file holds every
  acknowledged message, perhaps followed by part of a request that was never acknowledged. The next
  collector started on the directory cuts such a file after its last complete line, syncs it and gives
  it its final name, so nothing acknowledged is lost and no reader ever sees half a line.
- **Never over anything else.** Files are created with ``O_EXCL`` under new names; a directory that
  holds files but not cdp's marker is refused, and two collectors never share a directory (the marker
  is ``flock``-ed while one runs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp_cli.errors import OutputError, os_reason

log = logging.getLogger("cdp")

MARKER = ".cdp-collect.json"  #: cdp's marker in a collector's output directory (and its lock)
MARKER_FORMAT = 1
OPEN_SUFFIX = ".open"  #: the suffix of a file being written (not one of the reader's EVENT_SUFFIXES)
FINDINGS_DIR = "findings"
FINDINGS_SUFFIX = ".findings"  #: findings files: NDJSON under a suffix the event reader's walk skips
DEFAULT_ROTATE_BYTES = 64 * 2**20
DEFAULT_ROTATE_SECONDS = 60.0

_NAME = re.compile(r"^events-(\d{8}T\d{6}Z)-(\d{6,})\.ndjson$")
_OPEN = re.compile(r"^\.(events-\d{8}T\d{6}Z-\d{6,}\.(?:ndjson|findings))\.open$")


class StoreError(OutputError):
    """The output cannot be written any more (disk full, read-only, removed): nothing is acknowledged."""


@dataclass(frozen=True, slots=True)
class Ticket:
    """Where a request's lines went: file ``file`` (its final name, relative to the directory), lines
    ``first_line`` onwards. Durable once :meth:`Store.wait` returns for it."""

    seq: int
    file: str
    first_line: int


@dataclass
class StoreStats:
    lines: int = 0
    bytes: int = 0
    commits: int = 0  #: syncs that acknowledged requests
    requests: int = 0  #: appends acknowledged
    largest_group: int = 0  #: the most requests one sync acknowledged
    files: list[str] = field(default_factory=list)  #: files closed (renamed to their final name) by this run
    recovered: list[str] = field(default_factory=list)  #: files completed from an earlier, killed run
    findings: int = 0


@dataclass(slots=True)
class _Write:
    seq: int
    data: list[bytes]
    first_line: int
    findings: list[dict[str, Any]] | None


@dataclass(slots=True)
class _Open:
    name: str  # the events file's final name


class _Close:
    __slots__ = ()


_CLOSE = _Close()


class _File:
    """An open output file: its temporary and final paths and its descriptor."""

    def __init__(self, directory: Path, name: str) -> None:
        self.final = directory / name
        self.temp = directory / f".{name}{OPEN_SUFFIX}"
        self.fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o666)
        self.dirty = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.dirty = True

    def sync(self) -> None:
        if self.dirty:
            os.fdatasync(self.fd)
            self.dirty = False

    def close(self) -> None:
        """Sync, close, and rename to the final name (never over an existing file)."""
        self.sync()
        os.close(self.fd)
        self.fd = -1
        if os.path.lexists(self.final):  # cannot happen in a locked directory; never replace a file
            raise OSError(17, "file exists", str(self.final))
        os.rename(self.temp, self.final)


def _utc_stamp(when: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(when))


def _fsync_dir(fd: int) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot sync a directory; the data is synced
        os.fsync(fd)


class Store:
    """A durable, rotating NDJSON writer over one directory (see the module docstring).

    ``durable=False`` skips the syncs (for measuring what they cost; a crash may then lose
    acknowledged messages)."""

    def __init__(
        self,
        directory: str | Path,
        *,
        rotate_bytes: int = DEFAULT_ROTATE_BYTES,
        rotate_seconds: float = DEFAULT_ROTATE_SECONDS,
        durable: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.rotate_bytes = max(1, int(rotate_bytes))
        self.rotate_seconds = max(0.05, float(rotate_seconds))
        self.durable = durable
        self.stats = StoreStats()
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the committer waits for work here
        self._done = threading.Condition(self._lock)  # requests wait for their sync here
        self._pending: list[_Write | _Open | _Close] = []
        self._seq = 0  # last ticket handed out
        self._committed = 0  # every ticket up to this one is durable
        self._error: BaseException | None = None
        self._closing = False
        self._next_file = 1
        # the file requests are appended to, as appenders see it (the committer follows the queue)
        self._cur: str | None = None
        self._cur_lines = 0
        self._cur_bytes = 0
        self._cur_opened = 0.0
        self._lock_fd = -1
        self._dir_fd = -1
        self._findings_dir_fd = -1
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    def open(self) -> Store:
        """Check and lock the directory, complete files left by a killed run, start the committer."""
        d = self.directory
        try:
            if d.exists() and not d.is_dir():
                raise OutputError(f"--out {d}: exists and is not a directory")
            d.mkdir(parents=True, exist_ok=True)
            marker = d / MARKER
            if not marker.exists():
                foreign = sorted(p.name for p in d.iterdir())
                if foreign:
                    shown = ", ".join(foreign[:6]) + (f" and {len(foreign) - 6} more" if len(foreign) > 6 else "")
                    raise OutputError(
                        f"--out {d}: the directory holds files cdp collect did not write ({shown}); "
                        "choose a new or empty directory, or one an earlier cdp collect wrote"
                    )
            self._lock_fd = os.open(marker, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            import fcntl

            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OutputError(
                    f"--out {d}: another cdp collect is writing to this directory; give each its own"
                ) from None
            self._check_marker(marker)
            self._dir_fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._recover()
            self._next_file = self._highest_number() + 1
        except OutputError:
            self._release()
            raise
        except OSError as e:
            self._release()
            raise OutputError(f"cannot write {d}: {os_reason(e)}") from None
        self._thread = threading.Thread(target=self._commit_loop, name="cdp-collect-commit", daemon=True)
        self._thread.start()
        return self

    def _check_marker(self, marker: Path) -> None:
        text = os.pread(self._lock_fd, 65536, 0)
        if not text.strip():
            data = json.dumps({"written_by": "cdp", "kind": "collect", "format": MARKER_FORMAT}) + "\n"
            os.write(self._lock_fd, data.encode())
            os.fsync(self._lock_fd)
            _fsync_dir_path(self.directory)
            return
        try:
            stamp = json.loads(text)
        except ValueError:
            stamp = None
        if not (isinstance(stamp, dict) and stamp.get("written_by") == "cdp" and stamp.get("kind") == "collect"):
            raise OutputError(f"--out {self.directory}: {marker.name} is not cdp collect's; choose another directory")

    def _highest_number(self) -> int:
        high = 0
        for entry in os.scandir(self.directory):
            m = _NAME.match(entry.name)
            if m:
                high = max(high, int(m.group(2)))
        return high

    def _recover(self) -> None:
        """Complete the ``.open`` files of a collector that was killed: cut each after its last whole
        line, sync it, give it its final name (its findings file too)."""
        dirs = [self.directory]
        if (self.directory / FINDINGS_DIR).is_dir():
            dirs.append(self.directory / FINDINGS_DIR)
        for directory in dirs:
            for entry in sorted(os.scandir(directory), key=lambda e: e.name):
                m = _OPEN.match(entry.name)
                if not m or not entry.is_file(follow_symlinks=False):
                    continue
                temp, final = Path(entry.path), directory / m.group(1)
                if final.exists():
                    if os.path.samefile(temp, final):
                        temp.unlink()
                        continue
                    log.warning("%s: left by a killed collector, but %s exists; left alone", temp, final.name)
                    continue
                size = _cut_after_last_line(temp)
                if size == 0:
                    temp.unlink()
                    continue
                os.rename(temp, final)
                _fsync_dir_path(directory)
                if directory == self.directory:
                    self.stats.recovered.append(final.name)
                    log.info("completed %s, left open by a collector that was killed", final)

    def close(self) -> None:
        """Write and sync everything queued, close (rename) the open files, release the directory."""
        with self._lock:
            self._closing = True
            self._work.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._release()
        if self._error is not None:
            raise self._store_error()

    def _release(self) -> None:
        for attr in ("_dir_fd", "_findings_dir_fd", "_lock_fd"):
            fd = getattr(self, attr)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)  # closing the marker releases the flock
                setattr(self, attr, -1)

    @property
    def failed(self) -> BaseException | None:
        return self._error

    def _store_error(self) -> StoreError:
        e = self._error
        if isinstance(e, OSError):
            where = e.filename if e.filename is not None else self.directory
            return StoreError(f"cannot write {where}: {os_reason(e)}")
        return StoreError(f"cannot write {self.directory}: {e}")

    # -- appending ---------------------------------------------------------------------------------------

    def append(self, lines: list[bytes], findings: list[dict[str, Any]] | None = None) -> Ticket:
        """Queue one request's lines (each ending in a newline) for the next commit. ``findings``:
        dicts whose ``line`` counts from 1 within ``lines``; they are given the file and line the
        message got (in place) and written to the findings file. Raises :class:`StoreError` once the
        output has failed or closed."""
        size = sum(map(len, lines))
        with self._lock:
            if self._error is not None:
                raise self._store_error()
            if self._closing:
                raise StoreError(f"{self.directory}: the collector is stopping")
            now = time.monotonic()
            if (
                self._cur is None
                or (self._cur_bytes and self._cur_bytes + size > self.rotate_bytes)
                or now - self._cur_opened >= self.rotate_seconds
            ):
                self._cur = f"events-{_utc_stamp(time.time())}-{self._next_file:06d}.ndjson"
                self._next_file += 1
                self._cur_lines = self._cur_bytes = 0
                self._cur_opened = now
                self._pending.append(_Open(self._cur))
            self._seq += 1
            ticket = Ticket(self._seq, self._cur, self._cur_lines + 1)
            self._cur_lines += len(lines)
            self._cur_bytes += size
            self._pending.append(_Write(self._seq, lines, ticket.first_line, findings or None))
            self._work.notify()
        return ticket

    def wait(self, ticket: Ticket, timeout: float | None = None) -> None:
        """Return once ``ticket``'s lines are durable; raise :class:`StoreError` if they never will be."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._committed < ticket.seq:
                if self._error is not None:
                    raise self._store_error()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise StoreError(f"{self.directory}: the write was not confirmed in time")
                self._done.wait(left)

    # -- the committer -----------------------------------------------------------------------------------

    def _commit_loop(self) -> None:
        events: _File | None = None
        findings: _File | None = None
        try:
            while True:
                with self._lock:
                    while not self._pending and not self._closing:
                        if self._cur is not None:
                            left = self._cur_opened + self.rotate_seconds - time.monotonic()
                            if left <= 0:  # an idle file has reached its age: close it so readers see it
                                self._cur = None
                                self._pending.append(_CLOSE)
                                break
                            self._work.wait(left)
                        else:
                            self._work.wait()
                    batch, self._pending = self._pending, []
                    closing = self._closing and not batch
                    upto = self._seq
                if closing:
                    break
                events, findings, requests = self._apply(batch, events, findings)
                with self._lock:
                    self._committed = upto
                    self.stats.requests += requests
                    if requests:
                        self.stats.commits += 1
                        self.stats.largest_group = max(self.stats.largest_group, requests)
                    self._done.notify_all()
            events, findings = self._finish(events, findings)
        except BaseException as e:  # an OS error (disk full, ...) or a bug: nothing more is acknowledged
            with self._lock:
                self._error = e
                self._cur = None
                self._done.notify_all()
            for f in (events, findings):
                if f is not None and f.fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(f.fd)
            log.error("cdp collect: cannot write %s: %s", self.directory, e)

    def _apply(
        self, batch: list[_Write | _Open | _Close], events: _File | None, findings: _File | None
    ) -> tuple[_File | None, _File | None, int]:
        import orjson

        requests = 0
        chunks: list[bytes] = []
        found: list[bytes] = []
        for op in batch:
            if isinstance(op, _Write):
                assert events is not None  # an _Open always comes first
                chunks.extend(op.data)
                self.stats.lines += len(op.data)
                requests += 1
                if op.findings:
                    name = events.final.name
                    for f in op.findings:
                        f["file"] = name
                        f["line"] = op.first_line + int(f.get("line") or 1) - 1
                        found.append(orjson.dumps(f) + b"\n")
                    self.stats.findings += len(op.findings)
                continue
            # _Open or _Close: write what is queued for the current files, then close them
            events, findings = self._flush(events, findings, chunks, found)
            chunks, found = [], []
            events, findings = self._finish(events, findings)
            if isinstance(op, _Open):
                events = _File(self.directory, op.name)
                if self.durable:
                    _fsync_dir(self._dir_fd)  # the new file's name is durable before anything in it is acked
        events, findings = self._flush(events, findings, chunks, found)
        if self.durable:
            if events is not None:
                events.sync()
            if findings is not None:
                findings.sync()
        return events, findings, requests

    def _flush(
        self, events: _File | None, findings: _File | None, chunks: list[bytes], found: list[bytes]
    ) -> tuple[_File | None, _File | None]:
        if chunks and events is not None:
            data = b"".join(chunks)
            events.write(data)
            self.stats.bytes += len(data)
        if found and events is not None:
            if findings is None:
                findings = self._open_findings(events.final.name)
            findings.write(b"".join(found))
        return events, findings

    def _open_findings(self, events_name: str) -> _File:
        fdir = self.directory / FINDINGS_DIR
        if self._findings_dir_fd < 0:
            fdir.mkdir(exist_ok=True)
            self._findings_dir_fd = os.open(fdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            if self.durable:
                _fsync_dir(self._dir_fd)
        f = _File(fdir, events_name.removesuffix(".ndjson") + FINDINGS_SUFFIX)
        if self.durable:
            _fsync_dir(self._findings_dir_fd)
        return f

    def _finish(self, events: _File | None, findings: _File | None) -> tuple[None, None]:
        """Close (sync and rename) the current files."""
        if findings is not None:
            findings.close()
            if self.durable:
                _fsync_dir(self._findings_dir_fd)
        if events is not None:
            events.close()
            if self.durable:
                _fsync_dir(self._dir_fd)
            self.stats.files.append(events.final.name)
        return None, None


def _fsync_dir_path(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        _fsync_dir(fd)
    finally:
        os.close(fd)


def _cut_after_last_line(path: Path) -> int:
    """Truncate ``path`` after its last newline (the tail of a write a crash interrupted), sync it,
    and return its new size."""
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        pos = size
        block = 65536
        keep = 0
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            data = fh.read(pos - start)
            i = data.rfind(b"\n")
            if i >= 0:
                keep = start + i + 1
                break
            pos = start
        if keep != size:
            fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return keep


def open_files(directory: str | Path) -> list[Path]:
    """The files of ``directory`` a collector is writing or a killed one left (``.*.open``)."""
    d = Path(directory)
    found = [p for p in d.glob(f".*{OPEN_SUFFIX}") if _OPEN.match(p.name)]
    if (d / FINDINGS_DIR).is_dir():
        found += [p for p in (d / FINDINGS_DIR).glob(f".*{OPEN_SUFFIX}") if _OPEN.match(p.name)]
    return sorted(found)
