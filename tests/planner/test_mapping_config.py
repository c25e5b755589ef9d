"""Mapping configuration as users meet it: `cpqsync config check`, environment overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpqsync.settings import Settings, load_settings


def _config_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpqsync", "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def test_config_check_names_every_bad_mapping_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "mappings:\n"
        "  customer:\n"
        "    custom:\n"
        "      bogus_field: Account.Name\n"
        "      email: Account Owner.Email\n"
        "      metadata.this_key_is_far_too_long_for_stripe_metadata: Account.Name\n"
        "  subscription_schedule:\n"
        "    defaults: {end_behavior: explode}\n"
        "  product:\n"
        "    custom: {name: Account.Name}\n"
        "  invoices: {}\n"
    )
    result = _config_check(bad)
    assert result.returncode == 1
    err = result.stderr
    assert "mappings.customer.custom.bogus_field: " in err
    assert "'bogus_field' is not a parameter of a Stripe customer" in err
    assert "mappings.customer.custom.email: " in err and "not a Salesforce API name" in err
    assert "is 44 characters; Stripe allows at most 40" in err
    assert "mappings.subscription_schedule.defaults.end_behavior: " in err
    assert "'explode' is not one of ['cancel', 'none', 'release', 'renew']" in err
    assert "mappings.product.custom.name: " in err and "must start from Product2" in err
    assert "mappings.invoices: unknown setting" in err


def test_config_check_reads_payment_terms_in_defaults(tmp_path: Path) -> None:
    """Rule O4: a default days_until_due of `Net-15` is a payment term, not a bad number."""
    config = tmp_path / "terms.yaml"
    config.write_text(
        "mappings:\n"
        "  subscription_schedule:\n"
        "    defaults:\n"
        "      default_settings.collection_method: send_invoice\n"
        "      default_settings.invoice_settings.days_until_due: Net-15\n"
        "  invoice:\n"
        "    defaults: {days_until_due: Net 45.5}\n"
    )
    result = _config_check(config)
    assert result.returncode == 1
    # Only the invoice default is wrong; the schedule's Net-15 passes.
    assert "subscription_schedule" not in result.stderr
    assert "mappings.invoice.defaults.days_until_due: " in result.stderr
    assert "Unsupported field value for days_until_due: Net 45.5" in result.stderr
    config.write_text(config.read_text().replace("Net 45.5", "Net 45"))
    loaded = load_settings(config).mappings
    assert (
        loaded.subscription_schedule.defaults[
            "default_settings.invoice_settings.days_until_due"
        ].value
        == 15
    )
    assert loaded.invoice.defaults["days_until_due"].value == 45


def test_mappings_keep_their_yaml_shape_when_dumped(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "mappings:\n"
        "  customer:\n"
        "    defaults: {preferred_locales: 'en;fr'}\n"
        "    custom: {email: Account.Owner.Email}\n"
    )
    dumped = load_settings(good).model_dump()["mappings"]["customer"]
    assert dumped == {
        "defaults": {"preferred_locales": ["en", "fr"]},
        "custom": {"email": "Account.Owner.Email"},
    }


def test_a_mapping_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPQSYNC_MAPPINGS__CUSTOMER__CUSTOM__EMAIL", "Account.Owner.Email")
    settings = Settings()
    assert settings.mappings.customer.custom["email"].source == "Account.Owner.Email"
