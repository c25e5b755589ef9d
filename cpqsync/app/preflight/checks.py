"""Which checks each role needs, and running them: at a role's start and on demand.

A role refuses to start on a configuration problem (a wrong key, a missing field, Kafka
unreachable) with the one line of the failed check; an outage of Stripe or Salesforce
at start is logged and left to the role's own outage handling, since waiting fixes it.
``cpqsync config check --connect`` runs every check and prints each result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from cpqsync.app.preflight.field_references import (
    References,
    all_references,
    field_references,
    sync_record_references,
)
from cpqsync.app.preflight.kafka_check import check_kafka
from cpqsync.app.preflight.result import CheckResult, PreflightFailed
from cpqsync.app.preflight.salesforce_check import check_salesforce_fields, check_salesforce_login
from cpqsync.app.preflight.stripe_check import check_stripe
from cpqsync.settings import Settings

log = logging.getLogger(__name__)

KAFKA = "kafka"
STRIPE = "stripe"
SALESFORCE_LOGIN = "salesforce login"
SALESFORCE_FIELDS = "salesforce fields"
ALL_CHECKS = (KAFKA, STRIPE, SALESFORCE_LOGIN, SALESFORCE_FIELDS)

ROLE_CHECKS: dict[str, tuple[str, ...]] = {
    "bridge": (KAFKA, SALESFORCE_LOGIN),
    "sync": (KAFKA, STRIPE, SALESFORCE_LOGIN, SALESFORCE_FIELDS),
    "writeback": (KAFKA, SALESFORCE_LOGIN, SALESFORCE_FIELDS),
    "stripe-events": (KAFKA, STRIPE),
}
# The Salesforce fields each role relies on (checked by SALESFORCE_FIELDS).
ROLE_FIELDS: dict[str, References] = {
    "sync": field_references,
    "writeback": sync_record_references,
}


def run_checks(
    settings: Settings,
    checks: Iterable[str] = ALL_CHECKS,
    bootstrap_servers: str | None = None,
    fields: References = all_references,
) -> list[CheckResult]:
    """Each named check's result, in order; fields are checked only after a good login."""
    wanted = list(checks)
    results = []
    if KAFKA in wanted:
        results.append(check_kafka(settings.kafka, bootstrap_servers))
    if STRIPE in wanted:
        results.append(check_stripe(settings.stripe))
    if SALESFORCE_LOGIN in wanted or SALESFORCE_FIELDS in wanted:
        login, rest = check_salesforce_login(settings)
        results.append(login)
        if SALESFORCE_FIELDS in wanted:
            if rest is None:
                results.append(
                    CheckResult(SALESFORCE_FIELDS, False, "not checked: the login failed")
                )
            else:
                results.append(check_salesforce_fields(settings, rest, fields))
    return results


def require(settings: Settings, role: str, bootstrap_servers: str | None = None) -> None:
    """Run ``role``'s checks; raise :class:`PreflightFailed` for the first that must stop it."""
    checks = ROLE_CHECKS[role]
    fields = ROLE_FIELDS.get(role, all_references)
    for result in run_checks(settings, checks, bootstrap_servers, fields):
        if result.ok:
            log.debug("%s: preflight %s", role, result.line())
        elif result.transient and result.name != KAFKA:
            log.warning("%s: starting although %s", role, result.line())
        else:
            raise PreflightFailed(result)
