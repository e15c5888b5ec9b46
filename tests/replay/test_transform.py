"""``--transform FILE.yaml`` (cdp_cli/replay/transform.py): each step, conditions by type and event glob,
the order of steps and rules, the input never changed, salts from the environment, PII from the plan,
and every mistake in a file reported at FILE:LINE:COL."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import textwrap
from pathlib import Path

import pytest

from cdp_cli.errors import ConfigError
from cdp_cli.replay.transform import Transforms, load_transforms, pii_paths
from tests.conftest import ROOT


def load(tmp_path: Path, text: str, **kw) -> Transforms:
    path = tmp_path / "transforms.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_transforms(path, **kw)


def problems(tmp_path: Path, text: str, **kw) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text, **kw)
    prefix = f"{tmp_path / 'transforms.yaml'}:"
    lines = str(e.value).splitlines()
    assert getattr(e.value, "problems", lines) == lines  # YAML syntax errors come one at a time
    assert all(line.startswith(prefix) for line in lines)
    return [line.removeprefix(prefix) for line in lines]


def sha(text: str, salt: str = "") -> str:
    return hashlib.sha256((salt + text).encode()).hexdigest()


def track(event: str, **kw) -> dict:
    return {"type": "track", "event": event, "messageId": "m1", "userId": "u1", "properties": {}, **kw}


# --- conditions -----------------------------------------------------------------------------------


def test_rename_event_matches_track_events_by_glob(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - when: {type: track, event: "Order *"}
            rename_event: Purchase
        """,
    )
    out, done = t.apply(track("Order Completed"))
    assert (out["event"], done) == ("Purchase", ["rename_event"])
    for msg in (track("Product Viewed"), track("order completed"), track("Orders")):  # globs are case-sensitive
        assert t.apply(msg) == (msg, [])
    page = {"type": "page", "name": "Order Completed", "messageId": "m2"}
    assert t.apply(page) == (page, [])
    renamed = load(tmp_path, "transforms: [{rename_event: Purchase}]\n")
    for msg in ({"type": "track", "userId": "u1"}, {"type": "track", "event": None}, track("Purchase")):
        assert renamed.apply(msg) == (msg, [])  # no event to rename, or already the name


def test_event_globs_lists_and_wildcards(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - when: {event: ["Cart ?", "Checkout Step [12]", Signed Up]}
            set: {properties.matched: true}
        """,
    )
    matched = ["Cart A", "Checkout Step 1", "Checkout Step 2", "Signed Up"]
    for event in [*matched, "Cart AB", "Checkout Step 3", "Signed Up Today"]:
        out, done = t.apply(track(event))
        assert (done == ["set:properties.matched"]) == (event in matched), event
    # a rule with an event condition matches track messages only, even without a type condition
    identify = {"type": "identify", "event": "Signed Up", "userId": "u1"}
    assert t.apply(identify) == (identify, [])


def test_type_conditions_and_rules_without_conditions(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - when: {type: [identify, group]}
            set: {traits.kind: person-or-account}
          - set: {context.app.env: staging}
          - rename_event: Renamed
        """,
    )
    out, done = t.apply({"type": "identify", "userId": "u1", "traits": {"a": 1}})
    assert done == ["set:traits.kind", "set:context.app.env"]
    assert out["traits"] == {"a": 1, "kind": "person-or-account"}
    out, done = t.apply({"type": "page", "name": "Home", "anonymousId": "a1"})
    assert done == ["set:context.app.env"]  # rename_event without a type condition: track messages only
    assert "traits" not in out and out["name"] == "Home"
    out, done = t.apply(track("Signed Up"))
    assert done == ["set:context.app.env", "rename_event"] and out["event"] == "Renamed"
    # a message whose type is not one of the six (or not text) meets only rules without a type
    odd = {"type": ["track"], "userId": "u1"}
    assert t.apply(odd)[1] == ["set:context.app.env"]


def test_a_message_no_rule_can_match_is_returned_as_it_is(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - when: {type: identify}
            drop: [traits.ssn]
        """,
    )
    msg = track("Order Completed", properties={"ssn": "x"})
    out, done = t.apply(msg)
    assert out is msg and done == []
    identify = {"type": "identify", "userId": "u1", "traits": {"email": "a@x"}}
    out, done = t.apply(identify)
    assert out is identify and done == []  # matched, but nothing to drop: nothing done


# --- each step ------------------------------------------------------------------------------------


def test_rename_moves_values_between_paths(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - rename:
              traits.email_address: traits.email
              context.traits.phone: traits.phone
              properties.sku: properties.product.sku
              properties.old: properties.text.value
        """,
    )
    msg = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email_address": "a@x", "email": "old@x"},
        "context": {"traits": {"phone": "+1555"}},
        "properties": {"sku": "S1", "old": 1, "text": "not an object"},
    }
    out, done = t.apply(msg)
    assert out["traits"] == {"email": "a@x", "phone": "+1555"}  # an existing target is replaced
    assert out["context"] == {"traits": {}}
    assert out["properties"] == {"product": {"sku": "S1"}, "old": 1, "text": "not an object"}  # created / kept
    assert done == ["rename:traits.email_address", "rename:context.traits.phone", "rename:properties.sku"]
    assert t.apply({"type": "track", "event": "E"}) == ({"type": "track", "event": "E"}, [])  # nothing to rename


def test_drop_removes_fields_present_even_when_null(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - drop: [traits.ssn, properties.debug, context.device.adTrackingEnabled, properties.a.b]
        """,
    )
    msg = {
        "type": "identify",
        "traits": {"ssn": None, "name": "Ada"},
        "context": {"device": {"adTrackingEnabled": True, "id": "d1"}},
        "properties": {"a": "text"},
    }
    out, done = t.apply(msg)
    assert out["traits"] == {"name": "Ada"}
    assert out["context"] == {"device": {"id": "d1"}}
    assert out["properties"] == {"a": "text"}
    assert done == ["drop:traits.ssn", "drop:context.device.adTrackingEnabled"]


def test_set_creates_objects_and_never_shares_its_value(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - set:
              context.app.env: staging
              properties.tags: [replayed]
              traits.address.country: FR
              properties.note.text: x
        """,
    )
    msg = {"type": "track", "event": "E", "context": None, "traits": {"address": None}, "properties": {"note": "n"}}
    out, done = t.apply(msg)
    assert out["context"] == {"app": {"env": "staging"}}  # null is replaced by an object
    assert out["traits"] == {"address": {"country": "FR"}}
    assert out["properties"] == {"note": "n", "tags": ["replayed"]}  # properties.note is text: not set
    assert done == ["set:context.app.env", "set:properties.tags", "set:traits.address.country"]
    again, _ = t.apply(msg)
    again["properties"]["tags"].append("changed")
    assert out["properties"]["tags"] == ["replayed"]


def test_hash_strings_numbers_objects_and_identifiers(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - hash: [traits.email, traits.age, traits.vip, traits.address, traits.tags, traits.none, traits.absent,
                   userId, anonymousId]
        """,
    )
    msg = {
        "type": "identify",
        "userId": "u1",
        "anonymousId": None,
        "traits": {
            "email": "ada@example.com",
            "age": 36,
            "vip": True,
            "address": {"city": "Paris", "street": "1 rue X"},
            "tags": ["a", 1.5],
            "none": None,
        },
    }
    out, done = t.apply(msg)
    traits = out["traits"]
    assert traits["email"] == sha("ada@example.com")
    assert traits["age"] == sha("36")
    assert traits["vip"] == sha("true")
    assert traits["address"] == sha('{"city":"Paris","street":"1 rue X"}')  # compact JSON, keys sorted
    assert traits["address"] == sha(
        json.dumps({"street": "1 rue X", "city": "Paris"}, sort_keys=True, separators=(",", ":"))
    )
    assert traits["tags"] == sha('["a",1.5]')
    assert traits["none"] is None and "absent" not in traits  # null and absent values are left alone
    assert out["userId"] == sha("u1") and out["anonymousId"] is None
    assert done == [
        "hash:traits.email",
        "hash:traits.age",
        "hash:traits.vip",
        "hash:traits.address",
        "hash:traits.tags",
        "hash:userId",
    ]


def test_hash_is_salted_from_the_environment(tmp_path, monkeypatch):
    text = """
        transforms:
          - hash: [traits.email]
            salt_env: CDP_TEST_SALT
        """
    monkeypatch.setenv("CDP_TEST_SALT", "pepper")
    out, _ = load(tmp_path, text).apply({"type": "identify", "traits": {"email": "ada@example.com"}})
    assert out["traits"]["email"] == sha("ada@example.com", salt="pepper")
    assert out["traits"]["email"] == hashlib.sha256(b"pepperada@example.com").hexdigest()
    # an explicit environment wins over os.environ
    out, _ = load(tmp_path, text, environ={"CDP_TEST_SALT": "s2"}).apply({"type": "identify", "traits": {"email": "a"}})
    assert out["traits"]["email"] == sha("a", salt="s2")
    assert "pepper" not in repr(load(tmp_path, text))


def test_an_unset_or_empty_salt_variable_is_a_load_error(tmp_path, monkeypatch):
    text = """
        transforms:
          - hash: [traits.email]
          - when: {type: identify}
            hash: [traits.phone]
            salt_env: CDP_TEST_SALT
        """
    monkeypatch.delenv("CDP_TEST_SALT", raising=False)
    assert problems(tmp_path, text) == [
        "5:15: the environment variable CDP_TEST_SALT is not set: set it to the salt "
        "(values are never hashed unsalted when a salt is asked for)"
    ]
    monkeypatch.setenv("CDP_TEST_SALT", "")
    assert problems(tmp_path, text) == [
        "5:15: the environment variable CDP_TEST_SALT is empty: set it to the salt "
        "(values are never hashed unsalted when a salt is asked for)"
    ]


# --- order ----------------------------------------------------------------------------------------


def test_steps_of_a_rule_run_in_a_fixed_order_whatever_the_file_says(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - hash: [properties.total, properties.id]
            set: {properties.id: fixed}
            drop: [properties.total]
            rename: {properties.amount: properties.total}
            rename_event: Purchase
            when: {event: Order Completed}
        """,
    )
    out, done = t.apply(track("Order Completed", properties={"amount": 10, "total": 99}))
    # rename_event, then rename (amount replaces total), drop (total goes), set (id), hash (id only)
    assert out["event"] == "Purchase"
    assert out["properties"] == {"id": sha("fixed")}
    assert done == [
        "rename_event",
        "rename:properties.amount",
        "drop:properties.total",
        "set:properties.id",
        "hash:properties.id",
    ]


def test_rules_run_in_file_order_each_on_the_result_of_the_last(tmp_path):
    t = load(
        tmp_path,
        """
        transforms:
          - when: {event: Order Completed}
            rename_event: Purchase
          - when: {event: Purchase}
            set: {properties.was_renamed: true}
          - when: {event: Order Completed}
            set: {properties.never: true}
        """,
    )
    out, done = t.apply(track("Order Completed"))
    assert out["properties"] == {"was_renamed": True}
    assert done == ["rename_event", "set:properties.was_renamed"]


def test_the_input_is_never_changed(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_TEST_SALT", "s")
    t = load(
        tmp_path,
        """
        transforms:
          - rename_event: Purchase
            rename: {properties.a.b: properties.c.d, context.traits.email: traits.email}
            drop: [properties.x.y, context.ip]
            set: {context.app.env: staging, properties.a.new: 1}
            hash: [traits.email, userId, properties.c.d]
            salt_env: CDP_TEST_SALT
        """,
    )
    msg = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "properties": {"a": {"b": [1, 2], "keep": {"deep": True}}, "x": {"y": 1, "z": 2}, "c": {}},
        "context": {"ip": "1.2.3.4", "traits": {"email": "a@x"}, "app": {"name": "shop"}},
    }
    before = copy.deepcopy(msg)
    out, done = t.apply(msg)
    assert msg == before
    assert len(done) == 10
    assert out is not msg and out["properties"] is not msg["properties"]
    assert out["properties"]["c"] == {"d": sha("[1,2]", "s")}
    assert out["properties"]["a"]["keep"] is msg["properties"]["a"]["keep"]  # untouched objects are shared
    assert out["context"] == {"traits": {}, "app": {"name": "shop", "env": "staging"}}
    assert t.apply(msg)[0] == out  # the same result again: nothing was changed on the way


def test_transforms_pickle_for_worker_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("CDP_TEST_SALT", "s")
    t = load(
        tmp_path,
        """
        transforms:
          - when: {event: "Order *"}
            hash: [userId]
            salt_env: CDP_TEST_SALT
        """,
    )
    msg = track("Order Completed")
    assert (
        pickle.loads(pickle.dumps(t)).apply(msg) == t.apply(msg) == ({**msg, "userId": sha("u1", "s")}, ["hash:userId"])
    )


# --- PII from the tracking plan -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ecommerce_plan():
    from cdp_cli.plan.load import load_valid_plan

    return load_valid_plan([ROOT / "plans" / "ecommerce"])


def test_hash_pii_hashes_what_the_plan_classifies(tmp_path, ecommerce_plan):
    t = load(
        tmp_path,
        """
        transforms:
          - hash: {pii: true, paths: [userId]}
        """,
        plan=ecommerce_plan,
    )
    identify = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "ada@x", "firstName": "Ada", "address": {"city": "Paris"}, "plan": "pro", "createdAt": "x"},
        "context": {"traits": {"email": "ada@x"}, "locale": "fr-FR"},
    }
    out, done = t.apply(identify)
    assert out["traits"] == {
        "email": sha("ada@x"),
        "firstName": sha("Ada"),
        "address": sha('{"city":"Paris"}'),  # a classified object is hashed whole
        "plan": "pro",
        "createdAt": "x",
    }
    assert out["context"] == {"traits": {"email": sha("ada@x")}, "locale": "fr-FR"}  # traits as some SDKs send them
    assert done == [
        "hash:userId",
        "hash:traits.email",
        "hash:traits.firstName",
        "hash:traits.address",
        "hash:context.traits.email",
    ]
    shared = track("Product Shared", properties={"recipient": "bob@x", "share_via": "email"})
    out, done = t.apply(shared)
    assert out["properties"] == {"recipient": sha("bob@x"), "share_via": "email"}
    assert done == ["hash:userId", "hash:properties.recipient"]
    # an event the plan does not classify anything in (or does not know): only the explicit paths
    out, done = t.apply(track("Unplanned Thing", properties={"recipient": "bob@x"}))
    assert out["properties"] == {"recipient": "bob@x"} and done == ["hash:userId"]


def test_pii_paths_reach_nested_objects_branches_and_lists():
    schema = {
        "properties": {
            "properties": {
                "properties": {
                    "buyer": {"type": "object", "properties": {"email": {"x-pii": "email"}, "tier": {}}},
                    "contact": {"anyOf": [{"properties": {"phone": {"x-pii": "phone"}}}, {"type": "null"}]},
                    "recipients": {"type": "array", "items": {"properties": {"email": {"x-pii": "email"}}}},
                    "note": {"x-pii": "none"},
                    "card": {"x-pii": "credit_card", "properties": {"number": {"x-pii": "credit_card"}}},
                }
            },
            "context": {"properties": {"ip": {"x-pii": "ip"}}},
        }
    }
    assert pii_paths(schema) == [
        "properties.buyer.email",
        "properties.contact.phone",
        "properties.recipients",  # no path indexes into a list: the whole list
        "properties.card",
        "context.ip",
    ]


def test_hash_pii_without_a_plan_is_a_load_error(tmp_path):
    assert problems(
        tmp_path,
        """
        transforms:
          - hash: {pii: true}
        """,
    ) == ["2:17: pii: true hashes what the tracking plan classifies as personal data: give the plan (--plan)"]


# --- mistakes, at FILE:LINE:COL -------------------------------------------------------------------


def test_bad_shapes_are_reported_at_their_position_all_at_once(tmp_path):
    assert problems(
        tmp_path,
        """
        version: 2
        transforms:
          - when: {type: trak, event: []}
            renam: {traits.a: traits.b}
          - when: {type: identify, event: "Order *"}
            drop: traits.ssn
          - when: [track]
            set: [context.app.env]
          - hash: {pii: false}
          - hash: traits.email
          - {}
          - description: only words
          - rename_event: ""
          - rename: {traits.a: traits.a}
          - rename: {traits.a: traits.a.b}
          - rename: {traits.a: traits.c, traits.b: traits.c}
          - drop: [traits.x]
            salt_env: CDP_HASH_SALT
          - hash: [traits.x]
            salt_env: 1BAD
          - hash: {paths: [traits.x], pii: "yes"}
        """,
    ) == [
        "1:10: unsupported version 2; this cdp reads version 1",
        "3:18: type must be one of identify, track, page, screen, group, alias, not 'trak'; did you mean 'track'?",
        "3:31: event must be a non-empty list, not a list",
        "4:5: unknown key 'renam'; known keys: description, drop, hash, rename, rename_event, salt_env, set, when; "
        "did you mean 'rename'?",
        "5:35: event matches track messages, and this rule's type has no track",
        "6:11: drop is a list of paths such as [traits.ssn]",
        "7:11: when is a mapping such as {type: track, event: 'Order *'}",
        "8:10: set maps paths to values: {context.app.env: x}",
        "9:11: hash names nothing to hash: give paths, or pii: true",
        "10:11: hash is a list of paths such as [traits.email], or {paths: [...], pii: true}",
        "11:5: this transform does nothing: give rename_event, rename, drop, set or hash",
        "12:5: this transform does nothing: give rename_event, rename, drop, set or hash",
        "13:19: rename_event must name the new event",
        "14:24: rename 'traits.a' to itself",
        "15:24: rename 'traits.a' to 'traits.a.b': one is inside the other",
        "16:44: 'traits.a' and 'traits.b' are both renamed to 'traits.c'",
        "18:15: salt_env salts hash: this rule hashes nothing",
        "20:15: salt_env: '1BAD' is not an environment variable name such as CDP_HASH_SALT",
        "21:36: pii is true (hash what the tracking plan classifies as personal data) or false",
    ]


def test_a_condition_on_event_needs_track_messages(tmp_path):
    assert problems(
        tmp_path,
        """
        transforms:
          - when: {type: [identify, page], event: "Order *"}
            drop: [traits.x]
          - when: {type: page}
            rename_event: Purchase
        """,
    ) == [
        "2:43: event matches track messages, and this rule's type has no track",
        "5:19: rename_event renames track events; this rule's when.type has no track",
    ]


def test_paths_that_would_break_delivery_or_ordering_are_refused(tmp_path):
    assert problems(
        tmp_path,
        """
        transforms:
          - drop: [messageId, type, timestamp, event, sentAt]
          - rename: {properties.a: messageId, timestamp: properties.t}
          - set: {type.x: 1, context: {}, traits..a: 1, foo.bar: 1, userId: x}
          - hash: [userId.x, messageId, integrations.x, 5]
        """,
    ) == [
        "2:12: messageId cannot be changed by a transform: it is the de-duplication key: "
        "exactly-once delivery depends on it",
        "2:23: type cannot be changed by a transform: it says what the message is: "
        "every destination reads it by its type",
        "2:29: timestamp cannot be changed by a transform: replays order and window messages by it",
        "2:40: event cannot be changed by a transform: use rename_event to rename a track event",
        "2:47: sentAt cannot be changed by a transform: it is part of the message's time "
        "(timestamp is corrected from it)",
        "3:28: messageId cannot be changed by a transform: it is the de-duplication key: "
        "exactly-once delivery depends on it",
        "3:39: timestamp cannot be changed by a transform: replays order and window messages by it",
        "4:11: 'type.x': type cannot be changed by a transform: it says what the message is: "
        "every destination reads it by its type",
        "4:22: 'context' names the whole object: name a field inside it, such as context.NAME",
        "4:35: 'traits..a' has an empty part: write a dotted path such as traits.email",
        "4:49: 'foo.bar' is not under properties, traits, context: a transform changes fields inside those",
        "4:61: 'userId' is not under properties, traits, context: a transform changes fields inside those",
        "5:12: 'userId.x': userId is an identifier string; hash userId itself",
        "5:22: messageId cannot be changed by a transform: it is the de-duplication key: "
        "exactly-once delivery depends on it",
        "5:33: 'integrations.x' is not under properties, traits, context: a transform changes fields inside those "
        "(hash may also name userId, anonymousId, previousId, groupId)",
        "5:49: a path is a dotted string such as traits.email, not 5",
    ]


def test_file_level_mistakes(tmp_path):
    assert problems(tmp_path, "transforms: []\n") == ["1:13: transforms is a non-empty list of rules"]
    assert problems(tmp_path, "- drop: [traits.x]\n") == [
        "1:1: a transforms file is a mapping with transforms: [a list of rules]"
    ]
    assert problems(tmp_path, "transforms:\n  - drop: [traits.x]\n  drop: 1\n")[0].startswith("3:")  # YAML syntax
    with pytest.raises(ConfigError, match=r"nope\.yaml: transforms file not found$"):
        load_transforms(tmp_path / "nope.yaml")
