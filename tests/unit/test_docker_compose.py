"""docker-compose.yml is a deployment one can start: the checks `docker compose config` makes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cpqsync.observability.http_server import MetricsServer
from cpqsync.settings import ConsumerSettings

ROOT = Path(__file__).parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_services_images_and_ports() -> None:
    services = _compose()["services"]
    assert {
        "kafka",
        "schema-registry",
        "prometheus",
        "grafana",
        "bridge",
        "sync",
        "writeback",
    } <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for role in ("bridge", "sync", "writeback"):
        service = services[role]
        assert service["command"] == [role]
        assert service["build"] == "."
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["environment"]["CPQSYNC_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    # host address:host port:container port
    published = [p.rsplit(":", 1)[0] for s in services.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published)), "two services publish the same host port"


def test_every_dependency_and_mounted_file_exists() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dep in service.get("depends_on", []):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    assert (ROOT / "Dockerfile").exists()


ROLES = ("bridge", "sync", "writeback")


def _prometheus() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    return loaded


def test_prometheus_finds_every_replica_of_every_role_by_dns() -> None:
    (job,) = _prometheus()["scrape_configs"]
    (discovery,) = job["dns_sd_configs"]
    assert set(discovery["names"]) == set(ROLES)
    assert discovery["type"] == "A" and discovery["port"] == 9108
    assert "static_configs" not in job  # a static target would name one replica only


def test_sync_can_scale_no_role_publishes_a_host_port_or_names_its_container() -> None:
    services = _compose()["services"]
    for role in ROLES:
        assert "ports" not in services[role], role
        assert "container_name" not in services[role], role


def test_published_ports_bind_to_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all addresses"


def test_every_service_restarts_unless_stopped() -> None:
    for name, service in _compose()["services"].items():
        assert service.get("restart") == "unless-stopped", name


def test_roles_outlive_their_shutdown_deadline_before_sigkill() -> None:
    deadline = ConsumerSettings().shutdown_deadline_s
    for role in ROLES:
        grace = _compose_seconds(_compose()["services"][role]["stop_grace_period"])
        assert grace > deadline, role


def _compose_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", text)
    assert match, text
    return float(match[1]) * (60 if match[2] == "m" else 1)


def test_kafka_keeps_its_log_on_the_volume() -> None:
    kafka = _compose()["services"]["kafka"]
    log_dir = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert f"kafka-data:{log_dir}" in kafka["volumes"]


def test_the_jwt_key_is_a_secret_where_the_shipped_config_looks_for_it() -> None:
    compose = _compose()
    config = yaml.safe_load((ROOT / "config" / "cpqsync.yaml").read_text())
    for role in ROLES:
        (secret,) = compose["services"][role]["secrets"]
        assert secret["source"] in compose["secrets"]
        assert f"/run/secrets/{secret['target']}" == config["salesforce"]["private_key_file"]


def test_secrets_from_the_environment_refuse_unset_or_empty_values() -> None:
    for role in ROLES:
        environment = _compose()["services"][role]["environment"]
        secrets = {k: v for k, v in environment.items() if re.search("KEY|SECRET|PASSWORD", k)}
        assert secrets, role
        for name, value in secrets.items():
            assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), f"{role} {name}: {value}"


@pytest.mark.parametrize("ready", [True, False])
def test_the_role_healthcheck_asks_readyz_without_curl(ready: bool) -> None:
    test = _compose()["services"]["sync"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"] and "curl" not in " ".join(test)
    with MetricsServer("127.0.0.1", 0) as server:
        server.add_readiness_check("sync", lambda: ready)
        script = test[3].replace("127.0.0.1:9108", f"127.0.0.1:{server.port}")
        assert script != test[3]
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert (result.returncode == 0) is ready


def test_the_stripe_event_source_is_an_opt_in_profile() -> None:
    service = _compose()["services"]["stripe-events"]
    assert service["command"] == ["stripe-events"] and service["profiles"] == ["billing"]
    assert service["environment"]["CPQSYNC_STRIPE_EVENTS__HOST"] == "0.0.0.0"
    assert service["environment"]["CPQSYNC_STRIPE_EVENTS__ENDPOINT_SECRET"].startswith("${")
