"""Read NDJSON event logs at scale: the one way cdp reads events.

Inputs are files (``.ndjson``, ``.jsonl``, ``.json`` holding NDJSON, anything named explicitly),
gzip (``.gz``) and zstandard (``.zst``) streams, directories (walked recursively in sorted order, so
a Segment S3 export tree just works), glob patterns, and ``-`` for standard input.

Reading happens in two stages so that the second can run in worker processes:

1. :func:`iter_chunks` streams raw bytes in blocks and cuts them into :class:`Chunk` objects of at
   most a few thousand lines. Memory is bounded by the block size and the line-size cap, never by
   the size of the input. Problems only the byte stream can see (a line over the cap, a truncated
   gzip stream, an unreadable file) travel inside the chunk.
2. :func:`parse_chunk` turns a chunk into :class:`Record` objects (a message plus its file and line)
   and :class:`Problem` objects (invalid UTF-8, invalid JSON with its column, NaN/Infinity, a value
   that is not an object). Blank lines, CRLF line ends and a UTF-8 BOM are accepted.

:func:`iter_records` joins both for commands that need messages one by one. Every line is counted
in :class:`ReadStats`: read, blank, parsed, skipped and why, so nothing is dropped silently.

This module is the one entry point: every caller imports from here. The work is done in layers, each
importing only those below it (no cycles):

- :mod:`cdp_cli.events.stats`: problem codes (EV001-EV008), :class:`Problem`, :class:`ReadStats`;
- :mod:`cdp_cli.events.discover`: :func:`discover`, inputs to :class:`Source` objects (paths,
  directories, globs, standard input, symbolic link loops);
- :mod:`cdp_cli.events.parse`: :func:`parse_chunk`, :class:`Chunk`, :class:`Record`, :func:`gc_paused`
  (UTF-8, JSON, batches; no file access);
- :mod:`cdp_cli.events.sources`: :func:`iter_chunks`, :func:`materialize`, :func:`sniff` (opening
  plain, gzip, zstd and standard input streams, chunking, the per-file "not NDJSON" check).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import cast

from cdp_cli.events.discover import EVENT_SUFFIXES, Source, discover
from cdp_cli.events.parse import Chunk, Record, gc_paused, parse_chunk, parse_slices
from cdp_cli.events.sources import (
    BLOCK_SIZE,
    CHUNK_LINES,
    DEFAULT_MAX_LINE_BYTES,
    SNIFF_BYTES,
    ChunkRef,
    iter_chunks,
    materialize,
    sniff,
)
from cdp_cli.events.stats import (
    FILE_UNREADABLE,
    INVALID_JSON,
    INVALID_UTF8,
    LINE_TOO_LONG,
    NON_FINITE,
    NOT_AN_OBJECT,
    NOT_NDJSON,
    SKIP_REASONS,
    STREAM_ERROR,
    Problem,
    ReadStats,
)

__all__ = [
    # reading
    "discover",
    "iter_chunks",
    "materialize",
    "parse_chunk",
    "parse_slices",
    "iter_records",
    "gc_paused",
    "sniff",
    # data
    "Source",
    "Chunk",
    "ChunkRef",
    "Record",
    "Problem",
    "ReadStats",
    # limits
    "EVENT_SUFFIXES",
    "BLOCK_SIZE",
    "CHUNK_LINES",
    "DEFAULT_MAX_LINE_BYTES",
    "SNIFF_BYTES",
    # problem codes
    "INVALID_UTF8",
    "INVALID_JSON",
    "NOT_AN_OBJECT",
    "NON_FINITE",
    "LINE_TOO_LONG",
    "STREAM_ERROR",
    "FILE_UNREADABLE",
    "NOT_NDJSON",
    "SKIP_REASONS",
]


def iter_records(
    inputs: Iterable[str | Path] | list[Source],
    *,
    stats: ReadStats | None = None,
    problems: Callable[[Problem], None] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Record]:
    """Every message of the inputs, in order, with bounded memory. Lines that are not messages go
    to ``problems`` (when given) and are counted in ``stats``."""
    items = list(inputs)
    sources = cast("list[Source]", items) if items and all(isinstance(s, Source) for s in items) else discover(items)
    stats = stats if stats is not None else ReadStats()
    # without by_reference, iter_chunks yields Chunk objects only (never a ChunkRef)
    chunks = cast(
        "Iterator[Chunk]", iter_chunks(sources, max_line_bytes=max_line_bytes, progress=progress, stats=stats)
    )
    for chunk in chunks:
        for records, found in parse_slices(chunk, stats):
            if problems is not None:
                for p in found:
                    problems(p)
            yield from records
