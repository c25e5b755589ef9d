"""The `mappings:` section of the configuration: field defaults and custom mappings (M3, M4, M5).

Each Stripe object has its own block::

    mappings:
      customer:
        defaults: {preferred_locales: "en"}
        custom:   {email: Account.Owner.Email, metadata.region: Account.Region__c}

Everything is checked when the configuration loads, so a typo fails ``cpqsync config check``
naming its path (``mappings.customer.custom.bogus_field: ...``) instead of failing orders later:
the Stripe path must be a create parameter of that object in `stripe.params`, the Salesforce path
must be well formed and start from a record the object is built from, and a default must already
have the parameter's type. Entries are rewritten into small models before validation so that an
error's location ends at the offending key.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from cpqsync.mapping.coercion import CoercionError
from cpqsync.mapping.field_values import coerce_field
from cpqsync.mapping.metadata_limits import check_metadata_key
from cpqsync.mapping.salesforce_path import MalformedSalesforcePath, SalesforcePath
from cpqsync.mapping.stripe_schema import MAPPABLE_OBJECTS, UnknownStripePath, leaf_type
from cpqsync.mapping.stripe_validation import check_value

_ORDER_ROOTS = ("Order", "Account", "SBQQ__Quote__c")
_LINE_ROOTS = ("OrderItem", "Product2", "PricebookEntry", "Order")

# The Salesforce records a Stripe object is built from: a custom mapping's source path starts
# with one of these names (the first is the object's own record).
SOURCE_ROOTS: dict[str, tuple[str, ...]] = {
    "customer": ("Account",),
    "product": ("Product2",),
    "price": ("PricebookEntry", "Product2"),
    "price_order_item": _LINE_ROOTS,
    "subscription_schedule": _ORDER_ROOTS,
    "subscription_phase": _ORDER_ROOTS,
    "subscription_item": _LINE_ROOTS,
    "invoice": _ORDER_ROOTS,
    "coupon": _ORDER_ROOTS,
}

_LABELS = {name: name.replace("_", " ") for name in MAPPABLE_OBJECTS}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _stripe_path(stripe_object: str, text: str) -> tuple[tuple[str, ...], Any]:
    """Split and check a Stripe dot path; return it with the parameter type it reaches."""
    path = tuple(text.split("."))
    if any(not part for part in path):
        raise ValueError(f"{text!r} is not a Stripe parameter path")
    typed_dict = MAPPABLE_OBJECTS[stripe_object]
    try:
        target = leaf_type(typed_dict, path, label=_LABELS[stripe_object])
    except UnknownStripePath as exc:
        raise ValueError(str(exc)) from None
    if path[0] == "metadata" and len(path) == 2:
        check_metadata_key(path[1])
    return path, target


class FieldDefault(_Strict):
    """A static value for one Stripe parameter (rule M3), already in the parameter's type."""

    stripe_object: str = Field(exclude=True)
    stripe_path: str = Field(exclude=True)
    value: Any

    @model_validator(mode="before")
    @classmethod
    def _fits_the_parameter(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "stripe_path" not in data:
            return data
        stripe_path = str(data["stripe_path"])
        path, target = _stripe_path(str(data.get("stripe_object")), stripe_path)
        value = data.get("value")
        if path[0] == "metadata" and len(path) == 2:
            if not isinstance(value, str | int | float | bool):
                raise ValueError(f"metadata values are text, got {value!r}")
            target = str
        try:
            converted = coerce_field(value, target, path)
        except CoercionError as exc:
            raise ValueError(f"wrong type for {stripe_path}: {exc}") from None
        found = check_value(target, converted, path=stripe_path)
        if found:
            raise ValueError(f"wrong type for {'; '.join(found)}")
        return {**data, "value": converted}

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.stripe_path.split("."))


class CustomMapping(_Strict):
    """A Stripe parameter filled from a Salesforce field path (rule M4)."""

    stripe_object: str = Field(exclude=True)
    stripe_path: str = Field(exclude=True)
    source: str

    @model_validator(mode="after")
    def _both_paths_exist(self) -> CustomMapping:
        _stripe_path(self.stripe_object, self.stripe_path)
        try:
            parsed = SalesforcePath.parse(self.source)
        except MalformedSalesforcePath as exc:
            raise ValueError(str(exc)) from None
        roots = SOURCE_ROOTS[self.stripe_object]
        if parsed.root not in roots:
            raise ValueError(
                f"{self.source!r} must start from {' or '.join(roots)}: a Stripe "
                f"{_LABELS[self.stripe_object]} is built from those records"
            )
        return self

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.stripe_path.split("."))

    @property
    def salesforce_path(self) -> SalesforcePath:
        return SalesforcePath.parse(self.source)


class ObjectMapping(_Strict):
    """Field defaults and custom mappings for one Stripe object."""

    stripe_object: ClassVar[str] = ""

    defaults: dict[str, FieldDefault] = Field(default_factory=dict)
    custom: dict[str, CustomMapping] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _entries_know_their_key(cls, data: Any) -> Any:
        # Each entry is validated by its own small model, so a problem is reported at
        # mappings.<object>.<defaults|custom>.<stripe path> rather than at the whole dict.
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for section, value_key in (("defaults", "value"), ("custom", "source")):
            entries = data.get(section)
            if isinstance(entries, dict):
                out[section] = {
                    key: _entry(cls.stripe_object, key, value_key, value)
                    for key, value in entries.items()
                }
        return out

    @field_serializer("defaults")
    def _dump_defaults(self, defaults: dict[str, FieldDefault]) -> dict[str, Any]:
        return {key: entry.value for key, entry in defaults.items()}

    @field_serializer("custom")
    def _dump_custom(self, custom: dict[str, CustomMapping]) -> dict[str, str]:
        return {key: entry.source for key, entry in custom.items()}


def _entry(stripe_object: str, key: Any, value_key: str, value: Any) -> Any:
    if isinstance(value, FieldDefault | CustomMapping):
        return value
    return {"stripe_object": stripe_object, "stripe_path": str(key), value_key: value}


class CustomerMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "customer"


class ProductMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "product"


class PriceMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "price"


class PriceOrderItemMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "price_order_item"


class SubscriptionScheduleMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "subscription_schedule"


class SubscriptionPhaseMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "subscription_phase"


class SubscriptionItemMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "subscription_item"


class InvoiceMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "invoice"


class CouponMapping(ObjectMapping):
    stripe_object: ClassVar[str] = "coupon"


class MappingConfig(_Strict):
    """All mappings; an unknown Stripe object name is an unknown setting."""

    customer: CustomerMapping = Field(default_factory=CustomerMapping)
    product: ProductMapping = Field(default_factory=ProductMapping)
    price: PriceMapping = Field(default_factory=PriceMapping)
    price_order_item: PriceOrderItemMapping = Field(default_factory=PriceOrderItemMapping)
    subscription_schedule: SubscriptionScheduleMapping = Field(
        default_factory=SubscriptionScheduleMapping
    )
    subscription_phase: SubscriptionPhaseMapping = Field(default_factory=SubscriptionPhaseMapping)
    subscription_item: SubscriptionItemMapping = Field(default_factory=SubscriptionItemMapping)
    invoice: InvoiceMapping = Field(default_factory=InvoiceMapping)
    coupon: CouponMapping = Field(default_factory=CouponMapping)

    def for_object(self, stripe_object: str) -> ObjectMapping:
        mapping = getattr(self, stripe_object, None)
        if not isinstance(mapping, ObjectMapping):
            raise KeyError(stripe_object)
        return mapping
