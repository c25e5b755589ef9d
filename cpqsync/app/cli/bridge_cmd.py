"""``cpqsync bridge`` and ``cpqsync backfill``: Salesforce Pub/Sub → Kafka."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from confluent_kafka import Producer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cpqsync.app.cli.options import (
    ConfigOption,
    preflight,
    require_kafka,
    serve_metrics,
    settings_from,
)
from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuth, SalesforceAuthError
from cpqsync.salesforce.rest import RetryableSalesforceError, SalesforceRest
from cpqsync.settings import Settings
from producer_bridge.backfill import DEFAULT_OBJECTS, Backfill, BackfillError
from producer_bridge.bridge import Bridge
from producer_bridge.channel_stream import BridgeFatalError

SinceOption = Annotated[
    str,
    typer.Option(
        "--since",
        help="Publish records changed on or after this date (YYYY-MM-DD, UTC) or ISO datetime.",
    ),
]
ObjectsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--objects",
        help=f"Objects to backfill (repeat or comma-separate); default {','.join(DEFAULT_OBJECTS)}",
    ),
]
RestartOption = Annotated[
    bool, typer.Option("--restart", help="Ignore stored progress and start from the beginning.")
]


def _bootstrap(settings: Settings) -> str:
    servers = settings.kafka.bootstrap_servers
    if not servers:
        typer.echo(
            "kafka.bootstrap_servers is not set (CPQSYNC_KAFKA__BOOTSTRAP_SERVERS); "
            "the bridge needs a Kafka cluster",
            err=True,
        )
        raise typer.Exit(code=1)
    return servers


def parse_since(text: str) -> dt.datetime:
    """``2024-05-01`` or an ISO datetime; naive values are UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD) or ISO datetime", param_hint="--since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _objects(raw: list[str] | None) -> list[str]:
    if not raw:
        return list(DEFAULT_OBJECTS)
    return [name.strip() for item in raw for name in item.split(",") if name.strip()]


def run_bridge(config: Path | None) -> None:
    settings = settings_from(config)
    bootstrap = _bootstrap(settings)
    preflight(settings, "bridge", bootstrap)
    bridge = Bridge(settings, bootstrap)
    server = serve_metrics(settings, "bridge", bridge.ready)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        bridge.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        bridge.run()
    except (BridgeFatalError, SalesforceAuthError) as exc:
        typer.echo(f"cpqsync bridge: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        if server is not None:
            server.stop()


def run_backfill(config: Path | None, since: str, objects: list[str] | None, restart: bool) -> None:
    settings = settings_from(config)
    moment = parse_since(since)
    names = _objects(objects)
    bootstrap = _bootstrap(settings)
    require_kafka(settings, bootstrap, "backfill")
    kafka = settings.kafka
    topics = Topics(kafka.topic_prefix)
    ensure_topics(
        bootstrap,
        topics.all_topics(),
        kafka.partitions,
        kafka.replication_factor,
        kafka.client_config,
    )
    try:
        auth = SalesforceAuth(settings.salesforce)
        session = auth.session()
        backfill = Backfill(
            settings,
            SalesforceRest(auth),
            Producer({**producer_config(kafka, bootstrap), "client.id": "cpqsync-backfill"}),
            bootstrap,
            org_id=session.org_id,
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as progress:
            tasks: dict[str, int] = {}

            def on_total(name: str, total: int) -> None:
                tasks[name] = int(progress.add_task(f"{name} since {moment.date()}", total=total))

            def on_progress(name: str, page: int, _done: int) -> None:
                progress.advance(tasks[name], page)  # type: ignore[arg-type]

            published = backfill.run(moment, names, restart, on_progress, on_total)
    except (SalesforceAuthError, BackfillError, RetryableSalesforceError, ValueError) as exc:
        typer.echo(f"cpqsync backfill: {exc}", err=True)
        raise typer.Exit(code=1) from None
    summary = ", ".join(f"{name}: {count}" for name, count in published.items())
    typer.echo(f"backfill published {sum(published.values())} snapshot events ({summary})")


def register(app: typer.Typer) -> None:
    @app.command("bridge")
    def bridge(config: ConfigOption = None) -> None:
        """Stream Salesforce change events into Kafka, resuming from the stored replay id."""
        run_bridge(config)

    @app.command("backfill")
    def backfill(
        since: SinceOption,
        objects: ObjectsOption = None,
        restart: RestartOption = False,
        config: ConfigOption = None,
    ) -> None:
        """Publish snapshot events for records changed since a start date."""
        run_backfill(config, since, objects, restart)
