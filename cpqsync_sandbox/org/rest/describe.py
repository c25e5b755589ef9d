"""Describe payloads built from the schema table, shaped like a real org's describe results."""

from __future__ import annotations

from typing import Any

from cpqsync_sandbox.org.schema import OBJECTS, FieldDef, ObjectDef


def _plural(label: str) -> str:
    return label + ("es" if label.endswith(("s", "x")) else "s")


def object_urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "sobject": base,
        "describe": f"{base}/describe",
        "rowTemplate": f"{base}/{{ID}}",
    }


def object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label,
        "labelPlural": _plural(obj.label),
        "keyPrefix": obj.key_prefix,
        "custom": obj.custom,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "retrieveable": True,
        "searchable": True,
        "urls": object_urls(obj, version),
    }


def field_describe(f: FieldDef, compound_of: str | None) -> dict[str, Any]:
    return {
        "name": f.name,
        "label": f.label or f.name,
        "type": f.type,
        "length": f.length or 0,
        "nillable": f.nillable,
        "createable": f.createable,
        "updateable": f.updateable,
        "custom": f.custom,
        "externalId": f.external_id,
        "unique": f.unique,
        "idLookup": f.name == "Id" or f.external_id,
        "calculated": False,
        "defaultedOnCreate": f.default is not None,
        "defaultValue": f.default,
        "filterable": not f.is_compound,
        "sortable": not f.is_compound,
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship_name,
        "cascadeDelete": f.cascade_delete,
        "compoundFieldName": compound_of,
        "restrictedPicklist": f.restricted_picklist,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": v == f.default,
                "label": v,
                "validFor": None,
                "value": v,
            }
            for v in f.picklist_values
        ],
        "precision": 18 if f.type in ("currency", "double", "percent") else 0,
        "scale": 2 if f.type in ("currency", "percent") else 0,
        "soapType": _soap_type(f),
    }


def _soap_type(f: FieldDef) -> str:
    return {
        "id": "tns:ID",
        "reference": "tns:ID",
        "boolean": "xsd:boolean",
        "currency": "xsd:double",
        "double": "xsd:double",
        "percent": "xsd:double",
        "int": "xsd:int",
        "date": "xsd:date",
        "datetime": "xsd:dateTime",
        "address": "urn:address",
    }.get(f.type, "xsd:string")


def describe(obj: ObjectDef, version: str) -> dict[str, Any]:
    children = []
    for rel, (child, lookup) in obj.child_relationships.items():
        lookup_def = OBJECTS[child].fields[lookup]
        children.append(
            {
                "childSObject": child,
                "field": lookup,
                "relationshipName": rel,
                "cascadeDelete": lookup_def.cascade_delete,
            }
        )
    return {
        **object_summary(obj, version),
        "fields": [field_describe(f, f.compound_field) for f in obj.fields.values()],
        "childRelationships": children,
        "recordTypeInfos": [],
    }


def describe_global(version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(obj, version) for obj in OBJECTS.values()],
    }
