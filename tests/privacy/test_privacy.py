"""``cdp privacy delete`` and ``cdp privacy scan`` (cdp_cli/privacy/): people removed from plain, gzip and
zstd logs and from batch lines, widened to whole resolved profiles, the profiles directory rebuilt and still
readable, a real PostgreSQL warehouse cleaned table by table, a resumable status file, a suppression list
that ``events replay --suppress`` reads, a dry run that changes nothing, reports without a single removed
value, and the scan's inventory by key and value with locations and no values."""

from __future__ import annotations

import gzip
import json
import typing
from pathlib import Path

import pytest

from cdp_cli import api
from cdp_cli.errors import OutputError, UsageError
from cdp_cli.fsutil import STAMP, check_replaceable
from cdp_cli.privacy.delete import SUPPRESS_HEADER, DeleteOptions, delete
from cdp_cli.privacy.scan import ScanOptions, scan
from tests.conftest import run_cdp

T = "2026-11-02T10:00:00Z"


def _m(mid: str, kind: str = "track", **fields) -> dict:
    msg = {"type": kind, "messageId": mid, "timestamp": T, "receivedAt": T, "sentAt": T, **fields}
    if kind == "track":
        msg.setdefault("event", "Order Completed")
    return msg


#: Ada is the person to forget: a-ada and a-ada2 (a second device, linked by her email) are hers
ADA_VALUES = ("u-ada", "a-ada", "a-ada2", "ada@example.com", "Ada@Example.com", "10.1.2.3")
LINES = [
    _m("m-b1", userId="u-bob", anonymousId="a-bob", properties={"total": 7}),
    _m("m-b2", "identify", userId="u-bob", anonymousId="a-bob", traits={"email": "bob@example.com", "plan": "pro"}),
    _m("m-a1", "page", anonymousId="a-ada", name="Home", context={"ip": "10.1.2.3"}),
    _m("m-a2", "identify", userId="u-ada", anonymousId="a-ada", traits={"email": "Ada@Example.com", "plan": "free"}),
    _m("m-a3", userId="u-ada", properties={"total": "lots"}),  # a type conflict: a value in cdp_discards
    _m("m-a4", anonymousId="a-ada2", context={"traits": {"email": "ada@example.com"}}),
    {"batch": [_m("m-a5", anonymousId="a-ada"), _m("m-b3", userId="u-bob")], "sentAt": T},
    _m("m-a6", "alias", userId="u-ada", previousId="a-ada"),
    _m("m-c1", userId="u-cy", properties={"total": 3}),
]
RAW_LINES = [
    *[json.dumps(m) for m in LINES],
    '{"type": "track", "userId": "u-ada", "messageId": "m-a7"',  # cut short: nobody's, but it names Ada
    "garbage that is not json",
]
ADA_ALL = {"m-a1", "m-a2", "m-a3", "m-a4", "m-a5", "m-a6"}
ADA_BY_USER_ID = {"m-a2", "m-a3", "m-a6"}  # without profiles: only what names u-ada
OTHERS = {"m-b1", "m-b2", "m-b3", "m-c1"}


def _text() -> str:
    return "\n".join(RAW_LINES) + "\n"


def _write_logs(directory: Path) -> dict[str, Path]:
    """The log as plain, gzip and zstd files, and a file with none of Ada's messages."""
    import zstandard

    directory.mkdir(parents=True, exist_ok=True)
    data = _text().encode()
    paths = {
        "plain": directory / "a.ndjson",
        "gzip": directory / "b.ndjson.gz",
        "zstd": directory / "c.ndjson.zst",
        "clean": directory / "d.ndjson",
    }
    paths["plain"].write_bytes(data)
    paths["gzip"].write_bytes(gzip.compress(data))
    paths["zstd"].write_bytes(zstandard.ZstdCompressor().compress(data))
    paths["clean"].write_text(json.dumps(_m("m-c2", userId="u-cy")) + "\n")
    return paths


def _ids(path: Path) -> list[str]:
    """The messageIds of a log, read by cdp's reader (batch messages included)."""
    from cdp_cli.events.reader import iter_records

    return [r.msg["messageId"] for r in iter_records([path])]


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*")) if p.is_file()
    }


def _report_text(result) -> str:
    """Everything a report can show: summary, tables, verdict, findings, warnings."""
    parts = [json.dumps(result.summary(), default=str), result.verdict()]
    parts += [json.dumps(t.as_dict(), default=str) for t in result.tables()]
    parts += [json.dumps(f.to_dict(), default=str) for f in result.findings]
    parts += result.warnings()
    return "\n".join(parts)


@pytest.fixture
def resolved(tmp_path: Path) -> Path:
    """The log resolved into profiles (by the real command): Ada's profile holds u-ada, a-ada, a-ada2, her email."""
    log = tmp_path / "resolve-input.ndjson"
    log.write_text(_text())
    out = tmp_path / "profiles"
    r = run_cdp("profiles", "resolve", str(log), "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


# --- event files ------------------------------------------------------------------------------------------
def test_plain_gzip_and_zstd_files_lose_the_persons_messages_and_keep_their_compression(tmp_path):
    paths = _write_logs(tmp_path / "logs")
    clean_before = paths["clean"].stat()
    result = delete(DeleteOptions(inputs=[tmp_path / "logs"], user_ids=["u-ada"]))

    by_name = {Path(f.name).name: f for f in result.files_list}
    for kind in ("plain", "gzip", "zstd"):
        assert sorted(_ids(paths[kind])) == sorted((ADA_ALL - ADA_BY_USER_ID) | OTHERS), kind
        outcome = by_name[paths[kind].name]
        assert (outcome.status, outcome.removed, outcome.unparsed, outcome.mentions) == ("rewritten", 3, 2, 1)
        assert outcome.compression == {"plain": "none", "gzip": "gzip", "zstd": "zstd"}[kind]
    assert paths["gzip"].read_bytes()[:2] == b"\x1f\x8b"
    assert paths["zstd"].read_bytes()[:4] == b"\x28\xb5\x2f\xfd"
    # the rest is kept byte for byte, unparsable lines included; a file with none of them is not touched
    kept = paths["plain"].read_text().splitlines()
    assert kept == [ln for ln in RAW_LINES if not any(f'"messageId": "{m}"' in ln for m in ADA_BY_USER_ID)]
    assert kept[-2:] == RAW_LINES[-2:]
    assert by_name["d.ndjson"].status == "clean"
    after = paths["clean"].stat()
    assert (after.st_ino, after.st_mtime_ns) == (clean_before.st_ino, clean_before.st_mtime_ns)
    # without --profiles only the given identifier: the report says so, and the failing-nothing verdict
    assert any("without --profiles" in n for n in result.notes)
    assert result.removed == 9 and not result.failed() and result.failed(strict=True)  # strict: a line names Ada
    assert [f.code for f in result.findings] == ["EV002"] * 3 and {f.line for f in result.findings} == {10}


def test_a_batch_line_loses_the_persons_messages_and_keeps_the_rest(tmp_path):
    log = tmp_path / "batch.ndjson"
    ada = '{"type": "track", "event": "X", "anonymousId": "a-ada", "messageId": "1"}'
    bob = '{"type": "track", "event": "X", "userId": "u-bob", "messageId": "2"}'
    log.write_bytes(
        f'{{"batch": [{ada}, {bob}], "writeKey": "k"}}\r\n'.encode()
        + b'{"batch": [{"type": "track", "event": "X", "userId": "u-ada", "messageId": "3"}]}\n'
        + b'{"batch": [{"type": "track", "event": "X", "userId": "u-bob", "messageId": "4"}]}\n'
    )
    result = delete(
        DeleteOptions(inputs=[log], user_ids=["u-ada"], identifiers=_ids_file(tmp_path, "anonymous_id:a-ada"))
    )
    lines = log.read_bytes().split(b"\n")
    assert json.loads(lines[0]) == {
        "batch": [{"type": "track", "event": "X", "userId": "u-bob", "messageId": "2"}],
        "writeKey": "k",
    }
    assert lines[0].endswith(b"\r")  # CRLF kept on an edited line
    assert lines[1] == b'{"batch": [{"type": "track", "event": "X", "userId": "u-bob", "messageId": "4"}]}'
    assert _ids(log) == ["2", "4"]  # the batch left empty is gone whole
    [outcome] = result.files_list
    assert (outcome.removed, outcome.batch_lines) == (2, 1)


def _ids_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "request.txt"
    path.write_text("# a privacy request\n" + "\n".join(lines) + "\n")
    return path


def test_a_file_that_cannot_be_read_to_its_end_is_left_alone_and_fails_the_run(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    whole = gzip.compress(_text().encode())
    (logs / "cut.ndjson.gz").write_bytes(whole[: len(whole) - 12])  # a truncated stream
    before = (logs / "cut.ndjson.gz").read_bytes()
    result = delete(DeleteOptions(inputs=[logs], user_ids=["u-ada"]))
    [outcome] = result.files_list
    assert outcome.status == "failed" and "EV006" in outcome.reason
    assert (logs / "cut.ndjson.gz").read_bytes() == before
    assert result.failed() and not result.complete and "could not be checked" in result.verdict()


# --- resolved profiles ------------------------------------------------------------------------------------
def test_profiles_widen_the_request_to_linked_ids_and_are_rewritten_readable_without_the_person(tmp_path, resolved):
    paths = _write_logs(tmp_path / "logs")
    manifest_before = json.loads((resolved / "manifest.json").read_text())
    result = delete(DeleteOptions(inputs=[paths["plain"], paths["zstd"]], user_ids=["u-ada"], profiles=resolved))

    assert result.expanded and result.profiles_found == 1
    assert result.identifiers == {"anonymous_id": 2, "email": 1, "user_id": 1}
    for kind in ("plain", "zstd"):  # the anonymous ids and the email linked to u-ada went too
        assert sorted(_ids(paths[kind])) == sorted(OTHERS)
    assert result.profiles_status == "rewritten"
    assert result.profiles_removed["profiles.parquet"] == 1 and result.profiles_removed["identities.parquet"] == 4
    assert result.profiles_removed["events.parquet"] == len(ADA_ALL)

    import pyarrow.parquet as pq

    events = pq.read_table(resolved / "events.parquet").column("message_id").to_pylist()
    assert set(events) == OTHERS
    values = pq.read_table(resolved / "identities.parquet").column("value").to_pylist()
    assert not set(values) & set(ADA_VALUES) and "u-bob" in values
    # the directory is still cdp's (its stamp matches), and its manifest counts follow
    check_replaceable(resolved, "profiles")
    assert sorted(p.name for p in resolved.iterdir()) == sorted(
        [STAMP, "manifest.json", "profiles.parquet", "identities.parquet", "events.parquet", "merges.parquet"]
    )
    manifest = json.loads((resolved / "manifest.json").read_text())
    assert manifest["counts"]["profiles"] == manifest_before["counts"]["profiles"] - 1
    assert manifest["counts"]["events"] == manifest_before["counts"]["events"] - len(ADA_ALL)
    assert manifest["privacy_deletions"]["requests"] == 1
    # `cdp profiles show` reads it: Ada is gone, Bob is there
    gone = run_cdp("profiles", "show", "user_id:u-ada", "--profiles", str(resolved))
    assert gone.returncode == 2 and "no such identifier" in gone.stderr
    bob = run_cdp("profiles", "show", "user_id:u-bob", "--profiles", str(resolved))
    assert bob.returncode == 0 and "bob@example.com" in bob.stdout
    # a re-run cannot bring her back: nothing of hers is left to find
    again = delete(DeleteOptions(inputs=[paths["plain"]], user_ids=["u-ada"], profiles=resolved))
    assert again.profiles_found == 0 and again.removed == 0 and again.profiles_status == "none of them"


def test_the_identifiers_file_is_read_like_a_suppression_list(tmp_path, resolved):
    paths = _write_logs(tmp_path / "logs")
    request = _ids_file(tmp_path, "email: ADA@example.com ")  # normalised as identity resolution does
    result = delete(DeleteOptions(inputs=[paths["plain"]], identifiers=request, profiles=resolved))
    assert result.requested == {"email": 1} and sorted(_ids(paths["plain"])) == sorted(OTHERS)


def test_requests_that_cannot_be_meant_are_refused(tmp_path):
    paths = _write_logs(tmp_path / "logs")
    for kw, words in (
        ({"user_ids": []}, "name the people"),
        ({"user_ids": ["null"]}, "can never match"),
        ({"identifiers": _ids_file(tmp_path, "group_id:acme")}, "account, not a person"),
    ):
        with pytest.raises(UsageError, match=words):
            delete(DeleteOptions(inputs=[paths["plain"]], **kw))
    with pytest.raises(UsageError, match="name where"):
        delete(DeleteOptions(user_ids=["u-ada"]))
    with pytest.raises(UsageError, match="standard input"):
        delete(DeleteOptions(inputs=["-"], user_ids=["u-ada"]))
    with pytest.raises(UsageError, match="is one of the inputs"):
        delete(DeleteOptions(inputs=[paths["plain"]], user_ids=["u-ada"], status=paths["plain"]))
    assert paths["plain"].read_text() == _text()


# --- resumable ----------------------------------------------------------------------------------------------
def test_a_status_file_resumes_after_a_partial_run_and_an_interruption(tmp_path):
    logs = tmp_path / "logs"
    for i in range(4):
        _write_logs(logs / f"part{i}")
        for extra in ("b.ndjson.gz", "c.ndjson.zst", "d.ndjson"):
            (logs / f"part{i}" / extra).unlink()
    status = tmp_path / "request.status.json"
    options = DeleteOptions(inputs=[logs], user_ids=["u-ada"], status=status)

    first = delete(DeleteOptions(**{**options.__dict__, "max_files": 1}))  # a large archive in several runs
    assert [f.status for f in first.files_list] == ["rewritten", "not reached", "not reached", "not reached"]
    assert first.failed() and "3 files left" in first.verdict()
    data = json.loads(status.read_text())
    assert len(data["files"]) == 1 and not data["complete"]

    class Stop(Exception):
        pass

    def stop_after_one(progress) -> None:  # an interruption after the next file is finished
        raise Stop

    with pytest.raises(Stop):
        delete(options, observer=stop_after_one)
    assert len(json.loads(status.read_text())["files"]) == 2

    last = delete(options)
    assert [f.status for f in last.files_list] == ["done earlier", "done earlier", "rewritten", "rewritten"]
    assert last.complete and not last.failed() and json.loads(status.read_text())["complete"]
    for i in range(4):
        assert sorted(_ids(logs / f"part{i}" / "a.ndjson")) == sorted((ADA_ALL - ADA_BY_USER_ID) | OTHERS)
    # the status file holds no identifier, and belongs to this request only
    assert not any(v in status.read_text() for v in ADA_VALUES)
    with pytest.raises(UsageError, match="another privacy request"):
        delete(DeleteOptions(inputs=[logs], user_ids=["u-bob"], status=status))
    # a file changed since it was finished is checked again
    (logs / "part0" / "a.ndjson").write_text(json.dumps(_m("m-a9", userId="u-ada")) + "\n")
    again = delete(options)
    assert [f.status for f in again.files_list] == ["rewritten", "done earlier", "done earlier", "done earlier"]


def test_a_foreign_status_file_is_never_replaced(tmp_path):
    paths = _write_logs(tmp_path / "logs")
    notes = tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    with pytest.raises(OutputError, match="not a status file"):
        delete(DeleteOptions(inputs=[paths["plain"]], user_ids=["u-ada"], status=notes))
    assert notes.read_text() == '{"mine": true}\n' and paths["plain"].read_text() == _text()


# --- suppression ----------------------------------------------------------------------------------------------
def test_the_suppression_list_is_read_by_replay_and_merged_on_the_next_request(tmp_path, resolved):
    paths = _write_logs(tmp_path / "logs")
    original = tmp_path / "original.ndjson"
    original.write_text(_text())
    suppressed = tmp_path / "suppressed.txt"
    result = delete(
        DeleteOptions(inputs=[paths["plain"]], user_ids=["u-ada"], profiles=resolved, suppress_out=suppressed)
    )
    assert suppressed.read_text().startswith(SUPPRESS_HEADER)
    assert result.suppress_added == result.suppress_total == 4  # u-ada, her email, a-ada, a-ada2

    out = tmp_path / "replayed.ndjson"
    r = run_cdp(
        "events", "replay", str(original), "--to", f"file:{out}", "--suppress", str(suppressed), "--format", "json",
        "--dead-letter", str(tmp_path / "dead.ndjson"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    sent = {json.loads(line)["messageId"] for line in out.read_text().splitlines()}
    assert sent == OTHERS  # without profiles: the list itself holds every identifier of hers

    before = suppressed.read_text()
    second = delete(DeleteOptions(inputs=[paths["plain"]], user_ids=["u-cy"], suppress_out=suppressed))
    assert second.suppress_added == 1 and second.suppress_total == 5
    assert suppressed.read_text().startswith(before) and "user_id:u-cy" in suppressed.read_text()
    # the list is also a request: giving it back finds Ada again (nothing of hers is left)
    third = delete(DeleteOptions(inputs=[paths["plain"]], identifiers=suppressed, suppress_out=suppressed))
    assert third.suppress_added == 0 and third.removed == 0

    foreign = tmp_path / "theirs.txt"
    foreign.write_text("u-1\n")
    with pytest.raises(OutputError, match="not written by cdp"):
        delete(DeleteOptions(inputs=[paths["plain"]], user_ids=["u-ada"], suppress_out=foreign))
    assert foreign.read_text() == "u-1\n"


# --- reports and dry runs -------------------------------------------------------------------------------------
def test_the_report_never_holds_a_removed_value(tmp_path, resolved):
    paths = _write_logs(tmp_path / "logs")
    result = delete(
        DeleteOptions(
            inputs=[tmp_path / "logs"],
            user_ids=["u-ada"],
            profiles=resolved,
            status=tmp_path / "s.json",
            suppress_out=tmp_path / "sup.txt",
        )
    )
    text = _report_text(result)
    assert result.removed == 3 * len(ADA_ALL) and "u-ada" not in repr(result.summary())
    for value in ADA_VALUES:
        assert value not in text, value
    assert "user_id" in text and str(paths["plain"]) in text  # types and files are named
    assert not any(v in (tmp_path / "s.json").read_text() for v in ADA_VALUES)


def test_a_dry_run_counts_the_same_and_changes_nothing(tmp_path, resolved):
    _write_logs(tmp_path / "logs")
    before = _snapshot(tmp_path)
    options = DeleteOptions(
        inputs=[tmp_path / "logs"],
        user_ids=["u-ada"],
        profiles=resolved,
        status=tmp_path / "s.json",
        suppress_out=tmp_path / "sup.txt",
    )
    dry = delete(DeleteOptions(**{**options.__dict__, "dry_run": True}))
    assert _snapshot(tmp_path) == before
    assert not (tmp_path / "s.json").exists() and not (tmp_path / "sup.txt").exists()
    assert [f.status for f in dry.files_list] == ["would rewrite"] * 3 + ["clean"]
    assert dry.profiles_status == "would rewrite" and "would remove" in dry.verdict()
    real = delete(options)
    assert (dry.removed, dry.profiles_removed, dry.suppress_added) == (
        real.removed,
        real.profiles_removed,
        real.suppress_added,
    )


# --- the warehouse ----------------------------------------------------------------------------------------------
def _query(dsn: str, sql: str, params: list | None = None) -> list[tuple]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return conn.execute(sql, params).fetchall()


def _rows(dsn: str, schema: str) -> dict[str, set[str]]:
    """Every table's ids (and the row_id of every discard)."""
    tables = [
        t
        for (t,) in _query(dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        if t != "cdp_replay_checkpoints"
    ]
    out = {}
    for t in tables:
        column = "row_id" if t == "cdp_discards" else "id"
        out[t] = {r[0] for r in _query(dsn, f'SELECT {column} FROM "{schema}"."{t}"')}
    return out


def test_a_warehouse_loaded_by_replay_loses_the_persons_rows_and_keeps_the_others(tmp_path, resolved, pg_server):
    from tests.pg import fresh_database

    dsn = fresh_database(pg_server, "privacy_delete")
    log = tmp_path / "log.ndjson"
    log.write_text(_text())
    r = run_cdp(
        "events", "replay", str(log), "--to", dsn, "--schema", "wh", "--dead-letter", str(tmp_path / "dead.ndjson"),
        cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    loaded = _rows(dsn, "wh")
    assert {"m-a3", "m-b1", "m-c1"} <= loaded["order_completed"] and "u-ada" in loaded["users"]
    assert "m-a3" in loaded["cdp_discards"]  # Ada's "lots" did not fit Bob's number column

    options = DeleteOptions(user_ids=["u-ada"], profiles=resolved, warehouse=dsn, schema="wh")
    dry = delete(DeleteOptions(**{**options.__dict__, "dry_run": True}))
    assert _rows(dsn, "wh") == loaded
    result = delete(options)
    assert result.warehouse_rows == dry.warehouse_rows and result.warehouse_discards == dry.warehouse_discards == 1
    after = _rows(dsn, "wh")
    for table, ids in after.items():
        assert not ids & (ADA_ALL | {"u-ada"}), table
        assert ids == loaded[table] - ADA_ALL - {"u-ada"}, table  # everyone else's rows are kept
    assert {"m-b1", "m-b3", "m-c1"} <= after["tracks"] and after["users"] == {"u-bob"}
    removed = sum(len(loaded[t] - after[t]) for t in loaded if t != "cdp_discards")
    assert sum(result.warehouse_rows.values()) == removed
    [(emails,)] = _query(dsn, "SELECT count(*) FROM wh.identifies WHERE lower(email) = %s", ["ada@example.com"])
    assert emails == 0
    assert "postgresql://" in (result.warehouse or "") and not any(v in _report_text(result) for v in ADA_VALUES)
    again = delete(options)  # idempotent
    assert sum(again.warehouse_rows.values()) == 0


def test_without_profiles_the_warehouse_is_matched_on_the_given_identifiers_columns(tmp_path, pg_server):
    from tests.pg import fresh_database

    dsn = fresh_database(pg_server, "privacy_delete_direct")
    log = tmp_path / "log.ndjson"
    log.write_text(_text())
    r = run_cdp("events", "replay", str(log), "--to", dsn, "--dead-letter", str(tmp_path / "dead.ndjson"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    loaded = _rows(dsn, "cdp")
    result = delete(DeleteOptions(identifiers=_ids_file(tmp_path, "email:ADA@example.com"), warehouse=dsn))
    after = _rows(dsn, "cdp")
    # the email is read where replay put it: identifies.email (m-a2) and context_traits_email (m-a4)
    assert loaded["identifies"] - after["identifies"] == {"m-a2"}
    assert loaded["tracks"] - after["tracks"] == {"m-a4"}
    assert result.warehouse_rows["users"] == 1 and "u-ada" not in after["users"]  # users.email too


# --- scan -----------------------------------------------------------------------------------------------------
def test_scan_inventories_personal_data_by_key_and_value_with_locations_and_no_values(tmp_path):
    log = tmp_path / "log.ndjson"
    extra = [
        _m("m-x1", userId="u-bob", properties={"note": "call +1 415-555-0100 or mail bob@example.com"}),
        _m("m-x2", userId="u-bob", properties={"items": [{"owner_email": "x@y.example.org"}]}),
        _m("m-x3", userId="u-bob", properties={"bob@example.com": 1}),  # personal data as a key
    ]
    log.write_text(_text() + "".join(json.dumps(m) + "\n" for m in extra))
    result = scan(ScanOptions(inputs=[log]))
    rows = {(e.path, e.cls, e.by): e for e in result.entries}
    assert rows[("$.userId", "user_id", "key")].count == 10  # batch messages included
    assert rows[("$.traits.email", "email", "key")].count == 2
    assert rows[("$.traits.email", "email", "value")].examples == [(str(log), 2), (str(log), 4)]
    assert ("$.context.ip", "ip", "value") in rows and ("$.context.traits.email", "email", "value") in rows
    assert {("$.properties.note", c, "value") for c in ("phone", "email")} <= rows.keys()
    assert ("$.properties.items[*].owner_email", "email", "key") in rows
    assert ("$.properties[(withheld)]", "email", "key name") in rows
    assert ("$.messageId", "user_id", "key") not in rows and not any(p == "$.timestamp" for p, _, _ in rows)
    assert result.skipped == 2 and not result.failed() and result.failed(strict=True)
    codes = {f.code for f in result.findings}
    assert {"PI001", "PI002", "PI005"} <= codes
    text = "\n".join(
        [json.dumps(result.summary()), result.verdict(), *(json.dumps(t.as_dict()) for t in result.tables())]
        + [json.dumps(f.to_dict()) for f in result.findings]
    )
    for value in ("u-ada", "u-bob", "a-ada", "ada@example.com", "bob@example.com", "10.1.2.3", "415-555-0100"):
        assert value not in text, value
    assert f"{log}:2" in text


def test_scan_reads_compressed_logs_and_caps_the_inventory(tmp_path):
    paths = _write_logs(tmp_path / "logs")
    result = scan(ScanOptions(inputs=[paths["gzip"], paths["zstd"]], keep=2, examples=1))
    assert len(result.entries) == 2 and result.overflow > 0
    assert all(len(e.examples) == 1 for e in result.entries)


# --- the command line (once cdp_cli/api.py has the wrappers and cli/app.py the sub-app) ---------------------------
def _registered() -> bool:
    from cdp_cli.cli.app import app

    return hasattr(api, "privacy_delete") and any(g.name == "privacy" for g in app.registered_groups)


needs_cli = pytest.mark.skipif(
    not _registered(), reason="the privacy commands are not registered yet (cdp_cli/api.py, cdp_cli/cli/app.py)"
)


def test_every_option_has_help_with_an_example():
    from cdp_cli.cli import privacy as cli

    assert {c.name for c in cli.app.registered_commands} == {"delete", "scan"}
    for command in cli.app.registered_commands:
        hints = typing.get_type_hints(command.callback, include_extras=True)
        for name, hint in hints.items():
            if name == "return":
                continue
            helps = [m.help for m in getattr(hint, "__metadata__", ()) if hasattr(m, "help")]
            assert helps and "Example:" in (helps[0] or ""), (command.name, name)
        assert "Example" in (command.callback.__doc__ or ""), command.name


@needs_cli
def test_the_commands_run_and_report_without_values(tmp_path, resolved):
    paths = _write_logs(tmp_path / "logs")
    r = run_cdp(
        "privacy", "delete", str(tmp_path / "logs"), "--user-id", "u-ada", "--profiles", str(resolved),
        "--suppress-out", str(tmp_path / "sup.txt"), "--status", str(tmp_path / "s.json"), "--format", "json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["command"] == "privacy delete" and report["summary"]["files"]["messages_removed"] == 18
    assert not any(v in r.stdout + r.stderr for v in ADA_VALUES)
    assert sorted(_ids(paths["gzip"])) == sorted(OTHERS)
    s = run_cdp("privacy", "scan", str(tmp_path / "logs"), "--format", "sarif", "-o", str(tmp_path / "p.sarif"))
    assert s.returncode == 0, s.stderr
    sarif = json.loads((tmp_path / "p.sarif").read_text())
    assert {res["ruleId"] for res in sarif["runs"][0]["results"]} >= {"PI001"}
