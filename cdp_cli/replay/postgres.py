"""``--to postgresql://...``: replay into Segment's warehouse schema on PostgreSQL, exactly once.

Layout, names, types and conflicts come from :mod:`cdp_cli.replay.warehouse` (shared with the
Parquet destination); this module only loads. Why it is built the way it is:

* **One transaction per batch** holds the new tables and columns (PostgreSQL's DDL is
  transactional), the rows of every table, the discards, the ``users`` merge and the checkpoint row
  (``cdp_replay_checkpoints``). A batch that fails half-way (a killed connection, a full disk) leaves
  nothing, and the stored checkpoint always describes exactly the rows that are there: the classic
  "position committed before the rows" loss cannot happen. :meth:`open` returns that checkpoint.
* **Idempotent on ``id``** (= messageId, the primary key of every message table). Rows whose id a
  table does not have yet are COPYed straight into it (the common case, a first load: each row is
  written once; a batch is first written that way under a savepoint, and only when a table has one
  of its ids already is it rolled back to there and its ids looked up, as are the next batches' until
  one has none); the others are COPYed into a temporary staging table, then merged with ``INSERT ...
  SELECT ... ON CONFLICT (id) DO UPDATE ... WHERE``: the **newest copy wins**, newest meaning the
  later ``received_at`` (a missing one is the oldest; on a tie the later load wins). That is
  Segment's rule ("dedup keeps the newest copy") and makes the result independent of the order and
  overlap of replays: two archives replayed in either order, a resumed run, a rerun all converge to
  the same rows. A tie going to the later load lets a replay with corrected transforms fix rows in
  place (``DO NOTHING`` would silently keep the old ones). The ``WHERE`` also skips rows that are
  identical apart from ``uuid_ts``, so a plain rerun rewrites nothing. Within one batch the newest
  copy of an id is chosen before the COPY (``ON CONFLICT DO UPDATE`` cannot see the same id twice in
  one statement).
* **Columns**: typed by their first value, added with ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``
  (no table rewrite), known per table in a cache read from the catalog at :meth:`open` and re-read,
  under the lock, for a table when a batch brings a column the cache does not know (another replay
  may have added it). The catalog is ``pg_attribute``, not ``information_schema``: it also lists
  columns the user has no privilege on, and is faster. At most 1,600 columns per table (dropped
  columns aside): later new columns are discarded with a reason.
* **Conflicting values** are not lost: the cell stays NULL and the value goes to ``cdp_discards``
  (table_name, row_id, column_name, column_value, received_at, uuid_ts, reason), keyed on
  (table_name, row_id, column_name) with the same newest-wins rule, so reruns do not repeat them.
* **users** is recomputed, for the users a batch touches, from ``identifies``: each trait column
  takes the latest non-null value by ``timestamp``, then ``received_at`` (then ``id``). This is
  :func:`cdp_cli.replay.warehouse.users_rows` in SQL: unlike merging a batch's values into the stored
  row (COALESCE by the row's time), it stays right when identifies arrive out of order or overlap,
  because every identify is kept in ``identifies`` anyway (indexed on ``user_id``).
* **Concurrency**: a transaction-scoped advisory lock per schema serialises batches of concurrent
  replays into the same schema (DDL races, column-type races).
* **Speed** (``bench/replay_bench.py``; a first load is bound by this process's CPU): rows are fitted
  column by column (:func:`cdp_cli.replay.warehouse.fit_columns`) and written as COPY text joined
  from those columns (:func:`_copy_text`), not row by row through psycopg; the ``tracks`` row of a
  track with an event name (its common columns, which its event table's row has too) is copied by
  the server from that row when both tables type those columns alike (:meth:`_fit_tracks`), so
  Python fits and writes it once; a batch's last statements and COMMIT go as one query whose results
  are read after the next batch is laid out (:meth:`deliver`); the cyclic garbage collector is off
  meanwhile. Each of these gives exactly the rows, columns and discards of the plain way.
* **Secrets**: the password comes from the DSN, libpq's usual sources, or the environment variable
  named by ``password_env``; :attr:`label` omits it and every driver error is re-worded as the label
  plus libpq's first line, with any known password masked.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, repeat
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import orjson

from cdp_cli.replay.destination import (
    Batch,
    DeadLetter,
    DestinationError,
    Limits,
    Message,
    Outcome,
    Progress,
)
from cdp_cli.replay.warehouse import (
    CHECKPOINTS_TABLE,
    DISCARDS_TABLE,
    MAX_COLUMNS,
    MISSING,
    USERS_COLUMNS,
    Discard,
    Unloadable,
    base_columns,
    fit_columns,
    fit_rows,
    infer_type,
    parse_timestamp,
    rows_for,
    trait_columns,
)

MAX_BATCH_BYTES = 64 * 1024 * 1024

#: PostgreSQL type names (pg_type.typname) as the warehouse's column types; others stay as they are
#: and take no value (every value for them becomes a discard).
_PG_TYPES = {
    "int8": "bigint",
    "int4": "bigint",
    "int2": "bigint",
    "numeric": "numeric",
    "float8": "numeric",
    "float4": "numeric",
    "bool": "boolean",
    "timestamptz": "timestamptz",
    "timestamp": "timestamptz",
    "date": "timestamptz",
    "text": "text",
    "varchar": "text",
    "bpchar": "text",
    "json": "jsonb",
    "jsonb": "jsonb",
}
_OLDEST = datetime.min.replace(tzinfo=UTC)


_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def _describe(dsn: str) -> tuple[str, list[str]]:
    """The label of a DSN: the URL without its password (nor ``password=`` / ``sslpassword=`` query
    parameters); and the secrets it holds, as written and decoded, to mask in any message."""
    import psycopg.conninfo

    if not dsn.startswith(("postgresql://", "postgres://")):
        raise DestinationError("a PostgreSQL destination is a postgresql:// URL (postgresql://user@host:5432/db)")
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
        parts = urlsplit(dsn)
        raw_password = parts.password
        host = parts.netloc.rsplit("@", 1)[-1]
    except (psycopg.Error, ValueError):
        raise DestinationError("the postgresql:// URL cannot be parsed (check its quoting)") from None
    secrets = {str(info[k]) for k in _SECRET_PARAMETERS if info.get(k)}
    if raw_password:
        secrets.update((raw_password, unquote(raw_password)))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _SECRET_PARAMETERS]
    netloc = f"{parts.username}@{host}" if parts.username else host
    label = urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))
    for secret in secrets:  # a password can only be elsewhere by mistake (say in the user name): mask it
        label = label.replace(secret, "***")
    return label, sorted(secrets, key=len, reverse=True)


class PostgresDestination:
    """Loads replayed messages into Segment's warehouse schema in ``schema`` (created if missing):
    ``tracks``, one table per event, ``identifies``, ``users``, ``pages``, ``screens``, ``groups``,
    ``aliases``, plus ``cdp_discards`` and ``cdp_replay_checkpoints``. See the module docstring for
    the rules; :class:`cdp_cli.replay.destination.Destination` for the lifecycle."""

    kind = "postgresql"
    transactional = True
    fresh_sent_at = False

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "cdp",
        password_env: str | None = None,
        batch_rows: int = 10000,
        connections: int = 1,
    ) -> None:
        if not schema or len(schema.encode()) > 63 or "\x00" in schema:
            raise DestinationError(f"schema name {schema!r} is not a PostgreSQL identifier (1 to 63 bytes)")
        if batch_rows < 1:
            raise DestinationError("batch_rows must be at least 1")
        if connections < 1:
            raise DestinationError("connections must be at least 1")
        #: loaders, each with its own connection (see deliver_shaped); 1: this process loads in order
        self.connections = connections
        #: whether this is one of several loaders of one replay (see deliver_shaped)
        self._shared = False
        self.label, self._secrets = _describe(dsn)
        self._dsn = dsn
        self.schema = schema
        self._password_env = password_env
        self.limits = Limits(max_messages=batch_rows, max_bytes=MAX_BATCH_BYTES)
        self._conn: Any = None
        #: table -> column -> warehouse type, as in the catalog (plus what this session added)
        self._columns: dict[str, dict[str, str]] = {}
        #: tables with a unique index on (id) alone (the ON CONFLICT target)
        self._keyed: set[str] = set()
        self._stale = False
        #: table -> (its staging table, the columns that has)
        self._stages: dict[str, tuple[str, set[str]]] = {}
        self._stage_epoch = 0
        self._statements: dict[tuple[str, ...], bytes] = {}
        #: whether no value of the batch being loaded needs escaping in COPY text (see _copy_text)
        self._clean = False
        #: the batch's last statements, sent with its COMMIT as one query (see deliver)
        self._tail: list[bytes] = []
        #: whether the next batch is written as new rows first (no table has their ids: a first load);
        #: after a batch that had some, the next one looks them up first
        self._fresh = True

    # --- errors -------------------------------------------------------------------------------------------
    def _reason(self, error: BaseException) -> str:
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Driver errors as :class:`DestinationError`: the label (host, database, never the password),
        what was being done, libpq's first line."""
        import psycopg

        try:
            yield
        except psycopg.Error as e:
            raise DestinationError(f"{self.label}: {doing}: {self._reason(e)}") from e

    def _ident(self, table: str) -> Any:
        from psycopg import sql

        return sql.Identifier(self.schema, table)

    # --- lifecycle ------------------------------------------------------------------------------------------
    def open(self, key: str) -> dict[str, Any] | None:
        """Connect, create the schema and cdp's own tables if missing, read the columns of every table,
        and return the checkpoint stored under ``key`` (None when there is none). Batches loaded over
        several connections store their spans beside it (see :meth:`_store_checkpoint`): they are
        folded into it here, in one transaction, and the state returned is the fold."""
        from psycopg import sql

        self._connect()
        conn = self._conn
        with self._errors(f"cannot prepare schema {self.schema}"):
            with conn.transaction():
                self._lock()
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, state jsonb NOT NULL, "
                        "updated_at timestamptz NOT NULL)"
                    ).format(self._ident(CHECKPOINTS_TABLE))
                )
                self._create(DISCARDS_TABLE)
                state = self._stored_checkpoint(key)
            self._read_catalog(None)
        return state

    def _stored_checkpoint(self, key: str) -> dict[str, Any] | None:
        """The state stored under ``key``, with the spans stored beside it (``key@lo``) folded in and
        written back as one state (the spans deleted): by the caller's transaction."""
        from psycopg import sql
        from psycopg.types.json import Jsonb

        from cdp_cli.replay.checkpoint import _ranges, expand, fold

        table = self._ident(CHECKPOINTS_TABLE)
        prefix = f"{key}@"
        rows = self._conn.execute(
            sql.SQL("SELECT key, state FROM {} WHERE key = %s OR left(key, %s) = %s ORDER BY key").format(table),
            [key, len(prefix), prefix],
        ).fetchall()
        state = next((s for k, s in rows if k == key), None)
        spans: list[tuple[int, int]] = []
        for k, s in rows:
            if k != key and isinstance(s, dict) and "span" in s:  # less its dead letters (_store_checkpoint)
                lo, hi = s["span"]
                for p in sorted(s.get("except", [])):
                    spans.append((lo, p))
                    lo = p + 1
                spans.append((lo, hi))
        if not spans:
            return state
        base = state if isinstance(state, dict) else {}
        folded = fold(int(base.get("watermark", 0)), expand(base.get("acked", [])), spans)
        state = {**base, "watermark": folded["watermark"], "acked": _ranges(folded["acked"])}
        self._conn.execute(
            sql.SQL(
                "INSERT INTO {} (key, state, updated_at) VALUES (%s, %s, now()) "
                "ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at"
            ).format(table),
            [key, Jsonb(state)],
        )
        self._conn.execute(sql.SQL("DELETE FROM {} WHERE left(key, %s) = %s").format(table), [len(prefix), prefix])
        return state

    def _connect(self) -> None:
        import psycopg

        kwargs: dict[str, Any] = {"autocommit": True}
        if self._password_env:
            password = os.environ.get(self._password_env)
            if password is None:
                raise DestinationError(
                    f"{self.label}: the environment variable {self._password_env} (the password) is not set"
                )
            if password:
                self._secrets = sorted({*self._secrets, password}, key=len, reverse=True)
            kwargs["password"] = password
        if "connect_timeout" not in self._dsn:
            kwargs["connect_timeout"] = 10
        with self._errors("cannot connect"):
            self._conn = psycopg.connect(self._dsn, **kwargs)
            self._conn.execute("SET TIME ZONE 'UTC'")  # plain dates in timestamptz columns are midnight UTC

    def close(self, ok: bool) -> None:
        """Close the connection; an open transaction (an interrupted batch) is rolled back by it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a dead connection: nothing of the batch was committed anyway
                pass

    # --- catalog --------------------------------------------------------------------------------------------
    def _lock(self, shared: bool = False) -> datetime:
        """Take the schema's lock for this transaction (``shared``: the one the loaders of one replay
        hold together while they write rows; every other transaction takes it alone); the
        transaction's time (``now()``)."""
        how = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        return self._conn.execute(
            f"SELECT now() FROM {how}(hashtext(%s))", [f"cdp replay schema {self.schema}"]
        ).fetchone()[0]

    def _read_catalog(self, tables: list[str] | None) -> None:
        """Columns (and whether ``id`` is unique) of ``tables`` (all of the schema when None), from the
        catalog: what other replays or people did since is then known."""
        where = "" if tables is None else " AND c.relname = ANY(%(tables)s)"
        rows = self._conn.execute(
            "SELECT c.relname, a.attname, t.typname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
            + where
            + " ORDER BY c.relname, a.attnum",
            {"schema": self.schema, "tables": tables},
        ).fetchall()
        keyed = self._conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
            "WHERE n.nspname = %(schema)s AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL "
            "AND a.attname = 'id'" + where,
            {"schema": self.schema, "tables": tables},
        ).fetchall()
        if tables is None:
            self._columns, self._keyed = {}, set()
        else:
            for table in tables:
                self._columns.pop(table, None)
                self._keyed.discard(table)
        for table, column, typname in rows:
            self._columns.setdefault(table, {})[column] = _PG_TYPES.get(typname, typname)
        self._keyed.update(t for (t,) in keyed)
        self._stale = False

    def _create(self, table: str) -> None:
        from psycopg import sql

        columns = base_columns(table)
        key = ("table_name", "row_id", "column_name") if table == DISCARDS_TABLE else ("id",)
        defs = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns.items()]
        defs.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, key))))
        self._conn.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(self._ident(table), sql.SQL(", ").join(defs))
        )
        if table == "identifies":  # the users merge reads a user's identifies
            self._conn.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS identifies_user_id_idx ON {} (user_id)").format(self._ident(table))
            )

    def _ensure(self, table: str, added: dict[str, str]) -> bool:
        """Create ``table`` if it is new and add ``added`` columns; update the cache (reset by a failed
        batch, since its DDL is rolled back with it). Whether the table was created (so is empty)."""
        from psycopg import sql

        created = table not in self._columns
        if created:
            self._create(table)
            self._columns[table] = dict(base_columns(table))
            self._keyed.add(table)
        elif table not in self._keyed:
            raise DestinationError(
                f"{self.label}: table {self.schema}.{table} exists without a primary key on id: it was not "
                "created by cdp (choose another schema)"
            )
        if added:
            self._conn.execute(
                sql.SQL("ALTER TABLE {} {}").format(
                    self._ident(table),
                    sql.SQL(", ").join(
                        sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(c), sql.SQL(t))
                        for c, t in added.items()
                    ),
                )
            )
            self._columns[table].update(added)
        return created

    # --- delivery -------------------------------------------------------------------------------------------
    def deliver(self, batches: Iterable[tuple[Batch, Progress | None]]) -> Iterator[Outcome]:
        """Load each batch in one transaction with its checkpoint, yielding its outcome once
        committed, in order; a batch that cannot be committed raises :class:`DestinationError`
        (nothing of it stays).

        The server and Python overlap: a batch's last statements (the tracks rows copied from event
        tables, the discards, ``users``, the checkpoint, COMMIT) go as one query whose results are
        read only after the next batch is laid out (:func:`_prepare`), which they take about as long
        as. (Laying out the next batch in a thread was measured: no faster, the layout needs the
        interpreter lock as much as the load does.) The cyclic garbage collector is off while a batch
        is laid out and written (:func:`_gc_paused`); no outcome waits while a query is in flight.

        This loads over this process's one connection, whatever :attr:`connections` says: the runner
        loads over several through :meth:`deliver_shaped`."""
        if self._conn is None:
            raise DestinationError(f"{self.label}: deliver before open")
        pending: _Pending | None = None
        for batch, progress in batches:
            with _gc_paused():
                prepared = _prepare(batch)
                outcome = self._settle(pending) if pending is not None else None
            pending = None
            if outcome is not None:
                yield outcome
            with _gc_paused():
                pending = self._send(batch, progress, prepared)
        if pending is not None:
            with _gc_paused():
                outcome = self._settle(pending)
            yield outcome

    def deliver_shaped(
        self, chunks: Iterable[Any], shaper: Callable[..., Any], plan: Callable[[Any], list[tuple]]
    ) -> Iterator[Outcome]:
        """Load over :attr:`connections` connections at once: one forked loader process each, which
        shapes the input chunks it is given (``shaper(chunk, keep=True)``: parse, select, shape) and
        loads them itself (flatten, fit, COPY) over its own connection. Only small records cross the
        pipes: this process numbers and de-duplicates them in input order and cuts the batches
        (``plan(shaped)``: per batch, its messages as known here, its checkpoint, the indexes of its
        records in the chunk), which the loader holding the chunk loads. Outcomes come as batches
        commit, in any order. What one loader guarantees still holds:

        * a messageId is in one batch only (the runner de-duplicates before cutting batches; without
          de-duplication it asks for one connection), so loaders never write the same id;
        * the new tables and columns a batch brings are decided **in batch order**: after its rows are
          laid out, a batch waits for its turn (:class:`_Turn`), and only if it brings something the
          cache does not know does it read the catalog and run its DDL, in a transaction of its own
          under the schema's lock taken alone; a column's type is thus its first value in the input
          order, as when one process loads;
        * the rows are written in a transaction holding the schema's lock *shared*: the loaders write
          at once; a DDL transaction (theirs, or another replay's batch) waits for them;
        * the ``users`` merge takes a lock of its own first (:meth:`_merge_users`), so a merge reads the
          identifies another loader committed;
        * each batch stores its span (the positions it settles) with its rows, as a row of its own
          (:meth:`_store_checkpoint`); :meth:`open` folds them, so a resume skips exactly the
          committed batches, whichever order they committed in;
        * a transaction that fails on a deadlock or on an id another replay inserted meanwhile is
          rolled back and redone (nothing of it was committed).

        Unlike one loader, a loader of several writes the ``tracks`` rows itself (COPY) instead of
        having the server copy them from the event tables (:meth:`_fit_tracks`): the server is then
        the one resource all loaders share. Their values are those fitted for the event tables
        (:func:`_with_derived`). The tables are the same either way.

        A batch that brings no new table or column does not wait for its turn: its layout depends on
        no earlier batch's (a column's type never changes once made); the turn passes over it.

        The loaders die with this process (``PR_SET_PDEATHSIG``), so a killed replay leaves no loader
        committing behind it. No deadlock between them: a loader handles its requests in the order
        they were sent, and a batch waits only for batches cut before it, whose requests were sent
        before its own."""
        import multiprocessing as mp
        import queue
        import threading
        from multiprocessing.connection import wait

        from cdp_cli.workers import WorkerError, reap

        if self._conn is None:
            raise DestinationError(f"{self.label}: deliver before open")
        n = self.connections
        ctx = mp.get_context("fork")
        turn = _Turn(ctx)
        self.close(True)  # the loaders open their own connections: none is shared across a fork
        procs, conns = [], []
        outboxes: list[queue.SimpleQueue] = []
        senders: list[threading.Thread] = []
        args = (self._dsn, self.schema, self._password_env, self.limits.max_messages, os.getpid())

        def forward(conn: Any, outbox: queue.SimpleQueue) -> None:
            """Requests to a loader, sent by a thread of their own: a request (a batch's positions, a
            chunk's lines) can be more than a pipe holds, and the loader may be sending its answer
            meanwhile; this process must keep reading answers, never wait on a full pipe."""
            while True:
                item = outbox.get()
                try:
                    conn.send(item)
                except (OSError, ValueError):  # the loader is gone: the reading side says so
                    return
                if item is None:
                    return

        try:
            for _ in range(n):
                parent, child = ctx.Pipe(duplex=True)
                proc = ctx.Process(target=_loader_main, args=(child, shaper, args, turn), daemon=True)
                proc.start()
                child.close()
                procs.append(proc)
                conns.append(parent)
                outboxes.append(queue.SimpleQueue())
                senders.append(threading.Thread(target=forward, args=(parent, outboxes[-1]), daemon=True))
                senders[-1].start()
            source = iter(chunks)
            sent = planned = 0
            exhausted = False
            in_flight = [0] * n  # chunks given to each loader and not yet loaded
            shaped: dict[int, Any] = {}  # chunk -> its shaped records, until its turn to be planned
            left: dict[int, int] = {}  # chunk -> its batches not yet loaded
            batches: dict[int, Batch] = {}
            while True:
                while not exhausted and in_flight[sent % n] < _CHUNKS_IN_FLIGHT:
                    chunk = next(source, None)
                    if chunk is None:
                        exhausted = True
                        break
                    outboxes[sent % n].put(("shape", sent, chunk))
                    in_flight[sent % n] += 1
                    sent += 1
                if exhausted and not any(in_flight):
                    break
                ready: list[Any] = wait(conns)
                for conn in ready:
                    k = conns.index(conn)
                    try:
                        reply = conn.recv()
                    except EOFError:
                        raise WorkerError(f"a loader process died (exit code {procs[k].exitcode})") from None
                    if reply[0] == "error":
                        exc, text = reply[1], reply[2]
                        if isinstance(exc, BaseException):
                            raise exc
                        raise DestinationError(f"{self.label}: a loader failed: {text}")
                    if reply[0] == "shaped":
                        shaped[reply[1]] = reply[2]
                        while planned in shaped:  # in input order: de-duplication and batches need it
                            cut = plan(shaped.pop(planned))
                            owner = planned % n
                            for batch, _, _ in cut:
                                batches[batch.seq] = batch
                            load = [(b.seq, ix, [m.position for m in b.messages], pr) for b, pr, ix in cut]
                            outboxes[owner].put(("load", planned, load))
                            if cut:
                                left[planned] = len(cut)
                            else:
                                in_flight[owner] -= 1
                            planned += 1
                        continue
                    _, i, seq, dead, stored = reply  # "loaded"
                    left[i] -= 1
                    if not left[i]:
                        del left[i]
                        in_flight[k] -= 1
                    batch = batches.pop(seq)
                    letters = []
                    gone = {d[0]: d for d in dead}
                    for m in batch.messages if gone else ():
                        if m.position in gone:
                            _, status, reason, raw = gone[m.position]
                            letter = Message(m.position, m.file, m.line, m.message_id, index=m.index, raw=raw)
                            letters.append(DeadLetter(letter, status, reason))
                    acked = [m for m in batch.messages if m.position not in gone] if gone else batch.messages
                    yield Outcome(batch=batch, acked=acked, dead=letters, checkpoint_stored=stored)
            for outbox in outboxes:
                outbox.put(None)
            for thread in senders:
                thread.join(timeout=5)
            for proc in procs:
                proc.join(timeout=5)
        except WorkerError as e:
            raise DestinationError(f"{self.label}: {e}") from None
        finally:
            for outbox in outboxes:
                outbox.put(None)  # a sender still waiting ends (one blocked on a dead pipe errs out)
            reap(procs, conns)

    def _begin_shared(
        self, batch: Batch, progress: Progress | None, prepared: _Prepared, turn: _Turn, idle: Callable[[], bool]
    ) -> _Pending:
        """A batch in a loader process (see :meth:`deliver_shaped`), ``prepared`` already: its DDL on
        its turn (``idle()`` does other work while it waits), its layout, its rows; its last statements
        and COMMIT sent (:meth:`_end_shared` reads their results, after the loader has done other work
        meanwhile)."""
        doing = f"batch {batch.seq} not loaded (rolled back, nothing of it stored)"
        laid = self._laid_out(prepared, doing, turn, batch.seq, idle)
        return self._send(batch, progress, prepared, laid)

    def _end_shared(self, batch: Batch, progress: Progress | None, pending: _Pending) -> None:
        """Read a batch's commit (:meth:`_begin_shared`); a transaction that failed on a deadlock or on
        an id another replay inserted meanwhile is laid out and run again (nothing of it was committed)."""
        for attempt in range(_ATTEMPTS):
            try:
                self._settle(pending)
                return
            except DestinationError as e:
                if attempt == _ATTEMPTS - 1 or getattr(e.__cause__, "sqlstate", None) not in _TRANSIENT:
                    raise
            prepared = _prepare(batch)  # fitting changed the rows: lay them out again
            pending = self._send(batch, progress, prepared, self._laid_out(prepared, pending.doing))

    def _laid_out(
        self,
        prepared: _Prepared,
        doing: str,
        turn: _Turn | None = None,
        seq: int = 0,
        idle: Callable[[], bool] | None = None,
    ) -> _Laid:
        """A loader's layout of a batch. When it brings tables or columns the cache does not know, their
        DDL first, in a transaction of its own (committed before the rows are written), on the batch's
        ``turn`` (after every earlier batch's DDL; the turn passes on as soon as this one's is done);
        then the fitting, with no statement (every table and column is known by then)."""
        by_table, pairs = prepared[2], prepared[3]
        # the cache changes only by this loader's own statements: what it lacks now, it lacks after the wait
        new = self._stale or bool(self._unknown(by_table))
        if not new:
            # every table and column it needs is there, typed: its layout depends on no earlier batch
            # (a column's type never changes once made), so it does not wait for its turn
            if turn is not None:
                turn.done(seq)
            with self._errors(doing):
                return self._layout(by_table, pairs, known=True)
        if turn is not None:
            turn.wait(seq, idle)
        try:
            with self._errors(doing):
                if self._stale:
                    self._read_catalog(None)
                    new = bool(self._unknown(by_table))
                if new:
                    try:
                        with self._conn.transaction():
                            self._lock()
                            if not self._add_new(by_table):
                                return self._layout(by_table, pairs)
                    except BaseException:
                        self._failed()
                        raise
        finally:
            if turn is not None:
                turn.done(seq)
        with self._errors(doing):
            return self._layout(by_table, pairs)

    def _add_new(self, by_table: _Rows) -> bool:
        """The DDL of :meth:`_layout` alone (the catalog of the tables the cache does not know read
        again first): the new tables, and the new columns in order of first use, typed by their first
        value, as fitting adds them; so that the transaction holding the schema's lock alone is short.
        False, having done nothing, when a table would pass PostgreSQL's column limit (which new
        columns are refused then depends on the rows: :meth:`_layout` does it all)."""
        unknown = self._unknown(by_table)
        self._read_catalog(unknown)
        plans: list[tuple[str, dict[str, str]]] = []
        for table, rows in by_table.items():
            known = {**base_columns(table), **self._columns.get(table, {})}
            new = [c for c in dict.fromkeys(chain.from_iterable(rows)) if c not in known]
            if len(known) + len(new) > MAX_COLUMNS:
                return False
            if new or table not in self._columns:
                plans.append((table, {c: infer_type(next(row[c] for row in rows if c in row)) for c in new}))
        for table, added in plans:
            self._ensure(table, added)
        if "identifies" in by_table:
            self._ensure_users()
        return True

    def _send(
        self, batch: Batch, progress: Progress | None, prepared: _Prepared, laid: _Laid | None = None
    ) -> _Pending:
        """Begin the batch's transaction, write its rows, and send its last statements and COMMIT as
        one query (:meth:`_settle` reads their results)."""
        from psycopg import generators

        acked, dead, by_table, pairs, self._clean = prepared
        doing = f"batch {batch.seq} not loaded (rolled back, nothing of it stored)"
        self._tail = []
        try:
            with self._errors(doing):
                self._conn.execute("BEGIN")
                self._load(by_table, pairs, progress, laid, [d.message.position for d in dead])
                pgconn = self._conn.pgconn
                pgconn.send_query(b"; ".join([*self._tail, b"COMMIT"]))
                self._conn.wait(generators.send(pgconn))
        except BaseException:
            self._failed()
            raise
        finally:
            self._tail = []
        return _Pending(Outcome(batch=batch, acked=acked, dead=dead, checkpoint_stored=progress is not None), doing)

    def _settle(self, pending: _Pending) -> Outcome:
        """Read the results of a batch's last query (:meth:`_send`): its outcome once committed."""
        import psycopg
        from psycopg import generators

        try:
            with self._errors(pending.doing):
                pgconn = self._conn.pgconn
                for result in self._conn.wait(generators.fetch_many(pgconn)):
                    if result.status == psycopg.pq.ExecStatus.FATAL_ERROR:
                        raise psycopg.errors.error_from_result(result, encoding=pgconn._encoding)
        except BaseException:
            self._failed()
            raise
        return pending.outcome

    def _failed(self) -> None:
        """After a batch failed: roll its transaction back (when the connection still works) and
        forget what the caches learnt in it (its DDL is rolled back with it)."""
        try:
            self._conn.execute("ROLLBACK")
        except Exception:  # a dead connection or one busy with the failed query: nothing was committed
            pass
        self._stale = True
        self._stages.clear()
        self._stage_epoch += 1  # staging tables created in the failed batch are gone: new names

    def _unknown(self, by_table: _Rows) -> list[str]:
        """The tables ``by_table``'s rows need that the cache does not know, or not every column of."""
        unknown = [
            t
            for t, rows in by_table.items()
            if t not in self._columns or not set().union(*rows) <= self._columns[t].keys()
        ]
        if "identifies" in by_table:
            users = self._columns.get("users")
            if users is None or not set(trait_columns(self._columns.get("identifies", {}))) <= users.keys():
                unknown.append("users")
        return unknown

    def _load(
        self,
        by_table: _Rows,
        pairs: _Rows,
        progress: Progress | None,
        laid: _Laid | None = None,
        dead: list[int] | None = None,
    ) -> None:
        """A batch's statements in its transaction (begun): the layout unless ``laid`` already (see
        :meth:`_layout`), the rows, the discards, the users merge and the checkpoint."""
        import psycopg

        loaded_at = self._lock(shared=self._shared)  # uuid_ts: the transaction's time
        if laid is None:
            if self._stale:
                self._read_catalog(None)
            laid = self._layout(by_table, pairs)
        fitted, derived, discards, created = laid
        stamp = loaded_at.isoformat()
        done = False
        if self._fresh:
            self._conn.execute("SAVEPOINT cdp_fresh")  # a row that is there already undoes only this
            try:
                self._write_fresh(fitted, derived, stamp)
                done = True
            except psycopg.errors.UniqueViolation:
                self._conn.execute("ROLLBACK TO SAVEPOINT cdp_fresh")
                self._fresh = False
        if not done:
            if derived:  # their tracks rows go the usual way after all: fitted as tracks rows
                fit_rows("tracks", list(chain.from_iterable(derived.values())), self._columns["tracks"])
            have = self._have({t: rows for t, rows in by_table.items() if t not in created})
            for table, rows in by_table.items():
                self._write(table, rows, have.get(table), stamp)
            self._fresh = not have
        if discards:
            self._store_discards(discards)
        if "identifies" in by_table:
            self._merge_users(list({r["user_id"] for r in by_table["identifies"] if r.get("user_id")}))
        if progress is not None:
            self._store_checkpoint(progress, dead or [])

    def _layout(self, by_table: _Rows, pairs: _Rows, known: bool = False) -> _Laid:
        """Fit a batch's rows to the tables: read the catalog of the tables the cache does not know
        enough of, create the new tables and add the new columns (typed by their first value, in the
        batch's order), fit the values (the discards), choose the tracks rows the server copies. The
        DDL runs in the current transaction, under the schema's lock taken alone. ``known``: the cache
        is known to hold every table and column the rows need (no catalog to read, no DDL)."""
        unknown = [] if known else self._unknown(by_table)
        if unknown:
            self._read_catalog(unknown)
        discards: list[Discard] = []
        created: set[str] = set()
        #: table -> the rows Python writes and their values by column, as fitted
        fitted: dict[str, tuple[list[dict[str, Any]], dict[str, list[Any]]]] = {}
        for table, rows in by_table.items():
            if table != "tracks":  # last: its rows can come from the event tables' (_fit_tracks)
                current = self._columns.get(table, {})
                added, dropped, values = fit_columns(table, rows, current, max_columns=MAX_COLUMNS)
                if self._ensure(table, added):
                    created.add(table)
                discards.extend(dropped)
                fitted[table] = rows, values
        derived: _Rows = {}
        if "tracks" in by_table:
            added, dropped, derived, rest, values = self._fit_tracks(by_table["tracks"], pairs, discards)
            if self._ensure("tracks", added):
                created.add("tracks")
            discards.extend(dropped)
            fitted["tracks"] = rest, values
        if "identifies" in by_table:
            self._ensure_users()
        return fitted, derived, discards, created

    def _ensure_users(self) -> None:
        """``users`` with a column for every trait column ``identifies`` has (typed alike)."""
        columns = self._columns["identifies"]
        users = self._columns.get("users", {})
        self._ensure("users", {c: columns[c] for c in trait_columns(columns) if c not in users})

    def _fit_tracks(self, rows: list[dict[str, Any]], pairs: _Rows, discards: list[Discard]) -> _Fitted:
        """Fit the ``tracks`` rows (after the other tables'), like :func:`fit_rows`, and choose the
        rows the server copies from their event table instead (``INSERT INTO tracks SELECT``: the
        rows of a track with an event name are its common columns, which its event table has too):
        by event table, those of ``pairs`` (event table -> the tracks rows of its rows) when every
        column they have is of the same type in both tables, so fitting a value gives the same in
        both: it is fitted once, and written once by Python. The discards of those values are the
        event table's, named for ``tracks``. Returns the columns to add to ``tracks``, the discards
        of its rows, and the rows to copy by event table. New columns, when they fit in the table,
        are added as :func:`fit_rows` would add them: in order of first use, typed by the first
        value. And the rows Python writes, with their values by column (:func:`fit_columns`)."""
        current = self._columns.get("tracks", {})
        known = {**base_columns("tracks"), **current}
        new = [c for c in dict.fromkeys(chain.from_iterable(rows)) if c not in known]
        types = dict(known)
        for column in new:
            types[column] = infer_type(next(row[column] for row in rows if column in row))
        if not pairs or len(known) + len(new) > MAX_COLUMNS or "jsonb" in (types[c] for c in new):
            added, dropped, values = fit_columns("tracks", rows, current, max_columns=MAX_COLUMNS)
            return added, dropped, {}, rows, values
        derived: _Rows = {}
        for table, trows in pairs.items():
            columns = self._columns[table]
            if all(columns.get(c) == types[c] for c in dict.fromkeys(chain.from_iterable(trows))):
                derived[table] = trows
        copied = {id(row) for row in chain.from_iterable(derived.values())}
        rest = [row for row in rows if id(row) not in copied] if copied else rows
        added, dropped, values = fit_columns("tracks", rest, types)
        assert not added  # every column is known by now
        by_id: dict[str, dict[str, dict[str, Any]]] = {}
        for d in discards:
            if d.table in derived:
                if d.table not in by_id:
                    by_id[d.table] = {row["id"]: row for row in derived[d.table]}
                row = by_id[d.table].get(d.row_id)
                if row is not None and d.column in row:  # one of its common columns: tracks has it too
                    del row[d.column]
                    dropped.append(Discard("tracks", d.row_id, d.column, d.value, d.reason, d.received_at))
        return {c: types[c] for c in new}, dropped, derived, rest, values

    def _have(self, by_table: dict[str, list[dict[str, Any]]]) -> dict[str, set[str]]:
        """The ids of ``by_table``'s rows that each table has already, in one statement (a round trip
        per table added up); tables that have none of them are left out."""
        from psycopg import sql

        tables = sorted(by_table)
        if not tables:
            return {}
        query = self._statement(
            ("have", *tables),
            lambda: sql.SQL(" UNION ALL ").join(
                sql.SQL(
                    "SELECT {}::int, t.id FROM {} t JOIN json_array_elements_text(%s::json) AS u(id) ON t.id = u.id"
                ).format(sql.Literal(i), self._ident(table))
                for i, table in enumerate(tables)
            ),
        )
        # one JSON parameter per table: cheaper than a text[] to send
        ids = [orjson.dumps([row["id"] for row in by_table[table]]).decode() for table in tables]
        have: dict[str, set[str]] = {}
        for i, rid in self._conn.execute(query, ids):
            have.setdefault(tables[i], set()).add(rid)
        return have

    def _stage(self, table: str, columns: list[str], rows: list[dict[str, Any]]) -> str:
        """Fill ``table``'s staging table by COPY (the fastest way in, and inside the batch's
        transaction); its name. A staging table is a temporary copy of the table's layout, created
        once per session with ``ON COMMIT DELETE ROWS`` (emptied by every commit; creating and dropping
        one per table and batch cost more than the COPY) and given the table's new columns."""
        from psycopg import sql

        stage, has = self._stages.get(table) or ("", set())
        wanted = self._columns[table]
        if not stage:
            stage = f"cdp_stage_{self._stage_epoch}_{len(self._stages)}"
            self._conn.execute(
                sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DELETE ROWS").format(
                    sql.Identifier(stage), self._ident(table)
                )
            )
            self._stages[table] = (stage, has)
            has.update(wanted)
        elif wanted.keys() - has:
            new = [c for c in wanted if c not in has]
            self._conn.execute(
                sql.SQL("ALTER TABLE {} {}").format(
                    sql.Identifier(stage),
                    sql.SQL(", ").join(
                        sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(c), sql.SQL(wanted[c]))
                        for c in new
                    ),
                )
            )
            has.update(new)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        self._copy(statement, table, rows, columns, None)
        return stage

    def _write(self, table: str, rows: list[dict[str, Any]], have: set[str] | None, stamp: str) -> None:
        """Rows whose id the table does not have yet (not in ``have``) are copied straight into it (a
        first load writes each row once); the others go through the staging table and the newest-wins
        upsert. The advisory lock keeps other replays from inserting those ids in between."""
        from psycopg import sql

        target = self._ident(table)
        fresh = [row for row in rows if row["id"] not in have] if have else rows
        if fresh:
            present = list(dict.fromkeys(chain.from_iterable(dict.fromkeys(map(tuple, fresh)))))
            self._copy(self._copy_statement(table, present), table, fresh, present, stamp)
        if have:
            known = [row for row in rows if row["id"] in have]
            present = list(dict.fromkeys(chain.from_iterable(dict.fromkeys(map(tuple, known)))))
            stage = self._stage(table, present, known)
            columns = list(self._columns[table])
            self._conn.execute(_upsert_sql(target, sql.Identifier(stage), columns, newest=True))

    def _write_fresh(
        self, fitted: dict[str, tuple[list[dict[str, Any]], dict[str, list[Any]]]], derived: _Rows, stamp: str
    ) -> None:
        """Write every row as new (a first load: no table has any of their ids; one that has raises
        UniqueViolation): COPY straight into each table (``fitted``: the rows and their values by
        column), and the ``tracks`` rows of ``derived`` (by event table) copied from their event
        table's rows, just written, by the server."""
        tables = sorted(fitted, key=lambda t: t == "tracks")  # tracks last: it copies from the others
        for table in tables:
            rows, values = fitted[table]
            present = list(values)
            if table == "tracks" and derived and self._shared:
                # Loaders of several write these rows themselves: the server is then the one resource
                # they all share, and copying a row costs it an index look-up per row (measured at
                # 200k messages over two connections: 10% less CPU in all, the server's by a third).
                # With the values fitted for their event table, not fitted again.
                rows, values = _with_derived(rows, values, derived, fitted)
                present = list(values)
                derived = {}
            elif table == "tracks" and derived:  # the columns of all its rows, as one COPY would have
                copied = chain.from_iterable(chain.from_iterable(derived.values()))
                present = list(dict.fromkeys(chain(present, copied)))
            if rows:
                self._copy(self._copy_statement(table, present), table, rows, present, stamp, values)
            if table == "tracks":
                self._tail.extend(self._derive_statement(source, trows, present) for source, trows in derived.items())

    def _derive_statement(self, source: str, rows: list[dict[str, Any]], columns: list[str]) -> bytes:
        """The tracks ``rows`` of the rows of event table ``source`` copied by the server from those:
        ``INSERT INTO tracks (columns, uuid_ts) SELECT ...`` its values of the columns the rows have,
        NULL for the others (as COPY writes a row's missing columns). An upsert with the rule of
        :meth:`_write` for the ids tracks has already (every column set, NULL where the row has none,
        as from its staging table), so that it cannot fail on one: it goes with the batch's last
        statements, after the check that COPY makes."""
        from psycopg import sql

        have = set(chain.from_iterable(rows))
        given = set(columns)
        update = [c for c in self._columns["tracks"] if c != "id"]
        ids = sql.Literal(orjson.dumps([row["id"] for row in rows]).decode()).as_bytes(self._conn)
        shape = (source, tuple(columns), tuple(c in have for c in columns), tuple(update))  # all but the ids
        head = self._statement(
            ("derive-head", *shape),
            lambda: sql.SQL(
                "INSERT INTO {} AS t ({}, uuid_ts) SELECT {}, now() FROM {} e JOIN json_array_elements_text("
            ).format(
                self._ident("tracks"),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(
                    sql.SQL("e.{}").format(sql.Identifier(c)) if c in have else sql.SQL("NULL") for c in columns
                ),
                self._ident(source),
            ),
        )

        def tail() -> Any:
            new = {c: sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in update if c in given or c == "uuid_ts"}
            value = [new.get(c, sql.SQL("NULL")) for c in update]
            compared = [(c, v) for c, v in zip(update, value, strict=True) if c != "uuid_ts"]
            return sql.SQL(
                "::json) AS u(id) ON e.id = u.id "
                "ON CONFLICT (id) DO UPDATE SET ({}) = ROW({}) WHERE "
                "COALESCE(t.received_at, '-infinity') <= COALESCE({}, '-infinity') AND ROW({}) IS DISTINCT FROM ROW({})"
            ).format(
                sql.SQL(", ").join(map(sql.Identifier, update)),
                sql.SQL(", ").join(value),
                new.get("received_at", sql.SQL("NULL::timestamptz")),
                sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c, _ in compared),
                sql.SQL(", ").join(v for _, v in compared),
            )

        return head + ids + self._statement(("derive-tail", *shape), tail)

    def _copy_statement(self, table: str, columns: list[str]) -> bytes:
        from psycopg import sql

        return self._statement(
            ("copy", table, *columns),
            lambda: sql.SQL("COPY {} ({}, uuid_ts) FROM STDIN").format(
                self._ident(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            ),
        )

    def _copy(
        self,
        statement: Any,
        table: str,
        rows: list[dict[str, Any]],
        columns: list[str],
        stamp: str | None,
        values: dict[str, list[Any]] | None = None,
    ) -> None:
        """COPY ``rows`` (the values of ``columns`` of ``table``, then ``stamp`` if given; ``values``:
        theirs by column when known) in blocks of COPY text made by :func:`_copy_text`: the server
        works on a block while the next one is made."""
        encoding = self._conn.info.encoding
        known = self._columns[table]
        types = [known[c] for c in columns]
        with self._conn.cursor() as cur, cur.copy(statement) as copy:
            for start in range(0, len(rows), _COPY_BLOCK):
                end = start + _COPY_BLOCK
                block = None if values is None else {c: v[start:end] for c, v in values.items()}
                text = _copy_text(rows[start:end], columns, types, stamp, block, self._clean)
                copy.write(text.encode(encoding))

    def _statement(self, key: tuple[Any, ...], build: Callable[[], Any]) -> bytes:
        """A statement composed once (composing identifiers costs more than running the statement
        for a small table)."""
        query = self._statements.get(key)
        if query is None:
            if len(self._statements) > 10_000:
                self._statements.clear()
            query = self._statements[key] = build().as_bytes(self._conn)
        return query

    def _store_discards(self, discards: list[Discard]) -> None:
        from psycopg import sql

        columns = ["table_name", "row_id", "column_name", "column_value", "received_at", "reason"]
        values = ((d.table, d.row_id, d.column, d.value, d.received_at, d.reason) for d in discards)
        rows = [{c: v for c, v in zip(columns, row) if v is not None} for row in values]  # a missing one is NULL
        stage = self._stage(DISCARDS_TABLE, columns, rows)
        self._tail.append(
            sql.SQL(
                "INSERT INTO {table} AS d ({columns}, uuid_ts) SELECT {columns}, now() FROM {stage} "
                "ON CONFLICT (table_name, row_id, column_name) DO UPDATE SET "
                "column_value = EXCLUDED.column_value, received_at = EXCLUDED.received_at, "
                "uuid_ts = EXCLUDED.uuid_ts, reason = EXCLUDED.reason "
                "WHERE COALESCE(d.received_at, '-infinity') <= COALESCE(EXCLUDED.received_at, '-infinity')"
            )
            .format(
                table=self._ident(DISCARDS_TABLE),
                stage=sql.Identifier(stage),
                columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            )
            .as_bytes(self._conn)
        )

    def _merge_users(self, user_ids: list[str]) -> None:
        """Recompute ``users`` rows for the user ids of this batch's identifies: per trait column the
        latest non-null value over all their identifies (latest: ``timestamp``, ``received_at``, ``id``
        descending; ``COLLATE "C"`` so ties break as in Python). One of the batch's last statements."""
        from psycopg import sql

        traits = [c for c in self._columns["users"] if c not in USERS_COLUMNS]
        order = sql.SQL('i."timestamp" DESC NULLS LAST, i.received_at DESC NULLS LAST, i.id COLLATE "C" DESC')
        picks = [
            sql.SQL("(array_agg(i.{c} ORDER BY {order}) FILTER (WHERE i.{c} IS NOT NULL))[1]").format(
                c=sql.Identifier(c), order=order
            )
            for c in traits
        ]
        select = sql.SQL(
            "SELECT i.user_id, (array_agg(i.received_at ORDER BY {order}))[1], now(){picks} FROM {identifies} i "
            "WHERE i.user_id = ANY({ids}::text[]) GROUP BY i.user_id"
        ).format(
            order=order,
            picks=sql.SQL("").join(sql.SQL(", ") + p for p in picks),
            identifies=self._ident("identifies"),
            ids=sql.Literal(user_ids),
        )
        columns = ["id", "received_at", "uuid_ts", *traits]
        if user_ids and self._shared:  # another loader may be merging the same users: one at a time,
            # each merge then reads the identifies the other committed (its own statement, its snapshot)
            self._tail.append(
                sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}))")
                .format(sql.Literal(f"cdp replay users {self.schema}"))
                .as_bytes(self._conn)
            )
        if user_ids:
            self._tail.append(_upsert_sql(self._ident("users"), select, columns, newest=False).as_bytes(self._conn))

    def _store_checkpoint(self, progress: Progress, dead: list[int]) -> None:
        """The checkpoint, as one of the batch's last statements (committed with its rows). A loader of
        several stores its batch's span instead, as its own row (``key@lo-hi``; batches commit out of
        order, and no two loaders then write one row): :meth:`open` folds them.

        The positions of the batch's ``dead`` letters are left out of it: the runner writes them to
        the dead-letter file only once the batch is committed, so a replay killed in between must
        find them again (a resume then writes them, perhaps a second time, never none)."""
        from psycopg import sql
        from psycopg.types.json import Jsonb

        from cdp_cli.replay.checkpoint import _ranges, expand

        if self._shared and progress.span is not None:
            lo, hi = progress.span
            state: dict[str, Any] = {"span": [lo, hi]}
            if dead:
                state["except"] = sorted(dead)
            progress = Progress(f"{progress.key}@{lo}-{hi}", state)
        elif dead and "watermark" in progress.state:  # everything before the first dead letter is done
            first, watermark = min(dead), int(progress.state["watermark"])
            acked = set(expand(progress.state.get("acked", [])))
            acked.update(p for p in range(first, watermark) if p not in set(dead))
            progress = Progress(
                progress.key, {**progress.state, "watermark": min(first, watermark), "acked": _ranges(sorted(acked))}
            )
        self._tail.append(
            sql.SQL(
                "INSERT INTO {} (key, state, updated_at) VALUES ({}, {}, now()) "
                "ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at"
            )
            .format(self._ident(CHECKPOINTS_TABLE), sql.Literal(progress.key), sql.Literal(Jsonb(progress.state)))
            .as_bytes(self._conn)
        )


#: a batch laid out: acknowledged messages, dead letters, the rows of each table
_Rows = dict[str, list[dict[str, Any]]]


#: SQLSTATEs of a transaction worth running again: a deadlock, a serialization failure, an id that
#: another replay inserted between the look-up and the COPY
_TRANSIENT = frozenset({"40P01", "40001", "23505"})
_ATTEMPTS = 3


class _Turn:
    """Batch order across loader processes: ``wait(seq)`` returns once every batch before ``seq`` is
    ``done``. A batch may be done before its turn (one that brings nothing new, see
    :meth:`PostgresDestination._laid_out`): the turn then passes over it when it comes. Shared memory
    and a condition, made before the fork."""

    def __init__(self, ctx: Any) -> None:
        self._cond = ctx.Condition()
        self._next = ctx.RawValue("q", 0)
        #: done before their turn, by ``seq`` modulo the ring's size (the batches in flight are far fewer)
        self._early = ctx.RawArray("b", _TURN_RING)

    def wait(self, seq: int, idle: Callable[[], bool] | None = None) -> None:
        """Return once every batch before ``seq`` is done; meanwhile ``idle()`` is called for other
        work (True when it did some)."""
        while True:
            with self._cond:
                if self._next.value >= seq:
                    return
                if idle is None:
                    self._cond.wait(1.0)
                    continue
            if not idle():
                with self._cond:
                    if self._next.value < seq:
                        self._cond.wait(0.05)

    def done(self, seq: int) -> None:
        with self._cond:
            if seq >= self._next.value:
                self._early[seq % _TURN_RING] = 1
                while self._early[self._next.value % _TURN_RING]:
                    self._early[self._next.value % _TURN_RING] = 0
                    self._next.value += 1
            self._cond.notify_all()


#: batches a :class:`_Turn` can see done before their turn (those in flight: a few per loader)
_TURN_RING = 1 << 16


#: chunks a loader holds at once (shaped, waiting for their batches, or being loaded)
_CHUNKS_IN_FLIGHT = 3


def _loader_main(conn: Any, shaper: Callable[..., Any], args: tuple, turn: _Turn) -> None:
    """A loader process (:meth:`PostgresDestination.deliver_shaped`): requests from its pipe, in
    order. ``("shape", i, chunk)``: shape it, keep its messages, answer ``("shaped", i, records)``;
    ``("load", i, [(seq, indexes, positions, progress), ...])``: load those batches of chunk ``i``
    (``indexes``: of their records in the chunk; ``positions``: their input positions), answering
    ``("loaded", i, seq, dead letters as (position, status, reason, JSON text), checkpoint stored)``
    after each commit. A batch's commit is read while the loader does the next thing (shapes a chunk,
    lays out the next batch), or when it has nothing else to do. A failure is answered ``("error",
    exception, text)``, and the process ends."""
    import traceback

    from cdp_cli.workers import quiet_worker

    dsn, schema, password_env, batch_rows, parent = args
    quiet_worker()
    _die_with_parent(parent)
    # A loader holds two chunks of parsed messages (a million objects, none in a cycle): the cyclic
    # collector would walk them all again and again (a fifth of the loader's time, measured)
    gc.disable()
    dest: PostgresDestination | None = None
    held: dict[int, tuple[list[tuple], list[Any]]] = {}  # chunk -> its records, (rows, JSON text) of each
    #: the batch whose commit is in flight: (chunk, batch, progress, its transaction, its dead letters)
    flying: tuple[int, Batch, Progress | None, _Pending, list[DeadLetter]] | None = None

    def land() -> None:
        """Read the commit of the batch in flight and say so."""
        nonlocal flying
        assert flying is not None and dest is not None
        i, batch, progress, pending, dead = flying
        flying = None
        dest._end_shared(batch, progress, pending)
        conn.send(("loaded", i, batch.seq, [(d.message.position, d.status, d.reason, d.message.raw) for d in dead],
                   progress is not None))  # fmt: skip

    deferred: list[Any] = []  # requests read while waiting for a turn, not handled then

    def shape(request: tuple) -> None:
        _, i, chunk = request
        part = shaper(chunk, keep=True)
        conn.send(("shaped", i, part.__class__(part.records, part.problems, part.stats)))
        # its warehouse rows made now, while the parent numbers it: the batches then wait for
        # their turn (every batch waits for the one before) with less work left to do
        kept = [None if k is None else (_rows(k[0]), k[1]) for k in part.kept or ()]
        held[i] = (part.records, kept)

    def idle() -> bool:
        """While a batch waits for its turn: shape a chunk if one was sent (keep any other request
        for later, in order)."""
        if not conn.poll():
            return False
        request = conn.recv()
        if request is not None and request[0] == "shape":
            shape(request)
            return True
        deferred.append(request)
        return False

    while True:
        seqs: list[int] = []
        try:
            if flying is not None and not deferred and not conn.poll():  # nothing else to do meanwhile
                land()
            try:
                request = deferred.pop(0) if deferred else conn.recv()
            except (EOFError, OSError):  # the replay is gone
                return
            if request is None:
                return
            if request[0] == "shape":  # while the batch in flight commits
                shape(request)
                continue
            _, i, batches = request
            seqs = [seq for seq, _, _, _ in batches]
            records, kept = held.pop(i)
            if dest is None and batches:
                dest = PostgresDestination(dsn, schema=schema, password_env=password_env, batch_rows=batch_rows)
                dest._shared = True
                dest._connect()
                with dest._errors("cannot read the catalog"):
                    dest._read_catalog(None)
            for seq, indexes, positions, progress in batches:
                messages, made = [], []
                for j, p in zip(indexes, positions, strict=True):
                    file, line, index, _h, _why, mid, _n, _actions = records[j]
                    rows, raw = kept[j]
                    messages.append(Message(p, file, line, mid, index=index, raw=raw))
                    made.append(rows)
                assert dest is not None
                batch = Batch(seq, messages)
                with _gc_paused():
                    prepared = _prepare(batch, made)  # while the batch in flight commits
                    if flying is not None:
                        land()
                    pending = dest._begin_shared(batch, progress, prepared, turn, idle)
                    flying = (i, batch, progress, pending, prepared[1])
        except BaseException as e:
            for seq in seqs:
                turn.done(seq)  # a batch that failed must not hold the later ones
            text = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
            for reply in (("error", e, text), ("error", None, text)):  # the exception itself may not pickle
                try:
                    conn.send(reply)
                    break
                except Exception:  # the parent may be gone too: nothing left to tell
                    continue
            return


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so a loader never outlives a
    killed replay."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent is gone already
        os._exit(1)


@dataclass(slots=True)
class _Pending:
    """A batch whose last query is sent: its outcome once that commits, and what to say if not."""

    outcome: Outcome
    doing: str


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a stretch of the load (back on at the end, when it was
    on): a batch's rows and columns hold no cycles, and every collection walks all of them and the
    batch's messages (measured: about a tenth of the load's time, then a fortieth)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: a batch laid out: acknowledged messages, dead letters, the rows of each table, by event table the
#: tracks rows of its rows (the same dicts as in ``tracks``), and whether its JSON has no backslash
_Prepared = tuple[list[Message], list[DeadLetter], _Rows, _Rows, bool]
#: fitted tracks rows: the columns to add, the discards, the rows copied from event tables, the rows
#: Python writes and their values by column
_Fitted = tuple[dict[str, str], list[Discard], _Rows, list[dict[str, Any]], dict[str, list[Any]]]
#: a batch fitted to the tables (:meth:`PostgresDestination._layout`): by table the rows Python writes
#: and their values by column, by event table the tracks rows the server copies, the discards, the
#: tables the batch created
_Laid = tuple[dict[str, tuple[list[dict[str, Any]], dict[str, list[Any]]]], _Rows, list[Discard], set[str]]


def _with_derived(
    rows: list[dict[str, Any]],
    values: dict[str, list[Any]],
    derived: _Rows,
    fitted: dict[str, tuple[list[dict[str, Any]], dict[str, list[Any]]]],
) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    """The ``tracks`` rows a loader of several writes: ``rows`` (fitted as tracks rows; ``values``:
    theirs by column), then the tracks rows of the event tables' rows (``derived``, by event table),
    with their values by column. Those are the values fitted for the event table's rows (in the same
    order): each column of theirs has the same type in both tables (:meth:`_fit_tracks`), so fitting
    them again as tracks rows would give the same."""
    parts = [(values, len(rows)), *((fitted[table][1], len(trows)) for table, trows in derived.items())]
    columns = dict.fromkeys(chain(values, chain.from_iterable(chain.from_iterable(derived.values()))))
    by_column = {c: list(chain.from_iterable(v.get(c) or repeat(MISSING, n) for v, n in parts)) for c in columns}
    return list(chain(rows, *derived.values())), by_column


def _rows(message: Message | dict[str, Any]) -> list[tuple[str, dict[str, Any]]] | Unloadable:
    """A message's warehouse rows (:func:`rows_for`), or why it has none."""
    try:
        return rows_for(message)
    except Unloadable as e:
        return e


def _prepare(batch: Batch, made: list[Any] | None = None) -> _Prepared:
    """A batch's rows by table, the newest copy of each messageId only (``ON CONFLICT DO UPDATE``
    cannot see an id twice in one statement): the newer ``received_at``, on a tie the later message.
    Messages with no place in the schema are dead letters. A batch whose JSON has no backslash has no
    string value with a character that COPY text must escape (JSON escapes them all). ``made``: the
    messages' rows made already (:func:`_rows`, in the messages' order)."""
    acked: list[Message] = []
    dead: list[DeadLetter] = []
    newest: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for message, rows in zip(batch.messages, made or map(_rows, batch.messages), strict=True):
        if type(rows) is not list:
            dead.append(DeadLetter(message, "rejected", str(rows)))
            continue
        acked.append(message)
        mid = rows[0][1]["id"]
        seen = newest.get(mid)
        if seen is None or _received(rows) >= _received(seen):
            newest[mid] = rows
    by_table: _Rows = {}
    pairs: _Rows = {}
    for rows in newest.values():
        for table, row in rows:
            by_table.setdefault(table, []).append(row)
        if len(rows) == 2:  # a track with an event name: its tracks row and its event table's
            pairs.setdefault(rows[1][0], []).append(rows[0][1])
    clean = b"\\" not in b"".join(m.raw for m in batch.messages)
    return acked, dead, by_table, pairs, clean


#: rows per block of COPY text: enough to make the per-column work cheap, few enough that the server
#: starts on a table's rows while the rest are being made
_COPY_BLOCK = 2000
#: column types whose values (as fit_rows leaves them) are not strings: written as ``str(value)``
_NOT_TEXT = frozenset({"bigint", "numeric", "boolean"})


def _copy_text(
    rows: list[dict[str, Any]],
    columns: list[str],
    types: list[str],
    stamp: str | None,
    values: dict[str, list[Any]] | None = None,
    clean: bool = False,
) -> str:
    """``rows`` in COPY's text format: per line the values of ``columns`` (of column ``types``),
    ``\\N`` where a row has none, then ``stamp`` when given, separated by tabs. ``values``: the rows'
    values by column with :data:`MISSING` where a row has none (:func:`fit_columns`), when known.

    Rows hold strings, and ints, floats and bools for the columns of those types (as
    :func:`cdp_cli.replay.warehouse.fit_rows` leaves them), written as ``str(value)`` (psycopg's text
    too, but for a bool's True/False, which PostgreSQL reads as well). Made column by column, with no
    Python code run per value (psycopg's ``write_row`` costs several microseconds a row): a column's
    values (:data:`MISSING`, a string, is ``\\N`` already) are joined into lines. A value that needs
    escaping holds a backslash, tab, newline, carriage return (or NUL, which PostgreSQL refuses): none
    can when the batch's JSON has no backslash (``clean``: JSON escapes them all). Else the text is
    checked by counting those characters and, when a count is off, made again with the columns that
    have such values escaped value by value."""
    n = len(rows)
    cols: list[list[Any]] = []
    for column in columns:
        if values is None:
            cols.append(list(map(dict.get, rows, repeat(column), repeat(MISSING))))
        else:
            cols.append(values.get(column) or [MISSING] * n)
    texts = [list(map(str, col)) if kind in _NOT_TEXT else col for col, kind in zip(cols, types, strict=True)]
    if stamp is not None:
        texts.append([stamp] * n)
    try:
        text = "\n".join(map("\t".join, zip(*texts)))
    except TypeError:  # a value that is not a string where strings were expected
        texts = [list(map(str, col)) for col in texts]
        text = "\n".join(map("\t".join, zip(*texts)))
    if clean:
        return text + "\n"
    nulls = len(columns) * n - sum(map(len, rows))  # a row's keys are among the columns
    if (
        text.count("\\") == nulls
        and "\r" not in text
        and "\x00" not in text
        and text.count("\t") == (len(texts) - 1) * n
        and text.count("\n") == n - 1
    ):
        return text + "\n"
    for k, col in enumerate(cols):
        strs = texts[k]
        joined = "".join(strs)
        if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
            texts[k] = ["\\N" if v is MISSING else _escape(s) for v, s in zip(col, strs, strict=True)]
    return "\n".join(map("\t".join, zip(*texts))) + "\n"


def _escape(text: str) -> str:
    """A value in COPY's text format (a NUL character is left as it is: PostgreSQL refuses it, as it
    would from psycopg)."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    return text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _received(rows: list[tuple[str, dict[str, Any]]]) -> datetime:
    """A message's ``received_at`` (the oldest possible when missing or invalid)."""
    return parse_timestamp(rows[0][1].get("received_at")) or _OLDEST


def _upsert_sql(target: Any, source: Any, columns: list[str], *, newest: bool) -> Any:
    """``INSERT INTO target (columns) SELECT ... ON CONFLICT (id) DO UPDATE`` every column, unless the
    stored row is newer by ``received_at`` (``newest``) or is the same apart from ``uuid_ts`` (a rerun
    then writes nothing). ``source`` is a staging table (``uuid_ts`` is set to the load time) or a
    query giving ``columns`` in order."""
    from psycopg import sql

    ident = sql.Identifier
    if isinstance(source, sql.Identifier):
        select = sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL("now()") if c == "uuid_ts" else ident(c) for c in columns), source
        )
    else:
        select = source
    update = [c for c in columns if c != "id"]
    compare = [c for c in update if c != "uuid_ts"]
    conditions: list[Any] = [
        sql.SQL("ROW({}) IS DISTINCT FROM ROW({})").format(
            sql.SQL(", ").join(sql.SQL("t.{}").format(ident(c)) for c in compare),
            sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(ident(c)) for c in compare),
        )
    ]
    if newest:
        conditions.insert(
            0, sql.SQL("COALESCE(t.received_at, '-infinity') <= COALESCE(EXCLUDED.received_at, '-infinity')")
        )
    return sql.SQL("INSERT INTO {} AS t ({}) {} ON CONFLICT (id) DO UPDATE SET ({}) = ROW({}) WHERE {}").format(
        target,
        sql.SQL(", ").join(map(ident, columns)),
        select,
        sql.SQL(", ").join(map(ident, update)),
        sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(ident(c)) for c in update),
        sql.SQL(" AND ").join(conditions),
    )
