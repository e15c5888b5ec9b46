"""The one interface every replay destination implements (``--to``), and what flows through it.

The replay runner (:mod:`cdp_cli.replay.run`) reads the inputs in a fixed order, decides per message
what to send (filters, plan, transforms, suppression, de-duplication), and cuts what is left into
:class:`Batch` objects within the destination's :class:`Limits`. A destination delivers batches and
reports, per batch, an :class:`Outcome`: which messages are acknowledged (delivered for good: a 2xx
from an HTTP API, a committed transaction in a database, bytes handed to a file that is renamed into
place at the end), which are dead-lettered (never to be retried, with a status and a reason), and
how many retries it took, by status.

Exactly once: the runner records progress (a checkpoint) only after a batch's outcome says it is
acknowledged; positions are the messages' ordinals in the input order, so a resumed run skips what
was acknowledged. A destination that can store the checkpoint atomically with its rows (PostgreSQL)
says so (``transactional``) and returns the stored one from :meth:`Destination.open`; it is then the
truth. Messages keep their ``messageId``, so an overlap after a crash is harmless where the
destination de-duplicates on it (PostgreSQL on ``id``; Segment-compatible APIs by messageId).

Secrets never pass through here: a destination reads its write key or password itself (from an
environment variable named by the user) and its :attr:`Destination.label` is safe to print.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from cdp_cli.errors import DestinationError

__all__ = [
    "Batch",
    "DeadLetter",
    "Destination",
    "DestinationError",
    "Limits",
    "Message",
    "Outcome",
    "Progress",
]


class Message:
    """One message to deliver. ``position``: its ordinal among the input's messages (0-based, in
    read order; stable across runs on the same inputs); ``file``/``line`` (and ``index`` inside a
    ``{"batch": [...]}`` line) say where it came from, for dead letters and errors.

    The message itself is held as ``raw``, its JSON text as read (or as re-encoded when the replay
    changed it), and parsed into ``data`` only when a destination asks (files and HTTP send ``raw``
    as it is; the warehouse destinations read ``data``). Built from a dict, ``raw`` is its compact
    JSON (orjson). ``size`` is ``len(raw)``. ``sentAt`` is as archived unless the destination asked
    for it to be removed (:attr:`Destination.fresh_sent_at`: HTTP sets a fresh one)."""

    __slots__ = ("position", "file", "line", "message_id", "index", "_raw", "_data")

    def __init__(
        self,
        position: int,
        file: str,
        line: int,
        message_id: str,
        data: dict[str, Any] | None = None,
        size: int | None = None,
        index: int | None = None,
        *,
        raw: bytes | None = None,
    ) -> None:
        if data is None and raw is None:
            raise ValueError("a Message needs its data or its raw JSON")
        self.position, self.file, self.line, self.message_id, self.index = position, file, line, message_id, index
        self._raw, self._data = raw, data
        del size  # always len(raw): kept in the signature for callers that pass it

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            import orjson

            self._raw = orjson.dumps(self._data)
        return self._raw

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            import orjson

            self._data = orjson.loads(self.raw)
        return self._data

    @property
    def size(self) -> int:
        return len(self.raw)

    def __repr__(self) -> str:
        return f"Message(position={self.position}, {self.file}:{self.line}, messageId={self.message_id!r})"


@dataclass(slots=True)
class Batch:
    """Consecutive messages (``seq`` counts batches from 0 in one run)."""

    seq: int
    messages: list[Message]

    @property
    def size(self) -> int:
        return sum(m.size for m in self.messages)


@dataclass(slots=True)
class DeadLetter:
    """A message the destination refused for good: ``status`` (an HTTP status as text such as
    ``"400"``, or a short word: ``"too_large"``, ``"rejected"``) and a one-line ``reason`` (never a
    secret; payload values only as the destination quoted them)."""

    message: Message
    status: str
    reason: str


@dataclass(slots=True)
class Outcome:
    """What became of one batch. Every message of the batch is in exactly one of ``acked`` and
    ``dead``; ``retries`` counts the retries it took by status (``"429"``, ``"503"``, ``"timeout"``,
    ``"connection"``); ``checkpoint_stored``: the destination stored the checkpoint itself, in the
    same transaction as the rows."""

    batch: Batch
    acked: list[Message]
    dead: list[DeadLetter] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)
    checkpoint_stored: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """How the runner cuts batches for a destination: at most ``max_messages`` messages and
    ``max_bytes`` bytes of message JSON per batch (a single message larger than ``max_bytes`` is
    still passed alone: the destination dead-letters it if it cannot take it)."""

    max_messages: int
    max_bytes: int


@dataclass(slots=True)
class Progress:
    """What the runner hands to a transactional destination with each batch: the checkpoint to store
    with the batch's rows (``key`` identifies the replay: inputs and options; ``state`` is the JSON
    document :mod:`cdp_cli.replay.checkpoint` would write after this batch)."""

    key: str
    state: dict[str, Any]
    #: the positions ``[lo, hi)`` the batch settles (:meth:`cdp_cli.replay.checkpoint.Tracker.span`):
    #: what a destination committing batches out of order stores instead of ``state``
    span: tuple[int, int] | None = None


class Destination(Protocol):
    """A place messages are replayed to. Lifecycle: ``open`` once, ``deliver`` once (it consumes the
    batches lazily and yields one outcome per batch, in any order when it works concurrently), then
    ``close`` once (``ok`` False after an error or interruption: the destination must then leave
    what was acknowledged in place and nothing half-written)."""

    kind: str  #: "file", "stdout", "parquet", "http", "postgresql"
    label: str  #: how to name it in messages: no password, no write key
    limits: Limits
    transactional: bool  #: stores the checkpoint with its rows (see :class:`Progress`)
    fresh_sent_at: bool  #: messages come without ``sentAt`` (the destination sets a fresh one)

    def open(self, key: str) -> dict[str, Any] | None:
        """Connect / prepare; for a transactional destination, the checkpoint state stored under
        ``key`` by an earlier run (None when there is none)."""
        ...

    def deliver(self, batches: Iterable[tuple[Batch, Progress | None]]) -> Iterator[Outcome]:
        """Deliver the batches (with, for a transactional destination, the checkpoint to store with
        each), yielding one :class:`Outcome` per batch as it completes."""
        ...

    def close(self, ok: bool) -> None: ...
