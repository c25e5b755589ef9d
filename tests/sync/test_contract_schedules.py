"""A contract's life in Stripe (rules A1, A2): planned by the real contract planner from CPQ-shaped
orders, applied with the real client against the Stripe emulator, and re-planned from what
Stripe then holds. The emulator refuses what Stripe refuses (changed past phases, a moved start
of the current phase), so each step also proves the plan is one Stripe accepts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.engine import Pacer
from consumer.sync.apply import ApplyOutcome, PlanApplier
from consumer.sync.contract_schedules import HELD_SCHEDULE_EXPAND, known_schedule
from consumer.sync.convergence import without_unchanged_updates
from consumer.sync.planning import (
    KnownCustomer,
    KnownPrice,
    KnownSchedule,
    KnownStripeObjects,
    Plan,
    PlanningContext,
    plan_contract,
)
from consumer.sync.stripe_calls import StripeCaller, to_plain
from cpqsync.settings import Settings, StripeSettings
from cpqsync.stripe_client import build_stripe_client
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.planner.scenario_loader import build_contract

ACCOUNT = "001000000000001AAA"
INITIAL = "801000000000001AAA"


def _caller(emulator: StripeEmulator) -> StripeCaller:
    settings = StripeSettings(api_key=SecretStr(emulator.api_key), api_base=emulator.api_base)
    return StripeCaller(
        build_stripe_client(settings), Pacer("stripe", 500, registry=CollectorRegistry())
    )


class _Contract:
    """A 12-month contract that started three months ago, and the Stripe objects it made."""

    def __init__(self, caller: StripeCaller) -> None:
        self.caller = caller
        self.applier = PlanApplier(caller)
        today = dt.datetime.now(dt.UTC).date()
        month = (today.month - 4) % 12 + 1
        self.start = dt.date(today.year - (1 if month > today.month else 0), month, 1)
        self.today = today
        self.scenario: dict[str, Any] = {
            "plan": "contract",
            "order": {"SBQQ__Quote__r": {"SBQQ__StartDate__c": self.start.isoformat()}},
            "lines": [{"Quantity": 5}],
            "amendments": [],
        }
        self.ids: dict[str, str] = {}
        self.schedule_id = ""

    def amend(self, start: dt.date, change: int) -> None:
        self.scenario["amendments"].append(
            {"start": start.isoformat(), "lines": [{"revises": 1, "Quantity": change}]}
        )

    def schedule(self) -> dict[str, Any]:
        """The schedule as the lookups read it (discounts expanded)."""
        params: Any = {"expand": list(HELD_SCHEDULE_EXPAND)}
        found = self.caller.call(
            lambda c: c.v1.subscription_schedules.retrieve(self.schedule_id, params)
        )
        return to_plain(found)

    def plan(self) -> Plan:
        orders, root = build_contract(self.scenario)
        known = KnownStripeObjects()
        if self.schedule_id:
            known = KnownStripeObjects(
                customers={ACCOUNT: KnownCustomer(self.ids["customer"])},
                products={"01t000000000001AAA": self.ids["product"]},
                prices={"01u000000000001AAA": KnownPrice(self.ids["price"])},
                contract_schedules={INITIAL: known_schedule(self.schedule(), sandbox=False)},
            )
        elif "customer" in self.ids:  # a customer made beforehand (on a test clock), adopted
            known = KnownStripeObjects(customers={ACCOUNT: KnownCustomer(self.ids["customer"])})
        context = PlanningContext(settings=Settings(), now=dt.datetime.now(dt.UTC), known=known)
        plan = plan_contract(orders, order_id=root, context=context)
        assert plan.status == "ready", plan.errors
        return plan

    def sync(self) -> ApplyOutcome:
        outcome = self.applier.apply(self.plan())
        assert outcome.error is None, outcome.error
        for applied in outcome.applied:
            kind = applied.operation.kind.split(".")[0]
            if kind in ("customer", "product", "price") and kind not in self.ids:
                self.ids[kind] = str(applied.result["id"])
            if applied.operation.kind == "subscription_schedule.create":
                self.schedule_id = str(applied.result["id"])
        return outcome

    def schedule_writes(self) -> list[str]:
        """The schedule operations a replay still needs, once what Stripe holds is left out."""
        converged = without_unchanged_updates(self.plan(), {self.schedule_id: self.schedule()})
        return [op.kind for op in converged.operations if op.kind.startswith("subscription_")]


def _coupon(entry: dict[str, Any]) -> str:
    """The coupon of a phase's discount entry: named, or the source of the discount it reused."""
    return str(entry["coupon"] or entry["discount"]["source"]["coupon"])


def _discount(entry: dict[str, Any]) -> str:
    return str(entry["discount"]["id"])


def test_upsell_then_cancellation_converge_in_stripe(emulator: StripeEmulator) -> None:
    contract = _Contract(_caller(emulator))
    contract.sync()  # the initial order: a backdated 12-month schedule for 5
    assert contract.schedule_writes() == []

    # An upsell dated ten days ago, activated only now (A1: it starts now).
    contract.amend(contract.today - dt.timedelta(days=10), 2)
    outcome = contract.sync()
    assert "subscription_schedule.update" in [a.operation.kind for a in outcome.applied]
    schedule = contract.schedule()
    assert [[i["quantity"] for i in p["items"]] for p in schedule["phases"]] == [[5], [7]]
    started = schedule["phases"][1]["start_date"]
    assert abs(started - dt.datetime.now(dt.UTC).timestamp()) < 120
    subscription = to_plain(
        contract.caller.call(lambda c: c.v1.subscriptions.retrieve(schedule["subscription"]))
    )
    assert [i["quantity"] for i in subscription["items"]["data"]] == [7]
    # A replay plans exactly what Stripe holds: nothing to write.
    assert contract.schedule_writes() == []

    # A cancellation from today (A2): the schedule and its subscription end at once.
    contract.amend(contract.today, -7)
    contract.sync()
    schedule = contract.schedule()
    assert schedule["status"] == "canceled"
    subscription = to_plain(
        contract.caller.call(lambda c: c.v1.subscriptions.retrieve(schedule["subscription"]))
    )
    assert subscription["status"] == "canceled"
    assert contract.schedule_writes() == []


def test_future_downsell_ends_in_a_shorter_phase(emulator: StripeEmulator) -> None:
    contract = _Contract(_caller(emulator))
    contract.sync()
    next_month = dt.date(
        contract.today.year + contract.today.month // 12, contract.today.month % 12 + 1, 1
    )
    contract.amend(next_month, -2)
    contract.sync()
    schedule = contract.schedule()
    assert [[i["quantity"] for i in p["items"]] for p in schedule["phases"]] == [[5], [3]]
    assert schedule["phases"][1]["start_date"] == int(
        dt.datetime(next_month.year, next_month.month, 1, tzinfo=dt.UTC).timestamp()
    )
    assert contract.schedule_writes() == []
    assert isinstance(known_schedule(schedule, sandbox=False), KnownSchedule)


def test_coupons_stay_on_an_amended_contracts_phases_and_converge(
    emulator: StripeEmulator,
) -> None:
    """A5 with A1: the initial order's coupon on every phase (the ended one sent back as Stripe
    holds it, coupon included), an amendment's coupon from its phase on."""
    contract = _Contract(_caller(emulator))
    partner = {"Id": "a0O000000000001AAA", "Name__c": "Partner", "Percent_Off__c": 10}
    contract.scenario["order"]["Order_Lookup__r"] = {
        "records": [{**partner, "Duration__c": "forever", "Order__c": INITIAL}]
    }
    outcome = contract.sync()
    created = [a.result["id"] for a in outcome.applied if a.operation.kind == "coupon.create"]
    assert created == ["sf_coupon_a0O000000000001AAA"]
    # What the writeback does: the record now names its coupon (K2), never created again.
    contract.scenario["order"]["Order_Lookup__r"]["records"][0]["Stripe_ID__c"] = created[0]
    assert contract.schedule_writes() == []

    contract.amend(contract.today - dt.timedelta(days=10), 2)  # starts now
    loyalty = {"Id": "a0O000000000003AAA", "Name__c": "Loyalty", "Percent_Off__c": 5}
    next_month = dt.date(
        contract.today.year + contract.today.month // 12, contract.today.month % 12 + 1, 1
    )
    contract.amend(next_month, -1)
    loyalty_record = {**loyalty, "Duration__c": "once"}
    contract.scenario["amendments"][1]["order"] = {"Order_Lookup__r": {"records": [loyalty_record]}}
    contract.sync()
    loyalty_record["Stripe_ID__c"] = "sf_coupon_a0O000000000003AAA"
    schedule = contract.schedule()
    assert [[i["quantity"] for i in p["items"]] for p in schedule["phases"]] == [[5], [7], [6]]
    assert [[_coupon(d) for d in p["discounts"]] for p in schedule["phases"]] == [
        ["sf_coupon_a0O000000000001AAA"],
        ["sf_coupon_a0O000000000001AAA"],
        ["sf_coupon_a0O000000000001AAA", "sf_coupon_a0O000000000003AAA"],
    ]
    # The partner coupon's discount is the one the initial phase made, kept through the
    # amendments (sent again as a coupon, Stripe would make a new one).
    [partner_discount] = {_discount(p["discounts"][0]) for p in schedule["phases"]}
    subscription = to_plain(
        contract.caller.call(lambda c: c.v1.subscriptions.retrieve(schedule["subscription"]))
    )
    assert subscription["discounts"] == [partner_discount]
    assert contract.schedule_writes() == []
    # The first phase has ended now: a further change sends it back as held, discount and all.
    held = known_schedule(schedule, sandbox=False)
    assert held.phases[0].params["discounts"] == [{"discount": partner_discount}]


def test_a_coupon_on_an_upsell_line_discounts_the_line_from_the_upsell_on(
    emulator: StripeEmulator,
) -> None:
    """A5 with A1: a coupon on the amendment line that adds 2 seats discounts the seats' item
    from the amendment's phase on (all of it: Stripe discounts an item, not units), and stays
    through a later downsell; the phase before keeps none; a replay writes nothing."""
    contract = _Contract(_caller(emulator))
    contract.sync()
    contract.amend(contract.today - dt.timedelta(days=10), 2)  # starts now
    upsell = {"Id": "a0O000000000005AAA", "Name__c": "Upsell", "Percent_Off__c": 10}
    record = {**upsell, "Duration__c": "once", "Order_Item__c": "802000000000101AAA"}
    contract.scenario["amendments"][0]["lines"][0]["Order_Item_Lookup__r"] = {"records": [record]}
    outcome = contract.sync()
    created = [a.result["id"] for a in outcome.applied if a.operation.kind == "coupon.create"]
    assert created == ["sf_coupon_a0O000000000005AAA"]
    record["Stripe_ID__c"] = created[0]
    next_month = dt.date(
        contract.today.year + contract.today.month // 12, contract.today.month % 12 + 1, 1
    )
    contract.amend(next_month, -1)
    contract.sync()
    schedule = contract.schedule()
    items = [
        [(i["quantity"], [_coupon(d) for d in i.get("discounts") or []]) for i in p["items"]]
        for p in schedule["phases"]
    ]
    assert items == [
        [(5, [])],
        [(7, ["sf_coupon_a0O000000000005AAA"])],
        [(6, ["sf_coupon_a0O000000000005AAA"])],
    ]
    assert contract.schedule_writes() == []


def test_an_upsell_lines_coupon_discounts_the_line_on_the_amendments_first_invoice(
    emulator: StripeEmulator,
) -> None:
    """A5 with A1, billed: the contract's customer is on a test clock; an upsell from the
    first of next month (a billing date) carries a once coupon of 10% on its line. The
    invoice that phase starts with bills the seats' line for all 7 seats less 10%, the
    invoice before it has no discount, and the one after it neither (a once coupon)."""
    caller = _caller(emulator)
    contract = _Contract(caller)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    clock = caller.call(lambda c: c.v1.test_helpers.test_clocks.create(params={"frozen_time": now}))
    customer = caller.call(
        lambda c: c.v1.customers.create(params={"name": "Clocked", "test_clock": clock.id})
    )
    contract.ids["customer"] = customer.id
    contract.sync()
    next_month = dt.date(
        contract.today.year + contract.today.month // 12, contract.today.month % 12 + 1, 1
    )
    contract.amend(next_month, 2)
    upsell = {"Id": "a0O000000000005AAA", "Name__c": "Upsell", "Percent_Off__c": 10}
    record = {**upsell, "Duration__c": "once", "Order_Item__c": "802000000000101AAA"}
    contract.scenario["amendments"][0]["lines"][0]["Order_Item_Lookup__r"] = {"records": [record]}
    contract.sync()
    record["Stripe_ID__c"] = "sf_coupon_a0O000000000005AAA"
    assert contract.schedule_writes() == []

    phase_start = int(dt.datetime(next_month.year, next_month.month, 1, tzinfo=dt.UTC).timestamp())
    after = dt.date(next_month.year + next_month.month // 12, next_month.month % 12 + 1, 1)
    month_after = int(dt.datetime(after.year, after.month, 1, tzinfo=dt.UTC).timestamp())
    caller.call(
        lambda c: c.v1.test_helpers.test_clocks.advance(
            clock.id, params={"frozen_time": month_after + 86_400}
        )
    )
    invoices = {
        i.created: i
        for i in caller.call(
            lambda c: c.v1.invoices.list(params={"customer": customer.id, "limit": 100})
        ).data
    }

    def seats(created: int) -> tuple[int | None, int, int]:
        [line] = invoices[created].lines.data
        return line.quantity, line.amount, sum(d.amount for d in line.discount_amounts or [])

    quantity, amount, discount = seats(phase_start)
    assert quantity == 7
    assert discount == round(amount / 10) > 0
    assert invoices[phase_start].amount_due == amount - discount
    assert seats(month_after) == (7, amount, 0)
    before = max(created for created in invoices if created < phase_start)
    assert seats(before)[0] == 5 and seats(before)[2] == 0


def test_a_once_coupon_is_not_billed_again_after_a_mid_term_amendment(
    emulator: StripeEmulator,
) -> None:
    """A5 with A1, billed: a contract with a once coupon of 10% on its order discounts its
    first invoice only. An upsell activated mid-term ends the running phase now and starts a
    new one; both carry the coupon as the discount Stripe made of it, so the invoice after the
    amendment is not discounted again (sent as a coupon, Stripe would make a new discount)."""
    caller = _caller(emulator)
    contract = _Contract(caller)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    clock = caller.call(lambda c: c.v1.test_helpers.test_clocks.create(params={"frozen_time": now}))
    customer = caller.call(
        lambda c: c.v1.customers.create(params={"name": "Clocked", "test_clock": clock.id})
    )
    contract.ids["customer"] = customer.id
    welcome = {"Id": "a0O000000000001AAA", "Name__c": "Welcome", "Percent_Off__c": 10}
    record = {**welcome, "Duration__c": "once", "Order__c": INITIAL}
    contract.scenario["order"]["Order_Lookup__r"] = {"records": [record]}
    contract.sync()
    record["Stripe_ID__c"] = "sf_coupon_a0O000000000001AAA"
    made = _discount(contract.schedule()["phases"][0]["discounts"][0])

    contract.amend(contract.today - dt.timedelta(days=10), 2)  # starts now
    contract.sync()
    schedule = contract.schedule()
    assert [[_discount(d) for d in p["discounts"]] for p in schedule["phases"]] == [[made], [made]]
    assert contract.schedule_writes() == []

    next_month = dt.date(
        contract.today.year + contract.today.month // 12, contract.today.month % 12 + 1, 1
    )
    cycle = int(dt.datetime(next_month.year, next_month.month, 1, tzinfo=dt.UTC).timestamp())
    caller.call(
        lambda c: c.v1.test_helpers.test_clocks.advance(
            clock.id, params={"frozen_time": cycle + 86_400}
        )
    )
    invoices = sorted(
        caller.call(
            lambda c: c.v1.invoices.list(params={"customer": customer.id, "limit": 100})
        ).data,
        key=lambda i: i.created,
    )
    discounted = [sum(d.amount for d in i.total_discount_amounts or []) for i in invoices]
    assert discounted[0] > 0  # the contract's first invoice
    assert discounted[1:] == [0] * (len(invoices) - 1)
    after = [i for i in invoices if i.created == cycle]
    assert len(after) == 1 and after[0].amount_due == after[0].subtotal > 0


def test_an_upsell_inside_an_uneven_terms_running_final_period_is_accepted_and_converges(
    emulator: StripeEmulator,
) -> None:
    """O7 with A1: an 18-month contract billed yearly, 14 months in (its final 6-month period
    runs): an upsell starting now ends the final phase now; the new phase bills the remainder's
    price (interval 6 months) with no new billing anchor, and the added seat's rest of the
    final period as an invoice item. Stripe (the emulator) takes it; a replay writes nothing,
    and a sync sent again anyway changes nothing it bills."""
    contract = _Contract(_caller(emulator))
    index = contract.today.year * 12 + contract.today.month - 1 - 14
    contract.start = dt.date(index // 12, index % 12 + 1, 1)
    contract.scenario["order"]["SBQQ__Quote__r"] = {
        "SBQQ__StartDate__c": contract.start.isoformat(),
        "SBQQ__SubscriptionTerm__c": 18,
    }
    contract.scenario["lines"] = [{"Quantity": 2, "SBQQ__BillingFrequency__c": "Annual",
                                   "UnitPrice": 1800.0}]  # fmt: skip
    contract.sync()
    contract.amend(contract.today - dt.timedelta(days=3), 1)
    outcome = contract.sync()
    assert "subscription_schedule.update" in [a.operation.kind for a in outcome.applied]
    schedule = contract.schedule()
    whole, final, upsold = schedule["phases"]
    assert [[i["quantity"] for i in p["items"]] for p in schedule["phases"]] == [[2], [2], [3]]
    assert final["billing_cycle_anchor"] == "phase_start"
    assert upsold["billing_cycle_anchor"] != "phase_start"
    # The whole year, its final period from the boundary until now, the upsell to the end.
    assert whole["end_date"] == final["start_date"] and final["end_date"] == upsold["start_date"]
    prices = [
        to_plain(contract.caller.call(lambda c, p=p: c.v1.prices.retrieve(p["items"][0]["price"])))
        for p in (final, upsold)
    ]
    assert [(p["recurring"]["interval_count"], p["unit_amount"]) for p in prices] == [
        (6, 60000),
        (6, 60000),
    ]
    [proration] = upsold["add_invoice_items"]
    assert proration["quantity"] == 1
    # A replay finds it all in Stripe: the running phase keeps the price Stripe made of its
    # price_data (its bill was made at its start), so nothing is left to write.
    assert contract.schedule_writes() == []
    # Synced again: the same phases, and the upsell is not billed a second time (the running
    # phase's invoice items were billed as it started; a replay leaves them out).
    billed = len(emulator.objects("invoiceitem"))
    assert billed >= 1  # the proration, among the contract's bills so far
    contract.sync()
    again = contract.schedule()
    assert [
        (p["start_date"], p["end_date"], [i["quantity"] for i in p["items"]])
        for p in again["phases"]
    ] == [
        (p["start_date"], p["end_date"], [i["quantity"] for i in p["items"]])
        for p in schedule["phases"]
    ]
    assert len(emulator.objects("invoiceitem")) == billed
