"""Retention (S1): the newest N non-Error Sync Records stay, and every Error record stays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from cpqsync.sandbox.org.simulator import OrgSimulator
from schemas.models import SyncStatus
from tests.writeback.support import (
    T0,
    accounts,
    produce,
    result,
    settings_for,
    start_service,
    sync_records,
    wait_consumed,
    wait_until,
)


def test_retention_keeps_the_newest_non_error_records_and_every_error(
    kafka: str,
    org: OrgSimulator,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    fast_group_config: dict[str, Any],
) -> None:
    ids = accounts(org, 300)
    statuses = [SyncStatus.ERROR, SyncStatus.SUCCESS, SyncStatus.SKIPPED, SyncStatus.SUCCESS]
    # Attempt times are shuffled against the topic order, so "newest" cannot mean "last written".
    results = [
        result(a, status=statuses[i % 4], at=T0 + dt.timedelta(seconds=(i * 7) % 300))
        for i, a in enumerate(ids)
    ]
    topic, dlq = new_topic("results"), new_topic("dlq")
    produce(kafka, topic, results)
    settings = settings_for(org, kafka, retention=100, retention_interval_s=0.5)
    group = unique("writeback")
    registry = CollectorRegistry()
    service = start_service(settings, kafka, topic, dlq, group, fast_group_config, registry)
    non_errors = sorted(
        (r for r in results if r.status is not SyncStatus.ERROR),
        key=lambda r: r.attempted_at,
    )
    errors = {r.primary_record_id for r in results if r.status is SyncStatus.ERROR}
    try:
        wait_consumed(kafka, group, topic)
        wait_until(lambda: len(sync_records(org)) == 100 + len(errors), 20, "a retention pass")
    finally:
        service.stop()

    records = sync_records(org)
    kept = {k for k, v in records.items() if v["Resolution_Status__c"] != "Error"}
    assert kept == {r.primary_record_id for r in non_errors[-100:]}
    assert {k for k, v in records.items() if v["Resolution_Status__c"] == "Error"} == errors
    deleted = registry.get_sample_value("cpqsync_writeback_retention_deleted_records_total")
    assert deleted == len(non_errors) - 100
    deletes = [e for e in org.request_log if e.method == "DELETE"]
    assert deletes and all(e.path.rstrip("/").endswith("/composite/sobjects") for e in deletes)
