"""Every Prometheus series name cpqsync's code can export, found by importing its metric modules.

The Grafana dashboard must only query series that exist; a renamed metric would
otherwise leave a silently empty panel. Modules are found by their source (they
import ``prometheus_client`` and name a ``cpqsync_*`` metric), so a role's new
metrics module is picked up without being listed here. Metrics are either
module-level collectors or made by a class whose only argument is the registry
(so ``cpqsync run`` can host several roles); such classes are instantiated on a
throwaway registry, which leaves the process's own metrics untouched.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

PACKAGES = ("cpqsync", "consumer", "producer_bridge")
_DEFINES_METRIC = re.compile(r"[\"']cpqsync_\w+[\"']")

# The series prometheus_client's text exposition writes for each metric type.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


def metric_modules(root: Path) -> list[str]:
    """Dotted names of the modules under ``root`` that define ``cpqsync_*`` metrics."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if "prometheus_client" in text and _DEFINES_METRIC.search(text):
                found.append(".".join(path.relative_to(root).with_suffix("").parts))
    return found


def exported_series(root: Path) -> dict[str, str]:
    """Series name → the module defining it, for every metric module under ``root``."""
    series: dict[str, str] = {}
    for module_name in metric_modules(root):
        for collector in _collectors(module_name):
            for name in series_names(collector):
                series[name] = module_name
    return series


def series_names(collector: Collector) -> Iterator[str]:
    describe = getattr(collector, "describe", None)
    families = describe() if describe is not None else collector.collect()
    for family in families:
        for suffix in _SUFFIXES.get(family.type, ("",)):
            yield family.name + suffix


def _collectors(module_name: str) -> Iterable[Collector]:
    module = importlib.import_module(module_name)
    for value in vars(module).values():
        if isinstance(value, MetricWrapperBase):
            yield value
        elif _is_registry_factory(value, module_name):
            registry = CollectorRegistry()
            value(registry)
            yield registry  # a registry is a collector of everything registered in it


def _is_registry_factory(value: object, module_name: str) -> bool:
    if not inspect.isclass(value) or value.__module__ != module_name:
        return False
    parameters = list(inspect.signature(value).parameters)
    return parameters == ["registry"]
