"""``cpqsync demo``, ``run``, ``replay``, ``status``, ``dlq``: operating cpqsync."""

from __future__ import annotations

import typer

from cpqsync.cli.options import ConfigOption, not_implemented

dlq_app = typer.Typer(help="Inspect and redrive dead letters.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo() -> None:
        """Start the whole local stack, activate orders and show the sync live."""
        not_implemented("demo")

    @app.command("run")
    def run(config: ConfigOption = None) -> None:
        """Run every role (bridge, sync, writeback) in one process group."""
        not_implemented("run")

    @app.command("replay")
    def replay(config: ConfigOption = None) -> None:
        """Reset a stopped consumer group's offsets to a datetime or offset."""
        not_implemented("replay")

    @app.command("status")
    def status(config: ConfigOption = None) -> None:
        """Show lag, checkpoint age, DLQ depth, live-sync state and last errors."""
        not_implemented("status")

    @dlq_app.command("list")
    def dlq_list(config: ConfigOption = None) -> None:
        """List dead letters."""
        not_implemented("dlq list")

    @dlq_app.command("show")
    def dlq_show(config: ConfigOption = None) -> None:
        """Show one dead letter."""
        not_implemented("dlq show")

    @dlq_app.command("redrive")
    def dlq_redrive(config: ConfigOption = None) -> None:
        """Send chosen dead letters back to their origin topic."""
        not_implemented("dlq redrive")

    app.add_typer(dlq_app, name="dlq")
