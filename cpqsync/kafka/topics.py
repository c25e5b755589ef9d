"""Topic names (DESIGN section 2) and their creation.

Names derive from one configurable prefix so that several deployments can share
a cluster. The checkpoint topic is compacted: only the newest replay id per
channel matters.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from cpqsync.kafka.clients import admin_config
from cpqsync.settings import KafkaSettings

# Salesforce object → topic suffix.
OBJECT_TOPICS = {
    "Account": "sf.account",
    "Order": "sf.order",
    "OrderItem": "sf.order_item",
    "Product2": "sf.product",
    "PricebookEntry": "sf.pricebook_entry",
}


@dataclass(frozen=True)
class Topics:
    prefix: str = "cpqsync"
    # ``kafka.sync_roots_topic``: the repartition topic's own name, when not the prefix's.
    sync_roots_name: str | None = None

    @classmethod
    def for_kafka(cls, kafka: KafkaSettings) -> Topics:
        return cls(kafka.topic_prefix, kafka.sync_roots_topic)

    def object_topic(self, sobject: str) -> str:
        try:
            return f"{self.prefix}.{OBJECT_TOPICS[sobject]}"
        except KeyError:
            raise KeyError(f"no topic for Salesforce object {sobject!r}") from None

    @property
    def change_topics(self) -> list[str]:
        return [f"{self.prefix}.{suffix}" for suffix in OBJECT_TOPICS.values()]

    @property
    def sync_requests(self) -> str:
        return f"{self.prefix}.sync.requests"

    @property
    def sync_results(self) -> str:
        return f"{self.prefix}.sync.results"

    @property
    def sync_roots(self) -> str:
        """The sync's repartition topic: work keyed by billing root, so that Kafka's partition
        ownership decides which member of the group syncs a root."""
        return self.sync_roots_name or f"{self.prefix}.sync.roots"

    @property
    def sync_demand(self) -> str:
        """Each sync member's report of which of its roots partitions have work, so the
        account's Stripe budget goes to the members that have some (short retention: only
        the last few seconds matter)."""
        return f"{self.prefix}.sync.demand"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def bridge_checkpoints(self) -> str:
        return f"{self.prefix}.bridge.checkpoints"

    @property
    def bridge_lease(self) -> str:
        """One partition; its owner in a bridge lease group is the replica that streams."""
        return f"{self.prefix}.bridge.lease"

    def lease_topics(self) -> dict[str, dict[str, str]]:
        """Topics that must have exactly one partition (create them with ``partitions=1``)."""
        return {self.bridge_lease: {}}

    @property
    def stripe_events(self) -> str:
        """Stripe's events (webhooks and catch-up), keyed by Stripe customer id (rule B1)."""
        return f"{self.prefix}.stripe.events"

    @property
    def control(self) -> str:
        return f"{self.prefix}.control"

    def all_topics(self) -> dict[str, dict[str, str]]:
        """Every topic with its topic-level config."""
        compacted = {"cleanup.policy": "compact"}
        topics: dict[str, dict[str, str]] = {name: {} for name in self.change_topics}
        topics[self.sync_requests] = {}
        topics[self.sync_results] = {}
        topics[self.sync_roots] = {}
        topics[self.sync_demand] = {"retention.ms": str(10 * 60 * 1000)}
        topics[self.dlq] = {}
        topics[self.stripe_events] = {}
        topics[self.bridge_checkpoints] = compacted
        topics[self.control] = compacted
        return topics


def ensure_topics(
    bootstrap_servers: str,
    topics: dict[str, dict[str, str]],
    partitions: int = 6,
    replication_factor: int = 1,
    extra_config: dict[str, str | int | float | bool] | None = None,
) -> None:
    """Create whichever of ``topics`` do not exist yet; existing ones are left alone."""
    admin = AdminClient(admin_config(bootstrap_servers, extra_config))
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [
        NewTopic(name, partitions, replication_factor, config=config)
        for name, config in topics.items()
        if name not in existing
    ]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, operation_timeout=10).items():
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"could not create topic {name}: {exc}") from exc
