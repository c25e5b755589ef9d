"""Bad bytes always raise SchemaDecodeError with the right kind, and nothing else."""

from __future__ import annotations

import json
from io import BytesIO

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from cpqsync_sandbox.net import free_port
from schemas.catalog import bundled_catalog
from schemas.codec import Codec, DecodeFailure, SchemaDecodeError
from schemas.models import RECORD_TYPES, AvroRecord, SyncResult, SyncStatus
from tests.schemas.conftest import make_codec
from tests.schemas.samples import order_change_event
from tests.schemas.strategies import STRATEGIES

SINGLE, _ = make_codec("single-object")
CONFLUENT, CLIENT = make_codec("confluent")
TOPIC = "corrupt.topic"
EVENT_BYTES = SINGLE.encode(order_change_event(), TOPIC)


def decode_failure(codec: Codec, data: bytes | None) -> SchemaDecodeError:
    with pytest.raises(SchemaDecodeError) as caught:
        codec.decode(data, TOPIC)
    return caught.value


def single_object(record_name: str, fields: dict[str, object]) -> bytes:
    """A value written by hand with the current schema, bypassing model validation."""
    version = bundled_catalog().current(record_name)
    body = BytesIO()
    schemaless_writer(body, version.parsed, fields)
    return b"\xc3\x01" + version.fingerprint + body.getvalue()


@pytest.mark.parametrize("empty", [b"", None])
def test_empty_value(empty: bytes | None) -> None:
    error = decode_failure(SINGLE, empty)
    assert error.kind is DecodeFailure.EMPTY
    assert "EMPTY" in str(error) and TOPIC in str(error)


@pytest.mark.parametrize(
    "data",
    [b'{"json": true}', b"\x01" + EVENT_BYTES[1:], b"\xc3\x02" + EVENT_BYTES[2:], b"\xc3\x00"],
)
def test_wrong_marker(data: bytes) -> None:
    error = decode_failure(SINGLE, data)
    assert error.kind is DecodeFailure.WRONG_MARKER
    assert "WRONG_MARKER" in str(error)


def test_unknown_fingerprint_names_it() -> None:
    data = b"\xc3\x01" + bytes.fromhex("0123456789abcdef") + EVENT_BYTES[10:]
    error = decode_failure(SINGLE, data)
    assert error.kind is DecodeFailure.UNKNOWN_SCHEMA
    assert "0123456789abcdef" in str(error)


@pytest.mark.parametrize("wire_format", ["single-object", "confluent"])
@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=5, deadline=None)
@given(data=st.data())
def test_every_truncation_is_reported_as_truncated(
    wire_format: str, record_type: type[AvroRecord], data: st.DataObject
) -> None:
    codec = SINGLE if wire_format == "single-object" else CONFLUENT
    value = codec.encode(data.draw(STRATEGIES[record_type]), TOPIC)
    for length in range(1, len(value)):
        error = decode_failure(codec, value[:length])
        assert error.kind is DecodeFailure.TRUNCATED, (length, str(error))


def test_trailing_bytes_are_malformed() -> None:
    error = decode_failure(SINGLE, EVENT_BYTES + b"\x00")
    assert error.kind is DecodeFailure.MALFORMED
    assert "1 unexpected bytes" in str(error)


def test_invalid_utf8_in_a_string_is_malformed() -> None:
    # object_type is the first field: a 2-byte string (zigzag length 4) of invalid UTF-8.
    data = EVENT_BYTES[:10] + b"\x04\xff\xfe" + EVENT_BYTES[10 + 6 :]
    error = decode_failure(SINGLE, data)
    assert error.kind is DecodeFailure.MALFORMED


def test_enum_index_out_of_range_is_malformed() -> None:
    result = SyncResult(
        result_id="r",
        primary_record_id="p",
        primary_object_type="Order",
        status=SyncStatus.SKIPPED,
        message="m",
        duration_ms=1.0,
    )
    value = bytearray(SINGLE.encode(result, TOPIC))
    # Header, "r", "p", "Order", two null unions, then status: Skipped is index 2 (zigzag 4).
    status_at = 10 + 2 + 2 + 6 + 1 + 1
    assert value[status_at] == 4
    value[status_at] = 40
    error = decode_failure(SINGLE, bytes(value))
    assert error.kind is DecodeFailure.MALFORMED


def test_values_the_model_refuses_are_malformed_not_a_partial_record() -> None:
    """Valid Avro from a foreign producer can still break the model (attempt 0)."""
    data = single_object(
        "cpqsync.DeadLetter",
        {
            "origin_topic": "t",
            "origin_partition": -5,
            "origin_offset": 1,
            "error_class": "E",
            "error_message": "m",
            "first_failed_at": 0,
            "attempts": 0,
        },
    )
    error = decode_failure(SINGLE, data)
    assert error.kind is DecodeFailure.MALFORMED
    assert "origin_partition" in str(error) and "attempts" in str(error)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    for codec in (SINGLE, CONFLUENT):
        try:
            codec.decode(data, TOPIC)
        except SchemaDecodeError:
            continue
        raise AssertionError(f"decoded random bytes {data!r}")


@settings(max_examples=300, deadline=None)
@given(record_type=st.sampled_from(RECORD_TYPES), body=st.binary(max_size=300))
def test_random_body_behind_a_valid_header_is_an_error_or_a_whole_record(
    record_type: type[AvroRecord], body: bytes
) -> None:
    header = b"\xc3\x01" + bundled_catalog().current_for(record_type).fingerprint
    try:
        record = SINGLE.decode(header + body, TOPIC)
    except SchemaDecodeError as error:
        assert error.kind in (DecodeFailure.TRUNCATED, DecodeFailure.MALFORMED)
        return
    # Bytes that happen to be a valid record must give the whole record, every field set.
    assert type(record) is record_type
    assert record_type.model_validate(record.model_dump()) == record


def test_confluent_unknown_schema_id() -> None:
    error = decode_failure(CONFLUENT, b"\x00\x00\x00\x30\x39" + EVENT_BYTES[10:])
    assert error.kind is DecodeFailure.UNKNOWN_SCHEMA
    assert "12345" in str(error)


def test_confluent_value_without_a_configured_registry() -> None:
    value = CONFLUENT.encode(order_change_event(), TOPIC)
    error = decode_failure(SINGLE, value)
    assert error.kind is DecodeFailure.UNKNOWN_SCHEMA
    assert "schema_registry_url" in str(error)


def test_confluent_id_of_a_foreign_record_is_unknown() -> None:
    assert CLIENT is not None
    foreign = {"type": "record", "name": "Invoice", "namespace": "com.example", "fields": []}
    schema_id = CLIENT.register_schema("other-value", Schema(json.dumps(foreign), "AVRO"))
    error = decode_failure(CONFLUENT, b"\x00" + schema_id.to_bytes(4, "big"))
    assert error.kind is DecodeFailure.UNKNOWN_SCHEMA
    assert "com.example.Invoice" in str(error)


def test_unreachable_registry_is_retryable_not_bad_data() -> None:
    client = SchemaRegistryClient(
        {"url": f"http://127.0.0.1:{free_port()}", "max.retries": 0, "timeout": 2}
    )
    codec = Codec(registry_client=client)
    error = decode_failure(codec, b"\x00\x00\x00\x00\x07" + EVENT_BYTES[10:])
    assert error.kind is DecodeFailure.REGISTRY_UNAVAILABLE
    assert error.retryable
    assert not decode_failure(SINGLE, b"").retryable
