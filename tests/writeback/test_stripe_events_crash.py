"""`cpqsync stripe-events` as its own process, killed with SIGKILL mid-stream: after a restart,
catch-up puts every event Stripe recorded meanwhile on the topic (at least once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import stripe
import yaml

from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync_sandbox.net import free_port
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.codec import Codec
from schemas.models import StripeEvent
from tests.bridge.kafka_read import read_topic
from tests.writeback.reverse_sync_support import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emu:
        yield emu


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_killed_source_catches_up_everything_after_restart(
    emulator: StripeEmulator, kafka: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    client = stripe.StripeClient(emulator.api_key, base_addresses={"api": emulator.api_base})
    webhook_port, metrics_port = free_port(), free_port()
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": f"http://127.0.0.1:{webhook_port}/stripe/webhooks", "enabled_events": ["*"]}
    )
    assert endpoint.secret is not None
    prefix = unique("crash")
    ensure_topics(kafka, Topics(prefix).all_topics(), partitions=1)
    config = tmp_path / "cpqsync.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kafka": {"bootstrap_servers": kafka, "topic_prefix": prefix, "partitions": 1},
                "stripe": {"api_base": emulator.api_base},
                "stripe_events": {
                    "enabled": True,
                    "port": webhook_port,
                    "catch_up_interval_s": 1.0,
                },
                "bridge": {"checkpoint_interval_s": 0.2},
                "metrics": {"port": metrics_port},
            }
        )
    )
    env: dict[str, Any] = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CPQSYNC_")},
        "PYTHONPATH": str(ROOT),
        "CPQSYNC_STRIPE__API_KEY": emulator.api_key,
        "CPQSYNC_STRIPE_EVENTS__ENDPOINT_SECRET": endpoint.secret,
    }

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "cpqsync", "stripe-events", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=(tmp_path / "source.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: _ready(metrics_port), 60, "the stripe-events role ready")
        return process

    topic = Topics(prefix).stripe_events
    codec = Codec()

    def on_topic() -> list[str]:
        return [
            codec.decode_as(r.value, topic, StripeEvent).event_id for r in read_topic(kafka, topic)
        ]

    process = start()
    try:
        for n in range(5):
            client.v1.customers.create(params={"name": f"before {n}"})
        wait_for(lambda: len(on_topic()) >= 5, 30, "webhooks before the crash")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        for n in range(5):
            client.v1.customers.create(params={"name": f"while down {n}"})
        recorded = {e["id"] for e in emulator.events()}
        process = start()
        wait_for(lambda: recorded <= set(on_topic()), 60, "catch-up of everything recorded")
        ids = on_topic()
        # At least once: a kill between checkpoint writes may produce a few events again.
        assert len(ids) - len(set(ids)) <= 5
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    log = (tmp_path / "source.log").read_text()
    assert endpoint.secret not in log and emulator.api_key not in log
