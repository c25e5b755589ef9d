"""``cpqsync sandbox stripe``: the Stripe emulator (issue: Stripe emulator)."""

from __future__ import annotations

from cpqsync.cli.options import not_implemented
from cpqsync.cli.sandbox_cmd import app


@app.command("stripe")
def stripe() -> None:
    """Serve the stateful Stripe API emulator on loopback."""
    not_implemented("sandbox stripe")
