"""The webhook endpoint: verify Stripe's signature, produce, then answer.

A request is processed only when ``stripe.Webhook.construct_event`` verifies its
``Stripe-Signature`` against the endpoint secret within the tolerance window; a missing or
wrong signature, an expired timestamp, or a signature header already accepted (a replayed
request: Stripe signs every delivery attempt anew) is answered 400, counted by reason and
never produced. An accepted event is answered 200 only after Kafka acknowledged it (or it
was produced before); if Kafka does not, 503 makes Stripe deliver it again. Nothing the
request carries is logged: bodies and signatures stay out of logs and metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import stripe
from aiohttp import web

from producer_bridge.stripe_events import metrics
from producer_bridge.stripe_events.checkpoint import PositionKeeper
from producer_bridge.stripe_events.publisher import EventPublisher

log = logging.getLogger(__name__)


class WebhookReceiver:
    def __init__(
        self,
        secret: str,
        publisher: EventPublisher,
        position: PositionKeeper,
        *,
        tolerance_s: int = 300,
        ack_timeout_s: float = 30.0,
    ) -> None:
        self._secret = secret
        self._publisher = publisher
        self._position = position
        self._tolerance = tolerance_s
        self._ack_timeout = ack_timeout_s
        # Signature headers accepted within the tolerance window (older ones fail anyway).
        self._accepted: OrderedDict[str, float] = OrderedDict()

    def app(self, path: str) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(path, self.handle)
        return app

    def _refuse(self, reason: str) -> web.Response:
        metrics.WEBHOOKS_REFUSED.labels(reason).inc()
        return web.json_response({"error": reason}, status=400)

    def _forget_expired(self, now: float) -> None:
        while self._accepted and next(iter(self._accepted.values())) < now - self._tolerance:
            self._accepted.popitem(last=False)

    async def handle(self, request: web.Request) -> web.Response:
        payload = (await request.read()).decode("utf-8", errors="replace")
        header = request.headers.get("Stripe-Signature")
        if not header:
            return self._refuse("no_signature")
        now = time.time()
        self._forget_expired(now)
        if header in self._accepted:
            return self._refuse("replayed")
        try:
            stripe.Webhook.construct_event(payload, header, self._secret, self._tolerance)
            event: dict[str, Any] = json.loads(payload)
        except stripe.SignatureVerificationError as exc:
            return self._refuse("expired" if "tolerance" in str(exc) else "bad_signature")
        except ValueError:
            return self._refuse("bad_payload")
        self._accepted[header] = now
        ack = self._publisher.publish(event, payload, "webhook")
        try:
            produced = await asyncio.wait_for(asyncio.wrap_future(ack), self._ack_timeout)
        except (TimeoutError, RuntimeError) as exc:
            self._accepted.pop(header, None)
            log.warning("Stripe event %s not acknowledged by Kafka: %s", event.get("id"), exc)
            return web.json_response({"error": "not stored; send again"}, status=503)
        if produced:
            self._position.note(event["id"], int(event["created"]))
        return web.json_response({"received": True})
