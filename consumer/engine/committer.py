"""Produce the outputs a watermark released, then commit the offsets that cover them.

At-least-once: produce, flush, verify every delivery, and only then commit the
offsets, so a crash anywhere leaves outputs at worst duplicated, never missing.
Routine commits send the offsets asynchronously (the outputs they cover are
already acknowledged, and a lost or failed commit only means the next one, or
the next owner, covers those offsets again), so the polling thread does not
wait a broker round trip every few hundred messages; commits on revocation and
shutdown wait for the broker's answer.

Exactly-once: outputs and offsets go in one Kafka transaction, so consumers
reading with ``isolation.level=read_committed`` see each output exactly once.
Transactions are short (opened and committed at each commit
point) because outputs wait in memory until their offset is committable; a
lost partition therefore never leaves half a transaction to abort.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.engine.errors import EngineError, OutputDeliveryError
from consumer.engine.messages import OutputMessage, PartitionId
from consumer.engine.outcomes import DependencyDown
from consumer.engine.scheduler import Collected

log = logging.getLogger(__name__)


class TransactionFailed(EngineError):
    """A transaction did not commit; a restart resumes from the last committed one."""


class KafkaUnavailable(DependencyDown):
    """Outputs were not acknowledged in time: their offsets wait, uncommitted, for the broker.

    The outputs stay in the producer's queue (librdkafka keeps sending them until
    ``message.timeout.ms``), so the next commit only waits for them again before it commits
    the offsets they cover; one that finally fails is an ``OutputDeliveryError``.
    """

    dependency = "kafka"


class OffsetCommitter:
    def __init__(
        self,
        consumer: Any,
        producer: Any,
        *,
        transactional: bool,
        timeout_s: float,
        observe_latency: Callable[[float], None] = lambda _seconds: None,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._transactional = transactional
        self._timeout_s = timeout_s
        self._observe_latency = observe_latency
        self._failures: list[str] = []
        self._failures_lock = threading.Lock()
        self._async_started: deque[float] = deque()  # asynchronous commits awaiting an answer
        self._unconfirmed: set[PartitionId] = set()  # last committed without waiting
        # Offsets whose outputs are queued but were not acknowledged in time (broker away).
        self._unacknowledged: dict[PartitionId, int] = {}
        self.last_committed: dict[PartitionId, int] = {}

    def commit(
        self,
        collected: Collected,
        *,
        wait: bool = True,
        settling: Collection[PartitionId] | None = None,
    ) -> None:
        """Make ``collected`` durable: its outputs acknowledged and its offsets committed.

        With ``wait=False`` the offsets are sent without waiting for the broker's
        answer (``on_commit`` gets it); the outputs are acknowledged either way.
        A waiting commit also sends again, and waits for, the offsets of the
        ``settling`` partitions (None: all) that were last committed without
        waiting: a partition handed to another member must not be read from an
        offset older than what was done here, which an unanswered commit could cause.
        """
        if wait and not self._transactional and self._unconfirmed:
            collected = {**self._unconfirmed_offsets(settling), **collected}
        if self._unacknowledged:
            waiting: Collected = {p: (offset, []) for p, offset in self._unacknowledged.items()}
            collected = {**waiting, **collected}  # a newer watermark covers the older one
        if not collected:
            return
        started = time.monotonic()
        offsets = [TopicPartition(t, p, offset) for (t, p), (offset, _) in collected.items()]
        outputs = [out for _, outs in collected.values() for out in outs]
        if self._transactional:
            self._commit_transaction(outputs, offsets)
        else:
            try:
                self._produce_and_flush(outputs)
            except KafkaUnavailable:
                self._unacknowledged = {p: offset for p, (offset, _) in collected.items()}
                raise
            self._unacknowledged = {}
            if wait:
                self._commit_offsets(offsets)
                self._unconfirmed.difference_update(collected)
            else:
                self._async_started.append(started)
                try:
                    self._consumer.commit(offsets=offsets, asynchronous=True)
                except KafkaException as exc:
                    self._async_started.pop()
                    log.warning("offset commit failed, the work will be redone: %s", exc)
                    return
                self._unconfirmed.update(collected)
        for (topic, partition), (offset, _) in collected.items():
            self.last_committed[(topic, partition)] = offset
        if wait or self._transactional:
            self._observe_latency(time.monotonic() - started)

    def forget(self, partitions: Collection[PartitionId]) -> None:
        """``partitions`` are no longer ours: never commit for them again (their new owner does)."""
        self._unconfirmed.difference_update(partitions)
        for partition in partitions:
            self.last_committed.pop(partition, None)
            self._unacknowledged.pop(partition, None)

    def _unconfirmed_offsets(self, partitions: Collection[PartitionId] | None) -> Collected:
        return {
            partition: (self.last_committed[partition], [])
            for partition in self._unconfirmed
            if partitions is None or partition in partitions
        }

    def on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """The broker's answer to an asynchronous commit (librdkafka's ``on_commit``)."""
        if self._async_started:
            self._observe_latency(time.monotonic() - self._async_started.popleft())
        if error is not None:
            log.warning("offset commit failed, the work will be redone: %s", error.str())
            return
        for tp in partitions or ():
            if tp.error is not None:
                log.warning("offset commit for %s[%d] failed: %s", tp.topic, tp.partition, tp.error)

    def _produce(self, outputs: list[OutputMessage]) -> None:
        for out in outputs:
            while True:
                try:
                    self._producer.produce(
                        out.topic,
                        value=out.value,
                        key=out.key,
                        headers=list(out.headers) or None,
                        on_delivery=self._on_delivery,
                    )
                    break
                except BufferError:
                    self._producer.poll(0.05)  # local queue full: let deliveries drain

    def _on_delivery(self, error: KafkaError | None, msg: Any) -> None:
        if error is not None:
            with self._failures_lock:
                self._failures.append(f"{msg.topic()}: {error.str()}")

    def _produce_and_flush(self, outputs: list[OutputMessage]) -> None:
        if outputs:
            self._produce(outputs)
        queued = outputs or self._unacknowledged  # earlier outputs may still be in the queue
        remaining = self._producer.flush(self._timeout_s) if queued else 0
        with self._failures_lock:
            failures, self._failures = self._failures, []
        if failures:
            raise OutputDeliveryError(
                f"{len(failures)} output(s) were rejected by Kafka, so their source offsets were "
                f"not committed (first: {failures[0]})"
            )
        if remaining:
            raise KafkaUnavailable(
                f"{remaining} output(s) were not acknowledged within {self._timeout_s}s, so "
                "their source offsets were not committed"
            )

    def _commit_offsets(self, offsets: list[TopicPartition]) -> None:
        try:
            results = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # A rebalance raced the commit: the partition's next owner reprocesses
            # from its last committed offset, which at-least-once allows.
            log.warning("offset commit failed, the work will be redone: %s", exc)
            return
        for tp in results or ():
            if tp.error is not None:
                log.warning("offset commit for %s[%d] failed: %s", tp.topic, tp.partition, tp.error)

    def _commit_transaction(
        self, outputs: list[OutputMessage], offsets: list[TopicPartition]
    ) -> None:
        producer = self._producer
        try:
            producer.begin_transaction()
            self._produce(outputs)
            producer.send_offsets_to_transaction(
                offsets, self._consumer.consumer_group_metadata(), self._timeout_s
            )
            producer.commit_transaction(self._timeout_s)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.txn_requires_abort():
                try:
                    producer.abort_transaction(self._timeout_s)
                except KafkaException as abort_exc:
                    log.error("aborting the failed transaction failed too: %s", abort_exc)
            raise TransactionFailed(
                f"the transaction with {len(outputs)} output(s) and offsets for "
                f"{len(offsets)} partition(s) did not commit: {exc}"
            ) from exc
        with self._failures_lock:
            failures, self._failures = self._failures, []
        if failures:
            raise OutputDeliveryError(
                f"{len(failures)} output(s) failed inside a committed transaction "
                f"(first: {failures[0]})"
            )
