"""Rules of ``cdp plan validate`` (family ``plan``, codes ``PL…``).

Codes are stable: scripts, CI configs and SARIF baselines depend on them. Never reuse a code.
"""

from __future__ import annotations

from cdp_cli.findings import Level
from cdp_cli.rules.registry import Rule, register

E, W = Level.ERROR, Level.WARNING

# --- reading files -------------------------------------------------------------------------------
FILE_UNREADABLE = register(Rule(
    "PL001", "plan.file-unreadable", "plan", E,
    "A plan file cannot be read as text: permission denied, a symbolic link loop, binary content, not "
    "UTF-8, or over the size cap.",
    bad="plans/logo.yaml holding PNG bytes",
    good="only UTF-8 YAML text files in plans/",
))
YAML_SYNTAX = register(Rule(
    "PL002", "plan.yaml-syntax", "plan", E,
    "The file is not valid YAML (or holds several YAML documents, or an unsupported tag).",
    bad="events:\n  Order Completed:\n   description: [unclosed",
    good="events:\n  Order Completed:\n    description: Closed properly.",
))
DUPLICATE_KEY = register(Rule(
    "PL003", "plan.duplicate-key", "plan", E,
    "The same key appears twice in one mapping; YAML parsers silently keep only the last one.",
    bad="properties:\n  total: {type: number}\n  total: {type: string}",
    good="properties:\n  total: {type: number}",
))
YAML_LIMITS = register(Rule(
    "PL004", "plan.yaml-limits", "plan", E,
    "The document is nested too deeply or its anchors/aliases expand to too many values (a "
    "'billion laughs' document).",
    bad="a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]   # ...and so on",
    good="Use `ref:` to shared properties instead of deep alias chains.",
))
EMPTY_FILE = register(Rule(
    "PL005", "plan.empty-file", "plan", W,
    "A plan file is empty or holds only comments.",
    bad="plans/events/old.yaml with no content",
    good="delete the file, or add definitions",
))
NOT_A_PLAN = register(Rule(
    "PL006", "plan.not-a-plan", "plan", E,
    "The YAML document is not a plan: its top level is not a mapping, or it has none of the plan "
    "sections (events, properties, identify, group, pages, screens, common, ...).",
    bad="- just\n- a list",
    good="events:\n  Order Completed:\n    description: ...",
))

# --- structure ----------------------------------------------------------------------------------
UNKNOWN_KEY = register(Rule(
    "PL010", "plan.unknown-key", "plan", E,
    "A key the plan format does not know (often a typo). The message suggests the closest key.",
    bad="events:\n  Order Completed:\n    descripton: Typo.",
    good="events:\n  Order Completed:\n    description: Fixed.",
))
WRONG_TYPE = register(Rule(
    "PL011", "plan.wrong-type", "plan", E,
    "A plan key has a value of the wrong type (a list where a string is expected, ...).",
    bad="events:\n  Order Completed:\n    labels: checkout",
    good="events:\n  Order Completed:\n    labels: [checkout]",
))
INVALID_VALUE = register(Rule(
    "PL012", "plan.invalid-value", "plan", E,
    "A plan setting has a value outside its allowed set (unknown naming style or PII class, "
    "event version that is not a positive integer, unsupported plan-format version, ...).",
    bad="conventions:\n  events: TitleCase",
    good="conventions:\n  events: title_case",
))
CONFLICT = register(Rule(
    "PL013", "plan.conflicting-definition", "plan", E,
    "A plan-level section is defined in two files, an event has both `properties` and "
    "`versions`, or an event, page or screen redefines a property that `common.properties` "
    "already sets for every message.",
    bad="# a.yaml and b.yaml both define\nidentify: {...}",
    good="define identify once",
))

# --- JSON Schema ----------------------------------------------------------------------------------
INVALID_SCHEMA = register(Rule(
    "PL020", "plan.invalid-schema", "plan", E,
    "A property definition is not valid JSON Schema (draft 2020-12 meta-schema).",
    bad="total: {type: money}",
    good="total: {type: number}",
))
INVALID_PATTERN = register(Rule(
    "PL021", "plan.invalid-pattern", "plan", E,
    "A `pattern` does not compile as a regular expression.",
    bad="sku: {type: string, pattern: '^[A-Z'}",
    good="sku: {type: string, pattern: '^[A-Z]+$'}",
))
NON_PORTABLE_PATTERN = register(Rule(
    "PL022", "plan.non-portable-pattern", "plan", E,
    "A `pattern` uses regex syntax that ECMA-262 (what JSON Schema and ajv use) and Python do not "
    "share: named groups `(?P<n>…)`, inline flags `(?i)`, `\\A`, `\\Z`, possessive quantifiers, "
    "atomic groups, `\\p{…}`, `(?<name>…)`, …",
    bad="code: {type: string, pattern: '(?i)^[a-z]+\\Z'}",
    good="code: {type: string, pattern: '^[a-zA-Z]+$'}",
))
UNKNOWN_FORMAT = register(Rule(
    "PL023", "plan.unknown-format", "plan", E,
    "A `format` that JSON Schema does not define (so no validator checks it).",
    bad="created: {type: string, format: datetime}",
    good="created: {type: string, format: date-time}",
))

# --- references -----------------------------------------------------------------------------------
DANGLING_REF = register(Rule(
    "PL030", "plan.dangling-ref", "plan", E,
    "`ref:` names a shared property that no file of the plan defines.",
    bad="order_id: {ref: orderid}",
    good="order_id: {ref: order_id}",
))
CIRCULAR_REF = register(Rule(
    "PL031", "plan.circular-ref", "plan", E,
    "Shared properties reference each other in a cycle, so they cannot be compiled.",
    bad="properties:\n  a: {ref: b}\n  b: {ref: a}",
    good="properties:\n  a: {type: string}\n  b: {ref: a}",
))

# --- names ---------------------------------------------------------------------------------------
DUPLICATE_EVENT = register(Rule(
    "PL040", "plan.duplicate-name", "plan", E,
    "An event, page, screen or shared property is defined twice (in two files of one plan).",
    bad="# events/a.yaml and events/b.yaml both define 'Order Completed'",
    good="define each event once",
))
SIMILAR_EVENT_NAMES = register(Rule(
    "PL041", "plan.similar-event-names", "plan", E,
    "Two event (or page/screen) names differ only in case, spacing or separators, so they would "
    "split one event's data in two.",
    bad="events:\n  Order Completed: ...\n  order_completed: ...",
    good="events:\n  Order Completed: ...",
))
SIMILAR_PROPERTY_NAMES = register(Rule(
    "PL042", "plan.similar-property-names", "plan", W,
    "Two properties of one object differ only in case or separators (`orderId` and `order_id`).",
    bad="properties:\n  order_id: ...\n  orderId: ...",
    good="properties:\n  order_id: ...",
))

# --- contradictions ------------------------------------------------------------------------------
MIN_MAX = register(Rule(
    "PL050", "plan.min-greater-than-max", "plan", E,
    "A lower bound is above its upper bound (minimum/maximum, minLength/maxLength, minItems/maxItems, "
    "minProperties/maxProperties, minContains/maxContains): no value can pass.",
    bad="quantity: {type: integer, minimum: 10, maximum: 1}",
    good="quantity: {type: integer, minimum: 1, maximum: 10}",
))
ENUM_TYPE = register(Rule(
    "PL051", "plan.enum-type-mismatch", "plan", E,
    "An `enum`, `const` or `default` value does not match the declared `type` (often YAML reading "
    "`yes`/`no`/`on`/`off` as booleans), or `enum` is empty.",
    bad="answer: {type: string, enum: [yes, no]}",
    good="answer: {type: string, enum: ['yes', 'no']}",
))
CONST_NOT_IN_ENUM = register(Rule(
    "PL052", "plan.const-not-in-enum", "plan", E,
    "`const` is not one of the `enum` values: no value can pass.",
    bad="tier: {type: string, enum: [free, pro], const: gold}",
    good="tier: {type: string, const: pro}",
))
REQUIRED_UNDEFINED = register(Rule(
    "PL053", "plan.required-undefined", "plan", E,
    "A name listed in `required` is not defined in an object that forbids unplanned properties "
    "(`additionalProperties: false`): no message can pass.",
    bad="additionalProperties: false\nrequired: [order_id]\nproperties:\n  total: {type: number}",
    good="additionalProperties: false\nproperties:\n  order_id: {type: string, required: true}",
))

# --- conventions ----------------------------------------------------------------------------------
EVENT_NAMING = register(Rule(
    "PL060", "plan.event-naming", "plan", E,
    "An event, page or screen name breaks the plan's `conventions` (the message gives the fixed name).",
    bad="conventions: {events: title_case}\nevents:\n  order completed: ...",
    good="conventions: {events: title_case}\nevents:\n  Order Completed: ...",
))
PROPERTY_NAMING = register(Rule(
    "PL061", "plan.property-naming", "plan", E,
    "A property or trait name breaks the plan's `conventions`.",
    bad="conventions: {properties: snake_case}\n...\n      orderId: {type: string}",
    good="conventions: {properties: snake_case}\n...\n      order_id: {type: string}",
))

# --- documentation and privacy ------------------------------------------------------------------
MISSING_DESCRIPTION = register(Rule(
    "PL070", "plan.missing-description", "plan", W,
    "An event, page, screen, shared property or top-level property has no `description`.",
    bad="events:\n  Order Completed:\n    properties: {...}",
    good="events:\n  Order Completed:\n    description: A customer completed an order.",
))
UNCLASSIFIED_PII = register(Rule(
    "PL071", "plan.unclassified-pii", "plan", W,
    "A property or trait whose name looks like personal data (email, phone, ssn, password, "
    "first_name, address, ip, birthday, card number, ...) has no `pii:` classification.",
    bad="email: {type: string, format: email}",
    good="email: {type: string, format: email, pii: email}",
))
