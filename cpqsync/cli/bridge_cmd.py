"""``cpqsync bridge`` and ``cpqsync backfill``: Salesforce Pub/Sub → Kafka."""

from __future__ import annotations

import typer

from cpqsync.cli.options import ConfigOption, not_implemented


def register(app: typer.Typer) -> None:
    @app.command("bridge")
    def bridge(config: ConfigOption = None) -> None:
        """Stream Salesforce change events into Kafka, resuming from the stored replay id."""
        not_implemented("bridge")

    @app.command("backfill")
    def backfill(config: ConfigOption = None) -> None:
        """Publish snapshot events for records changed since a start date."""
        not_implemented("backfill")
