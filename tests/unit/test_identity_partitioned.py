"""Resolution by components (``--jobs`` > 1) gives the single pass's output files, byte for byte."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp_cli.identity.config import build_config
from cdp_cli.identity.resolve import resolve

FILES = ("profiles.parquet", "identities.parquet", "events.parquet", "merges.parquet")
POOL = st.sampled_from("abcdefg")


@st.composite
def messages(draw) -> list[dict]:
    """A small log that exercises everything the partitioned path must reproduce: merges and
    refusals (few values, small limits), aliases both ways, a shared device (super-node), messages
    without timestamps (the clock), context.externalIds types first seen together in one message
    (the type order), group ids (recorded, never joining), traits set and removed, duplicates."""
    out = []
    for i in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["identify", "identify", "track", "alias", "group"]))
        m: dict = {"type": kind, "messageId": f"m{draw(st.integers(0, 45)) if draw(st.booleans()) else i + 100}"}
        if kind == "alias":
            m["previousId"] = draw(POOL)
            m["userId"] = "u" + draw(POOL)
        else:
            if draw(st.booleans()):
                m["userId"] = "u" + draw(POOL)
            if draw(st.booleans()):
                m["anonymousId"] = draw(POOL)
            if kind == "group":
                m["groupId"] = "g" + draw(POOL)
            if kind == "track":
                m["event"] = "E"
            if draw(st.integers(0, 5)) == 0:
                m["context"] = {"device": {"id": "shared-device"}}
            if draw(st.integers(0, 6)) == 0:
                ext = draw(st.permutations(["crm", "zendesk", "hubspot"]))[: draw(st.integers(1, 3))]
                m.setdefault("context", {})["externalIds"] = [
                    {"id": draw(POOL), "type": t, "collection": "users", "encoding": "none"} for t in ext
                ]
            if kind == "identify":
                traits = {"email": draw(POOL) + "@x.io"} if draw(st.booleans()) else {}
                if draw(st.booleans()):
                    traits["plan"] = draw(st.sampled_from(["free", "pro", None]))
                m["traits"] = traits
        day = draw(st.none() | st.integers(1, 28))
        if day is not None:
            m["timestamp"] = f"2026-11-{day:02d}T{draw(st.integers(0, 23)):02d}:00:00Z"
        out.append(m)
    return out


CONFIGS = st.sampled_from(
    [
        {},
        {"identifiers": {"user_id": {"limit": 1}, "anonymous_id": {"limit": 2, "window": "weekly"}}},
        {"identifiers": {"email": {"limit": 1}, "device_id": {"paths": ["context.device.id"], "limit": 3}}},
        {"identifiers": {"anonymous_id": {"match": False}}, "alias": "ignore"},
        {"identifiers": {"user_id": {"match": False, "limit": 1}, "email": {"limit": 2, "window": "daily"}}},
        {"identifiers": {"anonymous_id": {"enabled": False}}},
    ]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages(), CONFIGS, st.booleans())
def test_resolution_by_components_writes_the_single_pass_files(tmp_path_factory, msgs, config, unrestricted):
    tmp = tmp_path_factory.mktemp("parts")
    log = tmp / "events.ndjson"
    log.write_bytes(b"\n".join(orjson.dumps(m) for m in msgs) + b"\n")
    cfg = build_config(config)
    one = resolve([log], tmp / "one", config=cfg, unrestricted=unrestricted, jobs=1)
    for jobs in (2, 3):
        many = resolve([log], tmp / f"jobs{jobs}", config=build_config(config), unrestricted=unrestricted, jobs=jobs)
        assert many.summary() | {"out": "", "seconds": 0} == one.summary() | {"out": "", "seconds": 0}
        for name in FILES:
            assert (tmp / f"jobs{jobs}" / name).read_bytes() == (tmp / "one" / name).read_bytes(), (jobs, name)
        assert (tmp / f"jobs{jobs}" / "manifest.json").read_bytes() == (tmp / "one" / "manifest.json").read_bytes()


def test_one_partition_and_one_graph_pass_with_workers_write_the_same_files(tmp_path):
    """``by_components`` chooses the path whatever ``jobs`` is: one partition in this process, or the
    single graph pass after staging in two workers; the files do not change."""
    from tests.unit.test_components import _log_with_aliases

    log = tmp_path / "events.ndjson"
    _log_with_aliases(log, events=1500, aliases=80)
    resolve([log], tmp_path / "one", jobs=1)
    resolve([log], tmp_path / "part", jobs=1, by_components=True)
    resolve([log], tmp_path / "pass", jobs=2, by_components=False)
    for name in FILES:
        single = (tmp_path / "one" / name).read_bytes()
        assert (tmp_path / "part" / name).read_bytes() == single, name
        assert (tmp_path / "pass" / name).read_bytes() == single, name
