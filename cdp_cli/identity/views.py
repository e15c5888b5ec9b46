"""Results of reading resolved profiles (``cdp profiles show`` and ``explain``), as plain data and
plain text lines, for every reporter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cdp_cli.findings import Finding
from cdp_cli.results import Table, plural


@dataclass
class ProfileView:
    """One profile (``cdp profiles show``): identifiers, traits, counts, recent events."""

    profile: dict[str, Any]
    command: str = "profiles show"
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return self.profile

    def failed(self, strict: bool = False) -> bool:
        return False

    def verdict(self) -> str:
        p = self.profile
        return (
            f"{p['profile_id']}  {plural(p['event_count'], 'event')}, first seen {p['first_seen']}, "
            f"last seen {p['last_seen']}; {p['merged_profiles']} profile(s) merged into it"
        )

    def tables(self) -> list[Table]:
        p = self.profile
        return [
            Table("Identifiers", ["type", "values"], [[t, ", ".join(v)] for t, v in p["identifiers"].items()]),
            Table(
                "Traits", ["trait", "value"], [[k, json.dumps(v, ensure_ascii=False)] for k, v in p["traits"].items()]
            ),
            Table("Events by type", ["type", "events"], [[k, v] for k, v in p["counts"].items() if v], frozenset({1})),
            Table(
                "Recent events",
                ["timestamp", "type", "event", "messageId", "where"],
                [
                    [e["timestamp"], e["type"], e["event"] or "", e["message_id"] or "", f"{e['file']}:{e['line']}"]
                    for e in p["recent_events"]
                ],
            ),
        ]


def explanation_lines(ex: Any) -> list[str]:
    """``cdp profiles explain`` as text: the verdict first (``linked:``, ``apart:``, ``recorded:``), then
    one line per hop or refused merge, each with its message, time, file and line."""
    a, b = str(ex.a), str(ex.b)
    lines: list[str] = []
    if ex.recorded:  # a group id: recorded on profiles, never joining them
        for ident, on in ex.recorded.items():
            shown = ", ".join(on[:10]) + (f" and {len(on) - 10:,} more" if len(on) > 10 else "")
            lines.append(
                f"{ident} is recorded on {plural(len(on), 'profile')} ({shown}); values of its type never join profiles"
            )
        if ex.same_profile:
            lines.append(f"recorded: {a} and {b} are both on {ex.a.profile_id}.")
        else:
            lines.append(f"apart: {a} and {b} are on no common profile.")
        return lines
    if ex.same_profile:
        lines.append(f"linked: {a} and {b} are both in {ex.a.profile_id}, joined in {len(ex.hops)} hop(s):")
        for i, h in enumerate(ex.hops, 1):
            where = f"message {h.message_id} at {h.timestamp} ({h.file}:{h.line})"
            if h.how == "linked":
                lines.append(f"  {i}. {h.a} -> {h.b}: both on {where}")
            else:
                lines.append(
                    f"  {i}. {h.a} -> {h.b}: {where} merged their profiles (it carried {', '.join(h.identifiers)})"
                )
        return lines
    lines.append(f"apart: {a} is in {ex.a.profile_id}, {b} is in {ex.b.profile_id}.")
    if not ex.refusals:
        lines.append("  never linked: no message carried identifiers of both profiles.")
        return lines
    for r in ex.refusals:
        lines.append(
            f"  refused: message {r['message_id']} at {r['timestamp']} ({r['file']}:{r['line']}) "
            f"carried {', '.join(r['identifiers'])}; merging would give {r['would_hold']} {r['limit_type']} "
            f"values (limit {r['limit_value']} {r['limit_window']}), so {r['dropped']} was dropped from it"
        )
    return lines
