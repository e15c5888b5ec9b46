"""The rule catalog: built once, read-only, no import cycle, every rule named, documented and honest
about where it is checked."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from cdp_cli.rules import codes, plan_rules
from cdp_cli.rules.catalog import CATALOG, FAMILIES, REGISTRY, all_rules, constant_name, get_rule
from cdp_cli.rules.rule import Coverage, Rule, Status
from tests.conftest import ROOT

PKG = ROOT / "cdp_cli"
CODE_LITERAL = re.compile(r"""["'](?:EV|SP|NM|PI|TP|PL|PD)\d{3}["']""")
PER_MESSAGE_FAMILIES = {"spec", "naming", "privacy", "conformance"}
WHOLE_INPUT = {codes.SPEC_DUPLICATE_MESSAGE_ID}  # found across all messages, not in one


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


# --- built once, no cycle ---------------------------------------------------------------------------
def test_the_catalog_imports_in_a_fresh_interpreter() -> None:
    r = _run("import cdp_cli.rules.catalog as c; print(len(c.CATALOG), c.get_rule('sp008').name)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(len(CATALOG)), "spec.duplicate-message-id"]


@pytest.mark.parametrize(
    "module", ["cdp_cli.rules.event_rules", "cdp_cli.rules.plan_rules", "cdp_cli.rules.codes", "cdp_cli.rules.rule"]
)
def test_rule_modules_do_not_load_the_catalog(module: str) -> None:
    r = _run(
        f"import sys, {module}\nprint('cdp_cli.rules.catalog' in sys.modules, 'cdp_cli.rules.docs' in sys.modules)"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_rule_modules_never_import_the_catalog_back() -> None:
    for name in ("event_rules.py", "plan_rules.py", "rule.py", "codes.py"):
        imported = _imported_modules(PKG / "rules" / name)
        assert not {m for m in imported if m.startswith(("cdp_cli.rules.catalog", "cdp_cli.rules.docs"))}, name
        assert "cdp_cli.rules.registry" not in imported, name
    assert _imported_modules(PKG / "rules" / "codes.py") <= {"__future__", "__future__.annotations"}
    assert not (PKG / "rules" / "registry.py").exists(), "rules register nothing: the catalog collects them"


def test_the_catalog_is_read_only() -> None:
    with pytest.raises(TypeError):
        CATALOG["XX001"] = CATALOG["SP001"]  # type: ignore[index]
    rule = get_rule("SP007")
    with pytest.raises(FrozenInstanceError):
        rule.level = rule.level  # type: ignore[misc]
    with pytest.raises(TypeError):
        rule.options["max_length"] = 5  # type: ignore[index]
    assert REGISTRY is CATALOG
    assert [r.code for r in all_rules()] == sorted(CATALOG) == list(CATALOG)
    assert all(isinstance(r, Rule) for r in all_rules())
    all_rules().clear()  # a copy: the catalog keeps every rule
    assert len(all_rules()) == len(CATALOG)


def test_get_rule_is_case_insensitive_and_refuses_unknown_codes() -> None:
    assert get_rule("pl051") is CATALOG["PL051"]
    with pytest.raises(KeyError, match="unknown rule code"):
        get_rule("PL999")


# --- every rule has a named constant, and checks use it -----------------------------------------
def test_every_code_has_a_constant_named_after_its_rule() -> None:
    constants = {k: v for k, v in vars(codes).items() if k.isupper()}
    assert constants == {constant_name(r): r.code for r in all_rules()}
    assert constant_name(get_rule("SP008")) == "SPEC_DUPLICATE_MESSAGE_ID"


def test_checks_name_rules_by_constant_not_by_code_literal() -> None:
    offenders = []
    for folder in ("lint", "plan"):
        for path in sorted((PKG / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if CODE_LITERAL.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == [], "use the names in cdp_cli/rules/codes.py:\n" + "\n".join(offenders)


def test_the_code_literal_pattern_finds_literals() -> None:
    assert CODE_LITERAL.search('emit("SP008", ...)') and CODE_LITERAL.search("on['PL001']")
    assert not CODE_LITERAL.search("emit(SPEC_DUPLICATE_MESSAGE_ID, ...)")


# --- every rule says why, how settled it is, where it is checked, and how the fast path covers it --
@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_is_fully_described(rule: Rule) -> None:
    assert rule.family in FAMILIES
    assert rule.summary and rule.bad and rule.good
    assert rule.why and rule.why != rule.summary and rule.why.endswith("."), rule.why
    assert len(rule.why) <= 300, "one or two sentences"
    assert isinstance(rule.status, Status) and isinstance(rule.fast_path, Coverage)
    assert rule.checked_in and all(m.startswith("cdp_cli.") for m in rule.checked_in)


def test_statuses() -> None:
    assert {r.code for r in all_rules() if r.status is not Status.STABLE} == {codes.INPUT_NOT_NDJSON}
    assert get_rule(codes.INPUT_NOT_NDJSON).status is Status.PREVIEW


def test_fast_path_coverage_is_stated_for_per_message_rules_only() -> None:
    for r in all_rules():
        per_message = r.family in PER_MESSAGE_FAMILIES and r.code not in WHOLE_INPUT
        assert (r.fast_path is not Coverage.NOT_APPLICABLE) == per_message, r.code


def _reports(module: str, rule: Rule) -> bool:
    """Does the module's source name the rule: its code constant, its plan_rules object, or (modules
    outside lint/ and plan/, which may spell codes out) its code?"""
    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    names = [constant_name(rule)] + [f"R.{k}" for k, v in vars(plan_rules).items() if v is rule]
    if not module.startswith(("cdp_cli.lint.", "cdp_cli.plan.")):
        names.append(f'"{rule.code}"')
    return any(re.search(re.escape(n) + r"\b", source) for n in names)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_checked_in_names_modules_that_report_the_rule(rule: Rule) -> None:
    for module in rule.checked_in:
        assert importlib.util.find_spec(module) is not None, f"{rule.code}: no module {module}"
    if rule.family == "input":  # the reader reports them; its parts spell the codes out
        events = "".join(p.read_text(encoding="utf-8") for p in (PKG / "events").glob("*.py"))
        assert f'"{rule.code}"' in events
        return
    assert all(_reports(m, rule) for m in rule.checked_in), f"{rule.code} is not reported in {rule.checked_in}"


def test_plan_rules_are_reported_where_they_say() -> None:
    """Every plan rule object the plan checks use is in the catalog, named in its checked_in."""
    for module in ("cdp_cli.plan.loader", "cdp_cli.plan.checks"):
        source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
        for attr in set(re.findall(r"\bR\.([A-Z_]+)\b", source)):
            rule = getattr(plan_rules, attr)
            assert CATALOG[rule.code] is rule
            assert module in rule.checked_in, f"{rule.code} is reported in {module}; add it to checked_in"


# --- the parts of the linter get a context, not the checker ---------------------------------------
def test_checker_parts_get_a_context_not_the_checker() -> None:
    tree = ast.parse((PKG / "lint" / "runner.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("SpecChecks", "PayloadChecks", "FastPath", "Conformance", "_Emitter")
        ):
            assert not any(isinstance(a, ast.Name) and a.id == "self" for a in node.args), node.func.id


def test_lint_modules_use_only_public_names_of_each_other() -> None:
    for path in sorted((PKG / "lint").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cdp_cli.lint."):
                assert not [a.name for a in node.names if a.name.startswith("_")], (path.name, node.module)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                assert isinstance(owner, ast.Name) and owner.id in ("self", "cls"), (
                    f"{path.name}:{node.lineno}: reaches into a private name ._{node.attr[1:]}"
                )


def test_loading_a_plan_for_use_lives_with_plans() -> None:
    from cdp_cli.lint.runner import load_plan_for_lint
    from cdp_cli.plan.load import load_valid_plan

    assert load_plan_for_lint is load_valid_plan
    assert "cdp_cli.lint" not in " ".join(_imported_modules(PKG / "plan" / "load.py"))


# --- the reference is generated from the catalog --------------------------------------------------
def test_the_docs_generator_lives_with_the_rules() -> None:
    source = (PKG / "cli" / "rules.py").read_text(encoding="utf-8")
    assert "def rules_markdown" not in source and "| code |" not in source
    assert "rules_markdown" in (PKG / "rules" / "docs.py").read_text(encoding="utf-8")


def test_docs_rules_md_is_generated_from_the_catalog() -> None:
    from cdp_cli.rules.docs import REFERENCE_PATH, rules_reference

    text = (ROOT / REFERENCE_PATH).read_text(encoding="utf-8")
    assert text == rules_reference(), "docs/rules.md is stale: regenerate with `python3 scripts/update_docs.py`"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_every_rule_is_documented_in_ruff_sections(rule: Rule) -> None:
    from cdp_cli.rules.docs import REFERENCE_PATH

    text = (ROOT / REFERENCE_PATH).read_text(encoding="utf-8")
    section = text.split(f"### {rule.code} `{rule.name}`\n", 1)[1].split("\n### ", 1)[0]
    titles = re.findall(r"^#### (.+)$", section, flags=re.M)
    assert titles == ["What it does", "Why is this bad?", "Example", "Use instead", "Options"]
    for part in (
        rule.summary,
        rule.why,
        rule.bad,
        rule.good,
        rule.status.value,
        rule.fast_path.value,
        *rule.checked_in,
    ):
        assert part in section, (rule.code, part)
    for option in rule.options:
        assert f"| `{option}` |" in section
    assert f"[{rule.code}](#{rule.code.lower()})" in text  # in the index


def test_reference_links_point_at_real_files() -> None:
    from cdp_cli.rules.docs import REFERENCE_PATH

    path = ROOT / REFERENCE_PATH
    for target in set(re.findall(r"\]\((\.\./[^)#]+)\)", path.read_text(encoding="utf-8"))):
        assert (path.parent / target).resolve().is_file(), target


def test_generated_docs_are_up_to_date() -> None:
    r = subprocess.run([sys.executable, "scripts/update_docs.py", "--check"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_rules_json_carries_the_new_fields() -> None:
    from tests.conftest import run_cdp

    r = run_cdp("rules", "EV008", "--format", "json")
    assert r.returncode == 0, r.stderr
    import json

    (doc,) = json.loads(r.stdout)
    assert doc["status"] == "preview" and doc["fast_path"] == "n/a" and doc["why"]
    assert doc["checked_in"] == ["cdp_cli.events.reader"]
