"""``report.html``: the story of one ``cdp run`` in one self-contained file.

No server and no network: CSS inline, charts drawn here as inline SVG (bars people read at a
glance; no JavaScript library to ship), a few lines of inline JavaScript for the findings filter.
Every value from the data is HTML-escaped; payload values never appear (lint findings carry no
values unless asked, trait top values are withheld as in ``traits preview``).

Sections: the steps; plan coverage (planned events seen and unseen, unplanned events); findings by
rule, by event and by day, and a sample with file and line; identity (profiles, merges, refused
merges, the largest profiles); traits (distributions); audiences (sizes, entered and exited,
overlap).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

E = html.escape

CSS = """
:root{--bg:#fbfbfd;--fg:#1d1d1f;--muted:#6e6e73;--card:#fff;--line:#e5e5ea;--accent:#0a66c2;
--ok:#1a7f37;--warn:#b35900;--bad:#c9252d;--bar:#0a66c2;--bar2:#8e44ad}
@media (prefers-color-scheme:dark){:root{--bg:#111214;--fg:#f2f2f7;--muted:#a1a1a6;--card:#1c1c1f;
--line:#2c2c30;--accent:#4ea1ff;--bar:#4ea1ff;--bar2:#c08cf0}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}main{max-width:1120px;margin:0 auto;padding:24px 20px 64px}
h1{font-size:28px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 12px}h3{font-size:15px;margin:18px 0 8px;
color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.sub{color:var(--muted)}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px}
.kpi{font-size:26px;font-weight:650}.kpi small{font-size:13px;color:var(--muted);font-weight:400;display:block}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:12px;
overflow:hidden}th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr:last-child td{border-bottom:0}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;border:1px solid}
.ran,.ok{color:var(--ok);border-color:var(--ok)}.skipped,.off,.info{color:var(--muted);border-color:var(--line)}
.failed,.error{color:var(--bad);border-color:var(--bad)}.warning{color:var(--warn);border-color:var(--warn)}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace}.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:800px){.two{grid-template-columns:1fr}}svg text{fill:var(--fg);font-size:12px}
svg .muted{fill:var(--muted)}input[type=search]{width:100%;padding:8px 10px;border-radius:8px;
border:1px solid var(--line);background:var(--card);color:var(--fg);margin:0 0 10px;font:inherit}
footer{margin-top:48px;color:var(--muted);font-size:13px}
"""

JS = """
document.querySelectorAll('input[data-filter]').forEach(function(box){
  var rows=document.querySelectorAll(box.getAttribute('data-filter')+' tbody tr');
  box.addEventListener('input',function(){var q=box.value.toLowerCase();
    rows.forEach(function(r){r.hidden=q!==''&&r.textContent.toLowerCase().indexOf(q)<0;});});
});
document.body.setAttribute('data-ready','1');
"""


def bars(items: Sequence[tuple[str, float]], *, width: int = 520, color: str = "var(--bar)", unit: str = "") -> str:
    """A horizontal bar chart as inline SVG: one bar per (label, value), largest first as given."""
    if not items:
        return '<p class="sub">nothing to show</p>'
    top = max(v for _, v in items) or 1
    row, label_w = 22, 250
    h = row * len(items) + 4
    parts = [f'<svg role="img" viewBox="0 0 {width} {h}" width="100%" height="{h}" class="chart">']
    for i, (label, value) in enumerate(items):
        y = i * row + 2
        w = max(1.0, (width - label_w - 70) * value / top)
        shown = label if len(label) <= 36 else label[:35] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end"><title>{E(label)}</title>{E(shown)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 7}" rx="3" fill="{color}"></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" class="muted">{value:,.0f}{unit}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def columns(items: Sequence[tuple[str, float]], *, height: int = 140, color: str = "var(--bar)") -> str:
    """A vertical bar chart (a time series by day) as inline SVG."""
    if not items:
        return '<p class="sub">nothing to show</p>'
    top = max(v for _, v in items) or 1
    n = len(items)
    width = max(520, n * 16)
    bw = width / n
    parts = [f'<svg role="img" viewBox="0 0 {width} {height + 34}" width="100%" height="{height + 34}">']
    for i, (label, value) in enumerate(items):
        h = max(1.0, (height - 16) * value / top)
        x = i * bw
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{height - h:.1f}" width="{max(bw - 4, 1):.1f}" height="{h:.1f}" rx="2" '
            f'fill="{color}"><title>{E(label)}: {value:,.0f}</title></rect>'
        )
        if i % max(1, n // 8) == 0:
            parts.append(f'<text x="{x + 2:.1f}" y="{height + 16}" class="muted">{E(label[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def table(headers: list[str], rows: list[list[Any]], *, numeric: set[int] = frozenset(), ident: str = "") -> str:  # type: ignore[assignment]
    head = "".join(f"<th>{E(h)}</th>" for h in headers)
    body = []
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            text = f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else E(str(v))
            cells.append(f'<td class="n">{text}</td>' if i in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    idattr = f' id="{ident}"' if ident else ""
    return f"<table{idattr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def kpis(items: list[tuple[str, Any, str]]) -> str:
    cards = []
    for label, value, note in items:
        shown = f"{value:,}" if isinstance(value, int) else E(str(value))
        cards.append(f'<div class="card"><div class="kpi">{shown}<small>{E(label)}</small></div>'
                     f'{f"<div class=sub>{E(note)}</div>" if note else ""}</div>')  # fmt: skip
    return f'<div class="grid">{"".join(cards)}</div>'


def badge(text: str, kind: str) -> str:
    return f'<span class="badge {E(kind)}">{E(text)}</span>'


# --- sections ----------------------------------------------------------------------------------------
def _steps(result: Any) -> str:
    rows = []
    for s in result.steps:
        rows.append(
            "<tr>"
            f"<td><b>{E(s.name)}</b></td><td>{badge(s.status, s.status.replace(' ', '-'))}</td>"
            f'<td class="n">{f"{s.seconds:.1f}s" if s.status == "ran" else ""}</td>'
            f"<td>{E(s.error or s.verdict)}</td></tr>"
        )
    head = "<tr><th>step</th><th>status</th><th>time</th><th>outcome</th></tr>"
    return f"<h2>Steps</h2><table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _coverage(result: Any, runners: Any) -> str:
    lint = result.step("lint").summary
    if not lint:
        return ""
    planned: dict[str, str] = {}
    try:
        from cdp_cli.plan.load import load_valid_plan

        plan = load_valid_plan([runners.plan])
        planned = {name: "track" for name in plan.events}
        planned |= {f"Page Viewed: {n}": "page" for n in plan.pages}
        planned |= {f"Screen Viewed: {n}": "screen" for n in plan.screens}
    except Exception:  # a plan with errors: the plan step says so
        pass
    seen = lint.get("events_seen") or lint.get("top_events") or {}
    seen = {k: v for k, v in seen.items() if k not in ("identify", "group", "alias")}
    seen_planned = [(k, v) for k, v in sorted(seen.items(), key=lambda kv: -kv[1]) if k in planned]
    unplanned = [(k, v) for k, v in sorted(seen.items(), key=lambda kv: -kv[1]) if planned and k not in planned]
    unseen = sorted(k for k in planned if k not in seen)
    share = f"{len(seen_planned) / len(planned):.0%}" if planned else "n/a"
    out = ["<h2>Plan coverage</h2>"]
    out.append(
        kpis(
            [
                ("planned events and views seen", len(seen_planned), f"of {len(planned)} ({share})"),
                ("planned, never seen", len(unseen), ""),
                ("unplanned names seen", len(unplanned), ""),
                ("messages", int(lint.get("messages", 0)), f"{int(lint.get('skipped', 0)):,} lines skipped"),
            ]
        )
    )
    out.append('<div class="two"><div><h3>Most sent planned events</h3>')
    out.append(bars(seen_planned[:15]))
    out.append("</div><div><h3>Unplanned</h3>")
    out.append(
        bars(unplanned[:15], color="var(--bar2)") if unplanned else '<p class="sub">none: every name is planned</p>'
    )
    out.append("</div></div>")
    if unseen:
        out.append(
            f"<h3>Planned but never seen ({len(unseen)})</h3><p>{', '.join(f'<code>{E(u)}</code>' for u in unseen)}</p>"
        )
    return "".join(out)


def _findings(result: Any, runners: Any) -> str:
    lint = result.step("lint").summary
    if not lint:
        return ""
    path = runners.out / "lint" / "findings.ndjson"
    by_code: Counter[str] = Counter()
    by_event: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    levels: Counter[str] = Counter()
    sample: list[dict[str, Any]] = []
    ids: Counter[str] = Counter()
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    f = json.loads(line)
                except ValueError:
                    continue
                by_code[f"{f.get('code')} {f.get('rule', '')}".strip()] += 1
                by_event[str(f.get("event") or "(no event)")] += 1
                levels[str(f.get("level"))] += 1
                if f.get("message_id"):
                    ids[str(f["message_id"])] += 1
                if len(sample) < 100:
                    sample.append(f)
    by_day = _days(runners.out / "profiles" / "events.parquet", ids)
    total = sum(by_code.values())
    out = ["<h2>Findings</h2>"]
    out.append(
        kpis(
            [
                ("findings", total, "all in lint/findings.ndjson"),
                ("errors", levels.get("error", 0), ""),
                ("warnings", levels.get("warning", 0), ""),
                ("rules involved", len(by_code), "cdp rules CODE explains one"),
            ]
        )
    )
    if not total:
        out.append('<p class="sub">No findings: every message follows the spec and the plan.</p>')
        return "".join(out)
    out.append('<div class="two"><div><h3>By rule</h3>')
    out.append(bars(by_code.most_common(12)))
    out.append("</div><div><h3>By event</h3>")
    out.append(bars(by_event.most_common(12), color="var(--bar2)"))
    out.append("</div></div>")
    if by_day:
        out.append("<h3>By day (the time of the event; findings on lines that are not messages have none)</h3>")
        out.append(columns(sorted(by_day.items())))
    rows = []
    for f in sample:
        where = f"{f.get('file')}:{f.get('line')}"
        rows.append(
            [
                f.get("level", ""),
                f.get("code", ""),
                where,
                f.get("event") or "",
                f.get("path") or "",
                f.get("message", ""),
            ]
        )
    out.append("<h3>A sample, located</h3>")
    out.append(
        '<input type="search" placeholder="Filter the findings (rule, file, event, message)" data-filter="#findings">'
    )
    out.append(table(["level", "rule", "where", "event", "path", "message"], rows, ident="findings"))
    return "".join(out)


def _days(events: Path, ids: Counter[str]) -> Counter[str]:
    """Findings per day of the event they are about (the time comes from the resolved events)."""
    days: Counter[str] = Counter()
    if not ids or not events.exists():
        return days
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        t = pq.read_table(events, columns=["message_id", "timestamp"])
        t = t.filter(pc.is_in(t.column("message_id"), value_set=pa.array(list(ids))))
        for mid, ts in zip(t.column("message_id").to_pylist(), t.column("timestamp").to_pylist(), strict=True):
            if ts is not None:
                days[ts.date().isoformat()] += ids.get(mid, 0)
    except Exception:  # no chart rather than no report
        return Counter()
    return days


def _identity(result: Any) -> str:
    s = result.step("profiles").summary
    if not s:
        return ""
    out = ['<h2 id="identity">Identity</h2>']
    out.append(
        kpis(
            [
                ("profiles", int(s.get("profiles", 0)), f"from {int(s.get('events', 0)):,} events"),
                ("identifiers", int(s.get("identifiers", 0)), ""),
                ("merges", int(s.get("merges", 0)), "two profiles joined by a message"),
                ("refused merges", int(s.get("refused_merges", 0)), "a limit kept people apart"),
            ]
        )
    )
    largest = s.get("largest_profiles") or []
    if largest:
        out.append("<h3>The largest profiles</h3>")
        rows = [
            [p["profile_id"], p.get("identifiers", 0), p.get("events", 0),
             ", ".join(f"{k} {v}" for k, v in (p.get("by_type") or {}).items())]
            for p in largest[:10]
        ]  # fmt: skip
        out.append(table(["profile", "identifiers", "events", "by type"], rows, numeric={1, 2}))
    refused = s.get("refused_by_type") or {}
    if refused:
        out.append("<h3>Refused merges by identifier type</h3>")
        out.append(bars(sorted(refused.items(), key=lambda kv: -kv[1])))
    return "".join(out)


def _traits(result: Any) -> str:
    s = result.step("traits").summary
    if not s:
        return ""
    out = [
        "<h2>Traits</h2>",
        f'<p class="sub">{int(s.get("profiles", 0)):,} profiles, as of {E(str(s.get("as_of")))}</p>',
    ]
    rows = []
    for st in s.get("distributions") or s.get("stats") or []:
        kind = st.get("type", "")
        if "mean" in st:
            spread = f"min {st.get('min')} · mean {st.get('mean')} · max {st.get('max')}"
        elif "mean_items" in st:
            spread = f"{st.get('min_items')}–{st.get('max_items')} items (mean {st.get('mean_items')})"
        else:
            top = st.get("top") or []
            spread = ", ".join(f"{t.get('value')} ({t.get('count')})" for t in top[:3])
        rows.append([st.get("column") or st.get("trait"), kind, int(st.get("values", 0) or 0), spread])
    if rows:
        fill = [(r[0], r[2]) for r in rows]
        out.append("<h3>Profiles with a value</h3>")
        out.append(bars(fill))
        out.append("<h3>Distributions</h3>")
        out.append(table(["trait", "type", "values", "spread (text values withheld)"], rows, numeric={2}))
    return "".join(out)


def _audiences(result: Any, runners: Any) -> str:
    s = result.step("audiences").summary
    if not s:
        return ""
    sizes = s.get("sizes") or {}
    entered, exited = s.get("entered") or {}, s.get("exited") or {}
    out = ["<h2>Audiences</h2>"]
    out.append('<div class="two"><div><h3>Members</h3>')
    out.append(bars(sorted(sizes.items(), key=lambda kv: -kv[1])))
    out.append("</div><div><h3>Since the last run</h3>")
    if entered or exited:
        rows = [[k, sizes.get(k, 0), entered.get(k, 0), exited.get(k, 0)] for k in sizes]
        out.append(table(["audience", "members", "entered", "exited"], rows, numeric={1, 2, 3}))
    else:
        out.append('<p class="sub">The first run: every member entered.</p>')
    out.append("</div></div>")
    overlap = _overlap(runners.out / "audiences", list(sizes))
    if overlap:
        keys = list(sizes)
        rows = [[a, *[overlap.get((a, b), 0) for b in keys]] for a in keys]
        out.append("<h3>Overlap (members in both)</h3>")
        out.append(table(["", *keys], rows, numeric=set(range(1, len(keys) + 1))))
    return "".join(out)


def _overlap(directory: Path, keys: list[str]) -> dict[tuple[str, str], int]:
    try:
        import pyarrow.parquet as pq

        members = {
            k: set(pq.read_table(directory / f"{k}.parquet", columns=["profile_id"]).column(0).to_pylist())
            for k in keys
        }
    except Exception:
        return {}
    return {(a, b): len(members[a] & members[b]) for a in keys for b in keys}


def render(result: Any, runners: Any) -> str:
    status = "stopped at " + result.failed_step if result.failed_step else "complete"
    kind = "failed" if result.failed_step else "ok"
    sections = [
        _steps(result),
        _coverage(result, runners),
        _findings(result, runners),
        _identity(result),
        _traits(result),
        _audiences(result, runners),
    ]
    title = f"cdp run · {result.name}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{E(title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{E(result.name)} {badge(status, kind)}</h1>"
        f'<p class="sub">cdp run of {E(str(result.project))} · started {E(result.started)} · '
        f"{result.seconds:.1f}s · outputs in {E(str(result.out))}</p>"
        + "".join(sections)
        + "<footer>Written by cdp. Payload values are never shown here; findings carry the file, line and JSON "
        "path to look at.</footer>"
        f"</main><script>{JS}</script></body></html>\n"
    )


def write_report(result: Any, runners: Any) -> Path:
    from cdp_cli.fsutil import atomic_open

    path = result.out / "report.html"
    with atomic_open(path, "w", flag="report", force=True) as fh:
        fh.write(render(result, runners))
    return path
