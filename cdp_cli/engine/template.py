"""Named SQL templates, rendered for one engine's :class:`~cdp_cli.engine.dialect.Dialect`.

A template is readable SQL with three kinds of slot, and nothing else is ever pasted into it:

- ``{events}``: a relation (or column) name, quoted by the dialect. It names the relation of the same
  name unless :meth:`Template.render` is given ``relations={"events": "other"}``.
- ``{timestamp_from_epoch_us(s.ts)}``: a dialect function (:attr:`Dialect.TEMPLATE_FUNCTIONS`) applied
  to SQL expressions; calls nest (``{list_contains(map_value(p.identifiers, w.type), w.value)}``).
- ``:profile_id``: a value, bound as a parameter (never spliced into the text). A list or tuple
  expands to one parameter per item, for ``IN (:values)``.

Rendering gives a :class:`Statement` (SQL text and its parameters) that every engine method takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cdp_cli.engine.dialect import Dialect

# slots, or text to step over: comments, string literals and quoted identifiers (a ':' or '{' inside
# them is text), and '::' casts
_TOKENS = re.compile(r"""--[^\n]*|'(?:[^']|'')*'|"(?:[^"]|"")*"|::|\{([^{}]*)\}|:([A-Za-z_]\w*)""")
_PARAMS = re.compile(r"""--[^\n]*|'(?:[^']|'')*'|"(?:[^"]|"")*"|::|:([A-Za-z_]\w*)""")  # slots' insides too
_NAME = re.compile(r"[A-Za-z_]\w*")


class Statement(NamedTuple):
    """SQL text with its bound parameters (named), ready for an engine."""

    sql: str
    params: dict[str, Any]


class Template:
    """One named SQL statement. See the module docstring for its slots."""

    __slots__ = ("name", "text", "params")

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.params = tuple(dict.fromkeys(m.group(1) for m in _PARAMS.finditer(text) if m.group(1)))

    def render(self, dialect: Dialect, *, relations: Mapping[str, str] | None = None, **values: Any) -> Statement:
        """The statement for ``dialect``, with ``values`` bound to the template's ``:parameters``."""
        missing = [p for p in self.params if p not in values]
        extra = [v for v in values if v not in self.params]
        if missing or extra:
            raise TypeError(f"SQL template {self.name}: missing values {missing}, unknown values {extra}")
        names = relations or {}
        params: dict[str, Any] = {}

        def slot(m: re.Match) -> str:
            text, inner, param = m.group(0), m.group(1), m.group(2)
            if inner is not None:
                return _render_slot(inner.strip(), dialect, names, self.name, lambda arg: _TOKENS.sub(slot, arg))
            if param is not None:
                value = values[param]
                if isinstance(value, (list, tuple)):
                    if not value:
                        raise ValueError(f"SQL template {self.name}: :{param} is an empty list")
                    for i, item in enumerate(value):
                        params[f"{param}_{i}"] = item
                    return ", ".join(dialect.param(f"{param}_{i}") for i in range(len(value)))
                params[param] = value
                return dialect.param(param)
            return text

        sql = _TOKENS.sub(slot, self.text)
        return Statement(sql, params)

    def __repr__(self) -> str:
        return f"<Template {self.name}>"


def _render_slot(inner: str, dialect: Dialect, names: Mapping[str, str], where: str, bind: Callable[[str], str]) -> str:
    """A ``{name}`` or ``{function(args)}`` slot; ``bind`` renders the ``:parameters`` of an argument."""
    if _NAME.fullmatch(inner):
        return dialect.quote_ident(names.get(inner, inner))
    fn, args = _call(inner, where)
    if fn not in dialect.TEMPLATE_FUNCTIONS:
        raise ValueError(f"SQL template {where}: {fn}() is not a dialect function")
    rendered = []
    for arg in args:
        head = arg.split("(", 1)[0].strip()
        if "(" in arg and head in dialect.TEMPLATE_FUNCTIONS:  # a nested dialect function
            rendered.append(_render_slot(arg, dialect, names, where, bind))
        else:
            rendered.append(bind(arg))
    return getattr(dialect, fn)(*rendered)


def _call(text: str, where: str) -> tuple[str, list[str]]:
    """``fn(a, g(b, c))`` -> ``("fn", ["a", "g(b, c)"])``: arguments split at top-level commas."""
    m = re.fullmatch(r"([A-Za-z_]\w*)\s*\((.*)\)", text, re.S)
    if m is None:
        raise ValueError(f"SQL template {where}: cannot read the slot {{{text}}}")
    args: list[str] = []
    depth, start, quote = 0, 0, ""
    body = m.group(2)
    for i, ch in enumerate(body):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(body[start:i].strip())
            start = i + 1
    if body.strip():
        args.append(body[start:].strip())
    return m.group(1), args
