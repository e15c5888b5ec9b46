"""Find plans on disk, read their files, check their structure and build the :class:`Plan` model.

Structural problems (unknown keys, wrong value types, values outside their set, sections defined
twice) are found here, while building; semantic checks run on the model in
:mod:`cdp_cli.plan.checks`. Loading never raises for a bad plan file: every problem is a finding.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError
from cdp_cli.findings import Finding
from cdp_cli.jsonpath import json_path
from cdp_cli.naming import Style, normalize
from cdp_cli.pii import PII_CLASSES
from cdp_cli.plan import format as fmt
from cdp_cli.plan.model import Body, Conventions, Event, Origin, Plan, Prop, Settings
from cdp_cli.rules import plan_rules as R
from cdp_cli.rules.rule import Rule
from cdp_cli.yamlsrc import YamlProblem, load_yaml

_PROBLEM_RULES = {
    "unreadable": R.FILE_UNREADABLE,
    "syntax": R.YAML_SYNTAX,
    "duplicate-key": R.DUPLICATE_KEY,
    "limits": R.YAML_LIMITS,
    "empty": R.EMPTY_FILE,
}


# --- discovery ------------------------------------------------------------------------------------
@dataclass
class PlanSource:
    """The files of one plan, found from a command-line path."""

    root: str  # display path of the plan (its directory or its single file)
    files: list[Path] = field(default_factory=list)


def display_path(path: Path) -> str:
    """A path relative to the working directory when it lies below it (as CI annotations want)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _real(path: Path) -> Path:
    """``path`` with its links resolved as far as they go. Unlike ``Path.resolve()`` (RuntimeError on
    Python 3.11), a symbolic link loop does not raise: it is reported when the file is read (PL001)."""
    return Path(os.path.realpath(path))


def _is_loop(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def discover(paths: list[str | Path]) -> list[PlanSource]:
    """Turn command-line paths into plans (see "Finding plans in a tree" in docs/plan-format.md).

    Raises :class:`InputError` for a path that does not exist or a directory without YAML files.
    """
    sources: list[PlanSource] = []
    seen: set[tuple[Path, ...]] = set()
    for raw in paths:
        path = Path(raw)
        if _is_loop(path):
            raise InputError(f"{raw}: symbolic link loop (the link leads back to itself); there is no file to read")
        if not path.exists():
            raise InputError(f"{raw}: no such file or directory")
        root = enclosing_root(path)
        if root is not None:
            # a file or folder inside a plan: validate that whole plan, so refs to its shared
            # library resolve (an editor or a partial CI run validating one file wants this)
            target = _real(path)
            found = [
                s for s in _discover_dir(root) if any(_real(f) == target or target in _real(f).parents for f in s.files)
            ]
            if not found:
                raise InputError(f"{raw}: no plan files (*.yaml, *.yml) here")
        elif path.is_file():
            found = [PlanSource(display_path(path), [path])]
        elif path.is_dir():
            found = _discover_dir(path)
            if not found:
                raise InputError(f"{raw}: no plan files (*.yaml, *.yml) in this directory")
        else:
            raise InputError(f"{raw}: not a regular file or directory")
        for src in found:
            key = tuple(sorted(_real(p) for p in src.files))
            if key not in seen:
                seen.add(key)
                sources.append(src)
    return sources


def enclosing_root(path: Path) -> Path | None:
    """The plan root (a directory holding plan.yaml) strictly above ``path``, if any. The search
    stops at a repository boundary (a directory holding .git) so it never wanders out of a project."""
    start = _real(path)
    here = start.parent if start.is_file() or not start.is_dir() else start
    if start.is_dir() and any((start / n).is_file() for n in fmt.PLAN_FILE_NAMES):
        return None  # the path is itself a plan root: discovered normally
    for d in [here, *here.parents]:
        if d != start and any((d / n).is_file() for n in fmt.PLAN_FILE_NAMES):
            return d
        if (d / ".git").exists():
            return None
    return None


def _discover_dir(top: Path) -> list[PlanSource]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name.endswith(fmt.YAML_SUFFIXES):
                files.append(Path(dirpath) / name)
    files.sort(key=lambda p: p.relative_to(top).parts)
    roots = sorted({f.parent for f in files if f.name in fmt.PLAN_FILE_NAMES}, key=lambda p: p.parts)
    if not roots:
        return [PlanSource(display_path(top), files)] if files else []
    by_root: dict[Path, PlanSource] = {r: PlanSource(display_path(r)) for r in roots}
    # the root's plan.yaml is read first, so plan-level settings are owned by it in messages
    files.sort(key=lambda p: (p.name not in fmt.PLAN_FILE_NAMES, p.relative_to(top).parts))
    loose: list[PlanSource] = []
    for f in files:
        owner = None
        for r in roots:  # deepest root that contains f
            if r == f.parent or r in f.parents:
                if owner is None or len(r.parts) > len(owner.parts):
                    owner = r
        if owner is None:
            loose.append(PlanSource(display_path(f), [f]))
        else:
            by_root[owner].files.append(f)
    return [by_root[r] for r in roots] + loose


# --- structure ------------------------------------------------------------------------------------
def suggest(key: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    """The allowed key a misspelt ``key`` most likely meant."""
    norm = normalize(key)
    for cand in allowed:
        if normalize(cand) == norm:
            return cand
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {c.lower(): c for c in allowed}
    close = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", list: "a list", dict: "a mapping"}


def _type_name(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_SECTIONS = tuple(k for k in fmt.TOP_KEYS if k not in ("version", "name", "description", "owner"))


def _looks_like_plan(data: dict) -> bool:
    """A file is read as a plan when it has a plan section (events, properties, ...), when every key
    is a plan key (a plan.yaml with only name and description), or when an unknown key is a near
    miss of a section (``evnets``). So docker-compose or Kubernetes files are "not a plan" rather
    than a plan full of unknown keys."""
    if any(k in _SECTIONS for k in data) or all(k in fmt.TOP_KEYS or k.startswith("x-") for k in data):
        return True
    return any(difflib.get_close_matches(k, _SECTIONS, n=1, cutoff=0.8) for k in data if k not in fmt.TOP_KEYS)


class PlanBuilder:
    """Accumulates one plan from its files, with findings."""

    def __init__(self, source: PlanSource):
        self.plan = Plan(root=source.root)
        self.source = source
        self.findings: list[Finding] = []
        self._singletons: dict[str, Origin] = {}

    # findings ---------------------------------------------------------------------------------
    def report(self, rule: Rule, origin: Origin, message: str, *, key: bool = False, **extra: Any) -> None:
        line, col = origin.position(key=key)
        self.findings.append(rule.finding(origin.file, line, col, message, path=origin.json_path, **extra))

    def _problem(self, file: str, p: YamlProblem) -> None:
        rule = _PROBLEM_RULES[p.kind]
        self.findings.append(rule.finding(file, p.line, p.column, p.message, path=json_path(p.path) if p.path else ""))

    def check_keys(self, mapping: dict, origin: Origin, allowed: tuple[str, ...], what: str) -> None:
        for key in mapping:
            if key in allowed or key.startswith("x-"):
                continue
            hint = suggest(key, allowed)
            msg = f"unknown key {key!r} in {what}"
            msg += f"; did you mean {hint!r}?" if hint else f"; allowed keys: {', '.join(allowed)}"
            self.report(R.UNKNOWN_KEY, origin.child(key), msg, key=True, suggestion=hint)

    def expect(self, value: Any, kind: type, origin: Origin, what: str) -> bool:
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is list and ok:
            ok = all(isinstance(v, str) for v in value)
            if not ok:
                self.report(R.WRONG_TYPE, origin, f"{what} must be a list of strings")
                return False
        if not ok:
            self.report(R.WRONG_TYPE, origin, f"{what} must be {_TYPE_NAMES[kind]}, not {_type_name(value)}")
        return ok

    def opt(self, mapping: dict, key: str, kind: type, origin: Origin, what: str) -> Any:
        if key not in mapping:
            return None
        value = mapping[key]
        return value if self.expect(value, kind, origin.child(key), f"{what} '{key}'") else None

    # files ------------------------------------------------------------------------------------
    def add_file(self, path: Path) -> None:
        name = display_path(path)
        self.plan.files.append(name)
        doc, problems = load_yaml(path, display=name)
        for p in problems:
            self._problem(name, p)
        if doc is None:
            return
        root = Origin(doc, ())
        data = doc.data
        if not isinstance(data, dict):
            self.report(
                R.NOT_A_PLAN,
                root,
                f"not a plan: the top level is {_type_name(data)}, expected a mapping with events, properties, ...",
            )
            return
        if not data:
            self.report(R.EMPTY_FILE, root, "file holds an empty mapping; add definitions or delete it")
            return
        if not _looks_like_plan(data):
            found = ", ".join(repr(k) for k in list(data)[:5])
            self.report(
                R.NOT_A_PLAN,
                root,
                f"not a plan: none of its keys ({found}) is a plan section "
                "(events, properties, identify, group, pages, screens, common, ...)",
            )
            return
        self.check_keys(data, root, fmt.TOP_KEYS, "the plan")
        self._top(data, root)

    def _singleton(self, key: str, origin: Origin) -> bool:
        first = self._singletons.get(key)
        if first is not None:
            line, _ = first.position(key=True)
            self.report(
                R.CONFLICT,
                origin,
                f"'{key}' is already defined in {first.file}:{line}; define it in one file of the plan",
                key=True,
            )
            return False
        self._singletons[key] = origin
        return True

    def _top(self, data: dict, root: Origin) -> None:
        plan = self.plan
        if "version" in data:
            v = data["version"]
            if not (isinstance(v, int) and not isinstance(v, bool)) or v not in fmt.SUPPORTED_VERSIONS:
                self.report(
                    R.INVALID_VALUE,
                    root.child("version"),
                    f"plan-format version {v!r} is not supported; "
                    f"this cdp reads version {', '.join(map(str, fmt.SUPPORTED_VERSIONS))}",
                )
        once = {k for k in fmt.SINGLETON_KEYS if k in data and self._singleton(k, root.child(k))}
        for key in ("name", "description", "owner"):
            if key in once:
                setattr(plan, key, self.opt(data, key, str, root, "plan"))
        if "conventions" in once:
            self._conventions(data["conventions"], root.child("conventions"))
        if "settings" in once:
            self._settings(data["settings"], root.child("settings"))
        if "properties" in data:
            props = self._prop_map(data["properties"], root.child("properties"), "the shared property library")
            for name, prop in props.items():
                self._define(plan.shared, name, prop, prop.origin, "shared property")
        if "events" in data:
            events = data["events"]
            if self.expect(events, dict, root.child("events"), "'events'"):
                for name, spec in events.items():
                    event = self._event(name, spec, root.child("events", name))
                    if event is not None:
                        self._define(plan.events, name, event, event.origin, "event")
        for kind, section in (("page", "pages"), ("screen", "screens")):
            if section in data and self.expect(data[section], dict, root.child(section), f"'{section}'"):
                for name, spec in data[section].items():
                    body = self._body(kind, name, spec, root.child(section, name))
                    if body is not None:
                        self._define(getattr(plan, section), name, body, body.origin, kind)
        for kind in ("identify", "group", "common"):
            if kind in once:
                setattr(plan, kind, self._body(kind, None, data[kind], root.child(kind)))

    def _define(self, table: dict, name: str, value: Any, origin: Origin, what: str) -> None:
        if name in table:
            first = table[name].origin
            line, _ = first.position(key=True)
            self.report(
                R.DUPLICATE_EVENT, origin, f"{what} {name!r} is already defined at {first.file}:{line}", key=True
            )
            return
        table[name] = value

    def _conventions(self, spec: Any, origin: Origin) -> None:
        if not self.expect(spec, dict, origin, "'conventions'"):
            return
        self.check_keys(spec, origin, fmt.CONVENTION_KEYS, "conventions")
        conv = Conventions()
        styles = [s.value for s in Style]
        for key in ("events", "properties", "traits", "pages"):
            value = self.opt(spec, key, str, origin, "convention")
            if value is None:
                continue
            if value not in styles:
                hint = suggest(value, styles)
                self.report(
                    R.INVALID_VALUE,
                    origin.child(key),
                    f"unknown naming style {value!r}"
                    + (f"; did you mean {hint!r}?" if hint else f"; use one of {', '.join(styles)}"),
                )
                continue
            setattr(conv, key, Style(value))
        exceptions = self.opt(spec, "exceptions", list, origin, "conventions")
        if exceptions:
            conv.exceptions = frozenset(exceptions)
        self.plan.conventions = conv

    def _settings(self, spec: Any, origin: Origin) -> None:
        if not self.expect(spec, dict, origin, "'settings'"):
            return
        self.check_keys(spec, origin, fmt.SETTINGS_KEYS, "settings")
        settings = Settings()
        value = self.opt(spec, "allow_unplanned_events", bool, origin, "setting")
        if value is not None:
            settings.allow_unplanned_events = value
        value = self.opt(spec, "additionalProperties", bool, origin, "setting")
        if value is not None:
            settings.additional_properties = value
        self.plan.settings = settings

    # events and bodies ---------------------------------------------------------------------------
    def _event(self, name: str, spec: Any, origin: Origin) -> Event | None:
        if not name.strip():
            self.report(R.INVALID_VALUE, origin, "an event name cannot be empty", key=True)
            return None
        if spec is None:
            spec = {}
        if not self.expect(spec, dict, origin, f"event {name!r}"):
            return None
        self.check_keys(spec, origin, fmt.EVENT_KEYS, f"event {name!r}")
        event = Event(name=name, origin=origin)
        event.description = self.opt(spec, "description", str, origin, "event")
        event.owner = self.opt(spec, "owner", str, origin, "event")
        event.labels = self.opt(spec, "labels", list, origin, "event") or []
        event.deprecated = bool(self.opt(spec, "deprecated", bool, origin, "event"))
        body_keys = [k for k in ("properties", "required", "additionalProperties") if k in spec]
        if "versions" in spec:
            if body_keys:
                self.report(
                    R.CONFLICT,
                    origin.child(body_keys[0]),
                    f"event {name!r} has both 'versions' and '{body_keys[0]}'; move it into each version",
                    key=True,
                )
            versions = spec["versions"]
            if self.expect(versions, dict, origin.child("versions"), f"'versions' of event {name!r}"):
                if not versions:
                    self.report(
                        R.INVALID_VALUE, origin.child("versions"), f"event {name!r} has an empty 'versions' mapping"
                    )
                for vkey, vspec in versions.items():
                    vorigin = origin.child("versions", vkey)
                    if not re.fullmatch(r"[0-9]+", vkey) or int(vkey) < 1:
                        self.report(
                            R.INVALID_VALUE,
                            vorigin,
                            f"event version {vkey!r} must be a positive integer "
                            "(Segment's context.protocols.event_version)",
                            key=True,
                        )
                        continue
                    if int(vkey) in event.versions:
                        self.report(
                            R.DUPLICATE_EVENT,
                            vorigin,
                            f"version {int(vkey)} of event {name!r} is defined twice",
                            key=True,
                        )
                        continue
                    body = self._body(
                        "track",
                        name,
                        vspec,
                        vorigin,
                        keys=fmt.VERSION_KEYS,
                        label=f"version {int(vkey)} of event {name!r}",
                    )
                    if body is not None:
                        if body.description is None:
                            body.description = event.description
                        event.versions[int(vkey)] = body
        else:
            body = self._body(
                "track", name, {k: spec[k] for k in body_keys}, origin, keys=fmt.VERSION_KEYS, check=False
            )
            assert body is not None  # the name is not blank (checked above) and the spec is a mapping
            body.description = event.description
            event.versions[1] = body
        if not event.versions:
            return None
        return event

    def _body(
        self,
        kind: str,
        name: str | None,
        spec: Any,
        origin: Origin,
        *,
        keys: tuple[str, ...] | None = None,
        check: bool = True,
        label: str | None = None,
    ) -> Body | None:
        what = label or (f"{'event' if kind == 'track' else kind} {name!r}" if name else kind)
        if name is not None and not name.strip():
            self.report(R.INVALID_VALUE, origin, f"a {kind} name cannot be empty", key=True)
            return None
        if spec is None:
            spec = {}
        if not self.expect(spec, dict, origin, what):
            return None
        keys = keys or fmt.BODY_KEYS[kind]
        if check:
            self.check_keys(spec, origin, keys, what)
        body = Body(kind=kind, name=name, origin=origin)
        if "description" in keys:
            body.description = self.opt(spec, "description", str, origin, what)
        if "owner" in spec:
            self.opt(spec, "owner", str, origin, what)
        if "labels" in spec:
            self.opt(spec, "labels", list, origin, what)
        for fld in ("properties", "traits", "context"):
            if fld in keys and fld in spec:
                body.fields[fld] = self._prop_map(spec[fld], origin.child(fld), f"{fld} of {what}")
        if "required" in keys and "required" in spec:
            body.required = self.opt(spec, "required", list, origin, what) or []
        if "additionalProperties" in keys and "additionalProperties" in spec:
            body.additional_properties = self.opt(spec, "additionalProperties", bool, origin, what)
        return body

    # properties ------------------------------------------------------------------------------------
    def _prop_map(self, spec: Any, origin: Origin, what: str) -> dict[str, Prop]:
        if spec is None:
            return {}
        if not self.expect(spec, dict, origin, what):
            return {}
        out: dict[str, Prop] = {}
        for name, pspec in spec.items():
            porigin = origin.child(name)
            if pspec is None:
                pspec = {}
            if not isinstance(pspec, dict):
                hint = f" (write {{type: {pspec}}})" if isinstance(pspec, str) and pspec in fmt.JSON_TYPES else ""
                self.report(
                    R.WRONG_TYPE,
                    porigin,
                    f"property {name!r} must be a mapping (a property definition), not {_type_name(pspec)}{hint}",
                )
                continue
            self.check_prop(pspec, porigin, named=True)
            out[name] = Prop(name=name, spec=pspec, origin=porigin)
        return out

    def check_prop(self, spec: dict, origin: Origin, *, named: bool) -> None:
        """Structural check of one property definition and its sub-definitions."""
        self.check_keys(spec, origin, fmt.PROP_KEYS, "a property definition")
        for key in ("ref", "description", "title"):
            if key in spec:
                self.expect(spec[key], str, origin.child(key), f"'{key}'")
        if "pii" in spec:
            pii = spec["pii"]
            if pii is False:
                pii = "none"
            if not isinstance(pii, str) or pii not in PII_CLASSES:
                hint = suggest(str(pii), PII_CLASSES)
                self.report(
                    R.INVALID_VALUE,
                    origin.child("pii"),
                    f"unknown PII class {pii!r}"
                    + (f"; did you mean {hint!r}?" if hint else f"; use one of {', '.join(PII_CLASSES)}"),
                )
        if "required" in spec:
            req = spec["required"]
            if isinstance(req, bool):
                if not named:
                    self.report(
                        R.INVALID_VALUE,
                        origin.child("required"),
                        "'required: true/false' applies to a named property; "
                        "inside items/anyOf/... list the required names instead ('required: [a, b]')",
                    )
            elif not (isinstance(req, list) and all(isinstance(r, str) for r in req)):
                self.report(
                    R.WRONG_TYPE,
                    origin.child("required"),
                    f"'required' must be true/false (this property) "
                    f"or a list of child property names, not {_type_name(req)}",
                )
        for key in fmt.SUB_ONE:
            sub = spec.get(key)
            if isinstance(sub, dict):
                self.check_prop(sub, origin.child(key), named=False)
        for key in fmt.SUB_LIST:
            subs = spec.get(key)
            if isinstance(subs, list):
                for i, sub in enumerate(subs):
                    if isinstance(sub, dict):
                        self.check_prop(sub, origin.child(key, i), named=False)
        children = spec.get("properties")
        if isinstance(children, dict):
            for cname, cspec in children.items():
                if isinstance(cspec, dict):
                    self.check_prop(cspec, origin.child("properties", cname), named=True)
                elif cspec is not None:
                    self.report(
                        R.WRONG_TYPE,
                        origin.child("properties", cname),
                        f"property {cname!r} must be a mapping (a property definition), not {_type_name(cspec)}",
                    )


def load_plan(source: PlanSource) -> tuple[Plan, list[Finding]]:
    """Read every file of one plan. Returns the (possibly partial) plan and the structural findings."""
    builder = PlanBuilder(source)
    builder.plan.root = source.root
    for path in source.files:
        builder.add_file(path)
    return builder.plan, builder.findings
