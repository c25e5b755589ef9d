"""Run SOQL against the store and shape results exactly like the REST query resource.

Validation happens against the schema before any record is read, with a real org's error codes
(MALFORMED_QUERY for syntax, INVALID_TYPE for objects and child relationships, INVALID_FIELD for
fields and ill-typed filter values), so a query that would fail on a real org fails here too.
Filtering reuses :func:`cpqsync.soql.evaluate` on a nested view of each record, the same
semantics the sync planner applies to its filters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

from cpqsync.salesforce_ids import id_sort_key
from cpqsync.soql import (
    And,
    Comparison,
    Condition,
    DateLiteral,
    FieldPath,
    InList,
    Like,
    Not,
    Or,
    OrderBy,
    Query,
    SoqlError,
    SoqlSyntaxError,
    SubQuery,
    Value,
    evaluate,
    parse,
)
from cpqsync_sandbox.org.errors import OrgError, invalid_type
from cpqsync_sandbox.org.ids import normalize_id
from cpqsync_sandbox.org.schema import OBJECTS, FieldDef, ObjectDef, object_def
from cpqsync_sandbox.org.store import OrgStore, Record
from cpqsync_sandbox.org.values import compound_json, to_json

_TEXT = {"string", "picklist", "textarea", "email", "phone", "url"}
_NUMBER = {"double", "currency", "percent", "int"}
_IDS = {"id", "reference"}


@dataclass(frozen=True)
class Column:
    """One selected field as a flat result (Bulk API CSV) names it: ``Account.Name``."""

    name: str
    parts: tuple[str, ...]  # the keys leading to the value in a REST row
    type: str
    compound: bool


@dataclass(frozen=True)
class QueryResult:
    total_size: int
    records: list[dict[str, Any]]
    columns: tuple[Column, ...] = ()


@dataclass(frozen=True)
class _Step:
    """One hop of a field path: follow ``via`` (a lookup) from ``obj``; the last hop is a field."""

    obj: ObjectDef
    field: FieldDef


def execute(
    store: OrgStore,
    soql: str,
    *,
    include_deleted: bool = False,
    api_version: str = "62.0",
    now: datetime | None = None,
) -> QueryResult:
    """Parse, validate and run ``soql``; raises :class:`OrgError` as a real org would."""
    try:
        query = parse(soql)
    except SoqlSyntaxError as exc:
        raise OrgError("MALFORMED_QUERY", str(exc)) from None
    obj = object_def(query.object_name)
    if obj is None:
        raise invalid_type(query.object_name)
    plan = _Planner(obj, query)
    runner = _Runner(store, api_version, now or datetime.now(UTC))
    return runner.run(plan, include_deleted=include_deleted)


# -- validation ------------------------------------------------------------------------------


def _resolve(obj: ObjectDef, path: FieldPath) -> list[_Step]:
    """The hops of ``path`` from ``obj``, or INVALID_FIELD naming what is not understood."""
    steps: list[_Step] = []
    current = obj
    for i, part in enumerate(path.parts):
        last = i == len(path.parts) - 1
        if last:
            f = current.field(part)
            if f is None:
                raise OrgError(
                    "INVALID_FIELD",
                    f"No such column '{part}' on entity '{current.name}'. If you are attempting "
                    "to use a custom field, be sure to append the '__c' after the custom field "
                    "name. Please reference your WSDL or the describe call for the appropriate "
                    "names.",
                    [path.text],
                )
            steps.append(_Step(current, f))
            break
        lookup = current.relationship(part)
        if lookup is None or lookup.reference_to is None:
            raise OrgError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{part}' in field path. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
                [path.text],
            )
        steps.append(_Step(current, lookup))
        current = OBJECTS[lookup.reference_to]
    return steps


def _check_select(
    obj: ObjectDef, fields: Iterable[FieldPath]
) -> list[tuple[FieldPath, list[_Step]]]:
    seen: set[str] = set()
    out = []
    for path in fields:
        steps = _resolve(obj, path)
        canonical = ".".join(
            [s.field.relationship_name or "" for s in steps[:-1]] + [steps[-1].field.name]
        ).lower()
        if canonical in seen:
            raise OrgError("MALFORMED_QUERY", f"duplicate field selected: {path.text}")
        seen.add(canonical)
        out.append((path, steps))
    return out


def _literal_error(path: FieldPath, f: FieldDef, message: str) -> OrgError:
    return OrgError(
        "INVALID_FIELD",
        f"value of filter criterion for field '{path.text}' must be of type {_type_word(f)} "
        f"{message}",
        [path.text],
    )


def _type_word(f: FieldDef) -> str:
    return {"datetime": "dateTime", "int": "int", "boolean": "boolean", "date": "date"}.get(
        f.type, "double" if f.type in _NUMBER else "string"
    )


def _check_value(path: FieldPath, f: FieldDef, value: Value, op: str) -> Value:
    """A literal fit for ``f`` (ids made 18 characters), or INVALID_FIELD as a real org says."""
    if value is None:
        if op not in ("=", "!="):
            raise OrgError("MALFORMED_QUERY", f"null is not valid with operator {op}")
        return None
    if f.is_compound:
        raise OrgError(
            "INVALID_FIELD", f"field '{path.text}' can not be filtered in a query call", [path.text]
        )
    if f.type in _TEXT or f.type in _IDS:
        if not isinstance(value, str):
            raise _literal_error(path, f, "and should be enclosed in quotes")
        if f.type in _IDS:
            canonical = normalize_id(value)
            if canonical is None:
                raise OrgError(
                    "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}", [path.text]
                )
            return canonical
        return value
    if isinstance(value, str):
        raise _literal_error(path, f, "and should not be enclosed in quotes")
    ok = {
        "boolean": isinstance(value, bool),
        "date": isinstance(value, date | DateLiteral) and not isinstance(value, datetime),
        "datetime": isinstance(value, datetime | DateLiteral),
    }.get(f.type, isinstance(value, Decimal))
    if not ok:
        raise _literal_error(path, f, "and should not be enclosed in quotes")
    if f.type == "boolean" and op not in ("=", "!="):
        raise OrgError(
            "INVALID_QUERY_FILTER_OPERATOR",
            f"invalid operator on boolean field: {path.text}",
            [path.text],
        )
    return value


def _check_condition(obj: ObjectDef, cond: Condition, paths: list[FieldPath]) -> Condition:
    """Validate a WHERE tree against ``obj``; returns it with id literals canonicalised."""
    if isinstance(cond, And | Or):
        items = tuple(_check_condition(obj, c, paths) for c in cond.items)
        return And(items) if isinstance(cond, And) else Or(items)
    if isinstance(cond, Not):
        return Not(_check_condition(obj, cond.item, paths))
    field_def = _resolve(obj, cond.field)[-1].field
    paths.append(cond.field)
    if isinstance(cond, Comparison):
        return replace(cond, value=_check_value(cond.field, field_def, cond.value, cond.op))
    if isinstance(cond, InList):
        values = tuple(_check_value(cond.field, field_def, v, "=") for v in cond.values)
        return replace(cond, values=values)
    if isinstance(cond, Like):
        if field_def.type not in _TEXT and field_def.type not in _IDS:
            raise OrgError(
                "INVALID_FIELD",
                f"invalid operator on field '{cond.field.text}': LIKE needs a text field",
                [cond.field.text],
            )
        return cond
    raise OrgError("MALFORMED_QUERY", f"unsupported condition {cond!r}")  # pragma: no cover


@dataclass(frozen=True)
class _SubPlan:
    name: str  # the relationship name as declared
    child: ObjectDef
    lookup: str
    select: list[tuple[FieldPath, list[_Step]]]
    where: Condition | None
    where_paths: list[FieldPath]
    order_by: tuple[OrderBy, ...]
    limit: int | None


class _Planner:
    """A validated query: resolved paths, canonical literals, sub-plans for child queries."""

    def __init__(self, obj: ObjectDef, query: Query) -> None:
        self.obj = obj
        self.query = query
        self.select = _check_select(obj, query.fields)
        self.where_paths: list[FieldPath] = []
        self.where = _check_condition(obj, query.where, self.where_paths) if query.where else None
        for item in query.order_by:
            steps = _resolve(obj, item.field)
            if steps[-1].field.is_compound:
                raise OrgError("INVALID_FIELD", f"can not sort by {item.field.text}")
        self.subs = [self._sub(sq) for sq in query.subqueries]

    def _sub(self, sq: SubQuery) -> _SubPlan:
        found = self.obj.child_relationship(sq.relationship)
        if found is None:
            raise OrgError(
                "INVALID_TYPE",
                f"Didn't understand relationship '{sq.relationship}' in FROM part of query "
                "call. If you are attempting to use a custom relationship, be sure to append "
                "the '__r' after the custom relationship name. Please reference your WSDL or "
                "the describe call for the appropriate names.",
            )
        name, child_name, lookup = found
        child = OBJECTS[child_name]
        where_paths: list[FieldPath] = []
        where = _check_condition(child, sq.where, where_paths) if sq.where else None
        for item in sq.order_by:
            _resolve(child, item.field)
        return _SubPlan(
            name,
            child,
            lookup,
            _check_select(child, sq.fields),
            where,
            where_paths,
            sq.order_by,
            sq.limit,
        )


def _columns(select: Sequence[tuple[FieldPath, list[_Step]]]) -> tuple[Column, ...]:
    columns = []
    for _path, steps in select:
        last = steps[-1].field
        parts = (*(s.field.relationship_name or "" for s in steps[:-1]), last.name)
        columns.append(Column(".".join(parts), parts, last.type, last.is_compound))
    return tuple(columns)


# -- execution -------------------------------------------------------------------------------


class _Runner:
    def __init__(self, store: OrgStore, api_version: str, now: datetime) -> None:
        self.store = store
        self.api_version = api_version
        self.now = now

    def run(self, plan: _Planner, *, include_deleted: bool) -> QueryResult:
        query = plan.query
        with self.store.lock:  # one consistent snapshot while reading
            candidates = self._candidates(plan, include_deleted)
            matched = self._filter(plan.obj, candidates, plan.where, plan.where_paths)
            if query.is_count:
                return QueryResult(len(matched), [], _columns(plan.select))
            matched = self._sort(plan.obj, matched, query.order_by)
            total = len(matched)
            start = query.offset or 0
            end = None if query.limit is None else start + query.limit
            page = matched[start:end]
            if query.limit is not None or query.offset:
                total = len(page)
            rows = [self._row(plan.obj, rec, plan.select) for rec in page]
            for sub in plan.subs:
                for rec, row in zip(page, rows, strict=True):
                    row[sub.name] = self._children(sub, rec)
        return QueryResult(total, rows, _columns(plan.select))

    def _candidates(self, plan: _Planner, include_deleted: bool) -> list[Record]:
        """Every record, or just the ids a top-level ``Id = / IN`` names (hydration's shape)."""
        ids = _id_filter(plan.where)
        if ids is None:
            return self.store.records(plan.obj.name, include_deleted=include_deleted)
        out = []
        for record_id in ids:
            rec = self.store.peek(plan.obj.name, record_id, include_deleted=include_deleted)
            if rec is not None:
                out.append(rec)
        return out

    def _filter(
        self,
        obj: ObjectDef,
        records: Sequence[Record],
        where: Condition | None,
        paths: Sequence[FieldPath],
    ) -> list[Record]:
        if where is None:
            return list(records)
        out = []
        for rec in records:
            view = self._view(obj, rec, paths)
            try:
                if evaluate(where, view, now=self.now):
                    out.append(rec)
            except SoqlError as exc:
                raise OrgError("MALFORMED_QUERY", str(exc)) from None
        return out

    def _follow(self, obj: ObjectDef, rec: Record | None, parts: Sequence[str]) -> Any:
        """The stored value at a path, following lookups; None through a null lookup."""
        current_obj, current = obj, rec
        for part in parts[:-1]:
            if current is None:
                return None
            lookup = current_obj.relationship(part)
            assert lookup is not None and lookup.reference_to is not None  # validated
            target = OBJECTS[lookup.reference_to]
            parent_id = current.get(lookup.name)
            current = self.store.peek(target.name, parent_id) if parent_id else None
            current_obj = target
        if current is None:
            return None
        f = current_obj.field(parts[-1])
        assert f is not None  # validated
        if f.is_compound:
            return compound_json(f.components, current)
        return current.get(f.name)

    def _view(self, obj: ObjectDef, rec: Record, paths: Iterable[FieldPath]) -> dict[str, Any]:
        """A nested dict holding just ``paths``, keyed as the query spelled them."""
        view: dict[str, Any] = {}
        for path in paths:
            node = view
            for part in path.parts[:-1]:
                node = node.setdefault(part, {})
            node[path.parts[-1]] = self._follow(obj, rec, path.parts)
        return view

    def _sort(
        self, obj: ObjectDef, records: list[Record], order: Sequence[OrderBy]
    ) -> list[Record]:
        if not order:
            return records
        keyed = [([self._follow(obj, rec, o.field.parts) for o in order], rec) for rec in records]

        def compare(a: tuple[list[Any], Record], b: tuple[list[Any], Record]) -> int:
            for o, x, y in zip(order, a[0], b[0], strict=True):
                result = _compare_values(x, y, o)
                if result:
                    return result
            return 0

        keyed.sort(key=cmp_to_key(compare))
        return [rec for _, rec in keyed]

    def _row(
        self, obj: ObjectDef, rec: Record, select: Sequence[tuple[FieldPath, list[_Step]]]
    ) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": self._attributes(obj, rec["Id"])}
        for _path, steps in select:
            node: dict[str, Any] | None = row
            current: Record | None = rec
            for step in steps[:-1]:
                assert node is not None
                rel = step.field.relationship_name or ""
                target = OBJECTS[step.field.reference_to or ""]
                parent_id = current.get(step.field.name) if current else None
                parent = self.store.peek(target.name, parent_id) if parent_id else None
                if parent is None:
                    node.setdefault(rel, None)
                    node = None
                    break
                existing = node.get(rel)
                if existing is None:
                    existing = {"attributes": self._attributes(target, parent["Id"])}
                    node[rel] = existing
                node, current = existing, parent
            if node is None or current is None:
                continue
            last = steps[-1].field
            value = (
                compound_json(last.components, current)
                if last.is_compound
                else current.get(last.name)
            )
            node[last.name] = to_json(value) if not isinstance(value, dict) else value
        return row

    def _children(self, sub: _SubPlan, parent: Record) -> dict[str, Any] | None:
        kids = self.store.children(sub.child.name, sub.lookup, parent["Id"])
        kids = self._filter(sub.child, kids, sub.where, sub.where_paths)
        kids = self._sort(sub.child, kids, sub.order_by)
        if sub.limit is not None:
            kids = kids[: sub.limit]
        if not kids:
            return None  # a real org returns null, not an empty list, for no children
        records = [self._row(sub.child, kid, sub.select) for kid in kids]
        return {"totalSize": len(records), "done": True, "records": records}

    def _attributes(self, obj: ObjectDef, record_id: str) -> dict[str, str]:
        return {
            "type": obj.name,
            "url": f"/services/data/v{self.api_version}/sobjects/{obj.name}/{record_id}",
        }


def _compare_values(x: Any, y: Any, order: OrderBy) -> int:
    if x is None or y is None:
        if x is None and y is None:
            return 0
        nulls_last = order.effective_nulls_last
        return (1 if nulls_last else -1) if x is None else (-1 if nulls_last else 1)
    if isinstance(x, str) and isinstance(y, str):
        x_id, y_id = id_sort_key(x), id_sort_key(y)
        # Ids order by their case-sensitive body, as on a real org; text ignores case.
        x, y = (
            (x_id, y_id) if x_id is not None and y_id is not None else (x.casefold(), y.casefold())
        )
    result = int(x > y) - int(x < y)
    return -result if order.descending else result


def _id_filter(where: Condition | None) -> list[str] | None:
    """Ids a top-level ``Id = 'x'`` / ``Id IN (…)`` restricts the query to, if any."""
    if where is None:
        return None
    parts = where.items if isinstance(where, And) else (where,)
    for part in parts:
        is_id = isinstance(part, Comparison | InList) and [p.lower() for p in part.field.parts] == [
            "id"
        ]
        if isinstance(part, Comparison) and is_id and part.op == "=":
            return [part.value] if isinstance(part.value, str) else []
        if isinstance(part, InList) and is_id and not part.negated:
            return list(dict.fromkeys(v for v in part.values if isinstance(v, str)))
    return None
