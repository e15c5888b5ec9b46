"""The identity graph: Segment-style resolution, one event at a time, in memory that grows with the
number of identifiers (never with the number of events).

For each event, in the deterministic order the caller feeds them (see :mod:`cdp_cli.identity.resolve`):

1. its identifiers (type, value) are looked up; an identifier belongs to at most one profile;
2. no profile matches: a new profile; one matches: the new identifiers join it; several match: they
   merge, unless the merged profile would hold more values of a type than its limit (counting only
   values seen within the limit's sliding window);
3. on such a conflict the event's lowest-priority identifier is dropped and the step retried: Segment
   Unify's merge protection. Every drop is recorded as a refused merge (which limit, which identifier).

Identify traits (and ``context.traits``) merge into the profile: the newest value wins, ``null``
removes a trait. Profiles are numbered in creation order and named by a hash of the identifier that
created them, so the same data gives the same ids however it is ordered in files.

In ``unrestricted`` mode there are no limits: profiles are exactly the connected components of the
graph whose nodes are identifiers and whose edges join the identifiers of one event.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass
from typing import Any, cast

from cdp_cli.identity.config import IdType


class _Deleted:
    """A trait set to null: removed, but newer than what it removed. One object, also after a
    graph is pickled (a partition's graph comes back from its worker process)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_DELETED"  # pickled as a reference to this module's one instance

    def __repr__(self) -> str:
        return "<deleted>"


_DELETED = _Deleted()
SEP = "\x1f"  # between an identifier's type name and value in keys (a control character: never in type names)
KINDS = ("track", "identify", "page", "screen", "group", "alias")
KIND_INDEX = {k: i for i, k in enumerate(KINDS)}


def profile_id(type_name: str, value: str) -> str:
    """Stable profile id: a hash of the identifier that created the profile (no personal data in it)."""
    return "prof_" + hashlib.sha256(f"{type_name}:{value}".encode()).hexdigest()[:20]


@dataclass(slots=True)
class Merge:
    step: int  # order among all merges and refusals
    pos: int  # position of the triggering event in processing order
    seq: int  # its input sequence number (to find file, line, messageId)
    survivor: int  # profile index
    absorbed: int
    codes: tuple[int, ...]  # the event's identifiers (after any drops)


@dataclass(slots=True)
class Refusal:
    step: int
    pos: int
    seq: int
    type_index: int  # the type whose limit would have been exceeded
    would_hold: int  # values of that type the merged profile would have held
    dropped: int  # identifier code dropped from the event
    profiles: tuple[int, ...]  # profile indexes that would have merged (or received the values)
    codes: tuple[int, ...]  # the event's identifiers before this drop


class Graph:
    def __init__(self, types: list[IdType], *, unrestricted: bool = False) -> None:
        self.types = types  # shared with the Extractor: it may grow (context.externalIds types)
        self.matchable = [t.match for t in types]
        self.unrestricted = unrestricted
        # identifiers
        self.code_of: dict[str, int] = {}  # "type name<SEP>value" -> code: the one index of identifiers
        self.keys: list[tuple[int, str]] = []
        self.owner = array("q")  # profile index (an old one after merges: use find) or -1
        self.first = array("q")
        self.last = array("q")
        self.seen = array("q")  # events that carried it (and were resolved with it)
        self.attach_seq = array("q")  # the event that put it on a profile
        self.via = array("q")  # the identifier it was linked through on that event (-1: created the profile)
        # profiles
        self.parent = array("q")
        self.created_pos = array("q")
        self.p_first = array("q")
        self.p_last = array("q")
        self.p_events = array("q")
        self.p_kinds = [array("q") for _ in KINDS]
        self.members: list[dict[int, list[int]] | None] = []
        self.traits: list[dict[str, tuple[int, Any]] | None] = []
        self.pids: list[str] = []
        self.merged_count = array("q")  # profiles merged into this one
        # lineage
        self.merges: list[Merge] = []
        self.refusals: list[Refusal] = []
        self.pos = 0
        self.steps = 0
        self.clock = 0
        self.events_without_profile = 0

    # --- identifiers ---------------------------------------------------------------------------
    def code(self, key: tuple[int, str]) -> int:
        """The code of identifier (type index, value), created on first sight."""
        t, v = key
        name = f"{self.types[t].name}{SEP}{v}"
        c = self.code_of.get(name)
        return c if c is not None else self._add(name, key)

    def code_key(self, name: str, type_index) -> int:
        """The code of an identifier staged as ``"type<SEP>value"`` (``type_index`` maps a type name
        to its index the first time the identifier is seen)."""
        c = self.code_of.get(name)
        if c is None:
            t, _, v = name.partition(SEP)
            c = self._add(name, (type_index(t), v))
        return c

    def lookup(self, t: int, value: str) -> int | None:
        return self.code_of.get(f"{self.types[t].name}{SEP}{value}")

    def _add(self, name: str, key: tuple[int, str]) -> int:
        if key[0] >= len(self.matchable):  # a type first seen now: give it its per-type state first
            self._refresh_types()
        c = len(self.keys)
        self.code_of[name] = c
        self.keys.append(key)
        self.owner.append(-1)
        self.first.append(0)
        self.last.append(0)
        self.seen.append(0)
        self.attach_seq.append(-1)
        self.via.append(-1)
        return c

    def find(self, p: int) -> int:
        parent = self.parent
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    def profile_of(self, code: int) -> int:
        o = self.owner[code]
        return -1 if o < 0 else self.find(o)

    def _rank(self, c: int) -> tuple[int, str, str]:
        t, v = self.keys[c]
        tt = self.types[t]
        return (tt.priority, tt.name, v)

    # --- one event -----------------------------------------------------------------------------
    def process(
        self,
        seq: int,
        ts: int | None,
        codes: list[int],
        *,
        alias: tuple[int, int] | None = None,
        traits: dict[str, Any] | None = None,
        kind: int = -1,
        pos: int | None = None,
    ) -> int:
        """Resolve one event; return the index of the profile it belongs to (-1: no identifier).
        ``pos``: its position in the resolution order when this graph sees only some of the events
        (one partition of components: :mod:`cdp_cli.identity.partitioned`); else counted here."""
        if pos is None:
            pos = self.pos
        self.pos = pos + 1
        if ts is None:
            ts = self.clock
        elif ts > self.clock:
            self.clock = ts
        keys = self.keys
        if len(self.matchable) != len(self.types):  # a type appeared at run time (context.externalIds)
            self._refresh_types()
        matchable = self.matchable
        cand = [c for c in codes if matchable[keys[c][0]]]
        attrs = [c for c in codes if not matchable[keys[c][0]]] if len(cand) != len(codes) else ()
        if alias is not None:  # previousId: a known user id, else an anonymous id (of a type that joins)
            as_user, as_anon = alias
            if as_user >= 0 and not matchable[keys[as_user][0]]:
                as_user = -1
            if as_anon >= 0 and not matchable[keys[as_anon][0]]:
                as_anon = -1
            pick = as_user if as_user >= 0 and self.owner[as_user] >= 0 else as_anon
            if pick >= 0 and pick not in cand:
                cand.append(pick)
        if not cand:
            self.events_without_profile += 1
            return -1
        owner = self.owner
        find = self.find
        # The common case: every identifier is already on one profile. Nothing to decide.
        o = owner[cand[0]]
        if o >= 0:
            s = find(o)
            for c in cand:
                oc = owner[c]
                if oc < 0 or (oc != s and find(oc) != s):
                    break
            else:
                self._touch(s, cand, attrs, ts, kind, traits, pos)
                return s
        if len(cand) > 1:
            cand.sort(key=self._rank)  # priority order: what merge protection drops last-first; the creator first
        while True:
            roots: set[int] = set()
            new: list[int] = []
            for c in cand:
                o = owner[c]
                if o < 0:
                    new.append(c)
                else:
                    roots.add(find(o))
            if self.unrestricted or (len(roots) <= 1 and not new):
                break
            bad = self._violation(roots, new, ts)
            if bad is None:
                break
            t, would = bad
            dropped = cand[-1]
            self.refusals.append(Refusal(self._step(), pos, seq, t, would, dropped, tuple(sorted(roots)), tuple(cand)))
            cand.pop()
        if not roots:
            s = self._new_profile(pos, cand[0])
        else:
            ordered = sorted(roots)
            s = ordered[0]  # the oldest profile survives
            for other in ordered[1:]:
                self._merge(s, other)
                self.merges.append(Merge(self._step(), pos, seq, s, other, tuple(cand)))
        members = self.members[s]
        anchor = next((c for c in cand if owner[c] >= 0), cand[0])
        for c in new:
            owner[c] = s
            members.setdefault(keys[c][0], []).append(c)  # type: ignore[union-attr]
            self.attach_seq[c] = seq
            self.via[c] = -1 if c == anchor else anchor
        self._touch(s, cand, attrs, ts, kind, traits, pos)
        return s

    def _refresh_types(self) -> None:
        """Per-type state for every type, including those added to the shared ``types`` list at run
        time (``context.externalIds``): everything indexed by type index is rebuilt here."""
        self.matchable = [t.match for t in self.types]

    def _touch(self, s: int, cand, attrs, ts: int, kind: int, traits, pos: int) -> None:
        """Record that an event with identifiers ``cand`` (and attributes ``attrs``) belongs to ``s``."""
        first, last, seen = self.first, self.last, self.seen
        for c in cand:
            if not seen[c]:
                first[c] = ts
            seen[c] += 1
            if ts > last[c]:
                last[c] = ts
        if attrs:
            members = self.members[s]
            keys = self.keys
            for c in attrs:
                lst = members.setdefault(keys[c][0], [])  # type: ignore[union-attr]
                if c not in lst:
                    lst.append(c)
        if self.p_events[s] == 0 or ts < self.p_first[s]:
            self.p_first[s] = ts
        if ts > self.p_last[s]:
            self.p_last[s] = ts
        self.p_events[s] += 1
        if kind >= 0:
            self.p_kinds[kind][s] += 1
        if traits:
            mine = self.traits[s]
            for k, v in traits.items():
                mine[k] = (pos, _DELETED if v is None else v)  # type: ignore[index]

    def _step(self) -> int:
        self.steps += 1
        return self.steps

    def _violation(self, roots: set[int], new: list[int], ts: int) -> tuple[int, int] | None:
        """The first type (by priority) whose limit the merged profile would exceed, and how many
        values it would hold; None when the merge is allowed."""
        keys, types, last = self.keys, self.types, self.last
        adding: dict[int, int] = {}
        for c in new:
            t = keys[c][0]
            adding[t] = adding.get(t, 0) + 1
        if len(roots) > 1:
            check = set(adding)
            for r in roots:
                check.update(self.members[r])  # type: ignore[arg-type]
        else:
            check = set(adding)
        for t in sorted(check, key=lambda i: (types[i].priority, types[i].name)):
            tt = types[t]
            limit = tt.limit
            if limit is None or not tt.match:
                continue
            window = tt.window_us
            total = adding.get(t, 0)
            for r in roots:
                lst = self.members[r].get(t)  # type: ignore[union-attr]
                if lst:
                    if window:
                        since = ts - window
                        total += sum(1 for c in lst if last[c] >= since)
                    else:
                        total += len(lst)
            if total > limit:
                return t, total
        return None

    def _new_profile(self, pos: int, creator: int) -> int:
        s = len(self.parent)
        self.parent.append(s)
        self.created_pos.append(pos)
        self.p_first.append(0)
        self.p_last.append(0)
        self.p_events.append(0)
        for a in self.p_kinds:
            a.append(0)
        self.members.append({})
        self.traits.append({})
        self.merged_count.append(0)
        t, v = self.keys[creator]
        self.pids.append(profile_id(self.types[t].name, v))
        return s

    def _merge(self, s: int, other: int) -> None:
        self.parent[other] = s
        mine = self.members[s]
        for t, lst in self.members[other].items():  # type: ignore[union-attr]
            into = mine.setdefault(t, [])  # type: ignore[union-attr]
            if self.types[t].match:
                into.extend(lst)
            else:
                into.extend(c for c in lst if c not in into)
        theirs = self.traits[other]
        ours = self.traits[s]
        for k, item in theirs.items():  # type: ignore[union-attr]
            cur = ours.get(k)  # type: ignore[union-attr]
            if cur is None or item[0] > cur[0]:
                ours[k] = item  # type: ignore[index]
        if self.p_events[other]:
            if self.p_events[s] == 0 or self.p_first[other] < self.p_first[s]:
                self.p_first[s] = self.p_first[other]
            self.p_last[s] = max(self.p_last[s], self.p_last[other])
        self.p_events[s] += self.p_events[other]
        for a in self.p_kinds:
            a[s] += a[other]
        self.merged_count[s] += self.merged_count[other] + 1
        self.members[other] = None
        self.traits[other] = None

    # --- results -------------------------------------------------------------------------------
    def roots(self) -> list[int]:
        return [p for p in range(len(self.parent)) if self.parent[p] == p]

    def profile_traits(self, p: int) -> dict[str, Any]:
        return {k: v for k, (_, v) in sorted(self.traits[p].items()) if v is not _DELETED}  # type: ignore[union-attr]

    def profile_identifiers(self, p: int) -> dict[str, list[str]]:
        """type name -> sorted values, types in priority order."""
        types, keys = self.types, self.keys
        items = sorted(self.members[p].items(), key=lambda kv: (types[kv[0]].priority, types[kv[0]].name))  # type: ignore[union-attr]
        return {types[t].name: sorted(keys[c][1] for c in lst) for t, lst in items}

    def partition(self) -> dict[str, frozenset[tuple[str, str]]]:
        """profile id -> its matching identifiers as (type, value): for tests and comparisons."""
        out: dict[str, frozenset[tuple[str, str]]] = {}
        for p in self.roots():
            ids = [
                (self.types[self.keys[c][0]].name, self.keys[c][1])
                for t, lst in cast("dict[int, list[int]]", self.members[p]).items()  # a root keeps its members
                if self.types[t].match
                for c in lst
            ]
            out[self.pids[p]] = frozenset(ids)
        return out
