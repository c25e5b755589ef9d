"""The connector's roles as real subprocesses (``python -m cpqsync <role> --config F``).

The chaos suite must kill processes the way an orchestrator or the OOM killer does (SIGKILL: no
shutdown hook, no final commit), which a thread in the test process cannot model. Each role
appends its stdout/stderr to its own log file across restarts, so the security checks can grep
everything every incarnation ever printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cpqsync_sandbox.net import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RoleProcess:
    """One role (``bridge``, ``sync``, ``writeback``) that can be started, killed and restarted."""

    name: str
    command: list[str]
    log_path: Path
    env: dict[str, str]
    metrics_port: int = field(default_factory=free_port)
    starts: int = 0
    kills: int = 0
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.alive():
            return
        env = {**os.environ, **self.env, "CPQSYNC_METRICS__PORT": str(self.metrics_port)}
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {self.starts + 1} of {self.name} ===\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cpqsync", *self.command],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our SIGKILL reaches the role, never the test run
            )
        self.starts += 1

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def exit_code(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def kill(self) -> bool:
        """SIGKILL, as a crash would; True if a live process was killed."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return False
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.kills += 1
        return True

    def terminate(self, timeout: float = 30) -> None:
        """SIGTERM and wait (the graceful path), escalating to SIGKILL after ``timeout``."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_until(condition: object, timeout: float, what: str, interval: float = 0.25) -> None:
    """Poll ``condition()`` until true; the assertion names what never happened."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
