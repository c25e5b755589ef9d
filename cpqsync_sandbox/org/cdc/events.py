"""One committed transaction in, Avro-encoded change events out.

Records of one entity changed alike in one transaction (same change type, same fields, same new
values: a mass update, a bulk delete) share one event listing all their ids, as on a real org (the
first record's values stand for all, commit stamps included);
events of one transaction carry its ``transactionKey`` and increasing ``sequenceNumber``s.
On UPDATE the body holds only changed fields (the rest stay null, ``nulledFields`` tells real
nulls apart); CREATE and UNDELETE carry the whole record with empty bitmaps; DELETE carries only
the header.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import fastavro

from cpqsync_sandbox.org.cdc.bitmap import encode_bitmap
from cpqsync_sandbox.org.cdc.event_schema import CHANGE_TYPES, ChangeEventSchema
from cpqsync_sandbox.org.cdc.values import to_avro
from cpqsync_sandbox.org.changes import ChangeBatch, RecordChange


@dataclass(frozen=True)
class ChangeEventHeader:
    """The ``ChangeEventHeader`` record, bitmaps already encoded."""

    entity_name: str
    record_ids: tuple[str, ...]
    change_type: str
    transaction_key: str
    sequence_number: int
    commit_timestamp_ms: int
    commit_number: int
    commit_user: str
    change_origin: str = ""
    nulled_fields: tuple[str, ...] = ()
    diff_fields: tuple[str, ...] = ()
    changed_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.change_type not in CHANGE_TYPES:
            raise ValueError(f"unknown change type {self.change_type!r}; one of {CHANGE_TYPES}")

    def to_avro(self) -> dict[str, Any]:
        return {
            "entityName": self.entity_name,
            "recordIds": list(self.record_ids),
            "changeType": self.change_type,
            "changeOrigin": self.change_origin,
            "transactionKey": self.transaction_key,
            "sequenceNumber": self.sequence_number,
            "commitTimestamp": self.commit_timestamp_ms,
            "commitNumber": self.commit_number,
            "commitUser": self.commit_user,
            "nulledFields": list(self.nulled_fields),
            "diffFields": list(self.diff_fields),
            "changedFields": list(self.changed_fields),
        }


@dataclass(frozen=True)
class EncodedEvent:
    """A change event ready for the bus."""

    entity: str
    schema_id: str
    payload: bytes
    header: ChangeEventHeader


def encode_event(
    schema: ChangeEventSchema, header: ChangeEventHeader, body: Mapping[str, Any]
) -> bytes:
    """Avro-encode one event (body fields left out are null)."""
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema.parsed, {"ChangeEventHeader": header.to_avro(), **body})
    return out.getvalue()


@dataclass
class _FieldSet:
    """Top-level field indexes plus component indexes per compound, for one bitmap."""

    top: set[int] = field(default_factory=set)
    nested: dict[int, set[int]] = field(default_factory=dict)

    def encoded(self) -> tuple[str, ...]:
        return tuple(encode_bitmap(self.top, self.nested))


def _full_body(schema: ChangeEventSchema, values: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for f in schema.fields:
        if f.is_compound:
            record = {
                c.name: to_avro(values.get(c.flat_field), c.avro_type, field_name=c.flat_field)
                for c in f.components
            }
            body[f.name] = record if any(v is not None for v in record.values()) else None
        else:
            assert f.avro_type is not None
            body[f.name] = to_avro(values.get(f.name), f.avro_type, field_name=f.name)
    return body


def _update_body(
    schema: ChangeEventSchema, change: RecordChange
) -> tuple[dict[str, Any], _FieldSet, _FieldSet]:
    body: dict[str, Any] = {}
    changed, nulled = _FieldSet(), _FieldSet()
    nulled_names = set(change.nulled_fields)
    for name in dict.fromkeys([*change.changed_fields, *change.nulled_fields]):
        where = schema.locate(name)
        if where is None:
            continue  # a field change events do not carry (SystemModstamp, Id ...)
        top, component = where
        targets = [changed, nulled] if name in nulled_names else [changed]
        value = change.new_values.get(name)
        if component is None:
            assert top.avro_type is not None
            body[top.name] = to_avro(value, top.avro_type, field_name=name)
            for t in targets:
                t.top.add(top.index)
        else:
            record = body.setdefault(top.name, {})
            record[component.name] = to_avro(value, component.avro_type, field_name=name)
            for t in targets:
                t.nested.setdefault(top.index, set()).add(component.index)
    return body, changed, nulled


# A real org stamps every record of a transaction with one time; a simulated store may step its
# clock per record, so these stamps must not keep records changed alike apart.
_COMMIT_STAMP_FIELDS = frozenset({"CreatedDate", "LastModifiedDate"})


def _grouping_key(body: Mapping[str, Any]) -> Any:
    return _freeze({k: v for k, v in body.items() if k not in _COMMIT_STAMP_FIELDS})


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def events_for_batch(
    batch: ChangeBatch, schemas: Mapping[str, ChangeEventSchema], *, change_origin: str = ""
) -> list[EncodedEvent]:
    """Encode a transaction's changes, grouping records of one entity changed alike."""
    groups: dict[tuple[Any, ...], tuple[RecordChange, dict[str, Any], _FieldSet, _FieldSet]] = {}
    record_ids: dict[tuple[Any, ...], list[str]] = {}
    for change in sorted(batch.changes, key=lambda c: c.sequence_number):
        schema = schemas.get(change.entity)
        if schema is None:
            raise KeyError(f"no change event schema for entity {change.entity!r}")
        if change.change_type == "UPDATE":
            body, changed, nulled = _update_body(schema, change)
        elif change.change_type == "DELETE":
            body, changed, nulled = {}, _FieldSet(), _FieldSet()
        else:
            body, changed, nulled = _full_body(schema, change.new_values), _FieldSet(), _FieldSet()
        key = (
            change.entity,
            change.change_type,
            changed.encoded(),
            nulled.encoded(),
            _grouping_key(body),
        )
        if key not in groups:
            groups[key] = (change, body, changed, nulled)
            record_ids[key] = []
        record_ids[key].append(change.record_id)
    events = []
    for sequence, (key, (first, body, changed, nulled)) in enumerate(groups.items(), start=1):
        schema = schemas[first.entity]
        header = ChangeEventHeader(
            entity_name=first.entity,
            record_ids=tuple(record_ids[key]),
            change_type=first.change_type,
            change_origin=change_origin,
            transaction_key=batch.transaction_key,
            sequence_number=sequence,
            commit_timestamp_ms=_epoch_ms(batch.commit_timestamp),
            commit_number=batch.commit_number,
            commit_user=batch.commit_user,
            nulled_fields=nulled.encoded(),
            changed_fields=changed.encoded(),
        )
        events.append(
            EncodedEvent(first.entity, schema.schema_id, encode_event(schema, header, body), header)
        )
    return events


def header_only_event(
    schema: ChangeEventSchema,
    change_type: str,
    record_ids: Iterable[str],
    *,
    transaction_key: str,
    commit_timestamp_ms: int,
    commit_number: int,
    commit_user: str,
) -> EncodedEvent:
    """A gap or overflow event: the header and record ids only, the body all null."""
    header = ChangeEventHeader(
        entity_name=schema.entity,
        record_ids=tuple(record_ids),
        change_type=change_type,
        transaction_key=transaction_key,
        sequence_number=1,
        commit_timestamp_ms=commit_timestamp_ms,
        commit_number=commit_number,
        commit_user=commit_user,
    )
    return EncodedEvent(schema.entity, schema.schema_id, encode_event(schema, header, {}), header)
