"""Stripe: the key works, checked with one cheap authenticated read.

Listing one customer is what the sync itself must be allowed to do (a restricted key
without Balance access still passes), and it changes nothing. A rejected key (401) or
a key without that permission (403) is a configuration problem; Stripe unreachable or
failing (network, 5xx, 429) is an outage the running role rides out.
"""

from __future__ import annotations

import stripe

from cpqsync.app.preflight.result import CheckResult
from cpqsync.settings import StripeSettings
from cpqsync.stripe_client import build_stripe_client


def check_stripe(settings: StripeSettings) -> CheckResult:
    if settings.api_key is None or not settings.api_key.get_secret_value():
        return CheckResult("stripe", False, "stripe.api_key is not set (CPQSYNC_STRIPE__API_KEY)")
    where = settings.api_base or "Stripe"
    try:
        client = build_stripe_client(settings)
        client.v1.customers.list({"limit": 1})
    except stripe.AuthenticationError as exc:
        return CheckResult(
            "stripe",
            False,
            f"{where} rejected stripe.api_key (HTTP {exc.http_status}, request "
            f"{exc.request_id or '-'}): set a valid secret or restricted key",
        )
    except stripe.PermissionError as exc:
        return CheckResult(
            "stripe",
            False,
            f"stripe.api_key may not read customers (HTTP {exc.http_status}, request "
            f"{exc.request_id or '-'}): grant the restricted key the sync's permissions",
        )
    except stripe.StripeError as exc:
        status = f"HTTP {exc.http_status}" if exc.http_status else type(exc).__name__
        return CheckResult(
            "stripe",
            False,
            f"{where} is unreachable or failing ({status}); check stripe.api_base",
            transient=True,
        )
    return CheckResult("stripe", True, f"stripe.api_key accepted by {where}")
