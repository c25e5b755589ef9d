"""Hydration against the org simulator through simple-salesforce: few queries, safe ids."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consumer.sync.hydration import Hydrator
from consumer.sync.roots import RootResolver
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.triggers import RecordRef, Trigger
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import Settings
from cpqsync_sandbox.org.simulator import OrgSimulator
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
    # Orders with their lines, line schedules, line rates, product schedules, product rates.
    assert len(org.request_log) == 5, [e.path for e in org.request_log]

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


class PagingReader(SalesforceReader):
    """The org's answer when an order's lines do not all fit in its subquery (Salesforce pages
    large child sets behind ``nextRecordsUrl``); every other read goes to the real org."""

    def __init__(self, org: OrgSimulator, paged_order: str) -> None:
        super().__init__(SalesforceRest(SalesforceAuth(org_settings(org))))
        self.paged_order = paged_order
        self.line_queries: list[list[str]] = []

    def by_ids(
        self, object_type: str, fields: Iterable[str], ids: Iterable[str], *, id_field: str = "Id"
    ) -> list[dict[str, Any]]:
        ids = list(ids)
        records = super().by_ids(object_type, fields, ids, id_field=id_field)
        if object_type == "OrderItem":
            self.line_queries.append(ids)
        for record in records:
            if object_type == "Order" and record["Id"] == self.paged_order:
                first = record["OrderItems"]["records"][:1]
                record["OrderItems"] = {
                    "totalSize": 2,
                    "done": False,
                    "records": first,
                    "nextRecordsUrl": "/services/data/v62.0/query/01g-2000",
                }
        return records


def test_an_order_whose_lines_are_paged_gets_them_all_by_order_id(org: OrgSimulator) -> None:
    acme, globex = (org.dataset.id(ref) for ref in ("order_acme", "order_globex"))
    reader = PagingReader(org, paged_order=globex)
    whole = Hydrator(reader_for(org), Settings()).hydrate([RecordRef("Order", globex)])
    records = Hydrator(reader, Settings()).hydrate(
        [RecordRef("Order", acme), RecordRef("Order", globex)]
    )
    assert reader.line_queries == [[globex]]  # only the paged order's lines, by OrderId
    lines = records[RecordRef("Order", globex)]["OrderItems"]["records"]
    expected = whole[RecordRef("Order", globex)]["OrderItems"]["records"]
    assert len(expected) >= 2
    assert [line["Id"] for line in lines] == [line["Id"] for line in expected]
    assert records[RecordRef("Order", acme)]["OrderItems"]["records"]
