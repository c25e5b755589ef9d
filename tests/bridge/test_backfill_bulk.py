"""Backfill through Bulk API 2.0 query jobs above ``bridge.bulk_threshold``: the real client
against the org simulator's Bulk endpoints and a real broker."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from cpqsync.app.cli.app import app
from cpqsync.kafka.clients import producer_config
from cpqsync.kafka.topics import Topics, ensure_topics
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import RetryableSalesforceError, SalesforceRest
from cpqsync.settings import Settings
from cpqsync_sandbox.org.simulator import OrgSimulator
from producer_bridge.backfill import Backfill
from schemas.codec import Codec
from tests.bridge.kafka_read import read_topic
from tests.bridge.test_bridge_acceptance import ACCOUNT, create_orders, settings_for

pytestmark = pytest.mark.integration

SET_SIZE = 100


@pytest.fixture
def prefix(unique: Callable[[str], str]) -> str:
    return unique("bulk")


def seed_orders(org_sim: OrgSimulator, matching: int) -> tuple[dt.datetime, list[str]]:
    """Orders activated before the start date, ``matching`` after it, and drafts after it."""
    before = create_orders(org_sim, 20, activate=True)
    last = org_sim.get("Order", before[-1])["ActivatedDate"]
    since = last.replace(microsecond=0) + dt.timedelta(seconds=1)
    time.sleep(max(0.0, (since - dt.datetime.now(dt.UTC)).total_seconds()) + 0.01)
    matching_ids = create_orders(org_sim, matching, activate=True)
    create_orders(org_sim, 15, activate=False)
    return since, matching_ids


def bulk_settings(org_sim: OrgSimulator, kafka: str, prefix: str, threshold: int) -> Settings:
    settings = settings_for(org_sim, kafka, prefix, [ACCOUNT])
    settings.bridge.bulk_threshold = threshold
    settings.bridge.backfill_bulk_set_size = SET_SIZE
    settings.bridge.backfill_page_size = SET_SIZE
    ensure_topics(kafka, Topics(prefix).all_topics(), partitions=3)
    return settings


def backfill(settings: Settings, kafka: str, org_sim: OrgSimulator) -> Backfill:
    return Backfill(
        settings,
        SalesforceRest(SalesforceAuth(settings.salesforce)),
        Producer(producer_config(settings.kafka, kafka)),
        kafka,
        org_id=org_sim.org_id,
    )


def published(kafka: str, prefix: str) -> list[tuple[Any, ...]]:
    """What consumers see of each snapshot: key, partition, record, type, values, timestamp."""
    topic = Topics(prefix).object_topic("Order")
    out = []
    for message in read_topic(kafka, topic):
        event = Codec().decode(message.value, topic)  # type: ignore[misc]
        out.append(
            (
                message.key,
                message.partition,
                event.record_id,
                event.change_type,
                tuple(sorted(event.values.items())),
                event.commit_timestamp,
            )
        )
    return out


def job_creations(org_sim: OrgSimulator) -> int:
    return sum(
        1 for e in org_sim.request_log if e.method == "POST" and e.path.endswith("/jobs/query")
    )


def test_bulk_job_publishes_the_same_events_as_soql_paging(
    org_sim: OrgSimulator, kafka: str, unique: Callable[[str], str]
) -> None:
    since, ids = seed_orders(org_sim, 250)
    soql_prefix, bulk_prefix = unique("soql"), unique("bulk")

    org_sim.clear_request_log()
    paged = backfill(bulk_settings(org_sim, kafka, soql_prefix, 10_000), kafka, org_sim)
    assert paged.run(since, ["Order"]) == {"Order": 250}
    assert job_creations(org_sim) == 0

    org_sim.clear_request_log()
    bulk = backfill(bulk_settings(org_sim, kafka, bulk_prefix, 250), kafka, org_sim)
    progress: list[int] = []
    totals: list[int] = []
    result = bulk.run(
        since,
        ["Order"],
        on_progress=lambda _n, page, _done: progress.append(page),
        on_total=lambda _n, total: totals.append(total),
    )
    assert result == {"Order": 250}
    assert job_creations(org_sim) == 1
    assert totals == [250] and progress == [100, 100, 50]  # one step per result set
    assert org_sim.bulk_jobs.all() == []  # the fully read job was deleted

    via_soql, via_bulk = published(kafka, soql_prefix), published(kafka, bulk_prefix)
    assert sorted(via_bulk) == sorted(via_soql)
    assert sorted(event[2] for event in via_bulk) == sorted(ids)


def test_interrupted_job_resumes_from_the_stored_locator(
    org_sim: OrgSimulator, kafka: str, prefix: str
) -> None:
    since, ids = seed_orders(org_sim, 450)
    settings = bulk_settings(org_sim, kafka, prefix, 1)

    def interrupt_after_two_sets(_name: str, _page: int, done: int) -> None:
        if done == 2 * SET_SIZE:
            org_sim.api_usage.fail_next(1)

    org_sim.clear_request_log()
    with pytest.raises(RetryableSalesforceError):
        backfill(settings, kafka, org_sim).run(
            since, ["Order"], on_progress=interrupt_after_two_sets
        )
    resumed = backfill(settings, kafka, org_sim).run(since, ["Order"])
    assert resumed == {"Order": 450 - 2 * SET_SIZE}
    assert job_creations(org_sim) == 1  # the same job, read on from its locator

    counts = Counter(event[2] for event in published(kafka, prefix))
    assert set(counts) == set(ids)
    assert sum(counts.values()) - len(ids) <= SET_SIZE

    # Finished: progress is now the greatest id, so a rerun finds only newer orders.
    newer = create_orders(org_sim, 3, activate=True)
    again = backfill(settings, kafka, org_sim).run(since, ["Order"])
    assert again == {"Order": 3}
    assert set(event[2] for event in published(kafka, prefix)) == set(ids) | set(newer)


def test_a_job_the_org_no_longer_holds_is_started_again(
    org_sim: OrgSimulator, kafka: str, prefix: str
) -> None:
    since, ids = seed_orders(org_sim, 300)
    settings = bulk_settings(org_sim, kafka, prefix, 1)

    def interrupt_after_one_set(_name: str, _page: int, done: int) -> None:
        if done == SET_SIZE:
            org_sim.api_usage.fail_next(1)

    with pytest.raises(RetryableSalesforceError):
        backfill(settings, kafka, org_sim).run(
            since, ["Order"], on_progress=interrupt_after_one_set
        )
    (job,) = org_sim.bulk_jobs.all()
    org_sim.bulk_jobs.delete(job.id)
    assert backfill(settings, kafka, org_sim).run(since, ["Order"]) == {"Order": 300}
    assert set(event[2] for event in published(kafka, prefix)) == set(ids)


def test_org_without_bulk_api_falls_back_to_soql_paging(
    org_sim: OrgSimulator, kafka: str, prefix: str
) -> None:
    since, ids = seed_orders(org_sim, 120)
    org_sim.bulk_jobs.enabled = False
    result = backfill(bulk_settings(org_sim, kafka, prefix, 1), kafka, org_sim).run(
        since, ["Order"]
    )
    assert result == {"Order": 120}
    assert sorted(event[2] for event in published(kafka, prefix)) == sorted(ids)


def test_failed_job_ends_the_command_with_salesforces_reason_and_the_setting(
    org_sim: OrgSimulator, kafka: str, prefix: str
) -> None:
    since, _ids = seed_orders(org_sim, 30)
    settings = bulk_settings(org_sim, kafka, prefix, 1)
    org_sim.bulk_jobs.fail_next("Query timed out after 10 minutes")
    sf = settings.salesforce
    env = {
        "CPQSYNC_KAFKA__BOOTSTRAP_SERVERS": kafka,
        "CPQSYNC_KAFKA__TOPIC_PREFIX": prefix,
        "CPQSYNC_SALESFORCE__LOGIN_URL": sf.login_url,
        "CPQSYNC_SALESFORCE__AUTH_FLOW": "jwt_bearer",
        "CPQSYNC_SALESFORCE__CLIENT_ID": str(sf.client_id),
        "CPQSYNC_SALESFORCE__USERNAME": str(sf.username),
        "CPQSYNC_SALESFORCE__PRIVATE_KEY_FILE": str(sf.private_key_file),
        "CPQSYNC_SALESFORCE__CA_BUNDLE": str(sf.ca_bundle),
        "CPQSYNC_BRIDGE__BULK_THRESHOLD": "1",
        "CPQSYNC_METRICS__ENABLED": "false",
    }
    result = CliRunner().invoke(
        app, ["backfill", "--since", since.isoformat(), "--objects", "Order"], env=env
    )
    assert result.exit_code == 1, result.output
    assert "Query timed out after 10 minutes" in result.output
    assert "ended Failed" in result.output and "bridge.bulk_threshold" in result.output
    assert read_topic(kafka, Topics(prefix).object_topic("Order")) == []
