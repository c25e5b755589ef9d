"""What a consumed message asks the sync to look at (DESIGN section 1: events are triggers).

A change event never carries the state to sync: it only names records whose current state must
be re-read. This module turns one message into a ``Trigger``: the records it names, the object
types it asks to resync wholesale (``GAP_OVERFLOW``, wildcard ids), and whether it was a manual
request (which syncs even with live sync off, rule S4). Turning named records into sync roots
(an OrderItem into its Order) needs Salesforce and happens in ``roots``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from consumer.engine import Message
from schemas.models import ChangeEvent, ChangeType, SourceOffset, SyncRequest

# Objects whose records are sync roots: each has a planner entry point.
ROOT_TYPES = ("Order", "Account", "Product2", "PricebookEntry")
# Objects whose events lead to a root elsewhere.
CHILD_TYPES = ("OrderItem",)
# Salesforce key prefixes (first three characters of every id) of the objects we accept.
KEY_PREFIXES = {
    "801": "Order",
    "802": "OrderItem",
    "001": "Account",
    "01t": "Product2",
    "01u": "PricebookEntry",
}
_DELETES = (ChangeType.DELETE, ChangeType.GAP_DELETE)
# Fields the writeback owns, plus what Salesforce stamps on every write. An UPDATE touching only
# these is the echo of our own writeback (Stripe ids, links): re-syncing it would double the
# Stripe requests of every order for nothing. A hand-edited Stripe_ID__c is still honoured at
# the record's next sync (rule C1), or at once with `cpqsync sync-record`.
WRITEBACK_ECHO_FIELDS = frozenset(
    {
        "Stripe_ID__c",
        "Stripe_Dashboard_Link__c",
        "Stripe_Invoice_Payment_Link__c",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
    }
)

# Billing state written back from Stripe (rule B1) lands only in fields named Stripe_…__c
# (reverse_mappings enforces it), so a change of only such fields is that writeback's echo.
REVERSE_SYNC_FIELD = re.compile(r"^Stripe_\w+__c$")


def _is_writeback_echo(field: str) -> bool:
    return field in WRITEBACK_ECHO_FIELDS or REVERSE_SYNC_FIELD.match(field) is not None


SyncInput = ChangeEvent | SyncRequest


@dataclass(frozen=True, order=True)
class RecordRef:
    """One Salesforce record by type and id (ids as the org returns them: 18 characters)."""

    object_type: str
    id: str

    def __str__(self) -> str:
        return f"{self.object_type} {self.id}"


@dataclass(frozen=True)
class Trigger:
    """What one message asks for. ``ignored`` says why it asks for nothing (deletes: rule C1)."""

    records: tuple[RecordRef, ...] = ()
    resync_types: tuple[str, ...] = ()
    manual: bool = False
    request_id: str | None = None
    commit_timestamp: dt.datetime | None = None
    source: SourceOffset | None = None
    ignored: str | None = None
    attempt: int = 1
    # Fields the event carried, when they name the parent root (an OrderItem's OrderId).
    parent_hints: dict[RecordRef, RecordRef] = field(default_factory=dict)


def object_type_of(record_id: str) -> str | None:
    """The object a Salesforce id belongs to, from its key prefix (None when not one of ours)."""
    return KEY_PREFIXES.get(record_id[:3])


def trigger_of(message: Message[SyncInput]) -> Trigger:
    source = SourceOffset(topic=message.topic, partition=message.partition, offset=message.offset)
    value = message.value
    if isinstance(value, SyncRequest):
        return _manual(value, source, message.attempt)
    return _change(value, source, message.attempt)


def _manual(request: SyncRequest, source: SourceOffset, attempt: int) -> Trigger:
    ref = RecordRef(request.object_type, request.record_id)
    return Trigger(
        records=(ref,),
        manual=True,
        request_id=request.request_id,
        commit_timestamp=request.requested_at,
        source=source,
        attempt=attempt,
    )


def _change(event: ChangeEvent, source: SourceOffset, attempt: int) -> Trigger:
    base = Trigger(commit_timestamp=event.commit_timestamp, source=source, attempt=attempt)
    kind = event.object_type
    if kind not in ROOT_TYPES and kind not in CHILD_TYPES:
        return _ignored(base, f"{kind} changes do not sync to Stripe")
    if event.change_type in _DELETES:
        # Rule C1: deletes (and merges, which delete the losers) are not propagated.
        return _ignored(base, f"{event.change_type.value} of {kind} is not propagated to Stripe")
    if (
        event.change_type is ChangeType.UPDATE
        and event.changed_fields
        and all(_is_writeback_echo(name) for name in event.changed_fields)
    ):
        return _ignored(base, f"only Stripe writeback fields of {kind} changed")
    if event.change_type is ChangeType.GAP_OVERFLOW or event.is_entity_wide:
        return Trigger(
            resync_types=(kind,),
            commit_timestamp=base.commit_timestamp,
            source=source,
            attempt=attempt,
        )
    ref = RecordRef(kind, event.record_id)
    hints: dict[RecordRef, RecordRef] = {}
    if kind == "OrderItem":
        order_id = event.value("OrderId", None)
        if isinstance(order_id, str) and order_id:
            hints[ref] = RecordRef("Order", order_id)
    return Trigger(
        records=(ref,),
        commit_timestamp=base.commit_timestamp,
        source=source,
        attempt=attempt,
        parent_hints=hints,
    )


def _ignored(base: Trigger, reason: str) -> Trigger:
    return Trigger(
        commit_timestamp=base.commit_timestamp,
        source=base.source,
        attempt=base.attempt,
        ignored=reason,
    )
