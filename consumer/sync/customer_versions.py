"""Whether a customer update is older than what the customer already holds.

Stripe has no conditional update, so the applier reads the customer just before writing it and
leaves it alone when the account version it carries (``planning.account_version``) is newer
than the update's: a late order sync must not undo a later amendment. A newer or equal version,
or a missing or unreadable one on either side, is written as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from consumer.sync.planning.account_version import VERSION_KEYS


def _parse(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def version_key(params: Mapping[str, Any]) -> str | None:
    """The metadata key under which ``params`` carry an account version, if they do."""
    metadata = params.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    return next((key for key in VERSION_KEYS if metadata.get(key)), None)


def is_superseded(params: Mapping[str, Any], customer: Mapping[str, Any]) -> bool:
    """Whether ``customer`` already carries a newer account version than ``params``."""
    key = version_key(params)
    if key is None:
        return False
    wanted = _parse(params["metadata"][key])
    stored = _parse((customer.get("metadata") or {}).get(key))
    return wanted is not None and stored is not None and stored > wanted
