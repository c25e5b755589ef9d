"""Bitmap decoding against the real captured AccountChangeEvent schema."""

from __future__ import annotations

import pytest

from producer_bridge.field_bitmap import BitmapError, FieldLayout
from tests.bridge.sample_events import account_schema, bitmap


@pytest.fixture(scope="module")
def layout() -> FieldLayout:
    return FieldLayout.of(account_schema())


def test_spec_example_names_fields_5_6_7_10_24_26_29_30(layout: FieldLayout) -> None:
    assert layout.decode(["0x650004E0"]) == [
        "BillingAddress",
        "ShippingAddress",
        "Phone",
        "Website",
        "LastModifiedById",
        "PersonMailingAddress",
        "PersonHomePhone",
        "PersonOtherPhone",
    ]


def test_compound_sub_fields_are_dotted_including_types_referenced_by_name(
    layout: FieldLayout,
) -> None:
    # ShippingAddress (6) only refers to "Address", defined inline at BillingAddress (5).
    names = layout.decode([bitmap(5, 6, 23), "5-0x02", "6-0x12", "1-0x06"])
    assert names == [
        "BillingAddress",
        "ShippingAddress",
        "LastModifiedDate",
        "BillingAddress.City",
        "ShippingAddress.City",
        "ShippingAddress.Country",
        "Name.FirstName",
        "Name.LastName",
    ]


def test_high_positions_use_the_whole_hex_integer(layout: FieldLayout) -> None:
    assert layout.decode([bitmap(85, 0)]) == ["ChangeEventHeader", "GUID__pc"]


def test_empty_bitmaps_name_nothing(layout: FieldLayout) -> None:
    assert layout.decode([]) == []
    assert layout.decode(["0x00"]) == []


def test_bit_past_the_schema_is_rejected_with_the_entry(layout: FieldLayout) -> None:
    with pytest.raises(BitmapError, match="marks field 86, but the schema has only 86"):
        layout.decode([bitmap(86)])


def test_sub_field_bitmap_on_a_plain_field_is_rejected(layout: FieldLayout) -> None:
    with pytest.raises(BitmapError, match="not a compound field"):
        layout.decode(["7-0x01"])


def test_sub_field_bit_past_the_compound_is_rejected(layout: FieldLayout) -> None:
    with pytest.raises(BitmapError, match="only 10"):
        layout.decode([f"5-{bitmap(10)}"])


def test_non_hex_bitmap_is_rejected(layout: FieldLayout) -> None:
    with pytest.raises(BitmapError, match="not hexadecimal"):
        layout.decode(["0xZZ"])


def test_names_already_given_pass_through(layout: FieldLayout) -> None:
    assert layout.decode(["Description"]) == ["Description"]
