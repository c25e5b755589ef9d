"""The pure part of the writeback: which records a batch writes, and with what."""

from __future__ import annotations

import datetime as dt

from consumer.writeback.batch_plan import LinkOptions, Skip, plan_batch
from consumer.writeback.current_values import without_unchanged
from consumer.writeback.stored_records import StoredSyncRecord
from consumer.writeback.sync_record import (
    MESSAGE_MAX_CHARS,
    TRUNCATION_MARKER,
    format_datetime,
    parse_datetime,
    sync_record_fields,
)
from schemas.models import SyncResult, SyncStatus
from tests.writeback.support import T0, result

ACCOUNT = "001000000000001AAA"
ORDER = "801000000000001AAA"
ITEM = "802000000000001AAA"
MINUTE = dt.timedelta(minutes=1)


def _stored(
    compound: str, status: str, at: dt.datetime | None, primary: str = ORDER
) -> StoredSyncRecord:
    return StoredSyncRecord(
        f"a0Y{abs(hash(compound)) % 10**15:015d}", compound, primary, status, at
    )


def test_a_result_older_than_the_stored_record_writes_nothing() -> None:
    plan = plan_batch([result(ACCOUNT, at=T0)], [_stored(ACCOUNT, "Error", T0 + MINUTE, ACCOUNT)])
    assert plan.skipped == {0: Skip.STALE}
    assert plan.updates == [] and plan.upserts == []


def test_the_same_attempt_again_is_a_duplicate_and_writes_nothing() -> None:
    plan = plan_batch([result(ACCOUNT, at=T0)], [_stored(ACCOUNT, "Success", T0, ACCOUNT)])
    assert plan.skipped == {0: Skip.DUPLICATE}


def test_only_the_newest_result_per_compound_id_in_a_batch_is_written() -> None:
    older = result(ACCOUNT, at=T0, stripe_id="cus_old")
    newer = result(ACCOUNT, at=T0 + MINUTE, stripe_id="cus_new")
    plan = plan_batch([newer, older], [])
    assert plan.skipped == {1: Skip.SUPERSEDED}
    [update] = plan.updates
    assert update.record["Stripe_ID__c"] == "cus_new"
    assert [w.owners for w in plan.upserts] == [(0,)]


def test_success_resolves_stored_errors_older_than_itself_only() -> None:
    older_error = _stored(f"{ORDER}-{ITEM}", "Error", T0)
    newer_error = _stored(f"{ORDER}-802000000000002AAA", "Error", T0 + 5 * MINUTE)
    other_record = _stored("801000000000009AAA", "Error", T0, primary="801000000000009AAA")
    success = result(ORDER, object_type="Order", at=T0 + MINUTE, stripe_id="sub_sched_1")
    plan = plan_batch([success], [older_error, newer_error, other_record])
    resolved = [w for w in plan.updates if w.object_type == "Sync_Record__c"]
    assert [w.record for w in resolved] == [
        {
            "attributes": {"type": "Sync_Record__c"},
            "Id": older_error.record_id,
            "Resolution_Status__c": "Resolved",
        }
    ]
    assert resolved[0].owners == (0,) and resolved[0].gone_is_fine


def test_an_error_in_the_same_batch_as_a_later_success_is_written_resolved() -> None:
    error = result(
        ORDER, object_type="Order", status=SyncStatus.ERROR, at=T0, secondary=("OrderItem", ITEM)
    )
    success = result(ORDER, object_type="Order", at=T0 + MINUTE, stripe_id="sub_sched_1")
    plan = plan_batch([error, success], [])
    statuses = {w.record_ref: w.record["Resolution_Status__c"] for w in plan.upserts}
    assert statuses == {f"{ORDER}-{ITEM}": "Resolved", ORDER: "Success"}


def test_stripe_fields_go_to_the_primary_record_and_order_gets_its_payment_link() -> None:
    # The sync consumer's convention: the synced record is primary, the attempt's root secondary.
    line = result(ITEM, object_type="OrderItem", secondary=("Order", ORDER), stripe_id="price_1")
    order = result(
        ORDER, object_type="Order", stripe_id="sub_sched_1", invoice_link="https://pay.example/i/1"
    )
    plan = plan_batch([line, order], [])
    by_type = {w.object_type: w.record for w in plan.updates}
    assert by_type["OrderItem"] == {
        "attributes": {"type": "OrderItem"},
        "Id": ITEM,
        "Stripe_ID__c": "price_1",  # OrderItem has no dashboard link field
    }
    assert by_type["Order"]["Stripe_Invoice_Payment_Link__c"] == "https://pay.example/i/1"
    assert by_type["Order"]["Stripe_Dashboard_Link__c"] == order.dashboard_link


def test_errors_and_unsynced_objects_write_no_stripe_fields() -> None:
    error = result(ACCOUNT, status=SyncStatus.ERROR)
    contract = result("800000000000001AAA", object_type="Contract", stripe_id="sub_1")
    plan = plan_batch([error, contract], [])
    assert plan.updates == []
    assert len(plan.upserts) == 2


def test_long_messages_are_cut_to_the_field_with_a_marker_and_secrets_are_masked() -> None:
    text = "Stripe Error: key sk_test_" + "a" * 30 + " " + "x" * 40_000
    fields = sync_record_fields(result(ACCOUNT, status=SyncStatus.ERROR, message=text), "Error")
    message = fields["Resolution_Message__c"]
    assert len(message) == MESSAGE_MAX_CHARS
    assert message.endswith(TRUNCATION_MARKER)
    assert "sk_test_aaaa" not in message


def test_request_link_follows_the_mode_of_the_object_link_or_the_configured_key() -> None:
    success = result(ACCOUNT)  # its dashboard link is a test-mode one
    error = result(ACCOUNT, status=SyncStatus.ERROR)
    live = LinkOptions(test_mode=False)
    test = LinkOptions(dashboard_base="https://dash.example/", test_mode=True)
    link = "Stripe_Request_Dashboard_Link__c"
    assert plan_batch([success], [], live).upserts[0].record[link] == (
        f"https://dashboard.stripe.com/test/logs/{success.stripe_request_ids[-1]}"
    )
    assert plan_batch([error], [], test).upserts[0].record[link] == (
        f"https://dash.example/test/logs/{error.stripe_request_ids[-1]}"
    )


def test_salesforce_datetimes_round_trip() -> None:
    moment = dt.datetime(2025, 3, 1, 12, 0, 5, 123_000, tzinfo=dt.UTC)
    assert format_datetime(moment) == "2025-03-01T12:00:05.123+0000"
    assert parse_datetime(format_datetime(moment)) == moment
    assert parse_datetime("2025-03-01T12:00:05Z") == moment.replace(microsecond=0)
    assert parse_datetime(None) is None


def test_stripe_fields_that_already_hold_the_value_are_not_written_again() -> None:
    same = result(ACCOUNT, stripe_id="cus_1")
    changed = result("001000000000002AAA", stripe_id="cus_2")
    unknown = result("001000000000003AAA", stripe_id="cus_3")
    plan = plan_batch([same, changed, unknown], [])
    current = {
        ("Account", ACCOUNT[:15]): {
            "Stripe_ID__c": "cus_1",
            "Stripe_Dashboard_Link__c": same.dashboard_link,
        },
        ("Account", "001000000000002"): {
            "Stripe_ID__c": "cus_2",
            "Stripe_Dashboard_Link__c": None,
        },
    }
    kept = without_unchanged(plan.updates, current)
    assert [(w.record_ref, w.record) for w in kept] == [
        (
            "001000000000002AAA",
            {
                "attributes": {"type": "Account"},
                "Id": "001000000000002AAA",
                "Stripe_Dashboard_Link__c": changed.dashboard_link,
            },
        ),
        ("001000000000003AAA", plan.updates[2].record),
    ]


def test_a_success_without_stripe_requests_keeps_the_stored_request_link() -> None:
    quiet = result(ACCOUNT).model_copy(update={"stripe_request_ids": []})
    failed = result(ACCOUNT, status=SyncStatus.ERROR).model_copy(update={"stripe_request_ids": []})
    assert "Stripe_Request_Dashboard_Link__c" not in sync_record_fields(quiet, "Success")
    assert sync_record_fields(failed, "Error")["Stripe_Request_Dashboard_Link__c"] is None


def test_an_attempt_resolves_the_errors_it_no_longer_reports_and_keeps_the_others() -> None:
    """Rule R4: one order, two lines at fault; the first line is fixed, the second is not."""
    line_a, line_b = ITEM, "802000000000002AAA"
    stored = [
        _stored(f"{ORDER}-{line_a}", "Error", T0),
        _stored(f"{ORDER}-{line_b}", "Error", T0),
        _stored(f"{ORDER}-{ORDER}", "Error", T0 - MINUTE),  # an order-level fault, fixed too
    ]
    still = result(
        ORDER,
        object_type="Order",
        status=SyncStatus.ERROR,
        at=T0 + MINUTE,
        secondary=("OrderItem", line_b),
    )
    plan = plan_batch([still], stored)
    resolved = {w.record_ref for w in plan.updates if w.object_type == "Sync_Record__c"}
    assert resolved == {stored[0].record_id, stored[2].record_id}
    assert [(w.record_ref, w.record["Resolution_Status__c"]) for w in plan.upserts] == [
        (f"{ORDER}-{line_b}", "Error")
    ]


def test_errors_of_one_attempt_stand_together_and_an_older_attempt_in_the_batch_is_resolved() -> (
    None
):
    line_a, line_b = ITEM, "802000000000002AAA"

    def error(line: str, at: dt.datetime) -> SyncResult:
        return result(
            ORDER,
            object_type="Order",
            status=SyncStatus.ERROR,
            at=at,
            secondary=("OrderItem", line),
        )

    first_a, newest_a, newest_b = (
        error(line_a, T0),
        error(line_a, T0 + MINUTE),
        error(line_b, T0 + MINUTE),
    )
    older_only_b = error(line_b, T0 - MINUTE)
    plan = plan_batch([older_only_b, newest_a, newest_b], [])
    statuses = {w.record_ref: w.record["Resolution_Status__c"] for w in plan.upserts}
    assert statuses == {f"{ORDER}-{line_a}": "Error", f"{ORDER}-{line_b}": "Error"}
    # A line the newest attempt no longer names, reported earlier in the same batch.
    plan = plan_batch([first_a, error(line_b, T0 + MINUTE)], [])
    statuses = {w.record_ref: w.record["Resolution_Status__c"] for w in plan.upserts}
    assert statuses == {f"{ORDER}-{line_a}": "Resolved", f"{ORDER}-{line_b}": "Error"}


def test_an_error_that_judged_nothing_resolves_nothing() -> None:
    """A connector error (no record at fault named) does not mean earlier faults were fixed."""
    stored = [_stored(f"{ORDER}-{ITEM}", "Error", T0)]
    crashed = result(
        ORDER,
        object_type="Order",
        status=SyncStatus.ERROR,
        at=T0 + MINUTE,
        message="Connector Error: the sync failed unexpectedly",
    )
    plan = plan_batch([crashed], stored)
    assert [w for w in plan.updates if w.object_type == "Sync_Record__c"] == []


def test_an_older_report_of_a_replaceable_id_is_stale_against_another_compounds_success() -> None:
    """Fix 20: an order's report of its account's customer, older than the account's own
    newer Success, must not put its (possibly replaced) customer back."""
    report = result(ACCOUNT, at=T0, stripe_id="cus_older", secondary=("Order", ORDER))
    newer = _stored(ACCOUNT, "Success", T0 + MINUTE, ACCOUNT)
    plan = plan_batch([report], [newer])
    assert plan.skipped == {0: Skip.STALE}
    assert plan.updates == [] and plan.upserts == []
    # An Error of the record, however new, says nothing about its Stripe id.
    plan = plan_batch([report], [_stored(ACCOUNT, "Error", T0 + MINUTE, ACCOUNT)])
    assert plan.skipped == {}
    assert [w.record["Stripe_ID__c"] for w in plan.updates] == ["cus_older"]


def test_a_products_report_still_names_it_after_a_newer_success_that_named_only_its_meter() -> None:
    """A product keeps its Stripe id for good, and its newer Success may name none (an attempt
    that made only its meter, fix 14): an older report of the product still writes its id."""
    product = "01t000000000001AAA"
    report = result(
        product,
        object_type="Product2",
        at=T0,
        stripe_id="sf_01t000000000001AAA",
        secondary=("Order", ORDER),
    )
    meter_only = _stored(product, "Success", T0 + MINUTE, product)
    plan = plan_batch([report], [meter_only])
    assert plan.skipped == {}
    assert [w.record["Stripe_ID__c"] for w in plan.updates] == ["sf_01t000000000001AAA"]
