"""Outputs, written safely: atomically, never over something cdp did not write, and with OS errors
turned into messages that name the user's path.

- Files are written to a temporary sibling and renamed into place (``os.replace`` is atomic on one
  file system). An output that is not a regular file (``/dev/stdout``, a FIFO, ``/dev/full``) is
  written in place: replacing a device node or a pipe with a file would be wrong.
- Directories are built beside their target and swapped in. An existing directory is replaced only
  when it is empty, or when it holds cdp's stamp (:data:`STAMP`, written last, with the kind of output
  and the name and size of every file cdp wrote) and nothing else: a file cdp did not write, or one
  changed since, makes cdp refuse and list it. A ``manifest.json`` of another tool is not enough.
- Temporary siblings are named ``.NAME.cdp-PID.RANDOM.tmp``. A run killed with SIGKILL cannot remove
  its own; the next run that writes the same output removes those of processes that no longer exist,
  and reports (never removes) look-alikes it cannot prove are cdp's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cdp_cli.errors import InputError, OutputError, os_reason

log = logging.getLogger("cdp")

STAMP = ".cdp-output.json"  #: cdp's signature in every output directory it writes
STAMP_FORMAT = 1


def output_error(path: str | Path, e: OSError) -> OutputError:
    return OutputError(f"cannot write {path}: {os_reason(e)}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tmp_prefix(name: str) -> str:
    return f".{name}.cdp-{os.getpid()}."


def remove_leftovers(path: Path) -> list[Path]:
    """Remove the temporary siblings of ``path`` left by cdp runs that were killed (their process is
    gone); report look-alikes that cannot be proved cdp's. Returns what was removed."""
    parent = path.parent if str(path.parent) else Path(".")
    ours = re.compile(r"^\." + re.escape(path.name) + r"\.cdp-(\d+)\.[A-Za-z0-9_]+\.(?:tmp|old)$")
    older = re.compile(r"^\." + re.escape(path.name) + r"\.[A-Za-z0-9_]{8}\.(?:tmp|old)$")  # cdp <= 0.1.0
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        m = ours.match(entry.name)
        if m:
            if _pid_alive(int(m.group(1))):
                continue  # another run writing the same output right now
            target = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(target)
                else:
                    target.unlink()
                removed.append(target)
                log.info("removed %s, left by a cdp run that was killed", target)
            except OSError as e:
                log.warning("could not remove %s, left by a killed cdp run: %s", target, os_reason(e))
        elif older.match(entry.name):
            log.warning(
                "%s looks like a temporary copy of %s left by an earlier run; cdp cannot prove it wrote it, "
                "so it is left alone: remove it yourself if it is not needed",
                entry.path,
                path,
            )
    return removed


def _is_special(path: Path) -> bool:
    """An existing output that is not a regular file or directory (a device, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


_FINDING_LINE = re.compile(r"^.+: (?:error|warning|info) [A-Z]{2}\d{3} |^\.\.\. and [\d,]+ more ")
_VERDICT_LINE = re.compile(r"^(?:[✓✗!] |cdp )[a-z]+ [a-z]+: [\d,]+ errors?, [\d,]+ warnings? in ")


def written_by_cdp(path: Path) -> bool:
    """Whether an existing file is recognisably a report cdp wrote (so replacing it loses nothing of
    the user's): an empty file, cdp's JSON, SARIF or JUnit report, a findings NDJSON file, a text
    or GitHub report (its verdict line, or only finding lines), an activation log (its first message
    is cdp's: :func:`cdp_cli.activation.looks_like_activation`), or a Parquet file stamped
    ``{"cdp": "traits"}`` (traits.parquet). Reads at most 64 KiB from each end."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(65536)
            if size > 65536:
                fh.seek(max(size - 4096, 65536))
            tail = fh.read(4096) if size > 65536 else head[-4096:]
    except OSError:
        return False
    if size == 0:
        return True
    if head[:4] == b"PAR1" and tail[-4:] == b"PAR1":
        return _cdp_parquet(path)
    text = head.decode("utf-8", errors="replace")
    if re.match(r'\{\s*"tool":\s*\{\s*"name":\s*"cdp"', text):  # the json reporter
        return True
    if '"$schema": "https://json.schemastore.org/sarif-2.1.0.json"' in text and re.search(
        r'"driver":\s*\{\s*"name":\s*"cdp"', text
    ):
        return True
    if re.match(r'<\?xml[^>]*\?>\s*<testsuites name="cdp ', text):
        return True
    if text.startswith("### Tracking plan diff"):
        return True  # cdp plan diff --format markdown
    if text.startswith(("# Inferred by cdp plan infer", "# Imported by cdp from")):
        return True  # a plan file cdp plan infer / import wrote
    if re.match(r'\{\s*"format":\s*"cdp-replay-(checkpoint|dead-letters)",\s*"written_by":\s*"cdp"', text):
        return True  # a replay checkpoint (one JSON line, maybe long) or dead-letter file
    first = text.split("\n", 1)[0]
    if first.startswith("{"):
        try:
            rec = json.loads(first)
        except ValueError:
            rec = None
        if isinstance(rec, dict) and {"code", "rule", "level", "file", "line", "message"} <= set(rec):
            return True  # --findings-out
        from cdp_cli.activation import looks_like_activation

        if looks_like_activation(rec):
            return True  # --emit-events (an activation log)
    last = [ln for ln in tail.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    if last and _VERDICT_LINE.match(last[-1]):
        return True
    lines = (
        [ln for ln in text.splitlines()[:-1] if ln.strip()]
        if size > 65536
        else [ln for ln in text.splitlines() if ln.strip()]
    )
    return bool(lines) and all(_FINDING_LINE.match(ln) for ln in lines)


#: Parquet files cdp writes outside output directories carry this key-value metadata key, with their kind
PARQUET_KINDS = frozenset({"traits"})


def _cdp_parquet(path: Path) -> bool:
    """A Parquet file whose key-value metadata says cdp wrote it (``{"cdp": "traits"}``)."""
    try:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
    except Exception:  # not readable as Parquet: not recognisably cdp's
        return False
    return meta.get(b"cdp", b"").decode("utf-8", "replace") in PARQUET_KINDS


@contextlib.contextmanager
def atomic_open(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", *, flag: str = "--output", force: bool = False
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds.

    An existing regular file is replaced only if cdp wrote it (:func:`written_by_cdp`); anything
    else is an :class:`OutputError` naming ``flag`` (``force`` allows it: the user said so). Every OS
    error becomes an OutputError naming ``path``."""
    path = Path(path)
    check_file_replaceable(path, flag, force=force)
    if _is_special(path):  # /dev/stdout, /dev/full, a FIFO: written in place, never replaced
        try:
            fh = open(path, mode, encoding=None if "b" in mode else encoding)
        except OSError as e:
            raise output_error(path, e) from None
        try:
            yield fh
            fh.flush()
        except OSError as e:
            raise output_error(path, e) from None
        finally:
            with contextlib.suppress(OSError):
                fh.close()
        return
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)  # -o build/report.sarif works in a fresh clone
    except OSError as e:
        raise output_error(path, e) from None
    remove_leftovers(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), suffix=".tmp", dir=parent)
    except OSError as e:
        raise output_error(path, e) from None
    try:
        try:
            with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file ordinary permissions
            os.replace(tmp, path)
        except OSError as e:
            raise output_error(path, e) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_file_replaceable(path: Path, flag: str = "--output", force: bool = False, hint: str = "") -> None:
    """Raise unless a file output may go to ``path``: new, a device or FIFO, or a file cdp wrote
    (or any regular file, with ``force``)."""
    if _is_special(path) or not os.path.lexists(path):
        return
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a directory")
    if not path.is_file() or not (force or written_by_cdp(path)):
        raise OutputError(
            f"{flag} {path}: the file exists and was not written by cdp; refusing to replace it "
            f"(delete it first, or choose another name{hint})"
        )


def _listing(root: Path) -> dict[str, int]:
    """Every file below ``root`` (relative POSIX path -> size); directories are implied by files,
    empty ones listed with size -1."""
    out: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for name in filenames:
            p = Path(dirpath) / name
            r = (rel / name).as_posix()
            try:
                st = os.lstat(p)
            except OSError:
                continue
            out[r] = st.st_size if stat.S_ISREG(st.st_mode) else -2  # a link or device: never cdp's
        if not dirnames and not filenames and rel != Path("."):
            out[rel.as_posix() + "/"] = -1
        for d in list(dirnames):
            if os.path.islink(Path(dirpath) / d):  # walk does not follow links; a link is foreign
                out[(rel / d).as_posix()] = -2
                dirnames.remove(d)
    return out


def check_replaceable(path: Path, kind: str) -> None:
    """Raise unless ``path`` may be replaced by a new ``kind`` output: absent, empty, or holding
    cdp's stamp and exactly the files it lists (with their sizes)."""
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_dir():
        raise OutputError(f"{path}: exists and is not a directory; cdp writes a directory there only where none is")
    listing = _listing(path)
    if not listing:
        return
    stamp_file = path / STAMP
    stamp = None
    if STAMP in listing:
        try:
            stamp = json.loads(stamp_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stamp = None
    if stamp is None and _legacy_output(path, listing, kind):
        return
    valid = (
        isinstance(stamp, dict)
        and stamp.get("written_by") == "cdp"
        and stamp.get("format") == STAMP_FORMAT
        and isinstance(stamp.get("files"), dict)
        and isinstance(stamp.get("kind"), str)
    )
    if not valid:
        foreign = sorted(listing)
        raise OutputError(
            f"{path}: directory is not empty and was not written by cdp (no valid {STAMP}); it holds "
            f"{_names(foreign)}. cdp replaces a directory only when it wrote all of it: choose a new or empty directory"
        )
    assert isinstance(stamp, dict)
    if stamp["kind"] != kind:
        raise OutputError(f"{path}: holds cdp's {stamp['kind']} output, not {kind}; choose another directory")
    recorded: dict = stamp["files"]
    foreign = sorted(r for r, size in listing.items() if r != STAMP and recorded.get(r) != size)
    if foreign:
        raise OutputError(
            f"{path}: holds files cdp did not write (or that changed since): {_names(foreign)}; "
            "move them away or choose another directory"
        )


def _legacy_output(path: Path, listing: dict[str, int], kind: str) -> bool:
    """An output of cdp 0.1.0 (before the stamp): its manifest.json says it is cdp's and lists
    exactly the files the directory holds. Content is checked, not just a file's presence."""
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict):
        return False
    if kind == "profiles" and manifest.get("cdp") == "profiles" and isinstance(manifest.get("files"), list):
        listed = {str(f) for f in manifest["files"]}
    elif (
        kind == "plan export"
        and str(manifest.get("generator", "")).startswith("cdp ")
        and isinstance(manifest.get("schemas"), list)
    ):
        listed = {str(e.get("file")) for e in manifest["schemas"] if isinstance(e, dict)}
    else:
        return False
    return set(listing) == listed | {"manifest.json"}


def _names(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


@contextlib.contextmanager
def atomic_directory(path: str | Path, *, kind: str = "output", marker: str | None = None) -> Iterator[Path]:
    """Build a directory in a temporary sibling and swap it in at the end.

    An existing ``path`` is replaced only when :func:`check_replaceable` allows it, checked before
    the work starts and again just before the swap. ``marker`` is kept for callers that name the
    file they write last; cdp's own signature is :data:`STAMP`, written here after the block.
    """
    del marker
    path = Path(path)
    resolved = Path(os.path.realpath(path))  # not Path.resolve(): it raises on a symlink loop (3.11)
    cwd = Path(os.path.realpath(Path.cwd()))
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(
            f"{path}: cannot replace the current directory or one above it; name a subdirectory such as build/schemas"
        )
    check_replaceable(path, kind)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(path, e) from None
    remove_leftovers(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path.name), suffix=".tmp", dir=parent))
    except OSError as e:
        raise output_error(path, e) from None
    try:
        try:
            yield tmp
            mode = 0o777 & ~_umask()  # mkdtemp makes 0700; the swapped-in directory gets ordinary permissions
            os.chmod(tmp, mode)
            for sub in tmp.rglob("*"):
                if sub.is_dir():
                    os.chmod(sub, mode)
            files = {r: size for r, size in _listing(tmp).items() if r != STAMP}
            stamp = {"written_by": "cdp", "format": STAMP_FORMAT, "kind": kind, "files": files}
            (tmp / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            check_replaceable(path, kind)  # nothing foreign arrived while we worked
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path.name), suffix=".old", dir=parent))
                os.replace(path, old / "d")
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except OSError as e:
            raise output_error(path, e) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def guard_outputs(outputs: dict[str, Path | None], protected: list[Path], *, dir_flags: tuple[str, ...] = ()) -> None:
    """Before any work: refuse an output (named by its flag) that would replace an input or a file
    inside an input directory, two outputs naming one file, and a file output over something cdp
    did not write. A typo must never destroy the data being checked, nor fail a long run at its end.
    ``dir_flags`` name directory outputs (checked by :func:`atomic_directory` itself)."""
    from cdp_cli.errors import UsageError

    guarded = [Path(os.path.realpath(p)) for p in protected]  # realpath: a symlink loop must not raise
    seen: dict[Path, str] = {}
    for flag, out in outputs.items():
        if out is None:
            continue
        target = Path(os.path.realpath(out))
        if target in seen:
            raise UsageError(f"{flag} {out} is also given to {seen[target]}; name two different files")
        seen[target] = flag
        for g in guarded:
            if target == g or g in target.parents:
                raise UsageError(f"{flag} {out} is one of the inputs ({g.name}); refusing to overwrite it")
        if flag not in dir_flags:
            check_file_replaceable(out, flag)
