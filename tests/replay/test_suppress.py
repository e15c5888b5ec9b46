"""``--suppress FILE`` (cdp_cli/replay/suppress.py): user ids and typed identifiers, normalised as identity
resolution normalises them, comments, bad lines at FILE:LINE, and expansion to whole profiles with a
real ``cdp profiles resolve`` output."""

from __future__ import annotations

import json
import pickle
import textwrap
from pathlib import Path

import pytest

from cdp_cli.errors import ConfigError, InputError
from cdp_cli.replay.suppress import Suppressions, load_suppressions


def write(tmp_path: Path, text: str, name: str = "suppress.txt") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, **kw) -> Suppressions:
    return load_suppressions(write(tmp_path, text), **kw)


def problems(tmp_path: Path, text: str, **kw) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, text, **kw)
    prefix = f"{tmp_path / 'suppress.txt'}:"
    lines = str(e.value).splitlines()
    assert e.value.problems == lines and all(line.startswith(prefix) for line in lines)
    return [line.removeprefix(prefix) for line in lines]


def track(**ids) -> dict:
    return {"type": "track", "event": "Order Completed", "messageId": "m1", **ids}


def test_bare_lines_are_user_ids_and_comments_and_blank_lines_are_skipped(tmp_path):
    s = load(
        tmp_path,
        """
        # people who asked to be forgotten

          u-1001
        user_id:u-1002
        u#3
        \t
        """,
    )
    assert s.summary() == {"identifiers": 3, "profiles": 0, "expanded_identifiers": 0}
    assert s.match(track(userId="u-1001")) == "user_id"
    assert s.match(track(userId=" u-1002 ")) == "user_id"  # trimmed, as identity resolution does
    assert s.match(track(userId="u#3")) == "user_id"  # a # inside a line is part of the value
    assert s.match(track(userId="U-1001")) is None  # user ids keep their case
    assert s.match(track(userId="u-1003", anonymousId="u-1001")) is None  # a bare line is a user id only
    assert s.match(track(anonymousId="a1")) is None


def test_typed_identifiers_are_normalised_like_identity_resolution(tmp_path):
    s = load(
        tmp_path,
        """
        email: Ada@Example.COM
        anonymous_id:0b7c9e44
        ios.id:AEBE52E7
        phone:+14155550100
        user_id:42
        user_id:auth0|abc:def
        group_id:acme
        """,
    )
    assert s.identifiers == 7
    # emails: trimmed and lower-cased on both sides; read from traits and context.traits
    assert s.match({"type": "identify", "userId": "x", "traits": {"email": "ADA@example.com "}}) == "email"
    assert s.match(track(userId="x", context={"traits": {"email": "ada@example.com"}})) == "email"
    assert s.match(track(anonymousId="0b7c9e44")) == "anonymous_id"
    assert s.match(track(anonymousId="0B7C9E44")) is None
    # a device id is an ios.id only on an iOS device, as identity resolution reads it
    ios = {"device": {"id": "AEBE52E7", "type": "ios"}}
    assert s.match(track(anonymousId="a", context=ios)) == "ios.id"
    assert s.match(track(anonymousId="a", context={"device": {"id": "AEBE52E7", "type": "android"}})) is None
    assert s.match({"type": "identify", "userId": "x", "traits": {"phone": "+14155550100"}}) == "phone"
    assert s.match(track(userId=42)) == "user_id"  # numbers are their decimal text
    assert s.match(track(userId="auth0|abc:def")) == "user_id"
    assert s.match({"type": "group", "userId": "x", "groupId": "acme"}) == "group_id"  # a whole account


def test_the_reason_is_the_type_never_the_value(tmp_path):
    s = load(tmp_path, "email:ada@example.com\nsecret-user\n")
    reason = s.match({"type": "identify", "userId": "secret-user", "traits": {"email": "ada@example.com"}})
    assert reason == "user_id"  # identifiers are checked in identity priority order
    assert "secret" not in repr(s) and "ada" not in repr(s)


def test_an_alias_previous_id_is_a_user_id(tmp_path):
    s = load(tmp_path, "u-old\n")
    assert s.match({"type": "alias", "userId": "u-new", "previousId": "u-old"}) == "user_id"
    assert s.match({"type": "alias", "userId": "u-new", "previousId": "u-other"}) is None
    assert s.match({"type": "track", "userId": "u-new", "previousId": "u-old"}) is None  # only alias calls


def test_context_external_ids_and_custom_types(tmp_path):
    identity = write(
        tmp_path,
        """
        identifiers:
          crm_id: {paths: [properties.crm_id, traits.crm_id]}
        """,
        name="identity.yaml",
    )
    s = load(tmp_path, "crm_id:C-1\n", identity=identity)
    assert s.match(track(userId="x", properties={"crm_id": "C-1"})) == "crm_id"
    assert s.match(track(userId="x", context={"externalIds": [{"id": "C-1", "type": "crm_id"}]})) == "crm_id"
    assert s.match(track(userId="x", properties={"crm_id": "C-2"})) is None


def test_bad_lines_are_reported_at_file_and_line_all_at_once(tmp_path):
    assert problems(
        tmp_path,
        f"""
        # a comment
        emial:ada@example.com
        urn:isbn:123
        user_id:
        email:   \n
        null
        anonymous_id:anonymous
        user_id:000000
        {"x" * 300}
        EMAIL:ada@example.com
        """,
    ) == [
        "2: unknown identifier type 'emial'; did you mean 'email'? known types: android.id, android.idfa, "
        "android.push_token, anonymous_id, email, ga_client_id, group_id, ios.id, ios.idfa, ios.push_token, phone, "
        "user_id (a user id holding ':' is written user_id:VALUE)",
        "3: unknown identifier type 'urn'; known types: android.id, android.idfa, android.push_token, anonymous_id, "
        "email, ga_client_id, group_id, ios.id, ios.idfa, ios.push_token, phone, user_id "
        "(a user id holding ':' is written user_id:VALUE)",
        "4: no value after 'user_id:'",
        "5: no value after 'email:'",
        "7: this user_id can never match: identity resolution ignores it as a placeholder (blocked: null)",
        "8: this anonymous_id can never match: identity resolution ignores it as a placeholder (blocked: anonymous)",
        "9: this user_id can never match: identity resolution ignores it as a placeholder (blocked: regex ^[0-]*$)",
        "10: this user_id can never match: identity resolution ignores values longer than 256 characters",
        "11: unknown identifier type 'EMAIL'; did you mean 'email'? known types: android.id, android.idfa, "
        "android.push_token, anonymous_id, email, ga_client_id, group_id, ios.id, ios.idfa, ios.push_token, phone, "
        "user_id (a user id holding ':' is written user_id:VALUE)",
    ]


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.txt: suppression file not found$"):
        load_suppressions(tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"u1\nu2\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"bad\.txt:3: not UTF-8 text$"):
        load_suppressions(bad)
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffu1\r\nu2\r\n".encode())
    s = load_suppressions(bom)
    assert s.match(track(userId="u1")) == s.match(track(userId="u2")) == "user_id"


def test_an_empty_file_suppresses_nothing(tmp_path):
    s = load(tmp_path, "# nobody yet\n")
    assert len(s) == 0 and s.match(track(userId="u1")) is None


# --- expansion to resolved profiles ---------------------------------------------------------------


def _msg(n: int, kind: str, **fields) -> dict:
    base = {"type": kind, "messageId": f"m{n}", "timestamp": f"2026-10-01T00:{n:02d}:00Z"}
    if kind == "track":
        base["event"] = "Page Scrolled"
    return {**base, **fields}


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> Path:
    """A real ``cdp profiles resolve`` output: Ada (u1: two devices, an email, a CRM id sent in
    context.externalIds), Bob (u2) and an anonymous visitor (a9)."""
    from cdp_cli.api import resolve_profiles

    base = tmp_path_factory.mktemp("profiles")
    messages = [
        _msg(1, "track", anonymousId="a1"),
        _msg(2, "identify", anonymousId="a1", userId="u1", traits={"email": "Ada@Example.com"}),
        _msg(3, "track", anonymousId="a2", userId="u1"),
        _msg(4, "track", userId="u1", context={"externalIds": [{"id": "C-1", "type": "crm_id", "encoding": "none"}]}),
        _msg(5, "identify", anonymousId="b1", userId="u2", traits={"email": "bob@example.com"}),
        _msg(6, "track", anonymousId="a9"),
    ]
    log = base / "events.ndjson"
    log.write_text("".join(json.dumps(m) + "\n" for m in messages), encoding="utf-8")
    resolve_profiles([log], base / "out")
    return base / "out"


def test_profile_expansion_suppresses_every_identifier_of_the_profile(tmp_path, profiles):
    s = load(tmp_path, "email:ADA@example.com\n", profiles_dir=profiles)
    assert s.summary() == {"identifiers": 1, "profiles": 1, "expanded_identifiers": 4}
    assert s.expanded == {
        "user_id": frozenset({"u1"}),
        "anonymous_id": frozenset({"a1", "a2"}),
        "crm_id": frozenset({"C-1"}),
    }
    assert s.match({"type": "identify", "userId": "x", "traits": {"email": "ada@example.com"}}) == "email"
    assert s.match(track(anonymousId="a2")) == "profile:anonymous_id"  # only the profile links it
    assert s.match(track(userId="u1")) == "profile:user_id"
    assert s.match(track(userId="x", context={"externalIds": [{"id": "C-1", "type": "crm_id"}]})) == "profile:crm_id"
    assert s.match(track(anonymousId="a9", traits={"email": "ada@example.com"})) == "email"  # wherever it is read
    for other in (track(userId="u2"), track(anonymousId="b1"), track(anonymousId="a9")):
        assert s.match(other) is None
    # without the profiles directory, only the identifier named
    assert load(tmp_path, "email:ada@example.com\n").match(track(anonymousId="a2")) is None


def test_types_the_resolve_saw_are_known_with_its_directory(tmp_path, profiles):
    assert problems(tmp_path, "crm_id:C-1\n")[0].startswith("1: unknown identifier type 'crm_id'")
    s = load(tmp_path, "crm_id:C-1\nu2\nnobody\n", profiles_dir=profiles)
    assert s.profiles == 2 and s.identifiers == 3
    assert s.match(track(userId="x", context={"externalIds": [{"id": "C-1", "type": "crm_id"}]})) == "crm_id"
    assert s.match(track(anonymousId="a1")) == "profile:anonymous_id"
    assert s.match(track(anonymousId="b1")) == "profile:anonymous_id"
    assert s.match(track(anonymousId="a9")) is None


def test_suppressions_pickle_for_worker_processes(tmp_path, profiles):
    s = load(tmp_path, "u1\n", profiles_dir=profiles)
    again = pickle.loads(pickle.dumps(s))
    assert again.match(track(anonymousId="a2")) == s.match(track(anonymousId="a2")) == "profile:anonymous_id"


def test_a_directory_that_is_not_a_resolve_output_is_refused(tmp_path, profiles):
    with pytest.raises(InputError, match=r"not a profiles directory \(no manifest\.json\); run `cdp profiles resolve"):
        load(tmp_path, "u1\n", profiles_dir=tmp_path)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"cdp": "profiles", "format_version": -1}')
    with pytest.raises(InputError, match=r"incompatible version of cdp; resolve again$"):
        load(tmp_path, "u1\n", profiles_dir=foreign)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "manifest.json").write_text((profiles / "manifest.json").read_text())
    (damaged / "identities.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"identities\.parquet: unreadable"):
        load(tmp_path, "u1\n", profiles_dir=damaged)
