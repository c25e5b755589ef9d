"""``config check --connect``: the reverse_mappings' target fields checked against the org.

Loading already checked the Stripe side of each mapping; this asks Salesforce (describe
of Order and Account) whether each target field exists, can be written, and has a type the
source's transform produces: a datetime for ``| datetime``, a date for ``| date``, a currency
or number for ``| money``. Each problem names the setting to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from simple_salesforce.api import Salesforce

from cpqsync.mapping.reverse_mappings import INVOICE_RECORD, Transform
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import Settings

# Salesforce field types each transform may be written to (no transform: not these three).
_TYPES: Final[dict[Transform, frozenset[str]]] = {
    Transform.DATETIME: frozenset({"datetime"}),
    Transform.DATE: frozenset({"date"}),
    Transform.MONEY: frozenset({"currency", "double"}),
}
_CONVERTED: Final = frozenset({"datetime", "date", "currency", "double"})


def field_problems(sobject: str, settings: Settings, describe: dict[str, Any]) -> list[str]:
    """Problems of ``reverse_mappings.<sobject>`` against that object's describe."""
    fields = {str(f["name"]): f for f in describe.get("fields", [])}
    found: list[str] = []
    for name, source in settings.reverse_mappings.paths(sobject).items():
        where = f"reverse_mappings.{sobject}.{name}"
        field = fields.get(name)
        if field is None:
            found.append(f"{where}: the org's {sobject} has no field {name}")
            continue
        if not field.get("updateable"):
            found.append(f"{where}: {sobject}.{name} cannot be written (not updateable)")
        kind = str(field.get("type"))
        wanted = _TYPES.get(source.transform)
        if wanted is not None and kind not in wanted:
            found.append(
                f"{where}: '| {source.transform.value}' needs a {' or '.join(sorted(wanted))} "
                f"field; {sobject}.{name} is a {kind}"
            )
        elif wanted is None and kind in _CONVERTED:
            found.append(
                f"{where}: {sobject}.{name} is a {kind}; add '| datetime', '| date' or '| money' "
                "to the source"
            )
    return found


def org_problems(settings: Settings) -> list[str]:
    """Log in to the org and check every reverse mapping (raises on a failed login)."""
    rest = SalesforceRest(SalesforceAuth(settings.salesforce))
    found: list[str] = []
    for sobject in ("Order", "Account", INVOICE_RECORD):
        if settings.reverse_mappings.paths(sobject):
            found += field_problems(sobject, settings, rest.call(_describe(sobject)))
    return found


def _describe(sobject: str) -> Callable[[Salesforce], dict[str, Any]]:
    def call(sf: Salesforce) -> dict[str, Any]:
        described: dict[str, Any] = getattr(sf, sobject).describe()
        return described

    return call
