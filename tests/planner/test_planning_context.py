"""What a plan may depend on in the configuration: sync preferences and mappings, never secrets."""

from __future__ import annotations

import datetime as dt
import pickle

from consumer.sync.planning.context import PlanningContext
from cpqsync.settings import Settings

STRIPE_KEY = "sk_test_planner_never_holds_this_0123456789"
SALESFORCE_SECRET = "salesforce-client-secret-never-in-a-plan"


def test_a_planning_context_keeps_the_sync_preferences_and_mappings_only() -> None:
    settings = Settings(
        stripe={"api_key": STRIPE_KEY},
        salesforce={"client_id": "app", "client_secret": SALESFORCE_SECRET},
        sync={"default_currency": "eur", "inline_line_prices": True},
        mappings={"customer": {"custom": {"phone": "Account.Phone"}}},
    )
    context = PlanningContext(settings=settings, now=dt.datetime(2026, 12, 6, tzinfo=dt.UTC))

    assert context.settings.sync.default_currency == "EUR"
    assert context.settings.sync.inline_line_prices
    assert context.settings.mappings.customer.custom["phone"].source == "Account.Phone"
    # Neither the connection sections nor their secrets travel with the context.
    assert not hasattr(context.settings, "stripe")
    assert not hasattr(context.settings, "salesforce")
    held = pickle.dumps(context)
    assert STRIPE_KEY.encode() not in held
    assert SALESFORCE_SECRET.encode() not in held
