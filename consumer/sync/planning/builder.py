"""Collects a plan's operations in order, giving each its idempotency key once."""

from __future__ import annotations

from typing import Any

from consumer.sync.planning.idempotency import idempotency_key
from consumer.sync.planning.plan import Issue, Operation, Plan, SourceRecord, WriteBack


class PlanBuilder:
    """Operations keyed by id: adding an id twice keeps the first (one product for two lines)."""

    def __init__(self, root: SourceRecord) -> None:
        self.root = root
        self._operations: dict[str, Operation] = {}
        self._skips: list[Issue] = []

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

    def build(self) -> Plan:
        return Plan(self.root, tuple(self._operations.values()), (), tuple(self._skips))
