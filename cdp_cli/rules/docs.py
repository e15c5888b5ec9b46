"""The rules reference, generated from the catalog so it cannot drift.

- :func:`rules_markdown`: the README's rule table (one line a rule);
- :func:`rules_reference`: ``docs/rules.md``, every rule in full, in ruff's sections (what it does,
  why is this bad, example, use instead, options) with its status, where it is checked and how the
  fast path covers it;
- :func:`rule_record`: one rule as plain data (``cdp rules --format json``);
- :func:`select_rules` (from the catalog): the rules ``cdp rules`` shows.

``scripts/update_docs.py`` writes both documents; tests check they equal what is generated here.
Nothing here imports more than the catalog, so the CLI stays light.
"""

from __future__ import annotations

import json
from typing import Any

from cdp_cli.rules.catalog import FAMILIES, all_rules, select_rules
from cdp_cli.rules.rule import COVERAGE_TEXT, STATUS_TEXT, Coverage, Rule, Status

#: Where ``docs/rules.md`` lives, relative to the repository root (its links are relative to it).
REFERENCE_PATH = "docs/rules.md"

FAMILY_TITLES = {
    "input": "Input (`EV`): lines that are not messages",
    "spec": "Spec (`SP`): the Segment message spec",
    "naming": "Naming (`NM`)",
    "privacy": "Privacy (`PI`): personal data where it does not belong",
    "conformance": "Conformance (`TP`): messages against a tracking plan (`--plan`)",
    "plan": "Plan (`PL`): `cdp plan validate`",
    "plan-diff": "Plan diff (`PD`): `cdp plan diff`, changes between two versions of a plan",
}
_COMMAND = {"plan": "cdp plan validate", "plan-diff": "cdp plan diff"}

__all__ = ["REFERENCE_PATH", "rule_record", "rules_markdown", "rules_reference", "select_rules"]


def rules_markdown(family: str | None = None) -> str:
    """The Markdown rules table (the README embeds it; a test keeps them equal)."""
    lines = ["| code | name | level | what it catches |", "| --- | --- | --- | --- |"]
    for r in all_rules():
        if family and r.family != family:
            continue
        summary = r.summary.replace("|", "\\|")
        lines.append(f"| {r.code} | `{r.name}` | {r.level.value} | {summary} |")
    return "\n".join(lines) + "\n"


def rule_record(rule: Rule) -> dict[str, Any]:
    """One rule as JSON-ready data."""
    return {
        "code": rule.code,
        "name": rule.name,
        "family": rule.family,
        "level": rule.level.value,
        "summary": rule.summary,
        "why": rule.why,
        "bad": rule.bad,
        "good": rule.good,
        "options": dict(rule.options),
        "status": rule.status.value,
        "checked_in": list(rule.checked_in),
        "fast_path": rule.fast_path.value,
    }


def module_path(module: str) -> str:
    """``cdp_cli.lint.spec`` -> ``cdp_cli/lint/spec.py`` (relative to the repository root)."""
    return module.replace(".", "/") + ".py"


def _anchor(rule: Rule) -> str:
    return rule.code.lower()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(text: str, lang: str) -> str:
    assert "```" not in text, "an example cannot hold a code fence"
    return f"```{lang}\n{text}\n```"


def _rule_section(rule: Rule) -> list[str]:
    lang = "yaml" if rule.family == "plan" else "text"
    where = ", ".join(f"[`{m}`](../{module_path(m)})" for m in rule.checked_in) or "-"
    command = _COMMAND.get(rule.family, "cdp events lint")
    out = [
        f'<a id="{_anchor(rule)}"></a>',
        f"### {rule.code} `{rule.name}`",
        "",
        "| family | default level | status | checked in | fast path |",
        "| --- | --- | --- | --- | --- |",
        f"| {rule.family} | {rule.level.value} | {rule.status.value} | {where} | {rule.fast_path.value} |",
        "",
        "#### What it does",
        "",
        rule.summary,
        "",
        "#### Why is this bad?",
        "",
        rule.why,
        "",
        "#### Example",
        "",
        _fence(rule.bad, lang),
        "",
        "#### Use instead",
        "",
        _fence(rule.good, lang),
        "",
        "#### Options",
        "",
    ]
    if rule.options:
        out += ["| option | default |", "| --- | --- |"]
        out += [f"| `{k}` | `{json.dumps(v)}` |" for k, v in rule.options.items()]
        k, v = next(iter(rule.options.items()))
        out += ["", f"Set them in `.cdp.yaml`, for example `rules: {{{rule.code}: {{{k}: {json.dumps(v)}}}}}`."]
    else:
        out.append(
            f"None. Like every rule it can be switched off or re-levelled in `.cdp.yaml` "
            f"(`rules: {{{rule.code}: off}}`); `{command}` reads it."
        )
    out.append("")
    return out


def rules_reference() -> str:
    """``docs/rules.md``: the full rule reference."""
    rules = all_rules()
    out = [
        "# Rules reference",
        "",
        "<!-- Generated from cdp_cli/rules by `python3 scripts/update_docs.py`; do not edit by hand. -->",
        "",
        "Every finding of `cdp events lint` and `cdp plan validate` has a stable code. This page describes "
        "each rule in the same sections: what it does, why it matters, an example that breaks it, what to "
        "write instead, and its options. `cdp rules CODE` prints the same from the command line, and "
        "`.cdp.yaml` switches rules off, changes their level or sets their options.",
        "",
        "Each rule also says:",
        "",
        "- **status**:",
        *(f"  - `{s.value}`: {STATUS_TEXT[s]}" for s in Status),
        "- **checked in**: the module that reports it.",
        "- **fast path**: how the fast path of `cdp events lint` covers it. The fast path proves at Rust "
        "speed that a message has no findings; every other message takes the full Python checks, which "
        "decide. So findings never depend on it, only speed does.",
    ]
    out += [f"  - `{c.value}`: {COVERAGE_TEXT[c]}" for c in Coverage]
    out += ["", "## Index", ""]
    for family in FAMILIES:
        members = [r for r in rules if r.family == family]
        out += [
            f"**{FAMILY_TITLES[family]}**",
            "",
            "| code | name | level | status | what it catches |",
            "| --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| [{r.code}](#{_anchor(r)}) | `{r.name}` | {r.level.value} | {r.status.value} | {_cell(r.summary)} |"
            for r in members
        ]
        out.append("")
    for family in FAMILIES:
        out += [f"## {FAMILY_TITLES[family]}", ""]
        for r in rules:
            if r.family == family:
                out += _rule_section(r)
    return "\n".join(out).rstrip("\n") + "\n"
