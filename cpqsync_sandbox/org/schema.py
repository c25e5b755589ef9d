"""Object and field definitions of the simulated CPQ org.

One declarative table drives everything that depends on the shape of the org: type validation in
the store, SOQL field resolution, REST describe, and the Avro schemas of change events. Field
order is declaration order (a real org's describe and change-event schemas are ordered too, and
the CDC bitmaps index fields by position).

Compound address fields are declared twice, like Salesforce does: the compound
(``BillingAddress``, type ``address``, read-only) naming its components, and each component as a
flat field (``BillingCity``) carrying ``compound_field``. Records store only the flat fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal[
    "string",
    "picklist",
    "currency",
    "double",
    "int",
    "date",
    "datetime",
    "boolean",
    "reference",
    "address",
    "id",
    "textarea",
    "percent",
    "email",
    "phone",
    "url",
]

# Sub-fields of Salesforce's Address compound, in the order of the Avro ``Address`` record.
ADDRESS_COMPONENTS: tuple[tuple[str, FieldType], ...] = (
    ("Street", "textarea"),
    ("City", "string"),
    ("State", "string"),
    ("PostalCode", "string"),
    ("Country", "string"),
    ("StateCode", "picklist"),
    ("CountryCode", "picklist"),
    ("Latitude", "double"),
    ("Longitude", "double"),
    ("GeocodeAccuracy", "picklist"),
)

SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)

CURRENCIES = ("USD", "EUR", "GBP", "JPY")
BILLING_FREQUENCIES = ("Monthly", "Quarterly", "Semiannual", "Annual", "Invoice Plan")
BILLING_TYPES = ("Advance", "Arrears")
CHARGE_TYPES = ("One-Time", "Recurring", "Usage")
SUBSCRIPTION_PRICING = ("Fixed Price", "Percent Of Total")
# How CPQ created an amendment's or renewal's order product.
CONTRACT_ACTIONS = ("New", "Quantity Increase", "Quantity Decrease", "Product Swap", "Renew")
SUBSCRIPTION_TYPES = ("Renewable", "One-time", "Evergreen")
# A price dimension's (and an MDQ line's) segment type (rule A6).
DIMENSION_TYPES = ("Year", "Quarter", "Month", "Custom", "One-time")
PAYMENT_TERMS = ("Due on receipt", "Net 15", "Net 30", "Net 45", "Net 60", "Net 90")


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it.

    ``restricted_picklist`` False (the default, as for most CPQ picklists) accepts values outside
    ``picklist_values``, which the connector's own validation must then catch.
    ``child_relationship_name`` names the parent's view of this lookup (``OrderItems`` for
    ``OrderItem.OrderId``). ``compound_field`` is set on address components; ``components`` on the
    compound maps the Address sub-field name to the flat field (``City`` -> ``BillingCity``).
    """

    name: str
    type: FieldType
    reference_to: str | None = None
    relationship_name: str | None = None
    child_relationship_name: str | None = None
    length: int | None = None
    external_id: bool = False
    unique: bool = False
    nillable: bool = True
    updateable: bool = True
    createable: bool = True
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    default: object = None
    label: str = ""
    compound_field: str | None = None
    components: tuple[tuple[str, str], ...] = ()
    custom: bool = False
    # Master-detail: deleting the parent deletes this record too.
    cascade_delete: bool = False

    @property
    def required(self) -> bool:
        """Must be given on create: not nillable, createable and with no default (as describe)."""
        return not self.nillable and self.createable and self.default is None

    @property
    def is_compound(self) -> bool:
        return self.type == "address"


@dataclass(frozen=True)
class ObjectDef:
    """One sObject type: its fields by API name and the child relationships pointing at it."""

    name: str
    key_prefix: str
    fields: dict[str, FieldDef]
    child_relationships: dict[str, tuple[str, str]] = field(default_factory=dict)
    label: str = ""
    custom: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_lower", {n.lower(): f for n, f in self.fields.items()})
        object.__setattr__(
            self,
            "_by_relationship",
            {f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name},
        )

    def field(self, name: str) -> FieldDef | None:
        """A field by API name, case-insensitively (SOQL and REST both ignore case)."""
        found: FieldDef | None = self._by_lower.get(name.lower())  # type: ignore[attr-defined]
        return found

    def relationship(self, name: str) -> FieldDef | None:
        """The lookup field whose relationship name is ``name`` (``Account`` -> ``AccountId``)."""
        found: FieldDef | None = self._by_relationship.get(name.lower())  # type: ignore[attr-defined]
        return found

    def child_relationship(self, name: str) -> tuple[str, str, str] | None:
        """(relationship name as declared, child object, lookup field) for a child relationship."""
        for rel, (child, lookup) in self.child_relationships.items():
            if rel.lower() == name.lower():
                return rel, child, lookup
        return None

    @property
    def stored_fields(self) -> list[FieldDef]:
        """Fields that hold a value on a record (everything except the compound views)."""
        return [f for f in self.fields.values() if not f.is_compound]


# --- field constructors: keep the tables below readable -------------------------------------


def _label(name: str) -> str:
    base = name.removesuffix("__c").removeprefix("SBQQ__")
    return base.replace("_", " ").strip()


def text(name: str, length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, "string", length=length, label=_label(name), **kw)


def area(name: str, length: int = 32000, **kw: Any) -> FieldDef:
    return FieldDef(name, "textarea", length=length, label=_label(name), **kw)


def pick(name: str, values: Iterable[str], **kw: Any) -> FieldDef:
    return FieldDef(
        name, "picklist", length=255, picklist_values=tuple(values), label=_label(name), **kw
    )


def typed(name: str, type_: FieldType, **kw: Any) -> FieldDef:
    length = {"email": 80, "phone": 40, "url": 255}.get(type_)
    return FieldDef(name, type_, length=length, label=_label(name), **kw)


def ref(name: str, to: str, relationship: str, children: str | None, **kw: Any) -> FieldDef:
    return FieldDef(
        name,
        "reference",
        reference_to=to,
        relationship_name=relationship,
        child_relationship_name=children,
        length=18,
        label=_label(name),
        **kw,
    )


def readonly(f: FieldDef) -> FieldDef:
    """Computed or system-maintained: visible in queries, rejected on create/update."""
    return FieldDef(**{**f.__dict__, "createable": False, "updateable": False})


def address(prefix: str) -> list[FieldDef]:
    """The compound ``<prefix>Address`` followed by its flat components."""
    compound = f"{prefix}Address"
    comps = tuple((sub, f"{prefix}{sub}") for sub, _ in ADDRESS_COMPONENTS)
    out = [
        FieldDef(
            compound,
            "address",
            createable=False,
            updateable=False,
            components=comps,
            label=f"{prefix} Address",
        )
    ]
    for sub, type_ in ADDRESS_COMPONENTS:
        length = {"Street": 255, "PostalCode": 20, "City": 40, "State": 80, "Country": 80}.get(sub)
        out.append(
            FieldDef(
                f"{prefix}{sub}",
                type_,
                length=length,
                compound_field=compound,
                label=f"{prefix} {sub}",
            )
        )
    return out


def currency_code() -> FieldDef:
    return pick("CurrencyIsoCode", CURRENCIES, restricted_picklist=True, default="USD")


def stripe_fields(*, link: bool = True) -> list[FieldDef]:
    """The connector package's write-back fields (rule R3)."""
    out = [text("Stripe_ID__c", external_id=True, custom=True)]
    if link:
        out.append(typed("Stripe_Dashboard_Link__c", "url", custom=True))
    return out


def coupon_fields() -> list[FieldDef]:
    """A Stripe coupon's terms as the connector package stores them (rule A5)."""
    return [
        text("Name__c", 40, custom=True),
        typed("Amount_Off__c", "double", custom=True),
        typed("Percent_Off__c", "double", custom=True),
        pick(
            "Duration__c",
            ("once", "repeating", "forever"),
            restricted_picklist=True,
            nillable=False,
            default="once",
            custom=True,
        ),
        typed("Duration_In_Months__c", "double", custom=True),
        typed("Max_Redemptions__c", "double", custom=True),
        currency_code(),
    ]


def coupon_junction(
    field_name: str, parent: str, parent_children: str, coupon_children_of: str
) -> list[FieldDef]:
    """A package junction tying a quote (or quote line) to a coupon: two master-details."""
    return [
        readonly(text("Name", 80)),
        ref(
            field_name,
            parent,
            field_name.removesuffix("__c") + "__r",
            parent_children,
            cascade_delete=True,
            nillable=False,
            custom=True,
        ),
        ref(
            "Quote_Stripe_Coupon__c",
            "Quote_Stripe_Coupon__c",
            "Quote_Stripe_Coupon__r",
            f"Stripe_Coupon_In_{coupon_children_of}_Association__r",
            cascade_delete=True,
            nillable=False,
            custom=True,
        ),
    ]


def order_billing_fields() -> list[FieldDef]:
    """The Order's billing state from Stripe (rule B1; the default reverse_mappings)."""
    return [
        pick(
            "Stripe_Subscription_Status__c",
            (
                "incomplete",
                "incomplete_expired",
                "trialing",
                "active",
                "past_due",
                "canceled",
                "unpaid",
                "paused",
            ),
            custom=True,
        ),
        typed("Stripe_Current_Period_End__c", "datetime", custom=True),
        typed("Stripe_Next_Invoice_Date__c", "datetime", custom=True),
        text("Stripe_Latest_Invoice_Number__c", 64, custom=True),
        pick(
            "Stripe_Latest_Invoice_Status__c",
            ("draft", "open", "paid", "uncollectible", "void"),
            custom=True,
        ),
        typed("Stripe_Latest_Invoice_Amount_Due__c", "currency", custom=True),
        typed("Stripe_Latest_Invoice_Amount_Paid__c", "currency", custom=True),
        typed("Stripe_Latest_Invoice_URL__c", "url", custom=True),
        pick("Stripe_Last_Payment_Status__c", ("succeeded", "failed"), custom=True),
        typed("Stripe_Last_Payment_Date__c", "datetime", custom=True),
    ]


def _system_fields() -> list[FieldDef]:
    return [
        readonly(FieldDef("Id", "id", length=18, nillable=False, label="Record ID")),
        readonly(typed("IsDeleted", "boolean", nillable=False, default=False)),
        readonly(typed("CreatedDate", "datetime", nillable=False)),
        readonly(ref("CreatedById", "User", "CreatedBy", None, nillable=False)),
        readonly(typed("LastModifiedDate", "datetime", nillable=False)),
        readonly(ref("LastModifiedById", "User", "LastModifiedBy", None, nillable=False)),
        readonly(typed("SystemModstamp", "datetime", nillable=False)),
    ]


def _owner(parent_children: str | None = None) -> FieldDef:
    return ref("OwnerId", "User", "Owner", parent_children)


# --- the objects ----------------------------------------------------------------------------

_SPECS: list[tuple[str, str, bool, list[FieldDef]]] = [
    (
        "User",
        "005",
        False,
        [
            text("Username", 80, nillable=False, unique=True),
            text("FirstName", 40),
            text("LastName", 80, nillable=False),
            readonly(text("Name", 121)),
            typed("Email", "email", nillable=False),
            typed("IsActive", "boolean", default=True),
        ],
    ),
    (
        "Account",
        "001",
        False,
        [
            text("Name", nillable=False),
            pick("Type", ("Prospect", "Customer - Direct", "Customer - Channel", "Partner")),
            ref("ParentId", "Account", "Parent", "ChildAccounts"),
            *address("Billing"),
            *address("Shipping"),
            typed("Phone", "phone"),
            typed("Fax", "phone"),
            text("AccountNumber", 40),
            typed("Website", "url"),
            pick("Industry", ("Technology", "Finance", "Healthcare", "Retail", "Manufacturing")),
            typed("AnnualRevenue", "currency"),
            typed("NumberOfEmployees", "int"),
            area("Description"),
            _owner(),
            currency_code(),
            *stripe_fields(),
            typed("Stripe_Delinquent__c", "boolean", default=False, custom=True),
        ],
    ),
    (
        "Contact",
        "003",
        False,
        [
            ref("AccountId", "Account", "Account", "Contacts"),
            text("FirstName", 40),
            text("LastName", 80, nillable=False),
            readonly(text("Name", 121)),
            text("Title", 128),
            typed("Email", "email"),
            typed("Phone", "phone"),
            *address("Mailing"),
            _owner(),
            currency_code(),
        ],
    ),
    (
        "Product2",
        "01t",
        False,
        [
            text("Name", nillable=False),
            text("ProductCode"),
            area("Description", 4000),
            pick("Family", ("Software", "Services", "Hardware", "Usage")),
            typed("IsActive", "boolean", default=False),
            text("QuantityUnitOfMeasure"),
            text("StockKeepingUnit", external_id=True, unique=True),
            pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES, custom=True),
            pick("SBQQ__BillingType__c", BILLING_TYPES, custom=True),
            pick("SBQQ__ChargeType__c", CHARGE_TYPES, custom=True),
            pick("SBQQ__SubscriptionPricing__c", SUBSCRIPTION_PRICING, custom=True),
            typed("SBQQ__SubscriptionTerm__c", "double", custom=True),
            pick("SBQQ__SubscriptionType__c", SUBSCRIPTION_TYPES, custom=True),
            typed("SBQQ__PriceEditable__c", "boolean", default=False, custom=True),
            pick(
                "SBQQ__PricingMethod__c", ("List", "Cost", "Block", "Percent Of Total"), custom=True
            ),
            currency_code(),
            *stripe_fields(),
        ],
    ),
    (
        "Pricebook2",
        "01s",
        False,
        [
            text("Name", nillable=False),
            typed("IsActive", "boolean", default=False),
            readonly(typed("IsStandard", "boolean", default=False)),
            area("Description", 255),
        ],
    ),
    (
        "PricebookEntry",
        "01u",
        False,
        [
            readonly(text("Name")),
            ref(
                "Pricebook2Id",
                "Pricebook2",
                "Pricebook2",
                "PricebookEntries",
                cascade_delete=True,
                nillable=False,
                updateable=False,
            ),
            ref(
                "Product2Id",
                "Product2",
                "Product2",
                "PricebookEntries",
                cascade_delete=True,
                nillable=False,
                updateable=False,
            ),
            typed("UnitPrice", "currency", nillable=False),
            typed("IsActive", "boolean", default=False),
            typed("UseStandardPrice", "boolean", default=False),
            readonly(text("ProductCode")),
            FieldDef(
                "CurrencyIsoCode",
                "picklist",
                length=255,
                picklist_values=CURRENCIES,
                restricted_picklist=True,
                default="USD",
                updateable=False,
                label="Currency ISO Code",
            ),
            *stripe_fields(),
        ],
    ),
    (
        "ConsumptionSchedule",
        "0sc",
        False,
        [
            text("Name", 80, nillable=False),
            typed("IsActive", "boolean", default=False),
            pick("Type", ("Range", "Slab"), restricted_picklist=True, nillable=False),
            pick("RatingMethod", ("Tier",), restricted_picklist=True, nillable=False),
            typed("BillingTerm", "int", nillable=False),
            pick("BillingTermUnit", ("Month", "Year"), restricted_picklist=True, nillable=False),
            text("UnitOfMeasure"),
            area("Description", 255),
            pick("SBQQ__Category__c", ("Rates", "Discounts"), custom=True),
        ],
    ),
    (
        "ConsumptionRate",
        "0sr",
        False,
        [
            ref(
                "ConsumptionScheduleId",
                "ConsumptionSchedule",
                "ConsumptionSchedule",
                "ConsumptionRates",
                cascade_delete=True,
                nillable=False,
                updateable=False,
            ),
            typed("ProcessingOrder", "int", nillable=False),
            typed("LowerBound", "int", nillable=False),
            typed("UpperBound", "int"),
            pick("PricingMethod", ("PerUnit", "FlatFee"), restricted_picklist=True, nillable=False),
            typed("Price", "currency", nillable=False),
            area("Description", 255),
            currency_code(),
        ],
    ),
    (
        # Real orgs link products to consumption schedules through this junction object.
        "ProductConsumptionSchedule",
        "0sp",
        False,
        [
            ref(
                "ProductId",
                "Product2",
                "Product",
                "ProductConsumptionSchedules",
                cascade_delete=True,
                nillable=False,
                updateable=False,
            ),
            ref(
                "ConsumptionScheduleId",
                "ConsumptionSchedule",
                "ConsumptionSchedule",
                "ProductConsumptionSchedules",
                cascade_delete=True,
                nillable=False,
                updateable=False,
            ),
        ],
    ),
    (
        "Opportunity",
        "006",
        False,
        [
            text("Name", 120, nillable=False),
            ref("AccountId", "Account", "Account", "Opportunities"),
            pick(
                "StageName",
                ("Prospecting", "Negotiation", "Closed Won", "Closed Lost"),
                nillable=False,
            ),
            typed("CloseDate", "date", nillable=False),
            typed("Amount", "currency"),
            pick("Type", ("New Business", "Existing Business", "Renewal", "Amendment")),
            ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Opportunities"),
            ref(
                "SBQQ__AmendedContract__c",
                "Contract",
                "SBQQ__AmendedContract__r",
                "SBQQ__AmendmentOpportunities__r",
                custom=True,
            ),
            ref(
                "SBQQ__RenewedContract__c",
                "Contract",
                "SBQQ__RenewedContract__r",
                "SBQQ__RenewalOpportunities__r",
                custom=True,
            ),
            ref(
                "SBQQ__PrimaryQuote__c",
                "SBQQ__Quote__c",
                "SBQQ__PrimaryQuote__r",
                None,
                custom=True,
            ),
            _owner(),
            currency_code(),
        ],
    ),
    (
        "SBQQ__Quote__c",
        "a0Q",
        True,
        [
            readonly(text("Name", 80)),
            ref("SBQQ__Account__c", "Account", "SBQQ__Account__r", "SBQQ__Quotes__r", custom=True),
            ref(
                "SBQQ__Opportunity2__c",
                "Opportunity",
                "SBQQ__Opportunity2__r",
                "SBQQ__Quotes2__r",
                custom=True,
            ),
            ref(
                "SBQQ__PrimaryContact__c",
                "Contact",
                "SBQQ__PrimaryContact__r",
                "SBQQ__Quotes__r",
                custom=True,
            ),
            ref("SBQQ__PriceBook__c", "Pricebook2", "SBQQ__PriceBook__r", None, custom=True),
            ref(
                "SBQQ__MasterContract__c",
                "Contract",
                "SBQQ__MasterContract__r",
                "SBQQ__AmendmentQuotes__r",
                custom=True,
            ),
            typed("SBQQ__Primary__c", "boolean", default=False, custom=True),
            pick(
                "SBQQ__Status__c",
                ("Draft", "In Review", "Approved", "Denied", "Presented", "Accepted"),
                default="Draft",
                custom=True,
            ),
            pick(
                "SBQQ__Type__c",
                ("Quote", "Amendment", "Renewal", "Re-quote"),
                default="Quote",
                custom=True,
            ),
            typed("SBQQ__StartDate__c", "date", custom=True),
            typed("SBQQ__EndDate__c", "date", custom=True),
            typed("SBQQ__ExpirationDate__c", "date", custom=True),
            typed("SBQQ__SubscriptionTerm__c", "double", custom=True),
            pick("SBQQ__PaymentTerm__c", PAYMENT_TERMS, custom=True),
            pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES, custom=True),
            typed("SBQQ__NetAmount__c", "currency", custom=True),
            typed("SBQQ__Ordered__c", "boolean", default=False, custom=True),
            currency_code(),
        ],
    ),
    (
        "SBQQ__QuoteLine__c",
        "a0L",
        True,
        [
            readonly(text("Name", 80)),
            ref(
                "SBQQ__Quote__c",
                "SBQQ__Quote__c",
                "SBQQ__Quote__r",
                "SBQQ__LineItems__r",
                cascade_delete=True,
                nillable=False,
                updateable=False,
                custom=True,
            ),
            ref("SBQQ__Product__c", "Product2", "SBQQ__Product__r", None, custom=True),
            text("SBQQ__PricebookEntryId__c", 18, custom=True),
            typed("SBQQ__Quantity__c", "double", custom=True),
            typed("SBQQ__ListPrice__c", "currency", custom=True),
            typed("SBQQ__CustomerPrice__c", "currency", custom=True),
            typed("SBQQ__NetPrice__c", "currency", custom=True),
            typed("SBQQ__StartDate__c", "date", custom=True),
            typed("SBQQ__EndDate__c", "date", custom=True),
            typed("SBQQ__SubscriptionTerm__c", "double", custom=True),
            typed("SBQQ__ProrateMultiplier__c", "double", custom=True),
            pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES, custom=True),
            pick("SBQQ__BillingType__c", BILLING_TYPES, custom=True),
            pick("SBQQ__ChargeType__c", CHARGE_TYPES, custom=True),
            pick("SBQQ__SubscriptionPricing__c", SUBSCRIPTION_PRICING, custom=True),
            currency_code(),
        ],
    ),
    (
        "Contract",
        "800",
        False,
        [
            ref("AccountId", "Account", "Account", "Contracts", nillable=False),
            pick(
                "Status",
                ("Draft", "In Approval Process", "Activated"),
                restricted_picklist=True,
                default="Draft",
            ),
            typed("StartDate", "date"),
            typed("EndDate", "date"),
            typed("ContractTerm", "int"),
            readonly(text("ContractNumber", 30)),
            ref("SBQQ__Order__c", "Order", "SBQQ__Order__r", "SBQQ__Contracts__r", custom=True),
            ref(
                "SBQQ__Opportunity__c",
                "Opportunity",
                "SBQQ__Opportunity__r",
                "SBQQ__Contracts__r",
                custom=True,
            ),
            ref("SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", None, custom=True),
            typed("SBQQ__RenewalTerm__c", "double", custom=True),
            typed("SBQQ__RenewalQuoted__c", "boolean", default=False, custom=True),
            typed("SBQQ__RenewalForecast__c", "boolean", default=False, custom=True),
            _owner(),
            currency_code(),
        ],
    ),
    (
        "Order",
        "801",
        False,
        [
            ref("AccountId", "Account", "Account", "Orders", nillable=False),
            ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Orders"),
            ref("OpportunityId", "Opportunity", "Opportunity", "Orders"),
            ref("ContractId", "Contract", "Contract", "Orders"),
            ref("OriginalOrderId", "Order", "OriginalOrder", "ReductionOrders"),
            readonly(text("OrderNumber", 30)),
            text("Name", 80),
            pick(
                "Status",
                ("Draft", "Activated"),
                restricted_picklist=True,
                nillable=False,
            ),
            readonly(typed("ActivatedDate", "datetime")),
            readonly(ref("ActivatedById", "User", "ActivatedBy", None)),
            # Roll-up of the lines' TotalPrice (kept by the store).
            readonly(typed("TotalAmount", "currency")),
            typed("EffectiveDate", "date", nillable=False),
            typed("EndDate", "date"),
            pick("Type", ("New", "Amendment", "Renewal")),
            area("Description"),
            ref("BillToContactId", "Contact", "BillToContact", None),
            ref("ShipToContactId", "Contact", "ShipToContact", None),
            *address("Billing"),
            *address("Shipping"),
            ref(
                "SBQQ__Quote__c", "SBQQ__Quote__c", "SBQQ__Quote__r", "SBQQ__Orders__r", custom=True
            ),
            pick("SBQQ__PaymentTerm__c", PAYMENT_TERMS, custom=True),
            typed("SBQQ__Contracted__c", "boolean", default=False, custom=True),
            typed("SBQQ__RenewalTerm__c", "double", custom=True),
            typed("Skip_Past_Initial_Invoices__c", "boolean", default=False, custom=True),
            typed("Stripe_Invoice_Payment_Link__c", "url", custom=True),
            _owner(),
            currency_code(),
            *stripe_fields(),
            *order_billing_fields(),
        ],
    ),
    (
        "OrderItem",
        "802",
        False,
        [
            ref(
                "OrderId",
                "Order",
                "Order",
                "OrderItems",
                cascade_delete=True,
                nillable=False,
                updateable=False,
            ),
            ref(
                "PricebookEntryId",
                "PricebookEntry",
                "PricebookEntry",
                "OrderItems",
                nillable=False,
                updateable=False,
            ),
            ref("Product2Id", "Product2", "Product2", "OrderItems", updateable=False),
            ref("OriginalOrderItemId", "OrderItem", "OriginalOrderItem", None),
            readonly(text("OrderItemNumber", 30)),
            typed("Quantity", "double", nillable=False),
            typed("UnitPrice", "currency", nillable=False),
            typed("ListPrice", "currency"),
            readonly(typed("TotalPrice", "currency")),
            typed("ServiceDate", "date"),
            typed("EndDate", "date"),
            area("Description", 255),
            ref(
                "SBQQ__QuoteLine__c",
                "SBQQ__QuoteLine__c",
                "SBQQ__QuoteLine__r",
                None,
                custom=True,
            ),
            ref(
                "SBQQ__RevisedOrderProduct__c",
                "OrderItem",
                "SBQQ__RevisedOrderProduct__r",
                None,
                custom=True,
            ),
            pick("SBQQ__BillingFrequency__c", BILLING_FREQUENCIES, custom=True),
            pick("SBQQ__BillingType__c", BILLING_TYPES, custom=True),
            pick("SBQQ__ChargeType__c", CHARGE_TYPES, custom=True),
            pick("SBQQ__SubscriptionPricing__c", SUBSCRIPTION_PRICING, custom=True),
            pick("SBQQ__SubscriptionType__c", SUBSCRIPTION_TYPES, custom=True),
            typed("SBQQ__SubscriptionTerm__c", "double", custom=True),
            typed("SBQQ__ProrateMultiplier__c", "double", custom=True),
            typed("SBQQ__OrderedQuantity__c", "double", custom=True),
            pick("SBQQ__ContractAction__c", CONTRACT_ACTIONS, custom=True),
            typed("SBQQ__Activated__c", "boolean", default=False, custom=True),
            typed("SBQQ__Contracted__c", "boolean", default=False, custom=True),
            typed("SBQQ__SegmentIndex__c", "double", custom=True),
            text("SBQQ__SegmentKey__c", custom=True),
            text("SBQQ__SegmentLabel__c", custom=True),
            typed("SBQQ__DefaultSubscriptionTerm__c", "double", custom=True),
            typed("SBQQ__QuotedListPrice__c", "currency", custom=True),
            typed("SBQQ__UnproratedNetPrice__c", "currency", custom=True),
            ref(
                "SBQQ__PriceDimension__c",
                "SBQQ__Dimension__c",
                "SBQQ__PriceDimension__r",
                None,
                custom=True,
            ),
            pick("SBQQ__DimensionType__c", DIMENSION_TYPES, custom=True),
            typed("Skip_Line_Item__c", "boolean", default=False, custom=True),
            readonly(pick("CurrencyIsoCode", CURRENCIES, restricted_picklist=True, default="USD")),
            *stripe_fields(link=False),
        ],
    ),
    (
        "SBQQ__OrderItemConsumptionSchedule__c",
        "a0S",
        True,
        [
            readonly(text("Name", 80)),
            ref(
                "SBQQ__OrderItem__c",
                "OrderItem",
                "SBQQ__OrderItem__r",
                "SBQQ__OrderItemConsumptionSchedules__r",
                cascade_delete=True,
                nillable=False,
                updateable=False,
                custom=True,
            ),
            ref(
                "SBQQ__ConsumptionSchedule__c",
                "ConsumptionSchedule",
                "SBQQ__ConsumptionSchedule__r",
                None,
                custom=True,
            ),
            pick("SBQQ__Type__c", ("Range", "Slab"), restricted_picklist=True, custom=True),
            pick("SBQQ__RatingMethod__c", ("Tier",), restricted_picklist=True, custom=True),
            typed("SBQQ__BillingTerm__c", "int", custom=True),
            pick("SBQQ__BillingTermUnit__c", ("Month", "Year"), custom=True),
            text("SBQQ__UnitOfMeasure__c", custom=True),
            pick("SBQQ__Category__c", ("Rates", "Discounts"), custom=True),
            currency_code(),
        ],
    ),
    (
        "SBQQ__OrderItemConsumptionRate__c",
        "a0R",
        True,
        [
            readonly(text("Name", 80)),
            ref(
                "SBQQ__OrderItemConsumptionSchedule__c",
                "SBQQ__OrderItemConsumptionSchedule__c",
                "SBQQ__OrderItemConsumptionSchedule__r",
                "SBQQ__OrderItemConsumptionRates__r",
                cascade_delete=True,
                nillable=False,
                updateable=False,
                custom=True,
            ),
            typed("SBQQ__ProcessingOrder__c", "int", custom=True),
            typed("SBQQ__LowerBound__c", "double", custom=True),
            typed("SBQQ__UpperBound__c", "double", custom=True),
            pick(
                "SBQQ__PricingMethod__c",
                ("PerUnit", "FlatFee"),
                restricted_picklist=True,
                custom=True,
            ),
            typed("SBQQ__Price__c", "currency", custom=True),
            currency_code(),
        ],
    ),
    (
        # CPQ price dimensions: a product's per-segment prices, the source of MDQ lines (A6).
        "SBQQ__Dimension__c",
        "a0D",
        True,
        [
            text("Name", 80),
            ref(
                "SBQQ__Product__c",
                "Product2",
                "SBQQ__Product__r",
                "SBQQ__Dimensions__r",
                cascade_delete=True,
                nillable=False,
                custom=True,
            ),
            pick("SBQQ__Type__c", DIMENSION_TYPES, restricted_picklist=True, custom=True),
            typed("SBQQ__UnitPrice__c", "currency", custom=True),
            typed("SBQQ__PriceEditable__c", "boolean", default=False, custom=True),
            currency_code(),
        ],
    ),
    # The Stripe connector package's coupons (A5): a coupon on a quote or quote line, copied
    # to an Order_Stripe_Coupon__c (on the order or one of its lines) when the order activates.
    (
        "Quote_Stripe_Coupon__c",
        "a0C",
        True,
        [
            readonly(text("Name", 80)),
            *coupon_fields(),
            typed("Stripe_Dashboard_Link__c", "url", custom=True),
        ],
    ),
    (
        "Quote_Stripe_Coupon_Association__c",
        "a0A",
        True,
        coupon_junction("Quote__c", "SBQQ__Quote__c", "Quote_In_Association__r", "Quote"),
    ),
    (
        "Quote_Line_Stripe_Coupon_Association__c",
        "a0B",
        True,
        coupon_junction(
            "Quote_Line__c", "SBQQ__QuoteLine__c", "Quote_Line_In_Association__r", "Quote_Line"
        ),
    ),
    (
        "Order_Stripe_Coupon__c",
        "a0O",
        True,
        [
            readonly(text("Name", 80)),
            *coupon_fields(),
            ref("Order__c", "Order", "Order__r", "Order_Lookup__r", custom=True),
            ref("Order_Item__c", "OrderItem", "Order_Item__r", "Order_Item_Lookup__r", custom=True),
            text("Quote_Stripe_Coupon_Id__c", 18, custom=True),
            *stripe_fields(),
        ],
    ),
    (
        # One Stripe invoice, upserted by its id when reverse_mappings.Stripe_Invoice__c is
        # configured (rule B1); linked to the Order and Account it bills.
        "Stripe_Invoice__c",
        "a1S",
        True,
        [
            text("Name", 80),
            text("Stripe_ID__c", external_id=True, unique=True, custom=True),
            ref("Order__c", "Order", "Order__r", "Stripe_Invoices__r", custom=True),
            ref("Account__c", "Account", "Account__r", "Stripe_Invoices__r", custom=True),
            text("Number__c", 64, custom=True),
            pick("Status__c", ("draft", "open", "paid", "uncollectible", "void"), custom=True),
            typed("Amount_Due__c", "currency", custom=True),
            typed("Amount_Paid__c", "currency", custom=True),
            typed("Hosted_Invoice_URL__c", "url", custom=True),
            typed("Due_Date__c", "datetime", custom=True),
            typed("Paid_At__c", "datetime", custom=True),
            _owner(),
        ],
    ),
    (
        "Sync_Record__c",
        "a0Y",
        True,
        [
            readonly(text("Name", 80)),
            text("Compound_ID__c", external_id=True, unique=True, custom=True),
            text("Primary_Record_ID__c", 18, custom=True),
            text("Primary_Object_Type__c", 80, custom=True),
            text("Secondary_Record_ID__c", 18, custom=True),
            text("Secondary_Object_Type__c", 80, custom=True),
            pick(
                "Resolution_Status__c",
                ("Success", "Error", "Skipped", "Resolved"),
                restricted_picklist=True,
                custom=True,
            ),
            area("Resolution_Message__c", 32768, custom=True),
            typed("Stripe_Request_Dashboard_Link__c", "url", custom=True),
            # When the attempt this record describes started: the writeback keeps a later
            # result from being overwritten by an older one that arrives late.
            typed("Last_Attempt_At__c", "datetime", custom=True),
            _owner(),
        ],
    ),
]


def _build() -> dict[str, ObjectDef]:
    objects: dict[str, ObjectDef] = {}
    for name, prefix, custom, own_fields in _SPECS:
        all_fields = [*_system_fields()[:1], *own_fields, *_system_fields()[1:]]
        fields = {f.name: f for f in all_fields}
        objects[name] = ObjectDef(name, prefix, fields, {}, label=_label(name), custom=custom)
    for obj in objects.values():
        for f in obj.fields.values():
            if f.reference_to and f.child_relationship_name:
                parent = objects[f.reference_to]
                parent.child_relationships[f.child_relationship_name] = (obj.name, f.name)
    return objects


OBJECTS: dict[str, ObjectDef] = _build()
OBJECTS_BY_LOWER: dict[str, ObjectDef] = {n.lower(): o for n, o in OBJECTS.items()}
OBJECTS_BY_PREFIX: dict[str, ObjectDef] = {o.key_prefix: o for o in OBJECTS.values()}


def object_def(name: str) -> ObjectDef | None:
    """An object by API name, case-insensitively."""
    return OBJECTS_BY_LOWER.get(name.lower())
