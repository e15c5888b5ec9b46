"""Regenerate the generated parts of the documentation: python3 scripts/update_docs.py [--check]

Each target is a file, or a marked block inside one (``<!-- NAME:start -->`` ... ``<!-- NAME:end -->``),
and the function that generates it. Add a target here to generate more (a CLI reference, say); tests
check every target is up to date. With --check nothing is written, and the exit code is 1 when a
target is stale.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Target:
    path: str  # relative to the repository root
    generate: Callable[[], str]
    block: str | None = None  # the marker name of a block inside the file; None: the whole file

    def render(self, current: str) -> str:
        if self.block is None:
            return self.generate()
        start, end = f"<!-- {self.block}:start -->\n", f"<!-- {self.block}:end -->"
        pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), flags=re.S)
        if not pattern.search(current):
            raise SystemExit(f"{self.path}: no {start.strip()} ... {end} block")
        return pattern.sub(lambda m: start + self.generate() + end, current, count=1)


def _cli_reference() -> str:
    import os

    os.environ["NO_COLOR"] = "1"
    os.environ.setdefault("COLUMNS", "200")
    from cdp_cli.cli.reference import reference_markdown

    return reference_markdown()


def targets() -> list[Target]:
    from cdp_cli.rules.docs import REFERENCE_PATH, rules_reference

    return [
        Target(REFERENCE_PATH, rules_reference),
        Target("docs/cli.md", _cli_reference),
    ]


def update(check: bool = False, only: Callable[[Target], bool] = lambda t: True) -> list[str]:
    """Bring every target up to date (or only report, with ``check``); returns the stale paths."""
    stale = []
    for target in targets():
        if not only(target):
            continue
        path = ROOT / target.path
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        new = target.render(current)
        if new != current:
            stale.append(target.path)
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = update(check)
    for path in stale:
        print(f"{path} is {'stale' if check else 'updated'}")
    if not stale:
        print("generated documentation is up to date")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
