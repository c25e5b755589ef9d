"""Hydration: the current Salesforce state of a batch's roots, in as few queries as possible.

One query per object type with ``Id IN (...)`` (chunked) selecting exactly what the planner
reads (``planning.required_fields``: mapping sources, filter fields, relationships), then one
query per child object for the whole batch: the lines' consumption schedules and rates, and the
products' standard consumption schedules and rates. An order's lines come with the order, in a
parent-to-child subquery: the org finds them through the order (an index) rather than by
filtering every line on ``OrderId`` (the org simulator scans, which took 2 s per batch of 50
with 2,000 orders in the org, against 30 ms for the subquery). Orders whose lines do not all
fit in the subquery's answer (Salesforce pages large child sets) have them queried by
``OrderId`` instead. Children are nested in
the REST shape the planner expects (``record[relationship]["records"]``). A root the org no
longer returns was deleted since its event, and is simply absent from the result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from consumer.sync.planning import required_fields
from consumer.sync.planning.context import PlannerSettings
from consumer.sync.planning.views import related_records
from consumer.sync.read_rounds import ReadRounds
from consumer.sync.salesforce_reads import ID_CHUNK, SalesforceReader, select_list
from consumer.sync.triggers import RecordRef

Record = dict[str, Any]
_LINES = "OrderItems"  # Order's child relationship to OrderItem
_COUPONS = "Order_Lookup__r"  # Order's child relationship to Order_Stripe_Coupon__c
_LINE_COUPONS = "Order_Item_Lookup__r"  # OrderItem's child relationship to it
# Hydrations of one process at a time; callers meanwhile wait and are merged (``ReadRounds``).
# Four: a trickle of orders (one hydration each) seldom waits, a burst of tiny batches is read
# in a few queries instead of one set of queries per batch.
HYDRATION_ROUNDS = 4


def _relationship(records: list[Record]) -> dict[str, Any]:
    return {"totalSize": len(records), "done": True, "records": records}


def _same_id(a: str, b: str) -> bool:
    # Salesforce ids compare on their first 15 characters (the last 3 only encode case).
    return a[:15] == b[:15]


def _attach_line_coupons(order: Record) -> None:
    """Nest each line coupon under its line, as the planner reads it (A5)."""
    coupons = [dict(c) for c in related_records(order.get(_COUPONS))]
    for line in order[_LINES]["records"]:
        own = [c for c in coupons if _same_id(str(c.get("Order_Item__c") or ""), str(line["Id"]))]
        if own:
            line[_LINE_COUPONS] = _relationship(own)


class Hydrator:
    def __init__(
        self, reader: SalesforceReader, settings: PlannerSettings, *, rounds: int = HYDRATION_ROUNDS
    ) -> None:
        self._reader = reader
        self._fields = required_fields(settings)
        # Batches hydrated at the same moment share queries (at most ID_CHUNK roots a round).
        self.rounds: ReadRounds[RecordRef, Record] = ReadRounds(
            self._hydrate, rounds=rounds, max_keys=ID_CHUNK
        )

    @property
    def fields(self) -> Mapping[str, list[str]]:
        return self._fields

    def hydrate(self, refs: Iterable[RecordRef]) -> dict[RecordRef, Record]:
        """Each ref's record with its relationships; deleted records are left out. Read in
        one round with other callers' refs when the process's rounds are all busy."""
        return self.rounds.get(list(refs))

    def _hydrate(self, refs: Iterable[RecordRef]) -> dict[RecordRef, Record]:
        by_type: dict[str, list[RecordRef]] = defaultdict(list)
        for ref in dict.fromkeys(refs):
            by_type[ref.object_type].append(ref)
        found: dict[RecordRef, Record] = {}
        loaders = {
            "Order": self._orders,
            "Account": self._plain("Account"),
            "Product2": self._products,
            "PricebookEntry": self._entries,
        }
        for object_type, wanted in by_type.items():
            loader = loaders.get(object_type)
            if loader is None:
                raise ValueError(f"{object_type} records are not sync roots")
            records = loader([ref.id for ref in wanted])
            by_prefix = {str(r["Id"])[:15]: r for r in records}
            for ref in wanted:
                record = by_prefix.get(ref.id[:15])
                if record is not None:
                    found[ref] = record
        return found

    # --- roots ---------------------------------------------------------------------------

    def _plain(self, object_type: str) -> Any:
        def load(ids: list[str]) -> list[Record]:
            return self._reader.by_ids(object_type, self._fields[object_type], ids)

        return load

    def _products(self, ids: list[str]) -> list[Record]:
        products = self._reader.by_ids("Product2", self._fields["Product2"], ids)
        self._attach_product_schedules(products)
        return products

    def _entries(self, ids: list[str]) -> list[Record]:
        entries = self._reader.by_ids("PricebookEntry", self._fields["PricebookEntry"], ids)
        self._attach_product_schedules(
            [e["Product2"] for e in entries if isinstance(e.get("Product2"), dict)]
        )
        return entries

    def contract_orders(self, contract_id: str) -> list[Record]:
        """Every order of a contract (its initial order and amendments), hydrated, read now."""
        return self._orders([contract_id], id_field="ContractId")

    def _orders(self, ids: list[str], *, id_field: str = "Id") -> list[Record]:
        line_fields = [*self._fields["OrderItem"], "OrderId"]
        # Names from the planner's field table, no values: nothing here comes from a record.
        lines_query = f"(SELECT {select_list(['Id', *line_fields])} FROM {_LINES})"  # noqa: S608
        # A5: the order's coupons, its lines' too (the package links those to the order as well).
        coupons_query = (
            f"(SELECT {select_list(self._fields['Order_Stripe_Coupon__c'])} FROM {_COUPONS})"  # noqa: S608
        )
        orders = self._reader.by_ids(
            "Order", [*self._fields["Order"], lines_query, coupons_query], ids, id_field=id_field
        )
        items: list[Record] = []
        paged: list[str] = []
        for order in orders:
            nested = order.get(_LINES)
            if isinstance(nested, Mapping) and nested.get("done") is False:
                paged.append(str(order["Id"]))  # the rest is behind nextRecordsUrl
            else:
                items.extend(dict(line) for line in related_records(nested))
        if paged:
            items.extend(self._reader.by_ids("OrderItem", line_fields, paged, id_field="OrderId"))
        self._attach_line_schedules(items)
        self._attach_product_schedules(
            [i["Product2"] for i in items if isinstance(i.get("Product2"), dict)]
        )
        lines: dict[str, list[Record]] = defaultdict(list)
        for item in sorted(items, key=lambda i: str(i["Id"])):
            lines[str(item["OrderId"])[:15]].append(item)
        for order in orders:
            order[_LINES] = _relationship(lines.get(str(order["Id"])[:15], []))
            _attach_line_coupons(order)
        return orders

    # --- children ------------------------------------------------------------------------

    def _attach_line_schedules(self, items: list[Record]) -> None:
        """CPQ's per-line copies of consumption schedules and their rates (rule P8)."""
        if not items:
            return
        schedules = self._reader.by_ids(
            "SBQQ__OrderItemConsumptionSchedule__c",
            [*self._fields["SBQQ__OrderItemConsumptionSchedule__c"], "SBQQ__OrderItem__c"],
            [str(i["Id"]) for i in items],
            id_field="SBQQ__OrderItem__c",
        )
        if not schedules:
            return
        rates = self._reader.by_ids(
            "SBQQ__OrderItemConsumptionRate__c",
            self._fields["SBQQ__OrderItemConsumptionRate__c"],
            [str(s["Id"]) for s in schedules],
            id_field="SBQQ__OrderItemConsumptionSchedule__c",
        )
        for schedule in schedules:
            own = [
                r
                for r in rates
                if _same_id(str(r["SBQQ__OrderItemConsumptionSchedule__c"]), str(schedule["Id"]))
            ]
            schedule["SBQQ__OrderItemConsumptionRates__r"] = _relationship(own)
        for item in items:
            own = [s for s in schedules if _same_id(str(s["SBQQ__OrderItem__c"]), str(item["Id"]))]
            if own:
                item["SBQQ__OrderItemConsumptionSchedules__r"] = _relationship(own)

    def _attach_product_schedules(self, products: list[Record]) -> None:
        """A product's standard consumption schedules, through the junction object (rule P8)."""
        product_ids = sorted({str(p["Id"]) for p in products if p.get("Id")})
        if not product_ids:
            return
        links = self._reader.by_ids(
            "ProductConsumptionSchedule",
            [*self._fields["ProductConsumptionSchedule"], "ProductId"],
            product_ids,
            id_field="ProductId",
        )
        if not links:
            return
        schedule_ids = [
            str(link["ConsumptionSchedule"]["Id"])
            for link in links
            if isinstance(link.get("ConsumptionSchedule"), dict)
        ]
        rates = self._reader.by_ids(
            "ConsumptionRate",
            self._fields["ConsumptionRate"],
            schedule_ids,
            id_field="ConsumptionScheduleId",
        )
        for link in links:
            schedule = link.get("ConsumptionSchedule")
            if isinstance(schedule, dict):
                own = [
                    r
                    for r in rates
                    if _same_id(str(r["ConsumptionScheduleId"]), str(schedule["Id"]))
                ]
                schedule["ConsumptionRates"] = _relationship(own)
        for product in products:
            own = [link for link in links if _same_id(str(link["ProductId"]), str(product["Id"]))]
            if own:
                product["ProductConsumptionSchedules"] = _relationship(own)
