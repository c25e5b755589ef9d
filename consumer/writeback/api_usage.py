"""The org's daily API usage, as Salesforce reports it on every response.

``Sforce-Limit-Info: api-usage=18/5000`` comes back on each REST answer;
simple-salesforce parses it into ``Salesforce.api_usage``, so reading it after a
call costs nothing and tells the operator how close the writeback is to the
org's 24-hour allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiUsage:
    used: int
    limit: int


def api_usage_of(client: Any) -> ApiUsage | None:
    """The usage simple-salesforce parsed from the last response's header, if any."""
    usage = getattr(client, "api_usage", None) or {}
    entry = usage.get("api-usage") if isinstance(usage, dict) else None
    if entry is None:
        return None
    return ApiUsage(int(entry.used), int(entry.total))
