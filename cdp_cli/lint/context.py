"""What every part of the linter needs to know about a run, resolved once and frozen.

:class:`~cdp_cli.lint.runner.Checker` builds one :class:`LintContext` and hands it to the checks
(:mod:`~cdp_cli.lint.spec`, :mod:`~cdp_cli.lint.payload`, :mod:`~cdp_cli.lint.fastpath`); no part
gets the checker itself, so the parts depend on this small record and on each other's public names
only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cdp_cli.config import Config
from cdp_cli.findings import Level
from cdp_cli.rules.rule import Rule

LABEL_CACHE_MAX = 50_000


def label_guard(show_values: bool) -> Callable[[str], str]:
    """A function that withholds names holding personal data ("Viewed by ada@example.com") unless
    ``show_values``; verdicts are cached (bounded), as a log repeats the same names millions of times."""
    from cdp_cli.pii import withhold

    cache: dict[str, str] = {}

    def safe(label: str) -> str:
        shown = cache.get(label)
        if shown is None:
            shown = withhold(label, show_values)
            if len(cache) > LABEL_CACHE_MAX:
                cache.clear()
            cache[label] = shown
        return shown

    return safe


@dataclass(frozen=True, slots=True)
class LintContext:
    """One run's settings. ``on`` and ``levels`` hold every rule code of the catalog; treat them as
    read-only (plain dicts, because the checks look them up per message)."""

    config: Config
    now: datetime  # UTC
    show_values: bool
    on: dict[str, bool]  # code -> enabled
    levels: dict[str, Level]  # code -> level, as configured
    rules: Mapping[str, Rule]  # the catalog
    safe: Callable[[str], str]  # withholds names holding personal data (see label_guard)

    @classmethod
    def build(cls, config: Config, now: datetime, show_values: bool) -> LintContext:
        from cdp_cli.rules.catalog import CATALOG

        return cls(
            config,
            now,
            show_values,
            {code: config.enabled(code) for code in CATALOG},
            {code: config.level(code) for code in CATALOG},
            CATALOG,
            label_guard(show_values),
        )
