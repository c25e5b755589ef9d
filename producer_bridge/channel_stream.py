"""One channel's subscription loop: receive, decode, produce, checkpoint, recover.

Guarantees (per channel):

- **At least once.** A replay id is checkpointed only after Kafka acknowledged
  every message of its event and of every event before it; a restart resumes
  *after* the checkpoint, so a crash re-delivers at most the events received
  since the last checkpoint, and loses none.
- **Order per key.** Events are produced in the order Salesforce delivers them
  by one idempotent producer, so one record's events stay in commit order.
- **Never a silent loop.** A rejected replay id is reported with the channel and
  the id, counted, and then handled as ``bridge.on_invalid_replay_id`` says.
  Other stream failures reconnect with exponential backoff and jitter; a stream
  that had been delivering reconnects at once. A ``GetSchema`` call that fails
  mid-response (UNAVAILABLE while the service restarts) ends the stream the same
  way: what Kafka acknowledged is checkpointed, and the rest is received again
  after a backoff.
- **Checkpoints say how current they are.** An event's checkpoint carries its
  commit time; while the channel is idle, every keepalive's ``latest_replay_id``
  is checkpointed with a null commit time (the schema's meaning: saved while
  idle), so the checkpoint's write time is when that id was last current and a
  quiet channel's checkpoint never ages towards the 72-hour retention.

A reader thread pulls responses off the gRPC stream into a small queue; this
thread does all the Kafka and bookkeeping work, so delivery reports and
checkpoints keep moving while Salesforce is quiet (keepalives can be minutes apart).
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from typing import Any

from tenacity import Retrying, retry_if_exception_type, wait_random_exponential

from cpqsync.salesforce.pubsub_client import PubSubClient, PubSubError, ReplayPreset, Subscription
from cpqsync.settings import BridgeSettings
from producer_bridge import metrics
from producer_bridge.ack_tracker import Position
from producer_bridge.cdc_decoder import ChangeEventDecodeError, ChangeEventDecoder, RawEvent
from producer_bridge.event_publisher import EventPublisher
from schemas.models import BridgeCheckpoint

log = logging.getLogger(__name__)

_QUEUE_DEPTH = 4
_IDLE_TICK_S = 0.1
_SETTLE_TIMEOUT_S = 30.0


class BridgeFatalError(RuntimeError):
    """The bridge must stop and exit non-zero; the message tells the operator what to do."""


class _Transient(Exception):
    """A failure worth retrying after a backoff."""


class ChannelStream:
    """Streams one channel into Kafka until ``stop`` is set or a fatal error occurs."""

    def __init__(
        self,
        channel: str,
        client: PubSubClient,
        decoder: ChangeEventDecoder,
        publisher: EventPublisher,
        settings: BridgeSettings,
        checkpoint: BridgeCheckpoint | None,
        stop: threading.Event,
    ) -> None:
        self.channel = channel
        self._client = client
        self._decoder = decoder
        self._publisher = publisher
        self._tracker = publisher.tracker
        self._settings = settings
        self._stop = stop
        self._acked: Position | None = None
        if checkpoint is not None:
            self._acked = Position(checkpoint.replay_id, checkpoint.commit_timestamp)
        self._saved = self._acked
        self._saved_at = time.monotonic()
        # Wall-clock time the saved replay id was last known current (see current_since).
        self._saved_current_at = checkpoint.updated_at if checkpoint is not None else None
        self._idle_confirmed = False
        self._preset: ReplayPreset = settings.initial_position
        self._progress = False
        self._auth_retry_pending = False
        self._subscription: Subscription | None = None
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.received = 0
        metrics.prime(channel)

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> None:
        """Block until stopped; raises :class:`BridgeFatalError` when it cannot go on."""
        try:
            while not self._stop.is_set():
                retrying = Retrying(
                    retry=retry_if_exception_type(_Transient),
                    # Full jitter: many bridges reconnecting after an outage spread out.
                    wait=wait_random_exponential(
                        multiplier=self._settings.reconnect_initial_backoff_s,
                        max=self._settings.reconnect_max_backoff_s,
                    ),
                    sleep=self._sleep,
                    before_sleep=self._before_retry,
                    reraise=True,
                )
                retrying(self._stream_once)
        finally:
            self._shutdown()

    def interrupt(self) -> None:
        """Cancel the open stream (called from another thread after setting ``stop``)."""
        with self._lock:
            subscription = self._subscription
        if subscription is not None:
            subscription.close()

    @property
    def position(self) -> Position | None:
        """The last position Kafka fully acknowledged."""
        return self._acked

    # -- one subscription ------------------------------------------------------------------

    def _stream_once(self) -> None:
        if self._stop.is_set():
            return
        preset, replay_id = self._resume_point()
        session = self._client.auth.session()
        self._progress = False
        try:
            subscription = self._client.subscribe(
                self.channel, preset, replay_id, self._settings.batch_size, session=session
            )
        except PubSubError as exc:
            self._recover(exc, preset, session)
            return
        with self._lock:
            self._subscription = subscription
        if self._stop.is_set():
            subscription.close()
        log.info(
            "channel %s: subscribed from %s%s",
            self.channel,
            preset,
            f" after replay id {replay_id.hex()}" if replay_id else "",
        )
        self.subscribed.set()
        inbox: queue.Queue[tuple[str, Any]] = queue.Queue(_QUEUE_DEPTH)
        closed = threading.Event()
        reader = threading.Thread(
            target=_read_stream,
            args=(subscription, inbox, closed),
            name=f"pubsub-reader{self.channel}",
            daemon=True,
        )
        reader.start()
        failure: PubSubError | None = None
        try:
            failure = self._drain(inbox)
        finally:
            closed.set()
            subscription.close()
            with self._lock:
                self._subscription = None
            self.subscribed.clear()
            reader.join(timeout=5)
        self._settle()
        if failure is not None:
            self._recover(failure, preset, session)

    def _drain(self, inbox: queue.Queue[tuple[str, Any]]) -> PubSubError | None:
        """Handle responses until the stream ends; the failure that ended it, if any."""
        while not self._stop.is_set():
            try:
                kind, item = inbox.get(timeout=_IDLE_TICK_S)
            except queue.Empty:
                self._publisher.poll(0)
                if self._delivery_failed():
                    return None  # _settle resumes from the last acknowledged event
                self._checkpoint()
                continue
            if kind == "response":
                try:
                    handled = self._handle(item)
                except PubSubError as exc:
                    # A schema fetch failed part-way through a response: end the stream like
                    # any failure (settle, resume after what Kafka acknowledged), after a
                    # backoff rather than at once, since this stream delivered nothing whole.
                    self._progress = False
                    return exc
                if not handled:
                    return None
            elif kind == "error":
                return item if isinstance(item, PubSubError) else None
            else:
                return PubSubError(f"Pub/Sub closed the {self.channel} stream", "closed")
        return None

    def _handle(self, response: Any) -> bool:
        """Produce a response's events; False when a Kafka delivery has failed."""
        now = dt.datetime.now(dt.UTC)
        received = len(response.events)
        for consumer_event in response.events:
            event = consumer_event.event
            raw = RawEvent(event.schema_id, event.payload, consumer_event.replay_id)
            try:
                changes = self._decoder.decode(raw, self.channel, bridged_at=now)
            except ChangeEventDecodeError as exc:
                metrics.DECODE_ERRORS.labels(self.channel).inc()
                log.error(
                    "channel %s: event with replay id %s is undecodable, sent to the DLQ: %s",
                    self.channel,
                    consumer_event.replay_id.hex(),
                    exc,
                )
                self._publisher.dead_letter(
                    event.payload, event.schema_id, exc, Position(consumer_event.replay_id)
                )
                continue
            position = Position(consumer_event.replay_id, changes[0].commit_timestamp)
            self._publisher.publish(changes, position)
        if received:
            self.received += received
            self._progress = True
            self._auth_retry_pending = False
            metrics.EVENTS_RECEIVED.labels(self.channel).inc(received)
        self._publisher.poll(0)
        if self._delivery_failed():
            return False
        if not received and response.latest_replay_id:
            self._keepalive(response.latest_replay_id)
        self._checkpoint()
        return True

    def _keepalive(self, latest_replay_id: bytes) -> None:
        """Idle and nothing in flight: the stream's position is Salesforce's latest id, which
        belongs to no event we hold, so its commit time is null (BridgeCheckpoint.avsc)."""
        self._advance()
        if self._tracker.in_flight == 0:
            self._acked = Position(latest_replay_id, None)
            self._idle_confirmed = True

    # -- positions and checkpoints ---------------------------------------------------------

    def _resume_point(self) -> tuple[ReplayPreset, bytes | None]:
        if self._acked is not None:
            return "CUSTOM", self._acked.replay_id
        return self._preset, None

    def _advance(self) -> None:
        position = self._tracker.advance()
        if position is not None:
            self._acked = position

    def _delivery_failed(self) -> bool:
        return self._tracker.failure is not None

    def _checkpoint(self, force: bool = False) -> None:
        self._advance()
        due = time.monotonic() - self._saved_at >= self._settings.checkpoint_interval_s
        changed = self._acked != self._saved or self._idle_confirmed
        if self._acked is not None and changed and (force or due):
            checkpoint = BridgeCheckpoint(
                channel=self.channel,
                replay_id=self._acked.replay_id,
                commit_timestamp=self._acked.commit_timestamp,
            )
            self._publisher.checkpoint(checkpoint)
            self._saved = self._acked
            self._saved_at = time.monotonic()
            self._saved_current_at = checkpoint.updated_at
            self._idle_confirmed = False
        current_since = self.current_since
        if current_since is not None:
            age = dt.datetime.now(dt.UTC) - current_since
            metrics.CHECKPOINT_LAG.labels(self.channel).set(max(0.0, age.total_seconds()))

    @property
    def current_since(self) -> dt.datetime | None:
        """When the saved replay id was last the channel's current position: its event's
        commit time, or for an idle checkpoint the time a keepalive confirmed it."""
        if self._saved is None:
            return None
        return self._saved.commit_timestamp or self._saved_current_at

    def _settle(self) -> None:
        """After a stream ends: wait for deliveries, then resume from what Kafka holds."""
        flushed = self._publisher.flush(_SETTLE_TIMEOUT_S)
        self._advance()
        if self._tracker.failure is not None or not flushed:
            log.warning(
                "channel %s: %d events unacknowledged by Kafka (%s); resuming after %s",
                self.channel,
                self._tracker.in_flight,
                self._tracker.failure or "flush timed out",
                self._acked.replay_id.hex() if self._acked else self._preset,
            )
            self._tracker.reset()
            raise _Transient(f"channel {self.channel}: Kafka did not acknowledge every event")
        self._checkpoint(force=True)

    def _shutdown(self) -> None:
        try:
            self._publisher.flush(_SETTLE_TIMEOUT_S)
            self._advance()
            if self._tracker.failure is None:
                self._checkpoint(force=True)
            self._publisher.flush(_SETTLE_TIMEOUT_S)
        except Exception:
            log.exception("channel %s: final checkpoint failed", self.channel)

    # -- failures --------------------------------------------------------------------------

    def _recover(self, exc: PubSubError, preset: ReplayPreset, session: Any) -> None:
        """Decide what a failed stream means; return to resubscribe now, raise otherwise."""
        if self._stop.is_set():
            return
        if exc.kind == "replay_id_invalid":
            self._invalid_replay_id(exc, preset)
            return
        metrics.RECONNECTS.labels(self.channel, exc.kind).inc()
        if exc.kind == "auth":
            self._client.auth.refresh(stale=session)
            if self._auth_retry_pending:
                raise _Transient(f"channel {self.channel}: still rejected after login: {exc}")
            self._auth_retry_pending = True
            log.info("channel %s: session expired, logged in again", self.channel)
            return
        if exc.kind == "limit_exceeded":
            self._limit_exceeded(exc)
            return
        if self._progress:
            log.warning("channel %s: stream ended (%s); resubscribing", self.channel, exc)
            return
        raise _Transient(str(exc))

    def _invalid_replay_id(self, exc: PubSubError, preset: ReplayPreset) -> None:
        metrics.INVALID_REPLAY_IDS.labels(self.channel).inc()
        replay = self._acked.replay_id.hex() if self._acked and preset == "CUSTOM" else "(none)"
        policy = self._settings.on_invalid_replay_id
        log.error(
            "channel %s: Salesforce rejected replay id %s (%s); policy on_invalid_replay_id=%s",
            self.channel,
            replay,
            exc.error_code or exc,
            policy,
        )
        if policy == "fail" or preset != "CUSTOM":
            raise BridgeFatalError(
                f"channel {self.channel}: replay id {replay} is corrupted or outside Salesforce's "
                f"72-hour retention ({exc.error_code or exc}). Set bridge.on_invalid_replay_id to "
                f"'earliest' or 'latest' to continue, and run `cpqsync backfill --since <date>` "
                f"to recover changes that are no longer retained."
            )
        self._acked = None
        self._saved = None
        self._saved_current_at = None
        self._preset = "EARLIEST" if policy == "earliest" else "LATEST"

    def _limit_exceeded(self, exc: PubSubError) -> None:
        wait_s = self._settings.limit_exceeded_backoff_s
        metrics.LIMIT_EXCEEDED.labels(self.channel).inc()
        log.error(
            "channel %s: the org's event delivery allocation is spent (%s); waiting %.0fs",
            self.channel,
            exc.error_code or exc,
            wait_s,
        )
        gauge = metrics.LIMIT_BACKOFF.labels(self.channel)
        gauge.set(1)
        try:
            self._stop.wait(wait_s)
        finally:
            gauge.set(0)

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _before_retry(self, state: Any) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "channel %s: %s; reconnecting in %.1fs (attempt %d)",
            self.channel,
            error,
            wait,
            state.attempt_number,
        )


def _read_stream(
    subscription: Subscription, inbox: queue.Queue[tuple[str, Any]], closed: threading.Event
) -> None:
    """Move responses from the gRPC stream to ``inbox`` (blocking when it is full)."""

    def put(item: tuple[str, Any]) -> bool:
        while not closed.is_set():
            try:
                inbox.put(item, timeout=_IDLE_TICK_S)
                return True
            except queue.Full:
                continue
        return False

    try:
        for response in subscription:
            if not put(("response", response)):
                return
    except PubSubError as exc:
        put(("error", exc))
        return
    except Exception as exc:  # noqa: BLE001 - any reader failure must reach the stream loop
        put(("error", PubSubError(f"reading the stream failed: {exc}", "other")))
        return
    put(("end", None))
