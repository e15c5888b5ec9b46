"""Connected components in the engine (large-star / small-star) against a union-find."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp_cli.engine import connect
from cdp_cli.identity.components import find_components
from tests.unit.test_identity_graph import World


def _union_find(edges: list[tuple[int, int]]) -> dict[int, int]:
    """node -> the smallest node of its component, computed independently."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {n: find(n) for n in list(parent)}


def _labels(edges: list[tuple[int, int]]) -> tuple[dict[int, int], int]:
    with connect() as eng:
        eng.execute("CREATE TABLE g (a BIGINT, b BIGINT)")
        if edges:
            eng.execute("INSERT INTO g VALUES " + ", ".join(f"({a}, {b})" for a, b in edges))
        found = find_components(eng, "g")
        labels = dict(eng.rows("SELECT node, comp FROM cdp_components"))
        assert found.nodes == len(labels)
        assert found.components == len(set(labels.values()))
        # its working tables are gone: only the result stays
        left = {r[0] for r in eng.rows("SELECT table_name FROM information_schema.tables")}
        assert left == {"g", "cdp_components"}
        return labels, found.rounds


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 40), st.integers(-5, 40)), max_size=60))
def test_components_equal_a_union_find(edges):
    labels, _ = _labels(edges)
    assert labels == _union_find(edges)


def test_a_long_chain_converges_in_few_rounds_whatever_its_numbering():
    # label propagation needs a round per hop here; large-star / small-star about log² n
    n = 2500
    order = list(range(n))
    random.Random(7).shuffle(order)
    chain = [(order[i], order[i + 1]) for i in range(n - 1)]
    labels, rounds = _labels(chain)
    assert set(labels.values()) == {0} and len(labels) == n
    assert rounds <= 40


def test_stars_cliques_duplicates_self_loops_and_nulls():
    edges = [(5, 1), (5, 2), (5, 3), (5, 4)]  # a star around 5: its component is labelled 1
    edges += [(10, 11), (11, 12), (12, 10), (10, 11), (11, 10)]  # a triangle, edges repeated both ways
    edges += [(20, 20)]  # a node seen only in a self-loop: a component of its own
    labels, _ = _labels(edges)
    assert labels == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 10: 10, 11: 10, 12: 10, 20: 20}
    with connect() as eng:  # NULL ends are ignored, not a node
        eng.execute("CREATE TABLE g AS SELECT * FROM (VALUES (1, NULL), (NULL, NULL), (2, 3)) t(a, b)")
        find_components(eng, "g")
        assert dict(eng.rows("SELECT node, comp FROM cdp_components")) == {1: 1, 2: 2, 3: 2}


@pytest.mark.parametrize("edges", [[], [(7, 7)]])
def test_an_empty_graph_or_one_node(edges):
    labels, rounds = _labels(edges)
    assert labels == ({7: 7} if edges else {})
    assert rounds == 1


# --- the observation resolution by components rests on ------------------------------------------------
TYPES = ("user_id", "email", "anonymous_id")
VALUES = st.sampled_from("abcdefgh")
IDENTIFY = st.dictionaries(st.sampled_from(TYPES), VALUES, min_size=1, max_size=3).map(lambda ids: ("identify", ids))
ALIAS = st.tuples(VALUES, VALUES).map(lambda pair: ("alias", {"previous": pair[0], "user_id": pair[1]}))
EVENTS = st.lists(st.tuples(st.one_of(IDENTIFY, IDENTIFY, ALIAS), st.none() | st.integers(0, 30)), max_size=30)


def _message(kind: str, ids: dict[str, str]) -> dict:
    if kind == "alias":  # previousId: an anonymous id or a user id, whichever the graph knows
        return {"type": "alias", "previousId": ids["previous"], "userId": ids["user_id"]}
    m: dict = {"type": "identify"}
    if "user_id" in ids:
        m["userId"] = ids["user_id"]
    if "anonymous_id" in ids:
        m["anonymousId"] = ids["anonymous_id"]
    if "email" in ids:
        m["traits"] = {"email": ids["email"] + "@x.io"}
    return m


@settings(max_examples=150, deadline=None)
@given(EVENTS, st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.booleans())
def test_no_profile_spans_two_components_of_the_graph_with_both_alias_candidates(
    events, user_limit, email_limit, anon_limit, windowed
):
    """With Segment-style limits and merge protection, every profile lies inside one connected
    component of the graph that joins each event's identifiers and both candidates of each alias
    (previousId as a user id and as an anonymous id): so each component can be resolved alone."""
    window = {"window": "weekly"} if windowed else {}
    w = World(
        {
            "identifiers": {
                "user_id": {"limit": user_limit, **window},
                "email": {"limit": email_limit},
                "anonymous_id": {"limit": anon_limit, **window},
            }
        }
    )
    edges: list[tuple[int, int]] = []
    for (kind, ids), day in events:
        msg = _message(kind, ids)
        w.send(msg, day)
        codes = [w.g.code(k) for k in w.x.extract(msg)]
        prev = w.x.previous_id(msg)
        if prev is not None:
            codes += [w.g.code((w.x.index["user_id"], prev)), w.g.code((w.x.index["anonymous_id"], prev))]
        edges += [(codes[0], c) for c in codes]  # (c, c): a node even when alone
    with connect() as eng:
        eng.execute("CREATE TABLE g (a BIGINT, b BIGINT)")
        if edges:
            eng.execute("INSERT INTO g VALUES " + ", ".join(f"({a}, {b})" for a, b in edges))
        find_components(eng, "g")
        label = dict(eng.rows("SELECT node, comp FROM cdp_components"))
    for p in w.g.roots():
        codes = [c for t, values in w.g.members[p].items() for c in values]
        assert len({label[c] for c in codes}) == 1, (p, codes)


def _log_with_aliases(path, events: int = 4000, aliases: int = 300, seed: int = 5) -> None:
    """A generated log plus alias calls linking its anonymous ids and user ids at random times
    (the generator sends none): previousId an anonymous id or a user id, userId another user's."""
    import subprocess
    import sys

    import orjson

    subprocess.run(
        [sys.executable, "-m", "cdp_cli", "samples", "generate", "--events", str(events), "--seed", str(seed)]
        + ["--users", str(events // 40), "-o", str(path)],
        check=True,
        capture_output=True,
    )
    lines = path.read_bytes().splitlines()
    msgs = [orjson.loads(line) for line in lines]
    anons = sorted({m["anonymousId"] for m in msgs if m.get("anonymousId")})
    users = sorted({m["userId"] for m in msgs if m.get("userId")})
    stamps = sorted(m["timestamp"] for m in msgs if m.get("timestamp"))
    rnd = random.Random(seed)
    for i in range(aliases):
        previous = rnd.choice(anons) if rnd.random() < 0.6 else rnd.choice(users)
        alias = {"type": "alias", "previousId": previous, "userId": rnd.choice(users)}
        alias |= {"messageId": f"alias-{i}", "timestamp": rnd.choice(stamps)}
        lines.insert(rnd.randrange(len(lines) + 1), orjson.dumps(alias))
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_a_resolved_profile_never_spans_two_components_of_the_staged_log(tmp_path):
    """The staged messages' components (identifiers that join, both alias candidates) each hold
    whole profiles of the real resolver's output, with Segment's default limits."""
    from cdp_cli.events.reader import DEFAULT_MAX_LINE_BYTES, discover, iter_chunks
    from cdp_cli.identity import sql
    from cdp_cli.identity.components import event_components
    from cdp_cli.identity.config import build_config
    from cdp_cli.identity.resolve import resolve
    from cdp_cli.identity.stage import CHUNKS_PER_TASK, Stager, groups

    log = tmp_path / "events.ndjson"
    _log_with_aliases(log)
    result = resolve([log], tmp_path / "profiles", jobs=1)
    assert result.merges > 0 and result.refused > 0  # limits were at work
    config = build_config({})
    stage_dir = tmp_path / "stage"
    stage_dir.mkdir()
    stager = Stager(config, stage_dir, DEFAULT_MAX_LINE_BYTES)
    for task in groups(iter_chunks(discover([log])), CHUNKS_PER_TASK):
        stager(task)
    with connect() as eng:
        eng.register_parquet("stage", str(stage_dir / "stage-*.parquet"))
        eng.execute("CREATE TABLE files AS SELECT 0::INTEGER AS src, 'events.ndjson' AS file")
        eng.execute(eng.dialect.create_temp_table("dups", sql.DUPLICATES.render(eng.dialect).sql))
        recorded = [t.name for t in config.types if not t.match]
        found = event_components(eng, "stage", "dups", recorded)
        assert 1 < found.components < found.nodes
        eng.register_parquet("events", tmp_path / "profiles" / "events.parquet")
        spanning = eng.rows(
            """
            SELECT e.profile_id, count(DISTINCT c.comp) FROM events e
            JOIN stage s ON s.line = e.line AND s.bidx IS NOT DISTINCT FROM e.batch_index
            LEFT JOIN cdp_event_components c ON c.seq = s.seq
            WHERE e.profile_id IS NOT NULL
            GROUP BY e.profile_id HAVING count(DISTINCT c.comp) <> 1 OR count(c.comp) <> count(*)
            """
        )
        assert spanning == []
        (profiles,) = eng.rows("SELECT count(DISTINCT profile_id) FROM events")[0]
        assert profiles == result.profiles and found.components <= profiles
