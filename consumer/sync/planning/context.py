"""Everything a plan depends on besides the Salesforce records: settings, time, known Stripe state.

Planning is pure, so whatever the planner may not look up itself is handed in here by the
caller (the sync consumer, which hydrates from Salesforce and checks Stripe): the clock, whether
the org is a sandbox, and the Stripe objects already known to exist. With the same context and
records, planning always gives the same plan. Of the configuration the planner sees the sync
preferences and the mappings only (``PlannerSettings``), never connections or secrets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from consumer.sync.planning.problems import StripeStateError
from cpqsync.mapping.config import MappingConfig
from cpqsync.settings import SyncPreferences


class PlannerSettings(Protocol):
    """The configuration a plan may depend on: ``sync:`` preferences and ``mappings:``.

    The application's whole ``Settings`` has these too, so callers pass it as it is; a
    ``PlanningContext`` keeps only these two sections of it.
    """

    @property
    def sync(self) -> SyncPreferences: ...

    @property
    def mappings(self) -> MappingConfig: ...


@dataclass(frozen=True, slots=True)
class _PlannerSections:
    sync: SyncPreferences
    mappings: MappingConfig


@dataclass(frozen=True)
class KnownCustomer:
    """A Stripe customer for an Account, as the caller found it in Stripe (rule C1).

    ``deleted`` means the id on the Account names a customer deleted in Stripe: an error, never a
    silent re-creation. ``currency`` is the customer's billing currency once it has one (S5).
    """

    id: str
    deleted: bool = False
    currency: str | None = None


@dataclass(frozen=True)
class KnownPrice:
    """A Stripe price and its parameters, either as the create call took them or as Stripe
    returns the Price object (``price.to_dict()``): both compare (rules P6, P7)."""

    id: str
    price: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class KnownPhase:
    """One phase of a contract's schedule as Stripe holds it (rules A1, A2).

    ``order_id`` is the phase's ``salesforce_order_id`` metadata (the amendment that started
    it; None on the initial order's phase). ``params`` is the phase in request shape
    (``start_date``, ``end_date``, ``items`` [price id, quantity, metadata],
    ``add_invoice_items`` [price id, quantity, metadata], ``proration_behavior``,
    ``metadata``): an ended phase is sent back exactly so, since Stripe refuses changes to the
    past."""

    start_date: int
    end_date: int
    order_id: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    # A5: the discounts Stripe made of the phase's coupons once it started, as
    # (the item's salesforce_order_item_id, or None for the phase's own; coupon id; discount
    # id). Sending the coupon again would make a new discount (a spent once coupon discounts
    # again); the discount id keeps the one it has.
    discounts: Sequence[tuple[str | None, str, str]] = ()


@dataclass(frozen=True)
class KnownSchedule:
    """A contract's subscription schedule in Stripe: its id, status (``not_started``,
    ``active``, ``completed``, ``released``, ``canceled``) and phases."""

    id: str
    status: str
    phases: tuple[KnownPhase, ...] = ()
    # The subscription it started (``released_subscription`` once released): what cancels an
    # evergreen subscription after its schedule let go of it (A4).
    subscription: str | None = None


@dataclass(frozen=True)
class KnownStripeObjects:
    """Stripe objects that exist already, keyed by Salesforce record id.

    A Stripe_ID__c on a record counts as known too; entries here win over it (the caller has
    checked them in Stripe). Meters have no Salesforce field, so they are known only from here
    (the applier finds them by their deterministic event name).
    """

    customers: Mapping[str, KnownCustomer] = field(default_factory=dict)  # Account Id
    products: Mapping[str, str] = field(default_factory=dict)  # Product2 Id -> prod id
    prices: Mapping[str, KnownPrice] = field(default_factory=dict)  # PricebookEntry Id
    line_prices: Mapping[str, KnownPrice] = field(default_factory=dict)  # OrderItem Id
    meters: Mapping[str, str] = field(default_factory=dict)  # Product2 Id -> meter id
    schedules: Mapping[str, str] = field(default_factory=dict)  # Order Id -> sub_sched id
    # Record Id -> the Stripe id its Stripe_ID__c names that Stripe does not have (deleted, or
    # from another account): an error naming it, never a silent replacement (K2).
    missing: Mapping[str, str] = field(default_factory=dict)

    def check_not_missing(self, object_type: str, record_id: str, kind: str) -> None:
        """Rule K2: a record naming a Stripe object that is gone cannot sync."""
        gone = self.missing.get(record_id)
        if gone is not None:
            raise StripeStateError(
                "K2",
                f"No such {kind}: '{gone}'. {object_type} {record_id} names it in Stripe_ID__c "
                "but Stripe does not have it (deleted, or from another Stripe account); clear "
                f"{object_type}.Stripe_ID__c to create a new one.",
            )

    # A contract's schedule with its phases, keyed by the contract's initial Order Id.
    contract_schedules: Mapping[str, KnownSchedule] = field(default_factory=dict)
    # Order_Stripe_Coupon__c Id -> the coupon Stripe already holds under the record's
    # deterministic id (an attempt made it, its Stripe_ID__c was never written): A5.
    coupons: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanningContext:
    """``trigger`` is ``live`` for change events and ``manual`` for a sync asked by hand; it
    decides whether sync-off and filter skips produce a Sync Record (S3, S4).
    ``salesforce_instance_url`` (when given) adds record links to Stripe metadata."""

    settings: PlannerSettings
    now: dt.datetime
    sandbox: bool = False
    known: KnownStripeObjects = field(default_factory=KnownStripeObjects)
    trigger: Literal["live", "manual"] = "live"
    salesforce_instance_url: str | None = None
    # P7: None, the plan never waits (dry runs, golden tests, work that already waited);
    # otherwise the PricebookEntry ids it already waited for, which it does not wait for again.
    waited_for: frozenset[str] | None = None

    def may_wait_for(self, entry_id: str) -> bool:
        return self.waited_for is not None and entry_id not in self.waited_for

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("PlanningContext.now must be timezone-aware")
        # Keep the two sections, not the Settings they came in (its keys and passwords).
        sections = _PlannerSections(self.settings.sync, self.settings.mappings)
        object.__setattr__(self, "settings", sections)

    @property
    def now_epoch(self) -> int:
        return int(self.now.timestamp())
