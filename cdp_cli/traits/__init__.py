"""Computed traits: one value per profile from its events (``cdp traits compute / preview / explain``).

- :mod:`.definitions`: the ``traits.yaml`` models (read by :mod:`cdp_cli.definitions`).
- :mod:`.conditions`: event selection, ``where`` filters, windows and property paths as SQL fragments
  (shared with audiences).
- :mod:`.compiler`: a traits file as one query (one row per profile), and the explain query.
- :mod:`.compute`: running it on the engine, writing ``traits.parquet``, the result and its tables.
- :mod:`.explain`: one profile's values and the events that counted (or why not).

Semantics are documented in ``docs/traits.md``.
"""
