"""Every command in DESIGN section 4 exists and documents itself."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cpqsync.app.cli.app import app

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


def test_flags_show_no_value_type_and_help_text_keeps_its_brackets() -> None:
    backfill = CliRunner().invoke(app, ["backfill", "--help"], env={"COLUMNS": "120"})
    assert "<bool>" not in backfill.output
    assert "--restart " in backfill.output
    demo = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert "[default: 120 + 1 per --orders]" in demo.output


def test_config_check_takes_a_path_and_documents_connect() -> None:
    result = CliRunner().invoke(app, ["config", "check", "--help"], env={"COLUMNS": "120"})
    usage = result.output.splitlines()[0]
    assert usage.startswith("Usage: cpqsync config check [OPTIONS]") and "path" in usage
    assert "--connect" in result.output


def test_plan_on_a_mistyped_id_says_there_is_no_such_record() -> None:
    good = "801Dp0000001vkEIAQ"  # a valid Order id: its suffix matches its body
    result = CliRunner().invoke(app, ["plan", good[:-3] + "ZZZ"])
    assert result.exit_code == 2
    assert "no such record: 801Dp0000001vkEZZZ is not a valid Salesforce id" in result.output
    assert "INVALID_QUERY_FILTER_OPERATOR" not in result.output
