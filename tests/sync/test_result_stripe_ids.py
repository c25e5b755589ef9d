"""Which Stripe id a Success result names for a record (rule R3): only the object its
Stripe_ID__c stands for, never another object the same attempt made for that record."""

from __future__ import annotations

from consumer.sync.apply import Applied, ApplyOutcome
from consumer.sync.dashboard import DashboardLinks
from consumer.sync.planning.evergreen import order_writeback
from consumer.sync.planning.plan import Operation, Plan, SourceRecord
from consumer.sync.results import Attempt, ResultBuilder
from consumer.sync.triggers import RecordRef

ORDER = SourceRecord("Order", "801000000000001AAA")
PRODUCT = SourceRecord("Product2", "01t000000000001AAA")


def _applied(kind: str, stripe_id: str, source: SourceRecord) -> Applied:
    operation = Operation(f"{kind}:{source.id}", kind, {}, source, f"key-{stripe_id}")
    return Applied(operation, {"id": stripe_id}, request_id=f"req_{stripe_id}")


def _product_result(*applied: Applied) -> tuple[str | None, str]:
    builder = ResultBuilder(DashboardLinks())
    attempt = Attempt(RecordRef("Order", ORDER.id))
    outcome = ApplyOutcome(Plan(ORDER), applied=list(applied))
    [result] = [r for r in builder.applied(attempt, outcome) if r.primary_record_id == PRODUCT.id]
    return result.stripe_object_id, result.message


def test_a_product_whose_attempt_only_made_its_meter_names_no_stripe_id() -> None:
    # The product itself was made by an earlier attempt; this one made its meter (metered P4).
    stripe_id, message = _product_result(_applied("billing.meter.create", "mtr_1", PRODUCT))
    assert stripe_id is None  # the writeback leaves Product2.Stripe_ID__c as it is
    assert message == "Synced: created billing.meter mtr_1"


def test_a_product_made_with_its_meter_names_the_product() -> None:
    stripe_id, _ = _product_result(
        _applied("billing.meter.create", "mtr_1", PRODUCT),
        _applied("product.create", "sf_01t000000000001AAA", PRODUCT),
    )
    assert stripe_id == "sf_01t000000000001AAA"


def _order_result(
    kind: str, answer: dict[str, object], existing: tuple[str, str] | None = None
) -> tuple[str | None, str | None, str]:
    """The Order's result when one schedule operation of an evergreen order (A4) was applied."""
    operation = Operation(
        f"{kind}:{ORDER.id}",
        kind,
        {},
        ORDER,
        "key-schedule",
        writeback=(order_writeback(ORDER),),
    )
    builder = ResultBuilder(DashboardLinks())
    attempt = Attempt(RecordRef("Order", ORDER.id))
    outcome = ApplyOutcome(Plan(ORDER), applied=[Applied(operation, answer, "req_1")])
    [result] = builder.applied(attempt, outcome, existing)
    return result.stripe_object_id, result.stripe_object_type, result.message


def test_an_evergreen_schedule_that_started_its_subscription_names_the_subscription() -> None:
    found = _order_result(
        "subscription_schedule.create", {"id": "sub_sched_1", "subscription": "sub_1"}
    )
    assert found == ("sub_1", "subscription", "Synced: created subscription sub_1")


def test_an_evergreen_schedule_before_its_start_names_the_schedule() -> None:
    found = _order_result(
        "subscription_schedule.create", {"id": "sub_sched_1", "subscription": None}
    )
    assert found == (
        "sub_sched_1",
        "subscription_schedule",
        "Synced: created subscription_schedule sub_sched_1",
    )


def test_an_evergreen_schedule_update_names_the_subscription_it_runs() -> None:
    found = _order_result(
        "subscription_schedule.update", {"id": "sub_sched_1", "subscription": "sub_1"}
    )
    assert found == ("sub_1", "subscription", "Synced: updated subscription sub_1")


def test_cancelling_a_released_evergreen_subscription_names_the_subscription() -> None:
    found = _order_result(
        "subscription.cancel",
        {"id": "sub_1", "object": "subscription"},
        existing=("subscription", "sub_1"),
    )
    assert found == ("sub_1", "subscription", "Synced: updated subscription sub_1")
