"""One ``Subscribe`` stream: deliver what the client asked for, keep it alive while idle.

The client's later ``FetchRequest``s arrive on a reader thread that only adds to the flow-control
budget; the serving loop sends events while budget and events remain, an empty keepalive
response carrying ``latest_replay_id`` when nothing was sent for ``keepalive_s``, and ends the
stream when the client asked for nothing for ``pending_timeout_s`` (Salesforce closes such a
stream after 60 s). Fault hooks end a live stream with a chosen failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc

from cpqsync_sandbox.org.pubsub.bus import (
    DeliveryAllocationExceededError,
    EventBus,
    StoredEvent,
)
from cpqsync_sandbox.org.pubsub.errors import (
    REQUESTED_EVENTS_INVALID,
    SUBSCRIPTION_LIMIT_EXCEEDED,
    PubSubFailure,
    abort,
)
from cpqsync_sandbox.org.pubsub.flow_control import FlowControl, NegativeRequestError


@dataclass(frozen=True)
class StreamSettings:
    keepalive_s: float = 30.0
    pending_timeout_s: float = 60.0


class StreamControl:
    """What other threads can tell a running stream: stop, or fail with this."""

    def __init__(self) -> None:
        self.failure: PubSubFailure | None = None
        self.client_done = False
        self.cancelled = False


class ActiveStreams:
    """The live Subscribe streams, so fault hooks can reach them."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._streams: set[StreamControl] = set()
        self._lock = threading.Lock()

    def add(self, control: StreamControl) -> None:
        with self._lock:
            self._streams.add(control)

    def remove(self, control: StreamControl) -> None:
        with self._lock:
            self._streams.discard(control)

    def count(self) -> int:
        with self._lock:
            return len(self._streams)

    def fail_all(self, failure: PubSubFailure) -> int:
        """End every live stream with ``failure``; returns how many were live."""
        with self._lock:
            streams = list(self._streams)
        for control in streams:
            control.failure = failure
        self._bus.wake()
        return len(streams)


def _read_requests(
    requests: Iterator[Any], flow: FlowControl, control: StreamControl, bus: EventBus
) -> None:
    try:
        for request in requests:
            try:
                flow.request(request.num_requested)
            except NegativeRequestError as exc:
                control.failure = PubSubFailure(
                    grpc.StatusCode.INVALID_ARGUMENT, REQUESTED_EVENTS_INVALID, str(exc)
                )
            bus.wake()
    except grpc.RpcError:
        pass  # the RPC ended (client went away); the serving loop sees it through the context
    finally:
        control.client_done = True
        bus.wake()


def _consumer_event(pb2: Any, event: StoredEvent) -> Any:
    return pb2.ConsumerEvent(
        event=pb2.ProducerEvent(
            id=event.event_id, schema_id=event.schema_id, payload=event.payload
        ),
        replay_id=event.replay_id,
    )


def serve(
    *,
    pb2: Any,
    bus: EventBus,
    topic: str,
    position: int,
    flow: FlowControl,
    requests: Iterator[Any],
    context: grpc.ServicerContext,
    rpc_id: str,
    settings: StreamSettings,
    streams: ActiveStreams,
) -> Iterator[Any]:
    """Yield FetchResponses for a validated subscription starting after ``position``."""
    control = StreamControl()

    def on_done() -> None:
        control.cancelled = True
        bus.wake()

    context.add_callback(on_done)
    streams.add(control)
    reader = threading.Thread(
        target=_read_requests,
        args=(requests, flow, control, bus),
        name=f"pubsub-requests-{rpc_id[:8]}",
        daemon=True,
    )
    reader.start()
    try:
        last_sent = time.monotonic()
        idle_since: float | None = None

        def ready() -> bool:
            return (
                control.cancelled
                or control.failure is not None
                or (flow.pending > 0 and bus.has_events_after(topic, position))
                or (control.client_done and flow.pending == 0)
            )

        while True:
            now = time.monotonic()
            deadline = last_sent + settings.keepalive_s
            if idle_since is not None:
                deadline = min(deadline, idle_since + settings.pending_timeout_s)
            bus.wait(ready, max(0.0, deadline - now))
            if control.cancelled:
                return
            if control.failure is not None:
                abort(context, control.failure, rpc_id)
            pending = flow.pending
            if pending > 0 and bus.has_events_after(topic, position):
                batch = bus.events_after(topic, position, pending)
                try:
                    granted = bus.take_deliveries(len(batch))
                except DeliveryAllocationExceededError as exc:
                    abort(
                        context,
                        PubSubFailure(
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            SUBSCRIPTION_LIMIT_EXCEEDED,
                            str(exc),
                        ),
                        rpc_id,
                    )
                batch = batch[:granted]
                remaining = flow.consume(len(batch))
                position = batch[-1].position
                yield pb2.FetchResponse(
                    events=[_consumer_event(pb2, e) for e in batch],
                    latest_replay_id=batch[-1].replay_id,
                    rpc_id=rpc_id,
                    pending_num_requested=remaining,
                )
                last_sent = time.monotonic()
                idle_since = last_sent if remaining == 0 else None
                continue
            if control.client_done and pending == 0:
                return  # the client closed its side and is owed nothing
            now = time.monotonic()
            if pending > 0:
                idle_since = None
            elif idle_since is None:
                idle_since = now
            elif now - idle_since >= settings.pending_timeout_s:
                return  # asked for nothing for too long: close, as a real org does
            if now - last_sent >= settings.keepalive_s:
                yield pb2.FetchResponse(
                    latest_replay_id=bus.replay_id_at(topic, position),
                    rpc_id=rpc_id,
                    pending_num_requested=pending,
                )
                last_sent = time.monotonic()
    finally:
        streams.remove(control)
