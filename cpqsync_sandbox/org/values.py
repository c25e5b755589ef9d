"""Field values: coerce what a client sends into the stored Python type, and render it for JSON.

Coercion follows what a real org accepts over REST (numbers as JSON numbers or numeric strings,
dates as ``YYYY-MM-DD``, empty text as null, null booleans as false) and rejects the rest with
the error code a real org uses, naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.ids import normalize_id
from cpqsync_sandbox.org.schema import FieldDef

_TEXT_TYPES = {"string", "picklist", "textarea", "email", "phone", "url"}
_NUMBER_TYPES = {"double", "currency", "percent"}
_JSON_TYPE_NAMES = {
    "double": "double",
    "currency": "double",
    "percent": "double",
    "int": "int",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}


def _parse_error(f: FieldDef, value: Any) -> OrgError:
    kind = "VALUE_STRING" if isinstance(value, str) else f"VALUE_{type(value).__name__.upper()}"
    target = _JSON_TYPE_NAMES.get(f.type, "string")
    return OrgError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {target} from {kind} value {value} or request may be "
        f"missing a required field (field {f.name})",
        [f.name],
    )


def coerce(f: FieldDef, value: Any) -> Any:
    """The stored form of ``value`` for field ``f``; raises :class:`OrgError` on a bad value."""
    if f.type == "boolean":
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _parse_error(f, value)
    if value is None or value == "":
        return None
    if f.type in _TEXT_TYPES:
        return _text(f, value)
    if f.type in ("reference", "id"):
        if not isinstance(value, str) or (canonical := normalize_id(value)) is None:
            raise OrgError(
                "MALFORMED_ID",
                f"{f.label or f.name}: id value of incorrect type: {value}",
                [f.name],
            )
        return canonical
    if f.type in _NUMBER_TYPES:
        return float(_decimal(f, value))
    if f.type == "int":
        number = _decimal(f, value)
        if number != number.to_integral_value():
            raise _parse_error(f, value)
        return int(number)
    if f.type == "date":
        return _date(f, value)
    if f.type == "datetime":
        return _datetime(f, value)
    raise OrgError("INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to set field {f.name}", [f.name])


def _text(f: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise _parse_error(f, value)
        value = str(value)  # a real org stores a JSON number sent to a text field as its text
    text = str(value)
    if f.length is not None and len(text) > f.length:
        raise OrgError(
            "STRING_TOO_LONG",
            f"{f.label or f.name}: data value too large: {text[:40]} (max length={f.length})",
            [f.name],
        )
    if f.type == "picklist" and f.restricted_picklist and text not in f.picklist_values:
        raise OrgError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{f.label or f.name}: bad value for restricted picklist field: {text}",
            [f.name],
        )
    if f.type == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise OrgError(
            "INVALID_EMAIL_ADDRESS",
            f"{f.label or f.name}: invalid email address: {text}",
            [f.name],
        )
    return text


def _decimal(f: FieldDef, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _parse_error(f, value)
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _parse_error(f, value) from None
        if number.is_finite():
            return number
    raise _parse_error(f, value)


def _date(f: FieldDef, value: Any) -> date:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(T.*)?", value)
        if match:
            try:
                return date.fromisoformat(match.group(1))
            except ValueError:
                pass
    raise _parse_error(f, value)


def parse_datetime(value: str) -> datetime | None:
    """Salesforce's ``2024-01-31T12:00:00.000+0000`` and ISO 8601 variants, as aware UTC."""
    text = value.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _datetime(f: FieldDef, value: Any) -> datetime:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, str) and (parsed := parse_datetime(value)) is not None:
        return parsed
    raise _parse_error(f, value)


def format_datetime(value: datetime) -> str:
    """Salesforce's wire form: milliseconds and a ``+0000`` offset."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    """A stored value as a real org's REST API renders it."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def compound_json(components: tuple[tuple[str, str], ...], rec: dict[str, Any]) -> Any:
    """A compound address as REST renders it (lower-camel keys), or None when all are empty."""
    values = {sub[0].lower() + sub[1:]: to_json(rec.get(flat)) for sub, flat in components}
    return values if any(v is not None for v in values.values()) else None
