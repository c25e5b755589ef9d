"""Retention (S1): the newest N non-Error Sync Records stay, and every Error record stays."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry

from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncStatus
from tests.writeback.conftest import Harness
from tests.writeback.support import T0, accounts, result, sync_records, wait_until


def test_retention_keeps_the_newest_non_error_records_and_every_error(
    org: OrgSimulator, writeback: Harness
) -> None:
    ids = accounts(org, 300)
    statuses = [SyncStatus.ERROR, SyncStatus.SUCCESS, SyncStatus.SKIPPED, SyncStatus.SUCCESS]
    # Attempt times are shuffled against the topic order, so "newest" cannot mean "last written".
    results = [
        result(a, status=statuses[i % 4], at=T0 + dt.timedelta(seconds=(i * 7) % 300))
        for i, a in enumerate(ids)
    ]
    writeback.produce(results)
    settings = writeback.settings(retention=100, retention_interval_s=0.5)
    registry = CollectorRegistry()
    non_errors = sorted(
        (r for r in results if r.status is not SyncStatus.ERROR),
        key=lambda r: r.attempted_at,
    )
    errors = {r.primary_record_id for r in results if r.status is SyncStatus.ERROR}
    with writeback.running(settings, registry) as consumed:
        consumed()
        wait_until(lambda: len(sync_records(org)) == 100 + len(errors), 20, "a retention pass")

    records = sync_records(org)
    kept = {k for k, v in records.items() if v["Resolution_Status__c"] != "Error"}
    assert kept == {r.primary_record_id for r in non_errors[-100:]}
    assert {k for k, v in records.items() if v["Resolution_Status__c"] == "Error"} == errors
    deleted = registry.get_sample_value("cpqsync_writeback_retention_deleted_records_total")
    assert deleted == len(non_errors) - 100
    deletes = [e for e in org.request_log if e.method == "DELETE"]
    assert deletes and all(e.path.rstrip("/").endswith("/composite/sobjects") for e in deletes)
