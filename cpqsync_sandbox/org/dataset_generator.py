"""Scale a loaded dataset up with generated, valid draft orders (``--orders N``).

Each order gets its own accepted quote and one to three lines drawn from the shipped dataset's
USD price book, always sharing one billing interval (rule O6), so generated orders are all
syncable: benchmarks and load tests measure the happy path, the dataset's labelled bad orders
cover the rest.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cpqsync_sandbox.org.dataset import STANDARD_PRICEBOOK_REF, DatasetError, LoadedDataset
from cpqsync_sandbox.org.store import OrgStore

_ACCOUNTS = ("acme", "initech", "umbrella", "stark", "wayne")
# (pricebook entry ref, billing frequency or None for one-time, list price)
Line = tuple[str, str | None, float]
_MONTHLY: tuple[Line, ...] = (
    ("platform_usd", "Monthly", 1440.0),
    ("support_usd", "Monthly", 6000.0),
)
_QUARTERLY: tuple[Line, ...] = (("seats_quarterly_usd", "Quarterly", 900.0),)
_ONE_TIME: tuple[Line, ...] = (("onboarding_usd", None, 5000.0), ("training_usd", None, 1200.0))


def generate_orders(
    store: OrgStore, loaded: LoadedDataset, count: int, *, seed: int = 0
) -> list[str]:
    """Create ``count`` draft orders (with quotes and lines); returns their ids."""
    needed = [*_ACCOUNTS, *(r for r, _, _ in _MONTHLY + _QUARTERLY + _ONE_TIME)]
    missing = [ref for ref in needed if ref not in loaded.refs]
    if missing:
        raise DatasetError(
            f"the order generator needs the shipped dataset's records; missing: {missing}"
        )
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    order_ids = []
    for n in range(count):
        account = loaded.refs[_ACCOUNTS[n % len(_ACCOUNTS)]]
        start = (today + timedelta(days=rng.randint(1, 60))).isoformat()
        term = rng.choice((12, 24, 36))
        recurring = rng.choice((_MONTHLY, _MONTHLY, _QUARTERLY))
        lines: list[Line] = rng.sample(recurring, k=rng.randint(1, len(recurring)))
        if rng.random() < 0.4:
            lines.append(rng.choice(_ONE_TIME))
        with store.transaction():
            quote = store.create(
                "SBQQ__Quote__c",
                {
                    "SBQQ__Account__c": account,
                    "SBQQ__Primary__c": True,
                    "SBQQ__Status__c": "Accepted",
                    "SBQQ__StartDate__c": start,
                    "SBQQ__SubscriptionTerm__c": term,
                    "SBQQ__PaymentTerm__c": rng.choice(("Net 15", "Net 30", "Net 45")),
                },
            )
            order = store.create(
                "Order",
                {
                    "Name": f"Generated order {n + 1}",
                    "AccountId": account,
                    "Pricebook2Id": loaded.refs[STANDARD_PRICEBOOK_REF],
                    "SBQQ__Quote__c": quote,
                    "Status": "Draft",
                    "EffectiveDate": start,
                    "Type": "New",
                },
            )
            for ref, frequency, list_price in lines:
                multiplier = term / 12 if frequency else 1
                store.create(
                    "OrderItem",
                    {
                        "OrderId": order,
                        "PricebookEntryId": loaded.refs[ref],
                        "Quantity": rng.randint(1, 50) if frequency else 1,
                        "UnitPrice": round(list_price * multiplier, 2),
                        "ListPrice": list_price,
                        "ServiceDate": start,
                        "SBQQ__ChargeType__c": "Recurring" if frequency else "One-Time",
                        "SBQQ__BillingFrequency__c": frequency,
                        "SBQQ__BillingType__c": "Advance" if frequency else None,
                        "SBQQ__SubscriptionPricing__c": "Fixed Price" if frequency else None,
                        "SBQQ__SubscriptionTerm__c": term if frequency else None,
                        "SBQQ__ProrateMultiplier__c": multiplier,
                        # What CPQ stamps on a line besides its prorated UnitPrice.
                        "SBQQ__DefaultSubscriptionTerm__c": 12 if frequency else None,
                        "SBQQ__QuotedListPrice__c": list_price,
                        "SBQQ__UnproratedNetPrice__c": list_price,
                    },
                )
        order_ids.append(order)
    return order_ids
