"""The summary printed at the end: each order, what Stripe holds for it, and the verdict."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from cpqsync_sandbox.demo.report import DemoReport, OrderReport, PhaseSummary

_OUTCOME_STYLE = {"passed": "bold green", "failed": "bold red", "timeout": "bold red"}


def _phases_text(phases: list[PhaseSummary]) -> str:
    """Each phase's start and its items' quantities, then where the last one ends: how a
    contract's amendments rewrote its schedule reads left to right."""
    if not phases:
        return "-"
    steps = [f"{phase.start_date}: {_quantities(phase)}" for phase in phases]
    return " | ".join(steps) + f" → {phases[-1].end_date}"


def _quantities(phase: PhaseSummary) -> str:
    """``25+1`` (a metered item, which has no quantity, shows as ``metered``)."""
    shown = [
        "metered" if item.get("quantity") is None else f"{item['quantity']:g}"
        for item in phase.items
    ]
    return "+".join(shown) or "no items"


def orders_table(orders: list[OrderReport]) -> Table:
    table = Table(title="Orders")
    table.add_column("Order", overflow="fold")
    table.add_column("Sync Record")
    table.add_column("Stripe", overflow="fold")
    table.add_column("Phases: start: quantities", overflow="fold")
    table.add_column("Billing, read from Salesforce", overflow="fold")
    table.add_column("As expected")
    for order in contracts_together(orders):
        stripe = "-" if order.stripe_id is None else order.stripe_id
        if order.stripe_status:
            stripe += f" ({order.stripe_status})"
        table.add_row(
            order.name if order.amends is None else f"↳ {order.name}",
            order.sync_status or "-",
            stripe,
            _phases_text(order.phases),
            _billing_text(order),
            Text("yes", style="green") if order.ok else Text("NO", style="bold red"),
        )
    return table


def contracts_together(orders: list[OrderReport]) -> list[OrderReport]:
    """Each amendment order right after its contract's initial order, in the order made."""
    amendments: dict[str, list[OrderReport]] = {}
    for order in orders:
        if order.amends is not None:
            amendments.setdefault(order.amends, []).append(order)
    listed = {order.order_id for order in orders}
    out: list[OrderReport] = []
    for order in orders:
        if order.amends is None or order.amends not in listed:
            out.append(order)
            out.extend(amendments.get(order.order_id, []) if order.amends is None else [])
    return out


def _billing_text(order: OrderReport) -> str:
    """Subscription status, latest invoice and payment as the reverse sync wrote them."""
    parts = [
        part
        for part in (
            order.subscription_status,
            order.latest_invoice and f"invoice {order.latest_invoice}",
            order.payment and f"payment {order.payment}",
        )
        if part
    ]
    return ", ".join(parts) or "-"


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
