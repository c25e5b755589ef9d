"""Stripe Dashboard links for Sync Records (rule R3: test-mode links include ``/test/``)."""

from __future__ import annotations

from dataclasses import dataclass

from cpqsync.settings import StripeSettings

# Stripe objects (``OperationKind.stripe_object``) -> the Dashboard path of that object.
_PATHS = {
    "customer": "customers",
    "product": "products",
    "price": "prices",
    "billing.meter": "billing/meters",
    "subscription_schedule": "subscription_schedules",
    "invoice": "invoices",
    "invoiceitem": "invoiceitems",
}


@dataclass(frozen=True)
class DashboardLinks:
    base: str = "https://dashboard.stripe.com"
    test_mode: bool = True

    @classmethod
    def from_settings(cls, settings: StripeSettings) -> DashboardLinks:
        key = settings.api_key.get_secret_value() if settings.api_key else ""
        # Only a live key (sk_live_/rk_live_) talks to live data; anything else is test mode.
        return cls(settings.dashboard_base.rstrip("/"), test_mode="_live_" not in key)

    def _root(self) -> str:
        return f"{self.base}/test" if self.test_mode else self.base

    def object(self, kind: str, stripe_id: str) -> str:
        path = _PATHS.get(kind, kind.replace(".", "/") + "s")
        return f"{self._root()}/{path}/{stripe_id}"

    def request(self, request_id: str) -> str:
        return f"{self._root()}/logs/{request_id}"
