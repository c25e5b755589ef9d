"""Decide a WHERE condition for one REST-shaped record, with SOQL's semantics.

Records look like REST query results: parent relationships nested as dicts
(``record["Account"]["Name"]``), dates as ``date`` or ``YYYY-MM-DD`` strings, datetimes as aware
``datetime`` or Salesforce's ``2024-01-31T12:00:00.000+0000`` strings. Field names match
case-insensitively, as in SOQL. Anything that cannot be decided raises
:class:`SoqlEvaluationError` rather than guessing: a wrong answer would silently sync or skip data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from cpqsync.salesforce_ids import id_sort_key
from cpqsync.soql.ast import (
    And,
    Comparison,
    Condition,
    DateLiteral,
    FieldPath,
    InList,
    Like,
    Not,
    Or,
    Value,
)
from cpqsync.soql.errors import SoqlEvaluationError

_MISSING = object()


def evaluate(
    condition: Condition, record: Mapping[str, Any], *, now: datetime | None = None
) -> bool:
    """True when ``record`` satisfies ``condition``; ``now`` fixes TODAY/LAST_N_DAYS (UTC)."""
    moment = now or datetime.now(UTC)
    return _eval(condition, record, moment)


def _eval(cond: Condition, record: Mapping[str, Any], now: datetime) -> bool:
    if isinstance(cond, And):
        return all(_eval(c, record, now) for c in cond.items)
    if isinstance(cond, Or):
        return any(_eval(c, record, now) for c in cond.items)
    if isinstance(cond, Not):
        return not _eval(cond.item, record, now)
    value = resolve(record, cond.field)
    if isinstance(cond, Comparison):
        return _compare(cond.field, value, cond.op, cond.value, now)
    if isinstance(cond, InList):
        if value is None:
            return cond.negated
        hit = any(_compare(cond.field, value, "=", v, now) for v in cond.values)
        return hit != cond.negated
    if isinstance(cond, Like):
        return _like(cond.field, value, cond.pattern)
    raise SoqlEvaluationError(f"unsupported condition {cond!r}")  # pragma: no cover


def resolve(record: Mapping[str, Any], path: FieldPath) -> Any:
    """The value at ``path``; a null relationship yields None, a field not fetched is an error."""
    current: Any = record
    for i, part in enumerate(path.parts):
        if current is None:
            return None
        if not isinstance(current, Mapping):
            walked = ".".join(path.parts[:i])
            raise SoqlEvaluationError(f"'{walked}' is not a relationship in field path '{path}'")
        found = _get(current, part)
        if found is _MISSING:
            raise SoqlEvaluationError(f"No such column '{path}' in the record")
        current = found
    return current


def _get(mapping: Mapping[str, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    folded = key.casefold()
    for k, v in mapping.items():
        if k.casefold() == folded:
            return v
    return _MISSING


def _compare(path: FieldPath, value: Any, op: str, literal: Value, now: datetime) -> bool:
    if literal is None:
        if op == "=":
            return value is None
        if op == "!=":
            return value is not None
        raise SoqlEvaluationError(f"null can only be compared with = or != (field '{path}')")
    if value is None:
        return op == "!="
    if isinstance(literal, DateLiteral):
        return _compare_range(path, value, op, literal, now)
    left, right = _coerce(path, value, literal)
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if isinstance(literal, bool):
        raise SoqlEvaluationError(f"booleans can only be compared with = or != (field '{path}')")
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _coerce(path: FieldPath, value: Any, literal: Value) -> tuple[Any, Any]:
    """Bring the record value to the literal's type, or refuse with the field named."""
    if isinstance(literal, bool):
        if isinstance(value, bool):
            return value, literal
        raise _mismatch(path, value, "boolean")
    if isinstance(literal, Decimal):
        if isinstance(value, bool):
            raise _mismatch(path, value, "number")
        try:
            return Decimal(str(value)), literal
        except InvalidOperation:
            raise _mismatch(path, value, "number") from None
    if isinstance(literal, datetime):
        return _as_datetime(path, value), literal
    if isinstance(literal, date):
        return _as_date(path, value), literal
    if isinstance(literal, str):
        if isinstance(value, str):
            value_id, literal_id = id_sort_key(value), id_sort_key(literal)
            if value_id is not None and literal_id is not None:
                # Ids compare by their case-sensitive body: folding case would equate
                # distinct records and break `Id > '…'` paging.
                return value_id, literal_id
            return value.casefold(), literal.casefold()
        raise _mismatch(path, value, "text")
    raise SoqlEvaluationError(f"unsupported literal {literal!r}")  # pragma: no cover


def _mismatch(path: FieldPath, value: Any, expected: str) -> SoqlEvaluationError:
    return SoqlEvaluationError(
        f"value of filter criterion for field '{path}' must be of the field's type; "
        f"cannot compare {type(value).__name__} value {value!r} with a {expected} literal"
    )


def _as_date(path: FieldPath, value: Any) -> date:
    if isinstance(value, datetime):
        raise _mismatch(path, value, "date (use a datetime literal for a datetime field)")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    raise _mismatch(path, value, "date")


def _as_datetime(path: FieldPath, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        if re.search(r"[+-]\d{4}$", text):
            text = f"{text[:-2]}:{text[-2:]}"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _mismatch(path, value, "datetime") from None
        if "T" in value:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise _mismatch(path, value, "datetime")


def date_range(literal: DateLiteral, now: datetime) -> tuple[date, date]:
    """Inclusive first and last day a relative date literal covers (UTC days)."""
    today = now.astimezone(UTC).date()
    n = literal.n or 0
    ranges = {
        "TODAY": (today, today),
        "YESTERDAY": (today - timedelta(days=1), today - timedelta(days=1)),
        "TOMORROW": (today + timedelta(days=1), today + timedelta(days=1)),
        "LAST_N_DAYS": (today - timedelta(days=n), today),
        "NEXT_N_DAYS": (today + timedelta(days=1), today + timedelta(days=n)),
    }
    if literal.name not in ranges:
        raise SoqlEvaluationError(f"unsupported date literal {literal}")
    return ranges[literal.name]


def _compare_range(
    path: FieldPath, value: Any, op: str, literal: DateLiteral, now: datetime
) -> bool:
    first, last = date_range(literal, now)
    if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
        moment = _as_datetime(path, value)
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        before, after = moment < start, moment >= end
    else:
        day = _as_date(path, value)
        before, after = day < first, day > last
    inside = not before and not after
    return {
        "=": inside,
        "!=": not inside,
        "<": before,
        "<=": not after,
        ">": after,
        ">=": not before,
    }[op]


def _like(path: FieldPath, value: Any, pattern: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, str):
        raise _mismatch(path, value, "text (LIKE)")
    return like_regex(pattern).fullmatch(value) is not None


def like_regex(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE -> regex: ``%`` any run, ``_`` one character, ``\\%``/``\\_`` literal."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)
