"""A child of the demo never outlives it, even when the demo is SIGKILLed (no clean-up runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.demo.demo_process import REPO
from tests.demo.processes import alive, wait_until

PARENT = """
import pathlib, sys, time
from cpqsync.app.supervision.child_process import ChildProcess
child = ChildProcess("sleeper", ["sleep", "120"], pathlib.Path(sys.argv[1])).start()
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_in_its_own_process_group_dies_with_a_killed_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "sleeper.log")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        assert alive(child)
        assert os.getpgid(child) == child != os.getpgid(parent.pid)  # its own group
        parent.kill()  # SIGKILL: no handler, no finally, no atexit
        parent.wait(10)
        wait_until(lambda: not alive(child), 10, "the orphaned child to die")
    finally:
        if alive(child):
            os.kill(child, 9)
