"""The settings file the demo's roles run with, built from the stand-ins' ready lines.

The file holds no secrets (it stays in the report directory, so an operator can
point ``cpqsync status --config`` at it); the Stripe key and the Salesforce client
secret reach the roles through ``CPQSYNC_*`` environment variables, as they would
in a container, never through a command line that ``ps`` shows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from cpqsync.settings import SalesforceSettings

ENV_PREFIX = "CPQSYNC_"
# Stripe test mode allows 25 requests/s; one sync process keeps a little headroom.
DEMO_STRIPE_REQUESTS_PER_SECOND = 20.0
DEMO_PARTITIONS = 3


@dataclass(frozen=True)
class OrgEndpoint:
    """Where the org simulator serves and how to log in (``cpqsync sandbox org``)."""

    rest_url: str
    login_url: str
    grpc_target: str
    client_id: str
    client_secret: str
    ca_cert: str
    api_version: str

    @classmethod
    def from_ready_line(cls, line: Mapping[str, Any]) -> OrgEndpoint:
        return cls(
            rest_url=str(line["rest_url"]),
            login_url=str(line["login_url"]),
            grpc_target=str(line["grpc_target"]),
            client_id=str(line["client_id"]),
            client_secret=str(line["client_secret"]),
            ca_cert=str(line["ca_cert"]),
            api_version=str(line["api_version"]),
        )


@dataclass(frozen=True)
class StripeEndpoint:
    """The Stripe emulator's API base and a key it accepts (``cpqsync sandbox stripe``)."""

    api_base: str
    api_key: str

    @classmethod
    def from_ready_line(cls, line: Mapping[str, Any]) -> StripeEndpoint:
        return cls(api_base=str(line["api_base"]), api_key=str(line["api_key"]))


def role_settings(
    bootstrap: str, org: OrgEndpoint, stripe: StripeEndpoint, webhook_port: int | None = None
) -> dict[str, Any]:
    """Everything but secrets and the metrics port (which differs per role); with a webhook
    port, the Stripe event source and the billing writeback too (rule B1)."""
    settings = {
        "kafka": {"bootstrap_servers": bootstrap, "partitions": DEMO_PARTITIONS},
        "salesforce": {
            "login_url": org.login_url,
            "auth_flow": "client_credentials",
            "client_id": org.client_id,
            "ca_bundle": org.ca_cert,
            "pubsub_target": org.grpc_target,
            "api_version": org.api_version,
            "is_sandbox": False,
        },
        "stripe": {
            "api_base": stripe.api_base,
            "account_requests_per_second": DEMO_STRIPE_REQUESTS_PER_SECOND,
            "timeout_s": 10.0,
        },
        # The dataset holds a EUR order beside USD ones.
        "sync": {"multi_currency": True},
        # The embedded broker joins groups slowly with long sessions; a demo wants quick turns.
        "consumer": {
            "session_timeout_ms": 6_000,
            "max_poll_interval_ms": 30_000,
            "commit_interval_ms": 250,
            "shutdown_deadline_s": 8.0,
            "retry_initial_backoff_ms": 100,
            "retry_max_backoff_ms": 2_000,
        },
        # Only what happens once the bridge listens: the seeded records are not changes.
        "bridge": {"initial_position": "LATEST", "checkpoint_interval_s": 0.5},
        "metrics": {"enabled": True, "host": "127.0.0.1"},
        "logging": {"level": "INFO"},
    }
    if webhook_port is not None:
        settings["stripe_events"] = {
            "enabled": True,
            "port": webhook_port,
            "catch_up_interval_s": 5.0,
        }
    return settings


def secret_env(
    org: OrgEndpoint, stripe: StripeEndpoint, webhook_secret: str | None = None
) -> dict[str, str]:
    env = {
        f"{ENV_PREFIX}STRIPE__API_KEY": stripe.api_key,
        f"{ENV_PREFIX}SALESFORCE__CLIENT_SECRET": org.client_secret,
    }
    if webhook_secret is not None:
        env[f"{ENV_PREFIX}STRIPE_EVENTS__ENDPOINT_SECRET"] = webhook_secret
    return env


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Our environment without the caller's ``CPQSYNC_*`` (which would override the file,
    pointing a demo role at a real cluster), plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env.update(extra)
    return env


def write_role_config(path: Path, settings: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `cpqsync demo` for its roles; secrets come from CPQSYNC_* variables.\n"
        + yaml.safe_dump(dict(settings), sort_keys=False),
        encoding="utf-8",
    )
    return path


def admin_salesforce_settings(org: OrgEndpoint) -> SalesforceSettings:
    """How the demo itself logs in to activate orders, like an admin's integration user."""
    return SalesforceSettings(
        login_url=org.login_url,
        auth_flow="client_credentials",
        client_id=org.client_id,
        client_secret=SecretStr(org.client_secret),
        ca_bundle=Path(org.ca_cert),
        api_version=org.api_version,
    )
