"""Salesforce's per-record errors, and the exception that carries them to the engine.

A collection call with ``allOrNone=false`` answers HTTP 200 even when some
records were rejected; each rejected record reports ``statusCode``, ``message``
and ``fields``. Those are kept verbatim so the dead letter, the log and the
operator all see exactly what Salesforce said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consumer.engine import RetryableError


@dataclass(frozen=True, slots=True)
class RecordError:
    """One rejection of one record in a collection call."""

    object_type: str
    record_ref: str  # the record id, or the external id for an upsert
    status_code: str
    message: str
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        where = f" (fields: {', '.join(self.fields)})" if self.fields else ""
        return f"{self.status_code} on {self.object_type} {self.record_ref}: {self.message}{where}"


def record_errors(object_type: str, record_ref: str, answer: dict[str, Any]) -> list[RecordError]:
    """The errors of one per-record answer (empty when it succeeded)."""
    if answer.get("success"):
        return []
    raw = answer.get("errors") or [{"statusCode": "UNKNOWN", "message": "no error reported"}]
    return [
        RecordError(
            object_type,
            record_ref,
            str(item.get("statusCode", "UNKNOWN")),
            str(item.get("message", "")),
            tuple(str(f) for f in item.get("fields") or ()),
        )
        for item in raw
        if isinstance(item, dict)
    ]


class RecordsRejected(RetryableError):
    """Salesforce rejected some of a result's writes; the engine retries, then dead-letters.

    Retryable on purpose: rejections such as a validation rule, field-level
    security or a locked row are fixed in the org without touching the result,
    and the engine's attempt limit still ends in the dead-letter topic.
    """

    def __init__(self, errors: Sequence[RecordError]) -> None:
        self.errors = tuple(errors)
        super().__init__("Salesforce Error: " + "; ".join(e.describe() for e in self.errors))
