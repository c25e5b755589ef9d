"""Every thread pool of the sync role, sized in one place.

Each pool's threads mostly wait for Salesforce or Stripe, so the sizes bound concurrent
requests rather than CPU; the Stripe pacer (``stripe.requests_per_second``) bounds the rate
whatever they are. ``consumer.workers`` sizes the root stage; the pools that fan one batch
out are fixed (a batch is at most 50 roots, a plan stage a few dozen operations).
"""

from __future__ import annotations

from dataclasses import dataclass

from cpqsync.settings import ConsumerSettings

# Resolving triggers costs a query or two per batch: a few workers keep up with any rate the
# root stage can sync.
TRIGGER_WORKERS = 4


@dataclass(frozen=True)
class SyncConcurrency:
    # Root-stage engine workers: batches of root work synced at once.
    root_workers: int
    # Trigger-stage engine workers.
    trigger_workers: int
    # Roots of one batch synced side by side (each waits for Stripe in turn).
    roots_side_by_side: int
    # Operations of one plan stage sent together (an order's line prices, its archives).
    operations_side_by_side: int
    # Lookups of one batch sent together.
    lookups_side_by_side: int

    @classmethod
    def from_settings(cls, consumer: ConsumerSettings) -> SyncConcurrency:
        return cls(
            root_workers=consumer.workers,
            trigger_workers=min(TRIGGER_WORKERS, consumer.workers),
            roots_side_by_side=32,
            operations_side_by_side=16,
            lookups_side_by_side=16,
        )
