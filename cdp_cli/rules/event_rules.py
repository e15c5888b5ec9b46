"""Rules of ``cdp events lint``: input (``EV``), spec (``SP``), naming (``NM``), privacy (``PI``) and
plan conformance (``TP``).

Codes are stable; never reuse one. This module only defines the rules (no registration, no import of
the catalog): :mod:`cdp_cli.rules.catalog` collects them. The checks themselves live in
:mod:`cdp_cli.lint` (one module per family, one pass over each message) and refer to rules by the
names in :mod:`cdp_cli.rules.codes`; each rule says where it is checked and how the fast path covers
it (see :mod:`cdp_cli.rules.rule`).
"""

from __future__ import annotations

from cdp_cli.findings import Level
from cdp_cli.rules.codes import (
    CONFORMANCE_ADDITIONAL_PROPERTY,
    CONFORMANCE_DATATYPE_MISMATCH,
    CONFORMANCE_REQUIRED_MISSING,
    CONFORMANCE_RULE_VIOLATION,
    CONFORMANCE_UNKNOWN_EVENT_VERSION,
    CONFORMANCE_UNPLANNED_EVENT,
    INPUT_FILE_UNREADABLE,
    INPUT_INVALID_JSON,
    INPUT_INVALID_UTF8,
    INPUT_LINE_TOO_LONG,
    INPUT_NON_FINITE_NUMBER,
    INPUT_NOT_AN_OBJECT,
    INPUT_NOT_NDJSON,
    INPUT_STREAM_ERROR,
    NAMING_DYNAMIC_EVENT_NAME,
    NAMING_DYNAMIC_PROPERTY_KEY,
    NAMING_EVENT_NAME,
    NAMING_PROPERTY_NAME,
    PRIVACY_CREDIT_CARD_IN_VALUE,
    PRIVACY_EMAIL_IN_VALUE,
    PRIVACY_IP_IN_VALUE,
    PRIVACY_PHONE_IN_VALUE,
    PRIVACY_SSN_IN_VALUE,
    SPEC_ALIAS_WITHOUT_PREVIOUS_ID,
    SPEC_CLOCK_SKEW,
    SPEC_DUPLICATE_MESSAGE_ID,
    SPEC_FIELD_NOT_OBJECT,
    SPEC_GROUP_WITHOUT_GROUP_ID,
    SPEC_ID_NOT_STRING,
    SPEC_MESSAGE_ID_TOO_LONG,
    SPEC_MESSAGE_TOO_LARGE,
    SPEC_MISPLACED_FIELD,
    SPEC_MISSING_IDENTITY,
    SPEC_MISSING_MESSAGE_ID,
    SPEC_MISSPELLED_FIELD,
    SPEC_RESERVED_FIELD_TYPE,
    SPEC_TIMESTAMP_IN_FUTURE,
    SPEC_TIMESTAMP_INVALID,
    SPEC_TIMESTAMP_TOO_OLD,
    SPEC_TIMESTAMP_WITHOUT_TIMEZONE,
    SPEC_TRACK_WITHOUT_EVENT,
    SPEC_TYPE,
)
from cdp_cli.rules.rule import Coverage, Rule, Status

E, W = Level.ERROR, Level.WARNING
FULL, PARTIAL, NOT_APPLICABLE = Coverage.FULL, Coverage.PARTIAL, Coverage.NOT_APPLICABLE
PREVIEW = Status.PREVIEW

_PI_WHERE = (
    " in a track/page/screen property or a custom trait that the plan does not classify as "
    "PII (`pii:`). The spec's own places (reserved traits such as `email`, `context.ip`, "
    "`context.traits`) are not findings. Values are shown only with --show-values."
)
_RS = " RudderStack violation type: {}."

EVENT_RULES: tuple[Rule, ...] = (
    # --- input: lines that are not messages -----------------------------------------------------------
    Rule(
        INPUT_INVALID_UTF8,
        "input.invalid-utf8",
        "input",
        E,
        "A line is not valid UTF-8 (JSON text must be). The line is skipped and counted.",
        bad=b'{"type":"track","event":"Caf\xe9"}'.decode("latin-1") + "   (Latin-1 bytes)",
        good='{"type":"track","event":"Café"}   (UTF-8)',
        why=(
            "A line that is not UTF-8 cannot be parsed, so its message is lost; it usually means a producer "
            "writes a legacy encoding, which garbles names and values elsewhere too."
        ),
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        INPUT_INVALID_JSON,
        "input.invalid-json",
        "input",
        E,
        "A line is not valid JSON; the finding gives the column. The line is skipped and counted.",
        bad='{"type": "track", "event": "Order Completed",}',
        good='{"type": "track", "event": "Order Completed"}',
        why=(
            "A line that does not parse is a message that never reaches Segment or the warehouse; the count "
            "shows how much data a broken producer drops."
        ),
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        INPUT_NOT_AN_OBJECT,
        "input.not-an-object",
        "input",
        E,
        "A line holds a JSON value that is not an object (an array, a string, a number). NDJSON logs hold "
        'one message object per line; a `{"batch": [...]}` line is read as its messages.',
        bad='[{"type": "track"}, {"type": "page"}]',
        good='{"type": "track", ...}\n{"type": "page", ...}',
        why=(
            "Segment's APIs and NDJSON readers expect one message object per line; anything else is dropped, "
            "and an array usually means a whole batch is lost at once."
        ),
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        INPUT_NON_FINITE_NUMBER,
        "input.non-finite-number",
        "input",
        E,
        "A line uses NaN or Infinity, which JSON does not have (Python's json.dumps writes them by default).",
        bad='{"type": "track", "properties": {"total": NaN}}',
        good='{"type": "track", "properties": {"total": null}}',
        why=(
            "Strict JSON parsers (Segment's API, warehouse loaders) reject the whole message, so one NaN "
            "silently drops an event."
        ),
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        INPUT_LINE_TOO_LONG,
        "input.line-too-long",
        "input",
        E,
        "A line is over the size cap (option max_bytes, 1 MiB by default); it is skipped without being "
        "held in memory. Usually two messages lost their newline, or a binary file is in the log directory.",
        bad="a 5 MB line holding a whole export as one JSON document",
        good="one message per line, each well under 32 KB",
        options={"max_bytes": 1 << 20},
        why=(
            "No single valid message is that large; skipping the line unread keeps memory bounded, and the "
            "finding shows where messages were glued together or a stray file was picked up."
        ),
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        INPUT_STREAM_ERROR,
        "input.stream-error",
        "input",
        E,
        "A compressed stream (.gz, .zst) is truncated or corrupt; everything before the damage is read, "
        "the rest of that file cannot be.",
        bad="events.ndjson.gz cut off by an interrupted upload",
        good="re-download or re-export the file; `gzip -t FILE` checks it",
        why=(
            "The rest of a damaged file cannot be read, so its messages are missing from every count; without "
            "the finding a truncated upload looks like a quiet day."
        ),
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        INPUT_FILE_UNREADABLE,
        "input.file-unreadable",
        "input",
        E,
        "An input file found in a directory or glob cannot be opened (permission denied, vanished, a "
        "symbolic link loop).",
        bad="logs/2026/11/22/part-0001.gz with mode 000",
        good="make the file readable, or move it out of the input directory",
        why=(
            "A file that cannot be opened is data that was not checked; the finding keeps a run from passing "
            "while part of the input was silently ignored."
        ),
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        INPUT_NOT_NDJSON,
        "input.not-ndjson",
        "input",
        E,
        "A whole input file is not an NDJSON log: binary data (a PNG, zip, Parquet, ... file, or a compressed "
        "file without its .gz/.zst name), UTF-16 text, or a JSON document spanning lines (a pretty-printed "
        "array or object). Reported once for the file, with how to convert it; its lines are counted as "
        "skipped and the next file is read.",
        bad='events.json holding [\n  {"type": "track", ...},\n  ...\n]',
        good="jq -c '.[]' events.json > events.ndjson   (one message per line)",
        why=(
            "Read line by line, such a file gives thousands of meaningless EV001/EV002 findings that hide the "
            "real problem: the file has the wrong format, and one conversion fixes it."
        ),
        status=PREVIEW,
        checked_in=("cdp_cli.events.reader",),
        fast_path=NOT_APPLICABLE,
    ),
    # --- spec: the Segment message spec ---------------------------------------------------------------
    Rule(
        SPEC_TYPE,
        "spec.type",
        "spec",
        E,
        "`type` is missing or not one of identify, track, page, screen, group, alias.",
        bad='{"type": "Track", "event": "Order Completed", ...}',
        good='{"type": "track", "event": "Order Completed", ...}',
        why=(
            "The type decides which fields Segment reads and which warehouse table a message lands in; an "
            "unknown or miscased type is rejected or routed nowhere."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_MISSING_IDENTITY,
        "spec.missing-identity",
        "spec",
        E,
        "Neither `userId` nor `anonymousId` is set (null, empty or blank counts as missing); Segment "
        "rejects such messages.",
        bad='{"type": "track", "event": "Order Completed", "userId": null, "anonymousId": ""}',
        good='{"type": "track", "event": "Order Completed", "userId": null, "anonymousId": "4b1f..."}',
        why=(
            "Segment rejects a message without an identity, and one that slips through joins to no user, so "
            "the event is missing from every profile and funnel."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_TRACK_WITHOUT_EVENT,
        "spec.track-without-event",
        "spec",
        E,
        "A track message has no `event` name (missing, null, empty or not a string).",
        bad='{"type": "track", "properties": {...}}',
        good='{"type": "track", "event": "Order Completed", "properties": {...}}',
        why=(
            "A track call without an event name has no per-event table to land in and no name to count under "
            "in reports; its data is dropped or lands under an empty name."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_GROUP_WITHOUT_GROUP_ID,
        "spec.group-without-group-id",
        "spec",
        E,
        "A group message has no `groupId`.",
        bad='{"type": "group", "userId": "u1", "traits": {"name": "Initech"}}',
        good='{"type": "group", "userId": "u1", "groupId": "g42", "traits": {"name": "Initech"}}',
        why=(
            "Without a groupId there is no account to attach the user or the traits to, so account-level "
            "reporting misses the message."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_ALIAS_WITHOUT_PREVIOUS_ID,
        "spec.alias-without-previous-id",
        "spec",
        E,
        "An alias message has no `previousId` (or no `userId`): there is nothing to link.",
        bad='{"type": "alias", "userId": "u1"}',
        good='{"type": "alias", "userId": "u1", "previousId": "anon-7"}',
        why=(
            "An alias that names only one identity merges nothing: the anonymous history stays split from the "
            "user it belongs to."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_MISSING_MESSAGE_ID,
        "spec.missing-message-id",
        "spec",
        W,
        "`messageId` is missing: downstream deduplication (which is by messageId only) cannot work.",
        bad='{"type": "track", "event": "Order Completed", "userId": "u1"}',
        good='{"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "ajs-5f1c..."}',
        why=(
            "Segment and the warehouse deduplicate by messageId; without one, every SDK retry becomes a "
            "second event and counts and revenue are inflated."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_MESSAGE_ID_TOO_LONG,
        "spec.message-id-too-long",
        "spec",
        E,
        "`messageId` is longer than 100 characters (option max_length), Segment's limit.",
        bad='"messageId": "<a 240-character concatenation of user, event and time>"',
        good='"messageId": "ajs-next-1700000000000-4b1f0f4a"',
        options={"max_length": 100},
        why="Segment rejects messageIds over 100 characters, so the message is dropped at the API.",
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_DUPLICATE_MESSAGE_ID,
        "spec.duplicate-message-id",
        "spec",
        W,
        "The same `messageId` appears more than once in the input (across all files): a retry or a "
        "double export. Downstream, the later copies are dropped. Checked with memory bounded by "
        "spilling to disk, so tens of millions of messages are fine.",
        bad='line 10: {"messageId": "m-1", ...}\nline 99: {"messageId": "m-1", ...}',
        good="every message has its own messageId; retries reuse it only for the same message",
        why=(
            "Downstream deduplication keeps only the first copy, so a messageId reused for a different "
            "message silently loses that message; a retry storm or a double export shows up here first."
        ),
        checked_in=("cdp_cli.lint.dedup",),
        fast_path=NOT_APPLICABLE,
    ),
    Rule(
        SPEC_ID_NOT_STRING,
        "spec.id-not-string",
        "spec",
        W,
        "An identifier (`userId`, `anonymousId`, `groupId`, `previousId`, `messageId`) is a number or "
        'another non-string. Segment turns numbers into strings, which splits `42` from `"42.0"` and '
        "breaks joins; objects and booleans are not identifiers at all.",
        bad='{"userId": 42}',
        good='{"userId": "42"}',
        why=(
            "Identifiers are compared as strings downstream and numbers are stringified (42.0 becomes "
            '"42.0"), so one user splits into several profiles and joins miss.'
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_TIMESTAMP_INVALID,
        "spec.timestamp-invalid",
        "spec",
        E,
        "`timestamp`, `originalTimestamp`, `sentAt` or `receivedAt` is not an ISO-8601 date-time string "
        "(epoch numbers and locale formats are not).",
        bad='"timestamp": 1700000000000',
        good='"timestamp": "2023-11-14T22:13:20.000Z"',
        why=(
            "A timestamp that cannot be parsed is replaced by the time the message was received, so the event "
            "lands on the wrong day in every time series."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    Rule(
        SPEC_TIMESTAMP_WITHOUT_TIMEZONE,
        "spec.timestamp-without-timezone",
        "spec",
        W,
        "A timestamp has no timezone (`Z` or `+02:00`): its moment is ambiguous, and Engage requires one.",
        bad='"timestamp": "2026-11-20T10:00:00"',
        good='"timestamp": "2026-11-20T10:00:00Z"',
        why=(
            "Without a timezone the same string means different moments in different systems; events shift by "
            "hours and move across day boundaries in reports."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    Rule(
        SPEC_TIMESTAMP_IN_FUTURE,
        "spec.timestamp-in-future",
        "spec",
        W,
        "A timestamp lies in the future by more than the allowed skew (option max_future, default 1h; "
        "`--now` fixes 'now' for reproducible runs): a device clock is wrong.",
        bad='"timestamp": "2099-01-01T00:00:00Z"',
        good='"timestamp": "2026-11-20T10:00:00Z"',
        options={"max_future": "1h"},
        why=(
            "Future-dated events land in future partitions and break 'last seen' and recency logic until that "
            "date arrives."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    Rule(
        SPEC_TIMESTAMP_TOO_OLD,
        "spec.timestamp-too-old",
        "spec",
        W,
        "A timestamp is implausibly old (before option oldest, default 2000-01-01): often an unset device "
        "clock (1970-01-01) or a zero value.",
        bad='"timestamp": "1970-01-01T00:00:00Z"',
        good='"timestamp": "2026-11-20T10:00:00Z"',
        options={"oldest": "2000-01-01"},
        why=("Events dated 1970 land in ancient partitions and drag time series and first-seen dates back decades."),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    Rule(
        SPEC_CLOCK_SKEW,
        "spec.clock-skew",
        "spec",
        W,
        "`sentAt` is far from `timestamp` (more than option max_skew, default 24h, either way): the device "
        "clock jumped, or the message sat in a queue that long.",
        bad='"timestamp": "2026-11-20T10:00:00Z", "sentAt": "2026-11-25T10:00:00Z"',
        good='"timestamp": "2026-11-20T10:00:00Z", "sentAt": "2026-11-20T10:00:03Z"',
        options={"max_skew": "24h"},
        why=(
            "Segment corrects the timestamp by the sentAt gap, so a wrong device clock moves the event by "
            "that much; a long queue means the data arrives too late for the reports it belongs to."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    Rule(
        SPEC_MESSAGE_TOO_LARGE,
        "spec.message-too-large",
        "spec",
        E,
        "A message is over 32 KB (option max_bytes), Segment's per-message limit: the API rejects it.",
        bad="a track event carrying a 50 KB HTML snippet in a property",
        good="send ids and sizes, not documents",
        options={"max_bytes": 32 * 1024},
        why="Segment rejects messages over 32 KB, so the whole event is lost, not just the oversized field.",
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_FIELD_NOT_OBJECT,
        "spec.field-not-object",
        "spec",
        E,
        "`properties`, `traits`, `context`, `integrations` or `context.traits` is present but not an object.",
        bad='{"type": "track", "event": "Order Completed", "properties": "[object Object]"}',
        good='{"type": "track", "event": "Order Completed", "properties": {"order_id": "o-1"}}',
        why=(
            "Segment and warehouse loaders read these fields as objects; a string or an array there is "
            "dropped, and with it every property or trait of the message."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=FULL,
    ),
    Rule(
        SPEC_RESERVED_FIELD_TYPE,
        "spec.reserved-field-type",
        "spec",
        E,
        "A reserved property or trait has the wrong type or shape: `revenue`/`value`/`price` not a number, "
        "`currency` not a 3-letter ISO-4217 code, `email` not an email address, `createdAt`/`birthday` "
        "not a date, `address`/`company` not an object, `age`/`employees` not a number, `url` not a string.",
        bad='{"type": "track", "event": "Order Completed", "properties": {"revenue": "19.99", "currency": "dollars"}}',
        good='{"type": "track", "event": "Order Completed", "properties": {"revenue": 19.99, "currency": "USD"}}',
        why=(
            "Destinations read reserved fields with fixed meanings: revenue sent as a string is not summed, a "
            "bad currency breaks conversion, and a malformed email never reaches the email tool."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    Rule(
        SPEC_MISPLACED_FIELD,
        "spec.misplaced-field",
        "spec",
        W,
        "Data sent where the spec does not read it: identify/group with `properties` instead of `traits`, "
        "track/page/screen with top-level `traits` (use `context.traits`), `properties.traits`, or "
        "`userId`/`anonymousId` inside properties or traits while the top-level field is empty.",
        bad='{"type": "identify", "userId": "u1", "properties": {"email": "ada@example.com"}}',
        good='{"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com"}}',
        why=(
            "Segment reads data only where the spec puts it; misplaced traits and ids are ignored, so "
            "profiles miss traits and messages miss their identity."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    Rule(
        SPEC_MISSPELLED_FIELD,
        "spec.misspelled-field",
        "spec",
        W,
        "A top-level field that is a misspelling of a spec field (`userID`, `user_id`, `anonymous_id`, "
        "`messageID`, `Event`) or a context field sent at the top level (`ip`, `userAgent`, `library`): "
        "Segment ignores it.",
        bad='{"type": "track", "event": "Signed Up", "user_id": "u1", "ip": "203.0.113.9"}',
        good='{"type": "track", "event": "Signed Up", "userId": "u1", "context": {"ip": "203.0.113.9"}}',
        why=(
            "Segment ignores unknown top-level fields, so a `user_id` or a top-level `ip` is dropped and the "
            "message goes out without the data its sender meant to send."
        ),
        checked_in=("cdp_cli.lint.spec",),
        fast_path=PARTIAL,
    ),
    # --- naming ---------------------------------------------------------------------------------------
    Rule(
        NAMING_EVENT_NAME,
        "naming.event-name",
        "naming",
        W,
        "An event (or page/screen) name breaks the naming convention: the plan's `conventions`, else "
        "option style (default title_case, Segment's recommendation). The message gives the fixed name.",
        bad='"event": "order_completed"',
        good='"event": "Order Completed"',
        options={"style": "title_case", "pages": "title_case"},
        why=(
            "Mixed conventions make one event appear under several names (`order_completed`, `Order "
            "Completed`), splitting its data across warehouse tables and reports."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=FULL,
    ),
    Rule(
        NAMING_PROPERTY_NAME,
        "naming.property-name",
        "naming",
        W,
        "A property or trait key breaks the naming convention: the plan's `conventions`, else option style "
        "(default snake_case). Segment's reserved camelCase traits (`firstName`, `createdAt`, ...) are exempt.",
        bad='"properties": {"orderId": "o-1"}',
        good='"properties": {"order_id": "o-1"}',
        options={"style": "snake_case", "traits": "snake_case"},
        why=(
            "Mixed key styles make one property several warehouse columns (`orderId`, `order_id`) that every "
            "query has to coalesce."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=PARTIAL,
    ),
    Rule(
        NAMING_DYNAMIC_EVENT_NAME,
        "naming.dynamic-event-name",
        "naming",
        E,
        "An event name embeds data (an id, a number, an email, a UUID, a URL): every value makes a new "
        "event, so reports, plans and warehouse tables explode.",
        bad='"event": "Viewed Product 8231"',
        good='"event": "Product Viewed", "properties": {"product_id": "8231"}',
        why=(
            "Every distinct event name becomes its own warehouse table and tracking-plan entry; a name "
            "holding data creates thousands of them and the event can no longer be counted."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=FULL,
    ),
    Rule(
        NAMING_DYNAMIC_PROPERTY_KEY,
        "naming.dynamic-property-key",
        "naming",
        E,
        "A property or trait key embeds data (an id, a number, an email, a UUID, a date): every value makes "
        "a new column downstream.",
        bad='"properties": {"item_8231": 1, "2026-11-20": true}',
        good='"properties": {"item_id": "8231", "date": "2026-11-20"}',
        why=(
            "Every distinct key becomes a warehouse column; keys holding data add columns without bound until "
            "the table hits the warehouse's column limit."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=PARTIAL,
    ),
    # --- privacy: personal data where it does not belong ----------------------------------------------
    Rule(
        PRIVACY_EMAIL_IN_VALUE,
        "privacy.email-in-value",
        "privacy",
        W,
        "An email address" + _PI_WHERE,
        bad='"properties": {"comment": "call me at ada@example.com"}',
        good='identify traits {"email": "ada@example.com"}, or classify the property with pii: email',
        why=(
            "An email address in an ordinary property is copied to every destination and warehouse table, "
            "outside the deletion and consent controls that cover classified personal data."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=PARTIAL,
    ),
    Rule(
        PRIVACY_PHONE_IN_VALUE,
        "privacy.phone-in-value",
        "privacy",
        W,
        "A phone number (E.164 or NANP)" + _PI_WHERE,
        bad='"properties": {"note": "+14155550123"}',
        good='identify traits {"phone": "+14155550123"}',
        why=(
            "A phone number in an ordinary property spreads to every destination unclassified, so deletion "
            "requests and consent settings do not reach it."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=PARTIAL,
    ),
    Rule(
        PRIVACY_CREDIT_CARD_IN_VALUE,
        "privacy.credit-card-in-value",
        "privacy",
        W,
        "A payment card number (13-19 digits, a known issuer prefix and a valid Luhn checksum)" + _PI_WHERE,
        bad='"properties": {"payment": "4111 1111 1111 1111"}',
        good='"properties": {"payment_method": "visa", "card_last4": "1111"}',
        why=(
            "Card numbers must never leave the payment system: one in analytics data puts every destination "
            "and warehouse that receives it in PCI DSS scope."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=PARTIAL,
    ),
    Rule(
        PRIVACY_SSN_IN_VALUE,
        "privacy.ssn-in-value",
        "privacy",
        W,
        "A US Social Security number (ddd-dd-dddd, invalid groups such as 000 and 666 rejected)" + _PI_WHERE,
        bad='"traits": {"tax_ref": "536-22-8714"}',
        good="never send SSNs to analytics",
        why=(
            "An SSN in analytics data is copied to every destination and warehouse, where it is neither "
            "needed nor protected: a breach waiting to happen."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=PARTIAL,
    ),
    Rule(
        PRIVACY_IP_IN_VALUE,
        "privacy.ip-in-value",
        "privacy",
        W,
        "An IPv4 or IPv6 address" + _PI_WHERE,
        bad='"properties": {"client": "203.0.113.9"}',
        good='"context": {"ip": "203.0.113.9"}',
        why=(
            "An IP address is personal data under GDPR; outside `context.ip` it escapes the anonymisation and "
            "deletion that destinations apply there."
        ),
        checked_in=("cdp_cli.lint.payload",),
        fast_path=PARTIAL,
    ),
    # --- conformance to a tracking plan (--plan) ------------------------------------------------------
    Rule(
        CONFORMANCE_UNPLANNED_EVENT,
        "conformance.unplanned-event",
        "conformance",
        E,
        "The event (or a named page/screen, where the plan lists pages/screens) is not in the plan and the "
        "plan does not allow unplanned events (settings.allow_unplanned_events)." + _RS.format("Unplanned-Event"),
        bad='"event": "Order Complete"   (the plan has "Order Completed")',
        good='"event": "Order Completed"',
        why=(
            "An event the plan does not know is usually a typo or an unreviewed change; it creates a new "
            "table downstream and its data is missing from the planned event's reports."
        ),
        checked_in=("cdp_cli.lint.conformance",),
        fast_path=FULL,
    ),
    Rule(
        CONFORMANCE_REQUIRED_MISSING,
        "conformance.required-missing",
        "conformance",
        E,
        "A property, trait or context field the plan requires is missing (null is a value, see TP003)."
        + _RS.format("Required-Missing"),
        bad="Order Completed without order_id",
        good='"properties": {"order_id": "o-1", ...}',
        why=(
            "Reports and models built on the plan assume the required field is there; without it the message "
            "is counted but cannot be attributed (an order without its order_id)."
        ),
        checked_in=("cdp_cli.lint.conformance",),
        fast_path=FULL,
    ),
    Rule(
        CONFORMANCE_DATATYPE_MISMATCH,
        "conformance.datatype-mismatch",
        "conformance",
        E,
        "A value has a JSON type the plan does not allow (a string where the plan says number, ...)."
        + _RS.format("Datatype-Mismatch"),
        bad='"total": "19.99"   (plan: type number)',
        good='"total": 19.99',
        why=(
            "A value of the wrong type breaks the warehouse column's type: the loader drops it, casts it, or "
            "adds a second column with a type suffix."
        ),
        checked_in=("cdp_cli.lint.conformance",),
        fast_path=FULL,
    ),
    Rule(
        CONFORMANCE_ADDITIONAL_PROPERTY,
        "conformance.additional-property",
        "conformance",
        E,
        "A property or trait is not in the plan and the plan forbids unplanned ones (additionalProperties: false)."
        + _RS.format("Additional-Properties"),
        bad='Order Completed with "gift_wrap": true   (closed event)',
        good="add gift_wrap to the plan, or stop sending it",
        why=(
            "The plan closed this object so unreviewed data cannot slip in; an unplanned property is a typo "
            "of a planned one or data nobody approved."
        ),
        checked_in=("cdp_cli.lint.conformance",),
        fast_path=FULL,
    ),
    Rule(
        CONFORMANCE_RULE_VIOLATION,
        "conformance.rule-violation",
        "conformance",
        E,
        "A value breaks a plan rule other than its type: enum, const, pattern, format, minimum/maximum, "
        "length, items, ..." + _RS.format("Advance-Rules-Violation"),
        bad='"currency": "dollars"   (plan: pattern ^[A-Za-z]{3}$)',
        good='"currency": "USD"',
        why=(
            "A value outside the plan's rules (an unknown enum value, a malformed id) passes type checks but "
            "breaks the joins, filters and groupings built on the documented values."
        ),
        checked_in=("cdp_cli.lint.conformance",),
        fast_path=FULL,
    ),
    Rule(
        CONFORMANCE_UNKNOWN_EVENT_VERSION,
        "conformance.unknown-event-version",
        "conformance",
        W,
        "`context.protocols.event_version` names a version the plan does not define (or is not a positive "
        "integer); the message is checked against the oldest version, as Segment Protocols does."
        + _RS.format("Unknown-Violation"),
        bad='"context": {"protocols": {"event_version": 7}}   (plan has versions 1 and 2)',
        good='"context": {"protocols": {"event_version": 2}}',
        why=(
            "The sender and the plan disagree on the event's shape; the message is checked against the oldest "
            "version, which may not be what was sent."
        ),
        checked_in=("cdp_cli.lint.conformance",),
        fast_path=FULL,
    ),
)

#: RudderStack's violation type for each conformance rule (findings carry it as ``violation_type``).
RUDDERSTACK = {
    CONFORMANCE_UNPLANNED_EVENT: "Unplanned-Event",
    CONFORMANCE_REQUIRED_MISSING: "Required-Missing",
    CONFORMANCE_DATATYPE_MISMATCH: "Datatype-Mismatch",
    CONFORMANCE_ADDITIONAL_PROPERTY: "Additional-Properties",
    CONFORMANCE_RULE_VIOLATION: "Advance-Rules-Violation",
    CONFORMANCE_UNKNOWN_EVENT_VERSION: "Unknown-Violation",
}
