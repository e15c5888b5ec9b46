"""The vocabulary of the plan format (docs/plan-format.md): which keys exist where."""

from __future__ import annotations

PLAN_FILE_NAMES = ("plan.yaml", "plan.yml")
YAML_SUFFIXES = (".yaml", ".yml")

TOP_KEYS = (
    "version",
    "name",
    "description",
    "owner",
    "conventions",
    "settings",
    "common",
    "properties",
    "events",
    "identify",
    "group",
    "pages",
    "screens",
)
#: Top-level keys that may be set in only one file of a plan.
SINGLETON_KEYS = ("name", "description", "owner", "conventions", "settings", "common", "identify", "group")
SUPPORTED_VERSIONS = (1,)

EVENT_KEYS = (
    "description",
    "owner",
    "labels",
    "deprecated",
    "properties",
    "required",
    "additionalProperties",
    "versions",
)
VERSION_KEYS = ("description", "properties", "required", "additionalProperties")
BODY_KEYS = {
    "page": ("description", "owner", "labels", "properties", "required", "additionalProperties"),
    "screen": ("description", "owner", "labels", "properties", "required", "additionalProperties"),
    "identify": ("description", "owner", "labels", "traits", "required", "additionalProperties"),
    "group": ("description", "owner", "labels", "traits", "required", "additionalProperties"),
    "common": ("description", "context", "properties"),
}
CONVENTION_KEYS = ("events", "properties", "traits", "pages", "exceptions")
SETTINGS_KEYS = ("allow_unplanned_events", "additionalProperties")

#: Keys of a property definition that belong to the plan format, not to JSON Schema.
PROP_PLAN_KEYS = ("ref", "required", "description", "pii")
#: JSON Schema (draft 2020-12) keywords a property definition may use.
SCHEMA_KEYWORDS = (
    "type",
    "enum",
    "const",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "items",
    "prefixItems",
    "contains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minContains",
    "maxContains",
    "properties",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "title",
    "default",
    "examples",
    "deprecated",
)
PROP_KEYS = PROP_PLAN_KEYS + SCHEMA_KEYWORDS
#: Keywords whose value is one sub-definition, a list of them, or a name -> definition map.
SUB_ONE = ("items", "contains", "not", "additionalProperties")
SUB_LIST = ("prefixItems", "anyOf", "oneOf", "allOf")
SUB_MAP = ("properties",)

#: Formats defined by JSON Schema draft 2020-12 (format-annotation / format-assertion vocabularies).
FORMATS = (
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uri-template",
    "uuid",
    "json-pointer",
    "relative-json-pointer",
    "regex",
)
JSON_TYPES = ("string", "number", "integer", "boolean", "object", "array", "null")

#: Segment's reserved identify and group traits (spelled as Segment spells them); always exempt
#: from the traits naming convention.
RESERVED_TRAITS = frozenset(
    (
        "address",
        "age",
        "avatar",
        "birthday",
        "company",
        "createdAt",
        "description",
        "email",
        "firstName",
        "gender",
        "id",
        "lastName",
        "name",
        "phone",
        "title",
        "username",
        "website",
        "employees",
        "industry",
        "plan",
    )
)
