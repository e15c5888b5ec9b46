"""``.cdp.yaml``: the project configuration. It enables, disables and re-levels rules and sets their
options, for every checking command (``cdp events lint``, ``cdp plan validate``).

Found by walking up from the current directory (like ``.git``), or named with ``--config``.
Validated strictly on load (by :mod:`cdp_cli.definitions`, as every definition file): an unknown rule
code, level or option is a :class:`~cdp_cli.errors.ConfigError` naming the file and line, never a
silent no-op::

    rules:
      PI005: off                      # disable a rule
      SP006: error                    # re-level it
      SP014: {level: error, max_skew: 48h}
      NM002: {style: camel_case}      # an option (its type must match the default's)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from cdp_cli import definitions as defs
from cdp_cli.definitions import parse_duration
from cdp_cli.findings import Finding, Level

__all__ = ["CONFIG_NAME", "Config", "RuleSetting", "find_config", "load_config", "parse_config", "parse_duration"]

CONFIG_NAME = ".cdp.yaml"
LEVEL_WORDS = {"error": Level.ERROR, "warning": Level.WARNING, "info": Level.INFO}


@dataclass(frozen=True)
class RuleSetting:
    enabled: bool = True
    level: Level | None = None  # None: the rule's default
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    """Rule settings from a config file (or none)."""

    file: str | None = None
    rules: dict[str, RuleSetting] = field(default_factory=dict)

    def enabled(self, code: str) -> bool:
        s = self.rules.get(code)
        return s.enabled if s else True

    def level(self, code: str) -> Level:
        from cdp_cli.rules import get_rule

        s = self.rules.get(code)
        return s.level if s and s.level else get_rule(code).level

    def option(self, code: str, name: str) -> Any:
        from cdp_cli.rules import get_rule

        s = self.rules.get(code)
        if s and name in s.options:
            return s.options[name]
        return get_rule(code).options[name]

    def has_option(self, code: str, name: str) -> bool:
        s = self.rules.get(code)
        return bool(s and name in s.options)

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """Drop findings of disabled rules and re-level the rest (for commands that collect first)."""
        out = []
        for f in findings:
            s = self.rules.get(f.code)
            if s is None:
                out.append(f)
            elif s.enabled:
                out.append(f if s.level is None or s.level is f.level else _relevel(f, s.level))
        return out


def _relevel(f: Finding, level: Level) -> Finding:
    from dataclasses import replace

    return replace(f, level=level)


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``.cdp.yaml`` in ``start`` (default: the current directory) or a parent."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None, *, search: bool = True) -> Config:
    """Load ``path``, or the nearest ``.cdp.yaml`` when ``path`` is None and ``search`` is set."""
    if path is None:
        if not search:
            return Config()
        path = find_config()
        if path is None:
            return Config()
    file, _ = defs.load_definition(path, ConfigFile, what="config file", point_at_keys=True)
    return Config(file=str(path), rules=file.settings)


class ConfigFile(defs.Definition):
    """The ``.cdp.yaml`` definition. Rule options are typed by their defaults, so the rules mapping is
    read by :meth:`check` against the rule catalog."""

    not_a_mapping = "a config file holds a mapping with the key 'rules'"
    version: Literal[1] = defs.field(1, message=lambda v: f"unsupported version {v!r}; this cdp reads version 1")
    rules: dict[str, Any] | None = defs.field(
        None, message="'rules' maps rule codes to off, a level, or {level, options...}"
    )

    def check(self) -> None:
        from cdp_cli.rules import REGISTRY, all_rules

        all_rules()
        self.settings: dict[str, RuleSetting] = {}
        for code, value in (self.rules or {}).items():
            code_s = str(code).upper()
            if code_s not in REGISTRY:
                import difflib

                close = difflib.get_close_matches(code_s, list(REGISTRY), n=1)
                hint = f"; did you mean {close[0]}?" if close else "; `cdp rules` lists them"
                raise defs.invalid(f"unknown rule code {code!r}{hint}", "rules", code)
            if code_s in self.settings:
                raise defs.invalid(f"rule {code_s} is configured twice (codes are case-insensitive)", "rules", code)
            self.settings[code_s] = _setting(REGISTRY[code_s], value, ("rules", code))


def parse_config(data: Any, file: str = "<config>", where=lambda parts: (0, 0)) -> Config:
    """A :class:`Config` from parsed YAML (``where(path) -> (line, col)`` locates errors)."""
    cfg = defs.parse_definition(data, ConfigFile, file, lambda parts, key: where(parts), point_at_keys=True)
    return Config(file=file, rules=cfg.settings)


def _level(value: Any, parts: tuple) -> tuple[bool, Level | None]:
    if value is False or value == "off":
        return False, None
    if value is True or value == "on":
        return True, None
    if isinstance(value, str) and value.lower() in LEVEL_WORDS:
        return True, LEVEL_WORDS[value.lower()]
    raise defs.Invalid(f"invalid level {value!r}; use off, error, warning or info", parts)


def _setting(rule, value: Any, parts: tuple) -> RuleSetting:
    if not isinstance(value, dict):
        enabled, level = _level(value, parts)
        return RuleSetting(enabled, level)
    on_by_level, on_by_flag, level = True, True, None  # either one off means off, in any order
    options: dict[str, Any] = {}
    for key, v in value.items():
        if key == "level":
            on_by_level, level = _level(v, parts + (key,))
        elif key == "enabled":
            if not isinstance(v, bool):
                raise defs.Invalid("'enabled' is true or false", parts + (key,))
            on_by_flag = v
        elif key in rule.options:
            options[key] = _option(rule, key, v, parts + (key,))
        else:
            known = ", ".join(["level", "enabled", *rule.options])
            raise defs.Invalid(f"rule {rule.code} has no option {key!r}; it takes: {known}", parts + (key,))
    return RuleSetting(on_by_level and on_by_flag, level, options)


def _option(rule, key: str, value: Any, parts: tuple) -> Any:
    default = rule.options[key]
    if isinstance(default, bool) or isinstance(default, int):
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise defs.Invalid(f"{rule.code}.{key} is true or false (default {str(default).lower()})", parts)
            return value
        least = 1 if key.startswith("max_") else 0  # a limit of 0 would flag everything
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            kind = "a positive" if least else "a non-negative"
            raise defs.Invalid(f"{rule.code}.{key} must be {kind} integer (default {default})", parts)
        return value
    if key in ("style", "traits", "pages"):
        from cdp_cli.naming import Style

        try:
            return Style(str(value)).value
        except ValueError:
            raise defs.Invalid(
                f"{rule.code}.{key}: unknown naming style {value!r}; use one of " + ", ".join(s.value for s in Style),
                parts,
            ) from None
    if key == "oldest":
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise defs.Invalid(f"{rule.code}.{key} must be a date such as 2000-01-01", parts) from None
    if key.startswith("max_") and isinstance(default, str):
        try:
            parse_duration(str(value))
        except ValueError as e:
            raise defs.Invalid(f"{rule.code}.{key}: {e}", parts) from None
        return str(value)
    if not isinstance(value, type(default)):
        raise defs.Invalid(f"{rule.code}.{key} must be a {type(default).__name__}", parts)
    return value
