"""Probe (issue: past one machine): could pass 1 of `cdp profiles resolve` run in DuckDB, exactly?

This is a measurement, not product code. It holds a complete draft of pass 1 as one DuckDB query per
staging task, with the conservative pre-check an exact engine path needs (below), and times it
against cdp's Python pass 1 (`cdp_cli.identity.stage.Stager`) on the same lines, one core each:

    python3 bench/stage_engine_probe.py bench/data/events-1000000-s42.ndjson --lines 200000

Result recorded in bench/RESULTS.md: the query costs about as much per line as Python does, so it
was not shipped. Its correctness was checked only by eye on the generated log; the design notes
follow.

The contract is the one the lint fast path keeps: **a conservative pre-check, exact work on the
rest**. DuckDB reads every line of a task (a JSON parser in C, on Arrow strings) and stages a line
itself only when it can prove that cdp's Python (:mod:`.stage`, :mod:`.extract`,
:func:`cdp_cli.events.model.effective_timestamp`) would stage exactly the same row; every other line
goes through Python, which parses it with orjson, reports it with file, line and column if it is
broken, and counts what it skipped. Shipping it would need a differential test: the same outputs
with and without this path, on generated messy logs.

A line is staged by the engine ("fast") only when all of these hold, so that the two parsers cannot
disagree about it:

- it is valid UTF-8 and starts with ``{``; it has no backslash (no escapes to decode), no control
  character, no ``NaN``/``Infinity``, no trailing comma, no run of 19 digits, no three-digit
  exponent (where DuckDB's JSON reader accepts what orjson refuses, or reads numbers differently),
  and it is not nested 1,000 deep (orjson's limit); DuckDB's ``json_valid`` accepts it;
- no object on the way to a value cdp reads has a duplicate key (orjson keeps the last, a JSON path
  the first);
- it is not a ``{"batch": [...]}`` payload, and (when ``external_ids`` is on) has no
  ``context.externalIds`` list;
- every identifier value it holds is printable ASCII without leading or trailing spaces, within
  ``max_length`` and not blocked (so ``strip``, ``lower`` and ``casefold`` agree in both worlds, and
  every count and example of a value that is *not* an identifier is made by Python); a blocking
  regex is evaluated by the engine only when its syntax means the same to RE2 and to Python's ``re``
  on such values (else any value of that type goes to Python);
- every ``when`` condition is decided by a string or a boolean (Python's ``1 == True`` goes to
  Python);
- ``timestamp``, ``receivedAt``, ``sentAt`` and ``originalTimestamp`` are absent, not strings (both
  ignore them), or strict RFC 3339 times that both parse to the same microsecond;
- an identify call does not carry both ``traits`` and ``context.traits`` (Python merges them).

The JSON text columns ``events.parquet`` keeps (properties, traits, context, and any non-string
type, event, ids) are the engine's JSON of the value as the line holds it, whichever path staged the
row: :func:`text_sql` renders them for every line the engine reads, and Python's own text is used
only for what the engine cannot read as one message (a batch payload, a line with a byte-order mark,
a top-level duplicate key), canonicalised by the same writer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cdp_cli.identity.config import IdentityConfig, IdType
from cdp_cli.identity.graph import KIND_INDEX, SEP

BAD = "\x1e"  # an identifier slot the engine cannot decide (never an identifier: those hold SEP)

#: A number DuckDB's reader keeps but orjson refuses (it overflows a double): an exponent of 300 or
#: more, or 300 digits in a row. Conservative: the same text inside a string only costs speed.
NUMBER_RISK = r"[:,\[] *-?[0-9]+(\.[0-9]+)?[eE]\+?([3-9][0-9]{2}|[0-9]{4,})|[0-9]{300}"

#: An RFC 3339 time both Python's ``fromisoformat`` and DuckDB's cast read to the same microsecond.
TIME = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?"
)
#: 0002-01-01 and 9998-12-31 in microseconds: Python's datetime arithmetic stays in range between.
TS_MIN, TS_MAX = -62104060800000000, 253370764800000000

_TEXT_FIELDS = ("type", "event", "name", "userId", "anonymousId", "groupId", "messageId")
_OBJ_FIELDS = ("properties", "traits", "context")


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def pointer(parts: tuple[str, ...]) -> str:
    """A JSON pointer (RFC 6901) for DuckDB's JSON functions: any key, escaped."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


_SAFE_RE = re.compile(r"(?:[A-Za-z0-9 _\-@.:,;'\"!#%&=<>/`~^$*+?|()\[\]]|\\[dDwWsS.\-+*?()\[\]{}|^$/@_#])*")


def re2_safe(pattern: re.Pattern) -> bool:
    """Whether ``pattern`` means the same to RE2 (DuckDB) as to Python's ``re`` on printable ASCII
    values: plain characters, classes, groups, alternation, anchors, ``\\d\\w\\s`` and the usual
    quantifiers. Anything else (lookarounds, backreferences, ``[:alpha:]``, flags, ``\\b``, ``{,n}``,
    possessive quantifiers) is left to Python."""
    src = pattern.pattern
    if not isinstance(src, str) or pattern.flags & ~re.UNICODE:
        return False
    if "(?" in src or "[:" in src or "[[" in src or "{," in src:
        return False
    if re.search(r"[*+?}]\+", src):
        return False
    return bool(_SAFE_RE.fullmatch(re.sub(r"\{[0-9]+(,[0-9]*)?\}", "", src)))


@dataclass(frozen=True)
class _Read:
    index: int  # type index
    parts: tuple[str, ...]
    when: tuple


def reads_in_order(config: IdentityConfig) -> list[_Read]:
    """The configured paths in the order :func:`cdp_cli.identity.extract._compile`'s generated
    reader visits them (a trie of shared prefixes, first-seen order), which is the order of a
    message's identifiers."""
    trie: dict = {}
    for i, t in enumerate(config.types):
        for p in t.paths:
            node = trie
            for part in p.parts[:-1]:
                node = node.setdefault(("k", part), {})
            node.setdefault(("v", p.parts[-1]), []).append(_Read(i, p.parts, p.when))
    out: list[_Read] = []

    def walk(node: dict) -> None:
        for (kind, _name), child in node.items():
            if kind == "v":
                out.extend(child)
            else:
                walk(child)

    walk(trie)
    return out


class StageSQL:
    """The engine's staging query for one identity configuration. ``sql`` reads a relation ``lines``
    (``n`` INTEGER; ``line`` VARCHAR, empty for bytes Python must look at; ``clean`` BOOLEAN, false
    when the line holds a backslash or a control character) and returns one row per line the engine
    can read as one message: its JSON text columns, ``top_unique`` (no top-level key twice), whether
    it is ``fast``, and for fast lines the staged columns.

    The query is layered so that each expression is computed once per row: ``x`` parses the line
    three times (every scalar cdp reads into one typed struct, the objects events.parquet keeps as
    JSON text, and the keys of every object on the way to a value); ``y`` names the values and checks
    the keys; ``z`` decides each identifier slot and time; ``w`` and the last layer assemble."""

    def __init__(self, config: IdentityConfig) -> None:
        self.config = config
        self.leaves: list[tuple[str, ...]] = []  # scalars read through the struct
        self.objects: list[tuple[str, ...]] = []  # values read as JSON text (objects, and any prefix)
        self.prefixes: list[tuple[str, ...]] = []  # objects whose keys must be unique
        self.sql = self._build()

    # --- helpers ---------------------------------------------------------------------------------------
    def _read(self, into: list[tuple[str, ...]], parts: tuple[str, ...]) -> None:
        """Note that ``parts`` is read (into ``into``), and that the objects on its way need unique keys."""
        if parts not in into:
            into.append(parts)
        for k in range(1, len(parts)):
            if parts[:k] not in self.prefixes:
                self.prefixes.append(parts[:k])

    def v(self, parts: tuple[str, ...]) -> str:
        """The column (in layer ``y``) holding the JSON text at ``parts``, NULL when missing or null."""
        self._read(self.leaves, parts)
        return _column(parts)

    def obj(self, parts: tuple[str, ...]) -> str:
        """The column holding the JSON text of ``parts`` as a whole (an object events.parquet keeps)."""
        self._read(self.objects, parts)
        return "o_" + _column(parts)

    @staticmethod
    def _str(j: str) -> str:
        """The string inside a JSON string text known to need no unescaping."""
        return f"substr({j}, 2, strlen({j}) - 2)"

    def _normalized(self, t: IdType, j: str, prefix: str) -> str:
        """An identifier slot: BAD (Python decides) or ``prefix || value``, for a present value."""
        s = self._str(j)
        norm = f"lower({s})" if t.lowercase else s
        exact = sorted(self.config.blocked_exact | t.blocked_exact)
        blocked = [f"lower({norm}) IN ({', '.join(lit(x) for x in exact)})"] if exact else []
        for r in (*self.config.blocked_regex, *t.blocked_regex):
            blocked.append(f"regexp_matches({norm}, {lit(r.pattern)})" if re2_safe(r) else "TRUE")
        blocked.append(f"strlen({s}) > {int(self.config.max_length)}")
        return (
            f"CASE WHEN NOT regexp_full_match({j}, '\"[!-~]([ -~]*[!-~])?\"') THEN {lit(BAD)} "
            f"WHEN {' OR '.join(blocked)} THEN {lit(BAD)} ELSE {lit(prefix)} || {norm} END"
        )

    def _condition(self, parts: tuple[str, ...], want: Any) -> str:
        """``_matches(_get(msg, parts), want)`` as TRUE, FALSE or NULL (Python decides)."""
        f = self.v(parts)
        if isinstance(want, str):
            folded = want.casefold()
            same = f"lower({self._str(f)}) = {lit(folded)}" if folded.isascii() else "FALSE"
            return (
                f"(CASE WHEN {f} IS NULL OR NOT starts_with({f}, '\"') THEN FALSE "
                f"WHEN regexp_full_match({f}, '\"[ -~]*\"') THEN {same} ELSE NULL END)"
            )
        if isinstance(want, bool):
            return (
                f"(CASE WHEN {f} IS NULL THEN FALSE WHEN {f} IN ('true', 'false') "
                f"THEN {f} = {lit(str(want).lower())} "
                f"WHEN regexp_full_match({f}, '-?[0-9].*') THEN NULL ELSE FALSE END)"
            )
        return "NULL"

    def _time(self, name: str) -> tuple[str, str]:
        """(bad, microseconds) for a top-level time field: absent, null or not a string is NULL."""
        j = self.v((name,))
        s = self._str(j)
        ok = f"(regexp_full_match({s}, {lit(TIME)}) AND NOT starts_with({s}, '0000'))"
        us = f"epoch_us(try_cast({s} AS TIMESTAMPTZ))"
        return (
            f"(CASE WHEN {j} IS NULL OR NOT starts_with({j}, '\"') THEN FALSE "
            f"WHEN {ok} THEN {us} IS NULL ELSE TRUE END)",
            f"(CASE WHEN starts_with({j}, '\"') AND {ok} THEN {us} END)",
        )

    # --- the query -------------------------------------------------------------------------------------
    def _build(self) -> str:
        c = self.config
        reads = reads_in_order(c)
        z: list[str] = []  # the decided columns, computed once each
        slots: list[str] = []
        for k, r in enumerate(reads):
            t = c.types[r.index]
            j = self.v(r.parts)
            cond = " AND ".join(self._condition(parts, want) for parts, want in r.when)
            expr = self._normalized(t, j, f"{t.name}{SEP}")
            if cond:
                expr = f"CASE WHEN ({cond}) IS NULL THEN {lit(BAD)} WHEN NOT ({cond}) THEN NULL ELSE {expr} END"
            z.append(f"CASE WHEN {j} IS NULL THEN NULL ELSE {expr} END AS s{k + 1}")
            slots.append(f"s{k + 1}")
        matching = [f"s{k + 1} IS NOT NULL" for k, r in enumerate(reads) if c.types[r.index].match]

        typ = self.v(("type",))
        tstr = f"(CASE WHEN starts_with({typ}, '\"') THEN json_extract_string({typ}, '$') END)"
        z.append(f"{tstr} AS t")
        if c.alias == "link":
            ui = next((t for t in c.types if t.name == "user_id"), IdType("user_id", []))
            pj = self.v(("previousId",))
            z.append(
                f"CASE WHEN {tstr} IS DISTINCT FROM 'alias' OR {pj} IS NULL THEN NULL "
                f"ELSE {self._normalized(ui, pj, '')} END AS alias"
            )
        else:
            z.append("NULL::VARCHAR AS alias")
        prev = self.v(("previousId",))
        z.append(
            f"({prev} IS NOT NULL AND {prev} NOT IN ('false', '0', '\"\"', '[]', '{{}}', '0.0', '-0.0')) AS prev_truthy"
        )
        tt, ct = self.obj(("traits",)), self.obj(("context", "traits"))
        t_ne = f"(starts_with({tt}, '{{') AND {tt} <> '{{}}')"
        c_ne = f"(starts_with({ct}, '{{') AND {ct} <> '{{}}')"
        z.append(
            f"CASE WHEN {tstr} = 'identify' THEN (CASE WHEN {t_ne} AND {c_ne} THEN {lit(BAD)} "
            f"WHEN {t_ne} THEN {tt} WHEN {c_ne} THEN {ct} END) "
            f"WHEN {c_ne} THEN {ct} END AS traits"
        )
        for name, col in (("timestamp", "t"), ("receivedAt", "r"), ("sentAt", "se"), ("originalTimestamp", "o")):
            bad, us = self._time(name)
            z.append(f"{bad} AS {col}_bad")
            z.append(f"{us} AS {col}_us")
        batch = self.v(("batch",))
        z.append(f"COALESCE(starts_with({batch}, '[') AND NOT list_contains(k1, 'type'), FALSE) AS is_batch")
        if c.external_ids:
            ext = self.v(("context", "externalIds"))
            z.append(f"COALESCE(starts_with({ext}, '['), FALSE) AS has_ext")
        else:
            z.append("FALSE AS has_ext")
        mid = self.v(("messageId",))
        z.append(f"CASE WHEN starts_with({mid}, '\"') THEN {self._str(mid)} END AS mid")
        for f in ("type", "userId", "anonymousId", "groupId", "messageId"):
            z.append(f"{text_of(self.v((f,)))} AS x_{f}")
        for f in ("properties", "traits", "context"):
            z.append(f"{text_of(self.obj((f,)))} AS x_{f}")
        z.append(
            f"CASE WHEN {tstr} = 'track' THEN {text_of(self.v(('event',)))} "
            f"WHEN {tstr} IN ('page', 'screen') THEN {text_of(self.v(('name',)))} END AS x_event"
        )

        # a scalar that is also a prefix of another path is read as JSON text, not through the struct
        for leaf in list(self.leaves):
            if leaf in self.prefixes:
                self.leaves.remove(leaf)
                self.objects.append(leaf)
        named = [f"{_access(leaf)}::VARCHAR AS {_column(leaf)}" for leaf in self.leaves]
        named += [f"o[{i + 1}] AS o_{_column(p)}" for i, p in enumerate(self.objects)]
        for leaf in self.objects:  # a former leaf is referenced by its leaf name too
            if leaf in self.prefixes:
                named.append(f"o[{self.objects.index(leaf) + 1}] AS {_column(leaf)}")
        unique = " AND ".join(
            f"COALESCE(len(k{i + 2}) = len(list_distinct(k{i + 2})), TRUE)" for i in range(len(self.prefixes))
        )
        keys = ", ".join(["k[1] AS k1"] + [f"k[{i + 2}] AS k{i + 2}" for i in range(len(self.prefixes))])
        key_paths = "[" + ", ".join(["'$'", *(lit(pointer(p)) for p in self.prefixes)]) + "]"
        obj_paths = "[" + ", ".join(lit(pointer(p)) for p in self.objects) + "]"
        kinds = " ".join(f"WHEN {lit(k)} THEN {i}" for k, i in KIND_INDEX.items())
        match_any = " OR ".join(matching) if matching else "FALSE"
        ts = (
            "COALESCE(t_us, CASE WHEN r_us IS NOT NULL AND se_us IS NOT NULL AND o_us IS NOT NULL "
            "THEN r_us - (se_us - o_us) ELSE COALESCE(o_us, r_us) END)"
        )
        return f"""
WITH l AS (
    SELECT n, line, clean AND NOT contains(line, 'NaN') AND NOT contains(line, 'Infinity')
        AND NOT contains(line, ',}}') AND NOT contains(line, ',]')
        AND NOT (contains(line, ', ') AND regexp_matches(line, ', +[\\]}}]'))
        AND NOT regexp_matches(line, {lit(NUMBER_RISK)})
        AND (strlen(line) < 2048 OR strlen(line) - strlen(replace(replace(line, '{{', ''), '[', '')) < 1000) AS plain
    FROM lines
    WHERE starts_with(line, '{{') AND json_valid(line)
), x AS (
    SELECT n, plain, json_transform(line, {lit(_spec(self.leaves))}) AS m,
        json_extract(line, {obj_paths})::VARCHAR[] AS o, json_keys(line, {key_paths}) AS k
    FROM l
), y AS (
    SELECT n, plain, {keys}, {", ".join(named)} FROM x
), z AS (
    SELECT n, plain AND ({unique or "TRUE"}) AS plain, len(k1) = len(list_distinct(k1)) AS top_unique, k1,
        {", ".join(z)}
    FROM y
), w AS (
    SELECT *, [{", ".join(slots)}] AS s, {ts} AS ts FROM z
)
SELECT
    n, top_unique,
    COALESCE(plain AND top_unique AND NOT list_contains(s, {lit(BAD)}) AND alias IS DISTINCT FROM {lit(BAD)}
        AND traits IS DISTINCT FROM {lit(BAD)}
        AND NOT t_bad AND NOT r_bad AND NOT (t_us IS NULL AND (se_bad OR o_bad))
        AND (ts IS NULL OR ts BETWEEN {TS_MIN} AND {TS_MAX}) AND NOT is_batch AND NOT has_ext, FALSE) AS fast,
    list_filter(list_filter(s, lambda q: q IS NOT NULL),
        lambda q, i: list_position(list_filter(s, lambda p: p IS NOT NULL), q) = i) AS ids,
    alias, traits, ts, r_us AS received, mid, (CASE t {kinds} ELSE -1 END)::TINYINT AS kind,
    NOT ({match_any}) AND NOT (t IS NOT DISTINCT FROM 'alias' AND prev_truthy) AS no_ids,
    x_type AS type, x_event AS event, x_userId AS user_id, x_anonymousId AS anonymous_id,
    x_groupId AS group_id, x_messageId AS message_id, x_properties AS properties,
    x_traits AS traits_json, x_context AS context
FROM w
"""


def _column(parts: tuple[str, ...]) -> str:
    """A column name for a path (stable, any characters)."""
    import hashlib

    return "p_" + hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:12]


def _access(parts: tuple[str, ...]) -> str:
    expr = "m"
    for p in parts:
        expr = f"struct_extract({expr}, {lit(p)})"
    return expr


def _spec(leaves: list[tuple[str, ...]]) -> str:
    """The json_transform structure reading every leaf as JSON text."""
    import json

    tree: dict = {}
    for parts in leaves:
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = "JSON"
    return json.dumps(tree or {"type": "JSON"})


def text_of(j: str) -> str:
    """A field as events.parquet stores it: a string as it is, any other value as JSON text."""
    return (
        f"(CASE WHEN {j} IS NULL OR {j} = 'null' THEN NULL WHEN NOT starts_with({j}, '\"') THEN {j} "
        f"WHEN contains({j}, '\\') THEN json_extract_string({j}, '$') ELSE substr({j}, 2, strlen({j}) - 2) END)"
    )


#: Columns of Python's JSON text that the engine's writer makes canonical (for the rows only Python
#: reads as a message). ``canonical_sql`` reads ``texts`` (``k`` INTEGER and these columns).
TEXT_COLUMNS = (
    "type",
    "event",
    "user_id",
    "anonymous_id",
    "group_id",
    "message_id",
    "properties",
    "traits_json",
    "context",
)


def canonical_sql() -> str:
    """Python's JSON text of each value (``orjson.dumps``, strings too) as events.parquet stores it:
    a string as it is, anything else through the engine's JSON writer."""
    cols = ", ".join(
        f"CASE WHEN {c} IS NULL OR {c} = 'null' THEN NULL WHEN starts_with({c}, '\"') "
        f"THEN json_extract_string({c}, '$') ELSE json({c})::VARCHAR END AS {c}"
        for c in TEXT_COLUMNS
    )
    return f"SELECT k, {cols} FROM texts"


_CONTROL = re.compile(rb"[\x00-\x1f\\]")  # a control character or a backslash


# --- the probe ---------------------------------------------------------------------------------------
def main() -> None:
    """Time the query above against cdp's Python pass 1 on the same lines, one core each."""
    import argparse
    import tempfile
    import time
    from pathlib import Path

    import pyarrow as pa

    from cdp_cli.engine.duck import DuckEngine
    from cdp_cli.events.parse import gc_paused
    from cdp_cli.events.reader import ReadStats, discover, iter_chunks
    from cdp_cli.identity.config import build_config
    from cdp_cli.identity.stage import CHUNKS_PER_TASK, Stager, groups

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log")
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--task", type=int, default=10_000, help="lines per query (a staging task)")
    a = ap.parse_args()

    lines: list[bytes] = []
    with open(a.log, "rb") as fh:
        for raw in fh:
            lines.append(raw.rstrip(b"\n"))
            if len(lines) >= a.lines:
                break
    sample = Path(tempfile.mkdtemp()) / "sample.ndjson"
    sample.write_bytes(b"\n".join(lines) + b"\n")

    config = build_config({})
    query = StageSQL(config)
    engine = DuckEngine(memory_limit="1GB", threads=1)
    fast = rows = 0
    start = time.perf_counter()
    for i in range(0, len(lines), a.task):
        part = lines[i : i + a.task]
        table = pa.table(
            {
                "n": pa.array(range(i, i + len(part)), pa.int32()),
                "line": pa.array(part, pa.binary()).cast(pa.string()),
                "clean": pa.array([_CONTROL.search(x) is None for x in part]),
            }
        )
        engine.register_arrow("lines", table)
        out = engine.arrow(query.sql)
        rows += out.num_rows
        fast += sum(out.column("fast").to_pylist())
    sql_s = time.perf_counter() - start

    stager = Stager(config, sample.parent, 1 << 24)
    tasks = list(groups(iter_chunks(discover([str(sample)]), stats=ReadStats(), by_reference=False), CHUNKS_PER_TASK))
    start = time.perf_counter()
    with gc_paused():
        for task in tasks:
            stager(task)
    py_s = time.perf_counter() - start
    n = len(lines)
    print(f"lines {n:,}; the engine read {rows:,} as messages, {fast:,} of them fast ({fast / max(rows, 1):.1%})")
    print(f"DuckDB staging query, 1 thread: {sql_s:.2f} s = {sql_s / n * 1e6:.1f} us/line")
    print(f"cdp Python pass 1, 1 process:   {py_s:.2f} s = {py_s / n * 1e6:.1f} us/line (ratio {sql_s / py_s:.2f})")

    # where the query's time goes: each layer fetched whole (so nothing is pruned), on the last task
    head = query.sql[: query.sql.index("\nSELECT\n    n, top_unique")]
    for layer in ("l", "x", "z", "w"):
        start = time.perf_counter()
        engine.arrow(head + f"\nSELECT * FROM {layer}")
        per = (time.perf_counter() - start) / len(part) * 1e6
        print(f"  layers up to {layer}: {per:.1f} us/line")
    start = time.perf_counter()
    engine.arrow(query.sql)
    print(f"  whole query: {(time.perf_counter() - start) / len(part) * 1e6:.1f} us/line")


if __name__ == "__main__":
    main()
