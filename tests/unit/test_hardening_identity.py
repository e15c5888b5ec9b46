"""Regressions for `cdp profiles`: each test failed before its fix. Checked as a user would: the CLI
run in a subprocess, its Parquet outputs read back with pyarrow."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cdp_cli.errors import UsageError
from cdp_cli.identity.config import build_config
from cdp_cli.identity.extract import Extractor
from cdp_cli.identity.graph import Graph
from cdp_cli.identity.resolve import check_memory_limit, parse_memory_limit, resolve
from tests.conftest import ROOT, run_cdp

JOURNEYS = "samples/identity"
README_IDENTITY = """\
version: 1
identifiers:
  anonymous_id: {limit: 5, window: weekly}
  email: {limit: 5, window: annually}
  crm_id:
    paths: [properties.crm_id, context.traits.crm_id]
    limit: 1
    priority: 3
    blocked: [{regex: "^test-"}]
  ios.idfa: {enabled: false}
blocked: [void, abc123]
alias: link
numbers: normalize
max_length: 256
super_profile: 50
external_ids: {enabled: true, limit: 5}
"""


def ndjson(path: Path, messages: list[dict]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in messages), encoding="utf-8")
    return path


def rows(out: Path, name: str) -> list[dict]:
    return pq.read_table(out / f"{name}.parquet").to_pylist()


def ext(type_name: str, value: str, collection: str = "users") -> dict:
    return {"id": value, "type": type_name, "collection": collection, "encoding": "none"}


# --- 1. context.externalIds types that appear at run time ----------------------------------------


def test_graph_gives_a_type_added_at_run_time_its_per_type_state():
    extractor = Extractor(build_config({}))
    g = Graph(extractor.types)
    u = g.code((extractor.index["user_id"], "u1"))
    assert g.process(0, 1, [u]) == 0
    h = g.code((extractor.type_index("hubspot"), "h-1"))  # a type the graph has not seen yet
    assert g.process(1, 2, [h, u]) == 0
    assert g.profile_identifiers(0) == {"user_id": ["u1"], "hubspot": ["h-1"]}
    z = g.code_key("zendesk\x1fz-1", extractor.type_index)  # staged by name, as the resolver interns them
    assert g.process(2, 3, [z]) == 1 and g.profile_identifiers(1) == {"zendesk": ["z-1"]}


def _external_log(tmp_path: Path, n: int) -> Path:
    """``n`` messages; new external types first appear at the start, in the middle and near the end
    (so in different worker tasks with --jobs 2: a task is 10,000 lines)."""
    msgs = []
    for i in range(n):
        m: dict = {
            "type": "track",
            "event": "E",
            "messageId": f"m-{i}",
            "anonymousId": f"a-{i % 500}",
            "timestamp": f"2024-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        }
        if i == 3:
            m["context"] = {"externalIds": [ext("hubspot", "h-1")]}
        elif i == n // 2:
            m["context"] = {
                "externalIds": [ext("zendesk", "z-1"), ext("hubspot", "h-1"), ext("salesforce", "acct", "accounts")]
            }
        elif i == n - 5:
            m["context"] = {"externalIds": [ext("stripe", "cus_1"), ext("intercom", "ic-9")]}
            m["userId"] = "u-late"
        msgs.append(m)
    return ndjson(tmp_path / "ext.ndjson", msgs)


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("identity", [None, "readme"])
def test_external_ids_of_new_types_resolve(tmp_path, jobs, identity):
    log = _external_log(tmp_path, 25_000)
    args = ["profiles", "resolve", str(log), "--out", str(tmp_path / "out"), "--jobs", jobs, "--format", "json"]
    if identity:
        cfg = tmp_path / "identity.yaml"
        cfg.write_text(README_IDENTITY)
        args += ["--identity", str(cfg)]
    r = run_cdp(*args)
    assert r.returncode == 0, r.stderr
    assert "internal error" not in r.stderr
    doc = json.loads(r.stdout)
    assert doc["events"] == 25_000 and doc["identifiers_report"]["external_accounts_ignored"] == 1
    out = tmp_path / "out"
    ids = {(i["type"], i["value"]): i["profile_id"] for i in rows(out, "identities")}
    for key in [("hubspot", "h-1"), ("zendesk", "z-1"), ("stripe", "cus_1"), ("intercom", "ic-9")]:
        assert key in ids, key
    assert ("salesforce", "acct") not in ids  # an account, not a person
    # h-1 first came with a-3, then with a-(n/2 % 500) and z-1: one profile holds them all
    assert (
        ids[("hubspot", "h-1")]
        == ids[("zendesk", "z-1")]
        == ids[("anonymous_id", "a-3")]
        == ids[("anonymous_id", "a-0")]
    )
    assert ids[("stripe", "cus_1")] == ids[("user_id", "u-late")] == ids[("intercom", "ic-9")]
    profiles = {p["profile_id"]: dict(p["identifiers"]) for p in rows(out, "profiles")}
    assert profiles[ids[("hubspot", "h-1")]]["zendesk"] == ["z-1"]
    assert profiles[ids[("stripe", "cus_1")]]["stripe"] == ["cus_1"]
    manifest = json.loads((out / "manifest.json").read_text())
    external = {t["name"] for t in manifest["identity"]["types"] if t["external"]}
    assert external == {"hubspot", "zendesk", "stripe", "intercom"}


def test_external_types_have_a_limit_only_when_limits_apply(tmp_path):
    log = ndjson(
        tmp_path / "e.ndjson",
        [
            {
                "type": "track",
                "event": "E",
                "messageId": "m",
                "userId": "u",
                "context": {"externalIds": [ext("hubspot", "h")]},
            }
        ],
    )
    resolve([log], tmp_path / "u", unrestricted=True)
    types = {t["name"]: t for t in json.loads((tmp_path / "u" / "manifest.json").read_text())["identity"]["types"]}
    assert types["hubspot"]["limit"] is None  # not "0": unrestricted mode has no limits


# --- 2. duplicate messageIds ---------------------------------------------------------------------


def _dup_files(tmp_path: Path) -> tuple[Path, Path]:
    a = ndjson(
        tmp_path / "a.ndjson",
        [
            {"type": "track", "event": "A", "messageId": "m1", "userId": "u1", "timestamp": "2024-01-01T00:00:00Z"},
            {"type": "track", "event": "B", "messageId": "m2", "userId": "u2", "timestamp": "2024-01-01T00:01:00Z"},
            {"type": "track", "event": "C", "messageId": "m3", "userId": "u3", "timestamp": "2024-01-01T00:02:00Z"},
            {"type": "track", "event": "NoId", "userId": "u1", "timestamp": "2024-01-01T00:03:00Z"},
        ],
    )
    b = ndjson(
        tmp_path / "b.ndjson",
        [
            # the same messageIds: copies of m1 and m3; m2 later (a retry) carrying an email that would merge u1 and u2
            {"type": "track", "event": "A", "messageId": "m1", "userId": "u1", "timestamp": "2024-01-01T00:00:00Z"},
            {
                "type": "identify",
                "messageId": "m2",
                "userId": "u1",
                "timestamp": "2024-01-01T00:05:00Z",
                "traits": {"email": "x@example.com"},
            },
            {"type": "track", "event": "C", "messageId": "m3", "userId": "u3", "timestamp": "2024-01-01T00:02:00Z"},
            {
                "type": "track",
                "event": "NoId",
                "userId": "u1",
                "timestamp": "2024-01-01T00:03:00Z",
            },  # never deduplicated
        ],
    )
    return a, b


def test_duplicate_message_ids_count_once(tmp_path):
    a, b = _dup_files(tmp_path)
    out = tmp_path / "out"
    r = run_cdp("profiles", "resolve", str(a), str(b), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "5 events (3 duplicates dropped) -> 3 profiles, 0 merges, 0 refused merges" in r.stdout
    events = rows(out, "events")
    assert len(events) == 5
    assert sorted(e["message_id"] or "-" for e in events) == ["-", "-", "m1", "m2", "m3"]
    m2 = next(e for e in events if e["message_id"] == "m2")
    assert m2["type"] == "track" and m2["file"].endswith("a.ndjson")  # the first copy in resolution order
    ids = {(i["type"], i["value"]) for i in rows(out, "identities")}
    assert ("email", "x@example.com") not in ids  # the dropped copy fed nothing
    assert sum(p["event_count"] for p in rows(out, "profiles")) == 5
    assert json.loads((out / "manifest.json").read_text())["counts"]["duplicates_dropped"] == 3

    doc = json.loads(
        run_cdp("profiles", "resolve", str(a), str(b), "--out", str(tmp_path / "j"), "--format", "json").stdout
    )
    assert (doc["events"], doc["duplicates_dropped"]) == (5, 3)
    r = run_cdp("profiles", "show", "user_id:u1", "--profiles", str(out))
    assert r.returncode == 0 and "3 events," in r.stdout  # m1 once, and both messages without a messageId


def test_duplicate_dropping_is_deterministic(tmp_path):
    a, b = _dup_files(tmp_path)
    # the same message, byte for byte, in both files: which copy (file, line) is kept must not depend on order
    same = {"type": "track", "event": "S", "messageId": "m9", "userId": "u9", "timestamp": "2024-01-01T00:09:00Z"}
    with a.open("a") as f:
        f.write(json.dumps(same) + "\n")
    with b.open("a") as f:
        f.write(json.dumps(same) + "\n")

    def run(*args: str) -> tuple:
        out = tmp_path / f"o{len(list(tmp_path.iterdir()))}"
        r = run_cdp("profiles", "resolve", *args, "--out", str(out), "-q")
        assert r.returncode == 0, r.stderr
        ev = sorted(
            (e["message_id"] or "", e["profile_id"], e["file"], e["line"], e["type"]) for e in rows(out, "events")
        )
        prof = sorted((p["profile_id"], p["event_count"], p["traits"]) for p in rows(out, "profiles"))
        return ev, prof

    first = run(str(a), str(b))
    assert run(str(b), str(a)) == first
    assert run(str(b), str(a), "--jobs", "2") == first
    m9 = [e for e in first[0] if e[0] == "m9"]
    assert len(m9) == 1 and m9[0][2].endswith("a.ndjson")


# --- 3. --memory-limit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,bytes_",
    [
        ("512MB", 512 * 10**6),
        ("2GB", 2 * 10**9),
        ("1.5GiB", 3 * 2**29),
        ("800MiB", 800 * 2**20),
        ("2gb", 2 * 10**9),
        ("128MB", 128 * 10**6),
        (" 1TB ", 10**12),
        ("131072KiB", 2**27),
    ],
)
def test_memory_limit_forms(text, bytes_):
    assert parse_memory_limit(text) == bytes_


@pytest.mark.parametrize("text", ["lots", "-1GB", "0", "0MB", "1KB", "64MB", "12", "GB", "1e3MB", "5 GB extra", ""])
def test_memory_limit_refused(text):
    with pytest.raises(UsageError, match=r"^--memory-limit "):
        check_memory_limit(text)


@pytest.mark.parametrize("text", ["lots", "-1GB", "1KB", "0"])
def test_memory_limit_checked_before_any_work(tmp_path, text):
    # the input does not exist: the option error must come first, before anything is read
    r = run_cdp(
        "profiles", "resolve", str(tmp_path / "missing.ndjson"), "--out", str(tmp_path / "o"), f"--memory-limit={text}"
    )
    assert r.returncode == 2
    assert r.stderr.startswith(f"Error: --memory-limit '{text}': "), r.stderr
    assert "SET threads" not in r.stderr and "Parser Error" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_memory_limit_minimum_works(tmp_path):
    r = run_cdp(
        "profiles",
        "resolve",
        str(ROOT / "samples" / "ecommerce"),
        "--out",
        str(tmp_path / "o"),
        "--memory-limit",
        "128MB",
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["read"]["messages"] == 3000 and doc["events"] + doc["duplicates_dropped"] == 3000


# --- 4. small contradictions ----------------------------------------------------------------------


def test_strict_quiet_prints_nothing_on_stdout(tmp_path):
    r = run_cdp("profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "o"), "--strict", "-q", cwd=ROOT)
    assert r.returncode == 1
    assert r.stdout == ""
    assert "EV002" in r.stderr  # warnings stay


def _groups_log(tmp_path: Path) -> Path:
    return ndjson(
        tmp_path / "g.ndjson",
        [
            {
                "type": "group",
                "messageId": "g1",
                "userId": "u1",
                "groupId": "acme",
                "timestamp": "2024-01-01T00:00:00Z",
            },
            {
                "type": "group",
                "messageId": "g2",
                "userId": "u2",
                "groupId": "acme",
                "timestamp": "2024-01-01T00:01:00Z",
            },
            {
                "type": "group",
                "messageId": "g3",
                "userId": "u3",
                "groupId": "solo",
                "timestamp": "2024-01-01T00:01:30Z",
            },
            {
                "type": "identify",
                "messageId": "g4",
                "userId": "u4",
                "timestamp": "2024-01-01T00:02:00Z",
                "traits": {"email": "u1"},
            },
        ],
    )


def test_group_ids_listed_by_show_are_found_by_show_and_explain(tmp_path):
    out = tmp_path / "o"
    assert run_cdp("profiles", "resolve", str(_groups_log(tmp_path)), "--out", str(out), "-q").returncode == 0
    u3 = json.loads(run_cdp("profiles", "show", "user_id:u3", "-P", str(out), "-f", "json").stdout)
    assert u3["identifiers"]["group_id"] == ["solo"]
    for query in ("group_id:solo", "solo"):
        r = run_cdp("profiles", "show", query, "-P", str(out), "-f", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["profile_id"] == u3["profile_id"]
    # on two profiles: show lists both and asks for a profile id
    r = run_cdp("profiles", "show", "group_id:acme", "-P", str(out))
    assert r.returncode == 2 and "no such identifier" not in r.stderr
    u1 = json.loads(run_cdp("profiles", "show", "user_id:u1", "-P", str(out), "-f", "json").stdout)["profile_id"]
    u2 = json.loads(run_cdp("profiles", "show", "user_id:u2", "-P", str(out), "-f", "json").stdout)["profile_id"]
    assert "group_id:acme" in r.stderr and u1 in r.stderr and u2 in r.stderr and "profile id" in r.stderr
    # explain: recorded on the other identifier's profile, or not
    doc = json.loads(run_cdp("profiles", "explain", "acme", "user_id:u2", "-P", str(out), "-f", "json").stdout)
    assert doc["verdict"] == "recorded" and doc["same_profile"] and doc["a_profile"] == u2
    assert sorted(doc["recorded_on"]["group_id:acme"]) == sorted([u1, u2])
    r = run_cdp("profiles", "explain", "group_id:acme", "user_id:u3", "-P", str(out))
    assert r.returncode == 0 and "apart" in r.stdout and "never join" in r.stdout


def test_summary_identifier_count_agrees_with_its_breakdown(tmp_path):
    r = run_cdp("profiles", "resolve", str(_groups_log(tmp_path)), "--out", str(tmp_path / "o"), "-f", "json")
    doc = json.loads(r.stdout)
    assert doc["identifiers"] == 5 and doc["recorded_values"] == 2  # u1..u4 and email u1; acme and solo
    for p in doc["largest_profiles"]:
        assert sum(p["by_type"].values()) == p["identifiers"], p
        assert "group_id" not in p["by_type"]
    assert sum(p["identifiers"] for p in doc["largest_profiles"]) == doc["identifiers"]
    assert sorted(p["recorded"].get("group_id", 0) for p in doc["largest_profiles"]) == [0, 1, 1, 1]
    r = run_cdp("profiles", "resolve", str(_groups_log(tmp_path)), "--out", str(tmp_path / "t"))
    assert "identifiers (joining profiles)" in r.stdout and "recorded, not joining" in r.stdout


def test_a_value_on_several_profiles_is_not_picked_silently(tmp_path):
    log = ndjson(
        tmp_path / "s.ndjson",
        [
            {"type": "identify", "messageId": "s1", "userId": "same", "timestamp": "2024-01-01T00:00:00Z"},
            {
                "type": "identify",
                "messageId": "s2",
                "userId": "other",
                "timestamp": "2024-01-01T00:01:00Z",
                "traits": {"email": "same"},
            },
        ],
    )
    out = tmp_path / "o"
    assert run_cdp("profiles", "resolve", str(log), "--out", str(out), "-q").returncode == 0
    for cmd in (["show", "same"], ["explain", "same", "user_id:other"]):
        r = run_cdp("profiles", *cmd, "-P", str(out))
        assert r.returncode == 2, (cmd, r.stdout)
        assert r.stdout == ""
        assert "user_id:same (prof_" in r.stderr and "email:same (prof_" in r.stderr and "type:value" in r.stderr
    a = json.loads(run_cdp("profiles", "show", "user_id:same", "-P", str(out), "-f", "json").stdout)
    b = json.loads(run_cdp("profiles", "show", "email:same", "-P", str(out), "-f", "json").stdout)
    assert a["profile_id"] != b["profile_id"]
    assert json.loads(run_cdp("profiles", "show", a["profile_id"], "-P", str(out), "-f", "json").stdout) == a


def test_summary_line_is_pluralised(tmp_path):
    one = ndjson(
        tmp_path / "one.ndjson",
        [{"type": "track", "event": "E", "messageId": "m", "userId": "u", "timestamp": "2024-01-01T00:00:00Z"}],
    )
    r = run_cdp("profiles", "resolve", str(one), "--out", str(tmp_path / "a"))
    assert "1 event -> 1 profile, 0 merges, 0 refused merges; wrote" in r.stdout
    none = ndjson(tmp_path / "none.ndjson", [{"type": "track", "event": "E", "messageId": "m"}])
    r = run_cdp("profiles", "resolve", str(none), "--out", str(tmp_path / "b"))
    assert "1 event -> 0 profiles, 0 merges, 0 refused merges" in r.stdout
    r = run_cdp("profiles", "resolve", JOURNEYS, "--out", str(tmp_path / "c"), cwd=ROOT)
    assert "22 events -> 8 profiles, 1 merge, 5 refused merges; wrote" in r.stdout
    refused = ndjson(
        tmp_path / "r.ndjson",
        [
            {
                "type": "identify",
                "messageId": "r1",
                "userId": "u1",
                "traits": {"email": "e@x.io"},
                "timestamp": "2024-01-01T00:00:00Z",
            },
            {
                "type": "identify",
                "messageId": "r2",
                "userId": "u2",
                "traits": {"email": "e@x.io"},
                "timestamp": "2024-01-01T00:01:00Z",
            },
        ],
    )
    r = run_cdp("profiles", "resolve", str(refused), "--out", str(tmp_path / "d"))
    assert "2 events -> 2 profiles, 0 merges, 1 refused merge; wrote" in r.stdout


# --- 5. data is never read as emoji codes or markup -------------------------------------------------


def test_emoji_codes_and_markup_in_data_print_literally(tmp_path):
    weird = tmp_path / "file:100:[bold].ndjson"
    ndjson(
        weird,
        [
            {
                "type": "identify",
                "messageId": "id:100:",
                "userId": "u:100:",
                "anonymousId": "a:rocket:[bold]x[/bold]",
                "timestamp": "2024-01-01T00:00:00Z",
                "traits": {"note:100:": ":rocket: [red]hi[/red]"},
            },
            {
                "type": "track",
                "event": "E:100:",
                "messageId": "t:rocket:",
                "userId": "u:100:",
                "anonymousId": {"x": 1},
                "timestamp": "2024-01-01T00:01:00Z",
            },
        ],
    )
    out = tmp_path / "o"
    r = run_cdp("profiles", "resolve", str(weird), "--out", str(out), "--color", "always")
    assert r.returncode == 0, r.stderr
    assert "file:100:[bold].ndjson:2: anonymous_id value is not an identifier" in r.stderr  # the warning, literally
    assert "💯" not in r.stderr + r.stdout and "🚀" not in r.stderr + r.stdout

    r = run_cdp("profiles", "show", "user_id:u:100:", "-P", str(out))
    assert r.returncode == 0, r.stderr
    for text in (
        "u:100:",
        "a:rocket:[bold]x[/bold]",
        "note:100:",
        ":rocket: [red]hi[/red]",
        "file:100:[bold].ndjson:1",
        "E:100:",
        "t:rocket:",
    ):
        assert text in r.stdout, text
    assert "💯" not in r.stdout and "🚀" not in r.stdout

    r = run_cdp("profiles", "explain", "user_id:u:100:", "anonymous_id:a:rocket:[bold]x[/bold]", "-P", str(out))
    assert r.returncode == 0, r.stderr
    assert "user_id:u:100:" in r.stdout and "anonymous_id:a:rocket:[bold]x[/bold]" in r.stdout
    assert "id:100:" in r.stdout and "file:100:[bold].ndjson:1" in r.stdout
    assert "💯" not in r.stdout and "🚀" not in r.stdout
