"""Personal-data classes and the key-name matcher.

The plan's ``pii:`` classification names one of :data:`PII_CLASSES`. :func:`classify_key` guesses a
class from a property name (Segment Privacy Portal style: matching on keys, not values). It is
deliberately conservative: a bare ``name`` (a product's name) is not personal data, ``first_name`` is.
"""

from __future__ import annotations

from functools import lru_cache

from cdp_cli.naming import split_words

PII_CLASSES = (
    "email",
    "phone",
    "name",
    "address",
    "postal_code",
    "birthdate",
    "ip",
    "device_id",
    "user_id",
    "location",
    "ssn",
    "credit_card",
    "password",
    "government_id",
    "other",
    "none",
)

# (words that must all appear, in order and adjacent) -> class. Checked longest first.
_KEY_RULES: list[tuple[tuple[str, ...], str]] = [
    (("email",), "email"),
    (("e", "mail"), "email"),
    (("emailaddress",), "email"),
    (("phone",), "phone"),
    (("telephone",), "phone"),
    (("mobile", "number"), "phone"),
    (("msisdn",), "phone"),
    (("phonenumber",), "phone"),
    (("ssn",), "ssn"),
    (("social", "security"), "ssn"),
    (("password",), "password"),
    (("passwd",), "password"),
    (("secret",), "password"),
    (("access", "token"), "password"),
    (("auth", "token"), "password"),
    (("api", "key"), "password"),
    (("credit", "card"), "credit_card"),
    (("card", "number"), "credit_card"),
    (("cc", "number"), "credit_card"),
    (("cvv",), "credit_card"),
    (("cvc",), "credit_card"),
    (("iban",), "credit_card"),
    (("first", "name"), "name"),
    (("last", "name"), "name"),
    (("full", "name"), "name"),
    (("middle", "name"), "name"),
    (("given", "name"), "name"),
    (("family", "name"), "name"),
    (("firstname",), "name"),
    (("lastname",), "name"),
    (("fullname",), "name"),
    (("surname",), "name"),
    (("ip",), "ip"),
    (("ipv4",), "ip"),
    (("ipv6",), "ip"),
    (("street",), "address"),
    (("address",), "address"),
    (("postal", "code"), "postal_code"),
    (("zip",), "postal_code"),
    (("zipcode",), "postal_code"),
    (("postcode",), "postal_code"),
    (("birthday",), "birthdate"),
    (("birthdate",), "birthdate"),
    (("dob",), "birthdate"),
    (("date", "of", "birth"), "birthdate"),
    (("birth", "date"), "birthdate"),
    (("passport",), "government_id"),
    (("national", "id"), "government_id"),
    (("tax", "id"), "government_id"),
    (("drivers", "license"), "government_id"),
    (("latitude",), "location"),
    (("longitude",), "location"),
    (("user", "id"), "user_id"),
    (("userid",), "user_id"),
    (("username",), "user_id"),
    (("user", "name"), "user_id"),
    (("customer", "id"), "user_id"),
    (("member", "id"), "user_id"),
    (("device", "id"), "device_id"),
    (("deviceid",), "device_id"),
    (("advertising", "id"), "device_id"),
    (("idfa",), "device_id"),
    (("idfv",), "device_id"),
    (("gaid",), "device_id"),
    (("adid",), "device_id"),
    (("anonymous", "id"), "device_id"),
    (("customer", "name"), "name"),
    (("cardholder", "name"), "name"),
    (("cardholder",), "name"),
    (("recipient", "name"), "name"),
    (("contact", "name"), "name"),
    (("billing", "name"), "name"),
]
_BY_LENGTH: dict[int, dict[tuple[str, ...], str]] = {}
for _needle, _cls in _KEY_RULES:
    _BY_LENGTH.setdefault(len(_needle), {})[_needle] = _cls
_LENGTHS = sorted(_BY_LENGTH, reverse=True)  # longest match first: "date of birth" before "date"
_NOT_ADDRESS_AFTER = frozenset(("ip", "email", "e", "mac", "wallet"))
# "email_verified", "email_opt_in", "password_changed", "api_key_id", "zip_file": a fact about the
# data, not the data itself. Applies when such a word ends the name after the match.
_METADATA = frozenset(
    (
        "type",
        "count",
        "length",
        "prefix",
        "hint",
        "set",
        "enabled",
        "changed",
        "updated",
        "created",
        "reset",
        "expired",
        "expires",
        "policy",
        "strength",
        "required",
        "verified",
        "confirmed",
        "valid",
        "validated",
        "opt",
        "in",
        "out",
        "optin",
        "optout",
        "consent",
        "subscribed",
        "unsubscribed",
        "status",
        "sent",
        "opened",
        "clicked",
        "bounced",
        "delivered",
        "provided",
        "present",
        "exists",
        "missing",
        "file",
        "files",
        "archive",
        "format",
        "template",
        "campaign",
        "frequency",
        "preference",
        "preferences",
        "domain",
        "provider",
        "country",
        "hash",
    )
)
# For secrets, an id or name also describes the secret rather than being it ("api_key_id").
_SECRET_METADATA = _METADATA | {"id", "ids", "name", "at", "date"}


@lru_cache(maxsize=65536)
def classify_key(name: str) -> str | None:
    """The PII class a property name suggests, or None. ``ip_address`` is ``ip``, not ``address``."""
    words = tuple(w.lower() for w in split_words(name))
    for n in _LENGTHS:
        table = _BY_LENGTH[n]
        for i in range(len(words) - n + 1):
            cls = table.get(words[i : i + n])
            if cls is None:
                continue
            if cls == "address" and i > 0 and words[i - 1] in _NOT_ADDRESS_AFTER:
                continue
            if i + n < len(words) and words[-1] in (
                _SECRET_METADATA if cls in ("password", "credit_card") else _METADATA
            ):
                if not (cls == "password" and words[-1] == "hash"):  # a password hash is still secret
                    continue
            return cls
    return None


# --- the one redaction rule -----------------------------------------------------------------------
_WITHHELD = "(withheld: it contains personal data)"
_LOOSE_DIGITS = None


def personal_data_in(text: str) -> str | None:
    """What personal data a name or identifier from the data holds (an email address, a phone
    number, a payment card number, ...), or None. Stricter than the PI rules about where a value may
    sit: ``card_4111111111111111`` and ``ada@example.com-retry-2`` count too, since names and
    identifiers are printed in every report."""
    import re

    from cdp_cli.lint.payload import _CARD_PREFIX, detect, luhn

    if not text:
        return None
    found = detect(text)
    if found:
        return found[0][0]
    global _LOOSE_DIGITS
    if _LOOSE_DIGITS is None:
        _LOOSE_DIGITS = (
            re.compile(r"\d(?:[ -]?\d){12,18}"),
            re.compile(r"\+[1-9]\d{7,14}"),
            re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"),
        )
    cards, phones, emails = _LOOSE_DIGITS
    if "@" in text and emails.search(text):
        return "PI001"
    for m in cards.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        for n in range(len(digits), 12, -1):  # a card number inside a longer digit run
            for i in range(len(digits) - n + 1):
                d = digits[i : i + n]
                if _CARD_PREFIX.match(d) and luhn(d):
                    return "PI003"
    if "+" in text and phones.search(text):
        return "PI002"
    return None


def withhold(text: str, show_values: bool = False) -> str:
    """``text`` as it may be printed: itself, or a placeholder when it holds personal data (unless
    the user asked for values with --show-values). Every reporter prints names and identifiers
    from event data through this."""
    if show_values or personal_data_in(text) is None:
        return text
    return _WITHHELD
