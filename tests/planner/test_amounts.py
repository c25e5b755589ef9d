"""Minor units are exact per currency exponent and rounded half up at Stripe's 12 places."""

from __future__ import annotations

from decimal import Decimal

from consumer.sync.planning.amounts import canonical_amount, minor_units


def test_currency_exponents() -> None:
    assert minor_units(Decimal("1200.00"), "usd") == "120000"
    assert minor_units(Decimal("1200"), "JPY") == "1200"
    assert minor_units(Decimal("1.234"), "kwd") == "1234"
    assert minor_units(Decimal("0.000001"), "eur") == "0.0001"


def test_division_rounds_half_up_at_twelve_places() -> None:
    assert minor_units(Decimal("1000"), "usd", divide_by=3) == "33333.333333333333"
    assert minor_units(Decimal("0.05"), "usd", divide_by=12) == "0.416666666667"
    assert minor_units(Decimal("0.000000000000005"), "usd") == "0.000000000001"


def test_equal_amounts_compare_equal_whatever_their_spelling() -> None:
    assert canonical_amount("120000") == canonical_amount("120000.000") == canonical_amount(120000)
