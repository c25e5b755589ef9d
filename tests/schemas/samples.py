"""Realistic records shared by the tests and bench/codec.py."""

from __future__ import annotations

import datetime as dt
import json

from schemas.models import ChangeEvent, ChangeType


def order_change_event(changed: int = 30) -> ChangeEvent:
    """A realistic OrderChangeEvent update touching ``changed`` fields."""
    fields = [
        "Status",
        "EffectiveDate",
        "EndDate",
        "TotalAmount",
        "Description",
        "PoNumber",
        "SBQQ__Quote__c",
        "SBQQ__Contracted__c",
        "SBQQ__PaymentTerm__c",
        "BillingAddress.City",
        "BillingAddress.PostalCode",
        "BillingAddress.Street",
        "ShippingAddress.City",
        "Pricebook2Id",
        "ActivatedDate",
        "ActivatedById",
        "CurrencyIsoCode",
        "Type",
        "SBQQ__RenewalTerm__c",
        "SBQQ__RenewalUpliftRate__c",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "OrderReferenceNumber",
        "CustomerAuthorizedById",
        "Stripe_ID__c",
        "Stripe_Sync_Status__c",
        "Billing_Frequency__c",
        "Contract_Term__c",
        "Net_Terms__c",
    ][:changed]
    moment = dt.datetime(2026, 3, 14, 15, 9, 26, 535000, tzinfo=dt.UTC)
    values = {name: json.dumps(f"{name} value {i}") for i, name in enumerate(fields)}
    if "TotalAmount" in values:
        values["TotalAmount"] = json.dumps(129_900.5)
    return ChangeEvent(
        object_type="Order",
        record_id="8015g00000ABCDEFGH",
        change_type=ChangeType.UPDATE,
        changed_fields=fields,
        nulled_fields=["Description"],
        diff_fields=[],
        values=values,
        commit_timestamp=moment,
        commit_number=11_812_366_352_123,
        transaction_key="0002343d-9d90-e395-ed20-cf416ba652ad",
        sequence_number=1,
        change_origin="com/salesforce/api/soap/62.0;client=SfdcInternalAPI/",
        commit_user="0055g00000XYZabAAC",
        replay_id=bytes.fromhex("0000000000a3f07c0000"),
        channel="/data/OrderChangeEvent",
        org_id="00D5g00000LMNopEAA",
        bridged_at=moment + dt.timedelta(milliseconds=180),
    )
