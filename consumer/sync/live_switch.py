"""The live-sync switch (rule S4), flippable at runtime through a compacted control topic.

Why a topic rather than a config reload: every sync process of a group must agree on the
switch, and an operator flips it once (``cpqsync live-sync off``) rather than editing the
configuration of each process. The control topic (``<prefix>.control``, compacted) keeps the
newest record per key; the switch lives under the key ``sync.live`` as a small JSON document
(``{"live": false, "changed_by": "...", "changed_at": "..."}``), readable with any Kafka tool.
Each process reads the topic to its end before consuming events (so it never syncs on a stale
value), then follows it from a background thread. Without a record, ``sync.live`` from the
settings decides.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import threading
import uuid
from typing import Any, Protocol

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from cpqsync.kafka.clients import base_config, producer_config
from cpqsync.kafka.offsets import end_offsets
from cpqsync.settings import KafkaSettings

LIVE_KEY = b"sync.live"
log = logging.getLogger(__name__)


class LiveState(Protocol):
    def is_live(self) -> bool: ...


class FixedLiveState:
    """A switch that never changes (``cpqsync plan``, unit tests)."""

    def __init__(self, live: bool) -> None:
        self._live = live

    def is_live(self) -> bool:
        return self._live


def encode_switch(live: bool, changed_by: str) -> bytes:
    document = {
        "live": live,
        "changed_by": changed_by,
        "changed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(document, separators=(",", ":")).encode()


def decode_switch(value: bytes | None) -> bool | None:
    """The switch in a control record; None for a tombstone or an unreadable record."""
    if not value:
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    live = document.get("live") if isinstance(document, dict) else None
    return live if isinstance(live, bool) else None


def publish_live(
    kafka: KafkaSettings, bootstrap: str, topic: str, live: bool, changed_by: str | None = None
) -> None:
    """Flip the switch for every sync process reading ``topic``."""
    producer = Producer(producer_config(kafka, bootstrap))
    producer.produce(topic, encode_switch(live, changed_by or getpass.getuser()), LIVE_KEY)
    if producer.flush(15) != 0:
        raise RuntimeError(f"the control topic {topic} did not acknowledge the live-sync switch")


class LiveSwitch:
    """Follows the control topic; ``is_live`` is safe from any thread."""

    def __init__(self, kafka: KafkaSettings, bootstrap: str, topic: str, *, default: bool) -> None:
        self._kafka = kafka
        self._bootstrap = bootstrap
        self._topic = topic
        self._live = default
        self._from_topic = False
        self._lock = threading.Lock()
        self._loaded = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def is_live(self) -> bool:
        with self._lock:
            return self._live

    @property
    def set_by_topic(self) -> bool:
        with self._lock:
            return self._from_topic

    def start(self, timeout: float = 30.0) -> LiveSwitch:
        """Read the topic to its end (raises on timeout), then keep following it."""
        self._thread = threading.Thread(target=self._follow, name="live-switch", daemon=True)
        self._thread.start()
        if not self._loaded.wait(timeout):
            self.stop()
            raise TimeoutError(f"could not read the control topic {self._topic} in {timeout}s")
        if self._error is not None:
            raise RuntimeError(f"reading the control topic {self._topic} failed") from self._error
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _follow(self) -> None:
        config: dict[str, Any] = {
            **base_config(self._kafka, self._bootstrap),
            "group.id": f"cpqsync-live-switch-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
        consumer = Consumer(config)
        try:
            meta = consumer.list_topics(self._topic, timeout=10).topics[self._topic]
            partitions = [TopicPartition(self._topic, p) for p in meta.partitions]
            ends = end_offsets(self._bootstrap, partitions)
            pending = {p.partition: ends[(self._topic, p.partition)] for p in partitions}
            pending = {p: end for p, end in pending.items() if end > 0}
            consumer.assign(
                [TopicPartition(self._topic, p.partition, OFFSET_BEGINNING) for p in partitions]
            )
            if not pending:
                self._loaded.set()
            while not self._stop.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("control topic read error: %s", error.str())
                    continue
                if message.key() == LIVE_KEY:
                    self._apply(decode_switch(message.value()))
                partition, offset = message.partition(), message.offset() or 0
                if partition in pending and offset + 1 >= pending[partition]:
                    del pending[partition]
                    if not pending:
                        self._loaded.set()
        except Exception as exc:
            self._error = exc
            log.exception("the live-sync switch stopped following %s", self._topic)
            self._loaded.set()
        finally:
            consumer.close()

    def _apply(self, live: bool | None) -> None:
        if live is None:
            return
        with self._lock:
            changed = live != self._live
            self._live, self._from_topic = live, True
        if changed:
            log.info("live sync is now %s", "on" if live else "off")
