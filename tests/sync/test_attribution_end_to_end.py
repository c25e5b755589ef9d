"""Rule R4 end to end: Sync Records name the record at fault, several at once, each resolved
when its own cause is fixed.

org simulator -> bridge -> Kafka -> sync -> Stripe emulator -> results -> writeback -> org
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from cpqsync.app.cli.app import app
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.sync.stack import FAST_GROUP, Stack, open_stack
from tests.sync.stripe_state import by_metadata
from tests.writeback.support import start_service, sync_records, wait_until

pytestmark = pytest.mark.integration


@contextmanager
def _running(
    org: OrgSimulator, emulator: StripeEmulator, kafka: str, unique: Callable[[str], str]
) -> Iterator[Stack]:
    with contextmanager(open_stack)(org, emulator, kafka, unique("r4")) as stack:
        stack.start_bridge()
        stack.start_sync()
        topics = stack.topics
        writeback = start_service(
            stack.settings,
            kafka,
            topics.sync_results,
            topics.dlq,
            unique("writeback"),
            dict(FAST_GROUP),
        )
        try:
            yield stack
        finally:
            writeback.stop()


def _statuses(org: OrgSimulator, order: str) -> dict[str, tuple[str, str | None, str]]:
    """Compound id -> (status, secondary object type, message) of the order's Sync Records."""
    return {
        compound: (
            record["Resolution_Status__c"],
            record["Secondary_Object_Type__c"],
            record["Resolution_Message__c"],
        )
        for compound, record in sync_records(org).items()
        if record["Primary_Record_ID__c"] == order
    }


def test_each_line_at_fault_gets_its_own_error_resolved_when_that_line_is_fixed(
    kafka: str,
    org: OrgSimulator,
    emulator: StripeEmulator,
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refs = org.dataset.refs
    order, platform, support = (
        refs["order_acme"],
        refs["acme_platform_line"],
        refs["acme_support_line"],
    )
    org.update("OrderItem", platform, {"Quantity": 2.5})  # O6: a decimal quantity
    org.update("OrderItem", support, {"SBQQ__BillingType__c": "Arrears", "Quantity": 3})  # P4
    on_platform, on_support = f"{order}-{platform}", f"{order}-{support}"

    with _running(org, emulator, kafka, unique) as stack:
        monkeypatch.delenv("CPQSYNC_CONFIG", raising=False)
        monkeypatch.setenv("CPQSYNC_KAFKA__BOOTSTRAP_SERVERS", kafka)
        monkeypatch.setenv("CPQSYNC_KAFKA__TOPIC_PREFIX", stack.settings.kafka.topic_prefix)
        monkeypatch.setenv("CPQSYNC_KAFKA__PARTITIONS", "2")
        org.activate_order(order)

        def both_reported() -> bool:
            found = _statuses(org, order)
            return all(found.get(c, ("",))[0] == "Error" for c in (on_platform, on_support))

        wait_until(both_reported, 90, "an Error Sync Record for each line at fault")
        found = _statuses(org, order)
        assert set(found) == {on_platform, on_support}  # nothing blamed on the order itself
        assert found[on_platform][1] == "OrderItem" and found[on_support][1] == "OrderItem"
        assert found[on_platform][2].startswith(
            "Data Error: Quantity specified as a decimal value. Only integers are supported"
        )
        assert found[on_support][2].startswith(
            "Data Error: Order lines with a price configured for metered billing cannot have a "
            "quantity greater than 1."
        )

        # A sync by hand prints every record at fault, not only the first.
        by_hand = CliRunner().invoke(app, ["sync-order", order, "--timeout", "60"])
        assert by_hand.exit_code == 1, by_hand.output
        assert "Quantity specified as a decimal value" in by_hand.output
        assert "cannot have a quantity greater than 1" in by_hand.output

        # Fixing one line resolves its record only; the other line's fault still stands.
        org.update("OrderItem", platform, {"Quantity": 25})
        wait_until(
            lambda: _statuses(org, order)[on_platform][0] == "Resolved",
            90,
            "the fixed line's error to be Resolved",
        )
        assert _statuses(org, order)[on_support][0] == "Error"
        assert by_metadata(emulator, "subscription_schedule", "salesforce_order_id", order) == []

        # Fixing the last one syncs the order and resolves the last error.
        org.update("OrderItem", support, {"SBQQ__BillingType__c": "Advance", "Quantity": 1})
        wait_until(
            lambda: _statuses(org, order).get(order, ("",))[0] == "Success",
            90,
            "the order's Success Sync Record",
        )
        found = _statuses(org, order)
        assert found[on_support][0] == "Resolved" and found[on_platform][0] == "Resolved"
    [schedule] = by_metadata(emulator, "subscription_schedule", "salesforce_order_id", order)
    assert org.get("Order", order)["Stripe_ID__c"] == schedule["id"]
