"""Read a tracking plan as it was at a git revision: ``REV:PATH`` (``main:plans/ecommerce``).

The tree at ``REV`` is copied into a temporary directory (YAML files and the named path only, blobs
read with ``git ls-tree`` and ``git cat-file --batch``), laid out at the same repository-relative paths,
so the normal loader reads it and every finding keeps its file:line:col. :meth:`RevTree.workspace_path`
maps a loaded file back to the path the same file has in the working tree (what CI annotations want),
:meth:`RevTree.rev_path` to ``REV:path`` (what a person reading an error wants).

``PATH`` is read as git reads it in ``git show REV:PATH``: relative to the repository root, or to the
current directory when it starts with ``./`` or ``../``. A path that exists in the working tree is
always a local path, so ``C:\\plans`` or a file named ``a:b.yaml`` is never taken for a revision.
As in the working tree, a file or folder inside a plan (below a ``plan.yaml``) brings the whole plan
with it, so its references resolve. Symbolic links are kept when they point inside the tree; links
that leave it, and submodules, are not followed.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cdp_cli.errors import InputError
from cdp_cli.plan import format as fmt
from cdp_cli.plan.loader import display_path

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}
_SYMLINK = "120000"


@dataclass(frozen=True, slots=True)
class RevSpec:
    """``REV:PATH`` as the user wrote it."""

    rev: str
    path: str
    text: str

    def __str__(self) -> str:
        return self.text


def parse_rev_spec(text: str | os.PathLike[str]) -> RevSpec | None:
    """``REV:PATH`` split in two, or None when ``text`` names a local path: one that exists, or one
    without a colon. Git refuses ``:`` in ref names, so the first colon ends the revision."""
    raw = os.fspath(text)
    if os.path.lexists(raw):
        return None
    rev, sep, path = raw.partition(":")
    if not sep or not rev:
        return None
    return RevSpec(rev, path, raw)


@dataclass(frozen=True, slots=True)
class RevTree:
    """A plan path copied out of a git revision."""

    spec: RevSpec
    commit: str  #: the full commit id ``spec.rev`` named
    toplevel: Path  #: the repository's working tree
    root: Path  #: the temporary directory holding the copy (the repository root's stand-in)
    repo_path: str  #: PATH relative to the repository root, with / ("" for the root itself)

    @property
    def path(self) -> Path:
        """The copy of PATH: what to hand to the loader."""
        return self.root / self.repo_path if self.repo_path else self.root

    def relative(self, file: str | os.PathLike[str]) -> str | None:
        """A loaded file's path relative to the repository root, or None for a file not in the copy."""
        path = Path(file)
        if not path.is_absolute():
            path = Path.cwd() / path
        try:
            return Path(os.path.normpath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def workspace_path(self, file: str | os.PathLike[str]) -> str:
        """The path the file has in the working tree, as the loader would display it there."""
        rel = self.relative(file)
        return os.fspath(file) if rel is None else display_path(self.toplevel / rel)

    def rev_path(self, file: str | os.PathLike[str]) -> str:
        """``REV:path/from/the/root.yaml``."""
        rel = self.relative(file)
        return os.fspath(file) if rel is None else f"{self.spec.rev}:{rel}"


def _git(args: list[str], cwd: Path, *, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "--no-pager", "--literal-pathspecs", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env={**os.environ, **_GIT_ENV},
            check=False,
        )
    except FileNotFoundError:
        raise InputError("reading a plan from a git revision needs git, and git is not installed") from None
    except OSError as e:
        raise InputError(f"cannot run git: {e.strerror or e}") from e


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""


def _repo_path(spec: RevSpec, prefix: str, toplevel: Path) -> str:
    path = spec.path.replace(os.sep, "/")
    if os.path.isabs(spec.path):
        rel = os.path.relpath(spec.path, toplevel)
        if rel == ".." or rel.startswith(".." + os.sep):
            raise InputError(f"{spec}: {spec.path} is outside the repository at {toplevel}")
        path = rel.replace(os.sep, "/")
    elif path in (".", "..") or path.startswith(("./", "../")):
        path = posixpath.join(prefix, path)
    path = posixpath.normpath(path) if path else "."
    if path == ".." or path.startswith("../"):
        raise InputError(f"{spec}: {spec.path!r} leads outside the repository")
    return "" if path == "." else path


def _enclosing_root(commit: str, path: str, is_tree: bool, toplevel: Path) -> str | None:
    """The plan root (a directory holding plan.yaml) strictly above ``path`` at ``commit``, as
    :func:`cdp_cli.plan.loader.enclosing_root` finds it in the working tree."""
    parts = path.split("/") if path else []
    here = parts if is_tree else parts[:-1]
    if is_tree and _plan_dirs(commit, [path], toplevel):
        return None  # PATH is itself a plan root: the loader finds it
    candidates = ["/".join(here[:i]) for i in range(len(here), -1, -1)]  # deepest first
    found = _plan_dirs(commit, [c for c in candidates if not (is_tree and c == path)], toplevel)
    return found[0] if found else None


def _plan_dirs(commit: str, dirs: list[str], toplevel: Path) -> list[str]:
    """The directories of ``dirs`` (in their order) that hold a plan.yaml or plan.yml at ``commit``."""
    names = [posixpath.join(d, n) if d else n for d in dirs for n in fmt.PLAN_FILE_NAMES]
    if not names:
        return []
    r = _git(["ls-tree", "-z", "--full-tree", "--name-only", commit, "--", *names], toplevel)
    present = {os.fsdecode(p) for p in r.stdout.split(b"\0") if p} if r.returncode == 0 else set()
    return [d for d in dirs if any((posixpath.join(d, n) if d else n) in present for n in fmt.PLAN_FILE_NAMES)]


def _entries(commit: str, top: str, want: str, toplevel: Path) -> list[tuple[str, str, str]]:
    """(mode, object id, path) of the YAML files (and links) below ``top``, and of ``want`` itself."""
    args = ["ls-tree", "-r", "-z", "--full-tree", commit]
    if top:
        args += ["--", top]
    r = _git(args, toplevel)
    if r.returncode != 0:
        raise InputError(f"git ls-tree failed: {_first_line(r.stderr)}")
    out = []
    for record in r.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, kind, oid = meta.decode("ascii").split(" ")
        path = os.fsdecode(raw_path)
        if kind != "blob":
            continue  # a submodule (commit): not part of this repository's tree
        name = posixpath.basename(path)
        if path == want or name.endswith(fmt.YAML_SUFFIXES):
            out.append((mode, oid, path))
    return out


def _read_blobs(oids: list[str], toplevel: Path) -> dict[str, bytes]:
    if not oids:
        return {}
    unique = list(dict.fromkeys(oids))
    r = _git(["cat-file", "--batch"], toplevel, stdin=("\n".join(unique) + "\n").encode("ascii"))
    if r.returncode != 0:
        raise InputError(f"git cat-file failed: {_first_line(r.stderr)}")
    data, pos, out = r.stdout, 0, {}
    for _ in unique:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode("ascii").split(" ")
        if len(header) < 3:  # "<oid> missing"
            raise InputError(f"git cat-file: object {header[0]} is missing from the repository")
        oid, size = header[0], int(header[2])
        out[oid] = data[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1
    return out


def _write(root: Path, entries: list[tuple[str, str, str]], blobs: dict[str, bytes]) -> None:
    for mode, oid, rel in entries:
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if mode == _SYMLINK:
            target = os.fsdecode(blobs[oid])
            inside = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if posixpath.isabs(target) or inside == ".." or inside.startswith("../"):
                continue  # a link out of the tree: what it points to is not part of REV
            os.symlink(target, dest)
        else:
            dest.write_bytes(blobs[oid])


@contextmanager
def checkout(spec: RevSpec | str, *, cwd: str | os.PathLike[str] | None = None) -> Iterator[RevTree]:
    """Copy PATH (and the plan it lies in) out of REV into a temporary directory, removed on exit.

    Raises :class:`~cdp_cli.errors.InputError` when git is missing, ``cwd`` is not in a git
    repository, REV names no commit, or PATH does not exist at REV."""
    if isinstance(spec, str):
        parsed = parse_rev_spec(spec)
        if parsed is None:
            raise InputError(f"{spec}: not a REV:PATH (such as main:plans/ecommerce)")
        spec = parsed
    where = Path(cwd) if cwd is not None else Path.cwd()
    if spec.rev.startswith("-"):
        raise InputError(f"{spec}: {spec.rev!r} is not a revision (it starts with '-')")
    r = _git(["rev-parse", "--show-toplevel", "--show-prefix"], where)
    if r.returncode != 0:
        raise InputError(f"{spec}: {where} is not inside a git repository, so revision {spec.rev!r} cannot be read")
    lines = r.stdout.decode("utf-8", "surrogateescape").split("\n")
    toplevel, prefix = Path(lines[0]), (lines[1] if len(lines) > 1 else "")
    r = _git(["rev-parse", "--verify", "--quiet", f"{spec.rev}^{{commit}}"], toplevel)
    if r.returncode != 0:
        raise InputError(f"{spec}: unknown revision {spec.rev!r} in the repository at {toplevel}")
    commit = r.stdout.decode("ascii").strip()
    path = _repo_path(spec, prefix.rstrip("/"), toplevel)
    r = _git(["cat-file", "-t", f"{commit}:{path}"], toplevel)
    kind = r.stdout.decode("ascii", "replace").strip() if r.returncode == 0 else ""
    if kind not in ("blob", "tree"):
        what = "is a submodule" if kind == "commit" else "does not exist"
        raise InputError(f"{spec}: {path or '.'} {what} in {spec.rev} (commit {commit[:12]})")
    plan_root = _enclosing_root(commit, path, kind == "tree", toplevel)
    top = plan_root if plan_root is not None else path
    entries = _entries(commit, top, path, toplevel)
    below = [p for _, _, p in entries if not path or p == path or p.startswith(f"{path}/")]
    if not below:
        raise InputError(f"{spec}: no plan files (*.yaml, *.yml) in {path or '.'} at {spec.rev}")
    blobs = _read_blobs([oid for _, oid, _ in entries], toplevel)
    tmp = Path(os.path.realpath(tempfile.mkdtemp(prefix="cdp-plan-rev-")))
    try:
        (tmp / ".git").mkdir()  # the repository boundary: plan-root search stops here, as in the work tree
        _write(tmp, entries, blobs)
        yield RevTree(spec, commit, toplevel, tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
