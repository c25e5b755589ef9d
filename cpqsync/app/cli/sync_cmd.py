"""``cpqsync sync``, ``sync-order``, ``sync-record``, ``plan``, ``live-sync``: events → Stripe."""

from __future__ import annotations

import getpass
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from consumer.engine import DependencyDown, install_signal_handlers
from consumer.sync.dry_run import RecordNotFound, dry_run
from consumer.sync.failures import SalesforceRejected, SalesforceUnavailable
from consumer.sync.live_switch import LiveSwitch, publish_live
from consumer.sync.manual import ManualSyncError, request_sync, syncable_type
from consumer.sync.planning import render
from consumer.sync.service import DEFAULT_GROUP, SyncService
from consumer.sync.triggers import RecordRef
from cpqsync.app.cli.options import (
    ConfigOption,
    preflight,
    require_kafka,
    serve_metrics,
    settings_from,
)
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuthError
from cpqsync.settings import Settings
from schemas.models import SyncResult, SyncStatus

TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the sync consumers' answer.")
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why the sync was asked for (kept in the request).")
]


class Switch(StrEnum):
    on = "on"
    off = "off"
    status = "status"


def _bootstrap(settings: Settings, command: str) -> str:
    servers = settings.kafka.bootstrap_servers
    if not servers:
        typer.echo(
            f"cpqsync {command}: kafka.bootstrap_servers is not set "
            "(CPQSYNC_KAFKA__BOOTSTRAP_SERVERS)",
            err=True,
        )
        raise typer.Exit(code=1)
    return servers


def run_sync(config: Path | None, group: str) -> None:
    settings = settings_from(config)
    bootstrap = _bootstrap(settings, "sync")
    preflight(settings, "sync", bootstrap)
    try:
        service = SyncService(settings, bootstrap_servers=bootstrap, group_id=group)
    except ValueError as exc:
        typer.echo(f"cpqsync sync: {exc}", err=True)
        raise typer.Exit(code=1) from None
    server = serve_metrics(settings, "sync", service.ready)
    restore = install_signal_handlers(service.request_stop)
    try:
        service.run()
    except (RuntimeError, ValueError, TimeoutError, SalesforceAuthError) as exc:
        typer.echo(f"cpqsync sync: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        restore()
        if server is not None:
            server.stop()


def _print_result(result: SyncResult) -> None:
    typer.echo(f"{result.primary_object_type} {result.primary_record_id}: {result.status.value}")
    typer.echo(f"  {result.message}")
    if result.stripe_object_id:
        typer.echo(f"  Stripe {result.stripe_object_type}: {result.stripe_object_id}")
    if result.dashboard_link:
        typer.echo(f"  {result.dashboard_link}")


def run_manual(
    config: Path | None,
    record_id: str,
    expected: tuple[str, ...],
    command: str,
    timeout: float,
    reason: str | None,
) -> None:
    settings = settings_from(config)
    try:
        object_type = syncable_type(record_id, expected)
    except ManualSyncError as exc:
        raise typer.BadParameter(str(exc), param_hint="ID") from None
    bootstrap = _bootstrap(settings, command)
    require_kafka(settings, bootstrap, command)
    topics = Topics.for_kafka(settings.kafka)
    ensure_topics(bootstrap, topics.all_topics(), settings.kafka.partitions)
    answer = request_sync(
        settings.kafka,
        bootstrap,
        record_id,
        object_type=object_type,
        requested_by=getpass.getuser(),
        reason=reason,
        timeout_s=timeout,
    )
    for result in answer.results:
        if result is not answer.root:
            _print_result(result)
    if answer.root is None:
        typer.echo(
            f"cpqsync {command}: no result for {object_type} {record_id} within {timeout:.0f}s "
            f"(request {answer.request.request_id}); is `cpqsync sync` running?",
            err=True,
        )
        raise typer.Exit(code=3)
    _print_result(answer.root)
    if answer.root.status is SyncStatus.ERROR:
        raise typer.Exit(code=1)


def run_plan(config: Path | None, record_id: str, lookup: bool, as_json: bool) -> None:
    settings = settings_from(config)
    try:
        object_type = syncable_type(record_id)
        plan = dry_run(settings, RecordRef(object_type, record_id.strip()), with_lookup=lookup)
    except ManualSyncError as exc:
        raise typer.BadParameter(str(exc), param_hint="ID") from None
    except DependencyDown as exc:
        typer.echo(
            f"cpqsync plan: {exc.dependency} cannot answer now: {exc} (check {exc.setting})",
            err=True,
        )
        raise typer.Exit(code=1) from None
    except (
        RecordNotFound,
        SalesforceAuthError,
        SalesforceRejected,
        SalesforceUnavailable,
        ValueError,
    ) as exc:
        typer.echo(f"cpqsync plan: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(plan.to_json(indent=2) if as_json else render(plan))
    if plan.status == "error":
        raise typer.Exit(code=1)


def run_live_sync(config: Path | None, switch: Switch) -> None:
    settings = settings_from(config)
    bootstrap = _bootstrap(settings, "live-sync")
    require_kafka(settings, bootstrap, "live-sync")
    topics = Topics.for_kafka(settings.kafka)
    ensure_topics(bootstrap, topics.all_topics(), settings.kafka.partitions)
    if switch is not Switch.status:
        publish_live(settings.kafka, bootstrap, topics.control, switch is Switch.on)
    state = LiveSwitch(settings.kafka, bootstrap, topics.control, default=settings.sync.live)
    state.start()
    try:
        live, source = state.is_live(), "control topic" if state.set_by_topic else "settings"
    finally:
        state.stop()
    typer.echo(json.dumps({"live": live, "source": source, "topic": topics.control}))


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync(
        config: ConfigOption = None,
        group: Annotated[
            str,
            typer.Option(
                "--group",
                help="Consumer group id of the trigger stage; the root stage's is <group>-roots.",
            ),
        ] = DEFAULT_GROUP,
    ) -> None:
        """Run the sync: triggers re-keyed by billing root, then hydrate, plan, apply to Stripe."""
        run_sync(config, group)

    @app.command("sync-order")
    def sync_order(
        order_id: str,
        config: ConfigOption = None,
        timeout: TimeoutOption = 60.0,
        reason: ReasonOption = None,
    ) -> None:
        """Sync one order by hand (works with live sync off) and print its result."""
        run_manual(config, order_id, ("Order",), "sync-order", timeout, reason)

    @app.command("sync-record")
    def sync_record(
        record_id: str,
        config: ConfigOption = None,
        timeout: TimeoutOption = 60.0,
        reason: ReasonOption = None,
    ) -> None:
        """Sync one Account, Product2 or PricebookEntry by hand and print its result."""
        expected = ("Account", "Product2", "PricebookEntry")
        run_manual(config, record_id, expected, "sync-record", timeout, reason)

    @app.command("plan")
    def plan(
        order_id: str,
        config: ConfigOption = None,
        lookup: Annotated[
            bool,
            typer.Option(
                "--lookup", help="Also ask Stripe (read-only) what exists, as a real sync does."
            ),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    ) -> None:
        """Dry run: hydrate an order and print the Stripe operations it needs."""
        run_plan(config, order_id, lookup, as_json)

    @app.command("live-sync")
    def live_sync(switch: Switch, config: ConfigOption = None) -> None:
        """Turn live sync on or off for every sync consumer (a compacted control topic)."""
        run_live_sync(config, switch)
