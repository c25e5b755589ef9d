"""Hypothesis strategies for every record type, covering the full range the schemas allow."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from schemas.models import (
    BridgeCheckpoint,
    ChangeEvent,
    ChangeType,
    DeadLetter,
    RootWork,
    SourceOffset,
    StripeEvent,
    SyncRequest,
    SyncResult,
    SyncStatus,
)

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=40)
optional_text = st.none() | text
names = st.lists(text, max_size=8)

# Any offset a real timezone has, so conversion to UTC is exercised; years kept
# away from 1 and 9999 so the conversion itself cannot overflow.
zones = st.builds(
    dt.timezone,
    st.timedeltas(
        min_value=dt.timedelta(hours=-23, minutes=-59), max_value=dt.timedelta(hours=23, minutes=59)
    ),
)
moments = st.datetimes(
    min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=zones
)

change_events = st.builds(
    ChangeEvent,
    object_type=text,
    record_id=text,
    change_type=st.sampled_from(ChangeType),
    changed_fields=names,
    nulled_fields=names,
    diff_fields=names,
    values=st.dictionaries(text, text, max_size=8),
    commit_timestamp=moments,
    commit_number=st.none() | INT64,
    transaction_key=optional_text,
    sequence_number=st.none() | INT32,
    change_origin=optional_text,
    commit_user=optional_text,
    replay_id=st.none() | st.binary(max_size=20),
    channel=optional_text,
    org_id=optional_text,
    bridged_at=moments,
)

sync_requests = st.builds(
    SyncRequest,
    request_id=text,
    object_type=text,
    record_id=text,
    requested_by=text,
    reason=optional_text,
    requested_at=moments,
)

source_offsets = st.builds(
    SourceOffset,
    topic=text,
    partition=st.integers(0, 2**31 - 1),
    offset=st.integers(0, 2**63 - 1),
)

sync_results = st.builds(
    SyncResult,
    result_id=text,
    primary_record_id=text,
    primary_object_type=text,
    secondary_record_id=optional_text,
    secondary_object_type=optional_text,
    status=st.sampled_from(SyncStatus),
    message=text,
    stripe_object_id=optional_text,
    stripe_object_type=optional_text,
    stripe_request_ids=names,
    dashboard_link=optional_text,
    invoice_payment_link=optional_text,
    attempt=st.integers(1, 2**31 - 1),
    source_offsets=st.lists(source_offsets, max_size=4),
    request_id=optional_text,
    attempted_at=moments,
    duration_ms=st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    trigger_commit_timestamp=st.none() | moments,
)

dead_letters = st.builds(
    DeadLetter,
    origin_topic=text,
    origin_partition=st.integers(0, 2**31 - 1),
    origin_offset=st.integers(0, 2**63 - 1),
    error_class=text,
    error_message=st.text(max_size=200),
    first_failed_at=moments,
    attempts=st.integers(1, 2**31 - 1),
)

bridge_checkpoints = st.builds(
    BridgeCheckpoint,
    channel=text,
    replay_id=st.binary(max_size=20),
    commit_timestamp=st.none() | moments,
    updated_at=moments,
)

stripe_events = st.builds(
    StripeEvent,
    event_id=text,
    type=text,
    created=moments,
    object_type=text,
    object_id=text,
    customer_id=st.none() | text,
    api_version=st.none() | text,
    livemode=st.booleans(),
    source=st.sampled_from(["webhook", "catch_up"]),
    payload=st.text(max_size=200),
)

root_works = st.builds(
    RootWork,
    root_object_type=text,
    root_id=text,
    object_type=text,
    record_id=text,
    manual=st.booleans(),
    request_id=optional_text,
    trigger_commit_timestamp=st.none() | moments,
    source_offsets=st.lists(source_offsets, max_size=4),
    resolved_at=moments,
)

STRATEGIES = {
    ChangeEvent: change_events,
    SyncRequest: sync_requests,
    SyncResult: sync_results,
    DeadLetter: dead_letters,
    BridgeCheckpoint: bridge_checkpoints,
    StripeEvent: stripe_events,
    RootWork: root_works,
}
any_record = st.one_of(*STRATEGIES.values())
