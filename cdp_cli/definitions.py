"""One declarative layer for every YAML definition a user writes (``.cdp.yaml``, identity, traits,
audiences, transforms, destinations, the ``cdp run`` project file).

A definition is a class with typed fields, like a dataclass (or a pydantic model with
``extra="forbid"``, strict types)::

    class EventCounter(Definition):
        type: Literal["event_counter"]
        event: str
        window: Duration | None = None              # 30d, 12h, 4w -> timedelta
        limit: int = field(10, ge=1)

    class Aggregation(Definition):
        type: Literal["aggregation"]
        property: str
        function: Literal["sum", "min", "max"]

    class TraitsFile(Definition):
        version: Literal[1] = 1
        traits: dict[str, one_of(EventCounter, Aggregation)] = field(default_factory=dict)

        def check(self) -> None:                    # checks across fields, after the types are right
            if "vip" in self.traits:
                raise invalid("'vip' is reserved", "traits", "vip")

    traits, doc = load_definition("traits.yaml", TraitsFile, what="traits file")

Every problem of a file is reported at once, as one :class:`~cdp_cli.errors.ConfigError` whose lines
read ``FILE:LINE:COL: message`` (sorted by position), in plain words: an unknown key names the close
match ("did you mean 'limit'?") and the known keys; a wrong type or value names what is expected and
what was found; an unknown ``type`` of a :func:`one_of` names the allowed ones.

Types understood: ``str``, ``int``, ``float``, ``bool``, ``Any``, ``None``, ``Literal[...]``,
``X | Y`` (the member of the value's shape is used), ``list[X]``, ``dict[K, V]``, definitions (nested),
:func:`one_of` (a discriminated union), and ``Annotated[T, parsed(fn)]`` for values read by a function
(:data:`Duration` is one). Types are strict, as YAML gives them: ``"5"`` is not an integer, ``1`` is
not ``true``. Plain Python, no pydantic: reading a definition costs no import time at start-up.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal, Union

from cdp_cli.errors import ConfigError

__all__ = [
    "Definition",
    "Duration",
    "Invalid",
    "field",
    "given",
    "invalid",
    "load_definition",
    "one_of",
    "parse_definition",
    "parse_duration",
    "parsed",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h"``, ``"7d"``, ``"2w"`` as a timedelta."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m, 1h, 7d or 2w")
    try:
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


# --- declaring ------------------------------------------------------------------------------------


class Invalid(ValueError):
    """A problem found by a check or a parser, about the value at ``path`` (relative to the value
    checked); the message is shown as written."""

    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.message = message
        self.path = tuple(path)


def invalid(message: str, *path: str | int) -> Invalid:
    """``raise invalid("window needs a limit", "window")`` in :meth:`Definition.check` or a parser."""
    return Invalid(message, path)


class _Rules(typing.NamedTuple):  # NamedTuples, not dataclasses: cheaper to import
    key: str | None = None
    ge: float | None = None
    le: float | None = None
    min_items: int | None = None
    message: str | Callable[[Any], str] | None = None


_NO_RULES = _Rules()


def field(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    key: str | None = None,
    ge: float | None = None,
    le: float | None = None,
    min_items: int | None = None,
    message: str | Callable[[Any], str] | None = None,
) -> Any:
    """A field with a default and rules: ``key`` (its YAML key, when not the field name), ``ge``/``le``
    (bounds of a number), ``min_items`` (of a list), ``message`` (said instead of the generic words
    when the value has the wrong type or is out of bounds; a string or ``f(value) -> str``)."""
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={"cdp": _Rules(key, ge, le, min_items, message)}
    )


class parsed(typing.NamedTuple):
    """``Annotated[T, parsed(fn, "what it is")]``: the value is ``fn(raw)``. ``fn`` raises ValueError
    (shown after the key's name) or :class:`Invalid` (shown as written, at its path)."""

    fn: Callable[[Any], Any]
    expect: str = "a valid value"


class _OneOf(typing.NamedTuple):
    key: str


def one_of(*models: type, key: str = "type") -> Any:
    """A discriminated union: the value's ``key`` (a ``Literal`` field of each model) picks the model."""
    return Annotated[Union[models], _OneOf(key)]  # noqa: UP007 - a runtime union of classes


def _duration(value: Any) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f"{_describe(value)} is not a duration such as 30s, 5m, 1h, 7d or 2w")
    return parse_duration(value)


#: ``30s``, ``5m``, ``12h``, ``30d``, ``4w`` as a :class:`~datetime.timedelta`.
Duration = Annotated[timedelta, parsed(_duration, "a duration such as 30d, 12h or 4w")]


@typing.dataclass_transform(kw_only_default=True, field_specifiers=(field,))
class Definition:
    """Base of a definition: subclasses become keyword-only dataclasses that refuse unknown keys.

    ``not_a_mapping``: the message when the value is not a mapping (default: generic words).
    ``check()``: checks across fields, run once the fields are valid; raise :func:`invalid`."""

    not_a_mapping: typing.ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(cls, kw_only=True)

    def check(self) -> None:
        """Override to check across fields; raise ``invalid(message, *path)``."""


def given(obj: Definition) -> frozenset[str]:
    """The fields of ``obj`` its file set (the others hold their defaults)."""
    return obj.__dict__.get("_given", frozenset())


# --- reading --------------------------------------------------------------------------------------


def load_definition(
    path: Any, model: Any, *, what: str = "definition file", point_at_keys: bool = False
) -> tuple[Any, Any]:
    """Read a YAML file strictly (:func:`cdp_cli.yamlsrc.load_strict`: syntax, duplicate keys, limits)
    and validate it as ``model``. Returns the value and the :class:`~cdp_cli.yamlsrc.YamlDocument`
    (``doc.where(path)`` locates any part later, e.g. for an error found when the definition is used).
    An empty document (``null``) is validated as ``{}``."""
    from cdp_cli.yamlsrc import YamlDocument, load_strict

    doc = load_strict(path, what) or YamlDocument(file=str(path), data=None)
    data = {} if doc.data is None else doc.data
    return parse_definition(data, model, str(path), doc, point_at_keys=point_at_keys), doc


def parse_definition(
    data: Any, model: Any, file: str = "<definition>", where: Any = None, *, point_at_keys: bool = False
) -> Any:
    """Validate plain ``data`` as ``model`` (a :class:`Definition` or any type above).

    ``where`` locates a path: a :class:`~cdp_cli.yamlsrc.YamlDocument`, or ``f(path, key) -> (line,
    col)``, or None (errors then name the dotted path). Errors point at the offending key for unknown
    keys and at the value otherwise; ``point_at_keys`` points them all at keys."""
    run = _Run()
    value = _check(model, data, (), run)
    if run.errors:
        raise _error(file, where, run.errors, point_at_keys)
    return value


class _Run:
    def __init__(self) -> None:
        self.errors: list[tuple[tuple, str, bool, bool]] = []  # path, message, at the key, generic

    def add(self, path: tuple, message: str, *, key: bool = False, generic: bool = False) -> None:
        self.errors.append((path, message, key, generic))


def _error(file: str, where: Any, errors: list, point_at_keys: bool) -> ConfigError:
    located = []
    for path, message, key, _ in errors:
        if where is None:
            line, col = 0, 0
        elif hasattr(where, "where"):
            line, col = where.where(path, key=key or point_at_keys)
        else:
            line, col = where(path, key or point_at_keys)
        if line:
            text = f"{file}:{line}:{col}: {message}"
        else:
            text = f"{file}: {'.'.join(map(str, path)) or '(top)'}: {message}"
        located.append((line, col, text))
    located = sorted(set(located), key=lambda x: (x[0], x[1]))
    err = ConfigError("\n".join(t for _, _, t in located))
    err.problems = [t for _, _, t in located]  # one line per problem
    return err


_BAD = object()  # a value with errors (already reported)
_NONE = type(None)


class _Field(typing.NamedTuple):
    name: str
    key: str
    type: Any
    rules: _Rules
    required: bool


_FIELDS: dict[type, dict[str, _Field]] = {}


def _fields(cls: type) -> dict[str, _Field]:
    known = _FIELDS.get(cls)
    if known is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        known = {}
        for f in dataclasses.fields(cls):
            rules = f.metadata.get("cdp", _NO_RULES)
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            known[rules.key or f.name] = _Field(f.name, rules.key or f.name, hints[f.name], rules, required)
        _FIELDS[cls] = known
    return known


def _subject(path: tuple) -> str:
    """The name an error uses for the value at ``path``: its key, with list indexes (``paths[2]``)."""
    tail = ""
    for part in reversed(path):
        if isinstance(part, int):
            tail = f"[{part}]{tail}"
        else:
            return f"{part}{tail}"
    return f"item {tail}" if tail else "the document"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _close(word: Any, choices: list) -> str:
    import difflib

    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, [c for c in choices if isinstance(c, str)], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _same(value: Any, choice: Any) -> bool:
    """Literal matching: equal, and true/false only match booleans, text only text."""
    return (
        value == choice
        and isinstance(value, bool) == isinstance(choice, bool)
        and isinstance(value, str) == isinstance(choice, str)
    )


def _bounds(rules: _Rules) -> str:
    if rules.ge is not None and rules.le is not None:
        return f" from {rules.ge} to {rules.le}"
    if rules.ge is not None:
        return f" of at least {rules.ge}"
    if rules.le is not None:
        return f" of at most {rules.le}"
    return ""


def _expect(tp: Any, rules: _Rules = _NO_RULES) -> str:
    """What a value of type ``tp`` is, in words ("an integer of at least 1")."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        for meta in args[1:]:
            if isinstance(meta, _OneOf):
                return f"a mapping with {meta.key}: {', '.join(_tags(args[0], meta.key))}"
            if isinstance(meta, parsed):
                return meta.expect
        return _expect(args[0], rules)
    if origin in (Union, types.UnionType):
        words = [_expect(a, rules) for a in args if a is not _NONE] + (["null"] if _NONE in args else [])
        return " or ".join(dict.fromkeys(words))
    if origin is Literal:
        return f"one of {', '.join(map(str, args))}" if len(args) > 1 else str(args[0])
    if origin is list or tp is list:
        n = rules.min_items or 0
        return "a non-empty list" if n == 1 else f"a list of at least {n} items" if n else "a list"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer" + _bounds(rules)
    if tp is float:
        return "a number" + _bounds(rules)
    if tp is str:
        return "a string"
    if tp is _NONE:
        return "null"
    if tp is Any or tp is object:
        return "a value"
    return "a mapping"


def _fits(tp: Any, value: Any) -> bool:
    """Whether ``value`` has the shape of ``tp`` (picks the member of a union to validate with)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        if any(isinstance(m, parsed) for m in args[1:]):
            return True
        return isinstance(value, dict) if any(isinstance(m, _OneOf) for m in args[1:]) else _fits(args[0], value)
    if origin in (Union, types.UnionType):
        return any(_fits(a, value) for a in args)
    if origin is Literal:
        return any(type(value) is type(c) for c in args)
    if origin is list or tp is list:
        return isinstance(value, list)
    if origin is dict or tp is dict or (isinstance(tp, type) and issubclass(tp, Definition)):
        return isinstance(value, dict)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp is _NONE:
        return value is None
    return tp is Any or tp is object


def _wrong(tp: Any, value: Any, path: tuple, run: _Run, rules: _Rules = _NO_RULES) -> object:
    run.add(path, f"{_subject(path)} must be {_expect(tp, rules)}, not {_describe(value)}", generic=True)
    return _BAD


def _check(tp: Any, value: Any, path: tuple, run: _Run, rules: _Rules = _NO_RULES) -> Any:
    """``value`` validated as ``tp`` (problems go to ``run``; the result is then ``_BAD``)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        for meta in args[1:]:
            if isinstance(meta, _OneOf):
                return _one_of(args[0], meta.key, value, path, run)
            if isinstance(meta, parsed):
                try:
                    return meta.fn(value)
                except Invalid as e:
                    run.add(path + e.path, e.message)
                except ValueError as e:
                    run.add(path, f"{_subject(path)}: {e}")
                return _BAD
        return _check(args[0], value, path, run, rules)
    if origin in (Union, types.UnionType):
        if value is None and _NONE in args:
            return None
        members = [m for m in args if m is not _NONE]
        for member in members:
            if _fits(member, value):
                return _check(member, value, path, run, rules)
        if len(members) == 1:  # X | None: X's own words
            return _check(members[0], value, path, run, rules)
        return _wrong(tp, value, path, run, rules)
    if origin is Literal:
        if any(_same(value, c) for c in args):
            return value
        run.add(
            path,
            f"{_subject(path)} must be {_expect(tp)}, not {_describe(value)}{_close(value, list(args))}",
            generic=True,
        )
        return _BAD
    if isinstance(tp, type) and issubclass(tp, Definition):
        return _model(tp, value, path, run)
    if origin is list or tp is list:
        if not isinstance(value, list):
            return _wrong(tp, value, path, run, rules)
        item = args[0] if args else Any
        out = [_check(item, v, path + (i,), run) for i, v in enumerate(value)]
        if rules.min_items and len(value) < rules.min_items:
            return _wrong(tp, value, path, run, rules)
        return _BAD if any(v is _BAD for v in out) else out
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            return _wrong(tp, value, path, run, rules)
        key_t, value_t = args or (Any, Any)
        mapping: dict[Any, Any] = {}
        bad = False
        for k, v in value.items():
            n = len(run.errors)
            kk = _check(key_t, k, path + (k,), run)
            run.errors[n:] = [(p, m, True, g) for p, m, _, g in run.errors[n:]]  # a key's problem is at the key
            vv = _check(value_t, v, path + (k,), run)
            bad = bad or kk is _BAD or vv is _BAD
            mapping[kk] = vv
        return _BAD if bad else mapping
    if not _fits(tp, value):
        return _wrong(tp, value, path, run, rules)
    if (rules.ge is not None and value < rules.ge) or (rules.le is not None and value > rules.le):
        return _wrong(tp, value, path, run, rules)
    return value


def _model(cls: type[Definition], value: Any, path: tuple, run: _Run) -> Any:
    if not isinstance(value, dict):
        if cls.not_a_mapping:
            run.add(path, cls.not_a_mapping)
            return _BAD
        return _wrong(cls, value, path, run)
    fields = _fields(cls)
    n = len(run.errors)
    for k in value:
        if k not in fields:
            known = ", ".join(sorted(fields))
            run.add(path + (k,), f"unknown key {k!r}; known keys: {known}{_close(k, list(fields))}", key=True)
    kwargs = {}
    for key, f in fields.items():
        if key in value:
            kwargs[f.name] = _field(f, value[key], path + (key,), run)
        elif f.required:
            run.add(path, f"{_subject(path) + ': ' if path else ''}missing key {key!r}")
    if len(run.errors) > n:
        return _BAD
    obj = cls(**kwargs)
    obj.__dict__["_given"] = frozenset(kwargs)
    try:
        obj.check()
    except Invalid as e:
        run.add(path + e.path, e.message)
        return _BAD
    return obj


def _field(f: _Field, value: Any, path: tuple, run: _Run) -> Any:
    n = len(run.errors)
    out = _check(f.type, value, path, run, f.rules)
    message = f.rules.message
    if message is not None and len(run.errors) > n:
        # the field's own words replace the generic ones about it (or its list items)
        mine = [e for e in run.errors[n:] if e[3] and (e[0] == path or e[0][:-1] == path and isinstance(e[0][-1], int))]
        if mine:
            rest = [e for e in run.errors[n:] if e not in mine]
            text = message(value) if callable(message) else message
            run.errors[n:] = [(path, text, False, False), *rest]
    return out


_TAGS: dict[tuple, dict[Any, type]] = {}


def _tags(union: Any, key: str) -> dict[Any, type]:
    tags = _TAGS.get((union, key))
    if tags is None:
        tags = {}
        for model in typing.get_args(union):
            tag_t = _fields(model)[key].type
            for tag in typing.get_args(tag_t):
                tags[tag] = model
        _TAGS[(union, key)] = tags
    return tags


def _one_of(union: Any, key: str, value: Any, path: tuple, run: _Run) -> Any:
    tags = _tags(union, key)
    allowed = ", ".join(map(str, tags))
    if not isinstance(value, dict):
        return _wrong(Annotated[union, _OneOf(key)], value, path, run)
    if key not in value:
        run.add(path, f"{_subject(path) + ': ' if path else ''}missing key {key!r} (one of {allowed})")
        return _BAD
    tag = value[key]
    model = next((m for t, m in tags.items() if _same(tag, t)), None)
    if model is None:
        run.add(path + (key,), f"unknown {key} {_describe(tag)}; use one of {allowed}{_close(tag, list(tags))}")
        return _BAD
    return _model(model, value, path, run)
