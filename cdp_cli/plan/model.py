"""The tracking-plan model: what a plan defines, and where each definition came from.

Property definitions are kept as their plan fragments (plain JSON-compatible dicts, see
docs/plan-format.md); :mod:`cdp_cli.plan.compiler` turns them into JSON Schema. Every part of the
model carries an :class:`Origin`, so any later finding can point at a file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cdp_cli.jsonpath import json_path
from cdp_cli.naming import Style
from cdp_cli.yamlsrc import YamlDocument


@dataclass(frozen=True, slots=True)
class Origin:
    """A place in a plan file: the document and the path of a value inside it."""

    doc: YamlDocument
    path: tuple[str | int, ...]

    @property
    def file(self) -> str:
        return self.doc.file

    def child(self, *parts: str | int) -> Origin:
        return Origin(self.doc, self.path + parts)

    def position(self, *, key: bool = False) -> tuple[int, int]:
        return self.doc.where(self.path, key=key)

    @property
    def json_path(self) -> str:
        return json_path(self.path)


@dataclass(slots=True)
class Prop:
    """One property (or trait, or context field) as written in the plan."""

    name: str
    spec: dict[str, Any]
    origin: Origin

    @property
    def ref(self) -> str | None:
        ref = self.spec.get("ref")
        return ref if isinstance(ref, str) else None


@dataclass(slots=True)
class Body:
    """The shape of one message kind: an event version, identify/group traits, a page or screen.

    ``fields`` maps a message field (``properties``, ``traits`` or ``context``) to its property map.
    """

    kind: str
    name: str | None
    origin: Origin
    description: str | None = None
    fields: dict[str, dict[str, Prop]] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)  # list-form `required:` of the main field
    additional_properties: bool | None = None  # None: the plan's default

    @property
    def main_field(self) -> str:
        return {"identify": "traits", "group": "traits", "common": "context"}.get(self.kind, "properties")

    @property
    def props(self) -> dict[str, Prop]:
        return self.fields.get(self.main_field, {})


@dataclass(slots=True)
class Event:
    """A track event with one or more versions (``versions[1]`` when the plan gives no versions)."""

    name: str
    origin: Origin
    description: str | None = None
    owner: str | None = None
    labels: list[str] = field(default_factory=list)
    deprecated: bool = False
    versions: dict[int, Body] = field(default_factory=dict)

    @property
    def oldest(self) -> Body:
        return self.versions[min(self.versions)]


@dataclass(slots=True)
class Conventions:
    events: Style | None = None
    properties: Style | None = None
    traits: Style | None = None  # None: same as properties
    pages: Style | None = None
    exceptions: frozenset[str] = frozenset()


@dataclass(slots=True)
class Settings:
    allow_unplanned_events: bool = False
    additional_properties: bool = True


@dataclass(slots=True)
class Plan:
    """One tracking plan: a file, or a directory of files merged."""

    root: str
    files: list[str] = field(default_factory=list)
    name: str | None = None
    description: str | None = None
    owner: str | None = None
    conventions: Conventions = field(default_factory=Conventions)
    settings: Settings = field(default_factory=Settings)
    common: Body | None = None
    shared: dict[str, Prop] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    identify: Body | None = None
    group: Body | None = None
    pages: dict[str, Body] = field(default_factory=dict)
    screens: dict[str, Body] = field(default_factory=dict)

    @property
    def display_name(self) -> str:
        return self.name or self.root

    def bodies(self):
        """Every body of the plan (each event version, identify, group, pages, screens, common)."""
        if self.common is not None:
            yield self.common
        for event in self.events.values():
            yield from event.versions.values()
        if self.identify is not None:
            yield self.identify
        if self.group is not None:
            yield self.group
        yield from self.pages.values()
        yield from self.screens.values()

    def counts(self) -> dict[str, int]:
        return {
            "events": len(self.events),
            "event_versions": sum(len(e.versions) for e in self.events.values()),
            "shared_properties": len(self.shared),
            "pages": len(self.pages),
            "screens": len(self.screens),
            "identify": int(self.identify is not None),
            "group": int(self.group is not None),
        }
