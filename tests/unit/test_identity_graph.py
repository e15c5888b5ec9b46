"""The identity graph and its configuration, event by event: Segment's documented example, the
over-merge cases (placeholders, shared devices, anonymous ids kept across logins), windows, traits,
and property-based checks of limits and of the unrestricted mode against connected components."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp_cli.errors import ConfigError
from cdp_cli.identity.config import build_config, load_identity_config
from cdp_cli.identity.extract import Extractor
from cdp_cli.identity.graph import Graph, profile_id

DAY = 86_400_000_000


class World:
    """A graph plus an extractor, fed message dicts in order (ts in days)."""

    def __init__(self, config: dict | None = None, unrestricted: bool = False) -> None:
        cfg = build_config(config or {})
        if unrestricted:
            cfg = cfg.unrestricted()
        self.x = Extractor(cfg)
        self.g = Graph(self.x.types, unrestricted=unrestricted)
        self.seq = 0

    def send(self, msg: dict, day: float | None = None, traits: dict | None = None) -> int:
        self.seq += 1
        codes = [self.g.code(k) for k in self.x.extract(msg)]
        alias = None
        prev = self.x.previous_id(msg)
        if prev is not None:
            alias = (self.g.code((self.x.index["user_id"], prev)), self.g.code((self.x.index["anonymous_id"], prev)))
        ts = None if day is None else int(day * DAY)
        return self.g.process(self.seq, ts if ts is not None else self.seq, codes, alias=alias, traits=traits)

    def groups(self) -> list[set[str]]:
        """The partition as sets of 'type:value', sorted for comparison."""
        return sorted(({f"{t}:{v}" for t, v in ids} for ids in self.g.partition().values()), key=sorted)

    def profile_of(self, type_name: str, value: str) -> str:
        c = self.g.lookup(self.x.index[type_name], value)
        return self.g.pids[self.g.profile_of(c)]


def test_segment_documented_example_creates_a_new_profile_for_the_second_user_id():
    w = World()
    a = w.send({"type": "identify", "userId": "abc123", "traits": {"email": "jane@example1.com"}})
    b = w.send({"type": "identify", "userId": "abc456", "traits": {"email": "jane@example1.com"}})
    assert a != b
    assert w.groups() == [{"user_id:abc123", "email:jane@example1.com"}, {"user_id:abc456"}]
    [r] = w.g.refusals
    assert w.g.types[r.type_index].name == "user_id" and r.would_hold == 2
    assert w.g.keys[r.dropped] == (w.x.index["email"], "jane@example1.com")  # email ranks below user_id


def test_placeholder_ids_are_blocked_but_the_event_is_kept():
    w = World()
    for uid in ("null", "undefined", "0", "anonymous", "-1", "[object Object]", "", "  ", "000000", "NULL", "None"):
        assert w.send({"type": "track", "event": "E", "userId": uid, "anonymousId": f"anon-{uid}x"}) >= 0
    assert len(w.groups()) == 11  # each anonymous id its own profile: nothing merged through a placeholder
    assert w.x.stats.blocked["user_id"] == 11
    assert w.x.stats.blocked_values[("user_id", "undefined")] == 1
    assert w.x.stats.blocked_values[("user_id", "regex ^[0-]*$")] == 3  # "", "  ", "000000": by rule, never by value


def test_a_shared_device_and_an_anonymous_id_kept_across_logins_do_not_merge_people():
    w = World()
    ipad = {"device": {"id": "IPAD-1", "type": "ios"}}
    w.send({"type": "identify", "userId": "grace", "anonymousId": "a-ipad", "context": ipad})
    w.send({"type": "identify", "userId": "linus", "anonymousId": "a-ipad", "context": ipad})
    w.send({"type": "track", "event": "E", "userId": "ada", "anonymousId": "a-ipad", "context": ipad})
    groups = w.groups()
    assert {"user_id:grace", "anonymous_id:a-ipad", "ios.id:IPAD-1"} in groups
    assert {"user_id:linus"} in groups and {"user_id:ada"} in groups
    dropped = [w.g.keys[r.dropped] for r in w.g.refusals]
    # lowest priority first: ios.id (alphabetically after anonymous_id), then anonymous_id
    names = [(w.g.types[t].name, v) for t, v in dropped]
    assert names[:2] == [("ios.id", "IPAD-1"), ("anonymous_id", "a-ipad")]


def test_unrestricted_mode_merges_through_the_shared_device():
    w = World(unrestricted=True)
    ipad = {"device": {"id": "IPAD-1", "type": "ios"}}
    w.send({"type": "identify", "userId": "grace", "context": ipad})
    w.send({"type": "identify", "userId": "linus", "context": ipad})
    assert w.groups() == [{"user_id:grace", "user_id:linus", "ios.id:IPAD-1"}] and not w.g.refusals


def test_cross_device_journey_merges_and_the_oldest_profile_survives():
    w = World()
    web = w.send({"type": "page", "anonymousId": "a-web", "userId": None})
    app = w.send({"type": "screen", "anonymousId": "a-app", "context": {"device": {"id": "PHONE", "type": "android"}}})
    w.send({"type": "identify", "anonymousId": "a-web", "userId": "u1", "traits": {"email": "Ada@Example.COM "}})
    s = w.send({"type": "identify", "anonymousId": "a-app", "userId": "u1"})
    assert s == web != app
    assert w.groups() == [
        {"anonymous_id:a-web", "anonymous_id:a-app", "user_id:u1", "email:ada@example.com", "android.id:PHONE"}
    ]
    [m] = w.g.merges
    assert (m.survivor, m.absorbed) == (web, app)
    assert w.profile_of("android.id", "PHONE") == profile_id("anonymous_id", "a-web")


def test_limits_with_a_window_count_only_recent_values():
    w = World({"identifiers": {"anonymous_id": {"limit": 2, "window": "weekly"}}})
    for i, day in enumerate((0, 1, 10, 11, 20, 21)):  # a new browser id now and then
        w.send({"type": "track", "event": "E", "userId": "u1", "anonymousId": f"a{i}"}, day=day)
    assert len(w.groups()) == 1 and not w.g.refusals  # never more than 2 in any 7 days
    w.send({"type": "track", "event": "E", "userId": "u1", "anonymousId": "a6"}, day=21.5)  # a third within the week
    assert not any("anonymous_id:a6" in g for g in w.groups()) and len(w.g.refusals) == 1  # dropped, not attached
    assert w.g.refusals[0].would_hold == 3


def test_traits_newest_wins_null_removes_and_merges_keep_the_newer():
    w = World()
    w.send({"type": "identify", "userId": "u1"}, traits={"plan": "free", "city": "Oslo", "nick": "a"})
    w.send({"type": "identify", "anonymousId": "x"}, traits={"plan": "trial", "color": "red"})
    w.send({"type": "identify", "userId": "u1"}, traits={"city": None, "nick": ""})
    w.send({"type": "track", "event": "E", "userId": "u1", "anonymousId": "x"})  # merges x's profile in
    p = w.g.profile_of(w.g.lookup(w.x.index["user_id"], "u1"))
    assert w.g.profile_traits(p) == {"plan": "trial", "color": "red", "nick": ""}  # trial is newer than free


def test_alias_links_previous_id_and_can_be_ignored():
    w = World()
    w.send({"type": "track", "event": "E", "anonymousId": "old-anon"})
    w.send({"type": "alias", "previousId": "old-anon", "userId": "u9"})
    assert w.groups() == [{"anonymous_id:old-anon", "user_id:u9"}]
    w = World({"alias": "ignore"})
    w.send({"type": "track", "event": "E", "anonymousId": "old-anon"})
    w.send({"type": "alias", "previousId": "old-anon", "userId": "u9"})
    assert w.groups() == [{"anonymous_id:old-anon"}, {"user_id:u9"}]


def test_wrong_types_numbers_long_values_and_external_ids():
    w = World({"numbers": "normalize", "max_length": 20})
    ids = w.x.extract(
        {
            "type": "track",
            "userId": 42.0,
            "anonymousId": {"a": 1},
            "context": {
                "traits": {"email": True},
                "externalIds": [
                    {"id": "C-1", "type": "crm_id", "collection": "users", "encoding": "none"},
                    {"id": "ACME", "type": "account_id", "collection": "accounts"},
                    {"id": "x" * 30, "type": "crm_id", "collection": "users"},
                ],
            },
        }
    )
    assert [(w.x.types[i].name, v) for i, v in ids] == [("user_id", "42"), ("crm_id", "C-1")]
    s = w.x.stats
    assert s.wrong_type == {"anonymous_id": 1, "email": 1} and s.too_long == {"crm_id": 1}
    assert s.numbers == {"user_id": 1} and s.external_accounts == 1
    assert w.x.types[w.x.index["crm_id"]].external
    w = World({"numbers": "reject"})
    assert w.x.extract({"type": "track", "userId": 42}) == [] and w.x.stats.wrong_type == {"user_id": 1}


def test_group_id_is_recorded_but_never_joins_people():
    w = World()
    w.send({"type": "group", "userId": "u1", "groupId": "acme"})
    w.send({"type": "group", "userId": "u2", "groupId": "acme"})
    assert len(w.g.roots()) == 2
    for p in w.g.roots():
        assert w.g.profile_identifiers(p)["group_id"] == ["acme"]


def test_configuration_errors_name_file_line_and_column(tmp_path):
    cases = [
        ("identifiers:\n  user_id: {limit: 0}\n", ":2:13: limit must be an integer of at least 1"),
        ("identifiers:\n  anonymous_id: {window: fortnightly}\n", "window must be one of ever, daily"),
        ("identifiers:\n  crm_id: {limit: 1}\n", ":2:3: crm_id is not a default identifier type: give its paths"),
        ("blocked: [{regex: '([a-'}]\n", "invalid regex"),
        ("aliases: link\n", ":1:1: unknown key 'aliases'"),
        ("identifiers:\n  email: {paths: [traits..email]}\n", "is not a dotted path"),
        ("aliases: link\n", "; did you mean 'alias'?"),
        ("identifiers:\n  email: {pathz: [a]}\n", ":2:11: unknown key 'pathz'; known keys: blocked, enabled"),
        ("identifiers:\n  email: 3\n", ":2:3: an identifier type is a mapping such as"),
        ("identifiers:\n  email: {paths: []}\n", ":2:11: paths is a non-empty list of dotted paths"),
        ("identifiers:\n  email: {paths: [{path: a, when: {b..c: 1}}]}\n", ":2:36: path 'b..c' is not a dotted path"),
        ("identifiers:\n  'a b': {paths: [a]}\n", ":2:3: identifier type 'a b': use letters"),
        ("identifiers:\n  x: {paths: [a], normalize: [upper]}\n", ":2:19: normalize is a list of: trim, lowercase"),
        ("blocked: [[1]]\n", ":1:11: a blocked value is a string or {regex: ...}, not list"),
        ("external_ids: {enabled: 2}\n", ":1:16: enabled is true or false"),
        ("external_ids: 2\n", ":1:1: external_ids is true, false or {enabled, limit}"),
        ("alias: merge\n", ":1:1: alias is 'link' (previousId joins userId) or 'ignore'"),
        ("super_profile: 1\n", ":1:1: super_profile must be an integer of at least 2"),
        ("version: 2\n", ":1:1: unsupported version 2; this cdp reads version 1"),
        ("- a\n", ":1:1: an identity file holds a mapping"),
    ]
    for text, message in cases:
        (tmp_path / "identity.yaml").write_text(text)
        with pytest.raises(ConfigError) as e:
            load_identity_config(tmp_path / "identity.yaml")
        assert message in str(e.value) and "identity.yaml" in str(e.value), (text, str(e.value))


def test_default_priorities_follow_segment():
    cfg = build_config({"identifiers": {"crm_id": {"paths": ["traits.crm_id"]}}})
    names = [t.name for t in cfg.types]
    assert names[:2] == ["user_id", "email"] and names[2:] == sorted(names[2:])
    assert [t.priority for t in cfg.types] == list(range(1, len(names) + 1))
    limits = {t.name: t.limit for t in cfg.types}
    assert limits["user_id"] == 1 and limits["email"] == 5 and limits["crm_id"] == 5


# --- properties ------------------------------------------------------------------------------------
TYPES = ("user_id", "email", "anonymous_id")
VALUES = st.sampled_from(["a", "b", "c", "d", "e", "f"])
EVENT = st.dictionaries(st.sampled_from(TYPES), VALUES, min_size=1, max_size=3)


def _msg(ids: dict[str, str]) -> dict:
    m: dict = {"type": "identify"}
    if "user_id" in ids:
        m["userId"] = "u-" + ids["user_id"]
    if "anonymous_id" in ids:
        m["anonymousId"] = "a-" + ids["anonymous_id"]
    if "email" in ids:
        m["traits"] = {"email": ids["email"] + "@x.io"}
    return m


def _components(events: list[dict[str, str]]) -> list[set[str]]:
    """Connected components computed independently: union-find over the events' identifier sets."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for ev in events:
        nodes = [
            f"{t}:{('u-' if t == 'user_id' else 'a-' if t == 'anonymous_id' else '') + v}"
            f"{'@x.io' if t == 'email' else ''}"
            for t, v in ev.items()
        ]
        for n in nodes[1:]:
            parent[find(n)] = find(nodes[0])
        find(nodes[0])
    comps: dict[str, set[str]] = {}
    for n in list(parent):
        comps.setdefault(find(n), set()).add(n)
    return sorted(comps.values(), key=sorted)


@settings(max_examples=200, deadline=None)
@given(st.lists(EVENT, max_size=25))
def test_unrestricted_mode_is_exactly_the_connected_components(events):
    w = World(unrestricted=True)
    for ev in events:
        w.send(_msg(ev))
    assert w.groups() == _components(events)


@settings(max_examples=200, deadline=None)
@given(st.lists(EVENT, max_size=25), st.integers(1, 3), st.integers(1, 3))
def test_no_profile_ever_exceeds_a_limit(events, user_limit, email_limit):
    w = World(
        {
            "identifiers": {
                "user_id": {"limit": user_limit},
                "email": {"limit": email_limit},
                "anonymous_id": {"limit": 2},
            }
        }
    )
    limits = {"user_id": user_limit, "email": email_limit, "anonymous_id": 2}
    for ev in events:
        w.send(_msg(ev))
        for p in w.g.roots():
            for t, values in w.g.profile_identifiers(p).items():
                assert len(values) <= limits[t], (t, values)
    # and every identifier that was ever seen belongs to exactly one profile, or was never attached
    seen = [c for c in range(len(w.g.keys)) if w.g.owner[c] >= 0]
    assert sum(len(ids) for ids in w.g.partition().values()) == len(seen)


def test_an_alias_never_joins_through_a_type_that_does_not_join():
    """With anonymous_id `match: false`, an alias's previousId is not an anonymous id that joins
    profiles (it was: listed twice on the profile, and as an identity)."""
    w = World({"identifiers": {"anonymous_id": {"match": False}}})
    w.send({"type": "identify", "userId": "u1", "anonymousId": "X"}, day=1)
    w.send({"type": "alias", "previousId": "X", "userId": "u1"}, day=2)
    (p,) = w.g.roots()
    assert w.g.profile_identifiers(p) == {"user_id": ["u1"], "anonymous_id": ["X"]}
    assert w.groups() == [{"user_id:u1"}]  # the identifiers that join: the anonymous id is only recorded
