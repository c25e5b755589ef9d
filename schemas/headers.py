"""Kafka header names cpqsync writes (DESIGN section 2), in one place so producers
and consumers cannot drift apart.

Values are bytes; the encodings are fixed here too, so tools such as kcat show
them readably.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from schemas.models import AvroRecord

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# Full Avro name of the value's record type, e.g. b"cpqsync.ChangeEvent": lets a
# tool route or filter without decoding (the exact writer version is in the value).
SCHEMA_HEADER: Final = "cpqsync-schema"
# The Salesforce Pub/Sub replay id of the source event, raw bytes.
REPLAY_ID_HEADER: Final = "cpqsync-replay-id"
# Salesforce commit time of the source event: epoch milliseconds as ASCII digits.
COMMIT_TIMESTAMP_HEADER: Final = "cpqsync-commit-timestamp"
# Correlates one change across bridge, sync and writeback logs: ASCII text.
TRACE_ID_HEADER: Final = "cpqsync-trace-id"

# Dead-letter envelope (schemas.dead_letter): one UTF-8 text header per field.
DLQ_ORIGIN_TOPIC_HEADER: Final = "cpqsync-dlq-origin-topic"
DLQ_ORIGIN_PARTITION_HEADER: Final = "cpqsync-dlq-origin-partition"
DLQ_ORIGIN_OFFSET_HEADER: Final = "cpqsync-dlq-origin-offset"
DLQ_ERROR_CLASS_HEADER: Final = "cpqsync-dlq-error-class"
DLQ_ERROR_MESSAGE_HEADER: Final = "cpqsync-dlq-error-message"
DLQ_FIRST_FAILED_AT_HEADER: Final = "cpqsync-dlq-first-failed-at"
DLQ_ATTEMPTS_HEADER: Final = "cpqsync-dlq-attempts"


def schema_header(record: AvroRecord | type[AvroRecord]) -> tuple[str, bytes]:
    """The ``cpqsync-schema`` header for a record (or record type)."""
    return SCHEMA_HEADER, record.avro_name.encode("ascii")


def epoch_millis(moment: dt.datetime) -> bytes:
    """A timestamp header value: epoch milliseconds as ASCII digits."""
    if moment.tzinfo is None:
        raise ValueError("timestamp headers need a timezone-aware datetime")
    return str((moment - _EPOCH) // dt.timedelta(milliseconds=1)).encode("ascii")


def parse_epoch_millis(value: bytes) -> dt.datetime:
    """The UTC datetime in a timestamp header value written by ``epoch_millis``."""
    try:
        millis = int(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"not an epoch-milliseconds header value: {value!r}") from None
    try:
        return _EPOCH + dt.timedelta(milliseconds=millis)
    except OverflowError:
        raise ValueError(f"epoch milliseconds out of range: {millis}") from None
