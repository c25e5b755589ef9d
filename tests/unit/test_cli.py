"""Every command in DESIGN section 4 exists and documents itself."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cpqsync.cli.app import app

COMMANDS = [
    ["demo"],
    ["bridge"],
    ["sync"],
    ["writeback"],
    ["run"],
    ["backfill"],
    ["replay"],
    ["sync-order"],
    ["plan"],
    ["config", "check"],
    ["status"],
    ["dlq", "list"],
    ["sandbox", "kafka"],
    ["sandbox", "org"],
    ["sandbox", "stripe"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
