"""Partial failures: the accepted records are written, the rejected result is dead-lettered
with Salesforce's own error, and API limits or expired sessions only slow things down."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import CollectorRegistry

from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.codec import Codec
from schemas.headers import (
    DLQ_ERROR_CLASS_HEADER as ERROR_CLASS,
)
from schemas.headers import (
    DLQ_ERROR_MESSAGE_HEADER as ERROR_MESSAGE,
)
from schemas.headers import (
    DLQ_ORIGIN_OFFSET_HEADER as ORIGIN_OFFSET,
)
from schemas.models import SyncResult
from tests.writeback.conftest import Harness
from tests.writeback.support import T0, accounts, read_all, result, stripe_ids, sync_records

RULE = "Sync Records of this account are locked by Finance"


def _headers(message: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in message.headers() or []}


def test_a_validation_rule_rejecting_one_record_dead_letters_only_that_result(
    kafka: str, org: OrgSimulator, writeback: Harness
) -> None:
    ids = accounts(org, 200)
    victim = ids[57]
    org.add_validation_rule(
        "Sync_Record__c",
        lambda record, _old: record.get("Primary_Record_ID__c") == victim,
        RULE,
        ("Primary_Record_ID__c",),
    )
    results = [result(a, at=T0 + dt.timedelta(seconds=i)) for i, a in enumerate(ids)]
    writeback.produce(results)
    writeback.run()

    records = sync_records(org)
    assert set(records) == set(ids) - {victim}
    assert all(r["Resolution_Status__c"] == "Success" for r in records.values())
    [dead] = read_all(kafka, writeback.dlq, expect=1)
    headers = _headers(dead)
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in headers[ERROR_MESSAGE]
    assert RULE in headers[ERROR_MESSAGE]
    assert headers[ERROR_CLASS].endswith("RecordsRejected")
    assert headers[ORIGIN_OFFSET] == "57"
    kept = Codec().decode_as(dead.value(), writeback.dlq, SyncResult)
    assert kept == results[57]


def test_a_rejected_stripe_id_leaves_no_sync_record_so_a_replay_writes_both(
    kafka: str, org: OrgSimulator, writeback: Harness
) -> None:
    good, blocked = accounts(org, 2)
    rule = org.add_validation_rule(
        "Account", lambda record, _old: record["Id"] == blocked, "Account is frozen"
    )
    writeback.produce([result(good), result(blocked)])
    writeback.run()
    assert set(sync_records(org)) == {good}
    [dead] = read_all(kafka, writeback.dlq, expect=1)
    assert "Account is frozen" in _headers(dead)[ERROR_MESSAGE]

    org.store.remove_validation_rule(rule)  # the admin fixes the org, the operator replays
    writeback.run()
    assert set(sync_records(org)) == {good, blocked}
    assert stripe_ids(org, "Account", [good, blocked]) == {
        good: f"cus_{good[-8:]}",
        blocked: f"cus_{blocked[-8:]}",
    }


def test_request_limit_exceeded_and_expired_sessions_back_off_without_losing_results(
    kafka: str, org: OrgSimulator, writeback: Harness
) -> None:
    ids = accounts(org, 20)
    registry = CollectorRegistry()
    with writeback.running(registry=registry) as consumed:
        org.expire_sessions()
        org.api_usage.fail_next(2)
        writeback.produce([result(a) for a in ids])
        consumed()
    assert set(sync_records(org)) == set(ids)
    assert read_all(kafka, writeback.dlq, expect=0, timeout=1) == []
    statuses = [e.status for e in org.request_log]
    assert 403 in statuses and 401 in statuses
    limited = registry.get_sample_value(
        "cpqsync_writeback_salesforce_api_errors_total",
        {"operation": "query", "code": "REQUEST_LIMIT_EXCEEDED"},
    )
    assert limited == 2
    used = registry.get_sample_value("cpqsync_writeback_salesforce_api_usage_used")
    assert used == org.api_usage.used
    limit = registry.get_sample_value("cpqsync_writeback_salesforce_api_usage_limit")
    assert limit == org.api_usage.daily_limit
