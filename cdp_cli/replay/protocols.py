"""A tracking plan enforced on replayed messages, as Segment Protocols and RudderStack do online.

Controls (``cdp events replay --plan PLAN``):

- ``--on-unplanned allow|drop``: a track whose event is not in the plan (a page or screen whose name
  is not, when the plan lists pages or screens) is sent or dropped;
- ``--unplanned-properties keep|omit``: properties (traits, for identify and group) the matched
  rule does not declare are kept or removed;
- ``--on-violation allow|drop|omit``: a message that breaks its rule is sent as it is, dropped, or
  sent without the offending properties (a violation no single property can be blamed for, such as
  a missing required property, stays: the message is sent and the violation recorded).

What was done is recorded in the message, as Segment does: ``context.protocols.omitted`` (the fields
removed, such as ``properties.debug``) and ``context.protocols.violations`` (``type``, ``field``,
``description`` per violation; types are RudderStack's names: Datatype-Mismatch, Required-Missing,
...). The validation is lint's (:class:`cdp_cli.lint.conformance.Conformance`), so a message replayed
here is judged exactly as ``cdp events lint --plan`` judges it.
"""

from __future__ import annotations

import copy
from typing import Any

from cdp_cli.rules.codes import CONFORMANCE_UNPLANNED_EVENT

ON_UNPLANNED = ("allow", "drop")
UNPLANNED_PROPERTIES = ("keep", "omit")
ON_VIOLATION = ("allow", "drop", "omit")


def _declared(schema: dict[str, Any], key: str) -> frozenset[str] | None:
    """The property names a rule declares under ``key`` (properties or traits); None when it does
    not constrain them (no ``properties`` there)."""
    inner = schema.get("properties", {}).get(key)
    if not isinstance(inner, dict) or not isinstance(inner.get("properties"), dict):
        return None
    return frozenset(inner["properties"])


class PlanControls:
    def __init__(
        self,
        plan: Any,
        *,
        on_unplanned: str = "allow",
        unplanned_properties: str = "keep",
        on_violation: str = "allow",
    ) -> None:
        from cdp_cli.lint.conformance import Conformance

        self.conf = Conformance(plan)
        self.on_unplanned = on_unplanned
        self.unplanned_properties = unplanned_properties
        self.on_violation = on_violation

    def planned(self, msg: dict[str, Any], t: Any) -> bool:
        if t == "track":
            return msg.get("event") in self.conf.track
        if t in ("page", "screen"):
            table = self.conf.pages if t == "page" else self.conf.screens
            return not table or msg.get("name") in table
        return True

    def apply(self, msg: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, list[str]]:
        """``(message to send, None, actions)`` or ``(None, reason, actions)`` when it is dropped
        (reason ``unplanned`` or ``violation``). The input is never changed: a message with
        something to record or omit is copied. Actions: ``omitted``, ``violations``."""
        t = str(msg.get("type"))
        if self.on_unplanned == "drop" and not self.planned(msg, t):
            return None, "unplanned", []
        found: list[tuple[str, str, str]] = []

        def emit(code: str, path: str, message: str, **kw: Any) -> None:
            if code != CONFORMANCE_UNPLANNED_EVENT:
                found.append((kw.get("violation_type") or code, path, message))

        entry = self.conf.check(msg, t, emit)
        if found and self.on_violation == "drop":
            return None, "violation", []
        key = "traits" if t in ("identify", "group") else "properties"
        omit: set[str] = set()
        if entry is not None and self.unplanned_properties == "omit":
            declared = _declared(entry.schema, key)
            values = msg.get(key)
            if declared is not None and isinstance(values, dict):
                omit.update(k for k in values if k not in declared)
        if found and self.on_violation == "omit":
            prefix = f"$.{key}."
            for _type, path, _message in found:
                if path.startswith(prefix):
                    omit.add(path[len(prefix) :].split(".", 1)[0].split("[", 1)[0])
        if not found and not omit:
            return msg, None, []
        out = copy.copy(msg)
        actions = []
        context = dict(out.get("context") or {}) if isinstance(out.get("context"), dict) else {}
        protocols = dict(context.get("protocols") or {}) if isinstance(context.get("protocols"), dict) else {}
        if omit:
            values = dict(out[key])
            present = sorted(k for k in omit if k in values)
            for k in present:
                del values[k]
            out[key] = values
            if present:
                protocols["omitted"] = [f"{key}.{k}" for k in present]
                actions.append("omitted")
        if found:
            protocols["violations"] = [
                {"type": vt, "field": path[2:] if path.startswith("$.") else path, "description": text}
                for vt, path, text in found
            ]
            actions.append("violations")
        context["protocols"] = protocols
        out["context"] = context
        return out, None, actions


def load_controls(
    plan_paths: list[Any], *, on_unplanned: str, unplanned_properties: str, on_violation: str
) -> PlanControls:
    from pathlib import Path

    from cdp_cli.plan.load import load_valid_plan

    plan = load_valid_plan([Path(p) for p in plan_paths])
    return PlanControls(
        plan, on_unplanned=on_unplanned, unplanned_properties=unplanned_properties, on_violation=on_violation
    )
