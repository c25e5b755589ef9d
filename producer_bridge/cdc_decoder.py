"""Salesforce change-event payloads → our :class:`~schemas.models.ChangeEvent` records.

One Salesforce event may name several records (changed alike in one second);
consumers key by record, so it becomes one ChangeEvent per record id. Gap
events pass through flagged by their change type with no values; a
``GAP_OVERFLOW`` names no records and becomes one entity-wide event
(``record_id=""``) telling consumers to resync the whole object type.

``values`` holds the non-null body fields of the payload (on UPDATE exactly the
changed ones) plus each nulled field as JSON ``null``; compound values are JSON
objects without their null members, because on UPDATE a null member means
"unchanged", which ``nulled_fields`` distinguishes from "set to null".

Decoding is on the hot path, so parsed schemas and field layouts are cached by
schema id and events are built without re-validating values we produced.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import fastavro

from producer_bridge import metrics
from producer_bridge.field_bitmap import BitmapError, FieldLayout
from schemas.models import ChangeEvent, ChangeType

_HEADER = "ChangeEventHeader"
# The same JSON text ChangeEvent.encode_value writes, without building an encoder per value.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_encode_str = json.encoder.encode_basestring
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_new = object.__new__
_set = object.__setattr__
_ALL_FIELDS = frozenset(ChangeEvent.model_fields)
_GAP_TYPES = frozenset(member for member in ChangeType if member.is_gap)
_CHANGE_TYPES = {member.value: member for member in ChangeType}
_SALESFORCE_TYPES = frozenset(
    member for member in ChangeType if member not in (ChangeType.SNAPSHOT, ChangeType.MANUAL)
)


class ChangeEventDecodeError(ValueError):
    """A payload that cannot be turned into change events; it goes to the DLQ."""


class SchemaLike(Protocol):
    @property
    def definition(self) -> dict[str, Any]: ...

    @property
    def parsed(self) -> Any: ...


class SchemaSource(Protocol):
    """Where schemas come from: the Pub/Sub client (``GetSchema``) or a test's dict."""

    def schema(self, schema_id: str) -> SchemaLike: ...


@dataclass(frozen=True)
class RawEvent:
    """The parts of a Pub/Sub ``ConsumerEvent`` the decoder reads."""

    schema_id: str
    payload: bytes
    replay_id: bytes


@dataclass(frozen=True)
class _Decoder:
    parsed: Any
    layout: FieldLayout


class ChangeEventDecoder:
    """Decodes payloads of any schema id the source knows; safe to share between threads."""

    def __init__(self, schemas: SchemaSource, org_id: str | None = None) -> None:
        self._schemas = schemas
        self._org_id = org_id
        self._decoders: dict[str, _Decoder] = {}
        self._lock = threading.Lock()

    def _decoder(self, schema_id: str) -> _Decoder:
        decoder = self._decoders.get(schema_id)
        if decoder is not None:
            return decoder
        with self._lock:
            decoder = self._decoders.get(schema_id)
            if decoder is None:
                schema = self._schemas.schema(schema_id)
                layout = FieldLayout.of(schema.definition)
                decoder = _Decoder(schema.parsed, layout)
                self._decoders[schema_id] = decoder
                metrics.SCHEMA_FETCHES.inc()
            return decoder

    def decode(
        self, event: RawEvent, channel: str, bridged_at: dt.datetime | None = None
    ) -> list[ChangeEvent]:
        """All ChangeEvents of one Salesforce event, in record-id order as sent."""
        decoder = self._decoder(event.schema_id)
        try:
            record = fastavro.schemaless_reader(io.BytesIO(event.payload), decoder.parsed, None)
        except Exception as exc:  # noqa: BLE001 - any reader failure means an undecodable payload
            raise ChangeEventDecodeError(
                f"payload does not match schema {event.schema_id}: {type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(record, dict):
            raise ChangeEventDecodeError(f"schema {event.schema_id} is not a record schema")
        return self._events(record, decoder, event, channel, bridged_at)

    def _events(
        self,
        record: dict[str, Any],
        decoder: _Decoder,
        event: RawEvent,
        channel: str,
        bridged_at: dt.datetime | None,
    ) -> list[ChangeEvent]:
        header = record.get("ChangeEventHeader")
        if not isinstance(header, dict):
            raise ChangeEventDecodeError("payload has no ChangeEventHeader")
        try:
            change_type = _CHANGE_TYPES[str(header["changeType"])]
            entity = str(header["entityName"])
            commit_ms = int(header["commitTimestamp"])
            record_ids: Sequence[str] = header.get("recordIds") or []
        except (KeyError, TypeError, ValueError) as exc:
            raise ChangeEventDecodeError(f"ChangeEventHeader is incomplete: {exc}") from None
        if change_type not in _SALESFORCE_TYPES:
            raise ChangeEventDecodeError(f"unexpected change type {change_type.value}")
        gap = change_type in _GAP_TYPES
        try:
            changed = [] if gap else decoder.layout.decode(header.get("changedFields") or ())
            nulled = [] if gap else decoder.layout.decode(header.get("nulledFields") or ())
            diff = [] if gap else decoder.layout.decode(header.get("diffFields") or ())
        except BitmapError as exc:
            raise ChangeEventDecodeError(str(exc)) from None
        values = {} if gap else _values(record, nulled)
        if change_type is ChangeType.GAP_OVERFLOW or not record_ids:
            record_ids = [""]
        now = bridged_at or dt.datetime.now(dt.UTC)
        if now.microsecond % 1000:
            now = now.replace(microsecond=now.microsecond - now.microsecond % 1000)
        common: dict[str, Any] = {
            "record_id": "",
            "object_type": entity,
            "change_type": change_type,
            "changed_fields": changed,
            "nulled_fields": nulled,
            "diff_fields": diff,
            "values": values,
            "commit_timestamp": _utc_from_millis(commit_ms),
            "commit_number": header.get("commitNumber"),
            "transaction_key": header.get("transactionKey"),
            "sequence_number": header.get("sequenceNumber"),
            "change_origin": header.get("changeOrigin"),
            "commit_user": header.get("commitUser"),
            "replay_id": event.replay_id,
            "channel": channel,
            "org_id": self._org_id,
            "bridged_at": now,
        }
        events = []
        for record_id in record_ids:
            data = dict(common)
            data["record_id"] = str(record_id)
            events.append(_trusted_event(data))
        return events


def _trusted_event(data: dict[str, Any]) -> ChangeEvent:
    """A ChangeEvent from values that already have the model's types, without re-validating.

    This is what pydantic's ``model_construct`` does, minus its per-field default
    handling (every field is given here), which costs as much as a quarter of
    fastavro's own decoding time on this hot path. Tests check the result equals a
    validated model.
    """
    event = _new(ChangeEvent)
    _set(event, "__dict__", data)
    _set(event, "__pydantic_fields_set__", set(_ALL_FIELDS))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


def _values(record: dict[str, Any], nulled: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in record.items():
        if value is None or name == _HEADER:
            continue
        kind = type(value)
        if kind is str:
            values[name] = _encode_str(value)
        elif kind is dict:
            values[name] = _encode_json({k: v for k, v in value.items() if v is not None})
        elif kind is bool:
            values[name] = "true" if value else "false"
        elif kind is int:
            values[name] = int.__repr__(value)
        else:
            values[name] = _encode_json(value)
    for name in nulled:
        values[name] = "null"
    return values


@functools.lru_cache(maxsize=256)
def _utc_from_millis(millis: int) -> dt.datetime:
    """Cached: every event of a transaction (often hundreds) shares one commit timestamp."""
    return _EPOCH + dt.timedelta(milliseconds=millis)
