"""Mapping configuration as users meet it: `cpqsync config check`, environment overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpqsync.settings import Settings, load_settings


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
    result = subprocess.run(
        [sys.executable, "-m", "cpqsync", "config", "check", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
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
