"""``cpqsync run``: the three roles of a small deployment under one supervisor.

Each role (bridge, sync, writeback) is its own child process, as in the
container deployment, so one crashing role does not take the others down: it is
started again after a backoff that doubles while it keeps failing and resets
once it has run for a while. The children share the supervisor's process group,
so Ctrl-C in a terminal (or ``kill -- -PGID``) reaches all of them at once; a
SIGTERM sent to the supervisor alone is passed on. Each child also dies with
the supervisor (PR_SET_PDEATHSIG), so none outlives it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from cpqsync.app.supervision.child_process import ChildProcess, cpqsync_argv, wait_until_exited
from cpqsync.app.supervision.interrupts import STOP_SIGNALS

# The roles of a deployment, each a `cpqsync <role> --config FILE` process. `stripe-events`
# (rule B1) runs only where configured: `cpqsync run` leaves it out unless stripe_events.enabled.
ROLES = ("bridge", "sync", "writeback", "stripe-events")
OPTIONAL_ROLES = frozenset({"stripe-events"})


def deployment_roles(*, stripe_events: bool) -> list[str]:
    """The roles `cpqsync run` starts: every one, less stripe-events unless it is enabled.
    Each keeps its index in ROLES, so its metrics port does not move when one is left out."""
    return [role for role in ROLES if role not in OPTIONAL_ROLES or stripe_events]


log = logging.getLogger("cpqsync.run")


@dataclass(frozen=True)
class RestartPolicy:
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    # A role that ran this long before exiting starts again from the initial backoff.
    stable_after_s: float = 60.0

    def backoff(self, consecutive_failures: int) -> float:
        exponent = max(consecutive_failures - 1, 0)
        return float(min(self.max_backoff_s, self.initial_backoff_s * 2**exponent))


@dataclass
class _Role:
    name: str
    env: dict[str, str]
    child: ChildProcess | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = 0.0  # when to start (again); None while running
    restarts: int = 0
    pids: list[int] = field(default_factory=list)


def role_env(base: Mapping[str, str], metrics_port: int, index: int) -> dict[str, str]:
    """Each role serves /metrics on its own port: ``metrics.port + index`` (0 stays 0)."""
    port = 0 if metrics_port == 0 else metrics_port + index
    return {**base, "CPQSYNC_METRICS__PORT": str(port)}


class RoleSupervisor:
    def __init__(
        self,
        config: Path | None,
        env: Mapping[str, str],
        metrics_port: int,
        *,
        roles: Sequence[str] = ROLES,
        policy: RestartPolicy | None = None,
        stop_grace_s: float = 35.0,
    ) -> None:
        self._config = config
        self._policy = policy or RestartPolicy()
        self._grace = stop_grace_s
        self._roles = [
            _Role(name, role_env(env, metrics_port, ROLES.index(name) if name in ROLES else i))
            for i, name in enumerate(roles)
        ]
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Supervise until SIGINT/SIGTERM (or :meth:`request_stop`), then stop every role."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            while not self._stop.is_set():
                self._tick(time.monotonic())
                self._stop.wait(0.2)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, stopping every role", signal.Signals(signum).name)
        self._stop.set()

    def _tick(self, now: float) -> None:
        for role in self._roles:
            if role.child is not None and role.child.running():
                continue
            if role.child is not None and role.restart_at is None:
                self._schedule_restart(role, now)
            if role.restart_at is not None and now >= role.restart_at:
                self._start(role, now)

    def _schedule_restart(self, role: _Role, now: float) -> None:
        assert role.child is not None
        ran_for = now - role.started_at
        role.failures = 1 if ran_for >= self._policy.stable_after_s else role.failures + 1
        delay = self._policy.backoff(role.failures)
        role.restart_at = now + delay
        log.warning(
            "%s (pid %s) exited with code %s after %.1fs; restarting in %.1fs",
            role.name,
            role.child.pid,
            role.child.returncode,
            ran_for,
            delay,
        )

    def _start(self, role: _Role, now: float) -> None:
        args = [role.name] if self._config is None else [role.name, "--config", str(self._config)]
        # Same process group as the supervisor: one Ctrl-C reaches the whole deployment.
        role.child = ChildProcess(
            role.name, cpqsync_argv(*args), None, env=role.env, own_group=False
        ).start()
        if role.pids:
            role.restarts += 1
        assert role.child.pid is not None
        role.pids.append(role.child.pid)
        role.started_at, role.restart_at = now, None
        log.info("started %s (pid %s)", role.name, role.child.pid)

    def _stop_all(self) -> None:
        children = [r.child for r in self._roles if r.child is not None and r.child.running()]
        for child in children:
            child.signal(signal.SIGTERM)
        wait_until_exited(children, self._grace)
        for child in children:
            code = child.stop(grace_s=2.0)
            log.info("%s (pid %s) stopped with code %s", child.name, child.pid, code)

    def restarts(self) -> dict[str, int]:
        return {role.name: role.restarts for role in self._roles}
