"""Run an audiences file over a ``cdp profiles resolve`` output: one Parquet file of members per
audience in one atomic output directory, sizes, and (with ``--previous``) who entered and exited;
or a preview (sizes, sample, overlap, identifier types) that writes nothing."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cdp_cli.audiences.compiler import Compiled, compile_audiences
from cdp_cli.audiences.definitions import WRAPPERS, AudiencesFile, check_tree, parse_tree, references
from cdp_cli.errors import ConfigError, InputError, UsageError
from cdp_cli.results import DefinitionResult, Table, plural
from cdp_cli.traits.compute import _close, iso, settle_as_of


@dataclass
class Spec:
    path: Path
    file: AudiencesFile
    doc: Any

    @property
    def audiences(self) -> list[Any]:
        return list(self.file.audiences)

    def at(self, path: tuple) -> str:
        line, col = self.doc.where(path) if self.doc is not None else (0, 0)
        return f"{self.path}:{line}:{col}"

    def ordered(self) -> list[Any]:
        """Audiences so that every reference comes before the audience using it."""
        by_key = {a.key: a for a in self.audiences}
        done: list[Any] = []

        def visit(a: Any) -> None:
            if a in done:
                return
            for r in references(a.tree):
                visit(by_key[r.leaf.audience])
            done.append(a)

        for a in self.audiences:
            visit(a)
        return done


class _Located:
    def __init__(self, file: str, doc: Any) -> None:
        self.file, self.doc = file, doc
        self.problems: list[str] = []
        self.refs: list[Any] = []  # every audience reference, also in trees with problems

    def where(self, path: tuple, key: bool) -> tuple[int, int]:
        return self.doc.where(path, key=key)


def _sorted_error(lines: list[str]) -> ConfigError:
    def pos(text: str) -> tuple[int, int]:
        m = re.search(r":(\d+):(\d+): ", text)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    lines = sorted(dict.fromkeys(lines), key=pos)
    err = ConfigError("\n".join(lines))
    err.problems = lines
    return err


def load_spec(path: str | Path) -> Spec:
    """Read and validate ``audiences.yaml``: every problem at once with FILE:LINE:COL (unknown keys,
    operators and windows, unknown audience references, cycles, wrappers at the wrong level)."""
    from cdp_cli.definitions import load_definition

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such audiences file")
    value, doc = load_definition(p, AudiencesFile, what="audiences file")
    spec = Spec(p, value, doc)
    located = _Located(str(p), doc)
    problems: list[tuple[tuple, str, bool]] = []
    for i, a in enumerate(spec.audiences):
        tree = parse_tree(a.where, ("audiences", i, "where"), problems, located)
        a.__dict__["tree"] = tree
        if tree is not None:
            check_tree(tree, a.level, problems)
    keys = {a.key: a for a in spec.audiences}
    owner = {id(r): a for a in spec.audiences if a.tree is not None for r in references(a.tree)}
    for r in located.refs:
        a = owner.get(id(r))
        target = keys.get(r.leaf.audience)
        if target is None:
            msg = f"unknown audience {r.leaf.audience!r}{_close(r.leaf.audience, keys)}"
            problems.append((r.path + ("audience",), msg, False))
    if not problems and not located.problems:
        problems += _cycles(spec)
    if not problems and not located.problems:
        problems += _account_inside_wrappers(spec)
    lines = list(located.problems)
    for path_, msg, key in problems:
        line, col = doc.where(path_, key=key)
        lines.append(f"{p}:{line}:{col}: {msg}")
    if lines:
        raise _sorted_error(lines)
    return spec


def _account_inside_wrappers(spec: Spec) -> list[tuple[tuple, str, bool]]:
    """Inside any_user / all_users / no_user only user conditions: a reference there must not lead
    (directly or through other audiences) to an account wrapper."""
    keys = {a.key: a for a in spec.audiences}
    memo: dict[str, bool] = {}

    def account(key: str) -> bool:
        if key not in memo:
            nodes = keys[key].tree.walk()
            memo[key] = any(n.kind in WRAPPERS for n in nodes) or any(
                account(n.leaf.audience) for n in nodes if n.kind == "audience"
            )
        return memo[key]

    out = []
    for a in spec.audiences:
        for w in (n for n in a.tree.walk() if n.kind in WRAPPERS):
            for r in references(w):
                if account(r.leaf.audience):
                    msg = f"{w.kind}: holds user conditions; audience {r.leaf.audience!r} is about accounts"
                    out.append((r.path + ("audience",), msg, False))
    return out


def _cycles(spec: Spec) -> list[tuple[tuple, str, bool]]:
    keys = {a.key: a for a in spec.audiences}
    out: list[tuple[tuple, str, bool]] = []
    state: dict[str, int] = {}

    def visit(key: str, trail: list[tuple[str, Any]]) -> None:
        state[key] = 1
        for r in references(keys[key].tree):
            nxt = r.leaf.audience
            if state.get(nxt) == 1:
                names = [k for k, _ in trail] + [key]
                cycle = names[names.index(nxt) :] + [nxt]
                out.append((r.path + ("audience",), f"audiences refer to each other: {' -> '.join(cycle)}", False))
            elif state.get(nxt) is None:
                visit(nxt, [*trail, (key, r)])
        state[key] = 2

    for a in spec.audiences:
        if a.key not in state:
            visit(a.key, [])
    return out


def check_against_plan(spec: Spec, plan: Any) -> None:
    """Every event a performed or funnel condition names, and every property it filters on, must be
    in the tracking plan."""
    problems: list[str] = []
    for a in spec.audiences:
        for node in a.tree.walk():
            leaf = node.leaf
            if node.kind == "funnel":
                for j, name in enumerate(leaf.funnel):
                    if name not in plan.events:
                        problems.append(
                            f"{spec.at(node.path + ('funnel', j))}: event {name!r} is not in the plan "
                            f"{plan.display_name}{_close(name, plan.events)}"
                        )
            if node.kind != "performed" or leaf.selected == "*":
                continue
            book = {"track": plan.events, "page": plan.pages, "screen": plan.screens}[leaf.kind]
            found = book.get(leaf.selected)
            if found is None:
                problems.append(
                    f"{spec.at(node.path + (leaf.key,))}: {leaf.key} {leaf.selected!r} is not in the plan "
                    f"{plan.display_name}{_close(leaf.selected, book)}"
                )
                continue
            bodies = list(found.versions.values()) if leaf.kind == "track" else [found]
            props: set[str] = set()
            for body in bodies:
                props |= set(body.props)
            if plan.common is not None:
                props |= set(plan.common.fields.get("properties", {}))
            for j, c in enumerate(leaf.where):
                head = c.property.split(".", 1)[0]
                if head not in props:
                    problems.append(
                        f"{spec.at(node.path + ('where', j, 'property'))}: property {head!r} is not in the "
                        f"plan's {leaf.key} {leaf.selected!r}{_close(head, props)}"
                    )
    if problems:
        raise _sorted_error(problems)


def check_trait_names(spec: Spec, plan: Any, computed: set[str]) -> None:
    """With a plan, a trait condition must name a computed trait (a column of ``--traits``) or a trait
    the plan's identify call declares: anything else is a typo that would silently match nobody."""
    known: set[str] = set(computed)
    if plan.identify is not None:
        known |= set(plan.identify.props)
    problems = []
    for a in spec.audiences:
        for node in a.tree.walk():
            if node.kind != "trait":
                continue
            head = node.leaf.trait.split(".", 1)[0]
            if head not in known:
                where = "no column of --traits and not an identify trait of the plan"
                problems.append(
                    f"{spec.at(node.path + ('trait',))}: trait {head!r} is {where} {plan.display_name}"
                    f"{_close(head, known)}"
                )
    if problems:
        raise _sorted_error(problems)


# --- running ------------------------------------------------------------------------------------------
NUMERIC_TYPES = ("int", "double", "float", "decimal")


def _trait_columns(engine: Any, spec: Spec, traits: str | Path | None) -> dict[str, str]:
    """Register ``--traits`` as ``traits_in``; check trait conditions against its column types;
    the columns and their Arrow types."""
    if traits is None:
        return {}
    t = Path(traits)
    if not t.is_file():
        raise InputError(f"{t}: no such traits file (the output of cdp traits compute)")
    engine.register_parquet("traits_in", t)
    schema = engine.arrow("SELECT * FROM traits_in LIMIT 0").schema
    if "profile_id" not in schema.names:
        raise InputError(f"{t}: has no profile_id column; is it the output of cdp traits compute?")
    types = {f.name: str(f.type) for f in schema if f.name != "profile_id"}
    check_trait_ops(spec, types)
    return types


def type_class(arrow_type: str) -> str:
    """What a computed trait's type means to a condition: ``number``, ``string`` or ``other``."""
    if any(arrow_type.startswith(n) for n in NUMERIC_TYPES):
        return "number"
    return "string" if arrow_type in ("string", "large_string") else "other"


def check_trait_ops(spec: Spec, types: dict[str, str]) -> None:
    """Every trait condition's operator applies to its computed trait's type (else a located error)."""
    problems = []
    for a in spec.audiences:
        for node in a.tree.walk():
            if node.kind != "trait" or node.leaf.trait not in types:
                continue
            op, kind = node.leaf.op, types[node.leaf.trait]
            numeric = type_class(kind) == "number"
            wrong = (
                (op in ("<", ">", "<=", ">=") and not numeric)
                or (op in ("contains", "not_contains", "starts_with", "ends_with", "before", "after") and numeric)
                or (op in ("within_last", "before_last") and numeric)
            )
            if wrong:
                problems.append(
                    f"{spec.at(node.path + ('op',))}: op {op!r} does not apply to the computed trait "
                    f"{node.leaf.trait!r} of type {kind}"
                )
    if problems:
        raise _sorted_error(problems)


@dataclass
class Prepared:
    store: Any
    spec: Spec
    as_of: datetime
    as_of_source: str
    compiled: Compiled
    trait_columns: set[str] = field(default_factory=set)  #: the columns of --traits
    trait_types: dict[str, str] = field(default_factory=dict)  #: their Arrow types
    materialized: bool = False  #: computed into the temporary table MATERIALIZED


def prepare(
    store: Any,
    spec: Spec,
    as_of: datetime | str | None,
    traits: str | Path | None,
    *,
    profile_id: str | None = None,
    nodes: bool = False,
    trait_types: dict[str, str] | None = None,
    one: Any = None,
    check_ops: bool = True,
) -> Prepared:
    """Settle as_of, read ``traits`` (registered as ``traits_in``) and compile. ``trait_types``: the
    computed traits' types when the caller provides ``traits_in`` itself (``traits`` is then None);
    ``one``: a pass over the events shared with the traits (its table made by the caller);
    ``check_ops=False``: the caller checks the operators against the types (once they are known)."""
    engine = store.engine
    when, source = settle_as_of(store, as_of)
    if trait_types is not None:
        types = dict(trait_types)
        if check_ops:
            check_trait_ops(spec, types)
    else:
        types = _trait_columns(engine, spec, traits)
    columns = set(types)
    compiled = compile_audiences(
        spec,
        engine.dialect,
        when,
        trait_columns=columns,
        trait_types=types,
        profile_id=profile_id,
        nodes=nodes,
        one=one,
    )
    return Prepared(store, spec, when, source, compiled, columns, types)


def _open(profiles_dir: str | Path, engine: Any = None):
    from cdp_cli.identity.explain import ProfileStore

    return ProfileStore(profiles_dir, engine=engine)


#: the temporary table ``compute`` computes the audiences into (one boolean column per audience)
MATERIALIZED = "cdp_audiences"


def materialize(prepared: Prepared) -> None:
    """Compute every audience into the temporary table :data:`MATERIALIZED` (once)."""
    if prepared.materialized:
        return
    prepared.materialized = True
    stmt = prepared.compiled.statement
    engine = prepared.store.engine
    engine.execute(engine.dialect.create_temp_table(MATERIALIZED, stmt.sql), stmt.params)


def memberships(prepared: Prepared, *, identifiers: bool = True) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Members per audience (sorted profile ids) and, with ``identifiers``, each member's identifiers
    (``type:value``), from :data:`MATERIALIZED`."""
    materialize(prepared)
    from cdp_cli.audiences import sql

    engine = prepared.store.engine
    table = engine.arrow(f"SELECT * FROM {engine.dialect.quote_ident(MATERIALIZED)} ORDER BY profile_id").to_pydict()
    members = {
        key: [p for p, ok in zip(table["profile_id"], table[key], strict=True) if ok]
        for key in prepared.compiled.audiences
    }
    idents: dict[str, list[str]] = {}
    if identifiers:
        for pid, kind, value in engine.rows(sql.IDENTIFIERS.fill()):
            idents.setdefault(pid, []).append(f"{kind}:{value}")
    return members, idents


def sizes(prepared: Prepared) -> dict[str, int]:
    """Members per audience, counted in :data:`MATERIALIZED`."""
    materialize(prepared)
    engine = prepared.store.engine
    q = engine.dialect.quote_ident
    keys = prepared.compiled.audiences
    counts = ", ".join(f"count(*) FILTER (WHERE {q(k)})" for k in keys)
    (row,) = engine.rows(f"SELECT {counts} FROM {q(MATERIALIZED)}")
    return {k: int(n) for k, n in zip(keys, row, strict=True)}


def write_members(prepared: Prepared, directory: Path) -> None:
    """``<key>.parquet`` per audience (profile_id, identifiers as ``type:value``), written by the engine."""
    materialize(prepared)
    from cdp_cli.audiences import sql

    engine = prepared.store.engine
    q = engine.dialect.quote_ident
    keys = prepared.compiled.audiences
    body = sql.MEMBER_IDENTIFIERS.fill(
        members=q(MATERIALIZED),
        any=" OR ".join(q(k) for k in keys),
        identifiers=sql.SORTED_IDENTIFIERS[engine.dialect.name],
    )
    engine.execute(engine.dialect.create_temp_table("cdp_member_identifiers", body))
    if not keys:
        return
    # Every member of every audience in one ordered query, then each audience's rows (contiguous,
    # in profile_id order) written as its file: one statement, not one per audience (a COPY each
    # costs ~20 ms; a partitioned COPY does not keep each file's rows in order).
    import pyarrow as pa

    from cdp_cli.storage import write_table

    selects = " UNION ALL ".join(
        f"SELECT {i} AS a, profile_id FROM {q(MATERIALIZED)} WHERE {q(k)}" for i, k in enumerate(keys)
    )
    rows = engine.arrow(sql.MEMBER_ROWS.fill(selects=selects, empty_list=engine.dialect.empty_text_list))
    numbers = rows.column("a").to_pylist()  # sorted (no numpy: pyarrow does not bring it)
    starts = [bisect.bisect_left(numbers, i) for i in range(len(keys) + 1)]
    schema = pa.schema([pa.field("profile_id", pa.string()), pa.field("identifiers", pa.list_(pa.string()))])
    members = pa.table([rows.column("profile_id"), rows.column("identifiers")], names=schema.names)
    for i, key in enumerate(keys):
        part = members.slice(starts[i], starts[i + 1] - starts[i])
        write_table(part, directory / f"{key}.parquet", schema=schema, dictionary=False)


def _previous(previous: str | Path | None, keys: list[str]) -> dict[str, set[str]] | None:
    if previous is None:
        return None
    import pyarrow.parquet as pq

    d = Path(previous)
    if not d.is_dir():
        raise InputError(f"{d}: --previous must be a directory an earlier `cdp audiences compute --out` wrote")
    out: dict[str, set[str]] = {}
    for key in keys:
        f = d / f"{key}.parquet"
        if f.is_file():
            out[key] = set(pq.read_table(f, columns=["profile_id"]).column("profile_id").to_pylist())
    return out


@dataclass
class AudiencesResult(DefinitionResult):
    command: str
    spec: Path
    profiles_dir: Path
    as_of: datetime
    as_of_source: str
    profiles: int
    sizes: dict[str, int]
    out: Path | None = None
    entered: dict[str, int] | None = None
    exited: dict[str, int] | None = None
    sample: dict[str, list[str]] = field(default_factory=dict)
    overlap: dict[str, dict[str, int]] = field(default_factory=dict)
    identifier_types: dict[str, dict[str, int]] = field(default_factory=dict)
    activation: dict[str, Any] | None = None  #: what --emit-events wrote (path, messages, profiles, per_key)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": str(self.spec),
            "profiles_dir": str(self.profiles_dir),
            "out": str(self.out) if self.out is not None else None,
            "as_of": iso(self.as_of),
            "as_of_source": self.as_of_source,
            "profiles": self.profiles,
            "sizes": self.sizes,
        }
        if self.entered is not None:
            out.update(entered=self.entered, exited=self.exited)
        if self.activation is not None:
            out["activation"] = self.activation
        if self.command == "audiences preview":
            out.update(sample=self.sample, overlap=self.overlap, identifier_types=self.identifier_types)
        return out

    def tables(self) -> list[Table]:
        head = ["audience", "members"] + (["entered", "exited"] if self.entered is not None else [])
        rows = []
        for key, n in self.sizes.items():
            row: list[Any] = [key, n]
            if self.entered is not None and self.exited is not None:
                row += [self.entered[key], self.exited[key]]
            rows.append(row)
        title = f"Audiences as of {iso(self.as_of)} ({self.as_of_source})"
        tables = [Table(title, head, rows, numeric=frozenset(range(1, len(head))))]
        if self.overlap:
            keys = list(self.sizes)
            tables.append(
                Table(
                    "Overlap (members in both)", ["", *keys], [[k, *[self.overlap[k][j] for j in keys]] for k in keys]
                )
            )
            types = sorted({t for v in self.identifier_types.values() for t in v})
            tables.append(
                Table(
                    "Members with an identifier of each type",
                    ["audience", *types],
                    [[k, *[self.identifier_types[k].get(t, 0) for t in types]] for k in keys],
                )
            )
            tables.append(
                Table(
                    "Sample of members", ["audience", "profiles"], [[k, ", ".join(v)] for k, v in self.sample.items()]
                )
            )
        return tables

    def verdict(self) -> str:
        what = f"{plural(len(self.sizes), 'audience')} over {plural(self.profiles, 'profile')} as of {iso(self.as_of)}"
        if self.out is not None:
            done = f"computed {what} into {self.out}"
            if self.activation is not None:
                a = self.activation
                done += (
                    f"; {plural(a['messages'], 'activation event')} for {plural(a['profiles'], 'changed profile')}"
                    f" into {a['path']}"
                )
            return done
        return f"preview: {what} (nothing written)"


def compute(
    profiles_dir: str | Path,
    spec_path: str | Path,
    out: str | Path,
    *,
    traits: str | Path | None = None,
    as_of: datetime | str | None = None,
    plan: Any = None,
    previous: str | Path | None = None,
    emit: Any = None,
    engine: Any = None,
) -> AudiencesResult:
    """Members of every audience into ``out/<key>.parquet`` (one atomic directory); with ``previous``
    (an earlier ``out``) who entered and exited, in ``out/changes.parquet``; with ``emit``
    (:class:`cdp_cli.activation.EmitOptions`, its ``previous`` unused) the activation events of
    every change (against ``previous``; without it every member entered). ``engine``: an
    :class:`~cdp_cli.engine.EngineChoice` (DuckDB by default)."""
    spec, before = begin(profiles_dir, spec_path, out, traits=traits, plan=plan, previous=previous, emit=emit)
    with _open(profiles_dir, engine) as store:
        prepared = prepare(store, spec, as_of, traits)
        return finish(prepared, Path(out), plan=plan, before=before, emit=emit)


def begin(
    profiles_dir: str | Path,
    spec_path: str | Path,
    out: str | Path,
    *,
    traits: str | Path | None = None,
    plan: Any = None,
    previous: str | Path | None = None,
    emit: Any = None,
) -> tuple[Spec, dict[str, set[str]] | None]:
    """What :func:`compute` checks before it opens the profiles (the spec, against ``plan``, the
    outputs); the spec and the members of ``previous``."""
    from cdp_cli.fsutil import check_replaceable, guard_outputs

    spec = load_spec(spec_path)
    if plan is not None:
        check_against_plan(spec, plan)
    inputs = [Path(spec_path), Path(profiles_dir)] + [Path(x) for x in (traits, previous) if x is not None]
    if emit is not None:
        emit.check()
    outputs = {"--out": Path(out), "--emit-events": Path(emit.path) if emit is not None else None}
    guard_outputs(outputs, inputs, dir_flags=("--out",))
    check_replaceable(Path(out), "audiences")  # before the work: only over a directory cdp wrote
    return spec, _previous(previous, [a.key for a in spec.audiences])


def finish(
    prepared: Prepared,
    out: Path,
    *,
    plan: Any = None,
    before: dict[str, set[str]] | None = None,
    emit: Any = None,
) -> AudiencesResult:
    """After :func:`prepare`: compute the members, write ``out`` (and the activation events); the result."""
    from cdp_cli.fsutil import atomic_directory

    spec, store = prepared.spec, prepared.store
    if plan is not None:
        check_trait_names(spec, plan, prepared.trait_columns)
    materialize(prepared)
    members: dict[str, list[str]] = {}
    idents: dict[str, list[str]] = {}
    if before is not None or emit is not None:
        members, idents = memberships(prepared, identifiers=emit is not None)
    (count,) = store.engine.rows("SELECT count(*) FROM profiles")[0]
    counted = sizes(prepared)
    with atomic_directory(out, kind="audiences") as tmp:
        write_members(prepared, tmp)
        activation, entered, exited = _changes_and_activation(tmp, spec, prepared, members, idents, before, emit)
    result = AudiencesResult(
        "audiences compute",
        spec.path,
        Path(store.dir),
        prepared.as_of,
        prepared.as_of_source,
        int(count),
        counted,
        Path(out),
        entered,
        exited,
    )
    result.activation = activation
    return result


def _changes_and_activation(
    tmp: Path,
    spec: Spec,
    prepared: Prepared,
    members: dict[str, list[str]],
    idents: dict[str, list[str]],
    before: dict[str, set[str]] | None,
    emit: Any,
) -> tuple[dict[str, Any] | None, dict[str, int] | None, dict[str, int] | None]:
    """``changes.parquet`` (with ``before``) and the activation log (with ``emit``)."""
    import pyarrow as pa

    from cdp_cli.storage import write_table

    entered: dict[str, int] | None = None
    exited: dict[str, int] | None = None
    changes: dict[str, list[str]] = {"audience": [], "profile_id": [], "change": []}
    if before is not None:
        entered, exited = {}, {}
        for key, now in members.items():
            old = before.get(key, set())
            came, left = sorted(set(now) - old), sorted(old - set(now))
            entered[key], exited[key] = len(came), len(left)
            for pid, what in [(p, "entered") for p in came] + [(p, "exited") for p in left]:
                changes["audience"].append(key)
                changes["profile_id"].append(pid)
                changes["change"].append(what)
    activation = None
    if emit is not None:  # before the directory is renamed into place: if it fails, --out stays as it was
        activation = emit_activation(emit, spec, prepared.as_of, members, idents, before)
    if before is not None:
        write_table(pa.table({k: pa.array(v, pa.string()) for k, v in changes.items()}), tmp / "changes.parquet")
    return activation, entered, exited


def emit_activation(
    emit: Any,
    spec: Spec,
    as_of: datetime,
    members: dict[str, list[str]],
    idents: dict[str, list[str]],
    before: dict[str, set[str]] | None,
) -> dict[str, Any]:
    """The activation events of every audience change (see :mod:`cdp_cli.activation`): entered ->
    ``true``, exited -> ``false``; without ``before`` every member entered. Each audience's own
    ``include_anonymous`` decides whether its messages also go to anonymous_ids."""
    from cdp_cli.activation import Computation, write

    computations = [Computation("audience", a.key, False, a.include_anonymous) for a in spec.audiences]
    identifiers: dict[str, dict[str, list[str]]] = {}
    for pid, values in idents.items():
        for typed in values:
            kind, value = typed.split(":", 1)
            identifiers.setdefault(pid, {}).setdefault(kind, []).append(value)
    current: dict[str, dict[str, Any]] = {}
    previous: dict[str, dict[str, Any]] | None = None if before is None else {}
    for key, now in members.items():
        was = before.get(key, set()) if before is not None else set()
        current[key] = {p: False for p in was} | {p: True for p in now}
        if previous is not None:
            previous[key] = {p: True for p in was}
    return write(emit, computations, current, identifiers, as_of, previous)


def preview(
    profiles_dir: str | Path,
    spec_path: str | Path,
    *,
    traits: str | Path | None = None,
    as_of: datetime | str | None = None,
    sample: int = 5,
) -> AudiencesResult:
    """Sizes, a sample of members, the overlap matrix and identifier types; writes nothing."""
    from cdp_cli.pii import withhold

    spec = load_spec(spec_path)
    with _open(profiles_dir) as store:
        prepared = prepare(store, spec, as_of, traits)
        materialize(prepared)
        members, idents = memberships(prepared)
        (count,) = store.engine.rows("SELECT count(*) FROM profiles")[0]
    sets = {k: set(v) for k, v in members.items()}
    overlap = {k: {j: len(sets[k] & sets[j]) for j in sets} for k in sets}
    types: dict[str, dict[str, int]] = {}
    for k, ms in members.items():
        counts: dict[str, int] = {}
        for pid in ms:
            for t in {i.split(":", 1)[0] for i in idents.get(pid, [])}:
                counts[t] = counts.get(t, 0) + 1
        types[k] = dict(sorted(counts.items()))
    return AudiencesResult(
        "audiences preview",
        spec.path,
        Path(profiles_dir),
        prepared.as_of,
        prepared.as_of_source,
        int(count),
        {k: len(v) for k, v in members.items()},
        sample={k: [withhold(p) for p in v[: max(0, sample)]] for k, v in members.items()},
        overlap=overlap,
        identifier_types=types,
    )


def unknown_audience(spec: Spec, key: str) -> UsageError:
    return UsageError(
        f"--audience {key!r} is not in {spec.path}; its audiences: {', '.join(a.key for a in spec.audiences)}"
    )
