"""One dead letter as an operator sees it: where it came from, why, and the original message.

Every writer (the consumer engine, the writeback, the bridge) uses the envelope
of ``schemas.dead_letter``; the engine adds the consumer group. The strict
contract is tried first; a letter whose envelope is damaged or written by
another tool is still shown with whatever fields are present, so no dead letter
is ever hidden from the operator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from consumer.engine import dead_letter as engine_letters
from schemas import headers as h
from schemas.dead_letter import HEADER_NAMES, DeadLetterHeaderError, from_headers

Headers = list[tuple[str, bytes]]

ENGINE_HEADER_NAMES: Final = frozenset(
    {engine_letters.ORIGIN_TIMESTAMP, engine_letters.ORIGIN_GROUP}
)
# Every header that describes the failure rather than the original message.
ENVELOPE_HEADER_NAMES: Final = HEADER_NAMES | ENGINE_HEADER_NAMES

_LENIENT: Final = {
    "origin_topic": (h.DLQ_ORIGIN_TOPIC_HEADER,),
    "origin_partition": (h.DLQ_ORIGIN_PARTITION_HEADER,),
    "origin_offset": (h.DLQ_ORIGIN_OFFSET_HEADER,),
    "error_class": (h.DLQ_ERROR_CLASS_HEADER,),
    "error_message": (h.DLQ_ERROR_MESSAGE_HEADER,),
    "failed_at": (h.DLQ_FIRST_FAILED_AT_HEADER,),
    "attempts": (h.DLQ_ATTEMPTS_HEADER,),
    "group": (engine_letters.ORIGIN_GROUP,),
}


@dataclass(frozen=True)
class DeadLetterView:
    partition: int  # on the dead-letter topic
    offset: int
    key: bytes | None
    value: bytes | None
    original_headers: Headers  # the envelope removed: what the origin topic carried
    origin_topic: str | None
    origin_partition: int | None
    origin_offset: int | None
    error_class: str
    error_message: str
    failed_at: str | None
    attempts: int | None
    group: str | None
    envelope: str  # "contract", or "partial" when some fields are missing

    @property
    def ref(self) -> str:
        """How commands name this letter: ``partition:offset`` on the dead-letter topic."""
        return f"{self.partition}:{self.offset}"

    @property
    def redrive_blocker(self) -> str | None:
        """Why this letter cannot be sent back, or None when it can."""
        if not self.origin_topic:
            return "its envelope names no origin topic"
        if self.origin_topic.startswith("/"):
            return f"it came from the Salesforce channel {self.origin_topic}, not a Kafka topic"
        return None


def view(
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, str | bytes | None]] | None,
) -> DeadLetterView:
    raw = [(name, _as_bytes(data)) for name, data in headers or ()]
    original: Headers = [(name, data) for name, data in raw if name not in ENVELOPE_HEADER_NAMES]
    fields = _lenient_fields(raw)
    try:
        letter = from_headers(raw)
    except DeadLetterHeaderError:
        return DeadLetterView(
            partition,
            offset,
            key,
            value,
            original,
            origin_topic=fields.get("origin_topic"),
            origin_partition=_int(fields.get("origin_partition")),
            origin_offset=_int(fields.get("origin_offset")),
            error_class=fields.get("error_class", "(unknown)"),
            error_message=fields.get("error_message", "(no message)"),
            failed_at=fields.get("failed_at"),
            attempts=_int(fields.get("attempts")),
            group=fields.get("group"),
            envelope="partial",
        )
    return DeadLetterView(
        partition,
        offset,
        key,
        value,
        original,
        origin_topic=letter.origin_topic,
        origin_partition=letter.origin_partition,
        origin_offset=letter.origin_offset,
        error_class=letter.error_class,
        error_message=letter.error_message,
        failed_at=letter.first_failed_at.isoformat(timespec="milliseconds"),
        attempts=letter.attempts,
        group=fields.get("group"),
        envelope="contract",
    )


def _as_bytes(data: str | bytes | None) -> bytes:
    return data.encode() if isinstance(data, str) else data or b""


def _lenient_fields(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    by_name: dict[str, str] = {}
    for name, data in headers:  # the last occurrence wins: the most recent failure
        by_name[name] = data.decode(errors="replace")
    found: dict[str, str] = {}
    for field, names in _LENIENT.items():
        for name in names:
            if name in by_name:
                found[field] = by_name[name]
                break
    return found


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
