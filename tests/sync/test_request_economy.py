"""What keeps an order's Stripe requests few: identical requests sent once, stages of a plan sent
together, lookups remembered or shared, retries through the pacer. Against the Stripe emulator
with the real client, reading the emulator's request log (what actually reached Stripe)."""

from __future__ import annotations

import threading
import time

import pytest
import stripe
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.engine import Pacer
from consumer.sync.apply import PlanApplier
from consumer.sync.failures import StripeUnavailable
from consumer.sync.plan_stages import stages
from consumer.sync.planning import Operation, Plan, SourceRecord, ref
from consumer.sync.single_flight import SingleFlight
from consumer.sync.stripe_calls import StripeCaller
from consumer.sync.stripe_directory import PriceDirectory, ScheduleDirectory
from consumer.sync.stripe_lookup import StripeLookup
from consumer.sync.triggers import RecordRef
from cpqsync.settings import StripeSettings
from cpqsync.stripe_client import build_stripe_client
from cpqsync_sandbox.stripe_emulator import StripeEmulator

ORDER = SourceRecord("Order", "801A")


def caller_for(emulator: StripeEmulator, *, network_retries: int = 2) -> StripeCaller:
    settings = StripeSettings(api_key=SecretStr(emulator.api_key), api_base=emulator.api_base)
    return StripeCaller(
        build_stripe_client(settings),
        Pacer("stripe", 500, registry=CollectorRegistry()),
        network_retries=network_retries,
        backoff_s=0.05,
        network_backoff_s=0.05,
    )


def op(op_id: str, kind: str, params: dict[str, object], target: object = None) -> Operation:
    return Operation(op_id, kind, params, ORDER, f"cpqsync:801A:{op_id}", target)  # type: ignore[arg-type]


def new_price(caller: StripeCaller, lookup_key: str | None = None) -> stripe.Price:
    params: stripe.params.PriceCreateParams = {
        "currency": "usd",
        "unit_amount": 100,
        "product_data": {"name": "P"},
    }
    if lookup_key:
        params["lookup_key"] = lookup_key
    return caller.call(lambda c: c.v1.prices.create(params))


# --- stages ------------------------------------------------------------------------------


def test_independent_neighbours_share_a_stage_and_dependent_ones_do_not() -> None:
    plan = [
        op("product:a", "product.create", {"id": "sf_a", "name": "A"}),
        op("product:b", "product.create", {"id": "sf_b", "name": "B"}),
        op("price:1", "price.create", {"product": ref("product:a"), "currency": "usd"}),
        op("price:2", "price.create", {"product": ref("product:b"), "currency": "usd"}),
        op("price:3", "price.create", {"product": ref("price:1"), "currency": "usd"}),
        op("schedule", "subscription_schedule.create", {"customer": "cus_1"}),
        op("archive:1", "price.update", {"active": False}, ref("price:1")),
        op("archive:2", "price.update", {"active": False}, ref("price:2")),
        op("archive:2b", "price.update", {"nickname": "x"}, ref("price:2")),
    ]
    assert [[o.id for o in stage] for stage in stages(plan)] == [
        ["product:a", "product:b"],
        ["price:1", "price:2"],
        ["price:3"],  # uses price:1's result
        ["schedule"],  # one of a kind whose order matters
        ["archive:1", "archive:2"],
        ["archive:2b"],  # the same price as archive:2
    ]


def test_two_prices_claiming_one_lookup_key_stay_in_plan_order() -> None:
    plan = [
        op("new", "price.create", {"lookup_key": "sf_pbe_1", "transfer_lookup_key": True}),
        op("other", "price.create", {"lookup_key": "sf_pbe_1"}),
    ]
    assert len(stages(plan)) == 2


def test_a_stage_runs_its_operations_at_the_same_time(emulator: StripeEmulator) -> None:
    emulator.set_latency(300)
    plan = Plan(
        ORDER,
        tuple(
            op(
                f"price:{n}",
                "price.create",
                {"currency": "usd", "unit_amount": 100 + n, "product_data": {"name": f"P{n}"}},
            )
            for n in range(4)
        ),
    )
    started = time.monotonic()
    outcome = PlanApplier(caller_for(emulator)).apply(plan)
    elapsed = time.monotonic() - started
    assert outcome.error is None and len(emulator.objects("price")) == 4
    assert [a.operation.id for a in outcome.applied] == [o.id for o in plan.operations]
    assert elapsed < 1.0, f"four 300 ms requests took {elapsed:.2f} s: not sent together"


def test_a_refusal_in_a_stage_still_reports_what_its_neighbours_did(
    emulator: StripeEmulator,
) -> None:
    caller = caller_for(emulator)
    price = new_price(caller)
    plan = Plan(
        ORDER,
        (
            op("missing", "price.update", {"active": False}, "price_missing"),
            op("archive", "price.update", {"active": False}, price.id),
            op("after", "price.create", {"currency": "usd", "unit_amount": 5, "product": "x"}),
        ),
    )
    assert len(stages(plan.operations)) == 2
    outcome = PlanApplier(caller).apply(plan)
    assert [a.operation.id for a in outcome.applied] == ["archive"]
    assert outcome.failed is not None and outcome.failed.id == "missing"
    assert outcome.error is not None and "No such price" in str(outcome.error)
    assert [p["active"] for p in emulator.objects("price")] == [False]  # "after" never ran


# --- identical requests ------------------------------------------------------------------


def test_identical_creates_from_many_workers_reach_stripe_once(emulator: StripeEmulator) -> None:
    emulator.set_latency(200)
    applier = PlanApplier(caller_for(emulator))
    plan = Plan(ORDER, (op("customer", "customer.create", {"name": "Acme"}),))
    ids: list[str | None] = []

    def apply() -> None:
        ids.append(applier.apply(plan).applied[0].stripe_id)

    threads = [threading.Thread(target=apply) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = applier.apply(plan)  # after the first answered: still no second request
    assert again.applied[0].replayed
    posts = [e for e in emulator.request_log() if e.method == "POST"]
    assert len(posts) == 1 and posts[0].status == 200
    assert len(set(ids)) == 1 and len(emulator.objects("customer")) == 1


def test_a_failed_call_is_not_remembered() -> None:
    flight = SingleFlight()
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        raise RuntimeError("boom")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            flight.run("k", failing)
    assert len(calls) == 2
    assert flight.run("k", lambda: 7) == (7, False)


def test_answers_are_kept_only_for_a_while() -> None:
    now = [0.0]
    flight = SingleFlight(keep_s=60, clock=lambda: now[0])
    counter = iter(range(10))
    assert flight.run("k", lambda: next(counter)) == (0, False)
    now[0] = 59
    assert flight.run("k", lambda: next(counter)) == (0, True)  # the first answer, replayed
    now[0] = 61
    assert flight.run("k", lambda: next(counter)) == (1, False)


# --- retries through the pacer -----------------------------------------------------------


class CountingPacer(Pacer):
    def __init__(self) -> None:
        super().__init__("stripe", 500, registry=CollectorRegistry())
        self.acquired = 0

    def acquire(self) -> float:
        self.acquired += 1
        return super().acquire()


def test_the_client_retries_nothing_and_every_retry_takes_a_token(
    emulator: StripeEmulator,
) -> None:
    emulator.configure_faults(
        {"kind": "error", "nth": 1, "path": "^/v1/customers$"},
        {"kind": "error", "nth": 2, "path": "^/v1/customers$"},
    )
    pacer = CountingPacer()
    settings = StripeSettings(
        api_key=SecretStr(emulator.api_key), api_base=emulator.api_base, max_network_retries=5
    )
    caller = StripeCaller(
        build_stripe_client(settings), pacer, network_retries=2, network_backoff_s=0.01
    )
    customer = caller.call(lambda c: c.v1.customers.create({"name": "A"}, {"idempotency_key": "k"}))
    log = [e for e in emulator.request_log() if e.method == "POST"]
    assert [e.status for e in log] == [500, 500, 200]
    assert {e.idempotency_key for e in log} == {"k"}  # the same key on every attempt
    assert pacer.acquired == 3
    assert customer.id and len(emulator.objects("customer")) == 1


def test_a_5xx_stripe_replays_for_its_key_is_not_sent_again(emulator: StripeEmulator) -> None:
    emulator.configure_faults({"kind": "error", "nth": 1, "stage": "after", "should_retry": True})
    caller = caller_for(emulator, network_retries=3)

    def create(client: stripe.StripeClient) -> stripe.Customer:
        return client.v1.customers.create({"name": "A"}, {"idempotency_key": "stored"})

    with pytest.raises(StripeUnavailable) as failed:
        caller.call(create)
    assert failed.value.replayed
    statuses = [(e.status, e.replayed) for e in emulator.request_log()]
    assert statuses == [(500, False), (500, True)], statuses


# --- lookups -----------------------------------------------------------------------------


def test_pricebook_prices_are_remembered_misses_too_until_forgotten(
    emulator: StripeEmulator,
) -> None:
    caller = caller_for(emulator)
    new_price(caller, "sf_pbe_1")
    prices = PriceDirectory(caller)
    emulator.clear_request_log()
    first, remembered_first = prices.find(["sf_pbe_1", "sf_pbe_2"])
    second, remembered_second = prices.find(["sf_pbe_1", "sf_pbe_2"])
    assert set(first) == set(second) == {"sf_pbe_1"}
    assert (remembered_first, remembered_second) == (False, True)
    assert len(emulator.request_log()) == 1
    prices.forget()
    prices.find(["sf_pbe_1"])
    assert len(emulator.request_log()) == 2


def test_a_price_that_took_the_lookup_key_replaces_the_remembered_one(
    emulator: StripeEmulator,
) -> None:
    caller = caller_for(emulator)
    old = new_price(caller, "sf_pbe_1")
    prices = PriceDirectory(caller)
    assert prices.find(["sf_pbe_1"])[0]["sf_pbe_1"]["id"] == old.id
    new = caller.call(
        lambda c: c.v1.prices.create(
            {
                "currency": "usd",
                "unit_amount": 120,
                "lookup_key": "sf_pbe_1",
                "transfer_lookup_key": True,
                "product": str(old.product),
            }
        )
    )
    prices.remember(new.to_dict())
    prices.remember(caller.call(lambda c: c.v1.prices.update(old.id, {"active": False})).to_dict())
    emulator.clear_request_log()
    assert prices.find(["sf_pbe_1"])[0]["sf_pbe_1"]["id"] == new.id
    assert emulator.request_log() == []


def test_concurrent_schedule_misses_share_one_listing(emulator: StripeEmulator) -> None:
    emulator.set_latency(100)
    caller = caller_for(emulator)
    directory = ScheduleDirectory(caller, "salesforce_order_id")
    found: list[object] = []

    def miss(n: int) -> None:
        found.append(directory.find_many({f"801{n}": "cus_1"}))

    threads = [threading.Thread(target=miss, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [{}] * 10
    assert len(emulator.request_log()) <= 2  # one listing, at most one more for late misses


def test_a_replayed_price_is_not_remembered(emulator: StripeEmulator) -> None:
    """A replay is the price as first created: after a replacement took its lookup key (P7)
    it would come back active and holding the key, and must not displace the replacement."""
    caller = caller_for(emulator)
    lookup = StripeLookup(caller, sandbox=False)
    create = op(
        "price:pbe",
        "price.create",
        {
            "currency": "usd",
            "unit_amount": 100,
            "lookup_key": "sf_pbe_1",
            "product_data": {"name": "P"},
        },
    )
    applier = PlanApplier(caller)
    first = applier.apply(Plan(ORDER, (create,))).applied[0]
    old_id = first.stripe_id
    assert old_id is not None
    replacement = new_price(caller)
    caller.call(
        lambda c: c.v1.prices.update(
            replacement.id, {"lookup_key": "sf_pbe_1", "transfer_lookup_key": True}
        )
    )
    lookup.prices.forget()
    assert lookup.prices.find(["sf_pbe_1"])[0]["sf_pbe_1"]["id"] == replacement.id
    replay = PlanApplier(caller_for(emulator)).apply(Plan(ORDER, (create,))).applied[0]
    assert replay.replayed and replay.stripe_id == old_id  # Stripe's replay: the old price
    lookup.learn("price.create", replay.result, replayed=replay.replayed)
    assert lookup.prices.find(["sf_pbe_1"])[0]["sf_pbe_1"]["id"] == replacement.id


def test_a_first_sync_finds_a_line_price_a_crash_left_active(emulator: StripeEmulator) -> None:
    """An attempt killed between a line's price and its schedule is redelivered at attempt 1:
    the order's first sync must still find that price (to use it, then archive it: P6), and
    without listing every product's prices for every new order."""
    caller = caller_for(emulator)
    lookup = StripeLookup(caller, sandbox=False)
    item_key = lookup.key("salesforce_order_item_id")

    def line_price(item_id: str, active: bool = True) -> str:
        price = caller.call(
            lambda c: c.v1.prices.create(
                {
                    "currency": "usd",
                    "unit_amount": 900,
                    "recurring": {"interval": "month"},
                    "product_data": {"name": "Seats"},
                    "metadata": {item_key: item_id, "salesforce_line_price": "true"},
                }
            )
        )
        if not active:
            caller.call(lambda c: c.v1.prices.update(price.id, {"active": False}))
        return str(price.id)

    def order(order_id: str, *items: str) -> dict[RecordRef, dict[str, object]]:
        lines = [
            {"Id": i, "SBQQ__SubscriptionPricing__c": "Fixed Price", "Product2": None}
            for i in items
        ]
        record: dict[str, object] = {"Id": order_id, "OrderItems": {"records": lines}}
        return {RecordRef("Order", order_id): record}

    archived = line_price("802A", active=False)
    orphan = line_price("802B")
    assert archived != orphan
    emulator.clear_request_log()
    known = lookup.view(order("801A", "802A", "802B", "802C")).known.line_prices
    assert {item: price.id for item, price in known.items()} == {"802B": orphan}
    listings = [e for e in emulator.request_log() if e.path == "/v1/prices"]
    assert len(listings) == 1  # one listing of the account's prices, not one per product

    line_price("802D")  # created after the listing, by another process
    emulator.clear_request_log()
    later = lookup.view({**order("801B", "802D"), **order("801C", "802E")}).known.line_prices
    assert set(later) == {"802D"}
    assert [
        e.params.get("ending_before") is not None
        for e in emulator.request_log()
        if e.path == "/v1/prices"
    ] == [True]  # the batch's orders share one listing of what is newer than the last
