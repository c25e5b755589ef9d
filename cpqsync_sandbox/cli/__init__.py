"""The stand-ins' commands, added to ``cpqsync`` through the ``cpqsync.commands`` entry point.

The product never imports this package; the CLI finds it by its entry point, so an
installation without the stand-ins simply has no ``demo`` and ``sandbox`` commands.
"""

from __future__ import annotations

import typer

from cpqsync_sandbox.cli import (
    demo_cmd,
    sandbox_cmd,
    sandbox_org_cmd,  # noqa: F401 - registers `sandbox org`
    sandbox_stripe_cmd,  # noqa: F401 - registers `sandbox stripe`
)


def register(app: typer.Typer) -> None:
    """Add ``demo`` and ``sandbox …`` to the ``cpqsync`` command."""
    app.add_typer(sandbox_cmd.app, name="sandbox")
    demo_cmd.register(app)
