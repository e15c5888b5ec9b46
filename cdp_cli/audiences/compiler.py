"""An audiences file as one query: one row per profile, one boolean column per audience (and, for
explain, one per node with the value it compared).

Leaves become columns of the CTE ``leaves`` (``COALESCE``-d: never NULL); ``all`` / ``any`` / ``not``
are AND / OR / NOT of them; an audience reference is the referenced audience's own expression
(cycles are refused when the file is loaded); account wrappers are per-account aggregates joined
through the profile's current account. Event selection, filters, windows and property paths are the
fragments of :mod:`cdp_cli.traits.conditions`; every user value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from cdp_cli.audiences import sql
from cdp_cli.audiences.definitions import Node
from cdp_cli.engine.dialect import Dialect
from cdp_cli.engine.template import Statement
from cdp_cli.events.model import shifted
from cdp_cli.traits import sql as traits_sql
from cdp_cli.traits.compiler import _used, _with
from cdp_cli.traits.conditions import (
    Fragment,
    Value,
    condition,
    hooks,
    in_time,
    matching,
    property_value,
    selection,
    window,
)
from cdp_cli.traits.onepass import OnePass

IDENTIFIED_TYPES = ("user_id", "email")

#: Arrow type names of a computed trait read as a number
NUMBER_TYPES = ("int", "uint", "double", "float", "decimal")


@dataclass
class Compiled:
    statement: Statement
    audiences: list[str]  #: the keys, in file order (columns of the statement)
    node_ids: dict[int, int] = field(default_factory=dict)  #: id(node) -> its number (column nN / vN)


class _Builder:
    def __init__(
        self,
        spec: Any,
        dialect: Dialect,
        as_of: datetime,
        trait_columns: set[str],
        trait_types: Mapping[str, str] | None = None,
        combined: bool = True,
        one: OnePass | None = None,
    ) -> None:
        self.spec, self.d, self.as_of, self.trait_columns = spec, dialect, as_of, trait_columns
        self.combined = combined
        self.trait_types = trait_types or {}
        self.params: dict[str, Any] = {}
        self.ctes: list[tuple[str, str]] = []
        self.leaf_columns: list[str] = []
        self.leaf_joins: list[str] = []
        self.wrappers: list[tuple[str, str]] = []
        self.final_joins: list[str] = []
        self.exprs: dict[str, str] = {}  # audience key -> its expression over l
        self.node_expr: dict[int, tuple[str, str]] = {}  # node number -> (boolean, value)
        self.node_ids: dict[int, int] = {}
        self.joined_traits = {"profile": False, "computed": False, "typed": False}
        self.one = one or OnePass(dialect, as_of)  # the performed leaves: one pass over the events
        self.counts: list[str] = []

    def bind(self, name: str, value: Any) -> str:
        self.params[name] = value
        return self.d.param(name)

    def add(self, f: Fragment) -> str:
        self.params.update(f.params)
        return f.sql

    # --- leaves ---------------------------------------------------------------------------------
    def event_scope(self, leaf: Any, audience: Any, prefix: str, alias: str = "e") -> str:
        parts = [matching(leaf, self.as_of, self.d, prefix=prefix, alias=alias)]
        if audience.lookback is not None:
            shim = SimpleNamespace(within=audience.lookback, between=None)
            parts.append(window(shim, self.as_of, self.d, prefix=f"{prefix}lb", alias=alias))
        return self.add(Fragment.all(parts))

    def funnel_parts(self, leaf: Any, audience: Any, prefix: str) -> tuple[str, str, str]:
        steps = []
        for j, name in enumerate(leaf.funnel):
            step = SimpleNamespace(kind="track", selected=name, within=None, between=None, where=[])
            parts = [selection(step, self.d, prefix=f"{prefix}s{j}", alias="ab"[j])]
            if audience.lookback is not None:
                shim = SimpleNamespace(within=audience.lookback, between=None)
                parts.append(window(shim, self.as_of, self.d, prefix=f"{prefix}lb{j}", alias="ab"[j]))
            steps.append(self.add(Fragment.all(parts)))
        hours = self.bind(f"{prefix}h", int(leaf.within.total_seconds() // 3600))
        return steps[0], steps[1], sql.ADD_HOURS[self.d.name]("a.timestamp", hours)

    def trait_source(self, name: str) -> str:
        head = name.split(".", 1)[0]
        if head in self.trait_columns:
            if not self.joined_traits["computed"]:
                self.joined_traits["computed"] = True
                self.leaf_joins.append("\n    LEFT JOIN computed_traits ct ON ct.profile_id = p.profile_id")
            return "ct"
        if not self.joined_traits["profile"]:
            self.joined_traits["profile"] = True
            self.leaf_joins.append("\n    LEFT JOIN profile_traits pt ON pt.profile_id = p.profile_id")
        return "pt"

    def typed_value(self, name: str) -> Value | None:
        """A computed trait of a scalar type read from its column (no JSON), as the JSON form would
        read it: a number is a JSON number, a text a JSON string, NULL absent."""
        kind = self.trait_types.get(name)
        if kind is None or "." in name:
            return None
        if kind.startswith(NUMBER_TYPES):
            json_kind, number = "number", "CAST({c} AS DOUBLE)"
        elif kind in ("string", "large_string"):
            json_kind, number = "string", "CAST(NULL AS DOUBLE)"
        else:  # lists, booleans, others: through JSON
            return None
        if not self.joined_traits["typed"]:
            self.joined_traits["typed"] = True
            self.leaf_joins.append("\n    LEFT JOIN traits_in tin ON tin.profile_id = p.profile_id")
        col = f"tin.{self.d.quote_ident(name)}"
        text = col if json_kind == "string" else f"CAST({col} AS {self.d.text_type})"
        return Value(text, f"CASE WHEN {col} IS NOT NULL THEN '{json_kind}' END", text, number.format(c=col))

    def trait_expr(self, leaf: Any, prefix: str) -> tuple[str, str]:
        typed = self.typed_value(leaf.trait)
        if typed is not None:
            value = typed
            alias = "tin"
        else:
            alias = self.trait_source(leaf.trait)
            value = property_value(leaf.trait, self.d, alias)
        if leaf.op in ("within_last", "before_last"):
            when = hooks(self.d).as_timestamp(f"CASE WHEN {value.kind} = 'string' THEN {value.text} END")
            start = self.bind(f"{prefix}from", shifted(self.as_of, -leaf.window()))
            if leaf.op == "within_last":
                now = self.bind(f"{prefix}now", self.as_of)
                test = f"{when} >= {start} AND {when} <= {now}"
            else:
                test = f"{when} < {start}"
            return f"COALESCE({test}, FALSE)", value.text
        return self.add(condition(leaf.filter(), self.d, prefix=prefix, alias=alias, read=value)), value.text

    def leaf(self, node: Node, audience: Any, n: int) -> tuple[str, str]:
        leaf, prefix = node.leaf, f"n{n}_"
        if node.kind == "performed" and not self.combined:  # one readable SELECT per leaf (--show-sql)
            scope = self.event_scope(leaf, audience, prefix)
            label = f"{audience.key}: {node.describe()}".replace("\n", " ").replace("*/", "")
            self.ctes.append((f"c{n}", sql.PERFORMED.fill(name=label.replace("--", "- "), matching=scope)))
            self.leaf_joins.append(f"\n    LEFT JOIN c{n} ON c{n}.unit_id = p.profile_id")
            op, count = leaf.bounds()
            value = f"COALESCE(c{n}.n, 0)"
            return f"{value} {op} {self.bind(prefix + 'count', count)}", value
        if node.kind == "performed":
            extra = []
            if audience.lookback is not None:
                shim = SimpleNamespace(within=audience.lookback, between=None)
                extra.append(window(shim, self.as_of, self.d, prefix=f"{prefix}lb"))
            self.one.flag(leaf, f"am{n}", prefix, extra=extra)  # "am": distinct from the traits' flags
            self.counts.append(f",\n           count(*) FILTER (WHERE am{n}) AS c{n}")
            op, count = leaf.bounds()
            value = f"COALESCE(lc.c{n}, 0)"
            return f"{value} {op} {self.bind(prefix + 'count', count)}", value
        if node.kind == "funnel":
            first, second, until = self.funnel_parts(leaf, audience, prefix)
            self.ctes.append(
                (
                    f"f{n}",
                    sql.FUNNEL.fill(
                        name=f"funnel of {audience.key}",
                        first=first,
                        second=second,
                        until=until,
                        negate="NOT" if leaf.then_not else "",
                    ),
                )
            )
            self.leaf_joins.append(f"\n    LEFT JOIN f{n} ON f{n}.unit_id = p.profile_id")
            return f"COALESCE(f{n}.n, 0) > 0", f"COALESCE(f{n}.n, 0)"
        return self.trait_expr(leaf, prefix)

    # --- the tree -------------------------------------------------------------------------------
    def number(self, node: Node) -> int:
        return self.node_ids.setdefault(id(node), len(self.node_ids))

    def tree(self, node: Node, audience: Any) -> str:
        n = self.number(node)
        if node.kind in ("performed", "funnel", "trait"):
            boolean, value = self.leaf(node, audience, n)
            self.leaf_columns.append(f",\n           {boolean} AS l{n}, {value} AS lv{n}")
            expr, value_expr = f"l.l{n}", f"l.lv{n}"
        elif node.kind == "audience":
            expr, value_expr = self.exprs[node.leaf.audience], "NULL"
        elif node.kind in ("all", "any"):
            joiner = " AND " if node.kind == "all" else " OR "
            expr = "(" + joiner.join(self.tree(c, audience) for c in node.children) + ")"
            value_expr = "NULL"
        elif node.kind == "not":
            expr, value_expr = f"(NOT {self.tree(node.children[0], audience)})", "NULL"
        else:  # a wrapper: per account, then the profile's current account
            inner = self.tree(node.children[0], audience)
            self.wrappers.append((f"w{n}", sql.WRAPPER.fill(name=f"{audience.key}: {node.kind}", inner=inner)))
            self.final_joins.append(f"\n    LEFT JOIN w{n} ON w{n}.group_id = ca.group_id")
            if node.kind == "any_user":
                expr = f"COALESCE(w{n}.any_ok = 1, FALSE)"
            elif node.kind == "all_users":
                expr = f"COALESCE(w{n}.all_ok = 1, FALSE)"
            else:
                expr = f"(ca.group_id IS NOT NULL AND COALESCE(w{n}.any_ok, 0) = 0)"
            value_expr = "ca.group_id"
        self.node_expr[n] = (expr, value_expr)
        return expr


def compile_audiences(
    spec: Any,
    dialect: Dialect,
    as_of: datetime,
    *,
    trait_columns: set[str] | None = None,
    trait_types: Mapping[str, str] | None = None,
    profile_id: str | None = None,
    nodes: bool = False,
    only: str | None = None,
    combined: bool = True,
    one: OnePass | None = None,
) -> Compiled:
    """The query of every audience of ``spec`` (in reference order) as of ``as_of``; with ``nodes``
    also a column ``nN`` (true/false) and ``vN`` (the value compared) per node; with ``only`` (a key)
    only that audience's column (the audiences it refers to are computed, not selected);
    ``combined``: the performed leaves in one pass over the events (:mod:`cdp_cli.traits.onepass`),
    else one readable SELECT each (``--show-sql``); computed traits of a scalar type in
    ``trait_types`` are read from their column, the others through JSON. ``one``: a pass over the
    events shared with the traits (see :class:`~cdp_cli.traits.onepass.OnePass`)."""
    b = _Builder(spec, dialect, as_of, trait_columns or set(), trait_types, combined, one)
    scoped = in_time(as_of, dialect, prefix="asof")
    b.params.update(scoped.params)
    common = [("scoped", traits_sql.SCOPED.fill(in_time=scoped.sql))]
    types = ", ".join(b.bind(f"idt{i}", t) for i, t in enumerate(IDENTIFIED_TYPES))
    common.append(("identified", sql.IDENTIFIED.fill(types=types)))
    common.append(("profile_traits", "SELECT profile_id, traits AS properties FROM profiles"))
    if trait_columns:
        pairs = [(dialect.literal(c), f"t.{dialect.quote_ident(c)}") for c in sorted(trait_columns)]
        body = f"SELECT t.profile_id, {sql.JSON_OBJECT[dialect.name](pairs)} AS properties FROM traits_in t"
        common.append(("computed_traits", body))
    account = any(a.level == "account" for a in spec.audiences)
    account = account or any(
        n.kind in ("any_user", "all_users", "no_user") for a in spec.audiences for n in a.tree.walk()
    )
    common += [("membership", traits_sql.MEMBERSHIP.fill()), ("current_account", traits_sql.CURRENT_ACCOUNT.fill())]
    b.leaf_joins.append("\n    LEFT JOIN identified idn ON idn.profile_id = p.profile_id")
    b.leaf_columns.append(",\n           idn.profile_id IS NOT NULL AS identified")
    for audience in spec.ordered():
        expr = b.tree(audience.tree, audience)
        if not audience.include_anonymous:
            expr = f"({expr} AND l.identified)"
        b.exprs[audience.key] = expr
    if b.counts:
        if b.one.table is None:
            facts = b.one.cte()
            b.params.update(b.one.params)
            common += [("user_events", traits_sql.USER_EVENTS.fill()), facts]
        counts = traits_sql.AGGREGATES.fill(columns="".join(b.counts), facts=b.one.relation)
        common.append(("leaf_counts", counts))
        b.leaf_joins.append("\n    LEFT JOIN leaf_counts lc ON lc.unit_id = p.profile_id")
    leaves = sql.LEAVES.fill(columns="".join(b.leaf_columns), joins="".join(b.leaf_joins))
    ctes = common + b.ctes + [("leaves", leaves)] + b.wrappers
    shown = [a for a in spec.audiences if only is None or a.key == only]
    columns = [f",\n           {b.exprs[a.key]} AS {dialect.quote_ident(a.key)}" for a in shown]
    if nodes:
        columns.append(",\n           l.identified AS identified")
        for n, (expr, value) in sorted(b.node_expr.items()):
            columns.append(f",\n           {expr} AS n{n}, {value} AS v{n}")
    joins = ["\n    LEFT JOIN current_account ca ON ca.profile_id = l.profile_id"] if account else []
    if not account:
        ctes = [c for c in ctes if c[0] not in ("membership", "current_account")]
    if profile_id is not None:
        where = f"l.profile_id = {b.bind('profile_id', profile_id)}"
    else:
        where = "TRUE"
    text = sql.AUDIENCES.fill(
        common=_with(ctes), columns="".join(columns), joins="".join(joins + b.final_joins), profile_filter=where
    )
    return Compiled(Statement(text, _used(b.params, text, dialect)), [a.key for a in shown], b.node_ids)


def explain_statement(node: Node, audience: Any, dialect: Dialect, as_of: datetime, profile_id: str, limit: int):
    """The events of one profile behind a performed or funnel leaf."""
    b = _Builder(None, dialect, as_of, set())
    scoped = in_time(as_of, dialect, prefix="asof")
    b.params.update(scoped.params)
    common = _with([("scoped", traits_sql.SCOPED.fill(in_time=scoped.sql))])
    pid, lim = b.bind("profile_id", profile_id), b.bind("limit", int(limit))
    if node.kind == "performed":
        scope = b.event_scope(node.leaf, audience, "x")
        text = sql.MATCHING_EVENTS.fill(common=common, profile=pid, matching=scope, limit=lim)
    else:
        first, second, until = b.funnel_parts(node.leaf, audience, "x")
        text = sql.FUNNEL_EVENTS.fill(common=common, profile=pid, first=first, second=second, until=until, limit=lim)
    return Statement(text, _used(b.params, text, dialect))
