"""``cdp audiences explain``: for one profile, every condition of each audience's tree with
true/false, the value compared, and the events behind performed and funnel conditions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cdp_cli.audiences.compiler import explain_statement
from cdp_cli.audiences.compute import _open, load_spec, prepare, unknown_audience
from cdp_cli.results import DefinitionResult, Table
from cdp_cli.traits.compute import iso
from cdp_cli.traits.explain import one_profile_events

LISTED = 50  #: events listed per condition


@dataclass
class NodeLine:
    depth: int
    text: str
    result: bool
    value: Any
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AudienceExplanation:
    key: str
    member: bool
    include_anonymous: bool
    identified: bool
    nodes: list[NodeLine]


@dataclass
class ExplainResult(DefinitionResult):
    profile_id: str
    as_of: datetime
    as_of_source: str
    spec: Path
    audiences: list[AudienceExplanation]
    command: str = "audiences explain"

    def summary(self) -> dict[str, Any]:
        return {
            "profile_id": self.profile_id,
            "as_of": iso(self.as_of),
            "as_of_source": self.as_of_source,
            "audiences": [
                {
                    "key": a.key,
                    "member": a.member,
                    "identified": a.identified,
                    "include_anonymous": a.include_anonymous,
                    "conditions": [n.__dict__ for n in a.nodes],
                }
                for a in self.audiences
            ],
        }

    def tables(self) -> list[Table]:
        return [
            Table(
                f"{a.key}: {'member' if a.member else 'not a member'}",
                ["", "condition", "value"],
                [
                    ["✓" if n.result else "✗", "  " * n.depth + n.text, "" if n.value is None else n.value]
                    for n in a.nodes
                ],
            )
            for a in self.audiences
        ]

    def lines(self) -> list[str]:
        out = []
        for a in self.audiences:
            out.append(f"{a.key}: {'member' if a.member else 'not a member'}")
            if not a.include_anonymous and not a.identified:
                out.append("  ✗ no user_id or email identifier (include_anonymous is false)")
            for n in a.nodes:
                value = "" if n.value is None else f"  (value {n.value})"
                out.append(f"  {'  ' * n.depth}{'✓' if n.result else '✗'} {n.text}{value}")
                for e in n.events:
                    out.append(
                        f"  {'  ' * n.depth}    {e['file']}:{e['line']}  {e['message_id']}  {e['timestamp']}{e['note']}"
                    )
        out.append(self.verdict())
        return out

    def verdict(self) -> str:
        inside = [a.key for a in self.audiences if a.member]
        when = f"as of {iso(self.as_of)} ({self.as_of_source})"
        return f"{self.profile_id}: in {len(inside)} of {len(self.audiences)} audiences {when}"


def _events(store: Any, prepared: Any, node: Any, audience: Any, pid: str) -> list[dict[str, Any]]:
    stmt = explain_statement(node, audience, store.engine.dialect, prepared.as_of, pid, LISTED)
    rows = store.engine.arrow(stmt).to_pylist()
    out = []
    for r in rows:
        note = ""
        if node.kind == "funnel":
            note = f"  then {node.leaf.funnel[1]} at {iso(r['followed_at'])}" if r["followed_at"] else "  not followed"
        out.append(
            {
                "file": r["file"],
                "line": r["line"],
                "message_id": r["message_id"],
                "timestamp": iso(r["timestamp"]),
                "note": note,
            }
        )
    return out


def explain(
    profile: str,
    profiles_dir: str | Path,
    spec_path: str | Path,
    *,
    audience: str | None = None,
    traits: str | Path | None = None,
    as_of: datetime | str | None = None,
) -> ExplainResult:
    spec = load_spec(spec_path)
    chosen = spec.audiences
    if audience is not None:
        chosen = [a for a in chosen if a.key == audience]
        if not chosen:
            raise unknown_audience(spec, audience)
    with _open(profiles_dir) as store:
        pid = store.profile_of(profile)
        store.profile(pid, recent=0)
        prepared = prepare(store, spec, as_of, traits, profile_id=pid, nodes=True)
        with one_profile_events(store, pid):
            return _explained(store, prepared, chosen, pid, spec)


def _explained(store: Any, prepared: Any, chosen: list[Any], pid: str, spec: Any) -> ExplainResult:
    row = store.engine.arrow(prepared.compiled.statement).to_pylist()[0]
    ids = prepared.compiled.node_ids
    out = []
    for a in chosen:
        lines: list[NodeLine] = []

        def walk(node: Any, depth: int, a: Any = a, lines: list[NodeLine] = lines) -> None:
            n = ids[id(node)]
            events = _events(store, prepared, node, a, pid) if node.kind in ("performed", "funnel") else []
            if node.kind == "funnel":
                events = [e for e in events if ("not followed" in e["note"]) == node.leaf.then_not]
            value = row[f"v{n}"]
            lines.append(
                NodeLine(
                    depth,
                    node.describe(),
                    bool(row[f"n{n}"]),
                    iso(value) if isinstance(value, datetime) else value,
                    events,
                )
            )
            for c in node.children:
                walk(c, depth + 1)

        walk(a.tree, 0)
        identified = bool(row["identified"])
        out.append(AudienceExplanation(a.key, bool(row[a.key]), a.include_anonymous, identified, lines))
    return ExplainResult(pid, prepared.as_of, prepared.as_of_source, spec.path, out)
