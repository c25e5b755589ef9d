"""The checker's own model of the order shapes beyond one plain phase (A3-A6, O7): the numbers it
derives from Salesforce's records, checked by hand; and, through the real sync, that the whole
checker finds nothing in what the sync made of the chaos workload's shaped orders, while the
model names each way a broken copy of it differs."""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from consumer.writeback import WritebackService
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.cpq_actions import AmendmentLine
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.models import SyncStatus
from tests.chaos import consistency
from tests.chaos.consistency import org_view
from tests.chaos.contract_schedule import (
    add_months,
    epoch_day,
    expected_schedule,
    schedule_mismatches,
)
from tests.chaos.shape_schedule import expected_order, order_mismatches, shapes_of
from tests.chaos.shaped_orders import ShapedOrders
from tests.sync.stack import FAST_GROUP, Stack, open_stack, roots_reported


@pytest.fixture(scope="module")
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator(dataset=default_dataset(), start_pubsub=False) as sim:
        yield sim


def test_the_dataset_shapes_are_derived_by_hand(org: OrgSimulator) -> None:
    """The shipped dataset's 18-month, MDQ, evergreen and coupon orders, activated."""
    refs = org.dataset.refs
    for ref in ("order_wayne_18_months", "order_stark_mdq", "order_initech_evergreen"):
        org.activate_order(refs[ref])
    org.activate_order(refs["order_acme_coupon"])
    records = org_view(org).records
    start = dt.datetime.now(dt.UTC).date()

    uneven = expected_order(records, refs["order_wayne_18_months"])
    assert uneven.shapes == ("uneven term",)
    whole, final = uneven.phases
    # 2,160.00 over 18 months billed yearly: 1,440.00 a year, then 720.00 for 6 months.
    assert [(i.amount, i.interval_months, i.quantity) for i in whole.items.values()] == [
        (Decimal(144000), 12, 4)
    ]
    assert [(i.amount, i.interval_months) for i in final.items.values()] == [(Decimal(72000), 6)]
    assert final.anchored and not whole.anchored
    begins = start + dt.timedelta(days=5)
    assert (whole.start, whole.end, final.end) == (begins, _months(begins, 12), _months(begins, 18))

    mdq = expected_order(records, refs["order_stark_mdq"])
    assert mdq.shapes == ("mdq",)
    # Platform segments of 10/20/30 at 1,440.00, 1,440.00, 1,320.00 a year; Support 18,000.00
    # over 36 months in each year.
    assert [sorted((i.quantity, i.amount) for i in p.items.values()) for p in mdq.phases] == [
        [(1, Decimal(50000)), (10, Decimal(12000))],
        [(1, Decimal(50000)), (20, Decimal(12000))],
        [(1, Decimal(50000)), (30, Decimal(11000))],
    ]
    assert mdq.end_behavior == "cancel"

    evergreen = expected_order(records, refs["order_initech_evergreen"])
    assert evergreen.shapes == ("evergreen",) and evergreen.end_behavior == "release"
    [phase] = evergreen.phases
    assert [i.amount for i in phase.items.values()] == [Decimal(50000)]  # per month, as sold

    coupon = expected_order(records, refs["order_acme_coupon"])
    assert coupon.shapes == ("coupon",)
    assert evergreen.days_until_due == 15  # Net 15
    [terms] = coupon.coupons.values()
    assert terms == {
        "duration": "repeating",
        "duration_in_months": 6,
        "max_redemptions": None,
        "name": "Partner 15%",
        "percent_off": 15.0,
        "amount_off": None,
    }
    assert coupon.phases[0].coupons == frozenset(coupon.coupons)
    # A plain order is not this module's to model.
    assert shapes_of(records, refs["order_acme"]) == ()


def _months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError(day)


@pytest.fixture
def stack(kafka: str, unique: Callable[[str], str]) -> Iterator[Stack]:
    """Bridge, one sync member and the writeback (the checker reads the Stripe ids back)."""
    with (
        OrgSimulator(dataset=default_dataset()) as sim,
        StripeEmulator() as stripe,
        contextmanager(open_stack)(sim, stripe, kafka, unique("shapes")) as opened,
    ):
        opened.start_bridge()
        opened.start_sync()
        writeback = WritebackService(
            opened.settings,
            bootstrap_servers=kafka,
            group_id=f"{opened.settings.kafka.topic_prefix}-writeback",
            client_config=dict(FAST_GROUP),
            registry=CollectorRegistry(),
        ).start()
        try:
            yield opened
        finally:
            writeback.stop()


def _checked(stack: Stack, timeout: float = 60) -> list[str]:
    """The whole checker's discrepancies once it finds none (or its last ones at timeout):
    the writeback stores Stripe ids and Sync Records a little after the results."""
    deadline = time.monotonic() + timeout
    while True:
        found = consistency.check(stack.org, consistency.snapshot(stack.stripe), stack.settings)
        if not found.report.discrepancies or time.monotonic() > deadline:
            return found.report.discrepancies
        time.sleep(2)


@pytest.mark.integration
def test_the_sync_of_every_shape_matches_and_a_broken_copy_is_named(stack: Stack) -> None:
    org = stack.org
    shaped = ShapedOrders(org, seed=2)  # both placements, percent and amount off
    made = shaped.make({"mdq": 2, "evergreen": 2, "coupon": 3, "uneven term": 2})
    for order in made:
        org.activate_order(order)
    # A renewal (A3) of a contracted coupon order: a schedule of its own.
    renewed = next(o for o, shape in made.items() if shape == "coupon")
    renewal = org.renew_contract(org.contract_order(renewed))
    org.activate_order(renewal)
    # An evergreen order cancelled from a day inside its first month (A4): its schedule ends
    # then, as the contract model (``contract_schedule``) derives.
    cancelled = [o for o, shape in made.items() if shape == "evergreen"][-1]
    contract = org.contract_order(cancelled)
    ends = org.get("Contract", contract)["StartDate"] + dt.timedelta(days=10)
    cancellation = org.cancel_contract(contract, ends)
    org.activate_order(cancellation)
    # A Year-segment MDQ contract amended (A6 with A1): +3 in Year 1 and +2 in Year 2 from a
    # day inside Year 1, with a plain product added; then -2 in Year 1 (the segment's newest).
    mdq = next(o for o, shape in made.items() if shape == "mdq")
    year1, year2 = sorted(
        (line for line in org.store.children("OrderItem", "OrderId", mdq)),
        key=lambda line: line["SBQQ__SegmentIndex__c"],
    )
    assert (year1["SBQQ__DimensionType__c"], year2["SBQQ__SegmentIndex__c"]) == ("Year", 2)
    mdq_contract = org.contract_order(mdq)
    begins = org.get("Contract", mdq_contract)["StartDate"]
    upsell = org.amend_contract(
        mdq_contract,
        add_months(begins, 2) + dt.timedelta(days=5),
        [
            AmendmentLine(3, revises=year1["Id"]),
            AmendmentLine(2, revises=year2["Id"]),
            AmendmentLine(4, pricebook_entry_id=org.dataset.id("support_usd"), unit_price=12000),
        ],
    )
    org.activate_order(upsell)
    downsell = org.amend_contract(
        mdq_contract, add_months(begins, 4), [AmendmentLine(-2, revises=year1["Id"])]
    )
    org.activate_order(downsell)
    ids = [*made, renewal, cancellation, upsell, downsell]
    results = stack.wait_for_results(lambda rs: roots_reported(rs, ids), timeout=150)
    failed = [
        (r.primary_record_id, r.message)
        for r in results
        if r.primary_record_id in ids and r.status is not SyncStatus.SUCCESS
    ]
    assert failed == []
    assert _checked(stack) == []

    records = org_view(org).records
    schedules = {
        s["metadata"]["salesforce_order_id"]: s
        for s in stack.stripe.objects("subscription_schedule")
    }
    prices = {p["id"]: p for p in stack.stripe.objects("price")}
    coupons = {
        c["metadata"]["salesforce_order_stripe_coupon_id"]: c["id"]
        for c in stack.stripe.objects("coupon")
    }
    # A5: a phase entry that reused a discount names its coupon only through the discount.
    made = {d["id"]: d["source"]["coupon"] for d in stack.stripe.objects("discount")}
    [support] = [
        str(line["Id"])
        for line in org.store.children("OrderItem", "OrderId", upsell)
        if not line.get("SBQQ__RevisedOrderProduct__c")
    ]
    amended = expected_schedule(records, mdq)
    assert [(p.start, p.quantities) for p in amended.phases] == [
        (begins, {year1["Id"]: 2}),
        (add_months(begins, 2) + dt.timedelta(days=5), {year1["Id"]: 5, support: 4}),
        (add_months(begins, 4), {year1["Id"]: 3, support: 4}),
        (add_months(begins, 12), {year2["Id"]: 7, support: 4}),
    ]
    assert schedule_mismatches(amended, schedules[mdq]) == []
    ended = schedules[cancelled]
    assert schedule_mismatches(expected_schedule(records, cancelled), ended) == []
    assert (ended["end_behavior"], epoch_day(ended["phases"][-1]["end_date"])) == ("cancel", ends)
    for contracted in (cancelled, cancellation, mdq, upsell, downsell):
        ids.remove(contracted)
    seen: set[str] = set()
    for order in ids:
        expected = expected_order(records, order)
        seen.update(expected.shapes)
        seen.update(k for terms in expected.coupons.values() for k, v in terms.items() if v)
        assert order_mismatches(expected, schedules[order], prices, coupons, made) == [], order
    assert seen >= {"mdq", "evergreen", "coupon", "uneven term", "renewal"}
    assert seen >= {"percent_off", "amount_off", "duration_in_months"}
    assert schedules[renewal]["id"] != schedules[renewed]["id"]

    def broken(shape: str, change: Callable[[dict[str, Any]], None]) -> list[str]:
        order = next(o for o in ids if shape in expected_order(records, o).shapes)
        schedule = copy.deepcopy(schedules[order])
        change(schedule)
        return order_mismatches(expected_order(records, order), schedule, prices, coupons, made)

    def one_more_in_the_last_segment(schedule: dict[str, Any]) -> None:
        schedule["phases"][-1]["items"][0]["quantity"] += 1

    def coupons_dropped(schedule: dict[str, Any]) -> None:
        for phase in schedule["phases"]:
            phase["discounts"] = []
            for item in phase["items"]:
                item["discounts"] = []

    def reusing(discount: str) -> Callable[[dict[str, Any]], None]:
        """Each phase's first discount entry as one that reused ``discount``."""

        def change(schedule: dict[str, Any]) -> None:
            for phase in schedule["phases"]:
                if phase["discounts"]:
                    phase["discounts"][0] = {"coupon": None, "discount": discount}

        return change

    def unanchored(schedule: dict[str, Any]) -> None:
        schedule["phases"][-1]["billing_cycle_anchor"] = None

    def never_released(schedule: dict[str, Any]) -> None:
        schedule["end_behavior"] = "cancel"
        schedule["default_settings"]["collection_method"] = "charge_automatically"

    def renewal_in_the_old_term(schedule: dict[str, Any]) -> None:
        schedule["phases"][0]["start_date"] -= 365 * 86400

    [mdq] = broken("mdq", one_more_in_the_last_segment)
    assert "quantity" in mdq
    assert any("discounts" in p for p in broken("coupon", coupons_dropped))
    # A discount the phase's coupon made stands for the coupon; one of another coupon does not.
    coupon_order = next(o for o in ids if "coupon" in expected_order(records, o).shapes)
    first = next(p for p in schedules[coupon_order]["phases"] if p["discounts"])["discounts"][0]
    made["di_kept"] = first["coupon"] or made[first["discount"]]
    made["di_other"] = "sf_coupon_other"
    assert broken("coupon", reusing("di_kept")) == []
    assert any("sf_coupon_other" in p for p in broken("coupon", reusing("di_other")))
    assert any("<discount di_unknown>" in p for p in broken("coupon", reusing("di_unknown")))
    assert any("billing_cycle_anchor" in p for p in broken("uneven term", unanchored))
    [ends, charged] = broken("evergreen", never_released)
    assert ends == "end_behavior 'cancel', expected 'release'"
    assert charged.startswith("(collection_method, days_until_due) ('charge_automatically', ")
    assert any("phases (start, end)" in p for p in broken("renewal", renewal_in_the_old_term))
