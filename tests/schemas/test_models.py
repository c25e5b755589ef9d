"""What the models promise the rest of the code: UTC milliseconds, ranges, helpers."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from schemas.models import (
    MAX_ERROR_MESSAGE,
    ChangeEvent,
    ChangeType,
    DeadLetter,
    SyncResult,
    SyncStatus,
)
from tests.schemas.samples import order_change_event


def event(**changes: object) -> ChangeEvent:
    return order_change_event().model_copy(update=changes)


def test_timestamps_become_utc_milliseconds() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    made = ChangeEvent(
        object_type="Order",
        record_id="801x",
        change_type=ChangeType.CREATE,
        commit_timestamp=dt.datetime(2026, 6, 1, 14, 0, 0, 123456, tzinfo=paris),
    )
    assert made.commit_timestamp == dt.datetime(2026, 6, 1, 12, 0, 0, 123000, tzinfo=dt.UTC)
    assert made.commit_timestamp.tzinfo is dt.UTC
    assert made.bridged_at.microsecond % 1000 == 0


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        ChangeEvent(
            object_type="Order",
            record_id="801x",
            change_type="CREATE",
            commit_timestamp=dt.datetime(2026, 6, 1),
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("sequence_number", 2**31), ("commit_number", 2**63), ("sequence_number", -(2**31) - 1)],
)
def test_integers_outside_avro_range_are_refused(field: str, value: int) -> None:
    fields = order_change_event().model_dump()
    fields[field] = value
    with pytest.raises(ValidationError, match=field):
        ChangeEvent.model_validate(fields)


def test_value_decodes_json_and_distinguishes_unchanged_from_null() -> None:
    made = event(values={"TotalAmount": "129900.5", "Description": "null", "Status": '"Activated"'})
    assert made.value("TotalAmount") == 129900.5
    assert made.value("Status") == "Activated"
    assert made.value("Description") is None
    assert made.value("PoNumber", default="unchanged") == "unchanged"
    with pytest.raises(KeyError, match=r"PoNumber.*not among the changed values of Order"):
        made.value("PoNumber")


def test_encode_value_is_what_value_reads_back() -> None:
    address = {"City": "Zürich", "PostalCode": "8001"}
    made = event(values={"BillingAddress": ChangeEvent.encode_value(address)})
    assert made.value("BillingAddress") == address


@pytest.mark.parametrize(
    ("record_id", "change_type", "entity_wide"),
    [
        ("", ChangeType.GAP_OVERFLOW, True),
        ("001*", ChangeType.UPDATE, True),
        ("8015g00000ABCDEFGH", ChangeType.GAP_UPDATE, False),
    ],
)
def test_entity_wide_events(record_id: str, change_type: ChangeType, entity_wide: bool) -> None:
    made = event(record_id=record_id, change_type=change_type)
    assert made.is_entity_wide is entity_wide


def test_gap_types() -> None:
    gaps = {t for t in ChangeType if t.is_gap}
    assert gaps == {
        ChangeType.GAP_CREATE,
        ChangeType.GAP_UPDATE,
        ChangeType.GAP_DELETE,
        ChangeType.GAP_UNDELETE,
        ChangeType.GAP_OVERFLOW,
    }


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        order_change_event().record_id = "other"  # type: ignore[misc]


def test_sync_status_values_are_the_salesforce_picklist() -> None:
    assert [s.value for s in SyncStatus] == ["Success", "Error", "Skipped"]
    result = SyncResult(
        result_id="r",
        primary_record_id="p",
        primary_object_type="Order",
        status="Skipped",
        message="[cpqsync] live sync is off",
        duration_ms=0.4,
    )
    assert result.status is SyncStatus.SKIPPED and result.attempt == 1


def test_long_error_messages_are_clipped_for_headers_and_sync_records() -> None:
    letter = DeadLetter(
        origin_topic="t",
        origin_partition=0,
        origin_offset=0,
        error_class="ValueError",
        error_message="x" * 10_000,
    )
    assert len(letter.error_message) == MAX_ERROR_MESSAGE
    assert letter.error_message.endswith("\u2026")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="colour"):
        SyncResult.model_validate(
            {
                "result_id": "r",
                "primary_record_id": "p",
                "primary_object_type": "Order",
                "status": "Error",
                "message": "m",
                "duration_ms": 1,
                "colour": "red",
            }
        )
