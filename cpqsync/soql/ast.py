"""The parsed form of a query: plain frozen dataclasses that executors and planners walk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

ComparisonOp = Literal["=", "!=", "<", ">", "<=", ">="]


@dataclass(frozen=True)
class DateLiteral:
    """A relative date such as TODAY or LAST_N_DAYS:7, resolved to a range when evaluated."""

    name: str  # upper case: TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS, NEXT_N_DAYS
    n: int | None = None

    def __str__(self) -> str:
        return self.name if self.n is None else f"{self.name}:{self.n}"


Value = str | Decimal | bool | None | date | datetime | DateLiteral


@dataclass(frozen=True)
class FieldPath:
    """A dotted field reference: ``Name``, ``Account.Name``, ``SBQQ__Quote__r.SBQQ__StartDate__c``.

    Every part but the last is a relationship name; parts keep the casing the query used.
    """

    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return ".".join(self.parts)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    op: ComparisonOp
    value: Value


@dataclass(frozen=True)
class InList:
    field: FieldPath
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    field: FieldPath
    pattern: str


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | InList | Like | And | Or | Not


@dataclass(frozen=True)
class OrderBy:
    field: FieldPath
    descending: bool = False
    nulls_last: bool | None = None  # None: Salesforce's default (nulls first ASC, last DESC)

    @property
    def effective_nulls_last(self) -> bool:
        return self.descending if self.nulls_last is None else self.nulls_last


@dataclass(frozen=True)
class SubQuery:
    """A child relationship query in the SELECT list: ``(SELECT Id FROM OrderItems)``."""

    relationship: str
    fields: tuple[FieldPath, ...]
    where: Condition | None = None
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None


@dataclass(frozen=True)
class CountSelect:
    """``SELECT COUNT() FROM …``: the result is only ``totalSize``."""


SelectItem = FieldPath | SubQuery | CountSelect


@dataclass(frozen=True)
class Query:
    object_name: str
    select: tuple[SelectItem, ...]
    where: Condition | None = None
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None
    offset: int | None = None

    @property
    def fields(self) -> tuple[FieldPath, ...]:
        return tuple(i for i in self.select if isinstance(i, FieldPath))

    @property
    def subqueries(self) -> tuple[SubQuery, ...]:
        return tuple(i for i in self.select if isinstance(i, SubQuery))

    @property
    def is_count(self) -> bool:
        return any(isinstance(i, CountSelect) for i in self.select)
