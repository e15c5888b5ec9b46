"""The file destinations of a replay: ``file:PATH`` (NDJSON; gzip for ``.gz``, zstandard for
``.zst``) and ``-`` (standard output).

A file is written whole or not at all: into a temporary sibling, renamed over ``PATH`` when the
replay ends cleanly (an interrupted or failed run leaves no partial file, and a rerun starts over:
there is nothing to resume, so ``--checkpoint`` is refused for files). An existing file is replaced
only with ``--force`` (a replayed log cannot be told from the user's own). Standard output is
written as messages come: each batch is acknowledged once written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from cdp_cli.fsutil import _is_special, _tmp_prefix, _umask, output_error, remove_leftovers
from cdp_cli.replay.destination import Batch, DestinationError, Limits, Outcome, Progress


def encode(m: Any) -> bytes:
    """A message as one NDJSON line: its JSON text as read, or as re-encoded where it was changed."""
    return m.raw + b"\n"


class FileDestination:
    kind = "file"
    limits = Limits(max_messages=10_000, max_bytes=16 * 2**20)
    transactional = False
    fresh_sent_at = False

    def __init__(self, path: str | Path, *, force: bool = False) -> None:
        self.path = Path(path)
        self.label = str(self.path)
        self.force = force
        self._tmp: str | None = None
        self._raw: IO[bytes] | None = None
        self._fh: Any = None

    def check(self) -> None:
        """Before any work: the target can be written."""
        p = self.path
        if p.is_dir():
            raise DestinationError(f"file:{p}: is a directory")
        if os.path.lexists(p) and not _is_special(p) and not self.force:
            raise DestinationError(
                f"file:{p}: the file exists; refusing to replace it (a replayed log cannot be told from "
                "your own): delete it, choose another name, or give --force"
            )

    def open(self, key: str) -> dict[str, Any] | None:
        self.check()
        p = self.path
        try:
            if _is_special(p):
                self._raw = open(p, "wb")
            else:
                parent = p.parent if str(p.parent) else Path(".")
                parent.mkdir(parents=True, exist_ok=True)
                remove_leftovers(p)
                fd, self._tmp = tempfile.mkstemp(prefix=_tmp_prefix(p.name), suffix=".tmp", dir=parent)
                self._raw = os.fdopen(fd, "wb")
        except OSError as e:
            raise output_error(p, e) from None
        self._fh = _compressor(self._raw, p.name)
        return None

    def deliver(self, batches: Iterable[tuple[Batch, Progress | None]]) -> Iterator[Outcome]:
        for batch, _ in batches:
            try:
                self._fh.write(b"".join(encode(m) for m in batch.messages))
            except OSError as e:
                raise output_error(self.path, e) from None
            yield Outcome(batch, list(batch.messages))

    def close(self, ok: bool) -> None:
        tmp, self._tmp = self._tmp, None
        try:
            if self._fh is not None:
                try:
                    self._fh.close()  # the compressor closes the file under it
                    if self._raw is not None and not self._raw.closed:
                        self._raw.close()
                except OSError as e:
                    if ok:
                        raise output_error(self.path, e) from None
            if ok and tmp is not None:
                try:
                    os.chmod(tmp, 0o666 & ~_umask())
                    os.replace(tmp, self.path)
                    tmp = None
                except OSError as e:
                    raise output_error(self.path, e) from None
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


class _Closing:
    """A compressor stream that also flushes and fsyncs, then closes, the file under it."""

    def __init__(self, stream: Any, raw: IO[bytes]) -> None:
        self.stream, self.raw = stream, raw

    def write(self, data: bytes) -> None:
        self.stream.write(data)

    def close(self) -> None:
        if self.stream is not self.raw:
            self.stream.close()  # gzip and zstd leave the file under them open
        self.raw.flush()
        with contextlib.suppress(OSError):
            os.fsync(self.raw.fileno())
        self.raw.close()


def _compressor(raw: IO[bytes], name: str) -> Any:
    lower = name.lower()
    if lower.endswith(".gz"):
        import gzip

        return _Closing(gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0), raw)
    if lower.endswith((".zst", ".zstd")):
        import zstandard

        return _Closing(zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False), raw)
    return _Closing(raw, raw)


class StdoutDestination:
    kind = "stdout"
    label = "-"
    limits = Limits(max_messages=1_000, max_bytes=4 * 2**20)
    transactional = False
    fresh_sent_at = False

    def open(self, key: str) -> dict[str, Any] | None:
        return None

    def deliver(self, batches: Iterable[tuple[Batch, Progress | None]]) -> Iterator[Outcome]:
        out = sys.stdout.buffer
        for batch, _ in batches:
            out.write(b"".join(encode(m) for m in batch.messages))
            out.flush()
            yield Outcome(batch, list(batch.messages))

    def close(self, ok: bool) -> None:
        return None
