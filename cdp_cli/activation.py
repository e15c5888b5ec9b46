"""Activation events: the Segment messages Engage sends when a computed trait or an audience changes,
as an NDJSON log (Segment batch-compatible; ``cdp events replay`` delivers it). Generic: a
:class:`Computation` is a trait or an audience.

Per changed profile (see docs/traits.md, "Activation events"):

- ``identify`` with ``traits: {KEY: value}`` (audiences: ``true``/``false``), and/or ``track``
  ``Trait Computed`` with ``properties: {trait_key: KEY, KEY: value}`` (audiences: ``Audience
  Entered`` / ``Audience Exited`` with ``properties: {audience_key: KEY, KEY: true|false}``);
- ``context.personas``: ``computation_class``, ``computation_key`` (= KEY), ``computation_id``
  (deterministic from class and key), ``namespace: "cdp"``; ``context.library.name: "cdp"``;
  ``integrations: {"Personas": false}`` (Engage's marker keeping its own messages from looping back);
- ``messageId``: ``personas_`` and a hash of (class, key, message type, identifier, value, as_of):
  the same inputs give the same ids, so a replayed log is deduplicated downstream;
- ``timestamp``: as_of.

"Changed" means the value differs from the previous run's (``previous``, by profile_id); without one,
from the baseline: null, ``0`` for counters, ``false`` for audiences (so a first run sends every
profile that has a value, no counter of 0 and no audience exit).

One message per identifier value (``per="identifier"``, Segment's way): one per ``user_id``, one per
``email`` (copied into ``traits.email`` / ``context.traits.email``), and one per ``anonymous_id`` only
with ``include_anonymous``; every message carries the profile's ``userId`` when it has one (the
smallest), else an ``anonymousId`` (the smallest, or the cdp profile id when it has none). With
``per="profile"``: one message per profile. A profile with no identifier of those types gets none.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cdp_cli.errors import UsageError

PREFIX = "personas_"  #: every messageId cdp writes here starts so (as Engage's do)
NAMESPACE = "cdp"  #: context.personas.namespace of cdp's activation messages
LIBRARY = "cdp"
EMITS = ("identify", "track", "both")
PER = ("identifier", "profile")
CLASSES = ("trait", "audience")


@dataclass(frozen=True)
class Computation:
    """A trait or audience result column. ``baseline``: the value a profile has before any run
    (``None``; ``0`` for counters; ``False`` for audiences)."""

    klass: str  #: "trait" | "audience"
    key: str
    baseline: Any = None
    include_anonymous: bool | None = None  #: overrides EmitOptions.include_anonymous (an audience's own setting)

    def __post_init__(self) -> None:
        if self.klass not in CLASSES:
            raise ValueError(f"computation class {self.klass!r}: one of {CLASSES}")

    @property
    def id(self) -> str:
        digest = hashlib.sha256(f"{self.klass}\x00{self.key}".encode()).hexdigest()[:24]
        return ("aud_" if self.klass == "audience" else "ais_") + digest


@dataclass(frozen=True)
class EmitOptions:
    path: Path
    emit: str = "both"  #: identify | track | both
    per: str = "identifier"  #: identifier | profile
    previous: Path | None = None  #: the previous run's output (Parquet, one row per profile_id)
    include_anonymous: bool = False

    def check(self) -> None:
        if self.emit not in EMITS:
            raise UsageError(f"--emit {self.emit!r}: one of {', '.join(EMITS)}")
        if self.per not in PER:
            raise UsageError(f"--emit-per {self.per!r}: one of {', '.join(PER)}")


def jsonable(value: Any) -> Any:
    """A result value as JSON: real booleans and numbers, lists, ISO-8601 timestamps; NaN as null."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _iso(when: datetime) -> str:
    return str(jsonable(when))


def _message_id(c: Computation, kind: str, ident: tuple[str, str], value: Any, as_of: str) -> str:
    key = json.dumps([c.klass, c.key, kind, ident[0], ident[1], value, as_of], sort_keys=True, ensure_ascii=True)
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def _targets(profile_id: str, ids: Mapping[str, list[str]], per: str, include_anonymous: bool) -> list[dict]:
    """Who a profile's messages go to: one dict per message (``ident``, ``userId``/``anonymousId``, ``email``)."""
    users = sorted(ids.get("user_id") or [])
    emails = sorted(ids.get("email") or [])
    anons = sorted(ids.get("anonymous_id") or []) if include_anonymous else []
    if not (users or emails or anons):
        return []
    base: dict[str, Any] = (
        {"userId": users[0]} if users else {"anonymousId": (sorted(ids.get("anonymous_id") or []) or [profile_id])[0]}
    )
    if per == "profile":
        return [{**base, "ident": ("profile", profile_id), "email": emails[0] if emails else None}]
    out = [{**base, "ident": ("user_id", u), "email": emails[0] if emails else None} for u in users]
    out += [{**base, "ident": ("email", e), "email": e} for e in emails]
    out += [{**base, "anonymousId": a, "ident": ("anonymous_id", a), "email": None} for a in anons]
    return out


def messages(
    c: Computation,
    changes: Iterable[tuple[str, Any]],
    identifiers: Mapping[str, Mapping[str, list[str]]],
    as_of: datetime,
    *,
    emit: str = "both",
    per: str = "identifier",
    include_anonymous: bool = False,
) -> Iterator[dict]:
    """The messages activating ``changes`` (profile_id, new value) of one computation."""
    when = _iso(as_of)
    context_personas = {
        "computation_class": c.klass,
        "computation_key": c.key,
        "computation_id": c.id,
        "namespace": NAMESPACE,
    }
    kinds = ("identify", "track") if emit == "both" else (emit,)
    for profile_id, raw in changes:
        value = jsonable(raw)
        for target in _targets(profile_id, identifiers.get(profile_id, {}), per, include_anonymous):
            email = target.pop("email")
            ident = target.pop("ident")
            for kind in kinds:
                msg: dict[str, Any] = {"type": kind, "messageId": _message_id(c, kind, ident, value, when)}
                msg.update(target)
                msg["timestamp"] = when
                context: dict[str, Any] = {"personas": dict(context_personas), "library": {"name": LIBRARY}}
                if kind == "identify":
                    msg["traits"] = {c.key: value, **({"email": email} if email else {})}
                else:
                    if c.klass == "audience":
                        msg["event"] = "Audience Entered" if value else "Audience Exited"
                        msg["properties"] = {"audience_key": c.key, c.key: bool(value)}
                    else:
                        msg["event"] = "Trait Computed"
                        msg["properties"] = {"trait_key": c.key, c.key: value}
                    if email:
                        context["traits"] = {"email": email}
                msg["context"] = context
                msg["integrations"] = {"Personas": False}
                yield msg


def changes(
    current: Mapping[str, Any], previous: Mapping[str, Any] | None, baseline: Any = None
) -> Iterator[tuple[str, Any]]:
    """(profile_id, value) for every profile whose value differs from ``previous`` (or ``baseline``
    for a profile missing there, and for every profile without ``previous``), in profile_id order."""
    prev = previous or {}
    for pid in sorted(current):
        new = jsonable(current[pid])
        old = jsonable(prev.get(pid, baseline))
        if json.dumps(new, sort_keys=True) != json.dumps(old, sort_keys=True):
            yield pid, new


def read_previous(path: Path, keys: list[str]) -> dict[str, dict[str, Any]]:
    """key -> {profile_id: value} from a previous run's Parquet output (a missing column: all baseline)."""
    from cdp_cli.errors import InputError

    try:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    except FileNotFoundError:
        raise InputError(f"--previous {path}: no such file") from None
    except Exception as e:
        raise InputError(f"--previous {path}: not a readable Parquet file ({e})") from None
    if "profile_id" not in table.column_names:
        raise InputError(f"--previous {path}: has no profile_id column; give a file cdp traits compute wrote")
    pids = table.column("profile_id").to_pylist()
    return {k: dict(zip(pids, table.column(k).to_pylist(), strict=True)) for k in keys if k in table.column_names}


def write(
    options: EmitOptions,
    computations: list[Computation],
    current: Mapping[str, Mapping[str, Any]],
    identifiers: Mapping[str, Mapping[str, list[str]]],
    as_of: datetime,
    previous: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write the activation log (atomically; only over a file cdp wrote). ``current`` and
    ``previous`` (read by the caller with :func:`read_previous`, before its outputs replace it):
    key -> {profile_id: value}. Returns counts for the summary."""
    from cdp_cli.fsutil import atomic_open

    options.check()
    counts: dict[str, Any] = {"path": str(options.path), "messages": 0, "profiles": 0, "per_key": {}}
    changed: set[str] = set()
    with atomic_open(options.path, "w", flag="--emit-events") as fh:
        for c in computations:
            prev = previous.get(c.key, {}) if previous is not None else None
            n = 0
            for pid, value in changes(current.get(c.key, {}), prev, c.baseline):
                for msg in messages(
                    c,
                    [(pid, value)],
                    identifiers,
                    as_of,
                    emit=options.emit,
                    per=options.per,
                    include_anonymous=(
                        options.include_anonymous if c.include_anonymous is None else c.include_anonymous
                    ),
                ):
                    fh.write(json.dumps(msg, ensure_ascii=False, separators=(",", ":")) + "\n")
                    n += 1
                    changed.add(pid)
            counts["per_key"][c.key] = n
            counts["messages"] += n
    counts["profiles"] = len(changed)
    return counts


def looks_like_activation(first: Any) -> bool:
    """Whether a decoded first NDJSON line is a message this module wrote (for fsutil.written_by_cdp)."""
    if not isinstance(first, dict):
        return False
    context = first.get("context")
    if not isinstance(context, dict):
        return False
    personas, library = context.get("personas"), context.get("library")
    return (
        str(first.get("messageId", "")).startswith(PREFIX)
        and isinstance(personas, dict)
        and personas.get("namespace") == NAMESPACE
        and personas.get("computation_class") in CLASSES
        and isinstance(library, dict)
        and library.get("name") == LIBRARY
    )
