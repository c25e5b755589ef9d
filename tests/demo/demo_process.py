"""``cpqsync demo`` as a user runs it: a separate process, output to a file, no terminal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.demo.processes import wait_until

REPO = Path(__file__).resolve().parents[2]


@dataclass
class DemoProcess:
    process: subprocess.Popen[bytes]
    output: Path
    report_dir: Path

    @property
    def report_path(self) -> Path:
        return self.report_dir / "report.json"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.report_path.read_text())
        return data

    def wait_for_output(self, text: str, timeout: float) -> None:
        def shown() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"demo exited early:\n{self.text()}")
            return text in self.text()

        wait_until(shown, timeout, f"{text!r} in the demo's output")

    def ready_line(self, name: str) -> dict[str, Any]:
        """The ready line a stand-in printed to its log (credentials, endpoints)."""
        for line in (self.report_dir / "logs" / f"{name}.log").read_text().splitlines():
            if line.startswith("{"):
                found: dict[str, Any] = json.loads(line)
                return found
        raise AssertionError(f"no ready line in {name}.log")

    def interrupt_like_a_terminal(self) -> None:
        """Ctrl-C: the terminal signals the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)


@contextlib.contextmanager
def demo_process(tmp_path: Path, *args: str) -> Iterator[DemoProcess]:
    report_dir = tmp_path / "report"
    output = tmp_path / "demo-output.txt"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cpqsync", "demo", "--report-dir", str(report_dir), *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO), "CI": "true", "COLUMNS": "220"},
            # Its own group, as a shell gives a foreground job, so Ctrl-C can be sent to it.
            start_new_session=True,
        )
    try:
        yield DemoProcess(process, output, report_dir)
    finally:
        if process.poll() is None:
            # The demo's children die with it (PR_SET_PDEATHSIG) even on SIGKILL.
            process.kill()
            process.wait(10)
