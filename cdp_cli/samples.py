"""A deterministic generator of realistic Segment event logs, matching a tracking plan.

Used for the shipped samples, the benchmarks and the tests: ``cdp samples generate --events N --seed S``.
Same arguments, same bytes. Users have anonymous ids (one per device), most sign up and get a userId
and an email, some use a phone app (screens, device ids); events follow the plan's schemas (values
are drawn from each property's JSON Schema, with realistic values by property name). A share of
messages (``violations``) carries one realistic mistake each: wrong types, missing required
properties, unplanned events and properties, bad currencies, missing identity, duplicate messageIds,
timestamps without timezone, personal data in properties, camelCase keys, broken JSON lines.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)
FIRST = ["ada", "grace", "alan", "edsger", "barbara", "ken", "margaret", "linus", "radia", "donald", "frances", "john"]
LAST = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "thompson", "hamilton", "torvalds", "perlman", "knuth"]
CITIES = [("Berlin", "DE"), ("Paris", "FR"), ("Austin", "US"), ("Osaka", "JP"), ("Lagos", "NG"), ("Lima", "PE")]
CATEGORIES = ["Games", "Books", "Garden", "Kitchen", "Toys", "Music"]
BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli"]
CURRENCIES = ["USD", "EUR", "GBP", "JPY"]
WEB_LIB = {"name": "analytics.js", "version": "next-1.70.0"}
IOS_LIB = {"name": "analytics-ios", "version": "4.1.8"}
#: How often events happen in a shop, most frequent first (the rest of the plan's events follow).
POPULAR = [
    "Product Viewed",
    "Product List Viewed",
    "Products Searched",
    "Product Clicked",
    "Product Added",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Completed",
    "Product Removed",
    "Coupon Entered",
    "Coupon Applied",
]
VIOLATIONS = (
    "wrong_type",
    "missing_required",
    "unplanned_event",
    "unplanned_property",
    "bad_currency",
    "no_identity",
    "duplicate_message_id",
    "no_timezone",
    "email_in_property",
    "camel_case_key",
    "invalid_json",
    "number_user_id",
)


def _fmt(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass
class _User:
    anon: list[str]
    user_id: str | None
    email: str
    first: str
    last: str
    mobile: bool
    device_id: str
    signed_up: bool = False
    clock: datetime = field(default_factory=lambda: BASE_TIME)


class Generator:
    def __init__(
        self, plan=None, seed: int = 1, violations: float = 0.0, users: int | None = None, events: int = 1000
    ) -> None:
        from cdp_cli.plan.compiler import compile_plan

        self.rng = random.Random(seed)
        self.violations = violations
        self.schemas: dict[tuple[str, str | None], dict[str, Any]] = {}
        if plan is not None:
            for c in compile_plan(plan):
                if c.kind in ("track", "page", "screen", "identify") and c.version in (None, 1):
                    self.schemas[(c.kind, c.name)] = c.schema
        planned = sorted(n for k, n in self.schemas if k == "track" and n is not None) or [
            "Product Viewed",
            "Order Completed",
        ]
        popular = [n for n in POPULAR if n in planned]
        self.track_names = popular + [n for n in planned if n not in popular]  # most frequent first
        self.page_names = sorted(n for k, n in self.schemas if k == "page" and n is not None) or ["Home"]
        self.screen_names = sorted(n for k, n in self.schemas if k == "screen" and n is not None) or ["Home"]
        n_users = users or max(5, events // 25)
        self.users = [self._user(i) for i in range(n_users)]
        self.last_mid = "m-0"
        self.n = 0

    def _id(self, n: int = 16) -> str:
        return "".join(self.rng.choices("0123456789abcdef", k=n))

    def _user(self, i: int) -> _User:
        r = self.rng
        first, last = r.choice(FIRST), r.choice(LAST)
        anon = [
            f"{self._id(8)}-{self._id(4)}-{self._id(4)}-{self._id(4)}-{self._id(12)}"
            for _ in range(r.choice((1, 1, 1, 2, 3)))
        ]
        uid = f"u{i:06d}" if r.random() < 0.7 else None
        return _User(
            anon,
            uid,
            f"{first}.{last}{i}@example.com",
            first.title(),
            last.title(),
            r.random() < 0.3,
            self._id(16).upper(),
            clock=BASE_TIME + timedelta(seconds=r.randrange(0, 86400 * 14)),
        )

    # --- values from schemas -------------------------------------------------------------------------
    def value(self, name: str, schema: dict[str, Any], depth: int = 0) -> Any:
        r = self.rng
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return r.choice(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.value(name, schema[key][0], depth)
        t = schema.get("type", "string")
        if isinstance(t, list):
            t = next((x for x in t if x != "null"), "null")
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        hi = schema.get("maximum", schema.get("exclusiveMaximum", lo + 200))
        if t == "integer":
            return r.randint(
                int(lo) + (1 if "exclusiveMinimum" in schema else 0), max(int(lo) + 1, int(min(hi, lo + 12)))
            )
        if t == "number":
            return round(r.uniform(float(lo), float(min(hi, lo + 250))), 2)
        if t == "boolean":
            return r.random() < 0.5
        if t == "array":
            items = schema.get("items", {"type": "string"})
            if schema.get("uniqueItems") and isinstance(items, dict) and "enum" in items:
                return r.sample(items["enum"], k=min(len(items["enum"]), r.randint(1, 3)))
            values = [self.value(name.rstrip("s"), items, depth + 1) for _ in range(r.randint(1, 3))]
            if schema.get("uniqueItems"):
                values = [v for i, v in enumerate(values) if v not in values[:i]]
            return values
        if t == "object":
            return self.obj(schema, depth + 1)
        if t == "null":
            return None
        return self.string(name, schema)

    def string(self, name: str, schema: dict[str, Any]) -> str:
        r = self.rng
        fmt = schema.get("format")
        if fmt == "uri":
            return f"https://shop.example.com/{name.replace('_', '-')}/{r.randint(1, 999)}"
        if fmt == "email":
            return f"user{r.randint(1, 9999)}@example.com"
        if fmt == "date-time":
            return _fmt(BASE_TIME - timedelta(days=r.randint(1, 900)))
        if "currency" in name:
            return r.choice(CURRENCIES)
        if name == "rating":
            return str(r.randint(1, 5))
        if name.endswith("_id") or name == "sku":
            return f"{name[:-3] if name.endswith('_id') else name}-{r.randint(1, 99999)}"
        if name == "category":
            return r.choice(CATEGORIES)
        if name == "brand":
            return r.choice(BRANDS)
        if name in ("query", "search"):
            return r.choice(["lego", "garden hose", "coffee", "chess set"])
        min_len = int(schema.get("minLength", 1))
        word = (
            r.choice(["blue", "large", "classic", "summer", "deluxe", "mini"])
            + " "
            + r.choice(["edition", "pack", "set", "bundle"])
        )
        return word if len(word) >= min_len else word + "x" * (min_len - len(word))

    def obj(self, schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        out: dict[str, Any] = {}
        for name, sub in props.items():
            if name in required or self.rng.random() < 0.6:
                if depth > 3 and name not in required:
                    continue
                out[name] = self.value(name, sub if isinstance(sub, dict) else {}, depth)
        return out

    def payload(self, kind: str, name: str | None, field_name: str) -> dict[str, Any]:
        schema = self.schemas.get((kind, name))
        if schema is None:
            return {}
        inner = schema.get("properties", {}).get(field_name, {})
        return self.obj(inner) if isinstance(inner, dict) else {}

    # --- messages ------------------------------------------------------------------------------------
    def message(self) -> dict[str, Any] | bytes:
        r = self.rng
        self.n += 1
        user = r.choice(self.users)
        user.clock += timedelta(seconds=r.randint(5, 900))
        ts = user.clock
        roll = r.random()
        if not user.signed_up and user.user_id and roll < 0.08:
            user.signed_up = True
            msg = self._identify(user)
        elif roll < 0.22:
            if user.mobile:
                name = r.choice(self.screen_names)
                msg = {"type": "screen", "name": name, "properties": self.payload("screen", name, "properties")}
            else:
                name = r.choice(self.page_names)
                props = self.payload("page", name, "properties")
                props["path"] = f"/{name.lower().replace(' ', '-')}"
                props["url"] = f"https://shop.example.com{props['path']}"
                msg = {"type": "page", "name": name, "properties": props}
        else:
            name = (
                self.track_names[min(int(r.paretovariate(1.2)) - 1, len(self.track_names) - 1)]
                if r.random() < 0.5
                else r.choice(self.track_names)
            )
            msg = {"type": "track", "event": name, "properties": self.payload("track", name, "properties")}
        sent = ts + timedelta(milliseconds=r.randint(50, 4000))
        msg.update(
            {
                "userId": user.user_id if user.signed_up else None,
                # a browser per hour: people on several browsers have several anonymous ids until they
                # log in on each (the profiles merge then); no extra random draw, so the rest of the log is
                # the same bytes for the same seed
                "anonymousId": user.anon[int((ts - BASE_TIME).total_seconds() // 3600) % len(user.anon)]
                if not user.mobile
                else user.anon[-1],
                "messageId": f"{'ios' if user.mobile else 'ajs-next'}-{self._id(32)}",
                "timestamp": _fmt(ts),
                "originalTimestamp": _fmt(ts),
                "sentAt": _fmt(sent),
                "receivedAt": _fmt(sent + timedelta(milliseconds=r.randint(20, 300))),
                "context": self._context(user),
                "integrations": {},
                "version": 2,
            }
        )
        if msg["type"] == "identify":
            msg["userId"] = user.user_id
        if self.violations and r.random() < self.violations:
            return self._violate(msg)
        self.last_mid = msg["messageId"]
        return msg

    def _identify(self, user: _User) -> dict[str, Any]:
        city, country = self.rng.choice(CITIES)
        traits = {
            "email": user.email,
            "firstName": user.first,
            "lastName": user.last,
            "createdAt": _fmt(user.clock),
            "address": {"city": city, "country": country},
            "orders_count": self.rng.randint(0, 9),
            "accepts_marketing": self.rng.random() < 0.4,
        }
        if self.rng.random() < 0.3:  # rudder-sdk-python style: traits in context.traits
            return {"type": "identify", "traits": {}, "_ctx_traits": traits}
        return {"type": "identify", "traits": traits}

    def _context(self, user: _User) -> dict[str, Any]:
        ip = f"203.0.113.{self.rng.randint(1, 254)}"
        if user.mobile:
            ctx = {
                "library": IOS_LIB,
                "app": {"name": "Shop", "version": "3.2.1", "build": "321"},
                "device": {"id": user.device_id, "manufacturer": "Apple", "model": "iPhone15,2", "type": "ios"},
                "os": {"name": "iOS", "version": "17.1"},
                "ip": ip,
                "locale": "en-US",
                "timezone": "Europe/Berlin",
            }
        else:
            ctx = {
                "library": WEB_LIB,
                "ip": ip,
                "locale": "en-US",
                "userAgent": (
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Version/17.1 Safari/605.1.15"
                ),
                "page": {"path": "/", "url": "https://shop.example.com/", "title": "Shop", "referrer": ""},
            }
        return ctx

    def _violate(self, msg: dict[str, Any]) -> dict[str, Any] | bytes:
        r = self.rng
        kind = r.choice(VIOLATIONS)
        props = msg.get("properties") if isinstance(msg.get("properties"), dict) else None
        if kind == "wrong_type" and props is not None:
            for k, v in props.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    props[k] = str(v)
                    break
            else:
                props["quantity"] = "two"
        elif kind == "missing_required" and msg["type"] == "track":
            msg["event"] = "Order Completed"
            msg["properties"] = {"total": 10.0, "currency": "USD"}
        elif kind == "unplanned_event" and msg["type"] == "track":
            msg["event"] = r.choice(["Order Complete", "Checkout Started Old", "Wishlist Shared Legacy"])
        elif kind == "unplanned_property" and msg["type"] == "track":
            msg["event"] = "Order Completed"
            msg["properties"] = {"order_id": f"o-{self._id(6)}", "total": 25.5, "currency": "EUR", "gift_wrap": True}
        elif kind == "bad_currency" and msg["type"] == "track":
            msg["event"] = "Order Completed"
            msg["properties"] = {"order_id": f"o-{self._id(6)}", "revenue": 25.5, "currency": "dollars"}
        elif kind == "no_identity":
            msg["userId"] = None
            msg["anonymousId"] = ""
        elif kind == "duplicate_message_id":
            msg["messageId"] = self.last_mid
        elif kind == "no_timezone":
            msg["timestamp"] = msg["timestamp"].rstrip("Z")
        elif kind == "email_in_property" and props is not None:
            props["note"] = f"contact {r.choice(FIRST)}@example.org"
        elif kind == "camel_case_key" and props is not None:
            props["cartValue"] = 12.5
        elif kind == "invalid_json":
            return orjson.dumps(msg)[:-12]  # a line cut short
        elif kind == "number_user_id":
            msg["userId"] = r.randint(1, 10_000)
        return msg

    def lines(self, events: int) -> Iterator[bytes]:
        for _ in range(events):
            m = self.message()
            if isinstance(m, bytes):
                yield m
                continue
            ct = m.pop("_ctx_traits", None)
            if ct is not None:
                m["context"]["traits"] = ct
            yield orjson.dumps(m)


def generate(
    path: str | Path | None,
    events: int,
    *,
    seed: int = 1,
    violations: float = 0.0,
    plan=None,
    users: int | None = None,
    out=None,
    force: bool = False,
) -> int:
    """Write ``events`` messages as NDJSON (gzip for .gz, zstandard for .zst) atomically; or to ``out``.
    An existing file is replaced only with ``force`` (a generated log cannot be told from a real one)."""
    gen = Generator(plan, seed=seed, violations=violations, users=users, events=events)
    if out is not None:
        for line in gen.lines(events):
            out.write(line + b"\n")
        return events
    from cdp_cli.fsutil import atomic_open

    path = Path(path)  # type: ignore[arg-type]
    from cdp_cli.fsutil import check_file_replaceable

    check_file_replaceable(path, "--output", force=force, hint=", or pass --force to replace it")
    with atomic_open(path, "wb", force=True) as fh:
        if path.name.lower().endswith(".gz"):
            import gzip

            with gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=6, mtime=0) as gz:
                for line in gen.lines(events):
                    gz.write(line + b"\n")
        elif path.name.lower().endswith((".zst", ".zstd")):
            import zstandard

            with zstandard.ZstdCompressor(level=3).stream_writer(fh, closefd=False) as zw:
                for line in gen.lines(events):
                    zw.write(line + b"\n")
        else:
            buf: list[bytes] = []
            for line in gen.lines(events):
                buf.append(line)
                if len(buf) >= 5000:
                    fh.write(b"\n".join(buf) + b"\n")
                    buf.clear()
            if buf:
                fh.write(b"\n".join(buf) + b"\n")
    return events
