"""docker-compose.yml is a deployment one can start: the checks `docker compose config` makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

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
    published = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
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


def test_prometheus_scrapes_every_role() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    assert {"bridge:9108", "sync:9108", "writeback:9108"} <= targets


def test_the_stripe_event_source_is_an_opt_in_profile() -> None:
    service = _compose()["services"]["stripe-events"]
    assert service["command"] == ["stripe-events"] and service["profiles"] == ["billing"]
    assert service["environment"]["CPQSYNC_STRIPE_EVENTS__HOST"] == "0.0.0.0"
    assert service["environment"]["CPQSYNC_STRIPE_EVENTS__ENDPOINT_SECRET"].startswith("${")
