"""Rules: every check cdp can report, with a stable code, a default level, why it matters and examples.

- :mod:`cdp_cli.rules.rule`: the :class:`Rule` record (and :class:`Status`, :class:`Coverage`);
- :mod:`cdp_cli.rules.codes`: a named constant for every code (checks use these, never bare codes);
- :mod:`cdp_cli.rules.event_rules`, :mod:`cdp_cli.rules.plan_rules`: the rules, as plain tuples;
- :mod:`cdp_cli.rules.catalog`: :data:`CATALOG`, built once and read-only, with :func:`all_rules`
  and :func:`get_rule`;
- :mod:`cdp_cli.rules.docs`: the rules reference (``cdp rules``, the README table, ``docs/rules.md``),
  generated from the catalog so it cannot drift.

The names below are loaded on first use, so importing :mod:`cdp_cli.rules.codes` (what the checks do)
does not build the catalog.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CATALOG", "REGISTRY", "Coverage", "Rule", "Status", "all_rules", "get_rule"]

_FROM = {
    "CATALOG": "catalog",
    "REGISTRY": "catalog",
    "all_rules": "catalog",
    "get_rule": "catalog",
    "Rule": "rule",
    "Status": "rule",
    "Coverage": "rule",
}


def __getattr__(name: str) -> Any:
    module = _FROM.get(name)
    if module is None:
        raise AttributeError(f"module 'cdp_cli.rules' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"cdp_cli.rules.{module}"), name)
    globals()[name] = value
    return value
