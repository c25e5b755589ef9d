"""Delivering events to the registered webhook endpoints, signed as Stripe signs them.

Each delivery is a POST of the event's JSON with ``Stripe-Signature: t=<unix
time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the endpoint's secret>`` — what
``stripe.Webhook.construct_event`` verifies. An answer other than 2xx (or none
within the timeout) is tried again on Stripe's test-mode schedule (three retries over
some hours), each delay multiplied by ``retry_scale`` so tests see it in seconds.
Deliveries run as tasks on the emulator's event loop; events recorded without a
running loop (the Python API on a stopped emulator) are not delivered.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from cpqsync_sandbox.stripe_emulator.render import render
from cpqsync_sandbox.stripe_emulator.store import Store

log = logging.getLogger(__name__)

# Seconds before each retry (sandbox: "three times over a few hours").
RETRY_DELAYS_S = (3600.0, 2 * 3600.0, 4 * 3600.0)
TIMEOUT_S = 10.0
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass(frozen=True)
class DeliveryAttempt:
    event_id: str
    event_type: str
    endpoint_id: str
    attempt: int
    status: int  # 0: no answer (refused, reset, timed out)


def _wants(endpoint: dict[str, Any], event_type: str) -> bool:
    return endpoint["status"] == "enabled" and any(
        fnmatch.fnmatchcase(event_type, pattern) for pattern in endpoint["enabled_events"]
    )


class WebhookDelivery:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.retry_scale = 1.0
        self.attempts: list[DeliveryAttempt] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        store.events.listeners.append(self.on_event)

    def on_event(self, event: dict[str, Any]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for endpoint in self.store.tables["webhook_endpoint"].values():
            if _wants(endpoint, event["type"]):
                event["pending_webhooks"] += 1
                task = loop.create_task(self._deliver(event, endpoint["id"]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, event: dict[str, Any], endpoint_id: str) -> None:
        # Rendered once the request that recorded it has finished (the next loop turn).
        await asyncio.sleep(0)
        payload = json.dumps(render(event, [], self.store), indent=2).encode()
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS_S), start=1):
            await asyncio.sleep(delay * self.retry_scale)
            endpoint = self.store.get("webhook_endpoint", endpoint_id)
            if endpoint is None or endpoint["status"] != "enabled":
                break  # Stripe stops retrying for a deleted or disabled endpoint
            status = await self._post(endpoint, payload)
            self.attempts.append(
                DeliveryAttempt(event["id"], event["type"], endpoint_id, attempt, status)
            )
            if 200 <= status < 300:
                break
        event["pending_webhooks"] -= 1

    async def _post(self, endpoint: dict[str, Any], payload: bytes) -> int:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(payload, endpoint["_secret"], int(time.time())),
        }
        try:
            async with self._session.post(endpoint["url"], data=payload, headers=headers) as answer:
                await answer.read()
                return answer.status
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            log.info("webhook delivery to %s failed: %s", endpoint["url"], error)
            return 0

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
