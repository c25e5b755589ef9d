"""Draft orders of the shapes beyond one plain phase, for the chaos workload to activate (issue 20).

The org's generated orders (``dataset_generator``) are all plain: one phase, a whole number of
billing periods. This adds a modest share of each other shape CPQ teams sell, built the way CPQ
records them, deterministic from the run's seed:

- **MDQ** (A6): one order product per segment of a product (``SBQQ__SegmentIndex__c`` /
  ``SegmentKey__c`` / ``SegmentLabel__c``, Year, Quarter or Month segments, each with its own
  service period, quantity and price for the segment), sometimes with a plain line beside them;
- **evergreen** (A4): lines of ``SBQQ__SubscriptionType__c = Evergreen``, term 1, the price per
  billing period, a payment term (evergreen subscriptions are invoiced);
- **coupons** (A5): the connector package's coupons on the quote (order level) and on one quote
  line (line level), percent or amount off, once, repeating or forever, copied to
  ``Order_Stripe_Coupon__c`` by the package when the order activates;
- **uneven terms** (O7): a term that is not a whole number of billing periods (18 months billed
  yearly, 14 quarterly ...).

Renewals (A3) need a contract first: ``contract_changes`` renews contracts during the run.
Every order starts in the future (1-60 days), like the generated ones, so what Stripe must hold
does not depend on when the sync ran.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cpqsync_sandbox.org.cpq_actions import contract_end
from cpqsync_sandbox.org.dataset import STANDARD_PRICEBOOK_REF
from cpqsync_sandbox.org.simulator import OrgSimulator

# The share of a run's orders each shape takes (the rest are the org's generated plain orders).
SHAPE_SHARES = {"mdq": 0.03, "evergreen": 0.025, "coupon": 0.04, "uneven term": 0.03}

_ACCOUNTS = ("acme", "initech", "umbrella", "stark", "wayne")
_MONTHS = {"Monthly": 1, "Quarterly": 3, "Semiannual": 6, "Annual": 12}
# (pricebook entry ref, list price a year) by billing frequency: USD entries of the dataset.
_ENTRIES = {
    "Monthly": (("platform_usd", 1440.0), ("support_usd", 6000.0)),
    "Quarterly": (("seats_quarterly_usd", 900.0),),
}
_SEGMENTS = {"Year": 12, "Quarter": 3, "Month": 1}
# (segment type, term months, billing frequency): segments are whole billing periods (O7).
_MDQ_SHAPES = (
    ("Year", 36, "Monthly"),
    ("Year", 24, "Monthly"),
    ("Year", 24, "Quarterly"),
    ("Quarter", 12, "Monthly"),
    ("Month", 3, "Monthly"),
)
# (billing frequency, term months, entry ref, list price a year): not whole periods.
_UNEVEN_SHAPES = (
    ("Annual", 18, "platform_usd", 1440.0),
    ("Annual", 30, "support_usd", 6000.0),
    ("Quarterly", 14, "seats_quarterly_usd", 900.0),
    ("Semiannual", 9, "platform_usd", 1440.0),
)


@dataclass(frozen=True)
class _Line:
    entry: str
    frequency: str
    quantity: int
    unit_price: float
    term: int
    fields: Mapping[str, Any]  # segment or subscription-type fields


def shaped_counts(orders: int) -> dict[str, int]:
    """How many orders of each shape a run of ``orders`` orders makes (at least one each)."""
    return {shape: max(1, round(orders * share)) for shape, share in SHAPE_SHARES.items()}


class ShapedOrders:
    """Builds the draft orders; ``shapes`` maps each order id to its shape."""

    def __init__(self, org: OrgSimulator, seed: int) -> None:
        self.org = org
        self.rng = random.Random(f"shaped orders {seed}")
        self.today = datetime.now(UTC).date()
        self.shapes: dict[str, str] = {}
        self.counts: Counter[str] = Counter()

    def make(self, counts: Mapping[str, int]) -> dict[str, str]:
        builders = {
            "mdq": self._mdq,
            "evergreen": self._evergreen,
            "coupon": self._coupon,
            "uneven term": self._uneven,
        }
        for shape, count in counts.items():
            for _ in range(count):
                order = builders[shape]()
                self.shapes[order] = shape
                self.counts[f"{shape} orders"] += 1
        return self.shapes

    # --- the shapes ---

    def _mdq(self) -> str:
        kind, term, frequency = self.rng.choice(_MDQ_SHAPES)
        entry, yearly = self.rng.choice(_ENTRIES[frequency])
        months = _SEGMENTS[kind]
        start = self._start()
        key = f"MDQ-{len(self.shapes) + 1}"
        quantity = self.rng.randint(1, 20)
        lines = []
        for index in range(1, term // months + 1):
            quantity += self.rng.randint(0, 10)  # a ramp: each segment as many or more
            begins = contract_end(start, (index - 1) * months) + timedelta(days=1)
            # a segment's price covers the segment, sometimes discounted in later ones
            price = yearly * months / 12 * self.rng.choice((1.0, 1.0, 0.9))
            lines.append(
                _Line(
                    entry,
                    frequency,
                    quantity,
                    round(price, 2),
                    term,
                    {
                        "SBQQ__SegmentIndex__c": index,
                        "SBQQ__SegmentKey__c": key,
                        "SBQQ__SegmentLabel__c": f"{kind} {index}",
                        "SBQQ__DimensionType__c": kind,
                        "ServiceDate": begins,
                        "EndDate": contract_end(start, index * months),
                    },
                )
            )
        plain = [e for e in _ENTRIES[frequency] if e[0] != entry]
        if plain and self.rng.random() < 0.6:
            other, other_yearly = self.rng.choice(plain)
            lines.append(
                _Line(other, frequency, self.rng.randint(1, 5), other_yearly * term / 12, term, {})
            )
        return self._order("MDQ", start, term, lines)

    def _evergreen(self) -> str:
        frequency = self.rng.choice(("Monthly", "Monthly", "Quarterly"))
        entries = _ENTRIES[frequency]
        chosen = self.rng.sample(entries, k=self.rng.randint(1, len(entries)))
        evergreen = {
            "SBQQ__SubscriptionType__c": "Evergreen",
            "SBQQ__DefaultSubscriptionTerm__c": 1,
        }
        lines = [
            # the price per billing period (no term to divide by, A4)
            _Line(e, frequency, self.rng.randint(1, 10), y * _MONTHS[frequency] / 12, 1, evergreen)
            for e, y in chosen
        ]
        return self._order("Evergreen", self._start(), 1, lines)

    def _coupon(self) -> str:
        term = self.rng.choice((12, 24))
        frequency = self.rng.choice(("Monthly", "Monthly", "Quarterly"))
        entries = _ENTRIES[frequency]
        chosen = self.rng.sample(entries, k=self.rng.randint(1, len(entries)))
        lines = [
            _Line(e, frequency, self.rng.randint(1, 20), y * term / 12, term, {}) for e, y in chosen
        ]
        order = self._order("Coupon", self._start(), term, lines)
        quote = str(self.org.get("Order", order)["SBQQ__Quote__c"])
        placement = self.rng.choice(("order", "line", "both"))
        if placement in ("order", "both"):
            coupon = self._coupon_record()
            self.org.create(
                "Quote_Stripe_Coupon_Association__c",
                {"Quote__c": quote, "Quote_Stripe_Coupon__c": coupon},
            )
            self.counts["order-level coupons"] += 1
        if placement in ("line", "both"):
            items = self.org.store.children("OrderItem", "OrderId", order)
            item = self.rng.choice(sorted(items, key=lambda i: str(i["Id"])))
            quote_line = self.org.create(
                "SBQQ__QuoteLine__c",
                {"SBQQ__Quote__c": quote, "SBQQ__Quantity__c": item["Quantity"]},
            )
            self.org.update("OrderItem", str(item["Id"]), {"SBQQ__QuoteLine__c": quote_line})
            self.org.create(
                "Quote_Line_Stripe_Coupon_Association__c",
                {"Quote_Line__c": quote_line, "Quote_Stripe_Coupon__c": self._coupon_record()},
            )
            self.counts["line-level coupons"] += 1
        return order

    def _coupon_record(self) -> str:
        self.counts["coupon records"] += 1
        n = self.counts["coupon records"]
        terms: dict[str, Any] = {}
        if self.rng.random() < 0.6:
            percent = self.rng.choice((5, 10, 12.5, 15, 20, 50))
            terms.update(Percent_Off__c=percent, Name__c=f"Chaos {percent}% #{n}")
        else:
            amount = self.rng.choice((10, 25, 50, 120))
            terms.update(Amount_Off__c=amount, Name__c=f"Chaos ${amount} off #{n}")
        duration = self.rng.choice(("once", "forever", "repeating"))
        terms["Duration__c"] = duration
        if duration == "repeating":
            terms["Duration_In_Months__c"] = self.rng.randint(1, 12)
        if self.rng.random() < 0.3:
            terms["Max_Redemptions__c"] = self.rng.randint(1, 100)
        return self.org.create("Quote_Stripe_Coupon__c", terms)

    def _uneven(self) -> str:
        frequency, term, entry, yearly = self.rng.choice(_UNEVEN_SHAPES)
        line = _Line(entry, frequency, self.rng.randint(1, 20), yearly * term / 12, term, {})
        return self._order("Uneven term", self._start(), term, [line])

    # --- records ---

    def _start(self) -> date:
        return self.today + timedelta(days=self.rng.randint(1, 60))

    def _order(self, label: str, start: date, term: int, lines: list[_Line]) -> str:
        refs = self.org.dataset.refs
        account = refs[_ACCOUNTS[len(self.shapes) % len(_ACCOUNTS)]]
        store = self.org.store
        with store.transaction():
            quote = store.create(
                "SBQQ__Quote__c",
                {
                    "SBQQ__Account__c": account,
                    "SBQQ__Primary__c": True,
                    "SBQQ__Status__c": "Accepted",
                    "SBQQ__StartDate__c": start,
                    "SBQQ__SubscriptionTerm__c": term,
                    "SBQQ__PaymentTerm__c": self.rng.choice(("Net 15", "Net 30", "Net 45")),
                },
            )
            order = store.create(
                "Order",
                {
                    "Name": f"{label} order {len(self.shapes) + 1}",
                    "AccountId": account,
                    "Pricebook2Id": refs[STANDARD_PRICEBOOK_REF],
                    "SBQQ__Quote__c": quote,
                    "Status": "Draft",
                    "EffectiveDate": start,
                    "Type": "New",
                },
            )
            for line in lines:
                values: dict[str, Any] = {
                    "OrderId": order,
                    "PricebookEntryId": refs[line.entry],
                    "Quantity": line.quantity,
                    "UnitPrice": round(line.unit_price, 2),
                    "ServiceDate": start,
                    "SBQQ__ChargeType__c": "Recurring",
                    "SBQQ__BillingFrequency__c": line.frequency,
                    "SBQQ__BillingType__c": "Advance",
                    "SBQQ__SubscriptionPricing__c": "Fixed Price",
                    "SBQQ__SubscriptionType__c": "Renewable",
                    "SBQQ__SubscriptionTerm__c": line.term,
                    **line.fields,
                }
                store.create("OrderItem", values)
        return str(order)
