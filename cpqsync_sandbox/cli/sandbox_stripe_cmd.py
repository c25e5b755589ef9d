"""``cpqsync sandbox stripe``: the Stripe emulator (issue: Stripe emulator)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cpqsync_sandbox.cli.sandbox_cmd import app, wait_for_signal
from cpqsync_sandbox.stripe_emulator import STRIPE_TEST_MODE_LIMIT, StripeEmulator


@app.command("stripe")
def stripe(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = 0,
    latency_ms: Annotated[
        float, typer.Option(min=0, help="Latency added before every API request, in ms.")
    ] = 0,
    rate_limit: Annotated[
        int,
        typer.Option(
            min=0,
            help="Requests per second per API key before 429 (Stripe test mode: 25); 0 = off.",
        ),
    ] = STRIPE_TEST_MODE_LIMIT,
) -> None:
    """Serve the stateful Stripe API emulator on loopback until interrupted.

    Any sk_test_ key is accepted; the ready line names one. Admin endpoints
    (request log, reset, faults) live under /_emulator/.
    """
    emulator = StripeEmulator(
        host=host, port=port, latency_ms=latency_ms, rate_limit=rate_limit or None
    )
    with emulator:
        ready = {"api_base": emulator.api_base, "api_key": emulator.api_key}
        typer.echo(json.dumps(ready), nl=True)
        wait_for_signal()
