"""Per-process HTTP endpoint: ``/metrics``, ``/healthz`` and ``/readyz``.

Liveness and readiness are different questions: a process is alive as soon as
it serves, but ready only when its role says so (a consumer once partitions are
assigned, the bridge once subscribed), so ``/readyz`` asks registered checks.
Binds to loopback unless configured otherwise, so metrics never leak by default.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.registry import REGISTRY

ReadinessCheck = Callable[[], bool]
StartResponse = Callable[..., Any]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the log; stay silent."""


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True


class MetricsPortUnavailable(RuntimeError):
    """The endpoint's address cannot be bound (in use, or not this host's): the operator must
    choose another ``metrics.port`` / ``metrics.host``, so the message names both settings."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(
            f"cannot serve /metrics on {host}:{port} ({reason}); set metrics.port "
            "(CPQSYNC_METRICS__PORT) to a free port, or 0 for any free port, or metrics.host; "
            "under `cpqsync run` role i serves on metrics.port + i"
        )


class MetricsServer:
    """Serves metrics and health for one process until stopped."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._metrics_app = make_wsgi_app(registry)
        self._checks: dict[str, ReadinessCheck] = {}
        self._lock = threading.Lock()
        try:
            self._server = make_server(
                host,
                port,
                self._app,
                server_class=_ThreadingWSGIServer,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            raise MetricsPortUnavailable(host, port, exc.strerror or str(exc)) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}"

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        with self._lock:
            self._checks[name] = check

    def not_ready(self) -> list[str]:
        with self._lock:
            checks = list(self._checks.items())
        failing = []
        for name, check in checks:
            try:
                ok = check()
            except Exception:  # noqa: BLE001 - a failing check means "not ready"
                ok = False
            if not ok:
                failing.append(name)
        return failing

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            failing = self.not_ready()
            if failing:
                return _text(start_response, "503 Service Unavailable", f"not ready: {failing}\n")
            return _text(start_response, "200 OK", "ready\n")
        if path in ("/metrics", "/"):
            result: Iterable[bytes] = self._metrics_app(environ, start_response)
            return result
        return _text(start_response, "404 Not Found", "not found\n")

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
