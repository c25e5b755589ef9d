"""The Stripe requests behind each order the checker found wrong (a line price still active,
a schedule missing).

The role logs do not name price ids, and two members may have worked the order, so the only
complete account of what happened to an order in Stripe is the emulator's request log: every
request that carried the order's or its lines' ids, and every request to an object the
discrepancy names, in the order the emulator answered them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cpqsync_sandbox.stripe_emulator import RequestLogEntry

_ORDER_ITEM = re.compile(r"\bOrderItem (\w+)")
_RECORD = re.compile(r"\b(?:Order|PricebookEntry|Account|Product2) (\w{18})\b")
_OBJECT = re.compile(r"\b((?:price|sub_sched|cus|in)_\w+)")
# An inline price names no record: the requests that sent its amount (as price_data) made it.
_AMOUNT = re.compile(r"'unit_amount_decimal': '([0-9.]+)'")


def orphan_traces(
    discrepancies: list[str],
    log: list[RequestLogEntry],
    order_of_item: dict[str, str],
) -> str:
    """A readable trace per discrepancy that names a record ('' when none does)."""
    items_of: dict[str, list[str]] = {}
    for item, order in order_of_item.items():
        items_of.setdefault(order, []).append(item)
    sections = []
    for line in discrepancies:
        records = _RECORD.findall(line)
        item_match = _ORDER_ITEM.search(line)
        if item_match:
            records.append(order_of_item.get(item_match.group(1), "?"))
        amounts = _AMOUNT.findall(line)
        if not records and not amounts:
            continue
        texts = [t for r in records for t in (r, *items_of.get(r, []))] + amounts
        objects = _OBJECT.findall(line)
        rows = [
            f"{n:6d} {e.method} {e.path} status={e.status} replayed={e.replayed} "
            f"fault={e.fault} key={e.idempotency_key} {_brief(e.params)}"
            for n, e in enumerate(log)
            if any(o in e.path for o in objects)
            or any(_mentions(e.params, t) or t in (e.idempotency_key or "") for t in texts)
        ]
        sections.append(f"== {line} (records {records})\n" + "\n".join(rows))
    return "\n\n".join(sections)


def _mentions(params: dict[str, Any], text: str) -> bool:
    return bool(text) and text in json.dumps(params, default=str)


def _brief(params: dict[str, Any]) -> str:
    text = json.dumps(params, default=str, sort_keys=True)
    return text if len(text) < 3000 else text[:3000] + "…"
