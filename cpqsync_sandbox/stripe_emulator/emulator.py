"""``StripeEmulator``: the emulator as a library, serving on loopback from a background thread.

Its own event loop runs in that thread; every Python API call hops onto the loop,
so tests read and change state without racing the requests being served.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from cpqsync_sandbox.stripe_emulator.app import build_app
from cpqsync_sandbox.stripe_emulator.backend import Backend
from cpqsync_sandbox.stripe_emulator.faults import FaultRule, LatencyConfig
from cpqsync_sandbox.stripe_emulator.request_log import RequestLogEntry
from cpqsync_sandbox.stripe_emulator.webhook_delivery import DeliveryAttempt

T = TypeVar("T")

DEFAULT_API_KEY = "sk_test_cpqsync_emulator"


class StripeEmulatorError(RuntimeError):
    """The emulator could not start, or was used while not running."""


class StripeEmulator:
    """A stateful Stripe API on ``http://host:port``; use as a context manager.

    ``rate_limit`` is requests per second per API key (Stripe: 25 in test mode);
    ``None`` means unlimited. ``latency_ms`` is added before every request.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0,
        rate_limit: int | None = None,
        webhook_retry_scale: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.api_key = DEFAULT_API_KEY
        self._backend = Backend(latency_ms=latency_ms, rate_limit=rate_limit)
        # Stripe's webhook retry delays (hours) times this factor.
        self._backend.webhooks.retry_scale = webhook_retry_scale
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> Backend:
        """The live backend (objects, limits, faults). Touch it only through ``call``."""
        return self._backend

    def start(self, timeout: float = 10.0) -> StripeEmulator:
        if self._thread is not None:
            raise StripeEmulatorError("the Stripe emulator is already running")
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._loop = loop

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                port = loop.run_until_complete(self._listen())
            except BaseException as error:  # noqa: BLE001 - reported to the starting thread
                started.set_exception(error)
                loop.close()
                return
            started.set_result(port)
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=serve, name="stripe-emulator", daemon=True)
        self._thread.start()
        try:
            self.port = started.result(timeout=timeout)
        except (OSError, concurrent.futures.TimeoutError) as error:
            self._thread = None
            raise StripeEmulatorError(
                f"the Stripe emulator could not listen on {self.host}:{self.port}: {error}"
            ) from error
        return self

    async def _listen(self) -> int:
        self._runner = web.AppRunner(
            build_app(self._backend),
            access_log=None,
            shutdown_timeout=0.5,
            handler_cancellation=True,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        port: int = server.sockets[0].getsockname()[1]
        self._backend.base_url = f"http://{self.host}:{port}"
        return port

    async def _shutdown(self) -> None:
        await self._backend.webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> StripeEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the emulator's loop (where all state lives) and return its result."""
        loop = self._loop
        if loop is None:
            return function()

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Stored objects of ``kind`` ("price", "subscription_schedule", "billing.meter", …)
        in creation order."""
        return self.call(lambda: self._backend.objects(kind))

    def events(self) -> list[dict[str, Any]]:
        """The recorded events, oldest first (copies)."""
        return self.call(lambda: copy.deepcopy(self._backend.store.events.events))

    def webhook_attempts(self) -> list[DeliveryAttempt]:
        """Every webhook delivery attempt so far, in the order they were made."""
        return self.call(lambda: list(self._backend.webhooks.attempts))

    def request_log(self) -> list[RequestLogEntry]:
        return self.call(self._backend.request_log)

    def clear_request_log(self) -> None:
        self.call(self._backend.log.clear)

    def reset(self) -> None:
        self.call(self._backend.reset)

    def set_rate_limit(self, per_second: int | None) -> None:
        self.call(lambda: self._backend.set_rate_limit(per_second))

    def set_latency(self, fixed_ms: float = 0, **distribution: Any) -> None:
        """``set_latency(50)``, or a distribution:
        ``set_latency(distribution="uniform", low_ms=5, high_ms=50)``."""
        config = LatencyConfig(fixed_ms=fixed_ms, **distribution)
        self.call(lambda: self._backend.set_latency(config))

    def configure_faults(self, *faults: FaultRule | dict[str, Any]) -> list[FaultRule]:
        """Replace the fault rules; no arguments clears them. Returns the live rules, whose
        ``fired`` counts tell how often each struck."""
        rules = [f if isinstance(f, FaultRule) else FaultRule.model_validate(f) for f in faults]
        self.call(lambda: self._backend.configure_faults(rules))
        return rules

    def expire_key(self, api_key: str, expired: bool = True) -> None:
        """Roll ``api_key`` (as in the dashboard): requests with it get 401 until un-expired."""
        keys = self._backend.expired_keys
        self.call(lambda: keys.add(api_key) if expired else keys.discard(api_key))

    def set_idempotency_retention(self, seconds: float) -> None:
        self.call(lambda: self._backend.set_idempotency_retention(seconds))
