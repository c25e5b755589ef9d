"""A stateful local Stripe API that the official ``stripe`` library cannot tell apart for the
objects cpqsync syncs: customers, products, prices, meters, subscription schedules and the
subscriptions they start, invoice items, invoices, coupons and test clocks.

Requests are validated against the installed library's ``stripe.params`` TypedDicts;
idempotency, rate limits and injected faults behave as Stripe documents them; anything
not modelled answers 501.
"""

from cpqsync_sandbox.stripe_emulator.emulator import (
    DEFAULT_API_KEY,
    StripeEmulator,
    StripeEmulatorError,
)
from cpqsync_sandbox.stripe_emulator.faults import FaultRule, LatencyConfig
from cpqsync_sandbox.stripe_emulator.rate_limit import (
    STRIPE_LIVE_MODE_LIMIT,
    STRIPE_TEST_MODE_LIMIT,
)
from cpqsync_sandbox.stripe_emulator.request_log import RequestLogEntry

__all__ = [
    "DEFAULT_API_KEY",
    "STRIPE_LIVE_MODE_LIMIT",
    "STRIPE_TEST_MODE_LIMIT",
    "FaultRule",
    "LatencyConfig",
    "RequestLogEntry",
    "StripeEmulator",
    "StripeEmulatorError",
]
