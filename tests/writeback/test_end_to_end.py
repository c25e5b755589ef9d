"""End to end: activating an order in the org comes back as Stripe ids and a Success Sync Record.

org simulator -> bridge -> Kafka -> sync consumer -> Stripe emulator -> results -> writeback -> org
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from prometheus_client import CollectorRegistry

from consumer.writeback import WritebackService
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.stack import FAST_GROUP, open_stack
from tests.writeback.support import sync_records, wait_until


@pytest.fixture
def demo_org() -> Iterator[OrgSimulator]:
    with OrgSimulator(dataset=default_dataset()) as sim:
        yield sim


@pytest.fixture
def stripe_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


def test_activating_an_order_writes_stripe_ids_and_a_success_sync_record(
    kafka: str,
    demo_org: OrgSimulator,
    stripe_emulator: StripeEmulator,
    unique: Callable[[str], str],
) -> None:
    order = demo_org.dataset.refs["order_acme"]
    one_time = demo_org.dataset.refs["order_initech"]  # one-time lines only: a final invoice
    account = demo_org.get("Order", order)["AccountId"]
    with contextmanager(open_stack)(demo_org, stripe_emulator, kafka, unique("e2e")) as stack:
        stack.start_bridge()
        stack.start_sync()
        writeback = WritebackService(
            stack.settings,
            bootstrap_servers=kafka,
            group_id=unique("writeback"),
            client_config=dict(FAST_GROUP),
            registry=CollectorRegistry(),
        ).start()
        try:
            demo_org.activate_order(order)
            demo_org.activate_order(one_time)

            def written() -> bool:
                records = sync_records(demo_org)
                done = [records.get(o, {}).get("Resolution_Status__c") for o in (order, one_time)]
                return (
                    done == ["Success", "Success"]
                    and demo_org.get("Account", account).get("Stripe_ID__c") is not None
                )

            wait_until(written, 90, "the order's Success Sync Record and the account's id")
            # Writing Stripe ids is itself a change the bridge publishes; the writeback must
            # not keep rewriting them, or sync and writeback would feed each other forever.
            time.sleep(3)
            settled = len(stack.results())
            time.sleep(3)
            assert len(stack.results()) == settled
        finally:
            writeback.stop()

    stored_order = demo_org.get("Order", order)
    assert str(stored_order["Stripe_ID__c"]).startswith("sub_sched_")
    assert "/test/" in stored_order["Stripe_Dashboard_Link__c"]
    assert str(demo_org.get("Account", account)["Stripe_ID__c"]).startswith("cus_")
    assert str(demo_org.get("Order", one_time)["Stripe_Invoice_Payment_Link__c"]).startswith("http")
    assert stored_order["Stripe_Invoice_Payment_Link__c"] is None
    record = sync_records(demo_org)[order]
    assert record["Primary_Object_Type__c"] == "Order"
    assert record["Stripe_Request_Dashboard_Link__c"].startswith(
        "https://dashboard.stripe.com/test/logs/req_"
    )
