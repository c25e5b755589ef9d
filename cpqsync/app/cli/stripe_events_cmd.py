"""``cpqsync stripe-events``: Stripe's events (webhooks + catch-up) onto Kafka (rule B1)."""

from __future__ import annotations

from pathlib import Path

import typer

from consumer.engine import install_signal_handlers
from cpqsync.app.cli.options import ConfigOption, preflight, serve_metrics, settings_from
from producer_bridge.stripe_events.service import StripeEventSource, StripeEventSourceError


def run_stripe_events(config: Path | None) -> None:
    settings = settings_from(config)
    bootstrap = settings.kafka.bootstrap_servers
    if not bootstrap:
        typer.echo(
            "kafka.bootstrap_servers is not set (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS); "
            "the Stripe event source needs a Kafka cluster",
            err=True,
        )
        raise typer.Exit(code=1)
    preflight(settings, "stripe-events", bootstrap)
    try:
        source = StripeEventSource(settings, bootstrap)
    except (StripeEventSourceError, ValueError) as exc:
        typer.echo(f"cpqsync stripe-events: {exc}", err=True)
        raise typer.Exit(code=1) from None
    server = serve_metrics(settings, "stripe-events", source.ready)
    restore = install_signal_handlers(source.request_stop)
    try:
        source.start()
        source.wait()
    except StripeEventSourceError as exc:
        typer.echo(f"cpqsync stripe-events: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        source.stop()
        restore()
        if server is not None:
            server.stop()


def register(app: typer.Typer) -> None:
    @app.command("stripe-events")
    def stripe_events(config: ConfigOption = None) -> None:
        """Receive Stripe's webhooks (signature verified) and catch up through GET /v1/events."""
        run_stripe_events(config)
