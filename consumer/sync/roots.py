"""From triggers to sync roots: the records the planner is asked about.

An Order, Account, Product2 or PricebookEntry is its own root. An OrderItem leads to its Order
(from the event's ``OrderId`` when it carried one, else one query for the batch). A
``GAP_OVERFLOW`` (or an entity-wide event) asks for its whole object type: every record that
changed since the sync start date (rule S2; an order counts from its activation), found with
one query, so the normal per-record rules then decide what syncs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.triggers import ROOT_TYPES, RecordRef, Trigger

# Which date says "changed since the start date" for a wholesale resync (rule S2).
_SINCE_FIELDS = {
    "Order": "ActivatedDate",
    "Account": "LastModifiedDate",
    "Product2": "LastModifiedDate",
    "PricebookEntry": "LastModifiedDate",
}


class RootResolver:
    def __init__(self, reader: SalesforceReader, start_date: dt.date | None) -> None:
        self._reader = reader
        self._start_date = start_date

    def resolve(self, triggers: Sequence[Trigger]) -> list[tuple[RecordRef, ...]]:
        """The roots of each trigger, in trigger order (one batch of queries for all of them)."""
        hinted: dict[RecordRef, RecordRef] = {}
        unknown_items: set[str] = set()
        wholesale: set[str] = set()
        for trigger in triggers:
            hinted.update(trigger.parent_hints)
            wholesale.update(trigger.resync_types)
            for ref in trigger.records:
                if ref.object_type == "OrderItem" and ref not in trigger.parent_hints:
                    unknown_items.add(ref.id)
        parents = dict(hinted)
        for row in self._reader.by_ids("OrderItem", ["OrderId"], unknown_items):
            parents[RecordRef("OrderItem", str(row["Id"]))] = RecordRef(
                "Order", str(row["OrderId"])
            )
        # Ids as the org returns them may differ in length (15 vs 18) from those in events.
        by_prefix = {ref.id[:15]: order for ref, order in parents.items()}
        everything = {kind: self._all_since(kind) for kind in sorted(wholesale)}

        out: list[tuple[RecordRef, ...]] = []
        for trigger in triggers:
            roots: list[RecordRef] = []
            for ref in trigger.records:
                if ref.object_type in ROOT_TYPES:
                    roots.append(ref)
                elif ref.object_type == "OrderItem":
                    parent = parents.get(ref) or by_prefix.get(ref.id[:15])
                    if parent is not None:  # None: the item was deleted since the event
                        roots.append(parent)
            for kind in trigger.resync_types:
                roots.extend(everything.get(kind, ()))
            out.append(tuple(dict.fromkeys(roots)))
        return out

    def _all_since(self, object_type: str) -> list[RecordRef]:
        if object_type == "OrderItem":
            object_type = "Order"  # every order line lives on an order: resync the orders
        if object_type not in _SINCE_FIELDS:
            return []
        soql = f"SELECT Id FROM {object_type}"  # noqa: S608 - a name from _SINCE_FIELDS
        if self._start_date is not None:
            since = f"{self._start_date.isoformat()}T00:00:00Z"
            soql += f" WHERE {_SINCE_FIELDS[object_type]} >= {since}"
        return [RecordRef(object_type, str(row["Id"])) for row in self._reader.query(soql)]
