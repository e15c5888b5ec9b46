"""Where a replay got to, so that the same command resumes there (``--checkpoint FILE``).

Positions are the ordinals of the input's messages in read order (files in discovery order, lines
in file order, messages of a ``{"batch": [...]}`` line in order): the same on every run over the same
inputs. The state is:

- ``watermark``: every message before this position is done (sent and acknowledged, dead-lettered,
  or deliberately dropped);
- ``acked``: positions at or after the watermark whose batch was acknowledged out of order (an HTTP
  destination sends batches concurrently): a resumed run skips them too, so nothing acknowledged is
  sent twice.

The file is written (atomically: a temporary sibling renamed over it) only after a batch's outcome
is known, never before: committing a position before the write is the classic silent at-most-once
bug. A destination that stores the checkpoint in its own transaction (PostgreSQL) is the truth when
both exist; the file may then lag by a batch, which is harmless because rows are keyed on messageId.

A checkpoint belongs to one replay: its ``key`` is a digest of the inputs (paths, sizes and
modification times) and of every option that changes what is sent. A checkpoint of another replay is
refused with what differs, rather than skipping the wrong messages.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError, OutputError, UsageError

FORMAT = "cdp-replay-checkpoint"
VERSION = 1


def describe_inputs(sources: list[Any]) -> list[dict[str, Any]]:
    """What identifies the inputs of a resumable replay: each file's path, size and mtime."""
    out = []
    for s in sources:
        if s.path is None:
            raise UsageError(
                "--checkpoint: standard input cannot be resumed (its content is gone once read); replay a file"
            )
        st = os.stat(s.path)
        out.append({"path": str(Path(s.path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    return out


def replay_key(inputs: list[dict[str, Any]], options: dict[str, Any]) -> str:
    doc = json.dumps({"inputs": inputs, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:32]


def _differences(old: dict[str, Any], inputs: list[dict[str, Any]], options: dict[str, Any]) -> list[str]:
    out = []
    was = {i["path"]: i for i in old.get("inputs", [])}
    now = {i["path"]: i for i in inputs}
    for path in sorted(set(was) | set(now)):
        if path not in now:
            out.append(f"input {path} is no longer given")
        elif path not in was:
            out.append(f"input {path} is new")
        elif was[path] != now[path]:
            out.append(f"input {path} changed (size or modification time)")
    if [i["path"] for i in old.get("inputs", [])] != [i["path"] for i in inputs] and not out:
        out.append("the inputs are in another order")
    old_opts = old.get("options", {})
    for k in sorted(set(old_opts) | set(options)):
        if old_opts.get(k) != options.get(k):
            out.append(f"option {k} differs")
    return out


class Checkpoint:
    def __init__(self, path: str | Path, inputs: list[dict[str, Any]], options: dict[str, Any]) -> None:
        self.path = Path(path)
        self.inputs, self.options = inputs, options
        self.key = replay_key(inputs, options)

    def load(self) -> dict[str, Any] | None:
        """The state saved by an earlier run of this replay (None when the file does not exist)."""
        if not self.path.exists():
            return None
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InputError(
                f"--checkpoint {self.path}: not a cdp replay checkpoint ({e.__class__.__name__})"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("written_by") != "cdp":
            raise OutputError(f"--checkpoint {self.path}: not a cdp replay checkpoint; refusing to use or replace it")
        if doc.get("version") != VERSION:
            raise InputError(
                f"--checkpoint {self.path}: checkpoint version {doc.get('version')!r}; this cdp reads {VERSION}"
            )
        if doc.get("key") != self.key:
            diff = _differences(doc, self.inputs, self.options) or ["the inputs or options differ"]
            raise UsageError(
                f"--checkpoint {self.path} was written by another replay: {'; '.join(diff)}. "
                "Resume with the same inputs and options, or use a new checkpoint file"
            )
        acked = [p for lo, hi in doc.get("acked", []) for p in range(int(lo), int(hi) + 1)]
        return {"watermark": int(doc.get("watermark", 0)), "acked": acked, "counts": doc.get("counts", {})}

    def document(self, state: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint file's content (its first keys say what it is: cdp recognises its own files
        by them). ``acked`` as ``[first, last]`` ranges of positions."""
        return {
            "format": FORMAT,
            "written_by": "cdp",
            "version": VERSION,
            "key": self.key,
            "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "watermark": state["watermark"],
            "acked": _ranges(state["acked"]),
            "done": bool(state.get("done")),
            "counts": state.get("counts", {}),
            "inputs": self.inputs,
            "options": self.options,
        }

    def save(self, state: dict[str, Any]) -> None:
        from cdp_cli.fsutil import atomic_open

        with atomic_open(self.path, "w", flag="--checkpoint") as fh:
            fh.write(json.dumps(self.document(state)) + "\n")


def fold(watermark: int, acked: Iterable[int] = (), spans: Iterable[tuple[int, int]] = ()) -> dict[str, Any]:
    """One state from what is known done: every position before ``watermark``, the positions
    ``acked``, and the half-open ``spans`` ``[lo, hi)`` (what the batches loaded over several
    connections committed, each with its own span; see :class:`Tracker.span`). The watermark moves
    past everything contiguous from it; what lies beyond stays ``acked`` (positions)."""
    intervals = sorted([(p, p + 1) for p in acked] + [(lo, hi) for lo, hi in spans if hi > lo])
    beyond: list[int] = []
    for lo, hi in intervals:
        if lo <= watermark:
            watermark = max(watermark, hi)
        else:
            beyond.extend(range(lo, hi))
    return {"watermark": watermark, "acked": sorted({p for p in beyond if p >= watermark})}


def expand(ranges: Iterable[Any]) -> list[int]:
    """Positions from ``acked`` as stored: ``[first, last]`` ranges (a document) or plain positions."""
    out: list[int] = []
    for r in ranges:
        if isinstance(r, list | tuple):
            out.extend(range(int(r[0]), int(r[1]) + 1))
        else:
            out.append(int(r))
    return out


def _ranges(positions: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for p in sorted(positions):
        if out and out[-1][1] == p - 1:
            out[-1][1] = p
        else:
            out.append([p, p])
    return out


class Tracker:
    """Turns batch outcomes, in any order, into the checkpoint state. Batches are numbered ``seq``
    0, 1, 2, ... in the order they were cut; ``high`` is the position just after the last input
    message read before the batch was cut (so it covers the dropped messages before it too)."""

    def __init__(self, watermark: int = 0, acked: Iterable[int] = ()) -> None:
        self.watermark = watermark
        self.resumed = {p for p in acked if p >= watermark}
        self._high: dict[int, int] = {}
        self._positions: dict[int, list[int]] = {}
        self._done: set[int] = set()
        self._next = 0
        self._lows: dict[int, int] = {}
        self._last_high = 0

    def add(self, seq: int, high: int, positions: list[int]) -> None:
        self._lows[seq] = self._last_high
        self._last_high = high
        self._high[seq] = high
        self._positions[seq] = positions

    def complete(self, seq: int) -> None:
        self._done.add(seq)
        while self._next in self._done:
            self._done.discard(self._next)
            self.watermark = max(self.watermark, self._high.pop(self._next))
            self._positions.pop(self._next, None)
            self._lows.pop(self._next, None)
            self._next += 1
        self.resumed = {p for p in self.resumed if p >= self.watermark}

    def finish(self, total: int) -> None:
        """Every batch is done and the input is read to the end: everything up to ``total``."""
        if not self._high:
            self.watermark = max(self.watermark, total)
            self.resumed.clear()

    def state(self) -> dict[str, Any]:
        beyond = set(self.resumed)
        for seq in self._done:
            beyond.update(self._positions.get(seq, ()))
        return {"watermark": self.watermark, "acked": sorted(p for p in beyond if p >= self.watermark)}

    def span(self, seq: int) -> tuple[int, int]:
        """The positions ``[lo, hi)`` batch ``seq`` settles: from the previous batch's ``high`` (0 for
        the first) to its own. Each is its message, or one dropped or done before: once the batch is
        committed they are all done, whatever became of the batches around it (a destination loading
        over several connections commits batches out of order and stores each one's span)."""
        return self._lows[seq], self._high[seq]

    def state_after(self, seq: int) -> dict[str, Any]:
        """The state once ``seq`` is done, for a destination that stores it with the batch (it
        delivers in order, so that is the watermark after it)."""
        return {"watermark": max(self.watermark, self._high[seq]), "acked": []}
