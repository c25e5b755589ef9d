"""``cpqsync sandbox org``: the Salesforce org simulator (issue: org simulator)."""

from __future__ import annotations

from cpqsync.cli.options import not_implemented
from cpqsync.cli.sandbox_cmd import app


@app.command("org")
def org() -> None:
    """Serve the Salesforce org simulator (REST + Pub/Sub gRPC) over an in-memory CPQ org."""
    not_implemented("sandbox org")
