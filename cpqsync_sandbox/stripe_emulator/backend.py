"""Everything one emulator holds: objects, idempotency keys, limits, faults, the request log.

The aiohttp handlers, the admin endpoints and the Python API all work through
this object, always on the emulator's event-loop thread.
"""

from __future__ import annotations

import copy
from typing import Any

from cpqsync_sandbox.stripe_emulator import (
    coupons,
    customer_currency,
    customers,
    events,
    invoices,
    meters,
    payment_methods,
    prices,
    products,
    schedules,
    subscriptions,
    test_clocks,
    webhook_endpoints,
)
from cpqsync_sandbox.stripe_emulator.faults import FaultPlan, FaultRule, LatencyConfig
from cpqsync_sandbox.stripe_emulator.idempotency import IdempotencyStore
from cpqsync_sandbox.stripe_emulator.rate_limit import RateLimiter
from cpqsync_sandbox.stripe_emulator.request_log import RequestLogEntry
from cpqsync_sandbox.stripe_emulator.routing import Route, Router
from cpqsync_sandbox.stripe_emulator.store import KINDS, Store
from cpqsync_sandbox.stripe_emulator.validation import ObjectNode, SchemaCompiler
from cpqsync_sandbox.stripe_emulator.webhook_delivery import WebhookDelivery

ROUTES: list[Route] = [
    *customers.ROUTES,
    *products.ROUTES,
    *prices.ROUTES,
    *meters.ROUTES,
    *customer_currency.guarded(schedules.ROUTES),  # one currency per customer (S5)
    *subscriptions.ROUTES,
    *invoices.ROUTES,
    *coupons.ROUTES,
    *test_clocks.ROUTES,
    *events.ROUTES,
    *webhook_endpoints.ROUTES,
    *payment_methods.ROUTES,
]


class Backend:
    def __init__(self, *, latency_ms: float = 0, rate_limit: int | None = None) -> None:
        self.store = Store()
        self.webhooks = WebhookDelivery(self.store)
        self.idempotency = IdempotencyStore()
        self.limiter = RateLimiter(rate_limit)
        self.faults = FaultPlan(latency=LatencyConfig(fixed_ms=latency_ms))
        self.log: list[RequestLogEntry] = []
        self.router = Router(ROUTES)
        self.base_url = ""
        # Keys rolled in the dashboard: Stripe answers 401 "Expired API Key provided".
        self.expired_keys: set[str] = set()
        compiler = SchemaCompiler()
        self.schemas: dict[type, ObjectNode] = {
            entry.params_type: compiler.compile(entry.params_type) for entry in ROUTES
        }

    def reset(self) -> None:
        """Forget objects, keys, the log and rate windows; limits and faults stay configured."""
        self.store.reset()
        self.idempotency.clear()
        self.limiter.reset()
        self.log.clear()

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Stored objects of one kind in creation order (copies, bookkeeping included)."""
        if kind not in KINDS:
            raise ValueError(f"unknown object kind {kind!r}; known kinds: {', '.join(KINDS)}")
        return copy.deepcopy(list(self.store.tables[kind].values()))

    def request_log(self) -> list[RequestLogEntry]:
        return list(self.log)

    def set_rate_limit(self, per_second: int | None) -> None:
        if per_second is not None and per_second < 1:
            raise ValueError("rate limit must be at least 1 request per second, or None for off")
        self.limiter.per_second = per_second
        self.limiter.reset()

    def set_latency(self, latency: LatencyConfig) -> None:
        self.faults = FaultPlan(latency=latency, faults=self.faults.faults)

    def configure_faults(self, faults: list[FaultRule]) -> None:
        self.faults = FaultPlan(latency=self.faults.latency, faults=list(faults))

    def set_idempotency_retention(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("retention must be zero or more seconds")
        self.idempotency.retention_seconds = seconds
        self.idempotency.prune()
