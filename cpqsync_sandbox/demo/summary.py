"""The summary printed at the end: each order, what Stripe holds for it, and the verdict."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cpqsync_sandbox.demo.report import DemoReport, OrderReport, PhaseSummary

_OUTCOME_STYLE = {"passed": "bold green", "failed": "bold red", "timeout": "bold red"}


def _phases_text(order: OrderReport) -> str:
    """A phase a line: its start, its items' quantities and its coupons; then where the last
    one ends and what the schedule does then. How a contract's amendments rewrote its schedule
    reads top to bottom on its initial order's row; an amendment's row points there."""
    if order.amends is not None:
        return "↑ the contract's schedule" if order.phases else "-"
    phases = order.phases
    if not phases:
        return "-"
    lines = [
        line
        for phase in phases
        for line in (f"{phase.start_date}: {_quantities(phase)}", *_coupons(phase))
    ]
    then = f", then {order.end_behavior}" if order.end_behavior else ""
    return "\n".join([*lines, f"→ {phases[-1].end_date}{then}"])


def _quantities(phase: PhaseSummary) -> str:
    """``25+1`` (a metered item, which has no quantity, shows as ``metered``)."""
    shown = [
        "metered" if item.get("quantity") is None else f"{item['quantity']:g}"
        for item in phase.items
    ]
    return "+".join(shown) or "no items"


def _coupons(phase: PhaseSummary) -> list[str]:
    """A line under the phase for each coupon discounting it (or one of its items)."""
    return [f"  coupon {name}" for name in phase.coupons]


def _order_text(order: OrderReport) -> str:
    """An amendment's row starts with ↳, a renewal's with ↻ (under the contract's order)."""
    marker = "↳ " if order.amends else "↻ " if order.renews else ""
    return marker + order.name


def orders_table(orders: list[OrderReport]) -> Table:
    # Ids are not wrapped (they are copied from here), a phase is a line: the other columns
    # are narrow enough for a 140-column log to show every row whole.
    table = Table(title="Orders")
    table.add_column("Order")
    table.add_column("Sync")
    table.add_column("Stripe", no_wrap=True)
    table.add_column("Phases: start: quantities")
    table.add_column("Billing (from Salesforce)")
    table.add_column("OK")
    for order in contracts_together(orders):
        stripe = "-" if order.stripe_id is None else order.stripe_id
        if order.stripe_status:
            stripe += f"\n({order.stripe_status})"
        table.add_row(
            _order_text(order),
            order.sync_status or "-",
            stripe,
            _phases_text(order),
            _billing_text(order),
            Text("yes", style="green") if order.ok else Text("NO", style="bold red"),
        )
    return table


def contracts_together(orders: list[OrderReport]) -> list[OrderReport]:
    """The amendment and renewal orders of a contract right after its initial order, in the
    order made."""
    follow_ons: dict[str, list[OrderReport]] = {}
    for order in orders:
        if order.follows is not None:
            follow_ons.setdefault(order.follows, []).append(order)
    listed = {order.order_id for order in orders}
    out: list[OrderReport] = []
    for order in orders:
        if order.follows is None:
            out.append(order)
            out.extend(follow_ons.get(order.order_id, []))
        elif order.follows not in listed:
            out.append(order)
    return out


def _billing_text(order: OrderReport) -> str:
    """Subscription status, latest invoice (number and status) and payment as the reverse
    sync wrote them, a line each."""
    parts = [
        part
        for part in (
            order.subscription_status,
            order.latest_invoice,
            order.payment and f"payment {order.payment}",
        )
        if part
    ]
    return "\n".join(parts) or "-"


def errors_text(orders: list[OrderReport]) -> Text:
    """Error Sync Records as the org holds them, and why an order is not as expected."""
    text = Text()
    for order in orders:
        if order.sync_errors:
            # Each Error Sync Record under its order, naming the record at fault (R4).
            text.append(f"\n  {order.name} ({order.order_id}):", style="bold")
            for error in order.sync_errors:
                text.append(f"\n    {error['object']} {error['id']}: ", style="bold")
                text.append(error["message"])
        elif order.sync_status not in (None, "Success"):
            text.append(f"\n  {order.name} ({order.order_id}): ", style="bold")
            text.append(order.sync_message or "(no message)")
        if not order.ok:
            text.append(f"\n  {order.name}: {order.problem}", style="red")
    if text:
        return Text("Sync Record messages and problems:", style="bold").append_text(text)
    return text


def summary(report: DemoReport, report_path: str) -> RenderableType:
    parts: list[RenderableType] = []
    if report.orders:
        parts.append(orders_table(report.orders))
        errors = errors_text(report.orders)
        if errors:
            parts.append(errors)
    style = _OUTCOME_STYLE.get(report.outcome, "bold yellow")
    headline = Text(f"Demo {report.outcome.upper()}", style=style)
    if report.reason:
        headline.append(f": {report.reason}", style="")
    parts.append(headline)
    stripe = report.stripe
    if stripe:
        parts.append(
            Text(
                f"Stripe: {stripe.get('requests', 0)} requests, "
                f"peak {stripe.get('peak_per_second', 0):.1f}/s, "
                f"{stripe.get('rate_limited', 0)} answered 429",
            )
        )
    timing = f"Took {report.duration_s:.1f}s"
    if report.stack_ready_s is not None:
        timing += f" (stack ready after {report.stack_ready_s:.1f}s"
        if report.sync_duration_s is not None:
            timing += f", orders settled {report.sync_duration_s:.1f}s after the first activation"
        timing += ")"
    parts.append(Text(timing))
    if report.logs_dir:
        parts.append(Text(f"Logs of every process: {report.logs_dir}"))
    parts.append(Text(f"Report: {report_path}", style="bold"))
    return Group(*parts)
