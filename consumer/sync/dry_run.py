"""``cpqsync plan``: hydrate one record and plan it, without changing anything in Stripe.

By default nothing is sent to Stripe at all: the plan is what the sync would do given only
what Salesforce says (``Stripe_ID__c`` fields included). ``with_lookup`` adds the read-only
lookups the sync makes before creating (GET and list requests), so the plan shows exactly what
a sync would send now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from consumer.sync.contract_sync import ContractSync
from consumer.sync.convergence import without_unchanged_updates
from consumer.sync.hydration import Hydrator
from consumer.sync.planning import KnownStripeObjects, Plan, PlanningContext
from consumer.sync.root_types import root_type
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.stripe_lookup import StripeLookup, StripeView
from consumer.sync.triggers import RecordRef
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import Settings


class RecordNotFound(LookupError):
    pass


def dry_run(
    settings: Settings,
    record: RecordRef,
    *,
    rest: SalesforceRest | None = None,
    with_lookup: bool = False,
) -> Plan:
    reader = SalesforceReader(rest or SalesforceRest(SalesforceAuth(settings.salesforce)))
    records = Hydrator(reader, settings).hydrate([record])
    hydrated: Mapping[str, Any] | None = records.get(record)
    if hydrated is None:
        raise RecordNotFound(f"{record} does not exist (or was deleted) in Salesforce")
    view = StripeView(KnownStripeObjects())
    lookup: StripeLookup | None = None
    if with_lookup:
        from consumer.sync.service import build_parts  # needs a Stripe key; only when asked

        lookup = build_parts(settings, rest=rest).lookup
        view = lookup.view(records)

    def context_for(found: StripeView) -> PlanningContext:
        return PlanningContext(
            settings=settings,
            now=dt.datetime.now(dt.UTC),
            sandbox=settings.salesforce.is_sandbox,
            known=found.known,
            trigger="manual",
            salesforce_instance_url=reader.instance_url,
        )

    contract = None
    if root_type(record.object_type).in_contract:
        # An order of an amended contract plans as its contract's schedule (A1), as it syncs.
        contracts = ContractSync(
            Hydrator(reader, settings), lookup, sandbox=settings.salesforce.is_sandbox
        )
        contract = contracts.plan(hydrated, context_for, deep=False)
    if contract is not None:
        plan, view = contract.plan, contract.view
    else:
        hydrated = view.completed(record.object_type, hydrated)
        plan = root_type(record.object_type).plan(hydrated, context=context_for(view))
    # What the sync would send: it drops the updates Stripe already holds (convergence).
    return without_unchanged_updates(plan, view.current) if with_lookup else plan
