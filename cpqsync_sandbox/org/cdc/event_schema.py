"""Per-object ``<Object>ChangeEvent`` Avro schemas shaped like a real org's.

Shape (see ``spec/salesforce-samples/AccountChangeEvent.avsc``): namespace
``com.sforce.eventbus``; field 0 is the ``ChangeEventHeader`` record with the ``ChangeType`` enum;
every body field is a union with null, default null, with a ``doc`` carrying the Salesforce type;
address compounds are one ``Address`` record, defined at its first use and referenced by name
after. The field positions matter beyond looks: the header bitmaps index fields by position.

The schema id is derived from the schema text, so the same object shape always has the same id
and adding a field yields a new one, as on a real org.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import fastavro

from cpqsync_sandbox.org.cdc.channels import event_name
from cpqsync_sandbox.org.cdc.field_types import (
    EXCLUDED_FIELDS,
    avro_primitive,
    doc_for,
)
from cpqsync_sandbox.org.schema import ADDRESS_COMPONENTS, FieldDef, ObjectDef

NAMESPACE = "com.sforce.eventbus"
ADDRESS_RECORD = "Address"
CHANGE_TYPES = (
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
    "SNAPSHOT",
)

_STRING_ARRAY = {"type": "array", "items": "string"}
HEADER_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "ChangeEventHeader",
    "fields": [
        {"name": "entityName", "type": "string"},
        {"name": "recordIds", "type": _STRING_ARRAY},
        {
            "name": "changeType",
            "type": {"type": "enum", "name": "ChangeType", "symbols": list(CHANGE_TYPES)},
        },
        {"name": "changeOrigin", "type": "string"},
        {"name": "transactionKey", "type": "string"},
        {"name": "sequenceNumber", "type": "int"},
        {"name": "commitTimestamp", "type": "long"},
        {"name": "commitNumber", "type": "long"},
        {"name": "commitUser", "type": "string"},
        {"name": "nulledFields", "type": _STRING_ARRAY},
        {"name": "diffFields", "type": _STRING_ARRAY},
        {"name": "changedFields", "type": _STRING_ARRAY},
    ],
}


@dataclass(frozen=True)
class Component:
    """One sub-field of a compound: its name in the Avro record and the store's flat field."""

    name: str
    index: int
    flat_field: str
    avro_type: str


@dataclass(frozen=True)
class BodyField:
    """A top-level field of the event body. ``components`` is non-empty for compound fields."""

    name: str
    index: int
    avro_type: str | None
    components: tuple[Component, ...] = ()

    @property
    def is_compound(self) -> bool:
        return bool(self.components)


@dataclass(frozen=True)
class ChangeEventSchema:
    """One version of an object's change event schema, ready to encode events with."""

    entity: str
    name: str
    schema_id: str
    schema_json: str
    parsed: Any
    fields: tuple[BodyField, ...]
    source_fields: tuple[FieldDef, ...]
    by_name: dict[str, BodyField] = field(repr=False)
    component_of: dict[str, tuple[BodyField, Component]] = field(repr=False)

    def locate(self, flat_field: str) -> tuple[BodyField, Component | None] | None:
        """Where a store field lands: a top-level field, or a compound's component."""
        top = self.by_name.get(flat_field)
        if top is not None and not top.is_compound:
            return top, None
        found = self.component_of.get(flat_field)
        if found is not None:
            return found
        return None


def _schema_id(schema_json: str) -> str:
    digest = hashlib.sha256(schema_json.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _address_record() -> dict[str, Any]:
    return {
        "type": "record",
        "name": ADDRESS_RECORD,
        "fields": [
            {"name": sub, "type": ["null", avro_primitive(FieldDef(sub, type_))], "default": None}
            for sub, type_ in ADDRESS_COMPONENTS
        ],
    }


def cdc_fields(obj: ObjectDef) -> list[FieldDef]:
    """The object's fields that a change event carries, in schema order."""
    return [
        f for f in obj.fields.values() if f.name not in EXCLUDED_FIELDS and f.compound_field is None
    ]


def build_event_schema(entity: str, fields: Sequence[FieldDef]) -> ChangeEventSchema:
    """Build the schema for ``entity`` carrying ``fields`` (see :func:`cdc_fields`) in order."""
    avro_fields: list[dict[str, Any]] = [
        {"name": "ChangeEventHeader", "type": HEADER_SCHEMA, "doc": "Data:ComplexValueType"}
    ]
    body: list[BodyField] = []
    address_defined = False
    for f in fields:
        index = len(avro_fields)
        if f.is_compound:
            if address_defined:
                record: Any = ADDRESS_RECORD
            else:
                record = _address_record()
                address_defined = True
            subs = {flat_sub: flat for flat_sub, flat in f.components}
            components = tuple(
                Component(sub, j, subs[sub], avro_primitive(FieldDef(sub, type_)))
                for j, (sub, type_) in enumerate(ADDRESS_COMPONENTS)
                if sub in subs
            )
            avro_type: Any = ["null", record]
            body.append(BodyField(f.name, index, None, components))
        else:
            primitive = avro_primitive(f)
            avro_type = ["null", primitive]
            body.append(BodyField(f.name, index, primitive))
        avro_fields.append(
            {"name": f.name, "type": avro_type, "doc": doc_for(entity, f), "default": None}
        )
    schema = {
        "type": "record",
        "name": event_name(entity),
        "namespace": NAMESPACE,
        "fields": avro_fields,
    }
    schema_json = json.dumps(schema, separators=(",", ":"))
    by_name = {b.name: b for b in body}
    component_of = {c.flat_field: (b, c) for b in body for c in b.components}
    return ChangeEventSchema(
        entity=entity,
        name=event_name(entity),
        schema_id=_schema_id(schema_json),
        schema_json=schema_json,
        parsed=fastavro.parse_schema(json.loads(schema_json)),
        fields=tuple(body),
        source_fields=tuple(fields),
        by_name=by_name,
        component_of=component_of,
    )
