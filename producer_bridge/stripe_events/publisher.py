"""One Stripe event -> one ``StripeEvent`` record on the topic, keyed by the customer id.

``publish`` returns a future that completes when Kafka acknowledged the record (the
producer is idempotent with acks=all), or at once for an event id already produced. A
failed delivery releases the id so the next delivery (Stripe's retry, the next catch-up)
produces it again.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import threading
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from producer_bridge.stripe_events import metrics
from producer_bridge.stripe_events.seen_events import SeenEvents
from schemas.codec import Codec
from schemas.headers import schema_header
from schemas.models import StripeEvent

Ack = concurrent.futures.Future[bool]  # True: produced now; False: a duplicate


def customer_of(obj: dict[str, Any]) -> str | None:
    """The Stripe customer an object belongs to (the customer itself for customer events)."""
    if obj.get("object") == "customer":
        return str(obj["id"])
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else None


def to_record(event: dict[str, Any], payload: str, source: str) -> StripeEvent:
    obj = event["data"]["object"]
    return StripeEvent(
        event_id=event["id"],
        type=event["type"],
        created=dt.datetime.fromtimestamp(int(event["created"]), dt.UTC),
        object_type=str(obj.get("object")),
        object_id=str(obj.get("id")),
        customer_id=customer_of(obj),
        api_version=event.get("api_version"),
        livemode=bool(event.get("livemode")),
        source=source,
        payload=payload,
    )


class EventPublisher:
    def __init__(self, producer: Producer, codec: Codec, topic: str, seen: SeenEvents) -> None:
        self._producer = producer
        self._codec = codec
        self.topic = topic
        self.seen = seen
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="stripe-events-acks", daemon=True)
        self._poller.start()

    def publish(self, event: dict[str, Any], payload: str | None, source: str) -> Ack:
        ack: Ack = concurrent.futures.Future()
        if not self.seen.claim(event["id"]):
            metrics.EVENTS.labels(source, "duplicate").inc()
            ack.set_result(False)
            return ack
        # Listed events come back through stripe-python, which reads decimal strings as
        # Decimal: written back as the same strings.
        text = payload if payload is not None else json.dumps(event, default=str)
        record = to_record(event, text, source)
        # No customer (a product's event): one key keeps such events in one partition.
        key = (record.customer_id or f"{record.object_type}").encode()

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                self.seen.release(record.event_id)
                metrics.PRODUCE_FAILURES.inc()
                ack.set_exception(RuntimeError(f"Kafka delivery failed: {error.str()}"))
                return
            metrics.EVENTS.labels(source, "produced").inc()
            ack.set_result(True)

        value = self._codec.encode(record, self.topic)
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    value,
                    key,
                    headers=[schema_header(StripeEvent)],
                    on_delivery=delivered,
                )
                return ack
            except BufferError:
                self._producer.poll(0.05)

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._poller.join(timeout)
        self._producer.flush(timeout)
