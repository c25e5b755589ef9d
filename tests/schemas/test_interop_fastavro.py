"""Other Avro tools can read our topics with nothing but the .avsc files.

The reading side here uses only the standard library, fastavro and the schema
file, and computes the CRC-64-AVRO fingerprint from the Avro specification's
own algorithm rather than trusting ours.
"""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO
from pathlib import Path

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from schemas.codec import Codec
from schemas.models import ChangeEvent, SourceOffset, SyncResult, SyncStatus
from tests.schemas.samples import order_change_event

AVSC_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"


def crc64_avro(data: bytes) -> int:
    """Rabin fingerprint exactly as written in the Avro specification."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def read_single_object(value: bytes, avsc: Path) -> dict[str, object]:
    declared = json.loads(avsc.read_text())
    canonical = to_parsing_canonical_form(declared)
    assert value[:2] == b"\xc3\x01", "single-object marker"
    assert value[2:10] == crc64_avro(canonical.encode()).to_bytes(8, "little"), "fingerprint"
    body = BytesIO(value[10:])
    record: dict[str, object] = schemaless_reader(body, parse_schema(declared))
    assert body.read() == b""
    return record


def test_spec_fingerprint_matches_a_known_value() -> None:
    # Avro's published test vector: the canonical form "int" fingerprints to 0x7275d51a3f395c8f.
    assert crc64_avro(b'"int"') == 0x7275D51A3F395C8F


def test_plain_fastavro_reads_our_change_event() -> None:
    event = order_change_event()

    record = read_single_object(Codec().encode(event, "t"), AVSC_DIR / "ChangeEvent.avsc")

    assert record["object_type"] == "Order"
    assert record["change_type"] == "UPDATE"
    assert record["changed_fields"] == event.changed_fields
    assert record["values"] == event.values
    assert record["commit_timestamp"] == event.commit_timestamp
    assert record["replay_id"] == event.replay_id


def test_plain_fastavro_reads_our_sync_result_with_nested_records() -> None:
    result = SyncResult(
        result_id="res-1",
        primary_record_id="8015g00000ABCDEFGH",
        primary_object_type="Order",
        status=SyncStatus.ERROR,
        message="[Stripe] No such price: 'price_123'",
        stripe_request_ids=["req_abc"],
        source_offsets=[SourceOffset(topic="cpqsync.sf.order", partition=3, offset=42)],
        attempted_at=dt.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC),
        duration_ms=412.5,
    )

    record = read_single_object(Codec().encode(result, "t"), AVSC_DIR / "SyncResult.avsc")

    assert record["status"] == "Error"
    assert record["source_offsets"] == [{"topic": "cpqsync.sf.order", "partition": 3, "offset": 42}]
    assert record["attempted_at"] == result.attempted_at


def test_our_codec_reads_what_plain_fastavro_writes() -> None:
    declared = json.loads((AVSC_DIR / "ChangeEvent.avsc").read_text())
    fingerprint = crc64_avro(to_parsing_canonical_form(declared).encode()).to_bytes(8, "little")
    moment = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    body = BytesIO()
    schemaless_writer(
        body,
        parse_schema(declared),
        {
            "object_type": "Account",
            "record_id": "",
            "change_type": "GAP_OVERFLOW",
            "commit_timestamp": moment,
            "bridged_at": moment,
        },
    )

    event = Codec().decode(b"\xc3\x01" + fingerprint + body.getvalue(), "t")

    assert isinstance(event, ChangeEvent)
    assert event.change_type.is_gap and event.is_entity_wide
    assert event.changed_fields == [] and event.values == {} and event.org_id is None
