"""``cdp run [PROJECT_DIR]``: the whole job of a project, step by step, into one output folder.

Steps, in order (each one's outputs under ``out/``):

1. ``plan``: validate the plan (errors stop the run);
2. ``lint``: lint the events against it (``lint/findings.ndjson``, ``lint/summary.json``); errors stop
   the run only with ``lint: {strict: true}`` or ``--strict``, otherwise they are reported;
3. ``profiles``: resolve identities (``profiles/``);
4. ``traits``: compute traits (``traits.parquet``) and their activation events against the previous
   run's (``activation/traits.ndjson``);
5. ``audiences``: compute audiences (``audiences/``) with who entered and exited since the previous
   run, and their activation events (``activation/audiences.ndjson``);
6. ``replay``: send the activation events to each ``replay:`` destination;
7. ``report``: ``report.html`` (one self-contained file) and ``summary.json``.

A step whose inputs, definitions and upstream steps did not change since the last run is skipped:
its fingerprint digests the content hashes (SHA-256) of the files it reads, its settings and the
steps before it, all kept in ``out/.cdp-run.json`` (a file is hashed again only when its size or
modification time changed); ``--force`` reruns everything. A step that cannot
run stops the run (exit 1 for findings, 2 for an error); the report still tells what happened.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdp_cli.errors import CdpError, InputError
from cdp_cli.project.definition import PROJECT_FILE, ProjectFile
from cdp_cli.results import Table, plural

STATE = ".cdp-run.json"
STEPS = ("plan", "lint", "profiles", "traits", "audiences", "replay", "report")


@dataclass
class Step:
    name: str
    status: str = "pending"  #: ran, skipped (unchanged), failed, not run, off (not configured)
    seconds: float = 0.0
    verdict: str = ""
    summary: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class RunResult:
    command: str
    project: Path
    out: Path
    name: str
    steps: list[Step]
    started: str
    seconds: float = 0.0
    failed_step: str | None = None
    error_exit: int = 0  #: 2 when a step failed with an error (not findings)
    lint_findings: list[Any] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return [str(self.project / PROJECT_FILE)]

    @property
    def findings(self) -> list[Any]:
        return list(self.lint_findings)

    def failed(self, strict: bool = False) -> bool:
        return self.failed_step is not None

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def summary(self) -> dict[str, Any]:
        return {
            "project": str(self.project),
            "name": self.name,
            "out": str(self.out),
            "started": self.started,
            "seconds": round(self.seconds, 3),
            "failed_step": self.failed_step,
            "steps": {
                s.name: {
                    "status": s.status,
                    "seconds": round(s.seconds, 3),
                    "verdict": s.verdict,
                    "outputs": s.outputs,
                    **({"error": s.error} if s.error else {}),
                }
                for s in self.steps
            },
            "report": str(self.out / "report.html"),
        }

    def tables(self) -> list[Table]:
        rows = [
            [s.name, s.status, f"{s.seconds:.1f}s" if s.status == "ran" else "", s.error or s.verdict]
            for s in self.steps
        ]
        return [Table(f"cdp run {self.name}", ["step", "status", "time", "outcome"], rows)]

    def verdict(self) -> str:
        ran = sum(s.status == "ran" for s in self.steps)
        skipped = sum(s.status == "skipped" for s in self.steps)
        if self.failed_step:
            return f"run {self.name}: stopped at {self.failed_step}; report in {self.out / 'report.html'}"
        return (
            f"run {self.name}: {plural(ran, 'step')} ran, {skipped} unchanged, in {self.seconds:.1f}s; "
            f"report in {self.out / 'report.html'}"
        )


# --- fingerprints ----------------------------------------------------------------------------------
def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path] if path.exists() else []


class Hasher:
    """Content hashes of files, remembered by (size, mtime) between runs (``out/.cdp-run.json``): a
    file is read again only when it changed, like git's index. A step's fingerprint is a digest of
    the content hashes of what it reads, its settings and the steps before it."""

    def __init__(self, known: dict[str, list[Any]] | None = None) -> None:
        self.known = dict(known or {})

    def file(self, f: Path) -> str:
        st = f.stat()
        key = str(f.resolve())
        seen = self.known.get(key)
        if seen and seen[0] == st.st_size and seen[1] == st.st_mtime_ns:
            return str(seen[2])
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        self.known[key] = [st.st_size, st.st_mtime_ns, digest]
        return digest

    def fingerprint(self, *parts: Any) -> str:
        h = hashlib.sha256()
        for part in parts:
            if isinstance(part, Path):
                for f in _files(part):
                    h.update(f"{f}\0{self.file(f)}\n".encode())
            else:
                h.update(json.dumps(part, sort_keys=True, default=str).encode())
        return h.hexdigest()[:24]


# --- the run -----------------------------------------------------------------------------------------
def load_project(project_dir: str | Path) -> tuple[ProjectFile, Path]:
    from cdp_cli.definitions import load_definition

    root = Path(project_dir)
    path = root / PROJECT_FILE if root.is_dir() else root
    if not path.is_file():
        raise InputError(f"{path}: no project file (a {PROJECT_FILE} naming the plan and the events; see docs/run.md)")
    spec, _ = load_definition(path, ProjectFile, what="project file")
    return spec, path.parent


def run_project(
    project_dir: str | Path,
    *,
    out: str | Path | None = None,
    force: bool = False,
    strict: bool = False,
    observer: Any = None,
) -> RunResult:
    from cdp_cli.fsutil import check_replaceable

    spec, root = load_project(project_dir)
    out_dir = Path(out) if out is not None else root / spec.out
    started = time.perf_counter()
    result = RunResult(
        "run",
        root,
        out_dir,
        spec.name or root.resolve().name,
        [Step(n) for n in STEPS],
        datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )

    def p(rel: str | None) -> Path | None:
        return None if rel is None else (root / rel)

    plan, identity, traits, audiences = p(spec.plan), p(spec.identity), p(spec.traits), p(spec.audiences)
    events = [root / e for e in spec.events]
    for what, path in [("plan", plan), ("identity", identity), ("traits", traits), ("audiences", audiences)]:
        if path is not None and not path.exists():
            raise InputError(f"{root / PROJECT_FILE}: {what} {path} does not exist")
    if out_dir.exists() and not (out_dir / STATE).exists() and any(out_dir.iterdir()):
        check_replaceable(out_dir, "run")  # an output folder cdp did not write is refused
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / STATE
    state: dict[str, str] = {}
    saved: dict[str, Any] = {}
    if state_path.exists():
        try:
            saved = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
    if not force:
        state = saved.get("fingerprints", {})
    hasher = Hasher(saved.get("files"))
    new_state: dict[str, str] = {}
    upstream = ""
    steps = {s.name: s for s in result.steps}
    runners = _Runners(spec, root, out_dir, plan, events, identity, traits, audiences, strict, observer, result)
    try:
        for name in STEPS[:-1]:
            step = steps[name]
            todo = runners.configured(name)
            if not todo:
                step.status = "off"
                continue
            fp = hasher.fingerprint(upstream, name, *runners.depends(name))
            new_state[name] = fp
            upstream = fp
            if name == "traits" and runners.configured("audiences"):  # will the audiences step run too?
                next_fp = hasher.fingerprint(fp, "audiences", *runners.depends("audiences"))
                runners.audiences_due = not (state.get("audiences") == next_fp and runners.outputs_exist("audiences"))
            if state.get(name) == fp and runners.outputs_exist(name):
                step.status = "skipped"
                step.verdict = "unchanged since the last run"
                step.summary = runners.cached_summary(name)
                step.outputs = runners.outputs(name)
                continue
            t = time.perf_counter()
            try:
                ok = runners.run(name, step)
            except CdpError as e:
                step.status, step.error = "failed", str(e).splitlines()[0]
                step.seconds = time.perf_counter() - t
                result.failed_step, result.error_exit = name, 2
                new_state.pop(name, None)
                break
            step.seconds = time.perf_counter() - t
            step.status = "ran" if ok else "failed"
            step.outputs = runners.outputs(name)
            runners.save_summary(name, step.summary)
            if not ok:
                result.failed_step = name
                new_state.pop(name, None)
                break
        for s in result.steps[:-1]:
            if s.status == "pending":
                s.status = "not run"
    finally:
        _write_state(state_path, new_state, hasher.known)
        result.seconds = time.perf_counter() - started
        report = steps["report"]
        from cdp_cli.project.report import write_report

        report.status, report.outputs, report.verdict = "ran", ["report.html", "summary.json"], "report.html"
        t = time.perf_counter()
        write_report(result, runners)
        report.seconds = time.perf_counter() - t
        (out_dir / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
        result.seconds = time.perf_counter() - started
    return result


def _write_state(path: Path, fingerprints: dict[str, str], files: dict[str, list[Any]]) -> None:
    from cdp_cli.fsutil import atomic_open

    doc = {"written_by": "cdp", "fingerprints": fingerprints, "files": files}
    with atomic_open(path, "w", flag="run state", force=True) as fh:
        fh.write(json.dumps(doc, indent=1) + "\n")


class _Runners:
    """Each step's dependencies, outputs and work."""

    def __init__(self, spec, root, out, plan, events, identity, traits, audiences, strict, observer, result):
        self.spec, self.root, self.out = spec, root, out
        self.plan, self.events, self.identity = plan, events, identity
        self.traits, self.audiences = traits, audiences
        self.strict = strict or spec.lint.strict
        self.observer = observer
        self.result = result
        self.data: dict[str, Any] = {}  # step -> the library result (for the report), when it ran
        self.audiences_due = True  # whether the audiences step runs after the traits (not skipped)

    def configured(self, name: str) -> bool:
        return {
            "traits": self.traits is not None,
            "audiences": self.audiences is not None,
            "replay": bool(self.spec.replay),
        }.get(name, True)

    def depends(self, name: str) -> list[Any]:
        if name == "plan":
            return [self.plan]
        if name == "lint":
            return [*self.events, self.spec.lint.max_findings, self.strict]
        if name == "profiles":
            return [*self.events, self.identity] if self.identity else list(self.events)
        if name == "traits":
            return [self.traits, self.spec.as_of]
        if name == "audiences":
            return [self.audiences, self.spec.as_of]
        if name == "replay":
            return [[(r.to, r.write_key_env, r.checkpoint) for r in self.spec.replay]]
        return []

    def outputs(self, name: str) -> list[str]:
        return {
            "plan": [],
            "lint": ["lint/findings.ndjson", "lint/summary.json"],
            "profiles": ["profiles/"],
            "traits": ["traits.parquet", "activation/traits.ndjson"],
            "audiences": ["audiences/", "activation/audiences.ndjson"],
            "replay": [],
        }[name]

    def outputs_exist(self, name: str) -> bool:
        return (
            all((self.out / o.rstrip("/")).exists() for o in self.outputs(name))
            and (self.out / "steps" / f"{name}.json").exists()
        )

    def save_summary(self, name: str, summary: dict[str, Any]) -> None:
        d = self.out / "steps"
        d.mkdir(exist_ok=True)
        (d / f"{name}.json").write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")

    def cached_summary(self, name: str) -> dict[str, Any]:
        try:
            return json.loads((self.out / "steps" / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def run(self, name: str, step: Step) -> bool:
        return getattr(self, f"_{name}")(step)

    # --- the steps ------------------------------------------------------------------------------------
    def _plan(self, step: Step) -> bool:
        from cdp_cli import api

        r = api.validate_plans([self.plan], search_config=False)
        step.summary, step.verdict = _jsonable(r.summary()), r.verdict()
        self.data["plan"] = r
        return not r.failed(False)

    def _lint(self, step: Step) -> bool:
        from cdp_cli import api

        (self.out / "lint").mkdir(exist_ok=True)
        findings = self.out / "lint" / "findings.ndjson"
        r = api.lint_events(
            options=api.LintOptions(
                inputs=list(self.events),
                plan=[self.plan],
                search_config=False,
                keep=self.spec.lint.max_findings or None,
                findings_out=findings,
            ),
            observer=self.observer,
        )
        summary = _jsonable(r.summary())
        summary["by_code"] = dict(getattr(r, "by_code", {}) or {})
        summary["findings_sample"] = [_finding(f) for f in r.findings[:200]]
        summary["events_seen"] = _events_seen(r)
        step.summary, step.verdict = summary, r.verdict()
        (self.out / "lint" / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
        self.result.lint_findings = list(r.findings)
        self.data["lint"] = r
        return not (self.strict and r.failed(False))

    def _profiles(self, step: Step) -> bool:
        from cdp_cli import api

        r = api.resolve_profiles(
            options=api.ResolveOptions(inputs=list(self.events), out=self.out / "profiles", identity=self.identity),
            observer=self.observer,
        )
        step.summary, step.verdict = _jsonable(r.summary()), r.verdict()
        self.data["profiles"] = r
        return True

    def _traits(self, step: Step) -> bool:
        from cdp_cli import api

        out = self.out / "traits.parquet"
        (self.out / "activation").mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".previous-traits-", dir=self.out) as tmp:
            previous = None
            if out.exists():  # the last run's values, kept aside: a second attempt must still compare with them
                previous = Path(tmp) / "traits.parquet"
                shutil.copyfile(out, previous)
            options = api.TraitsOptions(
                profiles=self.out / "profiles",
                spec=self.traits,
                out=out,
                as_of=self.spec.as_of,
                plan=[self.plan],
                emit_events=self.out / "activation" / "traits.ndjson",
                previous=previous,
            )
            r = None
            if self.audiences is not None and self.audiences_due:  # both in one pass over the events
                try:
                    with self._previous_audiences() as before:
                        r, self.data["audiences_done"] = api.compute_traits_and_audiences(
                            traits=options, audiences=self._audiences_options(before, traits=out)
                        )
                except CdpError:  # whose? the traits alone say; an audiences error is then the audiences step's
                    r = None
                    self.data.pop("audiences_done", None)
            if r is None:
                r = api.compute_traits(options=options)
        step.summary, step.verdict = _jsonable(r.summary()), r.verdict()
        return True

    @contextlib.contextmanager
    def _previous_audiences(self) -> Iterator[Path | None]:
        """A copy of the last run's members (who entered and exited since), or None."""
        out = self.out / "audiences"
        with tempfile.TemporaryDirectory(prefix=".previous-audiences-", dir=self.out) as tmp:
            previous = None
            if out.is_dir():
                previous = Path(tmp) / "audiences"
                shutil.copytree(out, previous)
            yield previous

    def _audiences_options(self, previous: Path | None, traits: Path | None) -> Any:
        from cdp_cli import api

        (self.out / "activation").mkdir(exist_ok=True)
        return api.AudiencesOptions(
            profiles=self.out / "profiles",
            spec=self.audiences,
            out=self.out / "audiences",
            traits=traits,
            as_of=self.spec.as_of,
            plan=[self.plan],
            previous=previous,
            emit_events=self.out / "activation" / "audiences.ndjson",
        )

    def _audiences(self, step: Step) -> bool:
        from cdp_cli import api

        r = self.data.pop("audiences_done", None)  # computed with the traits, in one pass
        together = r is not None
        if r is None:
            with self._previous_audiences() as previous:
                traits = self.out / "traits.parquet"
                usable = traits if traits.exists() and self.traits is not None else None
                r = api.compute_audiences(options=self._audiences_options(previous, traits=usable))
        step.summary, step.verdict = _jsonable(r.summary()), r.verdict()
        if together:  # its time is in the traits step's
            step.verdict += " (in one pass over the events with the traits)"
        return True

    def _replay(self, step: Step) -> bool:
        from cdp_cli import api

        sources = [
            p for p in (self.out / "activation" / n for n in ("traits.ndjson", "audiences.ndjson")) if p.exists()
        ]
        results = []
        ok = True
        for target in self.spec.replay:
            to = target.to
            if to.startswith("file:") and not os.path.isabs(to[5:]):
                to = "file:" + str(self.out / to[5:])
            elif to.startswith("parquet:") and not os.path.isabs(to[8:]):
                to = "parquet:" + str(self.out / to[8:])
            ckpt = self.out / target.checkpoint if target.checkpoint else None
            r = api.replay_events(
                sources,
                to,
                write_key_env=target.write_key_env,
                checkpoint=ckpt,
                force=True,
                dead_letter=self.out / "replay-dead-letters.ndjson",
            )
            results.append({"to": r.to, **_jsonable(r.summary())})
            ok = ok and not r.failed()
        step.summary = {"targets": results}
        step.verdict = "; ".join(f"{x['sent']:,} sent to {x['to']}" for x in results)
        return ok


def _jsonable(d: Any) -> Any:
    return json.loads(json.dumps(d, default=str))


def _finding(f: Any) -> dict[str, Any]:
    return {
        "code": f.code,
        "level": getattr(f.level, "value", str(f.level)),
        "file": f.file,
        "line": f.line,
        "message": f.message,
        "event": getattr(f, "event", None),
    }


def _events_seen(r: Any) -> dict[str, int]:
    events = getattr(r, "events", None)
    return {str(k): int(v) for k, v in dict(events or {}).items()}
