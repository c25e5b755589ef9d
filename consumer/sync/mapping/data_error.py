"""The error a record's own data causes: it fails this sync until someone fixes the record.

Sync Records start every message with its origin (rule R2); data problems are `Data Error:`,
and each carries the spec rule it enforces so tests, logs and users can find the rule.
"""

from __future__ import annotations


class DataError(Exception):
    """Salesforce data (or mapped data) that cannot become a valid Stripe request."""

    origin = "Data Error"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail

    @property
    def message(self) -> str:
        return f"{self.origin}: {self.detail}"
