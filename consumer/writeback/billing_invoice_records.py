"""``Stripe_Invoice__c`` records: one per Stripe invoice, upserted by its ``Stripe_ID__c``.

Optional (``reverse_mappings.invoice_records``). Each record carries the mapped invoice
fields and the lookups to the Order and Account the invoice bills. Like the Order's fields,
a record is written only where a value differs from what the org holds, so a replayed topic
writes nothing (one query by Stripe id per batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from consumer.billing.billing_view import field_values
from consumer.writeback.batch_plan import Write
from consumer.writeback.sobject_collections import SObjectCollections, chunks
from cpqsync.mapping.reverse_mappings import INVOICE_RECORD, SourcePath
from cpqsync.soql.quoting import quote

STRIPE_ID: Final = "Stripe_ID__c"
ORDER: Final = "Order__c"
ACCOUNT: Final = "Account__c"


def invoice_record(
    paths: dict[str, SourcePath],
    invoice: dict[str, Any],
    order_id: str | None,
    account_id: str | None,
) -> dict[str, Any]:
    """The upsert entry for ``invoice``: mapped fields, links (when known), Stripe id."""
    record: dict[str, Any] = {
        "attributes": {"type": INVOICE_RECORD},
        STRIPE_ID: invoice["id"],
        **field_values(paths, {"invoice": invoice}),
    }
    if order_id:
        record[ORDER] = order_id
    if account_id:
        record[ACCOUNT] = account_id
    return record


def without_unchanged(collections: SObjectCollections, writes: Sequence[Write]) -> list[Write]:
    """``writes`` minus records whose every field already holds the value."""
    if not writes:
        return []
    fields = sorted({k for w in writes for k in w.record if k not in ("attributes", STRIPE_ID)})
    current: dict[str, dict[str, Any]] = {}
    for group in chunks(sorted(w.record_ref for w in writes)):
        literals = ",".join(quote(i) for i in group)
        rows = collections.query(
            # Stripe ids are quoted literals; the field names were validated at load.
            f"SELECT {', '.join([STRIPE_ID, *fields])} FROM {INVOICE_RECORD} "  # noqa: S608
            f"WHERE {STRIPE_ID} IN ({literals})"
        )
        current.update({str(row[STRIPE_ID]): row for row in rows})
    kept = []
    for write in writes:
        now = current.get(write.record_ref)
        if now is None or any(
            now.get(k) != v for k, v in write.record.items() if k not in ("attributes", STRIPE_ID)
        ):
            kept.append(write)
    return kept
