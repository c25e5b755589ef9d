"""What CPQ does to contracts, as store operations: contract an order, amend or cancel a contract.

The shapes are CPQ's (spec A1/A2):
- **Contracting.** Checking ``Order.SBQQ__Contracted__c`` on an activated order (over REST, like
  any field) makes CPQ's trigger create an activated Contract with ``SBQQ__Order__c`` /
  ``SBQQ__Quote__c`` / ``SBQQ__Opportunity__c``, ``StartDate`` (the quote's start),
  ``ContractTerm`` (its term in months) and ``EndDate`` (start + term months - 1 day, as
  Salesforce computes it). CPQ does this asynchronously; here it commits with the checkbox, in
  the same transaction, so the change events arrive together.
- **Amending.** An amendment is a new Opportunity (``Type = Amendment``,
  ``SBQQ__AmendedContract__c``), a primary quote of ``SBQQ__Type__c = Amendment`` whose
  ``SBQQ__MasterContract__c`` is the contract, starting on the amendment date and ending on the
  contract's end date (co-terminating), and a Draft order of ``Type = Amendment`` whose lines carry
  the quantity CHANGE (+2, -1; never the new total). A line changing an existing subscription
  names the order product that first sold it in ``SBQQ__RevisedOrderProduct__c``; a new product
  has none. ``UnitPrice`` is prorated to the rest of the term (``SBQQ__ProrateMultiplier__c`` =
  remaining months / contract term), as CPQ prices amendment lines. Activating the order is a
  plain ``Status = Activated`` update, so it goes through REST like any activation.
- **Cancelling.** An amendment taking every line still live to zero from its start date.
- **MDQ contracts.** A segmented (multi-dimensional) product was sold as one order product per
  segment (``SBQQ__SegmentIndex__c`` / ``SegmentKey__c`` / ``SegmentLabel__c``). The amendment
  quote shows each segment still running on the amendment's start (ended ones are locked), and
  its order carries one line per changed segment, revising THAT segment's order product, with
  the segment's fields, the change for that segment, and a service period from the amendment's
  start (or the segment's own start, for a later segment) to the segment's end. (Contracting on
  the order makes the order's offsets the truth, never the running totals.) A new MDQ product
  added by the amendment (:class:`NewMdqProduct`) is one line per segment on the contract's
  segment timeline, from the segment running on the amendment's start to the contract's end,
  with a segment key of its own, that segment's quantity, no revised order product, and its
  price prorated like a changed segment's (the first segment from the amendment's start).

CPQ's amendment API (the ``SBQQ.ContractManipulationAPI.ContractAmender`` service router) is
not served over REST: tests amend through :func:`amend_contract`, and the demo (another process)
through the org's own Apex REST resource that calls it (``rest/apex_routes.py``); either then
activates the order over REST.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.store import OrgStore


@dataclass(frozen=True)
class AmendmentLine:
    """One line of an amendment: a quantity change on an existing subscription (``revises``
    = the order product that first sold it), or a new product (``pricebook_entry_id``)."""

    quantity_change: float
    revises: str | None = None
    pricebook_entry_id: str | None = None
    # The price for a full term; CPQ prorates it to the rest of the contract. A revised line
    # keeps its subscription's price (CPQ does not reprice existing lines on an amendment).
    unit_price: float | None = None
    billing_frequency: str | None = "Monthly"
    billing_type: str | None = "Advance"


@dataclass(frozen=True)
class NewMdqProduct:
    """A multi-dimensional (MDQ) product an amendment adds: ``quantities`` per segment, from
    the segment running on the amendment's start to the contract's end; ``unit_price`` is a
    whole segment's price (CPQ prorates the first, partial one)."""

    pricebook_entry_id: str
    quantities: tuple[float, ...]
    unit_price: float
    dimension: str = "Year"  # Year, Quarter or Month
    billing_frequency: str | None = "Monthly"


def install(store: OrgStore) -> None:
    """CPQ's managed-package triggers on the store (contracting an order)."""
    store.add_trigger("Order", _contract_when_checked)


def _contract_when_checked(
    store: OrgStore, order: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    if not order.get("SBQQ__Contracted__c") or (old or {}).get("SBQQ__Contracted__c"):
        return
    if order.get("Type") == "Amendment":
        return  # an amendment's changes fold into the contract it amends: no new contract
    if order["Status"] != "Activated":
        raise OrgError(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Only activated orders can be contracted",
            ["SBQQ__Contracted__c"],
        )
    quote = (
        store.get("SBQQ__Quote__c", order["SBQQ__Quote__c"]) if order.get("SBQQ__Quote__c") else {}
    )
    start = quote.get("SBQQ__StartDate__c") or order["EffectiveDate"]
    term = int(quote.get("SBQQ__SubscriptionTerm__c") or 12)
    contract = store.create(
        "Contract",
        {
            "AccountId": order["AccountId"],
            "StartDate": start,
            "ContractTerm": term,
            "EndDate": contract_end(start, term),
            "SBQQ__Order__c": order["Id"],
            "SBQQ__Quote__c": order.get("SBQQ__Quote__c"),
            "SBQQ__Opportunity__c": order.get("OpportunityId"),
            "CurrencyIsoCode": order.get("CurrencyIsoCode"),
        },
    )
    store.update("Contract", contract, {"Status": "Activated"})
    store.update("Order", order["Id"], {"ContractId": contract})


def contract_end(start: date, term_months: int) -> date:
    """Salesforce's Contract.EndDate: start + term months - 1 day (the last day covered)."""
    month_index = start.month - 1 + term_months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = start.day
    while True:
        try:
            return date(year, month, day) - timedelta(days=1)
        except ValueError:
            day -= 1  # Jan 31 + 1 month: the month's last day


def contract_order(store: OrgStore, order_id: str) -> str:
    """Check "Contracted" on an activated order; returns the Contract CPQ creates for it."""
    store.update("Order", order_id, {"SBQQ__Contracted__c": True})
    contract = store.get("Order", order_id).get("ContractId")
    assert isinstance(contract, str)
    return contract


def live_quantities(store: OrgStore, contract_id: str, on: date | None = None) -> dict[str, float]:
    """Each subscription's current quantity (original order product id -> quantity), adding
    every activated amendment's changes; subscriptions at zero are left out, and so are MDQ
    segments that ended before ``on``."""
    contract = store.get("Contract", contract_id)
    totals: dict[str, float] = {}
    for line in store.children("OrderItem", "OrderId", contract["SBQQ__Order__c"]):
        segmented = bool(line.get("SBQQ__SegmentIndex__c"))
        if on is not None and segmented and segment_period(line, contract)[1] < on:
            continue
        totals[line["Id"]] = float(line["Quantity"])
    for order in store.children("Order", "ContractId", contract_id):
        if order.get("Type") != "Amendment" or order["Status"] != "Activated":
            continue
        for line in store.children("OrderItem", "OrderId", order["Id"]):
            original = line.get("SBQQ__RevisedOrderProduct__c") or line["Id"]
            ended = (
                on is not None
                and bool(line.get("SBQQ__SegmentIndex__c"))
                and segment_period(line, contract)[1] < on
            )
            if original == line["Id"] and ended:
                continue  # a segment of an MDQ product the amendment added, over by then
            if original in totals or original == line["Id"]:
                totals[original] = totals.get(original, 0.0) + float(line["Quantity"])
    return {line_id: quantity for line_id, quantity in totals.items() if quantity}


def amend_contract(
    store: OrgStore,
    contract_id: str,
    start: date,
    lines: Sequence[AmendmentLine | NewMdqProduct],
    *,
    name: str | None = None,
) -> str:
    """Create the Draft amendment order on ``contract_id`` starting ``start``; returns its id.
    ``name``: the order's Name (a user may name it; by default "Amendment of <order>")."""
    with store.transaction():
        contract = store.get("Contract", contract_id)
        if contract["Status"] != "Activated":
            raise OrgError(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Only activated contracts can be amended"
            )
        original = store.get("Order", contract["SBQQ__Order__c"])
        original_quote = store.get("SBQQ__Quote__c", original["SBQQ__Quote__c"])
        term = int(contract["ContractTerm"])
        end = contract["EndDate"]
        prorate = _months_between(start, end + timedelta(days=1)) / term
        opportunity, quote = follow_on_deal(
            store,
            contract,
            original_quote,
            "Amendment",
            start=start,
            end=end,
            term=term,
            links={
                "Opportunity": {"SBQQ__AmendedContract__c": contract_id},
                "SBQQ__Quote__c": {"SBQQ__MasterContract__c": contract_id},
            },
        )
        order = store.create(
            "Order",
            {
                "Name": name or f"Amendment of {original.get('Name') or original['OrderNumber']}",
                "AccountId": contract["AccountId"],
                "OpportunityId": opportunity,
                "ContractId": contract_id,
                "Pricebook2Id": original.get("Pricebook2Id"),
                "SBQQ__Quote__c": quote,
                "Status": "Draft",
                "EffectiveDate": start,
                "EndDate": end,
                "Type": "Amendment",
                "CurrencyIsoCode": contract.get("CurrencyIsoCode"),
            },
        )
        for line in lines:
            if isinstance(line, NewMdqProduct):
                for values in _new_mdq_lines(contract, order, line, start):
                    store.create("OrderItem", values)
                continue
            values = _amendment_line(store, order, line, start, end, prorate)
            if line.revises is not None:
                revised = store.get("OrderItem", line.revises)
                values.update(_segment_fields(revised, contract, start))
            store.create("OrderItem", values)
        return order


def cancel_contract(
    store: OrgStore, contract_id: str, start: date, *, name: str | None = None
) -> str:
    """The Draft amendment order taking every live subscription of ``contract_id`` to zero."""
    lines = [
        AmendmentLine(quantity_change=-quantity, revises=line_id)
        for line_id, quantity in sorted(live_quantities(store, contract_id, start).items())
    ]
    return amend_contract(store, contract_id, start, lines, name=name)


def _amendment_line(
    store: OrgStore, order: str, line: AmendmentLine, start: date, end: date, prorate: float
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "OrderId": order,
        "Quantity": line.quantity_change,
        "ServiceDate": start,
        "EndDate": end,
        "SBQQ__ProrateMultiplier__c": prorate,
        "SBQQ__ChargeType__c": "Recurring",
        "SBQQ__SubscriptionType__c": "Renewable",
        "SBQQ__SubscriptionPricing__c": "Fixed Price",
        "SBQQ__BillingFrequency__c": line.billing_frequency,
        "SBQQ__BillingType__c": line.billing_type,
    }
    if line.revises is not None:
        revised = store.get("OrderItem", line.revises)
        full_price = (
            line.unit_price
            if line.unit_price is not None
            else revised["UnitPrice"] / (revised.get("SBQQ__ProrateMultiplier__c") or 1.0)
        )
        values.update(
            PricebookEntryId=revised["PricebookEntryId"],
            SBQQ__RevisedOrderProduct__c=revised["Id"],
            SBQQ__ContractAction__c=(
                "Quantity Increase" if line.quantity_change > 0 else "Quantity Decrease"
            ),
            SBQQ__BillingFrequency__c=revised.get("SBQQ__BillingFrequency__c"),
            SBQQ__BillingType__c=revised.get("SBQQ__BillingType__c"),
            SBQQ__SubscriptionPricing__c=revised.get("SBQQ__SubscriptionPricing__c"),
        )
    else:
        if line.pricebook_entry_id is None or line.unit_price is None:
            raise OrgError(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [PricebookEntryId, UnitPrice]",
                ["PricebookEntryId", "UnitPrice"],
            )
        full_price = line.unit_price
        values.update(PricebookEntryId=line.pricebook_entry_id, SBQQ__ContractAction__c="New")
    values["UnitPrice"] = round(full_price * prorate, 2)
    return values


_SEGMENT_MONTHS = {"Year": 12, "Quarter": 3, "Month": 1}


def segment_period(line: Mapping[str, Any], contract: Mapping[str, Any]) -> tuple[date, date]:
    """An MDQ order product's segment: its first and last day (its ServiceDate/EndDate, else
    counted from the contract's start by its segment type, the last one ending with it)."""
    if line.get("ServiceDate") and line.get("EndDate"):
        return line["ServiceDate"], line["EndDate"]
    months = _SEGMENT_MONTHS.get(str(line.get("SBQQ__DimensionType__c")), 12)
    index = int(line["SBQQ__SegmentIndex__c"])
    begins = contract_end(contract["StartDate"], (index - 1) * months) + timedelta(days=1)
    ends = contract_end(contract["StartDate"], index * months)
    return begins, min(ends, contract["EndDate"])


def _segment_fields(
    revised: Mapping[str, Any], contract: Mapping[str, Any], start: date
) -> dict[str, Any]:
    """An amendment line of an MDQ segment: the segment's fields and its service period from
    the amendment's start (or the segment's start) to the segment's end."""
    if not revised.get("SBQQ__SegmentIndex__c"):
        return {}
    first, last = segment_period(revised, contract)
    if last < start:
        raise OrgError(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            f"Segment {revised.get('SBQQ__SegmentLabel__c') or revised['SBQQ__SegmentIndex__c']}"
            " ended before the amendment's start date and can't be changed",
            ["Quantity"],
        )
    begins = max(first, start)
    share = _months_between(begins, last + timedelta(days=1)) / _months_between(
        first, last + timedelta(days=1)
    )
    full = revised["UnitPrice"] / (revised.get("SBQQ__ProrateMultiplier__c") or 1.0)
    return {
        "SBQQ__SegmentIndex__c": revised["SBQQ__SegmentIndex__c"],
        "SBQQ__SegmentKey__c": revised.get("SBQQ__SegmentKey__c"),
        "SBQQ__SegmentLabel__c": revised.get("SBQQ__SegmentLabel__c"),
        "SBQQ__DimensionType__c": revised.get("SBQQ__DimensionType__c"),
        "ServiceDate": begins,
        "EndDate": last,
        "SBQQ__ProrateMultiplier__c": round(share, 6),
        "UnitPrice": round(full * share, 2),
    }


def _new_mdq_lines(
    contract: Mapping[str, Any], order: str, product: NewMdqProduct, start: date
) -> list[dict[str, Any]]:
    """The order products of a new MDQ product: one per segment of the contract's timeline
    still running on ``start``, each with its quantity and its share of a segment's price."""
    months = _SEGMENT_MONTHS.get(product.dimension)
    if months is None:
        raise OrgError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Price dimension type {product.dimension!r} is not Year, Quarter or Month",
            ["SBQQ__DimensionType__c"],
        )
    segments = []
    index = 1
    while True:
        probe = {"SBQQ__SegmentIndex__c": index, "SBQQ__DimensionType__c": product.dimension}
        first, last = segment_period(probe, contract)
        if first > contract["EndDate"]:
            break
        if last >= start:
            segments.append((index, first, last))
        index += 1
    if len(product.quantities) != len(segments):
        raise OrgError(
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            f"The amendment shows {len(segments)} segments of the new MDQ product from "
            f"{start.isoformat()}; {len(product.quantities)} quantities were given",
            ["Quantity"],
        )
    key = f"{product.pricebook_entry_id}-{order}"
    lines = []
    for (index, first, last), quantity in zip(segments, product.quantities, strict=True):
        begins = max(first, start)
        share = _months_between(begins, last + timedelta(days=1)) / _months_between(
            first, last + timedelta(days=1)
        )
        lines.append(
            {
                "OrderId": order,
                "PricebookEntryId": product.pricebook_entry_id,
                "Quantity": quantity,
                "ServiceDate": begins,
                "EndDate": last,
                "SBQQ__SegmentIndex__c": index,
                "SBQQ__SegmentKey__c": key,
                "SBQQ__SegmentLabel__c": f"{product.dimension} {index}",
                "SBQQ__DimensionType__c": product.dimension,
                "SBQQ__ProrateMultiplier__c": round(share, 6),
                "UnitPrice": round(product.unit_price * share, 2),
                "SBQQ__ContractAction__c": "New",
                "SBQQ__ChargeType__c": "Recurring",
                "SBQQ__SubscriptionType__c": "Renewable",
                "SBQQ__SubscriptionPricing__c": "Fixed Price",
                "SBQQ__BillingFrequency__c": product.billing_frequency,
                "SBQQ__BillingType__c": "Advance",
            }
        )
    return lines


def _months_between(start: date, end: date) -> float:
    """Whole months plus the remaining days as a fraction of a 30-day month."""
    months = (end.year - start.year) * 12 + end.month - start.month
    days = end.day - start.day
    if days < 0:
        months -= 1
        days += 30
    return months + days / 30


def follow_on_deal(
    store: OrgStore,
    contract: Mapping[str, Any],
    original_quote: Mapping[str, Any],
    kind: str,
    *,
    start: date,
    end: date,
    term: int,
    links: Mapping[str, Mapping[str, Any]],
) -> tuple[str, str]:
    """The closed-won opportunity and its accepted primary quote that CPQ makes for an
    amendment or a renewal (``kind``) of a contract: (opportunity id, quote id). ``links``
    adds the fields naming the contract, per object (``SBQQ__AmendedContract__c`` …)."""
    opportunity = store.create(
        "Opportunity",
        {
            "Name": f"{kind} for contract #{contract['ContractNumber']}",
            "AccountId": contract["AccountId"],
            "StageName": "Closed Won",
            "CloseDate": start,
            "Type": kind,
            **links.get("Opportunity", {}),
            "CurrencyIsoCode": contract.get("CurrencyIsoCode"),
        },
    )
    quote = store.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__Account__c": contract["AccountId"],
            "SBQQ__Opportunity2__c": opportunity,
            **links.get("SBQQ__Quote__c", {}),
            "SBQQ__Type__c": kind,
            "SBQQ__Primary__c": True,
            "SBQQ__Status__c": "Accepted",
            "SBQQ__StartDate__c": start,
            "SBQQ__EndDate__c": end,
            "SBQQ__SubscriptionTerm__c": term,
            "SBQQ__PaymentTerm__c": original_quote.get("SBQQ__PaymentTerm__c"),
            "CurrencyIsoCode": contract.get("CurrencyIsoCode"),
        },
    )
    store.update("Opportunity", opportunity, {"SBQQ__PrimaryQuote__c": quote})
    return opportunity, quote
