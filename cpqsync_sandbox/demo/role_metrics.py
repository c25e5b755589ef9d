"""Consumer lag as the roles themselves report it on ``/metrics``.

Each consumer exports ``cpqsync_engine_consumer_lag_messages`` from librdkafka's
statistics (refreshed every few seconds); scraping it costs the broker nothing,
unlike listing the group's offsets from outside.
"""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

LAG_METRIC = "cpqsync_engine_consumer_lag_messages"


def consumer_lag(metrics_url: str, timeout_s: float = 2.0) -> int | None:
    """Total lag over the role's assigned partitions; None when unknown (not reported yet)."""
    try:
        response = requests.get(f"{metrics_url}/metrics", timeout=timeout_s)
        response.raise_for_status()
    except requests.RequestException:
        return None
    samples = [
        sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == LAG_METRIC
        for sample in family.samples
    ]
    return int(sum(samples)) if samples else None
