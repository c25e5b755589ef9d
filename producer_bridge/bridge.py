"""The bridge process: one :class:`ChannelStream` thread per configured channel.

Wiring only: log in, make sure the topics exist, read the checkpoints, then run
every channel until stopped. The first channel that fails fatally stops the
others and its error is re-raised, so ``cpqsync bridge`` exits non-zero with the
message that names the channel.

With ``bridge.leader_election`` the channels run only while this replica holds
the lease (:mod:`producer_bridge.leadership`); each leadership term reads the
checkpoints afresh, so it resumes where the previous leader stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from confluent_kafka import Producer

from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.pubsub_client import PubSubClient
from cpqsync.settings import Settings
from producer_bridge import metrics
from producer_bridge.cdc_decoder import ChangeEventDecoder
from producer_bridge.channel_stream import BridgeFatalError, ChannelStream
from producer_bridge.checkpoint_store import load_checkpoints
from producer_bridge.event_publisher import EventPublisher
from producer_bridge.leadership import Lease
from schemas.codec import Codec

log = logging.getLogger(__name__)


def topic_router(topics: Topics) -> Callable[[str], str | None]:
    """Object name → its topic, or None for objects cpqsync does not sync."""

    def topic_for(object_type: str) -> str | None:
        try:
            return topics.object_topic(object_type)
        except KeyError:
            return None

    return topic_for


class Bridge:
    """Runs until :meth:`stop`; :meth:`run` raises :class:`BridgeFatalError` on a fatal error."""

    def __init__(
        self,
        settings: Settings,
        bootstrap_servers: str,
        auth: SalesforceAuth | None = None,
        codec: Codec | None = None,
    ) -> None:
        self._settings = settings
        self._bootstrap = bootstrap_servers
        self._auth = auth or SalesforceAuth(settings.salesforce)
        self._codec = codec or Codec.from_settings(settings.kafka)
        self._topics = Topics(settings.kafka.topic_prefix)
        self._stop = threading.Event()
        self._term_stop = threading.Event()  # ends one leadership term (the run, without a lease)
        self._lease: Lease | None = None
        self._streams: list[ChannelStream] = []
        self._client: PubSubClient | None = None
        self._started = threading.Event()

    @property
    def streams(self) -> list[ChannelStream]:
        return list(self._streams)

    def ready(self) -> bool:
        """Every channel has an open subscription (for ``/readyz``); a standby replica that
        has joined the lease group is ready too: waiting is its job."""
        lease = self._lease
        if lease is not None and not lease.leading:
            return lease.joined
        return (
            self._started.is_set()
            and bool(self._streams)
            and all(s.subscribed.is_set() for s in self._streams)
        )

    @property
    def leading(self) -> bool:
        """Whether this replica streams (always, without leader election)."""
        return self._lease is None or self._lease.leading

    def stop(self) -> None:
        self._stop.set()
        self._end_term()

    def _end_term(self) -> None:
        self._term_stop.set()
        for stream in self._streams:
            stream.interrupt()

    def run(self) -> None:
        kafka = self._settings.kafka
        ensure_topics(
            self._bootstrap,
            self._topics.all_topics(),
            kafka.partitions,
            kafka.replication_factor,
            kafka.client_config,
        )
        if not self._settings.bridge.leader_election:
            self._term_stop = self._stop
            self._lead()
            return
        ensure_topics(
            self._bootstrap,
            self._topics.lease_topics(),
            1,
            kafka.replication_factor,
            kafka.client_config,
        )
        metrics.LEADER.set(0)
        self._lease = Lease(
            self._settings, self._bootstrap, self._topics.bridge_lease, self._lead, self._end_term
        )
        self._lease.hold(self._stop)

    def _lead(self) -> None:
        """One leadership term: stream every channel from its stored checkpoint until the
        term ends; the streams flush and checkpoint before this returns."""
        self._streams = []
        try:
            self._stream_term()
        finally:
            self._started.clear()
            if self._lease is not None:
                # The next term's event; a step-down that came before this term started its
                # streams has already set the current one, so that term ends at once.
                self._term_stop = threading.Event()

    def _stream_term(self) -> None:
        kafka = self._settings.kafka
        checkpoints = load_checkpoints(
            self._bootstrap,
            self._topics.bridge_checkpoints,
            self._codec,
            extra_config=dict(kafka.client_config),
        )
        session = self._auth.session()
        log.info(
            "bridge: org %s at %s, %d channel(s), %d checkpoint(s) found",
            session.org_id,
            session.instance_url,
            len(self._settings.bridge.channels),
            len(checkpoints),
        )
        client = PubSubClient(self._auth, self._settings.salesforce)
        self._client = client
        decoder = ChangeEventDecoder(client, org_id=session.org_id)
        router = topic_router(self._topics)
        for channel in self._settings.bridge.channels:
            producer = Producer(
                {**producer_config(kafka, self._bootstrap), "client.id": f"cpqsync-bridge{channel}"}
            )
            publisher = EventPublisher(
                producer,
                self._codec,
                router,
                self._topics.dlq,
                self._topics.bridge_checkpoints,
                channel,
            )
            self._streams.append(
                ChannelStream(
                    channel,
                    client,
                    decoder,
                    publisher,
                    self._settings.bridge,
                    checkpoints.get(channel),
                    self._term_stop,
                )
            )
        self._started.set()
        metrics.LEADER.set(1)
        try:
            self._run_streams()
        finally:
            metrics.LEADER.set(0)
            client.close()

    def _run_streams(self) -> None:
        errors: list[BaseException] = []
        lock = threading.Lock()

        def target(stream: ChannelStream) -> None:
            try:
                stream.run()
            except BaseException as exc:  # noqa: BLE001 - any channel failure stops the bridge
                with lock:
                    errors.append(exc)
                self.stop()

        threads = [
            threading.Thread(target=target, args=(s,), name=f"bridge{s.channel}", daemon=True)
            for s in self._streams
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
        if errors:
            first = errors[0]
            if isinstance(first, BridgeFatalError):
                raise first
            raise BridgeFatalError(f"bridge stopped: {type(first).__name__}: {first}") from first
