"""Typed views of hydrated Salesforce records: what the planner reads, as Python values.

Hydration returns records in Salesforce's REST shape (JSON values, parents nested under their
relationship name, children as ``{"records": [...]}``). A view wraps one such record once, at
the hydration -> planning boundary (the root type's ``view``), with its related records as views
of their own: an order holds its lines (each with its product, pricebook entry and consumption
schedules), its account and its primary quote; a contract's orders are ``ContractOrders`` of
order views. The planner reads fields through typed accessors (days as ``date``, a schedule's
instants as epoch seconds, amounts as ``Decimal``, picklists as ``str | None``, checkboxes as
``bool``) and never inspects JSON shapes itself.

Accessors convert when read, not when the view is built (a related record's view is built when
read too, but for an order's lines, built with the order): an unreadable value fails where the
planner needs it, with
the error it always gave (``CoercionError`` from ``cpqsync.mapping``'s coercion, which planning
reports as an M2 Data Error naming the value), so a malformed record yields the same Data
Error, blamed on the same record (R4), as before views existed.

The admin's field mappings (M3, M4) and sync filters (S3) read any field by API name, custom
ones included: ``field(name)`` gives one value as hydrated and ``raw`` the whole record, which
is what the mapping evaluator and the SOQL filter evaluator take.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, Self, TypeVar

from consumer.sync.planning.schedule_dates import start_epoch, whole_months
from cpqsync.mapping.coercion import CoercionError, to_decimal

Record = Mapping[str, Any]
_V = TypeVar("_V", bound="RecordView")


# The records field mappings read, by source name ("Order", "Account", "SBQQ__Quote__c",
# "OrderItem", "Product2", "PricebookEntry"), as hydrated: a mapping may name any field (M3).
MappingSources = Mapping[str, Record]


def related_records(relationship: Any) -> list[Record]:
    """The child records of a relationship as hydrated (``{"records": [...]}``); none if absent."""
    if isinstance(relationship, dict):
        records = relationship.get("records")
        if isinstance(records, list):
            return [r for r in records if isinstance(r, dict)]
    return []


def _parent(value: Any) -> Record | None:
    """A parent record nested under its relationship name, when hydration nested one."""
    return value if isinstance(value, dict) else None


def _view(kind: type[_V], value: Any) -> _V | None:
    """The view of a parent record nested under its relationship name, if hydration nested one."""
    return kind.of(value) if isinstance(value, dict) else None


def _text(value: Any) -> str | None:
    """Free text, trimmed; None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _picklist(value: Any) -> str | None:
    """A picklist's value as Salesforce sends it (a string, or null)."""
    if value is None or type(value) is str:
        return value
    return str(value)


def _checked(value: Any) -> bool:
    """A checkbox: true, or the text "true" (as some integrations write it)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _date(value: Any) -> dt.date | None:
    """A Date or Datetime field's day (UTC); None when empty or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.date()


def _number_or_text(value: Any) -> str | float | None:
    """A field that orgs fill as a picklist ("Net 30") or a number (30)."""
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _decimal(value: Any) -> Decimal | None:
    """A Number or Currency field; None when empty. Raises CoercionError when not a number."""
    return None if value is None else to_decimal(value)


@dataclass(frozen=True, init=False, eq=False)
class RecordView:
    """One hydrated record: ``raw`` as Salesforce returned it, typed accessors in subclasses."""

    raw: Record
    # The record id: read on every step of a plan, so read once. Hydration always selects Id;
    # a parent nested without one (a malformed record) has none, which its planner reports.
    id: str

    def __init__(self, raw: Record) -> None:
        # Frozen, with fields filled directly as plan.py's records are: an order's plan builds
        # some sixty views, and object.__setattr__ per field is the slow part of building one.
        fields = self.__dict__
        fields["raw"] = raw
        record_id = raw.get("Id")
        fields["id"] = "" if record_id is None else str(record_id)

    @classmethod
    def of(cls, raw: Record) -> Self:
        """The view of ``raw`` (and, as they are read, of the related records nested in it)."""
        return cls(raw)

    def field(self, name: str) -> Any:
        """A field by API name, as hydrated (for field mappings, which read any field)."""
        return self.raw.get(name)

    @property
    def has_id(self) -> bool:
        return bool(self.raw.get("Id"))

    def number(self, name: str) -> Decimal | None:
        """A Number field by API name; None when empty. Raises CoercionError when not a number."""
        value = self.raw.get(name)
        return None if value in (None, "") else to_decimal(value)

    @property
    def stripe_id(self) -> str | None:
        """``Stripe_ID__c`` when it holds text (what it names is ``identity.stripe_id_of``'s)."""
        value = self.raw.get("Stripe_ID__c")
        return value if isinstance(value, str) else None

    @property
    def currency_code(self) -> str | None:
        """``CurrencyIsoCode`` (multi-currency orgs only), when set."""
        code = self.raw.get("CurrencyIsoCode")
        return code if isinstance(code, str) and code else None


class Address(NamedTuple):
    """A compound address field's parts (``BillingStreet`` ...), trimmed, None when empty."""

    street: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


@dataclass(frozen=True, init=False, eq=False)
class AccountView(RecordView):
    @property
    def name(self) -> str | None:
        return _text(self.raw.get("Name"))

    @property
    def phone(self) -> str | None:
        return _text(self.raw.get("Phone"))

    @property
    def description(self) -> str | None:
        return _text(self.raw.get("Description"))

    @property
    def billing_address(self) -> Address:
        return self._address("Billing")

    @property
    def shipping_address(self) -> Address:
        return self._address("Shipping")

    def _address(self, prefix: str) -> Address:
        raw = self.raw
        return Address(
            _text(raw.get(f"{prefix}Street")),
            _text(raw.get(f"{prefix}City")),
            _text(raw.get(f"{prefix}State")),
            _text(raw.get(f"{prefix}PostalCode")),
            _text(raw.get(f"{prefix}Country")),
        )


@dataclass(frozen=True, init=False, eq=False)
class RateView(RecordView):
    """One consumption rate, of a product's standard schedule or of CPQ's copy on a line.

    The two objects spell the same fields differently (``LowerBound`` against
    ``SBQQ__LowerBound__c``): ``names`` says which spelling this rate's object uses.
    """

    names: ScheduleFields

    def __init__(self, raw: Record, names: ScheduleFields) -> None:
        super().__init__(raw)
        self.__dict__["names"] = names

    @property
    def lower_bound(self) -> Decimal:
        """Raises CoercionError when not a number; an empty bound is 0."""
        value = self.raw.get(self.names.lower)
        return to_decimal(value if value is not None else 0)

    @property
    def bounded(self) -> bool:
        """Whether the rate has an upper bound (the last one has none)."""
        value = self.raw.get(self.names.upper)
        return not (value is None or value == "")

    @property
    def upper_bound(self) -> Decimal:
        """Of a ``bounded`` rate; raises CoercionError when not a number."""
        return to_decimal(self.raw.get(self.names.upper))

    @property
    def price(self) -> Decimal:
        """Raises CoercionError when missing or not a number."""
        return to_decimal(self.raw.get(self.names.price))

    @property
    def pricing_method(self) -> str | None:
        return _picklist(self.raw.get(self.names.method))

    @property
    def processing_order(self) -> int | float:
        """The rate's place among rates of equal lower bound; 0 when unset."""
        value = self.raw.get(self.names.order)
        return value if isinstance(value, int | float) else 0


@dataclass(frozen=True, init=False, eq=False)
class ScheduleView(RecordView):
    """A consumption schedule (rule P8), standard or CPQ's per-line copy (see ``RateView``)."""

    names: ScheduleFields

    def __init__(self, raw: Record, names: ScheduleFields) -> None:
        super().__init__(raw)
        self.__dict__["names"] = names

    @property
    def rates(self) -> tuple[RateView, ...]:
        return tuple(
            RateView(r, self.names) for r in related_records(self.raw.get(self.names.rates))
        )

    @property
    def schedule_id(self) -> str | None:
        value = self.raw.get("Id")
        return str(value) if value else None

    @property
    def rating_method(self) -> str | None:
        return _picklist(self.raw.get(self.names.rating_method))

    @property
    def type(self) -> str | None:
        return _picklist(self.raw.get(self.names.type))


@dataclass(frozen=True)
class ScheduleFields:
    """Field names of one flavour of consumption schedule and its rates."""

    rates: str
    type: str
    rating_method: str
    lower: str
    upper: str
    method: str
    price: str
    order: str


STANDARD = ScheduleFields(
    "ConsumptionRates", "Type", "RatingMethod",
    "LowerBound", "UpperBound", "PricingMethod", "Price", "ProcessingOrder",
)  # fmt: skip
ORDER_LINE = ScheduleFields(
    "SBQQ__OrderItemConsumptionRates__r", "SBQQ__Type__c", "SBQQ__RatingMethod__c",
    "SBQQ__LowerBound__c", "SBQQ__UpperBound__c", "SBQQ__PricingMethod__c", "SBQQ__Price__c",
    "SBQQ__ProcessingOrder__c",
)  # fmt: skip


@dataclass(frozen=True, init=False, eq=False)
class _BillingTerms(RecordView):
    """CPQ's billing fields, which a Product2 and an OrderItem both carry (P2-P4)."""

    @property
    def recurring(self) -> bool:
        """Rule P2: recurring when SBQQ__SubscriptionPricing__c is set."""
        return bool(self.raw.get("SBQQ__SubscriptionPricing__c"))

    @property
    def billing_frequency(self) -> str | None:
        value = self.raw.get("SBQQ__BillingFrequency__c")  # _picklist, inlined: read for every line
        return value if value is None or type(value) is str else str(value)

    @property
    def billing_type(self) -> str | None:
        value = self.raw.get("SBQQ__BillingType__c")  # _picklist, inlined: read for every line
        return value if value is None or type(value) is str else str(value)

    @property
    def subscription_type(self) -> str | None:
        value = self.raw.get("SBQQ__SubscriptionType__c")  # _picklist, inlined: read for every line
        return value if value is None or type(value) is str else str(value)


@dataclass(frozen=True, init=False, eq=False)
class ProductView(_BillingTerms):
    @property
    def schedules(self) -> tuple[ScheduleView, ...]:
        """The standard consumption schedules, through ProductConsumptionSchedule (P8)."""
        links = self.raw.get("ProductConsumptionSchedules")
        if not links:
            return ()  # most products have none
        return tuple(
            ScheduleView(schedule, STANDARD)
            for link in related_records(links)
            if (schedule := _parent(link.get("ConsumptionSchedule"))) is not None
        )

    @property
    def name(self) -> str | None:
        """``Name`` as text, None when empty."""
        value = self.raw.get("Name")
        return str(value) if value else None

    @property
    def description(self) -> str | None:
        value = self.raw.get("Description")
        return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True, init=False, eq=False)
class EntryView(RecordView):
    """A PricebookEntry with its product (``Product2``, when hydration nested it)."""

    @property
    def product(self) -> ProductView | None:
        product = self.raw.get("Product2")
        return ProductView(product) if isinstance(product, dict) else None

    def with_product(self, product: ProductView) -> EntryView:
        """This entry with ``product`` nested, as price mappings read ``Product2.*`` (M3)."""
        return EntryView({**self.raw, "Product2": product.raw})

    @property
    def unit_price(self) -> Decimal | None:
        """Raises CoercionError when not a number."""
        return _decimal(self.raw.get("UnitPrice"))


@dataclass(frozen=True, init=False, eq=False)
class CouponView(RecordView):
    """An ``Order_Stripe_Coupon__c`` (rule A5): a coupon of an order, or of one of its lines."""

    @property
    def name(self) -> str | None:
        """``Name__c`` as text, None when empty."""
        value = self.raw.get("Name__c")
        return str(value) if value else None

    @property
    def duration(self) -> str | None:
        """``Duration__c``: once, repeating or forever."""
        return _picklist(self.raw.get("Duration__c"))


def _coupons(relationship: Any) -> tuple[CouponView, ...]:
    return tuple(CouponView(record) for record in related_records(relationship))


@dataclass(frozen=True, init=False, eq=False)
class OrderItemView(_BillingTerms):
    """An order line with its product, its pricebook entry, CPQ's copy of its consumption
    schedules (P8) and its own coupons (A5, ``Order_Item_Lookup__r``)."""

    @property
    def product(self) -> ProductView | None:
        product = self.raw.get("Product2")
        return ProductView(product) if isinstance(product, dict) else None

    @property
    def entry(self) -> EntryView | None:
        entry = self.raw.get("PricebookEntry")
        return EntryView(entry) if isinstance(entry, dict) else None

    @property
    def schedules(self) -> tuple[ScheduleView, ...]:
        schedules = self.raw.get("SBQQ__OrderItemConsumptionSchedules__r")
        if not schedules:
            return ()  # most lines have none
        return tuple(ScheduleView(schedule, ORDER_LINE) for schedule in related_records(schedules))

    @property
    def coupons(self) -> tuple[CouponView, ...]:
        coupons = self.raw.get("Order_Item_Lookup__r")
        return _coupons(coupons) if coupons else ()

    @property
    def segment_key(self) -> str:
        """``SBQQ__SegmentKey__c``: what an MDQ product's segment lines share; empty if none."""
        return str(self.raw.get("SBQQ__SegmentKey__c") or "")

    @property
    def segmented(self) -> bool:
        """Rule A6: an MDQ segment line (``SBQQ__SegmentKey__c`` or ``SBQQ__SegmentIndex__c``)."""
        raw = self.raw
        return bool(raw.get("SBQQ__SegmentKey__c") or raw.get("SBQQ__SegmentIndex__c"))

    @property
    def unit_price(self) -> Decimal | None:
        """Raises CoercionError when not a number."""
        return _decimal(self.raw.get("UnitPrice"))

    @property
    def whole_quantity(self) -> int | None:
        """``Quantity`` when a whole number; None when empty, fractional or not a number."""
        raw = self.raw.get("Quantity")
        if type(raw) is float and raw.is_integer():
            return int(raw)  # what hydrated JSON holds: no Decimal needed to see it is whole
        try:
            quantity = _decimal(raw)
        except CoercionError:
            return None
        if quantity is None or quantity != quantity.to_integral_value():
            return None
        return int(quantity)

    @property
    def product_id(self) -> str:
        """``Product2Id``; empty when unset."""
        return str(self.raw.get("Product2Id") or "")

    def with_unit_price(self, unit_price: str) -> OrderItemView:
        """This line priced ``unit_price`` (an amendment line's price for the whole term)."""
        return OrderItemView({**self.raw, "UnitPrice": unit_price})

    @property
    def revises(self) -> str | None:
        """``SBQQ__RevisedOrderProduct__c``: the contract's line an amendment line changes."""
        value = self.raw.get("SBQQ__RevisedOrderProduct__c")
        return str(value) if value else None

    @property
    def skipped(self) -> bool:
        """Rule O6: Skip_Line_Item__c is checked."""
        return _checked(self.raw.get("Skip_Line_Item__c"))


@dataclass(frozen=True, init=False, eq=False)
class QuoteView(RecordView):
    """An order's primary CPQ quote (``SBQQ__Quote__r``)."""

    @property
    def quote_type(self) -> str | None:
        """``SBQQ__Type__c``: Quote, Amendment or Renewal."""
        return _picklist(self.raw.get("SBQQ__Type__c"))

    @property
    def start(self) -> int | None:
        """``SBQQ__StartDate__c`` in epoch seconds (a date at midnight UTC); None when empty
        or unreadable."""
        return start_epoch(self.raw.get("SBQQ__StartDate__c"))

    @property
    def term_months(self) -> int | None:
        """``SBQQ__SubscriptionTerm__c`` when a positive whole number of months."""
        return whole_months(self.raw.get("SBQQ__SubscriptionTerm__c"))

    @property
    def payment_term(self) -> str | float | None:
        return _number_or_text(self.raw.get("SBQQ__PaymentTerm__c"))


@dataclass(frozen=True, init=False, eq=False)
class OrderView(RecordView):
    """An order with its lines, account, primary quote and coupons, as hydration nests them."""

    lines: tuple[OrderItemView, ...]

    def __init__(self, raw: Record) -> None:
        super().__init__(raw)
        lines = related_records(raw.get("OrderItems"))
        self.__dict__["lines"] = tuple(OrderItemView(line) for line in lines)

    @property
    def account(self) -> AccountView | None:
        return _view(AccountView, self.raw.get("Account"))

    @property
    def quote(self) -> QuoteView:
        """The primary quote; an empty record when hydration nested none (``nested_quote``)."""
        return _view(QuoteView, self.raw.get("SBQQ__Quote__r")) or QuoteView({})

    @property
    def nested_quote(self) -> bool:
        return _parent(self.raw.get("SBQQ__Quote__r")) is not None

    @property
    def coupons(self) -> tuple[CouponView, ...]:
        """The order's own coupons (A5). The package links a line's coupons to its order as
        well: those are the line's."""
        linked = _coupons(self.raw.get("Order_Lookup__r"))
        return tuple(c for c in linked if not c.field("Order_Item__c"))

    def without_coupons(self) -> OrderView:
        """This order without its own coupons (its lines keep theirs)."""
        return OrderView.of({**self.raw, "Order_Lookup__r": None})

    @property
    def quote_id(self) -> str | None:
        """``SBQQ__Quote__c``, the primary quote's id, when set."""
        value = self.raw.get("SBQQ__Quote__c")
        return str(value) if value else None

    @property
    def account_id(self) -> str:
        """``AccountId``; empty when unset."""
        return str(self.raw.get("AccountId") or "")

    @property
    def payment_term(self) -> str | float | None:
        return _number_or_text(self.raw.get("SBQQ__PaymentTerm__c"))

    @property
    def skip_past_initial_invoices(self) -> bool:
        """Rule O5: ``Skip_Past_Initial_Invoices__c`` is checked."""
        return _checked(self.raw.get("Skip_Past_Initial_Invoices__c"))

    @property
    def status(self) -> str | None:
        """``Status``: Draft or Activated."""
        return _picklist(self.raw.get("Status"))

    @property
    def last_day(self) -> int | None:
        """The last day of the order's term in epoch seconds: the quote's
        ``SBQQ__EndDate__c``, else the order's ``EndDate``; None when neither is readable."""
        return start_epoch(self.quote.field("SBQQ__EndDate__c") or self.raw.get("EndDate"))

    @property
    def order_type(self) -> str | None:
        """``Type``: New, Amendment or Renewal (CPQ sets it)."""
        return _picklist(self.raw.get("Type"))

    @property
    def activated(self) -> dt.date | None:
        """The day the order was activated (``ActivatedDate``, else ``EffectiveDate``)."""
        return _date(self.raw.get("ActivatedDate")) or _date(self.raw.get("EffectiveDate"))
