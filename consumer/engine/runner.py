"""The consumer engine: one polling thread, a pool of workers, commits on a policy.

The polling thread owns the Kafka consumer (confluent-kafka clients are not
safe to share) and does four things in a loop: fetch as much as backpressure
allows, decode and queue it, pause or resume partitions, and commit when the
commit policy says so. Workers process in parallel in between. Rebalance
callbacks run on the polling thread inside ``consume``, which is where
revoked partitions are drained and committed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any, Generic, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import Message as KafkaMessage
from prometheus_client import CollectorRegistry

from consumer.engine.assignment import Assignment
from consumer.engine.backpressure import FlowControl
from consumer.engine.commit_policy import CommitPolicy
from consumer.engine.committer import KafkaUnavailable, OffsetCommitter
from consumer.engine.config import EngineSettings, KafkaClients
from consumer.engine.dead_letter import DeadLetters, EnvelopeHeaders
from consumer.engine.dependencies import PROBE_MAX_BACKOFF_S, Dependency, DependencyHealth
from consumer.engine.errors import (
    DeadLetterLimitExceeded,
    EngineError,
    OutputDeliveryError,
    UndecodableMessage,
)
from consumer.engine.handler import BatchHandler
from consumer.engine.heap import startup_heap_frozen
from consumer.engine.lag import lag, reported_offsets
from consumer.engine.messages import Message, PartitionId, from_kafka_batch, with_values
from consumer.engine.metrics import engine_metrics
from consumer.engine.retry import RetryPolicy
from consumer.engine.scheduler import KeyOrderedScheduler
from consumer.engine.workers import WorkerPool

T = TypeVar("T")
log = logging.getLogger(__name__)

_POLL_TIMEOUT_S = 0.05
_MAX_FETCH = 500
_GAUGE_INTERVAL_S = 1.0
# How long a full buffer may hold fetching back before its partitions are paused.
_PAUSE_AFTER_S = 0.5
# How long a rebalance callback may wait for the subscribed topics' partition counts.
_METADATA_TIMEOUT_S = 5.0
# How long a probe of the broker (a metadata request) may take.
_KAFKA_PROBE_TIMEOUT_S = 5.0
# What the engine's at-least-once guarantee rests on: offsets stored and committed by the
# engine alone, and outputs of aborted transactions never read.
_GUARANTEES: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "isolation.level": "read_committed",
}
_CONSUMER_DEFAULTS: dict[str, Any] = {
    "auto.offset.reset": "earliest",
    "partition.assignment.strategy": "cooperative-sticky",
    "statistics.interval.ms": 5_000,
    "max.poll.interval.ms": 300_000,
}


def _log_client_error(error: KafkaError) -> None:
    """Client errors when the caller configured no ``error_cb`` of its own."""
    log.warning("Kafka client error: %s", error.str())


class ConsumerEngine(Generic[T]):
    """Consume ``topics`` as ``group_id``, run ``handler`` over decoded messages, commit safely.

    ``decode`` turns a message's bytes into the handler's type on the polling
    thread; an exception of one of ``decode_errors`` sends the original message
    to ``dead_letter_topic``, any other exception stops the engine.
    ``on_assignment`` hears the whole assignment after every rebalance (on the
    polling thread; it must be quick), e.g. a ``BudgetShare`` resizing a pacer.

    ``dependencies`` are the services the handler calls (Kafka is always one): when
    one is down (a handler's ``DependencyDown``, or outputs the broker does not
    acknowledge) the engine holds its work, pauses its partitions, reports not
    ready and probes until the dependency is back (see ``dependencies.py``).
    """

    def __init__(
        self,
        *,
        topics: Sequence[str],
        group_id: str,
        handler: BatchHandler[T],
        decode: Callable[[Message[bytes | None]], T],
        kafka: KafkaClients,
        settings: EngineSettings,
        client_config: dict[str, Any] | None = None,
        decode_errors: tuple[type[BaseException], ...] = (),
        dead_letter_topic: str | None = None,
        dead_letter_envelope: EnvelopeHeaders | None = None,
        registry: CollectorRegistry | None = None,
        on_assignment: Callable[[Assignment], None] | None = None,
        dependencies: Sequence[Dependency] = (),
    ) -> None:
        if not topics:
            raise ValueError("the engine needs at least one topic to consume")
        self.topics = list(topics)
        self.group_id = group_id
        self._handler = handler
        self._decode = decode
        self._decode_errors = decode_errors
        self._on_assignment = on_assignment
        self._partition_counts: dict[str, int] = {}
        # The partitions this member owns right now: a revoke removes them before it waits for
        # their running work, so a handler can stop writing for a partition another member
        # is about to own (``owns``).
        self._owned: set[tuple[str, int]] = set()
        self._counts_stale = False
        self._settings = settings
        self._transactional = kafka.exactly_once
        supplied = {**kafka.consumer, **(client_config or {})}
        # The caller's own error_cb says how client errors are logged (the application names
        # its setting); the engine acts on the few that concern it first (_on_client_error).
        self._report_client_error: Callable[[KafkaError], None] = (
            supplied.get("error_cb") or _log_client_error
        )
        self._consumer_config: dict[str, Any] = {
            **_CONSUMER_DEFAULTS,
            **supplied,
            **_GUARANTEES,
            "group.id": group_id,
            "stats_cb": self._on_statistics,
            "error_cb": self._on_client_error,
            "on_commit": self._on_commit,
        }
        self._producer_config: dict[str, Any] = dict(kafka.producer)
        if self._transactional:
            self._producer_config["transactional.id"] = f"{group_id}-{uuid.uuid4().hex[:12]}"
        max_poll_s = float(self._consumer_config["max.poll.interval.ms"]) / 1000
        self._revoke_deadline_s = min(settings.revoke_deadline_s, max_poll_s / 2)
        # Not polling at all while a full buffer drains is safe well within max.poll.interval.
        self._pause_after_s = min(_PAUSE_AFTER_S, max_poll_s / 10)
        # Partitions at their bound that we stopped fetching for but have not paused yet.
        self._held: set[PartitionId] = set()
        self._held_since = 0.0
        self._metrics = engine_metrics(registry)
        self._metrics.prime(group_id, self.topics)
        self._scheduler = KeyOrderedScheduler()
        self._flow = FlowControl(settings.max_in_flight, settings.max_buffered_per_partition)
        self._policy = CommitPolicy.from_settings(settings)
        retry_policy = RetryPolicy.from_settings(settings)
        probe_max_s = min(PROBE_MAX_BACKOFF_S, retry_policy.max_backoff_s)
        self._health = DependencyHealth(
            [
                Dependency("kafka", kafka.servers_setting, self._probe_kafka),
                *dependencies,
            ],
            group=group_id,
            gauge=self._metrics.dependency_up,
            backoff=RetryPolicy(1, min(retry_policy.initial_backoff_s, probe_max_s), probe_max_s),
            on_change=self._on_dependencies,
        )
        self._producer: Any = None
        if dead_letter_topic and dead_letter_envelope is None:
            raise ValueError("a dead-letter topic needs the envelope its readers expect")
        self._dead_letters = (
            DeadLetters(
                dead_letter_topic,
                group_id,
                settings.dlq_max_consecutive,
                envelope=dead_letter_envelope,
            )
            if dead_letter_topic and dead_letter_envelope is not None
            else None
        )
        self._pool = WorkerPool(
            size=settings.workers,
            scheduler=self._scheduler,
            handler=handler,
            retry_policy=retry_policy,
            dead_letters=self._dead_letters,
            metrics=self._metrics,
            group=group_id,
            on_fatal=self._fail,
            health=self._health,
        )
        self._stop = threading.Event()
        self._fatal: BaseException | None = None
        self._commits_broken = False
        self._joined = False
        self._closing = False
        self._started = False
        self._paused: set[PartitionId] = set()
        self._consumer: Any = None
        self._committer: OffsetCommitter | None = None
        self._last_gauges = 0.0
        self._max_buffered_seen = 0

    # --- public ----------------------------------------------------------------------

    def run(self) -> None:
        """Consume until ``request_stop`` (or a fatal error, which is raised after shutdown)."""
        if self._started:
            raise RuntimeError("ConsumerEngine.run() may be called only once")
        self._started = True
        producer = self._producer = Producer(self._producer_config)
        if self._transactional:
            producer.init_transactions(self._settings.shutdown_deadline_s)
        self._consumer = Consumer(self._consumer_config)
        self._committer = OffsetCommitter(
            self._consumer,
            producer,
            transactional=self._transactional,
            timeout_s=self._revoke_deadline_s,
            observe_latency=self._metrics.commit_latency.labels(self.group_id).observe,
        )
        self._pool.start()
        if self._on_assignment is not None:
            self._partition_counts = self._fetch_partition_counts()
        self._health.start()
        self._consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        with startup_heap_frozen(self._settings.freeze_startup_heap):
            try:
                self._loop()
            except EngineError as exc:
                self._fail(exc)
            finally:
                self._shutdown(producer)
        if self._fatal is not None:
            raise self._fatal

    def request_stop(self) -> None:
        """Ask ``run`` to stop gracefully; safe from any thread or a signal handler."""
        self._stop.set()

    def is_ready(self) -> bool:
        """True once the member joined its group, while it runs and its dependencies answer
        (for ``/readyz``)."""
        return (
            self._joined and not self._stop.is_set() and self._fatal is None and self._health.all_up
        )

    @property
    def health(self) -> DependencyHealth:
        """Which dependencies are down now."""
        return self._health

    @property
    def assignment(self) -> list[PartitionId]:
        return self._scheduler.assigned()

    @property
    def buffered(self) -> int:
        """Messages fetched and not yet committable, over all partitions."""
        return sum(self._scheduler.buffered().values())

    @property
    def partitions_with_work(self) -> set[PartitionId]:
        """Assigned partitions holding messages fetched and not yet done (any thread)."""
        return {p for p, count in self._scheduler.buffered().items() if count > 0}

    @property
    def max_buffered_seen(self) -> int:
        """The most messages ever buffered at once (what backpressure bounds)."""
        return self._max_buffered_seen

    # --- the polling loop --------------------------------------------------------------

    def _loop(self) -> None:
        consumer = self._consumer
        scheduler = self._scheduler
        crowded = False
        health = self._health
        while not self._stop.is_set() and self._fatal is None:
            if not health.all_up:
                self._ride_out_outage()
                continue
            # Commit on the policy, or as soon as anything completed while the
            # buffer is nearly full: only passing the watermark frees room.
            completed = scheduler.completed_since_collect
            if completed and (crowded or self._policy.due(completed)):
                self._commit(None, wait=False)
            buffered = scheduler.buffered()
            total = sum(buffered.values())
            self._max_buffered_seen = max(self._max_buffered_seen, total)
            holding_off = self._apply_flow_control(buffered)
            budget = self._flow.fetch_budget(buffered, total, self._paused)
            crowded = holding_off or budget < _MAX_FETCH or bool(self._paused)
            messages: list[Any] = []
            if holding_off:
                scheduler.wait_progress(_POLL_TIMEOUT_S)
            elif budget > 0 and len(self._paused) < len(buffered):
                messages = self._fetch(min(budget, _MAX_FETCH))
            else:
                # Nothing may be fetched: serve the group protocol (so the member is
                # not expelled however long the handler blocks), then wait for room.
                one = consumer.poll(0)
                if one is not None:
                    messages = [one]
                else:
                    scheduler.wait_progress(_POLL_TIMEOUT_S)
            if messages:
                self._intake(messages)
            if self._counts_stale:
                self._refresh_partition_counts()
            scheduler.nudge()
            self._update_gauges(buffered)

    def _ride_out_outage(self) -> None:
        """One tick while a dependency is down: fetch nothing, run nothing new, stay in the group.

        Every assigned partition is paused (flow control resumes them once all is back),
        what completed is still committed while Kafka answers, and polling goes on so the
        member keeps its partitions; held messages wait, uncommitted, in the scheduler.
        """
        scheduler = self._scheduler
        if scheduler.completed_since_collect and self._health.is_up("kafka"):
            self._commit(None, wait=False)
        fetching = [p for p in scheduler.assigned() if p not in self._paused]
        if fetching:
            self._consumer.pause([TopicPartition(t, p) for t, p in fetching])
            self._paused.update(fetching)
            self._held.difference_update(fetching)
        one = self._consumer.poll(_POLL_TIMEOUT_S)  # rebalances, and the group's liveness
        if one is not None:
            self._intake([one])  # fetched before its partition was paused: held like the rest
        self._update_gauges(scheduler.buffered())

    def _on_dependencies(self, all_up: bool) -> None:
        """A dependency went down (hold all work) or the last one came back (let it go on)."""
        if all_up:
            self._scheduler.resume()
        else:
            self._scheduler.hold()

    def _probe_kafka(self) -> None:
        producer = self._producer
        if producer is None:
            raise RuntimeError("the engine is not running")
        producer.list_topics(timeout=_KAFKA_PROBE_TIMEOUT_S)

    def _fetch(self, limit: int) -> list[Any]:
        """What librdkafka has prefetched, up to ``limit``; if nothing, the first to arrive.

        ``consume(n, timeout)`` returns early only once it has all ``n``: with
        fewer prefetched it sits out the whole timeout while the messages it
        holds wait, which at the end of a burst (or on a trickle) delayed every
        last batch by a full tick. So take what is there without waiting, and
        block only while there is nothing, returning as soon as one message arrives.
        """
        consumer = self._consumer
        messages: list[Any] = consumer.consume(limit, 0)
        if messages:
            return messages
        first = consumer.poll(_POLL_TIMEOUT_S)
        if first is None:
            return messages
        if limit == 1:
            return [first]
        return [first, *consumer.consume(limit - 1, 0)]

    def _intake(self, raw_messages: list[Any]) -> None:
        """Decode a fetched batch and queue it, or dead-letter what does not decode.

        The common case costs one ``decode`` call per message and nothing else in
        Python: conversion runs in C (``from_kafka_batch``), and the bookkeeping
        (dead-letter runs, queueing) is per stretch of messages between failures.
        """
        if any(map(KafkaMessage.error, raw_messages)):  # partition EOF events, broker errors
            fetched = []
            for raw in raw_messages:
                error = raw.error()
                if error is None:
                    fetched.append(raw)
                else:
                    self._on_message_error(error)
            raw_messages = fetched
        messages = from_kafka_batch(raw_messages)
        decode = self._decode
        while messages:
            values: list[T] = []
            append = values.append
            try:
                for message in messages:
                    append(decode(message))
            except Exception as exc:  # noqa: BLE001 - a dead letter or UndecodableMessage
                decoded = len(values)
                self._queue(messages[:decoded], values)  # keep offset order within the partition
                self._undecodable(messages[decoded], exc)
                messages = messages[decoded + 1 :]
            else:
                self._queue(messages, values)
                return

    def _queue(self, messages: list[Message[bytes | None]], values: list[T]) -> None:
        if not messages:
            return
        dead_letters = self._dead_letters
        if dead_letters is not None and dead_letters.runs:
            for partition in {message.partition_id for message in messages}:
                dead_letters.reset(partition)  # a message decoded: no run of dead letters
        self._scheduler.submit(with_values(messages, values))

    def _undecodable(self, message: Message[bytes | None], error: Exception) -> None:
        if isinstance(error, self._decode_errors):
            self._dead_letter(message, error)
            return
        raise UndecodableMessage(
            f"decoding {message.topic}[{message.partition}]@{message.offset} raised "
            f"{type(error).__name__}: {error}; it is not one of the dead-letter error types "
            f"{[t.__name__ for t in self._decode_errors]}, so the engine stops"
        ) from error

    def _dead_letter(self, message: Message[bytes | None], error: BaseException) -> None:
        if self._dead_letters is None:
            raise UndecodableMessage(
                f"{message.topic}[{message.partition}]@{message.offset} could not be decoded "
                f"({type(error).__name__}: {error}) and no dead-letter topic is configured"
            ) from error
        log.warning(
            "dead-lettering %s[%d]@%d: %s", message.topic, message.partition, message.offset, error
        )
        record = self._dead_letters.record(message, error)
        if not self._scheduler.submit_completed(message, [record]):
            return  # not our partition any more
        self._metrics.dead_letters.labels(self.group_id, message.topic, "undecodable").inc()
        self._metrics.processed.labels(self.group_id, message.topic, "dead_lettered").inc()
        self._dead_letters.count(message.partition_id, error)

    def _on_message_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.fatal():
            raise EngineError(f"the Kafka consumer hit a fatal error: {error.str()}")
        log.warning("consumer error (librdkafka retries it): %s", error.str())

    def _apply_flow_control(self, buffered: dict[PartitionId, int]) -> bool:
        """Pause and resume partitions; True while fetching should wait for room instead.

        A partition that reaches its bound is first only *held*: nothing is
        fetched for up to ``_pause_after_s`` (one cannot fetch around a
        partition without pausing it). Workers usually make room within
        moments, and pausing makes librdkafka drop what it prefetched for the
        partition, so fetching resumes only after a broker round trip (on a busy
        engine that cost more than all its other work). A partition still held
        after that, behind a blocked handler, is paused, and the loop goes on
        polling so the member stays in its group. Held or paused, a partition is
        released at half its bound.
        """
        to_pause, to_resume = self._flow.decide(buffered, self._paused | self._held)
        resume = [p for p in to_resume if p not in self._held]
        self._held.difference_update(to_resume)
        if resume:
            self._consumer.resume([TopicPartition(t, p) for t, p in resume])
            self._paused.difference_update(resume)
        if to_pause:
            if not self._held:
                self._held_since = time.monotonic()
            self._held.update(to_pause)
        if not self._held:
            return False
        if time.monotonic() - self._held_since < self._pause_after_s:
            return True
        self._consumer.pause([TopicPartition(t, p) for t, p in self._held])
        self._paused.update(self._held)
        self._held.clear()
        return False

    def _commit(self, partitions: Collection[PartitionId] | None, *, wait: bool = True) -> None:
        assert self._committer is not None
        collected = self._scheduler.collect(partitions)
        try:
            self._committer.commit(collected, wait=wait, settling=partitions)
        except KafkaUnavailable as exc:
            self._health.report(exc)  # the offsets wait in the committer for the broker
            return
        except EngineError:
            self._commits_broken = True
            raise
        if partitions is None:
            self._policy.committed()

    def _update_gauges(self, buffered: dict[PartitionId, int], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_gauges < _GAUGE_INTERVAL_S:
            return
        self._last_gauges = now
        group = self.group_id
        self._metrics.in_flight.labels(group).set(self._scheduler.running)
        self._metrics.buffered.labels(group).set(sum(buffered.values()))
        self._metrics.paused_partitions.labels(group).set(len(self._paused))
        self._metrics.assigned_partitions.labels(group).set(len(buffered))

    # --- rebalance callbacks (polling thread, inside consume) --------------------------

    def owns(self, topic: str, partition: int) -> bool:
        """Whether this member still owns ``topic[partition]`` (any thread)."""
        return (topic, partition) in self._owned

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        ids = [(tp.topic, tp.partition) for tp in partitions]
        self._owned.update(ids)
        self._scheduler.assign(ids)
        self._joined = True
        self._metrics.rebalances.labels(self.group_id, "assigned").inc(len(ids))
        log.info("assigned %s", ids)
        self._report_assignment()
        # Topics may have gained partitions (which rebalances): asked of the broker from the
        # loop, as a client call inside a rebalance callback corrupts confluent-kafka's state.
        self._counts_stale = self._on_assignment is not None

    def _on_revoke(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        ids = [(tp.topic, tp.partition) for tp in partitions]
        self._metrics.rebalances.labels(self.group_id, "revoked").inc(len(ids))
        self._owned.difference_update(ids)
        self._scheduler.stop_taking(ids)
        if not self._closing and not self._scheduler.wait_settled(ids, self._revoke_deadline_s):
            log.warning(
                "work on revoked partitions %s still running after %.1fs; abandoning it, the "
                "next owner will redo it",
                ids,
                self._revoke_deadline_s,
            )
        if not self._commits_broken and self._fatal is None:
            try:
                self._commit(ids)
            except EngineError as exc:
                self._fail(exc)
        self._forget(ids)
        log.info("revoked %s", ids)
        self._report_assignment()

    def _on_lost(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        ids = [(tp.topic, tp.partition) for tp in partitions]
        self._metrics.rebalances.labels(self.group_id, "lost").inc(len(ids))
        self._owned.difference_update(ids)
        log.warning("lost %s without a clean revoke; their uncommitted work is abandoned", ids)
        self._scheduler.stop_taking(ids)
        self._forget(ids)
        self._report_assignment()

    def _report_assignment(self) -> None:
        """Tell ``on_assignment`` what this member owns now."""
        if self._on_assignment is None:
            return
        assignment = Assignment(frozenset(self._scheduler.assigned()), dict(self._partition_counts))
        try:
            self._on_assignment(assignment)
        except Exception:  # a sizing hook must not break the group protocol
            log.exception("the on_assignment hook failed for %s", self.group_id)

    def _refresh_partition_counts(self) -> None:
        self._counts_stale = False
        counts = self._fetch_partition_counts()
        if counts != self._partition_counts:
            self._partition_counts.update(counts)
            self._report_assignment()

    def _fetch_partition_counts(self) -> dict[str, int]:
        """Partitions of each subscribed topic (one metadata request; none if it fails)."""
        try:
            metadata = self._consumer.list_topics(timeout=_METADATA_TIMEOUT_S)
        except KafkaException as exc:
            log.warning("no partition counts for %s: %s", self.topics, exc)
            return {}
        counts: dict[str, int] = {}
        for topic in self.topics:
            described = metadata.topics.get(topic)
            if described is not None and described.error is None and described.partitions:
                counts[topic] = len(described.partitions)
        return counts

    def _forget(self, ids: list[PartitionId]) -> None:
        self._scheduler.remove(ids)
        if self._committer is not None:
            self._committer.forget(ids)
        # librdkafka keeps a partition's pause flag across a revoke: were it assigned to
        # us again, it would stay paused while we believe it fetching, and stall.
        paused = [TopicPartition(t, p) for t, p in ids if (t, p) in self._paused]
        if paused:
            try:
                self._consumer.resume(paused)
            except KafkaException as exc:
                log.warning("could not resume revoked partitions %s: %s", paused, exc)
        self._paused.difference_update(ids)
        self._held.difference_update(ids)
        for topic, partition in ids:
            with contextlib.suppress(KeyError):
                self._metrics.consumer_lag.remove(self.group_id, topic, str(partition))

    # --- librdkafka callbacks ------------------------------------------------------------

    def _on_statistics(self, statistics_json: str) -> None:
        committed = self._committer.last_committed if self._committer else {}
        fetched = {p: nxt for p, (nxt, _) in self._scheduler.positions().items()}
        for (topic, partition), value in lag(
            reported_offsets(statistics_json), fetched, committed
        ).items():
            self._metrics.consumer_lag.labels(self.group_id, topic, str(partition)).set(value)

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if self._committer is not None:
            self._committer.on_commit(error, partitions)

    def _on_client_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fail(EngineError(f"the Kafka client hit a fatal error: {error.str()}"))
        elif error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._health.report(KafkaUnavailable(f"no Kafka broker answers ({error.str()})"))
        else:
            # librdkafka retries these itself; how they are logged is the caller's (the
            # application's logs them once a minute, an unreachable cluster naming the setting).
            self._report_client_error(error)

    # --- stopping ------------------------------------------------------------------------

    def _fail(self, error: BaseException) -> None:
        if self._fatal is None:
            self._fatal = error
            log.error("consumer engine stopping: %s", error)
        if isinstance(error, OutputDeliveryError):
            self._commits_broken = True
        self._stop.set()

    def _shutdown(self, producer: Any) -> None:
        consumer = self._consumer
        deadline = time.monotonic() + self._settings.shutdown_deadline_s
        assigned = self._scheduler.assigned()
        try:
            if assigned:
                consumer.pause([TopicPartition(t, p) for t, p in assigned])
            # Finish what is buffered while the deadline allows, then abandon the rest.
            # After a handler or engine failure nothing more should run.
            # While a dependency is down held work cannot finish: leave it to the next run.
            drain = self._fatal is None or isinstance(self._fatal, DeadLetterLimitExceeded)
            drain = drain and self._health.all_up
            while drain and not self._scheduler.wait_drained(0.1):
                if time.monotonic() >= deadline:
                    break
                consumer.poll(0)  # serve the group protocol while we wait
            self._scheduler.stop_taking(assigned)
            while not self._scheduler.wait_settled(assigned, 0.1):
                if time.monotonic() >= deadline:
                    log.warning("shutdown deadline passed; abandoning running work")
                    break
                consumer.poll(0)
            if not self._commits_broken:
                try:
                    self._commit(None)
                except EngineError as exc:
                    self._fail(exc)
        finally:
            self._closing = True
            self._health.stop()
            try:
                consumer.close()
            finally:
                self._pool.stop(max(0.0, min(1.0, deadline - time.monotonic())))
                producer.flush(max(0.0, deadline - time.monotonic()))
                self._update_gauges({}, force=True)
                self._joined = False
                # Drop the clients so librdkafka's threads end now, not at garbage collection.
                self._committer = None
                self._consumer = None
                self._producer = None
