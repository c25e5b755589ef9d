"""`cpqsync config check`: valid files pass, broken ones name every bad path, secrets never show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

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


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "salesforce.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def deployed_env(key_file: Path) -> dict[str, str]:
    """What a deployment injects beside the example file: the Stripe key, the JWT key."""
    return {
        "CPQSYNC_STRIPE__API_KEY": "sk_test_example",
        "CPQSYNC_SALESFORCE__PRIVATE_KEY_FILE": str(key_file),
    }


def test_the_shipped_example_is_valid(key_file: Path) -> None:
    result = run_check(EXAMPLE, env=deployed_env(key_file))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_missing_credentials_and_unreadable_key_files_are_problems(tmp_path: Path) -> None:
    result = run_check(EXAMPLE, env={"CPQSYNC_SALESFORCE__PRIVATE_KEY_FILE": str(tmp_path / "no")})
    assert result.returncode == 1
    assert "stripe.api_key: not set (CPQSYNC_STRIPE__API_KEY)" in result.stderr
    assert f"salesforce.private_key_file: cannot read {tmp_path / 'no'}" in result.stderr
    not_a_key = tmp_path / "cert.pem"
    not_a_key.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    result = run_check(
        EXAMPLE,
        env={
            "CPQSYNC_STRIPE__API_KEY": "",
            "CPQSYNC_SALESFORCE__PRIVATE_KEY_FILE": str(not_a_key),
        },
    )
    assert result.returncode == 1
    assert "stripe.api_key: empty" in result.stderr
    assert "is not an unencrypted PEM private key" in result.stderr


def test_client_credentials_need_a_my_domain_login_url_and_a_secret(
    key_file: Path, tmp_path: Path
) -> None:
    config = tmp_path / "cc.yaml"
    config.write_text(
        "salesforce:\n"
        "  auth_flow: client_credentials\n"
        "  client_id: 3MVG9-key\n"
        "  login_url: https://login.salesforce.com\n"
    )
    result = run_check(
        config,
        env={"CPQSYNC_STRIPE__API_KEY": "sk_test_x", "CPQSYNC_SALESFORCE__CLIENT_SECRET": ""},
    )
    assert result.returncode == 1
    assert "salesforce.client_secret: empty" in result.stderr
    assert "salesforce.login_url: the client credentials flow needs the org's My Domain" in (
        result.stderr
    )
    config.write_text(config.read_text().replace("login.salesforce.com", "acme.my.salesforce.com"))
    result = run_check(
        config,
        env={
            "CPQSYNC_STRIPE__API_KEY": "sk_test_x",
            "CPQSYNC_SALESFORCE__CLIENT_SECRET": "s3cr3t!",
        },
    )
    assert result.returncode == 0, result.stderr


def test_the_password_flow_passes_with_a_warning_to_move_to_jwt(tmp_path: Path) -> None:
    config = tmp_path / "pw.yaml"
    config.write_text(
        "salesforce:\n"
        "  auth_flow: password\n"
        "  client_id: 3MVG9-key\n"
        "  username: integration@example.com\n"
        "  login_url: https://acme.my.salesforce.com\n"
    )
    env = {
        "CPQSYNC_STRIPE__API_KEY": "sk_test_x",
        "CPQSYNC_SALESFORCE__CLIENT_SECRET": "s3cr3t-value",
        "CPQSYNC_SALESFORCE__PASSWORD": "hunter2-value",
    }
    result = run_check(config, env=env)
    assert result.returncode == 0, result.stderr
    assert "warning: salesforce.password: the OAuth username-password flow is blocked" in (
        result.stderr
    )
    assert "use auth_flow jwt_bearer" in result.stderr
    assert "hunter2-value" not in result.stderr + result.stdout


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


def test_environment_overrides_the_file_and_is_validated_too(key_file: Path) -> None:
    env = {**deployed_env(key_file), "CPQSYNC_SYNC__START_DATE": "not-a-date"}
    result = run_check(EXAMPLE, env=env)
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
