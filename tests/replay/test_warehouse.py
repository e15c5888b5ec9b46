"""Segment's warehouse schema as pure functions (cdp_cli.replay.warehouse): names by go-snakecase,
tables and rows per message type, type inference, conflicts and discards, the users merge. No
database: the PostgreSQL destination's own tests load these rows into a real server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp_cli.replay.destination import Message
from cdp_cli.replay.warehouse import (
    MAX_IDENTIFIER,
    MISSING,
    Discard,
    Unloadable,
    _fit_by_row,
    base_columns,
    coerce,
    column_name,
    event_table,
    fit_columns,
    fit_rows,
    infer_type,
    is_timestamp,
    parse_timestamp,
    rows_for,
    snake_case,
    table_for,
    trait_columns,
    truncate_identifier,
    users_rows,
)

# Every vector of segmentio/go-snakecase's snake_test.go (the notes quote ten of them; all ten are here).
GO_SNAKECASE = [
    ("@49L0S145_¬fwHƒ0TSLNVp", "49l0s145_fw_h_0tslnvp"),
    ("lk0B@bFmjrLQ_Z6YL", "lk0_b_b_fmjr_lq_z6yl"),
    ("samPLE text", "sam_ple_text"),
    ("sample text", "sample_text"),
    ("sample-text", "sample_text"),
    ("sample_text", "sample_text"),
    ("sample___text", "sample_text"),
    ("sampleText", "sample_text"),
    ("inviteYourCustomersAddInvites", "invite_your_customers_add_invites"),
    ("sample 2 Text", "sample_2_text"),
    ("   sample   2    Text   ", "sample_2_text"),
    ("   $#$sample   2    Text   ", "sample_2_text"),
    ("SAMPLE 2 TEXT", "sample_2_text"),
    ("___$$Base64Encode", "base64_encode"),
    ("FOO:BAR$BAZ", "foo_bar_baz"),
    ("FOO#BAR#BAZ", "foo_bar_baz"),
    ("something.com", "something_com"),
    ("$something%", "something"),
    ("•¶§ƒ˚foo˙∆˚¬", "foo"),
    ("CStringRef", "cstring_ref"),
    ("5test", "5test"),
    ("test5", "test5"),
    ("THE5r", "the5r"),
    ("5TEst", "5test"),
    ("_5TEst", "5test"),
    ("@%#&5TEst", "5test"),
    ("edf_6N", "edf_6n"),
    ("f_pX9", "f_p_x9"),
    ("p_z9Rg", "p_z9_rg"),
    ("2FA Enabled", "2fa_enabled"),
    ("Enabled 2FA", "enabled_2fa"),
]


@pytest.mark.parametrize(("name", "expected"), GO_SNAKECASE)
def test_snake_case_matches_go_snakecase(name, expected):
    assert snake_case(name) == expected


def test_snake_case_edges_the_notes_state_loosely():
    # a run of capitals is one word with the lower-case letters after it (not "http_status")
    assert snake_case("HTTPStatus") == "httpstatus"
    # non-ASCII letters separate words like any other non-alphanumeric: they are not just dropped
    assert snake_case("caféBar") == "caf_bar" and snake_case("cafébar") == "caf_bar"
    assert snake_case("") == "" and snake_case("价格") == "" and snake_case("$$") == ""
    assert snake_case("a_") == "a" and snake_case("_a") == "a"


@given(st.lists(st.text(alphabet="aAzZ09_$ .-é", max_size=6), min_size=1, max_size=4))
def test_keys_named_one_by_one_give_go_snakecase_of_the_joined_path(keys):
    """Flattening names each key and joins with "_": the same as go-snakecase on the joined path."""
    named = [snake_case(k) for k in keys]
    assert "_".join(n for n in named if n) == snake_case("_".join(keys))


def test_digit_prefix_reserved_prefix_and_fallback_names():
    assert column_name(["2FA Enabled"]) == "_2fa_enabled"
    assert column_name(["_5TEst"]) == "_5test"
    assert column_name(["address", "zipCode"]) == "address_zip_code"
    reserved = {"id", "user_id", "timestamp"}
    assert column_name(["id"], reserved) == "_id"
    assert column_name(["userId"], reserved) == "_user_id"
    assert column_name(["context", "ip"], reserved) == "_context_ip"  # context_* belongs to the message
    assert column_name(["contextual"], reserved) == "contextual"
    # a key with no ASCII letter or digit still gets a column: x + 8 hex digits of its SHA-1, stable
    han = column_name(["价格"])
    assert han.startswith("x") and len(han) == 9 and han == column_name(["价格"]) != column_name(["数量"])
    assert column_name(["price", "价格"]).startswith("price_x")


def test_event_tables_avoid_built_in_names_and_start_with_a_letter_or_underscore():
    assert event_table("Order Completed") == "order_completed"
    assert event_table("Tracks") == "_tracks" and event_table("users") == "_users"
    assert event_table("CDP Discards") == "_cdp_discards" and event_table("cdp replay checkpoints").startswith("_")
    assert event_table("2FA Enabled") == "_2fa_enabled"
    assert event_table("注文完了").startswith("x") and event_table("注文完了") == event_table("注文完了")


def test_identifiers_beyond_63_bytes_keep_a_prefix_and_a_digest():
    long_a = "a" * 70 + "_one"
    long_b = "a" * 70 + "_two"
    assert truncate_identifier("a" * 63) == "a" * 63
    ta, tb = truncate_identifier(long_a), truncate_identifier(long_b)
    assert len(ta) == MAX_IDENTIFIER == len(tb) and ta != tb and ta.startswith("a" * 54 + "_")
    assert ta == truncate_identifier(long_a)  # deterministic across runs
    assert len(column_name(["x" * 100])) == MAX_IDENTIFIER and len(event_table("Y" * 100)) == MAX_IDENTIFIER


# --- rows -----------------------------------------------------------------------------------------------
def _track(**over):
    message = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "m1",
        "userId": "u1",
        "anonymousId": "a1",
        "timestamp": "2026-11-01T10:00:00.000Z",
        "originalTimestamp": "2026-11-01T09:59:58.000Z",
        "sentAt": "2026-11-01T10:00:01.000Z",
        "receivedAt": "2026-11-01T10:00:02.000Z",
        "context": {"app": {"version": "1.2"}, "ip": "203.0.113.9", "userAgent": "UA", "traits": {"plan": "pro"}},
        "properties": {
            "revenue": 25.5,
            "orderId": "o1",
            "products": [{"sku": "s1"}],
            "shipping": {"method": "post", "cost": 4},
            "coupon": None,
            "id": "property id",
            "event": "property event",
            "context": {"ip": "spoofed"},
            "note": "a\x00b",
        },
    }
    message.update(over)
    return message


def test_a_track_goes_to_tracks_with_common_columns_and_to_its_event_table_with_properties():
    rows = rows_for(_track())
    assert [t for t, _ in rows] == ["tracks", "order_completed"] and table_for(_track()) == "order_completed"
    tracks, event = rows[0][1], rows[1][1]
    common = {
        "id": "m1",
        "anonymous_id": "a1",
        "user_id": "u1",
        "received_at": "2026-11-01T10:00:02.000Z",
        "sent_at": "2026-11-01T10:00:01.000Z",
        "timestamp": "2026-11-01T10:00:00.000Z",
        "original_timestamp": "2026-11-01T09:59:58.000Z",
        "context_app_version": "1.2",
        "context_ip": "203.0.113.9",
        "context_user_agent": "UA",
        "context_traits_plan": "pro",
        "event": "order_completed",
        "event_text": "Order Completed",
    }
    assert tracks == common  # common columns only; uuid_ts is the loader's
    assert event == {
        **common,
        "revenue": 25.5,
        "order_id": "o1",
        "products": '[{"sku":"s1"}]',  # arrays as JSON text
        "shipping_method": "post",
        "shipping_cost": 4,
        "_id": "property id",  # reserved names get a "_" prefix: the value is kept
        "_event": "property event",
        "_context_ip": "spoofed",
        "note": "ab",  # PostgreSQL text cannot hold NUL
    }  # "coupon": null creates no column


def test_a_track_without_event_name_goes_to_tracks_only():
    assert [t for t, _ in rows_for(_track(event=None))] == ["tracks"]
    assert table_for(_track(event="")) == "tracks"


def test_the_other_types_get_their_tables_and_columns():
    base = {"messageId": "m", "userId": "u", "receivedAt": "2026-11-01T00:00:00Z"}
    identify = {**base, "type": "identify", "traits": {"email": "e@x", "userId": "u-trait", "address": {"city": "B"}}}
    assert rows_for(identify) == [
        ("identifies", {"id": "m", "user_id": "u", "received_at": base["receivedAt"], "email": "e@x",
                        "_user_id": "u-trait", "address_city": "B"}),
    ]  # fmt: skip
    page = {**base, "type": "page", "name": "Home", "category": "Docs", "properties": {"url": "/", "name": "p"}}
    assert rows_for(page)[0] == (
        "pages", {"id": "m", "user_id": "u", "received_at": base["receivedAt"], "name": "Home", "category": "Docs",
                  "url": "/", "_name": "p"},
    )  # fmt: skip
    screen = {**base, "type": "screen", "name": "Cart", "properties": {"items": 2}}
    assert rows_for(screen)[0][0] == "screens" and rows_for(screen)[0][1]["items"] == 2
    group = {**base, "type": "group", "groupId": "g1", "traits": {"plan": "team", "groupId": "x"}}
    assert rows_for(group)[0] == (
        "groups", {"id": "m", "user_id": "u", "received_at": base["receivedAt"], "group_id": "g1", "plan": "team",
                   "_group_id": "x"},
    )  # fmt: skip
    alias = {**base, "type": "alias", "previousId": "anon-1"}
    assert rows_for(alias) == [("aliases", {**rows_for(alias)[0][1], "previous_id": "anon-1"})]
    assert [table_for(m) for m in (identify, page, screen, group, alias)] == [
        "identifies", "pages", "screens", "groups", "aliases"
    ]  # fmt: skip


def test_unloadable_messages_say_why_and_a_runner_message_id_is_used():
    with pytest.raises(Unloadable, match="messageId"):
        rows_for({"type": "track", "event": "E"})
    with pytest.raises(Unloadable, match="'extract'"):
        rows_for({"type": "extract", "messageId": "m"})
    m = Message(position=0, file="f", line=1, message_id="runner-id", data={"type": "track", "event": "E"}, size=1)
    assert rows_for(m)[0][1]["id"] == "runner-id"
    assert rows_for({"type": "Track", "messageId": 7, "event": "E"})[0][1]["id"] == "7"


# --- types ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "boolean"),
        (1, "bigint"),
        (2**63, "numeric"),
        (1.5, "numeric"),
        ("2026-11-01", "timestamptz"),
        ("2026-11-01T10:00:00Z", "timestamptz"),
        ("2026-11-01T10:00:00.123456+02:00", "timestamptz"),
        ("2026-11-01 10:00+0200", "timestamptz"),
        ("2026-11-01T10:00:00", "text"),  # no zone: ambiguous, stays text
        ("2026-02-30", "text"),  # not a real date
        ("2026-11-01T24:00:00Z", "text"),
        ("20261101", "text"),
        ("hello", "text"),
        ([1], "jsonb"),
        ({"a": 1}, "jsonb"),
    ],
)
def test_infer_type(value, expected):
    assert infer_type(value) == expected


def test_infer_type_of_null_is_an_error_and_timestamps_parse():
    with pytest.raises(ValueError):
        infer_type(None)
    assert parse_timestamp("2026-11-01").isoformat() == "2026-11-01T00:00:00+00:00"
    assert parse_timestamp("2026-11-01T10:00:00+02:00").utcoffset().total_seconds() == 7200
    assert parse_timestamp("soon") is None and not is_timestamp("2026-11-01T10:00:00.000")


def test_coerce_lets_the_columns_type_win():
    assert coerce(3, "numeric") == (True, 3)
    assert coerce(True, "text") == (True, "true") and coerce(1.5, "text") == (True, "1.5")
    assert coerce(3, "text") == (True, "3") and coerce("2026-11-01", "text") == (True, "2026-11-01")
    for value, column in [("abc", "bigint"), (1.5, "bigint"), (True, "bigint"), ("x", "timestamptz"),
                          (1, "boolean"), ("1", "numeric"), ("x", "jsonb")]:  # fmt: skip
        assert coerce(value, column) == (False, None), (value, column)


def test_fit_rows_adds_columns_by_first_value_and_discards_conflicts():
    rows = [
        {"id": "m1", "received_at": "2026-11-01T00:00:00Z", "revenue": 10, "note": "n", "when": "2026-11-01"},
        {"id": "m2", "received_at": "2026-11-02T00:00:00Z", "revenue": "lots", "note": 5, "when": "later"},
        {"id": "m3", "revenue": 2**64, "timestamp": "yesterday"},
    ]
    added, discards = fit_rows("order_completed", rows, {"note": "text"})
    assert added == {"revenue": "bigint", "when": "timestamptz"}  # fixed and existing columns are not added
    assert rows[1] == {"id": "m2", "received_at": "2026-11-02T00:00:00Z", "note": "5"}  # number into text
    assert "revenue" not in rows[2] and "timestamp" not in rows[2]
    assert discards == [
        Discard("order_completed", "m2", "revenue", "lots", "text value in bigint column", "2026-11-02T00:00:00Z"),
        Discard("order_completed", "m2", "when", "later", "text value in timestamptz column", "2026-11-02T00:00:00Z"),
        Discard("order_completed", "m3", "revenue", str(2**64), "numeric value in bigint column", None),
        Discard("order_completed", "m3", "timestamp", "yesterday", "text value in timestamptz column", None),
    ]
    rows = [{"id": "a", "price": 1.5}, {"id": "b", "price": 2}]
    assert fit_rows("t", rows, {})[0] == {"price": "numeric"} and rows[1]["price"] == 2  # int into numeric


def test_fit_rows_refuses_columns_beyond_the_limit():
    rows = [{"id": "m", **{f"p{i}": i for i in range(20)}}]
    added, discards = fit_rows("wide", rows, {}, max_columns=15)
    assert len(added) == 15 - 10  # the 10 base columns of an event table count
    assert {d.column for d in discards} == {f"p{i}" for i in range(5, 20)}
    assert all("15 columns" in d.reason for d in discards)


_ODD = ["2026-11-01T10:00:00.000Z", "2026-11-01", "2026-02-29T10:00:00.000Z", "2024-02-29T10:00:00.000Z",
        "0000-01-01T00:00:00.000Z", "2026-11-01T24:00:00.000Z", "2026-11-01T10:00:00.000Z\n2026-11-01T10:00:00.000Z",
        "x", "", 0, 7, -(2**63), 2**63, 2**64, 1.5, True, False, None, [1], {"a": 1}]  # fmt: skip
_VALUES = st.one_of(
    st.sampled_from(_ODD),
    st.text("0123456789-T:.Z x", min_size=20, max_size=26),  # near-timestamps
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
)
_KEYS = st.sampled_from(["a", "b", "c", "received_at", "timestamp", "event"])
_TYPES = st.sampled_from(["text", "bigint", "numeric", "boolean", "timestamptz", "jsonb", "int4range"])


@given(
    st.lists(st.dictionaries(_KEYS, _VALUES), max_size=12), st.dictionaries(st.sampled_from(["a", "b", "c"]), _TYPES)
)
def test_fit_columns_decides_each_value_as_the_row_by_row_fit_does(rows, columns):
    rows = [{"id": f"m{i}", **row} for i, row in enumerate(rows)]
    by_row = [dict(row) for row in rows]
    try:
        expected = _fit_by_row("t", by_row, {**base_columns("t"), **columns}, 10**6)
    except ValueError:  # a new column whose first value is null: both refuse it
        with pytest.raises(ValueError):
            fit_columns("t", rows, columns)
        return
    added, discards, values = fit_columns("t", rows, columns)
    assert (added, discards) == expected
    assert [list(row.items()) for row in rows] == [list(row.items()) for row in by_row]
    assert values.keys() == {c for row in rows for c in row}
    for column, column_values in values.items():  # each row's value as fitted, MISSING where it has none
        assert all(v is row.get(column, MISSING) for v, row in zip(column_values, rows, strict=True))


# --- users ----------------------------------------------------------------------------------------------
def test_users_take_the_latest_non_null_trait_by_timestamp_then_received_at():
    identifies = [
        {"id": "i2", "user_id": "u1", "timestamp": "2026-11-02T00:00:00Z", "received_at": "2026-11-02T00:00:01Z",
         "plan": "pro", "context_ip": "1.1.1.1", "anonymous_id": "a1"},
        {"id": "i1", "user_id": "u1", "timestamp": "2026-11-01T00:00:00Z", "received_at": "2026-11-05T00:00:00Z",
         "plan": "free", "name": "Ann"},
        {"id": "i3", "user_id": "u1", "timestamp": "2026-11-02T00:00:00Z", "received_at": "2026-11-03T00:00:00Z",
         "email": "ann@x", "plan": None},
        {"id": "i4", "anonymous_id": "a9", "plan": "anon"},
        {"id": "i5", "user_id": 42, "plan": "numeric user"},
    ]  # fmt: skip
    users = {u["id"]: u for u in users_rows(identifies)}
    assert users == {
        "u1": {"id": "u1", "received_at": "2026-11-03T00:00:00Z", "plan": "pro", "name": "Ann", "email": "ann@x"},
        "42": {"id": "42", "plan": "numeric user"},
    }
    assert trait_columns(["id", "user_id", "context_ip", "plan", "_id", "uuid_ts"]) == ["plan", "_id"]
