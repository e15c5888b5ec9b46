"""The malformed-input corpus (tests/fixtures/events/invalid): every failure mode of the reader, with
the exact findings expected in expected.yaml; good lines around bad ones are still read."""

from __future__ import annotations

from pathlib import Path

import yaml

from cdp_cli.config import parse_config
from cdp_cli.lint.runner import lint
from tests.conftest import ROOT

CORPUS = ROOT / "tests" / "fixtures" / "events" / "invalid"


def test_corpus_findings_are_exactly_the_expected_ones():
    expected = yaml.safe_load((CORPUS / "expected.yaml").read_text())
    config = parse_config({"rules": {"EV005": {"max_bytes": 4096}}})
    result = lint([CORPUS], config=config, keep=None)
    got = [[Path(f.file).name, f.line, f.column, f.code] for f in result.findings if f.code.startswith("EV")]
    truncated = [g for g in got if g[0] == "truncated.ndjson.gz"]
    assert len(truncated) == 1 and 100 < truncated[0][1] < 2000  # after the last whole line read
    want = [[t[0], truncated[0][1] if t[1] == "TRUNCATED_AT" else t[1], t[2], t[3]] for t in expected["findings"]]
    assert got == want
    s = result.stats
    assert s.files == expected["summary"]["files"] and s.blank == expected["summary"]["blank"]
    from_bad = [f for f in result.findings if Path(f.file).name == "bad-lines.ndjson" and not f.code.startswith("EV")]
    assert from_bad == []  # the good lines of bad-lines.ndjson are clean messages
    assert s.messages == expected["summary"]["messages_from_bad_lines"] + truncated[0][1] - 1
    assert s.lines == s.blank + s.parsed + sum(s.skipped.values())
    messages = {f.code: f.message for f in result.findings}
    assert "gzip stream is truncated or corrupt" in messages["EV006"]
