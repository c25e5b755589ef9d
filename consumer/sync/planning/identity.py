"""Deterministic Stripe identities for Salesforce records.

Stripe idempotency keys expire after 24 hours, so anything we create must also be findable by a
name derived from its Salesforce record: products get their id from the Product2 id, pricebook
prices a lookup key, meters an event name. Salesforce copies record ids into sandboxes, so a
sandbox org gets its own prefix (and prefixed metadata keys) and can never collide with
production data in one Stripe account (spec section 1).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from consumer.sync.planning.context import PlanningContext


def _prefix(sandbox: bool) -> str:
    return "sfsbx_" if sandbox else "sf_"


def product_id(product2_id: str, *, sandbox: bool) -> str:
    # Prefix spelled inline here and below: these run for every line of every order.
    return f"sfsbx_{product2_id}" if sandbox else f"sf_{product2_id}"


def price_lookup_key(pricebook_entry_id: str, *, sandbox: bool) -> str:
    return f"sfsbx_pbe_{pricebook_entry_id}" if sandbox else f"sf_pbe_{pricebook_entry_id}"


def meter_event_name(product2_id: str, *, sandbox: bool) -> str:
    return f"{_prefix(sandbox)}usage_{product2_id}"


# Rule K2: the prefixes of the ids a record's Stripe_ID__c may hold for each kind of object:
# Stripe's own, and for products also cpqsync's deterministic ids.
_ID_PREFIXES = {
    "customer": ("cus_",),
    "product": ("prod_", "sf_", "sfsbx_"),
    "price": ("price_",),
    "subscription_schedule": ("sub_sched_",),
    # An evergreen order's once its schedule has started the subscription (A4).
    "subscription": ("sub_",),
}
# Ids a kind's prefix also matches that are another kind's.
_OTHER_KINDS = {"subscription": ("sub_sched_",)}


def stripe_id_of(value: str | None, kind: str) -> str | None:
    """A ``Stripe_ID__c`` value when it names a Stripe object of ``kind``, else None: a value
    of another shape was set by mistake and is ignored (and replaced) (rule K2)."""
    if value is None or not value.startswith(_ID_PREFIXES[kind]):
        return None
    return None if value.startswith(_OTHER_KINDS.get(kind, ())) else value


def stripe_id_on(record: Any, kind: str) -> str | None:
    """``stripe_id_of`` a hydrated record as Salesforce returned it (the Stripe lookups read
    those; the planner reads its views' ``stripe_id``)."""
    value = record.get("Stripe_ID__c") if isinstance(record, Mapping) else None
    return stripe_id_of(value if isinstance(value, str) else None, kind)


def metadata_key(name: str, *, sandbox: bool) -> str:
    return f"sandbox_{name}" if sandbox else name


@functools.cache
def _record_keys(object_key: str, sandbox: bool) -> tuple[str, str]:
    return (
        metadata_key(f"salesforce_{object_key}_id", sandbox=sandbox),
        metadata_key(f"salesforce_{object_key}_link", sandbox=sandbox),
    )


# The reference's marker on a price it archives once the schedule using it exists (an order
# line's own price, P6). Earlier cpqsync versions wrote ``salesforce_line_price``: read both.
AUTO_ARCHIVE = "salesforce_auto_archive"
LEGACY_LINE_PRICE = "salesforce_line_price"
# What products carried before K1 (the reference names Product2 `salesforce_product2_id`).
LEGACY_PRODUCT_KEY = "salesforce_product_id"


# A schedule phase's keys naming its order (K1), in both spellings, for readers that do not know
# whether the org is a sandbox.
PHASE_NAME_KEYS = frozenset(
    key for sandbox in (False, True) for key in _record_keys("order", sandbox)
)


def record_metadata(object_key: str, record_id: str, context: PlanningContext) -> dict[str, Any]:
    """``salesforce_<object>_id`` (and ``_link`` when the instance URL is known).

    Rule K1: ``object_key`` is the sObject's name in snake case, as the reference connector
    spells it (``product2``, ``pricebook_entry``, ``order_item``, ``consumption_schedule``)."""
    id_key, link_key = _record_keys(object_key, context.sandbox)
    out: dict[str, Any] = {id_key: record_id}
    base = context.salesforce_instance_url
    if base:
        out[link_key] = f"{base.rstrip('/')}/{record_id}"
    return out
