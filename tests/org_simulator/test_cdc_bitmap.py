"""changedFields / nulledFields bitmaps, checked with a decoder written here from the spec's rules
(element 0: big-endian hex, bit i = top-level field i; "N-0xHH": bit j = field j of compound N)."""

from __future__ import annotations

import json
from typing import Any

from cpqsync_sandbox.org.cdc.bitmap import encode_bitmap
from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
from cpqsync_sandbox.org.pubsub.bus import EventBus
from cpqsync_sandbox.org.schema import OBJECTS
from tests.org_simulator.cdc_support import Txn, account_id, decode


def set_bits(hex_text: str) -> list[int]:
    assert hex_text.startswith("0x"), hex_text
    digits = hex_text[2:]
    assert digits == digits.upper() and len(digits) % 2 == 0, f"not upper-case even hex: {hex_text}"
    value = int(digits, 16)
    return [i for i in range(value.bit_length()) if value >> i & 1]


def named_records(schema: Any, found: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            found.setdefault(schema["name"], schema)
        for value in schema.values():
            named_records(value, found)
    elif isinstance(schema, list):
        for value in schema:
            named_records(value, found)
    return found


def decode_bitmap(schema: dict[str, Any], bitmap: list[str]) -> set[str]:
    records = named_records(schema, {})
    fields = schema["fields"]
    names: set[str] = set()
    for element in bitmap:
        if element.startswith("0x"):
            names.update(fields[i]["name"] for i in set_bits(element))
            continue
        index, hex_text = element.split("-", 1)
        parent = fields[int(index)]
        (member,) = [t for t in parent["type"] if t != "null"]
        record = records[member] if isinstance(member, str) else member
        names.update(f"{parent['name']}.{record['fields'][j]['name']}" for j in set_bits(hex_text))
    return names


def test_spec_example_bits_round_trip() -> None:
    assert set_bits("0x650004E0") == [5, 6, 7, 10, 24, 26, 29, 30]
    assert encode_bitmap([5, 6, 7, 10, 24, 26, 29, 30], {}) == ["0x650004E0"]


def test_hex_is_upper_case_even_length_and_compounds_follow_by_index() -> None:
    assert encode_bitmap([4], {}) == ["0x10"]
    assert encode_bitmap([8], {}) == ["0x0100"]
    assert encode_bitmap([1, 3], {7: [1, 2], 4: [4]}) == ["0x0A", "4-0x10", "7-0x06"]
    assert encode_bitmap([], {}) == []


def _account_update(values: dict[str, Any], nulled: list[str] | None = None) -> dict[str, Any]:
    bus = EventBus()
    publisher = ChangePublisher(bus, OBJECTS)
    txn = Txn().add("Account", "UPDATE", account_id(1), values, nulled=nulled)
    publisher.on_change(txn.batch())
    (event,) = bus.events_after("/data/AccountChangeEvent", 0, 10)
    schema = publisher.schema("Account")
    assert event.schema_id == schema.schema_id
    record = decode(schema.schema_json, event.payload)
    record["__schema__"] = json.loads(schema.schema_json)
    return record


def test_update_of_three_fields_and_billing_city_decodes_to_exactly_those() -> None:
    record = _account_update(
        {
            "Name": "Acme GmbH",
            "Phone": "+49 30 1234",
            "Website": "https://acme.example",
            "BillingCity": "Berlin",
        }
    )
    header = record["ChangeEventHeader"]
    assert decode_bitmap(record["__schema__"], header["changedFields"]) == {
        "Name",
        "Phone",
        "Website",
        "BillingAddress.City",
    }
    assert header["nulledFields"] == [] and header["diffFields"] == []
    assert record["Name"] == "Acme GmbH" and record["Website"] == "https://acme.example"
    assert record["BillingAddress"]["City"] == "Berlin"
    assert record["BillingAddress"]["Street"] is None
    assert record["Industry"] is None and record["ShippingAddress"] is None


def test_nulled_fields_mark_real_nulls_including_address_components() -> None:
    record = _account_update(
        {"Phone": None, "BillingStreet": None, "Industry": "Retail"},
        nulled=["Phone", "BillingStreet"],
    )
    header = record["ChangeEventHeader"]
    schema = record["__schema__"]
    assert decode_bitmap(schema, header["nulledFields"]) == {"Phone", "BillingAddress.Street"}
    assert decode_bitmap(schema, header["changedFields"]) == {
        "Phone",
        "BillingAddress.Street",
        "Industry",
    }


def test_fields_change_events_do_not_carry_are_left_out_of_the_bitmap() -> None:
    record = _account_update({"Industry": "Retail", "SystemModstamp": None, "Id": account_id(1)})
    assert decode_bitmap(record["__schema__"], record["ChangeEventHeader"]["changedFields"]) == {
        "Industry"
    }
