"""Failures that are not the record's data: their Sync Record names another origin (rule R2)."""

from __future__ import annotations

from consumer.sync.mapping.data_error import DataError


class StripeStateError(DataError):
    """Stripe holds something that forbids the plan (a deleted customer, rule C1)."""

    origin = "Stripe Error"


class ConnectorError(DataError):
    """The connector's own configuration cannot decide the record (an invalid filter, S3)."""

    origin = "Connector Error"
