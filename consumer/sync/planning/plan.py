"""A Plan: the Stripe operations a Salesforce record requires, as plain data.

Plans are data so that a dry run can print them, golden tests can compare them, and the applier
can run them without re-deriving anything. Operations are ordered: one may use the id another
creates earlier in the same plan through a placeholder ``{"$ref": "<operation id>.<attribute>"}``
(e.g. ``{"$ref": "customer.id"}``) wherever Stripe expects an id — in ``params`` or as the
``target`` of an update. The applier resolves placeholders from the objects Stripe returned
(`resolve_refs`); everything else in ``params`` is exactly what
``client.v1.<service>.create(params=...)`` (or ``update(target, params=...)``) takes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REF_KEY = "$ref"


def ref(operation_id: str, attribute: str = "id") -> dict[str, str]:
    """A placeholder for ``attribute`` of the object that operation ``operation_id`` returns."""
    return {REF_KEY: f"{operation_id}.{attribute}"}


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(REF_KEY), str)


class UnresolvedReference(KeyError):
    """A placeholder names an operation that has not produced a result."""


def resolve_refs(value: Any, results: Mapping[str, Mapping[str, Any]]) -> Any:
    """``value`` with each placeholder replaced from ``results`` (operation id -> Stripe object)."""
    if is_ref(value):
        operation_id, _, attribute = value[REF_KEY].rpartition(".")
        try:
            return results[operation_id][attribute]
        except KeyError:
            raise UnresolvedReference(value[REF_KEY]) from None
    if isinstance(value, dict):
        return {key: resolve_refs(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_refs(item, results) for item in value]
    return value


# Plans build these by the tens per order line. A frozen dataclass's generated __init__ sets
# each field through object.__setattr__, which cost more than the rest of adding an operation;
# the hand-written __init__s below fill the instance dict directly (same fields, same
# immutability afterwards, same equality and repr).


@dataclass(frozen=True, init=False)
class SourceRecord:
    """The Salesforce record an operation or issue is about."""

    object_type: str
    id: str

    def __init__(self, object_type: str, id: str) -> None:
        fields = self.__dict__
        fields["object_type"] = object_type
        fields["id"] = id

    def to_dict(self) -> dict[str, str]:
        return {"object": self.object_type, "id": self.id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceRecord:
        return cls(str(data["object"]), str(data["id"]))

    def __str__(self) -> str:
        return f"{self.object_type} {self.id}"


@dataclass(frozen=True, init=False)
class WriteBack:
    """A Salesforce field that receives an attribute of the operation's result (rule R3)."""

    record: SourceRecord
    field: str
    attribute: str = "id"

    def __init__(self, record: SourceRecord, field: str, attribute: str = "id") -> None:
        fields = self.__dict__
        fields["record"] = record
        fields["field"] = field
        fields["attribute"] = attribute

    def to_dict(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "field": self.field, "attribute": self.attribute}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WriteBack:
        return cls(SourceRecord.from_dict(data), str(data["field"]), str(data["attribute"]))


@dataclass(frozen=True, init=False)
class Operation:
    """One Stripe request. ``target`` is the id an update/finalize acts on (or a placeholder)."""

    id: str
    kind: str
    params: dict[str, Any]
    source: SourceRecord
    idempotency_key: str
    target: str | dict[str, str] | None = None
    writeback: tuple[WriteBack, ...] = ()

    def __init__(
        self,
        id: str,
        kind: str,
        params: dict[str, Any],
        source: SourceRecord,
        idempotency_key: str,
        target: str | dict[str, str] | None = None,
        writeback: tuple[WriteBack, ...] = (),
    ) -> None:
        fields = self.__dict__
        fields["id"] = id
        fields["kind"] = kind
        fields["params"] = params
        fields["source"] = source
        fields["idempotency_key"] = idempotency_key
        fields["target"] = target
        fields["writeback"] = writeback

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "params": self.params,
            "source": self.source.to_dict(),
            "idempotency_key": self.idempotency_key,
            "writeback": [w.to_dict() for w in self.writeback],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operation:
        return cls(
            id=str(data["id"]),
            kind=str(data["kind"]),
            params=dict(data["params"]),
            source=SourceRecord.from_dict(data["source"]),
            idempotency_key=str(data["idempotency_key"]),
            target=data.get("target"),
            writeback=tuple(WriteBack.from_dict(w) for w in data.get("writeback", ())),
        )


@dataclass(frozen=True)
class Issue:
    """An error or a skip, with the rule behind it and the Sync Record message.

    ``reported`` is False for skips that must not produce a Sync Record (S3/S4 in live sync:
    those are only counted).
    """

    rule: str
    message: str
    record: SourceRecord
    reported: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "message": self.message,
            "record": self.record.to_dict(),
            "reported": self.reported,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Issue:
        return cls(
            str(data["rule"]),
            str(data["message"]),
            SourceRecord.from_dict(data["record"]),
            bool(data.get("reported", True)),
        )


@dataclass(frozen=True)
class Plan:
    """What one Salesforce record needs from Stripe.

    ``status``: ``error`` (nothing may be applied), ``skipped`` (the record is not synced),
    ``waiting`` (other records' own syncs must run first: ``waits``, rule P7), or ``ready``. A
    ready plan may still list skips for parts it leaves out (a dropped line, P9).
    """

    root: SourceRecord
    operations: tuple[Operation, ...] = ()
    errors: tuple[Issue, ...] = ()
    skips: tuple[Issue, ...] = field(default=())
    # Records whose own root must sync before this plan is worth applying: their Stripe
    # object is out of date and has one writer, their own sync (P7: a pricebook entry's price).
    waits: tuple[SourceRecord, ...] = ()

    @property
    def status(self) -> str:
        if self.errors:
            return "error"
        if any(skip.record == self.root for skip in self.skips):
            return "skipped"
        if self.waits:
            return "waiting"
        return "ready"

    def to_dict(self) -> dict[str, Any]:
        data = {
            "root": self.root.to_dict(),
            "status": self.status,
            "operations": [op.to_dict() for op in self.operations],
            "errors": [e.to_dict() for e in self.errors],
            "skips": [s.to_dict() for s in self.skips],
        }
        if self.waits:
            data["waits"] = [w.to_dict() for w in self.waits]
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=indent is not None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            root=SourceRecord.from_dict(data["root"]),
            operations=tuple(Operation.from_dict(op) for op in data.get("operations", ())),
            errors=tuple(Issue.from_dict(e) for e in data.get("errors", ())),
            skips=tuple(Issue.from_dict(s) for s in data.get("skips", ())),
            waits=tuple(SourceRecord.from_dict(w) for w in data.get("waits", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))
