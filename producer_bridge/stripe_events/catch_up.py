"""Catch-up: walk ``GET /v1/events`` from the watermark and produce what is missing.

Stripe lists events newest first; one walk pages through ``created`` in
``[watermark, now - SETTLE_S]``, produces the events not produced yet oldest first, waits
for Kafka's acknowledgements and only then moves the watermark to the walk's upper
bound. Events of the last seconds are left to the next walk, since Stripe may still be
recording events of that second. A walk that fails (Stripe or Kafka unavailable) moves
nothing and is tried again at the next interval.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import stripe
from stripe.params import EventListParams

from producer_bridge.stripe_events import metrics
from producer_bridge.stripe_events.checkpoint import PositionKeeper
from producer_bridge.stripe_events.publisher import EventPublisher

log = logging.getLogger(__name__)

SETTLE_S: Final = 5
PAGE: Final = 100


class CatchUp:
    def __init__(
        self,
        client: stripe.StripeClient,
        publisher: EventPublisher,
        position: PositionKeeper,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._publisher = publisher
        self._position = position
        self._interval = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One walk; returns how many events it produced."""
        start = self._position.watermark
        upper = int(self._clock()) - SETTLE_S
        if upper < start:
            return 0
        params: EventListParams = {"created": {"gte": start, "lte": upper}, "limit": PAGE}
        listing = self._client.v1.events.list(params=params)
        events = [event.to_dict() for event in listing.auto_paging_iter()]
        events.sort(key=lambda e: (e["created"], e["id"]))
        acks: list[tuple[dict[str, Any], concurrent.futures.Future[bool]]] = []
        for event in events:
            acks.append((event, self._publisher.publish(event, None, "catch_up")))
        produced = 0
        for event, ack in acks:
            if ack.result(timeout=60):
                produced += 1
                self._position.note(event["id"], int(event["created"]))
        self._position.advance(upper + 1)
        return produced

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="stripe-events-catch-up", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                produced = self.run_once()
                metrics.CATCH_UP_RUNS.labels("done").inc()
                if produced:
                    log.info(
                        "catch-up produced %d Stripe event(s) missing from the topic", produced
                    )
            except stripe.StripeError as exc:
                metrics.CATCH_UP_RUNS.labels("failed").inc()
                log.warning(
                    "catch-up through GET /v1/events failed (%s, HTTP %s); next try in %.0fs",
                    type(exc).__name__,
                    exc.http_status,
                    self._interval,
                )
            except Exception as exc:  # noqa: BLE001 - the walk must outlive any one failure
                metrics.CATCH_UP_RUNS.labels("failed").inc()
                log.warning(
                    "catch-up failed (%s: %s); next try in %.0fs",
                    type(exc).__name__,
                    exc,
                    self._interval,
                )
            self._wake.wait(self._interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(30)
