"""One child process of the local stack, started so it can never outlive us.

Each child is told by the kernel to die with its parent (PR_SET_PDEATHSIG), so
even a SIGKILLed ``cpqsync demo`` leaves nothing running. A child started in its
own session (``own_group``) does not see the terminal's Ctrl-C: the parent stops
it deliberately, in order. A child left in the parent's group (``cpqsync run``)
receives Ctrl-C with its siblings, as one deployment.

PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so children
are started from the main thread (or a thread that lives as long as the stack).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn``: ask the kernel to SIGKILL this child when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def cpqsync_argv(*args: str) -> list[str]:
    """The command line that runs ``cpqsync ARGS`` with this interpreter, installed or not."""
    return [sys.executable, "-m", "cpqsync", *args]


class ChildProcess:
    """A named child whose stdout and stderr go to a log file (``None``: to ours)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path | None,
        *,
        env: Mapping[str, str] | None = None,
        own_group: bool = True,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._own_group = own_group
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """None while running (or never started), else the exit code (negative: signal)."""
        return self._proc.poll() if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ChildProcess:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log is not None else None,
            env=self._env,
            start_new_session=self._own_group,
            preexec_fn=die_with_parent,
        )
        return self

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the child (and its group, when it has its own)."""
        if self._proc is None or self._proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if self._own_group:
                os.killpg(self._proc.pid, signum)
            else:
                self._proc.send_signal(signum)

    def stop(self, grace_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace_s``; returns the exit code."""
        if self._proc is None:
            return None
        self.signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self._proc.wait(timeout=grace_s)
        self._close_log()
        return self._proc.returncode

    def wait(self, timeout: float | None = None) -> int:
        assert self._proc is not None, f"{self.name} was never started"
        code = self._proc.wait(timeout=timeout)
        self._close_log()
        return code

    def log_tail(self, lines: int = 15) -> str:
        """The end of the child's log, for an error that says why it stopped."""
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_until_exited(children: Sequence[ChildProcess], timeout_s: float) -> None:
    """Poll until every child exited or the time is up (callers then escalate)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(child.running() for child in children):
        time.sleep(0.05)
