"""Rule registry: every check cdp can report, with a stable code, a default level and examples.

Plan rules (``PL…``) are defined in :mod:`cdp_cli.rules.plan_rules`; event-lint rules join the same
registry. The rules reference (``cdp rules``, README) is generated from here, so it cannot drift.
"""

from cdp_cli.rules.registry import REGISTRY, Rule, all_rules, get_rule

__all__ = ["REGISTRY", "Rule", "all_rules", "get_rule"]
