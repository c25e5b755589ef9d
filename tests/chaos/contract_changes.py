"""What sales does to contracts during a chaos run: contract orders, amend, cancel, renew them.

Through the org simulator's CPQ actions (``cpq_actions``), exactly as tests and the demo amend:
an activated order is contracted; a contract is later amended with an upsell (+n on a line it
sells), a downsell (-n, at most what that line still holds), a new product (a line of its own,
possibly a product the contract already sells, so a later decrease of that product takes the
newest lot first: LIFO, A1) or cancelled (every live line to zero, A2); each amendment is then
activated like any order. A live contract may also be renewed (A3): CPQ's renewal order (the
contract's live subscriptions for the next term, from the day after its end) is activated and
syncs as a contract of its own; a renewed contract is not amended afterwards (its renewal order
holds the quantities it had when renewed). Some evergreen orders are contracted and cancelled
from a future day inside their first month (A4; evergreen contracts take no other amendment).

Each contract's amendments start on strictly later dates, whole months after the contract's
start plus 0-20 days (so some start inside a billing period and bill a proration item), and
always in the future: a downsell sized from today's quantities is then valid at its start date,
and the schedule the checker expects does not depend on when the sync ran.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cpqsync_sandbox.org.cpq_actions import AmendmentLine, live_quantities, segment_period
from cpqsync_sandbox.org.simulator import OrgSimulator

# Recurring USD entries an amendment may add (ref, billing frequency, list price a year): one of
# the contract's own billing frequency (Stripe bills one interval per subscription, so a mixed
# one is a data error, not what this run tests).
NEW_PRODUCT_ENTRIES = (
    ("platform_usd", "Monthly", 1440.0),
    ("support_usd", "Monthly", 6000.0),
    ("seats_quarterly_usd", "Quarterly", 900.0),
)


@dataclass
class _Contract:
    contract_id: str
    start: date
    term_months: int
    months_used: int = 0  # the latest amendment's month offset (amendments start later)
    cancelled: bool = False
    renewed: bool = False  # its renewal order holds the quantities it had then: amend no more
    segmented: frozenset[str] = frozenset()  # pricebook entries sold in MDQ segments (A6)


class ContractChanges:
    """Not thread-safe: driven by the workload's thread."""

    def __init__(self, org: OrgSimulator, rng: random.Random, counts: Counter[str]) -> None:
        self.org = org
        self.rng = rng
        self.counts = counts
        self.contracts: list[_Contract] = []
        self.renewals: list[str] = []  # renewal orders, activated

    def contract(self, order_id: str) -> None:
        """CPQ's "Contracted" on an activated order."""
        contract_id = self.org.contract_order(order_id)
        contract = self.org.get("Contract", contract_id)
        segmented = frozenset(
            str(line["PricebookEntryId"])
            for line in self.org.store.children("OrderItem", "OrderId", order_id)
            if line.get("SBQQ__SegmentIndex__c")
        )
        self.contracts.append(
            _Contract(
                contract_id,
                contract["StartDate"],
                int(contract["ContractTerm"]),
                segmented=segmented,
            )
        )
        self.counts["contracts"] += 1
        if segmented:
            self.counts["mdq contracts"] += 1

    def amend(self) -> None:
        """One amendment (or cancellation) of a random live contract, activated at once."""
        live = [c for c in self.contracts if not c.cancelled and not c.renewed]
        if not live:
            return
        contract = self.rng.choice(live)
        month = contract.months_used + self.rng.randint(1, 3)
        if month >= contract.term_months:
            return  # no later month left in its term: nothing to amend this time
        begins = _add_months(contract.start, month) + timedelta(days=self.rng.choice((0, 0, 5, 20)))
        record = self.org.get("Contract", contract.contract_id)
        recurring = {
            line: quantity
            for line, quantity in live_quantities(self.org.store, contract.contract_id).items()
            if self.org.get("OrderItem", line).get("SBQQ__ChargeType__c") == "Recurring"
            # an MDQ segment that ended before the amendment is locked (CPQ shows it read-only)
            and not self._ended_segment(line, record, begins)
        }
        kind = self.rng.choices(
            ("upsell", "downsell", "new product", "cancellation"), weights=(4, 3, 2, 1)
        )[0]
        if kind == "cancellation":
            order = self.org.cancel_contract(contract.contract_id, begins)
            contract.cancelled = True
        else:
            line = self._line(kind, recurring, contract)
            kind = _kind(line)  # an MDQ contract may take an upsell for another kind
            order = self.org.amend_contract(contract.contract_id, begins, [line])
            left = sum(recurring.values()) + line.quantity_change
            # A downsell of everything left cancels it too: nothing may amend it afterwards.
            contract.cancelled = left <= 0
        contract.months_used = month
        self.org.activate_order(order)
        self.counts[f"contract {kind}s"] += 1
        if contract.segmented:
            self.counts["mdq contract amendments"] += 1

    def _ended_segment(self, line: str, contract: Mapping[str, Any], begins: date) -> bool:
        sold = self.org.get("OrderItem", line)
        return (
            bool(sold.get("SBQQ__SegmentIndex__c")) and segment_period(sold, contract)[1] < begins
        )

    def cancel_evergreen(self, order_id: str) -> None:
        """An activated evergreen order contracted, then cancelled from a future day inside its
        first billing month (A4: a zero-quantity amendment ends the subscription then)."""
        contract_id = self.org.contract_order(order_id)
        contract = self.org.get("Contract", contract_id)
        begins = contract["StartDate"] + timedelta(days=self.rng.randint(5, 25))
        self.org.activate_order(self.org.cancel_contract(contract_id, begins))
        self.counts["evergreen cancellations"] += 1

    def renew(self) -> None:
        """CPQ's renewal of a random live contract (A3), its renewal order activated at once.

        Only contracts whose live lines are all recurring: CPQ renews subscriptions, and a
        one-time product makes none (the org simulator's renewal copies every live line)."""
        candidates = [
            c
            for c in self.contracts
            if not c.cancelled
            and not c.renewed
            and not c.segmented  # CPQ renews segments as segments; the simulator does not
            and self._all_recurring(c.contract_id)
        ]
        if not candidates:
            return
        contract = self.rng.choice(candidates)
        order = self.org.renew_contract(contract.contract_id)
        contract.renewed = True
        self.org.activate_order(order)
        self.renewals.append(order)
        self.counts["contract renewals"] += 1

    def _all_recurring(self, contract_id: str) -> bool:
        lines = live_quantities(self.org.store, contract_id)
        return bool(lines) and all(
            self.org.get("OrderItem", line).get("SBQQ__ChargeType__c") == "Recurring"
            for line in lines
        )

    def _line(self, kind: str, recurring: dict[str, float], contract: _Contract) -> AmendmentLine:
        """``recurring``: the contract's live recurring lines (the line that sold each) and
        their quantities."""
        if kind == "upsell" and recurring:
            line = self.rng.choice(sorted(recurring))
            return AmendmentLine(self.rng.randint(1, 10), revises=line)
        if kind == "downsell" and recurring:
            line = self.rng.choice(sorted(recurring))
            # a segment keeps one: at zero with later segments still billing, its phases would
            # hold nothing (a data error, A6), and a cancellation is what ends them all
            keep = 1 if self.org.get("OrderItem", line).get("SBQQ__SegmentIndex__c") else 0
            if int(recurring[line]) > keep:
                return AmendmentLine(
                    -self.rng.randint(1, int(recurring[line]) - keep), revises=line
                )
            return AmendmentLine(self.rng.randint(1, 10), revises=line)
        frequencies = {
            self.org.get("OrderItem", line).get("SBQQ__BillingFrequency__c") for line in recurring
        }
        # Not a product the contract sells in segments: a new MDQ product is a data error (A6).
        plain = [
            e for e in NEW_PRODUCT_ENTRIES if self.org.dataset.id(e[0]) not in contract.segmented
        ]
        matching = [e for e in plain if e[1] in frequencies]
        if not matching and contract.segmented and recurring:
            # only the segmented product bills at this interval (one interval per schedule)
            return AmendmentLine(
                self.rng.randint(1, 10), revises=self.rng.choice(sorted(recurring))
            )
        ref, frequency, list_price = self.rng.choice(matching or plain)
        return AmendmentLine(
            self.rng.randint(1, 5),
            pricebook_entry_id=self.org.dataset.id(ref),
            unit_price=round(list_price * contract.term_months / 12, 2),
            billing_frequency=frequency,
        )


def _kind(line: AmendmentLine) -> str:
    if line.revises is None:
        return "new product"
    return "upsell" if line.quantity_change > 0 else "downsell"


def _add_months(day: date, months: int) -> date:
    """``months`` later, on the same day of the month (the 28th at most, which every month has)."""
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, min(day.day, 28))
