""".cdp.yaml: found by walking up, validated strictly, applied to lint and plan validate."""

from __future__ import annotations

import pytest

from cdp_cli.config import find_config, load_config, parse_duration
from cdp_cli.errors import ConfigError
from cdp_cli.findings import Level


def test_found_by_walking_up_and_parsed(tmp_path, monkeypatch):
    (tmp_path / ".cdp.yaml").write_text(
        "rules:\n  PI005: off\n  SP006: error\n  SP014: {level: info, max_skew: 48h}\n  nm002: {style: camel_case}\n"
    )
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert find_config() == tmp_path / ".cdp.yaml"
    cfg = load_config()
    assert not cfg.enabled("PI005") and cfg.enabled("PI001")
    assert cfg.level("SP006") is Level.ERROR and cfg.level("SP014") is Level.INFO and cfg.level("SP002") is Level.ERROR
    assert cfg.option("SP014", "max_skew") == "48h" and cfg.option("SP012", "max_future") == "1h"
    assert cfg.option("NM002", "style") == "camel_case"


@pytest.mark.parametrize(
    "text,message",
    [
        ("rules:\n  SP999: off\n", ".cdp.yaml:2:3: unknown rule code 'SP999'; did you mean SP019?"),
        ("rules:\n  SP006: loud\n", ".cdp.yaml:2:3: invalid level 'loud'; use off, error, warning or info"),
        ("rules:\n  SP014: {max_skew: soon}\n", "SP014.max_skew: 'soon' is not a duration"),
        ("rules:\n  SP007: {max_length: -1}\n", "SP007.max_length must be a positive integer"),
        ("rules:\n  SP015: {max_bytes: 0}\n", "SP015.max_bytes must be a positive integer"),
        ("rules:\n  SP015: {max_bytes: true}\n", "SP015.max_bytes must be a positive integer"),
        ("rules:\n  SP014: {max_skew: 99999999999999w}\n", "too long a duration"),
        ("rules:\n  sp006: off\n  SP006: error\n", ".cdp.yaml:3:3: rule SP006 is configured twice"),
        ("rules: []\n", "'rules' maps rule codes"),
        ("rules: ''\n", "'rules' maps rule codes"),
        ("version: 2\nrules: {}\n", ".cdp.yaml:1:1: unsupported version 2"),
        ("rules:\n  SP007: {colour: red}\n", "rule SP007 has no option 'colour'; it takes: level, enabled, max_length"),
        ("rules:\n  NM001: {style: shouting}\n", "NM001.style: unknown naming style 'shouting'"),
        ("rulez:\n  SP006: off\n", ".cdp.yaml:1:1: unknown key 'rulez'; known keys: rules, version"),
        ("rules: [SP006]\n", "'rules' maps rule codes"),
        ("rules:\n  SP006: off\n  SP006: on\n", "duplicate key"),
        ("rulez:\n  SP006: off\n", "; did you mean 'rules'?"),
        ("version: true\n", ".cdp.yaml:1:1: unsupported version True"),
        ("- rules\n", ".cdp.yaml:1:1: a config file holds a mapping with the key 'rules'"),
        ("rules:\n  SP006: {enabled: 1}\n", ".cdp.yaml:2:11: 'enabled' is true or false"),
        ("rules:\n  SP013: {oldest: soon}\n", ".cdp.yaml:2:11: SP013.oldest must be a date"),
    ],
)
def test_invalid_config_is_an_error_naming_file_and_line(tmp_path, text, message):
    (tmp_path / ".cdp.yaml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / ".cdp.yaml")
    assert message in str(e.value)


def test_enabled_false_wins_whatever_the_key_order(tmp_path):
    for text in (
        "rules:\n  SP006: {enabled: false, level: error}\n",
        "rules:\n  SP006: {level: error, enabled: false}\n",
    ):
        (tmp_path / ".cdp.yaml").write_text(text)
        assert not load_config(tmp_path / ".cdp.yaml").enabled("SP006"), text
    (tmp_path / ".cdp.yaml").write_text("version: 1\nrules:\n")
    assert load_config(tmp_path / ".cdp.yaml").rules == {}


def test_durations():
    assert parse_duration("90s").total_seconds() == 90
    assert parse_duration("1.5h").total_seconds() == 5400
    assert parse_duration("2w").days == 14
    with pytest.raises(ValueError):
        parse_duration("tomorrow")


def test_every_problem_of_the_file_at_once(tmp_path):
    (tmp_path / ".cdp.yaml").write_text("rulez: 1\nversion: 3\nrules: 5\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / ".cdp.yaml")
    lines = [line.replace(str(tmp_path / ".cdp.yaml"), ".cdp.yaml") for line in str(e.value).splitlines()]
    assert lines == [
        ".cdp.yaml:1:1: unknown key 'rulez'; known keys: rules, version; did you mean 'rules'?",
        ".cdp.yaml:2:1: unsupported version 3; this cdp reads version 1",
        ".cdp.yaml:3:1: 'rules' maps rule codes to off, a level, or {level, options...}",
    ]
