"""The Salesforce fields hydration must fetch so that planning has every value it reads.

Hydration runs one query per object type; this says exactly which field paths each query
selects (parent lookups dotted, as SOQL writes them), including the sources of the configured
custom mappings and the fields the sync filters read, so nothing is fetched in vain and nothing
the planner needs is missing. `CHILD_RELATIONSHIPS` says where child records nest in the
hydrated dicts (REST shape: ``record[relationship]["records"]``).
"""

from __future__ import annotations

from consumer.sync.planning.context import PlannerSettings
from consumer.sync.planning.preferences import DEFAULT_ORDER_FILTER, filter_fields
from cpqsync.mapping.config import MappingConfig

_ADDRESS = ("Street", "City", "State", "PostalCode", "Country")
ACCOUNT = (
    "Id", "Name", "Phone", "Description", "Stripe_ID__c",
    *(f"Billing{part}" for part in _ADDRESS),
    *(f"Shipping{part}" for part in _ADDRESS),
)  # fmt: skip
PRODUCT2 = (
    "Id", "Name", "Description", "Stripe_ID__c",
    "SBQQ__SubscriptionPricing__c", "SBQQ__BillingFrequency__c", "SBQQ__BillingType__c",
)  # fmt: skip
PRICEBOOK_ENTRY = ("Id", "UnitPrice", "Stripe_ID__c", "Product2Id")
ORDER = (
    "Id", "Status", "ActivatedDate", "EffectiveDate", "AccountId", "Stripe_ID__c",
    "SBQQ__Quote__c", "SBQQ__PaymentTerm__c", "Skip_Past_Initial_Invoices__c",
    "SBQQ__Quote__r.Id", "SBQQ__Quote__r.SBQQ__StartDate__c",
    "SBQQ__Quote__r.SBQQ__SubscriptionTerm__c", "SBQQ__Quote__r.SBQQ__PaymentTerm__c",
    # Contracts (A1, A2): which contract an order belongs to, and an amendment's end date.
    "Type", "ContractId", "Contract.SBQQ__Order__c", "SBQQ__Quote__r.SBQQ__EndDate__c",
    # Renewals (A3): a renewal quote's order starts a contract of its own.
    "SBQQ__Quote__r.SBQQ__Type__c",
)  # fmt: skip
ORDER_ITEM = (
    "Id", "Quantity", "UnitPrice", "Stripe_ID__c", "Product2Id", "PricebookEntryId",
    "SBQQ__SubscriptionPricing__c", "SBQQ__BillingFrequency__c", "SBQQ__BillingType__c",
    "SBQQ__SubscriptionType__c", "Skip_Line_Item__c",
    "SBQQ__RevisedOrderProduct__c", "SBQQ__ProrateMultiplier__c",
    # MDQ segments (A6): which segment a line bills, and a Custom segment's dates.
    "SBQQ__SegmentIndex__c", "SBQQ__SegmentKey__c", "SBQQ__SegmentLabel__c",
    "SBQQ__DimensionType__c", "ServiceDate", "EndDate",
    # Evergreen (A4): CPQ's default term of the line's product.
    "SBQQ__DefaultSubscriptionTerm__c",
)  # fmt: skip
PRODUCT_CONSUMPTION_SCHEDULE = (
    "Id", "ConsumptionSchedule.Id", "ConsumptionSchedule.Type",
    "ConsumptionSchedule.RatingMethod",
)  # fmt: skip
CONSUMPTION_RATE = (
    "Id", "ConsumptionScheduleId", "LowerBound", "UpperBound", "PricingMethod", "Price",
    "ProcessingOrder",
)  # fmt: skip
# The connector package's coupons on an order or one of its lines (A5).
ORDER_STRIPE_COUPON = (
    "Id", "Name__c", "Percent_Off__c", "Amount_Off__c", "Duration__c", "Duration_In_Months__c",
    "Max_Redemptions__c", "Order__c", "Order_Item__c", "Stripe_ID__c",
)  # fmt: skip
ORDER_ITEM_CONSUMPTION_SCHEDULE = ("Id", "SBQQ__Type__c", "SBQQ__RatingMethod__c")
ORDER_ITEM_CONSUMPTION_RATE = (
    "Id", "SBQQ__OrderItemConsumptionSchedule__c", "SBQQ__LowerBound__c",
    "SBQQ__UpperBound__c", "SBQQ__PricingMethod__c", "SBQQ__Price__c",
    "SBQQ__ProcessingOrder__c",
)  # fmt: skip

# parent object -> {relationship name in the hydrated dict: child object}
CHILD_RELATIONSHIPS: dict[str, dict[str, str]] = {
    "Order": {"OrderItems": "OrderItem", "Order_Lookup__r": "Order_Stripe_Coupon__c"},
    "OrderItem": {
        "SBQQ__OrderItemConsumptionSchedules__r": "SBQQ__OrderItemConsumptionSchedule__c",
        "Order_Item_Lookup__r": "Order_Stripe_Coupon__c",
    },
    "SBQQ__OrderItemConsumptionSchedule__c": {
        "SBQQ__OrderItemConsumptionRates__r": "SBQQ__OrderItemConsumptionRate__c"
    },
    # On every Product2 dict (standalone, under PricebookEntry, under OrderItem); the rates
    # nest under the schedule: ...["ConsumptionSchedule"]["ConsumptionRates"]["records"].
    "Product2": {"ProductConsumptionSchedules": "ProductConsumptionSchedule"},
    "ConsumptionSchedule": {"ConsumptionRates": "ConsumptionRate"},
}

# For each hydration query: the mapping objects whose custom sources it must fetch, and the
# prefix that turns a source root into a path from that query's record.
_MAPPING_SOURCES: dict[str, tuple[tuple[str, dict[str, str]], ...]] = {
    "Account": (("customer", {"Account": ""}),),
    "Product2": (("product", {"Product2": ""}),),
    "PricebookEntry": (
        ("price", {"PricebookEntry": "", "Product2": "Product2."}),
        ("product", {"Product2": "Product2."}),
    ),
    "Order": (
        ("customer", {"Account": "Account."}),
        *(
            (name, {"Order": "", "Account": "Account.", "SBQQ__Quote__c": "SBQQ__Quote__r."})
            for name in ("subscription_schedule", "subscription_phase", "invoice", "coupon")
        ),
        *((name, {"Order": ""}) for name in ("price_order_item", "subscription_item")),
    ),
    "OrderItem": (
        *(
            (
                name,
                {"OrderItem": "", "Product2": "Product2.", "PricebookEntry": "PricebookEntry."},
            )
            for name in ("price_order_item", "subscription_item")
        ),
        ("price", {"PricebookEntry": "PricebookEntry.", "Product2": "Product2."}),
        ("product", {"Product2": "Product2."}),
    ),
}


def _mapped_sources(mappings: MappingConfig, query: str) -> list[str]:
    out = []
    for stripe_object, prefixes in _MAPPING_SOURCES.get(query, ()):
        for entry in mappings.for_object(stripe_object).custom.values():
            source = entry.salesforce_path
            prefix = prefixes.get(source.root)
            if prefix is not None:
                out.append(prefix + ".".join(source.fields))
    return out


def _filter(settings: PlannerSettings, object_type: str) -> list[str]:
    text = settings.sync.filters.get(object_type)  # type: ignore[call-overload]
    if not text and object_type == "Order":
        text = DEFAULT_ORDER_FILTER
    return filter_fields(object_type, str(text)) if text else []


def required_fields(settings: PlannerSettings) -> dict[str, list[str]]:
    """Field paths per hydration query (object type), sorted and without duplicates."""
    currency = ("CurrencyIsoCode",) if settings.sync.multi_currency else ()
    account = (*ACCOUNT, *currency)
    product = PRODUCT2
    entry = (*PRICEBOOK_ENTRY, *currency)
    base: dict[str, list[str]] = {
        "Account": [*account, *_filter(settings, "Account")],
        "Product2": [*product, *_filter(settings, "Product2")],
        "PricebookEntry": [
            *entry,
            *(f"Product2.{f}" for f in product),
            *_filter(settings, "PricebookEntry"),
        ],
        "Order": [
            *ORDER,
            *currency,
            *(f"Account.{f}" for f in account),
            *_filter(settings, "Order"),
        ],
        "OrderItem": [
            *ORDER_ITEM,
            *(f"Product2.{f}" for f in product),
            *(f"PricebookEntry.{f}" for f in entry),
        ],
        "ProductConsumptionSchedule": list(PRODUCT_CONSUMPTION_SCHEDULE),
        "ConsumptionRate": list(CONSUMPTION_RATE),
        "SBQQ__OrderItemConsumptionSchedule__c": list(ORDER_ITEM_CONSUMPTION_SCHEDULE),
        "SBQQ__OrderItemConsumptionRate__c": list(ORDER_ITEM_CONSUMPTION_RATE),
        "Order_Stripe_Coupon__c": list(ORDER_STRIPE_COUPON),
    }
    for query, fields in base.items():
        fields.extend(_mapped_sources(settings.mappings, query))
    return {query: sorted(set(fields), key=str.lower) for query, fields in base.items()}
