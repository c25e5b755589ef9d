"""Typed records that travel on cpqsync's topics, one per `.avsc` file in ``schemas/avro/``.

These models are what the rest of the code passes around; the codec turns them
into Avro and back. Field names match the Avro field names exactly, so
conversion is a dictionary hand-over rather than a mapping that could drift.

Every timestamp is timezone-aware UTC truncated to whole milliseconds, because
that is what Avro's ``timestamp-millis`` can carry: truncating on construction
means a record equals itself after a trip through Kafka. Naive datetimes are
rejected rather than guessed at.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

_MISSING: Final = object()


def _utc_millis(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is dt.UTC and not value.microsecond % 1000:
        return value  # the common case, and every value fastavro decodes
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the range of UTC datetimes") from None
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def utc_now() -> dt.datetime:
    """The current time as the models store it (UTC, millisecond precision)."""
    return _utc_millis(dt.datetime.now(dt.UTC))


UtcMillis = Annotated[AwareDatetime, AfterValidator(_utc_millis)]
# Avro int/long ranges: a value outside them could never be encoded, so refuse it up front.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
Count = Annotated[int, Field(ge=1, le=2**31 - 1)]

MAX_ERROR_MESSAGE: Final = 4000


def _clip(message: str) -> str:
    if len(message) <= MAX_ERROR_MESSAGE:
        return message
    return message[: MAX_ERROR_MESSAGE - 1] + "\u2026"


# Error texts can be huge (a whole response body); headers and Sync Records cannot.
ErrorMessage = Annotated[str, AfterValidator(_clip)]


class AvroRecord(BaseModel):
    """Base of every model that has an Avro schema of the same shape."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Full Avro name of the record's schema ("<namespace>.<name>").
    avro_name: ClassVar[str]

    def to_avro(self) -> dict[str, Any]:
        """The record as fastavro writes it.

        Flat models hand over their field dictionary unchanged (enums are ``str``
        subclasses, datetimes go through the ``timestamp-millis`` logical type),
        which keeps encoding nearly free; models with nested records override this.
        """
        return self.__dict__

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> AvroRecord:
        """Validate a record fastavro read (already resolved to the current schema)."""
        return cls.model_validate(data)


class ChangeType(StrEnum):
    """Salesforce's nine change types, plus our two synthetic ones."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"
    GAP_CREATE = "GAP_CREATE"
    GAP_UPDATE = "GAP_UPDATE"
    GAP_DELETE = "GAP_DELETE"
    GAP_UNDELETE = "GAP_UNDELETE"
    GAP_OVERFLOW = "GAP_OVERFLOW"
    # A backfill's synthetic event for a record that changed while nobody listened.
    SNAPSHOT = "SNAPSHOT"
    # A hand-triggered sync (CLI or Salesforce button) turned into an event.
    MANUAL = "MANUAL"

    @property
    def is_gap(self) -> bool:
        """Gap and overflow events carry no field data: the record must be re-read."""
        return self.value.startswith("GAP_")


class ChangeEvent(AvroRecord):
    """One change to one Salesforce record (see ``avro/ChangeEvent.avsc`` for every field).

    ``record_id`` is empty for ``GAP_OVERFLOW`` (Salesforce sends no record ids:
    resync the whole object type), and may be a wildcard such as ``"001*"``
    (key prefix + ``*``) when Salesforce sends one; ``is_entity_wide`` covers both.
    """

    avro_name: ClassVar[str] = "cpqsync.ChangeEvent"

    object_type: str
    record_id: str
    change_type: ChangeType
    changed_fields: list[str] = Field(default_factory=list)
    nulled_fields: list[str] = Field(default_factory=list)
    diff_fields: list[str] = Field(default_factory=list)
    values: dict[str, str] = Field(default_factory=dict)
    commit_timestamp: UtcMillis
    commit_number: Int64 | None = None
    transaction_key: str | None = None
    sequence_number: Int32 | None = None
    change_origin: str | None = None
    commit_user: str | None = None
    replay_id: bytes | None = None
    channel: str | None = None
    org_id: str | None = None
    bridged_at: UtcMillis = Field(default_factory=utc_now)

    @staticmethod
    def encode_value(value: Any) -> str:
        """The JSON text stored in ``values`` for one field value."""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def value(self, name: str, default: Any = _MISSING) -> Any:
        """The decoded value of one changed field.

        A field absent from ``values`` is unchanged (not null: nulls are present
        as JSON ``null``), so asking for it is an error unless a default is given.
        """
        try:
            raw = self.values[name]
        except KeyError:
            if default is not _MISSING:
                return default
            raise KeyError(
                f"{name!r} is not among the changed values of {self.object_type} "
                f"{self.record_id or '(all records)'} ({self.change_type.value})"
            ) from None
        return json.loads(raw)

    @property
    def is_entity_wide(self) -> bool:
        """True when the event names no single record: resync the object type (or prefix)."""
        return self.record_id == "" or self.record_id.endswith("*")


class SyncRequest(AvroRecord):
    """A request to sync one record now, whatever the live-sync setting."""

    avro_name: ClassVar[str] = "cpqsync.SyncRequest"

    request_id: str
    object_type: str
    record_id: str
    requested_by: str
    reason: str | None = None
    requested_at: UtcMillis = Field(default_factory=utc_now)


class SyncStatus(StrEnum):
    """The values of the Sync_Record__c status picklist."""

    SUCCESS = "Success"
    ERROR = "Error"
    SKIPPED = "Skipped"


class SourceOffset(BaseModel):
    """Position of one Kafka message that triggered a sync."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: Annotated[int, Field(ge=0, le=2**31 - 1)]
    offset: Annotated[int, Field(ge=0, le=2**63 - 1)]


class SyncResult(AvroRecord):
    """The outcome of one attempt to sync one record (becomes a Sync_Record__c)."""

    avro_name: ClassVar[str] = "cpqsync.SyncResult"

    result_id: str
    primary_record_id: str
    primary_object_type: str
    secondary_record_id: str | None = None
    secondary_object_type: str | None = None
    status: SyncStatus
    message: str
    stripe_object_id: str | None = None
    stripe_object_type: str | None = None
    stripe_request_ids: list[str] = Field(default_factory=list)
    dashboard_link: str | None = None
    invoice_payment_link: str | None = None
    attempt: Count = 1
    source_offsets: list[SourceOffset] = Field(default_factory=list)
    request_id: str | None = None
    attempted_at: UtcMillis = Field(default_factory=utc_now)
    duration_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    trigger_commit_timestamp: UtcMillis | None = None

    def to_avro(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["source_offsets"] = [offset.__dict__ for offset in self.source_offsets]
        return data


class Resume(BaseModel):
    """The asking work to put back once asked work is done (rule P7; ``RootWork.then``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root_object_type: str
    root_id: str
    object_type: str
    record_id: str
    manual: bool = False
    request_id: str | None = None
    trigger_commit_timestamp: UtcMillis | None = None
    source_offsets: list[SourceOffset] = Field(default_factory=list)
    pending: list[str] = Field(default_factory=list)
    waited_for: list[str] = Field(default_factory=list)

    def to_avro(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["source_offsets"] = [offset.__dict__ for offset in self.source_offsets]
        return data


class RootWork(AvroRecord):
    """One record to sync, keyed by its billing root on the repartition topic (``sync.roots``)."""

    avro_name: ClassVar[str] = "cpqsync.RootWork"

    root_object_type: str
    root_id: str
    object_type: str
    record_id: str
    manual: bool = False
    request_id: str | None = None
    trigger_commit_timestamp: UtcMillis | None = None
    source_offsets: list[SourceOffset] = Field(default_factory=list)
    resolved_at: UtcMillis = Field(default_factory=utc_now)
    asked_by_object_type: str | None = None
    asked_by_record_id: str | None = None
    waited_for: list[str] = Field(default_factory=list)
    then: Resume | None = None

    def to_avro(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["source_offsets"] = [offset.__dict__ for offset in self.source_offsets]
        data["then"] = self.then.to_avro() if self.then is not None else None
        return data


class DeadLetter(AvroRecord):
    """Why a message went to the dead-letter topic.

    The dead-letter message keeps the original bytes as its value; this envelope
    travels in its headers (``schemas.dead_letter.to_headers``).
    """

    avro_name: ClassVar[str] = "cpqsync.DeadLetter"

    origin_topic: str
    # -1 for both when the origin is not a Kafka topic but a Salesforce channel (the bridge);
    # the replay id header then says where the event was.
    origin_partition: Annotated[int, Field(ge=-1, le=2**31 - 1)]
    origin_offset: Annotated[int, Field(ge=-1, le=2**63 - 1)]
    error_class: str
    error_message: ErrorMessage
    first_failed_at: UtcMillis = Field(default_factory=utc_now)
    attempts: Count = 1


class BridgeCheckpoint(AvroRecord):
    """The bridge's position on one Salesforce channel."""

    avro_name: ClassVar[str] = "cpqsync.BridgeCheckpoint"

    channel: str
    replay_id: bytes
    commit_timestamp: UtcMillis | None = None
    updated_at: UtcMillis = Field(default_factory=utc_now)


class StripeEvent(AvroRecord):
    """One Stripe Event as the Stripe event source produced it (rule B1)."""

    avro_name: ClassVar[str] = "cpqsync.StripeEvent"

    event_id: str
    type: str
    created: UtcMillis
    object_type: str
    object_id: str
    customer_id: str | None = None
    api_version: str | None = None
    livemode: bool = False
    source: str
    payload: str

    def event(self) -> dict[str, Any]:
        """The Stripe event itself (``data.object``, ``previous_attributes``, …)."""
        decoded: dict[str, Any] = json.loads(self.payload)
        return decoded


RECORD_TYPES: Final[tuple[type[AvroRecord], ...]] = (
    ChangeEvent,
    SyncRequest,
    SyncResult,
    DeadLetter,
    BridgeCheckpoint,
    StripeEvent,
    RootWork,
)
