"""The webhook receiver's answers when Kafka does not acknowledge: 503 (Stripe sends the event
again), the event id and the signature forgotten so that the next delivery is produced.

The publisher is our own seam, faked here; the real path (emulator -> receiver -> Kafka) is in
tests/writeback/test_reverse_sync.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from cpqsync_sandbox.stripe_emulator.webhook_delivery import sign
from producer_bridge.stripe_events.webhook_receiver import WebhookReceiver

SECRET = "whsec_test_receiver"


class FlakyPublisher:
    """Acknowledges nothing the first time, then everything."""

    def __init__(self) -> None:
        self.published: list[str] = []
        self.failures = 1

    def publish(
        self, event: dict[str, Any], payload: str | None, source: str
    ) -> concurrent.futures.Future[bool]:
        ack: concurrent.futures.Future[bool] = concurrent.futures.Future()
        if self.failures:
            self.failures -= 1
            ack.set_exception(RuntimeError("Kafka delivery failed: broker down"))
        else:
            self.published.append(event["id"])
            ack.set_result(True)
        return ack


class NoPosition:
    def __init__(self) -> None:
        self.noted: list[str] = []

    def note(self, event_id: str, created: int) -> None:
        self.noted.append(event_id)


async def _deliveries() -> tuple[list[int], FlakyPublisher, NoPosition]:
    publisher, position = FlakyPublisher(), NoPosition()
    receiver = WebhookReceiver(SECRET, publisher, position)  # type: ignore[arg-type]
    body = json.dumps({"id": "evt_1", "type": "invoice.paid", "created": 1, "data": {}})
    header = sign(body.encode(), SECRET, int(time.time()))
    async with TestClient(TestServer(receiver.app("/hooks"))) as client:
        statuses = []
        for _ in range(2):  # Kafka down, then the same delivery again
            response = await client.post("/hooks", data=body, headers={"Stripe-Signature": header})
            statuses.append(response.status)
    return statuses, publisher, position


def test_no_acknowledgement_answers_503_and_the_retry_is_produced() -> None:
    statuses, publisher, position = asyncio.run(_deliveries())
    assert statuses == [503, 200]
    assert publisher.published == ["evt_1"] and position.noted == ["evt_1"]
