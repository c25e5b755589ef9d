"""What the org already holds for a batch's records: the state the ordering guard and R2 need.

One query per batch (split only when the id list would make the URL too long)
reads every Sync Record of the batch's primary records. That answers both
questions at once: is the stored record for this compound id newer than the
result (then the result is stale), and which earlier Error records of the
record must become Resolved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from consumer.writeback.sobject_collections import SObjectCollections
from consumer.writeback.sync_record import (
    COMPOUND_ID,
    LAST_ATTEMPT_AT,
    PRIMARY_ID,
    STATUS,
    SYNC_RECORD,
    parse_datetime,
)
from cpqsync.soql.quoting import quote

# 200 ids of 18 characters fit; the encoded URL stays far below the 16,384 characters Salesforce
# (and the 8,190-character request lines many proxies) accept.
_MAX_IDS_CHARS: Final = 4_400


@dataclass(frozen=True, slots=True)
class StoredSyncRecord:
    record_id: str
    compound_id: str
    primary_record_id: str
    status: str | None
    last_attempt_at: dt.datetime | None

    @classmethod
    def from_rest(cls, row: dict[str, Any]) -> StoredSyncRecord:
        return cls(
            record_id=str(row["Id"]),
            compound_id=str(row.get(COMPOUND_ID) or ""),
            primary_record_id=str(row.get(PRIMARY_ID) or ""),
            status=row.get(STATUS),
            last_attempt_at=parse_datetime(row.get(LAST_ATTEMPT_AT)),
        )


def _id_groups(ids: Iterable[str]) -> Iterator[list[str]]:
    group: list[str] = []
    size = 0
    for value in ids:
        literal = quote(value)
        if group and size + len(literal) + 1 > _MAX_IDS_CHARS:
            yield group
            group, size = [], 0
        group.append(literal)
        size += len(literal) + 1
    if group:
        yield group


def fetch_stored(
    collections: SObjectCollections, primary_ids: Iterable[str]
) -> list[StoredSyncRecord]:
    """Every Sync Record whose primary record is one of ``primary_ids``."""
    rows: list[dict[str, Any]] = []
    for group in _id_groups(sorted(set(primary_ids))):
        rows += collections.query(
            # Ids are quoted by cpqsync.soql.quoting, so none can break out of its literal.
            f"SELECT Id, {COMPOUND_ID}, {PRIMARY_ID}, {STATUS}, {LAST_ATTEMPT_AT} "  # noqa: S608
            f"FROM {SYNC_RECORD} WHERE {PRIMARY_ID} IN ({','.join(group)})"
        )
    return [StoredSyncRecord.from_rest(row) for row in rows]
