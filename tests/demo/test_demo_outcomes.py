"""How a demo run ends: exit code, reason and report for every outcome, at the run's own seams.

The stack is replaced by fakes here (no processes); the end-to-end tests run the real one.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from rich.console import Console

from cpqsync.app.supervision.interrupts import Interrupted
from cpqsync_sandbox.demo.expectations import OrderExpectation
from cpqsync_sandbox.demo.org_client import OrderState
from cpqsync_sandbox.demo.progress import Snapshot
from cpqsync_sandbox.demo.progress_view import ProgressView
from cpqsync_sandbox.demo.run_demo import DemoOptions, DemoRun, effective_timeout, run_demo
from cpqsync_sandbox.demo.stack import RoleExitedError
from cpqsync_sandbox.demo.verdict import judge_all

GOOD = OrderExpectation("801G", "Acme", None)
BAD = OrderExpectation("801B", "Wayne", "no CPQ quote")


def order(order_id: str, status: str | None, message: str = "", stripe: str | None = None):
    return OrderState(order_id, order_id, "Activated", stripe, None, status, message, None)


class FakeStack:
    def __init__(self, dies_after: int | None = None) -> None:
        self.checks = 0
        self.dies_after = dies_after

    def check_roles(self) -> None:
        self.checks += 1
        if self.dies_after is not None and self.checks > self.dies_after:
            raise RoleExitedError("the sync process exited with code 1 (log sync.log)")


class FakeDriver:
    started_at = 0.0
    done = True
    activated = 2

    def activate_due(self, activated_at: dict[str, float], clock_start: float) -> int:
        self.started_at = self.started_at or time.monotonic()
        return 0


class FakeSampler:
    """Answers with the given org states, one list per sample (the last repeats)."""

    def __init__(self, *rounds: dict[str, OrderState]) -> None:
        self.rounds = list(rounds)
        self.peak_per_second = 0.0
        self.settled_at: dict[str, float] = {}

    def sample(self, expectations, activated):
        states = self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]
        snapshot = Snapshot(1.0, len(expectations), activated, 0, 0, 0, 0, 0.0, 0)
        return snapshot, judge_all(expectations, states)


def drive(tmp_path: Path, sampler: FakeSampler, **options) -> DemoRun:
    run = DemoRun(
        DemoOptions(report_dir=tmp_path, poll_interval_s=0.01, **options), Console(), tmp_path
    )
    run.stack = FakeStack()  # type: ignore[assignment]
    run.sampler = sampler  # type: ignore[assignment]
    run.expectations = [GOOD, BAD]
    with ProgressView(Console(quiet=True)) as view:
        run._drive(FakeDriver(), view)  # type: ignore[arg-type]
    return run


def test_every_order_as_expected_passes_once_all_settled(tmp_path: Path) -> None:
    run = drive(
        tmp_path,
        FakeSampler(
            {"801G": order("801G", None)},  # not synced yet: keep waiting
            {
                "801G": order("801G", "Success", "Synced", "sub_sched_1"),
                "801B": order("801B", "Error", "Data Error: no CPQ quote"),
            },
        ),
    )
    assert (run.report.outcome, run.report.exit_code, run.report.reason) == ("passed", 0, None)


def test_an_order_that_ends_otherwise_fails_naming_it_and_why(tmp_path: Path) -> None:
    run = drive(
        tmp_path,
        FakeSampler(
            {
                "801G": order("801G", "Error", "Stripe Error: invalid price"),
                "801B": order("801B", "Error", "Data Error: no CPQ quote"),
            }
        ),
    )
    assert run.report.exit_code == 1 and run.report.outcome == "failed"
    assert run.report.reason == (
        "1 order(s) did not end as expected: "
        "Acme: expected Success, got Error: Stripe Error: invalid price"
    )


def test_orders_that_never_settle_time_out_naming_them(tmp_path: Path) -> None:
    run = drive(
        tmp_path,
        FakeSampler({"801B": order("801B", "Error", "Data Error: no CPQ quote")}),
        timeout_s=0.2,
    )
    assert run.report.exit_code == 3 and run.report.outcome == "timeout"
    assert run.report.reason == "1 order(s) not synced 0.2s after the first activation: Acme"


@pytest.mark.parametrize(
    ("failure", "outcome", "code", "reason"),
    [
        (
            RoleExitedError("the sync process exited with code 1 (log sync.log)"),
            "error",
            4,
            "the sync process exited with code 1 (log sync.log)",
        ),
        (Interrupted(signal.SIGTERM), "interrupted", 130, "stopped by SIGTERM"),
    ],
)
def test_a_failed_stack_or_a_stop_signal_still_writes_the_report(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    outcome: str,
    code: int,
    reason: str,
) -> None:
    def execute(self: DemoRun) -> None:
        raise failure

    monkeypatch.setattr(DemoRun, "execute", execute)
    console = Console(record=True, width=200)
    assert run_demo(DemoOptions(report_dir=tmp_path), console) == code
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["outcome"], report["exit_code"], report["reason"]) == (outcome, code, reason)
    text = console.export_text()
    assert f"Demo {outcome.upper()}: {reason}" in text
    assert f"Report: {tmp_path / 'report.json'}" in text


def test_the_default_timeout_grows_with_the_generated_orders() -> None:
    assert effective_timeout(DemoOptions()) == 120
    assert effective_timeout(DemoOptions(orders=300)) == 420
    assert effective_timeout(DemoOptions(orders=300, timeout_s=30)) == 30


class FakeBilling:
    def __init__(self) -> None:
        self.starts: list[int] = []

    def advance(self, starts) -> int:
        self.starts = sorted(starts)
        return 32


class FakeStripe:
    def __init__(self, schedules: dict[str, dict]) -> None:
        self.schedules = schedules

    def objects(self, kind: str) -> dict[str, dict]:
        assert kind == "subscription_schedule"
        return self.schedules


def test_the_billing_period_leaves_out_a_renewal_that_starts_when_the_renewed_term_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock goes a period past the orders' starts, not a year on to the renewal's; and
    the wait for invoices ends once the orders billed in the period show one."""
    monkeypatch.setattr("cpqsync_sandbox.demo.run_demo.BILLING_WAIT_S", 5.0)
    initial = OrderExpectation("801I", "Acme - Partner Discount", None)
    renewal = OrderExpectation("801R", "Renewal of Acme - Partner Discount", None, renews="801I")
    invoiced = OrderState(
        "801I", "Acme", "Activated", "sub_sched_I", None, "Success", "", None,
        subscription_status="active", latest_invoice_number="A-0001",
    )  # fmt: skip
    states = {"801I": invoiced, "801R": order("801R", "Success", "Synced", "sub_sched_R")}
    sampler = FakeSampler(states)
    calls = 0
    sample = sampler.sample

    def counted(expectations, activated):
        nonlocal calls
        calls += 1
        return sample(expectations, activated)

    sampler.sample = counted  # type: ignore[method-assign]
    run = DemoRun(DemoOptions(report_dir=tmp_path, poll_interval_s=0.01), Console(), tmp_path)
    run.stack = FakeStack()  # type: ignore[assignment]
    run.sampler = sampler  # type: ignore[assignment]
    run.billing = billing = FakeBilling()  # type: ignore[assignment]
    run.stripe = FakeStripe(  # type: ignore[assignment]
        {
            "sub_sched_I": {"phases": [{"start_date": 1_797_000_000}]},
            "sub_sched_R": {"phases": [{"start_date": 1_828_000_000}]},  # a year later
        }
    )
    run.expectations = [initial, renewal]
    run.verdicts = judge_all(run.expectations, states)
    with ProgressView(Console(quiet=True)) as view:
        run._bill_one_period(view)
    assert billing.starts == [1_797_000_000]
    assert calls == 1  # the renewal's schedule, not started, is not waited for
