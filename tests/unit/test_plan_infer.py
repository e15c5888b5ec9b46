"""``cdp plan infer`` (cdp_cli.plan.infer): a draft plan from event logs.

The plan inferred from a log must validate clean with ``--strict`` and lint the same log without a
single plan violation (TP); each inference rule (types and unions, null apart from absent, required
share, enums, formats, nested objects, arrays, maps, personal data) is pinned on small logs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from cdp_cli.errors import OutputError, UsageError
from cdp_cli.lint.runner import lint, load_plan_for_lint
from cdp_cli.plan.infer import InferResult, detect_style, dynamic_key, infer_plan, yaml_str
from cdp_cli.plan.validate import validate_paths
from cdp_cli.samples import generate
from tests.conftest import ROOT

TS = "2026-11-{day:02d}T{hour:02d}:00:00.000Z"


# --- helpers -----------------------------------------------------------------------------------------
def write_log(path: Path, messages: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m in messages))
    return path


def track(event: str, properties: dict[str, Any] | None = None, i: int = 0, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "track",
        "event": event,
        "userId": f"u{i}",
        "messageId": f"m-{event}-{i}",
        "timestamp": TS.format(day=1 + i % 28, hour=i % 24),
    }
    if properties is not None:
        msg["properties"] = properties
    msg.update(extra)
    return msg


def infer_messages(tmp_path: Path, messages: list[dict[str, Any]], **kw: Any) -> InferResult:
    return infer_plan([write_log(tmp_path / "events.ndjson", messages)], jobs=1, **kw)


def plan_of(result: InferResult) -> dict[str, Any]:
    """The written plan, read back as YAML (one file)."""
    return yaml.safe_load(result.text())


def event_props(result: InferResult, event: str) -> dict[str, Any]:
    return plan_of(result)["events"][event].get("properties", {})


def resolved(plan: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A property definition with its shared ``ref`` merged in (local keys win)."""
    if "ref" in spec:
        return {**plan["properties"][spec["ref"]], **{k: v for k, v in spec.items() if k != "ref"}}
    return spec


def check_round_trip(tmp_path: Path, result: InferResult, log: Path) -> None:
    """The plan validates clean with --strict (as one file and as a directory) and linting ``log``
    against it finds no plan violation."""
    single = tmp_path / "single" / "plan.yaml"
    result.write(single)
    directory = tmp_path / "dir"
    result.write(directory)
    for where in (single, directory):
        report = validate_paths([where])
        assert not report.failed(strict=True), [(f.code, f.line, f.message) for f in report.findings][:10]
        found = lint([log], plan_paths=[where], keep=None)
        tp = [(f.code, f.path, f.message) for f in found.findings if f.code.startswith("TP")]
        assert not tp, tp[:10]


# --- generated logs: the round trip --------------------------------------------------------------------
@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """``cdp samples generate --events 3000 --seed 7 --plan plans/ecommerce --violations 0``."""
    path = tmp_path_factory.mktemp("gen") / "events.ndjson"
    plan = load_plan_for_lint([ROOT / "plans" / "ecommerce"])
    generate(path, 3000, seed=7, violations=0.0, plan=plan)
    return path


def test_generated_log_round_trips_through_validate_and_lint(tmp_path, generated):
    result = infer_plan([generated], jobs=1)
    assert not result.failed()
    counts = result.counts()
    assert counts["events"] == 28 and counts["pages"] == 7 and counts["screens"] == 2 and counts["identify"] == 1
    assert counts["shared_properties"] > 10  # properties used alike by several events go to the library
    check_round_trip(tmp_path, result, generated)
    plan = plan_of(result)
    assert plan["conventions"] == {
        "events": "title_case",
        "properties": "snake_case",
        "traits": "snake_case",
        "pages": "title_case",
    }  # Segment's reserved traits (firstName, createdAt) are not counted against snake_case
    library = plan["common"]["context"]["library"]
    assert library["required"] is True and library["properties"]["name"]["enum"] == ["analytics-ios", "analytics.js"]
    completed = plan["events"]["Order Completed"]["properties"]
    assert resolved(plan, completed["order_id"])["type"] == "string"
    items = resolved(plan, completed["products"])["items"]
    assert items["type"] == "object" and items["properties"]["product_id"]["required"] is True
    assert plan["identify"]["traits"]["email"]["format"] == "email"
    assert plan["identify"]["traits"]["email"]["pii"] == "email"
    assert "enum" not in plan["identify"]["traits"]["firstName"]  # personal data is never an enum


def test_the_cli_commands_of_the_issue_accept_the_inferred_plan(tmp_path, generated):
    """The commands of the issue, as a user runs them: validate --strict exits 0, lint finds no TP."""
    out = tmp_path / "plan"
    infer_plan([generated], jobs=1).write(out)
    run = [sys.executable, "-m", "cdp_cli"]
    valid = subprocess.run([*run, "plan", "validate", "--strict", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    linted = subprocess.run(
        [*run, "events", "lint", str(generated), "--plan", str(out), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    summary = json.loads(linted.stdout)["summary"]
    assert not [code for code in summary["findings_by_rule"] if code.startswith("TP")], summary["findings_by_rule"]


def test_same_plan_whatever_the_number_of_workers(tmp_path):
    path = tmp_path / "events.ndjson"
    generate(path, 12_000, seed=3, violations=0.05, plan=load_plan_for_lint([ROOT / "plans" / "ecommerce"]))
    one = infer_plan([path], jobs=1)
    two = infer_plan([path], jobs=2)
    assert one.text() == two.text()
    assert one.summary()["messages"] == two.summary()["messages"] == 12_000 - one.summary()["skipped"]
    check_round_trip(tmp_path, two, path)  # 5% of messages carry a mistake: the plan absorbs them


# --- SDK-shaped events -------------------------------------------------------------------------------
def web_message(i: int) -> dict[str, Any]:
    """What analytics.js sends: library, page, userAgent, locale, campaign (sometimes)."""
    page = ["Home", "Pricing", "Docs"][i % 3]
    context: dict[str, Any] = {
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "page": {
            "path": f"/{page.lower()}",
            "referrer": "https://www.google.com/" if i % 2 else "",
            "search": "",
            "title": page,
            "url": f"https://example.com/{page.lower()}?id={i}",
        },
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "locale": "en-US",
        "ip": f"203.0.113.{i % 250}",
    }
    if i % 4 == 0:
        context["campaign"] = {"name": "spring", "source": "newsletter", "medium": "email"}
    if i % 5 == 0:
        return {
            "type": "page",
            "name": page,
            "properties": {"path": f"/{page.lower()}", "title": page, "url": f"https://example.com/{page.lower()}"},
            "anonymousId": f"a-{i}",
            "messageId": f"w-{i}",
            "timestamp": TS.format(day=1 + i % 20, hour=i % 24),
            "context": context,
        }
    return track(
        "Signed Up",
        {"plan": ["free", "pro", "team"][i % 3], "trial_days": 14, "referral_code": None if i % 2 else f"R{i}"},
        i,
        context=context,
    )


def mobile_message(i: int) -> dict[str, Any]:
    """What analytics-ios sends: app, device, os, screen, network, timezone; camelCase properties."""
    context = {
        "library": {"name": "analytics-ios", "version": "4.1.8"},
        "app": {"name": "Shop", "version": "3.2.1", "build": "321", "namespace": "com.example.shop"},
        "device": {
            "id": f"{i:08X}-AAAA-4BBB-8CCC-{i:012X}",
            "manufacturer": "Apple",
            "model": "iPhone15,2",
            "type": "ios",
            "adTrackingEnabled": False,
        },
        "os": {"name": "iOS", "version": "17.1"},
        "screen": {"width": 390, "height": 844, "density": 3},
        "network": {"wifi": bool(i % 2), "cellular": not i % 2, "carrier": "T-Mobile"},
        "timezone": "Europe/Berlin",
        "locale": "de-DE",
    }
    if i % 6 == 0:
        return {
            "type": "screen",
            "name": "Cart",
            "properties": {"itemCount": i % 4},
            "userId": f"u{i}",
            "messageId": f"ios-s-{i}",
            "timestamp": TS.format(day=2 + i % 20, hour=i % 24),
            "context": context,
        }
    return track(
        "Product Added",
        {"productId": f"p-{i}", "price": 9.99 if i % 3 else 10, "quantity": 1 + i % 3, "inStock": True},
        i,
        context=context,
        messageId=f"ios-{i}",
    )


def server_message(i: int) -> dict[str, Any]:
    """What a server library sends: no context but the library (sometimes none at all), traits."""
    if i % 3 == 0:
        return {
            "type": "identify",
            "userId": f"u{i}",
            "traits": {"plan": ["free", "pro"][i % 2], "createdAt": TS.format(day=1 + i % 20, hour=3)},
            "context": {"library": {"name": "analytics-python", "version": "2.3.2"}},
            "messageId": f"srv-i-{i}",
            "timestamp": TS.format(day=3 + i % 20, hour=i % 24),
        }
    if i % 3 == 1:
        return {
            "type": "group",
            "userId": f"u{i}",
            "groupId": f"g{i % 5}",
            "traits": {"name": f"Team {i % 5}", "employees": 10 + i % 5},
            "messageId": f"srv-g-{i}",
            "timestamp": TS.format(day=3 + i % 20, hour=i % 24),
        }
    return track("Invoice Paid", {"invoice_id": f"inv-{i}", "amount": i * 1.5, "currency": "EUR"}, i)


@pytest.fixture
def sdk_log(tmp_path) -> Path:
    """A log mixing what analytics.js, analytics-ios and a server-side library send."""
    messages = [f(i) for i in range(120) for f in (web_message, mobile_message, server_message)]
    return write_log(tmp_path / "sdk.ndjson", messages)


def test_sdk_shaped_events(tmp_path, sdk_log):
    result = infer_plan([sdk_log], jobs=1)
    check_round_trip(tmp_path, result, sdk_log)
    plan = plan_of(result)
    assert set(plan["events"]) == {"Signed Up", "Product Added", "Invoice Paid"}
    assert set(plan["pages"]) == {"Home", "Pricing", "Docs"} and set(plan["screens"]) == {"Cart"}
    context = plan["common"]["context"]
    # the server library sends no context on group calls: library is in 2/3 of messages, not required
    assert "required" not in context["library"] and context["library"]["properties"]["name"]["required"] is True
    assert context["library"]["properties"]["name"]["enum"] == [
        "analytics-ios",
        "analytics-python",
        "analytics.js",
    ]
    assert context["page"]["properties"]["url"]["format"] == "uri"
    assert "format" not in context["page"]["properties"]["referrer"]  # "" is no URI
    assert context["device"]["properties"]["id"]["format"] == "uuid"  # upper-case UUIDs count
    assert context["screen"]["properties"]["width"] == {"type": "integer", "required": True}
    assert context["device"]["properties"]["adTrackingEnabled"]["type"] == "boolean"
    assert "enum" not in context["ip"]  # an IP address is personal data, and varied
    assert "traits" not in context  # context.traits belongs to identify and group
    # properties: analytics.js sends snake_case, iOS camelCase: snake_case wins, camelCase are exceptions
    assert plan["conventions"]["properties"] == "snake_case"
    assert {"productId", "inStock", "itemCount"} <= set(plan["conventions"]["exceptions"])
    added = plan["events"]["Product Added"]["properties"]
    assert added["price"]["type"] == "number"  # 9.99 and 10: integer and number collapse
    assert added["quantity"]["type"] == "integer"
    signed = plan["events"]["Signed Up"]["properties"]
    assert signed["referral_code"]["type"] == ["string", "null"] and signed["referral_code"]["required"] is True
    assert signed["plan"]["enum"] == ["free", "pro", "team"]
    assert plan["identify"]["traits"]["createdAt"]["format"] == "date-time"
    assert plan["group"]["traits"]["employees"]["type"] == "integer"


def test_context_traits_are_identify_traits(tmp_path):
    """rudder-sdk-python sends traits in context.traits; lint merges them under traits, so does infer."""
    messages = [
        {"type": "identify", "userId": f"u{i}", "context": {"traits": {"email": f"u{i}@example.com", "age": 30 + i}}}
        for i in range(120)
    ]
    messages += [
        {
            "type": "identify",
            "userId": "x",
            "traits": {"age": 41},
            "context": {"traits": {"age": "41", "email": "x@y.io"}},
        }
    ]
    result = infer_messages(tmp_path, messages)
    traits = plan_of(result)["identify"]["traits"]
    assert traits["email"] == {
        "type": "string",
        "required": True,
        "format": "email",
        "pii": "email",
        "description": traits["email"]["description"],
    }
    assert traits["age"]["type"] == "integer"  # traits win over context.traits, as in lint
    assert traits["age"]["required"] is True
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


# --- types --------------------------------------------------------------------------------------------
def test_unions_null_apart_from_absent_and_integer_number_collapse(tmp_path):
    values: list[Any] = [1, 2.5, "x", True, None, {"a": 1}, [1]]
    messages = []
    for i in range(70):
        props: dict[str, Any] = {
            "mixed": values[i % 7],
            "count": i if i % 2 else float(i) + 0.5,  # integer and number: number
            "whole": i,  # integers only: integer
            "nullable": None if i % 3 == 0 else "text",  # present every time, sometimes null
            "sometimes": "here",
        }
        if i % 2:
            del props["sometimes"]  # absent half of the time: optional, never null
        messages.append(track("Mixed", props, i))
    result = infer_messages(tmp_path, messages)
    props = event_props(result, "Mixed")
    assert props["mixed"]["type"] == ["string", "number", "boolean", "object", "array", "null"]
    assert props["count"]["type"] == "number" and props["whole"]["type"] == "integer"
    assert props["nullable"]["type"] == ["string", "null"] and props["nullable"]["required"] is True
    assert props["sometimes"]["type"] == "string" and "required" not in props["sometimes"]
    text = result.text()
    assert 'type: [string, "null"]' in text
    assert "# 70 of 70 (100%); string 46, null 24" in text  # counts are comments
    assert "# 35 of 70 (50.0%)" in text
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


# --- required ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("present", "total", "share", "min_count", "required"),
    [
        (99, 100, 0.99, 20, True),  # exactly the share
        (98, 100, 0.99, 20, False),  # just below
        (297, 300, 0.99, 20, True),  # 0.99 * 300 is 297.00000000000006 in floating point
        (100, 100, 1.0, 20, True),
        (99, 100, 1.0, 20, False),
        (19, 19, 0.99, 20, False),  # too few occurrences to say
        (20, 20, 0.99, 20, True),
        (5, 10, 0.5, 10, True),
    ],
)
def test_required_share_and_minimum_count(tmp_path, present, total, share, min_count, required):
    messages = [track("E", {"p": 1} if i < present else {"q": 1}, i) for i in range(total)]
    result = infer_messages(tmp_path, messages, required_share=share, min_count=min_count)
    assert event_props(result, "E")["p"].get("required", False) is required


def test_required_counts_messages_without_properties_as_empty(tmp_path):
    """A message with no properties object lacks every property: it counts against the share (the
    compiled schema would require ``properties`` otherwise)."""
    messages = [track("E", {"p": 1}, i) for i in range(99)] + [track("E", None, 99)]
    assert event_props(infer_messages(tmp_path, messages), "E")["p"]["required"] is True
    messages.append(track("E", None, 100))
    assert "required" not in event_props(infer_messages(tmp_path, messages), "E")["p"]


def test_nested_required_is_counted_against_the_parent_object(tmp_path):
    messages = [track("E", {"address": {"city": "Berlin", "zip": "10115"}} if i % 2 else {}, i) for i in range(60)]
    props = event_props(infer_messages(tmp_path, messages), "E")
    address = props["address"]
    assert "required" not in address  # in half of the messages
    assert address["properties"]["city"]["required"] is True  # in every address
    assert address["pii"] == "address" and "pii" not in address["properties"]["city"]  # covered by the parent


# --- enums -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("count", "distinct", "enum"),
    [
        (9, 3, False),  # fewer than 10 values
        (10, 3, True),  # 10 values, 3 < sqrt(10)
        (10, 4, False),  # 4 >= sqrt(10)
        (16, 4, False),  # 4 is not below sqrt(16)
        (17, 4, True),
        (10_000, 64, True),  # the cap on distinct values
        (10_000, 65, False),
    ],
)
def test_enum_rule_boundaries(tmp_path, count, distinct, enum):
    messages = [track("E", {"tier": f"tier-{i % distinct}"}, i) for i in range(count)]
    tier = event_props(infer_messages(tmp_path, messages), "E")["tier"]
    if enum:
        assert tier["enum"] == sorted(f"tier-{k}" for k in range(distinct))
    else:
        assert "enum" not in tier


def test_enums_exclude_numeric_long_and_personal_strings(tmp_path):
    messages = []
    for i in range(100):
        props = {
            "rating": str(1 + i % 5),  # numeric-looking: not an enum
            "size": ["S", "M", "L"][i % 3],
            "blurb": ["x" * 65, "y" * 10][i % 2],  # longer than 64: not an enum
            "contact": ["ada@example.com", "grace@example.com"][i % 2],  # an email: never copied
            "hotline": ["+1 415-555-0100", "+1 415-555-0101"][i % 2],  # a phone number
            "state": ["open", None][i % 2],
        }
        messages.append(track("E", props, i))
    result = infer_messages(tmp_path, messages)
    props = event_props(result, "E")
    assert "enum" not in props["rating"] and props["size"]["enum"] == ["L", "M", "S"]
    assert "enum" not in props["blurb"] and "enum" not in props["contact"] and "enum" not in props["hotline"]
    assert props["state"]["enum"] == ["open", None]  # null allowed as a member when it was seen
    text = result.text()
    for value in ("ada@example.com", "415-555", "x" * 65, "tier"):
        assert value not in text  # values never reach the plan except enum members
    why = {(row[1], row[2]) for row in result.tables()[-1].rows}
    assert ("contact", "no enum: a value looks like an email address (values are never copied)") in why
    assert ("hotline", "no enum: a value looks like a phone number (values are never copied)") in why
    assert result.counts()["enums_refused_pii"] == 2
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


def test_no_enum_for_a_property_named_as_personal_data(tmp_path):
    messages = [track("E", {"first_name": ["Ada", "Grace"][i % 2]}, i) for i in range(100)]
    result = infer_messages(tmp_path, messages)
    first = event_props(result, "E")["first_name"]
    assert first["pii"] == "name" and "enum" not in first
    assert "Ada" not in result.text()


# --- formats -------------------------------------------------------------------------------------------
def test_formats(tmp_path):
    messages = []
    for i in range(40):
        props = {
            "at": f"2026-11-{1 + i % 28:02d}T10:00:00{'Z' if i % 2 else '+02:00'}",
            "day": f"2026-11-{1 + i % 28:02d}",
            "lower_id": f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}",
            "upper_id": f"{i:08X}-AAAA-4BBB-8CCC-{i:012X}",  # quicktype's check is lower-case only
            "mail": f"user{i}@example.com",
            "link": f"https://example.com/p/{i}",
            "almost": f"https://example.com/p/{i}" if i else "not a url",
            "bad_day": f"2026-02-{28 + i % 3}",  # 2026-02-29 and -30 are no dates
        }
        messages.append(track("E", props, i))
    result = infer_messages(tmp_path, messages)
    props = event_props(result, "E")
    assert props["at"]["format"] == "date-time"
    assert props["day"]["format"] == "date"
    assert props["lower_id"]["format"] == "uuid" and props["upper_id"]["format"] == "uuid"
    assert props["mail"]["format"] == "email" and props["mail"]["pii"] == "email"
    assert props["link"]["format"] == "uri"
    assert "format" not in props["almost"] and "format" not in props["bad_day"]
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


# --- nested objects, arrays, maps ------------------------------------------------------------------------
def test_arrays_of_objects_have_one_item_schema(tmp_path):
    messages = []
    for i in range(40):
        items = [{"sku": f"s{i}-{k}", "qty": k, **({"gift": True} if k == 2 else {})} for k in range(1 + i % 3)]
        messages.append(track("Order", {"items": items, "tags": ["a", "b"][: i % 3], "empty": []}, i))
    result = infer_messages(tmp_path, messages)
    props = event_props(result, "Order")
    item = props["items"]["items"]
    assert props["items"]["type"] == "array" and item["type"] == "object"
    assert item["properties"]["sku"]["required"] is True and "required" not in item["properties"]["gift"]
    assert props["tags"]["items"] == {"type": "string", "enum": ["a", "b"]}
    assert props["empty"] == {"type": "array", "required": True, "description": props["empty"]["description"]}
    assert "items:  # 79 items" in result.text()
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


def test_dynamic_keys_make_a_map(tmp_path):
    messages = []
    for i in range(30):
        props = {
            "scores": {str(1000 + i): i, str(2000 + i): i + 0.5},  # ids as keys
            "by_user": {f"{i:08x}-aaaa-4bbb-8ccc-{i:012x}": {"seen": True}},  # UUIDs as keys
            "meta": {"version": 2, str(i): "x"},  # a fixed key and a dynamic one
        }
        messages.append(track("E", props, i))
        messages.append(track("Dynamic Top", {str(10_000 + i): 1, "fixed": "yes"}, i))
    result = infer_messages(tmp_path, messages)
    props = event_props(result, "E")
    assert props["scores"]["type"] == "object" and props["scores"]["additionalProperties"] == {"type": "number"}
    by_user = props["by_user"]["additionalProperties"]
    assert by_user["type"] == "object" and by_user["properties"]["seen"]["required"] is True
    assert props["meta"]["properties"]["version"]["type"] == "integer"
    assert props["meta"]["additionalProperties"]["type"] == "string"
    top = event_props(result, "Dynamic Top")
    assert list(top) == ["fixed"]  # the plan cannot make a body a map: left open, reported
    notes = {(row[0], row[1]): row[2] for row in result.tables()[-1].rows}
    assert "left open" in notes[("event Dynamic Top", "(top level)")]
    assert "1000" not in result.text() and "aaaa-4bbb" not in result.text()
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


def test_dynamic_key_rule():
    for key in ("123", "4711", "a1b2c3d4e5f6a7b8", "ada@example.com", "2026-11-01", "", " "):
        assert dynamic_key(key), key
    for key in ("order_id", "ipv6", "line1", "utm_source", "Step 2"):
        assert dynamic_key(key) is None, key


def test_too_many_keys_are_a_map(tmp_path, monkeypatch):
    import cdp_cli.plan.infer as infer

    monkeypatch.setattr(infer, "MAX_KEYS", 5)
    messages = [track("E", {"attrs": {f"k{j}x": j for j in range(i % 8)}}, i) for i in range(40)]
    result = infer_messages(tmp_path, messages)
    attrs = event_props(result, "E")["attrs"]
    assert "properties" not in attrs and attrs["additionalProperties"] == {"type": "integer"}
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


# --- names ---------------------------------------------------------------------------------------------
def test_names_holding_personal_data_similar_names_and_missing_names(tmp_path):
    messages = [track("Order Completed", {"total": 1}, i) for i in range(10)]
    messages += [track("order_completed", {"total": 1}, i) for i in range(3)]  # the less frequent spelling
    messages += [track("Invited ada@example.com", {}, 1), track("", {}, 2), {"type": "track", "properties": {}}]
    messages += [{"type": "page", "properties": {"path": "/"}}, {"type": "alias", "previousId": "a", "userId": "b"}]
    result = infer_messages(tmp_path, messages)
    plan = plan_of(result)
    assert set(plan["events"]) == {"Order Completed"}
    assert "ada@example.com" not in result.text()
    notes = {(row[0], row[1]): row[2] for row in result.tables()[-1].rows}
    assert notes[("track", "(withheld: names holding personal data)")] == "1 message: never written to a plan"
    assert notes[("track", "track calls without an event name")].startswith("2 messages")
    assert notes[("event", "order_completed")].startswith("differs from 'Order Completed'")
    assert notes[("alias", "alias calls")] == "1 message: only their context is inferred"


def test_yaml_names_read_back_exactly(tmp_path):
    names = ["on", "yes", "null", "a: b", "# not a comment", "tab\there", "line\nbreak", "ünïcödé", "x\u2028y", "-x"]
    messages = [track(f"Event {n}", {n: "v"}, i) for i, n in enumerate(names)]
    messages += [track("Enum Values", {"v": ["yes", "no", "1.0"][i % 3]}, i) for i in range(30)]
    result = infer_messages(tmp_path, messages)
    plan = plan_of(result)
    for n in names:
        assert n in plan["events"][f"Event {n}"]["properties"], n
    assert plan["events"]["Enum Values"]["properties"]["v"]["enum"] == ["1.0", "no", "yes"]
    for text in ("on", "yes", "a: b", "tab\there", "x\u2028y"):
        assert yaml.safe_load(yaml_str(text)) == text
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


def test_detect_style():
    assert detect_style(["Order Completed", "Cart Viewed", "order_shipped"]) == (
        __import__("cdp_cli.naming").naming.Style.TITLE_CASE,
        ["order_shipped"],
    )
    style, misses = detect_style(["price", "name"])  # single words fit several styles: snake_case first
    assert style.value == "snake_case" and misses == []
    style, misses = detect_style(["a_b", "cD", "E-f", "G H"])
    assert style.value == "any" and misses == []


# --- the result and the files ---------------------------------------------------------------------------
def test_result_protocol(tmp_path, sdk_log):
    from cdp_cli.results import Result

    result = infer_plan([sdk_log], jobs=1)
    assert isinstance(result, Result) and result.command == "plan infer"
    summary = result.summary()
    json.dumps(summary)
    assert summary["messages"] == 360 and summary["events"] == 3 and summary["pages"] == 3
    assert [t.title for t in result.tables()] == ["Input", "Events found", "Properties", "Not inferred"]
    events = {row[1]: row for row in result.tables()[1].rows}
    assert events["Signed Up"][2] == 96 and events["Signed Up"][5].endswith("Z")
    assert result.verdict().startswith("inferred 3 events, 3 pages, 1 screen, identify, group and ")
    assert result.findings == [] and not result.failed(strict=True)
    empty = infer_plan([write_log(tmp_path / "empty.ndjson", [])], jobs=1)
    assert empty.failed() and empty.summary()["no_input"]


def test_write_a_file_or_a_directory(tmp_path, sdk_log):
    result = infer_plan([sdk_log], jobs=1)
    target = tmp_path / "out" / "plan.yaml"
    assert result.write(target) == [str(target)]
    assert target.read_text().startswith("# Inferred by cdp plan infer from 360 messages in sdk.ndjson.")
    assert result.write(target) == [str(target)]  # its own earlier output is recognised and replaced
    mine = tmp_path / "mine.yaml"
    mine.write_text("# my plan\nversion: 1\n")
    with pytest.raises(OutputError):
        result.write(mine)  # a YAML file cdp did not write is replaced only with force
    assert mine.read_text() == "# my plan\nversion: 1\n"
    result.write(mine, force=True)
    directory = tmp_path / "plan"
    files = result.write(directory)
    assert [Path(f).name for f in files] == ["plan.yaml", "properties.yaml", "traits.yaml", "events.yaml", "pages.yaml"]
    assert result.write(directory) == files  # cdp's own directory is replaced
    (directory / "notes.md").write_text("mine")
    with pytest.raises(OutputError):
        result.write(directory)  # never over something cdp did not write


def test_observer_hears_progress(tmp_path, sdk_log):
    heard = []
    infer_plan([sdk_log], jobs=1, observer=heard.append)
    assert heard and heard[0].phase == "read" and sum(p.advance for p in heard) == sdk_log.stat().st_size


def test_settings_are_checked(tmp_path, sdk_log):
    for kw in ({"required_share": 0}, {"required_share": 1.5}, {"min_count": 0}, {"enum_max_values": 0}):
        with pytest.raises(UsageError):
            infer_plan([sdk_log], **kw)


def test_deep_nesting_is_cut(tmp_path, monkeypatch):
    import cdp_cli.plan.infer as infer

    monkeypatch.setattr(infer, "MAX_DEPTH", 3)
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(5):
        deep = {"down": deep}
    result = infer_messages(tmp_path, [track("E", deep, i) for i in range(5)])
    notes = [row for row in result.tables()[-1].rows if "nested deeper" in row[2]]
    assert notes and notes[0][1] == "down.down.down"
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


def test_odd_messages(tmp_path):
    """Missing and odd timestamps, null properties, batches, aliases only: inferred or reported."""
    messages: list[dict[str, Any]] = [track("E", {"a": 1}, i) for i in range(5)]
    messages += [
        {"type": "track", "event": "E", "properties": {"a": 2}, "timestamp": 1700000000},  # not a string
        {"type": "track", "event": "E", "properties": {"a": 3}, "receivedAt": "2026-10-01T12:00:00+02:00"},
        {"type": "track", "event": "E", "properties": {"a": 4}},  # no time at all
        {"batch": [track("E", {"a": 5}, 9), track("F", {"b": "x"}, 9)]},  # a Segment batch line
        {"type": "track", "event": "F", "properties": None},  # null properties: the plan cannot allow it
        {"type": "track", "event": "G", "context": "web"},  # a context that is not an object
    ]
    result = infer_messages(tmp_path, messages)
    plan = plan_of(result)
    assert set(plan["events"]) == {"E", "F", "G"}
    events = {row[1]: row for row in result.tables()[1].rows}
    assert events["E"][2] == 9 and events["E"][5] == "2026-10-01T10:00:00Z"  # converted to UTC
    notes = {(row[0], row[1]): row[2] for row in result.tables()[-1].rows}
    assert notes[("event F", "properties")].startswith("1 message with properties that is not an object")
    assert notes[("common", "context")] == "1 message whose context is not an object"
    result.write(tmp_path / "plan.yaml")
    assert not validate_paths([tmp_path / "plan.yaml"]).failed(strict=True)
    found = lint([tmp_path / "events.ndjson"], plan_paths=[tmp_path / "plan.yaml"], keep=None)
    # only the null properties break the plan (no message has a context object: there are no common rules)
    assert {f.line for f in found.findings if f.code.startswith("TP")} == {10}

    only_alias = infer_messages(tmp_path, [{"type": "alias", "userId": "a", "previousId": "b"}])
    assert "conventions" not in plan_of(only_alias)  # no names: nothing to state
    target = tmp_path / "alias" / "plan.yaml"
    only_alias.write(target)
    assert not validate_paths([target]).failed(strict=True)


def test_similar_keys_next_to_a_map_stay_allowed(tmp_path):
    """A key left out as a near-duplicate is checked against the map's values: they allow it."""
    messages = [
        track("E", {"m": {"userId": 1, "user_id": "x" if i % 3 else 2, str(100 + i): True}}, i) for i in range(30)
    ]
    result = infer_messages(tmp_path, messages)
    m = event_props(result, "E")["m"]
    assert list(m["properties"]) == ["user_id"] or list(m["properties"]) == ["userId"]
    assert set(m["additionalProperties"]["type"]) >= {"boolean", "integer"}
    check_round_trip(tmp_path, result, tmp_path / "events.ndjson")


def test_slicing_changes_nothing(tmp_path, sdk_log, monkeypatch):
    """Chunks are parsed in slices for speed; the plan and the counts do not depend on it."""
    import cdp_cli.plan.infer as infer

    whole = infer_plan([sdk_log], jobs=1)
    monkeypatch.setattr(infer, "_SLICE_LINES", 7)
    sliced = infer_plan([sdk_log], jobs=1)
    assert sliced.text() == whole.text()
    assert sliced.summary()["lines"] == whole.summary()["lines"] == 360


def test_a_node_pickles_every_statistic_and_no_pending_object():
    """Workers send their statistics as pickled nodes; the state is spelled out by hand, so a slot
    added later must be added there too."""
    import pickle

    from cdp_cli.plan.infer import Node

    node = Node(2)
    for i, slot in enumerate(Node.__slots__):
        setattr(node, slot, [] if slot == "pending" else f"value {i}")
    node.pending = [{"a": 1}]
    back = pickle.loads(pickle.dumps(node))
    assert [getattr(back, s) for s in Node.__slots__] == [
        [] if s == "pending" else f"value {i}" for i, s in enumerate(Node.__slots__)
    ]
