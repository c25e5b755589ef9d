"""Which bridge replica streams: a lease held through Kafka's consumer group protocol.

Every replica joins one consumer group on a one-partition lease topic
(``<prefix>.bridge.lease``); the member the group assigns partition 0 leads and
streams, the others wait. Replicas with different channel sets use different
groups (the default group name is derived from the channel set), so each set has
its own leader.

Invariants:

- **The old leader stops before a new one starts.** Stepping down (flush, final
  checkpoint) happens inside the revoke callback; the group cannot hand the
  partition to another member until this member has left or rejoined, which it
  does only after the callback returns. A leader that shuts down leaves the group
  only after stepping down.
- **A dead leader is replaced within the session timeout.** Its heartbeats stop,
  the coordinator expires it after ``bridge.lease_session_timeout_ms`` and assigns
  partition 0 to a waiting member, which resumes from the stored checkpoints: no
  event is lost, and events the dead leader produced after its last checkpoint are
  produced again.
- A leader that is cut off from the coordinator for longer than the session
  timeout learns of it on its next poll (the ``on_lost`` callback) and steps down;
  until then both may produce, which again only duplicates events.

No offsets are ever committed: the lease topic holds no messages, the group
exists only for its assignment.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from cpqsync.kafka.clients import base_config
from cpqsync.settings import Settings
from producer_bridge import metrics

log = logging.getLogger(__name__)

_POLL_S = 0.2
LEASE_PARTITION = 0


def lease_group(settings: Settings) -> str:
    """The configured group, or one per topic prefix and channel set."""
    if settings.bridge.lease_group:
        return settings.bridge.lease_group
    channels = ",".join(sorted(settings.bridge.channels))
    digest = hashlib.sha256(channels.encode()).hexdigest()[:12]
    return f"{settings.kafka.topic_prefix}-bridge-lease-{digest}"


def lease_consumer_config(settings: Settings, bootstrap_servers: str) -> dict[str, Any]:
    session_ms = settings.bridge.lease_session_timeout_ms
    return {
        **base_config(settings.kafka, bootstrap_servers),
        "group.id": lease_group(settings),
        "client.id": "cpqsync-bridge-lease",
        "enable.auto.commit": False,
        "auto.offset.reset": "latest",
        # Sticky: a member joining or leaving does not move the lease off a live leader.
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(100, min(3_000, session_ms // 3)),
    }


class Lease:
    """Holds the lease while running; ``lead`` streams until ``step_down`` is called.

    ``lead`` runs on a thread of its own and must return soon after ``step_down``;
    an exception from it ends :meth:`hold`, which re-raises it after leaving the group.
    """

    def __init__(
        self,
        settings: Settings,
        bootstrap_servers: str,
        topic: str,
        lead: Callable[[], None],
        step_down: Callable[[], None],
        consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
    ) -> None:
        self._config = lease_consumer_config(settings, bootstrap_servers)
        self._topic = topic
        self._lead = lead
        self._step_down = step_down
        self._consumer_factory = consumer_factory
        self._leader: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._failed = threading.Event()
        self._joined = threading.Event()

    @property
    def group(self) -> str:
        return str(self._config["group.id"])

    @property
    def leading(self) -> bool:
        return self._leader is not None

    @property
    def joined(self) -> bool:
        """The group has answered at least once (as leader or as standby)."""
        return self._joined.is_set()

    def hold(self, stop: threading.Event) -> None:
        """Take part in the group until ``stop`` is set; leads while holding partition 0."""
        consumer = self._consumer_factory(self._config)
        consumer.subscribe(
            [self._topic], on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost
        )
        log.info("bridge lease: joining group %s on %s", self.group, self._topic)
        try:
            while not stop.is_set() and not self._failed.is_set():
                consumer.poll(_POLL_S)
        finally:
            # Step down before leaving: the next leader must find the final checkpoints.
            self._release("shutting down")
            consumer.close()
        if self._failure is not None:
            raise self._failure

    # -- group callbacks (run inside poll) ---------------------------------------------------

    def _assigned(self, _consumer: Any, partitions: Sequence[TopicPartition]) -> None:
        self._joined.set()
        if any(p.partition == LEASE_PARTITION for p in partitions) and self._leader is None:
            log.info("bridge lease: acquired in group %s; streaming", self.group)
            metrics.LEASE_CHANGES.labels("acquired").inc()
            self._leader = threading.Thread(target=self._run_leader, name="bridge-leader")
            self._leader.start()
        elif self._leader is None:
            log.info("bridge lease: standby in group %s; another replica streams", self.group)

    def _revoked(self, _consumer: Any, partitions: Sequence[TopicPartition]) -> None:
        if any(p.partition == LEASE_PARTITION for p in partitions):
            self._release("revoked")

    def _lost(self, _consumer: Any, partitions: Sequence[TopicPartition]) -> None:
        if any(p.partition == LEASE_PARTITION for p in partitions):
            self._release("lost")

    # -- leading ----------------------------------------------------------------------------

    def _run_leader(self) -> None:
        try:
            self._lead()
        except BaseException as exc:  # noqa: BLE001 - re-raised by hold()
            self._failure = exc
            self._failed.set()

    def _release(self, reason: str) -> None:
        leader = self._leader
        if leader is None:
            return
        log.info("bridge lease: %s; stopping the streams and checkpointing", reason)
        self._step_down()
        leader.join()
        self._leader = None
        metrics.LEASE_CHANGES.labels(reason).inc()
        log.info("bridge lease: released (%s)", reason)
