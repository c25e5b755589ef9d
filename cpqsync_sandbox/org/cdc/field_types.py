"""How each Salesforce field type appears in a change event schema.

The Avro type is what a real org's ``GetSchema`` returns for that field type (dates and datetimes
are ``long``, money is ``double``), and the ``doc`` string is the type tag Salesforce puts there
(``Data:Currency``, ``ForeignKey:EntityId`` ...). Custom fields carry their 15-character field id
after the tag, as in the captured sample; ours are derived from the field's name so that a schema
is the same on every run.
"""

from __future__ import annotations

import hashlib

from cpqsync_sandbox.org.schema import FieldDef

# (Avro primitive, doc tag) per field type; "address" is a record and is handled by the builder.
_AVRO_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string", "Data:Text"),
    "textarea": ("string", "Data:StringPlusClob"),
    "picklist": ("string", "Data:DynamicEnum"),
    "email": ("string", "Data:Email"),
    "phone": ("string", "Data:Phone"),
    "url": ("string", "Data:Url"),
    "reference": ("string", "ForeignKey:EntityId"),
    "id": ("string", "Data:Id"),
    "currency": ("double", "Data:Currency"),
    "double": ("double", "Data:Double"),
    "percent": ("double", "Data:Percent"),
    "int": ("int", "Data:Integer"),
    "boolean": ("boolean", "Data:Boolean"),
    "date": ("long", "Data:DateOnly"),
    "datetime": ("long", "Data:DateTime"),
}

ADDRESS_DOC = "Data:Address"

# Fields a real org leaves out of change events: the id travels in the header's recordIds, and
# the rest change on every write or never mean a business change.
EXCLUDED_FIELDS = frozenset(
    {"Id", "IsDeleted", "SystemModstamp", "LastViewedDate", "LastReferencedDate"}
)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class UnsupportedFieldTypeError(ValueError):
    """A field type this simulator cannot put into a change event."""


def avro_primitive(field: FieldDef) -> str:
    try:
        return _AVRO_TYPES[field.type][0]
    except KeyError:
        raise UnsupportedFieldTypeError(
            f"field {field.name!r} has type {field.type!r}, which change events cannot carry"
        ) from None


def custom_field_id(entity: str, field_name: str) -> str:
    """A stable 15-character ``00N…`` id, like the one a real org appends to custom fields' docs."""
    number = int.from_bytes(hashlib.sha256(f"{entity}.{field_name}".encode()).digest()[:9], "big")
    chars = []
    for _ in range(12):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "00N" + "".join(chars)


def doc_for(entity: str, field: FieldDef) -> str:
    if field.is_compound:
        tag = ADDRESS_DOC
    elif field.name == "CreatedDate":
        tag = "CreatedDate:DateTime"
    else:
        avro_primitive(field)  # validates the type
        tag = _AVRO_TYPES[field.type][1]
    if field.custom or field.name.endswith("__c"):
        return f"{tag}:{custom_field_id(entity, field.name)}"
    return tag
