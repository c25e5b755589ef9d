"""Results apply in attempt order per record, and a Success resolves the record's errors (R2)."""

from __future__ import annotations

import datetime as dt

from cpqsync_sandbox.org.dataset import STANDARD_PRICEBOOK_REF
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncStatus
from tests.writeback.conftest import Harness
from tests.writeback.support import T0, accounts, result, sync_records

MINUTE = dt.timedelta(minutes=1)


def _order(org: OrgSimulator, account: str) -> str:
    return org.create(
        "Order",
        {
            "AccountId": account,
            "EffectiveDate": "2025-03-01",
            "Status": "Draft",
            "Pricebook2Id": org.dataset.refs[STANDARD_PRICEBOOK_REF],
        },
    )


def test_older_results_arriving_late_never_overwrite_newer_ones(
    org: OrgSimulator, writeback: Harness
) -> None:
    first, second = accounts(org, 2)
    writeback.produce(
        [
            result(first, at=T0 + 2 * MINUTE, stripe_id="cus_new"),
            result(first, at=T0, status=SyncStatus.ERROR, message="Stripe Error: older"),
            result(second, at=T0 + 2 * MINUTE, stripe_id="cus_newer"),
            result(second, at=T0 + MINUTE, stripe_id="cus_older"),
        ]
    )
    with writeback.running() as consumed:
        consumed()
        # Now the newer record is only in the org, not in the batch: the guard reads it there.
        writeback.produce([result(first, at=T0 + MINUTE, stripe_id="cus_late")])
        consumed()

    records = sync_records(org)
    assert records[first]["Resolution_Status__c"] == "Success"
    assert records[first]["Resolution_Message__c"] == "Synced"
    assert records[first]["Last_Attempt_At__c"] == T0 + 2 * MINUTE
    assert org.get("Account", first)["Stripe_ID__c"] == "cus_new"
    assert org.get("Account", second)["Stripe_ID__c"] == "cus_newer"
    assert len(records) == 2


def test_success_resolves_earlier_errors_of_the_record_but_not_later_ones(
    org: OrgSimulator, writeback: Harness
) -> None:
    [account] = accounts(org, 1)
    order = _order(org, account)
    item_a, item_b = "802000000000001AAA", "802000000000002AAA"
    order_error = result(order, object_type="Order", status=SyncStatus.ERROR, at=T0)
    line_error = result(
        order,
        object_type="Order",
        status=SyncStatus.ERROR,
        at=T0,
        secondary=("OrderItem", item_a),
        message="Data Error: The following required fields are missing: Quantity",
    )
    later_error = result(
        order,
        object_type="Order",
        status=SyncStatus.ERROR,
        at=T0 + 3 * MINUTE,
        secondary=("OrderItem", item_b),
    )
    success = result(
        order,
        object_type="Order",
        at=T0 + 2 * MINUTE,
        stripe_id="sub_sched_1",
        invoice_link="https://invoice.stripe.com/i/acct_1/test_inv_1",
    )
    with writeback.running() as consumed:
        # One attempt's errors stand together (R4: an attempt reports every fault it has).
        writeback.produce([order_error, line_error])
        consumed()
        assert {r["Resolution_Status__c"] for r in sync_records(org).values()} == {"Error"}
        writeback.produce([success, later_error])
        consumed()

    records = sync_records(org)
    assert records[order]["Resolution_Status__c"] == "Success"
    assert records[f"{order}-{item_a}"]["Resolution_Status__c"] == "Resolved"
    assert records[f"{order}-{item_a}"]["Resolution_Message__c"] == line_error.message
    assert records[f"{order}-{item_b}"]["Resolution_Status__c"] == "Error"
    stored = org.get("Order", order)
    assert stored["Stripe_ID__c"] == "sub_sched_1"
    assert stored["Stripe_Dashboard_Link__c"] == success.dashboard_link
    assert stored["Stripe_Invoice_Payment_Link__c"] == success.invoice_payment_link


def test_an_older_report_of_a_records_stripe_id_never_overwrites_a_newer_one_of_another_attempt(
    org: OrgSimulator, writeback: Harness
) -> None:
    """Long chaos run 6: PricebookEntry.Stripe_ID__c named a price the entry's own P7
    replacement had archived.

    An order's sync reported the entry's price it found in Stripe (X1, confirmed current at
    T0+1) with the order as secondary; the entry's own sync replaced X1 by X2 at T0+2, and its
    result reached the writeback first. The ordering guard compared the order's report only
    with its own Sync Record (entry + order), so the older X1 was written over X2."""
    [account] = accounts(org, 1)
    order = _order(org, account)
    product = org.create("Product2", {"Name": "Onboarding", "IsActive": True})
    entry = org.create(
        "PricebookEntry",
        {
            "Pricebook2Id": org.dataset.refs[STANDARD_PRICEBOOK_REF],
            "Product2Id": product,
            "UnitPrice": 4500,
            "IsActive": True,
        },
    )
    replaced = result(entry, object_type="PricebookEntry", at=T0 + 2 * MINUTE, stripe_id="price_X2")
    older_report = result(
        entry,
        object_type="PricebookEntry",
        at=T0 + MINUTE,
        stripe_id="price_X1",
        secondary=("Order", order),
        message="Synced: already up to date: price price_X1",
    )
    writeback.produce([replaced, older_report])
    with writeback.running() as consumed:
        consumed()
        assert org.get("PricebookEntry", entry)["Stripe_ID__c"] == "price_X2"
        # A report newer than every other attempt of the record still names its price.
        writeback.produce(
            [
                result(
                    entry,
                    object_type="PricebookEntry",
                    at=T0 + 3 * MINUTE,
                    stripe_id="price_X3",
                    secondary=("Order", order),
                )
            ]
        )
        consumed()
    assert org.get("PricebookEntry", entry)["Stripe_ID__c"] == "price_X3"
