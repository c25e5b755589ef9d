"""Every dashboard expression returns data against a real Prometheus scraping a live stack,
and the shipped alert rules load and evaluate there (issue 18).

The stack is ``cpqsync run`` (bridge, sync, writeback, stripe-events as processes) on the org
simulator, the Stripe emulator and the test broker; a few good and a few bad orders are activated so
results, errors, latencies and writeback calls exist. Skipped only where the ``prometheus``
binary (Debian package ``prometheus``) is absent; .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
import yaml

from cpqsync_sandbox.datasets import default_dataset
from cpqsync_sandbox.net import free_port, free_port_block
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.demo.processes import wait_until
from tests.sync.stack import BAD_ORDERS, GOOD_ORDERS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "cpqsync.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = shutil.which("prometheus")


def dashboard_queries() -> dict[str, str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {
        f"{panel['title']} / {target['refId']}": target["expr"]
        for panel in panels
        if panel["type"] != "row"
        for target in panel["targets"]
    }


def ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def stack(
    tmp_path: Path, kafka: str, unique: Callable[[str], str]
) -> Iterator[tuple[int, OrgSimulator]]:
    """``cpqsync run`` with its four roles ready (the Stripe event source enabled, its webhook
    endpoint registered on the emulator); yields (first metrics port, org)."""
    with OrgSimulator(dataset=default_dataset()) as org, StripeEmulator() as emulator:
        port = free_port_block(4)  # four roles: metrics.port + 0 … 3
        webhook_port = free_port()
        endpoint = stripe.StripeClient(
            emulator.api_key, base_addresses={"api": emulator.api_base}
        ).v1.webhook_endpoints.create(
            params={
                "url": f"http://127.0.0.1:{webhook_port}/stripe/webhooks",
                "enabled_events": ["*"],
            }
        )
        assert endpoint.secret is not None
        config = tmp_path / "cpqsync.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "kafka": {
                        "bootstrap_servers": kafka,
                        "topic_prefix": unique("dash"),
                        "partitions": 1,
                    },
                    "salesforce": {
                        "login_url": org.login_url,
                        "auth_flow": "client_credentials",
                        "client_id": org.client_id,
                        "ca_bundle": str(org.ca_cert),
                        "pubsub_target": org.grpc_target,
                    },
                    "stripe": {"api_base": emulator.api_base},
                    "consumer": {"session_timeout_ms": 6000, "max_poll_interval_ms": 20000},
                    "metrics": {"port": port},
                    "stripe_events": {"enabled": True, "port": webhook_port},
                }
            )
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CPQSYNC_")},
            "PYTHONPATH": str(ROOT),
            "CPQSYNC_SALESFORCE__CLIENT_SECRET": org.client_secret,
            "CPQSYNC_STRIPE__API_KEY": emulator.api_key,
            "CPQSYNC_STRIPE_EVENTS__ENDPOINT_SECRET": endpoint.secret,
        }
        log = (tmp_path / "run.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "cpqsync", "run", "--config", str(config)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            for role_port in (port, port + 1, port + 2, port + 3):
                wait_until(lambda p=role_port: ready(p), 120, f"role on :{role_port} ready")
            yield port, org
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
            log.close()


@pytest.fixture
def prometheus(tmp_path: Path, stack: tuple[int, OrgSimulator]) -> Iterator[str]:
    assert PROMETHEUS is not None
    first, _ = stack
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(ALERTS)],
                "scrape_configs": [
                    {
                        "job_name": "cpqsync",
                        "static_configs": [
                            {"targets": [f"127.0.0.1:{first + i}" for i in range(4)]}
                        ],
                    }
                ],
            }
        )
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _get(f"{url}/-/ready") == 200, 60, "Prometheus ready")
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _get(url: str) -> int:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return 0


def query(url: str, expr: str) -> list[dict[str, Any]]:
    body = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed (Debian: prometheus)")
def test_every_dashboard_expression_returns_data_and_every_alert_rule_evaluates(
    stack: tuple[int, OrgSimulator], prometheus: str
) -> None:
    _, org = stack
    for ref in (*GOOD_ORDERS, *BAD_ORDERS):
        org.activate_order(org.dataset.id(ref))
    queries = dashboard_queries()
    empty: list[str] = list(queries)
    deadline = time.monotonic() + 240
    while empty and time.monotonic() < deadline:
        empty = [name for name in empty if not query(prometheus, queries[name])]
        if empty:
            time.sleep(2)
    assert empty == [], "panels without data on a live stack"
    # Before any event, the counters that alerts and rare-event panels use already exist at 0.
    assert query(prometheus, 'cpqsync_engine_dead_letters_total{reason="undecodable"}')
    assert query(prometheus, "cpqsync_bridge_decode_errors_total")
    rules = requests.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    evaluated = {rule["name"]: rule["health"] for group in rules for rule in group["rules"]}
    assert len(evaluated) == 8
    wait_until(
        lambda: all(
            rule["health"] == "ok"
            for group in requests.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"][
                "groups"
            ]
            for rule in group["rules"]
        ),
        30,
        "every alert rule evaluated without error",
    )
