"""Rules of ``cdp events lint``: input (``EV``), spec (``SP``), naming (``NM``), privacy (``PI``) and
plan conformance (``TP``).

Codes are stable; never reuse one. The checks themselves live in :mod:`cdp_cli.lint` (one module
per family, one pass over each message); this module is what they report and what ``.cdp.yaml``
configures.
"""

from __future__ import annotations

from cdp_cli.findings import Level
from cdp_cli.rules.registry import Rule, register

E, W, I = Level.ERROR, Level.WARNING, Level.INFO

# --- input: lines that are not messages ---------------------------------------------------------
register(Rule(
    "EV001", "input.invalid-utf8", "input", E,
    "A line is not valid UTF-8 (JSON text must be). The line is skipped and counted.",
    bad=b'{"type":"track","event":"Caf\xe9"}'.decode("latin-1") + "   (Latin-1 bytes)",
    good='{"type":"track","event":"Café"}   (UTF-8)',
))
register(Rule(
    "EV002", "input.invalid-json", "input", E,
    "A line is not valid JSON; the finding gives the column. The line is skipped and counted.",
    bad='{"type": "track", "event": "Order Completed",}',
    good='{"type": "track", "event": "Order Completed"}',
))
register(Rule(
    "EV003", "input.not-an-object", "input", E,
    "A line holds a JSON value that is not an object (an array, a string, a number). NDJSON logs hold "
    "one message object per line; a `{\"batch\": [...]}` line is read as its messages.",
    bad='[{"type": "track"}, {"type": "page"}]',
    good='{"type": "track", ...}\n{"type": "page", ...}',
))
register(Rule(
    "EV004", "input.non-finite-number", "input", E,
    "A line uses NaN or Infinity, which JSON does not have (Python's json.dumps writes them by default).",
    bad='{"type": "track", "properties": {"total": NaN}}',
    good='{"type": "track", "properties": {"total": null}}',
))
register(Rule(
    "EV005", "input.line-too-long", "input", E,
    "A line is over the size cap (option max_bytes, 1 MiB by default); it is skipped without being "
    "held in memory. Usually two messages lost their newline, or a binary file is in the log directory.",
    bad="a 5 MB line holding a whole export as one JSON document",
    good="one message per line, each well under 32 KB",
    options={"max_bytes": 1 << 20},
))
register(Rule(
    "EV006", "input.stream-error", "input", E,
    "A compressed stream (.gz, .zst) is truncated or corrupt; everything before the damage is read, "
    "the rest of that file cannot be.",
    bad="events.ndjson.gz cut off by an interrupted upload",
    good="re-download or re-export the file; `gzip -t FILE` checks it",
))
register(Rule(
    "EV007", "input.file-unreadable", "input", E,
    "An input file found in a directory or glob cannot be opened (permission denied, vanished, a "
    "symbolic link loop).",
    bad="logs/2026/11/22/part-0001.gz with mode 000",
    good="make the file readable, or move it out of the input directory",
))
register(Rule(
    "EV008", "input.not-ndjson", "input", E,
    "A whole input file is not an NDJSON log: binary data (a PNG, zip, Parquet, ... file, or a compressed "
    "file without its .gz/.zst name), UTF-16 text, or a JSON document spanning lines (a pretty-printed "
    "array or object). Reported once for the file, with how to convert it; its lines are counted as "
    "skipped and the next file is read.",
    bad='events.json holding [\n  {"type": "track", ...},\n  ...\n]',
    good="jq -c '.[]' events.json > events.ndjson   (one message per line)",
))

# --- spec: the Segment message spec -------------------------------------------------------------
register(Rule(
    "SP001", "spec.type", "spec", E,
    "`type` is missing or not one of identify, track, page, screen, group, alias.",
    bad='{"type": "Track", "event": "Order Completed", ...}',
    good='{"type": "track", "event": "Order Completed", ...}',
))
register(Rule(
    "SP002", "spec.missing-identity", "spec", E,
    "Neither `userId` nor `anonymousId` is set (null, empty or blank counts as missing); Segment "
    "rejects such messages.",
    bad='{"type": "track", "event": "Order Completed", "userId": null, "anonymousId": ""}',
    good='{"type": "track", "event": "Order Completed", "userId": null, "anonymousId": "4b1f..."}',
))
register(Rule(
    "SP003", "spec.track-without-event", "spec", E,
    "A track message has no `event` name (missing, null, empty or not a string).",
    bad='{"type": "track", "properties": {...}}',
    good='{"type": "track", "event": "Order Completed", "properties": {...}}',
))
register(Rule(
    "SP004", "spec.group-without-group-id", "spec", E,
    "A group message has no `groupId`.",
    bad='{"type": "group", "userId": "u1", "traits": {"name": "Initech"}}',
    good='{"type": "group", "userId": "u1", "groupId": "g42", "traits": {"name": "Initech"}}',
))
register(Rule(
    "SP005", "spec.alias-without-previous-id", "spec", E,
    "An alias message has no `previousId` (or no `userId`): there is nothing to link.",
    bad='{"type": "alias", "userId": "u1"}',
    good='{"type": "alias", "userId": "u1", "previousId": "anon-7"}',
))
register(Rule(
    "SP006", "spec.missing-message-id", "spec", W,
    "`messageId` is missing: downstream deduplication (which is by messageId only) cannot work.",
    bad='{"type": "track", "event": "Order Completed", "userId": "u1"}',
    good='{"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "ajs-5f1c..."}',
))
register(Rule(
    "SP007", "spec.message-id-too-long", "spec", E,
    "`messageId` is longer than 100 characters (option max_length), Segment's limit.",
    bad='"messageId": "<a 240-character concatenation of user, event and time>"',
    good='"messageId": "ajs-next-1700000000000-4b1f0f4a"',
    options={"max_length": 100},
))
register(Rule(
    "SP008", "spec.duplicate-message-id", "spec", W,
    "The same `messageId` appears more than once in the input (across all files): a retry or a "
    "double export. Downstream, the later copies are dropped. Checked with memory bounded by "
    "spilling to disk, so tens of millions of messages are fine.",
    bad='line 10: {"messageId": "m-1", ...}\nline 99: {"messageId": "m-1", ...}',
    good="every message has its own messageId; retries reuse it only for the same message",
))
register(Rule(
    "SP009", "spec.id-not-string", "spec", W,
    "An identifier (`userId`, `anonymousId`, `groupId`, `previousId`, `messageId`) is a number or "
    "another non-string. Segment turns numbers into strings, which splits `42` from `\"42.0\"` and "
    "breaks joins; objects and booleans are not identifiers at all.",
    bad='{"userId": 42}',
    good='{"userId": "42"}',
))
register(Rule(
    "SP010", "spec.timestamp-invalid", "spec", E,
    "`timestamp`, `originalTimestamp`, `sentAt` or `receivedAt` is not an ISO-8601 date-time string "
    "(epoch numbers and locale formats are not).",
    bad='"timestamp": 1700000000000',
    good='"timestamp": "2023-11-14T22:13:20.000Z"',
))
register(Rule(
    "SP011", "spec.timestamp-without-timezone", "spec", W,
    "A timestamp has no timezone (`Z` or `+02:00`): its moment is ambiguous, and Engage requires one.",
    bad='"timestamp": "2026-11-20T10:00:00"',
    good='"timestamp": "2026-11-20T10:00:00Z"',
))
register(Rule(
    "SP012", "spec.timestamp-in-future", "spec", W,
    "A timestamp lies in the future by more than the allowed skew (option max_future, default 1h; "
    "`--now` fixes 'now' for reproducible runs): a device clock is wrong.",
    bad='"timestamp": "2099-01-01T00:00:00Z"',
    good='"timestamp": "2026-11-20T10:00:00Z"',
    options={"max_future": "1h"},
))
register(Rule(
    "SP013", "spec.timestamp-too-old", "spec", W,
    "A timestamp is implausibly old (before option oldest, default 2000-01-01): often an unset device "
    "clock (1970-01-01) or a zero value.",
    bad='"timestamp": "1970-01-01T00:00:00Z"',
    good='"timestamp": "2026-11-20T10:00:00Z"',
    options={"oldest": "2000-01-01"},
))
register(Rule(
    "SP014", "spec.clock-skew", "spec", W,
    "`sentAt` is far from `timestamp` (more than option max_skew, default 24h, either way): the device "
    "clock jumped, or the message sat in a queue that long.",
    bad='"timestamp": "2026-11-20T10:00:00Z", "sentAt": "2026-11-25T10:00:00Z"',
    good='"timestamp": "2026-11-20T10:00:00Z", "sentAt": "2026-11-20T10:00:03Z"',
    options={"max_skew": "24h"},
))
register(Rule(
    "SP015", "spec.message-too-large", "spec", E,
    "A message is over 32 KB (option max_bytes), Segment's per-message limit: the API rejects it.",
    bad="a track event carrying a 50 KB HTML snippet in a property",
    good="send ids and sizes, not documents",
    options={"max_bytes": 32 * 1024},
))
register(Rule(
    "SP016", "spec.field-not-object", "spec", E,
    "`properties`, `traits`, `context`, `integrations` or `context.traits` is present but not an object.",
    bad='{"type": "track", "event": "Order Completed", "properties": "[object Object]"}',
    good='{"type": "track", "event": "Order Completed", "properties": {"order_id": "o-1"}}',
))
register(Rule(
    "SP017", "spec.reserved-field-type", "spec", E,
    "A reserved property or trait has the wrong type or shape: `revenue`/`value`/`price` not a number, "
    "`currency` not a 3-letter ISO-4217 code, `email` not an email address, `createdAt`/`birthday` "
    "not a date, `address`/`company` not an object, `age`/`employees` not a number, `url` not a string.",
    bad='{"type": "track", "event": "Order Completed", "properties": {"revenue": "19.99", "currency": "dollars"}}',
    good='{"type": "track", "event": "Order Completed", "properties": {"revenue": 19.99, "currency": "USD"}}',
))
register(Rule(
    "SP018", "spec.misplaced-field", "spec", W,
    "Data sent where the spec does not read it: identify/group with `properties` instead of `traits`, "
    "track/page/screen with top-level `traits` (use `context.traits`), `properties.traits`, or "
    "`userId`/`anonymousId` inside properties or traits while the top-level field is empty.",
    bad='{"type": "identify", "userId": "u1", "properties": {"email": "ada@example.com"}}',
    good='{"type": "identify", "userId": "u1", "traits": {"email": "ada@example.com"}}',
))
register(Rule(
    "SP019", "spec.misspelled-field", "spec", W,
    "A top-level field that is a misspelling of a spec field (`userID`, `user_id`, `anonymous_id`, "
    "`messageID`, `Event`) or a context field sent at the top level (`ip`, `userAgent`, `library`): "
    "Segment ignores it.",
    bad='{"type": "track", "event": "Signed Up", "user_id": "u1", "ip": "203.0.113.9"}',
    good='{"type": "track", "event": "Signed Up", "userId": "u1", "context": {"ip": "203.0.113.9"}}',
))

# --- naming ---------------------------------------------------------------------------------------
register(Rule(
    "NM001", "naming.event-name", "naming", W,
    "An event (or page/screen) name breaks the naming convention: the plan's `conventions`, else "
    "option style (default title_case, Segment's recommendation). The message gives the fixed name.",
    bad='"event": "order_completed"',
    good='"event": "Order Completed"',
    options={"style": "title_case", "pages": "title_case"},
))
register(Rule(
    "NM002", "naming.property-name", "naming", W,
    "A property or trait key breaks the naming convention: the plan's `conventions`, else option style "
    "(default snake_case). Segment's reserved camelCase traits (`firstName`, `createdAt`, ...) are exempt.",
    bad='"properties": {"orderId": "o-1"}',
    good='"properties": {"order_id": "o-1"}',
    options={"style": "snake_case", "traits": "snake_case"},
))
register(Rule(
    "NM003", "naming.dynamic-event-name", "naming", E,
    "An event name embeds data (an id, a number, an email, a UUID, a URL): every value makes a new "
    "event, so reports, plans and warehouse tables explode.",
    bad='"event": "Viewed Product 8231"',
    good='"event": "Product Viewed", "properties": {"product_id": "8231"}',
))
register(Rule(
    "NM004", "naming.dynamic-property-key", "naming", E,
    "A property or trait key embeds data (an id, a number, an email, a UUID, a date): every value makes "
    "a new column downstream.",
    bad='"properties": {"item_8231": 1, "2026-11-20": true}',
    good='"properties": {"item_id": "8231", "date": "2026-11-20"}',
))

# --- privacy: personal data where it does not belong ---------------------------------------------
_PI_WHERE = (" in a track/page/screen property or a custom trait that the plan does not classify as "
             "PII (`pii:`). The spec's own places (reserved traits such as `email`, `context.ip`, "
             "`context.traits`) are not findings. Values are shown only with --show-values.")
register(Rule("PI001", "privacy.email-in-value", "privacy", W, "An email address" + _PI_WHERE,
              bad='"properties": {"comment": "call me at ada@example.com"}',
              good='identify traits {"email": "ada@example.com"}, or classify the property with pii: email'))
register(Rule("PI002", "privacy.phone-in-value", "privacy", W, "A phone number (E.164 or NANP)" + _PI_WHERE,
              bad='"properties": {"note": "+14155550123"}',
              good='identify traits {"phone": "+14155550123"}'))
register(Rule("PI003", "privacy.credit-card-in-value", "privacy", W,
              "A payment card number (13-19 digits, a known issuer prefix and a valid Luhn checksum)" + _PI_WHERE,
              bad='"properties": {"payment": "4111 1111 1111 1111"}',
              good='"properties": {"payment_method": "visa", "card_last4": "1111"}'))
register(Rule("PI004", "privacy.ssn-in-value", "privacy", W,
              "A US Social Security number (ddd-dd-dddd, invalid groups such as 000 and 666 rejected)" + _PI_WHERE,
              bad='"traits": {"tax_ref": "536-22-8714"}',
              good="never send SSNs to analytics"))
register(Rule("PI005", "privacy.ip-in-value", "privacy", W, "An IPv4 or IPv6 address" + _PI_WHERE,
              bad='"properties": {"client": "203.0.113.9"}',
              good='"context": {"ip": "203.0.113.9"}'))

# --- conformance to a tracking plan (--plan) -----------------------------------------------------
_RS = " RudderStack violation type: {}."
register(Rule(
    "TP001", "conformance.unplanned-event", "conformance", E,
    "The event (or a named page/screen, where the plan lists pages/screens) is not in the plan and the "
    "plan does not allow unplanned events (settings.allow_unplanned_events)." + _RS.format("Unplanned-Event"),
    bad='"event": "Order Complete"   (the plan has "Order Completed")',
    good='"event": "Order Completed"',
))
register(Rule(
    "TP002", "conformance.required-missing", "conformance", E,
    "A property, trait or context field the plan requires is missing (null is a value, see TP003)." + _RS.format("Required-Missing"),
    bad='Order Completed without order_id',
    good='"properties": {"order_id": "o-1", ...}',
))
register(Rule(
    "TP003", "conformance.datatype-mismatch", "conformance", E,
    "A value has a JSON type the plan does not allow (a string where the plan says number, ...)." + _RS.format("Datatype-Mismatch"),
    bad='"total": "19.99"   (plan: type number)',
    good='"total": 19.99',
))
register(Rule(
    "TP004", "conformance.additional-property", "conformance", E,
    "A property or trait is not in the plan and the plan forbids unplanned ones (additionalProperties: false)." + _RS.format("Additional-Properties"),
    bad='Order Completed with "gift_wrap": true   (closed event)',
    good="add gift_wrap to the plan, or stop sending it",
))
register(Rule(
    "TP005", "conformance.rule-violation", "conformance", E,
    "A value breaks a plan rule other than its type: enum, const, pattern, format, minimum/maximum, "
    "length, items, ..." + _RS.format("Advance-Rules-Violation"),
    bad='"currency": "dollars"   (plan: pattern ^[A-Za-z]{3}$)',
    good='"currency": "USD"',
))
register(Rule(
    "TP006", "conformance.unknown-event-version", "conformance", W,
    "`context.protocols.event_version` names a version the plan does not define (or is not a positive "
    "integer); the message is checked against the oldest version, as Segment Protocols does." + _RS.format("Unknown-Violation"),
    bad='"context": {"protocols": {"event_version": 7}}   (plan has versions 1 and 2)',
    good='"context": {"protocols": {"event_version": 2}}',
))

RUDDERSTACK = {
    "TP001": "Unplanned-Event", "TP002": "Required-Missing", "TP003": "Datatype-Mismatch",
    "TP004": "Additional-Properties", "TP005": "Advance-Rules-Violation", "TP006": "Unknown-Violation",
}
