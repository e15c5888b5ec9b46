"""Regenerate the shipped samples (deterministic: a test checks the committed files equal this output).

    python3 scripts/make_samples.py

samples/ecommerce/segment-logs/...  clean events of the e-commerce plan, laid out like a Segment S3
                                     export (source / received day / gzipped NDJSON batch files)
samples/messy.ndjson                events with realistic mistakes, for the README's lint example
samples/identity/journeys.ndjson    people across web, app and support, a shared in-store iPad,
                                     placeholder ids and Segment's documented merge-protection example:
                                     the README's identity walk-through
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cdp_cli.lint.runner import load_plan_for_lint  # noqa: E402
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
        part = lines[i * per : (i + 1) * per] if i < len(DAYS) - 1 else lines[i * per :]
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
            gz.write(b"\n".join(part) + b"\n")
        files[Path("samples/ecommerce/segment-logs") / SOURCE / day / f"{day}.{i:04d}.gz"] = buf.getvalue()
    messy = Generator(plan, seed=7, violations=0.12, events=400)
    files[Path("samples/messy.ndjson")] = b"\n".join(messy.lines(400)) + b"\n"
    files[Path("samples/identity/journeys.ndjson")] = journeys()
    # hand-written, not generated: kept as is (docs/traits.md; checked against plans/ecommerce by a test)
    files[Path("samples/traits.yaml")] = (root / "samples" / "traits.yaml").read_bytes()
    files[Path("samples/audiences.yaml")] = (root / "samples" / "audiences.yaml").read_bytes()  # docs/audiences.md
    files[Path("samples/cdp.yaml")] = (root / "samples" / "cdp.yaml").read_bytes()  # the project: docs/run.md
    return files


WEB = {"library": {"name": "analytics.js", "version": "next-1.70.0"}, "ip": "203.0.113.7"}


def _ios(device: str) -> dict:
    return {
        "library": {"name": "analytics-ios", "version": "4.1.8"},
        "app": {"name": "Shop", "version": "3.2.1"},
        "device": {"id": device, "type": "ios", "manufacturer": "Apple", "model": "iPad13,1"},
        "os": {"name": "iPadOS", "version": "17.1"},
    }


def journeys() -> bytes:
    """A small log that tells a story (see the README's identity walk-through)."""
    rows: list[dict | str] = []
    n = 0

    def msg(t: str, minute: int, **fields) -> None:
        nonlocal n
        n += 1
        ts = f"2026-11-20T{9 + minute // 60:02d}:{minute % 60:02d}:00.000Z"
        m = {"type": t, "messageId": f"j-{n:03d}", "timestamp": ts, "sentAt": ts, "receivedAt": ts, "userId": None}
        m.update(fields)
        rows.append(m)

    # Ada: anonymous on the web, signs up, installs the app, logs in there, writes from her work address.
    msg("page", 0, anonymousId="a-web-ada", name="Home", context=WEB)
    msg("track", 2, anonymousId="a-web-ada", event="Product Viewed", properties={"product_id": "p-1"}, context=WEB)
    msg(
        "identify",
        5,
        anonymousId="a-web-ada",
        userId="u-ada",
        traits={"email": "Ada@Example.com", "firstName": "Ada", "plan": "free"},
        context=WEB,
    )
    msg("screen", 30, anonymousId="a-ios-ada", name="Home", context=_ios("IOS-ADA-PHONE"))
    msg(
        "track",
        31,
        anonymousId="a-ios-ada",
        event="Product Added",
        properties={"product_id": "p-1"},
        context=_ios("IOS-ADA-PHONE"),
    )
    msg("identify", 33, anonymousId="a-ios-ada", userId="u-ada", traits={"plan": "pro"}, context=_ios("IOS-ADA-PHONE"))
    msg("identify", 90, userId="u-ada", traits={"email": "ada.work@example.com", "company": "Analytical Engines"})
    msg(
        "track",
        95,
        userId="u-ada",
        event="Order Completed",
        properties={"order_id": "o-1", "total": 42.5, "currency": "USD"},
    )

    # A shared in-store iPad: Grace and Linus log in on the same device (same anonymousId, same device id).
    ipad = _ios("IPAD-STORE-1")
    msg(
        "identify",
        120,
        anonymousId="a-ipad-store",
        userId="u-grace",
        traits={"email": "grace@example.com"},
        context=ipad,
    )
    msg(
        "track",
        121,
        anonymousId="a-ipad-store",
        userId="u-grace",
        event="Order Completed",
        properties={"order_id": "o-2", "total": 10, "currency": "USD"},
        context=ipad,
    )
    msg(
        "identify",
        140,
        anonymousId="a-ipad-store",
        userId="u-linus",
        traits={"email": "linus@example.com"},
        context=ipad,
    )
    msg(
        "track",
        141,
        anonymousId="a-ipad-store",
        userId="u-linus",
        event="Product Viewed",
        properties={"product_id": "p-2"},
        context=ipad,
    )

    # Placeholders a buggy build sends: blocked, the events are still kept.
    msg(
        "track",
        150,
        anonymousId="a-web-kim",
        userId="undefined",
        event="Product Viewed",
        properties={"product_id": "p-3"},
        context=WEB,
    )
    msg("identify", 151, anonymousId="a-web-kim", userId="null", traits={"email": "0"}, context=WEB)
    # A numeric user id (read as "42"), and an object where an id belongs (reported, not an identifier).
    msg("identify", 160, anonymousId="a-web-num", userId=42, traits={"email": "num@example.com"}, context=WEB)
    msg(
        "track",
        161,
        anonymousId={"id": "oops"},
        userId=42,
        event="Product Viewed",
        properties={"product_id": "p-4"},
        context=WEB,
    )
    # alias: an old anonymous id joined to a user id (previousId -> userId).
    msg("track", 170, anonymousId="a-web-bob", event="Product Viewed", properties={"product_id": "p-5"}, context=WEB)
    msg("alias", 175, previousId="a-web-bob", userId="u-bob")
    msg("identify", 176, userId="u-bob", traits={"email": "bob@example.com"})
    # No identifier at all (userId null, empty anonymousId): kept in events.parquet without a profile.
    msg("track", 180, anonymousId="", event="Product Viewed", properties={"product_id": "p-6"})
    # Segment's documented example: the second user id would exceed user_id's limit of 1, so the
    # email is dropped from that event and abc456 gets a profile of its own.
    msg("identify", 200, userId="abc123", traits={"email": "jane@example1.com"})
    msg("identify", 201, userId="abc456", traits={"email": "jane@example1.com"})
    rows.insert(20, '{"type": "track", "event": "Cut Off", ')  # a truncated line: reported, skipped
    return "".join((r if isinstance(r, str) else json.dumps(r, separators=(",", ":"))) + "\n" for r in rows).encode()


def main() -> None:
    for rel, data in build().items():
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {rel} ({len(data):,} bytes)")


if __name__ == "__main__":
    main()
