"""The Grafana dashboard queries only series the code exports, and covers what operators watch."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from consumer.engine.metrics import EngineMetrics
from cpqsync.app.ops.metric_names import exported_series, metric_modules

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "cpqsync.json"


def _queried_metrics(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def _panels() -> list[dict[str, Any]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [p for p in panels if p["type"] != "row"]


def _unknown(series: dict[str, str]) -> dict[str, set[str]]:
    unknown = {}
    for panel in _panels():
        for target in panel["targets"]:
            missing = _queried_metrics(target["expr"]) - set(series)
            if missing:
                unknown[f"{panel['title']} / {target['refId']}"] = missing
    return unknown


@pytest.fixture(scope="module")
def series() -> dict[str, str]:
    return exported_series(ROOT)


def test_every_panel_queries_only_exported_series(series: dict[str, str]) -> None:
    assert _unknown(series) == {}


def test_the_check_catches_a_series_nobody_exports(series: dict[str, str]) -> None:
    without_checkpoints = {
        name: module for name, module in series.items() if "checkpoint_lag" not in name
    }
    assert "Bridge checkpoint age / A" in _unknown(without_checkpoints)


def test_every_panel_has_a_query_and_a_description() -> None:
    for panel in _panels():
        assert panel["targets"], panel["title"]
        assert panel["description"], panel["title"]


@pytest.mark.parametrize(
    "needed",
    [
        "cpqsync_sync_results_total",  # sync throughput and outcomes
        "cpqsync_sync_end_to_end_seconds_bucket",  # end-to-end latency percentiles
        "cpqsync_engine_pacer_rate_per_second",  # Stripe request rate vs limit
        "cpqsync_engine_pacer_rate_limited_total",  # 429s
        "cpqsync_engine_consumer_lag_messages",  # consumer lag
        "cpqsync_bridge_checkpoint_lag_seconds",  # bridge checkpoint age
        "cpqsync_engine_dead_letters_total",  # dead letters
        "cpqsync_dependency_up",  # outages
        "cpqsync_dependency_requests_total",  # requests to Stripe and Salesforce by outcome
    ],
)
def test_the_dashboard_covers(needed: str) -> None:
    queried = {
        name
        for panel in _panels()
        for target in panel["targets"]
        for name in _queried_metrics(target["expr"])
    }
    assert needed in queried


def test_metric_modules_are_found_by_their_source() -> None:
    modules = metric_modules(ROOT)
    assert {"consumer.engine.metrics", "producer_bridge.metrics"} <= set(modules)


def test_series_names_match_what_prometheus_client_exposes(series: dict[str, str]) -> None:
    """The suffix rules agree with a real exposition of the engine's metrics."""
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    for metric in vars(metrics).values():
        assert isinstance(metric, MetricWrapperBase)
        child = metric.labels(*["x"] * len(metric._labelnames))
        if hasattr(child, "observe"):
            child.observe(1.0)
        elif hasattr(child, "inc"):
            child.inc()
    exposed = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    engine_series = {name for name, module in series.items() if module == "consumer.engine.metrics"}
    assert exposed == engine_series


PROMTOOL = shutil.which("promtool")
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus.yml"
OPERATIONS = ROOT / "docs" / "operations.md"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")
def test_alert_rules_and_scrape_config_pass_promtool() -> None:
    assert PROMTOOL is not None
    rules = subprocess.run(
        [PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 8 rules found" in rules.stdout
    config = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert config.returncode == 0, config.stdout + config.stderr


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_alert_names_a_runbook_section_that_exists() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    anchors = {
        _anchor(line.lstrip("#"))
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    for rule in (rule for group in groups for rule in group["rules"]):
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/operations.md#"), rule["alert"]
        assert runbook.split("#", 1)[1] in anchors, f"{rule['alert']}: no section {runbook}"


def test_alert_expressions_query_only_exported_series(series: dict[str, str]) -> None:
    allowed = set(series) | {"up"}  # `up` is Prometheus's own
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        assert _queried_metrics(rule["expr"]) <= allowed, rule["alert"]
