"""The ``cpqsync`` command: one typer app assembled from a module per command group."""

from __future__ import annotations

import typer

from cpqsync.cli import (
    bridge_cmd,
    config_cmd,
    ops_cmd,
    sandbox_cmd,
    sandbox_org_cmd,  # noqa: F401 - registers `sandbox org`
    sandbox_stripe_cmd,  # noqa: F401 - registers `sandbox stripe`
    sync_cmd,
    writeback_cmd,
)

app = typer.Typer(
    name="cpqsync",
    help="Keep Stripe Billing in step with Salesforce CPQ, streamed through Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold secrets
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(sandbox_cmd.app, name="sandbox")
bridge_cmd.register(app)
sync_cmd.register(app)
writeback_cmd.register(app)
ops_cmd.register(app)


def main() -> None:
    app()
