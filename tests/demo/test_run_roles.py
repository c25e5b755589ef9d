"""``cpqsync run``: the three roles as children of one supervisor; a killed role comes back.

The roles talk to a real broker, the org simulator and the Stripe emulator, so a restarted
sync consumer is only counted as back once it is ready again (joined the group, assigned).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml

from cpqsync_sandbox.net import free_port_block
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from tests.demo.demo_process import REPO
from tests.demo.processes import alive, descendants, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def org() -> Iterator[OrgSimulator]:
    with OrgSimulator() as sim:
        yield sim


@pytest.fixture
def stripe_emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as emulator:
        yield emulator


def started(log: Path) -> list[tuple[str, int]]:
    return [(m[1], int(m[2])) for m in re.finditer(r"started (\w+) \(pid (\d+)\)", log.read_text())]


def ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def readiness(port: int) -> str:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).text.strip()
    except requests.RequestException as exc:
        return f"no answer ({type(exc).__name__})"


def tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def test_run_restarts_a_killed_role_and_stops_all_of_them_together(
    tmp_path: Path,
    kafka: str,
    org: OrgSimulator,
    stripe_emulator: StripeEmulator,
    unique: Callable[[str], str],
) -> None:
    metrics_port = free_port_block(3)  # bridge, sync, writeback: metrics.port + 0, 1, 2
    config = tmp_path / "cpqsync.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kafka": {
                    "bootstrap_servers": kafka,
                    "topic_prefix": unique("run"),
                    "partitions": 1,
                },
                "salesforce": {
                    "login_url": org.login_url,
                    "auth_flow": "client_credentials",
                    "client_id": org.client_id,
                    "ca_bundle": str(org.ca_cert),
                    "pubsub_target": org.grpc_target,
                },
                "stripe": {"api_base": stripe_emulator.api_base},
                "consumer": {"session_timeout_ms": 6000, "max_poll_interval_ms": 20000},
                "metrics": {"port": metrics_port},
            }
        )
    )
    log = tmp_path / "run.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CPQSYNC_")},
        "PYTHONPATH": str(REPO),
        "CPQSYNC_SALESFORCE__CLIENT_SECRET": org.client_secret,
        "CPQSYNC_STRIPE__API_KEY": stripe_emulator.api_key,
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cpqsync", "run", "--config", str(config)],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_until(lambda: len(started(log)) == 3, 60, "three roles started")
        assert sorted(name for name, _ in started(log)) == ["bridge", "sync", "writeback"]
        sync_port = metrics_port + 1  # role i serves metrics on metrics.port + i
        wait_until(
            lambda: ready(sync_port),
            90,
            "the sync consumer ready",
            lambda: f"/readyz: {readiness(sync_port)}\n{tail(log)}",
        )

        # The latest start of each role: under load a role may already have been restarted once.
        pids = dict(started(log))
        starts = len(started(log))
        os.kill(pids["sync"], signal.SIGKILL)

        wait_until(lambda: len(started(log)) == starts + 1, 30, "the sync role started again")
        assert f"sync (pid {pids['sync']}) exited with code -9" in log.read_text()
        name, new_pid = started(log)[-1]
        assert name == "sync" and new_pid != pids["sync"] and alive(new_pid)
        wait_until(
            lambda: ready(sync_port),
            90,
            "the restarted sync consumer ready",
            lambda: f"/readyz: {readiness(sync_port)}\n{tail(log)}",
        )
        # The other roles were left alone.
        assert alive(pids["bridge"]) and alive(pids["writeback"])
        tree = descendants(process.pid)
        assert {pids["bridge"], pids["writeback"], new_pid} <= tree

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    assert [pid for pid in tree if alive(pid)] == []
    text = log.read_text()
    for role in ("bridge", "writeback"):
        assert f"{role} (pid {pids[role]}) stopped with code 0" in text
    assert f"sync (pid {new_pid}) stopped with code 0" in text
