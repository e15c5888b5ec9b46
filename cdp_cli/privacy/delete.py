"""``cdp privacy delete``: remove people from event files, resolved profiles and a warehouse, and keep
them out from then on.

Who "those people" are (the identity graph decides)
    The request names identifiers: ``--user-id`` values and/or a file in the suppression format
    (:mod:`cdp_cli.replay.suppress`: ``u-1``, ``email:ada@example.com``, ``anonymous_id:...``), read
    and normalised exactly as identity resolution reads them. With ``--profiles DIR`` (an output of
    ``cdp profiles resolve``) every identifier of a profile holding a requested identifier is removed
    too: the anonymous ids, emails and device ids linked to the person. Without it only the given
    identifiers are matched, and the result says so. A ``group_id`` names an account, not a person,
    and is refused. A message is the person's when identity resolution would read one of those
    identifiers from it (``userId``, ``anonymousId``, ``traits.email``, ``context.traits.email``,
    device ids, ``context.externalIds``, ...; an alias call's ``previousId`` as a user id):
    :meth:`~cdp_cli.replay.suppress.Suppressions.match`, the check ``replay --suppress`` makes.

Event files (the inputs)
    Each file is first streamed through the event reader (plain, ``.gz``, ``.zst``) to count the
    person's messages; a file holding none is left untouched. Otherwise it is rewritten in the same
    compression into a temporary sibling (same permissions, and owner where the OS allows), checked
    to be unchanged since it was read, and renamed over the original, so an interruption never
    leaves half a file. A ``{"batch": [...]}`` line loses the person's messages and keeps the rest
    (re-encoded compactly; a batch left without messages is dropped). Every other line is copied
    byte for byte. Lines end with ``\\n`` in a rewritten file.

    A line that is not valid JSON (or not a JSON object) cannot be attributed to anyone: it is kept
    as it is and counted, and those that hold one of the identifiers as plain text are listed by
    file and line (never the text) so someone can look at them. A file that cannot be read to its
    end (a truncated gzip stream, a line over 64 MiB, a file that is not NDJSON at all) cannot be
    checked: it is left as it is and the run fails, naming it.

    A file with other hard links keeps its old content under those names: said in the notes.

Resumable (``--status FILE``)
    A JSON status file, written atomically after each finished file, records the finished files
    with their new size and modification time; a rerun of the same request skips those that have
    not changed since. It holds no identifier: the request is recorded as salted SHA-256 digests of
    the requested identifiers (with the options that change who matches) and of every identifier
    they expanded to. A status file of another request is refused. ``--max-files N`` stops after N
    files so a large archive can be processed in several runs (the result then fails: not done).

Resolved profiles (``--profiles DIR``)
    Once every input file is done, the directory is rebuilt without the people's rows (profiles,
    identities, events, merges and refused merges that mention them) and swapped in whole, with
    ``manifest.json``'s counts updated and cdp's directory stamp rewritten (:func:`cdp_cli.fsutil.
    atomic_directory`), so ``cdp profiles show`` keeps working and a later step cannot bring them
    back from it. Until then the profiles are kept: later runs still need them to know who the
    people are. Outputs computed from the profiles (traits, audiences) are not touched: compute
    them again.

Warehouse (``--warehouse postgresql://...``)
    The schema ``cdp events replay --to postgresql://`` loads: in every table, rows whose
    ``user_id`` or ``anonymous_id`` (``users``: ``id``; ``aliases``: also ``previous_id``) is one of
    the people's, whose ``id`` is the messageId of one of their messages (removed from the files in
    this run, or in ``events.parquet`` of their profiles), or whose column of another identifier
    (``context_traits_email``, ``email``, ``context_device_id``, ...) holds one of their values,
    compared after the same normalisation. One transaction per table, under replay's schema lock,
    also removes those rows' values from ``cdp_discards``. The checkpoint table holds positions
    only and is left alone (a replay of a rewritten file no longer matches its checkpoint anyway).
    The connection is replay's (:class:`~cdp_cli.replay.postgres.PostgresDestination`): the same
    password handling, and a schema that does not exist is created empty, as replay creates it.

Suppression (``--suppress-out FILE``)
    Written first, before anything is removed: every identifier of the people (after expansion), one
    ``type:value`` a line, in the format ``cdp events replay --suppress`` reads, merged into a list
    cdp wrote before (a file starting with :data:`SUPPRESS_HEADER`; any other file is refused).
    Identifier types that ``replay --suppress`` does not know without a profiles directory (types
    only ``context.externalIds`` or an ``--identity`` file define) are left out and counted. Giving
    the list back as ``--identifiers`` later finds the same people without the profiles.

The report (the result) holds counts, file names, table names and identifier *types*: never an
identifier, a message or a value. ``--dry-run`` computes it without changing anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cdp_cli.errors import DestinationError, InputError, OutputError, UsageError, os_reason
from cdp_cli.findings import Finding, Level
from cdp_cli.results import Observer, Progress, Table, plural

if TYPE_CHECKING:  # pragma: no cover
    from cdp_cli.events.reader import Chunk, Source
    from cdp_cli.identity.config import IdentityConfig
    from cdp_cli.replay.suppress import Suppressions

STATUS_FORMAT = "cdp-privacy-status"
STATUS_VERSION = 1
#: the first line of a suppression list cdp writes (how cdp knows it may merge into it)
SUPPRESS_HEADER = "# cdp privacy suppression list"
#: lines up to this size are checked (the reader's usual cap is 1 MiB: a deletion must see every line)
LINE_CAP = 64 << 20
#: findings kept in the result (all are counted)
KEEP_FINDINGS = 100
_BOM = b"\xef\xbb\xbf"


@dataclass
class DeleteOptions:
    """Everything ``cdp privacy delete`` takes (the CLI flags, by the same names)."""

    inputs: list[Any] = field(default_factory=list)  #: event files, directories, globs (rewritten in place)
    user_ids: list[str] = field(default_factory=list)  #: --user-id values
    identifiers: str | Path | None = None  #: a file in the suppression format (user ids or type:value lines)
    profiles: str | Path | None = None  #: an output directory of `cdp profiles resolve`: expand, and clean it
    identity: str | Path | None = None  #: the identity configuration the profiles were resolved with
    warehouse: str | None = None  #: a postgresql:// DSN of a warehouse `cdp events replay` loaded
    schema: str = "cdp"
    password_env: str | None = None
    status: str | Path | None = None  #: the resumable status file
    suppress_out: str | Path | None = None  #: the suppression list to add the people to
    max_files: int | None = None  #: stop after this many files (a large archive in several runs)
    dry_run: bool = False


# --- who -------------------------------------------------------------------------------------------
@dataclass
class People:
    """The people of a request: identifiers by type (normalised as identity resolution stores them)."""

    config: IdentityConfig
    direct: dict[str, set[str]]  #: the requested identifiers
    expanded: dict[str, set[str]] = field(default_factory=dict)  #: every identifier of their profiles
    profile_ids: list[str] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)  #: their messages in events.parquet
    profiles_dir: Path | None = None

    def all(self) -> dict[str, set[str]]:
        out = {t: set(v) for t, v in self.direct.items()}
        for t, v in self.expanded.items():
            out.setdefault(t, set()).update(v)
        return out

    def counts(self, which: dict[str, set[str]]) -> dict[str, int]:
        return {t: len(v) for t, v in sorted(which.items()) if v}

    def suppressions(self) -> Suppressions:
        from cdp_cli.replay.suppress import Suppressions

        return Suppressions(self.config, self.direct, self.expanded, profiles=len(self.profile_ids))


def _normalize_direct(
    config: IdentityConfig, user_ids: list[str], file: Path | None, profiles: Path | None
) -> dict[str, set[str]]:
    """The requested identifiers: ``--user-id`` values and the identifiers file, validated and normalised."""
    from cdp_cli.identity.extract import Extractor
    from cdp_cli.replay.suppress import load_suppressions

    direct: dict[str, set[str]] = {}
    if file is not None:
        loaded = load_suppressions(file, identity=config, profiles_dir=None if profiles is None else profiles)
        for t, values in loaded.direct.items():
            direct.setdefault(t, set()).update(values)
    x = Extractor(config)
    t_user = x.types[x.index["user_id"]] if "user_id" in x.index else None
    for n, raw in enumerate(user_ids, 1):
        value = x.normalize(t_user, raw) if t_user is not None else (raw.strip() or None)
        if value is None:
            raise UsageError(
                f"--user-id (the {_ordinal(n)} one) can never match: identity resolution ignores it "
                "(a placeholder such as null or anonymous, an empty value, or one that is too long)"
            )
        direct.setdefault("user_id", set()).add(value)
    by_name = {t.name: t for t in config.types}
    for t in list(direct):
        if t in by_name and not by_name[t].match:
            raise UsageError(
                f"{t} names an account, not a person: privacy delete removes people (give their user ids, "
                "emails or other personal identifiers)"
            )
    direct = {t: v for t, v in direct.items() if v}
    if not direct:
        raise UsageError("name the people to remove: --user-id ID (repeatable) or --identifiers FILE")
    return direct


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def find_people(config: IdentityConfig, user_ids: list[str], identifiers: Path | None, profiles: Path | None) -> People:
    """Who a request names; with ``profiles``, widened to whole resolved profiles (read from
    ``identities.parquet`` with its filters pushed down), with their messages' ids (``events.parquet``)."""
    direct = _normalize_direct(config, user_ids, identifiers, profiles)
    people = People(config, direct, profiles_dir=profiles)
    if profiles is None:
        return people
    import pyarrow.parquet as pq

    from cdp_cli.replay.suppress import _manifest

    _manifest(profiles)  # a profiles directory of this version of cdp, or an InputError saying why
    path = profiles / "identities.parquet"
    values = sorted({v for vs in direct.values() for v in vs})
    try:
        hits = pq.read_table(path, columns=["type", "value", "profile_id"], filters=[("value", "in", values)])
        pids = sorted(
            {
                pid
                for t, v, pid in zip(*(hits.column(c).to_pylist() for c in ("type", "value", "profile_id")))
                if v in direct.get(t, ()) and pid is not None
            }
        )
        if pids:
            rows = pq.read_table(path, columns=["type", "value"], filters=[("profile_id", "in", pids)])
            for t, v in zip(rows.column("type").to_pylist(), rows.column("value").to_pylist()):
                if t is not None and v is not None:
                    people.expanded.setdefault(t, set()).add(v)
            events = pq.read_table(
                profiles / "events.parquet", columns=["message_id"], filters=[("profile_id", "in", pids)]
            )
            people.message_ids = {m for m in events.column("message_id").to_pylist() if m}
    except OSError as e:
        raise InputError(f"{profiles}: unreadable ({os_reason(e)})") from None
    except Exception as e:  # pyarrow's own errors (a damaged file, a foreign schema)
        raise InputError(f"{profiles}: unreadable ({e}); resolve again") from None
    people.profile_ids = pids
    return people


# --- results ---------------------------------------------------------------------------------------
@dataclass
class FileOutcome:
    """What happened to one input file. ``status``: rewritten, would rewrite, clean (none of the
    people: left untouched), done earlier (the status file says so), failed, not reached (--max-files)."""

    name: str
    compression: str = "none"
    status: str = "not reached"
    messages: int = 0  #: messages read
    removed: int = 0  #: the people's messages removed
    batch_lines: int = 0  #: batch lines that kept other messages
    unparsed: int = 0  #: lines kept as they are: not a JSON object, so nobody's
    mentions: int = 0  #: of those, lines holding one of the identifiers as text (listed in the findings)
    reason: str = ""  #: why it failed
    size_before: int | None = None
    size_after: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "compression": self.compression,
            "status": self.status,
            "messages": self.messages,
            "removed": self.removed,
            "batch_lines_edited": self.batch_lines,
            "unparsed_lines_kept": self.unparsed,
            "unparsed_lines_mentioning_identifiers": self.mentions,
            "reason": self.reason or None,
            "size_before": self.size_before,
            "size_after": self.size_after,
        }


@dataclass
class DeleteResult:
    """What ``cdp privacy delete`` removed (or would remove), where, and how many: never a value."""

    dry_run: bool
    requested: dict[str, int] = field(default_factory=dict)  #: requested identifiers by type
    identifiers: dict[str, int] = field(default_factory=dict)  #: every identifier matched, by type
    expanded: bool = False  #: widened to whole resolved profiles (--profiles)
    profiles_found: int = 0
    files_list: list[FileOutcome] = field(default_factory=list)
    profiles_dir: str | None = None
    profiles_status: str = ""  #: rewritten, would rewrite, clean, waiting (files not done), not given
    profiles_removed: dict[str, int] = field(default_factory=dict)  #: parquet file -> rows removed
    warehouse: str | None = None  #: the DSN's label (no password)
    warehouse_rows: dict[str, int] = field(default_factory=dict)  #: table -> rows removed
    warehouse_discards: int = 0
    suppress_out: str | None = None
    suppress_added: int = 0
    suppress_total: int = 0
    suppress_left_out: dict[str, int] = field(default_factory=dict)  #: type -> identifiers not written
    status_file: str | None = None
    complete: bool = True  #: every input file is done (none failed, none left for another run)
    notes: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    problems_total: int = 0
    seconds: float = 0.0
    command: str = "privacy delete"

    @property
    def findings(self) -> list[Finding]:
        return list(self.problems)

    @property
    def files(self) -> list[str]:
        return [f.name for f in self.files_list]

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files_list)

    def failed(self, strict: bool = False) -> bool:
        """A file that could not be checked, or files left for another run (--max-files), fail the run;
        with ``strict`` also unparsed lines that mention one of the identifiers."""
        bad = any(f.status == "failed" for f in self.files_list) or not self.complete
        return bad or (strict and any(f.mentions for f in self.files_list))

    def summary(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "complete": self.complete,
            "requested": dict(self.requested),
            "expanded_with_profiles": self.expanded,
            "profiles_matched": self.profiles_found,
            "identifiers": dict(self.identifiers),
            "files": {
                "total": len(self.files_list),
                **{s: sum(1 for f in self.files_list if f.status == s) for s in _FILE_STATUSES},
                "messages_removed": self.removed,
                "batch_lines_edited": sum(f.batch_lines for f in self.files_list),
                "unparsed_lines_kept": sum(f.unparsed for f in self.files_list),
                "unparsed_lines_mentioning_identifiers": sum(f.mentions for f in self.files_list),
                "by_file": [f.as_dict() for f in self.files_list],
            },
            "profiles": {
                "directory": self.profiles_dir,
                "status": self.profiles_status or None,
                "rows_removed": dict(self.profiles_removed),
            },
            "warehouse": {
                "destination": self.warehouse,
                "rows_removed": dict(sorted(self.warehouse_rows.items())),
                "discards_removed": self.warehouse_discards,
            },
            "suppression_list": {
                "file": self.suppress_out,
                "added": self.suppress_added,
                "total": self.suppress_total,
                "left_out_by_type": dict(self.suppress_left_out),
            },
            "status_file": self.status_file,
            "notes": list(self.notes),
            "problems": self.problems_total,
            "seconds": round(self.seconds, 3),
        }

    def tables(self) -> list[Table]:
        verb = "would remove" if self.dry_run else "removed"
        who: list[list[Any]] = [[f"requested: {t}", n] for t, n in self.requested.items()]
        if self.expanded:
            who.append(["resolved profiles holding them", self.profiles_found])
            who += [[f"matched with their profiles: {t}", n] for t, n in self.identifiers.items()]
        out = [Table("privacy request (identifier types, never values)", ["who", "identifiers"], who, frozenset({1}))]
        rows = [
            [f.name, f.status, f.removed, f.batch_lines, f.unparsed, f.mentions]
            for f in self.files_list
            if f.status not in ("clean", "done earlier") or f.unparsed
        ]
        untouched = sum(1 for f in self.files_list if f.status in ("clean", "done earlier") and not f.unparsed)
        if untouched:
            rows.append([f"... {plural(untouched, 'other file')}", "none of them / done earlier", 0, 0, 0, 0])
        if self.files_list:
            cols = ["file", "status", f"messages {verb}", "batch lines edited", "unparsed lines kept", "mentioning ids"]
            out.append(Table("event files", cols, rows, frozenset({2, 3, 4, 5})))
        if self.profiles_dir:
            prow = [[name, n] for name, n in self.profiles_removed.items()]
            title = f"profiles {self.profiles_dir} ({self.profiles_status})"
            out.append(Table(title, ["file", f"rows {verb}"], prow, frozenset({1})))
        if self.warehouse:
            wrow: list[list[Any]] = [[t, n] for t, n in sorted(self.warehouse_rows.items()) if n]
            wrow.append(["cdp_discards (values of those rows)", self.warehouse_discards])
            out.append(Table(f"warehouse {self.warehouse}", ["table", f"rows {verb}"], wrow, frozenset({1})))
        if self.suppress_out:
            srow: list[list[Any]] = [
                ["identifiers that would be added" if self.dry_run else "identifiers added", self.suppress_added],
                ["identifiers in the list", self.suppress_total],
            ]
            srow += [[f"left out (replay cannot read the type): {t}", n] for t, n in self.suppress_left_out.items()]
            out.append(Table(f"suppression list {self.suppress_out}", ["", "count"], srow, frozenset({1})))
        if self.notes:
            out.append(Table("notes", ["note"], [[n] for n in self.notes]))
        return out

    def verdict(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        people = sum(self.requested.values())
        changed = sum(1 for f in self.files_list if f.status in ("rewritten", "would rewrite"))
        parts = [f"{plural(self.removed, 'message')} from {changed:,} of {plural(len(self.files_list), 'file')}"]
        if self.profiles_dir:
            rows = self.profiles_removed.get("profiles.parquet", 0)
            parts.append(f"{plural(rows, 'profile')} from {self.profiles_dir}")
        if self.warehouse:
            parts.append(f"{plural(sum(self.warehouse_rows.values()), 'warehouse row')}")
        text = f"privacy delete: {verb} {', '.join(parts)} for {plural(people, 'requested identifier')}"
        if self.suppress_out and not self.dry_run:
            text += f"; {self.suppress_added:,} added to {self.suppress_out}"
        failed = sum(1 for f in self.files_list if f.status == "failed")
        if failed:
            text += f"; {plural(failed, 'file')} could not be checked (see the findings)"
        left = sum(1 for f in self.files_list if f.status == "not reached")
        if left:
            text += f"; stopped with {plural(left, 'file')} left: run the same command again to continue"
        return text

    def warnings(self, most: int = 20) -> list[str]:
        lines = [f"{f.file}:{f.line}: {f.code} {f.message}" for f in self.problems[:most]]
        if self.problems_total > most:
            lines.append(f"... and {self.problems_total - most:,} more (--format json lists the first {KEEP_FINDINGS})")
        return lines


_FILE_STATUSES = ("rewritten", "would rewrite", "clean", "done earlier", "failed", "not reached")


# --- one line ----------------------------------------------------------------------------------------
_KEEP, _DROP, _EDIT, _UNPARSED, _BLANK = range(5)


class _Judge:
    """Decides, line by line, what stays: the same decisions in the counting pass and the rewrite."""

    def __init__(self, people: People) -> None:
        import orjson

        self._loads = orjson.loads
        self._dumps = orjson.dumps
        self.match = people.suppressions().match
        self.removed_ids: set[str] = set()  #: messageIds of the people's messages (for the warehouse)
        lower = {t.name for t in people.config.types if t.lowercase}
        self.needles = sorted({v.encode() for vs in people.all().values() for v in vs if len(v) >= 3})
        self.lower_needles = sorted({v.encode() for t, vs in people.all().items() if t in lower for v in vs})

    def _theirs(self, msg: dict[str, Any]) -> bool:
        if self.match(msg) is None:
            return False
        mid = msg.get("messageId")
        if isinstance(mid, str | int) and not isinstance(mid, bool):
            self.removed_ids.add(str(mid))
        return True

    def _parse(self, body: bytes) -> tuple[Any, bool]:
        """(the JSON value, parsed by the stdlib) or (None, False). orjson first; the stdlib for what
        it refuses but is still someone's message (integers over 64 bits, NaN)."""
        try:
            return self._loads(body), False
        except (ValueError, RecursionError):
            pass
        try:
            return json.loads(body), True
        except (ValueError, RecursionError):
            return None, False

    def line(self, raw: bytes, first: bool) -> tuple[int, int, int, bytes | None]:
        """(what, messages, removed, the line to write): kept (``raw``), dropped (None), edited."""
        body = raw
        bom = b""
        if first and body.startswith(_BOM):
            bom, body = _BOM, body[3:]
        cr = body.endswith(b"\r")
        if cr:
            body = body[:-1]
        if not body or body.isspace():
            return _BLANK, 0, 0, raw
        msg, std = self._parse(body)
        if msg is None and body.startswith(_BOM):  # files concatenated with cat: a BOM mid-file
            msg, std = self._parse(body[3:])
        if type(msg) is not dict:
            return _UNPARSED, 0, 0, raw
        batch = msg.get("batch")
        if type(batch) is list and "type" not in msg:
            kept = [item for item in batch if type(item) is not dict or not self._theirs(item)]
            messages = sum(1 for item in batch if type(item) is dict)
            removed = len(batch) - len(kept)
            if not removed:
                return _KEEP, messages, 0, raw
            if not any(type(item) is dict for item in kept):
                return _DROP, messages, removed, None  # nothing of anyone left in the batch
            msg["batch"] = kept
            text = json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode() if std else self._dumps(msg)
            return _EDIT, messages, removed, bom + text + (b"\r" if cr else b"")
        if self._theirs(msg):
            return _DROP, 1, 1, None
        return _KEEP, 1, 0, raw

    def mentions(self, raw: bytes) -> bool:
        """Whether an unparsed line holds one of the identifiers as text."""
        if any(n in raw for n in self.needles):
            return True
        if self.lower_needles:
            low = raw.lower()
            return any(n in low for n in self.lower_needles)
        return False


# --- one file ----------------------------------------------------------------------------------------
_FAILING = frozenset({"EV005", "EV006", "EV007", "EV008"})  # line too long, stream error, unreadable, not NDJSON


class _Findings:
    def __init__(self, result: DeleteResult) -> None:
        self.result = result
        from cdp_cli.rules import get_rule

        self.rule = lambda code: get_rule(code).name

    def add(self, code: str, level: Level, file: str, line: int, message: str) -> None:
        self.result.problems_total += 1
        if len(self.result.problems) < KEEP_FINDINGS:
            self.result.problems.append(Finding(code, self.rule(code), level, file, line, 0, message))


def _chunks(source: Source) -> Iterator[Chunk]:
    """A file's lines in chunks, with the privacy cap on line length."""
    from cdp_cli.events.reader import iter_chunks, materialize

    for chunk in iter_chunks([source], max_line_bytes=LINE_CAP):
        yield materialize(chunk, LINE_CAP)  # a Chunk already (no by_reference): as it is


def _scan(source: Source, judge: _Judge, outcome: FileOutcome, findings: _Findings | None) -> str | None:
    """The counting pass: fill ``outcome``; why the file cannot be checked (or None)."""
    why = None
    for chunk in _chunks(source):
        for p in chunk.problems:
            if p.code in _FAILING:
                why = why or f"{p.code} at line {p.line}: {p.message}"
                if findings is not None:
                    findings.add(p.code, Level.ERROR, p.file, p.line, f"{p.message}; the file cannot be checked")
        line_no = chunk.first_line
        for raw in chunk.lines:
            if raw is not None:
                what, messages, removed, _ = judge.line(raw, line_no == 1)
                outcome.messages += messages
                outcome.removed += removed
                if what == _EDIT:
                    outcome.batch_lines += 1
                elif what == _UNPARSED:
                    outcome.unparsed += 1
                    if judge.mentions(raw):
                        outcome.mentions += 1
                        if findings is not None:
                            findings.add(
                                "EV002",
                                Level.WARNING,
                                chunk.file,
                                line_no,
                                "not a JSON object, so kept as it is (it cannot be attributed), but it holds one "
                                "of the requested identifiers as text: look at it",
                            )
            line_no += 1
    return why


def _rewrite(source: Source, judge: _Judge, fh: IO[bytes], expected: int) -> None:
    """The rewrite pass: the kept lines, in the file's compression, to ``fh``."""
    writer: Any = fh
    if source.compression == "gzip":
        import gzip

        writer = gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0)
    elif source.compression == "zstd":
        import zstandard

        writer = zstandard.ZstdCompressor(level=3).stream_writer(fh, closefd=False)
    removed = 0
    for chunk in _chunks(source):
        if any(p.code in _FAILING for p in chunk.problems):
            raise InputError(f"{source.name}: changed while it was rewritten (it can no longer be read to its end)")
        out: list[bytes] = []
        line_no = chunk.first_line
        for raw in chunk.lines:
            assert raw is not None  # a line over the cap comes with an EV005 problem, refused above
            _, _, n, text = judge.line(raw, line_no == 1)
            removed += n
            if text is not None:
                out.append(text)
                out.append(b"\n")
            line_no += 1
        writer.write(b"".join(out))
    if writer is not fh:
        writer.close()  # the gzip trailer, the end of the zstd frame (fh itself stays open)
    if removed != expected:
        raise InputError(f"{source.name}: changed while it was rewritten; run again")


def _replace_file(path: Path, before: os.stat_result, write: Callable[[IO[bytes]], None]) -> int:
    """Write a new content of ``path`` (through ``write``) into a temporary sibling with the same mode
    (and owner, where allowed), and rename it over ``path`` if ``path`` has not changed since
    ``before``. The temporary name is fsutil's, so a killed run's leftover is cleaned by the next.
    The new size."""
    from cdp_cli.fsutil import output_error, remove_leftovers

    target = Path(os.path.realpath(path))  # a link to the log: the log is rewritten, the link stays
    remove_leftovers(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.cdp-{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise output_error(path, e) from None
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), stat.S_IMODE(before.st_mode))  # never wider than the original, even briefly
                with contextlib.suppress(OSError):
                    os.fchown(fh.fileno(), before.st_uid, before.st_gid)
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            now = os.stat(target)
            if (now.st_size, now.st_mtime_ns, now.st_ino) != (before.st_size, before.st_mtime_ns, before.st_ino):
                raise InputError(f"{path}: changed while it was rewritten (something else writes it); run again")
            size = os.path.getsize(tmp)
            os.replace(tmp, target)
            with contextlib.suppress(OSError):
                dfd = os.open(target.parent, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        except OSError as e:
            raise output_error(path, e) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return size


def _file(source: Source, judge: _Judge, dry_run: bool, findings: _Findings, notes: list[str]) -> FileOutcome:
    outcome = FileOutcome(source.name, source.compression)
    assert source.path is not None
    try:
        before = os.stat(source.path)
    except OSError as e:
        outcome.status, outcome.reason = "failed", f"cannot read: {os_reason(e)}"
        findings.add("EV007", Level.ERROR, source.name, 0, f"cannot read file: {os_reason(e)}")
        return outcome
    outcome.size_before = outcome.size_after = before.st_size
    why = _scan(source, judge, outcome, findings)
    if why is not None:
        outcome.status, outcome.reason = "failed", why
        return outcome
    if not outcome.removed:
        outcome.status = "clean"
        return outcome
    if dry_run:
        outcome.status = "would rewrite"
        return outcome
    if before.st_nlink > 1:
        notes.append(
            f"{source.name} has {before.st_nlink - 1} other hard link(s): the old content stays under those names"
        )
    outcome.size_after = _replace_file(source.path, before, lambda fh: _rewrite(source, judge, fh, outcome.removed))
    outcome.status = "rewritten"
    return outcome


# --- the status file -----------------------------------------------------------------------------------
def _digest(salt: str, doc: Any) -> str:
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256((salt + "\n" + text).encode("utf-8", "surrogatepass")).hexdigest()


def _pairs(ids: dict[str, set[str]]) -> list[str]:
    return sorted(f"{t}:{v}" for t, vs in ids.items() for v in vs)


class _Status:
    """The resumable status file: finished files (path -> size, mtime, counts), and the request as
    salted digests (never an identifier)."""

    def __init__(self, path: Path | None, request: Any, people: list[str], dry_run: bool) -> None:
        self.path, self.dry_run = path, dry_run
        self.data: dict[str, Any] = {}
        if path is not None and os.path.lexists(path) and _regular(path):
            self.data = _read_status(path)
            salt = str(self.data.get("salt", ""))
            if self.data.get("request") != _digest(salt, request):
                raise UsageError(
                    f"--status {path} belongs to another privacy request (other identifiers or options); "
                    "finish that request with its own command, or name another status file"
                )
            if not self.data.get("complete") and self.data.get("people") != _digest(salt, people):
                raise UsageError(
                    f"--status {path}: the resolved profiles now link these people to other identifiers than "
                    "when this request started (resolved again since?); remove the status file to start over "
                    "(files already cleaned are checked again, and left alone)"
                )
        if not self.data:
            salt = secrets.token_hex(16)
            now = _now()
            self.data = {
                "format": STATUS_FORMAT,
                "written_by": "cdp",
                "version": STATUS_VERSION,
                "salt": salt,
                "request": _digest(salt, request),
                "people": _digest(salt, people),
                "created_at": now,
                "updated_at": now,
                "complete": False,
                "files": {},
            }

    def done(self, source: Source) -> dict[str, Any] | None:
        """The record of a file finished earlier and not changed since, or None."""
        if self.path is None or source.path is None:
            return None
        entry = self.data["files"].get(os.path.realpath(source.path))
        if not isinstance(entry, dict):
            return None
        try:
            st = os.stat(source.path)
        except OSError:
            return None
        return entry if (entry.get("size"), entry.get("mtime_ns")) == (st.st_size, st.st_mtime_ns) else None

    def finish(self, source: Source, outcome: FileOutcome) -> None:
        if self.path is None or self.dry_run or source.path is None:
            return
        st = os.stat(source.path)
        self.data["files"][os.path.realpath(source.path)] = {
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "status": outcome.status,
            "removed": outcome.removed,
        }
        self._write()

    def complete(self, done: bool) -> None:
        if self.path is None or self.dry_run:
            return
        self.data["complete"] = done
        self._write()

    def _write(self) -> None:
        from cdp_cli.fsutil import atomic_open

        assert self.path is not None
        self.data["updated_at"] = _now()
        # force: the file is checked to be cdp's status file (or new) before any work (_check_ours)
        with atomic_open(self.path, "w", flag="--status", force=True) as fh:
            fh.write(json.dumps(self.data, indent=1, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _read_status(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        data = None
    if not (isinstance(data, dict) and data.get("format") == STATUS_FORMAT and data.get("written_by") == "cdp"):
        raise OutputError(
            f"--status {path}: the file exists and is not a status file of cdp privacy delete; refusing to "
            "replace it (choose another name)"
        )
    if data.get("version") != STATUS_VERSION or not isinstance(data.get("files"), dict):
        raise OutputError(f"--status {path}: written by another version of cdp; remove it to start over")
    return data


# --- the suppression list --------------------------------------------------------------------------------
def _suppress_entries(text: str, known: set[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, sep, rest = line.partition(":")
        out.add((kind.strip(), rest.strip()) if sep and kind.strip() in known else ("user_id", line))
    return out


def _check_suppress_out(path: Path) -> str:
    """The text of an existing suppression list cdp wrote ("" when there is none); refuse anything else."""
    if not os.path.lexists(path) or not _regular(path):
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = os_reason(e) if isinstance(e, OSError) else "not UTF-8 text"
        raise OutputError(f"--suppress-out {path}: cannot read it ({reason})") from None
    if text and not text.startswith(SUPPRESS_HEADER):
        raise OutputError(
            f"--suppress-out {path}: the file exists and was not written by cdp privacy delete; refusing to "
            "change it (choose another name, or give it to --identifiers and write a new list)"
        )
    return text


def _write_suppressions(path: Path, existing: str, people: People, result: DeleteResult, write: bool = True) -> None:
    """Merge the people's identifiers into the list at ``path`` (types replay knows by default only);
    without ``write`` only count what would be added."""
    from cdp_cli.fsutil import atomic_open
    from cdp_cli.identity.config import load_identity_config

    known = [t.name for t in load_identity_config(None).types if t.match]
    have = _suppress_entries(existing, set(known))
    new: list[tuple[str, str]] = []
    left_out: dict[str, int] = {}
    everyone = people.all()
    for t in sorted(everyone, key=lambda name: (known.index(name) if name in known else len(known), name)):
        for v in sorted(everyone[t]):
            if t not in known or "\n" in v or "\r" in v:
                left_out[t] = left_out.get(t, 0) + 1
            elif (t, v) not in have:
                new.append((t, v))
    result.suppress_added = len(new)
    result.suppress_total = len(have) + len(new)
    result.suppress_left_out = left_out
    if not write or (existing and not new):
        return  # a dry run, or all there already: the list stays as it is
    body = [ln for ln in existing.split("\n") if ln.strip()] if existing else []
    if not body:
        body = [
            SUPPRESS_HEADER + ": people whose messages `cdp events replay --suppress` never sends",
            "# written by `cdp privacy delete`, which merges new requests into it; one type:value a line",
        ]
    body.append(f"# {_now()}: {plural(len(new), 'identifier')} added by a privacy request")
    body += [f"{t}:{v}" for t, v in new]
    with atomic_open(path, "w", flag="--suppress-out", force=True) as fh:  # checked to be cdp's list first
        fh.write("\n".join(body) + "\n")


# --- resolved profiles ------------------------------------------------------------------------------------
def _is_in(column: Any, values: set[str]) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not values:
        return pa.array([False] * len(column), pa.bool_())
    return pc.fill_null(pc.is_in(column, value_set=pa.array(sorted(values), pa.string())), False)


def _any_in(column: Any, values: set[str]) -> Any:
    """Per row of a list<string> column: whether any element is one of ``values``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    hit = [False] * len(column)
    if values and len(column):
        flat = pc.list_flatten(column)
        parents = pc.list_parent_indices(column)
        for i in pc.filter(parents, _is_in(flat, values)).to_pylist():
            hit[i] = True
    return pa.array(hit, pa.bool_())


def _profile_masks(people: People, message_ids: set[str]) -> dict[str, Callable[[Any], Any]]:
    """Per output file, the rows (of a record batch) that are the people's."""
    import pyarrow.compute as pc

    pids = set(people.profile_ids)
    everyone = people.all()
    values = {v for vs in everyone.values() for v in vs}
    labels = {f"{t}:{v}" for t, vs in everyone.items() for v in vs}
    users = everyone.get("user_id", set())
    anons = everyone.get("anonymous_id", set())
    mids = message_ids | people.message_ids

    def either(*masks: Any) -> Any:
        out = masks[0]
        for m in masks[1:]:
            out = pc.or_(out, m)
        return out

    return {
        "profiles.parquet": lambda b: _is_in(b.column("profile_id"), pids),
        "identities.parquet": lambda b: _is_in(b.column("profile_id"), pids),
        "events.parquet": lambda b: either(
            _is_in(b.column("profile_id"), pids),
            _is_in(b.column("message_id"), mids),
            _is_in(b.column("user_id"), users),
            _is_in(b.column("anonymous_id"), anons),
        ),
        "merges.parquet": lambda b: either(
            _is_in(b.column("profile_id"), pids),
            _is_in(b.column("merged_profile_id"), pids),
            _is_in(b.column("final_profile_id"), pids),
            _any_in(b.column("profiles"), pids),
            _any_in(b.column("identifiers"), labels),
            _is_in(b.column("dropped_value"), values),
            _is_in(b.column("message_id"), mids),
        ),
    }


def _profiles(people: People, message_ids: set[str], dry_run: bool, result: DeleteResult) -> None:
    """Count, and unless ``dry_run`` remove, the people's rows of the profiles directory (rebuilt
    beside it and swapped in whole, with cdp's stamp)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cdp_cli import schemas, storage

    directory = people.profiles_dir
    assert directory is not None
    masks = _profile_masks(people, message_ids)
    counts: dict[str, int] = {}
    refused = 0
    try:
        for name, mask in masks.items():
            n = 0
            for batch in storage.read_batches(directory / name, 65536):
                m = mask(batch)
                n += pc.sum(m).as_py() or 0
                if name == "merges.parquet":
                    refused += pc.sum(pc.and_(m, pc.equal(batch.column("kind"), "refused"))).as_py() or 0
            counts[name] = n
    except OSError as e:
        raise InputError(f"{directory}: unreadable ({os_reason(e)})") from None
    result.profiles_removed = counts
    if not any(counts.values()):
        result.profiles_status = "none of them"
        return
    if dry_run:
        result.profiles_status = "would rewrite"
        return
    from cdp_cli.fsutil import STAMP, atomic_directory
    from cdp_cli.identity.outputs import MARKER

    manifest = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    recorded = _recorded(directory, people, manifest)
    with atomic_directory(directory, kind="profiles", marker=MARKER) as tmp:
        for name, mask in masks.items():
            source = pq.ParquetFile(directory / name)
            kept = (b.filter(pc.invert(mask(b))) for b in storage.read_batches(directory / name, 65536))
            storage.write_batches(tmp / name, source.schema_arrow, kept)
            storage.check_schema(tmp / name, schemas.OUTPUTS[name]())
        for entry in os.scandir(directory):  # anything else cdp wrote there, as it is
            if entry.name not in masks and entry.name not in (MARKER, STAMP) and entry.is_file():
                import shutil

                shutil.copy2(entry.path, tmp / entry.name)
        c = manifest.setdefault("counts", {})
        for key, n in (
            ("profiles", counts["profiles.parquet"]),
            ("identifiers", counts["identities.parquet"]),
            ("events", counts["events.parquet"]),
            ("merges", counts["merges.parquet"] - refused),
            ("refused_merges", refused),
            ("recorded_values", recorded),
        ):
            if isinstance(c.get(key), int):
                c[key] = max(0, c[key] - n)
        done = manifest.get("privacy_deletions") if isinstance(manifest.get("privacy_deletions"), dict) else {}
        manifest["privacy_deletions"] = {"requests": int(done.get("requests", 0)) + 1, "last_at": _now()}
        (tmp / MARKER).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    result.profiles_status = "rewritten"


def _recorded(directory: Path, people: People, manifest: dict[str, Any]) -> int:
    """Values of types that never join (group ids) recorded on the people's profiles (a manifest count)."""
    import pyarrow.parquet as pq

    never = {t.get("name") for t in manifest.get("identity", {}).get("types", []) if not t.get("match", True)}
    if not never or not people.profile_ids:
        return 0
    rows = pq.read_table(
        directory / "profiles.parquet", columns=["identifiers"], filters=[("profile_id", "in", people.profile_ids)]
    )
    return sum(len(vs or []) for ids in rows.column("identifiers").to_pylist() for t, vs in ids or [] if t in never)


# --- the warehouse ---------------------------------------------------------------------------------------
_KIND_TABLES = ("tracks", "identifies", "pages", "screens", "groups", "aliases")


def _quote(name: str) -> str:
    """A PostgreSQL identifier, quoted (names come from the catalog, never from event data)."""
    return '"' + name.replace('"', '""') + '"'


def warehouse_columns(config: IdentityConfig) -> dict[str, dict[str, set[str]]]:
    """Where replay's warehouse layout puts each identifier: table kind (``tracks``, ``identifies``,
    ..., ``event`` for a track event's own table, ``users``) -> identifier type -> columns. Found by
    laying out a probe message per type and path with :func:`cdp_cli.replay.warehouse.rows_for`, so
    it follows the layout replay really uses (conditions such as "on an iOS device" are ignored: a
    column holding one of the people's values is theirs whatever the device)."""
    from cdp_cli.replay.warehouse import Unloadable, rows_for, trait_columns

    probe = "\x01cdp-probe\x01"
    out: dict[str, dict[str, set[str]]] = {}
    for t in config.types:
        if not t.match:
            continue
        for p in t.paths:
            for kind in ("track", "identify", "page", "screen", "group", "alias"):
                msg: dict[str, Any] = {"type": kind, "messageId": "probe", "event": "cdp probe"}
                node = msg
                for part in p.parts[:-1]:
                    nxt = node.setdefault(part, {})
                    if type(nxt) is not dict:
                        break
                    node = nxt
                else:
                    if p.parts[-1] in node and node is msg:
                        continue  # a path onto the message's own fields (type, messageId)
                    node[p.parts[-1]] = probe
                    try:
                        rows = rows_for(msg)
                    except Unloadable:
                        continue
                    for table, row in rows:
                        category = table if table in _KIND_TABLES else "event"
                        for col, v in row.items():
                            if v == probe:
                                out.setdefault(category, {}).setdefault(t.name, set()).add(col)
                                if category == "identifies" and col in trait_columns([col]):
                                    out.setdefault("users", {}).setdefault(t.name, set()).add(col)
    return out


def _conditions(
    table: str, columns: dict[str, str], people: People, mids: set[str], layout: dict[str, dict[str, set[str]]]
) -> tuple[list[str], list[Any]]:
    """The WHERE parts (joined with OR) and their parameters for one table."""
    types = {t.name: t for t in people.config.types}
    everyone = people.all()
    conds: list[str] = []
    params: list[Any] = []

    def add(column: str, type_name: str | None, values: set[str]) -> None:
        if column not in columns or not values:
            return
        # a messageId is compared as stored (the primary key's index is used); identifiers as identity
        # resolution normalises them (trimmed, emails lower-cased; a number column as its decimal text)
        expr = f"{_quote(column)}::text" if type_name else _quote(column)
        t = types.get(type_name) if type_name else None
        if t is not None and t.trim:
            expr = f"btrim({expr})"
        if t is not None and t.lowercase:
            expr = f"lower({expr})"
        conds.append(f"{expr} = ANY(%s)")
        params.append(sorted(values))

    users = everyone.get("user_id", set())
    if table == "users":
        add("id", "user_id", users)
    else:
        add("id", None, mids)
    category = table if table in _KIND_TABLES or table == "users" else "event"
    for type_name, cols in layout.get(category, {}).items():
        for col in sorted(cols):
            add(col, type_name, everyone.get(type_name, set()))
    if table == "aliases":
        add("previous_id", "user_id", users | everyone.get("anonymous_id", set()))
    return conds, params


def _warehouse(options: DeleteOptions, people: People, mids: set[str], result: DeleteResult) -> None:
    """Count, and unless dry-run delete, the people's rows of every table; one transaction per table."""
    try:
        from cdp_cli.replay.postgres import PostgresDestination
        from cdp_cli.replay.warehouse import CHECKPOINTS_TABLE, DISCARDS_TABLE
    except ImportError as e:  # pragma: no cover - psycopg is a declared dependency
        raise DestinationError(f"--warehouse needs psycopg ({e})") from None

    assert options.warehouse is not None
    dest = PostgresDestination(options.warehouse, schema=options.schema, password_env=options.password_env)
    result.warehouse = dest.label
    layout = warehouse_columns(people.config)
    all_mids = mids | people.message_ids
    dest.open("")  # connect, as replay does (and read the catalog: tables and their columns)
    try:
        conn = dest._conn
        catalog: dict[str, dict[str, str]] = dict(dest._columns)
        discards = DISCARDS_TABLE in catalog
        schema = _quote(options.schema)
        for table in sorted(catalog):
            if table in (CHECKPOINTS_TABLE, DISCARDS_TABLE) or "id" not in catalog[table]:
                continue
            conds, params = _conditions(table, catalog[table], people, all_mids, layout)
            if not conds:
                continue
            target = f"{schema}.{_quote(table)}"
            where = " OR ".join(conds)
            verb = "count rows of" if options.dry_run else "delete from"
            with dest._errors(f"cannot {verb} {options.schema}.{table}"), conn.transaction():
                dest._lock()  # replay's schema lock: no batch of a running replay in between
                if options.dry_run:
                    ids = [r[0] for r in conn.execute(f"SELECT id FROM {target} WHERE {where}", params).fetchall()]
                else:
                    ids = [r[0] for r in conn.execute(f"DELETE FROM {target} WHERE {where} RETURNING id", params)]
                result.warehouse_rows[table] = len(ids)
                if ids and discards:
                    d = f"{schema}.{_quote(DISCARDS_TABLE)}"
                    if options.dry_run:
                        sql = f"SELECT count(*) FROM {d} WHERE table_name = %s AND row_id = ANY(%s)"
                        result.warehouse_discards += conn.execute(sql, [table, ids]).fetchone()[0]
                    else:
                        sql = f"DELETE FROM {d} WHERE table_name = %s AND row_id = ANY(%s)"
                        result.warehouse_discards += conn.execute(sql, [table, ids]).rowcount
    finally:
        dest.close(True)


# --- the run ---------------------------------------------------------------------------------------------
def _sources(options: DeleteOptions) -> list[Source]:
    from cdp_cli.events.reader import discover

    if not options.inputs:
        return []
    sources = discover([str(i) for i in options.inputs])
    if any(s.path is None for s in sources):
        raise UsageError("privacy delete rewrites files: standard input ('-') cannot be rewritten; name the files")
    return sources


def _request_doc(options: DeleteOptions, people: People) -> dict[str, Any]:
    """What makes two runs the same request: the requested identifiers, whether profiles widen them,
    and the identity configuration (its content)."""
    identity = None
    if options.identity is not None:
        with contextlib.suppress(OSError):
            identity = hashlib.sha256(Path(options.identity).read_bytes()).hexdigest()
    return {"direct": _pairs(people.direct), "profiles": people.profiles_dir is not None, "identity": identity}


def _guard(options: DeleteOptions, sources: list[Source]) -> tuple[Path | None, Path | None, str]:
    """Before any work: the status file and suppression list are not inputs, and are cdp's (or new)."""
    from cdp_cli.fsutil import guard_outputs

    status = Path(options.status) if options.status is not None else None
    suppress = Path(options.suppress_out) if options.suppress_out is not None else None
    protected = [s.path for s in sources if s.path is not None]
    protected += [Path(p) for p in (options.profiles, options.identity) if p is not None]
    if options.identifiers is not None and (
        suppress is None or os.path.realpath(options.identifiers) != os.path.realpath(suppress)
    ):
        protected.append(Path(options.identifiers))  # the list itself may be the request: it is merged into
    # both are checked below (cdp's own formats, which fsutil's written_by_cdp does not know)
    guard_outputs({"--status": status, "--suppress-out": suppress}, protected, dir_flags=("--status", "--suppress-out"))
    for flag, path in (("--status", status), ("--suppress-out", suppress)):
        if path is not None and os.path.isdir(path):
            raise OutputError(f"{flag} {path}: it is a directory")
    if status is not None and os.path.lexists(status) and _regular(status):
        _read_status(status)
    existing = _check_suppress_out(suppress) if suppress is not None else ""
    return status, suppress, existing


def delete(options: DeleteOptions, observer: Observer | None = None) -> DeleteResult:
    """Run a privacy deletion request (see the module docstring)."""
    import time

    from cdp_cli.identity.config import load_identity_config

    started = time.perf_counter()
    if options.max_files is not None and options.max_files < 1:
        raise UsageError("--max-files must be at least 1")
    if not options.inputs and options.profiles is None and options.warehouse is None:
        raise UsageError(
            "name where to remove the people from: event files (INPUT...), --profiles DIR, --warehouse DSN"
        )
    config = load_identity_config(Path(options.identity) if options.identity else None)
    sources = _sources(options)
    status_path, suppress_path, existing = _guard(options, sources)
    profiles = Path(options.profiles) if options.profiles is not None else None
    identifiers = Path(options.identifiers) if options.identifiers is not None else None
    people = find_people(config, list(options.user_ids), identifiers, profiles)

    result = DeleteResult(
        options.dry_run, requested=people.counts(people.direct), identifiers=people.counts(people.all())
    )
    result.expanded = profiles is not None
    result.profiles_found = len(people.profile_ids)
    result.profiles_dir = str(profiles) if profiles is not None else None
    result.status_file = str(status_path) if status_path is not None else None
    result.suppress_out = str(suppress_path) if suppress_path is not None else None
    if profiles is None:
        result.notes.append(
            "without --profiles only the given identifiers are matched: anonymous ids, emails and devices linked "
            "to these people stay; give --profiles DIR (a `cdp profiles resolve` output) to remove whole profiles"
        )
    elif not people.profile_ids:
        result.notes.append(f"none of the requested identifiers is on a profile of {profiles}")
    status = _Status(status_path, _request_doc(options, people), _pairs(people.all()), options.dry_run)

    if suppress_path is not None:  # first: from now on nothing brings them back
        _write_suppressions(suppress_path, existing, people, result, write=not options.dry_run)

    judge = _Judge(people)
    findings = _Findings(result)
    done = 0
    for source in sources:
        earlier = status.done(source)
        if earlier is not None:
            result.files_list.append(FileOutcome(source.name, source.compression, "done earlier"))
            continue
        if options.max_files is not None and done >= options.max_files:
            result.files_list.append(FileOutcome(source.name, source.compression))
            continue
        outcome = _file(source, judge, options.dry_run, findings, result.notes)
        result.files_list.append(outcome)
        done += 1
        if outcome.status != "failed":
            status.finish(source, outcome)
        if observer is not None:
            observer(Progress("files", 1, len(sources), "files", source.name))
    result.complete = all(f.status not in ("not reached", "failed") for f in result.files_list)

    if options.warehouse is not None:
        _warehouse(options, people, judge.removed_ids, result)
    if profiles is not None:
        if result.complete:
            _profiles(people, judge.removed_ids, options.dry_run, result)
        else:
            result.profiles_status = "kept until every file is done"
            result.notes.append(
                f"{profiles} is cleaned in the run that finishes every event file (none failed, none left): "
                "until then it says who the people are"
            )
        result.notes.append(
            "outputs computed from the profiles (traits, audiences) still hold these people: compute them again"
        )
    status.complete(result.complete)
    result.seconds = time.perf_counter() - started
    return result
