"""Duplicate ``messageId`` detection across a whole input, with bounded memory.

Each message contributes a 64-bit hash of its messageId (8 bytes in memory) and one line in a
temporary side file (where it was, its messageId and event). Every ``spill_at`` hashes (256k, 2 MiB),
they are partitioned by their top 6 bits into 64 bucket files on disk. At the end each bucket is
sorted on its own to find hashes seen more than once (so the transient memory is about a 64th of the
hashes, or ``spill_at`` entries when nothing spilled); the side file is then streamed once to fetch
those messages, and messageIds are compared exactly, so a hash collision can never report a false
duplicate. Memory stays at a few MiB whatever the input size; disk use is about 100 bytes a message.
:func:`duplicate_findings` turns what the index found into ``spec.duplicate-message-id`` findings.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cdp_cli.findings import Finding
from cdp_cli.rules.codes import SPEC_DUPLICATE_MESSAGE_ID

if TYPE_CHECKING:
    from cdp_cli.lint.context import LintContext

BUCKET_BITS = 6
DEFAULT_SPILL_AT = 1 << 18


def mid_hash(mid: str) -> int:
    """A 64-bit hash of a messageId. Python's own string hash: fast, and the same in forked workers
    (they share the parent's hash seed); only ever compared within one run. Exact messageIds are
    compared before anything is reported, so a collision cannot report a false duplicate."""
    return hash(mid) & 0xFFFFFFFFFFFFFFFF


def _dups(hashes: array, ordinals: array) -> list[list[int]]:
    """Groups of ordinals (ascending) whose hashes are equal."""
    if len(hashes) < 2:
        return []
    ordered = sorted(hashes)
    dup = {ordered[i] for i in range(1, len(ordered)) if ordered[i] == ordered[i - 1]}
    del ordered
    if not dup:
        return []
    groups: dict[int, list[int]] = defaultdict(list)
    for h, o in zip(hashes, ordinals):
        if h in dup:
            groups[h].append(o)
    return [sorted(g) for g in groups.values()]


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
        self.hashes.frombytes(hashes)
        self.count = self.first_ordinal + len(self.hashes)
        self._side.write(side)
        if len(self.hashes) >= self.spill_at:
            self._spill()

    def _spill(self) -> None:
        if not self.hashes:
            return
        n = 1 << BUCKET_BITS
        if self._buckets is None:
            self._buckets = [
                (
                    open(os.path.join(self._dir.name, f"b{i:02d}.h"), "wb"),
                    open(os.path.join(self._dir.name, f"b{i:02d}.o"), "wb"),
                )
                for i in range(n)
            ]
        hs = [array("Q") for _ in range(n)]
        os_ = [array("Q") for _ in range(n)]
        shift = 64 - BUCKET_BITS
        for o, h in enumerate(self.hashes, self.first_ordinal):
            b = h >> shift
            hs[b].append(h)
            os_[b].append(o)
        for b, (fh, fo) in enumerate(self._buckets):
            if hs[b]:
                fh.write(hs[b].tobytes())
                fo.write(os_[b].tobytes())
        self.spilled += len(self.hashes)
        self.first_ordinal += len(self.hashes)
        self.hashes = array("Q")

    def _dup_ordinals(self) -> Iterator[list[int]]:
        if self._buckets is None:
            yield from _dups(self.hashes, array("Q", range(self.first_ordinal, self.first_ordinal + len(self.hashes))))
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
            yield from _dups(hs, os_)

    def duplicates(self) -> Iterator[tuple[list, list]]:
        """(first occurrence, later occurrence) side records for every exact duplicate, in input order
        of the later occurrence. A side record is ``[source, line, batch_index, messageId, event]``."""
        import orjson

        self._side.close()
        wanted: set[int] = set()
        group_list = list(self._dup_ordinals())
        for ords in group_list:
            wanted.update(ords)
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
        for _, first_rec, rec in out:
            yield first_rec, rec

    def close(self) -> None:
        if not self._side.closed:
            self._side.close()
        if self._buckets:
            for pair in self._buckets:
                for fh in pair:
                    if not fh.closed:
                        fh.close()
        self._dir.cleanup()


def duplicate_findings(index: DedupIndex, names: list[str], ctx: LintContext) -> Iterator[Finding]:
    """One finding per later copy of a messageId (``names``: input names by source number), in input
    order; messageIds are withheld unless ``ctx.show_values``."""
    from cdp_cli.pii import withhold

    rule = ctx.rules[SPEC_DUPLICATE_MESSAGE_ID]
    level = ctx.levels[SPEC_DUPLICATE_MESSAGE_ID]
    for first, rec in index.duplicates():
        src, line, index_in_batch, mid, label = rec
        mid = mid if ctx.show_values else withhold(mid)
        f_src, f_line, f_index = first[0], first[1], first[2]
        where = f"{names[f_src]}:{f_line}" + (f" (batch[{f_index}])" if f_index is not None else "")
        extra: dict[str, Any] = {"event": label, "message_id": mid, "first_seen": where}
        if index_in_batch is not None:
            extra["batch_index"] = index_in_batch
        yield Finding(
            SPEC_DUPLICATE_MESSAGE_ID,
            rule.name,
            level,
            names[src],
            line,
            0,
            f"messageId {mid!r} was already used at {where}; downstream this copy is dropped",
            "$.messageId",
            extra,
        )
