"""Hydration against the org simulator through simple-salesforce: few queries, safe ids."""

from __future__ import annotations

from consumer.sync.hydration import Hydrator
from consumer.sync.roots import RootResolver
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.triggers import RecordRef, Trigger
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.sandbox.org.simulator import OrgSimulator
from cpqsync.settings import Settings
from tests.sync.stack import GOOD_ORDERS, org_settings


def reader_for(org: OrgSimulator) -> SalesforceReader:
    return SalesforceReader(SalesforceRest(SalesforceAuth(org_settings(org))))


def test_a_batch_of_orders_costs_one_query_per_object_type(org: OrgSimulator) -> None:
    orders = [RecordRef("Order", org.dataset.id(ref)) for ref in GOOD_ORDERS]
    hydrator = Hydrator(reader_for(org), Settings())
    hydrator.hydrate(orders[:1])  # log in first
    org.clear_request_log()
    records = hydrator.hydrate(orders)
    assert set(records) == set(orders)
    # Order, OrderItem, line schedules, line rates, product schedules, product rates.
    assert len(org.request_log) == 6, [e.path for e in org.request_log]

    globex = records[RecordRef("Order", org.dataset.id("order_globex"))]
    assert globex["Account"]["Name"] == "Globex GmbH"
    assert globex["SBQQ__Quote__r"]["SBQQ__SubscriptionTerm__c"] == 24
    lines = {line["PricebookEntryId"]: line for line in globex["OrderItems"]["records"]}
    api = lines[org.dataset.id("api_calls_eur")]
    [schedule] = api["SBQQ__OrderItemConsumptionSchedules__r"]["records"]
    assert schedule["SBQQ__Type__c"] == "Range"
    assert len(schedule["SBQQ__OrderItemConsumptionRates__r"]["records"]) == 3
    [link] = api["Product2"]["ProductConsumptionSchedules"]["records"]
    assert len(link["ConsumptionSchedule"]["ConsumptionRates"]["records"]) == 3


def test_hostile_ids_cannot_widen_a_query_and_deleted_records_are_absent(
    org: OrgSimulator,
) -> None:
    hydrator = Hydrator(reader_for(org), Settings())
    hostile = RecordRef("Account", "001' OR Name != '")
    acme = RecordRef("Account", org.dataset.id("acme"))
    gone = RecordRef("Account", org.create("Account", {"Name": "Gone"}))
    org.delete("Account", gone.id)
    records = hydrator.hydrate([hostile, acme, gone])
    assert list(records) == [acme]


def test_order_lines_lead_to_their_orders(org: OrgSimulator) -> None:
    order_id = org.dataset.id("order_acme")
    line_id = org.dataset.id("acme_platform_line")
    resolver = RootResolver(reader_for(org), None)
    [roots, gone] = resolver.resolve(
        [
            Trigger(records=(RecordRef("OrderItem", line_id),)),
            Trigger(records=(RecordRef("OrderItem", "802000000000000AAA"),)),
        ]
    )
    assert roots == (RecordRef("Order", order_id),)
    assert gone == ()
