"""The Segment message model helpers every command uses."""

from __future__ import annotations

from datetime import UTC, datetime

from cdp_cli.events.model import (
    display_name,
    effective_timestamp,
    event_name,
    get_str,
    identifiers,
    message_type,
    payload,
    present,
    to_utc,
    traits,
)


def test_null_empty_and_blank_are_absent_numbers_are_strings():
    assert not present(None) and not present("") and not present("  ") and present("0") and present(0)
    msg = {"userId": None, "anonymousId": " a1 ", "groupId": 42, "previousId": True, "x": 4.0}
    assert get_str(msg, "userId") is None and get_str(msg, "groupId") == "42" and get_str(msg, "previousId") is None
    assert get_str(msg, "x") == "4"
    assert identifiers(msg) == {"anonymousId": " a1 ", "groupId": "42"}


def test_names_types_and_payloads():
    assert event_name({"type": "track", "event": "Order Completed"}) == "Order Completed"
    assert event_name({"type": "page", "properties": {"name": "Home"}}) == "Home"
    assert event_name({"type": "identify"}) is None
    assert display_name({"type": "page", "name": "Home"}) == "Page Viewed: Home"
    assert display_name({"type": "screen"}) == "Screen Viewed"
    assert message_type({"type": "Track"}) is None
    assert payload({"type": "track", "properties": "x"}) is None
    assert payload({"type": "group", "traits": {"a": 1}}) == {"a": 1}


def test_traits_merge_context_traits_top_level_wins():
    msg = {"traits": {"email": "new@example.com"}, "context": {"traits": {"email": "old@example.com", "plan": "pro"}}}
    assert traits(msg) == {"email": "new@example.com", "plan": "pro"}


def test_effective_timestamp_follows_segment():
    utc = UTC
    assert effective_timestamp({"timestamp": "2026-11-20T10:00:00+02:00"}) == datetime(2026, 11, 20, 8, tzinfo=utc)
    # no timestamp: receivedAt - (sentAt - originalTimestamp), correcting a device clock 1h fast
    msg = {
        "originalTimestamp": "2026-11-20T11:00:00Z",
        "sentAt": "2026-11-20T11:00:05Z",
        "receivedAt": "2026-11-20T10:00:06Z",
    }
    assert effective_timestamp(msg) == datetime(2026, 11, 20, 10, 0, 1, tzinfo=utc)
    assert effective_timestamp({"receivedAt": "2026-11-20T10:00:00"}) == datetime(2026, 11, 20, 10, tzinfo=utc)
    assert effective_timestamp({"timestamp": 1700000000}) is None


def test_effective_timestamp_survives_clocks_outside_the_calendar():
    """Hostile clocks used to stop `profiles resolve` with OverflowError: a time in year 0 once in UTC
    is absent, and a skew correction past year 9999 is not applied."""
    assert effective_timestamp({"timestamp": "0001-01-01T00:00:00+05:00"}) is None
    assert effective_timestamp(
        {"timestamp": "0001-01-01T00:00:00+05:00", "receivedAt": "2026-11-20T10:00:00Z"}
    ) == datetime(2026, 11, 20, 10, tzinfo=UTC)
    msg = {
        "receivedAt": "9999-12-31T00:00:00Z",
        "sentAt": "0001-01-01T00:00:00Z",
        "originalTimestamp": "9999-12-31T00:00:00Z",
    }
    assert effective_timestamp(msg) == datetime(9999, 12, 31, tzinfo=UTC)  # originalTimestamp
    assert effective_timestamp({"timestamp": "9999-12-31T23:59:59-01:00"}) is None
    assert to_utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
