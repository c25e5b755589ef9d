"""``cpqsync sandbox``: run one part of the local stack on its own (kafka, org, stripe).

Each prints one JSON line on stdout when ready, so scripts and other tools can
find it, then serves until interrupted.
"""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer

from cpqsync.app.cli.options import HELP_MARKUP
from cpqsync_sandbox.broker import EmbeddedBroker

app = typer.Typer(
    help="Run a local stand-in: Kafka broker, Salesforce org, Stripe API.",
    rich_markup_mode=HELP_MARKUP,
)


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM, so servers shut down cleanly from either."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@app.command("kafka")
def kafka(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
) -> None:
    """Start the embedded Tansu broker (memory storage) until interrupted."""
    with EmbeddedBroker(host=host, port=port) as broker:
        typer.echo(json.dumps({"bootstrap_servers": broker.bootstrap_servers}), nl=True)
        wait_for_signal()
