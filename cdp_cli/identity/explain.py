"""Read a ``cdp profiles resolve`` output directory: look up one profile (``show``) and explain why two
identifiers are, or are not, in the same profile (``explain``).

Queries run on the engine straight over the Parquet files (filters are pushed down into them), so
this works on outputs of any size without loading them. Their SQL is in :mod:`cdp_cli.identity.sql`.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError, UsageError
from cdp_cli.identity import sql
from cdp_cli.identity.outputs import FILES, MARKER
from cdp_cli.schemas import OUTPUTS_FORMAT_VERSION


@dataclass(frozen=True)
class Identifier:
    type: str
    value: str
    profile_id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass
class Hop:
    """One message that joined two identifiers: ``linked`` (it attached ``b`` to the profile that held
    ``a``) or ``merged`` (it merged two profiles)."""

    a: str
    b: str
    how: str
    message_id: str | None
    timestamp: str | None
    file: str | None
    line: int | None
    identifiers: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.a,
            "to": self.b,
            "how": self.how,
            "message_id": self.message_id,
            "timestamp": self.timestamp,
            "file": self.file,
            "line": self.line,
            "identifiers": self.identifiers,
        }


@dataclass
class Explanation:
    a: Identifier
    b: Identifier
    same_profile: bool
    hops: list[Hop] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    #: identifiers of a type that never joins people (group_id): the profiles each is recorded on
    recorded: dict[str, list[str]] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.recorded:
            return "recorded" if self.same_profile else "never linked"
        if self.same_profile:
            return "linked"
        return "refused" if self.refusals else "never linked"

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": str(self.a),
            "b": str(self.b),
            "a_profile": self.a.profile_id,
            "b_profile": self.b.profile_id,
            "same_profile": self.same_profile,
            "verdict": self.verdict,
            "hops": [h.as_dict() for h in self.hops],
            "refusals": self.refusals,
            "recorded_on": self.recorded,
        }


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    return ts.isoformat().replace("+00:00", "Z") if hasattr(ts, "isoformat") else str(ts)


class ProfileStore:
    """An output directory of ``cdp profiles resolve``."""

    def __init__(self, directory: str | Path, *, memory_limit: str = "1GB", engine: Any = None) -> None:
        """``memory_limit``: the engine's memory before it spills to a temporary directory (traits
        and audiences over a million events need about 700 MiB for twenty definitions: measured in
        bench/RESULTS.md; 512MB ran out of memory on aggregates that cannot spill). ``engine``: an
        :class:`~cdp_cli.engine.EngineChoice` (DuckDB by default)."""
        self.dir = Path(directory)
        manifest = self.dir / MARKER
        if not manifest.is_file():
            raise InputError(
                f"{self.dir}: not a profiles directory (no {MARKER}); "
                f"run `cdp profiles resolve ... --out {self.dir}` first"
            )
        try:
            self.manifest = json.loads(manifest.read_text())
        except (OSError, ValueError) as e:
            raise InputError(f"{manifest}: unreadable ({e})") from None
        if self.manifest.get("cdp") != "profiles" or self.manifest.get("format_version") != OUTPUTS_FORMAT_VERSION:
            raise InputError(f"{manifest}: written by an incompatible version of cdp; resolve again")
        for name in self.manifest.get("files", []):
            if not (self.dir / name).is_file():
                raise InputError(f"{self.dir / name}: missing; resolve again")
        self.types = {t["name"]: t for t in self.manifest["identity"]["types"]}
        import tempfile

        from cdp_cli.engine import EngineChoice

        choice = engine if engine is not None else EngineChoice()
        self._spill = tempfile.TemporaryDirectory(prefix="cdp-engine-")  # never the user's directory
        self.engine = choice.connect(memory_limit=memory_limit, temp_dir=self._spill.name)
        self.dialect = self.engine.dialect
        for file in FILES:
            self.engine.register_parquet(file.removesuffix(".parquet"), self.dir / file)

    def close(self) -> None:
        self.engine.close()
        self._spill.cleanup()

    def __enter__(self) -> ProfileStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- lookups ---------------------------------------------------------------------------------
    def matches(self, type_name: str) -> bool:
        """Whether identifiers of this type join profiles (group_id does not: it is only recorded)."""
        return self.types.get(type_name, {}).get("match", True)

    def find(self, text: str) -> list[Identifier]:
        """``email:ada@example.com``, ``user_id:42`` or a bare value (any type): the identifiers it names,
        one entry per profile holding it. A type that never joins people (group_id) is not in
        identities.parquet but recorded on profiles, possibly several: those are found there."""
        kind, sep, rest = text.partition(":")
        t: str | None = kind if sep and kind in self.types else None
        v = rest if t is not None else text
        values = sorted({v, v.strip(), v.strip().lower()})
        if t is None:
            query = sql.FIND_IDENTIFIERS.render(self.dialect, values=values)
        else:
            query = sql.FIND_IDENTIFIERS_OF_TYPE.render(self.dialect, values=values, type=t)
        rows = self.engine.rows(query)
        recorded = [name for name in self.types if not self.matches(name) and (t is None or name == t)]
        if recorded:
            import pyarrow as pa

            pairs = [(name, value) for name in recorded for value in values]
            self.engine.register_arrow(
                "wanted",
                pa.table(
                    {
                        "type": pa.array([p[0] for p in pairs], pa.string()),
                        "value": pa.array([p[1] for p in pairs], pa.string()),
                    }
                ),
            )
            rows += self.engine.rows(sql.FIND_RECORDED.render(self.dialect))
        out: list[Identifier] = []
        for row in rows:
            ident = Identifier(*row)
            lowered = self.types.get(ident.type, {}).get("lowercase", False)
            if ident.value != v.strip() and not lowered:
                continue  # "ADA" names user_id "ADA", not "ada"; emails are stored lower-cased
            out.append(ident)
        return sorted(
            set(out), key=lambda i: (self.types.get(i.type, {}).get("priority", 10**6), i.type, i.value, i.profile_id)
        )

    def _found(self, text: str) -> list[Identifier]:
        found = self.find(text)
        if not found:
            raise InputError(
                f"{text}: no such identifier in {self.dir} "
                "(give type:value, e.g. email:ada@example.com, or check the value)"
            )
        return found

    def _ambiguous(self, text: str, found: list[Identifier], ask: str) -> UsageError:
        listed = ", ".join(f"{i} ({i.profile_id})" for i in found[:20])
        more = f" and {len(found) - 20:,} more" if len(found) > 20 else ""
        if len({(i.type, i.value) for i in found}) == 1:
            what = f"{found[0]} is on {len(found):,} profiles"
            ask = "a profile id"
        else:
            what = f"{text} names {len(found):,} identifiers"
        return UsageError(f"{what}: {listed}{more}; give {ask} to choose one")

    def profile_of(self, text: str) -> str:
        """The profile id ``text`` names: a profile id, or an identifier held by exactly one profile
        (a UsageError lists the candidates when it names several)."""
        if text.startswith("prof_"):
            return text
        found = self._found(text)
        if len({i.profile_id for i in found}) > 1:
            raise self._ambiguous(text, found, "type:value or a profile id")
        return found[0].profile_id

    def one(self, text: str) -> Identifier:
        """The one identifier ``text`` names (a UsageError lists the candidates when it names several
        identifiers, or a joining identifier on several profiles)."""
        found = self._found(text)
        if len({(i.type, i.value) for i in found}) > 1:
            raise self._ambiguous(text, found, "type:value")
        return found[0]

    def profile(self, profile_id: str, recent: int = 10) -> dict[str, Any]:
        t = self.engine.arrow(sql.PROFILE.render(self.dialect, profile_id=profile_id)).to_pylist()
        if not t:
            raise InputError(f"{profile_id}: no such profile in {self.dir}")
        row = t[0]
        prio = {name: spec.get("priority", 10**6) for name, spec in self.types.items()}
        idents = dict(sorted(dict(row["identifiers"]).items(), key=lambda kv: (prio.get(kv[0], 10**6), kv[0])))
        events = self.engine.arrow(
            sql.RECENT_EVENTS.render(self.dialect, profile_id=profile_id, recent=recent)
        ).to_pylist()
        return {
            "profile_id": row["profile_id"],
            "identifiers": idents,
            "traits": json.loads(row["traits"]),
            "first_seen": _iso(row["first_seen"]),
            "last_seen": _iso(row["last_seen"]),
            "event_count": row["event_count"],
            "counts": {
                k[:-6]: row[k] for k in row if k.endswith("_count") and k not in ("event_count", "identifier_count")
            },
            "merged_profiles": row["merged_profiles"],
            "recent_events": [{**e, "timestamp": _iso(e["timestamp"])} for e in events],
        }

    # --- explain ---------------------------------------------------------------------------------
    def explain(self, a_text: str, b_text: str) -> Explanation:
        a, b = self.one(a_text), self.one(b_text)
        if not self.matches(a.type) or not self.matches(b.type):
            # recorded on profiles, never joining them: say whether they share one, and which
            on = {str(i): sorted({x.profile_id for x in self.find(str(i))}) for i in (a, b) if not self.matches(i.type)}
            pa = on.get(str(a), [a.profile_id])
            pb = on.get(str(b), [b.profile_id])
            shared = sorted(set(pa) & set(pb))
            if shared:
                a, b = Identifier(a.type, a.value, shared[0]), Identifier(b.type, b.value, shared[0])
            return Explanation(a, b, bool(shared), recorded=on)
        if a.profile_id == b.profile_id:
            return Explanation(a, b, True, self._path(a, b))
        return Explanation(a, b, False, refusals=self._refusals(a, b))

    def _path(self, a: Identifier, b: Identifier) -> list[Hop]:
        """The chain of messages joining ``a`` to ``b`` inside their profile (breadth first: fewest hops)."""
        edges: dict[str, list[tuple[str, Hop]]] = {}

        def add(x: str, y: str, hop: Hop) -> None:
            edges.setdefault(x, []).append((y, hop))
            edges.setdefault(y, []).append(
                (x, Hop(y, x, hop.how, hop.message_id, hop.timestamp, hop.file, hop.line, hop.identifiers))
            )

        for t, v, vt, vv, mid, at, f, line in self.engine.rows(
            sql.LINKS_OF_PROFILE.render(self.dialect, profile_id=a.profile_id)
        ):
            if vt is not None:
                x, y = f"{vt}:{vv}", f"{t}:{v}"
                add(x, y, Hop(x, y, "linked", mid, _iso(at), f, line, [x, y]))
        for ids, mid, at, f, line in self.engine.rows(
            sql.MERGES_INTO_PROFILE.render(self.dialect, profile_id=a.profile_id)
        ):
            for i in range(len(ids)):
                for j in range(i + 1, len(ids)):
                    add(ids[i], ids[j], Hop(ids[i], ids[j], "merged", mid, _iso(at), f, line, list(ids)))
        start, goal = str(a), str(b)
        if start == goal:
            return []
        prev: dict[str, tuple[str, Hop]] = {}
        queue = deque([start])
        seen = {start}
        while queue:
            x = queue.popleft()
            for y, hop in sorted(edges.get(x, []), key=lambda e: (e[1].timestamp or "", e[0])):
                if y in seen:
                    continue
                seen.add(y)
                prev[y] = (x, hop)
                if y == goal:
                    path = []
                    while y != start:
                        x, hop = prev[y]
                        path.append(hop)
                        y = x
                    return path[::-1]
                queue.append(y)
        return []  # cannot happen for two identifiers of one profile; an empty chain says so

    def _refusals(self, a: Identifier, b: Identifier) -> list[dict[str, Any]]:
        """Refused merges whose message carried identifiers of both profiles."""
        mine = {
            a.profile_id: {str(i) for i in self._identifiers_of(a.profile_id)},
            b.profile_id: {str(i) for i in self._identifiers_of(b.profile_id)},
        }
        out = []
        for row in self.engine.arrow(sql.REFUSED_MERGES.render(self.dialect)).to_pylist():
            ids = set(row["identifiers"])
            if ids & mine[a.profile_id] and ids & mine[b.profile_id]:
                out.append(
                    {
                        **row,
                        "timestamp": _iso(row["timestamp"]),
                        "dropped": f"{row['dropped_type']}:{row['dropped_value']}",
                    }
                )
                if len(out) >= 20:
                    break
        return out

    def _identifiers_of(self, profile_id: str) -> list[Identifier]:
        return [
            Identifier(*r)
            for r in self.engine.rows(sql.IDENTIFIERS_OF_PROFILE.render(self.dialect, profile_id=profile_id))
        ]
