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

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 10 * 1024 * 1024  #: a plan or config file larger than this is refused
MAX_DEPTH = 100  #: nesting deeper than this is refused
MAX_VALUES = 200_000  #: values after alias expansion; more is refused

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


def _pos(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, doc: YamlDocument, problems: list[YamlProblem], max_depth: int, max_values: int):
        self.doc = doc
        self.problems = problems
        self.max_depth = max_depth
        self.max_values = max_values
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: Node, path: tuple, depth: int) -> Any:
        self.count += 1
        if self.count > self.max_values:
            raise _TooBig()
        if depth > self.max_depth:
            raise _TooDeep(path[:12])
        self.doc.value_pos.setdefault(path, _pos(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover

    def scalar(self, node: ScalarNode, path: tuple) -> Any:
        tag = node.tag
        if tag == _TAG + "timestamp":
            return node.value
        if tag not in _SCALAR_TAGS:
            line, col = _pos(node)
            self.problems.append(YamlProblem(
                "syntax", line, col, f"unsupported YAML tag {tag!r}; plans hold plain JSON values", path))
            return node.value
        value = self.constructor.construct_object(node)
        if isinstance(value, float) and not math.isfinite(value):
            line, col = _pos(node)
            self.problems.append(YamlProblem(
                "syntax", line, col, f"{node.value!r} is not a finite number and cannot be represented in JSON", path))
            return None
        return value

    def mapping(self, node: MappingNode, path: tuple, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, tuple[int, int]] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for src in sources:
                    if not isinstance(src, MappingNode):
                        line, col = _pos(src)
                        self.problems.append(YamlProblem(
                            "syntax", line, col, "a merge key '<<' needs a mapping or a list of mappings", path))
                        continue
                    sub = self.mapping(src, path, depth + 1)
                    for k, v in sub.items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, ScalarNode):
                line, col = _pos(key_node)
                self.problems.append(YamlProblem(
                    "syntax", line, col, "a mapping key must be plain text, not a list or mapping", path))
                continue
            key = key_node.value
            kpos = _pos(key_node)
            if key in explicit:
                first = explicit[key]
                self.problems.append(YamlProblem(
                    "duplicate-key", kpos[0], kpos[1],
                    f"duplicate key {key!r} (first defined at line {first[0]}, column {first[1]}); "
                    "YAML would silently keep only the last value",
                    path + (key,)))
                continue
            explicit[key] = kpos
            self.doc.key_pos[path + (key,)] = kpos
            result[key] = self.build(value_node, path + (key,), depth + 1)
        for k, v in merged.items():
            result.setdefault(k, v)
        return result


def load_yaml(
    file: str | Path,
    *,
    display: str | None = None,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_VALUES,
) -> tuple[YamlDocument | None, list[YamlProblem]]:
    """Read one YAML file. Returns the document (``None`` when unusable or empty) and its problems."""
    name = display or str(file)
    problems: list[YamlProblem] = []
    try:
        with open(file, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as e:
        return None, [YamlProblem("unreadable", 0, 0, f"cannot read file: {e.strerror or e}")]
    if len(raw) > max_bytes:
        return None, [YamlProblem("unreadable", 0, 0, f"file is larger than {max_bytes // (1024 * 1024)} MiB; refusing to read it")]
    if b"\x00" in raw:
        return None, [YamlProblem("unreadable", 0, 0, "file is binary (it contains NUL bytes), not YAML text")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        return None, [YamlProblem("unreadable", line, col, f"file is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})")]
    return parse_yaml(text, name, max_depth=max_depth, max_values=max_values)


def parse_yaml(
    text: str,
    name: str = "<string>",
    *,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_VALUES,
) -> tuple[YamlDocument | None, list[YamlProblem]]:
    """Parse YAML text; see :func:`load_yaml`."""
    problems: list[YamlProblem] = []
    try:
        # The pure-Python loader: its composer is recursive in Python, so hostile nesting raises a
        # catchable RecursionError instead of overflowing the C stack.
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        msg = " ".join(x for x in (e.context, e.problem) if x) or str(e)
        return None, [YamlProblem("syntax", line, col, f"invalid YAML: {msg}")]
    except yaml.YAMLError as e:
        return None, [YamlProblem("syntax", 0, 0, f"invalid YAML: {e}")]
    except RecursionError:
        return None, [YamlProblem("limits", 0, 0, "document is nested too deeply to parse")]
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        return None, [YamlProblem("empty", 1, 1, "file is empty (no YAML document)")]
    if len(nodes) > 1:
        line, col = _pos(nodes[1])
        problems.append(YamlProblem(
            "syntax", line, col,
            f"file holds {len(nodes)} YAML documents ('---'); a plan file holds one (split it into files)"))
    doc = YamlDocument(file=name, data=None)
    builder = _Builder(doc, problems, max_depth, max_values)
    try:
        doc.data = builder.build(nodes[0], (), 0)
    except _TooBig:
        return None, problems + [YamlProblem(
            "limits", 1, 1, f"document expands to more than {max_values:,} values (anchors/aliases?); refusing it")]
    except _TooDeep as e:
        path = e.args[0]
        line, col = doc.where(path)
        return None, problems + [YamlProblem(
            "limits", line, col, f"document is nested more than {max_depth} levels deep (or an alias refers to itself)", path)]
    except RecursionError:
        return None, problems + [YamlProblem("limits", 0, 0, "document is nested too deeply to read")]
    return doc, problems
