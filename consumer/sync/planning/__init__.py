"""Planning: hydrated Salesforce records plus configuration in, a Plan of Stripe operations out.

Pure: no Salesforce, Stripe or Kafka clients, no clock (``PlanningContext.now``), no I/O.
"""

from consumer.sync.planning.context import (
    KnownCustomer,
    KnownPhase,
    KnownPrice,
    KnownSchedule,
    KnownStripeObjects,
    PlanningContext,
)
from consumer.sync.planning.contracts import ContractOrders, plan_contract
from consumer.sync.planning.plan import (
    Issue,
    Operation,
    Plan,
    SourceRecord,
    UnresolvedReference,
    WriteBack,
    is_ref,
    ref,
    resolve_refs,
)
from consumer.sync.planning.planners import (
    plan_account,
    plan_order,
    plan_pricebook_entry,
    plan_product,
)
from consumer.sync.planning.prices import price_signature
from consumer.sync.planning.render import render
from consumer.sync.planning.required_fields import CHILD_RELATIONSHIPS, required_fields

__all__ = [
    "CHILD_RELATIONSHIPS",
    "ContractOrders",
    "Issue",
    "KnownCustomer",
    "KnownPhase",
    "KnownPrice",
    "KnownSchedule",
    "KnownStripeObjects",
    "Operation",
    "Plan",
    "PlanningContext",
    "SourceRecord",
    "UnresolvedReference",
    "WriteBack",
    "is_ref",
    "plan_account",
    "plan_contract",
    "plan_order",
    "plan_pricebook_entry",
    "plan_product",
    "price_signature",
    "ref",
    "render",
    "required_fields",
    "resolve_refs",
]
