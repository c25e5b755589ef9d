"""The contract between the org store and Change Data Capture.

Every DML the store commits is reported to listeners as one :class:`ChangeBatch` per
transaction (one REST call, one composite collection, or one Python DML call). The CDC publisher
turns these into Avro change events; keeping the contract here, free of any Avro or gRPC concern,
lets the store and the event bus evolve separately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ChangeType = Literal["CREATE", "UPDATE", "DELETE", "UNDELETE"]


@dataclass(frozen=True)
class RecordChange:
    """One record's change inside a transaction.

    ``changed_fields`` and ``nulled_fields`` hold top-level API names; address components are
    given flat (``BillingCity``); the CDC side maps them onto the compound
    (``BillingAddress.City``). ``new_values`` is the full record after the change (for DELETE:
    the record before it), keyed by flat API name (no compound address keys) with Python values:
    ``str`` for text/picklist/id/reference, ``bool``, ``int``, ``float`` for
    double/currency/percent, ``datetime.date`` for date, timezone-aware UTC ``datetime`` for
    datetime, ``None`` for null.

    On UPDATE, ``changed_fields`` lists the fields whose value changed plus LastModifiedDate (as a
    real org's events do); on CREATE it lists every field given a non-null value (Salesforce's
    header leaves changedFields empty on CREATE: the CDC side may ignore it there); on DELETE and
    UNDELETE it is empty. ``nulled_fields`` lists fields set to null by this change.
    """

    entity: str
    change_type: ChangeType
    record_id: str
    changed_fields: list[str]
    nulled_fields: list[str]
    new_values: dict[str, Any]
    old_values: dict[str, Any] | None
    transaction_key: str
    sequence_number: int
    commit_timestamp: datetime
    commit_number: int
    commit_user: str


@dataclass(frozen=True)
class ChangeBatch:
    """All record changes of one committed transaction, in commit order."""

    transaction_key: str
    commit_number: int
    commit_timestamp: datetime
    commit_user: str
    changes: list[RecordChange] = field(default_factory=list)


ChangeListener = Callable[[ChangeBatch], None]
