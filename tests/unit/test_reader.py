"""The event reader: every input form, every malformed-input failure mode, exact counts."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from cdp_cli.errors import InputError
from cdp_cli.events.reader import ReadStats, discover, iter_chunks, iter_records, parse_chunk, parse_slices
from tests.conftest import ROOT

MSG = {"type": "track", "event": "Order Completed", "userId": "u1"}


def line(i: int) -> bytes:
    return json.dumps({**MSG, "messageId": f"m{i}"}).encode()


def read(paths, **kw):
    stats = ReadStats()
    problems = []
    records = list(iter_records(paths, stats=stats, problems=problems.append, **kw))
    return records, problems, stats


def test_plain_gzip_multimember_and_zstd_read_the_same(tmp_path):
    import zstandard

    body = b"\n".join(line(i) for i in range(5000)) + b"\n"
    (tmp_path / "a.ndjson").write_bytes(body)
    half = len(body) // 2
    cut = body.rindex(b"\n", 0, half) + 1
    (tmp_path / "b.ndjson.gz").write_bytes(gzip.compress(body[:cut]) + gzip.compress(body[cut:]))  # two members
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
    for name in ("a.ndjson", "b.ndjson.gz", "c.jsonl.zst"):
        records, problems, stats = read([tmp_path / name])
        assert [r.msg["messageId"] for r in records] == [f"m{i}" for i in range(5000)], name
        assert [r.line for r in records[:3]] == [1, 2, 3]
        assert problems == [] and stats.lines == 5000 and stats.messages == 5000


def test_directory_walk_is_recursive_sorted_and_skips_other_files(tmp_path):
    # a Segment S3 export tree: segment-logs/<source>/<day>/<file>.gz
    for day, n in (("1732060800000", 2), ("1731974400000", 1)):
        d = tmp_path / "segment-logs" / "src1" / day
        d.mkdir(parents=True)
        for k in range(n):
            (d / f"{k}.gz").write_bytes(gzip.compress(line(int(day[:4]) + k) + b"\n"))
    (tmp_path / "segment-logs" / "README.txt").write_text("not events")
    (tmp_path / "segment-logs" / ".hidden.ndjson").write_bytes(b"garbage\n")
    sources = discover([tmp_path / "segment-logs"])
    assert [os.path.relpath(s.name, tmp_path) for s in sources] == [
        "segment-logs/src1/1731974400000/0.gz",
        "segment-logs/src1/1732060800000/0.gz",
        "segment-logs/src1/1732060800000/1.gz",
    ]


def test_globs_stdin_and_missing_inputs(tmp_path):
    (tmp_path / "x.ndjson").write_bytes(line(1) + b"\n")
    (tmp_path / "y.ndjson").write_bytes(line(2) + b"\n")
    assert len(discover([str(tmp_path / "*.ndjson")])) == 2
    assert len(discover([tmp_path, str(tmp_path / "*.ndjson")])) == 2  # the same file once
    with pytest.raises(InputError, match="no such file or directory"):
        discover([tmp_path / "nope.ndjson"])
    with pytest.raises(InputError, match="no file matches"):
        discover([str(tmp_path / "*.gz")])
    code = "import sys; from cdp_cli.events.reader import iter_records\nprint(sum(1 for _ in iter_records(['-'])))"
    for data in (line(1) + b"\n" + line(2) + b"\n", gzip.compress(line(1) + b"\n")):
        r = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, cwd=ROOT)
        assert r.stdout.strip() in (b"2", b"1"), r.stderr


def test_every_malformed_line_is_reported_counted_and_the_rest_is_read(tmp_path):
    rows = [
        b"\xef\xbb\xbf" + line(1) + b"\r",  # 1 BOM and CRLF: fine
        b"",  # 2 blank
        b"   ",  # 3 blank
        b'{"type": "track",}',  # 4 invalid JSON
        b'{"type":"track","event":"Caf\xe9"}',  # 5 invalid UTF-8
        b"[1, 2]",  # 6 not an object
        b'{"total": NaN}',  # 7 NaN
        b'{"total": Infinity}',  # 8 Infinity
        b'"just a string"',  # 9 not an object
        line(10),  # 10 fine
        b'{"a": "' + b"x" * 300 + b'"}',  # 11 over the cap
        line(12),  # 12 fine, no final newline
    ]
    (tmp_path / "bad.ndjson").write_bytes(b"\n".join(rows))
    records, problems, stats = read([tmp_path / "bad.ndjson"], max_line_bytes=200)
    assert [r.line for r in records] == [1, 10, 12]
    assert [(p.line, p.code) for p in problems] == [
        (4, "EV002"),
        (5, "EV001"),
        (6, "EV003"),
        (7, "EV004"),
        (8, "EV004"),
        (9, "EV003"),
        (11, "EV005"),
    ]
    assert problems[0].column == 18 and problems[1].column == 29
    assert stats.lines == 12 and stats.blank == 2 and stats.parsed == 3
    assert sum(stats.skipped.values()) == 7
    assert stats.lines == stats.blank + stats.parsed + sum(stats.skipped.values())


@pytest.mark.parametrize("step", [1, 2, 3, 5, 200])
def test_parsing_in_slices_gives_what_one_parse_gives(tmp_path, step):
    """The reader parses a chunk a slice at a time (cache-hot): every record, problem (the byte
    stage's too) and count must be what one parse of the whole chunk gives, in the same order."""
    rows = [line(1), b"[1]", b"", b'{"a": "' + b"x" * 300 + b'"}', line(5), b'{"batch": [' + line(6) + b", 3]}"]
    rows += [b'{"bad": ' + b"x" * 300 + b"}"] + [line(n) for n in range(8, 20)] + [b'{"x": "' + b"z" * 400 + b'"}']
    (tmp_path / "m.ndjson").write_bytes(b"\n".join(rows))
    (chunk,) = list(iter_chunks(discover([tmp_path / "m.ndjson"]), max_line_bytes=200, stats=ReadStats()))
    whole_stats, sliced_stats = ReadStats(), ReadStats()
    records, problems = parse_chunk(chunk, whole_stats, keep_raw=True)
    got_records, got_problems = [], []
    for rs, ps in parse_slices(chunk, sliced_stats, keep_raw=True, step=step):
        got_records += rs
        got_problems += ps
    assert [(r.line, r.index, r.msg, r.raw) for r in got_records] == [(r.line, r.index, r.msg, r.raw) for r in records]
    assert [(p.line, p.code, p.column) for p in got_problems] == [(p.line, p.code, p.column) for p in problems]
    assert {(p.line, p.code) for p in problems} >= {(2, "EV003"), (4, "EV005"), (7, "EV005"), (20, "EV005")}
    assert sliced_stats.as_dict() == whole_stats.as_dict()


def test_a_line_longer_than_a_block_is_skipped_without_holding_it(tmp_path):
    big = b'{"a": "' + b"y" * (3 << 20) + b'"}'  # 3 MiB: spans several 1 MiB blocks
    (tmp_path / "long.ndjson").write_bytes(line(1) + b"\n" + big + b"\n" + line(3) + b"\n")
    records, problems, stats = read([tmp_path / "long.ndjson"])
    assert [r.line for r in records] == [1, 3]
    assert [(p.line, p.code) for p in problems] == [(2, "EV005")]
    assert stats.lines == 3


def test_truncated_gzip_keeps_what_came_before_and_reads_the_next_file(tmp_path):
    body = b"\n".join(line(i) for i in range(3000)) + b"\n"
    data = gzip.compress(body)
    (tmp_path / "a.ndjson.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "b.ndjson").write_bytes(line(99) + b"\n")
    records, problems, stats = read([tmp_path / "a.ndjson.gz", tmp_path / "b.ndjson"])
    assert problems and problems[-1].code in ("EV006", "EV002")
    stream = [p for p in problems if p.code == "EV006"]
    assert len(stream) == 1 and "truncated or corrupt" in stream[0].message
    assert 0 < len([r for r in records if r.file.endswith("a.ndjson.gz")]) < 3000
    assert records[-1].msg["messageId"] == "m99"
    assert stats.stream_errors == 1


def test_not_gzip_at_all(tmp_path):
    (tmp_path / "fake.gz").write_bytes(b"this is not gzip\n")
    records, problems, stats = read([tmp_path / "fake.gz"])
    assert records == [] and [p.code for p in problems] == ["EV006"]


def test_batch_payload_lines_expand_with_the_batch_sentAt(tmp_path):
    batch = {
        "batch": [{**MSG, "messageId": "b1"}, {**MSG, "messageId": "b2", "sentAt": "2026-11-20T10:00:05Z"}],
        "sentAt": "2026-11-20T10:00:09Z",
    }
    (tmp_path / "batch.ndjson").write_text(json.dumps(batch) + "\n")
    records, problems, stats = read([tmp_path / "batch.ndjson"])
    assert [(r.line, r.index, r.msg["sentAt"]) for r in records] == [
        (1, 0, "2026-11-20T10:00:09Z"),
        (1, 1, "2026-11-20T10:00:05Z"),
    ]
    assert stats.lines == 1 and stats.messages == 2


def test_chunks_hold_at_most_chunk_lines_and_number_lines_across_blocks(tmp_path):
    body = b"\n".join(line(i) for i in range(10_001)) + b"\n"
    (tmp_path / "x.ndjson").write_bytes(body)
    chunks = list(iter_chunks(discover([tmp_path / "x.ndjson"]), chunk_lines=700))
    assert all(len(c.lines) <= 700 for c in chunks)
    firsts = [c.first_line for c in chunks]
    assert firsts == sorted(firsts) and firsts[0] == 1
    n = 0
    for c in chunks:
        records, _ = parse_chunk(c, ReadStats())
        for r in records:
            assert r.msg["messageId"] == f"m{r.line - 1}"
            n += 1
    assert n == 10_001


def test_reading_is_streamed_with_bounded_memory(tmp_path):
    """Peak memory of reading 60 MB is close to reading 3 MB (checked by memory, not time)."""
    code = (
        "import resource, sys\n"
        "from cdp_cli.events.reader import iter_records\n"
        "n = sum(1 for _ in iter_records([sys.argv[1]]))\n"
        "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    peaks = {}
    for n in (3_000, 60_000):
        path = tmp_path / f"{n}.ndjson"
        pad = "p" * 900
        with open(path, "wb") as fh:
            for i in range(n):
                fh.write(json.dumps({**MSG, "messageId": f"m{i}", "properties": {"pad": pad}}).encode() + b"\n")
        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, cwd=ROOT)
        count, peak_kb = map(int, r.stdout.split())
        assert count == n
        peaks[n] = peak_kb
    assert os.path.getsize(tmp_path / "60000.ndjson") > 50 * 2**20
    assert peaks[60_000] - peaks[3_000] < 25 * 1024, peaks  # KiB: 20x the data, < 25 MiB more memory


@pytest.mark.parametrize("cap", [200, 1 << 20])
def test_chunk_references_read_exactly_what_chunks_read(tmp_path, cap):
    """Workers read plain files by reference: same lines, numbers, problems and counts."""
    from cdp_cli.events.reader import materialize

    rows = [line(i) for i in range(7000)]
    rows[10] = b'{"a": "' + b"z" * (3 << 20) + b'"}'  # over any cap, spans blocks
    rows[2500] = b'{"a": "' + b"q" * 500 + b'"}'  # over the small cap only
    rows[4000] = b"{broken"
    body = b"\r\n".join(rows)  # CRLF, no final newline
    (tmp_path / "x.ndjson").write_bytes(body)
    results = []
    for by_ref in (False, True):
        stats = ReadStats()
        seen = []
        for c in iter_chunks(
            discover([tmp_path / "x.ndjson"]), max_line_bytes=cap, chunk_lines=900, stats=stats, by_reference=by_ref
        ):
            records, problems = parse_chunk(materialize(c, cap), stats)
            seen.append(([(r.line, r.msg.get("messageId")) for r in records], [(p.line, p.code) for p in problems]))
        flat_r = [x for s in seen for x in s[0]]
        flat_p = [x for s in seen for x in s[1]]
        results.append((flat_r, flat_p, stats.as_dict()))
    assert results[0] == results[1]
    records, problems, counts = results[1]
    assert counts["lines"] == 7000 and counts["bytes"] == len(body)
    assert (11, "EV005") in problems and (4001, "EV002") in problems
    assert ((2501, "EV005") in problems) == (cap == 200)


def test_truncated_or_corrupt_zstd_is_reported_and_the_next_file_is_read(tmp_path):
    import zstandard

    body = b"\n".join(line(i) for i in range(20000)) + b"\n"
    data = zstandard.ZstdCompressor().compress(body)
    (tmp_path / "a.ndjson.zst").write_bytes(data[: len(data) // 2])  # cut inside the frame
    (tmp_path / "b.ndjson.zst").write_bytes(b"not zstd at all\n")
    (tmp_path / "c.ndjson").write_bytes(line(99) + b"\n")
    records, problems, stats = read(sorted(tmp_path.iterdir()))
    stream = [p for p in problems if p.code == "EV006"]
    assert [p.file.rsplit("/", 1)[-1] for p in stream] == ["a.ndjson.zst", "b.ndjson.zst"]
    assert "zstd stream is truncated or corrupt" in stream[0].message
    assert 0 < len([r for r in records if r.file.endswith("a.ndjson.zst")]) < 20000
    assert records[-1].msg["messageId"] == "m99" and stats.stream_errors == 2


def test_empty_compressed_files_are_reported(tmp_path):
    (tmp_path / "a.gz").write_bytes(b"")
    (tmp_path / "b.zst").write_bytes(b"")
    (tmp_path / "c.ndjson").write_bytes(b"")  # an empty plain file is just empty
    records, problems, stats = read(sorted(tmp_path.iterdir()))
    assert [(p.file.rsplit("/", 1)[-1], p.code) for p in problems] == [("a.gz", "EV006"), ("b.zst", "EV006")]
    assert "empty file" in problems[0].message and stats.stream_errors == 2


def test_fifos_in_a_tree_are_skipped_and_broken_links_reported_not_fatal(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.ndjson").write_bytes(line(1) + b"\n")
    os.mkfifo(logs / "b.ndjson")  # reading it would block for ever
    (logs / "c.ndjson").symlink_to(logs / "gone.ndjson")  # dangling
    (logs / "d.ndjson").symlink_to(logs / "d.ndjson")  # a loop
    (logs / "e.ndjson").write_bytes(line(5) + b"\n")
    records, problems, stats = read([logs])
    assert [r.msg["messageId"] for r in records] == ["m1", "m5"]
    assert [(p.file.rsplit("/", 1)[-1], p.code) for p in problems] == [("c.ndjson", "EV007"), ("d.ndjson", "EV007")]
    records, problems, _ = read([str(logs / "*.ndjson")])  # a glob skips the FIFO too
    assert [r.msg["messageId"] for r in records] == ["m1", "m5"]


def test_a_glob_matching_only_empty_directories_is_an_input_error(tmp_path):
    (tmp_path / "day1").mkdir()
    (tmp_path / "day2").mkdir()
    with pytest.raises(InputError, match="only directories without event files"):
        discover([str(tmp_path / "day*")])


def test_bom_on_a_later_line_and_what_orjson_refuses(tmp_path):
    rows = [
        line(1),
        b"\xef\xbb\xbf" + line(2),  # files joined with cat: a BOM mid-stream
        b'{"type":"track","event":"x","userId":"u","n":"\\ud800"}',  # a lone surrogate
        b'{"type":"track","event":"x","userId":"u","n":1e400}',  # out of double range
    ]
    (tmp_path / "x.ndjson").write_bytes(b"\n".join(rows) + b"\n")
    records, problems, _ = read([tmp_path / "x.ndjson"])
    assert [r.line for r in records] == [1, 2]
    assert [(p.line, p.code) for p in problems] == [(3, "EV002"), (4, "EV002")]
    assert "surrogate" in problems[0].message and problems[0].column > 1
    assert "infinity" in problems[1].message
