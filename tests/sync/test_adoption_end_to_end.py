"""Rule K2 end to end: an org migrating from Stripe's connector keeps its Stripe objects.

The "other connector" is played by objects created in the Stripe emulator through the stripe
library, with the reference's metadata keys (K1) and no lookup keys, and their ids written on
the org's records as that connector writes them. Syncing the order adopts every one of them:
nothing is created twice. A value that names no product is replaced; one naming a product
Stripe no longer has is an error naming it, on that product's Sync Record.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import stripe
from typer.testing import CliRunner

from consumer.sync.planning.schedule_dates import add_months, start_epoch
from cpqsync.app.cli.app import app
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.models import SyncStatus
from tests.sync.stack import Stack, roots_reported, salesforce_env

pytestmark = pytest.mark.integration


def _monthly(amount: str) -> dict[str, Any]:
    return {"unit_amount_decimal": amount, "recurring": {"interval": "month"}}


def _reference_objects(org: OrgSimulator, client: stripe.StripeClient) -> dict[str, str]:
    """Acme's order as the reference connector left it in Stripe; record ref -> Stripe id."""
    refs = org.dataset.refs
    order = org.get("Order", refs["order_acme"])
    quote = org.get("SBQQ__Quote__c", order["SBQQ__Quote__c"])
    ids: dict[str, str] = {}
    customer = client.v1.customers.create(
        params={"name": "Acme Corporation", "metadata": {"salesforce_account_id": refs["acme"]}}
    )
    ids["acme"] = customer.id
    for ref, name in (("platform", "Platform"), ("support", "Support"), ("onboarding", "Onb")):
        product = client.v1.products.create(
            params={"name": name, "metadata": {"salesforce_product2_id": refs[ref]}}
        )
        ids[ref] = product.id
    entry_prices = {
        "platform_usd": ("platform", _monthly("144000")),
        "support_usd": ("support", _monthly("600000")),
        "onboarding_usd": ("onboarding", {"unit_amount_decimal": "500000"}),
    }
    for ref, (product, shape) in entry_prices.items():
        price = client.v1.prices.create(
            params={
                "currency": "usd",
                "product": ids[product],
                "metadata": {"salesforce_pricebook_entry_id": refs[ref]},
                **shape,
            }
        )
        ids[ref] = price.id
    # The lines' own per-month prices (P5): 1440.00 and 6000.00 a year, billed monthly.
    line_prices = {
        "acme_platform_line": ("platform", "12000"),
        "acme_support_line": ("support", "50000"),
    }
    for ref, (product, amount) in line_prices.items():
        price = client.v1.prices.create(
            params={
                "currency": "usd",
                "product": ids[product],
                "metadata": {
                    "salesforce_order_item_id": refs[ref],
                    "salesforce_auto_archive": "true",
                },
                **_monthly(amount),
            }
        )
        ids[ref] = price.id
    start = start_epoch(quote["SBQQ__StartDate__c"])
    assert start is not None
    order_keys = {"salesforce_order_id": order["Id"]}
    schedule = client.v1.subscription_schedules.create(
        params={
            "customer": customer.id,
            "start_date": start,
            "end_behavior": "cancel",
            "metadata": order_keys,
            "phases": [
                {
                    "end_date": add_months(start, 12),
                    "metadata": order_keys,
                    "items": [
                        {
                            "price": ids["acme_platform_line"],
                            "quantity": 25,
                            "metadata": {"salesforce_order_item_id": refs["acme_platform_line"]},
                        },
                        {
                            "price": ids["acme_support_line"],
                            "quantity": 1,
                            "metadata": {"salesforce_order_item_id": refs["acme_support_line"]},
                        },
                    ],
                    "add_invoice_items": [
                        {
                            "price": ids["onboarding_usd"],
                            "quantity": 1,
                            "metadata": {"salesforce_order_item_id": refs["acme_onboarding_line"]},
                        }
                    ],
                }
            ],
        }
    )
    ids["order_acme"] = schedule.id
    return ids


def test_an_org_migrating_from_the_reference_connector_keeps_its_stripe_objects(
    stack: Stack, emulator: StripeEmulator
) -> None:
    org = stack.org
    client = stripe.StripeClient(
        api_key=emulator.api_key, base_addresses={"api": emulator.api_base}
    )
    ids = _reference_objects(org, client)
    objects = {
        "acme": "Account",
        "platform": "Product2",
        "support": "Product2",
        "onboarding": "Product2",
        "platform_usd": "PricebookEntry",
        "support_usd": "PricebookEntry",
        "onboarding_usd": "PricebookEntry",
        "order_acme": "Order",
    }
    for ref, object_type in objects.items():
        org.update(object_type, org.dataset.refs[ref], {"Stripe_ID__c": ids[ref]})
    before = {kind: len(emulator.objects(kind)) for kind in ("customer", "product", "price")}
    refs = org.dataset.refs
    # Stark's seats product holds a note rather than an id; Umbrella's storage names a product
    # deleted in Stripe since.
    org.update("Product2", refs["seats_quarterly"], {"Stripe_ID__c": "Seats (legacy SKU)"})
    deleted = client.v1.products.create(params={"name": "Data Storage"}).id
    client.v1.products.delete(deleted)
    org.update("Product2", refs["storage"], {"Stripe_ID__c": deleted})
    # Initech's account names a customer of another Stripe account.
    org.update("Account", refs["initech"], {"Stripe_ID__c": "cus_OfAnotherAccount"})

    stack.start_bridge()
    stack.start_sync()
    order, stark, umbrella = refs["order_acme"], refs["order_stark"], refs["order_umbrella"]
    initech = refs["order_initech"]
    for activated in (order, stark, umbrella, initech):
        org.activate_order(activated)
    results = stack.wait_for_results(
        lambda rs: roots_reported(rs, [order, stark, umbrella, initech]), timeout=90
    )

    [own] = [r for r in stack.order_results(order)]
    assert own.status is SyncStatus.SUCCESS, own.message
    assert own.stripe_object_id == ids["order_acme"]
    # Nothing made twice: the customer, products, prices and schedule are the adopted ones.
    made_for_acme = {
        kind: [o for o in emulator.objects(kind) if o["id"] not in ids.values()]
        for kind in ("customer", "product", "price")
    }
    assert made_for_acme["customer"] == [
        c for c in emulator.objects("customer") if c["name"] == "Stark Logistics"
    ]
    assert [p["id"] for p in made_for_acme["product"]] == [f"sf_{refs['seats_quarterly']}"]
    assert all(p["product"] == f"sf_{refs['seats_quarterly']}" for p in made_for_acme["price"])
    assert len(emulator.objects("product")) == before["product"] + 1
    schedule = next(
        s for s in emulator.objects("subscription_schedule") if s["id"] == own.stripe_object_id
    )
    assert schedule["customer"] == ids["acme"]
    [phase] = schedule["phases"]
    assert sorted(i["price"] for i in phase["items"]) == sorted(
        [ids["acme_platform_line"], ids["acme_support_line"]]
    )
    assert [i["price"] for i in phase["add_invoice_items"]] == [ids["onboarding_usd"]]
    reported = {(r.primary_object_type, r.stripe_object_id) for r in results}
    assert ("Account", ids["acme"]) in reported

    # The note on Stark's product was replaced by a product of our own; its order synced.
    [stark_result] = stack.order_results(stark)
    assert stark_result.status is SyncStatus.SUCCESS, stark_result.message
    assert (
        "Product2",
        f"sf_{refs['seats_quarterly']}",
    ) in reported
    # Umbrella's storage product names a deleted product: an error naming it, on the product,
    # and nothing of Umbrella's order reached Stripe (no customer for the account).
    [failed] = stack.order_results(umbrella)
    assert failed.status is SyncStatus.ERROR
    assert (failed.secondary_object_type, failed.secondary_record_id) == (
        "Product2",
        refs["storage"],
    )
    assert failed.message.startswith(f"Stripe Error: No such product: '{deleted}'. Product2 ")
    assert not [c for c in emulator.objects("customer") if c["name"] == "Umbrella Analytics Ltd"]
    # Initech's account names another Stripe account's customer: an error naming it.
    [no_customer] = stack.order_results(initech)
    assert no_customer.status is SyncStatus.ERROR
    assert no_customer.message.startswith(
        "Stripe Error: No such customer: 'cus_OfAnotherAccount'. Account "
    )
    assert not [c for c in emulator.objects("customer") if c["name"] == "Initech Inc."]


def test_a_dry_run_of_a_migrated_order_shows_updates_only(
    org: OrgSimulator, emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/migrating.md: ``cpqsync plan ORDER --lookup`` before the first live sync."""
    client = stripe.StripeClient(
        api_key=emulator.api_key, base_addresses={"api": emulator.api_base}
    )
    ids = _reference_objects(org, client)
    refs = org.dataset.refs
    for ref, object_type in (("acme", "Account"), ("order_acme", "Order")):
        org.update(object_type, refs[ref], {"Stripe_ID__c": ids[ref]})
    for ref in ("platform", "support", "onboarding"):
        org.update("Product2", refs[ref], {"Stripe_ID__c": ids[ref]})
    for ref in ("platform_usd", "support_usd", "onboarding_usd"):
        org.update("PricebookEntry", refs[ref], {"Stripe_ID__c": ids[ref]})
    org.activate_order(refs["order_acme"])
    monkeypatch.delenv("CPQSYNC_CONFIG", raising=False)
    env = {
        **salesforce_env(org),
        "CPQSYNC_STRIPE__API_KEY": emulator.api_key,
        "CPQSYNC_STRIPE__API_BASE": emulator.api_base,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    requests_before = len(emulator.request_log())

    result = CliRunner().invoke(app, ["plan", refs["order_acme"], "--lookup", "--json"])

    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    kinds = [op["kind"] for op in plan["operations"]]
    assert not [k for k in kinds if k.endswith(".create")], kinds
    assert "subscription_schedule.update" in kinds and "customer.update" in kinds
    [update] = [op for op in plan["operations"] if op["kind"] == "subscription_schedule.update"]
    assert update["target"] == ids["order_acme"]
    # Read-only: the lookups only asked.
    assert {e.method for e in emulator.request_log()[requests_before:]} == {"GET"}
