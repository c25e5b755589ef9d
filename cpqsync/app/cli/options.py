"""Options and helpers that every command shares, so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from cpqsync.app.preflight import PreflightFailed, require
from cpqsync.app.preflight.kafka_check import check_kafka
from cpqsync.observability.http_server import MetricsPortUnavailable, MetricsServer, ReadinessCheck
from cpqsync.observability.logging import configure_logging, register_secrets
from cpqsync.settings import Settings, load_settings

# Help is Click's plain text: typer's Rich panels label every flag `<bool>` although a flag
# takes no value, and read "[...]" in help text as markup and swallow it. Every typer app
# of the CLI passes this.
HELP_MARKUP = None

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML settings file; CPQSYNC_* environment variables override it.",
        envvar="CPQSYNC_CONFIG",
    ),
]


def not_implemented(command: str) -> NoReturn:
    """The one allowed placeholder: exit 2 until the command's issue lands."""
    typer.echo(f"cpqsync {command}: not implemented yet", err=True)
    raise typer.Exit(code=2)


def settings_from(config: Path | None) -> Settings:
    """Load settings for a command, configure logging and register secrets for redaction."""
    settings = load_settings(config)
    protect_secrets(settings)
    configure_logging(settings.logging.level, settings.logging.json_format)
    return settings


def preflight(settings: Settings, role: str, bootstrap_servers: str | None = None) -> None:
    """The role's start-up checks; on a problem, exit 1 with the one line that names it."""
    try:
        require(settings, role, bootstrap_servers)
    except PreflightFailed as exc:
        typer.echo(f"cpqsync {role}: {exc}", err=True)
        raise typer.Exit(code=1) from None


def require_kafka(settings: Settings, bootstrap_servers: str, command: str) -> None:
    """Exit 1 with one line naming kafka.bootstrap_servers when no broker answers, instead
    of each later step waiting out its own timeout (commands that are not roles)."""
    reachable = check_kafka(settings.kafka, bootstrap_servers)
    if not reachable.ok:
        typer.echo(f"cpqsync {command}: {reachable.detail}", err=True)
        raise typer.Exit(code=1)


def protect_secrets(settings: Settings) -> None:
    """Register the configured secrets so that no log line or error shows them."""
    register_secrets(
        [
            settings.stripe.api_key,
            settings.salesforce.client_secret,
            settings.salesforce.password,
            settings.stripe_events.endpoint_secret,
        ]
    )


def serve_metrics(settings: Settings, role: str, ready: ReadinessCheck) -> MetricsServer | None:
    """The role's /metrics, /healthz and /readyz endpoint (None when metrics are off); an
    address it cannot bind exits 1 with the line naming metrics.port, not a traceback that a
    supervisor would print again on every restart."""
    if not settings.metrics.enabled:
        return None
    try:
        server = MetricsServer(settings.metrics.host, settings.metrics.port).start()
    except MetricsPortUnavailable as exc:
        typer.echo(f"cpqsync {role}: {exc}", err=True)
        raise typer.Exit(code=1) from None
    server.add_readiness_check(role, ready)
    return server
