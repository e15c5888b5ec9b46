"""Audiences: who satisfies a condition tree over events, traits and other audiences
(``cdp audiences compute / preview / explain``).

- :mod:`.definitions`: the ``audiences.yaml`` models and the condition tree (read by
  :mod:`cdp_cli.definitions`; references and cycles checked with FILE:LINE:COL).
- :mod:`.sql`: the SQL shapes.
- :mod:`.compiler`: an audiences file as one query (one boolean column per audience, or per node for
  explain), built from the fragments of :mod:`cdp_cli.traits.conditions`.
- :mod:`.compute`: running it, writing one Parquet file of members per audience, entered/exited.
- :mod:`.explain`: one profile, every condition with true/false, the value compared and the events.

Semantics are documented in ``docs/audiences.md``.
"""
