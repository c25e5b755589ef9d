"""Fault profiles: Stripe and Salesforce misbehaving the ways they do in production.

Always on for the whole run (Stripe's test-mode rate limit, 5% 500s, 1% 500s after the request
ran, 2% dropped connections, rare timeouts), plus bursts the injector fires at random: 429
storms, latency spikes up to 5 s, REQUEST_LIMIT_EXCEEDED bursts, Pub/Sub stream disconnects
and expired sessions. The expired replay id is a one-off (``expire_replay_ids``) since it
needs the bridge down while Salesforce's retention passes.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from cpqsync_sandbox.org.simulator import OrgSimulator
from cpqsync_sandbox.stripe_emulator import StripeEmulator
from cpqsync_sandbox.stripe_emulator.faults import FaultRule
from tests.chaos.roles import RoleProcess, wait_until

STRIPE_TEST_MODE_LIMIT = 25
STEADY_FAULTS = (
    {"kind": "error", "rate": 0.05},
    # The request ran, then failed: Stripe stores that 500 under the idempotency key.
    {"kind": "error", "rate": 0.01, "stage": "after"},
    {"kind": "drop", "rate": 0.02},
    {"kind": "timeout", "rate": 0.005, "hold_seconds": 4},
)


class FaultInjector:
    """Steady Stripe faults from ``start`` to ``stop``; a random burst every ``interval``."""

    def __init__(
        self,
        org: OrgSimulator,
        stripe: StripeEmulator,
        interval: tuple[float, float],
        *,
        seed: int = 0,
        burst_seconds: float = 3.0,
    ) -> None:
        self.org = org
        self.stripe = stripe
        self.interval = interval
        self.burst_seconds = burst_seconds
        self.rng = random.Random(seed)
        self.counts: Counter[str] = Counter()
        self.rules: list[FaultRule] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-faults", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> FaultInjector:
        self.stripe.set_rate_limit(STRIPE_TEST_MODE_LIMIT)
        self.rules = self.stripe.configure_faults(*STEADY_FAULTS)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop injecting and heal everything, so the run can converge."""
        self._stop.set()
        self._thread.join(30)
        for rule, name in zip(self.rules, ("500", "500 after", "drop", "timeout"), strict=True):
            self.counts[f"stripe {name}"] += rule.fired
        self.stripe.configure_faults()
        self.stripe.set_latency(0)
        self.stripe.set_rate_limit(None)
        self.org.api_usage.fail_next(0)  # a burst not yet spent would hit the checker
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        bursts = (
            self.rate_limit_storm,
            self.latency_spike,
            self.request_limit_burst,
            self.disconnect_streams,
            self.expire_sessions,
        )
        try:
            while not self._stop.wait(self.rng.uniform(*self.interval)):
                self.rng.choice(bursts)()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def rate_limit_storm(self) -> None:
        self.stripe.set_rate_limit(2)
        self._stop.wait(self.burst_seconds)
        self.stripe.set_rate_limit(STRIPE_TEST_MODE_LIMIT)
        self.counts["stripe 429 storms"] += 1

    def latency_spike(self) -> None:
        self.stripe.set_latency(distribution="uniform", low_ms=1_000, high_ms=5_000)
        self._stop.wait(self.burst_seconds)
        self.stripe.set_latency(0)
        self.counts["stripe latency spikes"] += 1

    def request_limit_burst(self) -> None:
        self.org.api_usage.fail_next(self.rng.randint(3, 10))
        self.counts["salesforce REQUEST_LIMIT_EXCEEDED bursts"] += 1

    def disconnect_streams(self) -> None:
        if self.org.pubsub is not None:
            self.org.pubsub.disconnect_streams()
        self.counts["pub/sub stream disconnects"] += 1

    def expire_sessions(self) -> None:
        self.org.expire_sessions()
        self.counts["salesforce session expiries"] += 1


def expire_replay_ids(org: OrgSimulator, bridge: RoleProcess, counts: Counter[str]) -> None:
    """Kill the bridge, let 73 h pass in the org (its checkpoint leaves the 72 h retention),
    and restart it: with ``on_invalid_replay_id=earliest`` it must carry on from the earliest
    retained event. Only events the bridge already published are purged (nothing is lost)."""
    before = bridge.log_text().count("rejected replay id")
    bridge.kill()
    org.pubsub.bus.advance_clock(73)
    bridge.start()
    wait_until(
        lambda: bridge.log_text().count("rejected replay id") > before,
        60,
        "the bridge to report its expired replay id",
    )
    counts["expired replay ids (bridge resumed from earliest)"] += 1
