"""``cdp plan docs PLAN -o DIR``: a static HTML catalog of a tracking plan, readable from ``file://``.

What it writes (one directory, atomically, through :func:`cdp_cli.fsutil.atomic_directory`):

- ``index.html``: the plan overview (description, owner, counts) and a search box that filters events,
  pages, screens, message definitions and properties by name, description, labels and owner;
- ``events/<slug>.html``: one page per event (description, owner, labels, each version with its badge
  and its properties table: type, required, description, constraints, personal-data class);
- ``pages/<slug>.html``, ``screens/<slug>.html``, ``identify.html``, ``group.html``, ``common.html``;
- ``properties.html``: the shared property library with where each property is used, and every
  property name of the plan with the definitions that use it;
- with ``since=REV``: ``changes.html`` (every change since the revision, with its producer and consumer
  verdicts, from :func:`cdp_cli.plan.diff.diff_plans`) and "new" / "changed" badges on every page.

Several plans (``plans/`` holding ``ecommerce`` and ``saas``) get one subdirectory each and a landing
``index.html`` that lists them and searches all of them.

Every page is self-contained: its CSS and JavaScript are inline, and a Content-Security-Policy allows
exactly those two blocks (by hash) and nothing else: no network, no other script. Plan text is user
text: every value is HTML-escaped, so a description holding ``<script>`` shows as text (and the policy
would refuse to run it even if it did not). Search works without a server: the catalog entries are
in the page, and the script hides those that do not match (``index.html?q=order`` searches on load).
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cdp_cli.errors import InputError, UsageError
from cdp_cli.findings import Finding
from cdp_cli.plan.compiler import Resolver, to_schema
from cdp_cli.plan.formats._core import body_meta
from cdp_cli.plan.formats.markdown import type_of
from cdp_cli.plan.model import Body, Event, Plan, Prop
from cdp_cli.results import Table, plural

KIND = "plan docs"  #: the kind of output directory (cdp_cli.fsutil's stamp)

_RANK = {"safe": 0, "warning": 1, "breaking": 2}
_ACTIVE = ' class="active" aria-current="page"'


# --- the result -----------------------------------------------------------------------------------
@dataclass
class PlanDocs:
    """What was written for one plan."""

    plan: Plan
    directory: str  #: the plan's folder inside the output ("" when the output holds one plan)
    pages: int = 0
    changes: list[Any] = field(default_factory=list)  #: cdp_cli.plan.diff.Change records (with ``since``)
    new_since: bool = False  #: the plan did not exist at ``since``

    def worst(self, side: str) -> str:
        return max((getattr(c, side).value for c in self.changes), key=_RANK.__getitem__, default="safe")


@dataclass
class DocsResult:
    """What ``plan docs`` wrote (follows :class:`cdp_cli.results.Result`). A plan with errors is not
    documented: the result holds its errors and nothing is written."""

    out: Path
    validation: Any
    since: str | None = None
    plans: list[PlanDocs] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    command: str = "plan docs"

    @property
    def findings(self) -> list[Finding]:
        return [f for f in self.validation.findings if f.level.value == "error"]

    @property
    def files(self) -> list[str]:
        return list(self.validation.files)

    def failed(self, strict: bool = False) -> bool:
        return bool(self.findings)

    def summary(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "since": self.since,
            "html_pages": len(self.written),
            "errors": len(self.findings),
            "plans": [
                {
                    "plan": p.plan.display_name,
                    "directory": p.directory,
                    **p.plan.counts(),
                    "html_pages": p.pages,
                    **(
                        {
                            "changes": len(p.changes),
                            "new_since": p.new_since,
                            "producer": p.worst("producer"),
                            "consumer": p.worst("consumer"),
                        }
                        if self.since is not None
                        else {}
                    ),
                }
                for p in self.plans
            ],
        }

    def tables(self) -> list[Table]:
        columns = ["plan", "index", "events", "pages", "screens", "properties", "html pages"]
        if self.since is not None:
            columns += [f"changes since {self.since}", "producers", "consumers"]
        rows = []
        for p in self.plans:
            c = p.plan.counts()
            index = str(self.out / p.directory / "index.html") if p.directory else str(self.out / "index.html")
            row: list[Any] = [
                p.plan.display_name,
                index,
                c["events"],
                c["pages"],
                c["screens"],
                c["shared_properties"],
                p.pages,
            ]
            if self.since is not None:
                row += [
                    "new plan" if p.new_since else len(p.changes),
                    p.worst("producer") if p.changes else "",
                    p.worst("consumer") if p.changes else "",
                ]
            rows.append(row)
        return [Table("Plan docs", columns, rows, frozenset({2, 3, 4, 5, 6}))]

    def verdict(self) -> str:
        if self.failed():
            return (
                f"the plan has {plural(len(self.findings), 'error')}; fix them before writing its docs "
                "(see `cdp plan validate`)"
            )
        text = (
            f"wrote {plural(len(self.written), 'page')} for {plural(len(self.plans), 'plan')} to "
            f"{self.out / 'index.html'}"
        )
        if self.since is not None:
            n = sum(len(p.changes) for p in self.plans)
            text += f" ({plural(n, 'change')} since {self.since})"
        return text


# --- the entry point ------------------------------------------------------------------------------
def plan_docs(plan_paths: Iterable[str | Path], out: str | Path, *, since: str | None = None) -> DocsResult:
    """Write the HTML catalog of the plan(s) at ``plan_paths`` (files or directories) to the directory
    ``out``. ``since`` (a git revision: ``main``, ``HEAD~3``, a tag) adds what changed since then.

    Raises :class:`~cdp_cli.errors.InputError` for a missing path, no plan, or an unknown revision,
    :class:`~cdp_cli.errors.UsageError` for an output over an input or a bad ``since``, and
    :class:`~cdp_cli.errors.OutputError` for an output directory cdp did not write."""
    from cdp_cli.fsutil import atomic_directory, guard_outputs
    from cdp_cli.plan.validate import validate_paths

    paths = [Path(p) for p in plan_paths] or [Path("plans")]
    out = Path(out)
    if since is not None and (not since.strip() or ":" in since or since.startswith("-")):
        raise UsageError(f"--since {since!r}: give a git revision such as main, HEAD~3 or v1.2 (no PATH: the plan's)")
    validation = validate_paths(list(paths))
    if not validation.reports:
        raise InputError(f"{', '.join(map(str, paths))}: no tracking plan found")
    guard_outputs({"--output": out}, paths, dir_flags=("--output",))
    result = DocsResult(out, validation, since)
    if result.failed():
        return result
    plans = [r.plan for r in validation.reports]
    folders = _plan_folders(plans)
    for plan, folder in zip(plans, folders):
        docs = PlanDocs(plan, folder)
        if since is not None:
            docs.changes, docs.new_since = _changes_since(plan, since)
        result.plans.append(docs)
    with atomic_directory(out, kind=KIND) as tmp:
        written: list[str] = []
        for docs in result.plans:
            site = _Site(docs, since, several=len(result.plans) > 1)
            for rel, text in site.render().items():
                target = tmp / docs.directory / rel if docs.directory else tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                written.append(f"{docs.directory}/{rel}" if docs.directory else rel)
            docs.pages = len(site.pages)
        if len(result.plans) > 1:
            (tmp / "index.html").write_text(_landing(result.plans, since), encoding="utf-8")
            written.append("index.html")
    result.written = [str(out / w) for w in written]
    return result


def _plan_folders(plans: list[Plan]) -> list[str]:
    if len(plans) == 1:
        return [""]
    taken: set[str] = set()
    return [_unique(_slug(p.name or Path(p.root).name or "plan"), taken) for p in plans]


def _changes_since(plan: Plan, since: str) -> tuple[list[Any], bool]:
    """The changes to ``plan`` since revision ``since`` (``diff_plans(f"{since}:{root}", root)``), and
    whether the plan is new since then (then every definition is reported as added)."""
    from cdp_cli.plan.diff import compare_plans, diff_plans

    root = plan.root
    real = os.path.realpath(root)  # as git names its top level, so the path is found inside it
    where = real if os.path.isdir(real) else os.path.dirname(real)  # the plan's own repository
    try:
        return list(diff_plans(f"{since}:{real}", root, cwd=where).changes), False
    except InputError as e:
        # a plan added since the revision: its path is not in the revision's tree (the wording is
        # cdp_cli.plan.gitrev.checkout's; a test with a plan added after REV keeps the two in step)
        if " does not exist in " not in str(e) and "no plan files" not in str(e):
            raise
    changes, _ = compare_plans(Plan(root=plan.root, name=plan.name), plan)
    return list(changes), True


# --- helpers ----------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    """Text (or any value) as HTML text or attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def _slug(text: str) -> str:
    """A file-name-safe slug: letters and digits of any script kept, runs of others become '-'."""
    slug = re.sub(r"[^\w]+", "-", text.strip().lower(), flags=re.UNICODE).strip("-_")
    return slug[:80] or "unnamed"


def _unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``... the first not in ``taken`` (compared case-insensitively)."""
    candidate, n = base, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate.casefold())
    return candidate


def _href(path: str) -> str:
    """A relative link (``events/order-completed.html#v2``), percent-encoded and HTML-escaped."""
    page, sep, frag = path.partition("#")
    return _e(quote(page, safe="/.-_") + (sep + quote(frag, safe="-_.") if sep else ""))


def _prose(text: str | None) -> str:
    """A description as paragraphs; `code` spans shown as code. Escaped first, so nothing in it is markup."""
    if not text or not text.strip():
        return ""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        escaped = _e(" ".join(para.split()))
        out.append("<p>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped) + "</p>")
    return "".join(out)


def _inline(text: str | None) -> str:
    """A description on one line (lists and tables)."""
    if not text:
        return ""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(" ".join(text.split())))


def _badge(text: str, tone: str, *, title: str = "") -> str:
    tip = f' title="{_e(title)}"' if title else ""
    return f'<span class="badge {tone}"{tip}>{_e(text)}</span>'


def _json_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_BOUNDS = (
    ("minimum", "≥"),
    ("exclusiveMinimum", ">"),
    ("maximum", "≤"),
    ("exclusiveMaximum", "<"),
    ("minLength", "length ≥"),
    ("maxLength", "length ≤"),
    ("minItems", "items ≥"),
    ("maxItems", "items ≤"),
    ("minProperties", "keys ≥"),
    ("maxProperties", "keys ≤"),
    ("multipleOf", "multiple of"),
)


def _cons(key: str, value_html: str) -> str:
    return f'<span class="cons"><span class="cons-k">{_e(key)}</span> {value_html}</span>'


def _constraints(schema: dict[str, Any]) -> list[str]:
    """The constraints of a compiled property as HTML chips: enum, const, format, pattern, bounds."""
    parts: list[str] = []
    if isinstance(schema.get("enum"), list):
        values = " ".join(f"<code>{_e(_json_text(v))}</code>" for v in schema["enum"])
        parts.append(f'<span class="cons"><span class="cons-k">one of</span> {values}</span>')
    if "const" in schema:
        parts.append(_cons("always", f"<code>{_e(_json_text(schema['const']))}</code>"))
    if schema.get("format"):
        parts.append(f'<span class="cons"><span class="cons-k">format</span> {_e(schema["format"])}</span>')
    if schema.get("pattern"):
        parts.append(
            f'<span class="cons"><span class="cons-k">pattern</span> <code>{_e(schema["pattern"])}</code></span>'
        )
    for key, sign in _BOUNDS:
        if key in schema:
            parts.append(f'<span class="cons">{_e(sign)} {_e(_json_text(schema[key]))}</span>')
    if schema.get("uniqueItems"):
        parts.append('<span class="cons">unique items</span>')
    if schema.get("additionalProperties") is False:
        parts.append('<span class="cons">no other keys</span>')
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, []):
            if isinstance(branch, dict):
                inner = " ".join(_constraints(branch))
                parts.append(f'<span class="cons"><span class="cons-k">{_e(type_of(branch))}:</span> {inner}</span>')
    if "default" in schema:
        parts.append(_cons("default", f"<code>{_e(_json_text(schema['default']))}</code>"))
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        values = " ".join(f"<code>{_e(_json_text(v))}</code>" for v in schema["examples"][:5])
        parts.append(f'<span class="cons"><span class="cons-k">e.g.</span> {values}</span>')
    return parts


def _row_class(depth: int) -> str:
    return f"d{min(depth, 4)} nested" if depth else "d0"


def _table(head: Iterable[str], rows: list[str], kind: str = "") -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f'<div class="table-wrap"><table class="props {kind}"><thead><tr>{cells}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _card(anchor: str, title: str, count: int, inner: str) -> str:
    return (
        f'<section class="card" id="{_e(anchor)}"><h2>{_e(title)} <span class="count">{count:,}</span></h2>'
        f"{inner}</section>"
    )


def _pii_badge(value: Any) -> str:
    if value in (None, ""):
        return ""
    if value == "none":
        return _badge("not PII", "muted", title="Classified: not personal data")
    return _badge(f"PII · {value}", "pii", title=f"Personal data, class {value}")


def _verdict_badge(side: str, verdict: str) -> str:
    tone = {"breaking": "bad", "warning": "warn", "safe": "ok"}[verdict]
    who = {"producer": "producers", "consumer": "consumers"}[side]
    return _badge(f"{who}: {verdict}", tone, title=f"For {who}: {verdict}")


@dataclass
class _Row:
    """One line of a properties table (nested properties flattened: ``address.city``, ``products[].price``)."""

    key: str  #: field + path, as plan diff spells change paths: ``properties.products[].price``
    path: str
    depth: int
    schema: dict[str, Any]
    required: bool
    ref: str | None = None

    @property
    def leaf(self) -> str:
        """The last name of the path (``price`` of ``products[].price``)."""
        return self.path if not self.depth else self.path.rsplit(".", 1)[-1]


@dataclass
class _Entry:
    """One searchable item of the index."""

    kind: str  #: event, page, screen, message, property
    name: str
    href: str
    description: str | None = None
    labels: list[str] = field(default_factory=list)
    owner: str | None = None
    badges: str = ""
    plan: str = ""

    def search_text(self) -> str:
        words = [self.name, self.description or "", " ".join(self.labels), self.owner or "", self.kind, self.plan]
        return " ".join(" ".join(words).split()).lower()


# --- one plan's pages ---------------------------------------------------------------------------------
class _Site:
    """The pages of one plan: relative path -> HTML."""

    def __init__(self, docs: PlanDocs, since: str | None, *, several: bool) -> None:
        self.docs = docs
        self.plan = docs.plan
        self.since = since
        self.several = several  #: pages sit one folder down, below a landing page
        self.resolver = Resolver(self.plan.shared)
        self.pages: dict[str, str] = {}
        taken: dict[str, set[str]] = {"events": set(), "pages": set(), "screens": set()}
        self.event_file = {n: f"events/{_unique(_slug(n), taken['events'])}.html" for n in self.plan.events}
        self.page_file = {n: f"pages/{_unique(_slug(n), taken['pages'])}.html" for n in self.plan.pages}
        self.screen_file = {n: f"screens/{_unique(_slug(n), taken['screens'])}.html" for n in self.plan.screens}
        anchors: set[str] = set()
        self.shared_anchor = {n: _unique("p-" + _slug(n), anchors) for n in self.plan.shared}
        self.usage = self._usage()
        self.name_anchor = {n: _unique("n-" + _slug(n), anchors) for n in self.usage}
        self.changes: dict[tuple[str, str | None], list[Any]] = {}
        for c in docs.changes:
            self.changes.setdefault((c.kind, c.name), []).append(c)

    # -- data ------------------------------------------------------------------------------------
    def bodies(self) -> list[tuple[str, str, str, Body]]:
        """(kind, label, page, body) of every definition, each event version apart."""
        out: list[tuple[str, str, str, Body]] = []
        for name, ev in self.plan.events.items():
            several = len(ev.versions) > 1
            for v, body in sorted(ev.versions.items()):
                out.append(("event", f"{name} v{v}" if several else name, f"{self.event_file[name]}#v{v}", body))
        for kind, single in (("identify", self.plan.identify), ("group", self.plan.group)):
            if single is not None:
                out.append((kind, kind, f"{kind}.html", single))
        for name, body in self.plan.pages.items():
            out.append(("page", name, self.page_file[name], body))
        for name, body in self.plan.screens.items():
            out.append(("screen", name, self.screen_file[name], body))
        if self.plan.common is not None:
            out.append(("common", "common", "common.html", self.plan.common))
        return out

    def _usage(self) -> dict[str, list[tuple[str, str, Prop]]]:
        """Property name -> [(where, page, prop)] for every top-level property, trait and context field."""
        out: dict[str, list[tuple[str, str, Prop]]] = {}
        for _kind, label, page, body in self.bodies():
            for props in body.fields.values():
                for name, prop in props.items():
                    out.setdefault(name, []).append((label, page, prop))
        return dict(sorted(out.items(), key=lambda kv: (kv[0].casefold(), kv[0])))

    def refs(self, spec: Any) -> set[str]:
        """Every shared property a definition uses, at any depth (through ``ref`` chains)."""
        found: set[str] = set()
        if isinstance(spec, dict):
            if isinstance(spec.get("ref"), str):
                found.update(self.resolver.chain(spec))
            for value in spec.values():
                found |= self.refs(value)
        elif isinstance(spec, list):
            for value in spec:
                found |= self.refs(value)
        return found

    def rows(self, field_: str, props: dict[str, Prop], required: list[str]) -> list[_Row]:
        out: list[_Row] = []
        for name, prop in props.items():
            schema = to_schema(prop.spec, self.resolver)
            req = name in required or self.resolver.merged(prop.spec).get("required") is True
            out.append(_Row(f"{field_}.{name}", name, 0, schema, req, prop.ref))
            out += self._nested(field_, schema, name, 1)
        return out

    def _nested(self, field_: str, schema: dict[str, Any], path: str, depth: int) -> list[_Row]:
        out: list[_Row] = []
        for sub, prefix in ((schema, f"{path}."), (schema.get("items"), f"{path}[].")):
            if not isinstance(sub, dict) or not isinstance(sub.get("properties"), dict):
                continue
            required: list[Any] = sub["required"] if isinstance(sub.get("required"), list) else []
            for name, child in sub["properties"].items():
                if isinstance(child, dict):
                    out.append(_Row(f"{field_}.{prefix}{name}", f"{prefix}{name}", depth, child, name in required))
                    out += self._nested(field_, child, f"{prefix}{name}", depth + 1)
        return out

    def open_text(self, body: Body) -> str:
        add = body.additional_properties
        if add is None:
            add = self.plan.settings.additional_properties
        return (
            _badge("open: other properties allowed", "muted")
            if add
            else _badge("closed: other properties refused", "info")
        )

    def has_pii(self, bodies: Iterable[Body]) -> list[str]:
        classes: dict[str, None] = {}
        for body in bodies:
            for field_, props in body.fields.items():
                for row in self.rows(field_, props, body.required):
                    pii = row.schema.get("x-pii")
                    if pii and pii != "none":
                        classes[str(pii)] = None
        return list(classes)

    # -- changes ---------------------------------------------------------------------------------
    def changes_of(self, kind: str, name: str | None) -> list[Any]:
        return self.changes.get((kind, name), [])

    def change_badge(self, kind: str, name: str | None, version: int | None = None) -> str:
        """A badge "new since REV" or "changed since REV" (coloured by the worst verdict), or nothing."""
        if self.since is None:
            return ""
        changes = [c for c in self.changes_of(kind, name) if version is None or c.version in (None, version)]
        if not changes:
            return ""
        added = {"EVENT_ADDED", "DEFINITION_ADDED"}
        if version is not None:
            added.add("EVENT_VERSION_ADDED")
        since = self.since
        if any(c.rule in added and (version is None or c.version in (None, version)) for c in changes):
            return _badge(f"new since {since}", "new", title=f"Not in the plan at {since}")
        worst = max((c.producer.value for c in changes), key=_RANK.__getitem__)
        worst_c = max((c.consumer.value for c in changes), key=_RANK.__getitem__)
        tone = {"breaking": "bad", "warning": "warn", "safe": "changed"}[max(worst, worst_c, key=_RANK.__getitem__)]
        tip = f"{plural(len(changes), 'change')} since {since}: producers {worst}, consumers {worst_c}"
        return _badge(f"changed since {since}", tone, title=tip)

    def row_changes(self, kind: str, name: str | None, version: int | None) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for c in self.changes_of(kind, name):
            if c.path and (version is None or c.version == version) and c.side == "new":
                out.setdefault(c.path, []).append(c)
        return out

    def changes_block(self, changes: list[Any], *, heading: str = "") -> str:
        """The changes of one definition, worst first, each with both verdicts."""
        if not changes:
            return ""
        items = [_change_item([c]) for c in sorted(changes, key=_severity)]
        title = f"<h2>{_e(heading)}</h2>" if heading else ""
        return f'<section class="card changes">{title}<ul class="change-list">{"".join(items)}</ul></section>'

    # -- tables ----------------------------------------------------------------------------------
    def prop_table(self, kind: str, name: str | None, version: int | None, field_: str, body: Body, depth: int) -> str:
        props = body.fields.get(field_, {})
        if not props:
            return '<p class="empty">No properties defined.</p>'
        changed = self.row_changes(kind, name, version) if self.since else {}
        lines = []
        for row in self.rows(field_, props, body.required if field_ == body.main_field else []):
            schema = row.schema
            parent, leaf = row.path[: len(row.path) - len(row.leaf)], row.leaf
            name_html = (f'<span class="parent">{_e(parent)}</span>' if parent else "") + f"<code>{_e(leaf)}</code>"
            extra = []
            if row.ref and row.ref in self.shared_anchor:
                link = _href(self.up(depth) + "properties.html#" + self.shared_anchor[row.ref])
                extra.append(f'<a class="ref" href="{link}" title="Shared property {_e(row.ref)}">shared</a>')
            if schema.get("deprecated"):
                extra.append(_badge("deprecated", "warn"))
            mine = changed.get(row.key, [])
            if mine:
                worst = max((v for c in mine for v in (c.producer.value, c.consumer.value)), key=_RANK.__getitem__)
                tone = {"breaking": "bad", "warning": "warn", "safe": "changed"}[worst]
                tip = "; ".join(
                    f"{c.detail} (producers {c.producer.value}, consumers {c.consumer.value})" for c in mine
                )
                extra.append(_badge("changed", tone, title=tip))
            req = _badge("required", "req") if row.required else '<span class="optional">optional</span>'
            cons = " ".join(_constraints(schema))
            lines.append(
                f'<tr class="{_row_class(row.depth)}">'
                f'<td class="pname">{name_html}{" " + " ".join(extra) if extra else ""}</td>'
                f'<td class="tcell"><span class="type">{_e(type_of(schema))}</span></td>'
                f'<td class="rcell">{req}</td>'
                f'<td class="desc">{_inline(schema.get("description"))}</td>'
                f'<td class="cons-cell">{cons}</td>'
                f"<td>{_pii_badge(schema.get('x-pii'))}</td></tr>"
            )
        return _table(("Property", "Type", "Required", "Description", "Constraints", "PII"), lines)

    # -- layout ----------------------------------------------------------------------------------
    def up(self, depth: int) -> str:
        return "../" * depth

    def page(self, rel: str, title: str, body: str, *, active: str = "") -> None:
        depth = rel.count("/")
        up = self.up(depth)
        nav = [("Overview", "index.html", "index"), ("Properties", "properties.html", "properties")]
        if self.since is not None:
            nav.append((f"Changes since {self.since}", "changes.html", "changes"))
        crumbs = ""
        if self.several:
            crumbs = (
                f'<a class="crumb-home" href="{_href(up + "../index.html")}">All plans</a><span class="sep">/</span>'
            )
        links = "".join(
            f'<a href="{_href(up + href)}"{_ACTIVE if key == active else ""}>{_e(label)}</a>'
            for label, href, key in nav
        )
        header = (
            f'<div class="brand">{crumbs}<a class="plan-name" href="{_href(up + "index.html")}">'
            f"{_e(self.plan.display_name)}</a></div>"
            f'<nav class="nav">{links}</nav>'
        )
        self.pages[rel] = _document(
            f"{title} · {self.plan.display_name}",
            header,
            body,
            search_action=None if rel == "index.html" else up + "index.html",
        )

    def meta_line(self, owner: str | None, labels: list[str], *, extra: list[str] | None = None) -> str:
        parts = []
        if owner:
            parts.append(f'<span class="meta-item"><span class="meta-k">Owner</span> {_e(owner)}</span>')
        if labels:
            chips = " ".join(f'<span class="label">{_e(x)}</span>' for x in labels)
            parts.append(f'<span class="meta-item"><span class="meta-k">Labels</span> {chips}</span>')
        parts += extra or []
        return f'<div class="meta">{"".join(parts)}</div>' if parts else ""

    def source(self, body_or_event: Body | Event) -> str:
        line, _ = body_or_event.origin.position(key=True)
        return (
            f'<span class="meta-item"><span class="meta-k">Defined in</span> '
            f"<code>{_e(body_or_event.origin.file)}:{line}</code></span>"
        )

    # -- pages -----------------------------------------------------------------------------------
    def render(self) -> dict[str, str]:
        for name, ev in self.plan.events.items():
            self.event_page(name, ev)
        for kind, table in (("page", self.plan.pages), ("screen", self.plan.screens)):
            files = self.page_file if kind == "page" else self.screen_file
            for name, body in table.items():
                self.body_page(files[name], kind, name, body)
        for kind, single in (("identify", self.plan.identify), ("group", self.plan.group)):
            if single is not None:
                self.body_page(f"{kind}.html", kind, None, single)
        if self.plan.common is not None:
            self.common_page(self.plan.common)
        self.properties_page()
        if self.since is not None:
            self.changes_page()
        self.index_page()
        return self.pages

    def crumbs(self, depth: int, *trail: tuple[str, str | None]) -> str:
        parts = [f'<a href="{_href(self.up(depth) + "index.html")}">{_e(self.plan.display_name)}</a>']
        for label, href in trail:
            parts.append(f'<a href="{_href(href)}">{_e(label)}</a>' if href else f"<span>{_e(label)}</span>")
        return f'<div class="crumbs">{"<span class=sep>/</span>".join(parts)}</div>'

    def event_page(self, name: str, ev: Event) -> None:
        rel = self.event_file[name]
        badges = [_badge(f"{plural(len(ev.versions), 'version')}", "ver")]
        if ev.deprecated:
            badges.append(_badge("deprecated", "warn"))
        pii = self.has_pii(ev.versions.values())
        if pii:
            badges.append(_badge("PII · " + ", ".join(pii), "pii", title="Personal-data classes of its properties"))
        badges.append(self.change_badge("event", name))
        out = [
            self.crumbs(1, ("Events", "../index.html#events"), (name, None)),
            f'<header class="page-head"><div class="kind">Track event</div><h1>{_e(name)}</h1>'
            f'<div class="badges">{" ".join(b for b in badges if b)}</div></header>',
        ]
        description = ev.description or ev.oldest.description
        if description:
            out.append(f'<div class="lead">{_prose(description)}</div>')
        out.append(self.meta_line(ev.owner, ev.labels, extra=[self.source(ev)]))
        if self.since is not None:
            mine = self.changes_of("event", name)
            out.append(self.changes_block(mine, heading=f"Changes since {self.since}"))
        several = len(ev.versions) > 1
        newest, oldest = max(ev.versions), min(ev.versions)
        if several:
            tabs = " ".join(
                f'<a class="vtab" href="#v{v}">v{v}{" · latest" if v == newest else ""}</a>'
                for v in sorted(ev.versions)
            )
            out.append(
                f'<p class="note">Messages pick a version with <code>context.protocols.event_version</code>; '
                f"a message without one (or with an unknown one) is checked against v{oldest}. "
                f'<span class="vtabs">{tabs}</span></p>'
            )
        for v, body in sorted(ev.versions.items()):
            vb = [_badge(f"v{v}", "ver")]
            if several and v == newest:
                vb.append(_badge("latest", "info"))
            if several and v == oldest:
                vb.append(_badge("default", "muted", title="Messages without a version are checked against it"))
            vb.append(self.open_text(body))
            if several:
                vb.append(self.change_badge("event", name, v))
            vdesc = body.description if body.description and body.description != description else ""
            out.append(
                f'<section class="card version" id="v{v}"><div class="version-head"><h2>Version {v}</h2>'
                f'<div class="badges">{" ".join(b for b in vb if b)}</div></div>'
                f"{_prose(vdesc)}{self.prop_table('event', name, v, 'properties', body, 1)}</section>"
            )
        self.page(rel, name, "".join(out))

    def body_page(self, rel: str, kind: str, name: str | None, body: Body) -> None:
        depth = rel.count("/")
        title = name if name is not None else {"identify": "Identify traits", "group": "Group traits"}[kind]
        section = {"page": "Pages", "screen": "Screens"}.get(kind, "Messages")
        anchor = {"page": "pages", "screen": "screens"}.get(kind, "messages")
        kind_text = {
            "page": "Page",
            "screen": "Screen",
            "identify": "Identify (user traits)",
            "group": "Group (account traits)",
        }[kind]
        meta = body_meta(body)
        badges = [self.open_text(body)]
        pii = self.has_pii([body])
        if pii:
            badges.append(_badge("PII · " + ", ".join(pii), "pii"))
        badges.append(self.change_badge(kind, name))
        out = [
            self.crumbs(depth, (section, self.up(depth) + f"index.html#{anchor}"), (title, None)),
            f'<header class="page-head"><div class="kind">{_e(kind_text)}</div><h1>{_e(title)}</h1>'
            f'<div class="badges">{" ".join(b for b in badges if b)}</div></header>',
        ]
        if body.description:
            out.append(f'<div class="lead">{_prose(body.description)}</div>')
        out.append(self.meta_line(meta.get("owner"), meta.get("labels", []), extra=[self.source(body)]))
        if self.since is not None:
            out.append(self.changes_block(self.changes_of(kind, name), heading=f"Changes since {self.since}"))
        heading = "Traits" if body.main_field == "traits" else "Properties"
        out.append(
            f'<section class="card"><h2>{heading}</h2>'
            f"{self.prop_table(kind, name, None, body.main_field, body, depth)}</section>"
        )
        self.page(rel, title, "".join(out))

    def common_page(self, body: Body) -> None:
        out = [
            self.crumbs(0, ("Messages", "index.html#messages"), ("Common rules", None)),
            '<header class="page-head"><div class="kind">Every message</div><h1>Common rules</h1>'
            f'<div class="badges">{self.change_badge("common", None)}</div></header>',
        ]
        if body.description:
            out.append(f'<div class="lead">{_prose(body.description)}</div>')
        out.append(self.meta_line(None, [], extra=[self.source(body)]))
        if self.since is not None:
            out.append(self.changes_block(self.changes_of("common", None), heading=f"Changes since {self.since}"))
        if body.fields.get("context"):
            out.append(
                '<section class="card"><h2>Every message\'s <code>context</code></h2>'
                f"{self.prop_table('common', None, None, 'context', body, 0)}</section>"
            )
        if body.fields.get("properties"):
            out.append(
                '<section class="card"><h2>Every track, page and screen message\'s <code>properties</code></h2>'
                f"{self.prop_table('common', None, None, 'properties', body, 0)}</section>"
            )
        self.page("common.html", "Common rules", "".join(out))

    def properties_page(self) -> None:
        out = [
            self.crumbs(0, ("Properties", None)),
            '<header class="page-head"><div class="kind">Property index</div><h1>Properties</h1></header>',
            '<div class="lead"><p>The shared library (definitions used with <code>ref:</code>) and every '
            "property name of the plan with the definitions that use it.</p></div>",
        ]
        used_by: dict[str, dict[str, str]] = {}
        for _kind, label, page, body in self.bodies():
            for props in body.fields.values():
                for prop in props.values():
                    for ref in self.refs(prop.spec):
                        used_by.setdefault(ref, {}).setdefault(label, page)
        for name, prop in self.plan.shared.items():
            for ref in self.refs(prop.spec) - {name}:
                used_by.setdefault(ref, {}).setdefault(f"shared {name}", "properties.html#" + self.shared_anchor[name])
        if self.plan.shared:
            changed = self._shared_changes()
            rows = []
            for name, prop in self.plan.shared.items():
                schema = to_schema(prop.spec, self.resolver)
                users = used_by.get(name, {})
                chips = _more(
                    [f'<a class="chip" href="{_href(page)}">{_e(label)}</a>' for label, page in users.items()], 8
                )
                pii, badge = _pii_badge(schema.get("x-pii")), ""
                if name in changed:
                    badge = _badge(f"changed since {self.since}", "changed", title="; ".join(changed[name]))
                facts = " ".join(x for x in (f'<span class="type">{_e(type_of(schema))}</span>', pii, badge) if x)
                cons = " ".join(_constraints(schema))
                rows.append(
                    f'<tr id="{_e(self.shared_anchor[name])}"><td class="pname"><code>{_e(name)}</code>'
                    f'<div class="facts">{facts}</div></td>'
                    f'<td class="desc">{_inline(schema.get("description"))}'
                    f"{f'<div class=cons-line>{cons}</div>' if cons else ''}</td>"
                    f'<td class="users">{chips or "<span class=optional>unused</span>"}</td></tr>'
                )
            head = ("Property", "Description and constraints", "Used by")
            out.append(_card("shared", "Shared library", len(self.plan.shared), _table(head, rows, "lib")))
        rows = []
        for name, uses in self.usage.items():
            types: dict[str, None] = {}
            for _label, _page, prop in uses:
                types[type_of(to_schema(prop.spec, self.resolver))] = None
            pages = {label: page for label, page, _ in uses}
            chips = _more([f'<a class="chip" href="{_href(page)}">{_e(label)}</a>' for label, page in pages.items()], 8)
            shared = {p.ref for _, _, p in uses if p.ref in self.shared_anchor}
            link = " ".join(
                f'<a class="ref" href="{_href("#" + self.shared_anchor[s])}">shared {_e(s)}</a>'
                for s in sorted(x for x in shared if x)
            )
            rows.append(
                f'<tr id="{_e(self.name_anchor[name])}"><td class="pname"><code>{_e(name)}</code> {link}</td>'
                f"<td>{' '.join(f'<span class=type>{_e(t)}</span>' for t in types)}</td>"
                f'<td class="users">{chips}</td></tr>'
            )
        table = _table(("Name", "Types", "Used in"), rows, "names")
        out.append(_card("names", "Every property name", len(self.usage), table))
        self.page("properties.html", "Properties", "".join(out), active="properties")

    def _shared_changes(self) -> dict[str, list[str]]:
        """Shared properties whose own definition lines a change points at: name -> change details."""
        if self.since is None:
            return {}
        spans: list[tuple[str, str, set[int]]] = []
        for name, prop in self.plan.shared.items():
            doc, base = prop.origin.doc, prop.origin.path
            lines = {
                pos[0]
                for table in (doc.key_pos, doc.value_pos)
                for path, pos in table.items()
                if tuple(path[: len(base)]) == tuple(base)
            }
            spans.append((name, os.path.realpath(doc.file), lines))
        out: dict[str, list[str]] = {}
        for c in self.docs.changes:
            if c.side != "new" or not c.line:
                continue
            where = os.path.realpath(c.file)
            for name, file, lines in spans:
                if file == where and c.line in lines and c.detail not in out.get(name, []):
                    out.setdefault(name, []).append(c.detail)
        return out

    def changes_page(self) -> None:
        """Every change since the revision, worst first; a change of a shared definition that shows in
        many events is one item naming them all."""
        since = self.since or ""
        changes = self.docs.changes
        out = [
            self.crumbs(0, (f"Changes since {since}", None)),
            f'<header class="page-head"><div class="kind">Plan diff</div><h1>Changes since {_e(since)}</h1></header>',
        ]
        if self.docs.new_since:
            out.append(
                f'<div class="callout">This plan is new since <code>{_e(since)}</code>: '
                "everything in it is added.</div>"
            )
        if not changes:
            out.append(f'<p class="empty">Nothing changed since <code>{_e(since)}</code>.</p>')
        else:
            groups: dict[tuple[Any, ...], list[Any]] = {}
            for c in changes:
                groups.setdefault((c.rule, c.file, c.line, c.column, c.path, c.detail, c.side), []).append(c)
            ordered = sorted(groups.values(), key=lambda g: min(_severity(c) for c in g))
            items = []
            for members in ordered:
                chips = []
                for c in members:
                    label = c.kind if c.name is None else c.name
                    label += f" v{c.version}" if c.version is not None else ""
                    href = self._def_page(c.kind, c.name)
                    if href and c.kind == "event" and c.version is not None:
                        href += f"#v{c.version}"
                    chips.append(f'<a class="chip" href="{_href(href)}">{_e(label)}</a>' if href else _chip(label))
                items.append(_change_item(members, _more(chips, 12)))
            n = len(ordered)
            out.append(
                f'<section class="callout since"><div>{plural(len(changes), "change")} '
                f"({plural(n, 'distinct change')}) since <code>{_e(since)}</code>.</div>"
                f"{_verdict_summary(changes, since)}</section>"
                f'<section class="card changes"><ul class="change-list">{"".join(items)}</ul></section>'
            )
        self.page("changes.html", f"Changes since {since}", "".join(out), active="changes")

    def _def_page(self, kind: str, name: str | None) -> str | None:
        if kind == "event" and name in self.event_file:
            return self.event_file[name]
        if kind == "page" and name in self.page_file:
            return self.page_file[name]
        if kind == "screen" and name in self.screen_file:
            return self.screen_file[name]
        if kind in ("identify", "group") and getattr(self.plan, kind) is not None:
            return f"{kind}.html"
        if kind == "common" and self.plan.common is not None:
            return "common.html"
        return None

    def entries(self, prefix: str = "") -> list[_Entry]:
        """Every searchable item, with links relative to ``prefix`` (the plan's folder seen from the
        landing page, which also names the plan of each item)."""
        plan = self.plan.display_name if prefix else ""
        out: list[_Entry] = []
        for name, ev in self.plan.events.items():
            badges = []
            if len(ev.versions) > 1:
                badges.append(_badge(f"{len(ev.versions)} versions", "ver", title=f"Latest: v{max(ev.versions)}"))
            if ev.deprecated:
                badges.append(_badge("deprecated", "warn"))
            if self.has_pii(ev.versions.values()):
                badges.append(_badge("PII", "pii", title="Has personal-data properties"))
            badges.append(self.change_badge("event", name))
            out.append(
                _Entry(
                    "event",
                    name,
                    prefix + self.event_file[name],
                    ev.description or ev.oldest.description,
                    list(ev.labels),
                    ev.owner,
                    " ".join(b for b in badges if b),
                    plan,
                )
            )
        for kind, table, files in (
            ("page", self.plan.pages, self.page_file),
            ("screen", self.plan.screens, self.screen_file),
        ):
            for name, body in table.items():
                meta = body_meta(body)
                badges = [_badge("PII", "pii")] if self.has_pii([body]) else []
                badges.append(self.change_badge(kind, name))
                out.append(
                    _Entry(
                        kind,
                        name,
                        prefix + files[name],
                        body.description,
                        meta.get("labels", []),
                        meta.get("owner"),
                        " ".join(b for b in badges if b),
                        plan,
                    )
                )
        for kind, title in (("identify", "Identify traits"), ("group", "Group traits"), ("common", "Common rules")):
            single = getattr(self.plan, kind)
            if single is not None:
                meta = body_meta(single)
                badges = [_badge("PII", "pii")] if self.has_pii([single]) else []
                badges.append(self.change_badge(kind, None))
                out.append(
                    _Entry(
                        "message",
                        title,
                        prefix + f"{kind}.html",
                        single.description,
                        meta.get("labels", []),
                        meta.get("owner"),
                        " ".join(b for b in badges if b),
                        plan,
                    )
                )
        for name, uses in self.usage.items():
            desc = None
            for _label, _page, prop in uses:
                desc = to_schema(prop.spec, self.resolver).get("description")
                if desc:
                    break
            where = sorted({label for label, _, _ in uses})
            summary = f"in {where[0]}" if len(where) == 1 else f"in {len(where)} definitions"
            out.append(
                _Entry(
                    "property",
                    name,
                    prefix + "properties.html#" + self.name_anchor[name],
                    desc,
                    [],
                    None,
                    f'<span class="where">{_e(summary)}</span>',
                    plan,
                )
            )
        return out

    def index_page(self) -> None:
        plan = self.plan
        c = plan.counts()
        pii_props = sum(
            1
            for _kind, _label, _page, body in self.bodies()
            for field_, props in body.fields.items()
            for row in self.rows(field_, props, body.required)
            if row.schema.get("x-pii") not in (None, "", "none")
        )
        stats = [
            ("Events", c["events"], f"{plural(c['event_versions'], 'version')}"),
            ("Pages", c["pages"], ""),
            ("Screens", c["screens"], ""),
            ("Shared properties", c["shared_properties"], f"{plural(len(self.usage), 'name')} in all"),
            ("Personal data", pii_props, "classified fields"),
        ]
        tiles = "".join(
            f'<div class="stat"><div class="stat-n">{n:,}</div><div class="stat-k">{_e(k)}</div>'
            f'<div class="stat-s">{_e(s)}</div></div>'
            for k, n, s in stats
        )
        facts = [
            f'<span class="meta-item"><span class="meta-k">Unplanned events</span> '
            f"{'allowed' if plan.settings.allow_unplanned_events else 'refused'}</span>",
            f'<span class="meta-item"><span class="meta-k">Source</span> <code>{_e(plan.root)}</code></span>',
        ]
        out = [
            '<header class="hero"><div class="kind">Tracking plan</div>'
            f"<h1>{_e(plan.display_name)}</h1>{_prose(plan.description)}"
            f"{self.meta_line(plan.owner, [], extra=facts)}</header>",
            f'<div class="stats">{tiles}</div>',
        ]
        if self.since is not None:
            if self.docs.changes:
                summary = _verdict_summary(self.docs.changes, self.since)
                new = " This plan is new since then." if self.docs.new_since else ""
                out.append(
                    '<section class="callout since"><div><strong>Changed since '
                    f"<code>{_e(self.since)}</code>:</strong> "
                    f"{plural(len(self.docs.changes), 'change')}.{_e(new)} "
                    f'<a href="changes.html">See every change →</a></div>{summary}</section>'
                )
            else:
                out.append(
                    f'<section class="callout since">Nothing changed since <code>{_e(self.since)}</code>.</section>'
                )
        out.append(_catalog(self.entries()))
        self.page("index.html", "Overview", "".join(out), active="index")


def _severity(change: Any) -> tuple[int, int]:
    """A sort key: breaking for producers first, then for consumers."""
    return (-_RANK[change.producer.value], -_RANK[change.consumer.value])


def _chip(text: str) -> str:
    return f'<span class="chip">{_e(text)}</span>'


def _more(chips: list[str], limit: int) -> str:
    """Chips, the ones past ``limit`` folded into a "+N more" that opens without script."""
    if len(chips) <= limit:
        return " ".join(chips)
    rest = " ".join(chips[limit:])
    return (
        " ".join(chips[:limit])
        + f' <details class="more"><summary>+{len(chips) - limit} more</summary>{rest}</details>'
    )


def _change_item(members: list[Any], where_html: str = "") -> str:
    """One change (or one change seen in several definitions: ``where_html`` names them)."""
    c = members[0]
    producer = max((m.producer.value for m in members), key=_RANK.__getitem__)
    consumer = max((m.consumer.value for m in members), key=_RANK.__getitem__)
    what = f"<code>{_e(c.path)}</code>: " if c.path else ""
    version = _badge(f"v{c.version}", "ver") + " " if c.version is not None and not where_html else ""
    at = f"{c.file}:{c.line}" if c.line else c.file
    old = " (in the old plan)" if c.side == "old" else ""
    where = f'<div class="where-list">{where_html}</div>' if where_html else ""
    return (
        '<li class="change">'
        f'<div class="change-v">{_verdict_badge("producer", producer)}{_verdict_badge("consumer", consumer)}</div>'
        f'<div class="change-t">{version}{what}{_e(c.detail)}'
        f'<div class="sub">{_e(c.rule)} · {_e(c.code)} · {_e(at)}{_e(old)}</div>{where}</div></li>'
    )


def _verdict_summary(changes: list[Any], since: str) -> str:
    cells = []
    for side in ("producer", "consumer"):
        counts = {v: 0 for v in ("breaking", "warning", "safe")}
        for c in changes:
            counts[getattr(c, side).value] += 1
        who = "Producers" if side == "producer" else "Consumers"
        pills = " ".join(
            _badge(f"{n} {v}", {"breaking": "bad", "warning": "warn", "safe": "ok"}[v]) for v, n in counts.items() if n
        )
        cells.append(f'<div class="verdicts"><span class="meta-k">{who}</span> {pills}</div>')
    return f'<div class="verdict-row" title="Verdicts of the changes since {_e(since)}">{"".join(cells)}</div>'


_SECTIONS = (
    ("event", "events", "Events"),
    ("page", "pages", "Pages"),
    ("screen", "screens", "Screens"),
    ("message", "messages", "Identify, group and common"),
    ("property", "properties", "Properties"),
)


def _catalog(entries: list[_Entry], *, search_only: frozenset[str] = frozenset({"property"})) -> str:
    """The searchable list: one section per kind; sections in ``search_only`` show only while searching."""
    out = [
        '<div class="searchbar"><label class="sr" for="filter">Filter the catalog</label>'
        '<input id="filter" type="search" placeholder="Filter events, pages, screens and properties…" '
        'autocomplete="off" spellcheck="false" data-filter>'
        '<span class="search-count" id="search-count" aria-live="polite"></span></div>',
        '<p class="empty" id="search-empty" hidden>Nothing matches.</p>',
    ]
    for kind, anchor, title in _SECTIONS:
        mine = [e for e in entries if e.kind == kind]
        if not mine:
            continue
        items = []
        for e in mine:
            plan = f'<span class="label plan">{_e(e.plan)}</span> ' if e.plan else ""
            labels = " ".join(f'<span class="label">{_e(x)}</span>' for x in e.labels)
            owner = f'<span class="owner">{_e(e.owner)}</span>' if e.owner else ""
            items.append(
                f'<li class="entry" data-search="{_e(e.search_text())}"><a class="entry-link" href="{_href(e.href)}">'
                f'<span class="entry-top"><span class="entry-name">{_e(e.name)}</span>'
                f'<span class="badges">{e.badges}</span></span>'
                f'<span class="entry-desc">{_inline(e.description)}</span>'
                f'<span class="entry-meta">{plan}{labels}{owner}</span></a></li>'
            )
        hidden = " hidden" if kind in search_only else ""
        flag = ' data-search-only="1"' if kind in search_only else ""
        out.append(
            f'<section class="group" id="{anchor}" data-section{flag}{hidden}>'
            f'<h2>{_e(title)} <span class="count">{len(mine)}</span></h2>'
            f'<ul class="entries{" compact" if kind == "property" else ""}">{"".join(items)}</ul></section>'
        )
    return f'<div class="catalog" id="catalog">{"".join(out)}</div>'


def _landing(plans: list[PlanDocs], since: str | None) -> str:
    cards = []
    entries: list[_Entry] = []
    for docs in plans:
        site = _Site(docs, since, several=True)
        c = docs.plan.counts()
        prefix = docs.directory + "/"
        since_text = ""
        if since is not None:
            if docs.new_since:
                since_text = _badge(f"new since {since}", "new")
            elif docs.changes:
                worst = max(docs.worst("producer"), docs.worst("consumer"), key=_RANK.__getitem__)
                tone = {"breaking": "bad", "warning": "warn", "safe": "changed"}[worst]
                since_text = _badge(f"{plural(len(docs.changes), 'change')} since {since}", tone)
            else:
                since_text = _badge(f"unchanged since {since}", "muted")
        facts = [
            plural(c["events"], "event"),
            plural(c["pages"], "page"),
            plural(c["screens"], "screen"),
            plural(c["shared_properties"], "shared property", "shared properties"),
        ]
        meta = "".join(f"<span>{_e(f)}</span>" for f in facts)
        if docs.plan.owner:
            meta += f'<span class="owner">{_e(docs.plan.owner)}</span>'
        cards.append(
            f'<a class="plan-card" href="{_href(prefix + "index.html")}"><span class="entry-top">'
            f'<span class="entry-name">{_e(docs.plan.display_name)}</span>'
            f'<span class="badges">{since_text}</span></span>'
            f'<span class="entry-desc">{_inline(docs.plan.description)}</span>'
            f'<span class="entry-meta">{meta}</span></a>'
        )
        entries += site.entries(prefix)
    body = (
        '<header class="hero"><div class="kind">Tracking plans</div><h1>Tracking plan catalog</h1>'
        f"<p>{plural(len(plans), 'plan')}: pick one, or search all of them.</p></header>"
        f'<div class="plan-cards" data-hide-when-searching>{"".join(cards)}</div>'
        + _catalog(entries, search_only=frozenset(k for k, _, _ in _SECTIONS))
    )
    header = '<div class="brand"><a class="plan-name" href="index.html">Tracking plans</a></div><nav class="nav"></nav>'
    return _document("Tracking plans", header, body, search_action=None)


# --- the document ------------------------------------------------------------------------------------
# The stylesheet, written to be read; :func:`_compact` joins its lines for the pages.
_CSS_SOURCE = """
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --surface: #ffffff; --surface-2: #f2f4f7; --border: #e4e7ec;
  --text: #101828; --muted: #5d6b82; --faint: #8a94a6; --code: #f2f4f7;
  --accent: #4f46e5; --accent-2: #6366f1; --accent-soft: #eef2ff;
  --bad: #b42318; --bad-bg: #fef3f2; --bad-bd: #fecdca;
  --warn: #b54708; --warn-bg: #fffaeb; --warn-bd: #fedf89;
  --ok: #067647; --ok-bg: #ecfdf3; --ok-bd: #abefc6;
  --pii: #6941c6; --pii-bg: #f4f3ff; --pii-bd: #d9d6fe;
  --info: #175cd3; --info-bg: #eff8ff; --info-bd: #b2ddff;
  --new: #0e7090; --new-bg: #ecfdff; --new-bd: #a5f0fc;
  --radius: 12px;
  --shadow: 0 1px 2px rgba(16, 24, 40, .05), 0 1px 3px rgba(16, 24, 40, .07);
  --font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans",
    Arial, sans-serif;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono",
    monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0b0f17; --surface: #121826; --surface-2: #182033; --border: #263047;
    --text: #e6e9ef; --muted: #a3adbf; --faint: #717c92; --code: #1a2236;
    --accent: #a5b4fc; --accent-2: #818cf8; --accent-soft: #1e2445;
    --bad: #fda29b; --bad-bg: #2d1416; --bad-bd: #5c2320;
    --warn: #fec84b; --warn-bg: #2b2110; --warn-bd: #5a4316;
    --ok: #75e0a7; --ok-bg: #0f2a1d; --ok-bd: #1d5a3b;
    --pii: #bdb4fe; --pii-bg: #221c3d; --pii-bd: #3e3474;
    --info: #84caff; --info-bg: #102338; --info-bd: #1f4a75;
    --new: #67e3f9; --new-bg: #0c2a32; --new-bd: #17505e;
    --shadow: 0 1px 2px rgba(0, 0, 0, .4);
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 15px/1.55 var(--font); -webkit-font-smoothing: antialiased;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code {
  font-family: var(--mono); font-size: .86em; background: var(--code);
  border-radius: 5px; padding: .1em .35em; overflow-wrap: anywhere;
}
h1, h2, h3 { line-height: 1.25; margin: 0; }
h1 { font-size: 2rem; letter-spacing: -.02em; font-weight: 700; overflow-wrap: anywhere; }
h2 { font-size: 1.12rem; font-weight: 650; margin-bottom: .75rem; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
[hidden] { display: none !important; }

/* top bar */
.topbar {
  position: sticky; top: 0; z-index: 10; border-bottom: 1px solid var(--border);
  background: color-mix(in srgb, var(--surface) 88%, transparent);
  backdrop-filter: saturate(1.4) blur(8px);
}
.topbar-in {
  max-width: 1180px; margin: 0 auto; padding: .6rem 1.25rem;
  display: flex; gap: 1rem; align-items: center; flex-wrap: wrap;
}
.brand { display: flex; align-items: center; gap: .5rem; font-weight: 650; min-width: 0; }
.brand a { color: var(--text); }
.brand .crumb-home { color: var(--muted); font-weight: 500; }
.logo {
  width: 28px; height: 28px; border-radius: 8px; flex: none; color: #fff;
  background: linear-gradient(135deg, #6366f1, #06b6d4);
  display: inline-flex; align-items: center; justify-content: center;
  font-size: .68rem; font-weight: 800; letter-spacing: .02em;
}
.sep { color: var(--faint); margin: 0 .3rem; }
.nav { display: flex; gap: .25rem; flex-wrap: wrap; }
.nav a { color: var(--muted); padding: .3rem .65rem; border-radius: 8px; font-size: .92rem; }
.nav a:hover { background: var(--surface-2); color: var(--text); text-decoration: none; }
.nav a.active { background: var(--accent-soft); color: var(--accent); font-weight: 600; }
.search { margin-left: auto; position: relative; flex: 0 1 300px; }
.search input { width: 100%; padding-right: 2rem; }
input[type=search] {
  font: inherit; color: var(--text); background: var(--surface-2); outline: none;
  border: 1px solid var(--border); border-radius: 9px; padding: .45rem .75rem;
  transition: border-color .15s, box-shadow .15s;
}
input[type=search]:focus {
  border-color: var(--accent-2); background: var(--surface);
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--accent-2) 25%, transparent);
}
.kbd {
  position: absolute; right: .55rem; top: 50%; transform: translateY(-50%); pointer-events: none;
  font: 11px var(--mono); color: var(--faint); border: 1px solid var(--border); border-radius: 5px;
  padding: 0 .35rem;
}

/* page */
main { max-width: 1180px; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
footer { max-width: 1180px; margin: 0 auto; padding: 0 1.25rem 2rem; color: var(--faint); font-size: .8rem; }
.crumbs { font-size: .88rem; color: var(--muted); margin-bottom: .75rem; }
.crumbs a { color: var(--muted); }
.hero, .page-head { margin: .5rem 0 1.25rem; }
.hero p, .lead p { max-width: 75ch; color: var(--muted); font-size: 1.02rem; margin: .5rem 0; }
.kind {
  text-transform: uppercase; letter-spacing: .08em; font-size: .72rem; font-weight: 700;
  color: var(--accent); margin-bottom: .35rem;
}
.page-head .badges { margin-top: .6rem; }
.badges { display: inline-flex; flex-wrap: wrap; gap: .35rem; align-items: center; }
.badge {
  display: inline-flex; align-items: center; font-size: .74rem; font-weight: 600; line-height: 1;
  padding: .28rem .5rem; border-radius: 999px; white-space: nowrap;
  border: 1px solid var(--border); background: var(--surface-2); color: var(--muted);
}
.badge.ver {
  font-family: var(--mono); background: var(--accent-soft); color: var(--accent);
  border-color: color-mix(in srgb, var(--accent) 25%, transparent);
}
.badge.pii { background: var(--pii-bg); color: var(--pii); border-color: var(--pii-bd); }
.badge.bad { background: var(--bad-bg); color: var(--bad); border-color: var(--bad-bd); }
.badge.warn, .badge.req { background: var(--warn-bg); color: var(--warn); border-color: var(--warn-bd); }
.badge.ok { background: var(--ok-bg); color: var(--ok); border-color: var(--ok-bd); }
.badge.info, .badge.changed { background: var(--info-bg); color: var(--info); border-color: var(--info-bd); }
.badge.new { background: var(--new-bg); color: var(--new); border-color: var(--new-bd); }
.badge.muted { background: transparent; color: var(--faint); }
.meta { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; margin: .75rem 0 1.25rem; font-size: .9rem; }
.meta-item { display: inline-flex; align-items: center; gap: .4rem; flex-wrap: wrap; }
.meta-k { color: var(--faint); font-size: .74rem; text-transform: uppercase; letter-spacing: .05em; font-weight: 650; }
.label {
  display: inline-block; font-size: .76rem; padding: .12rem .5rem; border-radius: 6px;
  background: var(--surface-2); color: var(--muted); border: 1px solid var(--border);
}
.label.plan { color: var(--accent); background: var(--accent-soft); border-color: transparent; }

/* overview */
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: .75rem; margin: 0 0 1.25rem; }
.stat {
  background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
  padding: .85rem 1rem; box-shadow: var(--shadow);
}
.stat-n { font-size: 1.6rem; font-weight: 700; letter-spacing: -.02em; }
.stat-k { font-weight: 600; font-size: .9rem; }
.stat-s { color: var(--faint); font-size: .8rem; min-height: 1.2em; }
.card, .callout {
  background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 1.1rem 1.25rem; margin: 0 0 1rem; box-shadow: var(--shadow);
}
.callout { border-left: 4px solid var(--accent-2); }
.callout.since {
  display: flex; flex-wrap: wrap; gap: .75rem 1.5rem; align-items: center; justify-content: space-between;
}
.verdict-row { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; }
.verdicts { display: inline-flex; gap: .35rem; align-items: center; flex-wrap: wrap; }
.searchbar { display: flex; align-items: center; gap: .75rem; margin: 1.5rem 0 .5rem; }
.searchbar input { flex: 1; font-size: 1rem; padding: .65rem .9rem; background: var(--surface); }
.search-count { color: var(--faint); font-size: .85rem; white-space: nowrap; }
.search-count:empty { display: none; }
.group { margin-top: 1.5rem; }
.group h2, .card h2 { display: flex; align-items: center; gap: .5rem; }
.count {
  font-size: .75rem; font-weight: 600; color: var(--muted); background: var(--surface-2);
  border: 1px solid var(--border); border-radius: 999px; padding: .05rem .5rem;
}
.entries {
  list-style: none; margin: 0; padding: 0; display: grid; gap: .6rem;
  grid-template-columns: repeat(auto-fill, minmax(330px, 1fr));
}
.entries.compact { grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); }
.entry-link, .plan-card {
  display: flex; flex-direction: column; gap: .3rem; height: 100%; color: var(--text);
  background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
  padding: .75rem .9rem; box-shadow: var(--shadow); transition: border-color .15s, transform .15s, box-shadow .15s;
}
.entry-link:hover, .plan-card:hover {
  text-decoration: none; border-color: var(--accent-2); transform: translateY(-1px);
  box-shadow: 0 4px 12px rgba(16, 24, 40, .08);
}
.entry-top { display: flex; justify-content: space-between; align-items: flex-start; gap: .5rem; }
.entry-name { font-weight: 650; overflow-wrap: anywhere; }
.entry-desc {
  color: var(--muted); font-size: .88rem; overflow: hidden;
  display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical;
}
.entry-meta {
  display: flex; flex-wrap: wrap; gap: .3rem .6rem; align-items: center;
  font-size: .8rem; color: var(--faint); margin-top: auto;
}
.owner::before {
  content: "\\25CF"; color: var(--faint); font-size: .6em; margin-right: .35rem; vertical-align: middle;
}
.where { color: var(--faint); font-size: .78rem; font-weight: 500; white-space: nowrap; }
.plan-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: .9rem; }
.plan-card { padding: 1.1rem 1.2rem; }
.plan-card .entry-name { font-size: 1.15rem; }
.plan-card .entry-desc { -webkit-line-clamp: 4; }

/* property tables */
.table-wrap { overflow-x: auto; margin: 0 -.25rem; }
table.props { width: 100%; border-collapse: collapse; font-size: .88rem; }
.props th {
  text-align: left; font-size: .7rem; text-transform: uppercase; letter-spacing: .06em; color: var(--faint);
  font-weight: 650; padding: .5rem .6rem; border-bottom: 1px solid var(--border); white-space: nowrap;
}
.props td { padding: .6rem; border-bottom: 1px solid var(--border); vertical-align: top; }
.props tbody tr:last-child td { border-bottom: 0; }
.props tbody tr:hover td { background: color-mix(in srgb, var(--surface-2) 60%, transparent); }
.props tr:target td { background: var(--accent-soft); }
.pname { white-space: nowrap; }
.pname code { background: transparent; padding: 0; font-weight: 600; color: var(--text); font-size: .9em; }
.props tr.d1 .pname { padding-left: 1.6rem; }
.props tr.d2 .pname { padding-left: 2.6rem; }
.props tr.d3 .pname { padding-left: 3.6rem; }
.props tr.d4 .pname { padding-left: 4.6rem; }
.parent { font-family: var(--mono); font-size: .8em; color: var(--faint); }
.type { font-family: var(--mono); font-size: .82em; color: var(--info); white-space: nowrap; margin-right: .4rem; }
.desc { min-width: 16rem; }
.optional { color: var(--faint); font-size: .8rem; }
.cons-cell { min-width: 12rem; }
.cons {
  display: inline-flex; flex-wrap: wrap; gap: .25rem; align-items: center; margin: 0 .4rem .25rem 0; font-size: .82rem;
}
.cons-k { color: var(--faint); font-size: .78rem; }
.cons code { font-size: .8em; }
.ref {
  font-size: .7rem; font-weight: 600; margin-left: .35rem; color: var(--accent); border-radius: 999px;
  border: 1px dashed color-mix(in srgb, var(--accent) 40%, transparent); padding: .05rem .4rem;
}
.ref:hover { text-decoration: none; background: var(--accent-soft); }
.chip {
  display: inline-block; font-size: .78rem; padding: .1rem .5rem; border-radius: 6px; margin: 0 .2rem .25rem 0;
  background: var(--surface-2); border: 1px solid var(--border); color: var(--text);
}
.chip:hover { border-color: var(--accent-2); text-decoration: none; }
.users { min-width: 14rem; }
.facts { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; margin-top: .35rem; white-space: normal; }
.cons-line { margin-top: .35rem; }
table.lib, table.names { table-layout: fixed; }
.lib th:nth-child(1) { width: 24%; }
.lib th:nth-child(2) { width: 40%; }
.names th:nth-child(1) { width: 24%; }
.names th:nth-child(2) { width: 16%; }
.lib .pname, .names .pname { white-space: normal; overflow-wrap: anywhere; }

/* event versions and changes */
.version-head {
  display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center;
  gap: .5rem; margin-bottom: .5rem;
}
.version-head h2 { margin: 0; }
.version p { color: var(--muted); margin: .25rem 0 .75rem; }
.note { color: var(--muted); font-size: .9rem; }
.vtabs { display: inline-flex; gap: .35rem; margin-left: .35rem; }
.vtab {
  font: 600 .78rem var(--mono); padding: .2rem .55rem; border-radius: 7px;
  background: var(--accent-soft); color: var(--accent);
}
.change-list { list-style: none; margin: 0; padding: 0; }
.change { display: flex; gap: 1rem; padding: .6rem 0; border-top: 1px solid var(--border); align-items: flex-start; }
.change:first-child { border-top: 0; }
.change-v { display: flex; flex-direction: column; align-items: flex-start; gap: .25rem; min-width: 10.5rem; }
.where-list { margin-top: .45rem; }
details.more { display: inline; }
details.more summary {
  display: inline-block; cursor: pointer; font-size: .78rem; color: var(--accent); padding: .1rem .3rem;
}
details.more[open] summary { display: none; }
.change-t { font-size: .92rem; }
.sub { color: var(--faint); font-size: .78rem; margin-top: .15rem; font-family: var(--mono); overflow-wrap: anywhere; }
.empty { color: var(--faint); font-style: italic; }

@media (max-width: 720px) {
  h1 { font-size: 1.6rem; }
  .topbar-in { gap: .5rem; }
  .search { flex: 1 1 100%; order: 3; }
  .entries, .plan-cards { grid-template-columns: 1fr; }
  .change { flex-direction: column; gap: .4rem; }
  .kbd { display: none; }
  main { padding: 1rem .9rem 3rem; }
  .card { padding: .9rem 1rem; }
  .stats { grid-template-columns: repeat(2, 1fr); }
  .table-wrap { margin: 0; overflow: visible; }
  table.props, .props tbody, .props tr, .props td { display: block; width: auto; }
  table.lib, table.names { table-layout: auto; }
  .props thead { display: none; }
  .props tr { padding: .6rem 0; border-bottom: 1px solid var(--border); }
  .props tbody tr:last-child { border-bottom: 0; }
  .props td { border: 0; padding: .15rem 0; min-width: 0; }
  .props td:empty { display: none; }
  .props .tcell, .props .rcell { display: inline-block; margin-right: .5rem; }
  .pname { white-space: normal; overflow-wrap: anywhere; }
  .props tr.d1 .pname, .props tr.d2 .pname, .props tr.d3 .pname, .props tr.d4 .pname { padding-left: 0; }
  .props tr.nested { padding-left: .9rem; border-left: 2px solid var(--border); }
}
@media print {
  .topbar, .searchbar { display: none; }
  .card, .entry-link, .stat { box-shadow: none; }
}
"""

# The page script: "/" focuses the search; on an index page the filter hides what does not match
# (``index.html?q=order`` filters on load) and the address follows the filter.
_JS = """
(function () {
  "use strict";
  var root = document.documentElement;
  var top = document.getElementById("q");
  var filter = document.querySelector("[data-filter]");
  document.addEventListener("keydown", function (ev) {
    var tag = ev.target && ev.target.tagName;
    if (ev.key === "/" && tag !== "INPUT" && tag !== "TEXTAREA") {
      ev.preventDefault();
      (filter || top).focus();
    }
  });
  if (!filter) {
    root.setAttribute("data-js", "ready");
    return;
  }
  function all(selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector));
  }
  function show(el, on) {
    if (on) { el.removeAttribute("hidden"); } else { el.setAttribute("hidden", ""); }
  }
  var entries = all("[data-search]");
  var sections = all("[data-section]");
  var landing = all("[data-hide-when-searching]");
  var count = document.getElementById("search-count");
  var empty = document.getElementById("search-empty");
  function apply() {
    var query = filter.value.trim();
    var terms = query.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    entries.forEach(function (el) {
      var text = el.getAttribute("data-search") || "";
      var ok = terms.every(function (term) { return text.indexOf(term) !== -1; });
      show(el, ok);
      if (ok) { shown += 1; }
    });
    sections.forEach(function (section) {
      var any = section.querySelector("[data-search]:not([hidden])") !== null;
      show(section, any && (terms.length > 0 || !section.hasAttribute("data-search-only")));
    });
    landing.forEach(function (el) { show(el, terms.length === 0); });
    if (count) { count.textContent = terms.length ? shown + " of " + entries.length : ""; }
    if (empty) { show(empty, terms.length > 0 && shown === 0); }
    if (top && top !== document.activeElement) { top.value = query; }
    try {
      var url = new URL(window.location.href);
      if (query) { url.searchParams.set("q", query); } else { url.searchParams.delete("q"); }
      window.history.replaceState(null, "", url.toString());
    } catch (e) {
      /* some browsers refuse history changes on file:// pages: the address just does not follow */
    }
  }
  var q = null;
  try { q = new URLSearchParams(window.location.search).get("q"); } catch (e) { q = null; }
  if (q) { filter.value = q; }
  filter.addEventListener("input", apply);
  if (top) {
    top.addEventListener("input", function () { filter.value = top.value; apply(); });
    top.form.addEventListener("submit", function (ev) { ev.preventDefault(); filter.focus(); });
  }
  apply();
  root.setAttribute("data-js", "ready");
})();
"""


def _compact(css: str) -> str:
    """The stylesheet on one line: comments dropped, each line stripped (no value spans two lines
    without a comma, so joining them changes nothing)."""
    text = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


_CSS = _compact(_CSS_SOURCE)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


_CSP = f"default-src 'none'; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; img-src data:; base-uri 'none'"


def _document(title: str, header: str, body: str, *, search_action: str | None) -> str:
    """A whole page. ``search_action``: the index page the top bar's search box goes to (None on an
    index page, whose own filter box searches in place)."""
    from cdp_cli import __version__

    search = ""
    if search_action is not None:
        search = (
            f'<form class="search" role="search" action="{_href(search_action)}" method="get">'
            '<label class="sr" for="q">Search the plan</label>'
            '<input id="q" name="q" type="search" placeholder="Search the plan" autocomplete="off" spellcheck="false">'
            '<span class="kbd">/</span></form>'
        )
    header = header.replace('<div class="brand">', '<div class="brand"><span class="logo">cdp</span>', 1)
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f'<meta name="generator" content="cdp {_e(__version__)}">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header class="topbar"><div class="topbar-in">{header}{search}</div></header>\n'
        f"<main>{body}</main>\n"
        f"<footer>Generated by cdp {_e(__version__)} · <code>cdp plan docs</code></footer>\n"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )


__all__ = ["KIND", "DocsResult", "PlanDocs", "plan_docs"]
