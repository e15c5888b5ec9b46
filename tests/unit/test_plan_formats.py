"""Other tools' plan formats (cdp_cli/plan/formats): importers on realistic, messy fixtures, the import and
export reports, round trips of the shipped plans through every two-way format, and the Markdown catalog."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from cdp_cli.errors import InputError, OutputError, UsageError
from cdp_cli.findings import Level
from cdp_cli.plan.compiler import compile_plan
from cdp_cli.plan.formats import (
    FORMATS,
    LOST,
    NORMALISED,
    Report,
    export_formats,
    export_plan_as,
    import_formats,
    import_plan,
)
from cdp_cli.plan.loader import discover, load_plan
from cdp_cli.plan.model import Plan
from tests.conftest import ROOT, run_cdp, write_files

FIX = ROOT / "tests" / "fixtures" / "plan_formats"
SHIPPED = ["ecommerce", "saas"]


def _load(path: Path) -> Plan:
    (source,) = discover([path])
    plan, findings = load_plan(source)
    assert not [f for f in findings if f.level is Level.ERROR], findings
    return plan


def _compiled(path: Path) -> dict[str, dict[str, Any]]:
    return {c.key: c.schema for c in compile_plan(_load(path))}


def _props(path: Path, key: str, field: str = "properties") -> dict[str, Any]:
    """The compiled schema of one message's properties (or traits) object."""
    return _compiled(path)[key]["properties"][field]


def _validates(path: Path) -> None:
    """The plan at ``path`` passes ``cdp plan validate`` (exit 0: no errors, warnings allowed)."""
    r = run_cdp("plan", "validate", str(path), "--no-config", "--format", "json")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def _messages(report: Report, kind: str | None = None) -> str:
    return "\n".join(i.message for i in report.items if kind is None or i.kind == kind)


# --- the registry ----------------------------------------------------------------------------------------
def test_registry_names_each_format_its_module_and_directions() -> None:
    assert import_formats() == ["segment", "rudderstack", "avo", "jsonschema"]
    assert export_formats() == ["segment", "rudderstack", "jsonschema", "markdown"]
    for fmt in FORMATS.values():
        module = importlib.import_module(f"cdp_cli.plan.formats.{fmt.module}")
        assert hasattr(module, "read") == bool(fmt.reads), fmt.name
        assert hasattr(module, {"file": "render", "directory": "write_dir", None: "read"}[fmt.writes]), fmt.name
        if fmt.writes and fmt.name != "markdown":
            assert fmt.cannot_express, f"{fmt.name}: say what the format cannot express"


def test_unknown_or_one_way_formats_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="formats: segment, rudderstack, avo, jsonschema"):
        import_plan(FIX / "avo" / "export.json", "markdown", tmp_path / "p.yaml")
    with pytest.raises(UsageError, match="cannot export format 'avo'"):
        export_plan_as(ROOT / "plans" / "ecommerce", "avo", tmp_path / "avo.json")


# --- Segment ---------------------------------------------------------------------------------------------
def test_segment_public_api_rules_import_as_a_valid_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    result = import_plan(FIX / "segment" / "public_api", "segment", out)
    assert not result.failed(), result.findings
    _validates(out)
    plan = _load(out)
    assert plan.name == "Storefront (web)"
    assert plan.description == "Events of the web storefront, synced from Protocols."
    assert set(plan.events) == {"Order Completed", "Product Viewed", "Newsletter Signup"}
    order = plan.events["Order Completed"]
    assert sorted(order.versions) == [1, 2]
    assert (order.owner, order.labels) == ("checkout-team", ["area:orders"])
    v1 = _props(out, "track/Order Completed/v1")
    assert v1["required"] == ["order_id"]
    assert v1["properties"]["order_id"] == {"type": "string", "description": "Id of the order."}
    assert v1["properties"]["total"]["exclusiveMinimum"] == 0 and "minimum" not in v1["properties"]["total"]
    assert v1["properties"]["coupon"] == {"type": ["string", "null"]}
    items = v1["properties"]["products"]["items"]
    assert items["required"] == ["product_id"] and items["properties"]["price"] == {"type": "number", "minimum": 0}
    v2 = _props(out, "track/Order Completed/v2")
    assert v2["required"] == ["order_id", "currency"] and v2["additionalProperties"] is False
    assert v2["properties"]["currency"]["enum"] == ["USD", "EUR", "GBP", None]  # its type allows null
    viewed = _props(out, "track/Product Viewed/v1")
    assert list(viewed["properties"]) == ["product_id", "variant", "size"]  # 'variant\t' trimmed
    assert viewed["properties"]["size"]["enum"] == ["S", "M", "L"]  # null dropped: type string refuses it
    signup = plan.events["Newsletter Signup"]
    assert signup.deprecated and signup.labels == ["team:growth"]
    assert _props(out, "identify", "traits")["required"] == ["email"]
    assert _props(out, "group", "traits")["properties"]["employees"] == {
        "type": "integer",
        "minimum": 0,
        "description": "Head count.",
    }
    assert set(plan.pages) == {"Home"} and set(plan.screens) == {"Cart"}
    common = _compiled(out)["common"]["properties"]["context"]
    assert common["required"] == ["library"] and common["properties"]["library"]["required"] == ["name"]


def test_segment_import_reports_each_normalisation_and_loss_with_its_place(tmp_path: Path) -> None:
    result = import_plan(FIX / "segment" / "public_api", "segment", tmp_path / "plan.yaml")
    report = result.report
    normalised = _messages(report, "normalised")
    for phrase in (
        "TRACK rule key 'Product Viewed\\n': removed surrounding whitespace",
        "property 'variant\\t': removed surrounding whitespace",
        "'id' keywords (draft-04 paths, tool ids) removed in TRACK 'Order Completed' v1 (5 times",
        "type list of one written as a plain type",
        "empty 'properties' on a non-object removed",
        "draft-04 boolean exclusiveMinimum written as a number",
        "inlined local $ref",
        "null removed from enum",
        "empty descriptions removed",
        "draft-04 (1 rules), draft-07 (7 rules), no $schema (1 rules) read as draft 2020-12",
        "moved to the shared property library",
    ):
        assert phrase in normalised, phrase
    assert "'context' of this message is constrained" in _messages(report, "lost")
    key = next(i for i in report.items if "TRACK rule key" in i.message)
    assert key.file.endswith("rules.json") and key.path == "$.data.rules[3].key" and key.line == 133
    ids = next(i for i in report.items if "'id' keywords" in i.message)
    assert ids.path == "$.data.rules[1].jsonSchema.properties.properties.properties.order_id.id" and ids.line == 52
    codes = {(f.code, f.level) for f in result.findings if f.code in (NORMALISED, LOST)}
    assert codes == {(NORMALISED, Level.INFO), (LOST, Level.WARNING)}
    assert not result.failed() and result.failed(strict=True)  # losses are warnings
    assert result.summary()["lost"] == 1 and result.summary()["events"] == 3
    assert [t.title for t in result.tables()] == [
        "Imported",
        "Lost (the format says more than cdp keeps)",
        "Normalised",
    ]


def test_segment_config_api_export_imports(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = import_plan(FIX / "segment" / "config_api.json", "segment", out)
    assert not result.failed(), result.findings
    _validates(out)
    plan = _load(out)
    assert plan.name == "Acme Mobile"
    assert list(plan.events) == ["Song Played"] and plan.events["Song Played"].description == "A song started playing."
    song = _props(out, "track/Song Played/v1")
    assert song["required"] == ["song_id"] and song["properties"]["duration_ms"] == {"type": "integer", "minimum": 0}
    assert _props(out, "identify", "traits")["properties"]["subscription"]["enum"] == ["free", "premium"]
    assert plan.group is None  # an empty group schema is no rule
    assert _compiled(out)["common"]["properties"]["context"]["required"] == ["app"]
    assert "Config API export read as Public API rules" in _messages(result.report)
    where = next(i for i in result.report.items if "'id' keywords" in i.message)
    assert where.path.startswith("$.rules.events[0].rules.properties.properties")


# --- RudderStack -----------------------------------------------------------------------------------------
def test_rudderstack_v1_project_imports(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    result = import_plan(FIX / "rudderstack" / "v1", "rudderstack", out)
    assert not result.failed(), result.findings
    _validates(out)
    plan = _load(out)
    assert plan.name == "Web App" and set(plan.events) == {"Product Added", "Order Completed"}
    assert plan.events["Product Added"].labels == ["Commerce"]  # its category
    added = _props(out, "track/Product Added/v1")
    assert added["additionalProperties"] is False and added["required"] == ["product_id"]
    assert added["properties"]["quantity"]["type"] == ["integer", "null"]
    assert added["properties"]["quantity"]["multipleOf"] == 1
    assert added["properties"]["tags"] == {
        "type": "array",
        "maxItems": 10,
        "items": {"type": "string"},
        "description": "Free-form tags.",
    }
    order = _props(out, "track/Order Completed/v1")
    assert order["required"] == ["items", "currency", "payment_method"] and "additionalProperties" not in order
    line = order["properties"]["items"]["items"]  # the CartItem custom type
    assert line["type"] == "object" and line["required"] == ["product_id"]
    shipping = order["properties"]["shipping_address"]
    assert shipping["required"] == ["city"] and shipping["properties"]["zip"]["pattern"] == "^[0-9]{5}$"
    traits = _props(out, "identify", "traits")
    assert traits["required"] == ["email"]
    assert traits["properties"]["email"]["format"] == "email" and traits["properties"]["email"]["maxLength"] == 254
    assert traits["properties"]["email"]["description"] == "Email address of the user."
    assert set(plan.pages) == {"web_page"}
    assert "unused_prop" not in plan.shared and "not_planned" not in plan.events
    lost = _messages(result.report, "lost")
    assert "variant on '#property:payment_method' with 1 cases not imported" in lost
    normalised = _messages(result.report, "normalised")
    assert "event name 'Order Completed ': removed surrounding whitespace" in normalised
    assert "categories read as labels" in normalised
    assert "read as closed (false), rudder-cli's default: identify_rule" in normalised
    variant = next(i for i in result.report.items if "variant on" in i.message)
    assert variant.file.endswith("tracking-plan.yaml") and variant.line == 39


def test_rudderstack_v01_project_imports(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    result = import_plan(FIX / "rudderstack" / "v0.1", "rudderstack", out)
    assert not result.failed(), result.findings
    _validates(out)
    called = _props(out, "track/API Called/v1")
    assert called["additionalProperties"] is False  # allow_unplanned: false
    assert called["required"] == ["api_method", "api_path"]
    assert called["properties"]["status_code"]["type"] == ["integer", "null"]  # "integer,null"
    assert called["properties"]["api_path"]["maxLength"] == 2048
    assert called["properties"]["scopes"]["items"] == {"type": "string"}
    assert "comma-separated types read as a list" in _messages(result.report, "normalised")
    assert "config 'sensitivity' has no JSON Schema meaning" in _messages(result.report, "lost")


# --- Avo -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["export.json", "export.ndjson"])
def test_avo_export_imports(tmp_path: Path, name: str) -> None:
    out = tmp_path / "plan.yaml"
    result = import_plan(FIX / "avo" / name, "avo", out)
    assert not result.failed(), result.findings
    _validates(out)
    plan = _load(out)
    assert set(plan.events) == {"Song Played", "Playlist Created"}
    played = _props(out, "track/Song Played/v1")
    assert played["required"] == ["Song Id", "Duration"] and played["additionalProperties"] is False
    assert played["properties"]["Duration"]["type"] == "number"  # Avo's "float"
    assert played["properties"]["Play Source"]["enum"] == ["Search", "Playlist", "Radio", None]
    assert not any(k.startswith("x-") for p in played["properties"].values() for k in p)
    assert "Song Id" in plan.shared  # the same property in both events
    assert _props(out, "identify", "traits")["properties"]["Subscription"]["enum"] == ["Free", "Premium"]
    assert _props(out, "group", "traits")["properties"]["Team Size"]["type"] == "integer"
    assert plan.common is not None and "App Version" in plan.common.fields["properties"]
    lost = _messages(result.report, "lost")
    assert "per-destination property names ('nameMapping') not kept" in lost
    assert "Avo event 'sources' not kept (cdp plans do not record it): Song Played (web_source, ios_app)" in lost
    if name == "export.json":
        assert plan.name == "Avo's Tracking Plan:main"
        assert plan.events["Song Played"].labels == ["Tier 1 - Core", "category:Listening"]
        assert "Avo's destinations not kept (Amplitude)" in lost


# --- JSON Schema directories -----------------------------------------------------------------------------
def test_iglu_schemas_import_with_schemaver_versions(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    result = import_plan(FIX / "jsonschema" / "iglu", "jsonschema", out)
    assert not result.failed(), result.findings
    _validates(out)
    plan = _load(out)
    assert sorted(plan.events["link_click"].versions) == [1, 2]
    assert plan.events["link_click"].labels == ["vendor:com.acme"]
    v2 = _props(out, "track/link_click/v2")
    assert v2["required"] == ["targetUrl"] and v2["additionalProperties"] is False
    assert v2["properties"]["elementClasses"] == {"type": ["array", "null"], "items": {"type": "string"}}
    assert _props(out, "track/checkout_started/v1")["properties"]["currency"]["enum"] == ["USD", "EUR"]
    normalised = _messages(result.report, "normalised")
    assert "Iglu schema com.acme/link_click 1-0-1 read as event version 2" in normalised
    assert "Iglu self-describing (draft-04) (3) read as draft 2020-12" in normalised


def test_a_directory_of_mixed_drafts_imports(tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    result = import_plan(FIX / "jsonschema" / "mixed", "jsonschema", out)
    assert not result.failed(), result.findings
    _validates(out)
    plan = _load(out)
    assert set(plan.events) == {"Order Completed", "Signed Up", "product_viewed"}
    order = _props(out, "track/Order Completed/v1")
    assert order["required"] == ["order_id", "total"]
    assert order["properties"]["total"] == {"type": "number", "exclusiveMinimum": 0}
    assert order["properties"]["discount"] == {"type": "number", "maximum": 100}
    assert order["properties"]["line_items"]["items"]["required"] == ["sku"]
    signed = _props(out, "track/Signed Up/v1")
    assert signed["properties"]["utm"]["prefixItems"] == [{"type": "string"}, {"type": "string"}]
    assert signed["properties"]["utm"]["items"] is False
    assert signed["properties"]["referral"]["dependentRequired"] == {"code": ["source"]}
    viewed = _props(out, "track/product_viewed/v1")
    assert viewed["properties"]["product_id"]["pattern"] == "^[a-z0-9-]+$"
    assert viewed["properties"]["rating"]["x-if"] == {"type": "number"}  # kept, not enforced
    lost = _messages(result.report, "lost")
    assert "'if' is not in cdp's format; kept as annotation x-if, not enforced" in lost
    assert "the message field 'userId' is constrained" in lost
    normalised = _messages(result.report, "normalised")
    assert "2020-12 (1), draft-04 (1), draft-07 (1) read as draft 2020-12" in normalised
    assert "schema has no title; the event is named after its file: 'product_viewed'" in normalised
    assert "tuple 'items' (a list) written as prefixItems" in normalised


# --- round trips -----------------------------------------------------------------------------------------
def _scrub(node: Any) -> Any:
    """A schema without what RudderStack keeps only once per property or not at all: descriptions of
    properties and personal-data classes."""
    if isinstance(node, dict):
        return {k: _scrub(v) for k, v in node.items() if k not in ("description", "x-pii")}
    if isinstance(node, list):
        return [_scrub(v) for v in node]
    return node


def _reported_subjects(report: Report, prefix: str) -> list[str]:
    """The subjects a grouped report item names (``label: a, b, c``; labels hold no ': ')."""
    item = next((i for i in report.items if i.message.startswith(prefix)), None)
    return item.message.split(": ", 1)[1].split(", ") if item else []


def _compare_rudderstack(original: Path, imported: Path, report: Report) -> None:
    """Equal but for the documented losses: older versions, page and screen names (merged), the common
    context, per-use descriptions, personal-data classes, and the keywords the report names."""
    plan, back = _load(original), _load(imported)
    before, after = _compiled(original), _compiled(imported)
    dropped = {s.split(" (")[0] for s in _reported_subjects(report, "JSON Schema keywords RudderStack")}
    versions = _reported_subjects(report, "event versions not kept")
    assert sorted(versions) == sorted(
        f"{n} v{v}" for n, e in plan.events.items() for v in e.versions if v != max(e.versions)
    )
    assert set(back.events) == set(plan.events)
    for name, event in plan.events.items():
        want = before[f"track/{name}/v{max(event.versions)}"]["properties"]["properties"]
        got = after[f"track/{name}/v1"]["properties"]["properties"]
        for subject in dropped:
            ev, _, prop = subject.partition(".")
            if ev == name:
                want["properties"].pop(prop), got["properties"].pop(prop)
        assert _scrub(got) == _scrub(want), name
    for kind in ("identify", "group"):
        if kind in before:
            assert _scrub(after[kind]["properties"]["traits"]) == _scrub(before[kind]["properties"]["traits"])
    for kind, table in (("page", plan.pages), ("screen", plan.screens)):
        assert list(getattr(back, f"{kind}s")) == [kind]
        merged = after[f"{kind}/{kind}"]["properties"]["properties"]["properties"]
        assert set(merged) == {p for body in table.values() for p in body.props}
        assert sorted(_reported_subjects(report, f"{kind}s keyed by name not kept")) == sorted(table)
    assert "common" not in after and back.common is None


@pytest.mark.parametrize("plan_name", SHIPPED)
@pytest.mark.parametrize("fmt", ["segment", "jsonschema", "rudderstack"])
def test_export_then_import_gives_an_equivalent_plan(tmp_path: Path, fmt: str, plan_name: str) -> None:
    original = ROOT / "plans" / plan_name
    out = tmp_path / ("plan.json" if fmt == "segment" else "export")
    exported = export_plan_as(original, fmt, out)
    assert not exported.failed() and exported.written
    assert exported.failed(strict=True)  # what the format cannot express is a warning each
    imported_dir = tmp_path / "imported"
    result = import_plan(out, fmt, imported_dir)
    assert not result.failed(), [f for f in result.findings if f.level is Level.ERROR]
    _validates(imported_dir)
    lost = _messages(exported.report, "lost")
    if fmt == "rudderstack":
        _compare_rudderstack(original, imported_dir, exported.report)
        for phrase in ("personal-data classes not kept", "event owners and labels not kept", "common context rules"):
            assert phrase in lost, phrase
        return
    # Segment and JSON Schema express every schema: the compiled schemas are identical
    assert _compiled(imported_dir) == _compiled(original)
    plan, back = _load(original), _load(imported_dir)
    assert back.name == plan.name
    assert set(back.shared) <= set(plan.shared) | {p for b in plan.bodies() for p in b.props}
    assert "the shared property library" in lost and "naming conventions" in lost
    if fmt == "segment":  # owners, labels and deprecation ride in Segment labels
        assert back.description == plan.description
        assert {n: (e.owner, e.labels) for n, e in back.events.items()} == {
            n: (e.owner, e.labels) for n, e in plan.events.items()
        }
        assert "kept as x-pii annotations" in _messages(exported.report, "normalised")
    else:
        assert "event owners and labels not kept" in lost


def test_rudderstack_export_is_a_v1_project(tmp_path: Path) -> None:
    result = export_plan_as(ROOT / "plans" / "ecommerce", "rudderstack", tmp_path / "rudder")
    names = sorted(Path(f).name for f in result.written)
    assert names == ["custom-types.yaml", "events.yaml", "properties.yaml", "tracking-plan.yaml"]
    import yaml

    docs = {n: yaml.safe_load((tmp_path / "rudder" / n).read_text(encoding="utf-8")) for n in names}
    assert {d["version"] for d in docs.values()} == {"rudder/v1"}
    assert docs["tracking-plan.yaml"]["kind"] == "tracking-plan"
    props = {p["id"]: p for p in docs["properties.yaml"]["spec"]["properties"]}
    assert props["currency"]["config"] == {"pattern": "^[A-Za-z]{3}$"}
    assert props["products"]["item_type"] == "#custom-type:products_item"
    assert len({(p["name"], p.get("type"), str(p.get("types"))) for p in props.values()}) == len(props)  # unique
    rules = {r["id"]: r for r in docs["tracking-plan.yaml"]["spec"]["rules"]}
    order = rules["order_completed_rule"]
    assert order["event"] == "#event:order_completed" and order["additional_properties"] is False
    assert {"property": "#property:currency", "required": True} in order["properties"]  # version 2, the newest
    assert rules["identify_rule"]["identity_section"] == "traits"


def test_segment_export_is_public_api_rules(tmp_path: Path) -> None:
    export_plan_as(ROOT / "plans" / "ecommerce", "segment", tmp_path / "plan.json")
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert (doc["name"], doc["type"]) == ("ecommerce", "LIVE")
    kinds = [r["type"] for r in doc["rules"]]
    assert kinds[0] == "COMMON" and {"TRACK", "IDENTIFY", "PAGE", "SCREEN"} <= set(kinds)
    order = [r for r in doc["rules"] if r.get("key") == "Order Completed"]
    assert [r["version"] for r in order] == [1, 2]
    schema = order[1]["jsonSchema"]
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["labels"] == {"owner": "checkout-team", "orders": "true", "revenue": "true"}
    assert schema["required"] == ["properties"] and "currency" in schema["properties"]["properties"]["required"]
    assert "ref" not in json.dumps(schema) and "context" not in schema["properties"]["properties"]["properties"]
    from jsonschema import Draft7Validator

    for rule in doc["rules"]:
        Draft7Validator.check_schema(rule["jsonSchema"])


# --- Markdown --------------------------------------------------------------------------------------------
def test_markdown_catalog_lists_events_properties_owners_versions_and_personal_data(tmp_path: Path) -> None:
    out = tmp_path / "catalog.md"
    result = export_plan_as(ROOT / "plans" / "ecommerce", "markdown", out)
    assert not result.failed(strict=True) and result.written == [str(out)]
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# ecommerce\n")
    for heading in ("## Common rules", "## Events", "## Identify traits", "## Pages", "## Screens", "## Personal data"):
        assert f"\n{heading}\n" in text, heading
    assert "| [Order Completed](#order-completed) | checkout-team | orders, revenue | 1, 2 |" in text
    section = text.split("\n### Order Completed\n", 1)[1].split("\n### ", 1)[0]
    assert "#### Version 1" in section and "#### Version 2" in section
    assert "**Unplanned properties:** refused" in section
    assert "| `currency` | string | yes | ISO-4217 currency code" in section.split("#### Version 2")[1]
    assert "| `products[].product_id` | string | yes |" in section
    assert "| `products` | array of object |" in section
    assert "pattern `^[A-Za-z]{3}$`" in section
    assert "| identify | `email` | email |" in text
    assert "| `rating` | number or string |" in text
    for line in text.splitlines():  # every table row has its header's cell count
        if line.startswith("| ") and "\\|" not in line:
            assert line.count(" | ") + 1 in (3, 5, 6), line


# --- outputs and errors ----------------------------------------------------------------------------------
def test_import_writes_stable_yaml_and_replaces_only_its_own_outputs(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    import_plan(FIX / "segment" / "public_api", "segment", out)
    first = {p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.yaml"))}
    import_plan(FIX / "segment" / "public_api", "segment", out)  # cdp wrote the directory: replaced
    assert {p.name: p.read_text(encoding="utf-8") for p in sorted(out.glob("*.yaml"))} == first
    assert list(first) == ["events.yaml", "identify.yaml", "pages.yaml", "plan.yaml", "properties.yaml"]
    foreign = tmp_path / "mine.yaml"
    foreign.write_text("events: {}\n", encoding="utf-8")
    with pytest.raises(OutputError, match="was not written by cdp"):
        import_plan(FIX / "segment" / "public_api", "segment", foreign)
    import_plan(FIX / "segment" / "public_api", "segment", foreign, force=True)
    assert "Order Completed" in foreign.read_text(encoding="utf-8")


def test_export_refuses_a_plan_with_errors_and_writes_nothing(tmp_path: Path) -> None:
    write_files(tmp_path / "bad", {"plan.yaml": "name: bad\nevents:\n  E:\n    properties:\n      x: {type: strin}\n"})
    result = export_plan_as(tmp_path / "bad", "segment", tmp_path / "out.json")
    assert result.failed() and "fix them before exporting" in result.verdict()
    assert not (tmp_path / "out.json").exists()


def test_outputs_must_suit_the_format(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(UsageError, match="writes one file"):
        export_plan_as(ROOT / "plans" / "saas", "markdown", tmp_path / "dir")
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="writes a directory"):
        export_plan_as(ROOT / "plans" / "saas", "rudderstack", tmp_path / "file")
    with pytest.raises(UsageError, match="one of the inputs"):
        import_plan(FIX / "rudderstack" / "v1", "rudderstack", FIX / "rudderstack" / "v1" / "plan.yaml")


def test_broken_sources_are_input_errors_with_a_position(tmp_path: Path) -> None:
    write_files(tmp_path, {"rules.json": '{"data": {"rules": [\n  {"type": "TRACK",}\n]}}\n'})
    with pytest.raises(InputError, match=r"rules\.json:2:\d+: invalid JSON"):
        import_plan(tmp_path / "rules.json", "segment", tmp_path / "p.yaml")
    write_files(tmp_path, {"proj/tp.yaml": "version: rudder/v1\nkind: tracking-plan\nspec:\n  rules: [\n"})
    with pytest.raises(InputError, match=r"tp\.yaml:\d+:\d+:"):
        import_plan(tmp_path / "proj", "rudderstack", tmp_path / "p2.yaml")
    write_files(tmp_path, {"x.json": "[1, 2]"})
    with pytest.raises(InputError, match="not an Avo export"):
        import_plan(tmp_path / "x.json", "avo", tmp_path / "p3.yaml")


def test_report_tallies_repeated_rewrites_into_one_item() -> None:
    report = Report()
    report.locate("f.json", lambda path: (len(path), 1))
    for i in range(3):
        report.tally("'id' keywords removed", file="f.json", path=("a", i), scope="TRACK 'E' v1")
    report.group("owners not kept", "E1", file="p.yaml", line=4)
    report.group("owners not kept", "E2", file="p.yaml", line=9)
    report.flush()
    assert [(i.kind, i.line, i.message) for i in report.items] == [
        ("normalised", 2, "'id' keywords removed in TRACK 'E' v1 (3 times, first at $.a[0])"),
        ("lost", 4, "owners not kept: E1, E2"),
    ]
    finding = report.findings()[1]
    assert (finding.code, finding.level, finding.file, finding.line) == (LOST, Level.WARNING, "p.yaml", 4)


def test_a_deep_copy_of_the_shipped_plans_is_untouched_by_export(tmp_path: Path) -> None:
    before = copy.deepcopy(_compiled(ROOT / "plans" / "ecommerce"))
    for fmt in export_formats():
        export_plan_as(ROOT / "plans" / "ecommerce", fmt, tmp_path / fmt / ("out.md" if fmt == "markdown" else "o"))
    assert _compiled(ROOT / "plans" / "ecommerce") == before
