"""1,000 results reach the org in full collection calls, and a replay changes nothing."""

from __future__ import annotations

import datetime as dt
import math

from consumer.writeback.sync_record import compound_id
from cpqsync_sandbox.org.simulator import OrgSimulator
from schemas.models import SyncStatus
from tests.writeback.conftest import Harness
from tests.writeback.support import (
    T0,
    accounts,
    collection_calls,
    result,
    stripe_ids,
    sync_records,
)


def _calls(org: OrgSimulator, suffix: str, method: str) -> int:
    return sum(
        1
        for entry in org.request_log
        if entry.method == method and entry.path.rstrip("/").endswith(suffix)
    )


def test_thousand_results_fill_collection_calls_and_a_replay_changes_nothing(
    org: OrgSimulator, writeback: Harness
) -> None:
    ids = accounts(org, 1000)
    results = [
        result(
            account,
            status=SyncStatus.ERROR if i % 10 == 0 else SyncStatus.SUCCESS,
            at=T0 + dt.timedelta(seconds=i),
        )
        for i, account in enumerate(ids)
    ]
    writeback.produce(results)
    org.clear_request_log()
    writeback.run()

    records = sync_records(org)
    assert len(records) == 1000
    for item in results:
        record = records[compound_id(item)]
        assert record["Resolution_Status__c"] == item.status.value
        assert record["Primary_Object_Type__c"] == "Account"
        assert record["Resolution_Message__c"] == item.message
        assert record["Stripe_Request_Dashboard_Link__c"] == (
            f"https://dashboard.stripe.com/test/logs/{item.stripe_request_ids[-1]}"
            if item.status is SyncStatus.SUCCESS
            else f"https://dashboard.stripe.com/logs/{item.stripe_request_ids[-1]}"
        )
    expected_ids = {r.primary_record_id: r.stripe_object_id for r in results}
    assert stripe_ids(org, "Account", ids) == expected_ids
    successes = sum(1 for r in results if r.status is SyncStatus.SUCCESS)
    upserts = _calls(org, "/composite/sobjects/Sync_Record__c/Compound_ID__c", "PATCH")
    updates = _calls(org, "/composite/sobjects", "PATCH")
    queries = _calls(org, "/query", "GET")
    # Sync Records: one upsert call per 200 results; Stripe ids: one update call per 200
    # successes. Reads: the stored Sync Records and the current Stripe ids, one query each
    # per batch, and the retention check's one count of the run. The overhead covers batches
    # the engine started before the backlog was fetched in full.
    assert upserts <= math.ceil(1000 / 200) + 2, upserts
    assert updates <= math.ceil(successes / 200) + 2, updates
    assert queries <= 2 * (math.ceil(1000 / 200) + 2) + 1, queries

    before = {k: (v["Resolution_Status__c"], v["LastModifiedDate"]) for k, v in records.items()}
    accounts_before = {i: org.get("Account", i)["LastModifiedDate"] for i in ids}
    org.clear_request_log()
    writeback.run()  # a new consumer group: the whole topic again
    after = {
        k: (v["Resolution_Status__c"], v["LastModifiedDate"]) for k, v in sync_records(org).items()
    }
    assert after == before
    assert {i: org.get("Account", i)["LastModifiedDate"] for i in ids} == accounts_before
    assert collection_calls(org) == 0
