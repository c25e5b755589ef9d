"""``cpqsync writeback``: sync results → Salesforce Sync Records and Stripe IDs."""

from __future__ import annotations

from pathlib import Path

import typer

from consumer.engine import install_signal_handlers
from consumer.writeback import WritebackService
from cpqsync.app.cli.options import ConfigOption, preflight, serve_metrics, settings_from
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuthError


def run_writeback(config: Path | None) -> None:
    settings = settings_from(config)
    kafka = settings.kafka
    if not kafka.bootstrap_servers:
        typer.echo(
            "kafka.bootstrap_servers is not set (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS); "
            "the writeback needs a Kafka cluster",
            err=True,
        )
        raise typer.Exit(code=1)
    preflight(settings, "writeback", kafka.bootstrap_servers)
    topics = Topics(kafka.topic_prefix)
    ensure_topics(
        kafka.bootstrap_servers,
        {topics.sync_results: {}, topics.dlq: {}, topics.stripe_events: {}},
        kafka.partitions,
        kafka.replication_factor,
        kafka.client_config,
    )
    service = WritebackService(settings)
    server = serve_metrics(settings, "writeback", service.is_ready)
    restore = install_signal_handlers(service.request_stop)
    try:
        service.start()
        service.join()
        service.stop()
    except SalesforceAuthError as exc:
        typer.echo(f"cpqsync writeback: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        restore()
        if server is not None:
            server.stop()


def register(app: typer.Typer) -> None:
    @app.command("writeback")
    def writeback(config: ConfigOption = None) -> None:
        """Run the writeback consumer group: sync results → Sync Records and Stripe IDs."""
        run_writeback(config)
