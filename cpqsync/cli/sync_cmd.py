"""``cpqsync sync``, ``sync-order``, ``sync-record``, ``plan``: change events → Stripe."""

from __future__ import annotations

import typer

from cpqsync.cli.options import ConfigOption, not_implemented


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync(config: ConfigOption = None) -> None:
        """Run the sync consumer group: hydrate, plan and apply to Stripe."""
        not_implemented("sync")

    @app.command("sync-order")
    def sync_order(order_id: str, config: ConfigOption = None) -> None:
        """Sync one order by hand (works with live sync off) and print its result."""
        not_implemented("sync-order")

    @app.command("sync-record")
    def sync_record(record_id: str, config: ConfigOption = None) -> None:
        """Sync one Account, Product2 or PricebookEntry by hand and print its result."""
        not_implemented("sync-record")

    @app.command("plan")
    def plan(order_id: str, config: ConfigOption = None) -> None:
        """Dry run: hydrate an order and print the Stripe operations it needs."""
        not_implemented("plan")
