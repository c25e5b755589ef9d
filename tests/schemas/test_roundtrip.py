"""Every record type survives encode -> decode unchanged, in both wire formats."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.catalog import bundled_catalog
from schemas.codec import DecodeFailure, SchemaDecodeError
from schemas.models import RECORD_TYPES, AvroRecord, ChangeEvent, SyncResult
from schemas.registry import subject_for
from tests.schemas.conftest import WIRE_FORMATS, make_codec
from tests.schemas.samples import order_change_event
from tests.schemas.strategies import STRATEGIES

# Built once: hypothesis runs each test body many times and must not share
# function-scoped fixtures between examples.
CODECS = {wire_format: make_codec(wire_format) for wire_format in WIRE_FORMATS}


@pytest.mark.parametrize("wire_format", WIRE_FORMATS)
@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_record_round_trips(
    wire_format: str, record_type: type[AvroRecord], data: st.DataObject
) -> None:
    codec, _ = CODECS[wire_format]
    record = data.draw(STRATEGIES[record_type])

    decoded = codec.decode(codec.encode(record, "roundtrip.topic"), "roundtrip.topic")

    assert type(decoded) is record_type
    assert decoded == record


def test_single_object_framing_names_the_current_schema_fingerprint() -> None:
    codec, _ = CODECS["single-object"]
    event = order_change_event()

    value = codec.encode(event, "cpqsync.sf.order")

    fingerprint = bundled_catalog().current("cpqsync.ChangeEvent").fingerprint
    assert value[:10] == b"\xc3\x01" + fingerprint
    assert not codec.uses_registry


def test_confluent_framing_registers_under_the_topic_subject() -> None:
    codec, client = CODECS["confluent"]
    assert client is not None
    event = order_change_event()

    value = codec.encode(event, "cpqsync.sf.order")

    registered = client.get_latest_version(subject_for("cpqsync.sf.order"))
    assert value[0] == 0
    assert int.from_bytes(value[1:5], "big") == registered.schema_id
    assert "ChangeEvent" in registered.schema.schema_str
    assert codec.uses_registry


def test_confluent_codec_still_reads_single_object_values_already_on_a_topic() -> None:
    plain, _ = CODECS["single-object"]
    with_registry, _ = CODECS["confluent"]
    event = order_change_event()

    assert with_registry.decode(plain.encode(event, "t"), "t") == event


def test_a_second_codec_on_the_same_registry_reads_the_first_ones_values() -> None:
    """Ids come from the registry, not from process memory."""
    writer, client = make_codec("confluent")
    reader_codec = type(writer)(registry_client=client)
    event = order_change_event()

    assert reader_codec.decode(writer.encode(event, "shared.topic"), "shared.topic") == event


def test_decode_as_gives_the_typed_record_or_names_the_mix_up() -> None:
    codec, _ = CODECS["single-object"]
    event = order_change_event()
    value = codec.encode(event, "cpqsync.sf.order")

    assert codec.decode_as(value, "cpqsync.sf.order", ChangeEvent).record_id == event.record_id
    with pytest.raises(SchemaDecodeError) as caught:
        codec.decode_as(value, "cpqsync.sync.results", SyncResult)
    assert caught.value.kind is DecodeFailure.UNKNOWN_SCHEMA
    assert "expected a cpqsync.SyncResult, found a cpqsync.ChangeEvent" in str(caught.value)


def test_settings_choose_the_wire_format() -> None:
    from cpqsync.settings import KafkaSettings
    from schemas.codec import Codec

    assert not Codec.from_settings(KafkaSettings()).uses_registry
    with_registry = Codec.from_settings(KafkaSettings(schema_registry_url="mock://settings"))
    assert with_registry.encode(order_change_event(), "t")[0] == 0
