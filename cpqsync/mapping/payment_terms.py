"""CPQ payment terms to Stripe's ``days_until_due`` (rule O4), whatever the value's source.

The same parser reads ``SBQQ__PaymentTerm__c``, a field default (``Net-15`` in YAML) and a
custom mapping from any other picklist (``Net 30``), so one spelling means one number of days
everywhere.
"""

from __future__ import annotations

import re
from typing import Any

from cpqsync.mapping.coercion import CoercionError

_NET_TERM = re.compile(r"^net[\s-]*(15|30|45|60|90)$", re.IGNORECASE)
_DAYS = re.compile(r"^\d[\d ]*(\.0+)?$")


class UnsupportedDaysUntilDue(CoercionError):
    """A payment term that is no number of days; its text is the reference's message (6a)."""

    rule = "O4"

    def __init__(self, value: Any) -> None:
        super().__init__(f"Unsupported field value for days_until_due: {value}")


def days_until_due(payment_term: Any) -> int | None:
    """ "30", "3 0", "30.0", "Net 30" and "Net-30" give 30 days; empty gives None."""
    if payment_term is None or payment_term == "":
        return None
    if isinstance(payment_term, int | float) and not isinstance(payment_term, bool):
        if float(payment_term).is_integer() and payment_term >= 0:
            return int(payment_term)
        raise UnsupportedDaysUntilDue(payment_term)
    text = str(payment_term).strip()
    net = _NET_TERM.match(text)
    if net:
        return int(net.group(1))
    if _DAYS.match(text):
        return int(text.split(".")[0].replace(" ", ""))
    raise UnsupportedDaysUntilDue(payment_term)
