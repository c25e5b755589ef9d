"""Collects a plan's operations in order, giving each its idempotency key once, and the errors
of the records at fault (rule R4)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from consumer.sync.mapping.data_error import DataError
from consumer.sync.planning.idempotency import idempotency_key
from consumer.sync.planning.plan import Issue, Operation, Plan, SourceRecord, WriteBack
from cpqsync.mapping.coercion import CoercionError


class Blamed(DataError):
    """An error already recorded against its record; the enclosing part of the plan stops.

    A DataError carrying the recorded issue, so a caller that does not contain it (and
    reports data errors itself) still reports the same message."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.rule, issue.message)
        self.issue = issue

    @property
    def message(self) -> str:
        return self.issue.message


def issue_of(error: DataError | CoercionError, record: SourceRecord) -> Issue:
    """The Issue for a data problem of ``record``."""
    if isinstance(error, DataError):
        return Issue(error.rule, error.message, record)
    # A value that is not what its field type promises (e.g. a UnitPrice of "abc").
    return Issue("M2", f"Data Error: {error}", record)


class PlanBuilder:
    """Operations keyed by id: adding an id twice keeps the first (one product for two lines)."""

    def __init__(self, root: SourceRecord) -> None:
        self.root = root
        self._operations: dict[str, Operation] = {}
        self._skips: list[Issue] = []
        self._errors: list[Issue] = []
        self._waits: dict[SourceRecord, None] = {}

    def has(self, operation_id: str) -> bool:
        return operation_id in self._operations

    def add(
        self,
        operation_id: str,
        kind: str,
        params: dict[str, Any],
        source: SourceRecord,
        *,
        target: str | dict[str, str] | None = None,
        writeback: tuple[WriteBack, ...] = (),
        key_params: dict[str, Any] | None = None,
    ) -> None:
        """``key_params``, when given, replaces ``params`` in the idempotency key: for objects
        whose identity is the record alone, so every intent to create one shares one key."""
        if operation_id in self._operations:
            return
        if "." in operation_id:
            raise ValueError(f"operation ids cannot contain '.': {operation_id!r}")
        key = idempotency_key(source.id, kind, params if key_params is None else key_params, target)
        self._operations[operation_id] = Operation(
            operation_id, kind, params, source, key, target, writeback
        )

    def skip(self, issue: Issue) -> None:
        self._skips.append(issue)

    def wait_for(self, record: SourceRecord) -> None:
        """The plan is not to be applied before ``record``'s own sync has run (P7)."""
        self._waits[record] = None

    @property
    def failed(self) -> bool:
        return bool(self._errors)

    @contextmanager
    def blame(self, record: SourceRecord, *, contain: bool = False) -> Iterator[None]:
        """A data error raised inside is ``record``'s fault (R4): it is recorded and the block
        stops. ``contain`` ends the block there (planning goes on with the next line);
        otherwise `Blamed` propagates to stop the enclosing part too (an entry's price error
        also ends its line), without being recorded twice."""
        try:
            yield
        except Blamed:
            if not contain:
                raise
        except (DataError, CoercionError) as exc:
            issue = issue_of(exc, record)
            self._errors.append(issue)
            if not contain:
                raise Blamed(issue) from None

    def build(self) -> Plan:
        if self._errors:
            # Nothing of a failed plan may be applied: half an order would bill something
            # Salesforce does not say.
            return Plan(self.root, errors=tuple(self._errors))
        return Plan(
            self.root,
            tuple(self._operations.values()),
            (),
            tuple(self._skips),
            tuple(self._waits),
        )
