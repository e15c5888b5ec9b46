from __future__ import annotations

import pytest

from cdp_cli.naming import convert, matches, normalize
from cdp_cli.pii import classify_key


@pytest.mark.parametrize(
    "name,style,ok",
    [
        ("Order Completed", "title_case", True),
        ("Product Added to Wishlist", "title_case", True),
        ("API Key Created", "title_case", True),
        ("Checkout Step 2 Viewed", "title_case", True),
        ("order completed", "title_case", False),
        ("Order  Completed", "title_case", False),
        ("to Order", "title_case", False),  # a small word cannot lead
        ("Order_Completed", "title_case", False),
        ("order_id", "snake_case", True),
        ("order_id_2", "snake_case", True),
        ("orderId", "snake_case", False),
        ("order__id", "snake_case", False),
        ("orderId", "camel_case", True),
        ("OrderId", "camel_case", False),
        ("OrderCompleted", "pascal_case", True),
        ("order-completed", "kebab_case", True),
        ("anything goes!", "any", True),
        ("Commande Passée", "title_case", True),
        ("Über Viewed", "title_case", True),
        ("注文 完了", "title_case", True),
        ("OrderCompleted", "title_case", False),  # PascalCase is not a Title Case word
        ("Sign-In Completed", "title_case", True),
        ("naïve_total", "snake_case", True),
        ("_total", "snake_case", False),
        ("total_", "snake_case", False),
    ],
)
def test_styles(name: str, style: str, ok: bool) -> None:
    assert matches(name, style) is ok


@pytest.mark.parametrize(
    "name,style,expected",
    [
        ("order completed", "title_case", "Order Completed"),
        ("product_added_to_wishlist", "title_case", "Product Added to Wishlist"),
        ("orderCompleted", "snake_case", "order_completed"),
        ("Order Completed", "camel_case", "orderCompleted"),
        ("order_id", "pascal_case", "OrderId"),
        ("HTTPStatus", "snake_case", "http_status"),
        ("commande passée", "title_case", "Commande Passée"),
        ("OrderCompleted", "title_case", "Order Completed"),
        ("prixÉtiquette", "snake_case", "prix_étiquette"),
    ],
)
def test_convert(name: str, style: str, expected: str) -> None:
    assert convert(name, style) == expected
    assert matches(expected, style)


def test_normalize_collides_case_spacing_separators() -> None:
    assert (
        normalize("Order Completed")
        == normalize("order_completed")
        == normalize("OrderCompleted")
        == normalize("order-completed")
    )


@pytest.mark.parametrize(
    "name,cls",
    [
        ("email", "email"),
        ("user_email", "email"),
        ("emailAddress", "email"),
        ("ip_address", "ip"),
        ("ipAddress", "ip"),
        ("street_address", "address"),
        ("shipping_address", "address"),
        ("firstName", "name"),
        ("last_name", "name"),
        ("phone_number", "phone"),
        ("ssn", "ssn"),
        ("creditCardNumber", "credit_card"),
        ("date_of_birth", "birthdate"),
        ("zip", "postal_code"),
        ("password", "password"),
        ("access_token", "password"),
        ("password_hash", "password"),
        ("name", None),
        ("product_name", None),
        ("coupon", None),
        ("description", None),
        ("api_key_id", None),
        ("password_changed", None),
        ("access_token_expires", None),
        ("userId", "user_id"),
        ("inviter_user_id", "user_id"),
        ("username", "user_id"),
        ("device_id", "device_id"),
        ("advertisingId", "device_id"),
        ("customerName", "name"),
        ("cardholder_name", "name"),
        ("emailVerified", None),
        ("email_opt_in", None),
        ("zip_file", None),
        ("user_count", None),
    ],
)
def test_classify_key(name: str, cls: str | None) -> None:
    assert classify_key(name) == cls
