"""The Kubernetes manifests (deploy/kubernetes): every overlay renders with ``kubectl kustomize``,
every object validates offline and strictly against Kubernetes' schemas (kubernetes-validate;
the two custom resources against schemas of our own, ``crd_schemas.py``), and what the pods
are told to do matches what cpqsync does: the config in the ConfigMap passes ``config check``
with the environment the pod gets, no secret sits in a ConfigMap, probes hit paths the roles
serve on the port they listen on, the grace period outlasts the shutdown deadline, and the
sync autoscaler stops at the partition count.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, SecretStr
from typer.testing import CliRunner

from consumer.sync.service import DEFAULT_GROUP, roots_group
from cpqsync.app.cli.app import app
from cpqsync.app.config_check import problems
from cpqsync.app.preflight.checks import ROLE_CHECKS, STRIPE
from cpqsync.observability.http_server import MetricsServer
from cpqsync.settings import Settings
from tests.deploy.crd_schemas import CUSTOM_SCHEMAS

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUBERNETES / "overlays").iterdir() if p.is_dir())
# The oldest Kubernetes minor release still maintained upstream when the manifests were written.
KUBERNETES_VERSION = "1.32.0"
ROLES = ("bridge", "sync", "writeback")
CONFIG_FILE = "cpqsync.yaml"
# The bridge waits this long for Kafka to acknowledge what it published before it checkpoints.
BRIDGE_SETTLE_S = 30.0

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is absent")
pytestmark = needs_kubectl


@cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(overlay: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in rendered(overlay) if o["kind"] == kind]


def named(overlay: str, kind: str, name: str) -> dict[str, Any]:
    found = [o for o in of_kind(overlay, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"{overlay}: expected one {kind} {name}, found {len(found)}"
    return found[0]


def deployment(overlay: str, role: str) -> dict[str, Any]:
    return named(overlay, "Deployment", f"cpqsync-{role}")


def container(overlay: str, role: str) -> dict[str, Any]:
    containers = deployment(overlay, role)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def config_map(overlay: str, prefix: str) -> dict[str, Any]:
    """A generated ConfigMap by the name it was generated under (rendered with a hash)."""
    found = [c for c in of_kind(overlay, "ConfigMap") if c["metadata"]["name"].startswith(prefix)]
    assert len(found) == 1, f"{overlay}: expected one ConfigMap {prefix}-*"
    return found[0]


def secret_env_vars() -> set[str]:
    """The CPQSYNC_* variable of every secret setting, from the settings model itself."""
    names = set()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, setting in model.model_fields.items():
            if SecretStr in (setting.annotation, *getattr(setting.annotation, "__args__", ())):
                names.add(f"CPQSYNC_{section.upper()}__{name.upper()}")
    return names


def pod_environment(overlay: str, role: str) -> dict[str, str]:
    """The role's environment as the pod would see it; secrets are stand-in values."""
    environment: dict[str, str] = {}
    for variable in container(overlay, role).get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
            continue
        source = variable["valueFrom"]
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            environment[variable["name"]] = config_map(overlay, ref["name"])["data"][ref["key"]]
        elif "secretKeyRef" in source:
            environment[variable["name"]] = f"sk_test_stand_in_for_{source['secretKeyRef']['key']}"
    return environment


@pytest.fixture
def pod_settings(
    overlay: str, role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    yield load_pod_settings(overlay, role, tmp_path, monkeypatch)


@cache
def stand_in_private_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def mount_secrets(overlay: str, role: str, root: Path, config_text: str) -> str:
    """What the kubelet does: each item of a mounted Secret becomes a file under its mount
    path (here below ``root``, with stand-in contents); the config's paths follow them."""
    spec = container(overlay, role)
    pod = deployment(overlay, role)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in spec["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        directory = root / mount["mountPath"].lstrip("/")
        directory.mkdir(parents=True, exist_ok=True)
        for item in secret["items"]:
            (directory / item["path"]).write_bytes(stand_in_private_key())
        config_text = config_text.replace(mount["mountPath"], str(directory))
    return config_text


def load_pod_settings(
    overlay: str, role: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The role's settings, loaded from the ConfigMap's file with the pod's environment and
    mounted Secrets, the way ``cpqsync config check`` loads them; failing with its messages
    if it finds problems that concern the role (the bridge, which never calls Stripe and whose
    start-up checks leave Stripe out, gets no Stripe key)."""
    for name in list(os.environ):
        if name.startswith("CPQSYNC_"):
            monkeypatch.delenv(name)
    for name, value in pod_environment(overlay, role).items():
        monkeypatch.setenv(name, value)
    path = tmp_path / CONFIG_FILE
    text = config_map(overlay, "cpqsync-config")["data"][CONFIG_FILE]
    path.write_text(mount_secrets(overlay, role, tmp_path / "pod", text))
    settings, found = problems(path)
    if STRIPE not in ROLE_CHECKS[role]:
        found = [problem for problem in found if not problem.startswith("stripe.")]
    assert not found, f"{overlay}/{role}: config check finds {found}"
    assert settings is not None
    return settings


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "overlay" in metafunc.fixturenames:
        metafunc.parametrize("overlay", OVERLAYS)
    if "role" in metafunc.fixturenames:
        metafunc.parametrize("role", ROLES)


def test_there_is_a_production_and_a_sandbox_overlay() -> None:
    assert {"production", "sandbox"} <= set(OVERLAYS)


def test_every_object_validates_strictly_offline(overlay: str) -> None:
    kinds = set()
    for manifest in rendered(overlay):
        kinds.add(manifest["kind"])
        schema = CUSTOM_SCHEMAS.get((manifest["apiVersion"], manifest["kind"]))
        if schema is not None:
            jsonschema.validate(manifest, schema)
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            name = f"{manifest['kind']} {manifest['metadata']['name']}"
            pytest.fail(f"{overlay}: {name}: {exc.message}")
    expected = {"Deployment", "ConfigMap", "PodDisruptionBudget", "Service", "ScaledObject"}
    assert expected | {"ServiceMonitor", "ServiceAccount"} <= kinds


def test_our_custom_resource_schemas_refuse_what_the_crds_refuse(overlay: str) -> None:
    scaled = named(overlay, "ScaledObject", "cpqsync-sync")
    misspelt = {**scaled, "spec": {**scaled["spec"], "maxReplicas": 3}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(misspelt, CUSTOM_SCHEMAS[("keda.sh/v1alpha1", "ScaledObject")])
    monitor = named(overlay, "ServiceMonitor", "cpqsync")
    endpoint = {**monitor["spec"]["endpoints"][0], "interval": "15 seconds"}
    bad = {**monitor, "spec": {**monitor["spec"], "endpoints": [endpoint]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, CUSTOM_SCHEMAS[("monitoring.coreos.com/v1", "ServiceMonitor")])


def test_each_role_runs_its_command_with_the_mounted_config(overlay: str, role: str) -> None:
    spec = container(overlay, role)
    command, *options = spec["args"]
    assert command == role
    config = PurePosixPath(options[options.index("--config") + 1])
    mounts = {m["name"]: m["mountPath"] for m in spec["volumeMounts"]}
    volumes = deployment(overlay, role)["spec"]["template"]["spec"]["volumes"]
    config_volume = next(v for v in volumes if "configMap" in v)
    assert (
        config_volume["configMap"]["name"]
        == config_map(overlay, "cpqsync-config")["metadata"]["name"]
    )
    assert config == PurePosixPath(mounts[config_volume["name"]]) / CONFIG_FILE
    # The CLI knows the command and its --config option.
    result = CliRunner().invoke(app, [role, "--help"])
    assert result.exit_code == 0, result.output
    assert "--config" in result.output


def test_the_config_map_passes_config_check_in_the_pods_environment(
    pod_settings: Settings, overlay: str, role: str
) -> None:
    assert pod_settings.kafka.bootstrap_servers, "the pod is told where Kafka is"
    assert pod_settings.stripe.api_key is not None or role == "bridge"


def test_no_secret_value_sits_in_a_config_map(overlay: str) -> None:
    leaks = ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_", "-----BEGIN")
    for config in of_kind(overlay, "ConfigMap"):
        for key, value in config.get("data", {}).items():
            for marker in leaks:
                assert marker not in value, f"{config['metadata']['name']}/{key} holds {marker}"
    settings_file = yaml.safe_load(config_map(overlay, "cpqsync-config")["data"][CONFIG_FILE])
    for variable in secret_env_vars():
        section, name = variable.removeprefix("CPQSYNC_").lower().split("__")
        assert name not in settings_file.get(section, {}), f"{section}.{name} is in the ConfigMap"


def test_secret_settings_reach_the_pods_only_from_secrets(overlay: str, role: str) -> None:
    secret_names = secret_env_vars()
    assert {"CPQSYNC_STRIPE__API_KEY", "CPQSYNC_SALESFORCE__CLIENT_SECRET"} <= secret_names
    for variable in container(overlay, role).get("env", []):
        if variable["name"] in secret_names:
            assert "value" not in variable, f"{variable['name']} written into the manifest"
            assert "secretKeyRef" in variable["valueFrom"], f"{variable['name']} not from a Secret"
    assert not any(
        v["name"] == "CPQSYNC_STRIPE__API_KEY" for v in container(overlay, "bridge").get("env", [])
    ), "the bridge never calls Stripe: it gets no key"


def test_the_salesforce_key_file_is_mounted_from_a_secret(overlay: str, role: str) -> None:
    settings_file = yaml.safe_load(config_map(overlay, "cpqsync-config")["data"][CONFIG_FILE])
    key_file = settings_file["salesforce"]["private_key_file"]
    pod = deployment(overlay, role)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container(overlay, role)["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        paths = {PurePosixPath(mount["mountPath"]) / item["path"] for item in secret["items"]}
        if PurePosixPath(key_file) in paths:
            assert mount.get("readOnly") is True
            return
    pytest.fail(f"{key_file} is not a file of a mounted Secret")


def test_probes_hit_paths_the_role_serves_on_its_metrics_port(
    pod_settings: Settings, overlay: str, role: str
) -> None:
    spec = container(overlay, role)
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports["metrics"] == pod_settings.metrics.port
    assert pod_settings.metrics.host == "0.0.0.0", "the kubelet probes the pod's address"
    probes = {
        kind: spec[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    annotations = deployment(overlay, role)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == pod_settings.metrics.port
    # The role's own HTTP endpoint answers those paths (not ready yet: nothing joined).
    with MetricsServer("127.0.0.1", 0) as server:
        server.add_readiness_check(role, lambda: False)
        answers = {
            kind: requests.get(f"{server.url}{probe['path']}", timeout=5).status_code
            for kind, probe in probes.items()
        }
        scraped = requests.get(f"{server.url}{annotations['prometheus.io/path']}", timeout=5)
    for kind, probe in probes.items():
        assert probe["port"] == "metrics"
    assert answers == {"startupProbe": 200, "livenessProbe": 200, "readinessProbe": 503}
    assert scraped.status_code == 200 and "# HELP" in scraped.text


def test_pods_outlast_the_shutdown_deadline_and_have_bounded_resources(
    pod_settings: Settings, overlay: str, role: str
) -> None:
    pod = deployment(overlay, role)["spec"]["template"]["spec"]
    deadline = BRIDGE_SETTLE_S if role == "bridge" else pod_settings.consumer.shutdown_deadline_s
    assert pod["terminationGracePeriodSeconds"] > deadline + 5
    resources = container(overlay, role)["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) <= set(resources["limits"])


def test_two_bridges_stream_only_with_leader_election(
    overlay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two streaming bridges would publish every event twice: more than one replica, or a
    rolling update (which runs old and new side by side), needs the lease."""
    settings = load_pod_settings(overlay, "bridge", tmp_path, monkeypatch)
    spec = deployment(overlay, "bridge")["spec"]
    if spec["replicas"] > 1 or spec["strategy"]["type"] != "Recreate":
        assert settings.bridge.leader_election, f"{overlay}: bridges without a lease"
    assert spec["replicas"] == 2, "a standby beside the streaming replica"


def test_every_role_has_a_disruption_budget_that_selects_it(overlay: str, role: str) -> None:
    labels = deployment(overlay, role)["spec"]["template"]["metadata"]["labels"]
    budgets = [
        b
        for b in of_kind(overlay, "PodDisruptionBudget")
        if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert len(budgets) == 1
    assert budgets[0]["spec"]["maxUnavailable"] == 1


def test_the_sync_scales_on_its_groups_lag_up_to_the_partition_count(overlay: str) -> None:
    scaled = named(overlay, "ScaledObject", "cpqsync-sync")
    settings_file = yaml.safe_load(config_map(overlay, "cpqsync-config")["data"][CONFIG_FILE])
    partitions = Settings.model_validate({"kafka": settings_file["kafka"]}).kafka.partitions
    assert scaled["spec"]["maxReplicaCount"] == partitions
    assert (
        scaled["spec"]["scaleTargetRef"]["name"] == deployment(overlay, "sync")["metadata"]["name"]
    )
    triggers = scaled["spec"]["triggers"]
    assert "--group" not in container(overlay, "sync")["args"]
    # Both stages' groups: the trigger stage's and the root stage's, which calls Stripe.
    groups = {t["metadata"]["consumerGroup"] for t in triggers}
    assert groups == {DEFAULT_GROUP, roots_group(DEFAULT_GROUP)}
    kafka = config_map(overlay, "cpqsync-kafka")["data"]["bootstrap-servers"]
    for trigger in triggers:
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["bootstrapServers"] == kafka


def test_the_service_monitor_scrapes_every_role(overlay: str) -> None:
    monitor = named(overlay, "ServiceMonitor", "cpqsync")
    (service,) = [
        s
        for s in of_kind(overlay, "Service")
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert service["spec"]["clusterIP"] == "None", "each pod is its own target"
    port_names = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    for role in ROLES:
        labels = deployment(overlay, role)["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
