"""``cdp events replay --transform FILE.yaml``: declarative changes to messages on their way out.

::

    version: 1
    transforms:
      - when: {type: track, event: "Order *"}       # optional: type(s) and track event glob(s)
        rename_event: Purchase                       # track messages only
      - when: {type: [identify, group]}
        rename: {traits.email_address: traits.email} # the value moves; an existing target is replaced
        drop: [traits.ssn, context.debug]
        set: {context.app.env: staging}
        hash: [traits.email]                         # or {paths: [...], pii: true}: what the plan classifies
        salt_env: CDP_HASH_SALT                      # sha256(salt + text); an unset variable is a load error

Semantics (``docs/replay-transforms.md`` is the user's reference):

- Rules apply in file order, each to the message as the rules before it left it (a rule can match the
  event name an earlier rule gave). Within a rule the steps apply in a fixed order: ``rename_event``,
  ``rename``, ``drop``, ``set``, ``hash`` (so ``hash`` sees renamed and set values).
- ``when.type`` is one of the six Segment types or a list; ``when.event`` a glob or a list of globs
  (``*``, ``?``, ``[...]``; case-sensitive) matched against a track message's ``event``: a rule with
  ``event`` matches track messages only. Without ``when`` a rule matches every message.
- Paths are dotted, from the message root, and name a field inside ``properties``, ``traits`` or
  ``context`` (``context.traits.email``); ``hash`` may also name the identifiers ``userId``,
  ``anonymousId``, ``previousId`` and ``groupId`` (a salted hash keeps them consistent, so they still
  join). ``messageId``, ``type``, ``timestamp`` (and the other timing fields, and ``event``: use
  ``rename_event``) are refused: exactly-once delivery and ordering depend on them. A path does not
  index into lists; a key holding a dot cannot be named.
- A step whose value is absent does nothing; a step whose path runs through a value that is not an
  object (``traits.address.city`` when ``traits.address`` is a string) does nothing (a rename then
  keeps its source). Missing objects on the way to a ``set`` or ``rename`` target are created.
- ``hash`` replaces a value by the sha256 hex digest of ``salt + text`` (UTF-8), where ``text`` is the
  string itself, or the compact JSON text (keys sorted) of any other value; null and absent values are
  left alone. In SQL: ``sha256(salt || value)``.
- ``hash: {pii: true}``: every property, trait and context field the tracking plan classifies with
  ``pii:`` (any class but ``none``) in the plan's definition of that message (track: every version of
  the event; unplanned messages: the plan's common rules); a classified trait is also hashed in
  ``context.traits`` (where some SDKs send identify traits). A classified field inside a list cannot
  be named by a path, so the list is hashed whole.

:meth:`Transforms.apply` never changes its argument: it returns the message itself when nothing was
done, otherwise a new dict that copies only the objects on the changed paths (the rest is shared with
the input, so treat both as read-only).
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from cdp_cli.definitions import Definition, field, invalid, load_definition, parsed
from cdp_cli.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from cdp_cli.plan.model import Plan

__all__ = ["STEPS", "HashSpec", "Rule", "Transforms", "TransformsFile", "When", "load_transforms", "pii_paths"]

MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
STEPS = ("rename_event", "rename", "drop", "set", "hash")  #: the order of the steps of one rule
FIELD_ROOTS = ("properties", "traits", "context")
HASH_ROOTS = ("userId", "anonymousId", "previousId", "groupId")  #: top-level identifiers ``hash`` may name
_PROTECTED = {
    "messageId": "it is the de-duplication key: exactly-once delivery depends on it",
    "type": "it says what the message is: every destination reads it by its type",
    "timestamp": "replays order and window messages by it",
    "originalTimestamp": "it is part of the message's time (timestamp is corrected from it)",
    "sentAt": "it is part of the message's time (timestamp is corrected from it)",
    "receivedAt": "it is part of the message's time (the warehouse sort key)",
    "event": "use rename_event to rename a track event",
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING: Any = object()

MessageType = Literal["identify", "track", "page", "screen", "group", "alias"]


# --- the file, declared (cdp_cli.definitions reads it: unknown keys, types, FILE:LINE:COL) ----------


class FieldPath(NamedTuple):
    """A dotted path as written (``text``) and split (``parts``)."""

    text: str
    parts: tuple[str, ...]


def _path(value: Any, *, hash_ok: bool) -> FieldPath:
    roots = ", ".join(FIELD_ROOTS)
    if not isinstance(value, str):
        raise invalid(f"a path is a dotted string such as traits.email, not {_kind(value)}")
    if not value.strip():
        raise invalid(f"{value!r} is not a path such as traits.email or properties.plan (dotted, under {roots})")
    parts = tuple(value.split("."))
    root = parts[0]
    if any(not p for p in parts):
        raise invalid(f"{value!r} has an empty part: write a dotted path such as traits.email")
    if root in _PROTECTED:
        where = root if value == root else f"{value!r}: {root}"
        raise invalid(f"{where} cannot be changed by a transform: {_PROTECTED[root]}")
    if hash_ok and root in HASH_ROOTS:
        if len(parts) > 1:
            raise invalid(f"{value!r}: {root} is an identifier string; hash {root} itself")
        return FieldPath(value, parts)
    if root not in FIELD_ROOTS:
        also = f" (hash may also name {', '.join(HASH_ROOTS)})" if hash_ok else ""
        raise invalid(f"{value!r} is not under {roots}: a transform changes fields inside those{also}")
    if len(parts) == 1:
        raise invalid(f"{value!r} names the whole object: name a field inside it, such as {root}.NAME")
    return FieldPath(value, parts)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    return "a list" if isinstance(value, list) else repr(value)


def _field_path(value: Any) -> FieldPath:
    return _path(value, hash_ok=False)


def _hash_path(value: Any) -> FieldPath:
    return _path(value, hash_ok=True)


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name such as CDP_HASH_SALT")
    return value


def _glob(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not an event name or glob such as 'Order *'")
    return value


Path_ = Annotated[FieldPath, parsed(_field_path, "a path such as traits.email")]
HashPath = Annotated[FieldPath, parsed(_hash_path, "a path such as traits.email")]
EnvName = Annotated[str, parsed(_env_name, "an environment variable name such as CDP_HASH_SALT")]
Glob = Annotated[str, parsed(_glob, "an event name or glob such as 'Order *'")]


class When(Definition):
    """The condition of a rule: every key given must hold."""

    not_a_mapping = "when is a mapping such as {type: track, event: 'Order *'}"

    type: MessageType | list[MessageType] | None = field(None, min_items=1)
    event: list[Glob] | Glob | None = field(None, min_items=1)  # the list first: a parsed type takes any value

    @property
    def types(self) -> tuple[str, ...] | None:
        return None if self.type is None else tuple([self.type] if isinstance(self.type, str) else self.type)

    @property
    def events(self) -> tuple[str, ...] | None:
        return None if self.event is None else tuple([self.event] if isinstance(self.event, str) else self.event)

    def check(self) -> None:
        types = self.types
        if self.event is not None and types is not None and "track" not in types:
            raise invalid("event matches track messages, and this rule's type has no track", "event")


class HashSpec(Definition):
    """``hash: {paths: [...], pii: true}``."""

    not_a_mapping = "hash is a list of paths such as [traits.email], or {paths: [...], pii: true}"

    paths: list[HashPath] = field(default_factory=list)
    pii: bool = field(False, message="pii is true (hash what the tracking plan classifies as personal data) or false")

    def check(self) -> None:
        if not self.paths and not self.pii:
            raise invalid("hash names nothing to hash: give paths, or pii: true")


class Rule(Definition):
    """One rule: a condition and its steps (applied in the order of :data:`STEPS`)."""

    not_a_mapping = "a transform is a mapping such as {when: {type: track}, rename: {properties.a: properties.b}}"

    description: str | None = None
    when: When | None = None
    rename_event: str | None = None
    rename: dict[Path_, Path_] | None = field(None, message="rename maps paths to new paths: {traits.a: traits.b}")
    drop: list[Path_] | None = field(None, message="drop is a list of paths such as [traits.ssn]")
    set_: dict[Path_, Any] | None = field(None, key="set", message="set maps paths to values: {context.app.env: x}")
    hash_: list[HashPath] | HashSpec | None = field(
        None, key="hash", message="hash is a list of paths such as [traits.email], or {paths: [...], pii: true}"
    )
    salt_env: EnvName | None = None

    def check(self) -> None:
        if not (self.rename_event is not None or self.rename or self.drop or self.set_ or self.hash_):
            raise invalid("this transform does nothing: give rename_event, rename, drop, set or hash")
        types = self.when.types if self.when is not None else None
        if self.rename_event is not None:
            if not self.rename_event.strip():
                raise invalid("rename_event must name the new event", "rename_event")
            if types is not None and "track" not in types:
                raise invalid("rename_event renames track events; this rule's when.type has no track", "rename_event")
        targets: dict[tuple[str, ...], str] = {}
        for src, dst in (self.rename or {}).items():
            if src.parts == dst.parts:
                raise invalid(f"rename {src.text!r} to itself", "rename", src.text)
            short, long = sorted((src.parts, dst.parts), key=len)
            if long[: len(short)] == short:
                raise invalid(f"rename {src.text!r} to {dst.text!r}: one is inside the other", "rename", src.text)
            if dst.parts in targets:
                both = f"{targets[dst.parts]!r} and {src.text!r}"
                raise invalid(f"{both} are both renamed to {dst.text!r}", "rename", src.text)
            targets[dst.parts] = src.text
        if self.salt_env is not None and not self.hash_:
            raise invalid("salt_env salts hash: this rule hashes nothing", "salt_env")


class TransformsFile(Definition):
    """The transforms file (``--transform FILE.yaml``)."""

    not_a_mapping = "a transforms file is a mapping with transforms: [a list of rules]"

    version: Literal[1] = field(1, message=lambda v: f"unsupported version {v!r}; this cdp reads version 1")
    transforms: list[Rule] = field(min_items=1, message="transforms is a non-empty list of rules")


# --- loading -------------------------------------------------------------------------------------


def load_transforms(
    path: str | Path, *, plan: Plan | None = None, environ: Mapping[str, str] | None = None
) -> Transforms:
    """Read and check a transforms file. ``plan``: the tracking plan, needed by ``hash: {pii: true}``;
    ``environ``: where ``salt_env`` variables are read (default ``os.environ``).

    Raises :class:`~cdp_cli.errors.ConfigError` listing every problem as ``FILE:LINE:COL: message``:
    the file's shape, forbidden paths, an unset or empty salt variable, ``pii: true`` without a plan."""
    spec, doc = load_definition(path, TransformsFile, what="transforms file")
    env = os.environ if environ is None else environ
    problems: list[tuple[tuple, str]] = []
    salts: list[bytes] = []
    for i, rule in enumerate(spec.transforms):
        salt = b""
        if rule.salt_env is not None:
            value = env.get(rule.salt_env)
            if not value:
                state = "is not set" if value is None else "is empty"
                problems.append(
                    (
                        ("transforms", i, "salt_env"),
                        f"the environment variable {rule.salt_env} {state}: set it to the salt "
                        "(values are never hashed unsalted when a salt is asked for)",
                    )
                )
            else:
                salt = value.encode("utf-8", "surrogatepass")
        salts.append(salt)
        if isinstance(rule.hash_, HashSpec) and rule.hash_.pii and plan is None:
            problems.append(
                (
                    ("transforms", i, "hash", "pii"),
                    "pii: true hashes what the tracking plan classifies as personal data: give the plan (--plan)",
                )
            )
    if problems:
        lines = [f"{path}:{line}:{col}: {m}" for line, col, m in sorted({(*doc.where(p), m) for p, m in problems})]
        err = ConfigError("\n".join(lines))
        err.problems = lines
        raise err
    return Transforms(spec, salts=salts, plan=plan, file=str(path))


# --- applying ------------------------------------------------------------------------------------


def _digest(salt: bytes, value: Any) -> str:
    if type(value) is str:
        data = value.encode("utf-8", "surrogatepass")
    else:
        import orjson

        try:
            data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):  # an integer beyond 64 bits, a lone surrogate in a key
            import json

            data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
                "utf-8", "surrogatepass"
            )
    return hashlib.sha256(salt + data).hexdigest()


class _Work:
    """The message being transformed, copied on write: the input is copied (shallowly) the first
    time something changes, and each object on a changed path is copied once."""

    __slots__ = ("root", "_own")

    def __init__(self, msg: dict[str, Any]) -> None:
        self.root = msg
        self._own: set[int] | None = None  # ids of the dicts this call made (safe to change)

    def get(self, parts: tuple[str, ...]) -> Any:
        node: Any = self.root
        for p in parts:
            if type(node) is not dict:
                return _MISSING
            node = node.get(p, _MISSING)
            if node is _MISSING:
                return _MISSING
        return node

    def settable(self, parts: tuple[str, ...]) -> bool:
        """Whether every object on the way to ``parts`` is an object, absent or null (then created)."""
        node: Any = self.root
        for p in parts[:-1]:
            node = node.get(p)
            if node is None:
                return True
            if type(node) is not dict:
                return False
        return True

    def parent(self, parts: tuple[str, ...]) -> dict[str, Any]:
        """The (owned) object holding ``parts[-1]``, creating missing objects (call after :meth:`settable`)."""
        if self._own is None:
            self.root = dict(self.root)
            self._own = {id(self.root)}
        own = self._own
        node = self.root
        for p in parts[:-1]:
            child = node.get(p)
            if type(child) is not dict:
                child = {}
                node[p] = child
                own.add(id(child))
            elif id(child) not in own:
                child = dict(child)
                node[p] = child
                own.add(id(child))
            node = child
        return node


class _Hash(NamedTuple):
    parts: tuple[str, ...]
    label: str


class _Compiled:
    """One rule, ready to run."""

    __slots__ = ("types", "event", "rename_event", "renames", "drops", "sets", "hashes", "pii", "salt")

    def __init__(self, rule: Rule, salt: bytes) -> None:
        when = rule.when
        self.types = frozenset(when.types) if when is not None and when.types is not None else None
        events = when.events if when is not None else None
        self.event = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in events)) if events is not None else None
        self.rename_event = rule.rename_event
        self.renames = tuple((s.parts, d.parts, f"rename:{s.text}") for s, d in (rule.rename or {}).items())
        self.drops = tuple((p.parts, f"drop:{p.text}") for p in dict.fromkeys(rule.drop or ()))
        self.sets = tuple(
            (p.parts, v, isinstance(v, (dict, list)), f"set:{p.text}") for p, v in (rule.set_ or {}).items()
        )
        spec = rule.hash_
        paths = spec.paths if isinstance(spec, HashSpec) else (spec or [])
        self.hashes = tuple(_Hash(p.parts, f"hash:{p.text}") for p in dict.fromkeys(paths))
        self.pii = isinstance(spec, HashSpec) and spec.pii
        self.salt = salt


class Transforms:
    """A loaded transforms file (:func:`load_transforms`). :meth:`apply` runs per message."""

    def __init__(
        self, spec: TransformsFile, *, salts: list[bytes] | None = None, plan: Plan | None = None, file: str = ""
    ) -> None:
        """``salts``: one per rule (``b""``: none), read from the rules' ``salt_env`` by
        :func:`load_transforms`, which is the way to build one."""
        self.file = file
        salts = salts if salts is not None else [b""] * len(spec.transforms)
        for rule, salt in zip(spec.transforms, salts, strict=True):
            if rule.salt_env is not None and not salt:  # never an unsalted hash when a salt was asked for
                raise ConfigError(f"{file or 'transforms'}: {rule.salt_env} gives no salt")
            if isinstance(rule.hash_, HashSpec) and rule.hash_.pii and plan is None:
                raise ConfigError(f"{file or 'transforms'}: hash: {{pii: true}} needs the tracking plan")
        self.rules = [_Compiled(r, s) for r, s in zip(spec.transforms, salts)]
        self._pii = _PiiPaths(plan) if plan is not None and any(r.pii for r in self.rules) else None
        # the rules that can match a message, by its type: a message no rule can match costs one lookup
        self._by_type = {t: tuple(r for r in self.rules if r.types is None or t in r.types) for t in MESSAGE_TYPES}
        self._untyped = tuple(r for r in self.rules if r.types is None)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:  # never the salts
        return f"<Transforms {self.file!r}: {len(self.rules)} rules>"

    def apply(self, msg: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``(message, done)``: the transformed message (``msg`` itself when nothing was done; ``msg`` is
        never changed) and what was done, one entry per change: ``rename_event``, ``rename:PATH``
        (the source), ``drop:PATH``, ``set:PATH``, ``hash:PATH``."""
        t = msg.get("type")
        rules = self._by_type.get(t, self._untyped) if type(t) is str else self._untyped
        if not rules:
            return msg, []
        w = _Work(msg)
        done: list[str] = []
        for r in rules:
            if r.event is not None:
                event = w.root.get("event")
                if t != "track" or type(event) is not str or r.event.match(event) is None:
                    continue
            if r.rename_event is not None and t == "track":
                event = w.root.get("event")
                if type(event) is str and event != r.rename_event:
                    w.parent(("event",))["event"] = r.rename_event
                    done.append("rename_event")
            for src, dst, label in r.renames:
                value = w.get(src)
                if value is _MISSING or not w.settable(dst):
                    continue
                del w.parent(src)[src[-1]]
                w.parent(dst)[dst[-1]] = value
                done.append(label)
            for parts, label in r.drops:
                if w.get(parts) is not _MISSING:
                    del w.parent(parts)[parts[-1]]
                    done.append(label)
            for parts, value, mutable, label in r.sets:
                if w.settable(parts):
                    w.parent(parts)[parts[-1]] = copy.deepcopy(value) if mutable else value
                    done.append(label)
            hashes = r.hashes
            if r.pii and self._pii is not None:
                hashes = self._pii.add(hashes, t, w.root)
            for parts, label in hashes:
                value = w.get(parts)
                if value is not _MISSING and value is not None:
                    w.parent(parts)[parts[-1]] = _digest(r.salt, value)
                    done.append(label)
        return w.root, done


# --- what the plan classifies as personal data ---------------------------------------------------


def _classified(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("x-pii") not in (None, "none")


def _holds_pii(node: Any) -> bool:
    if isinstance(node, dict):
        return _classified(node) or any(_holds_pii(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_pii(v) for v in node)
    return False


def _walk(node: dict[str, Any], prefix: tuple[str, ...], out: list[tuple[str, ...]]) -> None:
    """The paths of classified fields under the object schema ``node`` found at ``prefix``."""
    props = node.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            if not isinstance(sub, dict):
                continue
            if _classified(sub):
                out.append((*prefix, name))
            else:
                _walk(sub, (*prefix, name), out)
    for key in ("anyOf", "oneOf", "allOf"):  # branches describe the same value
        for branch in node.get(key) or ():
            if isinstance(branch, dict):
                _walk(branch, prefix, out)
    if len(prefix) > 1 and any(_holds_pii(node.get(k)) for k in ("items", "prefixItems", "contains")):
        out.append(prefix)  # inside a list, which no path can index: the whole list
    extra = node.get("additionalProperties")
    if len(prefix) > 1 and isinstance(extra, dict) and _holds_pii(extra):
        out.append(prefix)  # unnamed keys: the whole object


def pii_paths(schema: dict[str, Any]) -> list[str]:
    """The dotted paths a compiled message schema (:func:`cdp_cli.plan.compiler.compile_plan`)
    classifies as personal data, outermost only (a classified object is hashed whole), with the
    ``context.traits`` twin of every trait."""
    found: list[tuple[str, ...]] = []
    top = schema.get("properties")
    if isinstance(top, dict):
        for root in FIELD_ROOTS:
            node = top.get(root)
            if isinstance(node, dict):
                _walk(node, (root,), found)
    found += [("context", *p) for p in found if p[0] == "traits"]
    unique = set(found)
    outer = [p for p in dict.fromkeys(found) if not any(p[:n] in unique for n in range(2, len(p)))]
    return [".".join(p) for p in outer]


class _PiiPaths:
    """Classified paths per planned message, looked up the way lint matches a message to the plan."""

    def __init__(self, plan: Plan) -> None:
        from cdp_cli.plan.compiler import compile_plan

        def paths(schemas: list[dict[str, Any]]) -> tuple[_Hash, ...]:
            texts = dict.fromkeys(p for s in schemas for p in pii_paths(s))
            return tuple(_Hash(tuple(p.split(".")), f"hash:{p}") for p in texts)

        by: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        for c in compile_plan(plan):
            by.setdefault((c.kind, c.name), []).append(c.schema)  # track: every version of the event
        self.common = paths(by.get(("common", None), []))
        self.track = {name: paths(s) for (kind, name), s in by.items() if kind == "track" and name is not None}
        self.pages = {name: paths(s) for (kind, name), s in by.items() if kind == "page" and name is not None}
        self.screens = {name: paths(s) for (kind, name), s in by.items() if kind == "screen" and name is not None}
        self.identify = paths(by[("identify", None)]) if ("identify", None) in by else self.common
        self.group = paths(by[("group", None)]) if ("group", None) in by else self.common

    def of(self, t: Any, msg: dict[str, Any]) -> tuple[_Hash, ...]:
        if t == "track":
            name = msg.get("event")
            return self.track.get(name, self.common) if type(name) is str else self.common
        if t == "identify":
            return self.identify
        if t == "group":
            return self.group
        if t == "page" or t == "screen":
            name = msg.get("name")
            table = self.pages if t == "page" else self.screens
            return table.get(name, self.common) if type(name) is str else self.common
        return self.common

    def add(self, explicit: tuple[_Hash, ...], t: Any, msg: dict[str, Any]) -> tuple[_Hash, ...]:
        found = self.of(t, msg)
        if not explicit:
            return found
        seen = {h.parts for h in explicit}
        return explicit + tuple(h for h in found if h.parts not in seen)
