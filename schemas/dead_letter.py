"""The dead-letter envelope as Kafka headers.

A dead-lettered message keeps its original key, value and headers byte for
byte, so it can be inspected or replayed exactly as it arrived (the value may be
the very bytes that could not be decoded). Why it failed rides along as extra
headers, one UTF-8 text header per ``DeadLetter`` field, in the spirit of Kafka
Connect's ``__connect.errors.*`` headers: any tool shows them without our schemas.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final

from pydantic import ValidationError

from schemas import headers as h
from schemas.models import DeadLetter

_FIELDS: Final = {
    h.DLQ_ORIGIN_TOPIC_HEADER: "origin_topic",
    h.DLQ_ORIGIN_PARTITION_HEADER: "origin_partition",
    h.DLQ_ORIGIN_OFFSET_HEADER: "origin_offset",
    h.DLQ_ERROR_CLASS_HEADER: "error_class",
    h.DLQ_ERROR_MESSAGE_HEADER: "error_message",
    h.DLQ_FIRST_FAILED_AT_HEADER: "first_failed_at",
    h.DLQ_ATTEMPTS_HEADER: "attempts",
}
HEADER_NAMES: Final = frozenset(_FIELDS)


class DeadLetterHeaderError(ValueError):
    """A message's headers do not hold a complete, valid dead-letter envelope."""


def to_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """Headers to append to the original message's own headers on the DLQ."""
    return [
        (h.DLQ_ORIGIN_TOPIC_HEADER, letter.origin_topic.encode()),
        (h.DLQ_ORIGIN_PARTITION_HEADER, str(letter.origin_partition).encode()),
        (h.DLQ_ORIGIN_OFFSET_HEADER, str(letter.origin_offset).encode()),
        (h.DLQ_ERROR_CLASS_HEADER, letter.error_class.encode()),
        (h.DLQ_ERROR_MESSAGE_HEADER, letter.error_message.encode()),
        # ISO 8601 rather than epoch millis: these headers are read by people.
        (
            h.DLQ_FIRST_FAILED_AT_HEADER,
            letter.first_failed_at.isoformat(timespec="milliseconds").encode(),
        ),
        (h.DLQ_ATTEMPTS_HEADER, str(letter.attempts).encode()),
    ]


def from_headers(headers: Iterable[tuple[str, bytes | str | None]] | None) -> DeadLetter:
    """The envelope in a dead-lettered message's headers (as confluent-kafka returns them).

    Other headers are ignored; when a header repeats (a message dead-lettered
    twice) the last one wins, which is the most recent failure.
    """
    found: dict[str, str] = {}
    for name, value in headers or ():
        field = _FIELDS.get(name)
        if field is None:
            continue
        if value is None:
            raise DeadLetterHeaderError(f"dead-letter header {name} has no value")
        try:
            found[field] = value.decode() if isinstance(value, bytes) else value
        except UnicodeDecodeError:
            raise DeadLetterHeaderError(f"dead-letter header {name} is not UTF-8") from None
    missing = [name for name, field in _FIELDS.items() if field not in found]
    if missing:
        raise DeadLetterHeaderError(f"missing dead-letter headers: {', '.join(missing)}")
    try:
        first_failed_at = dt.datetime.fromisoformat(found.pop("first_failed_at"))
        return DeadLetter.model_validate({**found, "first_failed_at": first_failed_at})
    except (ValueError, ValidationError) as exc:
        raise DeadLetterHeaderError(f"invalid dead-letter headers: {exc}") from exc
