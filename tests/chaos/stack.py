"""The whole connector as subprocesses around an in-process org simulator and Stripe emulator.

Settings start from the sync end-to-end tests' (``tests.sync.stack.stack_settings``) and change
only what a chaos run needs: fast group timeouts so a killed member is noticed in seconds, the
bridge resuming from the earliest retained event (``on_invalid_replay_id=earliest``), and
metrics on so the security checks can scrape them. The Stripe key travels in the environment,
as a container would inject it, never in the YAML file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.settings import Settings
from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from schemas.codec import Codec, SchemaDecodeError
from schemas.models import RootWork, SyncResult
from tests.bridge.kafka_read import Read, read_topic
from tests.chaos.roles import RoleProcess
from tests.sync.stack import stack_settings

SYNC_MEMBERS = 2


def chaos_settings(
    org: OrgSimulator,
    stripe: StripeEmulator,
    kafka: str,
    prefix: str,
    partitions: int = 4,
    *,
    inline_line_prices: bool = False,
) -> Settings:
    base = stack_settings(org, stripe, kafka, prefix, inline_line_prices=inline_line_prices)
    return base.model_copy(
        update={
            "kafka": base.kafka.model_copy(
                update={
                    "partitions": partitions,
                    "client_config": {"heartbeat.interval.ms": 1000},
                }
            ),
            "consumer": base.consumer.model_copy(
                update={
                    "workers": 8,
                    "max_attempts": 12,
                    "retry_max_backoff_ms": 2_000,
                    "session_timeout_ms": 6_000,
                    "max_poll_interval_ms": 30_000,
                    "revoke_deadline_s": 5,
                    "shutdown_deadline_s": 5,
                }
            ),
            "bridge": base.bridge.model_copy(
                update={"initial_position": "EARLIEST", "on_invalid_replay_id": "earliest"}
            ),
            "stripe": base.stripe.model_copy(
                update={"api_key": None, "timeout_s": 3, "requests_per_second": 40}
            ),
            "metrics": base.metrics.model_copy(update={"enabled": True}),
        }
    )


def write_config(settings: Settings, path: Path) -> Path:
    """The YAML a deployment would hold: no secret in it (the Stripe key is in the env)."""
    data: dict[str, Any] = settings.model_dump(mode="json", exclude_none=True)
    data["stripe"].pop("api_key", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class ChaosStack:
    org: OrgSimulator
    stripe: StripeEmulator
    kafka: str
    settings: Settings
    run_dir: Path
    bridge: RoleProcess
    syncs: list[RoleProcess]
    spare_sync: RoleProcess
    writeback: RoleProcess
    codec: Codec = field(default_factory=Codec)

    @property
    def topics(self) -> Topics:
        return Topics(self.settings.kafka.topic_prefix)

    @property
    def roles(self) -> list[RoleProcess]:
        return [self.bridge, *self.syncs, self.spare_sync, self.writeback]

    def start(self) -> None:
        for role in (self.bridge, *self.syncs, self.writeback):
            role.start()

    def stop(self) -> None:
        for role in self.roles:
            role.terminate(timeout=15)

    def results(self) -> list[SyncResult]:
        """Every result on the topic; the poison the run planted there is left out."""
        topic = self.topics.sync_results
        out = []
        for message in read_topic(self.kafka, topic, timeout=60):
            try:
                out.append(self.codec.decode_as(message.value, topic, SyncResult))
            except SchemaDecodeError:
                continue
        return out

    def root_work(self) -> list[RootWork]:
        """Every root work message on the repartition topic (the sync's own hop)."""
        topic = self.topics.sync_roots
        out = []
        for message in read_topic(self.kafka, topic, timeout=60):
            try:
                out.append(self.codec.decode_as(message.value, topic, RootWork))
            except SchemaDecodeError:
                continue
        return out

    def dead_letters(self) -> list[Read]:
        return read_topic(self.kafka, self.topics.dlq, timeout=30)


@contextmanager
def chaos_stack(
    org: OrgSimulator,
    stripe: StripeEmulator,
    kafka: str,
    prefix: str,
    run_dir: Path,
    *,
    inline_line_prices: bool = False,
) -> Iterator[ChaosStack]:
    settings = chaos_settings(org, stripe, kafka, prefix, inline_line_prices=inline_line_prices)
    ensure_topics(kafka, Topics(prefix).all_topics(), partitions=settings.kafka.partitions)
    config = write_config(settings, run_dir / "cpqsync.yaml")
    env = {"CPQSYNC_STRIPE__API_KEY": stripe.api_key}
    group = f"{prefix}-sync"

    def role(name: str, *command: str) -> RoleProcess:
        return RoleProcess(name, [*command, "--config", str(config)], run_dir / f"{name}.log", env)

    syncs = [role(f"sync-{n + 1}", "sync", "--group", group) for n in range(SYNC_MEMBERS)]
    stack = ChaosStack(
        org=org,
        stripe=stripe,
        kafka=kafka,
        settings=settings,
        run_dir=run_dir,
        bridge=role("bridge", "bridge"),
        syncs=syncs,
        spare_sync=role(f"sync-{SYNC_MEMBERS + 1}", "sync", "--group", group),
        writeback=role("writeback", "writeback"),
    )
    try:
        yield stack
    finally:
        stack.stop()
