"""Regenerate the shipped samples (deterministic: a test checks the committed files equal this output).

    python3 scripts/make_samples.py

samples/ecommerce/segment-logs/...  clean events of the e-commerce plan, laid out like a Segment S3
                                     export (source / received day / gzipped NDJSON batch files)
samples/messy.ndjson                events with realistic mistakes, for the README's lint example
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cdp_cli.lint.engine import load_plan_for_lint  # noqa: E402
from cdp_cli.samples import Generator  # noqa: E402

SOURCE = "aB3xY9shopWeb"
DAYS = ("1793577600000", "1793664000000", "1793750400000")  # received days 2026-11-02..04, in ms as Segment names them


def build(root: Path = ROOT) -> dict[Path, bytes]:
    plan = load_plan_for_lint([root / "plans" / "ecommerce"])
    files: dict[Path, bytes] = {}
    gen = Generator(plan, seed=2026, events=3000)
    lines = list(gen.lines(3000))
    per = len(lines) // len(DAYS)
    for i, day in enumerate(DAYS):
        part = lines[i * per:(i + 1) * per] if i < len(DAYS) - 1 else lines[i * per:]
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
            gz.write(b"\n".join(part) + b"\n")
        files[Path("samples/ecommerce/segment-logs") / SOURCE / day / f"{day}.{i:04d}.gz"] = buf.getvalue()
    messy = Generator(plan, seed=7, violations=0.12, events=400)
    files[Path("samples/messy.ndjson")] = b"\n".join(messy.lines(400)) + b"\n"
    return files


def main() -> None:
    for rel, data in build().items():
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {rel} ({len(data):,} bytes)")


if __name__ == "__main__":
    main()
