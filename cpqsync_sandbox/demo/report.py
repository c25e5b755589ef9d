"""The demo's JSON report: every order's outcome beside what Stripe holds for it.

Written whatever the outcome (passed, failed, timed out, interrupted), so a
failed run can be investigated after the stack is gone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cpqsync_sandbox.demo.org_client import OrderState
from cpqsync_sandbox.demo.verdict import OrderVerdict

REPORT_NAME = "report.json"


@dataclass(frozen=True)
class PhaseSummary:
    start_date: str | None
    end_date: str | None
    items: list[dict[str, Any]]
    add_invoice_items: int
    # The coupons discounting the phase or one of its items, by name (A5).
    coupons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OrderReport:
    order_id: str
    name: str
    expected: str  # "Success" or "Error containing '...'"
    ok: bool
    problem: str | None
    sync_status: str | None
    sync_message: str | None
    # One per Error Sync Record: the record at fault (R4) and its message.
    sync_errors: list[dict[str, str]]
    stripe_id: str | None
    stripe_object: str | None  # subscription_schedule, subscription, invoice
    stripe_status: str | None
    phases: list[PhaseSummary]
    activated_at_s: float | None
    settled_at_s: float | None
    # Read back from Salesforce after a billing period (rule B1), None before.
    subscription_status: str | None = None
    latest_invoice: str | None = None
    payment: str | None = None
    # An amendment order: its contract's initial order id (both name one schedule, A1).
    amends: str | None = None
    # A renewal order: the renewed contract's initial order id (each has its own schedule, A3).
    renews: str | None = None
    # What the schedule does after its last phase: cancel, or release (runs on, A4).
    end_behavior: str | None = None

    @property
    def follows(self) -> str | None:
        """The initial order of the contract this order amends or renews (None: its own)."""
        return self.amends or self.renews


@dataclass
class DemoReport:
    outcome: str  # passed, failed, timeout, interrupted, error
    reason: str | None
    exit_code: int
    started_at: str
    duration_s: float
    stack_ready_s: float | None
    sync_duration_s: float | None  # first activation -> every order settled
    orders: list[OrderReport] = field(default_factory=list)
    stripe: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, Any] = field(default_factory=dict)
    config_file: str | None = None
    logs_dir: str | None = None

    def write(self, directory: Path) -> Path:
        path = directory / REPORT_NAME
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path


def expected_text(verdict: OrderVerdict) -> str:
    error = verdict.expectation.expected_error
    return "Success" if error is None else f"Error containing {error!r}"


def _date(epoch: Any) -> str | None:
    if not isinstance(epoch, int | float):
        return None
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date().isoformat()


def phase_summaries(
    schedule: Mapping[str, Any], coupons: Mapping[str, Mapping[str, Any]] | None = None
) -> list[PhaseSummary]:
    """``coupons``: Stripe's coupons by id, to name the ones discounting each phase."""
    return [
        PhaseSummary(
            start_date=_date(phase.get("start_date")),
            end_date=_date(phase.get("end_date")),
            items=[
                {"price": item.get("price"), "quantity": item.get("quantity")}
                for item in phase.get("items", [])
            ],
            add_invoice_items=len(phase.get("add_invoice_items") or []),
            coupons=_coupon_names(phase, coupons or {}),
        )
        for phase in schedule.get("phases", [])
    ]


def _coupon_names(phase: Mapping[str, Any], coupons: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The phase's own coupons, then its items' (each once), by name, else by id."""
    discounts = [
        *(phase.get("discounts") or []),
        *(d for item in phase.get("items", []) for d in item.get("discounts") or []),
    ]
    names: list[str] = []
    for discount in discounts:
        coupon = str(discount.get("coupon") or "")
        name = str((coupons.get(coupon) or {}).get("name") or coupon)
        if coupon and name not in names:
            names.append(name)
    return names


def order_reports(
    verdicts: Sequence[OrderVerdict],
    stripe_objects: Mapping[str, Mapping[str, Any]],
    activated_at: Mapping[str, float],
    settled_at: Mapping[str, float],
) -> list[OrderReport]:
    """One row per order; ``stripe_objects`` holds schedules, subscriptions, invoices and
    coupons by id. An order naming the subscription its schedule started (an evergreen one
    once Stripe started it, A4) shows that schedule's phases."""
    rows = []
    for verdict in verdicts:
        state, order_id = verdict.state, verdict.expectation.order_id
        stripe_id = state.stripe_id if state else None
        found = stripe_objects.get(stripe_id or "") or {}
        schedule = stripe_objects.get(str(found.get("schedule") or "")) or found
        rows.append(
            OrderReport(
                order_id=order_id,
                name=verdict.expectation.name,
                expected=expected_text(verdict),
                ok=verdict.ok,
                problem=verdict.problem,
                sync_status=state.sync_status if state else None,
                sync_message=state.sync_message if state else None,
                sync_errors=[
                    {"object": e.object_type, "id": e.record_id, "message": e.message}
                    for e in (state.errors if state else ())
                ],
                stripe_id=stripe_id,
                stripe_object=found.get("object"),
                stripe_status=found.get("status"),
                phases=phase_summaries(schedule, stripe_objects),
                activated_at_s=_rounded(activated_at.get(order_id)),
                settled_at_s=_rounded(settled_at.get(order_id)),
                subscription_status=state.subscription_status if state else None,
                latest_invoice=_invoice_text(state),
                payment=state.last_payment_status if state else None,
                amends=verdict.expectation.amends,
                renews=verdict.expectation.renews,
                end_behavior=schedule.get("end_behavior"),
            )
        )
    return rows


def _invoice_text(state: OrderState | None) -> str | None:
    if state is None or state.latest_invoice_number is None:
        return None
    return f"{state.latest_invoice_number} ({state.latest_invoice_status})"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
