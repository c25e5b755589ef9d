"""Which Stripe id a Success result names for a record (rule R3): only the object its
Stripe_ID__c stands for, never another object the same attempt made for that record."""

from __future__ import annotations

from consumer.sync.apply import Applied, ApplyOutcome
from consumer.sync.dashboard import DashboardLinks
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
