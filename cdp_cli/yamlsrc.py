"""Read YAML into plain JSON-compatible data, keeping the line and column of every key and value.

Used for tracking plans and configuration files. Differences from ``yaml.safe_load``, on purpose:

* duplicate keys are reported (PyYAML silently keeps the last one);
* mapping keys are the raw key text, so ``on:`` or ``1:`` are the strings ``"on"`` and ``"1"``;
* timestamps stay strings (JSON has no date type); ``.nan``/``.inf`` and custom tags are reported;
* size, nesting depth and alias expansion are capped, so a hostile file cannot exhaust memory
  (the "billion laughs" attack) or the stack;
* nothing raises for bad input: every problem comes back as a :class:`YamlProblem` with a position.

Lines and columns are 1-based.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import ScalarNode

MAX_BYTES = 10 * 1024 * 1024  #: a plan or config file larger than this is refused
MAX_DEPTH = 100  #: nesting deeper than this is refused
MAX_VALUES = 2_000_000  #: values in one document, aliases expanded; more is refused
MAX_ALIAS_VALUES = 200_000  #: values that aliases add by expansion; more is a "billion laughs" document

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


@dataclass(frozen=True, slots=True)
class YamlProblem:
    """A problem reading a YAML file. ``kind``: unreadable, syntax, duplicate-key, limits, empty."""

    kind: str
    line: int
    column: int
    message: str
    path: tuple[str | int, ...] = ()


@dataclass
class YamlDocument:
    """Plain data plus where each part came from."""

    file: str
    data: Any
    key_pos: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    value_pos: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: tuple, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path`` (its key when ``key``), else of its nearest located ancestor."""
        p = tuple(path)
        while True:
            if key and p in self.key_pos:
                return self.key_pos[p]
            if p in self.value_pos:
                return self.value_pos[p]
            if p in self.key_pos:
                return self.key_pos[p]
            if not p:
                return (1, 1)
            p = p[:-1]


class _TooBig(Exception):
    pass


class _TooDeep(Exception):
    pass


_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: same events, ~6x faster
_INVALID_KEY = object()
_DROP = object()  # a value already reported as unusable: its key is left out of the data


def _pos(mark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


class _Key:
    """A mapping key read, waiting for its value."""

    __slots__ = ("text", "merge")

    def __init__(self, text: Any, merge: bool = False):
        self.text = text
        self.merge = merge


class _Frame:
    __slots__ = ("value", "path", "is_map", "key", "key_pos", "explicit", "merged", "anchor", "start_count")

    def __init__(self, value: Any, path: tuple, is_map: bool, anchor: str | None, start_count: int):
        self.value = value
        self.path = path
        self.is_map = is_map
        self.key: _Key | None = None
        self.key_pos = (0, 0)
        self.explicit: dict[str, tuple[int, int]] = {}
        self.merged: dict[str, Any] = {}
        self.anchor = anchor
        self.start_count = start_count


class _Builder:
    """Builds plain data from YAML parser events iteratively (no recursion, so no stack to blow) and
    records positions. An alias shares its anchor's value; its expanded size is counted, so a
    'billion laughs' document is refused before anything walks it."""

    def __init__(
        self, doc: YamlDocument, problems: list[YamlProblem], max_depth: int, max_values: int, max_alias_values: int
    ):
        self.doc = doc
        self.problems = problems
        self.max_depth = max_depth
        self.max_values = max_values
        self.max_alias_values = max_alias_values
        self.count = 0
        self.alias_count = 0
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Frame] = []
        self.root: list[Any] = []
        self.root_is_blank = False  # the document is an implicit empty scalar ('---' and comments)

    def problem(self, kind: str, mark, message: str, path: tuple = ()) -> None:
        line, col = _pos(mark) if mark is not None else (0, 0)
        self.problems.append(YamlProblem(kind, line, col, message, path))

    def grow(self, n: int, mark, *, alias: bool = False) -> None:
        self.count += n
        if alias:
            self.alias_count += n
            if self.alias_count > self.max_alias_values:
                raise _TooBig(
                    _pos(mark),
                    self.child_path(),
                    f"aliases expand to more than {self.max_alias_values:,} values here "
                    "(aliases of aliases: a 'billion laughs' document?); refusing it",
                )
        if self.count > self.max_values:
            raise _TooBig(
                _pos(mark),
                self.child_path(),
                f"document holds more than {self.max_values:,} values; refusing it (split the plan into files)",
            )

    def scalar(self, ev) -> Any:
        tag = ev.tag
        if tag is None:
            tag = _RESOLVER.resolve(ScalarNode, ev.value, ev.implicit)
        elif tag == "!":
            tag = _TAG + "str"
        if tag == _TAG + "str" or tag == _TAG + "timestamp":
            return ev.value
        if tag not in _SCALAR_TAGS:
            self.problem(
                "syntax",
                ev.start_mark,
                f"unsupported YAML tag {tag!r}; plans hold plain JSON values",
                self.child_path(),
            )
            return ev.value
        value = _CONSTRUCTOR.construct_object(ScalarNode(tag, ev.value))
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(
                "syntax",
                ev.start_mark,
                f"{ev.value!r} is not a finite number and cannot be represented in JSON",
                self.child_path(),
            )
            return _DROP
        return value

    def awaiting_key(self) -> bool:
        return bool(self.stack) and self.stack[-1].is_map and self.stack[-1].key is None

    def child_path(self) -> tuple:
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if parent.is_map:
            return parent.path + ((parent.key.text if parent.key and isinstance(parent.key.text, str) else "?"),)
        return parent.path + (len(parent.value),)

    def attach(self, value: Any, pos: tuple[int, int]) -> None:
        """Put a finished value into its parent (as a key or a value), or make it the document."""
        if not self.stack:
            self.root.append(None if value is _DROP else value)
            return
        parent = self.stack[-1]
        if not parent.is_map:
            parent.value.append(None if value is _DROP else value)
            return
        if parent.key is None:
            if isinstance(value, _Key):
                parent.key = value
            else:
                self.problems.append(
                    YamlProblem(
                        "syntax", pos[0], pos[1], "a mapping key must be plain text, not a list or mapping", parent.path
                    )
                )
                parent.key = _Key(_INVALID_KEY)
            parent.key_pos = pos
            return
        key, kpos = parent.key, parent.key_pos
        parent.key = None
        if key.merge:
            for src in value if isinstance(value, list) else [value]:
                if isinstance(src, dict):
                    for k, v in src.items():
                        parent.merged.setdefault(k, v)
                else:
                    self.problems.append(
                        YamlProblem(
                            "syntax",
                            pos[0],
                            pos[1],
                            "a merge key '<<' needs a mapping or a list of mappings",
                            parent.path,
                        )
                    )
            return
        if key.text is _INVALID_KEY or value is _DROP:
            return
        name = key.text
        if name in parent.explicit:
            first = parent.explicit[name]
            self.problems.append(
                YamlProblem(
                    "duplicate-key",
                    kpos[0],
                    kpos[1],
                    f"duplicate key {name!r} (first defined at line {first[0]}, column {first[1]}); "
                    "YAML would silently keep only the last value",
                    parent.path + (name,),
                )
            )
            return
        parent.explicit[name] = kpos
        self.doc.key_pos[parent.path + (name,)] = kpos
        parent.value[name] = value

    def feed(self, ev) -> None:
        if isinstance(ev, yaml.ScalarEvent):
            if self.awaiting_key():
                merge = ev.value == "<<" and ev.tag is None and ev.implicit[0]
                self.attach(_Key(ev.value, merge), _pos(ev.start_mark))
                return
            path = self.child_path()
            if not self.stack and ev.value == "" and ev.implicit[0]:
                self.root_is_blank = True
            self.doc.value_pos.setdefault(path, _pos(ev.start_mark))
            self.grow(1, ev.start_mark)
            value = self.scalar(ev)
            if ev.anchor:
                self.anchors[ev.anchor] = (value, 1)
            self.attach(value, _pos(ev.start_mark))
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            is_map = isinstance(ev, yaml.MappingStartEvent)
            path = self.child_path()
            if len(self.stack) >= self.max_depth:
                raise _TooDeep(path[:12], _pos(ev.start_mark))
            if ev.tag not in (None, "!", _TAG + ("map" if is_map else "seq")):
                self.problem(
                    "syntax", ev.start_mark, f"unsupported YAML tag {ev.tag!r}; plans hold plain JSON values", path
                )
            self.doc.value_pos.setdefault(path, _pos(ev.start_mark))
            self.grow(1, ev.start_mark)
            self.stack.append(_Frame({} if is_map else [], path, is_map, ev.anchor, self.count - 1))
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            frame_pos = self.doc.value_pos.get(frame.path, _pos(ev.start_mark))
            if frame.is_map:
                for k, v in frame.merged.items():
                    frame.value.setdefault(k, v)
            if frame.anchor:
                self.anchors[frame.anchor] = (frame.value, self.count - frame.start_count)
            self.attach(frame.value, frame_pos)
        elif isinstance(ev, yaml.AliasEvent):
            if ev.anchor not in self.anchors:
                self.problem(
                    "syntax",
                    ev.start_mark,
                    f"found undefined alias {ev.anchor!r}: an alias must come after its anchor (&{ev.anchor}) "
                    "and cannot refer to the mapping or list that contains it",
                    self.child_path(),
                )
                value, count = None, 1
            else:
                value, count = self.anchors[ev.anchor]
            if self.awaiting_key():
                self.attach(_Key(value) if isinstance(value, str) else value, _pos(ev.start_mark))
                return
            self.doc.value_pos.setdefault(self.child_path(), _pos(ev.start_mark))
            self.grow(count, ev.start_mark, alias=True)
            self.attach(value, _pos(ev.start_mark))


_UNCLOSED = {  # parser contexts of constructs that run on until closed: (what, how it is closed)
    "while scanning a quoted scalar": ("quoted string", "its closing quote"),
    "while parsing a flow sequence": ("flow sequence '['", "']'"),
    "while parsing a flow mapping": ("flow mapping '{'", "'}'"),
    "while scanning a simple key": ("key", "':'"),
}


def _syntax_problem(text: str, error: yaml.MarkedYAMLError) -> YamlProblem:
    """libyaml finds the error fast; PyYAML's pure-Python parser words it better (it names the
    offending character), so on an error we ask it again, and fall back to libyaml's words.

    The position is where the problem starts: for a construct left open (a quote, a '[' or '{', a key
    without ':') that is where it was opened (the error's context mark), not where the parser gave up
    (often the end of the file), which the message then names."""
    mark = error.problem_mark
    if _LOADER is not yaml.SafeLoader and mark is not None:
        # Only the text up to the end of the bad line, and at most 1 MiB of it: the pure-Python parser
        # is slow, and on a huge or hostile file the wording is not worth minutes.
        end = text.find("\n", mark.index)
        end = len(text) if end < 0 else end + 1
        if end <= 1 << 20:
            try:
                for _ in yaml.parse(text[:end], Loader=yaml.SafeLoader):
                    pass
            except yaml.MarkedYAMLError as e:
                if e.problem_mark is not None and e.problem_mark.line == mark.line:
                    error = e
            except yaml.YAMLError:
                pass
    problem, context = error.problem_mark, error.context_mark
    unclosed = _UNCLOSED.get(error.context or "")
    if unclosed and problem is not None and context is not None and problem.line > context.line:
        what, closer = unclosed
        found = (error.problem or "").removeprefix("found ")
        at = "{:d}:{:d}".format(*_pos(problem))
        if "<stream end>" in found:
            found = "end of stream"
        if "end of stream" in found or "document separator" in found:
            if what == "quoted string":
                msg = f"unterminated quoted string started here (found {found.removeprefix('unexpected ')} at {at})"
            else:
                msg = (
                    f"{what} started here is never closed with {closer} "
                    f"(found {found.removeprefix('unexpected ')} at {at})"
                )
        else:
            msg = f"{what} started here is not closed with {closer} ({found} at {at})"
        line, col = _pos(context)
        return YamlProblem("syntax", line, col, f"invalid YAML: {msg}")
    mark = problem or context
    line, col = _pos(mark) if mark else (0, 0)
    msg = " ".join(x for x in (error.context, error.problem) if x) or str(error)
    if "'\\t'" in msg:
        msg += " (YAML indentation must use spaces, not tabs)"
    elif (
        (error.context or "").startswith("while parsing a block")
        and context is not None
        and problem is not None
        and problem.line > context.line
    ):
        msg += " (check the indentation of this line against the lines above it)"
    return YamlProblem("syntax", line, col, f"invalid YAML: {msg}")


def load_yaml(
    file: str | Path,
    *,
    display: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_VALUES,
    max_alias_values: int = MAX_ALIAS_VALUES,
) -> tuple[YamlDocument | None, list[YamlProblem]]:
    """Read one YAML file. Returns the document (``None`` when unusable or empty) and its problems."""
    name = display or str(file)
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):  # a FIFO or device would block or never end
            return None, [
                YamlProblem("unreadable", 0, 0, "not a regular file (a pipe, socket or device); plans are plain files")
            ]
        with open(file, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, [
                YamlProblem(
                    "unreadable",
                    0,
                    0,
                    "symbolic link loop: the link leads back to itself (through other links), "
                    "so there is no file to read",
                )
            ]
        return None, [YamlProblem("unreadable", 0, 0, f"cannot read file: {e.strerror or e}")]
    if len(raw) > max_bytes:
        return None, [
            YamlProblem(
                "unreadable", 0, 0, f"file is larger than {max_bytes // (1024 * 1024)} MiB; refusing to read it"
            )
        ]
    for bom, enc in (
        (b"\xff\xfe\x00\x00", "UTF-32"),
        (b"\x00\x00\xfe\xff", "UTF-32"),
        (b"\xff\xfe", "UTF-16"),
        (b"\xfe\xff", "UTF-16"),
    ):
        if raw.startswith(bom):
            return None, [YamlProblem("unreadable", 1, 1, f"file is {enc} text, not UTF-8; save it as UTF-8")]
    if b"\x00" in raw:
        return None, [YamlProblem("unreadable", 0, 0, "file is binary (it contains NUL bytes), not YAML text")]
    bom_len = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    body = raw[bom_len:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line = body.count(b"\n", 0, e.start) + 1
        line_start = body.rfind(b"\n", 0, e.start) + 1
        col = len(body[line_start : e.start].decode("utf-8", errors="replace")) + 1
        return None, [
            YamlProblem(
                "unreadable",
                line,
                col,
                f"file is not UTF-8 text (byte 0x{body[e.start]:02x} at offset {e.start + bom_len})",
            )
        ]
    return parse_yaml(text, name, max_depth=max_depth, max_values=max_values, max_alias_values=max_alias_values)


def parse_yaml(
    text: str,
    name: str = "<string>",
    *,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_VALUES,
    max_alias_values: int = MAX_ALIAS_VALUES,
) -> tuple[YamlDocument | None, list[YamlProblem]]:
    """Parse YAML text; see :func:`load_yaml`."""
    problems: list[YamlProblem] = []
    doc = YamlDocument(file=name, data=None)
    builder = _Builder(doc, problems, max_depth, max_values, max_alias_values)
    documents = 0
    extra_docs: list[tuple[int, int]] = []  # start of each later document that has content
    doc_start = (1, 1)
    try:
        for ev in yaml.parse(text, Loader=_LOADER):
            if isinstance(ev, yaml.DocumentStartEvent):
                documents += 1
                doc_start = _pos(ev.start_mark)
            elif documents == 1 and not isinstance(
                ev, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)
            ):
                builder.feed(ev)
            elif documents > 1 and not isinstance(ev, (yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                empty = isinstance(ev, yaml.ScalarEvent) and ev.value == "" and ev.implicit[0]
                if not empty and (not extra_docs or extra_docs[-1] != doc_start):
                    extra_docs.append(doc_start)
    except yaml.MarkedYAMLError as e:
        if "maximum nesting depth" in str(
            e.problem or ""
        ):  # libyaml >= 0.2.5 stops at 1,000 levels while scanning ahead
            line, col = _pos(e.problem_mark) if e.problem_mark is not None else (0, 0)
            return None, problems + [
                YamlProblem("limits", line, col, f"document is nested more than {max_depth} levels deep")
            ]
        return None, problems + [_syntax_problem(text, e)]
    except yaml.YAMLError as e:
        return None, problems + [YamlProblem("syntax", 0, 0, f"invalid YAML: {e}")]
    except _TooBig as e:
        (line, col), path, message = e.args
        return None, problems + [YamlProblem("limits", line, col, message, path)]
    except _TooDeep as e:
        path, (line, col) = e.args
        return None, problems + [
            YamlProblem("limits", line, col, f"document is nested more than {max_depth} levels deep", path)
        ]
    if extra_docs:
        line, col = extra_docs[0]
        problems.append(
            YamlProblem(
                "syntax",
                line,
                col,
                f"file holds {len(extra_docs) + 1} YAML documents ('---'); a plan file holds one (split it into files)",
            )
        )
    if not builder.root or builder.root_is_blank:
        return None, [YamlProblem("empty", 1, 1, "file is empty (no YAML document)")]
    doc.data = builder.root[0]
    return doc, problems


def load_strict(path: Path, what: str = "config file") -> YamlDocument | None:
    """A configuration file: its document (None when empty), or a ConfigError at its first problem
    (file:line:column). Missing files are an error naming ``what``."""
    from cdp_cli.errors import ConfigError

    path = Path(path)
    if not path.is_file():
        try:
            os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ConfigError(
                    f"{path}: symbolic link loop (the link leads back to itself); there is no {what} to read"
                ) from None
        raise ConfigError(f"{path}: {what} not found")
    doc, problems = load_yaml(path, display=str(path))
    if problems:
        p = problems[0]
        raise ConfigError(f"{path}:{p.line}:{p.column}: {p.message}")
    return doc
