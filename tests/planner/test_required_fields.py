"""Hydration is told exactly which fields planning reads, mappings and filters included."""

from __future__ import annotations

from consumer.sync.planning import required_fields
from cpqsync.settings import Settings


def test_custom_mapping_sources_are_fetched_from_the_right_query() -> None:
    settings = Settings(
        mappings={
            "customer": {"custom": {"email": "Account.Owner.Email"}},
            "price": {"custom": {"nickname": "Product2.Family"}},
            "price_order_item": {"custom": {"recurring.usage_type": "OrderItem.Usage_Model__c"}},
            "subscription_phase": {"custom": {"metadata.quote": "SBQQ__Quote__c.Name"}},
        }
    )
    fields = required_fields(settings)
    assert "Owner.Email" in fields["Account"]
    assert "Account.Owner.Email" in fields["Order"]
    assert "SBQQ__Quote__r.Name" in fields["Order"]
    assert "Usage_Model__c" in fields["OrderItem"]
    assert "Product2.Family" in fields["OrderItem"]
    assert "Product2.Family" in fields["PricebookEntry"]
    assert "SBQQ__Quote__r.SBQQ__StartDate__c" in fields["Order"]
    assert "SBQQ__BillingFrequency__c" in fields["OrderItem"]


def test_filter_fields_are_fetched_and_currency_only_with_multi_currency() -> None:
    plain = required_fields(Settings())
    assert "Status" in plain["Order"]
    assert "CurrencyIsoCode" not in plain["Order"]  # absent from single-currency orgs
    custom = required_fields(
        Settings(
            sync={
                "multi_currency": True,
                "filters": {"Order": "Sync__c = true AND Account.Type = 'Customer'"},
            }
        )
    )
    assert {"Sync__c", "Account.Type", "CurrencyIsoCode"} <= set(custom["Order"])
    assert "CurrencyIsoCode" in custom["PricebookEntry"]
