"""Minor units are exact per currency exponent and rounded half up at Stripe's 12 places."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st

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


def test_tiny_negative_zero_and_huge_amounts_are_plain_canonical_text() -> None:
    # The quantized result is written without the generic formatter; these are its edges.
    assert minor_units(Decimal("0.00000001"), "jpy", divide_by=12) == "0.000000000833"
    assert minor_units(Decimal("-0.000000001"), "usd") == "-0.0000001"
    assert minor_units(Decimal("-0"), "usd") == "0"
    assert minor_units(Decimal("0E+5"), "usd", divide_by=7) == "0"
    assert minor_units(Decimal("1E+20"), "usd") == "10000000000000000000000"
    assert minor_units(Decimal("12.5"), "usd", divide_by=1) == "1250"


amounts = st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15)


@given(amounts, st.sampled_from(["usd", "jpy", "kwd"]), st.sampled_from([1, 3, 7, 12, 36]))
def test_minor_units_is_the_exact_half_up_quotient(amount: Decimal, currency: str, by: int) -> None:
    exponent = {"usd": 2, "jpy": 0, "kwd": 3}[currency]
    with localcontext(Context(prec=80, rounding=ROUND_HALF_UP)):
        expected = (amount.scaleb(exponent) / by).quantize(Decimal("1e-12"))
    text = minor_units(amount, currency, divide_by=by)
    assert Decimal(text) == expected
    assert "E" not in text  # never an exponent
    assert "." not in text or not text.endswith(("0", "."))  # no trailing fractional zeros
