"""Skip Stripe-field writes that would change nothing.

Every write to an Account, Order, OrderItem, Product2 or PricebookEntry is a
change event, and change events are what the sync consumer listens to: writing
the same ``Stripe_ID__c`` again after every re-sync would feed an endless
sync -> writeback -> change event -> sync loop. Reading the current values
first (one query per object type in the batch) breaks it: the first write of a
Stripe id causes one echo, the echo's results match the org, and nothing more
is written. It also keeps API usage and record history down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from consumer.writeback.batch_plan import Write
from consumer.writeback.sobject_collections import SObjectCollections, chunks
from consumer.writeback.sync_record import SYNC_RECORD
from cpqsync.soql.quoting import quote

CurrentValues = Mapping[tuple[str, str], Mapping[str, Any]]


def _key(object_type: str, record_id: str) -> tuple[str, str]:
    return object_type, record_id[:15]  # 15- and 18-character ids name the same record


def fetch_current(collections: SObjectCollections, writes: Iterable[Write]) -> CurrentValues:
    """The present values of the fields ``writes`` set, for every record they update by id."""
    fields: dict[str, set[str]] = defaultdict(set)
    ids: dict[str, set[str]] = defaultdict(set)
    for write in writes:
        if write.object_type == SYNC_RECORD:
            continue
        ids[write.object_type].add(write.record_ref)
        fields[write.object_type].update(k for k in write.record if k not in ("attributes", "Id"))
    current: dict[tuple[str, str], dict[str, Any]] = {}
    for object_type, record_ids in ids.items():
        select = ", ".join(["Id", *sorted(fields[object_type])])
        for group in chunks(sorted(record_ids)):
            literals = ",".join(quote(i) for i in group)
            rows = collections.query(
                # Ids are quoted literals; object and field names are our own constants.
                f"SELECT {select} FROM {object_type} WHERE Id IN ({literals})"  # noqa: S608
            )
            for row in rows:
                current[_key(object_type, str(row["Id"]))] = row
    return current


def without_unchanged(writes: Sequence[Write], current: CurrentValues) -> list[Write]:
    """``writes`` minus the fields that already hold the value; writes left empty are dropped."""
    kept: list[Write] = []
    for write in writes:
        now = current.get(_key(write.object_type, write.record_ref))
        if now is None:
            kept.append(write)  # unknown (or deleted): let Salesforce answer for it
            continue
        changed = {
            k: v for k, v in write.record.items() if k in ("attributes", "Id") or now.get(k) != v
        }
        if len(changed) > 2:
            kept.append(replace(write, record=changed))
    return kept
