"""`cpqsync config check`: valid files pass, broken ones name every bad path, secrets never show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cpqsync.settings import load_settings

EXAMPLE = Path(__file__).parents[2] / "examples" / "cpqsync.yaml"


def run_check(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "cpqsync", "config", "check", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_the_shipped_example_is_valid() -> None:
    result = run_check(EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_broken_file_names_each_bad_path_and_hides_secrets(tmp_path: Path) -> None:
    secret = "sk_test_51SuperSecretValue"
    password = "pw-hunter2-very-secret"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "sync:\n"
        "  start_date: yesterday\n"
        "  record_retention: 0\n"
        "  filterz: {}\n"
        "stripe:\n"
        f"  api_key: {secret}\n"
        "  max_network_retries: lots\n"
        "salesforce:\n"
        f"  password: {{nested: {password}}}\n"
    )
    result = run_check(bad)
    assert result.returncode == 1
    err = result.stderr
    assert "sync.start_date:" in err and "'yesterday'" in err
    assert "sync.record_retention:" in err
    assert "sync.filterz: unknown setting" in err
    assert "stripe.max_network_retries:" in err and "'lots'" in err
    assert "salesforce.password:" in err
    assert secret not in result.stdout + err
    assert password not in result.stdout + err


def test_environment_overrides_the_file_and_is_validated_too(tmp_path: Path) -> None:
    result = run_check(EXAMPLE, env={"CPQSYNC_SYNC__START_DATE": "not-a-date"})
    assert result.returncode == 1
    assert "sync.start_date:" in result.stderr


def test_environment_value_wins_over_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQSYNC_STRIPE__REQUESTS_PER_SECOND", "7.5")
    monkeypatch.setenv("CPQSYNC_STRIPE__API_KEY", "sk_test_from_env")
    settings = load_settings(EXAMPLE)
    assert settings.stripe.requests_per_second == 7.5
    assert settings.stripe.api_key is not None
    assert settings.stripe.api_key.get_secret_value() == "sk_test_from_env"
    assert "sk_test_from_env" not in repr(settings)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    result = run_check(tmp_path / "nope.yaml")
    assert result.returncode == 1
    assert "file not found" in result.stderr


def test_invalid_sync_filter_is_rejected_at_load(tmp_path: Path) -> None:
    bad = tmp_path / "filter.yaml"
    bad.write_text("sync:\n  filters:\n    Order: \"Status = 'Activated' AND AND\"\n")
    result = run_check(bad)
    assert result.returncode == 1
    assert "sync.filters:" in result.stderr
    assert "Order filter is not a valid SOQL condition" in result.stderr
