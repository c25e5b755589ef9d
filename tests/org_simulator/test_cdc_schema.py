"""Our generated change event schemas have the shape of the one a real org returned."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fastavro
import pytest

from cpqsync_sandbox.org.cdc.channels import entity_channel
from cpqsync_sandbox.org.cdc.event_schema import build_event_schema, cdc_fields
from cpqsync_sandbox.org.cdc.publisher import ChangePublisher
from cpqsync_sandbox.org.pubsub.bus import EventBus
from cpqsync_sandbox.org.schema import OBJECTS, FieldDef

SAMPLE = Path(__file__).with_name("samples") / "AccountChangeEvent.avsc"


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    if not SAMPLE.exists():
        pytest.fail(f"the captured sample schema is missing at {SAMPLE}")
    return json.loads(SAMPLE.read_text())


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    schema = build_event_schema("Account", cdc_fields(OBJECTS["Account"]))
    return json.loads(schema.schema_json)


def test_header_and_naming_match_the_sample(sample: dict[str, Any], ours: dict[str, Any]) -> None:
    assert (ours["type"], ours["name"], ours["namespace"]) == (
        sample["type"],
        sample["name"],
        sample["namespace"],
    )
    assert ours["fields"][0] == sample["fields"][0]


def test_every_body_field_is_a_null_union_defaulting_to_null(ours: dict[str, Any]) -> None:
    for f in ours["fields"][1:]:
        assert isinstance(f["type"], list) and f["type"][0] == "null", f["name"]
        assert "default" in f and f["default"] is None, f["name"]
        assert f["doc"], f["name"]


def test_address_record_is_defined_once_then_referenced_by_name(
    sample: dict[str, Any], ours: dict[str, Any]
) -> None:
    sample_address = next(f for f in sample["fields"] if f["name"] == "BillingAddress")
    billing = next(f for f in ours["fields"] if f["name"] == "BillingAddress")
    shipping = next(f for f in ours["fields"] if f["name"] == "ShippingAddress")
    assert billing == sample_address
    assert shipping["type"] == ["null", "Address"] and shipping["doc"] == "Data:Address"
    definitions = json.dumps(ours).count('"name": "Address"')
    assert definitions == 1


def test_standard_fields_have_the_samples_types_and_docs(
    sample: dict[str, Any], ours: dict[str, Any]
) -> None:
    sample_fields = {f["name"]: f for f in sample["fields"]}
    shared = [f for f in ours["fields"][1:] if f["name"] in sample_fields and f["name"] != "Name"]
    assert len(shared) >= 15
    for f in shared:
        assert f == sample_fields[f["name"]], f["name"]


def test_ids_system_stamps_and_flat_address_components_are_not_body_fields(
    ours: dict[str, Any],
) -> None:
    names = {f["name"] for f in ours["fields"]}
    assert not names & {"Id", "IsDeleted", "SystemModstamp", "BillingCity", "ShippingStreet"}
    assert {"CreatedDate", "LastModifiedById", "Stripe_ID__c"} <= names


def test_custom_fields_carry_a_field_id_in_their_doc(ours: dict[str, Any]) -> None:
    stripe_id = next(f for f in ours["fields"] if f["name"] == "Stripe_ID__c")
    assert re.fullmatch(r"Data:Text:00N[0-9A-Za-z]{12}", stripe_id["doc"])


def test_every_object_schema_parses_and_custom_objects_follow_the_naming_rule() -> None:
    bus = EventBus()
    publisher = ChangePublisher(bus, OBJECTS)
    for name in OBJECTS:
        fastavro.parse_schema(json.loads(publisher.schema(name).schema_json))
    sync_record = publisher.schema("Sync_Record__c")
    assert sync_record.name == "Sync_Record__ChangeEvent"
    assert entity_channel("Sync_Record__c") == "/data/Sync_Record__ChangeEvent"
    assert "/data/OrderItemChangeEvent" in bus.topics()


def test_adding_a_field_issues_a_new_schema_id_and_keeps_the_old_one() -> None:
    bus = EventBus()
    publisher = ChangePublisher(bus, OBJECTS)
    before = publisher.schema("Order")
    assert build_event_schema("Order", cdc_fields(OBJECTS["Order"])).schema_id == before.schema_id
    after = publisher.add_field("Order", FieldDef("Region__c", "picklist", custom=True))
    assert after.schema_id != before.schema_id
    assert json.loads(after.schema_json)["fields"][-1]["name"] == "Region__c"
    assert bus.schemas.by_id(before.schema_id) is before
    assert bus.topic_schema_id("/data/OrderChangeEvent") == after.schema_id
    with pytest.raises(ValueError, match="already carry"):
        publisher.add_field("Order", FieldDef("Region__c", "picklist", custom=True))
