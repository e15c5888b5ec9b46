"""Rules of ``cdp plan validate`` (family ``plan``, codes ``PL…``).

Codes are stable: scripts, CI configs and SARIF baselines depend on them. Never reuse a code.
This module only defines the rules; :mod:`cdp_cli.rules.catalog` collects them. The checks
(:mod:`cdp_cli.plan.loader`, :mod:`cdp_cli.plan.checks`) report a rule through its object here
(``R.UNKNOWN_KEY``); its code is named in :mod:`cdp_cli.rules.codes`. Plan rules are not per-message
rules, so the event linter's fast path does not apply to them (``fast_path`` is ``n/a``).
"""

from __future__ import annotations

from cdp_cli.findings import Level
from cdp_cli.rules.codes import (
    PLAN_CIRCULAR_REF,
    PLAN_CONFLICTING_DEFINITION,
    PLAN_CONST_NOT_IN_ENUM,
    PLAN_DANGLING_REF,
    PLAN_DUPLICATE_KEY,
    PLAN_DUPLICATE_NAME,
    PLAN_EMPTY_FILE,
    PLAN_ENUM_TYPE_MISMATCH,
    PLAN_EVENT_NAMING,
    PLAN_FILE_UNREADABLE,
    PLAN_INVALID_PATTERN,
    PLAN_INVALID_SCHEMA,
    PLAN_INVALID_VALUE,
    PLAN_MIN_GREATER_THAN_MAX,
    PLAN_MISSING_DESCRIPTION,
    PLAN_NON_PORTABLE_PATTERN,
    PLAN_NOT_A_PLAN,
    PLAN_PROPERTY_NAMING,
    PLAN_REQUIRED_UNDEFINED,
    PLAN_SIMILAR_EVENT_NAMES,
    PLAN_SIMILAR_PROPERTY_NAMES,
    PLAN_UNCLASSIFIED_PII,
    PLAN_UNKNOWN_FORMAT,
    PLAN_UNKNOWN_KEY,
    PLAN_WRONG_TYPE,
    PLAN_YAML_LIMITS,
    PLAN_YAML_SYNTAX,
)
from cdp_cli.rules.rule import Rule

E, W = Level.ERROR, Level.WARNING

# --- reading files -------------------------------------------------------------------------------
FILE_UNREADABLE = Rule(
    PLAN_FILE_UNREADABLE,
    "plan.file-unreadable",
    "plan",
    E,
    "A plan file cannot be read as text: permission denied, a symbolic link loop, binary content, not "
    "UTF-8, or over the size cap.",
    bad="plans/logo.yaml holding PNG bytes",
    good="only UTF-8 YAML text files in plans/",
    why=(
        "A plan file that cannot be read is silently missing from the plan: its events would be reported as "
        "unplanned and its rules not enforced."
    ),
    checked_in=("cdp_cli.plan.loader",),
)
YAML_SYNTAX = Rule(
    PLAN_YAML_SYNTAX,
    "plan.yaml-syntax",
    "plan",
    E,
    "The file is not valid YAML (or holds several YAML documents, or an unsupported tag).",
    bad="events:\n  Order Completed:\n   description: [unclosed",
    good="events:\n  Order Completed:\n    description: Closed properly.",
    why="A file that does not parse contributes nothing to the plan; every definition in it is lost.",
    checked_in=("cdp_cli.plan.loader",),
)
DUPLICATE_KEY = Rule(
    PLAN_DUPLICATE_KEY,
    "plan.duplicate-key",
    "plan",
    E,
    "The same key appears twice in one mapping; YAML parsers silently keep only the last one.",
    bad="properties:\n  total: {type: number}\n  total: {type: string}",
    good="properties:\n  total: {type: number}",
    why=(
        "YAML keeps only the last of two equal keys, so a definition vanishes without a word and the plan "
        "enforces something other than what its author reads."
    ),
    checked_in=("cdp_cli.plan.loader",),
)
YAML_LIMITS = Rule(
    PLAN_YAML_LIMITS,
    "plan.yaml-limits",
    "plan",
    E,
    "The document is nested too deeply or its anchors/aliases expand to too many values (a 'billion laughs' document).",
    bad="a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: &c [*b, *b, *b]   # ...and so on",
    good="Use `ref:` to shared properties instead of deep alias chains.",
    why=(
        "Deeply nested or alias-bomb documents can exhaust the memory and CPU of every tool that reads the "
        "plan; they are refused rather than expanded."
    ),
    checked_in=("cdp_cli.plan.loader",),
)
EMPTY_FILE = Rule(
    PLAN_EMPTY_FILE,
    "plan.empty-file",
    "plan",
    W,
    "A plan file is empty or holds only comments.",
    bad="plans/events/old.yaml with no content",
    good="delete the file, or add definitions",
    why="An empty file is usually a leftover or a failed write, and hides where definitions were meant to be.",
    checked_in=("cdp_cli.plan.loader",),
)
NOT_A_PLAN = Rule(
    PLAN_NOT_A_PLAN,
    "plan.not-a-plan",
    "plan",
    E,
    "The YAML document is not a plan: its top level is not a mapping, or it has none of the plan "
    "sections (events, properties, identify, group, pages, screens, common, ...).",
    bad="- just\n- a list",
    good="events:\n  Order Completed:\n    description: ...",
    why=(
        "A YAML file in the plan that is not a plan is a misplaced file or a plan whose sections are all "
        "misspelled; either way nothing in it is checked."
    ),
    checked_in=("cdp_cli.plan.loader",),
)

# --- structure ----------------------------------------------------------------------------------
UNKNOWN_KEY = Rule(
    PLAN_UNKNOWN_KEY,
    "plan.unknown-key",
    "plan",
    E,
    "A key the plan format does not know (often a typo). The message suggests the closest key.",
    bad="events:\n  Order Completed:\n    descripton: Typo.",
    good="events:\n  Order Completed:\n    description: Fixed.",
    why=(
        "Unknown keys are ignored, so a typo such as `descripton` or `requried` silently drops the setting "
        "its author meant."
    ),
    checked_in=("cdp_cli.plan.loader",),
)
WRONG_TYPE = Rule(
    PLAN_WRONG_TYPE,
    "plan.wrong-type",
    "plan",
    E,
    "A plan key has a value of the wrong type (a list where a string is expected, ...).",
    bad="events:\n  Order Completed:\n    labels: checkout",
    good="events:\n  Order Completed:\n    labels: [checkout]",
    why="A value of the wrong type cannot be applied, so the setting has no effect on validation.",
    checked_in=("cdp_cli.plan.loader",),
)
INVALID_VALUE = Rule(
    PLAN_INVALID_VALUE,
    "plan.invalid-value",
    "plan",
    E,
    "A plan setting has a value outside its allowed set (unknown naming style or PII class, "
    "event version that is not a positive integer, unsupported plan-format version, ...).",
    bad="conventions:\n  events: TitleCase",
    good="conventions:\n  events: title_case",
    why=(
        "A setting outside its allowed values would be ignored or misread, so the plan would not enforce what it says."
    ),
    checked_in=("cdp_cli.plan.loader",),
)
CONFLICT = Rule(
    PLAN_CONFLICTING_DEFINITION,
    "plan.conflicting-definition",
    "plan",
    E,
    "A plan-level section is defined in two files, an event has both `properties` and "
    "`versions`, or an event, page or screen redefines a property that `common.properties` "
    "already sets for every message.",
    bad="# a.yaml and b.yaml both define\nidentify: {...}",
    good="define identify once",
    why=(
        "When two definitions compete, which one wins depends on file order or merge rules nobody remembers; "
        "a plan must say one thing once."
    ),
    checked_in=("cdp_cli.plan.loader", "cdp_cli.plan.checks"),
)

# --- JSON Schema ----------------------------------------------------------------------------------
INVALID_SCHEMA = Rule(
    PLAN_INVALID_SCHEMA,
    "plan.invalid-schema",
    "plan",
    E,
    "A property definition is not valid JSON Schema (draft 2020-12 meta-schema).",
    bad="total: {type: money}",
    good="total: {type: number}",
    why=(
        "An invalid schema cannot be compiled, so no message can be checked against it (and Segment Protocols "
        "or RudderStack would refuse the plan)."
    ),
    checked_in=("cdp_cli.plan.checks",),
)
INVALID_PATTERN = Rule(
    PLAN_INVALID_PATTERN,
    "plan.invalid-pattern",
    "plan",
    E,
    "A `pattern` does not compile as a regular expression.",
    bad="sku: {type: string, pattern: '^[A-Z'}",
    good="sku: {type: string, pattern: '^[A-Z]+$'}",
    why="A pattern that does not compile makes the whole schema unusable for validation.",
    checked_in=("cdp_cli.plan.checks",),
)
NON_PORTABLE_PATTERN = Rule(
    PLAN_NON_PORTABLE_PATTERN,
    "plan.non-portable-pattern",
    "plan",
    E,
    "A `pattern` uses regex syntax that ECMA-262 (what JSON Schema and ajv use) and Python do not "
    "share: named groups `(?P<n>…)`, inline flags `(?i)`, `\\A`, `\\Z`, possessive quantifiers, "
    "atomic groups, `\\p{…}`, `(?<name>…)`, …",
    bad="code: {type: string, pattern: '(?i)^[a-z]+\\Z'}",
    good="code: {type: string, pattern: '^[a-zA-Z]+$'}",
    why=(
        "The same pattern would match differently, or not compile, in ajv, Segment Protocols and Python, so "
        "tools would accept different messages under one plan."
    ),
    checked_in=("cdp_cli.plan.checks",),
)
UNKNOWN_FORMAT = Rule(
    PLAN_UNKNOWN_FORMAT,
    "plan.unknown-format",
    "plan",
    E,
    "A `format` that JSON Schema does not define (so no validator checks it).",
    bad="created: {type: string, format: datetime}",
    good="created: {type: string, format: date-time}",
    why=(
        "Validators ignore formats they do not know, so the check its author meant (a date, an email) "
        "silently never runs."
    ),
    checked_in=("cdp_cli.plan.checks",),
)

# --- references -----------------------------------------------------------------------------------
DANGLING_REF = Rule(
    PLAN_DANGLING_REF,
    "plan.dangling-ref",
    "plan",
    E,
    "`ref:` names a shared property that no file of the plan defines.",
    bad="order_id: {ref: orderid}",
    good="order_id: {ref: order_id}",
    why="A reference to nothing leaves the property without a definition, so any value would pass.",
    checked_in=("cdp_cli.plan.checks",),
)
CIRCULAR_REF = Rule(
    PLAN_CIRCULAR_REF,
    "plan.circular-ref",
    "plan",
    E,
    "Shared properties reference each other in a cycle, so they cannot be compiled.",
    bad="properties:\n  a: {ref: b}\n  b: {ref: a}",
    good="properties:\n  a: {type: string}\n  b: {ref: a}",
    why="A cycle of references has no definition to resolve to, so the schema cannot be compiled.",
    checked_in=("cdp_cli.plan.checks",),
)

# --- names ---------------------------------------------------------------------------------------
DUPLICATE_EVENT = Rule(
    PLAN_DUPLICATE_NAME,
    "plan.duplicate-name",
    "plan",
    E,
    "An event, page, screen or shared property is defined twice (in two files of one plan).",
    bad="# events/a.yaml and events/b.yaml both define 'Order Completed'",
    good="define each event once",
    why=(
        "When two files define the same name, one definition silently replaces the other, so the plan "
        "enforces something its readers may not be looking at."
    ),
    checked_in=("cdp_cli.plan.loader",),
)
SIMILAR_EVENT_NAMES = Rule(
    PLAN_SIMILAR_EVENT_NAMES,
    "plan.similar-event-names",
    "plan",
    E,
    "Two event (or page/screen) names differ only in case, spacing or separators, so they would "
    "split one event's data in two.",
    bad="events:\n  Order Completed: ...\n  order_completed: ...",
    good="events:\n  Order Completed: ...",
    why=(
        "Names that differ only in case or separators become separate events downstream, splitting one "
        "event's data across two tables and reports."
    ),
    checked_in=("cdp_cli.plan.checks",),
)
SIMILAR_PROPERTY_NAMES = Rule(
    PLAN_SIMILAR_PROPERTY_NAMES,
    "plan.similar-property-names",
    "plan",
    W,
    "Two properties of one object differ only in case or separators (`orderId` and `order_id`).",
    bad="properties:\n  order_id: ...\n  orderId: ...",
    good="properties:\n  order_id: ...",
    why=(
        "Near-identical property names become separate warehouse columns; senders pick one at random and "
        "every query must coalesce both."
    ),
    checked_in=("cdp_cli.plan.checks",),
)

# --- contradictions ------------------------------------------------------------------------------
MIN_MAX = Rule(
    PLAN_MIN_GREATER_THAN_MAX,
    "plan.min-greater-than-max",
    "plan",
    E,
    "A lower bound is above its upper bound (minimum/maximum, minLength/maxLength, minItems/maxItems, "
    "minProperties/maxProperties, minContains/maxContains): no value can pass.",
    bad="quantity: {type: integer, minimum: 10, maximum: 1}",
    good="quantity: {type: integer, minimum: 1, maximum: 10}",
    why="No value satisfies contradictory bounds, so every message that sends the field fails validation.",
    checked_in=("cdp_cli.plan.checks",),
)
ENUM_TYPE = Rule(
    PLAN_ENUM_TYPE_MISMATCH,
    "plan.enum-type-mismatch",
    "plan",
    E,
    "An `enum`, `const` or `default` value does not match the declared `type` (often YAML reading "
    "`yes`/`no`/`on`/`off` as booleans), or `enum` is empty.",
    bad="answer: {type: string, enum: [yes, no]}",
    good="answer: {type: string, enum: ['yes', 'no']}",
    why=(
        "An allowed value of the wrong type can never match (YAML reads `yes` as true), so the rule rejects "
        "exactly the values it was meant to allow."
    ),
    checked_in=("cdp_cli.plan.checks",),
)
CONST_NOT_IN_ENUM = Rule(
    PLAN_CONST_NOT_IN_ENUM,
    "plan.const-not-in-enum",
    "plan",
    E,
    "`const` is not one of the `enum` values: no value can pass.",
    bad="tier: {type: string, enum: [free, pro], const: gold}",
    good="tier: {type: string, const: pro}",
    why="A const outside the enum leaves no valid value, so every message that sends the field fails.",
    checked_in=("cdp_cli.plan.checks",),
)
REQUIRED_UNDEFINED = Rule(
    PLAN_REQUIRED_UNDEFINED,
    "plan.required-undefined",
    "plan",
    E,
    "A name listed in `required` is not defined in an object that forbids unplanned properties "
    "(`additionalProperties: false`): no message can pass.",
    bad="additionalProperties: false\nrequired: [order_id]\nproperties:\n  total: {type: number}",
    good="additionalProperties: false\nproperties:\n  order_id: {type: string, required: true}",
    why="A name that must be present but may not be makes every message fail validation.",
    checked_in=("cdp_cli.plan.checks",),
)

# --- conventions ----------------------------------------------------------------------------------
EVENT_NAMING = Rule(
    PLAN_EVENT_NAMING,
    "plan.event-naming",
    "plan",
    E,
    "An event, page or screen name breaks the plan's `conventions` (the message gives the fixed name).",
    bad="conventions: {events: title_case}\nevents:\n  order completed: ...",
    good="conventions: {events: title_case}\nevents:\n  Order Completed: ...",
    why=(
        "The plan is where senders copy names from; a name that breaks the plan's own convention spreads to "
        "code and to warehouse tables."
    ),
    checked_in=("cdp_cli.plan.checks",),
)
PROPERTY_NAMING = Rule(
    PLAN_PROPERTY_NAMING,
    "plan.property-naming",
    "plan",
    E,
    "A property or trait name breaks the plan's `conventions`.",
    bad="conventions: {properties: snake_case}\n...\n      orderId: {type: string}",
    good="conventions: {properties: snake_case}\n...\n      order_id: {type: string}",
    why=("A property name that breaks the plan's convention becomes a column unlike the others, and senders copy it."),
    checked_in=("cdp_cli.plan.checks",),
)

# --- documentation and privacy ------------------------------------------------------------------
MISSING_DESCRIPTION = Rule(
    PLAN_MISSING_DESCRIPTION,
    "plan.missing-description",
    "plan",
    W,
    "An event, page, screen, shared property or top-level property has no `description`.",
    bad="events:\n  Order Completed:\n    properties: {...}",
    good="events:\n  Order Completed:\n    description: A customer completed an order.",
    why=(
        "Every analyst and engineer guesses what an undocumented event or property means; descriptions are "
        "what make a tracking plan a contract."
    ),
    checked_in=("cdp_cli.plan.checks",),
)
UNCLASSIFIED_PII = Rule(
    PLAN_UNCLASSIFIED_PII,
    "plan.unclassified-pii",
    "plan",
    W,
    "A property or trait whose name looks like personal data (email, phone, ssn, password, "
    "first_name, address, ip, birthday, card number, ...) has no `pii:` classification.",
    bad="email: {type: string, format: email}",
    good="email: {type: string, format: email, pii: email}",
    why=(
        "Unclassified personal data is treated as ordinary data: the event linter reports it as a leak, and "
        "privacy tooling cannot find it to delete or mask."
    ),
    checked_in=("cdp_cli.plan.checks",),
)

PLAN_RULES: tuple[Rule, ...] = (
    FILE_UNREADABLE,
    YAML_SYNTAX,
    DUPLICATE_KEY,
    YAML_LIMITS,
    EMPTY_FILE,
    NOT_A_PLAN,
    UNKNOWN_KEY,
    WRONG_TYPE,
    INVALID_VALUE,
    CONFLICT,
    INVALID_SCHEMA,
    INVALID_PATTERN,
    NON_PORTABLE_PATTERN,
    UNKNOWN_FORMAT,
    DANGLING_REF,
    CIRCULAR_REF,
    DUPLICATE_EVENT,
    SIMILAR_EVENT_NAMES,
    SIMILAR_PROPERTY_NAMES,
    MIN_MAX,
    ENUM_TYPE,
    CONST_NOT_IN_ENUM,
    REQUIRED_UNDEFINED,
    EVENT_NAMING,
    PROPERTY_NAMING,
    MISSING_DESCRIPTION,
    UNCLASSIFIED_PII,
)
