"""Pass 1 of ``cdp profiles resolve``: read, extract identifiers, stage.

Each task (``CHUNKS_PER_TASK`` reader chunks, in a worker process or in this one) parses its
messages, extracts their identifiers (:mod:`.extract`) and writes one staged Parquet file of one row
per message (:func:`cdp_cli.schemas.stage`): its order key (effective timestamp, receivedAt,
messageId, a checksum of the message), identifiers, traits, and the columns events.parquet keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zlib import crc32

from cdp_cli.events.model import effective_timestamp, parse_timestamp, to_utc, traits
from cdp_cli.events.reader import Problem, ReadStats, materialize, parse_slices
from cdp_cli.identity.config import IdentityConfig
from cdp_cli.identity.extract import Extractor, ExtractStats
from cdp_cli.identity.graph import KIND_INDEX, SEP

STAGE_ROWS = 5_000  # rows per staged row group (more costs memory: ~2 KB a row while it is built)
CHUNKS_PER_TASK = 5  # reader chunks (2,000 lines each) staged per task and file
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@dataclass
class Staged:
    """What staging one chunk produced, besides its file."""

    number: int
    stats: ReadStats
    problems: list[Problem]
    extract: ExtractStats
    rows: int


class Stager:
    """Pass 1 for one chunk (in a worker process, or in this one): parse, extract identifiers, write
    one staged Parquet file. Identifiers are staged by type *name*: interning them into integer codes
    happens once, in the resolving process."""

    def __init__(self, config: IdentityConfig, directory: Path, max_line_bytes: int) -> None:
        self.config = config
        self.dir = directory
        self.max_line_bytes = max_line_bytes
        self.extractor = Extractor(config)

    def __call__(self, task: tuple[list[Any], int]) -> Staged:
        import orjson
        import pyarrow as pa

        from cdp_cli import schemas, storage

        group, number = task
        stats = ReadStats()
        x = self.extractor
        x.stats = ExtractStats()
        extract = x.extract
        dumps = orjson.dumps
        kinds: dict[Any, int] = KIND_INDEX  # looked up with whatever "type" a message holds
        text = _text
        prefix = [f"{t.name}{SEP}" for t in x.types]
        base = number << 32  # seq: input order (task, then position), unique across workers
        rows: list[tuple] = []
        problems: list[Problem] = []
        for chunk in group:
            for records, found in parse_slices(materialize(chunk, self.max_line_bytes), stats, keep_raw=True):
                problems += found
                for rec in records:
                    msg = rec.msg
                    x.where = (rec.file, rec.line)
                    ids = extract(msg)
                    if len(prefix) != len(x.types):
                        prefix = [f"{t.name}{SEP}" for t in x.types]
                    raw_type = msg.get("type")
                    t = raw_type if type(raw_type) is str else None  # ["track"] or {} is not a type (nor hashable)
                    tr = _traits(msg, t)
                    mid = msg.get("messageId")
                    get = msg.get
                    rows.append(
                        (
                            base + len(rows),
                            rec.source,
                            rec.line,
                            rec.index,
                            [prefix[k] + v for k, v in ids],
                            x.previous_id(msg) if t == "alias" else None,
                            dumps(tr).decode() if tr else None,
                            micros(effective_timestamp(msg)),
                            micros(to_utc(parse_timestamp(get("receivedAt")))),
                            mid if type(mid) is str else None,
                            kinds.get(t, -1),
                            crc32(rec.raw),  # type: ignore[arg-type]
                            text(raw_type),
                            text(get("event") if t == "track" else get("name") if t in ("page", "screen") else None),
                            text(get("userId")),
                            text(get("anonymousId")),
                            text(get("groupId")),
                            text(mid),
                            text(get("properties")),
                            text(get("traits")),
                            text(get("context")),
                        )
                    )
        if rows:
            schema = schemas.stage()
            cols = list(zip(*rows))
            arrays = [pa.array(col, type=f.type) for col, f in zip(cols, schema)]
            storage.write_table(
                pa.Table.from_arrays(arrays, schema=schema), self.dir / f"stage-{number:08d}.parquet", compression="lz4"
            )
        return Staged(number, stats, problems, x.stats, len(rows))


def micros(dt: datetime | None) -> int | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # a time without a zone is UTC, as Segment reads it
    return (dt - _EPOCH) // _US


def _text(value: Any) -> str | None:
    """A message field as events.parquet stores it: strings as they are, anything else as JSON text."""
    if value is None or type(value) is str:
        return value
    import orjson

    return orjson.dumps(value, default=str).decode()


def groups(chunks, size: int):
    """Tasks for the stagers: ``size`` consecutive chunks each, numbered in input order."""
    group: list = []
    n = 0
    for chunk in chunks:
        group.append(chunk)
        if len(group) >= size:
            yield group, n
            group, n = [], n + 1
    if group:
        yield group, n


def _traits(msg: dict[str, Any], t: Any) -> dict[str, Any] | None:
    """Traits this message sets on its person: identify traits merged with context.traits (the
    model's rule), and context.traits of any other type. Group traits describe the account."""
    if t == "identify":
        return traits(msg) or None
    ctx = msg.get("context")
    ct = ctx.get("traits") if type(ctx) is dict else None
    return dict(ct) if type(ct) is dict and ct else None
