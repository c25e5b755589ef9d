"""The demo's billing period: customers on a Stripe test clock, advanced once the orders synced.

Before any order is activated, every account with a Draft order gets a Stripe customer on
one test clock (its ``Stripe_ID__c`` set, as an admin linking existing customers would), so
the sync's schedules live on that clock. Advancing it then makes Stripe do what a month of
real time would: start the schedules, create, finalize and collect invoices. The reverse sync
(rule B1) brings that state back onto the orders, where the final table reads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import stripe

from cpqsync_sandbox.demo.org_client import OrgClient

DAY = 86_400
# One billing period past the latest start date of the shipped dataset (a month out).
PERIOD_DAYS = 32
# The emulator allows 25 requests/s, at ~150 ms each: three at a time stays under it.
CONCURRENCY = 3


class BillingClock:
    def __init__(self, api_base: str, api_key: str) -> None:
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": api_base}, max_network_retries=3
        )
        self.clock_id: str | None = None

    def prepare(self, org: OrgClient) -> int:
        """Put a customer on the clock for each account with a Draft order; return how many."""
        clock = self._client.v1.test_helpers.test_clocks.create(
            params={"frozen_time": int(time.time()), "name": "cpqsync demo"}
        )
        self.clock_id = clock.id
        accounts = org.draft_order_accounts()

        def customer(name: str) -> str:
            made = self._client.v1.customers.create(params={"name": name, "test_clock": clock.id})
            return made.id

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            ids = list(pool.map(customer, accounts.values()))
        org.set_stripe_ids("Account", dict(zip(accounts, ids, strict=True)))
        return len(ids)

    def advance(self, starts: Iterable[int] = ()) -> int:
        """One billing period on, and at least a day past the latest schedule start (generated
        orders start up to two months out), so every order has been invoiced. Returns days."""
        assert self.clock_id is not None, "prepare() first"
        now = self._client.v1.test_helpers.test_clocks.retrieve(self.clock_id).frozen_time
        target = max([now + PERIOD_DAYS * DAY, *(start + DAY for start in starts)])
        self._client.v1.test_helpers.test_clocks.advance(
            self.clock_id, params={"frozen_time": target}
        )
        return (target - now) // DAY
