"""Hostile inputs the readers must survive with one clear finding each: symbolic link loops, files that
are not NDJSON at all (binary data, a pretty-printed JSON document), and YAML syntax errors reported
where the problem starts rather than where the parser gave up."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdp_cli.config import load_config
from cdp_cli.errors import ConfigError, InputError
from cdp_cli.events.reader import discover
from cdp_cli.lint.runner import lint
from cdp_cli.plan.validate import validate_paths
from cdp_cli.yamlsrc import parse_yaml
from tests.conftest import ROOT, run_cdp, write_files

MSG = {"type": "track", "event": "Order Completed", "userId": "u1"}
PLAN = "events:\n  Order Completed:\n    description: A customer completed an order.\n"


def ndjson(n: int, start: int = 0) -> bytes:
    return b"".join(json.dumps({**MSG, "messageId": f"m{i}"}).encode() + b"\n" for i in range(start, start + n))


def balanced(stats) -> bool:
    return stats.lines == stats.blank + stats.parsed + sum(stats.skipped.values())


# --- symbolic link loops --------------------------------------------------------------------------
def _loops(d: Path, suffix: str) -> None:
    (d / f"self{suffix}").symlink_to(f"self{suffix}")  # ln -s self.yaml self.yaml
    (d / f"a{suffix}").symlink_to(f"b{suffix}")  # a -> b -> a
    (d / f"b{suffix}").symlink_to(f"a{suffix}")


def test_plan_validate_reports_file_link_loops_and_checks_the_other_files(tmp_path: Path) -> None:
    write_files(
        tmp_path / "plans" / "shop", {"plan.yaml": PLAN, "events.yaml": "events:\n  Bad:\n    descripton: typo\n"}
    )
    _loops(tmp_path / "plans" / "shop", ".yaml")
    r = run_cdp("plan", "validate", "plans/", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "internal error" not in r.stderr
    findings = json.loads(r.stdout)["findings"]
    loops = sorted((Path(f["file"]).name, f["code"]) for f in findings if "symbolic link loop" in f["message"])
    assert loops == [("a.yaml", "PL001"), ("b.yaml", "PL001"), ("self.yaml", "PL001")]
    assert any(f["code"] == "PL010" and f["file"].endswith("events.yaml") for f in findings)  # the rest is checked
    r = run_cdp("plan", "validate", "plans/", cwd=tmp_path)
    assert "plans/shop/self.yaml: error PL001 symbolic link loop" in r.stdout


def test_plan_validate_of_a_loop_named_explicitly_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    r = run_cdp("plan", "validate", "loop.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("Error: loop.yaml: symbolic link loop"), r.stderr
    write_files(tmp_path / "shop", {"plan.yaml": PLAN})
    (tmp_path / "shop" / "self.yaml").symlink_to("self.yaml")
    result = validate_paths([tmp_path / "shop" / "plan.yaml"])  # a file inside a plan: the whole plan
    assert [f.code for f in result.findings] == ["PL001"]


def test_a_directory_link_loop_in_a_plan_tree_is_not_followed(tmp_path: Path) -> None:
    write_files(tmp_path / "shop", {"plan.yaml": PLAN})
    (tmp_path / "shop" / "up").symlink_to("..")
    result = validate_paths([tmp_path / "shop"])
    assert result.findings == [] and len(result.files) == 1


def test_events_lint_reports_file_link_loops_and_reads_the_other_files(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "events.ndjson").write_bytes(ndjson(3))
    _loops(logs, ".ndjson")
    result = lint([logs], keep=None)
    assert [(Path(f.file).name, f.code) for f in result.findings] == [
        ("a.ndjson", "EV007"),
        ("b.ndjson", "EV007"),
        ("self.ndjson", "EV007"),
    ]
    assert all(f.message.startswith("symbolic link loop") for f in result.findings)
    assert result.stats.messages == 3


def test_events_lint_and_profiles_resolve_cli_go_on_past_link_loops(tmp_path: Path) -> None:
    # needs cdp_cli/cli/common.py and cli/profiles.py to use os.path.realpath, not Path.resolve()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "events.ndjson").write_bytes(ndjson(3))
    _loops(logs, ".ndjson")
    r = run_cdp("events", "lint", "logs", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1 and "internal error" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    assert [(Path(f["file"]).name, f["code"]) for f in data["findings"]] == [
        ("a.ndjson", "EV007"),
        ("b.ndjson", "EV007"),
        ("self.ndjson", "EV007"),
    ]
    assert data["summary"]["messages"] == 3
    r = run_cdp("events", "lint", "logs", "-o", "report.txt", cwd=tmp_path)
    assert r.returncode == 1 and "symbolic link loop" in (tmp_path / "report.txt").read_text(), r.stderr
    r = run_cdp("profiles", "resolve", "logs", "--out", "out", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [p["code"] for p in data["problems"]] == ["EV007"] * 3 and data["read"]["messages"] == 3
    write_files(tmp_path / "plans", {"plan.yaml": PLAN})
    (tmp_path / "plans" / "self.yaml").symlink_to("self.yaml")
    r = run_cdp("plan", "validate", "plans", "-o", "plan.txt", cwd=tmp_path)
    assert r.returncode == 1 and "symbolic link loop" in (tmp_path / "plan.txt").read_text(), r.stderr


def test_a_loop_named_explicitly_is_a_clear_input_error(tmp_path: Path) -> None:
    (tmp_path / "loop.ndjson").symlink_to("loop.ndjson")
    r = run_cdp("events", "lint", "loop.ndjson", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("Error: loop.ndjson: symbolic link loop"), r.stderr
    r = run_cdp("profiles", "resolve", "loop.ndjson", "--out", "out", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("Error: loop.ndjson: symbolic link loop"), r.stderr
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    with pytest.raises(ConfigError, match="loop.yaml: symbolic link loop"):
        load_config(tmp_path / "loop.yaml")


def test_directory_link_loops_neither_recurse_nor_abort(tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "day1"
    logs.mkdir(parents=True)
    (logs / "events.ndjson").write_bytes(ndjson(2))
    (logs / "up").symlink_to("..")  # ln -s .. logs/day1/up
    (logs / "here").symlink_to(".")
    (tmp_path / "logs" / "down").symlink_to("day1")
    assert [Path(s.name).name for s in discover([tmp_path / "logs"])] == ["events.ndjson"]
    # glob's '**' follows links to directories: two loops made it exponential; it must end, fast
    code = "import sys; from cdp_cli.events.reader import discover\nprint(len(discover([sys.argv[1]])))"
    r = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "logs" / "**" / "*.ndjson")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
    )
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_recursive_globs_still_match_like_glob(tmp_path: Path) -> None:
    for rel in ("a.ndjson", "x/b.ndjson", "x/y/c.ndjson.gz", ".hidden/d.ndjson", "x/.e.ndjson", "x/f.txt"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(gzip.compress(ndjson(1)) if rel.endswith(".gz") else ndjson(1))
    names = lambda pattern: sorted(os.path.relpath(s.name, tmp_path) for s in discover([str(tmp_path / pattern)]))
    assert names("**/*.ndjson") == ["a.ndjson", "x/b.ndjson"]
    assert names("**/*.gz") == ["x/y/c.ndjson.gz"]
    assert names("x/**") == [
        "x/b.ndjson",
        "x/f.txt",
        "x/y/c.ndjson.gz",
    ]  # a file a pattern names is read whatever its name
    assert names(".hidden/**/*.ndjson") == [".hidden/d.ndjson"]
    with pytest.raises(InputError, match="no file matches"):
        discover([str(tmp_path / "**" / "*.zst")])


# --- files that are not NDJSON --------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 40
PARQUET = b"PAR1\x15\x04\x15" + bytes(range(256)) * 40 + b"PAR1"


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A log folder holding one good NDJSON file among junk."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a-random.ndjson").write_bytes(os.urandom(200_000))
    (logs / "b-array.json").write_text(json.dumps([{**MSG, "messageId": f"j{i}"} for i in range(60)], indent=2))
    (logs / "c-good.ndjson").write_bytes(ndjson(5))
    (logs / "d-image.json").write_bytes(PNG)
    (logs / "e-export.json").write_bytes(ZIP)
    (logs / "f-table.log").write_bytes(PARQUET)
    (logs / "g-pretty.jsonl").write_text(
        "".join(json.dumps({**MSG, "messageId": f"p{i}"}, indent=2) + "\n" for i in range(4))
    )
    return logs


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_file_that_is_not_ndjson_is_one_finding_and_counted(messy: Path, jobs: int) -> None:
    result = lint([messy], keep=None, jobs=jobs)
    got = [(Path(f.file).name, f.line, f.code) for f in result.findings]
    assert got == [
        (n, 1, "EV008")
        for n in ("a-random.ndjson", "b-array.json", "d-image.json", "e-export.json", "f-table.log", "g-pretty.jsonl")
    ]
    text = {Path(f.file).name: f.message for f in result.findings}
    assert text["a-random.ndjson"].startswith("a binary file (")
    assert text["b-array.json"] == (
        "a JSON array, not NDJSON (one message per line); convert it with `jq -c '.[]' b-array.json > b-array.ndjson`"
    )
    assert "looks like PNG" in text["d-image.json"] and "looks like zip" in text["e-export.json"]
    assert "looks like Parquet" in text["f-table.log"]
    assert (
        text["g-pretty.jsonl"].startswith("pretty-printed JSON")
        and "`jq -c . g-pretty.jsonl > g-pretty.ndjson`" in text["g-pretty.jsonl"]
    )
    s = result.stats
    assert s.messages == 5 and s.files == 7 and balanced(s)

    def lines(data: bytes) -> int:
        return data.count(b"\n") + (not data.endswith(b"\n"))

    junk = sum(lines(p.read_bytes()) for p in messy.iterdir() if p.name != "c-good.ndjson")
    assert s.lines == junk + 5 and s.skipped["EV008"] == junk
    assert s.as_dict()["skipped_by_reason"] == {"not NDJSON": junk}
    assert s.bytes == sum(p.stat().st_size for p in messy.iterdir())


def test_events_lint_cli_prints_one_line_per_junk_file(messy: Path) -> None:
    r = run_cdp("events", "lint", str(messy), "--format", "json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert data["summary"]["findings_by_rule"] == {"EV008": 6}
    assert data["summary"]["messages"] == 5


def test_profiles_resolve_skips_junk_files_with_one_problem_each(messy: Path, tmp_path: Path) -> None:
    r = run_cdp("profiles", "resolve", str(messy), "--out", str(tmp_path / "out"), "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [p["code"] for p in data["problems"]] == ["EV008"] * 6
    assert data["read"]["messages"] == 5 and data["read"]["skipped_by_reason"] == {
        "not NDJSON": data["read"]["lines"] - 5
    }


def test_compressed_files_are_sniffed_after_decompression(tmp_path: Path) -> None:
    import zstandard

    array = json.dumps([{**MSG, "messageId": f"j{i}"} for i in range(3000)], indent=2).encode()
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(array))
    (tmp_path / "b.ndjson.zst").write_bytes(zstandard.ZstdCompressor().compress(PNG))
    (tmp_path / "c.ndjson.gz").write_bytes(gzip.compress(ndjson(4)))
    (tmp_path / "d.ndjson").write_bytes(gzip.compress(ndjson(4)))  # gzip data without the .gz name
    result = lint([tmp_path], keep=None)
    text = {Path(f.file).name: f.message for f in result.findings}
    assert set(text) == {"a.json.gz", "b.ndjson.zst", "d.ndjson"} and {f.code for f in result.findings} == {"EV008"}
    assert text["a.json.gz"].startswith("its gzip-decompressed content is a JSON array")
    assert "`gzip -dc a.json.gz | jq -c '.[]' > a.ndjson`" in text["a.json.gz"]
    assert text["b.ndjson.zst"].startswith("its zstd-decompressed content is a binary file (looks like PNG)")
    assert "rename it to end in .gz" in text["d.ndjson"]
    lines = lambda data: data.count(b"\n") + (not data.endswith(b"\n"))
    assert result.stats.skipped["EV008"] == lines(array) + lines(PNG) + lines((tmp_path / "d.ndjson").read_bytes())
    assert result.stats.messages == 4 and balanced(result.stats)


def test_standard_input_is_sniffed_too() -> None:
    array = json.dumps([{**MSG, "messageId": f"j{i}"} for i in range(50)], indent=2)
    r = run_cdp("events", "lint", "-", "--format", "json", input=array)
    data = json.loads(r.stdout)
    assert r.returncode == 1 and data["summary"]["findings_by_rule"] == {"EV008": 1}
    assert data["findings"][0]["file"] == "<stdin>"


def test_ndjson_with_broken_lines_is_still_read_line_by_line(tmp_path: Path) -> None:
    body = (
        b'{"type":"track","event":"Order Completed",}\n'  # a broken first line
        + ndjson(3)
        + b"\xff\xfe not json\n"
        + b"[1, 2]\n"
        + ndjson(2, start=3)
        + b"\x00" * 3000
    )  # a crash's NUL padding at the end
    (tmp_path / "x.ndjson").write_bytes(body)
    result = lint([tmp_path / "x.ndjson"], keep=None)
    assert [(f.line, f.code) for f in result.findings] == [(1, "EV002"), (5, "EV001"), (6, "EV003"), (9, "EV002")]
    assert result.stats.messages == 5 and "EV008" not in result.stats.skipped
    # a pretty-printed line-per-object file that is NDJSON after all: a one-line array is EV003, as before
    (tmp_path / "y.ndjson").write_bytes(b"[" + ndjson(1).strip() + b"]\n" + ndjson(1))
    result = lint([tmp_path / "y.ndjson"], keep=None)
    assert [(f.line, f.code) for f in result.findings] == [(1, "EV003")]


# --- YAML syntax errors: where the problem starts ---------------------------------------------------
@pytest.mark.parametrize(
    "text,line,column,message",
    [
        (
            'events:\n  A:\n    description: "never closed\n    owner: x\n\n\n\n\n\n',
            3,
            18,
            "invalid YAML: unterminated quoted string started here (found end of stream at 10:1)",
        ),
        (
            "events:\n  A:\n    description: 'never closed\n  B: {}\n",
            3,
            18,
            "invalid YAML: unterminated quoted string started here (found end of stream at 5:1)",
        ),
        (
            "events:\n  A:\n    labels: [a, b\n    owner: x\n",
            3,
            13,
            "invalid YAML: flow sequence '[' started here is not closed with ']' "
            "(expected ',' or ']', but got ':' at 4:10)",
        ),
        (
            "events:\n  A:\n    labels: [a, b,\n      c\n",
            3,
            13,
            "invalid YAML: flow sequence '[' started here is never closed with ']' (found end of stream at 5:1)",
        ),
        (
            "events:\n  A: {description: x\n  B: {}\n",
            2,
            6,
            "invalid YAML: flow mapping '{' started here is not closed with '}' "
            "(expected ',' or '}', but got ':' at 3:4)",
        ),
        (
            "events:\n  A:\n    description: x\n   owner: y\n",
            4,
            4,
            "invalid YAML: while parsing a block mapping expected <block end>, "
            "but found '<block mapping start>' (check the indentation",
        ),
        (
            "events:\n  A:\n\tdescription: x\n",
            3,
            1,
            "found character '\\t' that cannot start any token (YAML indentation must use spaces, not tabs)",
        ),
        ("events:\n  A: b: c\n", 2, 7, "invalid YAML: mapping values are not allowed here"),
    ],
)
def test_yaml_syntax_errors_point_where_the_problem_starts(text: str, line: int, column: int, message: str) -> None:
    doc, problems = parse_yaml(text, "plan.yaml")
    assert doc is None and len(problems) == 1
    p = problems[0]
    assert (p.kind, p.line, p.column) == ("syntax", line, column), p
    assert message in p.message, p.message


def test_plan_validate_shows_the_opening_quote(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {"plan.yaml": 'events:\n  Order Completed:\n    description: "never closed\n    owner: growth\n' + "\n" * 5},
    )
    r = run_cdp("plan", "validate", "plan.yaml", cwd=tmp_path)
    assert r.returncode == 1
    assert (
        "plan.yaml:3:18: error PL002 invalid YAML: unterminated quoted string started here "
        "(found end of stream at 10:1)"
    ) in r.stdout, r.stdout


def test_config_and_identity_files_report_the_same_position(tmp_path: Path) -> None:
    cfg = tmp_path / ".cdp.yaml"
    cfg.write_text("rules:\n  EV005:\n    max_bytes: 'oops\n\n\n")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert (
        str(e.value)
        == f"{cfg}:3:16: invalid YAML: unterminated quoted string started here (found end of stream at 6:1)"
    )
    ident = tmp_path / "identity.yaml"
    ident.write_text("identifiers: [email, user_id\nlimits: {}\n")
    (tmp_path / "events.ndjson").write_bytes(ndjson(1))
    r = run_cdp("profiles", "resolve", "events.ndjson", "--out", "out", "--identity", "identity.yaml", cwd=tmp_path)
    assert r.returncode == 2
    assert "identity.yaml:1:14: invalid YAML: flow sequence '[' started here is not closed" in r.stderr, r.stderr
