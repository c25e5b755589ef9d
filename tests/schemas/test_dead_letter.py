"""The dead-letter envelope survives a trip through Kafka headers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings

from schemas import dead_letter
from schemas.headers import (
    DLQ_ATTEMPTS_HEADER,
    DLQ_ERROR_CLASS_HEADER,
    epoch_millis,
    parse_epoch_millis,
)
from schemas.models import DeadLetter
from tests.schemas.strategies import dead_letters

LETTER = DeadLetter(
    origin_topic="cpqsync.sf.order",
    origin_partition=2,
    origin_offset=1_234_567,
    error_class="schemas.codec.SchemaDecodeError",
    error_message="TRUNCATED: cannot decode message on topic cpqsync.sf.order: ends early",
    first_failed_at=dt.datetime(2026, 4, 5, 6, 7, 8, 9000, tzinfo=dt.UTC),
    attempts=3,
)


@settings(max_examples=100, deadline=None)
@given(letter=dead_letters)
def test_headers_round_trip(letter: DeadLetter) -> None:
    assert dead_letter.from_headers(dead_letter.to_headers(letter)) == letter


def test_headers_are_readable_text() -> None:
    headers = dict(dead_letter.to_headers(LETTER))
    assert headers["cpqsync-dlq-origin-offset"] == b"1234567"
    assert headers["cpqsync-dlq-first-failed-at"] == b"2026-04-05T06:07:08.009+00:00"
    assert set(headers) == dead_letter.HEADER_NAMES


def test_original_headers_are_ignored_and_the_latest_failure_wins() -> None:
    original = [("cpqsync-schema", b"cpqsync.ChangeEvent"), ("traceparent", None)]
    first = dead_letter.to_headers(LETTER)
    again = [(DLQ_ATTEMPTS_HEADER, b"9"), (DLQ_ERROR_CLASS_HEADER, "KeyError")]

    letter = dead_letter.from_headers(original + first + again)

    assert letter.attempts == 9 and letter.error_class == "KeyError"
    assert letter.origin_offset == LETTER.origin_offset


def test_missing_headers_are_named() -> None:
    headers = [h for h in dead_letter.to_headers(LETTER) if h[0] != DLQ_ATTEMPTS_HEADER]
    with pytest.raises(dead_letter.DeadLetterHeaderError, match=DLQ_ATTEMPTS_HEADER):
        dead_letter.from_headers(headers)
    with pytest.raises(dead_letter.DeadLetterHeaderError, match="missing"):
        dead_letter.from_headers(None)


def test_garbled_header_values_are_a_clear_error() -> None:
    headers = [
        (name, b"not-a-number" if name == DLQ_ATTEMPTS_HEADER else value)
        for name, value in dead_letter.to_headers(LETTER)
    ]
    with pytest.raises(dead_letter.DeadLetterHeaderError, match="attempts"):
        dead_letter.from_headers(headers)


def test_commit_timestamp_header_is_epoch_millis() -> None:
    moment = dt.datetime(2026, 4, 5, 6, 7, 8, 9000, tzinfo=dt.UTC)
    assert epoch_millis(moment) == b"1775369228009"
    assert parse_epoch_millis(epoch_millis(moment)) == moment
    with pytest.raises(ValueError, match="epoch-milliseconds"):
        parse_epoch_millis(b"yesterday")
