from __future__ import annotations

from cdp_cli.yamlsrc import parse_yaml


def test_positions_of_keys_and_values() -> None:
    doc, problems = parse_yaml("a: 1\nb:\n  c: [x, y]\n")
    assert problems == []
    assert doc.key_pos[("b", "c")] == (3, 3)
    assert doc.value_pos[("b", "c", 1)] == (3, 10)
    assert doc.where(("b", "c", 5)) == (3, 6)  # nearest ancestor


def test_keys_are_text_values_are_yaml_1_1() -> None:
    doc, _ = parse_yaml("on: yes\n1: 2024-01-01\nno: ~\n")
    assert doc.data == {"on": True, "1": "2024-01-01", "no": None}


def test_merge_keys_expand_and_explicit_keys_win() -> None:
    doc, problems = parse_yaml("base: &b {type: string, minLength: 1}\nx:\n  <<: *b\n  minLength: 3\n")
    assert problems == []
    assert doc.data["x"] == {"minLength": 3, "type": "string"}


def test_duplicate_keys_keep_the_first_and_report_the_second() -> None:
    doc, problems = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert [(p.kind, p.line, p.column) for p in problems] == [("duplicate-key", 4, 3)]
    assert "first defined at line 3" in problems[0].message
    assert doc.data["b"]["c"] == 1


def test_self_referencing_alias_is_reported_not_followed() -> None:
    doc, problems = parse_yaml("a: &a [*a]\n")
    assert [(p.kind, p.line, p.column) for p in problems] == [("syntax", 1, 8)]
    assert "undefined alias" in problems[0].message


def test_deep_nesting_is_a_limit_with_a_position() -> None:
    doc, problems = parse_yaml("x: 1\na: " + "[" * 500_000 + "]" * 500_000 + "\n")
    assert doc is None
    # our own depth count stops at column 103; newer libyaml (PyYAML 6.0.4 wheels) stops first, while
    # scanning ahead, at its 1,000-level limit: either way it is the nesting limit, on line 2
    assert [(p.kind, p.line) for p in problems] == [("limits", 2)] and problems[0].column in (103, 1002, 1003)
    assert "nested more than 100 levels" in problems[0].message


def test_alias_expansion_is_counted() -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i, name in enumerate("bcdefg"):
        prev = "abcdefg"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    doc, problems = parse_yaml("\n".join(lines) + "\n", max_alias_values=200_000)
    assert doc is None and problems[0].kind == "limits"
    doc, problems = parse_yaml("\n".join(lines[:3]) + "\n")
    assert problems == [] and len(doc.data["c"]) == 10


def test_bom_and_crlf_are_accepted(tmp_path) -> None:
    from cdp_cli.yamlsrc import load_yaml

    p = tmp_path / "x.yaml"
    p.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: 2\r\n")
    doc, problems = load_yaml(p)
    assert problems == [] and doc.data == {"a": 1, "b": 2}
    assert doc.key_pos[("b",)] == (2, 1)


def test_a_large_plain_document_is_not_mistaken_for_an_alias_bomb() -> None:
    text = "events:\n" + "".join(f"  E{i}: {{properties: {{a: {{type: string}}}}}}\n" for i in range(60_000))
    doc, problems = parse_yaml(text)
    assert problems == [] and len(doc.data["events"]) == 60_000
    doc, problems = parse_yaml(text, max_values=100_000)
    assert doc is None and "more than 100,000 values" in problems[0].message and "alias" not in problems[0].message
