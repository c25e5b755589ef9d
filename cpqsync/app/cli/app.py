"""The ``cpqsync`` command: one typer app assembled from a module per command group."""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from cpqsync.app.cli import (
    bridge_cmd,
    config_cmd,
    ops_cmd,
    stripe_events_cmd,
    sync_cmd,
    writeback_cmd,
)
from cpqsync.app.cli.options import HELP_MARKUP

# Command groups shipped by other packages (the local stand-ins add `demo` and `sandbox`):
# each entry point names a `register(app)` callable. The product imports none of them.
COMMAND_PLUGINS = "cpqsync.commands"

app = typer.Typer(
    name="cpqsync",
    help="Keep Stripe Billing in step with Salesforce CPQ, streamed through Kafka.",
    no_args_is_help=True,
    rich_markup_mode=HELP_MARKUP,
    pretty_exceptions_show_locals=False,  # locals can hold secrets
)
app.add_typer(config_cmd.app, name="config")
bridge_cmd.register(app)
sync_cmd.register(app)
writeback_cmd.register(app)
ops_cmd.register(app)
stripe_events_cmd.register(app)
for _plugin in entry_points(group=COMMAND_PLUGINS):
    _plugin.load()(app)


def main() -> None:
    app()
