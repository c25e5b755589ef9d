"""docs/configuration.md is exactly what the settings model generates, so it cannot drift."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from cpqsync.app.ops.config_docs import render
from cpqsync.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_document_is_the_generated_one() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run "
        "`python -m cpqsync.app.ops.config_docs > docs/configuration.md`"
    )


def test_every_setting_has_a_row_with_its_environment_variable() -> None:
    text = render()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name in model.model_fields:
            assert f"| `{name}` |" in text
            assert f"`CPQSYNC_{section.upper()}__{name.upper()}`" in text


def test_source_comments_and_constraints_become_notes() -> None:
    text = render()
    row = next(line for line in text.splitlines() if line.startswith("| `pubsub_keepalive_s`"))
    assert "half-open connections otherwise hang a stream silently" in row
    assert "> 0" in row
    assert "| float |" not in row and "| number |" in row
