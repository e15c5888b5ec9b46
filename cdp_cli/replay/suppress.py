"""``cdp events replay --suppress FILE``: people whose messages are never sent.

The file holds one identifier a line::

    # people who asked to be forgotten (2026-11)
    u-1001
    user_id:u-1002
    email:Ada@Example.com
    anonymous_id:0b7c9e44-4b59-4b8f-9f6c-6f6cb2b0a1c1
    ios.id:AEBE52E7-03EE-455A-B3C4-E57283966239

A bare line is a user id; ``TYPE:VALUE`` names any identifier type identity resolution knows (its
configuration: ``user_id``, ``email``, ``anonymous_id``, ``phone``, device ids, ``group_id``, ...,
the types of ``--identity``, and, with a profiles directory, every type its resolve saw, such as
``context.externalIds`` types). A line such as ``urn:x`` whose prefix looks like a type but names
none is refused (write ``user_id:urn:x`` for a user id holding a colon), so a misspelt type never
suppresses nothing silently. Lines are trimmed; blank lines and lines starting with ``#`` are
skipped (a ``#`` elsewhere is part of the value: ids may hold one).

Values are normalised exactly as identity resolution normalises them (the same
:class:`~cdp_cli.identity.extract.Extractor`: trimmed; emails lower-cased; numbers as their decimal
text), and a message's identifiers are read by that same extractor (``traits.email`` and
``context.traits.email``, device ids by device type, ``context.externalIds``, ...), plus an alias
call's ``previousId`` as a user id. A value identity resolution would never treat as an identifier
(a placeholder such as ``null`` or ``anonymous``, or a value longer than its limit) is refused: it
could never match.

With the output directory of ``cdp profiles resolve`` (``profiles_dir``), every identifier of a
profile holding a suppressed identifier is suppressed too (read from ``identities.parquet``, with its
filters pushed down into the file). ``group_id`` values are not on ``identities.parquet`` (an account
is no person) and do not expand.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdp_cli.errors import ConfigError, InputError, os_reason

if TYPE_CHECKING:  # pragma: no cover
    from cdp_cli.identity.config import IdentityConfig, IdType
    from cdp_cli.identity.extract import Extractor

__all__ = ["Suppressions", "load_suppressions"]

_TYPE_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")  # what an identifier type name looks like
PROFILE = "profile:"  #: prefix of the reason when only the resolved profile links the message


class Suppressions:
    """The suppressed identifiers; :meth:`match` runs per message."""

    def __init__(
        self,
        config: IdentityConfig,
        direct: dict[str, set[str]],
        expanded: dict[str, set[str]] | None = None,
        *,
        profiles: int = 0,
        file: str = "",
    ) -> None:
        """``direct``: type name -> normalised values from the file; ``expanded``: the other
        identifiers of their profiles; ``profiles``: how many profiles the expansion found."""
        self.config = config
        self.file = file
        self.direct = {t: frozenset(v) for t, v in direct.items() if v}
        self.expanded = {t: frozenset(v - direct.get(t, set())) for t, v in (expanded or {}).items()}
        self.expanded = {t: v for t, v in self.expanded.items() if v}
        self.profiles = profiles
        self._extractor: Extractor | None = None

    def __len__(self) -> int:
        return self.identifiers + self.expanded_identifiers

    def __repr__(self) -> str:  # never the values
        return f"<Suppressions {self.file!r}: {self.identifiers} identifiers, {self.expanded_identifiers} expanded>"

    @property
    def identifiers(self) -> int:
        """Identifiers named by the file."""
        return sum(len(v) for v in self.direct.values())

    @property
    def expanded_identifiers(self) -> int:
        """Identifiers added by profile expansion."""
        return sum(len(v) for v in self.expanded.values())

    def summary(self) -> dict[str, int]:
        return {
            "identifiers": self.identifiers,
            "profiles": self.profiles,
            "expanded_identifiers": self.expanded_identifiers,
        }

    # the compiled extractor is rebuilt after pickling (worker processes)
    def __getstate__(self) -> dict[str, Any]:
        state = {k: getattr(self, k) for k in ("config", "file", "direct", "expanded", "profiles")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._extractor = None

    def _x(self) -> Extractor:
        if self._extractor is None:
            from cdp_cli.identity.extract import Extractor

            x = Extractor(self.config)
            for name in (*self.direct, *self.expanded):
                x.type_index(name)  # context.externalIds types: known before the first message
            self._extractor = x
        return self._extractor

    def match(self, msg: dict[str, Any]) -> str | None:
        """Why ``msg`` is suppressed, or None: the type of the suppressed identifier it holds
        (``"user_id"``, ``"email"``, ...), or ``"profile:TYPE"`` when its identifier of that type is
        suppressed only because it shares a resolved profile with a suppressed one. Never a value."""
        if not self.direct and not self.expanded:
            return None
        x = self._x()
        found = x.extract(msg)
        if msg.get("type") == "alias":  # previousId is a user id, whether or not resolution links aliases
            prev = x.normalize(_user_id(x), msg.get("previousId"))
            if prev is not None:
                found.append((x.index.get("user_id", -1), prev))
        types = x.types
        direct, expanded = self.direct, self.expanded
        for i, value in found:
            name = types[i].name if i >= 0 else "user_id"
            values = direct.get(name)
            if values is not None and value in values:
                return name
        for i, value in found:
            name = types[i].name if i >= 0 else "user_id"
            values = expanded.get(name)
            if values is not None and value in values:
                return PROFILE + name
        return None


def _user_id(x: Extractor) -> IdType:
    from cdp_cli.identity.config import IdType

    i = x.index.get("user_id")
    return x.types[i] if i is not None else IdType("user_id", [])


def load_suppressions(
    path: str | Path,
    *,
    profiles_dir: str | Path | None = None,
    identity: IdentityConfig | str | Path | None = None,
) -> Suppressions:
    """Read a suppression file. ``profiles_dir``: an output directory of ``cdp profiles resolve``
    (expand to whole profiles); ``identity``: the identity configuration (or its file) the profiles
    were resolved with (default: cdp's defaults).

    Raises :class:`~cdp_cli.errors.ConfigError` listing every bad line as ``FILE:LINE: message``, and
    :class:`~cdp_cli.errors.InputError` for an unusable profiles directory."""
    from cdp_cli.identity.config import IdentityConfig, load_identity_config
    from cdp_cli.identity.extract import Extractor

    config = identity if isinstance(identity, IdentityConfig) else load_identity_config(identity)
    manifest_types: list[dict[str, Any]] = []
    if profiles_dir is not None:
        manifest_types = _manifest(Path(profiles_dir))["identity"]["types"]
    x = Extractor(config)
    for mt in manifest_types:
        if mt.get("external") and isinstance(mt.get("name"), str):
            x.type_index(mt["name"])  # a context.externalIds type the resolve saw
    known = {t.name: t for t in x.types}
    extra = {t["name"] for t in manifest_types if isinstance(t.get("name"), str)} - set(known)

    text = _read(Path(path))
    direct: dict[str, set[str]] = {}
    problems: list[str] = []
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, sep, rest = line.partition(":")
        kind = kind.strip()
        if sep and (kind in known or kind in extra):
            name, value = kind, rest.strip()
        elif sep and _TYPE_LIKE.match(kind):
            close = difflib.get_close_matches(kind.lower(), [*known, *extra], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            names = ", ".join(sorted([*known, *extra]))
            problems.append(
                f"{path}:{n}: unknown identifier type {kind!r}; {hint}known types: {names} "
                "(a user id holding ':' is written user_id:VALUE)"
            )
            continue
        else:
            name, value = "user_id", line
        if not value:
            problems.append(f"{path}:{n}: no value after {name + ':'!r}")
            continue
        t = known.get(name)
        if t is None:  # a type only the profiles directory knows: compared as resolution stored it
            direct.setdefault(name, set()).add(value)
            continue
        normal = x.normalize(t, value)
        if normal is None:
            problems.append(f"{path}:{n}: this {name} can never match: {_why(x, config)}")
            continue
        direct.setdefault(name, set()).add(normal)
    if problems:
        err = ConfigError("\n".join(problems))
        err.problems = problems
        raise err

    expanded: dict[str, set[str]] = {}
    profiles = 0
    if profiles_dir is not None and direct:
        expanded, profiles = _expand(Path(profiles_dir), direct)
    return Suppressions(config, direct, expanded, profiles=profiles, file=str(path))


def _why(x: Extractor, config: IdentityConfig) -> str:
    blocked = getattr(x, "_last_blocked", None)
    if blocked is not None:
        return f"identity resolution ignores it as a placeholder (blocked: {blocked.rule})"
    return f"identity resolution ignores values longer than {config.max_length} characters"


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: suppression file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the suppression file ({os_reason(e)})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text") from None
    return text.removeprefix("\ufeff")


def _manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a ``cdp profiles resolve`` output directory, checked as ``cdp profiles show`` does."""
    from cdp_cli.identity.outputs import MARKER
    from cdp_cli.schemas import OUTPUTS_FORMAT_VERSION

    marker = directory / MARKER
    if not marker.is_file():
        raise InputError(
            f"{directory}: not a profiles directory (no {MARKER}); "
            f"run `cdp profiles resolve ... --out {directory}` first"
        )
    try:
        manifest = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{marker}: unreadable ({e})") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("cdp") != "profiles"
        or manifest.get("format_version") != OUTPUTS_FORMAT_VERSION
    ):
        raise InputError(f"{marker}: written by an incompatible version of cdp; resolve again")
    if not (directory / "identities.parquet").is_file():
        raise InputError(f"{directory / 'identities.parquet'}: missing; resolve again")
    return manifest


def _expand(directory: Path, direct: dict[str, set[str]]) -> tuple[dict[str, set[str]], int]:
    """Every identifier of the profiles holding a suppressed identifier, and how many profiles."""
    import pyarrow.parquet as pq

    path = directory / "identities.parquet"
    values = sorted({v for vs in direct.values() for v in vs})
    try:
        hits = pq.read_table(path, columns=["type", "value", "profile_id"], filters=[("value", "in", values)])
        pids = sorted(
            {
                pid
                for t, v, pid in zip(*(hits.column(c).to_pylist() for c in ("type", "value", "profile_id")))
                if v in direct.get(t, ())
            }
        )
        if not pids:
            return {}, 0
        rows = pq.read_table(path, columns=["type", "value"], filters=[("profile_id", "in", pids)])
    except OSError as e:
        raise InputError(f"{path}: unreadable ({os_reason(e)})") from None
    except Exception as e:  # pyarrow's own errors (a damaged file, a foreign schema)
        raise InputError(f"{path}: unreadable ({e}); resolve again") from None
    out: dict[str, set[str]] = {}
    for t, v in zip(rows.column("type").to_pylist(), rows.column("value").to_pylist()):
        if t is not None and v is not None:
            out.setdefault(t, set()).add(v)
    return out, len(pids)
