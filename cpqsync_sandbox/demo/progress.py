"""One look at the running demo: orders, Stripe traffic and consumer lag.

Read from where each fact lives: order outcomes from the org (what a Salesforce
user would see), request counts from the Stripe emulator, lag from the consumers'
own ``/metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cpqsync_sandbox.demo.expectations import OrderExpectation
from cpqsync_sandbox.demo.org_client import OrgClient
from cpqsync_sandbox.demo.role_metrics import consumer_lag
from cpqsync_sandbox.demo.stripe_client import StripeAdmin
from cpqsync_sandbox.demo.verdict import OrderVerdict, judge_all


@dataclass(frozen=True)
class Snapshot:
    elapsed_s: float
    total: int
    activated: int
    synced: int  # settled with a Success Sync Record and a Stripe id
    errored: int  # settled with an Error Sync Record
    unexpected: int  # settled, but not as the dataset expects
    stripe_requests: int
    stripe_per_second: float
    stripe_rate_limited: int
    lag: Mapping[str, int | None] = field(default_factory=dict)

    @property
    def settled(self) -> int:
        return self.synced + self.errored


class ProgressSampler:
    """Takes snapshots; remembers the last Stripe count to turn it into a rate."""

    def __init__(
        self,
        org: OrgClient,
        stripe: StripeAdmin,
        consumers: Mapping[str, str],
        started_at: float,
    ) -> None:
        self._org = org
        self._stripe = stripe
        self._consumers = dict(consumers)  # role -> metrics URL
        self._started = started_at
        self._last_count = 0
        self._last_at = started_at
        self.peak_per_second = 0.0
        self.settled_at: dict[str, float] = {}  # order id -> seconds since start

    def sample(
        self, expectations: Sequence[OrderExpectation], activated: int
    ) -> tuple[Snapshot, list[OrderVerdict]]:
        now = time.monotonic()
        verdicts = judge_all(expectations, self._org.order_states())
        stats = self._stripe.request_stats()
        elapsed = max(now - self._last_at, 1e-3)
        per_second = max(stats.total - self._last_count, 0) / elapsed
        self._last_count, self._last_at = stats.total, now
        self.peak_per_second = max(self.peak_per_second, per_second)
        for verdict in verdicts:
            if verdict.settled:
                self.settled_at.setdefault(verdict.expectation.order_id, now - self._started)
        settled = [v for v in verdicts if v.settled and v.state is not None]
        snapshot = Snapshot(
            elapsed_s=now - self._started,
            total=len(expectations),
            activated=activated,
            synced=sum(1 for v in settled if v.state and v.state.sync_status == "Success"),
            errored=sum(1 for v in settled if v.state and v.state.sync_status != "Success"),
            unexpected=sum(1 for v in settled if v.problem is not None),
            stripe_requests=stats.total,
            stripe_per_second=per_second,
            stripe_rate_limited=stats.rate_limited,
            lag={role: consumer_lag(url) for role, url in self._consumers.items()},
        )
        return snapshot, verdicts
