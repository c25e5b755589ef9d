"""What one ``SyncResult`` becomes as a ``Sync_Record__c`` (rule R1).

The record is keyed by ``Compound_ID__c`` (primary id, plus ``-`` and the
secondary id when there is one), so every attempt for the same pair upserts the
same record instead of piling up. ``Last_Attempt_At__c`` stores the attempt
time, which is what the ordering guard compares against.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from cpqsync.observability.logging import redact
from schemas.models import SyncResult, SyncStatus

SYNC_RECORD: Final = "Sync_Record__c"
COMPOUND_ID: Final = "Compound_ID__c"
STATUS: Final = "Resolution_Status__c"
LAST_ATTEMPT_AT: Final = "Last_Attempt_At__c"
PRIMARY_ID: Final = "Primary_Record_ID__c"
REQUEST_LINK: Final = "Stripe_Request_Dashboard_Link__c"

RESOLVED: Final = "Resolved"
ERROR: Final = "Error"

# Resolution_Message__c is a long text area of 32,768 characters in the package.
MESSAGE_MAX_CHARS: Final = 32_768
TRUNCATION_MARKER: Final = " … [truncated by cpqsync]"

DEFAULT_DASHBOARD_BASE: Final = "https://dashboard.stripe.com"


def compound_id(result: SyncResult) -> str:
    """The external id that makes a retry update the record of its first attempt."""
    if result.secondary_record_id:
        return f"{result.primary_record_id}-{result.secondary_record_id}"
    return result.primary_record_id


def truncate_message(message: str, limit: int = MESSAGE_MAX_CHARS) -> str:
    """``message`` cut to ``limit`` characters, ending with a marker saying it was cut."""
    if len(message) <= limit:
        return message
    return message[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def request_dashboard_link(
    result: SyncResult, *, dashboard_base: str = DEFAULT_DASHBOARD_BASE, test_mode: bool = False
) -> str | None:
    """The Dashboard page of the attempt's last Stripe request, where its log can be read.

    Test mode is taken from the object's own dashboard link when there is one (it
    contains ``/test/``, rule R3), otherwise from the configured key.
    """
    if not result.stripe_request_ids:
        return None
    if result.dashboard_link:
        test_mode = "/test/" in result.dashboard_link
    prefix = "test/" if test_mode else ""
    return f"{dashboard_base.rstrip('/')}/{prefix}logs/{result.stripe_request_ids[-1]}"


def format_datetime(value: dt.datetime) -> str:
    """Salesforce's datetime format, UTC with milliseconds."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}+0000"
    )


def parse_datetime(value: Any) -> dt.datetime | None:
    """A datetime field as REST returns it (``2024-05-01T10:00:00.000+0000``); None if empty."""
    if not value:
        return None
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def sync_record_fields(
    result: SyncResult,
    status: str,
    *,
    dashboard_base: str = DEFAULT_DASHBOARD_BASE,
    test_mode: bool = False,
) -> dict[str, Any]:
    """The upsert body for ``result``'s Sync Record; ``status`` may differ from the result's
    own (an Error already superseded by a Success in the same batch is written Resolved)."""
    fields: dict[str, Any] = {
        "attributes": {"type": SYNC_RECORD},
        COMPOUND_ID: compound_id(result),
        PRIMARY_ID: result.primary_record_id,
        "Primary_Object_Type__c": result.primary_object_type,
        "Secondary_Record_ID__c": result.secondary_record_id,
        "Secondary_Object_Type__c": result.secondary_object_type,
        STATUS: status,
        # The sync consumer never puts secrets in messages; redacting again costs little
        # and a Sync Record is readable by every Salesforce user with access to it.
        "Resolution_Message__c": truncate_message(redact(result.message)),
        LAST_ATTEMPT_AT: format_datetime(result.attempted_at),
    }
    link = request_dashboard_link(result, dashboard_base=dashboard_base, test_mode=test_mode)
    # A Success that needed no Stripe request (Stripe was already in step) keeps the link to
    # the request that made it so; any other attempt links to its own request, or to none.
    if link is not None or result.status is not SyncStatus.SUCCESS:
        fields[REQUEST_LINK] = link
    return fields
