"""Reporters: one registry of output formats for every command that produces findings.

``text`` (rich, for people), ``json`` (the library's records as is), ``github`` (workflow-command
annotations), ``sarif`` (2.1.0, for code-scanning upload) and ``junit`` (XML for CI test tabs).
``auto`` picks ``github`` under GitHub Actions and ``text`` elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TextIO
from xml.etree import ElementTree as ET

from cdp_cli import __version__
from cdp_cli.findings import Finding, Level
from cdp_cli.jsonpath import printable
from cdp_cli.results import Result, Table, plural

GITHUB_ANNOTATIONS_PER_LEVEL = 10


class Format(str, Enum):
    AUTO = "auto"
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    SARIF = "sarif"
    JUNIT = "junit"


@dataclass
class Report:
    """What a checking command hands to a reporter."""

    command: str  # e.g. "plan validate"
    findings: list[Finding]
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every file checked (clean ones too)
    strict: bool = False
    ok: bool = True  # the command's verdict (exit 0)
    tables: list[Any] = field(default_factory=list)  # extra rich renderables for the text format
    #: Totals when ``findings`` is capped (event lint keeps the first N): {"error", "warning", "hidden"}.
    totals: dict[str, int] | None = None

    @classmethod
    def of(
        cls,
        result: Result,
        *,
        strict: bool = False,
        summary: dict[str, Any] | None = None,
        totals: dict[str, int] | None = None,
    ) -> Report:
        """The reporters' view of any operation's result."""
        if totals is None and hasattr(result, "totals"):  # a result that keeps only some of its findings
            totals = result.totals()
        return cls(
            command=result.command,
            findings=list(result.findings),
            summary=summary if summary is not None else result.summary(),
            files=list(result.files),
            strict=strict,
            ok=not result.failed(strict),
            tables=list(result.tables()),
            totals=totals,
        )

    def count(self, level: Level) -> int:
        if self.totals is not None:
            return self.totals.get(level.value, 0)
        return sum(1 for f in self.findings if f.level is level)

    @property
    def hidden(self) -> int:
        return self.totals.get("hidden", 0) if self.totals else 0


@dataclass
class Options:
    color: bool | None = None  # None: decide from the stream and NO_COLOR
    quiet: bool = False
    max_findings: int | None = None  # text/github: print at most this many (all are counted)


def resolve_format(fmt: Format | str) -> Format:
    fmt = Format(fmt)
    if fmt is Format.AUTO:
        return Format.GITHUB if os.environ.get("GITHUB_ACTIONS") == "true" else Format.TEXT
    return fmt


# --- text ---------------------------------------------------------------------------------------
_STYLES = {Level.ERROR: "bold red", Level.WARNING: "yellow", Level.INFO: "cyan"}


def make_console(stream: TextIO, color: bool | None, **kw: Any):
    """The one way cdp makes a Rich console. Data prints literally: no emoji codes (``file:100:``
    stays as is), no highlighting; callers escape data with ``rich.markup.escape`` or pass ``Text``."""
    from rich.console import Console

    kw = {"highlight": False, "soft_wrap": True, "emoji": False, **kw}
    if color is True:
        return Console(file=stream, force_terminal=True, no_color=False, **kw)
    if color is False or (color is None and os.environ.get("NO_COLOR")):
        return Console(file=stream, no_color=True, color_system=None, **kw)
    return Console(file=stream, **kw)


def verdict_line(report: Report, errors: int, warnings: int) -> str:
    """The closing line of every format: counts, the file count, and no input said plainly."""
    line = f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(len(report.files), 'file')}"
    if report.summary.get("no_input"):
        line += f"; {report.summary['no_input']}"
    return line


def location(f: Finding) -> str:
    """``file:line:column``, leaving out what is unknown (0): lines and columns are 1-based."""
    if not f.line:
        return f.file
    return f"{f.file}:{f.line}:{f.column}" if f.column else f"{f.file}:{f.line}"


def render_text(report: Report, out: TextIO, opts: Options) -> None:
    from rich.markup import escape

    console = make_console(out, opts.color)
    shown = report.findings if opts.max_findings is None else report.findings[: opts.max_findings]
    for f in shown:
        style = _STYLES[f.level]
        console.print(
            f"{escape(location(f))}: [{style}]{f.level.value}[/] [bold]{f.code}[/] {escape(f.message)}{_context(f)}"
        )
    hidden = len(report.findings) - len(shown) + report.hidden
    if hidden > 0:
        console.print(
            f"... and {plural(hidden, 'more finding')} not shown (--max-findings; --findings-out writes them all)"
        )
    if opts.quiet:
        return
    if report.findings:
        console.print()
    for table in report.tables:
        console.print(rich_table(table) if isinstance(table, Table) else table)
    errors = report.count(Level.ERROR)
    warnings = report.count(Level.WARNING)
    mark = "[green]✓[/]" if report.ok else "[bold red]✗[/]"
    if report.ok and report.summary.get("no_input"):
        mark = "[yellow]![/]"
    tail = " (warnings fail with --strict)" if report.strict and warnings else ""
    console.print(f"{mark} {report.command}: {escape(verdict_line(report, errors, warnings))}{tail}")


def rich_table(table: Table):
    """A :class:`~cdp_cli.results.Table` for the terminal: integers with thousands separators, every
    other cell as literal text (values come from event data: never read as Rich markup, control
    characters escaped)."""
    from rich.table import Table as RichTable
    from rich.text import Text

    t = RichTable(title=table.title, title_justify="left", box=None, pad_edge=False, header_style="bold underline")
    for i, c in enumerate(table.columns):
        t.add_column(c, justify="right" if i in table.numeric else "left")
    for row in table.rows:
        t.add_row(
            *[Text(printable(f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v))) for v in row]
        )
    return t


def _context(f: Finding) -> str:
    """The event-lint context of a finding: JSON path (unless the message already names it), event,
    messageId, value (only present with --show-values)."""
    from rich.markup import escape

    parts = []
    if f.path and f.path not in f.message:
        parts.append(f"at {f.path}")
    if "event" in f.extra:
        parts.append(f"event {f.extra['event']!r}")
    if "message_id" in f.extra:
        parts.append(f"messageId {f.extra['message_id']}")
    if "batch_index" in f.extra:
        parts.append(f"batch[{f.extra['batch_index']}]")
    if "value" in f.extra:
        parts.append(f"value {json.dumps(f.extra['value'], ensure_ascii=False, default=str)[:200]}")
    return f" [dim]({escape(printable(', '.join(parts)))})[/]" if parts else ""


# --- json -----------------------------------------------------------------------------------------
def as_json(report: Report) -> dict[str, Any]:
    return {
        "tool": {"name": "cdp", "version": __version__},
        "command": report.command,
        "ok": report.ok,
        "summary": report.summary,
        "findings": [f.to_dict() for f in report.findings],
    }


def render_json(report: Report, out: TextIO, opts: Options) -> None:
    json.dump(as_json(report), out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")


# --- github ---------------------------------------------------------------------------------------
def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report, out: TextIO, opts: Options) -> None:
    """GitHub shows about ten annotations of each level per step: annotate the first ten of each,
    say how many more there are, and list every finding as a plain log line too."""
    shown: dict[Level, int] = {}
    for f in report.findings:
        level = "error" if f.level is Level.ERROR else ("warning" if f.level is Level.WARNING else "notice")
        n = shown.get(f.level, 0)
        if n < GITHUB_ANNOTATIONS_PER_LEVEL:
            props = [f"file={_gh_prop(f.file)}"]
            if f.line:
                props.append(f"line={f.line}")
            if f.column:
                props.append(f"col={f.column}")
            props.append(f"title={_gh_prop(f'{f.code} {f.rule}')}")
            out.write(f"::{level} {','.join(props)}::{_gh_data(f.message)}\n")
        shown[f.level] = n + 1
    for level, n in shown.items():
        if n > GITHUB_ANNOTATIONS_PER_LEVEL:
            out.write(
                f"::notice title=cdp {report.command}::"
                f"{plural(n - GITHUB_ANNOTATIONS_PER_LEVEL, 'more ' + level.value)} "
                "not annotated; see the log below\n"
            )
    for f in report.findings:  # printable: a newline in a name must not start a workflow command
        out.write(printable(f"{location(f)}: {f.level.value} {f.code} {f.message}") + "\n")
    errors = report.count(Level.ERROR)
    warnings = report.count(Level.WARNING)
    if report.hidden:
        out.write(f"... and {plural(report.hidden, 'more finding')} not in this report (--max-findings)\n")
    out.write(printable(f"cdp {report.command}: {verdict_line(report, errors, warnings)}") + "\n")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        _github_step_summary(report, summary_path, errors, warnings)


def _github_step_summary(report: Report, path: str, errors: int, warnings: int) -> None:
    lines = [
        f"### cdp {report.command}: {'passed' if report.ok else 'failed'}",
        "",
        verdict_line(report, errors, warnings),
        "",
    ]
    if report.findings:
        lines += ["| level | code | location | message |", "| --- | --- | --- | --- |"]
        for f in report.findings[:200]:
            msg = printable(f.message).replace("|", "\\|")
            loc = printable(location(f)).replace("`", "'")
            lines.append(f"| {f.level.value} | {f.code} | `{loc}` | {msg} |")
        if len(report.findings) > 200:
            lines.append(f"\n... and {len(report.findings) - 200:,} more")
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    except OSError:
        pass  # the summary is a nicety; the log has everything


# --- sarif ----------------------------------------------------------------------------------------
def as_sarif(report: Report) -> dict[str, Any]:
    from cdp_cli.rules import all_rules

    rules = all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    level_map = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}
    results = []
    for f in report.findings:
        region: dict[str, Any] = {"startLine": max(f.line, 1)}
        if f.column:
            region["startColumn"] = f.column
        result: dict[str, Any] = {
            "ruleId": f.code,
            "level": level_map[f.level],
            "message": {"text": f.message},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": f.file.replace(os.sep, "/")}, "region": region}}
            ],
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        props: dict[str, Any] = {}
        if f.path:
            props["jsonPath"] = f.path
        for key in ("event", "message_id", "expected", "found", "violation_type", "batch_index", "first_seen"):
            if key in f.extra:
                props[key] = f.extra[key]
        if props:
            result["properties"] = props
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cdp",
                        "version": __version__,
                        "rules": [
                            {
                                "id": r.code,
                                "name": r.name,
                                "shortDescription": {"text": r.summary.split(". ")[0].rstrip(".") + "."},
                                "fullDescription": {"text": r.summary},
                                "defaultConfiguration": {"level": level_map[r.level]},
                                "help": {"text": f"Bad:\n{r.bad}\n\nGood:\n{r.good}" if r.bad else r.summary},
                                "properties": {"family": r.family},
                            }
                            for r in rules
                        ],
                    }
                },
                "invocations": [{"executionSuccessful": True, "exitCode": 0 if report.ok else 1}],
                "results": results,
            }
        ],
    }


def render_sarif(report: Report, out: TextIO, opts: Options) -> None:
    json.dump(as_sarif(report), out, indent=2, ensure_ascii=False)
    out.write("\n")


# --- junit ----------------------------------------------------------------------------------------
def render_junit(report: Report, out: TextIO, opts: Options) -> None:
    """One test suite per file; each finding that fails the run is a failed test case, other
    findings are listed in the suite's system-out, and a clean file is one passing test case."""
    by_file: dict[str, list[Finding]] = {f: [] for f in report.files}
    for f in report.findings:
        by_file.setdefault(f.file, []).append(f)
    root = ET.Element("testsuites", name=f"cdp {report.command}")
    total_tests = total_fail = 0
    for file, findings in by_file.items():
        failing = [f for f in findings if f.level is Level.ERROR or (report.strict and f.level is Level.WARNING)]
        suite = ET.SubElement(root, "testsuite", name=file)
        tests = max(len(failing), 1)
        suite.set("tests", str(tests))
        suite.set("failures", str(len(failing)))
        suite.set("errors", "0")
        if not failing:
            ET.SubElement(suite, "testcase", classname=file, name=f"{report.command}")
        for f in failing:
            case = ET.SubElement(suite, "testcase", classname=file, name=f"{f.code} {location(f)}")
            failure = ET.SubElement(case, "failure", message=f.message, type=f.code)
            failure.text = f"{location(f)}: {f.level.value} {f.code} {f.rule}: {f.message}"
        others = [f for f in findings if f not in failing]
        if others:
            out_el = ET.SubElement(suite, "system-out")
            out_el.text = "\n".join(f"{location(f)}: {f.level.value} {f.code} {f.message}" for f in others)
        total_tests += tests
        total_fail += len(failing)
    root.set("tests", str(total_tests))
    root.set("failures", str(total_fail))
    root.set("errors", "0")
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")


REPORTERS: dict[Format, Callable[[Report, TextIO, Options], None]] = {
    Format.TEXT: render_text,
    Format.JSON: render_json,
    Format.GITHUB: render_github,
    Format.SARIF: render_sarif,
    Format.JUNIT: render_junit,
}


def render(report: Report, fmt: Format | str, out: TextIO, opts: Options | None = None) -> None:
    REPORTERS[resolve_format(fmt)](report, out, opts or Options())
