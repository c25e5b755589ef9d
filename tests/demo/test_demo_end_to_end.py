"""``cpqsync demo`` end to end: exit code, summary, report checked against the live org and Stripe.

The demo runs as a user runs it (``python -m cpqsync demo``, no terminal, CI=true); the report
is compared with what simple-salesforce reads from the org and the stripe library reads from the
emulator while the stack is kept running; then a SIGTERM stops it, leaving no process behind.
"""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path
from typing import Any

import pytest
import stripe
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import build_client
from cpqsync.settings import SalesforceSettings
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.org.dataset import read_dataset
from tests.demo.demo_process import DemoProcess, demo_process
from tests.demo.processes import alive, descendants, wait_until

pytestmark = pytest.mark.integration

GENERATED = 3


def dataset_orders() -> dict[str, str | None]:
    """Order name -> the error the dataset documents (None: must sync), read independently;
    the amendment orders the demo makes from the dataset's contracts section included."""
    orders = read_dataset(default_dataset())["records"]["Order"]
    named = {o["Name"]: o.get("_expected_error") for o in orders}
    named.update({f"Generated order {n}": None for n in range(1, GENERATED + 1)})
    named.update(dict.fromkeys(AMENDS, None))
    named.update(dict.fromkeys(RENEWS, None))
    return named


# The dataset's amendments (its contracts section) -> the order whose contract each amends.
AMENDS = {
    "Acme - Upsell +5 Platform": "Acme - Platform Expansion",
    "Acme - 10 Platform at 1,320": "Acme - Platform Expansion",
    "Acme - Downsell -12 Platform": "Acme - Platform Expansion",
    "Stark - Cancellation": "Stark - Analyst Seats",
}
# The renewal order CPQ makes for a contract of the dataset (named by CPQ) -> the renewed
# contract's order: a schedule of its own, from where the renewed one ends, for its term (A3).
RENEWS = {"Renewal of Acme - Partner Discount": "Acme - Partner Discount"}
# Each phase's quantities once every amendment synced (A1, A2): Acme's 25 Platform + 1 Support,
# +5 Platform from month 1, 10 Platform on a new line from month 2, then -12 Platform from
# month 4 taken newest first (the new line's 10, then 2 of month 1's 5: 28 left). Stark's 12
# seats end at month 6, when the cancellation takes every line to zero.
SCHEDULES = {
    "Acme - Platform Expansion": ([[1, 25], [1, 30], [1, 10, 30], [1, 28]], 12),
    "Stark - Analyst Seats": ([[12]], 6),
    "Acme - Partner Discount": ([[8]], 12),
}


# Rule R4: the record each deliberately bad order's Error Sync Record names at fault.
AT_FAULT = {
    "Wayne - Manual Order": "Order",  # no quote: the order's own fault (O1)
    "Wayne - Legacy Maintenance": "OrderItem",  # its line bills on an Invoice Plan (P3)
    "Umbrella - API Usage": "OrderItem",  # its metered line has quantity 2 (P4)
}


def month_count(start: int, end: int) -> int:
    """Whole months from one epoch to another (the same day of the month)."""
    a, b = (dt.datetime.fromtimestamp(t, dt.UTC) for t in (start, end))
    return (b.year - a.year) * 12 + b.month - a.month


def org_view(
    demo: DemoProcess,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    ready = demo.ready_line("org")
    settings = SalesforceSettings(
        login_url=ready["login_url"],
        auth_flow="client_credentials",
        client_id=ready["client_id"],
        client_secret=SecretStr(ready["client_secret"]),
        ca_bundle=Path(ready["ca_cert"]),
    )
    auth = SalesforceAuth(settings)
    sf = build_client(auth.session(), settings, auth.http)
    orders = sf.query_all(
        "SELECT Id, Name, Status, Stripe_ID__c, Stripe_Subscription_Status__c, "
        "Stripe_Latest_Invoice_Number__c, Stripe_Latest_Invoice_Status__c FROM Order"
    )["records"]
    records = sf.query_all(
        "SELECT Primary_Record_ID__c, Secondary_Object_Type__c, Secondary_Record_ID__c, "
        "Resolution_Status__c, Resolution_Message__c FROM Sync_Record__c "
        "WHERE Primary_Object_Type__c = 'Order'"
    )["records"]
    by_order: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_order.setdefault(record["Primary_Record_ID__c"], []).append(record)
    return {o["Name"]: o for o in orders}, by_order


def test_demo_syncs_every_order_as_the_dataset_expects_and_reports_it(tmp_path: Path) -> None:
    args = ("--orders", str(GENERATED), "--waves", "2", "--wave-interval", "1", "--keep-running")
    with demo_process(tmp_path, *args) as demo:
        demo.wait_for_output("The stack keeps running", timeout=170)
        report = demo.report()
        output = demo.text()
        stripe_client = stripe.StripeClient(
            api_key=demo.ready_line("stripe")["api_key"],
            base_addresses={"api": report["stripe"]["api_base"]},
            max_network_retries=3,
        )
        orders_by_name, sync_records = org_view(demo)
        # Reads share the emulator's test-mode limit (25/s) with the running sync consumer.
        retrying = Retrying(
            retry=retry_if_exception_type(stripe.RateLimitError),
            wait=wait_fixed(0.5),
            stop=stop_after_attempt(20),
            reraise=True,
        )
        retrieve = retrying.wraps(stripe_client.v1.subscription_schedules.retrieve)
        subscription = retrying.wraps(stripe_client.v1.subscriptions.retrieve)
        schedules = {
            o["stripe_id"]: retrieve(o["stripe_id"])
            for o in report["orders"]
            if str(o["stripe_id"]).startswith("sub_sched_")
        }
        # An evergreen order names its subscription once Stripe started it (A4): its schedule.
        for o in report["orders"]:
            if str(o["stripe_id"]).startswith("sub_") and o["stripe_id"] not in schedules:
                schedules[o["stripe_id"]] = retrieve(subscription(o["stripe_id"]).schedule)
        tree = descendants(demo.process.pid)

        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(timeout=60) == 0, demo.text()

    assert report["outcome"] == "passed" and report["exit_code"] == 0, report["reason"]
    final = demo.report()  # rewritten once the stack stopped
    assert final["processes"]["exit_codes"] == dict.fromkeys(
        ("bridge", "sync", "writeback", "stripe-events", "org", "stripe"), 0
    )
    expected = dataset_orders()
    assert {o["name"] for o in report["orders"]} == set(expected)
    for order in report["orders"]:
        in_org = orders_by_name[order["name"]]
        assert order["order_id"] == in_org["Id"] and in_org["Status"] == "Activated"
        assert order["ok"] is True and order["problem"] is None
        if (
            str(in_org["Stripe_ID__c"]).startswith("sub_")
            and order["stripe_id"] != in_org["Stripe_ID__c"]
        ):
            # An evergreen order named its schedule when the report was written and the
            # subscription that schedule released into once Stripe started it (A4): one object.
            assert schedules[order["stripe_id"]].subscription == in_org["Stripe_ID__c"]
        else:
            assert order["stripe_id"] == in_org["Stripe_ID__c"]
        error = expected[order["name"]]
        if error is not None:
            # R4: one Error Sync Record, naming the record at fault as its secondary.
            [record] = sync_records[in_org["Id"]]
            assert record["Resolution_Status__c"] == order["sync_status"] == "Error"
            assert record["Secondary_Object_Type__c"] == AT_FAULT[order["name"]]
            if AT_FAULT[order["name"]] == "Order":
                assert record["Secondary_Record_ID__c"] == in_org["Id"]
            assert error in record["Resolution_Message__c"]
            assert order["sync_errors"] == [
                {
                    "object": record["Secondary_Object_Type__c"],
                    "id": record["Secondary_Record_ID__c"],
                    "message": record["Resolution_Message__c"],
                }
            ]
            assert in_org["Stripe_ID__c"] is None
            # The summary lists the record at fault with the Sync Record's message.
            at_fault = f"{record['Secondary_Object_Type__c']} {record['Secondary_Record_ID__c']}: "
            assert at_fault + record["Resolution_Message__c"][:40] in output
            continue
        [record] = [r for r in sync_records[in_org["Id"]] if not r["Secondary_Record_ID__c"]]
        assert order["sync_status"] == record["Resolution_Status__c"] == "Success"
        assert order["sync_message"] == record["Resolution_Message__c"]
        if order["name"] in AMENDS:
            # An amendment order names its contract's schedule, shown with every phase (A1).
            initial = orders_by_name[AMENDS[order["name"]]]
            assert order["amends"] == initial["Id"]
            assert in_org["Stripe_ID__c"] == initial["Stripe_ID__c"] is not None
            assert order["phases"] == next(
                o["phases"] for o in report["orders"] if o["name"] == AMENDS[order["name"]]
            )
            assert f"↳ {order['name']}" in output
            continue
        if order["name"] in RENEWS:
            renewed_order = orders_by_name[RENEWS[order["name"]]]
            assert order["renews"] == renewed_order["Id"]
            renewal = schedules[in_org["Stripe_ID__c"]]
            renewed = schedules[renewed_order["Stripe_ID__c"]]
            assert renewal.id != renewed.id
            assert renewal.metadata["salesforce_order_id"] == in_org["Id"]
            # Starts where the renewed term ends, billed from then (nothing in this period).
            assert renewal.phases[0].start_date == renewed.phases[-1].end_date
            assert renewal.status == order["stripe_status"] == "not_started"
            assert [[i.quantity for i in p.items] for p in renewal.phases] == [[8]]
            assert month_count(renewal.phases[0].start_date, renewal.phases[-1].end_date) == 12
            assert renewal.end_behavior == "cancel"
            assert f"↻ {order['name']}" in output and order["stripe_id"] in output
            continue
        # A billing period later, the reverse sync shows each order's latest invoice (B1).
        number = in_org["Stripe_Latest_Invoice_Number__c"]
        assert number is not None
        assert order["latest_invoice"] == f"{number} ({in_org['Stripe_Latest_Invoice_Status__c']})"
        if order["stripe_object"] == "invoice":  # one-time lines only (Initech)
            assert in_org["Stripe_ID__c"].startswith("in_")
            continue
        assert in_org["Stripe_Subscription_Status__c"] == order["subscription_status"] == "active"
        schedule = schedules[order["stripe_id"]]
        assert schedule.metadata["salesforce_order_id"] == in_org["Id"]
        assert order["stripe_status"] == schedule.status
        assert len(order["phases"]) == len(schedule.phases)
        assert [len(p["items"]) for p in order["phases"]] == [len(p.items) for p in schedule.phases]
        assert order["stripe_id"] in output
        if order["name"] in SCHEDULES:
            quantities, months = SCHEDULES[order["name"]]
            assert [
                sorted(i["quantity"] for i in p["items"]) for p in order["phases"]
            ] == quantities
            # Each phase starts whole months into the contract; the schedule ends at its term,
            # or where the cancellation starts (then cancelling, A2).
            first, last = schedule.phases[0], schedule.phases[-1]
            assert month_count(first.start_date, last.end_date) == months
            assert schedule.end_behavior == "cancel"
    amended = {o["name"] for o in report["orders"] if o["amends"]}
    assert amended == set(AMENDS)
    renewals = {o["name"] for o in report["orders"] if o["renews"]}
    assert renewals == set(RENEWS)
    # The quote's coupon discounts the coupon order's phase, by its name in the table (A5).
    [discounted] = [o for o in report["orders"] if o["name"] == "Acme - Partner Discount"]
    assert [p["coupons"] for p in discounted["phases"]] == [["Partner 15%"]]
    assert "  coupon Partner 15%" in output
    assert report["stripe"]["requests"] > 0
    assert report["stripe"]["subscription_schedules"] == len(schedules)

    assert "Demo PASSED" in output
    assert f"Report: {demo.report_path}" in output
    assert f"Logs of every process: {demo.report_dir / 'logs'}" in output
    for role, url in report["processes"]["metrics"].items():
        assert f"{role:<10} {url}/metrics" in output
    # The roles' own logs went to files, not to the terminal.
    assert "consumer.engine.runner" not in output
    assert "assigned" in (demo.report_dir / "logs" / "sync.log").read_text()

    assert len(tree) >= 7  # bridge, sync, writeback, stripe-events, org, stripe, Kafka
    assert [pid for pid in tree if alive(pid)] == []


def test_ctrl_c_during_the_demo_stops_every_process_it_started(tmp_path: Path) -> None:
    with demo_process(tmp_path, "--orders", "60", "--waves", "10", "--wave-interval", "2") as demo:
        demo.wait_for_output("Activating", timeout=120)
        wait_until(lambda: "activated" in demo.text(), 30, "the first wave")
        tree = descendants(demo.process.pid)
        assert len(tree) >= 6
        demo.interrupt_like_a_terminal()
        code = demo.process.wait(timeout=60)

    assert code == 130, demo.text()
    assert [pid for pid in tree if alive(pid)] == []
    report = demo.report()
    assert report["outcome"] == "interrupted"
    assert report["reason"] == "stopped by SIGINT"
    assert "Demo INTERRUPTED: stopped by SIGINT" in demo.text()
    # Stopped, not merely killed with their parent: each process ended on SIGTERM by itself.
    assert report["processes"]["exit_codes"] == dict.fromkeys(
        ("bridge", "sync", "writeback", "stripe-events", "org", "stripe"), 0
    )
