"""``cpqsync writeback``: sync results → Salesforce Sync Records and Stripe IDs."""

from __future__ import annotations

import typer

from cpqsync.cli.options import ConfigOption, not_implemented


def register(app: typer.Typer) -> None:
    @app.command("writeback")
    def writeback(config: ConfigOption = None) -> None:
        """Run the writeback consumer group."""
        not_implemented("writeback")
