"""Reading the sources of an import: JSON with the line and column of every value, YAML files that hold
several documents (a rudder-cli project), and walking a source directory.

Every problem reading a source is an :class:`~cdp_cli.errors.InputError` naming the file (and the line,
for a syntax error): an import of a broken export stops, it never guesses.
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdp_cli.errors import InputError, os_reason

MAX_BYTES = 64 * 1024 * 1024  #: a source file larger than this is refused

Path_ = tuple[str | int, ...]


@dataclass
class Source:
    """One parsed source document: its data and where each value stands (1-based line, column)."""

    file: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    line_offset: int = 0  # for a document that is part of a longer YAML file

    def where(self, path: Path_) -> tuple[int, int]:
        """Position of ``path``, else of its nearest located ancestor."""
        p = tuple(path)
        while True:
            if p in self.positions:
                line, col = self.positions[p]
                return line + self.line_offset, col
            if not p:
                return 0, 0
            p = p[:-1]


def read_text(path: Path) -> str:
    """A source file as text (UTF-8, a BOM allowed)."""
    try:
        if not path.is_file():
            raise InputError(f"{path}: not a regular file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{path}: file is larger than {MAX_BYTES // (1024 * 1024)} MiB; refusing to read it")
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {os_reason(e)}") from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x})") from None


# --- JSON with positions --------------------------------------------------------------------------------
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_LITERAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
_WS = re.compile(r"[ \t\r\n]*")


class _Scanner:
    """Records the position of every value of a JSON text (the text is known to be valid JSON)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.positions: dict[Path_, tuple[int, int]] = {}

    def pos(self, i: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, i)
        return line, i - self.starts[line - 1] + 1

    def ws(self, i: int) -> int:
        m = _WS.match(self.text, i)
        return m.end() if m else i

    def value(self, i: int, path: Path_, depth: int = 0) -> int:
        i = self.ws(i)
        self.positions.setdefault(path, self.pos(i))
        ch = self.text[i]
        if depth > 400:
            raise ValueError("too deep")
        if ch == "{":
            i = self.ws(i + 1)
            if self.text[i] == "}":
                return i + 1
            while True:
                m = _STRING.match(self.text, i)
                if m is None:
                    raise ValueError("key expected")
                key = json.loads(m.group())
                self.positions[path + (key,)] = self.pos(i)
                i = self.ws(m.end())
                i = self.value(i + 1, path + (key,), depth + 1)  # past ':'
                i = self.ws(i)
                if self.text[i] == ",":
                    i = self.ws(i + 1)
                    continue
                return i + 1  # '}'
        if ch == "[":
            i = self.ws(i + 1)
            if self.text[i] == "]":
                return i + 1
            n = 0
            while True:
                i = self.value(i, path + (n,), depth + 1)
                i = self.ws(i)
                n += 1
                if self.text[i] == ",":
                    i += 1
                    continue
                return i + 1  # ']'
        m = _STRING.match(self.text, i) if ch == '"' else _LITERAL.match(self.text, i)
        if m is None:
            raise ValueError("value expected")
        return m.end()


def parse_json(text: str, file: str) -> Source:
    """Parse JSON ``text``; an :class:`InputError` with the line and column for invalid JSON."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{file}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    except RecursionError:
        raise InputError(f"{file}: invalid JSON: nested too deeply") from None
    scanner = _Scanner(text)
    try:
        scanner.value(0, ())
    except (ValueError, IndexError, RecursionError):
        scanner.positions.clear()  # positions are a courtesy; the data is what json read
    return Source(file, data, scanner.positions)


def read_json(path: Path, display: str | None = None) -> Source:
    return parse_json(read_text(path), display or str(path))


def read_ndjson(path: Path, display: str | None = None) -> list[Source]:
    """One :class:`Source` per non-blank line (positions are line-relative, shifted to the file)."""
    name = display or str(path)
    out: list[Source] = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            src = parse_json(line, name)
        except InputError as e:
            raise InputError(str(e).replace(f"{name}:1:", f"{name}:{n}:", 1)) from None
        src.line_offset = n - 1
        out.append(src)
    return out


# --- YAML with several documents ------------------------------------------------------------------------
_DOC_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$|^\.\.\.[ \t]*$", re.M)


def read_yaml_documents(path: Path, display: str | None = None) -> list[Source]:
    """Every document of a YAML file (``---`` separated), each with positions. Syntax errors, duplicate
    keys and other YAML problems are :class:`InputError`\\ s naming file, line and column."""
    from cdp_cli.yamlsrc import parse_yaml

    name = display or str(path)
    text = read_text(path)
    chunks: list[tuple[int, str]] = []
    last, last_line = 0, 0
    for m in _DOC_SEPARATOR.finditer(text):
        chunks.append((last_line, text[last : m.start()]))
        last = m.end()
        last_line = text.count("\n", 0, m.end())
    chunks.append((last_line, text[last:]))
    out: list[Source] = []
    for offset, chunk in chunks:
        if not chunk.strip() or all(ln.lstrip().startswith("#") or not ln.strip() for ln in chunk.splitlines()):
            continue
        doc, problems = parse_yaml(chunk, name)
        serious = [p for p in problems if p.kind != "empty"]
        if serious:
            p = serious[0]
            raise InputError(f"{name}:{p.line + offset}:{p.column}: {p.message}")
        if doc is None or doc.data is None:
            continue
        positions = dict(doc.value_pos)
        positions.update(doc.key_pos)  # a key's line reads better than its value's
        out.append(Source(name, doc.data, positions, offset))
    return out


# --- directories ------------------------------------------------------------------------------------------
def walk(top: Path, suffixes: tuple[str, ...] | None) -> Iterator[Path]:
    """Files below ``top`` in a stable order, hidden files and folders skipped. ``suffixes=None``: every
    file (Iglu repositories name schema files ``1-0-0``, without a suffix)."""
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if suffixes is None or name.lower().endswith(suffixes):
                yield Path(dirpath) / name


def display(path: Path) -> str:
    from cdp_cli.plan.loader import display_path

    return display_path(path)
