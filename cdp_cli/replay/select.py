"""Which messages a replay reads at all: ``--since``/``--until`` (on the effective timestamp),
``--type``, ``--event`` and ``--exclude-event`` (glob patterns).

Event names are those of track calls (``event``) and of pages and screens (``name``). With
``--event``, only messages with a name that matches one of the patterns are kept (identify, group
and alias calls have none: they are dropped; select them with a replay of their own). With
``--exclude-event``, messages whose name matches are dropped. Patterns are shell globs (``*``,
``?``, ``[...]``), case-sensitive, matched against the whole name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from cdp_cli.events.model import effective_timestamp

#: the six message types of the Segment spec
TYPES = ("track", "identify", "page", "screen", "group", "alias")

#: why a message was not selected (the replay summary counts them by these names)
REASONS = {
    "type": "not of a --type selected",
    "no_timestamp": "no timestamp (with --since/--until)",
    "before_since": "before --since",
    "after_until": "at or after --until",
    "event_not_selected": "no event name matching --event",
    "event_excluded": "event name matching --exclude-event",
}


def event_name(msg: dict[str, Any]) -> str | None:
    """The name a message is selected by: a track's ``event``, a page's or screen's ``name``."""
    t = msg.get("type")
    name = msg.get("event") if t == "track" else msg.get("name") if t in ("page", "screen") else None
    return name if isinstance(name, str) else None


@dataclass(frozen=True)
class Selection:
    since: datetime | None = None
    until: datetime | None = None  #: exclusive
    types: frozenset[str] | None = None
    events: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @staticmethod
    def of(
        since: datetime | None = None,
        until: datetime | None = None,
        types: Sequence[str] = (),
        events: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> Selection:
        return Selection(since, until, frozenset(types) if types else None, tuple(events), tuple(exclude))

    @property
    def everything(self) -> bool:
        return not (self.since or self.until or self.types or self.events or self.exclude)

    def reason(self, msg: dict[str, Any]) -> str | None:
        """Why ``msg`` is not selected (a key of :data:`REASONS`), or None when it is."""
        if self.types is not None and msg.get("type") not in self.types:
            return "type"
        if self.since is not None or self.until is not None:
            ts = effective_timestamp(msg)
            if ts is None:
                return "no_timestamp"
            if self.since is not None and ts < self.since:
                return "before_since"
            if self.until is not None and ts >= self.until:
                return "after_until"
        if self.events or self.exclude:
            name = event_name(msg)
            if self.events and (name is None or not any(fnmatchcase(name, g) for g in self.events)):
                return "event_not_selected"
            if self.exclude and name is not None and any(fnmatchcase(name, g) for g in self.exclude):
                return "event_excluded"
        return None
