"""What every format module shares: the import/export :class:`Report`, the :class:`PlanDraft` an importer
fills, and :func:`write_plan`, which writes a draft as cdp plan YAML (one file or a plan directory).

Nothing here imports a format module, so the format modules and :mod:`cdp_cli.plan.formats` can both
import this one without a cycle.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cdp_cli.findings import Finding, Level
from cdp_cli.jsonpath import json_path, printable

#: Finding codes of the import/export report. Not lint rules (nothing to enable or disable): a record of
#: what a conversion changed (info) or could not carry over (warning).
NORMALISED = "PF001"
LOST = "PF002"
_RULE_NAMES = {NORMALISED: "plan-format.normalised", LOST: "plan-format.lost"}

Path_ = tuple[str | int, ...]
Locator = Callable[[Path_], tuple[int, int]]


# --- the report ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Item:
    """One thing a conversion did: ``normalised`` (a messy or foreign construct rewritten to an equivalent
    cdp one) or ``lost`` (something the target cannot express, dropped or kept only as an annotation).

    ``file`` is the source file (import) or the plan file (export) the item is about; ``path`` a JSON path
    inside it; ``line``/``column`` are 1-based, 0 when unknown."""

    kind: str
    file: str
    path: str
    message: str
    line: int = 0
    column: int = 0

    @property
    def lost(self) -> bool:
        return self.kind == "lost"

    def to_finding(self) -> Finding:
        code = LOST if self.lost else NORMALISED
        return Finding(
            code=code,
            rule=_RULE_NAMES[code],
            level=Level.WARNING if self.lost else Level.INFO,
            file=self.file,
            line=self.line,
            column=self.column,
            message=printable(self.message),
            path=self.path,
            extra={"kind": self.kind},
        )

    def as_row(self) -> list[Any]:
        where = self.file + (f":{self.line}" if self.line else "")
        return [where, self.path, printable(self.message)]


@dataclass
class _Tally:
    count: int
    file: str
    first: Path_
    kind: str


@dataclass
class _Group:
    subjects: list[str]
    file: str
    line: int
    column: int
    path: Path_


class Report:
    """Everything an import or export normalised or lost, with where in the source it happened.

    Repeated small normalisations (``id`` paths on every node of a schema) are tallied per scope and
    written as one item with a count and the first place (:meth:`tally`, :meth:`flush`), so a report of a
    real export stays readable."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self._locators: dict[str, Locator] = {}
        self._tallies: dict[tuple[str, str, str], _Tally] = {}
        self._groups: dict[tuple[str, str], _Group] = {}

    def locate(self, file: str, locator: Locator) -> None:
        """Register a source file read, and how to find the line and column of a JSON path in it."""
        self._locators[file] = locator

    @property
    def sources(self) -> list[str]:
        """The source files read (every file an importer registered with :meth:`locate`)."""
        return list(self._locators)

    def _position(self, file: str, path: Path_, line: int, column: int) -> tuple[int, int]:
        if line or file not in self._locators:
            return line, column
        try:
            return self._locators[file](path)
        except Exception:  # a locator is best effort: a report never fails on a position
            return 0, 0

    def add(self, kind: str, message: str, *, file: str, path: Path_ = (), line: int = 0, column: int = 0) -> None:
        line, column = self._position(file, path, line, column)
        self.items.append(Item(kind, file, json_path(path) if path else "", message, line, column))

    def normalised(self, message: str, *, file: str, path: Path_ = (), line: int = 0, column: int = 0) -> None:
        self.add("normalised", message, file=file, path=path, line=line, column=column)

    def lost(self, message: str, *, file: str, path: Path_ = (), line: int = 0, column: int = 0) -> None:
        self.add("lost", message, file=file, path=path, line=line, column=column)

    def tally(self, label: str, *, file: str, path: Path_, scope: str = "", kind: str = "normalised") -> None:
        """Count one occurrence of ``label`` (a short phrase such as "removed draft-04 'id' keywords")."""
        key = (file, scope, label)
        t = self._tallies.get(key)
        if t is None:
            self._tallies[key] = _Tally(1, file, path, kind)
        else:
            t.count += 1

    def group(
        self,
        label: str,
        subject: str,
        *,
        file: str,
        line: int = 0,
        column: int = 0,
        path: Path_ = (),
        kind: str = "lost",
    ) -> None:
        """Collect ``subject`` (an event name, a property) under ``label``; :meth:`flush` writes one item per
        label naming the subjects, at the first one's place."""
        g = self._groups.get((kind, label))
        if g is None:
            self._groups[(kind, label)] = _Group([subject], file, line, column, path)
        elif subject not in g.subjects:
            g.subjects.append(subject)

    def flush(self) -> None:
        """Turn the tallies and groups into items (in the order they were first seen)."""
        for (file, scope, label), t in self._tallies.items():
            where = f" in {scope}" if scope else ""
            times = f" ({t.count} times, first at {json_path(t.first)})" if t.count > 1 else ""
            self.add(t.kind, f"{label}{where}{times}", file=file, path=t.first)
        self._tallies.clear()
        for (kind, label), g in self._groups.items():
            shown = ", ".join(g.subjects[:10]) + (f" and {len(g.subjects) - 10} more" if len(g.subjects) > 10 else "")
            self.add(kind, f"{label}: {shown}", file=g.file, path=g.path, line=g.line, column=g.column)
        self._groups.clear()

    @property
    def normalisations(self) -> list[Item]:
        return [i for i in self.items if not i.lost]

    @property
    def losses(self) -> list[Item]:
        return [i for i in self.items if i.lost]

    def findings(self) -> list[Finding]:
        return [i.to_finding() for i in self.items]


# --- the draft an importer fills ----------------------------------------------------------------------
@dataclass
class PlanDraft:
    """A plan being imported, as plain data in cdp's plan format (docs/plan-format.md).

    ``events`` maps an event name to ``{"description", "owner", "labels", "deprecated", "versions": {n:
    body}}``; a body is ``{"description", "properties" | "traits", "required", "additionalProperties",
    "owner", "labels"}``. :meth:`to_data` writes an event with only version 1 without ``versions``."""

    name: str | None = None
    description: str | None = None
    owner: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    common: dict[str, Any] = field(default_factory=dict)
    shared: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    identify: dict[str, Any] | None = None
    group: dict[str, Any] | None = None
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    screens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def event(self, name: str) -> dict[str, Any]:
        return self.events.setdefault(name, {"versions": {}})

    def bodies(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(label, body) of every message body, for post-passes over properties."""
        for name, ev in self.events.items():
            for v, body in ev["versions"].items():
                yield f"event {name!r} v{v}", body
        if self.identify is not None:
            yield "identify", self.identify
        if self.group is not None:
            yield "group", self.group
        for name, body in self.pages.items():
            yield f"page {name!r}", body
        for name, body in self.screens.items():
            yield f"screen {name!r}", body

    def counts(self) -> dict[str, int]:
        return {
            "events": len(self.events),
            "event_versions": sum(len(e["versions"]) for e in self.events.values()),
            "shared_properties": len(self.shared),
            "pages": len(self.pages),
            "screens": len(self.screens),
            "identify": int(self.identify is not None),
            "group": int(self.group is not None),
        }

    def to_data(self) -> dict[str, Any]:
        """The plan as one mapping in cdp's format, in a stable, readable order (names sorted)."""
        out: dict[str, Any] = {"version": 1}
        for key in ("name", "description", "owner"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.common:
            out["common"] = _clean_body(self.common)
        if self.shared:
            out["properties"] = {k: self.shared[k] for k in sorted(self.shared, key=_sort_key)}
        if self.events:
            out["events"] = {k: _event_data(self.events[k]) for k in sorted(self.events, key=_sort_key)}
        if self.identify is not None:
            out["identify"] = _clean_body(self.identify)
        if self.group is not None:
            out["group"] = _clean_body(self.group)
        if self.pages:
            out["pages"] = {k: _clean_body(self.pages[k]) for k in sorted(self.pages, key=_sort_key)}
        if self.screens:
            out["screens"] = {k: _clean_body(self.screens[k]) for k in sorted(self.screens, key=_sort_key)}
        return out


def _sort_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


_BODY_ORDER = ("description", "owner", "labels", "additionalProperties", "required", "context", "properties", "traits")
_VERSION_ORDER = ("description", "additionalProperties", "required", "properties")


def _clean_body(body: dict[str, Any], order: tuple[str, ...] = _BODY_ORDER) -> dict[str, Any]:
    """The keys of ``body`` that say something, in a readable order (empty values left out)."""
    return {k: body[k] for k in order if body.get(k) not in (None, [], "", {})}


def _event_data(ev: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    desc = ev.get("description")
    versions: dict[int, dict[str, Any]] = ev.get("versions", {})
    single = _clean_body(versions[1], _VERSION_ORDER) if list(versions) == [1] else None
    if single is not None and (not desc or single.get("description") in (None, desc)):
        desc = desc or single.get("description")
        single.pop("description", None)
    else:
        single = None
    if desc:
        out["description"] = desc
    for key in ("owner", "labels"):
        if ev.get(key):
            out[key] = ev[key]
    if ev.get("deprecated"):
        out["deprecated"] = True
    if single is not None:
        out.update(single)
        return out
    out["versions"] = {}
    for v in sorted(versions):
        body = _clean_body(versions[v], _VERSION_ORDER)
        if desc and body.get("description") == desc:
            body.pop("description")
        out["versions"][v] = body
    return out


# --- writing plan YAML --------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    """Readable plan YAML: block style for structure, flow style for small leaf mappings and lists
    (``order_id: {ref: order_id, required: true}``), literal blocks for multi-line text."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # lists indented under keys
        super().increase_indent(flow, False)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _flow_ok(data: dict | list) -> bool:
    values = data.values() if isinstance(data, dict) else data
    if not all(_is_scalar(v) or (isinstance(v, list) and all(_is_scalar(x) for x in v)) for v in values):
        return False
    if any(isinstance(v, str) and ("\n" in v or len(v) > 60) for v in values):
        return False
    return len(json.dumps(data, ensure_ascii=False)) <= 90


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=bool(data) and _flow_ok(data))


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(_is_scalar(v) for v in data) and len(json.dumps(data, ensure_ascii=False)) <= 90
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if "\n" in data.rstrip("\n") and not any(c in data for c in "\t\r") and data == data.strip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_str(data)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any, header: str = "") -> str:
    """``data`` as readable YAML text (keys in the order given)."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    return "\n".join(lines) + ("\n" if lines else "") + text


#: how a plan directory splits a draft: file name -> top-level keys
_LAYOUT = (
    ("plan.yaml", ("version", "name", "description", "owner", "settings", "common")),
    ("properties.yaml", ("properties",)),
    ("events.yaml", ("events",)),
    ("identify.yaml", ("identify", "group")),
    ("pages.yaml", ("pages", "screens")),
)


def plan_files(data: dict[str, Any], header: str = "") -> dict[str, str]:
    """A plan directory's files (name -> YAML text) for plan ``data``; plan.yaml always, the rest when they
    have content."""
    out: dict[str, str] = {}
    for name, keys in _LAYOUT:
        part = {k: data[k] for k in keys if k in data}
        if part or name == "plan.yaml":
            out[name] = dump_yaml(part, header)
    return out


def is_file_output(out: Path) -> bool:
    return out.suffix.lower() in (".yaml", ".yml")


def write_plan(
    data: dict[str, Any], out: str | Path, *, header: str = "", force: bool = False, flag: str = "--output"
) -> list[str]:
    """Write plan ``data`` (cdp's plan format, e.g. :meth:`PlanDraft.to_data`) atomically: one YAML file
    when ``out`` ends in ``.yaml``/``.yml``, else a plan directory (``plan.yaml``, ``properties.yaml``,
    ``events.yaml``, ``identify.yaml``, ``pages.yaml``) that the loader reads as one plan. Returns the
    files written. A directory is replaced only if cdp wrote it; a file only if cdp wrote it or ``force``."""
    from cdp_cli.fsutil import atomic_directory, atomic_open

    out = Path(out)
    if is_file_output(out):
        with atomic_open(out, "w", flag=flag, force=force) as fh:
            fh.write(dump_yaml(data, header))
        return [str(out)]
    files = plan_files(data, header)
    with atomic_directory(out, kind="plan import") as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
    return [str(out / name) for name in files]


# --- reading a loaded plan back -----------------------------------------------------------------------
def raw_at(origin: Any) -> Any:
    """The raw YAML value at a model :class:`~cdp_cli.plan.model.Origin` (for keys the model does not
    keep, such as a page's owner and labels)."""
    node = origin.doc.data
    for part in origin.path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def body_meta(body: Any) -> dict[str, Any]:
    """Owner and labels of a page, screen, identify or group body (read from its YAML)."""
    raw = raw_at(body.origin)
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    if isinstance(raw.get("owner"), str):
        out["owner"] = raw["owner"]
    if isinstance(raw.get("labels"), list):
        out["labels"] = [x for x in raw["labels"] if isinstance(x, str)]
    return out


def plan_key_location(plan: Any, key: str) -> tuple[str, int, int]:
    """Where a plan-level key (``conventions``, ``settings``, ``owner``) is written: (file, line, column)."""
    from cdp_cli.yamlsrc import load_yaml

    for file in plan.files:
        doc, _ = load_yaml(file)
        if doc is not None and isinstance(doc.data, dict) and key in doc.data:
            line, col = doc.where((key,), key=True)
            return file, line, col
    return (plan.files[0] if plan.files else plan.root), 0, 0


def unique_id(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... the first not in ``taken`` (which it joins)."""
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one (sources are untrusted JSON and YAML)."""
    return value if isinstance(value, dict) else {}


def text_or(value: Any, default: str) -> str:
    """``value`` stripped when it is non-blank text, else ``default``."""
    return value.strip() if isinstance(value, str) and value.strip() else default
