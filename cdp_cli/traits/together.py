"""Traits and audiences of one profiles directory together: one engine session, one pass over the
events for both.

Computed apart (``cdp traits compute``, then ``cdp audiences compute --traits``), each opens the
profiles, reads the events and parses their properties; the audiences then read the traits back from
Parquet. Together, the traits' and the audiences' definitions register their flags in one
:class:`~cdp_cli.traits.onepass.OnePass`, whose facts are computed once into a temporary table; the
traits are computed from it into ``cdp_traits``, which the audiences read as ``traits_in``. Results
are those of the two commands run one after the other (the tests compare every column and member).

The audiences are compiled before the traits exist, with the traits' types as the compiler gives
them (:func:`predicted_types`); if the computed table's types turn out to differ in kind (number,
string, other), the audiences are compiled again against the real ones, with a pass of their own:
slower, never different.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cdp_cli.errors import UsageError

#: the temporary table holding the shared pass over the events
FACTS_TABLE = "cdp_facts"

#: the Arrow type of each kind of computed trait column (see cdp_cli.traits.compiler.KINDS)
_KIND_TYPES = {"count": "int64", "number": "double", "text": "string", "list": "list<item: string>"}


def predicted_types(prepared: Any) -> dict[str, str]:
    """The Arrow type of each column of the traits, from the compiled columns (and, for sql traits,
    the types their query gave when it was bound)."""
    out: dict[str, str] = {}
    for col in prepared.compiled.columns:
        if col.kind == "sql":
            out[col.name] = prepared.sql_value_types.get(col.name, "unknown")
        else:
            out[col.name] = _KIND_TYPES[col.kind]
    return out


def compute_together(
    profiles_dir: str | Path,
    traits_spec: str | Path,
    traits_out: str | Path,
    audiences_spec: str | Path,
    audiences_out: str | Path,
    *,
    as_of: datetime | str | None = None,
    plan: Any = None,
    traits_emit: Any = None,
    audiences_emit: Any = None,
    previous: str | Path | None = None,
    engine: Any = None,
) -> tuple[Any, Any]:
    """Compute the traits of ``traits_spec`` into ``traits_out`` and the audiences of
    ``audiences_spec`` (over those traits) into ``audiences_out``, as
    :func:`cdp_cli.traits.compute.compute` and :func:`cdp_cli.audiences.compute.compute` would one
    after the other: ``(TraitsResult, AudiencesResult)``. ``previous``: an earlier audiences
    output (who entered and exited); the emit options as those functions take them."""
    from cdp_cli.audiences import compute as audiences
    from cdp_cli.fsutil import guard_outputs
    from cdp_cli.traits import compute as traits
    from cdp_cli.traits.onepass import OnePass

    t_out, a_out = Path(traits_out), Path(audiences_out)
    t_real, a_real = t_out.resolve(), a_out.resolve()
    if t_real == a_real or a_real in t_real.parents or t_real in a_real.parents:
        raise UsageError(f"the traits output {t_out} and the audiences output {a_out} must not hold one another")
    t_spec = traits.begin(profiles_dir, traits_spec, t_out, plan=plan, emit=traits_emit)
    a_spec, before = audiences.begin(
        profiles_dir, audiences_spec, a_out, traits=None, plan=plan, previous=previous, emit=audiences_emit
    )
    emits = {
        "--traits-emit-events": Path(traits_emit.path) if traits_emit is not None else None,
        "--audiences-emit-events": Path(audiences_emit.path) if audiences_emit is not None else None,
    }
    if any(emits.values()):
        guard_outputs(emits, [Path(traits_spec), Path(audiences_spec), Path(profiles_dir), t_out, a_out])
    with traits._open(profiles_dir, engine) as store:
        engine = store.engine
        when, source = traits.settle_as_of(store, as_of)
        one = OnePass(engine.dialect, when, table=FACTS_TABLE)
        t_prep = traits.prepare(store, t_spec, when, materialize=True, one=one, run_setup=False)
        predicted = predicted_types(t_prep)
        a_prep = audiences.prepare(store, a_spec, when, None, trait_types=predicted, one=one, check_ops=False)
        if one.matches:
            engine.execute(one.create_table())
        for statement in t_prep.compiled.setup:
            engine.execute(statement)
        q = engine.dialect.quote_ident
        shown = ", ".join(["profile_id", *(q(c.name) for c in t_prep.compiled.columns)])
        engine.create_view("traits_in", f"SELECT {shown} FROM {q(traits.MATERIALIZED)}")
        schema = engine.arrow("SELECT * FROM traits_in LIMIT 0").schema
        actual = {f.name: str(f.type) for f in schema if f.name != "profile_id"}
        audiences.check_trait_ops(a_spec, actual)  # against the real types, before anything is written
        if plan is not None:
            audiences.check_trait_names(a_spec, plan, set(actual))
        kind = audiences.type_class
        if {k: kind(v) for k, v in actual.items()} != {k: kind(v) for k, v in predicted.items()}:
            a_prep = audiences.prepare(store, a_spec, when, None, trait_types=actual)  # a pass of its own
        t_prep.as_of_source = a_prep.as_of_source = source
        t_result = traits.finish(t_prep, t_out, traits_emit)
        a_result = audiences.finish(a_prep, a_out, plan=plan, before=before, emit=audiences_emit)
    return t_result, a_result
