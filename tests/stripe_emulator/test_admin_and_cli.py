"""The admin endpoints and ``cpqsync sandbox stripe``, for emulators in another process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import stripe

from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.stripe_emulator.conftest import make_client

REPO = Path(__file__).resolve().parents[2]


def admin(emu: StripeEmulator, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, f"{emu.api_base}/_emulator{path}", json=body, timeout=5)


def test_request_log_objects_and_reset(
    emulator: StripeEmulator, client: stripe.StripeClient
) -> None:
    client.v1.customers.create(params={"email": "x@y.test"}, options={"idempotency_key": "c1"})
    log = admin(emulator, "GET", "/requests").json()["data"]
    assert len(log) == 1
    entry = log[0]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/v1/customers", 200)
    assert entry["params"] == {"email": "x@y.test"} and entry["idempotency_key"] == "c1"
    objects = admin(emulator, "GET", "/objects/customer").json()["data"]
    assert [o["email"] for o in objects] == ["x@y.test"]
    assert admin(emulator, "GET", "/objects/nonsense").status_code == 404
    assert admin(emulator, "POST", "/reset").ok
    assert emulator.objects("customer") == [] and emulator.request_log() == []


def test_faults_and_limits_through_admin(
    emulator: StripeEmulator, client: stripe.StripeClient
) -> None:
    configured = admin(emulator, "POST", "/faults", {"faults": [{"kind": "error", "nth": 1}]})
    assert configured.json()["faults"][0]["kind"] == "error"
    with pytest.raises(stripe.APIError):
        client.v1.customers.list()
    assert admin(emulator, "GET", "/config").json()["faults"][0]["fired"] == 1
    assert admin(emulator, "DELETE", "/faults").json()["faults"] == []
    refused = admin(emulator, "POST", "/faults", {"faults": [{"kind": "explode", "nth": 1}]})
    assert refused.status_code == 400
    assert admin(emulator, "POST", "/faults", {"faults": [{"kind": "drop"}]}).status_code == 400
    admin(emulator, "POST", "/rate_limit", {"per_second": 1})
    client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    admin(emulator, "POST", "/rate_limit", {"per_second": None})
    admin(emulator, "POST", "/latency", {"distribution": "fixed", "fixed_ms": 5})
    admin(emulator, "POST", "/idempotency", {"retention_seconds": 60})
    config = admin(emulator, "GET", "/config").json()
    assert config["latency"]["fixed_ms"] == 5 and config["idempotency_retention_seconds"] == 60
    assert config["rate_limit_per_second"] is None


def test_cli_prints_a_ready_line_and_serves_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cpqsync", "sandbox", "stripe", "--port", "0", "--rate-limit", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready["api_base"].startswith("http://127.0.0.1:")
        assert ready["api_key"].startswith("sk_test_")
        client = stripe.StripeClient(
            api_key=ready["api_key"], base_addresses={"api": ready["api_base"]}
        )
        assert client.v1.customers.create(params={"name": "CLI"}).name == "CLI"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_two_emulators_do_not_share_state() -> None:
    with StripeEmulator() as first, StripeEmulator() as second:
        make_client(first).v1.customers.create(params={})
        assert second.objects("customer") == []
        assert first.port != second.port
