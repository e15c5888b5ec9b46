"""The contract every engine behind :class:`cdp_cli.engine.Engine` keeps (as dbt's adapter tests do for
its adapters): relations from Arrow and Parquet, queries to Arrow, rows and streamed batches, Parquet
copies, bound parameters and named templates, each :class:`~cdp_cli.engine.Dialect` method's SQL
evaluated on the engine itself, and driver errors as :class:`~cdp_cli.errors.EngineError`.

Every test takes the ``engine`` fixture (tests/engine/conftest.py): a new engine runs them all by
being listed in :data:`cdp_cli.engine.ENGINES`.
"""

from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdp_cli import storage
from cdp_cli.engine import CAPABILITIES, ENGINES, Engine, Template, connect, dialect
from cdp_cli.errors import EngineError, UsageError


def one(engine, expr: str):
    """The value of one SQL expression, evaluated by the engine."""
    return engine.rows(f"SELECT {expr} AS v")[0][0]


# --- identity and capabilities ------------------------------------------------------------------------


def test_an_engine_declares_its_name_dialect_and_capabilities(engine, engine_name):
    assert isinstance(engine, Engine)
    assert engine.name == engine_name and engine_name in ENGINES
    assert engine.dialect is dialect(engine_name) and engine.dialect.name
    assert isinstance(engine.capabilities, frozenset) and engine.capabilities <= CAPABILITIES
    assert "parquet_copy" in engine.capabilities  # resolve needs it (an engine without it is not usable yet)


def test_an_unknown_engine_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown engine 'oracle'"):
        connect("oracle")


# --- relations and queries ----------------------------------------------------------------------------

PEOPLE = {"id": [1, 2, 3], "name": ["ada", "grace", None], "tags": [["a", "b"], [], None]}


def test_register_arrow_then_query_to_arrow_and_rows(engine):
    engine.register_arrow("people", pa.table(PEOPLE))
    t = engine.arrow("SELECT id, name, tags FROM people ORDER BY id")
    assert isinstance(t, pa.Table) and t.to_pydict() == PEOPLE
    assert t.schema.field("id").type == pa.int64() and t.schema.field("name").type == pa.string()
    assert engine.rows("SELECT id, name FROM people WHERE id > 1 ORDER BY id") == [(2, "grace"), (3, None)]
    assert engine.rows("SELECT count(*) FROM people WHERE name IS NULL") == [(1,)]


def test_register_a_record_batch_reader(engine):
    reader = pa.RecordBatchReader.from_batches(
        pa.schema([("x", pa.int64())]), [pa.record_batch([pa.array([i, i + 1])], names=["x"]) for i in (0, 2)]
    )
    engine.register_arrow("stream", reader)
    assert engine.rows("SELECT sum(x) FROM stream") == [(6,)]


def test_register_parquet_by_path_glob_and_list(engine, tmp_path):
    for i in range(3):
        storage.write_table(pa.table({"part": [i] * (i + 1)}), tmp_path / f"part-{i}.parquet")
    engine.register_parquet("one", tmp_path / "part-2.parquet")
    engine.register_parquet("globbed", str(tmp_path / "part-*.parquet"))
    engine.register_parquet("listed", [tmp_path / "part-0.parquet", tmp_path / "part-1.parquet"])
    assert engine.rows("SELECT count(*) FROM one") == [(3,)]
    assert engine.rows("SELECT count(*), sum(part) FROM globbed") == [(6, 8)]
    assert engine.rows("SELECT count(*) FROM listed") == [(3,)]
    engine.register_parquet("one", tmp_path / "part-0.parquet")  # registering again replaces
    assert engine.rows("SELECT count(*) FROM one") == [(1,)]


def test_create_view_and_execute(engine):
    engine.register_arrow("people", pa.table(PEOPLE))
    engine.create_view("named", "SELECT id FROM people WHERE name IS NOT NULL")
    assert engine.rows("SELECT count(*) FROM named") == [(2,)]
    engine.create_view("named", "SELECT id FROM people")  # replaced
    assert engine.rows("SELECT count(*) FROM named") == [(3,)]
    engine.execute("CREATE OR REPLACE VIEW other AS SELECT 1 AS one")
    assert engine.rows("SELECT one FROM other") == [(1,)]


def test_parameters_are_bound_not_spliced(engine):
    engine.register_arrow("people", pa.table(PEOPLE))
    hostile = "x' OR '1'='1"
    q = Template("by_name", "SELECT id FROM {people} WHERE name = :name OR name IN (:others) ORDER BY id")
    stmt = q.render(engine.dialect, name=hostile, others=["grace", "ada"])
    assert hostile not in stmt.sql and "grace" not in stmt.sql
    assert engine.rows(stmt) == [(1,), (2,)]
    assert engine.arrow(q.render(engine.dialect, name="ada", others=[hostile])).to_pydict() == {"id": [1]}


def test_templates_name_relations_call_dialect_functions_and_skip_text(engine):
    engine.register_arrow("odd table", pa.table({"us": pa.array([0, 1_000_000], pa.int64()), "l": [["a"], ["b"]]}))
    q = Template(
        "t",
        """
        -- a comment's apostrophe and a :colon are text
        SELECT {timestamp_from_epoch_us(us)} AS at, ':text' AS s, {list_contains(l, :v)} AS has
        FROM {t}
        ORDER BY us
    """,
    )
    assert q.params == ("v",)
    rows = engine.rows(q.render(engine.dialect, relations={"t": "odd table"}, v="b"))
    assert [r[1:] for r in rows] == [(":text", False), (":text", True)]
    assert rows[1][0] == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    with pytest.raises(TypeError, match="missing values \\['v'\\]"):
        q.render(engine.dialect)
    with pytest.raises(ValueError, match="not a dialect function"):
        Template("bad", "SELECT {eval(1)}").render(engine.dialect)


def test_every_identity_template_renders_for_the_engine(engine):
    from cdp_cli.identity import sql

    templates = [v for v in vars(sql).values() if isinstance(v, Template)]
    assert len(templates) >= 15
    for t in templates:
        stmt = t.render(engine.dialect, **{p: ["x", "y"] if p == "values" else 1 for p in t.params})
        assert "{" not in stmt.sql, t.name
        assert not any(re.search(rf":{p}\b", stmt.sql) for p in t.params if engine.dialect.param(p) != f":{p}"), t.name


# --- streaming ------------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_batches_are_bounded_by_batch_size(engine):
    engine.register_arrow("people", pa.table(PEOPLE))
    batches = list(engine.batches("SELECT id FROM people", batch_size=2))
    assert all(isinstance(b, pa.RecordBatch) and b.num_rows <= 2 for b in batches)
    assert sorted(sum((b.column(0).to_pylist() for b in batches), [])) == [1, 2, 3]
    stmt = Template("p", "SELECT id FROM {people} WHERE id >= :low").render(engine.dialect, low=2)
    assert sum(b.num_rows for b in engine.batches(stmt, batch_size=10)) == 2


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set size from /proc")
def test_batches_stream_a_large_result_with_bounded_memory(engine, tmp_path):
    if "stream" not in engine.capabilities:
        pytest.skip(f"{engine.name} does not declare 'stream'")
    n = 1_000_000  # ~210 MB of strings if the result were materialised
    storage.write_table(pa.table({"id": pa.array(range(n), pa.int64())}), tmp_path / "big.parquet")
    engine.register_parquet("big", tmp_path / "big.parquet")
    base = peak = _rss()
    rows = biggest = 0
    for batch in engine.batches(
        "SELECT id, concat(repeat('x', 200), CAST(id AS STRING)) AS s FROM big", batch_size=10_000
    ):
        rows += batch.num_rows
        biggest = max(biggest, batch.num_rows)
        peak = max(peak, _rss())
    assert rows == n and biggest <= 10_000
    assert peak - base < 90 * 2**20, f"streaming grew the process by {(peak - base) / 2**20:.0f} MiB"


# --- Parquet copies ------------------------------------------------------------------------------------


def test_copy_parquet_writes_a_file_read_back_as_written(engine, tmp_path):
    engine.register_arrow("people", pa.table(PEOPLE))
    out = tmp_path / "people.parquet"
    engine.copy_parquet(
        Template("c", "SELECT id, name, tags FROM {people} WHERE id <= :most ORDER BY id").render(
            engine.dialect, most=2
        ),
        out,
    )
    assert pq.read_table(out).to_pydict() == {"id": [1, 2], "name": ["ada", "grace"], "tags": [["a", "b"], []]}
    many = tmp_path / "many.parquet"
    engine.register_arrow("numbers", pa.table({"n": pa.array(range(10_000), pa.int64())}))
    engine.copy_parquet("SELECT n FROM numbers", many, compression="lz4", row_group_size=1_000)
    meta = pq.ParquetFile(many).metadata
    assert meta.num_rows == 10_000 and meta.num_row_groups >= 2
    assert all(meta.row_group(i).num_rows <= 2_048 for i in range(meta.num_row_groups))  # engines round up a little
    assert meta.row_group(0).column(0).compression.lower() == "lz4"
    assert sorted(pq.read_table(many).column("n").to_pylist()) == list(range(10_000))


def test_copy_parquet_lz4_of_many_pages_reads_back(engine, tmp_path):
    """LZ4 as every Parquet reader reads it: Spark's own "lz4" is Hadoop's framing, which pyarrow
    rejected on the pages of a column of lists of structs ("Corrupt Lz4 compressed data")."""
    import random

    rnd, n = random.Random(1), 300_000
    ids = [[{"t": i % 5, "v": f"user-{rnd.randrange(40_000)}"} for i in range(rnd.randrange(1, 4))] for _ in range(n)]
    kind = pa.list_(pa.struct([("t", pa.int32()), ("v", pa.string())]))
    engine.register_arrow("staged", pa.table({"seq": pa.array(range(n), pa.int64()), "ids": pa.array(ids, kind)}))
    out = tmp_path / "staged.parquet"
    engine.copy_parquet("SELECT seq, ids FROM staged ORDER BY seq", out, compression="lz4")
    f = pq.ParquetFile(out)
    assert sum(f.read_row_group(i).num_rows for i in range(f.metadata.num_row_groups)) == n


def test_copy_parquet_stamps_key_value_metadata(engine, tmp_path):
    out = tmp_path / "stamped.parquet"
    engine.copy_parquet("SELECT 1 AS one", out, metadata={"cdp": "traits", "it's": 'a "quoted" value'})
    meta = pq.read_schema(out).metadata or {}
    assert meta[b"cdp"] == b"traits" and meta[b"it's"] == b'a "quoted" value'
    assert pq.read_table(out).to_pydict() == {"one": [1]}


def test_copy_parquet_of_a_timestamp_keeps_microseconds_in_utc(engine, tmp_path):
    out = tmp_path / "t.parquet"
    engine.copy_parquet(
        f"SELECT {engine.dialect.timestamp_from_epoch_us('CAST(1700000000123456 AS BIGINT)')} AS at", out
    )
    t = pq.read_table(out)
    assert t.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert t.column("at")[0].as_py() == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)


# --- the dialect, evaluated by the engine ------------------------------------------------------------


@pytest.mark.parametrize(
    "us, expected",
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1_700_000_000_123_456, datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
        (-1, datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        (253_402_300_799_999_999, datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_timestamp_from_epoch_us(engine, us, expected):
    d = engine.dialect
    got = one(engine, d.timestamp_from_epoch_us(f"CAST({d.literal(us)} AS BIGINT)"))
    assert got == expected and got.utcoffset().total_seconds() == 0
    assert one(engine, d.timestamp_from_epoch_us("CAST(NULL AS BIGINT)")) is None


DOC = (
    '{"a": {"b": "x"}, "n": 1.5, "i": 42, "t": true, "q": "it\'s \\"q\\"", '
    '"u": "\\u00e9t\\u00e9", "l": [1, 2], "z": null}'
)


@pytest.mark.parametrize(
    "path, expected",
    [
        ("$.a.b", "x"),
        ("$.n", "1.5"),
        ("$.i", "42"),
        ("$.t", "true"),
        ("$.q", 'it\'s "q"'),
        ("$.u", "été"),
        ("$.missing", None),
        ("$.a.missing", None),
    ],
)
def test_json_extract_string(engine, path, expected):
    d = engine.dialect
    assert one(engine, d.json_extract_string(d.literal(DOC), path)) == expected


ODD_NAMES = ["limit", "window", "select", "with space", 'quo"te', "it's", "dotted.name", "ÜnïcødE", "x-1", "1st"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_quote_ident_names_any_column_and_relation(engine, name):
    d = engine.dialect
    engine.register_arrow("base", pa.table({"x": [7]}))
    engine.create_view(name, f"SELECT x AS {d.quote_ident(name)} FROM base")
    t = engine.arrow(f"SELECT {d.quote_ident(name)} FROM {d.quote_ident(name)}")
    assert t.column_names == [name] and t.column(0).to_pylist() == [7]


def test_quote_ident_refuses_what_no_engine_can_name(engine):
    for bad in ("", "a\x00b"):
        with pytest.raises(ValueError):
            engine.dialect.quote_ident(bad)


LITERALS = [
    None,
    True,
    False,
    0,
    -7,
    2**62,
    1.5,
    -0.25,
    1e300,
    "",
    "plain",
    "it's",
    "''",
    'say "hi"',
    "back\\slash",
    "line\nbreak",
    "tab\t",
    "ünïcødé ✓",
    "%_ wildcards",
    "?",
    ":name",
    "$1",
    "-- not a comment",
    "/* nor this */",
]


@pytest.mark.parametrize("value", LITERALS, ids=repr)
def test_literal_reads_back_as_the_value(engine, value):
    got = one(engine, engine.dialect.literal(value))
    assert got == value and type(got) is type(value)


def test_literal_of_special_floats_and_refusals(engine):
    d = engine.dialect
    assert one(engine, d.literal(float("inf"))) == float("inf")
    assert one(engine, d.literal(float("-inf"))) == float("-inf")
    assert math.isnan(one(engine, d.literal(float("nan"))))
    with pytest.raises(TypeError):
        d.literal(object())
    with pytest.raises(ValueError):
        d.literal("nul\x00")


def test_list_functions(engine):
    d = engine.dialect
    engine.register_arrow(
        "l",
        pa.table(
            {
                "k": [1, 1, 1, 1, 2, 2],
                "v": ["b", "a", None, "b", None, None],
                "xs": [["a", "b"], [], None, ["b"], ["c"], None],
            }
        ),
    )
    rows = engine.rows(f"SELECT k, {d.array_agg_distinct_sorted('v')} FROM l GROUP BY k ORDER BY k")
    assert [(k, list(v) if v is not None else None) for k, v in rows] in (
        [(1, ["a", "b"]), (2, [])],
        [(1, ["a", "b"]), (2, None)],
    )  # all-NULL groups: empty or NULL
    got = engine.rows(f"SELECT {d.list_contains('xs', d.literal('b'))} FROM l")
    assert [bool(r[0]) for r in got] == [True, False, False, True, False, False]  # NULL list: false or NULL


def test_map_value(engine):
    d = engine.dialect
    m = pa.array(
        [[("email", ["a@x.io", "b@x.io"]), ("user_id", ["u1"])], []], pa.map_(pa.string(), pa.list_(pa.string()))
    )
    engine.register_arrow("p", pa.table({"id": [1, 2], "m": m}))
    rows = engine.rows(
        f"SELECT id, {d.map_value('m', d.literal('email'))}, {d.map_value('m', d.literal('phone'))} FROM p ORDER BY id"
    )
    assert [(i, list(a) if a is not None else None, b) for i, a, b in rows] == [
        (1, ["a@x.io", "b@x.io"], None),
        (2, None, None),
    ]
    engine.register_arrow("w", pa.table({"t": ["user_id"], "v": ["u1"]}))
    found = engine.rows(f"SELECT p.id FROM p CROSS JOIN w WHERE {d.list_contains(d.map_value('p.m', 'w.t'), 'w.v')}")
    assert found == [(1,)]


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda e, tmp: e.rows("SELEC 1"),
        lambda e, tmp: e.arrow("SELECT * FROM no_such_table"),
        lambda e, tmp: e.execute("SELECT CAST('x' AS INTEGER)"),
        lambda e, tmp: list(e.batches("SELECT CAST('x' AS INTEGER) AS v")),
        lambda e, tmp: e.copy_parquet("SELECT 1 AS one", tmp / "no" / "such" / "dir" / "x.parquet"),
        lambda e, tmp: e.register_parquet("gone", tmp / "missing.parquet") or e.rows("SELECT * FROM gone"),
        lambda e, tmp: e.create_view("v", "SELECT * FROM nowhere"),
    ],
    ids=["syntax", "missing-table", "conversion", "stream", "copy-to-missing-dir", "missing-parquet", "view"],
)
def test_driver_errors_are_engine_errors(engine, tmp_path, call):
    with pytest.raises(EngineError):
        call(engine, tmp_path)


def test_an_engine_error_is_a_cdp_error_with_the_drivers_message(engine):
    from cdp_cli.errors import CdpError

    with pytest.raises(CdpError, match="no_such_table"):
        engine.rows("SELECT * FROM no_such_table")


# --- map_groups (engines with their own workers) ----------------------------------------------------


def _with_map_groups(engine):
    from cdp_cli.engine.base import MAP_GROUPS

    if MAP_GROUPS not in engine.capabilities:
        pytest.skip(f"{engine.name} runs no Python of cdp's in workers of its own")


def test_map_groups_gives_each_group_whole_and_sorted_to_one_call(engine, tmp_path):
    _with_map_groups(engine)
    rng = __import__("random").Random(7)
    rows = [(k, i) for k in range(9) for i in range(k * 50)]  # groups of 0 to 400 rows; group 0 empty
    rng.shuffle(rows)
    engine.register_arrow("g", pa.table({"k": [k for k, _ in rows], "i": [i for _, i in rows]}))
    schema = pa.schema([("k", pa.int64()), ("n", pa.int64()), ("ordered", pa.bool_()), ("task", pa.int64())])

    def fn(batches):  # runs in the engine's workers: sees one task's rows, sorted by k then i
        import os

        import pyarrow as pa

        seen: dict[int, list[int]] = {}
        for b in batches:
            for k, i in zip(b.column(0).to_pylist(), b.column(1).to_pylist(), strict=True):
                seen.setdefault(k, []).append(i)
        keys = list(seen)
        yield pa.RecordBatch.from_pydict(
            {
                "k": keys,
                "n": [len(seen[k]) for k in keys],
                "ordered": [seen[k] == sorted(seen[k]) and keys == sorted(keys) for k in keys],
                "task": [os.getpid()] * len(keys),
            },
            schema=schema,
        )

    out = tmp_path / "out"
    engine.map_groups("SELECT k, i FROM g", key="k", order=["i"], tasks=3, fn=fn, schema=schema, path=out)
    got = pq.read_table(out).to_pylist()
    assert sorted((r["k"], r["n"]) for r in got) == [(k, k * 50) for k in range(1, 9)]  # each group once, whole
    assert all(r["ordered"] for r in got)
    with pytest.raises(EngineError):  # the directory is new: never written over
        engine.map_groups("SELECT k, i FROM g", key="k", order=["i"], tasks=3, fn=fn, schema=schema, path=out)


def test_map_groups_reports_an_error_in_the_function_as_an_engine_error(engine, tmp_path):
    _with_map_groups(engine)
    engine.register_arrow("g", pa.table({"k": [1, 2], "i": [1, 2]}))
    schema = pa.schema([("k", pa.int64())])

    def fn(batches):
        for _ in batches:
            raise ValueError("the resolver failed here")
        yield from ()

    with pytest.raises(EngineError, match="the resolver failed here"):
        engine.map_groups(
            "SELECT k, i FROM g", key="k", order=["i"], tasks=2, fn=fn, schema=schema, path=tmp_path / "o"
        )
