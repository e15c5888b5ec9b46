"""The parse stage: a :class:`Chunk` of raw lines becomes :class:`Record` objects and :class:`Problem`
objects (invalid UTF-8 EV001, invalid JSON EV002 with its column, not an object EV003, NaN/Infinity
EV004), Segment batch lines expanded, every line counted in :class:`ReadStats`. Runs in worker
processes; knows nothing of files or streams. Public names are re-exported by
:mod:`cdp_cli.events.reader`, the one entry point."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cdp_cli.events.stats import (
    INVALID_JSON,
    INVALID_UTF8,
    LINE_TOO_LONG,
    NON_FINITE,
    NOT_AN_OBJECT,
    NOT_NDJSON,
    Problem,
    ReadStats,
)
from cdp_cli.jsonpath import json_type, with_article


@dataclass(slots=True)
class Chunk:
    """Consecutive lines of one source. ``lines[i]`` is line ``first_line + i``; ``None`` marks a
    line the byte stage already rejected (its problem is in ``problems``)."""

    source: int  # index into the list of sources
    file: str
    first_line: int
    lines: list[bytes | None]
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0  # lines of a file that is not NDJSON at all (EV008): counted, never parsed


@dataclass(slots=True)
class Record:
    """One message and where it came from. ``index`` is its position inside a batch line
    (``{"batch": [...]}``), else None. ``size`` is the message's size in bytes as stored."""

    file: str
    line: int
    msg: dict[str, Any]
    size: int
    index: int | None = None
    source: int = 0
    raw: bytes | None = None  # the message's JSON text, when asked for (parse_chunk(keep_raw=True))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while streaming messages.

    Parsed messages are plain acyclic dicts, freed by reference counting; but the collector still
    walks every live container each time enough have been allocated, which costs about a quarter of
    the parse rate when a few thousand messages are alive at once. Restored afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _loads():
    try:
        import orjson

        return orjson.loads, orjson.JSONDecodeError
    except ImportError:  # pragma: no cover - orjson is a declared dependency
        import json

        return json.loads, json.JSONDecodeError


_LOADS, _DECODE_ERROR = _loads()


def _diagnose(line: bytes, error: Exception | None = None) -> tuple[str, int, str]:
    """Why ``line`` is not a JSON object: (code, column, message). Called only on failures."""
    import json

    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        col = len(line[: e.start].decode("utf-8", errors="replace")) + 1
        return INVALID_UTF8, col, f"invalid UTF-8 (byte 0x{line[e.start]:02x} at column {col})"

    found: list[str] = []

    def constant(name: str) -> float:
        found.append(name)
        return 0.0

    try:
        json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as e:
        return INVALID_JSON, e.colno, f"invalid JSON at column {e.colno}: {e.msg}"
    except RecursionError:
        return INVALID_JSON, 1, "invalid JSON: nested too deeply"
    if found:
        return (
            NON_FINITE,
            text.find(found[0]) + 1,
            f"{found[0]} is not valid JSON (JSON has no NaN or Infinity); send null or a number",
        )
    # Python's json accepts what orjson refuses: a lone surrogate (\ud800) or a number out of range (1e400)
    reason = getattr(error, "msg", None) or "not valid for a strict JSON parser"
    col = getattr(error, "colno", 1) or 1
    return INVALID_JSON, col, f"invalid JSON at column {col}: {reason}"


def parse_chunk(chunk: Chunk, stats: ReadStats, keep_raw: bool = False) -> tuple[list[Record], list[Problem]]:
    """Parse a chunk's lines into records; count every line in ``stats``.

    A line holding ``{"batch": [...]}`` (a Segment HTTP batch payload) yields one record per message;
    a message without ``sentAt`` gets the batch's, as Segment's API does.
    """
    records: list[Record] = []
    problems: list[Problem] = list(chunk.problems)
    file = chunk.file
    source = chunk.source
    loads = _LOADS
    err = _DECODE_ERROR
    line_no = chunk.first_line - 1
    blank = parsed = messages = 0
    append = records.append
    for raw in chunk.lines:
        line_no += 1
        if raw is None:
            stats.skipped[LINE_TOO_LONG] += 1
            continue
        if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw or raw.isspace():
            blank += 1
            continue
        try:
            msg = loads(raw)
        except (err, ValueError, RecursionError) as e:
            msg = None
            if raw.startswith(b"\xef\xbb\xbf"):  # a BOM on a later line: files concatenated with cat
                with contextlib.suppress(err, ValueError, RecursionError):
                    msg = loads(raw[3:])
                    raw = raw[3:]
            if msg is None:
                code, col, text = _diagnose(raw, e)
                stats.skipped[code] += 1
                problems.append(Problem(code, file, line_no, col, text))
                continue
        if type(msg) is not dict:
            stats.skipped[NOT_AN_OBJECT] += 1
            problems.append(
                Problem(
                    NOT_AN_OBJECT,
                    file,
                    line_no,
                    1,
                    f"line holds {with_article(json_type(msg))}, not a JSON object (one message per line)",
                )
            )
            continue
        parsed += 1
        batch = msg.get("batch")
        if type(batch) is list and "type" not in msg:
            _expand_batch(msg, batch, file, line_no, source, records, problems, stats, keep_raw)
            continue
        messages += 1
        append(Record(file, line_no, msg, len(raw), None, source, raw if keep_raw else None))
    stats.lines += len(chunk.lines)
    if chunk.skipped:  # a file that is not NDJSON (EV008): all its lines, never parsed
        stats.lines += chunk.skipped
        stats.skipped[NOT_NDJSON] += chunk.skipped
    stats.blank += blank
    stats.parsed += parsed
    stats.messages += messages
    if chunk.problems and len(problems) > len(chunk.problems):
        problems.sort(key=lambda p: p.line)
    return records, problems


#: Lines parsed and looked at together. A parsed message is several kilobytes of Python objects:
#: looked at (and freed) while still in the CPU's caches, a whole 2,000-line chunk's messages cost
#: about 40% more to read than 200 at a time (``bench/infer_bench.py``, reader row).
SLICE_LINES = 200


def parse_slices(
    chunk: Chunk, stats: ReadStats, keep_raw: bool = False, step: int = SLICE_LINES
) -> Iterator[tuple[list[Record], list[Problem]]]:
    """:func:`parse_chunk` on consecutive slices of ``step`` lines of ``chunk``: the same records and
    problems, in the same order, a slice at a time. The caller looks at a slice's records before
    asking for the next, so they are still cache-hot (and their memory is reused)."""
    lines = chunk.lines
    if len(lines) <= step:
        yield parse_chunk(chunk, stats, keep_raw)
        return
    pending = chunk.problems  # the byte stage's problems, each routed to the slice holding its line
    for i in range(0, len(lines), step):
        first = chunk.first_line + i
        end = first + step
        mine = [p for p in pending if p.line < end] if pending else []
        if mine:
            pending = [p for p in pending if p.line >= end]
        yield parse_chunk(
            Chunk(chunk.source, chunk.file, first, lines[i : i + step], mine, chunk.skipped if i == 0 else 0),
            stats,
            keep_raw,
        )
    if pending:  # a problem past the last line (none expected): never lost
        yield [], pending


def _expand_batch(payload, batch, file, line_no, source, records, problems, stats, keep_raw=False) -> None:
    import orjson

    sent_at = payload.get("sentAt")
    for i, item in enumerate(batch):
        if type(item) is not dict:
            problems.append(
                Problem(
                    NOT_AN_OBJECT,
                    file,
                    line_no,
                    1,
                    f"batch[{i}] holds {with_article(json_type(item))}, not a message object",
                )
            )
            continue
        if sent_at is not None and item.get("sentAt") is None:
            item["sentAt"] = sent_at
        stats.messages += 1
        text = orjson.dumps(item)
        records.append(Record(file, line_no, item, len(text), i, source, text if keep_raw else None))
