"""The version of an Account a customer write carries, so a stale write can be refused.

A customer is written from two kinds of root (C1): the Account's own changes and every order
sync of that account, which may run on other members at the same time. An order sync that read
the account before an amendment can reach Stripe after the amendment's own sync did; without
a version on the customer that late write would win for ever, since nothing triggers again.
Salesforce's ``SystemModstamp`` only moves forward, so it orders the writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.sync.planning.identity import metadata_key

VERSION_FIELD = "SystemModstamp"
_VERSION_NAME = "salesforce_account_modstamp"
# Both spellings, for readers that do not know whether the org is a sandbox (the applier).
VERSION_KEYS = tuple(metadata_key(_VERSION_NAME, sandbox=s) for s in (False, True))


def account_version_metadata(account: Mapping[str, Any], *, sandbox: bool) -> dict[str, str]:
    """``{salesforce_account_modstamp: <SystemModstamp>}``, or nothing when not hydrated."""
    version = account.get(VERSION_FIELD)
    if not version:
        return {}
    return {metadata_key(_VERSION_NAME, sandbox=sandbox): str(version)}
