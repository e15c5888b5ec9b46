"""The compiled form: standalone draft 2020-12 schemas of whole messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from cdp_cli.plan.compiler import compile_plan
from cdp_cli.plan.loader import discover, load_plan
from tests.conftest import ROOT, write_files

SHIPPED = sorted(p.parent for p in (ROOT / "plans").glob("*/plan.yaml"))


def _plan(path: Path):
    (source,) = discover([path])
    plan, findings = load_plan(source)
    assert not [f for f in findings if f.level.value == "error"], findings
    return plan


@pytest.mark.parametrize("plan_dir", SHIPPED, ids=lambda p: p.name)
def test_shipped_plans_compile_to_valid_standalone_schemas(plan_dir: Path) -> None:
    compiled = compile_plan(_plan(plan_dir))
    kinds = {c.kind for c in compiled}
    assert {"track", "identify", "page", "common"} <= kinds
    for c in compiled:
        Draft202012Validator.check_schema(c.schema)
        assert c.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert "ref" not in str(c.schema.keys())
        # standalone: no references left to resolve
        assert '"$ref"' not in __import__("json").dumps(c.schema)


def test_ecommerce_order_completed_accepts_spec_message_and_rejects_bad_ones() -> None:
    compiled = {c.key: c.schema for c in compile_plan(_plan(ROOT / "plans" / "ecommerce"))}
    v1 = Draft202012Validator(compiled["track/Order Completed/v1"])
    v2 = Draft202012Validator(compiled["track/Order Completed/v2"])
    msg = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "context": {"library": {"name": "analytics.js", "version": "2.11.1"}},
        "properties": {
            "order_id": "50314b8e9bcf000000000000",
            "total": 27.5,
            "revenue": 25.0,
            "currency": "USD",
            "products": [{"product_id": "507f1f77bcf86cd799439011", "sku": "45790-32", "price": 19.0, "quantity": 1}],
        },
    }
    assert not list(v1.iter_errors(msg))
    assert not list(v2.iter_errors(msg))
    no_currency = {**msg, "properties": {k: v for k, v in msg["properties"].items() if k != "currency"}}
    assert not list(v1.iter_errors(no_currency))
    assert list(v2.iter_errors(no_currency)), "version 2 requires currency"
    unplanned = {**msg, "properties": {**msg["properties"], "surprise": 1}}
    assert list(v1.iter_errors(unplanned)), "order events forbid unplanned properties"
    no_library = {k: v for k, v in msg.items() if k != "context"}
    assert list(v1.iter_errors(no_library)), "common requires context.library"
    wrong_event = {**msg, "event": "Order Updated"}
    assert list(v1.iter_errors(wrong_event))


def test_ecommerce_rating_accepts_the_specs_string_and_numbers() -> None:
    compiled = {c.key: c.schema for c in compile_plan(_plan(ROOT / "plans" / "ecommerce"))}
    v = Draft202012Validator(compiled["track/Product Reviewed/v1"])
    base = {
        "type": "track",
        "event": "Product Reviewed",
        "userId": "u1",
        "context": {"library": {"name": "analytics-python"}},
        "properties": {"product_id": "507f1f77bcf86cd799439011", "review_id": "kdfjrj39fj32"},
    }
    for good in ("5", "4.5", 4.5, 0):
        assert not list(v.iter_errors({**base, "properties": {**base["properties"], "rating": good}})), good
    for bad in ("9", "five", 7, -1):
        assert list(v.iter_errors({**base, "properties": {**base["properties"], "rating": bad}})), bad


def test_refs_are_inlined_with_local_overrides(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "plan.yaml": """
properties:
  sku: {type: string, minLength: 1, description: Stock keeping unit., pii: none}
  product:
    type: object
    description: A product.
    properties:
      sku: {ref: sku, required: true}
events:
  Product Viewed:
    description: d
    properties:
      sku: {ref: sku, required: true, description: Overridden., maxLength: 8}
      product: {ref: product}
      kind: {type: [string, null], enum: [a, b, null]}
"""
        },
    )
    (c,) = [c for c in compile_plan(_plan(tmp_path)) if c.kind == "track"]
    props = c.schema["properties"]["properties"]
    assert props["required"] == ["sku"]
    assert props["properties"]["sku"] == {
        "type": "string",
        "minLength": 1,
        "description": "Overridden.",
        "x-pii": "none",
        "maxLength": 8,
    }
    assert props["properties"]["product"]["properties"]["sku"]["type"] == "string"
    assert props["properties"]["product"]["required"] == ["sku"]
    assert props["properties"]["kind"]["type"] == ["string", "null"]
    assert c.schema["required"] == ["type", "event", "properties"]
    v = Draft202012Validator(c.schema)
    assert not list(
        v.iter_errors({"type": "track", "event": "Product Viewed", "properties": {"sku": "A1", "kind": None}})
    )
    assert list(v.iter_errors({"type": "track", "event": "Product Viewed", "properties": {"sku": "TOO-LONG-SKU"}}))


def test_circular_refs_compile_without_recursing_forever(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "plan.yaml": """
properties:
  node: {type: object, properties: {child: {ref: node}}}
events:
  Tree Built:
    properties:
      root: {ref: node}
"""
        },
    )
    (source,) = discover([tmp_path])
    plan, _ = load_plan(source)
    compiled = compile_plan(plan)
    for c in compiled:
        Draft202012Validator.check_schema(c.schema)


def test_export_file_names_keep_any_script_and_never_collide() -> None:
    from cdp_cli.plan.export import _file_name

    taken: set[str] = set()
    names = [_file_name("track", n, 1, taken) for n in ("日本語", "Ordér", "A/B", "A-B", "a-b")]
    assert names == [
        "track.日本語.v1.schema.json",
        "track.Ordér.v1.schema.json",
        "track.A-B.v1.schema.json",
        "track.A-B-2.v1.schema.json",
        "track.a-b-3.v1.schema.json",
    ]
    assert _file_name("identify", None, None, taken) == "identify.schema.json"
