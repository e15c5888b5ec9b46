"""``cdp plan diff``: every rule of the breaking-change table, both verdicts, positions, git revisions,
the fail/side decision and the pull-request Markdown."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdp_cli.errors import InputError, PlanError, UsageError
from cdp_cli.findings import Level
from cdp_cli.plan.diff import RULES, Change, DiffResult, diff_plans
from cdp_cli.plan.gitrev import parse_rev_spec
from cdp_cli.plan.loader import display_path

EVENT = "Order Completed"


# --- helpers ----------------------------------------------------------------------------------------
def write_plan(directory: Path, plan: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "plan.yaml").write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return directory


def event_plan(props: dict[str, Any], *, event: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A plan with one event ``Order Completed`` holding ``props``; ``event`` adds keys to the event."""
    return {
        "name": "shop",
        **top,
        "events": {EVENT: {"description": "An order.", **(event or {}), "properties": props}},
    }


def diff(tmp_path: Path, old: dict[str, Any], new: dict[str, Any], **kw: Any) -> DiffResult:
    return diff_plans(write_plan(tmp_path / "old", old), write_plan(tmp_path / "new", new), **kw)


def only(result: DiffResult, rule: str) -> Change:
    found = [c for c in result.changes if c.rule == rule]
    assert len(found) == 1, [(c.rule, c.message) for c in result.changes]
    return found[0]


def verdicts(change: Change) -> tuple[str, str]:
    return change.producer.value, change.consumer.value


def rules(result: DiffResult) -> list[str]:
    return [c.rule for c in result.changes]


S = {"type": "string"}

# (id, OLD properties, NEW properties, event keys (both sides), rule, path, producer, consumer)
PROPERTY_CASES = [
    ("optional-added-open", {"a": S}, {"a": S, "b": S}, {}, "OPTIONAL_PROPERTY_ADDED", "b", "warning", "safe"),
    (
        "optional-added-closed",
        {"a": S},
        {"a": S, "b": S},
        {"additionalProperties": False},
        "OPTIONAL_PROPERTY_ADDED",
        "b",
        "safe",
        "safe",
    ),
    (
        "required-added",
        {"a": S},
        {"a": S, "b": {**S, "required": True, "default": "x"}},
        {},
        "REQUIRED_PROPERTY_ADDED",
        "b",
        "breaking",
        "safe",
    ),
    ("removed-open", {"a": S, "b": S}, {"a": S}, {}, "PROPERTY_REMOVED", "b", "safe", "warning"),
    (
        "removed-closed",
        {"a": S, "b": S},
        {"a": S},
        {"additionalProperties": False},
        "PROPERTY_REMOVED",
        "b",
        "breaking",
        "warning",
    ),
    (
        "removed-required",
        {"a": S, "b": {**S, "required": True}},
        {"a": S},
        {},
        "PROPERTY_REMOVED",
        "b",
        "safe",
        "breaking",
    ),
    (
        "became-required",
        {"a": S},
        {"a": {**S, "required": True}},
        {},
        "PROPERTY_BECAME_REQUIRED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "became-optional",
        {"a": {**S, "required": True}},
        {"a": S},
        {},
        "PROPERTY_BECAME_OPTIONAL",
        "a",
        "safe",
        "warning",
    ),
    ("type-changed", {"a": S}, {"a": {"type": "integer"}}, {}, "TYPE_CHANGED", "a", "breaking", "breaking"),
    (
        "type-changed-overlapping",
        {"a": {"type": ["string", "null"]}},
        {"a": {"type": ["string", "integer"]}},
        {},
        "TYPE_CHANGED",
        "a",
        "breaking",
        "warning",
    ),
    (
        "integer-to-number",
        {"a": {"type": "integer"}},
        {"a": {"type": "number"}},
        {},
        "TYPE_WIDENED",
        "a",
        "safe",
        "warning",
    ),
    ("null-added", {"a": S}, {"a": {"type": ["string", "null"]}}, {}, "TYPE_WIDENED", "a", "safe", "warning"),
    ("type-removed", {"a": S}, {"a": {"description": "any"}}, {}, "TYPE_WIDENED", "a", "safe", "warning"),
    (
        "number-to-integer",
        {"a": {"type": "number"}},
        {"a": {"type": "integer"}},
        {},
        "TYPE_NARROWED",
        "a",
        "breaking",
        "safe",
    ),
    ("null-removed", {"a": {"type": ["string", "null"]}}, {"a": S}, {}, "TYPE_NARROWED", "a", "breaking", "safe"),
    ("type-added", {"a": {}}, {"a": S}, {}, "TYPE_NARROWED", "a", "breaking", "safe"),
    (
        "enum-value-added",
        {"a": {**S, "enum": ["x"]}},
        {"a": {**S, "enum": ["x", "y"]}},
        {},
        "ENUM_VALUE_ADDED",
        "a",
        "safe",
        "warning",
    ),
    (
        "enum-value-removed",
        {"a": {**S, "enum": ["x", "y"]}},
        {"a": {**S, "enum": ["x"]}},
        {},
        "ENUM_VALUE_REMOVED",
        "a",
        "breaking",
        "safe",
    ),
    ("enum-introduced", {"a": S}, {"a": {**S, "enum": ["x"]}}, {}, "ENUM_ADDED", "a", "breaking", "safe"),
    ("const-introduced", {"a": S}, {"a": {**S, "const": "x"}}, {}, "ENUM_ADDED", "a", "breaking", "safe"),
    ("enum-removed", {"a": {**S, "enum": ["x"]}}, {"a": S}, {}, "ENUM_REMOVED", "a", "safe", "warning"),
    ("pattern-added", {"a": S}, {"a": {**S, "pattern": "^[a-z]+$"}}, {}, "PATTERN_ADDED", "a", "breaking", "safe"),
    (
        "pattern-changed",
        {"a": {**S, "pattern": "^[a-z]+$"}},
        {"a": {**S, "pattern": "^[a-z]{3}$"}},
        {},
        "PATTERN_CHANGED",
        "a",
        "breaking",
        "safe",
    ),
    ("pattern-removed", {"a": {**S, "pattern": "^[a-z]+$"}}, {"a": S}, {}, "PATTERN_REMOVED", "a", "safe", "warning"),
    (
        "pattern-to-anything",
        {"a": {**S, "pattern": "^[a-z]+$"}},
        {"a": {**S, "pattern": ".*"}},
        {},
        "PATTERN_REMOVED",
        "a",
        "safe",
        "warning",
    ),
    ("format-added", {"a": S}, {"a": {**S, "format": "date-time"}}, {}, "FORMAT_ADDED", "a", "breaking", "safe"),
    (
        "format-changed",
        {"a": {**S, "format": "date-time"}},
        {"a": {**S, "format": "date"}},
        {},
        "FORMAT_CHANGED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "format-widened",
        {"a": {**S, "format": "email"}},
        {"a": {**S, "format": "idn-email"}},
        {},
        "FORMAT_CHANGED",
        "a",
        "safe",
        "warning",
    ),
    ("format-removed", {"a": {**S, "format": "uuid"}}, {"a": S}, {}, "FORMAT_REMOVED", "a", "safe", "warning"),
    ("bound-added", {"a": S}, {"a": {**S, "maxLength": 10}}, {}, "BOUND_ADDED", "a", "breaking", "safe"),
    (
        "max-lowered",
        {"a": {**S, "maxLength": 10}},
        {"a": {**S, "maxLength": 5}},
        {},
        "BOUND_TIGHTENED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "min-raised",
        {"a": {"type": "number", "minimum": 0}},
        {"a": {"type": "number", "minimum": 1}},
        {},
        "BOUND_TIGHTENED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "max-raised",
        {"a": {"type": "number", "maximum": 10}},
        {"a": {"type": "number", "maximum": 20}},
        {},
        "BOUND_RELAXED",
        "a",
        "safe",
        "warning",
    ),
    (
        "min-items-lowered",
        {"a": {"type": "array", "minItems": 2}},
        {"a": {"type": "array", "minItems": 1}},
        {},
        "BOUND_RELAXED",
        "a",
        "safe",
        "warning",
    ),
    ("bound-removed", {"a": {**S, "minLength": 1}}, {"a": S}, {}, "BOUND_REMOVED", "a", "safe", "warning"),
    (
        "multiple-of-multiplied",
        {"a": {"type": "number", "multipleOf": 0.5}},
        {"a": {"type": "number", "multipleOf": 1.5}},
        {},
        "BOUND_TIGHTENED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "multiple-of-divided",
        {"a": {"type": "number", "multipleOf": 4}},
        {"a": {"type": "number", "multipleOf": 2}},
        {},
        "BOUND_RELAXED",
        "a",
        "safe",
        "warning",
    ),
    (
        "unique-items-added",
        {"a": {"type": "array"}},
        {"a": {"type": "array", "uniqueItems": True}},
        {},
        "BOUND_ADDED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "nested-object-closed",
        {"a": {"type": "object", "properties": {"x": S}}},
        {"a": {"type": "object", "properties": {"x": S}, "additionalProperties": False}},
        {},
        "OBJECT_CLOSED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "nested-object-opened",
        {"a": {"type": "object", "properties": {"x": S}, "additionalProperties": False}},
        {"a": {"type": "object", "properties": {"x": S}}},
        {},
        "OBJECT_OPENED",
        "a",
        "safe",
        "warning",
    ),
    (
        "nested-removed-closed",
        {"a": {"type": "object", "additionalProperties": False, "properties": {"x": S, "y": S}}},
        {"a": {"type": "object", "additionalProperties": False, "properties": {"x": S}}},
        {},
        "PROPERTY_REMOVED",
        "a.y",
        "breaking",
        "warning",
    ),
    (
        "nested-required-added",
        {"a": {"type": "object", "properties": {"x": S}}},
        {"a": {"type": "object", "properties": {"x": S, "y": {**S, "required": True}}}},
        {},
        "REQUIRED_PROPERTY_ADDED",
        "a.y",
        "breaking",
        "safe",
    ),
    (
        "nested-required-list",
        {"a": {"type": "object", "properties": {"x": S}}},
        {"a": {"type": "object", "properties": {"x": S}, "required": ["x"]}},
        {},
        "PROPERTY_BECAME_REQUIRED",
        "a.x",
        "breaking",
        "safe",
    ),
    (
        "array-item-type",
        {"items": {"type": "array", "items": {"type": "object", "properties": {"price": {"type": "number"}}}}},
        {"items": {"type": "array", "items": {"type": "object", "properties": {"price": {"type": "string"}}}}},
        {},
        "TYPE_CHANGED",
        "items[].price",
        "breaking",
        "breaking",
    ),
    (
        "array-item-enum",
        {"tags": {"type": "array", "items": {**S, "enum": ["a", "b"]}}},
        {"tags": {"type": "array", "items": {**S, "enum": ["a"]}}},
        {},
        "ENUM_VALUE_REMOVED",
        "tags[]",
        "breaking",
        "safe",
    ),
    (
        "items-added",
        {"tags": {"type": "array"}},
        {"tags": {"type": "array", "items": S}},
        {},
        "CONSTRAINT_ADDED",
        "tags[]",
        "breaking",
        "safe",
    ),
    (
        "items-removed",
        {"tags": {"type": "array", "items": S}},
        {"tags": {"type": "array"}},
        {},
        "CONSTRAINT_REMOVED",
        "tags[]",
        "safe",
        "warning",
    ),
    (
        "not-changed",
        {"a": {**S, "not": {"enum": ["test"]}}},
        {"a": {**S, "not": {"enum": ["demo"]}}},
        {},
        "CONSTRAINT_CHANGED",
        "a",
        "breaking",
        "warning",
    ),
    (
        "not-added",
        {"a": S},
        {"a": {**S, "not": {"enum": ["test"]}}},
        {},
        "CONSTRAINT_ADDED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "dependent-required-added",
        {"a": {"type": "object", "properties": {"x": S, "y": S}}},
        {"a": {"type": "object", "properties": {"x": S, "y": S}, "dependentRequired": {"x": ["y"]}}},
        {},
        "CONSTRAINT_ADDED",
        "a",
        "breaking",
        "safe",
    ),
    (
        "any-of-branch-added",
        {"a": {"anyOf": [S]}},
        {"a": {"anyOf": [S, {"type": "integer"}]}},
        {},
        "BRANCH_ADDED",
        "a.anyOf[1]",
        "safe",
        "warning",
    ),
    (
        "one-of-branch-added",
        {"a": {"oneOf": [S]}},
        {"a": {"oneOf": [S, {"type": "integer"}]}},
        {},
        "BRANCH_ADDED",
        "a.oneOf[1]",
        "warning",
        "warning",
    ),
    (
        "any-of-branch-removed",
        {"a": {"anyOf": [S, {"type": "integer"}]}},
        {"a": {"anyOf": [S]}},
        {},
        "BRANCH_REMOVED",
        "a.anyOf[1]",
        "breaking",
        "safe",
    ),
    (
        "any-of-branch-narrowed",
        {"a": {"anyOf": [S, {"type": "number"}]}},
        {"a": {"anyOf": [S, {"type": "integer"}]}},
        {},
        "TYPE_NARROWED",
        "a.anyOf[1]",
        "breaking",
        "safe",
    ),
    (
        "additional-schema-added",
        {"a": {"type": "object"}},
        {"a": {"type": "object", "additionalProperties": {"type": "integer"}}},
        {},
        "CONSTRAINT_ADDED",
        "a.*",
        "breaking",
        "safe",
    ),
    (
        "all-of-part-added",
        {"a": {"type": "array", "allOf": [{"minItems": 1}]}},
        {"a": {"type": "array", "allOf": [{"minItems": 1}, {"maxItems": 3}]}},
        {},
        "CONSTRAINT_ADDED",
        "a.allOf[1]",
        "breaking",
        "safe",
    ),
    (
        "prefix-item-added",
        {"a": {"type": "array", "prefixItems": [S]}},
        {"a": {"type": "array", "prefixItems": [S, {"type": "integer"}]}},
        {},
        "CONSTRAINT_ADDED",
        "a[1]",
        "breaking",
        "safe",
    ),
    (
        "no-more-items",
        {"a": {"type": "array", "prefixItems": [S]}},
        {"a": {"type": "array", "prefixItems": [S], "items": False}},
        {},
        "CONSTRAINT_ADDED",
        "a[]",
        "breaking",
        "safe",
    ),
    (
        "contains-narrowed",
        {"a": {"type": "array", "contains": S}},
        {"a": {"type": "array", "contains": {**S, "enum": ["x"]}}},
        {},
        "ENUM_ADDED",
        "a.contains",
        "breaking",
        "safe",
    ),
    (
        "additional-schema-widened",
        {"a": {"type": "object", "additionalProperties": {"type": "integer"}}},
        {"a": {"type": "object", "additionalProperties": {"type": "number"}}},
        {},
        "TYPE_WIDENED",
        "a.*",
        "safe",
        "warning",
    ),
    (
        "description",
        {"a": {**S, "description": "old"}},
        {"a": {**S, "description": "new"}},
        {},
        "DESCRIPTION_CHANGED",
        "a",
        "safe",
        "safe",
    ),
    ("title", {"a": S}, {"a": {**S, "title": "A"}}, {}, "ANNOTATION_CHANGED", "a", "safe", "safe"),
    (
        "extension",
        {"a": {**S, "x-team": "a"}},
        {"a": {**S, "x-team": "b"}},
        {},
        "ANNOTATION_CHANGED",
        "a",
        "safe",
        "safe",
    ),
    ("deprecated", {"a": S}, {"a": {**S, "deprecated": True}}, {}, "DEPRECATION_CHANGED", "a", "safe", "safe"),
    ("pii-removed", {"a": {**S, "pii": "email"}}, {"a": S}, {}, "PII_CHANGED", "a", "safe", "warning"),
    ("pii-added", {"a": S}, {"a": {**S, "pii": "email"}}, {}, "PII_CHANGED", "a", "safe", "safe"),
]


@pytest.mark.parametrize(
    ("old", "new", "event", "rule", "path", "producer", "consumer"),
    [case[1:] for case in PROPERTY_CASES],
    ids=[case[0] for case in PROPERTY_CASES],
)
def test_each_property_rule_has_both_verdicts(
    tmp_path: Path, old: dict, new: dict, event: dict, rule: str, path: str, producer: str, consumer: str
) -> None:
    result = diff(tmp_path, event_plan(old, event=event), event_plan(new, event=event))
    change = only(result, rule)
    assert verdicts(change) == (producer, consumer), change.message
    assert (change.kind, change.name, change.version) == ("event", EVENT, 1)
    assert change.path == f"properties.{path}"
    assert change.message.startswith(f"event '{EVENT}' v1 properties.{path}: ")
    assert change.code == RULES[rule].code


@pytest.mark.parametrize("name", ["ecommerce", "saas"])
def test_a_shipped_plan_has_no_changes_against_itself(name: str) -> None:
    from tests.conftest import ROOT

    result = diff_plans(ROOT / "plans" / name, ROOT / "plans" / name)
    assert result.changes == [] and result.bumps == [] and not result.failed(strict=True)


def test_every_rule_has_a_code_a_name_and_a_description() -> None:
    codes = [r.code for r in RULES.values()]
    assert len(set(codes)) == len(codes)
    for rule in RULES.values():
        assert rule.code.startswith("PD") and rule.name == "plan-diff." + rule.id.lower().replace("_", "-")
        assert rule.summary and rule.why and rule.bad and rule.good
        from cdp_cli.rules import get_rule

        assert get_rule(rule.code).level == rule.level  # the catalog's level is the worst the verdicts give


# --- the property table: values shown, both removals and additions ----------------------------------
def test_enum_changes_list_the_values_and_keep_the_fragments(tmp_path: Path) -> None:
    result = diff(
        tmp_path,
        event_plan({"m": {**S, "enum": ["email", "google", "sso"]}}),
        event_plan({"m": {**S, "enum": ["email", "google", "github"]}}),
    )
    removed, added = only(result, "ENUM_VALUE_REMOVED"), only(result, "ENUM_VALUE_ADDED")
    assert removed.detail == 'enum values removed: "sso"' and added.detail == 'enum values added: "github"'
    assert removed.old == ["email", "google", "sso"] and removed.new == ["email", "google", "github"]


def test_equal_values_are_no_change(tmp_path: Path) -> None:
    old = event_plan({"n": {"type": ["integer", "number"], "enum": [1, 2.0], "maximum": 10}})
    new = event_plan({"n": {"type": ["number"], "enum": [1.0, 2], "maximum": 10.0}})
    assert diff(tmp_path, old, new).changes == []


def test_const_changed_is_a_value_removed_and_a_value_added(tmp_path: Path) -> None:
    result = diff(tmp_path, event_plan({"a": {"const": "x"}}), event_plan({"a": {"const": "y"}}))
    assert sorted(rules(result)) == ["ENUM_VALUE_ADDED", "ENUM_VALUE_REMOVED"]


def test_an_added_sub_schema_weighs_what_it_limits(tmp_path: Path) -> None:
    result = diff(
        tmp_path,
        event_plan({"tags": {"type": "array"}}),
        event_plan({"tags": {"type": "array", "items": {"description": "A tag."}}}),
    )
    assert verdicts(only(result, "CONSTRAINT_ADDED")) == ("safe", "safe")


# --- refs ---------------------------------------------------------------------------------------------
def test_a_change_in_a_shared_definition_is_found_through_ref_and_points_at_it(tmp_path: Path) -> None:
    old_text = (
        "name: shop\n"
        "properties:\n"
        "  sku:\n"
        "    type: string\n"
        "    description: A stock keeping unit.\n"
        "events:\n"
        "  Order Completed:\n"
        "    description: An order.\n"
        "    properties:\n"
        "      sku: {ref: sku}\n"
        "      products:\n"
        "        type: array\n"
        "        items:\n"
        "          type: object\n"
        "          properties:\n"
        "            sku: {ref: sku, required: true}\n"
    )
    new_text = old_text.replace("    type: string\n", "    type: string\n    maxLength: 16\n", 1)
    write_plan(tmp_path / "old", {})
    (tmp_path / "old" / "plan.yaml").write_text(old_text, encoding="utf-8")
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "plan.yaml").write_text(new_text, encoding="utf-8")
    result = diff_plans(tmp_path / "old", tmp_path / "new")
    found = sorted((c.path, c.rule, verdicts(c)) for c in result.changes)
    assert found == [
        ("properties.products[].sku", "BOUND_ADDED", ("breaking", "safe")),
        ("properties.sku", "BOUND_ADDED", ("breaking", "safe")),
    ]
    new_file = str(tmp_path / "new" / "plan.yaml")
    assert {(c.file, c.line, c.column, c.side) for c in result.changes} == {(display_path(new_file), 5, 5, "new")}
    (finding,) = result.findings  # one place, one finding naming both uses
    assert finding.line == 5 and "also event 'Order Completed' v1 properties.products[].sku" in finding.message


def test_a_local_override_next_to_ref_is_compared_after_expansion(tmp_path: Path) -> None:
    shared = {"method": {"type": "string", "enum": ["email", "google"], "description": "How."}}
    old = event_plan({"method": {"ref": "method"}}, properties=shared)
    new = event_plan({"method": {"ref": "method", "enum": ["email"]}}, properties=shared)
    change = only(diff(tmp_path, old, new), "ENUM_VALUE_REMOVED")
    assert verdicts(change) == ("breaking", "safe")


def test_replacing_a_ref_by_the_same_definition_written_out_is_no_change(tmp_path: Path) -> None:
    shared = {"price": {"type": "number", "minimum": 0, "description": "Price."}}
    old = event_plan({"price": {"ref": "price"}}, properties=shared)
    new = event_plan({"price": {"type": "number", "minimum": 0, "description": "Price."}}, properties=shared)
    assert diff(tmp_path, old, new).changes == []


# --- objects: open and closed -------------------------------------------------------------------------
def test_closing_an_event_and_the_plan_default(tmp_path: Path) -> None:
    closed = diff(tmp_path / "a", event_plan({"a": S}), event_plan({"a": S}, event={"additionalProperties": False}))
    change = only(closed, "OBJECT_CLOSED")
    assert verdicts(change) == ("breaking", "safe") and change.path == "properties"
    by_default = diff(
        tmp_path / "b", event_plan({"a": S}), event_plan({"a": S}, settings={"additionalProperties": False})
    )
    change = only(by_default, "OBJECT_CLOSED")
    assert change.line == 3  # settings.additionalProperties in the NEW plan.yaml
    opened = diff(tmp_path / "c", event_plan({"a": S}, event={"additionalProperties": False}), event_plan({"a": S}))
    assert verdicts(only(opened, "OBJECT_OPENED")) == ("safe", "warning")


# --- events, versions, definitions, settings, common ------------------------------------------------------
def test_event_added(tmp_path: Path) -> None:
    old = {"name": "shop", "events": {"A": {"description": "A."}}}
    new = {"name": "shop", "events": {"A": {"description": "A."}, "B": {"description": "B."}}}
    assert verdicts(only(diff(tmp_path / "1", old, new), "EVENT_ADDED")) == ("safe", "safe")
    lenient = {"settings": {"allow_unplanned_events": True}}
    result = diff(tmp_path / "2", {**old, **lenient}, {**new, **lenient})
    assert verdicts(only(result, "EVENT_ADDED")) == ("warning", "safe")


def test_event_removed_depends_on_whether_unplanned_events_are_blocked(tmp_path: Path) -> None:
    old = {"name": "shop", "events": {"Order Completed": {"description": "A."}, "B": {"description": "B."}}}
    new = {"name": "shop", "events": {"Order Complete": {"description": "A."}, "B": {"description": "B."}}}
    blocked = only(diff(tmp_path / "1", old, new), "EVENT_REMOVED")
    assert verdicts(blocked) == ("breaking", "breaking") and blocked.side == "old"
    assert "renamed to 'Order Complete'?" in blocked.detail
    lenient = {"settings": {"allow_unplanned_events": True}}
    allowed = only(diff(tmp_path / "2", {**old, **lenient}, {**new, **lenient}), "EVENT_REMOVED")
    assert verdicts(allowed) == ("warning", "breaking")


def _versions(*bodies: dict[str, Any]) -> dict[str, Any]:
    return {"name": "shop", "events": {EVENT: {"description": "An order.", "versions": dict(enumerate(bodies, 1))}}}


def test_event_version_added_and_removed(tmp_path: Path) -> None:
    v1 = {"properties": {"order_id": S}}
    v2 = {"properties": {"order_id": S, "currency": {**S, "required": True}}}
    added = only(diff(tmp_path / "1", _versions(v1), _versions(v1, v2)), "EVENT_VERSION_ADDED")
    assert verdicts(added) == ("safe", "warning") and added.version == 2
    # v2 removed: its messages fall back to v1, which accepts them; readers lose the required currency
    removed = only(diff(tmp_path / "2", _versions(v1, v2), _versions(v1)), "EVENT_VERSION_REMOVED")
    assert verdicts(removed) == ("warning", "breaking") and removed.side == "old"
    # v1 removed: messages without a version now fall back to v2, which requires currency
    strict = only(
        diff(tmp_path / "3", _versions(v1, v2), {"name": "shop", "events": {EVENT: {"versions": {"2": v2}}}}),
        "EVENT_VERSION_REMOVED",
    )
    assert verdicts(strict) == ("breaking", "warning") and "rejects messages it accepted" in strict.detail


def test_a_version_that_already_exists_is_compared_and_a_new_one_is_not(tmp_path: Path) -> None:
    v1 = {"properties": {"order_id": S}}
    v2 = {"properties": {"order_id": {**S, "maxLength": 5}}}
    result = diff(tmp_path, _versions(v1), _versions(v1, v2))
    assert rules(result) == ["EVENT_VERSION_ADDED"]
    assert not result.failed() and result.bumps == []


def test_pages_screens_identify_group(tmp_path: Path) -> None:
    base = {"name": "shop", "pages": {"Home": {"description": "Home."}}}
    first = diff(tmp_path / "1", {"name": "shop", "events": {"A": {}}}, base)
    change = only(first, "DEFINITION_ADDED")
    assert change.kind == "page" and verdicts(change) == ("breaking", "safe")  # every other page is unplanned now
    more = diff(tmp_path / "2", base, {**base, "pages": {**base["pages"], "Cart": {}}})
    assert verdicts(only(more, "DEFINITION_ADDED")) == ("safe", "safe")
    gone = diff(tmp_path / "3", {**base, "pages": {**base["pages"], "Cart": {}}}, base)
    assert verdicts(only(gone, "DEFINITION_REMOVED")) == ("breaking", "breaking")
    traits = {"email": {**S, "required": True}, "plan": S}
    ident = diff(
        tmp_path / "4",
        {"name": "shop", "events": {"A": {}}},
        {"name": "shop", "events": {"A": {}}, "identify": {"traits": traits}},
    )
    assert sorted(rules(ident)) == ["DEFINITION_ADDED", "OPTIONAL_PROPERTY_ADDED", "REQUIRED_PROPERTY_ADDED"]
    req = only(ident, "REQUIRED_PROPERTY_ADDED")
    assert (req.kind, req.path, verdicts(req)) == ("identify", "traits.email", ("breaking", "safe"))
    group = diff(
        tmp_path / "5",
        {"name": "shop", "group": {"traits": {"plan": S}}},
        {"name": "shop", "group": {"traits": {"plan": {**S, "enum": ["free", "pro"]}}}},
    )
    assert (only(group, "ENUM_ADDED").kind, only(group, "ENUM_ADDED").path) == ("group", "traits.plan")


def test_unplanned_events_setting(tmp_path: Path) -> None:
    lenient = {"name": "shop", "settings": {"allow_unplanned_events": True}, "events": {"A": {}}}
    strict = {"name": "shop", "settings": {"allow_unplanned_events": False}, "events": {"A": {}}}
    blocked = only(diff(tmp_path / "1", lenient, strict), "UNPLANNED_EVENTS_BLOCKED")
    assert verdicts(blocked) == ("breaking", "safe") and blocked.kind == "plan" and blocked.line == 3
    assert verdicts(only(diff(tmp_path / "2", strict, lenient), "UNPLANNED_EVENTS_ALLOWED")) == ("safe", "warning")


def test_a_setting_back_to_its_default_points_at_the_old_settings(tmp_path: Path) -> None:
    lenient = {"name": "shop", "settings": {"allow_unplanned_events": True}, "events": {"A": {}}}
    default = {"name": "shop", "events": {"A": {}}}
    change = only(diff(tmp_path, lenient, default), "UNPLANNED_EVENTS_BLOCKED")
    assert (change.side, change.line) == ("old", 3)


def test_common_rules_tightened_are_reported_once_as_common(tmp_path: Path) -> None:
    lib = {"type": "object", "properties": {"name": S}}
    old = {"name": "shop", "common": {"context": {"library": lib}}, "events": {"A": {}, "B": {}}}
    new = {
        "name": "shop",
        "common": {"context": {"library": {**lib, "required": True}}},
        "events": {"A": {}, "B": {}},
    }
    change = only(diff(tmp_path / "1", old, new), "PROPERTY_BECAME_REQUIRED")
    assert (change.kind, change.path, verdicts(change)) == ("common", "context.library", ("breaking", "safe"))
    # a common property removed: closed events now reject it
    old = {"name": "shop", "common": {"properties": {"env": S}}, "events": {"A": {"additionalProperties": False}}}
    new = {"name": "shop", "common": {"properties": {}}, "events": {"A": {"additionalProperties": False}}}
    removed = only(diff(tmp_path / "2", old, new), "PROPERTY_REMOVED")
    assert (removed.kind, verdicts(removed)) == ("common", ("breaking", "warning"))


def test_a_property_moved_to_common_is_not_removed_for_producers(tmp_path: Path) -> None:
    old = {"name": "shop", "events": {"A": {"additionalProperties": False, "properties": {"env": S}}}}
    new = {"name": "shop", "common": {"properties": {"env": S}}, "events": {"A": {"additionalProperties": False}}}
    removed = only(diff(tmp_path, old, new), "PROPERTY_REMOVED")
    assert removed.kind == "event" and removed.producer.value == "safe"


def test_information_changes(tmp_path: Path) -> None:
    old = {"name": "shop", "events": {EVENT: {"description": "A.", "owner": "a", "labels": ["x"]}}}
    new = {
        "name": "shop",
        "events": {EVENT: {"description": "B.", "owner": "b", "labels": ["x", "y"], "deprecated": True}},
    }
    result = diff(tmp_path, old, new)
    assert sorted(rules(result)) == ["DEPRECATION_CHANGED", "DESCRIPTION_CHANGED", "LABELS_CHANGED", "OWNER_CHANGED"]
    assert all(verdicts(c) == ("safe", "safe") for c in result.changes)
    assert only(result, "LABELS_CHANGED").detail == 'labels added "y"'
    assert {f.level for f in result.findings} == {Level.INFO} and not result.failed(strict=True)


# --- positions ----------------------------------------------------------------------------------------
def test_changes_point_at_the_new_side_and_removals_at_the_old(tmp_path: Path) -> None:
    old = (
        "events:\n"
        "  Order Completed:\n"
        "    description: An order.\n"
        "    properties:\n"
        "      total: {type: number}\n"
        "      coupon: {type: string}\n"
    )
    new = (
        "events:\n"
        "  Order Completed:\n"
        "    description: An order.\n"
        "    properties:\n"
        "      total:\n"
        "        type: number\n"
        "        minimum: 0\n"
    )
    (tmp_path / "old.yaml").write_text(old, encoding="utf-8")
    (tmp_path / "new.yaml").write_text(new, encoding="utf-8")
    result = diff_plans(tmp_path / "old.yaml", tmp_path / "new.yaml")
    bound, removed = only(result, "BOUND_ADDED"), only(result, "PROPERTY_REMOVED")
    assert (bound.file, bound.line, bound.column, bound.side) == (display_path(tmp_path / "new.yaml"), 7, 9, "new")
    assert (removed.file, removed.line, removed.column, removed.side) == (
        display_path(tmp_path / "old.yaml"),
        6,
        7,
        "old",
    )


# --- version bumps -------------------------------------------------------------------------------------
def test_a_producer_breaking_change_suggests_a_new_version_that_is_safe(tmp_path: Path) -> None:
    shared = {"quantity": {"type": "integer", "minimum": 1, "description": "How many."}}
    old = event_plan({"order_id": S, "quantity": {"ref": "quantity"}}, properties=shared)
    tightened = {"quantity": {**shared["quantity"], "minimum": 2}}
    new = event_plan({"order_id": {**S, "required": True}, "quantity": {"ref": "quantity"}}, properties=tightened)
    result = diff(tmp_path, old, new)
    (bump,) = result.bumps
    assert (bump.event, bump.versions, bump.suggested) == (EVENT, (1,), 2)
    assert bump.rules == ("BOUND_TIGHTENED", "PROPERTY_BECAME_REQUIRED")
    assert "keep it as before and add version 2" in bump.message
    entry = yaml.safe_load(bump.snippet)["events"][EVENT]["versions"]
    assert entry[1]["properties"]["quantity"] == {"type": "integer", "minimum": 1, "description": "How many."}
    assert entry[2]["properties"]["order_id"]["required"] is True
    # writing the suggestion makes the change safe for producers: only a version is added
    fixed = {**new, "events": {EVENT: {"description": "An order.", "versions": entry}}}
    after = diff(tmp_path / "after", old, fixed)
    assert [c.rule for c in after.changes if c.producer.value != "safe"] == []
    assert rules(after) == ["EVENT_VERSION_ADDED"]


def test_the_suggested_version_follows_the_highest_one(tmp_path: Path) -> None:
    v1 = {"properties": {"a": S}}
    v2 = {"properties": {"a": S, "b": S}}
    v2_tight = {"properties": {"a": S, "b": {**S, "required": True}}}
    (bump,) = diff(tmp_path, _versions(v1, v2), _versions(v1, v2_tight)).bumps
    assert (bump.versions, bump.suggested) == ((2,), 3)


# --- fail_on and side ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fail_on", "side", "strict", "failed"),
    [
        ("breaking", "producer", False, False),  # the change is safe for producers
        ("warning", "producer", False, False),
        ("breaking", "consumer", False, False),  # a warning for consumers
        ("warning", "consumer", False, True),
        ("breaking", "consumer", True, True),  # strict: warnings fail
        ("breaking", "both", False, False),
        ("warning", "both", False, True),
        ("never", "both", True, False),
    ],
)
def test_fail_on_and_side_decide_failed(tmp_path: Path, fail_on: str, side: str, strict: bool, failed: bool) -> None:
    result = diff(
        tmp_path,
        event_plan({"a": {"type": "integer"}}),
        event_plan({"a": {"type": "number"}}),
        fail_on=fail_on,
        side=side,
    )
    assert verdicts(only(result, "TYPE_WIDENED")) == ("safe", "warning")
    assert result.failed(strict) is failed


def test_a_breaking_change_fails_by_default_and_levels_follow_the_side(tmp_path: Path) -> None:
    result = diff(tmp_path, event_plan({"a": S, "b": S}), event_plan({"a": {**S, "required": True}}))
    assert result.failed()
    levels = {f.extra["change"]: f.level for f in result.findings}
    assert levels == {"PROPERTY_BECAME_REQUIRED": Level.ERROR, "PROPERTY_REMOVED": Level.INFO}
    consumer = diff_plans(tmp_path / "old", tmp_path / "new", side="consumer")
    assert not consumer.failed()
    assert {f.extra["change"]: f.level for f in consumer.findings}["PROPERTY_REMOVED"] is Level.WARNING
    for f in result.findings:
        assert f.code == RULES[f.extra["change"]].code and f.rule.startswith("plan-diff.")


def test_unknown_policies_are_usage_errors(tmp_path: Path) -> None:
    write_plan(tmp_path / "p", event_plan({}))
    with pytest.raises(UsageError, match="fail_on 'sometimes'"):
        diff_plans(tmp_path / "p", tmp_path / "p", fail_on="sometimes")
    with pytest.raises(UsageError, match="side"):
        diff_plans(tmp_path / "p", tmp_path / "p", side="reader")


# --- outputs ---------------------------------------------------------------------------------------------
def test_summary_is_json_and_tables_list_every_change(tmp_path: Path) -> None:
    result = diff(tmp_path, event_plan({"a": S, "b": S}), event_plan({"a": {**S, "maxLength": 3}}))
    summary = json.loads(json.dumps(result.summary()))
    assert summary["producer"] == {"breaking": 1, "warning": 0, "safe": 1}
    assert summary["consumer"] == {"breaking": 0, "warning": 1, "safe": 1}
    assert summary["failed"] is True and summary["side"] == "producer" and summary["fail_on"] == "breaking"
    first = summary["changes_detail"][0]
    assert first["rule"] == "BOUND_ADDED" and first["new"] == 3 and "old" not in first
    changes, bumps = result.tables()
    assert len(changes.rows) == 2 and changes.rows[0][:3] == ["breaking", "safe", "BOUND_ADDED"]
    assert changes.columns == ["producer", "consumer", "rule", "definition", "path", "location"]
    assert bumps.rows[0][:3] == [EVENT, "version 1", 2]
    assert result.verdict() == "2 changes: 1 breaking, 0 warnings, 1 safe for producers; 1 event needs a new version"


def test_markdown_is_compact_breaking_first_and_folds_safe_changes(tmp_path: Path) -> None:
    old = event_plan({"a": {**S, "description": "A."}, "b": S, "c": {"type": "integer"}})
    new = event_plan({"a": {**S, "description": "A | pipe."}, "c": {"type": "number"}, "d": {**S, "required": True}})
    md = diff(tmp_path, old, new).markdown()
    lines = md.splitlines()
    assert lines[0] == "### Tracking plan diff: 1 breaking, 0 warnings for producers"
    assert "the check fails (fail on breaking, producer side)" in lines[2]
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| producer | consumer | change | where |"
    assert table[1] == "| --- | --- | --- | --- |"
    assert table[2].startswith(
        "| ❌ breaking | ✅ safe | `REQUIRED_PROPERTY_ADDED` `event 'Order Completed' v1 properties.d`"
    )
    assert table[3].startswith("| ✅ safe | ⚠️ warning | `")  # then the consumer warnings
    assert "<details><summary>1 safe change</summary>" in md
    assert "A \\| pipe" not in md and "`DESCRIPTION_CHANGED`" in md  # descriptions are not printed in the table
    assert "**Suggested version bumps**" in md and "```yaml" in md
    assert all(line.count(" | ") >= 3 for line in table)  # no cell breaks the table


def test_markdown_of_no_changes(tmp_path: Path) -> None:
    write_plan(tmp_path / "p", event_plan({"a": S}))
    result = diff_plans(tmp_path / "p", tmp_path / "p")
    assert result.changes == [] and not result.failed(strict=True)
    assert result.markdown().splitlines()[-1].endswith("0 changes; the check passes (fail on breaking, producer side).")
    assert result.verdict().startswith("no changes")


def test_findings_feed_the_github_and_sarif_reporters(tmp_path: Path) -> None:
    import io

    from cdp_cli.reporters import Options, Report, as_sarif, render_github

    result = diff(tmp_path, event_plan({"a": S}), event_plan({"a": {**S, "format": "uuid"}}))
    out = io.StringIO()
    render_github(Report.of(result), out, Options())
    assert out.getvalue().startswith(f"::error file={display_path(tmp_path / 'new' / 'plan.yaml')},line=")
    assert "title=PD030 plan-diff.format-added" in out.getvalue()
    sarif = as_sarif(Report.of(result))
    assert sarif["runs"][0]["results"][0]["ruleId"] == "PD030"


# --- inputs --------------------------------------------------------------------------------------------
def test_a_plan_with_errors_is_refused_with_its_position(tmp_path: Path) -> None:
    write_plan(tmp_path / "good", event_plan({"a": S}))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "plan.yaml").write_text("events:\n  A:\n    propertees: {}\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r"bad/plan\.yaml:3:5: PL010"):
        diff_plans(tmp_path / "good", tmp_path / "bad")
    with pytest.raises(InputError, match="no such file"):
        diff_plans(tmp_path / "good", tmp_path / "missing")


def test_several_paths_on_a_side(tmp_path: Path) -> None:
    write_plan(tmp_path / "old" / "shop", event_plan({"a": S}))
    write_plan(tmp_path / "old" / "crm", {"name": "crm", "events": {"Lead Created": {}}})
    write_plan(tmp_path / "new" / "shop", event_plan({"a": S}))
    write_plan(tmp_path / "new" / "crm", {"name": "crm", "events": {"Lead Created": {}}})
    old = [tmp_path / "old" / "shop", tmp_path / "old" / "crm"]
    result = diff_plans(old, [str(tmp_path / "new" / "crm"), tmp_path / "new" / "shop"])
    assert result.changes == [] and sorted(result.pairs) == [("crm", "crm"), ("shop", "shop")]
    assert result.old == ", ".join(map(str, old))
    with pytest.raises(UsageError, match="needs an OLD and a NEW"):
        diff_plans([], tmp_path / "new" / "shop")


def test_directories_of_several_plans_are_paired_by_name(tmp_path: Path) -> None:
    write_plan(tmp_path / "old" / "shop", event_plan({"a": S}))
    write_plan(tmp_path / "old" / "crm", {"name": "crm", "events": {"Lead Created": {}}})
    write_plan(tmp_path / "new" / "shop", event_plan({"a": S, "b": S}))
    write_plan(tmp_path / "new" / "blog", {"name": "blog", "events": {"Post Read": {}}})
    result = diff_plans(tmp_path / "old", tmp_path / "new")
    assert sorted((c.rule, c.name, c.plan) for c in result.changes) == [
        ("EVENT_ADDED", "Post Read", "blog"),
        ("EVENT_REMOVED", "Lead Created", "crm"),
        ("OPTIONAL_PROPERTY_ADDED", EVENT, "shop"),
    ]
    assert sorted(result.pairs) == [("", "blog"), ("crm", ""), ("shop", "shop")]


# --- REV:PATH ------------------------------------------------------------------------------------------
def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with plans/shop committed; the working tree is the current directory."""
    for key, value in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    plan = root / "plans" / "shop"
    write_plan(plan, {"name": "shop", "properties": {"sku": {"type": "string", "description": "SKU."}}})
    (plan / "events.yaml").write_text(
        "events:\n"
        "  Order Completed:\n"
        "    description: An order.\n"
        "    properties:\n"
        "      sku: {ref: sku}\n"
        "      coupon: {type: string}\n",
        encoding="utf-8",
    )
    (root / "docs").mkdir()
    (root / "docs" / "guide.md").write_text("not a plan\n", encoding="utf-8")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "plan")
    monkeypatch.chdir(root)
    return root


def test_rev_path_reads_the_plan_at_a_revision(repo: Path) -> None:
    events = repo / "plans" / "shop" / "events.yaml"
    events.write_text(events.read_text().replace("      coupon: {type: string}\n", ""), encoding="utf-8")
    plan = repo / "plans" / "shop" / "plan.yaml"
    plan.write_text(plan.read_text().replace("type: string", "type: string\n    maxLength: 8"), encoding="utf-8")
    result = diff_plans("main:plans/shop", "plans/shop")
    assert result.old == "main:plans/shop"
    removed, bound = only(result, "PROPERTY_REMOVED"), only(result, "BOUND_ADDED")
    # the old side is read from git, but points at the file the annotation can land on
    assert (removed.file, removed.line, removed.side) == ("plans/shop/events.yaml", 6, "old")
    assert (bound.file, bound.line, bound.side) == ("plans/shop/plan.yaml", 5, "new")
    assert set(result.files) == {"plans/shop/plan.yaml", "plans/shop/events.yaml"}
    assert diff_plans("HEAD:plans/shop", "main:plans/shop").changes == []


def test_rev_path_of_a_file_inside_a_plan_brings_the_whole_plan(repo: Path) -> None:
    # events.yaml refers to the shared sku in plan.yaml: it only loads with its plan
    result = diff_plans("main:plans/shop/events.yaml", "plans/shop/events.yaml")
    assert result.changes == []


def test_rev_path_relative_to_the_current_directory(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo / "plans")
    assert diff_plans("main:./shop", "shop").changes == []
    assert diff_plans("main:plans/shop", "shop").changes == []  # without ./: from the repository root


def test_rev_path_errors_are_clear(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="unknown revision 'nope'"):
        diff_plans("nope:plans/shop", "plans/shop")
    with pytest.raises(InputError, match=r"plans/gone does not exist in main \(commit [0-9a-f]{12}\)"):
        diff_plans("main:plans/gone", "plans/shop")
    with pytest.raises(InputError, match=r"no plan files \(\*\.yaml, \*\.yml\) in docs at main"):
        diff_plans("main:docs", "plans/shop")
    with pytest.raises(InputError, match="leads outside the repository"):
        diff_plans("main:../elsewhere", "plans/shop")
    with pytest.raises(InputError, match="is not a revision"):
        diff_plans("--output=x:plans", "plans/shop")
    elsewhere = tmp_path / "elsewhere"
    write_plan(elsewhere, event_plan({}))
    monkeypatch.chdir(elsewhere)
    with pytest.raises(InputError, match="not inside a git repository"):
        diff_plans("main:plans/shop", ".")


def test_rev_path_plan_errors_name_the_revision(repo: Path) -> None:
    (repo / "plans" / "shop" / "events.yaml").write_text("events:\n  A:\n    propertees: {}\n", encoding="utf-8")
    _git(repo, "commit", "-qam", "broken")
    with pytest.raises(PlanError, match=r"main:plans/shop/events\.yaml:3:5: PL010"):
        diff_plans("main:plans/shop", "main~1:plans/shop")


def test_local_paths_win_over_rev_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a:b.yaml").write_text("events: {}\n", encoding="utf-8")
    assert parse_rev_spec("a:b.yaml") is None
    assert parse_rev_spec("plain/path") is None
    spec = parse_rev_spec("main:plans/x")
    assert spec is not None and (spec.rev, spec.path) == ("main", "plans/x")


def test_a_side_in_another_tools_format_is_imported_first(tmp_path: Path) -> None:
    from tests.conftest import ROOT, run_cdp

    exported = tmp_path / "segment.json"
    assert (
        run_cdp("plan", "export", "--to", "segment", str(exported), "--plan", str(ROOT / "plans/ecommerce")).returncode
        == 0
    )
    same = run_cdp("plan", "diff", str(exported), str(ROOT / "plans/ecommerce"), "--old-from", "segment", "-f", "json")
    assert same.returncode == 0, same.stderr
    rules = {c["rule"] for c in json.loads(same.stdout)["summary"]["changes_detail"]}
    assert rules <= {"DESCRIPTION_CHANGED"}  # the one thing a Segment export does not keep
    data = json.loads(exported.read_text())
    for rule in data["rules"]:  # a required property the NEW plan does not have: producers would break
        if rule.get("key") == "Order Completed":
            rule["jsonSchema"]["properties"]["properties"].setdefault("required", []).append("loyalty_tier")
            rule["jsonSchema"]["properties"]["properties"]["properties"]["loyalty_tier"] = {"type": "string"}
    exported.write_text(json.dumps(data))
    back = run_cdp("plan", "diff", str(ROOT / "plans/ecommerce"), str(exported), "--new-from", "segment", "-f", "json")
    assert back.returncode == 1, back.stderr
    assert "REQUIRED_PROPERTY_ADDED" in {c["rule"] for c in json.loads(back.stdout)["summary"]["changes_detail"]}
