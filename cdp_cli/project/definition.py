"""The project file, ``cdp.yaml``, on the declarative layer of :mod:`cdp_cli.definitions`::

    version: 1
    name: shop                        # optional: the report's title
    plan: ../plans/ecommerce          # a plan file or directory
    events: [ecommerce/]              # event logs: files, directories, globs
    identity: identity.yaml           # optional: identity resolution settings
    traits: traits.yaml               # optional
    audiences: audiences.yaml         # optional
    as_of: 2026-11-15T00:00:00Z       # optional: default, the latest event
    out: build                        # the output folder (default: build)
    lint: {strict: false}             # lint errors stop the run only with strict
    replay:                           # optional: where the activation events go
      - to: file:activation.ndjson
      - {to: "https://api.segment.io", write_key_env: SEGMENT_WRITE_KEY, checkpoint: activation.ckpt}

Paths are relative to the directory of ``cdp.yaml``; replay file and checkpoint paths to ``out``.
Every problem is reported at once with FILE:LINE:COL.
"""

from __future__ import annotations

from typing import Literal

from cdp_cli.definitions import Definition, field, invalid

PROJECT_FILE = "cdp.yaml"


class LintSettings(Definition):
    not_a_mapping = "lint is a mapping such as {strict: true}"

    strict: bool = False  #: lint errors stop the run (otherwise they are reported and it goes on)
    max_findings: int = field(1000, ge=0)  #: findings kept in the report (all are in lint/findings.ndjson)


class ReplayTarget(Definition):
    not_a_mapping = "a replay target is a mapping such as {to: file:activation.ndjson}"

    to: str
    write_key_env: str | None = None
    checkpoint: str | None = None

    def check(self) -> None:
        if not self.to.strip():
            raise invalid("to must name a destination such as file:activation.ndjson", "to")


class ProjectFile(Definition):
    not_a_mapping = "a project file is a mapping with plan: and events: (see docs/run.md)"

    version: Literal[1] = 1
    name: str | None = None
    plan: str
    events: list[str] = field(min_items=1)
    identity: str | None = None
    traits: str | None = None
    audiences: str | None = None
    as_of: str | None = None
    out: str = "build"
    lint: LintSettings = field(default_factory=LintSettings)
    replay: list[ReplayTarget] = field(default_factory=list)

    def check(self) -> None:
        if self.audiences is not None and self.traits is None:
            pass  # audiences on profile traits only: allowed
        if self.replay and self.traits is None and self.audiences is None:
            raise invalid(
                "replay sends the activation events of traits and audiences: give traits or audiences", "replay"
            )
