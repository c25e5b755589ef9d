"""Decide what a batch of results writes: a pure function of the results and the stored records.

Rules, in order:

1. Per compound id only the newest result of the batch is written; older ones
   are ``superseded`` (they arrive together only when keys differ from the
   primary id, since the engine never batches two messages of one key).
2. Ordering guard: a result no newer than the stored record's
   ``Last_Attempt_At__c`` is ``stale`` (older) or a ``duplicate`` (the same
   attempt again, e.g. a replayed topic) and writes nothing. A Success that
   would set its record's Stripe id is also ``stale`` when a stored Success
   Sync Record of the same record under another compound id is newer (for
   objects whose Stripe id can move on, ``REPLACEABLE``): one
   record is reported by its own sync and by every root that synced it (an
   entry's price by each order using it), and the older report must not put
   back an id the newer attempt replaced (fix 20).
3. A Success result sets the Stripe fields of its synced record (R3) and marks
   the record's earlier Error Sync Records Resolved (R2): stored ones by id, and
   ones in this very batch by writing them Resolved straight away.
4. An attempt reports every record at fault at once, one Error each (R4), all
   stamped with the attempt's time. So the record's earlier Errors that its newest
   erring attempt no longer reports are Resolved the same way: their own cause was
   fixed while another one still stands.

Writes happen in two phases. Phase one updates synced records and resolves
errors; phase two upserts the Sync Records, but only for results whose phase
one writes all succeeded. The Sync Record therefore acts as the commit mark of
a result: once its attempt time is stored, everything else the result writes
is already in the org, so a duplicate can safely be skipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from consumer.writeback.stored_records import StoredSyncRecord
from consumer.writeback.stripe_ids import REPLACEABLE, stripe_id_update
from consumer.writeback.sync_record import (
    DEFAULT_DASHBOARD_BASE,
    ERROR,
    RESOLVED,
    STATUS,
    SYNC_RECORD,
    compound_id,
    sync_record_fields,
)
from schemas.models import SyncResult, SyncStatus


class Skip(StrEnum):
    SUPERSEDED = "superseded"
    STALE = "stale"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class Write:
    """One record to send, and the results (batch indexes) that need it to succeed."""

    object_type: str
    record_ref: str  # record id, or the compound id of an upserted Sync Record
    record: dict[str, Any]
    owners: tuple[int, ...]
    # A rejection that only means "already gone" does not fail the owners (a resolved
    # error record someone deleted meanwhile).
    gone_is_fine: bool = False


@dataclass
class BatchPlan:
    skipped: dict[int, Skip] = field(default_factory=dict)
    # Phase one: synced records' Stripe fields and Resolved errors (one collection update).
    updates: list[Write] = field(default_factory=list)
    # Phase two: Sync Records upserted by compound id.
    upserts: list[Write] = field(default_factory=list)

    @property
    def live(self) -> list[int]:
        """Indexes of the results that write something."""
        return sorted({owner for w in self.upserts for owner in w.owners})


@dataclass(frozen=True, slots=True)
class LinkOptions:
    dashboard_base: str = DEFAULT_DASHBOARD_BASE
    test_mode: bool = False


def plan_batch(
    results: Sequence[SyncResult],
    stored: Sequence[StoredSyncRecord],
    options: LinkOptions | None = None,
) -> BatchPlan:
    options = options or LinkOptions()
    plan = BatchPlan()
    stored_by_compound = {s.compound_id.casefold(): s for s in stored}

    newest: dict[str, int] = {}
    for index, result in enumerate(results):
        key = compound_id(result).casefold()
        current = newest.get(key)
        if current is None or results[current].attempted_at <= result.attempted_at:
            if current is not None:
                plan.skipped[current] = Skip.SUPERSEDED
            newest[key] = index
        else:
            plan.skipped[index] = Skip.SUPERSEDED

    newest_success = _newest_stored_successes(stored)
    live: dict[str, int] = {}
    for key, index in newest.items():
        previous = stored_by_compound.get(key)
        at = previous.last_attempt_at if previous else None
        attempted = results[index].attempted_at
        if (at is not None and attempted < at) or _older_than_records_success(
            results[index], newest_success
        ):
            plan.skipped[index] = Skip.STALE
        elif at is not None and attempted == at:
            plan.skipped[index] = Skip.DUPLICATE
        else:
            live[key] = index

    success_at: dict[str, tuple[dt.datetime, int]] = {}
    for index in live.values():
        result = results[index]
        if result.status is SyncStatus.SUCCESS:
            primary = result.primary_record_id.casefold()
            seen = success_at.get(primary)
            if seen is None or seen[0] < result.attempted_at:
                success_at[primary] = (result.attempted_at, index)

    error_at = _newest_errors(results, live)

    _plan_stripe_ids(plan, results, live)
    _plan_resolutions(plan, stored, live, success_at, error_at)
    for index in live.values():
        result = results[index]
        status = result.status.value
        primary = result.primary_record_id.casefold()
        later = success_at.get(primary)
        if result.status is SyncStatus.ERROR and (
            (later and later[0] > result.attempted_at)
            or _no_longer_at_fault(error_at.get(primary), result.attempted_at, live_key(result))
        ):
            status = RESOLVED
        fields = sync_record_fields(
            result, status, dashboard_base=options.dashboard_base, test_mode=options.test_mode
        )
        plan.upserts.append(Write(SYNC_RECORD, compound_id(result), fields, (index,)))
    return plan


def _newest_stored_successes(stored: Sequence[StoredSyncRecord]) -> dict[str, dt.datetime]:
    """Primary record id -> the attempt time of its newest stored Success Sync Record."""
    newest: dict[str, dt.datetime] = {}
    for record in stored:
        at = record.last_attempt_at
        if record.status != SyncStatus.SUCCESS.value or at is None:
            continue
        primary = record.primary_record_id.casefold()
        if primary not in newest or newest[primary] < at:
            newest[primary] = at
    return newest


def _older_than_records_success(result: SyncResult, newest: dict[str, dt.datetime]) -> bool:
    """Whether ``result`` would set its record's Stripe id although a stored Success of the
    record (its own Sync Record's or another root's) comes from a newer attempt. Such a
    result's id is at best the newer one's, and at worst one Stripe has replaced since (P7)."""
    update = stripe_id_update(result)
    if update is None or update.object_type not in REPLACEABLE:
        return False
    at = newest.get(result.primary_record_id.casefold())
    return at is not None and result.attempted_at < at


@dataclass(frozen=True, slots=True)
class _ErringAttempt:
    """A record's newest attempt that failed in this batch: when, and the Error Sync Records
    (compound ids) it reported."""

    at: dt.datetime
    compounds: frozenset[str]
    owner: int


def live_key(result: SyncResult) -> str:
    return compound_id(result).casefold()


def _newest_errors(
    results: Sequence[SyncResult], live: dict[str, int]
) -> dict[str, _ErringAttempt]:
    """Primary record id -> its newest erring attempt among the results written.

    Only Errors naming a record at fault count: the planner or Stripe judged the record, so the
    attempt's Errors are all its faults. An Error without one (a connector error: the sync could
    not judge the record at all) says nothing about earlier causes and resolves none."""
    found: dict[str, _ErringAttempt] = {}
    for key, index in live.items():
        result = results[index]
        if result.status is not SyncStatus.ERROR or not result.secondary_record_id:
            continue
        primary = result.primary_record_id.casefold()
        seen = found.get(primary)
        if seen is None or seen.at < result.attempted_at:
            found[primary] = _ErringAttempt(result.attempted_at, frozenset({key}), index)
        elif seen.at == result.attempted_at:
            found[primary] = replace(seen, compounds=seen.compounds | {key})
    return found


def _no_longer_at_fault(
    newest: _ErringAttempt | None, attempted_at: dt.datetime | None, key: str
) -> bool:
    """An Error of ``attempted_at`` that a newer erring attempt did not report again (R4)."""
    return (
        newest is not None
        and attempted_at is not None
        and attempted_at < newest.at
        and key not in newest.compounds
    )


def _plan_stripe_ids(plan: BatchPlan, results: Sequence[SyncResult], live: dict[str, int]) -> None:
    """One update per synced record; when two results name one record, the newer one's ids."""
    chosen: dict[tuple[str, str], tuple[int, list[int]]] = {}
    for index in live.values():
        update = stripe_id_update(results[index])
        if update is None:
            continue
        key = (update.object_type, update.record_id.casefold())
        held = chosen.get(key)
        if held is None:
            chosen[key] = (index, [index])
            continue
        held[1].append(index)
        if results[held[0]].attempted_at <= results[index].attempted_at:
            chosen[key] = (index, held[1])
    for winner, owners in chosen.values():
        update = stripe_id_update(results[winner])
        assert update is not None
        plan.updates.append(
            Write(update.object_type, update.record_id, update.as_record(), tuple(owners))
        )
    plan.updates.sort(key=lambda w: w.object_type)  # few type switches: Salesforce allows 10


def _plan_resolutions(
    plan: BatchPlan,
    stored: Sequence[StoredSyncRecord],
    live: dict[str, int],
    success_at: dict[str, tuple[dt.datetime, int]],
    error_at: dict[str, _ErringAttempt],
) -> None:
    for record in stored:
        key = record.compound_id.casefold()
        if record.status != ERROR or key in live:
            continue  # a record this batch upserts gets its status from the upsert
        primary = record.primary_record_id.casefold()
        success = success_at.get(primary)
        erring = error_at.get(primary)
        if success is not None and (
            record.last_attempt_at is None or record.last_attempt_at < success[0]
        ):
            owner = success[1]
        elif erring is not None and _no_longer_at_fault(erring, record.last_attempt_at, key):
            owner = erring.owner
        else:
            continue  # no newer attempt says this error's cause is gone: it still stands
        plan.updates.append(
            Write(
                SYNC_RECORD,
                record.record_id,
                {"attributes": {"type": SYNC_RECORD}, "Id": record.record_id, STATUS: RESOLVED},
                (owner,),
                gone_is_fine=True,
            )
        )
