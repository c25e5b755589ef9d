"""The work a chaos run does in Salesforce while the connector is being killed and disturbed.

Four kinds of change, interleaved at random over the run: order activations (the orders to
sync), account amendments (customers to update), pricebook price changes (prices to replace,
P7) and CPQ contract changes (``contract_changes``: contracting generated orders, then
upsells, downsells, new products and cancellations of their contracts, A1/A2, and renewals, A3).
The orders include a share of MDQ, evergreen, coupon and uneven-term orders (``shaped_orders``),
counted by shape as they activate. Names and
descriptions carry unicode and SOQL-special characters (quotes, backslashes, ``%``/``_``),
since those records' ids and names travel through the sync's queries.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.chaos.contract_changes import ContractChanges

ACCOUNT_REFS = ("acme", "globex", "initech", "umbrella", "stark", "wayne")
# Entries whose Stripe price one-time lines reuse, so their changes replace a live price (P7).
PRICED_ENTRY_REFS = ("onboarding_usd", "training_usd", "support_usd")
PRODUCT_REFS = ("platform", "support", "onboarding", "training")

# Quotes, backslashes, SOQL wildcards and comment-like text, plus non-Latin scripts and emoji.
TRICKY_NAMES = (
    "O'Brien \\ Sons",
    "Quote \"Corp\" \\' OR Name != '",
    "100%_Wildcard\\%",
    "Zürich Straße GmbH",
    "株式会社テスト",
    "Ünïcödé 🚀 Ltd",
    "Back\\slash\\\\Co",
    "-- ; DROP TABLE Account",
)


@dataclass
class WorkloadStats:
    counts: Counter[str] = field(default_factory=Counter)


class Workload:
    """Runs in a thread: activates ``orders`` spread over ``seconds``, with amendments between."""

    def __init__(
        self,
        org: OrgSimulator,
        orders: list[str],
        seconds: float,
        *,
        seed: int = 0,
        amendments_per_order: float = 0.3,
        price_changes_per_order: float = 0.05,
        contractable: frozenset[str] = frozenset(),
        contracted_share: float = 0.4,
        contract_changes_per_order: float = 0.3,
        renewals_per_order: float = 0.04,
        evergreen_cancelled_share: float = 0.5,
        shapes: dict[str, str] | None = None,
        price_flips: bool = False,
    ) -> None:
        """``contractable``: orders that may be contracted once activated (orders the sync
        accepts on their own, so their contracts' amendments are what the run tests); ``shapes``:
        the shape of each shaped order (``shaped_orders``), for the counts; ``price_flips``: each
        price change flips its entry between its price at the start and another, so half the
        changes put back the price the orders' lines have, and before an order with a one-time
        line on such an entry activates (at the price-change rate) its entry is moved away and
        back: the order races the entry's own sync and waits for it when it plans first (P7)."""
        self.org = org
        self.orders = list(orders)
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.amendments = amendments_per_order
        self.price_changes = price_changes_per_order
        self.stats = WorkloadStats()
        self.contractable = contractable
        self.contracted_share = contracted_share
        self.contract_changes = contract_changes_per_order
        self.renewals = renewals_per_order
        self.evergreen_cancelled = evergreen_cancelled_share
        self.shapes = shapes or {}
        self.list_prices = (
            {
                ref: float(org.get("PricebookEntry", org.dataset.id(ref))["UnitPrice"])
                for ref in PRICED_ENTRY_REFS
            }
            if price_flips
            else {}
        )
        self.contracts = ContractChanges(org, self.rng, self.stats.counts)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-workload", daemon=True)

    def start(self) -> Workload:
        self._thread.start()
        return self

    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the workload did not finish in time")
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            pause = self.seconds / max(1, len(self.orders))
            self.rng.shuffle(self.orders)
            for order in self.orders:
                if self.list_prices and self.rng.random() < self.price_changes:
                    self.flip_before(order)
                self.org.activate_order(order)
                self.stats.counts["orders activated"] += 1
                shape = self.shapes.get(order)
                if shape:
                    self.stats.counts[f"{shape} orders activated"] += 1
                if shape == "evergreen" and self.rng.random() < self.evergreen_cancelled:
                    self.contracts.cancel_evergreen(order)
                # MDQ orders are contracted whenever allowed: their amendments are rarer cases
                chance = 1.0 if shape == "mdq" else self.contracted_share
                if order in self.contractable and self.rng.random() < chance:
                    self.contracts.contract(order)
                if self.rng.random() < self.contract_changes:
                    self.contracts.amend()
                if self.rng.random() < self.renewals:
                    self.contracts.renew()
                if self.rng.random() < self.amendments:
                    self.amend_account()
                if self.rng.random() < self.price_changes:
                    self.change_price()
                if self.rng.random() < self.amendments / 3:
                    self.amend_product()
                time.sleep(pause)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def amend_account(self) -> None:
        account = self.org.dataset.id(self.rng.choice(ACCOUNT_REFS))
        n = self.stats.counts["account amendments"]
        fields = {
            "Name": f"{self.rng.choice(TRICKY_NAMES)} #{n}",
            "Phone": f"+1 555 {self.rng.randint(1000, 9999)}",
            "Description": self.rng.choice(("", "Renewed: ", "Ünïcode ✓ ")) + "x" * (n % 7),
        }
        self.org.update("Account", account, fields)
        self.stats.counts["account amendments"] += 1

    def change_price(self) -> None:
        ref = self.rng.choice(PRICED_ENTRY_REFS)
        entry = self.org.dataset.id(ref)
        price: float = self.rng.choice((1200, 4500, 5000, 5500, 6000, 6500))
        listed = self.list_prices.get(ref)
        if listed is not None:
            now = float(self.org.get("PricebookEntry", entry)["UnitPrice"])
            price = listed + 500 if now == listed else listed
        self.org.update("PricebookEntry", entry, {"UnitPrice": price})
        self.stats.counts["price changes"] += 1

    def flip_before(self, order: str) -> None:
        """Move the entry of one of ``order``'s one-time lines away from its price and back
        right before the order activates: the order then races the entry's own sync of the
        change back, and waits for it when it plans first (P7)."""
        refs = {self.org.dataset.id(ref): ref for ref in self.list_prices}
        soql = f"SELECT PricebookEntryId FROM OrderItem WHERE OrderId = '{order}'"
        entries = [str(r["PricebookEntryId"]) for r in self.org.query(soql).records]
        priced = [e for e in entries if e in refs]
        if not priced:
            return
        entry = priced[0]
        listed = self.list_prices[refs[entry]]
        self.org.update("PricebookEntry", entry, {"UnitPrice": listed + 500})
        time.sleep(1.0)  # the entry's own sync replaces its Stripe price meanwhile
        self.org.update("PricebookEntry", entry, {"UnitPrice": listed})
        self.stats.counts["price changes"] += 2
        self.stats.counts["price flips before an activation"] += 1

    def amend_product(self) -> None:
        product = self.org.dataset.id(self.rng.choice(PRODUCT_REFS))
        n = self.stats.counts["product amendments"]
        self.org.update(
            "Product2", product, {"Description": f"{self.rng.choice(TRICKY_NAMES)} v{n}"}
        )
        self.stats.counts["product amendments"] += 1
