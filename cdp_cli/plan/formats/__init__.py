"""Other tools' tracking-plan formats: import them as cdp plans, export cdp plans to them.

- :data:`FORMATS`: the registry (name -> :class:`Format`): what each format reads and writes, and what it
  cannot express. Format modules (:mod:`.segment`, :mod:`.rudderstack`, :mod:`.avo`, :mod:`.jsonschema_dir`,
  :mod:`.markdown`) load only when used.
- :func:`import_plan` (``cdp plan import SOURCE --from FORMAT -o OUT``) and :func:`export_plan_as`
  (``cdp plan export --to FORMAT OUT --plan PLAN``) return results that follow
  :class:`cdp_cli.results.Result`.
- :class:`Report`: every normalisation (a messy construct rewritten, info) and loss (something the target
  cannot express, a warning), each with the file, JSON path and line it concerns. Nothing is dropped
  without an item.
- :func:`write_plan`: a draft as cdp plan YAML (one file, or a plan directory the loader reads).

A format module provides ``read(source: Path, report) -> PlanDraft`` to import, and ``render(plan, report)
-> str`` (a file) or ``write_dir(plan, directory, report) -> list[str]`` (a directory) to export.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cdp_cli.errors import InputError, UsageError
from cdp_cli.findings import Finding, count_levels, fails
from cdp_cli.plan.formats._core import (
    LOST,
    NORMALISED,
    Item,
    PlanDraft,
    Report,
    dump_yaml,
    write_plan,
)
from cdp_cli.results import Table, plural

__all__ = [
    "FORMATS",
    "LOST",
    "NORMALISED",
    "ExportFormatResult",
    "Format",
    "ImportResult",
    "Item",
    "PlanDraft",
    "Report",
    "dump_yaml",
    "export_formats",
    "export_plan_as",
    "import_formats",
    "import_plan",
    "write_plan",
]


@dataclass(frozen=True)
class Format:
    """One plan format: its module, what it reads (``reads``: a phrase for help texts, None when it cannot be
    imported), what it writes (``writes``: ``file`` or ``directory``, None when it cannot be exported), and
    what a cdp plan loses in it (``cannot_express``; every such loss is also reported per plan)."""

    name: str
    title: str
    module: str
    reads: str | None
    writes: str | None
    suffix: str = ""
    cannot_express: tuple[str, ...] = ()


FORMATS = MappingProxyType(
    {
        "segment": Format(
            "segment",
            "Segment Protocols tracking plan (Public API rules JSON; Config API exports are read too)",
            "segment",
            reads="a JSON file (or a directory of them): GET /tracking-plans/{id}/rules, the PUT body, or a Config "
            "API export",
            writes="file",
            suffix=".json",
            cannot_express=(
                "the shared property library (inlined into each rule)",
                "naming conventions",
                "settings.allow_unplanned_events (a Segment source setting)",
                "the plan's owner",
                "an event description that differs from every version's description",
                "minContains / maxContains (not in draft-07)",
                "personal-data classes are kept only as x-pii annotations Segment ignores",
            ),
        ),
        "rudderstack": Format(
            "rudderstack",
            "RudderStack rudder-cli project (YAML, rudder/v1; rudder/v0.1 is read too)",
            "rudderstack",
            reads="a rudder-cli project directory (or one YAML file) with properties, events, custom-types and a "
            "tracking-plan",
            writes="directory",
            cannot_express=(
                "event versions (only the newest is written)",
                "pages and screens by name (one page rule and one screen rule: properties merged)",
                "the common context rules",
                "owners, labels, deprecated",
                "personal-data classes",
                "per-use property descriptions and per-use narrower validation (one definition per name and type)",
                "anyOf / oneOf / allOf / not, const beyond enum, tuple items, item constraints other than the type, "
                "closed nested objects, annotations (title, default, examples)",
                "naming conventions, settings.allow_unplanned_events",
            ),
        ),
        "avo": Format(
            "avo",
            "Avo tracking plan export (JSON Schema export API / webhook payload, or ndjson)",
            "avo",
            reads="an Avo export JSON (or .ndjson) file",
            writes=None,
            cannot_express=(
                "sources, destinations, per-destination name mappings, actions, variants, property bundles",
            ),
        ),
        "jsonschema": Format(
            "jsonschema",
            "A directory of JSON Schemas: cdp's export, Snowplow Iglu, reflekt, or one schema per event",
            "jsonschema_dir",
            reads="a directory of *.json schemas (Iglu's jsonschema/1-0-0 files too), or one schema file",
            writes="directory",
            cannot_express=(
                "the shared property library (inlined)",
                "owners, labels, deprecated",
                "naming conventions, settings.allow_unplanned_events, the plan's owner and description",
                "common properties apart from the events (merged into each)",
            ),
        ),
        "markdown": Format(
            "markdown",
            "A readable Markdown catalog: events, properties, types, owners, versions, personal data",
            "markdown",
            reads=None,
            writes="file",
            suffix=".md",
        ),
    }
)


def import_formats() -> list[str]:
    return [f.name for f in FORMATS.values() if f.reads]


def export_formats() -> list[str]:
    return [f.name for f in FORMATS.values() if f.writes]


def _format(name: str, direction: str) -> tuple[Format, Any]:
    known = import_formats() if direction == "import" else export_formats()
    spec = FORMATS.get(str(name).lower())
    if spec is None or spec.name not in known:
        raise UsageError(f"cannot {direction} format {name!r}; formats: {', '.join(known)}")
    return spec, importlib.import_module(f"cdp_cli.plan.formats.{spec.module}")


# --- import ---------------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    """What ``plan import`` read, normalised, lost and wrote, and how the written plan validates."""

    source: Path
    fmt: str
    out: Path
    report: Report
    counts: dict[str, int]
    written: list[str] = field(default_factory=list)
    validation: Any = None  #: the written plan's ValidationResult
    sources: list[str] = field(default_factory=list)
    command: str = "plan import"

    @property
    def findings(self) -> list[Finding]:
        found = self.report.findings()
        if self.validation is not None:
            found += [f for f in self.validation.findings if f.level.value != "info"]
        return found

    @property
    def files(self) -> list[str]:
        return self.sources or [str(self.source)]

    def failed(self, strict: bool = False) -> bool:
        return fails(self.findings, strict)

    def summary(self) -> dict[str, Any]:
        levels = count_levels(self.findings)
        return {
            "source": str(self.source),
            "from": self.fmt,
            "out": str(self.out),
            "written": list(self.written),
            **self.counts,
            "normalised": len(self.report.normalisations),
            "lost": len(self.report.losses),
            "errors": levels["error"],
            "warnings": levels["warning"],
        }

    def tables(self) -> list[Table]:
        c = self.counts
        rows = [[k.replace("_", " "), v] for k, v in c.items()]
        out = [Table("Imported", ["what", "count"], rows, frozenset({1}))]
        if self.report.losses:
            out.append(
                Table(
                    "Lost (the format says more than cdp keeps)",
                    ["where", "path", "what"],
                    [i.as_row() for i in self.report.losses],
                )
            )
        if self.report.normalisations:
            out.append(Table("Normalised", ["where", "path", "what"], [i.as_row() for i in self.report.normalisations]))
        return out

    def verdict(self) -> str:
        c = self.counts
        what = plural(c.get("events", 0), "event")
        extra = [plural(c[k], k[:-1]) for k in ("pages", "screens") if c.get(k)]
        errors = count_levels(self.findings)["error"]
        tail = f"; the written plan has {plural(errors, 'error')} (see `cdp plan validate`)" if errors else ""
        return (
            f"imported {', '.join([what, *extra])} from {self.source} ({self.fmt}) into {self.out}: "
            f"{plural(len(self.report.normalisations), 'normalisation')}, "
            f"{plural(len(self.report.losses), 'loss', 'losses')}{tail}"
        )


def import_plan(
    source: str | Path, fmt: str, out: str | Path, *, force: bool = False, validate: bool = True
) -> ImportResult:
    """Import ``source`` (a file or directory in format ``fmt``) and write it as a cdp plan at ``out``
    (``*.yaml``: one file; else a plan directory). The written plan is validated; its findings join the
    result's. ``force`` replaces an existing output file cdp cannot recognise as its own."""
    from cdp_cli.fsutil import guard_outputs
    from cdp_cli.plan.formats._io import display

    spec, module = _format(fmt, "import")
    source, out = Path(source), Path(out)
    if not source.exists():
        raise InputError(f"{source}: no such file or directory")
    guard_outputs({"--output": out}, [source], dir_flags=("--output",))
    report = Report()
    draft: PlanDraft = module.read(source, report)
    header = (
        f"Imported by cdp from {display(source)} ({spec.name}).\n"
        "What was normalised or could not be kept is listed in the import report."
    )
    written = write_plan(draft.to_data(), out, header=header, force=force)
    result = ImportResult(source, spec.name, out, report, draft.counts(), written, sources=report.sources)
    if validate:  # exactly the files written (not a plan that may enclose them)
        from cdp_cli.plan.loader import PlanSource, display_path, load_plan
        from cdp_cli.plan.validate import ValidationResult, validate_plan

        plan, structural = load_plan(PlanSource(display_path(out), [Path(f) for f in written]))
        result.validation = ValidationResult([validate_plan(plan, structural)])
    return result


# --- export ---------------------------------------------------------------------------------------------
@dataclass
class ExportFormatResult:
    """What ``plan export --to FORMAT`` wrote and what the format could not express (or, when the plan has
    errors, why nothing was written)."""

    plans: list[Path]
    fmt: str
    out: Path
    validation: Any
    report: Report = field(default_factory=Report)
    written: list[str] = field(default_factory=list)
    plan_name: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    command: str = "plan export"

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.validation.findings if f.level.value == "error"]

    @property
    def findings(self) -> list[Finding]:
        return self.errors + self.report.findings()

    @property
    def files(self) -> list[str]:
        return self.validation.files

    def failed(self, strict: bool = False) -> bool:
        return fails(self.findings, strict)

    def summary(self) -> dict[str, Any]:
        return {
            "plan": self.plan_name,
            "to": self.fmt,
            "out": str(self.out),
            "written": list(self.written),
            **self.counts,
            "normalised": len(self.report.normalisations),
            "lost": len(self.report.losses),
            "errors": len(self.errors),
        }

    def tables(self) -> list[Table]:
        out = []
        if self.report.losses:
            out.append(
                Table(f"Not kept in {self.fmt}", ["where", "path", "what"], [i.as_row() for i in self.report.losses])
            )
        if self.report.normalisations:
            out.append(Table("Normalised", ["where", "path", "what"], [i.as_row() for i in self.report.normalisations]))
        return out

    def verdict(self) -> str:
        if self.errors:
            return (
                f"the plan has {plural(len(self.errors), 'error')}; fix them before exporting (see `cdp plan validate`)"
            )
        losses = len(self.report.losses)
        tail = f"; {plural(losses, 'loss', 'losses')} (see warnings)" if losses else "; nothing lost"
        return f"wrote plan {self.plan_name} as {self.fmt} to {self.out}{tail}"


def export_plan_as(
    plan_paths: str | Path | Sequence[str | Path], fmt: str, out: str | Path, *, force: bool = False
) -> ExportFormatResult:
    """Export one plan (files or a directory) to ``fmt`` at ``out`` (a file or a directory, as the format
    writes). A plan with errors is not exported: the result holds them. Output is atomic; an existing
    directory is replaced only if cdp wrote it, a file only if cdp wrote it or ``force``."""
    from cdp_cli.fsutil import atomic_directory, atomic_open, guard_outputs
    from cdp_cli.plan.validate import validate_paths

    spec, module = _format(fmt, "export")
    paths = [Path(plan_paths)] if isinstance(plan_paths, (str, Path)) else [Path(p) for p in plan_paths]
    out = Path(out)
    validation = validate_paths(list(paths))
    if not validation.reports:
        raise InputError(f"{', '.join(map(str, paths))}: no tracking plan found")
    if len(validation.reports) > 1:
        names = ", ".join(r.plan.display_name for r in validation.reports)
        raise UsageError(f"--plan names {len(validation.reports)} plans ({names}); export one plan at a time")
    guard_outputs({"OUT": out}, paths, dir_flags=("OUT",))
    plan = validation.reports[0].plan
    result = ExportFormatResult(paths, spec.name, out, validation, plan_name=plan.display_name, counts=plan.counts())
    if result.errors:
        return result
    if spec.writes == "file":
        if out.is_dir():
            raise UsageError(f"{out} is a directory; {spec.name} export writes one file (such as plan{spec.suffix})")
        text = module.render(plan, result.report)
        with atomic_open(out, "w", flag="OUT", force=force) as fh:
            fh.write(text)
        result.written = [str(out)]
    else:
        if os.path.isfile(out):
            raise UsageError(f"{out} is a file; {spec.name} export writes a directory")
        kind = "plan export" if spec.name == "jsonschema" else f"plan export {spec.name}"
        with atomic_directory(out, kind=kind) as tmp:
            names = module.write_dir(plan, tmp, result.report)
        result.written = [str(out / n) for n in names]
    return result
