"""Start-up checks as an operator meets them: `config check --connect`, and roles that refuse
to start on a wrong key, an unknown field or an unreachable broker, with one line naming the
setting (against the org simulator, the Stripe emulator and the real broker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka.admin import AdminClient

from cpqsync_sandbox.net import free_port
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def stripe_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture
def write_config(
    tmp_path: Path,
    kafka: str,
    org: OrgSimulator,
    stripe_emulator: StripeEmulator,
    unique: Callable[[str], str],
) -> Callable[..., Path]:
    def write(**sections: dict[str, Any]) -> Path:
        config: dict[str, Any] = {
            "kafka": {"bootstrap_servers": kafka, "topic_prefix": unique("pre"), "partitions": 1},
            "salesforce": {
                "login_url": org.login_url,
                "auth_flow": "jwt_bearer",
                "client_id": org.client_id,
                "username": org.username,
                "private_key_file": str(org.private_key_pem),
                "ca_bundle": str(org.ca_cert),
                "pubsub_target": org.grpc_target,
            },
            "stripe": {"api_base": stripe_emulator.api_base},
            "metrics": {"enabled": False},
        }
        for name, values in sections.items():
            config[name] = {**config.get(name, {}), **values}
        path = tmp_path / "cpqsync.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write


def cpqsync(*args: str, key: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CPQSYNC_")},
        "PYTHONPATH": str(REPO),
        "CPQSYNC_STRIPE__API_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "-m", "cpqsync", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_config_check_connect_reports_each_dependency_ok(
    write_config: Callable[..., Path], stripe_emulator: StripeEmulator
) -> None:
    config = write_config(
        sync={"filters": {"Order": "Status = 'Activated' AND Account.Name != null"}},
        mappings={"customer": {"custom": {"email": "Account.Owner.Email"}}},
    )
    result = cpqsync("config", "check", str(config), "--connect", key=stripe_emulator.api_key)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = [line.split(":")[0] for line in lines(result.stdout)[1:]]
    assert checks == [
        "OK   kafka",
        "OK   stripe",
        "OK   salesforce login",
        "OK   salesforce fields",
    ]
    # The filter's and the mapping's three, and the four the writeback writes on Sync Records.
    assert "OK   salesforce fields: the 7 field(s) the role relies on exist" in result.stdout


def test_config_check_connect_names_a_wrong_stripe_key_and_an_unknown_field(
    write_config: Callable[..., Path],
) -> None:
    config = write_config(
        sync={"filters": {"Order": "Status = 'Activated' AND Bogus_Field__c = 'x'"}},
        mappings={"customer": {"custom": {"email": "Account.Owner.Emial"}}},
    )
    wrong_key = "rk_live_notavalidkey1234"
    result = cpqsync("config", "check", str(config), "--connect", key=wrong_key)
    assert result.returncode == 1
    out = result.stdout
    assert "OK   kafka:" in out and "OK   salesforce login:" in out
    (stripe_line,) = [line for line in lines(out) if line.startswith("FAIL stripe")]
    assert "rejected stripe.api_key (HTTP 401" in stripe_line
    (fields_line,) = [line for line in lines(out) if line.startswith("FAIL salesforce fields")]
    assert "sync.filters.Order names Order.Bogus_Field__c: Order has no field Bogus_Field__c" in (
        fields_line
    )
    assert wrong_key not in out + result.stderr


def test_the_sync_refuses_to_start_with_a_wrong_stripe_key(
    write_config: Callable[..., Path], kafka: str
) -> None:
    config = write_config()
    prefix = yaml.safe_load(config.read_text())["kafka"]["topic_prefix"]
    result = cpqsync("sync", "--config", str(config), key="sk_live_wrongwrongwrong1")
    assert result.returncode == 1
    output = lines(result.stderr)
    assert len(output) == 1, output
    (line,) = output
    assert line.startswith("cpqsync sync: stripe: ") and "stripe.api_key" in line
    # It stopped before touching Kafka: it created no topic, joined no group, wrote no result.
    topics = AdminClient({"bootstrap.servers": kafka}).list_topics(timeout=10).topics
    assert not [name for name in topics if name.startswith(prefix)]


def test_a_role_names_kafka_bootstrap_servers_when_no_broker_answers(
    write_config: Callable[..., Path], stripe_emulator: StripeEmulator
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    config = write_config(kafka={"bootstrap_servers": closed})
    commands = (
        ("writeback", "--config", str(config)),
        ("status", "--config", str(config)),
        ("sync-order", "801Dp0000001vkEIAQ", "--config", str(config)),
        ("backfill", "--since", "2026-01-01", "--config", str(config)),
    )
    for command in commands:
        started = time.monotonic()
        result = cpqsync(*command, key=stripe_emulator.api_key, timeout=60)
        took = time.monotonic() - started
        assert result.returncode == 1, command
        output = lines(result.stdout + result.stderr)
        assert len(output) == 1, output  # one line, no librdkafka flood, no traceback
        assert output[0].startswith(f"cpqsync {command[0]}: ")
        assert f"Kafka is unreachable at {closed}" in output[0]
        assert "kafka.bootstrap_servers" in output[0]
        # Not a benchmark: a guard against waiting out every step's own timeout again (24 s and
        # more before); the check gives up after 3 s of refused connections.
        assert took < 25, (command, took)
