"""1,000 results reach the org in full collection calls, and a replay changes nothing."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from consumer.writeback.sync_record import compound_id
from cpqsync.sandbox.org.simulator import OrgSimulator
from schemas.models import SyncStatus
from tests.writeback.support import (
    T0,
    accounts,
    collection_calls,
    produce,
    result,
    settings_for,
    start_service,
    stripe_ids,
    sync_records,
    wait_consumed,
)


def test_thousand_results_fill_collection_calls_and_a_replay_changes_nothing(
    kafka: str,
    org: OrgSimulator,
    new_topic: Callable[..., str],
    unique: Callable[[str], str],
    fast_group_config: dict[str, Any],
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
    topic, dlq = new_topic("results"), new_topic("dlq")
    produce(kafka, topic, results)
    settings = settings_for(org, kafka)
    org.clear_request_log()

    group = unique("writeback")
    service = start_service(settings, kafka, topic, dlq, group, fast_group_config)
    try:
        wait_consumed(kafka, group, topic)
    finally:
        service.stop()

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
    upserts = collection_calls(org, "PATCH") - sum(
        1 for e in org.request_log if e.method == "PATCH" and e.path.endswith("/composite/sobjects")
    )
    updates = collection_calls(org, "PATCH") - upserts
    # Sync Records: one upsert call per 200 results; Stripe ids: one update call per 200
    # successes. A small overhead covers batches the engine started before the backlog
    # was fetched in full.
    assert upserts <= math.ceil(1000 / 200) + 2, upserts
    assert updates <= math.ceil(successes / 200) + 2, updates
    queries = sum(1 for e in org.request_log if e.path.rstrip("/").endswith("/query"))
    assert queries <= math.ceil(1000 / 200) + 2, queries

    before = {k: (v["Resolution_Status__c"], v["LastModifiedDate"]) for k, v in records.items()}
    accounts_before = {i: org.get("Account", i)["LastModifiedDate"] for i in ids}
    org.clear_request_log()
    replay = unique("writeback-replay")
    service = start_service(settings, kafka, topic, dlq, replay, fast_group_config)
    try:
        wait_consumed(kafka, replay, topic)
    finally:
        service.stop()
    after = {
        k: (v["Resolution_Status__c"], v["LastModifiedDate"]) for k, v in sync_records(org).items()
    }
    assert after == before
    assert {i: org.get("Account", i)["LastModifiedDate"] for i in ids} == accounts_before
    assert collection_calls(org) == 0
