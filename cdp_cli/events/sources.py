"""Byte sources: the byte stage of reading. Opens a :class:`~cdp_cli.events.discover.Source` (plain,
gzip, zstandard, standard input), looks at each file's head once to tell NDJSON from other data (one
EV008 for a PNG or a JSON array), and cuts the stream into :class:`~cdp_cli.events.parse.Chunk`
objects (or :class:`ChunkRef` references into plain files) of at most a few thousand lines. Memory is
bounded by the block size and the line-size cap, never by the size of the input; problems only the
byte stream can see (EV005 line too long, EV006 truncated stream, EV007 unreadable file) travel inside
the chunk. Public names are re-exported by :mod:`cdp_cli.events.reader`, the one entry point."""

from __future__ import annotations

import errno
import gzip
import io
import itertools
import json
import os
import shlex
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, cast

from cdp_cli.errors import InputError
from cdp_cli.events.discover import Source
from cdp_cli.events.parse import _DECODE_ERROR, _LOADS, Chunk
from cdp_cli.events.stats import FILE_UNREADABLE, LINE_TOO_LONG, NOT_NDJSON, STREAM_ERROR, Problem, ReadStats

BLOCK_SIZE = 1 << 20  # bytes read at a time
CHUNK_LINES = 2000  # lines handed to a parser (or worker process) at a time
DEFAULT_MAX_LINE_BYTES = 1 << 20  # a longer line is reported (EV005) and skipped, never buffered whole
SNIFF_BYTES = 1 << 16  # the head of each file (decompressed) looked at once to tell NDJSON from other data


def _unreadable(e: OSError) -> str:
    """The message of an EV007 (a file that cannot be opened)."""
    if e.errno == errno.ELOOP:
        return "symbolic link loop: the link leads back to itself (through other links), so there is no file to read"
    return f"cannot read file: {e.strerror or e}"


# --- telling NDJSON from other data (once per file, on its head) ----------------------------------
_MAGIC = (  # (leading bytes, format): data no NDJSON line can start with
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PK\x07\x08", "zip"),
    (b"PAR1", "Parquet"),
    (b"ORC", "ORC"),
    (b"Obj\x01", "Avro"),
    (b"ARROW1", "Arrow"),
    (b"SQLite format 3\x00", "SQLite"),
    (b"%PDF-", "PDF"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"\x7fELF", "ELF"),
)
_SUFFIX = {"gzip": ".gz", "zstd": ".zst"}
# bytes that occur in text: printable ASCII, tab, newlines, form feed, backspace, escape, and all bytes
# >= 0x80 (UTF-8 sequences; invalid ones are counted by decoding)
_TEXT_BYTES = bytes([8, 9, 10, 12, 13, 27, *range(32, 127), *range(128, 256)])


def sniff(head: bytes, complete: bool, name: str = "FILE", compression: str = "none") -> str | None:
    """Why data starting with ``head`` (decompressed) is not an NDJSON log at all, or None.

    ``complete``: ``head`` is the whole content. Looked at once per file, so a PNG, a Parquet file or a
    pretty-printed JSON array in a log folder is one EV008 finding instead of a finding per "line". A
    file whose first line is a JSON value is NDJSON, whatever follows (its broken lines get their own
    findings); so is one whose first line is broken but which is mostly text and not a JSON document.
    """
    if not head:
        return None
    whole = complete and len(head) <= SNIFF_BYTES  # the sample below is all there is
    inside = "" if compression == "none" else f"its {compression}-decompressed content is "
    for magic, fmt in _MAGIC:
        if head.startswith(magic) and (fmt != "bzip2" or head[3:4].isdigit()):
            if fmt in _SUFFIX and compression == "none":
                return (
                    f"{fmt}-compressed data in a file whose name does not end in {_SUFFIX[fmt]}, not an NDJSON log; "
                    f"rename it to end in {_SUFFIX[fmt]} and it is read"
                )
            return f"{inside}a binary file (looks like {fmt}), not an NDJSON log; move it out of the input"
    if head[257:262] == b"ustar":
        return f"{inside}a binary file (looks like tar), not an NDJSON log; move it out of the input"
    sample = head[:SNIFF_BYTES]
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and len(sample) >= 8:
        even, odd = sample[0::2], sample[1::2]  # ASCII as UTF-16: every other byte is NUL
        utf16 = (odd.count(0) > 0.9 * len(odd) and not even.count(0)) or (
            even.count(0) > 0.9 * len(even) and not odd.count(0)
        )
    if utf16:
        return (
            f"{inside}UTF-16 text, not UTF-8 NDJSON; convert it with "
            f"`iconv -f UTF-16 -t UTF-8 {_shown(name)} > {_shown(_ndjson_name(name))}`"
        )
    body = sample[3:] if sample.startswith(b"\xef\xbb\xbf") else sample
    text = body.lstrip()
    nl = text.find(b"\n")
    first = (text if nl < 0 else text[:nl]).strip()
    if first and (nl >= 0 or whole):
        try:
            _LOADS(first)
            return None  # a JSON value on the first line: NDJSON (a value that is not an object is EV003)
        except (_DECODE_ERROR, ValueError, RecursionError):
            pass
    if nl >= 0 and text[:1] in (b"[", b"{"):
        kind = _json_document(text.decode("utf-8", errors="replace"), whole)
        if kind:
            return (
                f"{inside}{kind}, not NDJSON (one message per line); "
                f"convert it with {_convert(name, compression, text[:1] == b'[')}"
            )
    nul = b"\x00" in text[: min(1024, nl if nl >= 0 else len(text))]  # NULs after the first line: a crash's padding
    looked = sample.rstrip(b"\x00") if complete else sample  # ... and at the end of a short file
    nontext = len(looked.translate(None, _TEXT_BYTES)) + looked.decode("utf-8", errors="replace").count("\ufffd")
    if nul or nontext > 0.3 * len(looked):
        why = "it holds NUL bytes" if nul else "it is mostly not text"
        return f"{inside}a binary file ({why}), not an NDJSON log; move it out of the input"
    return None


def _json_document(s: str, complete: bool) -> str | None:
    """What multi-line JSON document ``s`` (the head of a file, starting with '[' or '{') is, if it is one."""
    kind = "a JSON array" if s[0] == "[" else "pretty-printed JSON (an object spanning several lines)"
    first_end = s.find("\n")
    if s[:first_end].strip() in ("[", "{"):
        return kind
    try:
        _, end = json.JSONDecoder().raw_decode(s)
    except json.JSONDecodeError as e:
        if complete or e.pos <= first_end:
            return None
        rest = s[e.pos :]  # the parser went past the first line and failed only where the head was cut
        at_cut = "\n" not in rest and (e.msg.startswith("Unterminated string") or not any(c in rest for c in ",:[]{}"))
        return kind if at_cut else None
    except RecursionError:
        return None
    return kind if end > first_end else None


def _shown(name: str) -> str:
    return shlex.quote(os.path.basename(name)) if name != "<stdin>" else "FILE"


def _ndjson_name(name: str) -> str:
    """Where a converted copy of ``name`` could go (never ``name`` itself)."""
    base = stem = os.path.basename(name) if name != "<stdin>" else "FILE"
    for suffix in (".gz", ".zst", ".zstd", ".json", ".jsonl", ".ndjson", ".log", ".txt"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem + (".converted.ndjson" if stem + ".ndjson" == base else ".ndjson")


def _convert(name: str, compression: str, array: bool) -> str:
    jq = "jq -c '.[]'" if array else "jq -c ."
    out = _shown(_ndjson_name(name))
    if name == "<stdin>":
        return f"`... | {jq} > {out}`"
    if compression == "none":
        return f"`{jq} {_shown(name)} > {out}`"
    tool = "gzip" if compression == "gzip" else "zstd"
    return f"`{tool} -dc {_shown(name)} | {jq} > {out}`"


def _not_ndjson(
    index: int, name: str, head: bytes, verdict: str, rest: Iterable[bytes], problems: list[Problem]
) -> Chunk:
    """The one chunk of a file that is not NDJSON: its EV008 and all its lines counted as skipped (the
    rest of the file is read only to count them, at C speed)."""
    lines = head.count(b"\n")
    last = head[-1:]
    for block in rest:
        lines += block.count(b"\n")
        last = block[-1:] or last
    if last and last != b"\n":
        lines += 1  # the last line has no newline
    return Chunk(index, name, 1, [], [Problem(NOT_NDJSON, name, 1, 0, verdict), *problems], lines)


# --- the byte stage ------------------------------------------------------------------------------
class _Read1(Protocol):
    """A decoded byte stream read with ``read1`` (BufferedReader, GzipFile, :class:`_ZstdStream`)."""

    def read1(self, size: int = -1, /) -> bytes: ...


class _Counting(io.RawIOBase):
    """Counts the bytes read from the underlying (possibly compressed) file, for progress."""

    def __init__(self, raw: io.BufferedIOBase, progress: Callable[[int], None] | None):
        self.raw = raw
        self.progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.raw.readinto(b)
        if n and self.progress:
            self.progress(n)
        return n or 0


def _open(source: Source, progress: Callable[[int], None] | None) -> tuple[_Read1, io.BufferedIOBase]:
    """(decoded stream, underlying file) for a source."""
    if source.path is None:
        # typeshed says BinaryIO; at run time a buffered reader (BytesIO under test runners), with readinto
        raw = cast(io.BufferedIOBase, sys.stdin.buffer)
    else:
        raw = open(source.path, "rb")
    counted = io.BufferedReader(_Counting(raw, progress), buffer_size=BLOCK_SIZE)
    comp = source.compression
    if source.path is None:
        head = counted.peek(4)[:4]
        comp = "gzip" if head[:2] == b"\x1f\x8b" else ("zstd" if head == b"\x28\xb5\x2f\xfd" else "none")
    if comp == "gzip":
        return gzip.GzipFile(fileobj=counted, mode="rb"), raw
    if comp == "zstd":
        try:
            import zstandard
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise InputError(f"{source.name}: reading .zst needs the 'zstandard' package") from e
        return _ZstdStream(counted, zstandard), raw
    return counted, raw


class _ZstdStream:
    """Decode concatenated zstd frames with ``read1``, and notice a stream cut inside a frame.

    ``ZstdDecompressor.stream_reader`` ends quietly at a truncated frame, which would lose the tail of
    a file without a word; a decompression object says whether its frame ended (``eof``). Input is fed
    in small pieces so one read's output stays bounded even for highly compressible data.
    """

    FEED = 1 << 14

    def __init__(self, raw: BinaryIO, zstandard: Any):
        self.raw = raw
        self.zstd = zstandard
        self.dec = zstandard.ZstdDecompressor()
        self.obj = self.dec.decompressobj()
        self.started = False  # the current frame has received input
        self.pending = b""  # compressed bytes after a finished frame, for the next one

    def read1(self, size: int = -1) -> bytes:
        out: list[bytes] = []
        got = 0
        while got < max(size, 1):
            data = self.pending or self.raw.read(self.FEED)
            self.pending = b""
            if not data:
                if self.started and not out:  # what was decoded before the cut is returned first
                    raise EOFError("zstd stream ends inside a frame")
                break
            try:
                piece = self.obj.decompress(data)
            except self.zstd.ZstdError as e:
                if out:
                    self.pending = data  # fails again on the next call, after the good part is used
                    break
                raise ValueError(f"zstd: {e}") from None
            self.started = True
            if self.obj.eof:
                self.pending = self.obj.unused_data
                self.obj = self.dec.decompressobj()
                self.started = False
            if piece:
                out.append(piece)
                got += len(piece)
        return b"".join(out)


def iter_chunks(
    sources: list[Source],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    chunk_lines: int = CHUNK_LINES,
    progress: Callable[[int], None] | None = None,
    stats: ReadStats | None = None,
    by_reference: bool = False,
) -> Iterator[Chunk | ChunkRef]:
    """Stream every source as chunks of lines; see the module docstring.

    With ``by_reference``, plain (uncompressed) files yield :class:`ChunkRef` objects instead: where a
    chunk lies in the file, not its bytes, so a worker process reads it itself (from the page cache)
    and the parent only counts newlines. :func:`materialize` turns either kind into a Chunk.
    """
    for index, source in enumerate(sources):
        if stats is not None:
            stats.files += 1
        if by_reference and source.path is not None and source.compression == "none" and source.size is not None:
            yield from _file_refs(index, source, max_line_bytes, chunk_lines, progress, stats)
        else:
            yield from _source_chunks(index, source, max_line_bytes, chunk_lines, progress, stats)


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """Lines ``first_line ...`` of a plain file, stored at ``offset`` for ``length`` bytes."""

    source: int
    file: str
    path: str
    first_line: int
    offset: int
    length: int


def materialize(chunk: Chunk | ChunkRef, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Chunk:
    if isinstance(chunk, Chunk):
        return chunk
    with open(chunk.path, "rb") as fh:
        fh.seek(chunk.offset)
        data = fh.read(chunk.length)
    lines = cast("list[bytes | None]", data.split(b"\n"))  # None marks a line too long, set below
    if data.endswith(b"\n"):
        lines.pop()
    problems: list[Problem] = []
    if len(data) != chunk.length:
        problems.append(
            Problem(
                STREAM_ERROR,
                chunk.file,
                chunk.first_line + len(lines),
                0,
                "file changed while it was read (it is shorter than when it was scanned)",
            )
        )
    _mark_long(lines, chunk.first_line, problems, max_line_bytes, chunk.file)
    return Chunk(chunk.source, chunk.file, chunk.first_line, lines, problems)


def _file_refs(index, source, max_line_bytes, chunk_lines, progress, stats) -> Iterator[Chunk | ChunkRef]:
    """Scan a plain file for chunk boundaries (counting newlines at C speed); yield references.
    A line over the cap becomes a Chunk of its own (never read whole), exactly as in _source_chunks."""
    name = source.name
    path = str(source.path)
    try:
        fh = open(path, "rb")
    except OSError as e:
        if stats is not None:
            stats.stream_errors += 1
        yield Chunk(index, name, 1, [], [Problem(FILE_UNREADABLE, name, 0, 0, _unreadable(e))])
        return
    with fh:
        head = fh.read(SNIFF_BYTES)
        verdict = sniff(head, len(head) < SNIFF_BYTES, name)
        if verdict is not None:

            def rest() -> Iterator[bytes]:
                for block in itertools.chain((head,), iter(lambda: fh.read(BLOCK_SIZE), b"")):
                    if stats is not None:
                        stats.bytes += len(block)
                    if progress is not None:
                        progress(len(block))
                    yield block

            yield _not_ndjson(index, name, b"", verdict, rest(), [])
            return
        fh.seek(0)
        start = 0  # offset where the pending chunk starts
        first_line = 1
        lines_pending = 0  # complete lines in [start, pos)
        pos = 0  # offset of the next byte to read
        last_nl = -1  # offset just after the last newline seen (a line boundary), -1: none since start
        while True:
            block = fh.read(BLOCK_SIZE)
            if block and stats is not None:
                stats.bytes += len(block)
            if block and progress is not None:
                progress(len(block))
            if not block:
                break
            n = block.count(b"\n")
            if n:
                lines_pending += n
                last_nl = pos + block.rindex(b"\n") + 1
            pos += len(block)
            tail = pos - (last_nl if last_nl >= 0 else start)  # bytes of the unfinished line
            if lines_pending >= chunk_lines and last_nl > start:
                yield ChunkRef(index, name, path, first_line, start, last_nl - start)
                first_line += lines_pending
                lines_pending = 0
                start = last_nl
            if tail > max_line_bytes:
                # flush complete lines, then skip the long one without holding it
                if last_nl > start:
                    yield ChunkRef(index, name, path, first_line, start, last_nl - start)
                    first_line += lines_pending
                    lines_pending = 0
                long_line = first_line
                while True:
                    block = fh.read(BLOCK_SIZE)
                    if not block:
                        end = pos
                        break
                    i = block.find(b"\n")
                    used = len(block) if i < 0 else i + 1  # the rest is read again after the seek
                    if stats is not None:
                        stats.bytes += used
                    if progress is not None:
                        progress(used)
                    if i >= 0:
                        end = pos + i + 1
                        fh.seek(end)
                        pos = end
                        break
                    pos += len(block)
                yield Chunk(
                    index,
                    name,
                    long_line,
                    [None],
                    [Problem(LINE_TOO_LONG, name, long_line, 0, _too_long(max_line_bytes))],
                )
                first_line = long_line + 1
                start = pos
                last_nl = -1
        if pos > start:
            yield ChunkRef(index, name, path, first_line, start, pos - start)


def _source_chunks(index, source, max_line_bytes, chunk_lines, progress, stats) -> Iterator[Chunk]:
    name = source.name

    seen = [0]

    def count(n: int) -> None:
        seen[0] += n
        if stats is not None:
            stats.bytes += n
        if progress is not None:
            progress(n)

    try:
        stream, raw = _open(source, count)
    except OSError as e:
        if stats is not None:
            stats.stream_errors += 1
        yield Chunk(index, name, 1, [], [Problem(FILE_UNREADABLE, name, 0, 0, _unreadable(e))])
        return
    line_no = 1  # number of the first line in `lines`
    lines: list[bytes | None] = []
    problems: list[Problem] = []
    carry = b""
    skipping_long = False  # inside a line already reported as too long
    long_start = 0
    head_parts: list[bytes] = []
    failed: Exception | None = None  # a stream error met while reading the head, raised in its turn
    try:
        while sum(map(len, head_parts)) < SNIFF_BYTES:
            try:
                piece = stream.read1(BLOCK_SIZE)
            except (EOFError, OSError, zlib.error, ValueError) as e:
                failed = e
                break
            if not piece:
                break
            head_parts.append(piece)
        head = b"".join(head_parts)
        kind = _kind(stream)
        verdict = sniff(head, failed is None and len(head) < SNIFF_BYTES, name, "none" if kind == "file" else kind)
        if verdict is not None:

            def rest() -> Iterator[bytes]:
                nonlocal failed
                if failed is not None or len(head) < SNIFF_BYTES:
                    return
                while True:
                    try:
                        block = stream.read1(BLOCK_SIZE)
                    except (EOFError, OSError, zlib.error, ValueError) as e:
                        failed = e
                        return
                    if not block:
                        return
                    yield block

            chunk = _not_ndjson(index, name, head, verdict, rest(), [])
            if failed is not None:
                if stats is not None:
                    stats.stream_errors += 1
                chunk.problems.append(
                    Problem(
                        STREAM_ERROR,
                        name,
                        chunk.skipped + 1,
                        0,
                        f"{kind} stream is truncated or corrupt ({str(failed) or type(failed).__name__}); "
                        "the rest of the file cannot be read",
                    )
                )
            yield chunk
            return
        pending: bytes | None = head
        head = b""  # drop the reference (not `del`: rest() closes over the name; it is not used past here)
        while True:
            try:
                if pending is not None:  # the head, already read
                    block, pending = pending, None
                    if not block and failed is not None:
                        raise failed
                elif failed is not None:
                    raise failed
                else:
                    block = stream.read1(
                        BLOCK_SIZE
                    )  # read1: what is there, so a truncated stream loses nothing before the damage
            except (EOFError, OSError, zlib.error, ValueError) as e:
                if stats is not None:
                    stats.stream_errors += 1
                at = line_no + len(lines)
                kind = _kind(stream)
                detail = str(e) or type(e).__name__
                partial = " (and part of the next)" if carry else ""
                problems.append(
                    Problem(
                        STREAM_ERROR,
                        name,
                        at,
                        0,
                        f"{kind} stream is truncated or corrupt after line {at - 1}{partial} ({detail}); "
                        "the rest of the file cannot be read",
                    )
                )
                carry = b""  # a line cut by the damage is part of what was lost, not a line of its own
                skipping_long = False
                break
            if not block:
                if not seen[0] and _kind(stream) != "file":
                    if stats is not None:
                        stats.stream_errors += 1
                    problems.append(
                        Problem(STREAM_ERROR, name, 1, 0, f"empty file: not a {_kind(stream)} stream (0 bytes)")
                    )
                break
            parts = block.split(b"\n")
            if skipping_long:
                if len(parts) == 1:
                    continue
                skipping_long = False
                lines.append(None)
                parts = parts[1:]
                carry = b""
            first = carry + parts[0] if carry else parts[0]
            if len(parts) == 1:
                carry = first
            else:
                lines.append(first)
                lines.extend(parts[1:-1])
                carry = parts[-1]
            if len(carry) > max_line_bytes:
                long_start = line_no + len(lines)
                problems.append(Problem(LINE_TOO_LONG, name, long_start, 0, _too_long(max_line_bytes)))
                carry = b""
                skipping_long = True
            while len(lines) >= chunk_lines:
                batch, lines = lines[:chunk_lines], lines[chunk_lines:]
                _mark_long(batch, line_no, problems, max_line_bytes, name)
                mine = [p for p in problems if p.line < line_no + chunk_lines]
                problems = [p for p in problems if p.line >= line_no + chunk_lines]
                yield Chunk(index, name, line_no, batch, mine)
                line_no += chunk_lines
        if skipping_long:
            lines.append(None)
        elif carry:
            lines.append(carry)
        _mark_long(lines, line_no, problems, max_line_bytes, name)
        if lines or problems:
            yield Chunk(index, name, line_no, lines, problems)
    finally:
        if source.path is not None:
            raw.close()


def _kind(stream: Any) -> str:
    if isinstance(stream, gzip.GzipFile):
        return "gzip"
    return "zstd" if isinstance(stream, _ZstdStream) else "file"


def _too_long(cap: int) -> str:
    return f"line is longer than {cap:,} bytes; skipped without reading it whole"


def _mark_long(lines: list[bytes | None], first: int, problems: list[Problem], cap: int, name: str) -> None:
    """Lines that arrived whole in one block but are over the cap: reject them like streamed ones."""
    for i, line in enumerate(lines):
        if line is not None and len(line) > cap:
            lines[i] = None
            problems.append(Problem(LINE_TOO_LONG, name, first + i, 0, _too_long(cap)))
    problems.sort(key=lambda p: p.line)
