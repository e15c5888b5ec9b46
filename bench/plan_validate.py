"""Benchmark: `cdp plan validate` on a large generated plan, against parsing the same files with
`yaml.safe_load` (C loader when available) in the same process.

    python3 bench/plan_validate.py --events 2000 --props 15

Prints wall times and the ratio. Not a test: speed goals live here, figures in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml


def generate(root: Path, events: int, props: int) -> None:
    (root / "events").mkdir(parents=True)
    (root / "plan.yaml").write_text(
        "name: big\nconventions: {events: title_case, properties: snake_case}\n"
        "properties:\n"
        + "".join(
            f"  shared_{i}: {{type: string, minLength: 1, maxLength: 64, "
            f"pattern: '^[a-z0-9_]+$', description: Shared {i}.}}\n"
            for i in range(50)
        ),
        encoding="utf-8",
    )
    per_file = 100
    for f in range(0, events, per_file):
        lines = ["events:\n"]
        for e in range(f, min(f + per_file, events)):
            lines.append(f"  Object{e} Action{e}:\n    description: Event {e}.\n    properties:\n")
            for p in range(props):
                if p % 3 == 0:
                    lines.append(f"      prop_{p}: {{ref: shared_{p % 50}, required: true}}\n")
                elif p % 3 == 1:
                    lines.append(f"      prop_{p}: {{type: integer, minimum: 0, maximum: 1000, description: P{p}.}}\n")
                else:
                    lines.append(f"      prop_{p}: {{type: string, enum: [a, b, c], description: P{p}.}}\n")
        (root / "events" / f"events_{f // per_file:04d}.yaml").write_text("".join(lines), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--props", type=int, default=15)
    args = ap.parse_args()
    from cdp_cli.plan.compiler import compile_plan
    from cdp_cli.plan.validate import validate_paths

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "big"
        generate(root, args.events, args.props)
        files = sorted(root.rglob("*.yaml"))
        size = sum(f.stat().st_size for f in files)
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        t0 = time.perf_counter()
        for f in files:
            yaml.load(f.read_text(encoding="utf-8"), Loader=loader)
        t_c = time.perf_counter() - t0

        t0 = time.perf_counter()
        for f in files:
            yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        t_py = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = validate_paths([root])
        t_val = time.perf_counter() - t0
        assert not result.failed(), result.findings[:5]

        t0 = time.perf_counter()
        n = sum(len(compile_plan(r.plan)) for r in result.reports)
        t_comp = time.perf_counter() - t0

    print(f"plan: {args.events} events x {args.props} properties, {len(files)} files, {size / 1e6:.1f} MB")
    print(f"yaml.safe_load (C loader):      {t_c:7.2f} s")
    print(f"yaml.safe_load (pure Python):   {t_py:7.2f} s")
    print(
        f"cdp plan validate (library):    {t_val:7.2f} s   = {t_val / t_py:.2f}x pure-Python parse, "
        f"{t_val / t_c:.2f}x C parse"
    )
    print(f"compile {n} schemas:            {t_comp:7.2f} s")


if __name__ == "__main__":
    main()
