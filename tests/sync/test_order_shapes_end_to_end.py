"""Order shapes beyond one phase, end to end (rules O7, A6, A4): org simulator -> bridge -> Kafka ->
sync -> Stripe emulator -> writeback. Assertions read what the emulator holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from consumer.sync.manual import request_sync
from cpqsync_sandbox.org.cpq_actions import AmendmentLine, NewMdqProduct
from cpqsync_sandbox.org.dataset import STANDARD_PRICEBOOK_REF
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncResult, SyncStatus
from tests.stripe_emulator.conftest import make_client
from tests.sync.stack import Stack
from tests.sync.test_contract_end_to_end import (
    _line_prices_for,
    _month_start,
    _schedule_of,
    _written,
    running,  # noqa: F401 - the fixture
)
from tests.writeback.support import wait_until

pytestmark = pytest.mark.integration


def _midnight(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def _order(
    org: OrgSimulator,
    start: dt.date,
    term: int,
    lines: list[Mapping[str, Any]],
    **quote_fields: Any,
) -> tuple[str, list[str]]:
    """A Draft order of ``term`` months from ``start``; each line spec merges onto a product
    billed as the spec says (``frequency``), with its own OrderItem fields."""
    account = org.create("Account", {"Name": "Shapes Inc", "BillingCountry": "US"})
    book = org.dataset.refs[STANDARD_PRICEBOOK_REF]
    quote = org.create(
        "SBQQ__Quote__c",
        {
            "SBQQ__Account__c": account,
            "SBQQ__StartDate__c": start.isoformat(),
            "SBQQ__SubscriptionTerm__c": term,
            "SBQQ__Primary__c": True,
            **quote_fields,
        },
    )
    order = org.create(
        "Order",
        {
            "AccountId": account,
            "Pricebook2Id": book,
            "SBQQ__Quote__c": quote,
            "Status": "Draft",
            "EffectiveDate": start.isoformat(),
            "Type": "New",
        },
    )
    products: dict[str, tuple[str, str]] = {}
    ids = []
    for spec in lines:
        spec = dict(spec)
        name = spec.pop("product")
        frequency = spec.pop("frequency", "Monthly")
        entry_price = spec.pop("entry_price", 1)
        if name not in products:
            product = org.create(
                "Product2",
                {
                    "Name": name,
                    "SBQQ__SubscriptionPricing__c": "Fixed Price",
                    "SBQQ__BillingFrequency__c": frequency,
                    "SBQQ__BillingType__c": "Advance",
                },
            )
            entry = org.create(
                "PricebookEntry",
                {
                    "Pricebook2Id": book,
                    "Product2Id": product,
                    "UnitPrice": entry_price,
                    "IsActive": True,
                },
            )
            products[name] = (product, entry)
        ids.append(
            org.create(
                "OrderItem",
                {
                    "OrderId": order,
                    "PricebookEntryId": products[name][1],
                    "SBQQ__SubscriptionPricing__c": "Fixed Price",
                    "SBQQ__BillingFrequency__c": frequency,
                    "SBQQ__BillingType__c": "Advance",
                    "SBQQ__ChargeType__c": "Recurring",
                    **spec,
                },
            )
        )
    return order, ids


def _synced(stack: Stack, order: str, phases: int, *, evergreen: bool = False) -> dict[str, Any]:
    def done() -> bool:
        schedule = _schedule_of(stack, order)
        return schedule is not None and len(schedule["phases"]) == phases

    try:
        wait_until(done, 90, f"order {order}'s schedule with {phases} phases")
    except AssertionError as exc:
        problems = [f"{r.primary_record_id}: {r.message}" for r in stack.results()]
        raise AssertionError(f"{exc}; results: {problems}") from None
    schedule = _schedule_of(stack, order)
    assert schedule is not None
    # A4: an evergreen order names its subscription once the schedule has started it.
    _written(stack.org, order, (evergreen and schedule["subscription"]) or schedule["id"])
    return schedule


def _price(stack: Stack, price_id: str) -> dict[str, Any]:
    [price] = [p for p in stack.stripe.objects("price") if p["id"] == price_id]
    return dict(price)


def test_an_18_month_term_billed_yearly_ends_with_a_prorated_6_month_phase(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)  # next month: nothing billed yet
    order, _ = _order(
        stack.org,
        start,
        18,
        [{"product": "Platform", "frequency": "Annual", "Quantity": 2, "UnitPrice": 1800}],
    )
    stack.org.activate_order(order)
    schedule = _synced(stack, order, 2)

    whole, final = schedule["phases"]
    assert (whole["start_date"], whole["end_date"]) == (
        _midnight(start),
        _midnight(_month_start(start, -12)),
    )
    assert final["end_date"] == _midnight(_month_start(start, -18))
    assert final["billing_cycle_anchor"] == "phase_start"
    yearly = _price(stack, whole["items"][0]["price"])
    remainder = _price(stack, final["items"][0]["price"])
    assert (yearly["recurring"]["interval_count"], yearly["unit_amount"]) == (12, 120000)
    assert (remainder["recurring"]["interval_count"], remainder["unit_amount"]) == (6, 60000)
    assert final["items"][0]["quantity"] == 2


def _eighteen_months_billed_yearly(org: OrgSimulator, start: dt.date) -> tuple[str, str]:
    """A Draft order of 18 months billed yearly (O7), 2 seats at 1,800.00 a term on an entry of
    1.00, so the line has a price of its own (P6): (order, its line)."""
    order, [line] = _order(
        org,
        start,
        18,
        [{"product": "Platform", "frequency": "Annual", "Quantity": 2, "UnitPrice": 1800}],
    )
    return order, line


def test_an_amended_18_month_contract_keeps_its_prorated_final_phase_and_replays_clean(
    running: Stack,  # noqa: F811
) -> None:
    """O7 with A1: an upsell starting now on a contract of 18 months billed yearly: its phase
    ends with the whole year, the final 6 months bill the upsold quantity at the remainder's
    price; the amendment synced again writes nothing."""
    stack = running
    today = dt.datetime.now(dt.UTC).date()
    start = _month_start(today, 2)
    order, line = _eighteen_months_billed_yearly(stack.org, start)
    stack.org.activate_order(order)
    contract = stack.org.contract_order(order)
    _synced(stack, order, 2)
    upsell = stack.org.amend_contract(contract, today, [AmendmentLine(1, revises=line)])
    stack.org.activate_order(upsell)
    schedule = _synced(stack, order, 3)
    _written(stack.org, upsell, schedule["id"])

    first, upsold, final = schedule["phases"]
    assert [[i["quantity"] for i in p["items"]] for p in schedule["phases"]] == [[2], [3], [3]]
    year = _midnight(_month_start(start, -12))
    assert upsold["end_date"] == year == final["start_date"]
    assert final["end_date"] == _midnight(_month_start(start, -18))
    remainder = _price(stack, final["items"][0]["price"])
    assert (remainder["recurring"]["interval_count"], remainder["unit_amount"]) == (6, 60000)
    assert (
        final["billing_cycle_anchor"] == "phase_start" and first["end_date"] == upsold["start_date"]
    )

    mark = len(stack.stripe.request_log())
    _resync(stack, upsell)
    assert _writes_since(stack, mark) == []


def test_an_18_month_lines_price_whose_create_stored_a_500_after_the_write_is_kept_by_its_amendment(
    running: Stack,  # noqa: F811
) -> None:
    """O7 with A1 and a 500 Stripe stored after making the line's own price (long chaos run 7):
    the schedule names the line's yearly price in its whole-periods phase and a remainder price
    (made from ``price_data``) in its final phase. The amendment's sync must find the yearly
    price by the schedule, not plan its create again: under the same key Stripe replays the
    stored 500, and a create under a new key made a second price for the line."""
    stack = running
    today = dt.datetime.now(dt.UTC).date()
    start = _month_start(today, 2)
    order, line = _eighteen_months_billed_yearly(stack.org, start)
    [rule] = stack.stripe.configure_faults(
        {
            "kind": "error",
            "stage": "after",
            "method": "POST",
            "path": "^/v1/prices$",
            "rate": 1.0,
            "max_count": 1,
        }
    )
    stack.org.activate_order(order)
    contract = stack.org.contract_order(order)
    wait_until(lambda: rule.fired == 1, 60, "the line price create's 500")
    [faulted] = [e for e in stack.stripe.request_log() if e.fault == "error"]
    assert str(faulted.idempotency_key).startswith(f"cpqsync:{line}:price.create:")
    first = _synced(stack, order, 2)
    made = _line_prices_for(stack, line)
    assert len(made) == 1, f"the line has {len(made)} prices: {[p['id'] for p in made]}"
    [yearly] = made
    assert first["phases"][0]["items"][0]["price"] == yearly["id"]

    upsell = stack.org.amend_contract(contract, today, [AmendmentLine(1, revises=line)])
    stack.org.activate_order(upsell)
    schedule = _synced(stack, order, 3)
    _written(stack.org, upsell, schedule["id"])
    assert [[i["quantity"] for i in p["items"]] for p in schedule["phases"]] == [[2], [3], [3]]
    assert _line_prices_for(stack, line) == [{**yearly, "active": False}]  # P6: archived, one only
    assert [p["items"][0]["price"] for p in schedule["phases"][:2]] == [yearly["id"]] * 2


def _three_years(*, year3_price: int) -> list[dict[str, Any]]:
    """A 3-year MDQ sale in Year segments (10, 15, 20 seats at 1,200.00 a year, Year 3 at
    ``year3_price``) and a plain Support line (3,600.00 for the term)."""
    segment = {"product": "Seats", "SBQQ__SegmentKey__c": "SEATS", "SBQQ__DimensionType__c": "Year"}
    return [
        *(
            {**segment, "SBQQ__SegmentIndex__c": index, "SBQQ__SegmentLabel__c": f"Year {index}",
             "Quantity": quantity, "UnitPrice": price}
            for index, quantity, price in ((1, 10, 1200), (2, 15, 1200), (3, 20, year3_price))
        ),
        {"product": "Support", "Quantity": 1, "UnitPrice": 3600},
    ]  # fmt: skip


def test_a_3_year_mdq_order_is_one_phase_per_year_with_plain_lines_in_each(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, _ = _order(stack.org, start, 36, _three_years(year3_price=1320))
    stack.org.activate_order(order)
    schedule = _synced(stack, order, 3)

    ends = [phase["end_date"] for phase in schedule["phases"]]
    assert ends == [_midnight(_month_start(start, -12 * year)) for year in (1, 2, 3)]
    billed = [
        sorted(
            (_price(stack, item["price"])["unit_amount"], item["quantity"])
            for item in phase["items"]
        )
        for phase in schedule["phases"]
    ]
    # Seats at that year's price per month (1,200.00 or 1,320.00 over 12 months) and quantity;
    # Support at 3,600.00 over 36 months in every year.
    assert billed == [
        [(10000, 1), (10000, 10)],
        [(10000, 1), (10000, 15)],
        [(10000, 1), (11000, 20)],
    ]


def _billed(stack: Stack, schedule: Mapping[str, Any]) -> list[list[tuple[int, int]]]:
    """Each phase's items as (unit amount, quantity), sorted."""
    return [
        sorted(
            (_price(stack, item["price"])["unit_amount"], item["quantity"])
            for item in phase["items"]
        )
        for phase in schedule["phases"]
    ]


def test_an_mdq_contract_amended_per_segment_then_cancelled_mid_segment(
    running: Stack,  # noqa: F811
) -> None:
    """A6 with A1/A2: CPQ amends each running segment of a 3-year MDQ contract by a line of its
    own; the schedule is cut at the amendment's start inside Year 1 and keeps one phase per
    year after it; syncing the amendment again writes nothing; a cancellation in Year 2 zeroes
    the segments still running and ends the schedule there."""
    stack = running
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, [year1, year2, _, support] = _order(stack.org, start, 36, _three_years(year3_price=1200))
    stack.org.activate_order(order)
    contract = stack.org.contract_order(order)
    _synced(stack, order, 3)

    midway = _month_start(start, -6)
    upsell = stack.org.amend_contract(
        contract, midway, [AmendmentLine(3, revises=year1), AmendmentLine(2, revises=year2)]
    )
    [seg1, seg2] = stack.org.query(
        "SELECT SBQQ__SegmentIndex__c, ServiceDate FROM OrderItem WHERE OrderId = "
        f"'{upsell}' ORDER BY SBQQ__SegmentIndex__c"
    ).records
    # CPQ's amendment lines: one per segment, from the amendment's start or the segment's.
    assert seg1["ServiceDate"] == midway.isoformat()
    assert seg2["ServiceDate"] == _month_start(start, -12).isoformat()
    stack.org.activate_order(upsell)
    schedule = _synced(stack, order, 4)
    _written(stack.org, upsell, schedule["id"])
    ends = [phase["end_date"] for phase in schedule["phases"]]
    assert ends == [_midnight(_month_start(start, -months)) for months in (6, 12, 24, 36)]
    # Seats at 100.00 a month: 10 until the amendment, then 13 in the rest of Year 1, 15 + 2
    # in Year 2, 20 in Year 3; Support (3,600.00 over 36 months) in every phase.
    assert _billed(stack, schedule) == [
        [(10000, 1), (10000, 10)],
        [(10000, 1), (10000, 13)],
        [(10000, 1), (10000, 17)],
        [(10000, 1), (10000, 20)],
    ]
    mark = len(stack.stripe.request_log())
    _resync(stack, upsell)
    assert _writes_since(stack, mark) == []

    # Cancelled from month 18: Year 1 has ended (not on the cancellation), Years 2 and 3 and
    # Support go to zero; the schedule ends there.
    cancellation = stack.org.cancel_contract(contract, _month_start(start, -18))
    revised = {
        line["SBQQ__RevisedOrderProduct__c"]
        for line in stack.org.query(
            f"SELECT SBQQ__RevisedOrderProduct__c FROM OrderItem WHERE OrderId = '{cancellation}'"
        ).records
    }
    assert year1 not in revised and {year2, support} <= revised
    stack.org.activate_order(cancellation)

    def ended() -> bool:
        held = _schedule_of(stack, order) or {}
        return len(held.get("phases") or ()) == 3

    wait_until(ended, 90, "the schedule ending with the cancellation")
    schedule = _schedule_of(stack, order)
    assert schedule is not None
    assert schedule["phases"][-1]["end_date"] == _midnight(_month_start(start, -18))
    assert _billed(stack, schedule) == [
        [(10000, 1), (10000, 10)],
        [(10000, 1), (10000, 13)],
        [(10000, 1), (10000, 17)],
    ]
    _written(stack.org, cancellation, schedule["id"])


def test_an_mdq_product_added_by_an_amendment_bills_each_segment_from_its_start(
    running: Stack,  # noqa: F811
) -> None:
    """A6 with A1: an amendment adds Storage in Year segments to a plain 2-year contract from
    month 6 (CPQ's lines: Year 1 prorated from the amendment's start, Year 2 whole). The
    schedule is cut at the amendment's start and where Storage's Year 2 starts, each phase
    billing Seats and that year's Storage; the amendment names the schedule; syncing it again
    writes nothing."""
    stack = running
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, _ = _order(
        stack.org, start, 24, [{"product": "Seats", "Quantity": 5, "UnitPrice": 2400}]
    )
    stack.org.activate_order(order)
    contract = stack.org.contract_order(order)
    _synced(stack, order, 1)

    book = stack.org.dataset.refs[STANDARD_PRICEBOOK_REF]
    storage = stack.org.create(
        "Product2",
        {"Name": "Storage", "SBQQ__SubscriptionPricing__c": "Fixed Price",
         "SBQQ__BillingFrequency__c": "Monthly", "SBQQ__BillingType__c": "Advance"},
    )  # fmt: skip
    entry = stack.org.create(
        "PricebookEntry",
        {"Pricebook2Id": book, "Product2Id": storage, "UnitPrice": 50, "IsActive": True},
    )
    midway = _month_start(start, -6)
    added = stack.org.amend_contract(
        contract, midway, [NewMdqProduct(entry, (3, 5), unit_price=1200)]
    )
    stack.org.activate_order(added)
    schedule = _synced(stack, order, 3)
    _written(stack.org, added, schedule["id"])

    ends = [phase["end_date"] for phase in schedule["phases"]]
    assert ends == [_midnight(_month_start(start, -months)) for months in (6, 12, 24)]
    # Seats at 100.00 a month (2,400.00 over 24 months) in every phase; Storage at 100.00 a
    # month (1,200.00 a year segment), 3 in the rest of Year 1 and 5 in Year 2.
    assert _billed(stack, schedule) == [
        [(10000, 5)],
        [(10000, 3), (10000, 5)],
        [(10000, 5), (10000, 5)],
    ]
    # Each phase's Storage item is that segment's order product (K1 metadata).
    year1, year2 = (
        line["Id"]
        for line in stack.org.query(
            f"SELECT Id FROM OrderItem WHERE OrderId = '{added}' ORDER BY SBQQ__SegmentIndex__c"
        ).records
    )
    named = [
        {item["metadata"].get("salesforce_order_item_id") for item in phase["items"]}
        for phase in schedule["phases"]
    ]
    assert year1 in named[1] and year2 in named[2] and not {year1, year2} & named[0]
    mark = len(stack.stripe.request_log())
    _resync(stack, added)
    assert _writes_since(stack, mark) == []


def test_an_evergreen_order_starting_next_month_is_billed_from_its_start_with_no_end(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, _ = _order(
        stack.org,
        start,
        1,
        [
            {
                "product": "Hosting",
                "SBQQ__SubscriptionType__c": "Evergreen",
                "SBQQ__DefaultSubscriptionTerm__c": 1,
                "Quantity": 3,
                "UnitPrice": 250,
            }
        ],
        SBQQ__PaymentTerm__c="Net 30",
    )
    stack.org.activate_order(order)
    schedule = _synced(stack, order, 1, evergreen=True)

    # Nothing billed before the start: the schedule holds the subscription until then.
    assert schedule["status"] == "not_started" and schedule["subscription"] is None
    assert schedule["phases"][0]["start_date"] == _midnight(start)
    assert schedule["end_behavior"] == "release"  # then a subscription with no end date
    settings = schedule["default_settings"]
    assert settings["collection_method"] == "send_invoice"
    assert settings["invoice_settings"]["days_until_due"] == 30
    [item] = schedule["phases"][0]["items"]
    price = _price(stack, item["price"])
    assert (price["unit_amount"], price["recurring"]["interval_count"], item["quantity"]) == (
        25000,
        1,
        3,
    )
    customer = schedule["customer"]
    assert not [i for i in stack.stripe.objects("invoice") if i["customer"] == customer]


def _evergreen(
    stack: Stack, start: dt.date, *, contracted: bool = True
) -> tuple[str | None, str, dict[str, Any]]:
    """A contracted evergreen order from ``start`` (3 x 250.00 a month, Net 30), synced; its
    price is the pricebook entry's (P6), which stays active for the schedule's updates."""
    order, [line] = _order(
        stack.org,
        start,
        1,
        [
            {
                "product": "Hosting",
                "SBQQ__SubscriptionType__c": "Evergreen",
                "SBQQ__DefaultSubscriptionTerm__c": 1,
                "Quantity": 3,
                "UnitPrice": 250,
                "entry_price": 250,
            }
        ],
        SBQQ__PaymentTerm__c="Net 30",
    )
    stack.org.activate_order(order)
    contract = stack.org.contract_order(order) if contracted else None
    return contract, line, _synced(stack, order, 1, evergreen=True)


def test_an_evergreen_order_cancelled_from_a_future_date_ends_then(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    contract, _, schedule = _evergreen(stack, start)
    assert contract is not None
    assert schedule["end_behavior"] == "release"

    ends = _month_start(start, -3)
    cancellation = stack.org.cancel_contract(contract, ends)
    stack.org.activate_order(cancellation)

    def cancelling() -> bool:
        held = _schedule_of(stack, _initial(stack, schedule))
        return held is not None and held["end_behavior"] == "cancel"

    wait_until(cancelling, 90, "the evergreen schedule set to cancel")
    held = _schedule_of(stack, _initial(stack, schedule))
    assert held is not None
    assert held["id"] == schedule["id"]
    [phase] = held["phases"]
    assert (phase["start_date"], phase["end_date"]) == (_midnight(start), _midnight(ends))
    assert [item["quantity"] for item in phase["items"]] == [3]
    _written(stack.org, cancellation, schedule["id"])


def test_an_evergreen_order_cancelled_today_before_its_start_is_cancelled_at_once(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    today = dt.datetime.now(dt.UTC).date()
    contract, _, schedule = _evergreen(stack, _month_start(today, -1))
    assert contract is not None

    cancellation = stack.org.cancel_contract(contract, today)
    stack.org.activate_order(cancellation)
    wait_until(
        lambda: (_schedule_of(stack, _initial(stack, schedule)) or {}).get("status") == "canceled",
        90,
        "the cancelled evergreen schedule",
    )
    # Never started, never billed.
    assert not [i for i in stack.stripe.objects("invoice") if i["customer"] == schedule["customer"]]
    _written(stack.org, cancellation, schedule["id"])


def _initial(stack: Stack, schedule: Mapping[str, Any]) -> str:
    return str(schedule["metadata"]["salesforce_order_id"])


def _quote_coupons(
    org: OrgSimulator,
    order: str,
    quote_coupon: Mapping[str, Any],
    line: str,
    line_coupon: Mapping[str, Any],
) -> None:
    """The package's coupons of a Draft order's quote (A5): one on the quote, one on the quote
    line of order product ``line``; activation copies them to the order."""
    quote = org.get("Order", order)["SBQQ__Quote__c"]
    coupon = org.create("Quote_Stripe_Coupon__c", dict(quote_coupon))
    org.create(
        "Quote_Stripe_Coupon_Association__c",
        {"Quote__c": quote, "Quote_Stripe_Coupon__c": coupon},
    )
    coupon = org.create("Quote_Stripe_Coupon__c", dict(line_coupon))
    quote_line = org.create("SBQQ__QuoteLine__c", {"SBQQ__Quote__c": quote})
    org.create(
        "Quote_Line_Stripe_Coupon_Association__c",
        {"Quote_Line__c": quote_line, "Quote_Stripe_Coupon__c": coupon},
    )
    org.update("OrderItem", line, {"SBQQ__QuoteLine__c": quote_line})


def test_order_and_line_coupons_become_phase_and_item_discounts(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    org = stack.org
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, [seats, support] = _order(
        org,
        start,
        12,
        [
            {"product": "Seats", "Quantity": 5, "UnitPrice": 1200},
            {"product": "Support", "Quantity": 1, "UnitPrice": 600},
        ],
    )
    # The package's coupons on the quote and on the seats' quote line (A5).
    _quote_coupons(
        org,
        order,
        {"Name__c": "Partner", "Percent_Off__c": 10, "Duration__c": "forever"},
        seats,
        {
            "Name__c": "Launch",
            "Amount_Off__c": 50,
            "Duration__c": "repeating",
            "Duration_In_Months__c": 3,
        },
    )
    org.activate_order(order)
    schedule = _synced(stack, order, 1)

    coupons = {c["name"]: c for c in stack.stripe.objects("coupon")}
    assert coupons["Partner"]["percent_off"] == 10 and coupons["Partner"]["duration"] == "forever"
    assert (coupons["Launch"]["amount_off"], coupons["Launch"]["currency"]) == (5000, "usd")
    assert coupons["Launch"]["duration_in_months"] == 3
    [phase] = schedule["phases"]
    assert [d["coupon"] for d in phase["discounts"]] == [coupons["Partner"]["id"]]
    by_line = {item["metadata"]["salesforce_order_item_id"]: item for item in phase["items"]}
    assert [d["coupon"] for d in by_line[seats]["discounts"]] == [coupons["Launch"]["id"]]
    assert not by_line[support].get("discounts")
    # Each coupon record names the coupon it became (R3), so it is never created again.
    records = org.query(
        f"SELECT Name__c, Stripe_ID__c FROM Order_Stripe_Coupon__c WHERE Order__c = '{order}'"
    ).records
    wait_until(
        lambda: all(
            r["Stripe_ID__c"]
            for r in org.query(
                f"SELECT Stripe_ID__c FROM Order_Stripe_Coupon__c WHERE Order__c = '{order}'"
            ).records
        ),
        60,
        "the coupons' Stripe_ID__c",
    )
    assert sorted(r["Name__c"] for r in records) == ["Launch", "Partner"]


def test_coupons_on_an_order_of_one_time_lines_discount_its_invoice_and_item(
    running: Stack,  # noqa: F811
) -> None:
    """A5 on an invoice (O3): the quote's coupon discounts the order's invoice, the setup
    line's coupon that line's invoice item (first), and the invoice Stripe finalizes bills
    the discounted total."""
    stack = running
    org = stack.org
    one_time = {
        "SBQQ__SubscriptionPricing__c": None,
        "SBQQ__ChargeType__c": "One-Time",
        "Quantity": 1,
    }
    order, [setup, training] = _order(
        org,
        dt.datetime.now(dt.UTC).date(),
        12,
        [
            {"product": "Setup", "UnitPrice": 500, "entry_price": 500, **one_time},
            {**one_time, "product": "Training", "Quantity": 2, "UnitPrice": 125},
        ],
    )
    _quote_coupons(
        org,
        order,
        {"Name__c": "Partner", "Percent_Off__c": 10, "Duration__c": "forever"},
        setup,
        {"Name__c": "Setup waiver", "Amount_Off__c": 50, "Duration__c": "once"},
    )
    org.activate_order(order)

    def invoice() -> dict[str, Any] | None:
        for held in stack.stripe.objects("invoice"):
            if held["metadata"].get("salesforce_order_id") == order and held["status"] == "open":
                return dict(held)
        return None

    try:
        wait_until(lambda: invoice() is not None, 90, f"order {order}'s finalized invoice")
    except AssertionError as exc:
        problems = [f"{r.primary_record_id}: {r.message}" for r in stack.results()]
        raise AssertionError(f"{exc}; results: {problems}") from None
    billed = invoice()
    assert billed is not None
    coupons = {c["name"]: c for c in stack.stripe.objects("coupon")}
    assert (coupons["Setup waiver"]["amount_off"], coupons["Setup waiver"]["currency"]) == (
        5000,
        "usd",
    )
    items = {
        i["metadata"]["salesforce_order_item_id"]: i
        for i in stack.stripe.objects("invoiceitem")
        if i["invoice"] == billed["id"]
    }
    assert sorted(items) == sorted([setup, training])
    assert len(items[setup]["discounts"]) == 1 and not items[training]["discounts"]
    assert len(billed["discounts"]) == 1
    # (500 - 50) + 2 x 125 = 700, less 10%: 630.00 due.
    assert (billed["subtotal"], billed["amount_due"]) == (75_000, 63_000)
    # The order links its invoice; each coupon record names the coupon it became (R3).
    wait_until(
        lambda: org.get("Order", order).get("Stripe_ID__c") == billed["id"],
        60,
        "the order's Stripe_ID__c",
    )
    wait_until(
        lambda: (
            sorted(
                r["Stripe_ID__c"] or ""
                for r in org.query(
                    f"SELECT Stripe_ID__c FROM Order_Stripe_Coupon__c WHERE Order__c = '{order}'"
                ).records
            )
            == sorted([coupons["Partner"]["id"], coupons["Setup waiver"]["id"]])
        ),
        60,
        "the coupons' Stripe_ID__c",
    )
    # Synced again, the invoiced order is left alone: no second invoice, item or coupon.
    mark = len(stack.stripe.request_log())
    _resync(stack, order)
    assert _writes_since(stack, mark) == []


def test_a_coupon_on_an_upsell_line_discounts_that_line_from_the_upsell_on(
    running: Stack,  # noqa: F811
) -> None:
    """A5 with A1: the amendment's quote line adding 2 seats carries a coupon; the package
    copies it to the amendment's order product on activation; the seats' item is discounted
    from the amendment's phase on (all of it), not before."""
    stack = running
    org = stack.org
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, [seats] = _order(
        org, start, 12, [{"product": "Seats", "Quantity": 5, "UnitPrice": 1200}]
    )
    org.activate_order(order)
    contract = org.contract_order(order)
    _synced(stack, order, 1)

    upsell = org.amend_contract(
        contract, _month_start(start, -3), [AmendmentLine(2, revises=seats)]
    )
    quote = org.get("Order", upsell)["SBQQ__Quote__c"]
    coupon = org.create(
        "Quote_Stripe_Coupon__c", {"Name__c": "Upsell", "Percent_Off__c": 10, "Duration__c": "once"}
    )
    quote_line = org.create("SBQQ__QuoteLine__c", {"SBQQ__Quote__c": quote})
    org.create(
        "Quote_Line_Stripe_Coupon_Association__c",
        {"Quote_Line__c": quote_line, "Quote_Stripe_Coupon__c": coupon},
    )
    [added] = org.query(f"SELECT Id FROM OrderItem WHERE OrderId = '{upsell}'").records
    org.update("OrderItem", added["Id"], {"SBQQ__QuoteLine__c": quote_line})
    org.activate_order(upsell)
    schedule = _synced(stack, order, 2)
    _written(org, upsell, schedule["id"])

    [made] = [c for c in stack.stripe.objects("coupon") if c["name"] == "Upsell"]
    discounts = [
        [(i["quantity"], [d["coupon"] for d in i.get("discounts") or []]) for i in p["items"]]
        for p in schedule["phases"]
    ]
    assert discounts == [[(5, [])], [(7, [made["id"]])]]


def _resync(stack: Stack, order: str) -> SyncResult:
    """The order synced again by hand (rule S4's manual sync, through Kafka): its root result."""
    answer = request_sync(
        stack.settings.kafka,
        stack.kafka,
        order,
        object_type="Order",
        requested_by="cli:test",
        timeout_s=90,
    )
    assert answer.root is not None, "no answer to the manual sync"
    assert answer.root.status is SyncStatus.SUCCESS, answer.root.message
    return answer.root


def _writes_since(stack: Stack, mark: int) -> list[str]:
    return [f"{e.method} {e.path}" for e in stack.stripe.request_log()[mark:] if e.method != "GET"]


def test_a_released_evergreen_subscription_is_left_alone_when_its_order_syncs_again(
    running: Stack,  # noqa: F811
) -> None:
    stack = running
    today = dt.datetime.now(dt.UTC).date()
    contract, _, schedule = _evergreen(stack, today)
    order = _initial(stack, schedule)
    subscription = schedule["subscription"]
    # Started today: the order names the subscription, not the schedule (A4).
    assert subscription and stack.org.get("Order", order)["Stripe_ID__c"] == subscription
    # Stripe releases the schedule at its phase's end; here by hand, through the real client.
    client = make_client(stack.stripe)
    client.v1.subscription_schedules.release(schedule["id"])
    mark = len(stack.stripe.request_log())
    root = _resync(stack, order)
    # Found again from the subscription (its schedule by metadata, once released); nothing
    # to change, so nothing written.
    assert (root.stripe_object_type, root.stripe_object_id) == ("subscription", subscription)
    assert _writes_since(stack, mark) == []
    held = _schedule_of(stack, order)
    assert held is not None and held["status"] == "released"
    assert held["released_subscription"] == subscription
    [sub] = [s for s in stack.stripe.objects("subscription") if s["id"] == subscription]
    assert sub["status"] == "active" and sub["schedule"] is None and contract
    assert stack.org.get("Order", order)["Stripe_ID__c"] == subscription


def test_an_evergreen_order_synced_before_its_start_names_its_subscription_once_started(
    running: Stack,  # noqa: F811
) -> None:
    """Before its start the order names the schedule; once Stripe has started the subscription
    (the customer's test clock moved past the start), a re-sync names the subscription and
    writes nothing to Stripe (A4)."""
    stack = running
    client = make_client(stack.stripe)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": now})
    customer = client.v1.customers.create({"name": "Clocked Inc", "test_clock": clock.id})
    start = _month_start(dt.datetime.now(dt.UTC).date(), -1)
    order, _ = _order(
        stack.org,
        start,
        1,
        [
            {
                "product": "Hosting",
                "SBQQ__SubscriptionType__c": "Evergreen",
                "SBQQ__DefaultSubscriptionTerm__c": 1,
                "Quantity": 2,
                "UnitPrice": 90,
            }
        ],
        SBQQ__PaymentTerm__c="Net 30",
    )
    account = stack.org.get("Order", order)["AccountId"]
    stack.org.update("Account", account, {"Stripe_ID__c": customer.id})  # adopted (C1)
    stack.org.activate_order(order)
    schedule = _synced(stack, order, 1, evergreen=True)
    assert schedule["status"] == "not_started" and schedule["customer"] == customer.id
    assert stack.org.get("Order", order)["Stripe_ID__c"] == schedule["id"]

    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": _midnight(start) + 3600})
    held = _schedule_of(stack, order)
    assert held is not None and held["status"] == "active" and held["subscription"]
    mark = len(stack.stripe.request_log())
    root = _resync(stack, order)
    assert (root.stripe_object_type, root.stripe_object_id) == (
        "subscription",
        held["subscription"],
    )
    assert _writes_since(stack, mark) == []
    _written(stack.org, order, held["subscription"])

    # And a sync from the subscription's id finds the same schedule: still nothing to write.
    mark = len(stack.stripe.request_log())
    root = _resync(stack, order)
    assert root.stripe_object_id == held["subscription"]
    assert _writes_since(stack, mark) == []
    assert (
        len(
            [
                s
                for s in stack.stripe.objects("subscription_schedule")
                if s["customer"] == customer.id
            ]
        )
        == 1
    )
