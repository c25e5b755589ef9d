"""``StripeEventSource``: the webhook endpoint and catch-up wired together, for the CLI.

``start()`` loads the position, walks catch-up once (so a restart first fills the gap it
left), then serves webhooks and keeps walking every ``catch_up_interval_s``. ``stop()``
stops serving, waits for acknowledgements and writes the position.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
import time

from aiohttp import web
from confluent_kafka import Producer

from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.settings import Settings
from cpqsync.stripe_client import build_stripe_client
from producer_bridge.stripe_events.catch_up import CatchUp
from producer_bridge.stripe_events.checkpoint import Position, PositionKeeper, load_position
from producer_bridge.stripe_events.publisher import EventPublisher
from producer_bridge.stripe_events.seen_events import SeenEvents
from producer_bridge.stripe_events.webhook_receiver import WebhookReceiver
from schemas.codec import Codec

log = logging.getLogger(__name__)


class StripeEventSourceError(RuntimeError):
    """The source cannot run as configured (the message names the setting)."""


class StripeEventSource:
    def __init__(self, settings: Settings, bootstrap_servers: str) -> None:
        config = settings.stripe_events
        if config.endpoint_secret is None:
            raise StripeEventSourceError(
                "stripe_events.endpoint_secret is not set (CPQSYNC_STRIPE_EVENTS__ENDPOINT_SECRET)"
            )
        if settings.stripe.api_key is None:
            raise StripeEventSourceError(
                "stripe.api_key is not set (CPQSYNC_STRIPE__API_KEY): catch-up reads GET /v1/events"
            )
        self._settings = settings
        self._bootstrap = bootstrap_servers
        kafka = settings.kafka
        self.topics = Topics(kafka.topic_prefix)
        self._codec = Codec.from_settings(kafka)
        self._producer = Producer(
            {**producer_config(kafka, bootstrap_servers), "client.id": "cpqsync-stripe-events"}
        )
        self._client = build_stripe_client(settings.stripe)
        self._secret = config.endpoint_secret.get_secret_value()
        self.port = config.port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self.catch_up: CatchUp | None = None
        self.position: PositionKeeper | None = None
        self.publisher: EventPublisher | None = None
        self._ready = False

    def start(self) -> StripeEventSource:
        kafka = self._settings.kafka
        ensure_topics(
            self._bootstrap,
            {
                self.topics.stripe_events: {},
                self.topics.bridge_checkpoints: {"cleanup.policy": "compact"},
            },
            kafka.partitions,
            kafka.replication_factor,
            kafka.client_config,
        )
        config = self._settings.stripe_events
        stored = load_position(
            self._bootstrap, self.topics.bridge_checkpoints, self._codec, kafka.client_config
        )
        if stored is None:
            stored = Position(int(time.time() - config.initial_lookback_s))
            log.info("no Stripe events checkpoint yet: catching up from %d", stored.watermark)
        self.position = PositionKeeper(
            stored, self._producer, self._codec, self.topics.bridge_checkpoints
        )
        seen = SeenEvents()
        seen.add_all(self.position.produced_ids())
        self.publisher = EventPublisher(
            self._producer, self._codec, self.topics.stripe_events, seen
        )
        self.catch_up = CatchUp(
            self._client, self.publisher, self.position, config.catch_up_interval_s
        )
        receiver = WebhookReceiver(
            self._secret, self.publisher, self.position, tolerance_s=config.tolerance_s
        )
        self._serve(receiver)
        self.catch_up.start()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="stripe-events-checkpoint", daemon=True
        )
        self._checkpointer.start()
        self._ready = True
        return self

    def _serve(self, receiver: WebhookReceiver) -> None:
        config = self._settings.stripe_events
        context = None
        if config.tls_cert_file is not None and config.tls_key_file is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[int] = concurrent.futures.Future()

        async def listen() -> int:
            self._runner = web.AppRunner(receiver.app(config.path), access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, config.host, config.port, ssl_context=context)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.base_events.Server)
            port: int = server.sockets[0].getsockname()[1]
            return port

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                started.set_result(loop.run_until_complete(listen()))
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                started.set_exception(exc)
                return
            loop.run_forever()
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="stripe-webhooks", daemon=True)
        self._thread.start()
        try:
            self.port = started.result(timeout=30)
        except OSError as exc:
            raise StripeEventSourceError(
                f"cannot listen on {config.host}:{config.port} "
                f"(stripe_events.host / stripe_events.port): {exc}"
            ) from exc
        scheme = "https" if context else "http"
        log.info(
            "receiving Stripe webhooks on %s://%s:%d%s", scheme, config.host, self.port, config.path
        )

    def _checkpoint_loop(self) -> None:
        interval = self._settings.bridge.checkpoint_interval_s
        while not self._stop.wait(interval):
            if self.position is not None and not self.position.write():
                log.warning("the Stripe events checkpoint was not acknowledged; will retry")

    def ready(self) -> bool:
        return self._ready and self._thread is not None and self._thread.is_alive()

    def wait(self) -> None:
        while not self._stop.wait(1.0):
            pass

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self._ready = False
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        if self.catch_up is not None:
            self.catch_up.stop()
        if self._checkpointer is not None:
            self._checkpointer.join(30)
        if self.publisher is not None:
            self.publisher.close()
        if self.position is not None:
            self.position.write()
