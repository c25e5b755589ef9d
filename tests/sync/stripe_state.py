"""What the Stripe emulator holds, reduced to what a sync decides (for before/after comparisons)."""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.stripe_emulator import StripeEmulator

KINDS = ("customer", "product", "price", "billing.meter", "subscription_schedule", "invoice")


def _phase(phase: dict[str, Any]) -> tuple[Any, ...]:
    items = tuple(sorted((i.get("price"), i.get("quantity")) for i in phase.get("items") or ()))
    extras = tuple(sorted(i.get("price") for i in phase.get("add_invoice_items") or ()))
    return (phase.get("start_date"), phase.get("end_date"), items, extras)


def _essentials(kind: str, obj: dict[str, Any]) -> tuple[Any, ...]:
    if kind == "customer":
        return (obj.get("name"), obj.get("metadata"))
    if kind == "product":
        return (obj.get("name"), obj.get("active"))
    if kind == "price":
        return (obj.get("active"), obj.get("lookup_key"), obj.get("unit_amount_decimal"))
    if kind == "subscription_schedule":
        return (obj.get("customer"), tuple(_phase(p) for p in obj.get("phases") or ()))
    if kind == "invoice":
        return (obj.get("customer"), obj.get("status"))
    return (obj.get("event_name"),)


def snapshot(emulator: StripeEmulator) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every object of the synced kinds by id, with the attributes a sync sets."""
    return {
        kind: {obj["id"]: _essentials(kind, obj) for obj in emulator.objects(kind)}
        for kind in KINDS
    }


def by_metadata(emulator: StripeEmulator, kind: str, key: str, value: str) -> list[dict[str, Any]]:
    return [o for o in emulator.objects(kind) if (o.get("metadata") or {}).get(key) == value]
