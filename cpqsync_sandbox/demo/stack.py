"""The demo's local stack: Kafka, the org simulator, the Stripe emulator and the four roles.

Every part runs as its own process in its own process group, started from the
main thread and tied to it by PR_SET_PDEATHSIG, so Ctrl-C reaches only the demo,
which then stops the roles first (they finish their in-flight work and commit)
and the stand-ins after them. Each role serves ``/metrics`` on its own port.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import stripe

from cpqsync.app.supervision.child_process import ChildProcess, cpqsync_argv, wait_until_exited
from cpqsync.app.supervision.role_supervisor import ROLES
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync_sandbox.broker import EmbeddedBroker
from cpqsync_sandbox.demo.ready_line import ChildStartError, wait_for_ready_line
from cpqsync_sandbox.demo.role_config import (
    DEMO_PARTITIONS,
    OrgEndpoint,
    StripeEndpoint,
    child_env,
    role_settings,
    secret_env,
    write_role_config,
)
from cpqsync_sandbox.net import free_port

# Stripe test mode: ~150 ms a request and 25 requests/s per key.
STRIPE_LATENCY_MS = 150
STRIPE_RATE_LIMIT = 25


class RoleExitedError(RuntimeError):
    """A role stopped while the demo needed it; the message holds the end of its log."""


@dataclass(frozen=True)
class StackOptions:
    workdir: Path
    orders: int = 0
    dataset: Path | None = None
    start_timeout_s: float = 90.0
    stop_grace_s: float = 12.0


@dataclass(frozen=True)
class RoleProcess:
    name: str
    child: ChildProcess
    metrics_url: str


class DemoStack:
    """Start with :meth:`start`, always :meth:`stop` (idempotent)."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.logs_dir = options.workdir / "logs"
        self.config_path = options.workdir / "cpqsync.yaml"
        self.broker: EmbeddedBroker | None = None
        self.org: OrgEndpoint | None = None
        self.stripe: StripeEndpoint | None = None
        self.roles: list[RoleProcess] = []
        self._stand_ins: list[ChildProcess] = []

    @property
    def bootstrap(self) -> str:
        assert self.broker is not None, "the stack is not started"
        return self.broker.bootstrap_servers

    def start(self, step: Callable[[str], None] = lambda _: None) -> None:
        timeout = self.options.start_timeout_s
        step("starting Kafka, the org simulator and the Stripe emulator")
        org_child = self._stand_in("org", self._org_args())
        stripe_child = self._stand_in(
            "stripe",
            [
                "sandbox",
                "stripe",
                "--latency-ms",
                str(STRIPE_LATENCY_MS),
                "--rate-limit",
                str(STRIPE_RATE_LIMIT),
            ],
        )
        self.broker = EmbeddedBroker().start(timeout=timeout)
        self._write_pids()
        self.org = OrgEndpoint.from_ready_line(wait_for_ready_line(org_child, "rest_url", timeout))
        self.stripe = StripeEndpoint.from_ready_line(
            wait_for_ready_line(stripe_child, "api_base", timeout)
        )
        ensure_topics(self.bootstrap, Topics().all_topics(), DEMO_PARTITIONS)
        webhook_port = free_port()
        webhook_secret = register_webhook(self.stripe, webhook_port)
        settings = role_settings(self.bootstrap, self.org, self.stripe, webhook_port)
        write_role_config(self.config_path, settings)
        secrets = secret_env(self.org, self.stripe, webhook_secret)
        step("starting the bridge, the sync and writeback consumers and the Stripe event source")
        for name in ROLES:
            port = free_port()
            env = child_env({**secrets, "CPQSYNC_METRICS__PORT": str(port)})
            child = ChildProcess(
                name,
                cpqsync_argv(name, "--config", str(self.config_path)),
                self.logs_dir / f"{name}.log",
                env=env,
            ).start()
            self.roles.append(RoleProcess(name, child, f"http://127.0.0.1:{port}"))
        self._write_pids()
        step("waiting for the roles to be ready (/readyz)")
        self._wait_ready(timeout)

    def _org_args(self) -> list[str]:
        args = ["sandbox", "org", "--orders", str(self.options.orders)]
        if self.options.dataset is not None:
            args += ["--dataset", str(self.options.dataset)]
        return args

    def _stand_in(self, name: str, args: list[str]) -> ChildProcess:
        child = ChildProcess(
            name, cpqsync_argv(*args), self.logs_dir / f"{name}.log", env=child_env({})
        ).start()
        self._stand_ins.append(child)
        return child

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = list(self.roles)
        while waiting:
            self.check_roles()
            waiting = [role for role in waiting if not _ready(role.metrics_url)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(role.name for role in waiting)
                raise ChildStartError(
                    f"not ready after {timeout_s:.0f}s: {names} (logs in {self.logs_dir})"
                )
            time.sleep(0.2)

    def check_roles(self) -> None:
        """Raise if a role or stand-in has exited: the demo cannot finish without it."""
        for child in [*(role.child for role in self.roles), *self._stand_ins]:
            if not child.running():
                raise RoleExitedError(
                    f"the {child.name} process exited with code {child.returncode} "
                    f"(log {child.log_path}):\n{child.log_tail()}"
                )

    def pids(self) -> dict[str, int]:
        found = {child.name: child.pid for child in self._children() if child.pid is not None}
        if self.broker is not None and self.broker.pid is not None:
            found["kafka"] = self.broker.pid
        return found

    def _children(self) -> list[ChildProcess]:
        return [*(role.child for role in self.roles), *self._stand_ins]

    def _write_pids(self) -> None:
        """``stack.json``: which process is which, for an operator (and the no-orphan test)."""
        self.options.workdir.mkdir(parents=True, exist_ok=True)
        (self.options.workdir / "stack.json").write_text(
            json.dumps({"pids": self.pids()}, indent=2), encoding="utf-8"
        )

    def stop(self) -> dict[str, int | None]:
        """Roles first, together (each commits and leaves its group), then the stand-ins.

        Returns each child's exit code: 0 for a clean stop, -9 for one that had to be killed.
        """
        grace = self.options.stop_grace_s
        codes: dict[str, int | None] = {}
        for group in ([role.child for role in self.roles], self._stand_ins):
            for child in group:
                child.signal(signal.SIGTERM)
            wait_until_exited(group, grace)
            for child in group:
                codes[child.name] = child.stop(grace_s=2.0)
        if self.broker is not None:
            self.broker.stop()
        return codes


def register_webhook(stripe_endpoint: StripeEndpoint, port: int) -> str:
    """A webhook endpoint for the stripe-events role; returns its signing secret."""
    client = stripe.StripeClient(
        stripe_endpoint.api_key, base_addresses={"api": stripe_endpoint.api_base}
    )
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": f"http://127.0.0.1:{port}/stripe/webhooks", "enabled_events": ["*"]}
    )
    assert endpoint.secret is not None
    return endpoint.secret


def _ready(metrics_url: str) -> bool:
    try:
        return requests.get(f"{metrics_url}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
