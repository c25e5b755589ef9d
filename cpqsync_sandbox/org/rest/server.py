"""Run the REST app over HTTPS on its own event-loop thread, so sync code and tests can drive
the org while it serves."""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path

from aiohttp import web

from cpqsync_sandbox.org.rest.app import build_app
from cpqsync_sandbox.org.rest.context import RestContext


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class RestServer:
    """HTTPS server for :class:`RestContext`; ``ctx.port`` is the bound port once started."""

    def __init__(self, ctx: RestContext, port: int, ssl_context: ssl.SSLContext) -> None:
        self.ctx = ctx
        self._port = port
        self._ssl = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: OSError | None = None

    def start(self, timeout_s: float = 15.0) -> None:
        if self._thread is not None:
            raise RuntimeError("the REST server is already started")
        self._thread = threading.Thread(target=self._serve, name="org-rest", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("the org simulator's REST server did not start")
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except OSError as exc:  # e.g. port in use: reported to start(), which re-raises it
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self) -> None:
        runner = web.AppRunner(build_app(self.ctx), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.ctx.host, self._port, ssl_context=self._ssl)
        await site.start()
        self._runner = runner
        server = site._server
        assert isinstance(server, asyncio.Server)
        self.ctx.port = server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None
