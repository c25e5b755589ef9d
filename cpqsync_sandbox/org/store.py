"""The in-memory org: records, transactions, validation, and change notification.

Every DML runs inside a transaction (one REST call, one collection, one Python DML call). A
transaction holds the store's lock from start to commit, keeps an undo journal so a failed
``allOrNone`` collection leaves nothing behind, and, only once committed, hands listeners one
:class:`~cpqsync_sandbox.org.changes.ChangeBatch` (Change Data Capture publishes from it).

Records are stored flat (address components as ``BillingCity``...) with the Python value types
documented in :mod:`cpqsync_sandbox.org.changes`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cpqsync_sandbox.org.changes import ChangeBatch, ChangeListener, ChangeType, RecordChange
from cpqsync_sandbox.org.errors import OrgError, invalid_field, invalid_type, not_found
from cpqsync_sandbox.org.ids import IdFactory, normalize_id
from cpqsync_sandbox.org.schema import OBJECTS, SYSTEM_FIELDS, ObjectDef, object_def
from cpqsync_sandbox.org.values import coerce

log = logging.getLogger(__name__)

Record = dict[str, Any]
# (new record, old record or None on create) -> True when the record violates the rule.
ErrorCondition = Callable[[Mapping[str, Any], Mapping[str, Any] | None], bool]
# (store, new record, old record or None on create): an installed package's after-save trigger,
# run inside the DML's transaction, so what it writes commits (and publishes) with it.
Trigger = Callable[["OrgStore", Mapping[str, Any], Mapping[str, Any] | None], None]

_AUTO_NUMBERS = {
    "Order": ("OrderNumber", "{:08d}", 100),
    "OrderItem": ("OrderItemNumber", "{:010d}", 1),
    "Contract": ("ContractNumber", "{:08d}", 100),
    "SBQQ__Quote__c": ("Name", "Q-{:05d}", 1),
    "SBQQ__QuoteLine__c": ("Name", "QL-{:07d}", 1),
    "SBQQ__OrderItemConsumptionSchedule__c": ("Name", "OICS-{:07d}", 1),
    "SBQQ__OrderItemConsumptionRate__c": ("Name", "OICR-{:07d}", 1),
    "Sync_Record__c": ("Name", "SR-{:08d}", 1),
}
_SYSTEM = set(SYSTEM_FIELDS)
# On UPDATE a real org's change events list LastModifiedDate among the changed fields, not the
# other audit fields.
_AUDIT_REPORTED = ("LastModifiedDate",)


@dataclass(frozen=True)
class ValidationRule:
    """Like a Salesforce validation rule: when ``error_condition`` holds, the DML fails."""

    object_name: str
    error_condition: ErrorCondition
    message: str
    fields: tuple[str, ...] = ()


@dataclass
class _PendingChange:
    entity: str
    change_type: ChangeType
    record_id: str
    changed_fields: list[str]
    nulled_fields: list[str]
    new_values: Record
    old_values: Record | None


@dataclass
class Transaction:
    """An open transaction; use :meth:`OrgStore.transaction` to get one."""

    key: str
    user_id: str
    undo: list[Callable[[], None]] = field(default_factory=list)
    changes: list[_PendingChange] = field(default_factory=list)

    def savepoint(self) -> tuple[int, int]:
        return len(self.undo), len(self.changes)

    def rollback_to(self, point: tuple[int, int]) -> None:
        undo_len, changes_len = point
        while len(self.undo) > undo_len:
            self.undo.pop()()
        del self.changes[changes_len:]


class OrgStore:
    """Thread-safe records of every object in :data:`~cpqsync_sandbox.org.schema.OBJECTS`."""

    def __init__(
        self,
        *,
        org_id: str,
        user_id: str,
        username: str = "admin@cpqsync.sim",
        clock: Callable[[], datetime] | None = None,
        ids: IdFactory | None = None,
    ) -> None:
        self.org_id = org_id
        self.user_id = user_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._ids = ids or IdFactory()
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
        self._deleted: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
        # (object, external-id field) -> casefolded value -> ids holding it
        self._ext_index: dict[tuple[str, str], dict[str, set[str]]] = {
            (o.name, f.name): {}
            for o in OBJECTS.values()
            for f in o.fields.values()
            if f.external_id or f.unique
        }
        # (child object, lookup field) -> parent id -> child ids: subqueries and cascades
        self._child_index: dict[tuple[str, str], dict[str, set[str]]] = {
            (child, lookup): {}
            for o in OBJECTS.values()
            for child, lookup in o.child_relationships.values()
        }
        self._indexed: dict[str, list[tuple[str, dict[str, set[str]], bool]]] = {
            name: [(fld, idx, True) for (o, fld), idx in self._ext_index.items() if o == name]
            + [(fld, idx, False) for (o, fld), idx in self._child_index.items() if o == name]
            for name in OBJECTS
        }
        self._listeners: list[ChangeListener] = []
        self._rules: list[ValidationRule] = []
        self._triggers: dict[str, list[Trigger]] = {}
        self._tx: Transaction | None = None
        self._commit_number = 1_000_000
        self._auto_counters: dict[str, int] = {k: v[2] for k, v in _AUTO_NUMBERS.items()}
        self._last_stamp: datetime | None = None
        # The integration user every API call acts as; lookups to it (OwnerId...) must resolve.
        self.create(
            "User",
            {
                "Id": user_id,
                "Username": username,
                "LastName": "Integration",
                "FirstName": "cpqsync",
                "Email": username,
                "CreatedById": user_id,
                "LastModifiedById": user_id,
            },
            system=True,
        )

    # -- listeners and rules -------------------------------------------------------------------

    def add_change_listener(self, listener: ChangeListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_change_listener(self, listener: ChangeListener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def add_validation_rule(
        self,
        object_name: str,
        error_condition: ErrorCondition,
        message: str,
        fields: tuple[str, ...] = (),
    ) -> ValidationRule:
        """Register a rule; DML on ``object_name`` where it holds fails with
        FIELD_CUSTOM_VALIDATION_EXCEPTION and ``message``."""
        rule = ValidationRule(self.object(object_name).name, error_condition, message, fields)
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove_validation_rule(self, rule: ValidationRule) -> None:
        with self._lock:
            self._rules.remove(rule)

    def add_trigger(self, object_name: str, trigger: Trigger) -> None:
        """Run ``trigger`` after every insert or update of ``object_name`` (a managed package's
        after-save trigger, e.g. CPQ contracting an order)."""
        with self._lock:
            self._triggers.setdefault(self.object(object_name).name, []).append(trigger)

    # -- transactions ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self, user_id: str | None = None) -> Iterator[Transaction]:
        """Join the open transaction of this thread, or open one committed on exit.

        An exception leaving the outermost block undoes everything the transaction did.
        """
        with self._lock:
            if self._tx is not None:
                yield self._tx
                return
            tx = Transaction(key=uuid.uuid4().hex, user_id=user_id or self.user_id)
            self._tx = tx
            try:
                yield tx
            except BaseException:
                tx.rollback_to((0, 0))
                raise
            finally:
                self._tx = None
            if tx.changes:
                batch = self._commit(tx)
                self._notify(batch)

    def _commit(self, tx: Transaction) -> ChangeBatch:
        self._commit_number += 1
        stamp = self.now()
        changes = [
            RecordChange(
                entity=c.entity,
                change_type=c.change_type,
                record_id=c.record_id,
                changed_fields=c.changed_fields,
                nulled_fields=c.nulled_fields,
                new_values=dict(c.new_values),
                old_values=dict(c.old_values) if c.old_values is not None else None,
                transaction_key=tx.key,
                sequence_number=i,
                commit_timestamp=stamp,
                commit_number=self._commit_number,
                commit_user=tx.user_id,
            )
            for i, c in enumerate(tx.changes, start=1)
        ]
        return ChangeBatch(tx.key, self._commit_number, stamp, tx.user_id, changes)

    def _notify(self, batch: ChangeBatch) -> None:
        for listener in list(self._listeners):
            try:
                listener(batch)
            except Exception:  # a broken listener must not undo a committed transaction
                log.exception("change listener failed for transaction %s", batch.transaction_key)

    def now(self) -> datetime:
        """Millisecond-precision UTC time, strictly increasing so modstamps order changes."""
        with self._lock:
            stamp = self._clock().astimezone(UTC)
            stamp = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
            if self._last_stamp is not None and stamp <= self._last_stamp:
                stamp = self._last_stamp + timedelta(milliseconds=1)
            self._last_stamp = stamp
            return stamp

    # -- reads -----------------------------------------------------------------------------------

    @staticmethod
    def object(name: str) -> ObjectDef:
        found = object_def(name)
        if found is None:
            raise invalid_type(name)
        return found

    def get(self, object_name: str, record_id: str, *, include_deleted: bool = False) -> Record:
        """A copy of one record; NOT_FOUND for an unknown, malformed or other-type id."""
        obj = self.object(object_name)
        canonical = normalize_id(record_id)
        with self._lock:
            rec = self._records[obj.name].get(canonical or "")
            if rec is None and include_deleted:
                rec = self._deleted[obj.name].get(canonical or "")
            if rec is None:
                raise not_found()
            return dict(rec)

    def find(self, record_id: str) -> tuple[str, Record] | None:
        """(object name, live record) for any id, by its key prefix."""
        canonical = normalize_id(record_id)
        if canonical is None:
            return None
        with self._lock:
            for obj in OBJECTS.values():
                if canonical.startswith(obj.key_prefix):
                    rec = self._records[obj.name].get(canonical)
                    return (obj.name, rec) if rec is not None else None
        return None

    def records(self, object_name: str, *, include_deleted: bool = False) -> list[Record]:
        """The live records of one object (and the recycle bin's, for queryAll); not copies:
        callers must not mutate them."""
        obj = self.object(object_name)
        with self._lock:
            out = list(self._records[obj.name].values())
            if include_deleted:
                out.extend(self._deleted[obj.name].values())
            return out

    def count(self, object_name: str) -> int:
        with self._lock:
            return len(self._records[self.object(object_name).name])

    @property
    def lock(self) -> threading.RLock:
        """Hold while reading several records to see one consistent state."""
        return self._lock

    def peek(
        self, object_name: str, record_id: str, *, include_deleted: bool = False
    ) -> Record | None:
        """The record itself (not a copy) for a canonical id, for read-only hot paths."""
        rec = self._records[object_name].get(record_id)
        if rec is None and include_deleted:
            rec = self._deleted[object_name].get(record_id)
        return rec

    def children(self, child_object: str, lookup_field: str, parent_id: str) -> list[Record]:
        """Live child records whose ``lookup_field`` points at ``parent_id`` (not copies)."""
        with self._lock:
            ids = self._child_index[(child_object, lookup_field)].get(parent_id, ())
            table = self._records[child_object]
            return [table[i] for i in sorted(ids) if i in table]

    def ids_by_external_id(self, object_name: str, field_name: str, value: str) -> list[str]:
        obj = self.object(object_name)
        f = obj.field(field_name)
        if f is None or (obj.name, f.name) not in self._ext_index:
            raise OrgError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
                status=404,
            )
        with self._lock:
            return sorted(self._ext_index[(obj.name, f.name)].get(str(value).casefold(), set()))

    # -- DML -------------------------------------------------------------------------------------

    def create(
        self,
        object_name: str,
        values: Mapping[str, Any],
        *,
        user_id: str | None = None,
        system: bool = False,
    ) -> str:
        """Insert a record; ``system=True`` (dataset seeding) may set read-only fields and Id."""
        obj = self.object(object_name)
        with self.transaction(user_id) as tx:
            given = self._coerce_input(obj, values, creating=True, system=system)
            rec: Record = {f.name: f.default for f in obj.stored_fields}
            rec.update(given)
            now = self.now()
            record_id = given.get("Id") if system and given.get("Id") else None
            if record_id is None:
                record_id = self._ids.new_id(obj.key_prefix)
            elif not str(record_id).startswith(obj.key_prefix) or self.find(record_id):
                raise OrgError("INVALID_ID_FIELD", f"invalid record id {record_id}", ["Id"])
            rec["Id"] = record_id
            rec["IsDeleted"] = False
            for audit in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                if not (system and given.get(audit)):
                    rec[audit] = now
            for audit in ("CreatedById", "LastModifiedById"):
                if not (system and given.get(audit)):
                    rec[audit] = tx.user_id
            if "OwnerId" in obj.fields and rec.get("OwnerId") is None:
                rec["OwnerId"] = tx.user_id
            self._derive(obj, rec, None, tx)
            self._check(obj, rec, None)
            self._put(obj.name, record_id, rec, tx)
            changed = [n for n, v in rec.items() if v is not None]
            nulled = [n for n in given if given[n] is None]
            tx.changes.append(
                _PendingChange(obj.name, "CREATE", record_id, changed, nulled, dict(rec), None)
            )
            self._fire(obj.name, rec, None)
            return record_id

    def update(
        self,
        object_name: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        user_id: str | None = None,
        system: bool = False,
    ) -> None:
        obj = self.object(object_name)
        with self.transaction(user_id) as tx:
            old = self._live(obj, record_id)
            given = self._coerce_input(obj, values, creating=False, system=system)
            rec = {**old, **given}
            rec["LastModifiedDate"] = rec["SystemModstamp"] = self.now()
            rec["LastModifiedById"] = tx.user_id
            self._derive(obj, rec, old, tx)
            self._check(obj, rec, old)
            self._put(obj.name, old["Id"], rec, tx)
            changed = [
                n for n in obj.fields if n in rec and n not in _SYSTEM and rec[n] != old.get(n)
            ]
            changed.extend(_AUDIT_REPORTED)
            nulled = [n for n in changed if rec.get(n) is None]
            tx.changes.append(
                _PendingChange(obj.name, "UPDATE", old["Id"], changed, nulled, dict(rec), old)
            )
            self._fire(obj.name, rec, old)

    def delete(self, object_name: str, record_id: str, *, user_id: str | None = None) -> None:
        """Move a record (and its master-detail children) to the recycle bin."""
        obj = self.object(object_name)
        with self.transaction(user_id) as tx:
            rec = self._live(obj, record_id)
            self._delete_tree(obj, rec, tx)

    def undelete(self, object_name: str, record_id: str, *, user_id: str | None = None) -> None:
        obj = self.object(object_name)
        canonical = normalize_id(record_id) or ""
        with self.transaction(user_id) as tx:
            rec = self._deleted[obj.name].get(canonical)
            if rec is None:
                raise OrgError("UNDELETE_FAILED", "Entity is not in the recycle bin", status=400)
            restored = {**rec, "IsDeleted": False, "LastModifiedDate": self.now()}
            restored["SystemModstamp"] = restored["LastModifiedDate"]
            self._check_references(obj, restored)
            self._set_deleted(obj.name, canonical, None, tx)
            self._put(obj.name, canonical, restored, tx)
            tx.changes.append(
                _PendingChange(obj.name, "UNDELETE", canonical, [], [], dict(restored), rec)
            )

    def upsert(
        self,
        object_name: str,
        external_field: str,
        external_value: str,
        values: Mapping[str, Any],
        *,
        user_id: str | None = None,
    ) -> tuple[str, bool]:
        """(id, created): update the one record whose external id matches, or create one."""
        obj = self.object(object_name)
        f = obj.field(external_field)
        if f is None or not (f.external_id or f.name == "Id"):
            raise OrgError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {external_field}",
                status=404,
            )
        with self.transaction(user_id):
            if f.name == "Id":
                canonical = normalize_id(external_value)
                if canonical and canonical in self._records[obj.name]:
                    self.update(obj.name, canonical, values)
                    return canonical, False
                raise not_found()
            matches = self.ids_by_external_id(obj.name, f.name, external_value)
            if len(matches) > 1:
                raise OrgError(
                    "MULTIPLE_CHOICES",
                    f"More than one record found for external id field {f.name} with value "
                    f"{external_value}",
                    [f.name],
                    status=300,
                )
            body = {k: v for k, v in values.items() if k.lower() != f.name.lower()}
            if matches:
                self.update(obj.name, matches[0], body)
                return matches[0], False
            return self.create(obj.name, {**body, f.name: external_value}), True

    def activate_order(self, order_id: str, *, user_id: str | None = None) -> None:
        """CPQ's activation: Status = Activated (which stamps ActivatedDate)."""
        self.update("Order", order_id, {"Status": "Activated"}, user_id=user_id)

    # -- internals -------------------------------------------------------------------------------

    def _fire(self, object_name: str, rec: Record, old: Record | None) -> None:
        for trigger in self._triggers.get(object_name, ()):
            trigger(self, dict(rec), dict(old) if old is not None else None)

    def _live(self, obj: ObjectDef, record_id: str) -> Record:
        canonical = normalize_id(record_id)
        rec = self._records[obj.name].get(canonical or "")
        if rec is None:
            if canonical and canonical in self._deleted[obj.name]:
                raise OrgError("ENTITY_IS_DELETED", "entity is deleted", status=404)
            raise not_found()
        return dict(rec)

    def _coerce_input(
        self, obj: ObjectDef, values: Mapping[str, Any], *, creating: bool, system: bool
    ) -> Record:
        out: Record = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            if f is None:
                raise invalid_field(obj.name, key)
            if f.is_compound:
                raise OrgError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {f.name}. Write its components instead "
                    f"(e.g. {f.components[1][1]}).",
                    [f.name],
                )
            allowed = f.createable if creating else f.updateable
            if not allowed and not system:
                raise OrgError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {f.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.",
                    [f.name],
                )
            out[f.name] = coerce(f, value)
        return out

    def _derive(self, obj: ObjectDef, rec: Record, old: Record | None, tx: Transaction) -> None:
        """Fields a real org computes: names, auto numbers, denormalised lookups, activation."""
        if obj.name in ("Contact", "User"):
            rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p)
        if old is None and obj.name in _AUTO_NUMBERS:
            field_name, pattern, _ = _AUTO_NUMBERS[obj.name]
            if rec.get(field_name) is None:
                rec[field_name] = pattern.format(self._auto_counters[obj.name])
                self._auto_counters[obj.name] += 1
        if obj.name == "PricebookEntry" and old is None:
            product = self._records["Product2"].get(rec.get("Product2Id") or "")
            if product is not None:
                rec["Name"] = product["Name"]
                rec["ProductCode"] = product.get("ProductCode")
        if obj.name == "OrderItem":
            if old is None:
                entry = self._records["PricebookEntry"].get(rec.get("PricebookEntryId") or "")
                if entry is not None and rec.get("Product2Id") is None:
                    rec["Product2Id"] = entry["Product2Id"]
                order = self._records["Order"].get(rec.get("OrderId") or "")
                if order is not None:
                    rec["CurrencyIsoCode"] = order.get("CurrencyIsoCode")
            if rec.get("Quantity") is not None and rec.get("UnitPrice") is not None:
                rec["TotalPrice"] = round(rec["Quantity"] * rec["UnitPrice"], 2)
            self._roll_up_total(rec, tx)
        if obj.name == "Order" and old is None and rec.get("TotalAmount") is None:
            rec["TotalAmount"] = 0.0  # no lines yet
        activating = rec.get("Status") == "Activated" and (old or {}).get("Status") != "Activated"
        if obj.name == "Order" and activating:
            rec["ActivatedDate"] = rec["LastModifiedDate"]
            rec["ActivatedById"] = tx.user_id

    def _roll_up_total(self, item: Record, tx: Transaction, *, removed: bool = False) -> None:
        """Order.TotalAmount: the sum of its lines' TotalPrice, kept as Salesforce keeps a
        roll-up (no change event of its own, as for other system-computed fields here)."""
        order = self._records["Order"].get(item.get("OrderId") or "")
        if order is None:
            return
        lines = {r["Id"]: r for r in self.children("OrderItem", "OrderId", order["Id"])}
        if removed:
            lines.pop(item["Id"], None)
        elif item.get("Id"):
            lines[item["Id"]] = item
        total = round(sum(float(r.get("TotalPrice") or 0) for r in lines.values()), 2)
        self._put("Order", order["Id"], {**order, "TotalAmount": total}, tx)

    def _check(self, obj: ObjectDef, rec: Record, old: Record | None) -> None:
        missing = [f.name for f in obj.stored_fields if not f.nillable and rec.get(f.name) is None]
        if missing:
            raise OrgError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        self._check_references(obj, rec)
        for f in obj.fields.values():
            if f.unique and rec.get(f.name) is not None:
                holders = self._ext_index[(obj.name, f.name)].get(
                    str(rec[f.name]).casefold(), set()
                )
                others = holders - {rec["Id"]} if rec.get("Id") else holders
                if old is not None:
                    others = others - {old["Id"]}
                if others:
                    raise OrgError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {f.name} duplicates value on record with id: "
                        f"{sorted(others)[0]}",
                        [f.name],
                    )
        for rule in self._rules:
            if rule.object_name == obj.name and rule.error_condition(rec, old):
                raise OrgError("FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.message, list(rule.fields))

    def _check_references(self, obj: ObjectDef, rec: Record) -> None:
        for f in obj.fields.values():
            value = rec.get(f.name)
            if f.type != "reference" or value is None or f.reference_to is None:
                continue
            target = OBJECTS[f.reference_to]
            if not value.startswith(target.key_prefix):
                raise OrgError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{f.label or f.name}: id value of incorrect type: {value}",
                    [f.name],
                )
            if value not in self._records[target.name] and value != rec.get("Id"):
                raise OrgError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {f.name} = {value}",
                    [f.name],
                )

    def _delete_tree(self, obj: ObjectDef, rec: Record, tx: Transaction) -> None:
        for rel, (child_name, lookup) in obj.child_relationships.items():
            child = OBJECTS[child_name]
            lookup_def = child.fields[lookup]
            dependents = self.children(child_name, lookup, rec["Id"])
            if not dependents:
                continue
            if lookup_def.cascade_delete:
                for dependent in dependents:
                    self._delete_tree(child, dict(dependent), tx)
            elif not lookup_def.nillable:
                raise OrgError(
                    "DELETE_FAILED",
                    f"Your attempt to delete {obj.name} {rec['Id']} could not be completed "
                    f"because it is associated with the following {rel}: {dependents[0]['Id']}",
                )
        if obj.name == "OrderItem":
            self._roll_up_total(rec, tx, removed=True)
        now = self.now()
        gone = {**rec, "IsDeleted": True, "LastModifiedDate": now, "SystemModstamp": now}
        self._put(obj.name, rec["Id"], None, tx)
        self._set_deleted(obj.name, rec["Id"], gone, tx)
        tx.changes.append(_PendingChange(obj.name, "DELETE", rec["Id"], [], [], dict(rec), rec))

    def _put(self, object_name: str, record_id: str, rec: Record | None, tx: Transaction) -> None:
        """Replace (or remove, with None) a live record, keeping indexes, with undo."""
        table = self._records[object_name]
        previous = table.get(record_id)
        self._reindex(object_name, record_id, previous, rec)
        if rec is None:
            table.pop(record_id, None)
        else:
            table[record_id] = rec

        def undo() -> None:
            current = table.get(record_id)
            self._reindex(object_name, record_id, current, previous)
            if previous is None:
                table.pop(record_id, None)
            else:
                table[record_id] = previous

        tx.undo.append(undo)

    def _set_deleted(
        self, object_name: str, record_id: str, rec: Record | None, tx: Transaction
    ) -> None:
        bin_ = self._deleted[object_name]
        previous = bin_.get(record_id)
        if rec is None:
            bin_.pop(record_id, None)
        else:
            bin_[record_id] = rec

        def undo() -> None:
            if previous is None:
                bin_.pop(record_id, None)
            else:
                bin_[record_id] = previous

        tx.undo.append(undo)

    def _reindex(
        self, object_name: str, record_id: str, old: Record | None, new: Record | None
    ) -> None:
        for field_name, index, folded in self._indexed[object_name]:
            if old is not None and old.get(field_name) is not None:
                key = str(old[field_name]).casefold() if folded else old[field_name]
                holders = index.get(key)
                if holders is not None:
                    holders.discard(record_id)
            if new is not None and new.get(field_name) is not None:
                key = str(new[field_name]).casefold() if folded else new[field_name]
                index.setdefault(key, set()).add(record_id)
