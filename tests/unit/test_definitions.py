"""cdp_cli.definitions: the one layer that reads the YAML definitions users write.

The small traits-like schema below is the template for new definition files (traits, audiences,
transforms, destinations, the project file): nested definitions, lists of them, a discriminated
union on ``type``, durations, and a check across fields that points at a path.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Literal

import pytest

from cdp_cli.definitions import (
    Definition,
    Duration,
    field,
    given,
    invalid,
    load_definition,
    one_of,
    parse_definition,
    parse_duration,
)
from cdp_cli.errors import ConfigError


class Filter(Definition):
    property: str
    equals: str | int | float | bool | None = None


class EventCounter(Definition):
    type: Literal["event_counter"]
    event: str
    window: Duration | None = None
    where: list[Filter] = field(default_factory=list)


class Aggregation(Definition):
    type: Literal["aggregation"]
    event: str
    property: str
    function: Literal["sum", "min", "max", "avg"] = "sum"


class Trait(Definition):
    name: str
    compute: one_of(EventCounter, Aggregation)
    limit: int = field(100, ge=1)


class TraitsFile(Definition):
    not_a_mapping = "a traits file holds a mapping with the key 'traits'"
    version: Literal[1] = 1
    traits: list[Trait] = field(min_items=1)

    def check(self) -> None:
        seen = set()
        for i, t in enumerate(self.traits):
            if t.name in seen:
                raise invalid(f"trait {t.name!r} is defined twice", "traits", i, "name")
            seen.add(t.name)


GOOD = """\
version: 1
traits:
  - name: orders_30d
    compute: {type: event_counter, event: Order Completed, window: 30d,
              where: [{property: currency, equals: EUR}]}
  - name: revenue
    compute:
      type: aggregation
      event: Order Completed
      property: revenue
    limit: 5
"""


def load(tmp_path, text):
    path = tmp_path / "traits.yaml"
    path.write_text(text)
    return load_definition(path, TraitsFile, what="traits file")


def error(tmp_path, text) -> str:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    return str(e.value).replace(str(tmp_path / "traits.yaml"), "traits.yaml")


def test_a_valid_file_becomes_typed_objects_with_positions(tmp_path):
    spec, doc = load(tmp_path, GOOD)
    counter, agg = spec.traits[0].compute, spec.traits[1].compute
    assert isinstance(counter, EventCounter) and counter.window == timedelta(days=30)
    assert counter.where == [Filter(property="currency", equals="EUR")]
    assert isinstance(agg, Aggregation) and agg.function == "sum" and spec.traits[1].limit == 5
    assert spec.traits[0].limit == 100 and given(spec.traits[0]) == {"name", "compute"}
    assert doc.where(("traits", 1, "compute", "property")) == (10, 17)  # for errors found later


def test_unknown_key_suggests_the_closest_and_points_at_the_key(tmp_path):
    text = GOOD.replace("    limit: 5", "    limt: 5")
    assert error(tmp_path, text) == (
        "traits.yaml:11:5: unknown key 'limt'; known keys: compute, limit, name; did you mean 'limit'?"
    )


def test_discriminated_union_names_the_allowed_types_at_the_value(tmp_path):
    assert error(tmp_path, GOOD.replace("type: aggregation", "type: agregation")) == (
        "traits.yaml:8:13: unknown type 'agregation'; use one of event_counter, aggregation; "
        "did you mean 'aggregation'?"
    )
    assert error(tmp_path, GOOD.replace("      type: aggregation\n", "")) == (
        "traits.yaml:8:7: compute: missing key 'type' (one of event_counter, aggregation)"
    )
    # the chosen model's own fields are then checked
    assert error(tmp_path, GOOD.replace("property: revenue", "property: [revenue]")) == (
        "traits.yaml:10:17: property must be a string, not a list"
    )


def test_wrong_types_and_values_point_at_the_value_in_plain_words(tmp_path):
    assert error(tmp_path, GOOD.replace("limit: 5", "limit: '5'")) == (
        "traits.yaml:11:12: limit must be an integer of at least 1, not '5'"
    )
    assert error(tmp_path, GOOD.replace("limit: 5", "limit: 0")) == (
        "traits.yaml:11:12: limit must be an integer of at least 1, not 0"
    )
    assert error(
        tmp_path, GOOD.replace("      property: revenue\n", "      property: revenue\n      function: summ\n")
    ) == ("traits.yaml:11:17: function must be one of sum, min, max, avg, not 'summ'; did you mean 'sum'?")
    assert error(tmp_path, "traits: {}\n") == "traits.yaml:1:9: traits must be a non-empty list, not a mapping"
    assert error(tmp_path, "traits: []\n") == "traits.yaml:1:9: traits must be a non-empty list, not a list"
    assert error(tmp_path, "- 1\n") == "traits.yaml:1:1: a traits file holds a mapping with the key 'traits'"
    for text in ("version: 1\n", "{}\n"):
        assert error(tmp_path, text) == "traits.yaml:1:1: missing key 'traits'"


def test_nested_list_positions_and_durations(tmp_path):
    text = GOOD.replace("[{property: currency, equals: EUR}]", "[{property: currency}, {property: 7}]")
    assert error(tmp_path, text) == "traits.yaml:5:56: property must be a string, not 7"
    assert error(tmp_path, GOOD.replace("window: 30d", "window: 30 days")) == (
        "traits.yaml:4:68: window: '30 days' is not a duration such as 30s, 5m, 1h, 7d or 2w"
    )
    assert error(tmp_path, GOOD.replace("window: 30d", "window: 30")) == (
        "traits.yaml:4:68: window: 30 is not a duration such as 30s, 5m, 1h, 7d or 2w"
    )
    spec, _ = load(tmp_path, GOOD.replace("window: 30d", "window: 4w"))
    assert spec.traits[0].compute.window == timedelta(weeks=4) == parse_duration("4w")
    spec, _ = load(tmp_path, GOOD.replace("window: 30d", "window: 12h"))
    assert spec.traits[0].compute.window == timedelta(hours=12)


def test_a_check_across_fields_points_at_its_path(tmp_path):
    assert error(tmp_path, GOOD.replace("name: revenue", "name: orders_30d")) == (
        "traits.yaml:6:11: trait 'orders_30d' is defined twice"
    )


def test_every_problem_of_a_file_is_reported_at_once_in_file_order(tmp_path):
    text = "version: 2\ntraits:\n  - name: 3\n    compute: {type: event_counter, event: E, colour: red}\n    limit: x\n"
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text)
    path = tmp_path / "traits.yaml"
    assert e.value.problems == [
        f"{path}:1:10: version must be 1, not 2",
        f"{path}:3:11: name must be a string, not 3",
        f"{path}:4:46: unknown key 'colour'; known keys: event, type, where, window",
        f"{path}:5:12: limit must be an integer of at least 1, not 'x'",
    ]
    assert str(e.value) == "\n".join(e.value.problems)


def test_strict_types_and_plain_data_without_positions():
    assert parse_definition({"property": "p", "equals": True}, Filter).equals is True
    with pytest.raises(ConfigError, match=r"^<definition>: version: version must be 1, not true$"):
        parse_definition(
            {
                "version": True,
                "traits": [{"name": "n", "compute": {"type": "aggregation", "event": "e", "property": "p"}}],
            },
            TraitsFile,
        )
    with pytest.raises(ConfigError, match=r"^t\.yaml: traits\.0\.compute: compute: missing key 'event'$"):
        parse_definition({"traits": [{"name": "n", "compute": {"type": "event_counter"}}]}, TraitsFile, "t.yaml")


def test_point_at_keys_for_loaders_that_always_did(tmp_path):
    path = tmp_path / "traits.yaml"
    path.write_text(GOOD.replace("limit: 5", "limit: 0"))
    with pytest.raises(ConfigError) as e:
        load_definition(path, TraitsFile, point_at_keys=True)
    assert str(e.value) == f"{path}:11:5: limit must be an integer of at least 1, not 0"


def test_reading_definitions_imports_nothing_heavy():
    code = (
        "import sys\nimport cdp_cli.definitions, cdp_cli.config, cdp_cli.identity.config\n"
        "print(sorted(m for m in ('pydantic', 'yaml', 'pyarrow', 'duckdb', 'jsonschema', 'orjson') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
