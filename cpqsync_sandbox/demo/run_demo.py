"""``cpqsync demo``: start the stack, activate the dataset's orders, judge, report, stop.

Exit codes: 0 every order ended as the dataset expects; 1 some did not; 3 the
orders did not settle before the timeout; 4 the stack failed (a process did not
start or died); 130 stopped by Ctrl-C or SIGTERM. Whatever the outcome, the
JSON report is written and every child process is stopped.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from simple_salesforce.exceptions import SalesforceError

from cpqsync.app.supervision.interrupts import (
    Interrupted,
    deferring_stop_signals,
    raising_on_stop_signals,
)
from cpqsync.salesforce.auth import SalesforceAuthError
from cpqsync.salesforce.rest import RetryableSalesforceError
from cpqsync_sandbox.broker import BrokerStartError
from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.demo.billing_clock import BillingClock
from cpqsync_sandbox.demo.contract_changes import (
    ContractChange,
    change_contracts,
    contract_changes,
)
from cpqsync_sandbox.demo.expectations import (
    DatasetExpectationError,
    OrderExpectation,
    expectations_for,
    expected_errors_by_name,
)
from cpqsync_sandbox.demo.org_client import ActivationError, OrgClient
from cpqsync_sandbox.demo.progress import ProgressSampler
from cpqsync_sandbox.demo.progress_view import ProgressView
from cpqsync_sandbox.demo.ready_line import ChildStartError
from cpqsync_sandbox.demo.report import DemoReport, order_reports
from cpqsync_sandbox.demo.role_config import admin_salesforce_settings
from cpqsync_sandbox.demo.stack import DemoStack, RoleExitedError, StackOptions
from cpqsync_sandbox.demo.stripe_client import StripeAdmin
from cpqsync_sandbox.demo.summary import summary
from cpqsync_sandbox.demo.verdict import OrderVerdict
from cpqsync_sandbox.demo.waves import WaveDriver, split_waves
from cpqsync_sandbox.org.dataset import DatasetError

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 3
EXIT_STACK = 4
EXIT_INTERRUPTED = 130

# Failures of the stack itself, reported as one clear line rather than a traceback.
STACK_ERRORS = (
    ChildStartError,
    RoleExitedError,
    BrokerStartError,
    ActivationError,
    SalesforceAuthError,
    RetryableSalesforceError,
    DatasetError,
    DatasetExpectationError,
    SalesforceError,  # the org refused a contract change the dataset asks for
    requests.RequestException,
)


@dataclass(frozen=True)
class DemoOptions:
    orders: int = 0
    dataset: Path | None = None
    waves: int = 4
    wave_interval_s: float = 2.0
    # From the first activation until every order must have settled; None: by dataset size.
    timeout_s: float | None = None
    keep_running: bool = False
    report_dir: Path | None = None
    poll_interval_s: float = 1.0


BASE_TIMEOUT_S = 120.0
# After the billing period, how long to wait for every synced order to show billing state.
BILLING_WAIT_S = 60.0
# Stripe test mode's 25 requests/s bound a generated order to ~0.7 s; allow some slack.
TIMEOUT_PER_GENERATED_ORDER_S = 1.0


def effective_timeout(options: DemoOptions) -> float:
    if options.timeout_s is not None:
        return options.timeout_s
    return BASE_TIMEOUT_S + TIMEOUT_PER_GENERATED_ORDER_S * options.orders


def report_directory(requested: Path | None) -> Path:
    """``requested``, else ``./reports/demo-<UTC time>``, else a temporary directory."""
    if requested is not None:
        requested.mkdir(parents=True, exist_ok=True)
        return requested
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        directory = Path.cwd() / "reports" / f"demo-{stamp}"
        directory.mkdir(parents=True, exist_ok=False)
        return directory
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"cpqsync-demo-{stamp}-"))


class DemoRun:
    """The state of one demo run, filled in as it goes, so any stop can still report."""

    def __init__(self, options: DemoOptions, console: Console, workdir: Path) -> None:
        self.options = options
        self.console = console
        self.clock = time.monotonic()
        self.stack = DemoStack(
            StackOptions(workdir=workdir, orders=options.orders, dataset=options.dataset)
        )
        self.report = DemoReport(
            outcome="error",
            reason=None,
            exit_code=EXIT_STACK,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            duration_s=0.0,
            stack_ready_s=None,
            sync_duration_s=None,
            config_file=str(self.stack.config_path),
            logs_dir=str(self.stack.logs_dir),
        )
        self.expectations: list[OrderExpectation] = []
        self.verdicts: list[OrderVerdict] = []
        self.activated_at: dict[str, float] = {}
        self.sampler: ProgressSampler | None = None
        self.stripe: StripeAdmin | None = None
        self.billing: BillingClock | None = None
        self.org: OrgClient | None = None
        # Done once the orders to contract settled: contract them, amend, cancel, renew.
        self.contract_changes: list[ContractChange] = []
        self.changed = 0  # orders the contract changes made (amendments, renewals)

    def elapsed(self) -> float:
        return time.monotonic() - self.clock

    def end(self, outcome: str, reason: str | None, exit_code: int) -> None:
        self.report.outcome, self.report.reason, self.report.exit_code = outcome, reason, exit_code

    def execute(self) -> None:
        with ProgressView(self.console) as view:
            self.stack.start(view.step)
            self.report.stack_ready_s = round(self.elapsed(), 2)
            assert self.stack.org is not None and self.stack.stripe is not None
            org = OrgClient(admin_salesforce_settings(self.stack.org))
            self.org = org
            self.stripe = StripeAdmin(self.stack.stripe.api_base)
            dataset = self.options.dataset or default_dataset()
            self.contract_changes = contract_changes(dataset)
            self.expectations = expectations_for(
                org.draft_orders(), expected_errors_by_name(dataset)
            )
            if not self.expectations:
                raise ChildStartError(f"the org holds no Draft orders to activate ({dataset})")
            self.billing = BillingClock(self.stack.stripe.api_base, self.stack.stripe.api_key)
            linked = self.billing.prepare(org)
            view.step(f"Put {linked} account(s)' Stripe customers on a test clock")
            waves = split_waves([e.order_id for e in self.expectations], self.options.waves)
            driver = WaveDriver(org, waves, self.options.wave_interval_s)
            producers = ("bridge", "stripe-events")  # no consumer lag to show
            consumers = {r.name: r.metrics_url for r in self.stack.roles if r.name not in producers}
            self.sampler = ProgressSampler(org, self.stripe, consumers, self.clock)
            view.step(
                f"Activating {len(self.expectations)} orders in {len(waves)} wave(s), "
                f"{self.options.wave_interval_s:g}s apart"
            )
            self._drive(driver, view)
            if self.report.sync_duration_s is not None:  # every order settled
                self._bill_one_period(view)

    def _drive(self, driver: WaveDriver, view: ProgressView) -> None:
        assert self.sampler is not None
        while True:
            self.stack.check_roles()
            driver.activate_due(self.activated_at, self.clock)
            activated = driver.activated + self.changed
            snapshot, self.verdicts = self.sampler.sample(self.expectations, activated)
            view.show(snapshot)
            assert driver.started_at is not None
            waited = time.monotonic() - driver.started_at
            if self._change_contracts(view):
                continue
            if driver.done and all(v.settled for v in self.verdicts):
                self.report.sync_duration_s = round(waited, 2)
                self._judge()
                return
            timeout = effective_timeout(self.options)
            if waited > timeout:
                pending = [v.expectation.name for v in self.verdicts if not v.settled]
                self.end(
                    "timeout",
                    f"{len(pending)} order(s) not synced {timeout:g}s after the "
                    f"first activation: {', '.join(pending[:10])}",
                    EXIT_TIMEOUT,
                )
                return
            time.sleep(self.options.poll_interval_s)

    def _change_contracts(self, view: ProgressView) -> bool:
        """Once the orders to contract have settled: contract them and activate the dataset's
        amendments (A1, A2) and renewals (A3) of them, as new expectations, while the other
        orders may still be syncing. True when it did now."""
        if not self.contract_changes or self.changed:
            return False
        names = {change.order for change in self.contract_changes}
        targets = [v for v in self.verdicts if v.expectation.name in names]
        if len(targets) < len(names) or not all(v.settled for v in targets):
            return False
        assert self.org is not None
        synced = {e.name: e for e in self.expectations}
        made = change_contracts(self.org, self.contract_changes, synced)
        at = self.elapsed()
        self.activated_at.update({e.order_id: at for e in made})
        self.expectations.extend(made)
        self.changed = len(made)
        renewals = sum(1 for e in made if e.renews is not None)
        view.step(
            f"Contracted {len(self.contract_changes)} order(s); activated "
            f"{len(made) - renewals} amendment(s) (upsell, new line, LIFO downsell, "
            f"cancellation) and {renewals} renewal(s) of their contracts"
        )
        return True

    def _bill_one_period(self, view: ProgressView) -> None:
        """Advance Stripe's clock one billing period and wait until the synced orders show
        the billing state the reverse sync brings back (best effort: the verdict stands)."""
        assert self.billing is not None and self.sampler is not None and self.stripe is not None
        # A renewal's schedule starts when the renewed term ends, a year or more out: its start
        # does not set how far the clock goes (it is not billed within the demo's period).
        renewals = {v.state.stripe_id for v in self.verdicts if v.state and v.expectation.renews}
        schedules = [
            s
            for sid, s in self.stripe.objects("subscription_schedule").items()
            if sid not in renewals
        ]
        days = self.billing.advance(s["phases"][0]["start_date"] for s in schedules)
        view.step(
            f"Advanced Stripe's test clock {days} days (a billing period); waiting for invoices"
        )
        deadline = time.monotonic() + BILLING_WAIT_S
        verdicts = self.verdicts
        while time.monotonic() < deadline:
            self.stack.check_roles()
            _, verdicts = self.sampler.sample(self.expectations, len(self.expectations))
            # An amendment shares its contract's schedule: billing shows on the initial order.
            # A renewal's schedule has not started yet: nothing to bill in this period.
            synced = [
                v.state
                for v in verdicts
                if v.state and v.state.stripe_id and v.expectation.follows is None
            ]
            if synced and all(s.subscription_status or s.latest_invoice_number for s in synced):
                break
            time.sleep(self.options.poll_interval_s)
        self.verdicts = verdicts

    def _judge(self) -> None:
        wrong = [v for v in self.verdicts if v.problem is not None]
        if not wrong:
            self.end("passed", None, EXIT_PASSED)
            return
        details = "; ".join(f"{v.expectation.name}: {v.problem}" for v in wrong)
        self.end("failed", f"{len(wrong)} order(s) did not end as expected: {details}", EXIT_FAILED)

    def finish(self) -> Path:
        """Read Stripe's side (best effort: the stack may be half up), write the report."""
        stripe_objects: dict[str, dict[str, Any]] = {}
        if self.stripe is not None:
            try:
                stats = self.stripe.request_stats()
                for kind in ("subscription_schedule", "subscription", "invoice", "coupon"):
                    stripe_objects.update(self.stripe.objects(kind))
                self.report.stripe = {
                    "api_base": self.stack.stripe.api_base if self.stack.stripe else None,
                    "requests": stats.total,
                    "rate_limited": stats.rate_limited,
                    "peak_per_second": round(self.sampler.peak_per_second, 1)
                    if self.sampler
                    else 0.0,
                    "subscription_schedules": sum(
                        1 for o in stripe_objects.values() if o["object"] == "subscription_schedule"
                    ),
                }
            except requests.RequestException as exc:
                self.report.stripe = {"error": f"Stripe emulator unreadable: {exc}"}
        settled_at = self.sampler.settled_at if self.sampler else {}
        self.report.orders = order_reports(
            self.verdicts, stripe_objects, self.activated_at, settled_at
        )
        self.report.processes = {
            "pids": self.stack.pids(),
            "logs": {
                name: str(self.stack.logs_dir / f"{name}.log")
                for name in self.stack.pids()
                if name != "kafka"
            },
            "metrics": {role.name: role.metrics_url for role in self.stack.roles},
            "kafka_bootstrap": self.stack.broker.bootstrap_servers if self.stack.broker else None,
            "org_rest_url": self.stack.org.rest_url if self.stack.org else None,
        }
        self.report.duration_s = round(self.elapsed(), 2)
        return self.report.write(self.stack.options.workdir)

    def record_exit_codes(self, codes: dict[str, int | None]) -> None:
        """Add how each child ended to the report (0: stopped cleanly on SIGTERM)."""
        self.report.processes["exit_codes"] = codes
        self.report.write(self.stack.options.workdir)

    def keep_running(self) -> None:
        """Leave the stack up for a look until Ctrl-C or SIGTERM (which raise Interrupted)."""
        self.console.print("\nThe stack keeps running (Ctrl-C stops it):")
        for role in self.stack.roles:
            self.console.print(f"  {role.name:<10} {role.metrics_url}/metrics")
        if self.stack.org is not None and self.stack.stripe is not None:
            self.console.print(f"  {'org':<10} {self.stack.org.rest_url}")
            self.console.print(f"  {'stripe':<10} {self.stack.stripe.api_base}")
        self.console.print(f"  {'kafka':<10} {self.stack.bootstrap}")
        self.console.print(f"  cpqsync status --config {self.stack.config_path}")
        while True:
            self.stack.check_roles()
            time.sleep(1.0)


def run_demo(options: DemoOptions, console: Console) -> int:
    run = DemoRun(options, console, report_directory(options.report_dir))
    try:
        with raising_on_stop_signals():
            try:
                run.execute()
            except Interrupted as exc:
                run.end("interrupted", f"stopped by {exc}", EXIT_INTERRUPTED)
            except STACK_ERRORS as exc:
                run.end("error", str(exc), EXIT_STACK)
            with deferring_stop_signals() as received:
                path = run.finish()
                console.print(summary(run.report, str(path)))
            if options.keep_running and not received and run.report.exit_code != EXIT_STACK:
                try:
                    run.keep_running()
                except RoleExitedError as exc:
                    console.print(f"[red]{exc}[/red]")
    except Interrupted:
        pass  # Ctrl-C after the report (while kept running): stop below
    finally:
        with deferring_stop_signals():
            console.print("Stopping every process of the stack...")
            codes = run.stack.stop()
            run.record_exit_codes(codes)
            console.print(
                "Stopped: " + ", ".join(f"{name} (exit {code})" for name, code in codes.items())
            )
    return run.report.exit_code
