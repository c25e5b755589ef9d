"""Decoding real-shaped Salesforce payloads into per-record ChangeEvents."""

from __future__ import annotations

import copy
import json

import pytest

from producer_bridge.cdc_decoder import ChangeEventDecodeError, ChangeEventDecoder, RawEvent
from schemas.models import ChangeType
from tests.bridge.sample_events import DictSchemas, account_schema, bitmap, encode, header

CHANNEL = "/data/AccountChangeEvent"


def decoder_for(*schemas: tuple[str, dict]) -> tuple[ChangeEventDecoder, DictSchemas]:
    source = DictSchemas(dict(schemas))
    return ChangeEventDecoder(source, org_id="00D000000000001AAA"), source


def test_update_names_changed_fields_and_carries_their_values() -> None:
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    payload = encode(
        schema,
        {
            "ChangeEventHeader": header(
                changedFields=[bitmap(5, 7, 23), "5-0x02"], nulledFields=[bitmap(10)]
            ),
            "Phone": "+1 555 0100",
            "BillingAddress": {"City": "Lyon"},
            "LastModifiedDate": 1_700_000_000_000,
        },
    )
    [event] = decoder.decode(RawEvent("s1", payload, b"\x01\x02"), CHANNEL)
    assert event.object_type == "Account"
    assert event.record_id == "001000000000001AAA"
    assert event.change_type is ChangeType.UPDATE
    assert event.changed_fields == [
        "BillingAddress",
        "Phone",
        "LastModifiedDate",
        "BillingAddress.City",
    ]
    assert event.nulled_fields == ["Website"]
    assert event.value("Phone") == "+1 555 0100"
    assert event.value("BillingAddress") == {"City": "Lyon"}
    assert event.value("Website") is None
    assert "Fax" not in event.values
    assert event.replay_id == b"\x01\x02"
    assert event.channel == CHANNEL
    assert event.org_id == "00D000000000001AAA"
    assert event.commit_timestamp.isoformat() == "2023-11-14T22:13:20.123000+00:00"
    assert event.transaction_key == "0001-tx" and event.sequence_number == 1
    assert event.commit_number == 1234567


def test_person_name_union_with_a_record_decodes() -> None:
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    payload = encode(
        schema,
        {
            "ChangeEventHeader": header(changeType="CREATE", changedFields=[bitmap(1)]),
            "Name": {"FirstName": "Ada", "LastName": "Lovelace"},
        },
    )
    [event] = decoder.decode(RawEvent("s1", payload, b"r"), CHANNEL)
    assert event.change_type is ChangeType.CREATE
    assert event.value("Name") == {"FirstName": "Ada", "LastName": "Lovelace"}


def test_event_naming_several_records_becomes_one_event_per_record() -> None:
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    ids = ["001000000000001AAA", "001000000000002AAA", "001000000000003AAA"]
    payload = encode(
        schema,
        {
            "ChangeEventHeader": header(recordIds=ids, changedFields=[bitmap(12)]),
            "Industry": "Energy",
        },
    )
    events = decoder.decode(RawEvent("s1", payload, b"r"), CHANNEL)
    assert [e.record_id for e in events] == ids
    assert all(e.changed_fields == ["Industry"] and e.value("Industry") == "Energy" for e in events)


def test_gap_events_pass_through_flagged_without_values() -> None:
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    payload = encode(
        schema,
        {"ChangeEventHeader": header(changeType="GAP_UPDATE", recordIds=["001000000000009AAA"])},
    )
    [event] = decoder.decode(RawEvent("s1", payload, b"r"), CHANNEL)
    assert event.change_type is ChangeType.GAP_UPDATE
    assert event.change_type.is_gap
    assert event.record_id == "001000000000009AAA"
    assert event.values == {} and event.changed_fields == []


def test_gap_overflow_becomes_one_entity_wide_event() -> None:
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    payload = encode(schema, {"ChangeEventHeader": header(changeType="GAP_OVERFLOW", recordIds=[])})
    [event] = decoder.decode(RawEvent("s1", payload, b"r"), CHANNEL)
    assert event.change_type is ChangeType.GAP_OVERFLOW
    assert event.record_id == ""
    assert event.is_entity_wide
    assert event.object_type == "Account"


def test_new_schema_id_is_fetched_once_and_its_new_field_decoded() -> None:
    old = account_schema()
    new = copy.deepcopy(old)
    new["fields"].append({"name": "Tier__c", "type": ["null", "string"], "default": None})
    decoder, source = decoder_for(("old", old), ("new", new))
    first = encode(old, {"ChangeEventHeader": header(changedFields=[bitmap(7)]), "Phone": "1"})
    second = encode(
        new, {"ChangeEventHeader": header(changedFields=[bitmap(86)]), "Tier__c": "Gold"}
    )
    decoder.decode(RawEvent("old", first, b"1"), CHANNEL)
    decoder.decode(RawEvent("old", first, b"2"), CHANNEL)
    [event] = decoder.decode(RawEvent("new", second, b"3"), CHANNEL)
    decoder.decode(RawEvent("new", second, b"4"), CHANNEL)
    assert event.changed_fields == ["Tier__c"]
    assert event.value("Tier__c") == "Gold"
    assert source.fetches == ["old", "new"]


def test_truncated_payload_is_a_decode_error() -> None:
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    payload = encode(schema, {"ChangeEventHeader": header(), "Phone": "+1"})
    with pytest.raises(ChangeEventDecodeError, match="does not match schema s1"):
        decoder.decode(RawEvent("s1", payload[:20], b"r"), CHANNEL)


def test_bitmap_that_does_not_fit_the_schema_is_a_decode_error() -> None:
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    payload = encode(schema, {"ChangeEventHeader": header(changedFields=[bitmap(90)])})
    with pytest.raises(ChangeEventDecodeError, match="marks field 90"):
        decoder.decode(RawEvent("s1", payload, b"r"), CHANNEL)


def test_events_survive_the_codec_round_trip_shape() -> None:
    """model_construct skips validation, so check a decoded event validates as a ChangeEvent."""
    schema = account_schema()
    decoder, _ = decoder_for(("s1", schema))
    payload = encode(
        schema,
        {"ChangeEventHeader": header(changedFields=[bitmap(13)]), "AnnualRevenue": 12.5},
    )
    [event] = decoder.decode(RawEvent("s1", payload, b"r"), CHANNEL)
    revalidated = type(event).model_validate(event.model_dump())
    assert revalidated == event
    assert json.loads(revalidated.values["AnnualRevenue"]) == 12.5
