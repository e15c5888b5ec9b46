"""Duplicate ``messageId`` detection across a whole input, with bounded memory.

Each message contributes a 64-bit BLAKE2b hash of its messageId (8 bytes in memory) and one line in a
temporary side file (where it was, its messageId and event). Past ``spill_at`` hashes, they are
partitioned by their top bits into bucket files on disk. At the end each bucket (or the in-memory
array) is sorted with pyarrow to find hashes seen more than once; the side file is then streamed
once to fetch those messages, and messageIds are compared exactly (so a hash collision can never
report a false duplicate). Memory stays under about ``16 * spill_at`` bytes, whatever the input size.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections import defaultdict
from typing import Iterator

BUCKET_BITS = 6
DEFAULT_SPILL_AT = 4_000_000


def mid_hash(mid: str) -> int:
    """A 64-bit hash of a messageId. Python's own string hash: fast, and the same in forked workers
    (they share the parent's hash seed); only ever compared within one run. Exact messageIds are
    compared before anything is reported, so a collision cannot report a false duplicate."""
    return hash(mid) & 0xFFFFFFFFFFFFFFFF


def _arrow(values: array):
    import pyarrow as pa

    return pa.Array.from_buffers(pa.uint64(), len(values), [None, pa.py_buffer(values)])


def _ordinals(start: int, n: int):
    return _arrow(array("Q", range(start, start + n)))


def _raw(arr) -> bytes:
    """The little-endian uint64 values of a pyarrow array without nulls, as bytes."""
    data = arr.buffers()[1]
    return data.to_pybytes()[arr.offset * 8:(arr.offset + len(arr)) * 8]


class DedupIndex:
    def __init__(self, spill_at: int = DEFAULT_SPILL_AT, tmpdir: str | None = None) -> None:
        self.spill_at = spill_at
        self.hashes = array("Q")
        self.first_ordinal = 0  # ordinal of self.hashes[0]
        self.count = 0
        self._dir = tempfile.TemporaryDirectory(prefix="cdp-dedup-", dir=tmpdir)
        self._side = open(os.path.join(self._dir.name, "side.ndjson"), "wb")
        self._buckets: list | None = None
        self.spilled = 0

    def add(self, hashes: bytes, side: bytes) -> None:
        chunk = array("Q")
        chunk.frombytes(hashes)
        self.hashes.extend(chunk)
        self.count += len(chunk)
        self._side.write(side)
        if len(self.hashes) >= self.spill_at:
            self._spill()

    def _spill(self) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.hashes:
            return
        if self._buckets is None:
            self._buckets = [(open(os.path.join(self._dir.name, f"b{i:02d}.h"), "wb"), open(os.path.join(self._dir.name, f"b{i:02d}.o"), "wb"))
                             for i in range(1 << BUCKET_BITS)]
        h = _arrow(self.hashes)
        o = _ordinals(self.first_ordinal, len(self.hashes))
        bucket = pc.shift_right(h, pa.scalar(64 - BUCKET_BITS, pa.uint64()))
        for b, (fh, fo) in enumerate(self._buckets):
            mask = pc.equal(bucket, pa.scalar(b, pa.uint64()))
            hb = pc.filter(h, mask)
            if len(hb):
                fh.write(_raw(hb))
                fo.write(_raw(pc.filter(o, mask)))
        self.spilled += len(self.hashes)
        self.first_ordinal += len(self.hashes)
        self.hashes = array("Q")

    def _dup_ordinals(self) -> Iterator[list[int]]:
        """Groups of ordinals that share a hash."""
        import pyarrow as pa
        import pyarrow.compute as pc

        def groups(h, o):
            if len(h) < 2:
                return
            table = pa.table({"h": h, "o": o})
            counts = table.group_by("h").aggregate([("o", "count")])
            dup = counts.filter(pc.greater(counts["o_count"], 1))["h"]
            if not len(dup):
                return
            sub = table.filter(pc.is_in(table["h"], value_set=dup)).sort_by([("h", "ascending"), ("o", "ascending")])
            by: dict[int, list[int]] = defaultdict(list)
            for x, y in zip(sub["h"].to_pylist(), sub["o"].to_pylist()):
                by[x].append(y)
            yield from by.values()

        if self._buckets is None:
            yield from groups(_arrow(self.hashes), _ordinals(self.first_ordinal, len(self.hashes)))
            return
        self._spill()
        for fh, fo in self._buckets:
            fh.close()
            fo.close()
            hs, os_ = array("Q"), array("Q")
            with open(fh.name, "rb") as r:
                hs.frombytes(r.read())
            with open(fo.name, "rb") as r:
                os_.frombytes(r.read())
            yield from groups(_arrow(hs), _arrow(os_))
            del hs, os_

    def duplicates(self) -> Iterator[tuple[list, list]]:
        """(first occurrence, later occurrence) side records for every exact duplicate, in input order
        of the later occurrence. A side record is ``[source, line, batch_index, messageId, event]``."""
        import orjson

        self._side.close()
        wanted: dict[int, int] = {}  # ordinal -> group number
        group_list = list(self._dup_ordinals())
        for g, ords in enumerate(group_list):
            for o in ords:
                wanted[o] = g
        if not wanted:
            return
        records: dict[int, list] = {}
        with open(self._side.name, "rb") as fh:
            for ordinal, line in enumerate(fh):
                if ordinal in wanted:
                    records[ordinal] = orjson.loads(line)
        out = []
        for ords in group_list:
            first_by_mid: dict[str, int] = {}
            for o in ords:
                rec = records[o]
                first = first_by_mid.setdefault(rec[3], o)
                if first != o:
                    out.append((o, records[first], rec))
        out.sort(key=lambda x: x[0])
        for _, first, rec in out:
            yield first, rec

    def close(self) -> None:
        if not self._side.closed:
            self._side.close()
        if self._buckets:
            for pair in self._buckets:
                for fh in pair:
                    if not fh.closed:
                        fh.close()
        self._dir.cleanup()
