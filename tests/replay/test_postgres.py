"""The PostgreSQL replay destination against a real, throwaway server (``pg_server``, tests/pg.py):
Segment's tables per messageId, idempotent reruns and overlaps, newest copy wins, discards for type
conflicts, new columns, the users merge, the checkpoint committed with its batch, a batch killed
half-way leaving nothing, dead letters, and no password in labels or errors."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest

from cdp_cli.replay.destination import Batch, DestinationError, Message, Outcome, Progress
from cdp_cli.replay.postgres import PostgresDestination
from cdp_cli.replay.warehouse import fit_rows, rows_for, users_rows
from tests.conftest import run_cdp

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")


@pytest.fixture(scope="module")
def dsn(pg_server) -> str:
    from tests.pg import fresh_database

    return fresh_database(pg_server, "replay_postgres")


@pytest.fixture(scope="module")
def sample_log(tmp_path_factory) -> list[dict]:
    path = tmp_path_factory.mktemp("samples") / "events.ndjson"
    r = run_cdp("samples", "generate", "--events", "2000", "--seed", "7", "-o", str(path), "--force")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def schema(request) -> str:
    return "t_" + request.node.name.replace("[", "_").replace("]", "")[:50].lower()


def _messages(datas: Iterable[dict], start: int = 0) -> list[Message]:
    return [
        Message(position=start + i, file="log.ndjson", line=start + i + 1, message_id=str(d.get("messageId") or ""),
                data=d, size=len(json.dumps(d)))
        for i, d in enumerate(datas)
    ]  # fmt: skip


def _load(dsn: str, schema: str, batches: list[list[Message]], key: str = "replay-1", **kw) -> list[Outcome]:
    dest = PostgresDestination(dsn, schema=schema, **kw)
    dest.open(key)
    try:
        outcomes = list(
            dest.deliver((Batch(i, b), Progress(key, {"next": b[-1].position + 1})) for i, b in enumerate(batches))
        )
    except BaseException:
        dest.close(False)
        raise
    dest.close(True)
    return outcomes


def _query(dsn: str, sql: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def _ids(dsn: str, schema: str, table: str) -> list[str]:
    return [r[0] for r in _query(dsn, f'SELECT id FROM "{schema}"."{table}" ORDER BY id')]


def _columns(dsn: str, schema: str, table: str) -> dict[str, str]:
    rows = _query(
        dsn,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        [schema, table],
    )
    return dict(rows)


def _track(mid: str, received: str, event: str = "Order Completed", **props) -> dict:
    return {"type": "track", "event": event, "messageId": mid, "userId": "u1", "timestamp": received,
            "receivedAt": received, "properties": props}  # fmt: skip


def _expected_ids(datas: list[dict]) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {}
    for d in datas:
        try:
            rows = rows_for(d)
        except ValueError:
            continue
        for table, row in rows:
            expected.setdefault(table, set()).add(row["id"])
    return expected


def _tables(dsn: str, schema: str) -> set[str]:
    return {r[0] for r in _query(dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                                 [schema])}  # fmt: skip


# --- the sample log ---------------------------------------------------------------------------------------
def test_sample_log_lands_in_segments_tables_once_per_message_id(dsn, schema, sample_log):
    messages = _messages(sample_log)
    outcomes = _load(dsn, schema, [messages[i : i + 300] for i in range(0, len(messages), 300)])
    assert [o.batch.seq for o in outcomes] == list(range(7))
    assert sum(len(o.acked) + len(o.dead) for o in outcomes) == len(messages)
    assert all(o.checkpoint_stored and not o.dead for o in outcomes)
    expected = _expected_ids(sample_log)
    assert {"tracks", "identifies", "pages", "screens"} <= expected.keys()
    assert _tables(dsn, schema) == expected.keys() | {"users", "cdp_discards", "cdp_replay_checkpoints"}
    for table, ids in expected.items():
        assert _ids(dsn, schema, table) == sorted(ids), table
    users = users_rows(row for d in sample_log if d["type"] == "identify" for _, row in rows_for(d))
    assert _ids(dsn, schema, "users") == sorted(u["id"] for u in users)
    columns = _columns(dsn, schema, "tracks")
    assert columns["id"] == "text" and columns["received_at"] == "timestamp with time zone"
    assert columns["uuid_ts"] == "timestamp with time zone" and "context_ip" in columns
    assert "anonymous_id" not in _columns(dsn, schema, "users")
    [(nulls,)] = _query(dsn, f'SELECT count(*) FROM "{schema}".tracks WHERE uuid_ts IS NULL OR event IS NULL')
    assert nulls == 0


def test_rerun_and_overlap_never_duplicate_and_an_identical_rerun_rewrites_nothing(dsn, schema, sample_log):
    messages = _messages(sample_log)
    _load(dsn, schema, [messages[:1200]])
    _load(dsn, schema, [messages[800:1400], messages[1400:]])  # overlaps the first load
    expected = _expected_ids(sample_log)
    for table, ids in expected.items():
        assert _ids(dsn, schema, table) == sorted(ids), table
    before = dict(_query(dsn, f'SELECT id, uuid_ts FROM "{schema}".tracks'))
    _load(dsn, schema, [messages[i : i + 500] for i in range(0, len(messages), 500)])  # a full rerun
    for table, ids in expected.items():
        assert _ids(dsn, schema, table) == sorted(ids), table
    assert dict(_query(dsn, f'SELECT id, uuid_ts FROM "{schema}".tracks')) == before


def test_newest_copy_of_an_id_wins_within_a_batch_and_across_batches(dsn, schema):
    old = _track("m1", "2026-11-01T00:00:00Z", total=1)
    new = _track("m1", "2026-11-02T00:00:00Z", total=2)
    _load(dsn, schema, [_messages([new, old])])  # the newer copy first: still wins
    assert _query(dsn, f'SELECT total FROM "{schema}".order_completed') == [(2,)]
    _load(dsn, schema, [_messages([old])])  # an older copy later does not replace it
    assert _query(dsn, f'SELECT total FROM "{schema}".order_completed') == [(2,)]
    fixed = _track("m1", "2026-11-02T00:00:00Z", total=3, note="fixed by a transform")
    _load(dsn, schema, [_messages([fixed])])  # the same received_at: the later load wins
    assert _query(dsn, f'SELECT total, note FROM "{schema}".order_completed') == [(3, "fixed by a transform")]
    assert _query(dsn, f'SELECT count(*) FROM "{schema}".tracks') == [(1,)]


# --- columns and types ------------------------------------------------------------------------------------
def test_a_type_conflict_goes_to_cdp_discards_and_keeps_the_value(dsn, schema):
    _load(dsn, schema, [_messages([_track("m1", "2026-11-01T00:00:00Z", revenue=10, coupon="c")])])
    _load(dsn, schema, [_messages([_track("m2", "2026-11-02T00:00:00Z", revenue="lots", coupon=5)])])
    assert _columns(dsn, schema, "order_completed")["revenue"] == "bigint"
    rows = _query(dsn, f'SELECT id, revenue, coupon FROM "{schema}".order_completed ORDER BY id')
    assert rows == [("m1", 10, "c"), ("m2", None, "5")]  # a number into a text column is stringified
    discards = _query(
        dsn,
        f"SELECT table_name, row_id, column_name, column_value, reason, received_at IS NOT NULL, "
        f'uuid_ts IS NOT NULL FROM "{schema}".cdp_discards',
    )
    assert discards == [("order_completed", "m2", "revenue", "lots", "text value in bigint column", True, True)]
    _load(dsn, schema, [_messages([_track("m2", "2026-11-02T00:00:00Z", revenue="lots", coupon=5)])])
    assert len(_query(dsn, f'SELECT * FROM "{schema}".cdp_discards')) == 1  # a rerun does not repeat it


def test_a_new_property_adds_a_typed_column(dsn, schema):
    _load(dsn, schema, [_messages([_track("m1", "2026-11-01T00:00:00Z", revenue=10)])])
    assert "shipped_at" not in _columns(dsn, schema, "order_completed")
    second = _track("m2", "2026-11-02T00:00:00Z", revenue=2.5, shippedAt="2026-11-03T10:00:00Z", express=True)
    _load(dsn, schema, [_messages([second])])
    columns = _columns(dsn, schema, "order_completed")
    assert columns["shipped_at"] == "timestamp with time zone" and columns["express"] == "boolean"
    rows = _query(dsn, f'SELECT id, revenue, express FROM "{schema}".order_completed ORDER BY id')
    assert rows == [("m1", 10, None), ("m2", None, True)]  # revenue is bigint: 2.5 is a discard
    assert _query(dsn, f'SELECT column_value FROM "{schema}".cdp_discards') == [("2.5",)]


def test_columns_beyond_postgresqls_limit_are_discarded(dsn, schema):
    wide = _track("m1", "2026-11-01T00:00:00Z", event="Wide", **{f"p{i:04d}": "v" for i in range(1600)})
    _load(dsn, schema, [_messages([wide])])
    assert len(_columns(dsn, schema, "wide")) == 1600
    [(n, reason)] = _query(dsn, f'SELECT count(*), min(reason) FROM "{schema}".cdp_discards GROUP BY reason')
    assert n == 10 and "1600 columns" in reason  # the 10 base columns come first


def test_values_copy_text_must_escape_round_trip(dsn, schema):
    odd = ["tab\there", "line\nbreak", "carriage\rreturn", "back\\slash", "\\N", "x\\Ny", "", "plain"]
    plain = [_track(f"p{i}", "2026-11-01T00:00:00Z", note=f"plain {i}") for i in range(3)]
    tricky = [_track(f"m{i}", "2026-11-01T00:00:00Z", note=v, page={"title": v}) for i, v in enumerate(odd)]
    _load(dsn, schema, [_messages(plain), _messages(tricky + plain[:1])])  # a batch without backslashes, one with
    rows = _query(
        dsn, f'SELECT id, note, page_title FROM "{schema}".order_completed WHERE id LIKE %s ORDER BY id', ["m%"]
    )
    assert rows == [(f"m{i}", v, v) for i, v in enumerate(odd)]  # "\\N" is text, not NULL


def test_tracks_rows_are_fitted_as_tracks_rows_when_an_event_table_types_a_column_otherwise(dsn, schema):
    def track(mid, event, foo):
        return {**_track(mid, "2026-11-01T00:00:00Z", event=event), "context": {"foo": foo}}

    no_event = {"type": "track", "messageId": "m5", "receivedAt": "2026-11-01T00:00:00Z", "context": {"foo": 7}}
    datas = [
        track("m1", "Alpha", 5),
        track("m2", "Beta", "five"),
        track("m3", "Beta", 6),
        track("m4", "Alpha", "x"),
        no_event,
    ]
    _load(dsn, schema, [_messages(datas)])
    rows = [row for d in datas for table, row in rows_for(d) if table == "tracks"]
    _, expected = fit_rows("tracks", rows, {})  # the pure rule: context_foo is bigint in tracks (its first value)
    assert _columns(dsn, schema, "tracks")["context_foo"] == "bigint"
    assert _columns(dsn, schema, "beta")["context_foo"] == "text"
    assert _query(dsn, f'SELECT id, context_foo FROM "{schema}".tracks ORDER BY id') == [
        ("m1", 5), ("m2", None), ("m3", 6), ("m4", None), ("m5", 7)
    ]  # fmt: skip
    stored = _query(
        dsn,
        f"SELECT row_id, column_name, column_value, reason FROM \"{schema}\".cdp_discards WHERE table_name = 'tracks'",
    )
    assert sorted(stored) == sorted((d.row_id, d.column, d.value, d.reason) for d in expected)
    assert len(stored) == 2


def test_a_message_loaded_again_under_another_event_updates_its_tracks_row_by_the_newest_rule(dsn, schema):
    first = _track("m1", "2026-11-01T00:00:00Z", event="Order Completed")
    _load(dsn, schema, [_messages([first])])
    renamed = _track("m1", "2026-11-02T00:00:00Z", event="Order Placed")  # newer: wins in tracks
    older = _track("m1", "2026-10-01T00:00:00Z", event="Order Lost")  # older: tracks keeps the newer
    _load(dsn, schema, [_messages([renamed]), _messages([older])])
    assert _query(dsn, f'SELECT id, event FROM "{schema}".tracks') == [("m1", "order_placed")]
    for table in ("order_completed", "order_placed", "order_lost"):  # each event table has its copy
        assert _ids(dsn, schema, table) == ["m1"]


# --- users --------------------------------------------------------------------------------------------------
def test_users_hold_the_latest_non_null_trait_whatever_the_load_order(dsn, schema):
    def identify(mid, ts, **traits):
        return {"type": "identify", "messageId": mid, "userId": "u1", "anonymousId": "a1", "timestamp": ts,
                "receivedAt": ts, "traits": traits}  # fmt: skip

    t2 = identify("i2", "2026-11-02T00:00:00Z", plan="pro")
    t1 = identify("i1", "2026-11-01T00:00:00Z", plan="free", name="Ann")
    t3 = identify("i3", "2026-11-03T00:00:00Z", email="ann@example.com")
    anonymous = {"type": "identify", "messageId": "i0", "anonymousId": "a2", "traits": {"plan": "anon"}}
    _load(dsn, schema, [_messages([t2]), _messages([t1, anonymous])])
    _load(dsn, schema, [_messages([t3])])
    rows = _query(dsn, f'SELECT id, plan, name, email, received_at IS NOT NULL FROM "{schema}".users')
    assert rows == [("u1", "pro", "Ann", "ann@example.com", True)]
    assert "anonymous_id" not in _columns(dsn, schema, "users")
    assert _ids(dsn, schema, "identifies") == ["i0", "i1", "i2", "i3"]


# --- checkpoints and failures -----------------------------------------------------------------------------
def test_the_checkpoint_is_committed_with_its_batch_and_returned_by_open(dsn, schema):
    outcomes = _load(dsn, schema, [_messages([_track("m1", "2026-11-01T00:00:00Z")])], key="k1")
    assert outcomes[0].checkpoint_stored and [m.message_id for m in outcomes[0].acked] == ["m1"]
    dest = PostgresDestination(dsn, schema=schema)
    assert dest.open("k1") == {"next": 1}
    dest.close(True)
    dest = PostgresDestination(dsn, schema=schema)
    assert dest.open("another replay") is None
    dest.close(True)


def test_a_batch_killed_half_way_leaves_neither_rows_nor_checkpoint(dsn, schema, monkeypatch):
    first = _messages([_track("m1", "2026-11-01T00:00:00Z")])
    second = _messages([_track("m2", "2026-11-02T00:00:00Z", event="Brand New", x=1)], start=1)
    dest = PostgresDestination(dsn, schema=schema)
    dest.open("k")
    outcomes = dest.deliver(
        [(Batch(0, first), Progress("k", {"next": 1})), (Batch(1, second), Progress("k", {"next": 2}))]
    )
    assert next(outcomes).checkpoint_stored
    store = dest._store_checkpoint

    def killed_before_the_checkpoint(progress, *rest):  # the rows of batch 1 are written by now
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [dest._conn.info.backend_pid])
        store(progress, *rest)

    monkeypatch.setattr(dest, "_store_checkpoint", killed_before_the_checkpoint)
    with pytest.raises(DestinationError) as error:
        next(outcomes)
    dest.close(False)
    assert str(error.value).startswith(dest.label + ": batch 1 not loaded")
    assert _ids(dsn, schema, "tracks") == ["m1"] and "brand_new" not in _tables(dsn, schema)
    again = PostgresDestination(dsn, schema=schema)
    assert again.open("k") == {"next": 1}
    again.close(True)


def test_messages_without_a_place_are_dead_lettered(dsn, schema):
    good = _track("m1", "2026-11-01T00:00:00Z")
    no_id = {"type": "track", "event": "E"}
    odd = {"type": "extract", "messageId": "m3"}
    [outcome] = _load(dsn, schema, [_messages([good, no_id, odd])])
    assert [m.message_id for m in outcome.acked] == ["m1"]
    assert [(d.message.position, d.status) for d in outcome.dead] == [(1, "rejected"), (2, "rejected")]
    assert "messageId" in outcome.dead[0].reason and "extract" in outcome.dead[1].reason


def test_a_table_cdp_did_not_create_is_refused(dsn, schema):
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".tracks (id text, note text)')
    with pytest.raises(DestinationError, match="without a primary key on id"):
        _load(dsn, schema, [_messages([_track("m1", "2026-11-01T00:00:00Z")])])


# --- secrets ------------------------------------------------------------------------------------------------
def test_the_label_and_errors_never_show_the_password(monkeypatch):
    from tests.pg import free_port

    port = free_port()  # nothing listens there
    dest = PostgresDestination(f"postgresql://loader:s3cret-pw@127.0.0.1:{port}/warehouse?sslmode=disable")
    assert dest.label == f"postgresql://loader@127.0.0.1:{port}/warehouse?sslmode=disable"
    assert dest.kind == "postgresql"
    assert dest.transactional and dest.limits.max_messages == 10000 and dest.limits.max_bytes == 64 * 1024 * 1024
    with pytest.raises(DestinationError) as error:
        dest.open("k")
    message = str(error.value)
    assert "s3cret-pw" not in message and "127.0.0.1" in message and "warehouse" in message
    dest = PostgresDestination(f"postgresql://loader@127.0.0.1:{port}/warehouse", password_env="CDP_TEST_PG_PASSWORD")
    monkeypatch.delenv("CDP_TEST_PG_PASSWORD", raising=False)
    with pytest.raises(DestinationError, match="CDP_TEST_PG_PASSWORD"):
        dest.open("k")
    monkeypatch.setenv("CDP_TEST_PG_PASSWORD", "hunter2-pw")
    with pytest.raises(DestinationError) as error:
        dest.open("k")
    assert "hunter2-pw" not in str(error.value)
    with pytest.raises(DestinationError, match="postgresql://"):
        PostgresDestination("mysql://x@y/z")
    quoted = PostgresDestination("postgresql://u:p%40ss@db.example/w?password=other&application_name=cdp")
    assert quoted.label == "postgresql://u@db.example/w?application_name=cdp"
    assert {"p%40ss", "p@ss", "other"} <= set(quoted._secrets)


def test_batch_rows_sets_the_limits(dsn):
    assert PostgresDestination(dsn, batch_rows=250).limits.max_messages == 250


# --- loading over several connections -------------------------------------------------------------------
def _messy_log(n: int = 4400, batch: int = 40) -> list[dict]:
    """A log whose batches (of ``batch`` messages) race when loaded at once: each pair of batches
    brings the same new property first as an integer, then as text (so which batch adds the column
    decides its type and the discards), pairs straddling the input chunks the loaders are given
    (2,000 lines: batches 49 and 50 of 40 messages, 39 and 40 of 50); one user's identifies spread
    over every batch, their times out of order; duplicates, messages with no place, values COPY must
    escape; columns that tracks and the event tables share with values refused or made to fit."""
    out: list[dict] = []
    for i in range(n):
        k = i // batch
        ts = f"2026-11-{1 + (i * 7) % 28:02d}T{i % 24:02d}:00:{i % 60:02d}Z"
        if i % 97 == 5:
            out.append({"type": "extract", "messageId": f"x{i}"})
        elif i % 50 == 49:
            out.append(dict(out[i - 30]))  # a duplicate messageId
        elif i % 6 == 0:
            traits = {"tier": f"tier{k}", f"seen_{k % 4}": i if k % 2 else str(i), "name": None if i % 12 else f"N{i}"}
            out.append({"type": "identify", "messageId": f"i{i}", "userId": f"u{i // 6 % 3}", "timestamp": ts,
                        "receivedAt": ts, "traits": traits})  # fmt: skip
        else:
            props = {f"q{(k + 1) // 2}": i if k % 2 else f"text {i}", "amount": i / 4 if i % 5 else "n/a",
                     "note": "tab\there\\and\nnewline" if i % 31 == 0 else f"plain {i}"}  # fmt: skip
            # common columns (tracks has them too) with values that do not fit or are made to fit
            context = {"build": i if i % 9 else f"b{i}", "label": f"L{i}" if i % 11 else True}
            out.append({"type": "track", "event": f"Event {i % 4}", "messageId": f"t{i}", "userId": f"u{i % 3}",
                        "timestamp": ts, "receivedAt": ts, "sentAt": ts if i % 13 else "not a time",
                        "context": context, "properties": props})  # fmt: skip
    return out


def _dump(dsn: str, schema: str) -> dict[str, tuple[list[tuple], list[str]]]:
    """Every table of ``schema`` but the checkpoints: its columns (in order, typed) and its rows as
    JSON without ``uuid_ts`` (the load time), sorted."""
    out = {}
    for (table,) in _query(dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]):
        if table == "cdp_replay_checkpoints":
            continue
        columns = _query(dsn, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
                         "AND table_name = %s ORDER BY ordinal_position", [schema, table])  # fmt: skip
        rows = _query(dsn, f'SELECT (to_jsonb(x) - \'uuid_ts\')::text FROM "{schema}"."{table}" x ORDER BY 1')
        out[table] = (columns, [r[0] for r in rows])
    return out


def _replay(path, dsn: str, schema: str, *args: str):
    """The replay, run in the log's directory (where its default dead-letter file goes)."""
    return run_cdp("events", "replay", str(path), "--to", dsn, "--schema", schema, "--format", "json", "-q", *args,
                   cwd=path.parent)  # fmt: skip


def test_two_connections_load_the_tables_one_connection_loads(dsn, tmp_path):
    log = tmp_path / "messy.ndjson"
    log.write_text("".join(json.dumps(d) + "\n" for d in _messy_log()))
    one = _replay(log, dsn, "conn_one", "--connections", "1", "--batch-size", "40")
    two = _replay(log, dsn, "conn_two", "--connections", "2", "--batch-size", "40", "--checkpoint", str(tmp_path / "c"))
    assert one.returncode == two.returncode == 1, (one.stderr, two.stderr)  # the messages with no place
    s1, s2 = json.loads(one.stdout), json.loads(two.stdout)
    assert s1["sent"] == s2["sent"] > 1400 and s1["dropped"] == s2["dropped"] and s1["dropped"]["duplicate"] > 25
    assert s1["dead_lettered"] == s2["dead_lettered"] and s1["dead_lettered"]["rejected"] > 10
    first, second = _dump(dsn, "conn_one"), _dump(dsn, "conn_two")
    assert first.keys() == second.keys() and "event_0" in first
    for table in first:
        assert first[table] == second[table], table  # columns in the same order, typed alike; the same rows
    discards = first["cdp_discards"][1]
    refused = {(d["table_name"], d["column_name"]) for d in map(json.loads, discards)}
    # q25: batch 49 (the first loader's last) brings it as an integer, batch 50 (the second's first) as
    # text: the second loader's batch must wait for its turn, else it makes a text column
    assert ["q25", "bigint"] in [list(c) for c in first["event_1"][0]] and ("event_1", "q25") in refused
    assert {("tracks", "context_build"), ("tracks", "sent_at"), ("event_1", "sent_at")} <= refused
    assert any(json.loads(row).get("context_label") == "true" for row in first["tracks"][1])  # made to fit: text
    [(users,)] = _query(dsn, 'SELECT count(*) FROM "conn_two".users')
    assert users == 3
    # the spans the batches stored are folded by the next open: one state, everything done
    spans = [state["span"] for key, state in _query(dsn, 'SELECT key, state FROM "conn_two".cdp_replay_checkpoints')
             if "@" in key]  # fmt: skip
    assert len(spans) == s2["batches"] and sorted(spans)[-1][1] == len(_messy_log())
    args = ("--connections", "2", "--batch-size", "40", "--checkpoint", str(tmp_path / "c"))
    again = _replay(log, dsn, "conn_two", *args)
    assert json.loads(again.stdout)["sent"] == 0 and json.loads(again.stdout)["resumed"] == len(_messy_log())
    # the stored state: every position but the dead letters' (the runner writes those to the dead-letter
    # file after the commit; a kill in between must find them again); the checkpoint file has them
    [(state,)] = _query(dsn, 'SELECT state FROM "conn_two".cdp_replay_checkpoints')
    done = set(range(state["watermark"])) | {p for lo, hi in state["acked"] for p in range(lo, hi + 1)}
    ids = [d["messageId"] for d in _messy_log()]
    dead = {p for p, d in enumerate(_messy_log()) if d["type"] == "extract" and ids.index(d["messageId"]) == p}
    assert done == set(range(len(ids))) - dead and len(dead) == s1["dead_lettered"]["rejected"]
    assert _dump(dsn, "conn_two") == second
    # without the checkpoint every id is there already: each batch's first write fails, and its rows go
    # through the staging tables and the newest-wins merge (tracks rows fitted as tracks rows): no change
    over = _replay(log, dsn, "conn_two", *args[:4], "--dead-letter", str(tmp_path / "d"))
    assert over.returncode == 1 and json.loads(over.stdout)["sent"] == s2["sent"], over.stderr
    assert _dump(dsn, "conn_two") == second


def _backends(dsn: str) -> int:
    """Connections to the test database other than this one (the loaders of a replay)."""
    [(n,)] = _query(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")  # fmt: skip
    return n


def test_killed_with_sigkill_over_two_connections_then_resumed_ends_like_one_uninterrupted_run(dsn, tmp_path):
    """The replay is killed with SIGKILL at random points, several times, while two loaders commit
    batches out of order; each time its loaders die with it (no connection is left), and the same
    command resumes. The end state is the tables of one uninterrupted run over one connection."""
    import random
    import signal
    import subprocess
    import sys
    import time

    log = tmp_path / "messy.ndjson"
    log.write_text("".join(json.dumps(d) + "\n" for d in _messy_log(6000, batch=50)))
    assert _replay(log, dsn, "kill_one", "--connections", "1", "--batch-size", "50").returncode == 1
    command = [sys.executable, "-m", "cdp_cli", "events", "replay", str(log), "--to", dsn, "--schema", "kill_two",
               "--connections", "2", "--batch-size", "50", "--checkpoint", str(tmp_path / "ckpt"), "-q"]  # fmt: skip
    rng = random.Random(12)
    kills = 0
    for _ in range(3):  # killed at a random point once its loaders are loading, three times
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _backends(dsn) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.1, 0.8))
        if proc.poll() is not None:  # it finished first (a fast machine): nothing to kill
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        deadline = time.monotonic() + 10
        while _backends(dsn) and time.monotonic() < deadline:  # the loaders die with the replay
            time.sleep(0.05)
        assert _backends(dsn) == 0
    done = subprocess.run(command, capture_output=True, timeout=300)  # the same command, to the end
    # 1 when this last run dead-lettered messages, 0 when an earlier one wrote them all
    assert done.returncode in (0, 1), done.stderr.decode()[-2000:]
    assert kills >= 2
    assert _dump(dsn, "kill_two") == _dump(dsn, "kill_one")
    dead = [json.loads(line) for line in (tmp_path / "ckpt.dead-letters.ndjson").read_text().splitlines()]
    assert {d["messageId"] for d in dead} == {d["messageId"] for d in _messy_log(6000, 50) if d["type"] == "extract"}


def test_a_loader_whose_connection_dies_stops_the_replay_with_a_clear_error_and_a_rerun_resumes(dsn, tmp_path):
    """Mid-replay, the server ends every loader's connection (an administrator, a failover): the
    replay stops with exit 2 and a one-line reason naming the batch, no traceback; the same command
    then finishes, with the tables of one uninterrupted run."""
    import subprocess
    import sys
    import time

    log = tmp_path / "messy.ndjson"
    log.write_text("".join(json.dumps(d) + "\n" for d in _messy_log(6000, batch=50)))
    assert _replay(log, dsn, "cut_one", "--connections", "1", "--batch-size", "50").returncode == 1
    command = [sys.executable, "-m", "cdp_cli", "events", "replay", str(log), "--to", dsn, "--schema", "cut_two",
               "--connections", "2", "--batch-size", "50", "--checkpoint", str(tmp_path / "ckpt"), "-q"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while _backends(dsn) < 2 and time.monotonic() < deadline:  # both loaders connected
        time.sleep(0.02)
    time.sleep(0.3)
    _query(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
           "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")  # fmt: skip
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "not loaded (rolled back, nothing of it stored)" in err and "Traceback" not in err, err
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert again.returncode in (0, 1), again.stderr
    assert _dump(dsn, "cut_two") == _dump(dsn, "cut_one")


def test_several_connections_need_de_duplication(tmp_path):
    log = tmp_path / "log.ndjson"
    log.write_text(json.dumps(_track("m1", "2026-11-01T00:00:00Z")) + "\n")
    r = run_cdp("events", "replay", str(log), "--to", "postgresql://nobody@127.0.0.1:1/x", "--no-dedup",
                "--connections", "2", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 2 and "--connections above 1 needs de-duplication" in r.stderr, r.stderr
    r = run_cdp("events", "replay", str(log), "--to", "postgresql://nobody@127.0.0.1:1/x", "--connections", "-1",
                cwd=tmp_path)  # fmt: skip
    assert r.returncode == 2 and "--connections" in r.stderr, r.stderr
