"""Naming (``NM``) and privacy (``PI``) rules: both look at every key and value of a message's
payload (track/page/screen ``properties``, identify/group ``traits``), so they share one walk.

Naming verdicts are cached per name (a log repeats the same few hundred names millions of times);
the caches are bounded, because dynamic names are exactly the case where names never repeat.
Value detectors follow Presidio: an email pattern, phone numbers (E.164 or NANP with separators),
payment cards (13-19 digits, a known issuer prefix and the Luhn checksum), US SSNs (invalid groups
rejected) and IP addresses (checked with :mod:`ipaddress`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

from cdp_cli.events.model import RESERVED_GROUP_TRAITS, RESERVED_TRAITS, SDK_TRAITS
from cdp_cli.naming import Style, convert, matches
from cdp_cli.rules.codes import (
    NAMING_DYNAMIC_EVENT_NAME,
    NAMING_DYNAMIC_PROPERTY_KEY,
    NAMING_EVENT_NAME,
    NAMING_PROPERTY_NAME,
    PRIVACY_CREDIT_CARD_IN_VALUE,
    PRIVACY_EMAIL_IN_VALUE,
    PRIVACY_IP_IN_VALUE,
    PRIVACY_PHONE_IN_VALUE,
    PRIVACY_SSN_IN_VALUE,
)

if TYPE_CHECKING:
    from cdp_cli.lint.context import LintContext

CACHE_MAX = 50_000
MAX_DEPTH = 8
MAX_KEYS = 1000  # keys looked at per message; a bigger payload is SP015 material anyway

# --- dynamic names ---------------------------------------------------------------------------------
_UUID = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_DYNAMIC = [
    (re.compile(_UUID), "a UUID"),
    (re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"), "an email address"),
    (re.compile(r"(?:https?://|www\.)\S+|/[\w.-]+/[\w./-]*"), "a URL or path"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "a date"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,}\b"), "a hex id"),
    (re.compile(r"\d{3,}"), "a number"),
]
_DYNAMIC_KEY = _DYNAMIC[:5] + [(re.compile(r"^\d+$|[_-]\d{2,}$|^\d{2,}[_-]|\d{4,}"), "a number")]
#: Numbers that are part of real names: "Step 1 Viewed", "Checkout Step 2", "mp4", "utm_source", "ipv6"
_ALLOWED_KEY_NUMBERS = re.compile(r"^[a-z]+\d{1,2}$", re.I)  # "ipv6", "line1"; not a bare "42"
_ALLOWED_NUMBERS = re.compile(r"^(?:\d{1,2}|[a-z]+\d{1,2})$", re.I)


def dynamic_reason(name: str, key: bool = False) -> str | None:
    for pattern, what in _DYNAMIC_KEY if key else _DYNAMIC:
        if pattern.search(name):
            return what
    return None


# --- PII value detectors -------------------------------------------------------------------------
_EMAIL_IN = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")  # Unicode: josé@exämple.de, 用户@例子.广告
_DIGIT_RUN = re.compile(r"(?<![\w.:/-])\+?\(?\d[\d .()-]{5,22}\d(?![\w.]*\w)")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_NANP = re.compile(r"^(?:\+?1[ .-]?)?\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]\d{4}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_IPV6_IN = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|22)|35|62)")


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def classify_number(token: str) -> str | None:
    """PI code for a digit run: SSN, card, IPv4 or phone; None when it is just a number."""
    token = token.strip()
    if _SSN.match(token):
        return PRIVACY_SSN_IN_VALUE
    if _IPV4.match(token):
        return PRIVACY_IP_IN_VALUE
    digits = re.sub(r"\D", "", token)
    if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn(digits) and re.fullmatch(r"[\d -]+", token):
        return PRIVACY_CREDIT_CARD_IN_VALUE
    if _E164.match(token.replace(" ", "").replace("-", "")) and token.startswith("+"):
        return PRIVACY_PHONE_IN_VALUE
    if _NANP.match(token) and re.search(r"[ .()-]", token):
        return PRIVACY_PHONE_IN_VALUE
    return None


def detect(text: str) -> list[tuple[str, str, int]]:
    """Every (PI code, matched text, offset) found in a string."""
    out: list[tuple[str, str, int]] = []
    if "@" in text:
        out.extend((PRIVACY_EMAIL_IN_VALUE, m.group(0), m.start()) for m in _EMAIL_IN.finditer(text))
    for m in _DIGIT_RUN.finditer(text):
        code = classify_number(m.group(0))
        if code:
            out.append((code, m.group(0), m.start()))
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6_IN.finditer(text):
            tok = m.group(0)
            if "::" in tok or tok.count(":") == 7:
                try:
                    ipaddress.IPv6Address(tok)
                    out.append((PRIVACY_IP_IN_VALUE, tok, m.start()))
                except ValueError:
                    pass
    out.sort(key=lambda x: x[2])
    return out


_WHAT = {
    PRIVACY_EMAIL_IN_VALUE: "an email address",
    PRIVACY_PHONE_IN_VALUE: "a phone number",
    PRIVACY_CREDIT_CARD_IN_VALUE: "a payment card number",
    PRIVACY_SSN_IN_VALUE: "a US Social Security number",
    PRIVACY_IP_IN_VALUE: "an IP address",
}
#: Keys below the top level that are exempt from the naming convention (the reserved ``address`` trait);
#: the fast path allows them too.
EXEMPT_SUBKEYS = frozenset(("postalCode", "street", "city", "state", "country"))


class PayloadChecks:
    """Naming and privacy settings of one run (the plan's conventions win over rule options)."""

    def __init__(self, ctx: LintContext, plan=None) -> None:
        cfg = ctx.config
        on = ctx.on
        self.safe = ctx.safe  # names can hold personal data: withheld unless --show-values
        conv = plan.conventions if plan is not None else None

        def style(code: str, option: str, planned) -> Style:
            if cfg.has_option(code, option) or planned is None:
                return Style(cfg.option(code, option))
            return planned

        self.event_style = style(NAMING_EVENT_NAME, "style", conv.events if conv else None)
        self.page_style = style(NAMING_EVENT_NAME, "pages", (conv.pages or conv.events) if conv else None)
        self.prop_style = style(NAMING_PROPERTY_NAME, "style", conv.properties if conv else None)
        self.trait_style = style(NAMING_PROPERTY_NAME, "traits", (conv.traits or conv.properties) if conv else None)
        self.exceptions = conv.exceptions if conv else frozenset()
        self.nm_event = on[NAMING_EVENT_NAME]
        self.nm_dyn_event = on[NAMING_DYNAMIC_EVENT_NAME]
        self.nm_key = on[NAMING_PROPERTY_NAME]
        self.nm_dyn_key = on[NAMING_DYNAMIC_PROPERTY_KEY]
        self.pi = {code: on[code] for code in _WHAT}
        self.privacy = any(self.pi.values())
        self.keys = self.nm_key or self.nm_dyn_key
        self._event_cache: dict[tuple[str, Style], tuple[str | None, str | None]] = {}
        self._key_cache: dict[tuple[str, Style, frozenset], tuple[str | None, str | None] | None] = {}
        self._good: dict[Style, set[str]] = {st: set() for st in Style}

    # --- names ------------------------------------------------------------------------------------
    def event_verdict(self, name: str, style: Style) -> tuple[str | None, str | None]:
        """(the name fixed to ``style`` or None when it matches, what makes it dynamic or None); cached.
        The fast path asks this too, so both paths judge a name the same way."""
        key = (name, style)
        v = self._event_cache.get(key)
        if v is None:
            bad_style = None
            if name not in self.exceptions and not matches(name, style):
                bad_style = convert(name, style)
            dyn = dynamic_reason(name)
            if dyn == "a number" and all(
                _ALLOWED_NUMBERS.match(w) or not any(c.isdigit() for c in w) for w in name.split()
            ):
                dyn = None
            v = (bad_style, dyn)
            if len(self._event_cache) > CACHE_MAX:
                self._event_cache.clear()
            self._event_cache[key] = v
        return v

    def _key_verdict(self, key: str, style: Style, reserved: frozenset) -> tuple[str | None, str | None] | None:
        ck = (key, style, reserved)  # reserved matters: firstName is fine as a trait, not as a property
        if ck in self._key_cache:
            return self._key_cache[ck]
        style_ok = key in self.exceptions or matches(key, style)
        bad_style = None if style_ok or key in reserved else convert(key, style)
        dyn = dynamic_reason(key, key=True)
        if dyn == "a number" and _ALLOWED_KEY_NUMBERS.match(key):
            dyn = None
        v = (bad_style, dyn) if (bad_style or dyn) else None
        if style_ok and dyn is None and len(self._good[style]) < CACHE_MAX:
            self._good[style].add(key)  # fine at any depth: skip the verdict next time
        if len(self._key_cache) > CACHE_MAX:
            self._key_cache.clear()
        self._key_cache[ck] = v
        return v

    def check(self, msg: dict[str, Any], t: str, emit, pii_keys: frozenset = frozenset()) -> None:
        reserved: frozenset[str]  # a bare annotation: no run-time cost
        if t == "track" or t == "page" or t == "screen":
            name = msg.get("event") if t == "track" else msg.get("name")
            if isinstance(name, str) and name and (self.nm_event or self.nm_dyn_event):
                style = self.event_style if t == "track" else self.page_style
                bad, dyn = self.event_verdict(name, style)
                where = "$.event" if t == "track" else "$.name"
                kind = "event" if t == "track" else t
                if bad is not None and self.nm_event:
                    shown = self.safe(name)
                    if shown == name:
                        emit(
                            NAMING_EVENT_NAME,
                            where,
                            f"{kind} name {name!r} is not {style.value}; rename it {bad!r}",
                            expected=bad,
                            found=name,
                        )
                    else:
                        emit(
                            NAMING_EVENT_NAME,
                            where,
                            f"{kind} name {shown} is not {style.value}",
                            expected=style.value,
                            found=shown,
                        )
                if dyn is not None and self.nm_dyn_event:
                    emit(
                        NAMING_DYNAMIC_EVENT_NAME,
                        where,
                        f"{kind} name {_quote(self.safe(name))} looks dynamic (it contains {dyn}); "
                        "put the value in a property",
                        expected="a fixed name",
                        found=dyn,
                    )
            field, style, reserved = "properties", self.prop_style, frozenset()
        elif t == "identify" or t == "group":
            field, style = "traits", self.trait_style
            reserved = _IDENTIFY_NAMES if t == "identify" else RESERVED_GROUP_TRAITS
        else:
            return
        body = msg.get(field)
        if type(body) is not dict or not body:
            return
        strings: list[tuple[tuple, str]] = [] if self.privacy else None  # type: ignore[assignment]
        self._walk(body, (field,), style, reserved, emit, strings, pii_keys, 0, [0])
        if strings:
            self._privacy(strings, emit)

    def _walk(
        self, obj: dict, path: tuple, style: Style, reserved: frozenset, emit, strings, pii_keys, depth: int, seen: list
    ) -> None:
        keys = self.keys
        top = depth == 0
        good = self._good[style]
        for key, value in obj.items():
            seen[0] += 1
            if seen[0] > MAX_KEYS:
                return
            if keys and key not in good:
                verdict = self._key_verdict(key, style, reserved if top else EXEMPT_SUBKEYS)
                if verdict is not None:
                    bad, dyn = verdict
                    shown = self.safe(key)
                    where = _jp(path + (key,)) if shown == key else _jp(path) + "[(withheld)]"
                    if bad is not None and self.nm_key:
                        if shown == key:
                            emit(
                                NAMING_PROPERTY_NAME,
                                where,
                                f"key {key!r} is not {style.value}; rename it {bad!r}",
                                expected=bad,
                                found=key,
                            )
                        else:
                            emit(
                                NAMING_PROPERTY_NAME,
                                where,
                                f"a key {shown} is not {style.value}",
                                expected=style.value,
                                found=shown,
                            )
                    if dyn is not None and self.nm_dyn_key:
                        emit(
                            NAMING_DYNAMIC_PROPERTY_KEY,
                            where,
                            f"key {_quote(shown)} looks dynamic (it contains {dyn}); "
                            "use a fixed key and put the value in it",
                            expected="a fixed key",
                            found=dyn,
                        )
            if key in pii_keys or (top and key in reserved):
                continue  # classified personal data, or a reserved trait: expected here
            tv = type(value)
            if tv is str:
                if strings is not None and len(value) >= 6 and "version" not in key:
                    strings.append((path + (key,), value))
            elif tv is dict:
                if depth < MAX_DEPTH:
                    self._walk(value, path + (key,), style, reserved, emit, strings, pii_keys, depth + 1, seen)
            elif tv is list:
                if depth < MAX_DEPTH:
                    for i, item in enumerate(value):
                        ti = type(item)
                        if ti is dict:
                            self._walk(item, path + (key, i), style, reserved, emit, strings, pii_keys, depth + 1, seen)
                        elif ti is str and strings is not None and len(item) >= 6:
                            strings.append((path + (key, i), item))
                        elif ti is int and strings is not None and item > 99_999_999:
                            strings.append((path + (key, i), str(item)))
            elif tv is int and strings is not None and value > 99_999_999 and "id" not in key:
                strings.append((path + (key,), str(value)))

    def _privacy(self, strings: list[tuple[tuple, str]], emit) -> None:
        """One scan of all the payload's strings joined (C speed); the path of a hit is found after."""
        joined = "\n".join([s for _, s in strings])
        hits = detect(joined)
        if not hits:
            return
        starts = []
        pos = 0
        for _, text in strings:
            starts.append(pos)
            pos += len(text) + 1
        import bisect

        done: set[tuple[int, str]] = set()
        for code, match, at in hits:
            if not self.pi[code]:
                continue
            i = bisect.bisect_right(starts, at) - 1
            if (i, code) in done:
                continue
            done.add((i, code))
            emit(
                code,
                _jp(strings[i][0]),
                f"value looks like {_WHAT[code]}; personal data does not belong here "
                "(classify the field with pii: in the plan if it is intended)",
                expected="no personal data",
                found=_WHAT[code],
                value=match,
            )


_IDENTIFY_NAMES = RESERVED_TRAITS | SDK_TRAITS  # trait keys exempt from the naming convention


def _quote(shown: str) -> str:
    return shown if shown.startswith("(") else repr(shown)


def _jp(parts: tuple) -> str:
    from cdp_cli.jsonpath import json_path

    return json_path(parts)
