"""Reading the JSON ready line a ``cpqsync sandbox`` child prints once it serves.

The child's stdout goes to its log file (with its stderr), so the line is found
there rather than on a pipe nobody would drain after start-up.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cpqsync.app.supervision.child_process import ChildProcess


class ChildStartError(RuntimeError):
    """A child exited or never became ready; the message says which and shows its log."""


def wait_for_ready_line(child: ChildProcess, key: str, timeout_s: float) -> dict[str, Any]:
    """The first JSON object line holding ``key`` in the child's log."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = _ready_line(child, key)
        if found is not None:
            return found
        if not child.running():
            raise ChildStartError(
                f"{child.name} exited with code {child.returncode} before it was ready "
                f"(log {child.log_path}):\n{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise ChildStartError(
                f"{child.name} was not ready after {timeout_s:.0f}s (log {child.log_path}):\n"
                f"{child.log_tail()}"
            )
        time.sleep(0.05)


def _ready_line(child: ChildProcess, key: str) -> dict[str, Any] | None:
    if child.log_path is None:
        raise ValueError(f"{child.name} writes no log file to find its ready line in")
    try:
        text = child.log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("{"):
            continue
        try:
            parsed = json.loads(stripped)
        except ValueError:
            continue
        if isinstance(parsed, dict) and key in parsed:
            return parsed
    return None
